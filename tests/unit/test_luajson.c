/*
 * tests/unit/test_luajson.c - CUnit tests of core/engine/luajson.c: round trips
 * between JSON and Lua, integers vs floats, arrays vs objects, json.null,
 * the json table, and every refusal with the path it names.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "luajson.h"

static lua_State *L;

static int setup(void)
{
	L = luaL_newstate();
	if (!L)
		return -1;
	luaL_openlibs(L);
	luajson_open(L);
	return 0;
}

static int teardown(void)
{
	lua_close(L);
	return 0;
}

/* eval - runs "return <expr>" and leaves the result on the stack; 0 ok. */
static int eval(const char *expr)
{
	char code[4096];

	snprintf(code, sizeof(code), "return %s", expr);
	if (luaL_dostring(L, code) != LUA_OK) {
		fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

/* to_text - converts the Lua expression to JSON text (sorted keys), or
 * NULL with the message in err. Caller frees. */
static char *to_text(const char *expr, char *err, size_t errlen)
{
	int top = lua_gettop(L);
	json_t *j;
	char *text;

	err[0] = '\0';
	if (eval(expr) != 0)
		return NULL;
	j = luajson_to(L, -1, "args", err, errlen);
	CU_ASSERT_EQUAL(lua_gettop(L), top + 1); /* nothing pushed or popped */
	lua_settop(L, top);
	if (!j)
		return NULL;
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	return text;
}

/* check_lua - runs a chunk that returns true when its checks hold. */
static void check_lua(const char *chunk)
{
	int ok = luaL_dostring(L, chunk) == LUA_OK && lua_toboolean(L, -1);

	if (!ok)
		fprintf(stderr, "\nfailed: %s -> %s\n", chunk, lua_tostring(L, -1));
	CU_ASSERT(ok);
	lua_settop(L, 0);
}

static void expect_text(const char *expr, const char *want)
{
	char err[512];
	char *text = to_text(expr, err, sizeof(err));

	if (!text || strcmp(text, want) != 0)
		fprintf(stderr, "\n%s: got %s (%s), want %s\n", expr, text ? text : "NULL", err, want);
	CU_ASSERT_PTR_NOT_NULL(text);
	if (text)
		CU_ASSERT_STRING_EQUAL(text, want);
	free(text);
}

static void expect_error(const char *expr, const char *want)
{
	char err[512];
	char *text = to_text(expr, err, sizeof(err));

	if (text || strcmp(err, want) != 0)
		fprintf(stderr, "\n%s: got %s / '%s', want error '%s'\n", expr,
			text ? text : "NULL", err, want);
	CU_ASSERT_PTR_NULL(text);
	CU_ASSERT_STRING_EQUAL(err, want);
	free(text);
}

/* JSON text -> Lua -> JSON text gives back the same document. */
static void test_round_trip(void)
{
	static const char *const docs[] = {
		"{\"a\":1,\"b\":2.0,\"c\":\"x\",\"d\":[1,2,[]],\"e\":{},\"f\":null,\"g\":true,\"h\":false}",
		"[]",
		"[{},[],[[]],null]",
		"{\"big\":9007199254740993,\"neg\":-9223372036854775808,\"r\":0.5,\"z\":-0.0}",
		"{\"nested\":{\"deeper\":{\"list\":[{\"k\":\"v\"},{\"k\":\"w\"}]}}}",
		"\"just a string with \\u0000 nul\"",
		"42",
		"1.5e+300",
		NULL
	};

	for (int i = 0; docs[i]; i++) {
		json_error_t jerr;
		json_t *in = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr), *out;
		char err[256], *a, *b;
		int top = lua_gettop(L);

		CU_ASSERT_PTR_NOT_NULL_FATAL(in);
		luajson_push(L, in);
		CU_ASSERT_EQUAL(lua_gettop(L), top + 1);
		out = luajson_to(L, -1, "value", err, sizeof(err));
		lua_settop(L, top);
		CU_ASSERT_PTR_NOT_NULL_FATAL(out);
		CU_ASSERT(json_equal(in, out));
		a = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		b = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		CU_ASSERT_STRING_EQUAL(a, b);
		free(a);
		free(b);
		json_decref(in);
		json_decref(out);
	}
}

/* Integers stay integers, reals stay reals (even 2.0), on both sides. */
static void test_numbers(void)
{
	json_t *j = json_pack("{s:i, s:f}", "i", 2, "r", 2.0), *back;
	char err[256];

	luajson_push(L, j);
	lua_getfield(L, -1, "i");
	CU_ASSERT(lua_isinteger(L, -1));
	lua_pop(L, 1);
	lua_getfield(L, -1, "r");
	CU_ASSERT(!lua_isinteger(L, -1));
	CU_ASSERT_DOUBLE_EQUAL(lua_tonumber(L, -1), 2.0, 0);
	lua_pop(L, 1);
	back = luajson_to(L, -1, "v", err, sizeof(err));
	lua_pop(L, 1);
	CU_ASSERT(json_is_integer(json_object_get(back, "i")));
	CU_ASSERT(json_is_real(json_object_get(back, "r")));
	json_decref(back);
	json_decref(j);

	expect_text("3", "3");
	expect_text("6 / 2", "3.0");
	expect_text("6 // 2", "3");
	expect_text("math.maxinteger", "9223372036854775807");
	expect_text("-0.25", "-0.25");
	check_lua("return math.type(json.decode('2')) == 'integer' and "
		  "math.type(json.decode('2.0')) == 'float' and "
		  "math.type(json.decode('2e0')) == 'float' and json.encode(2.0) == '2.0'");
}

static void test_arrays_objects(void)
{
	expect_text("{}", "{}");
	expect_text("json.array{}", "[]");
	expect_text("json.array()", "[]");
	expect_text("{1, 2, 3}", "[1,2,3]");
	expect_text("{'a', {x = 1}, {}}", "[\"a\",{\"x\":1},{}]");
	expect_text("{a = 1, b = {c = {true, false}}}", "{\"a\":1,\"b\":{\"c\":[true,false]}}");
	expect_text("{[1] = 'x', [2] = 'y'}", "[\"x\",\"y\"]");
	expect_text("json.array{1, 2}", "[1,2]");
	expect_text("nil", "null");
	expect_text("json.null", "null");
	expect_text("{a = json.null, b = {json.null}}", "{\"a\":null,\"b\":[null]}");
	/* the same table twice is no cycle */
	expect_text("(function() local s = {1} return {a = s, b = {s, s}} end)()",
		    "{\"a\":[1],\"b\":[[1],[1]]}");
	/* decoded arrays keep their kind, even empty, and nulls compare equal */
	check_lua("local t = json.decode('{\"a\":[],\"b\":{},\"c\":null}') "
		  "return json.encode(t) == '{\"a\":[],\"b\":{},\"c\":null}' "
		  "and t.c == json.null and getmetatable(t.a) ~= nil and getmetatable(t.b) == nil");
	/* json.array returns the table it marks */
	check_lua("local t = {} return json.array(t) == t and json.encode(t) == '[]'");
	check_lua("local ok, e = pcall(json.array, setmetatable({}, {})) "
		  "return not ok and e:find('already has a metatable', 1, true) ~= nil");
	check_lua("return json.encode({b = 1, a = {2, 'x'}}) == '{\"a\":[2,\"x\"],\"b\":1}'");
	check_lua("return json.encode('a\\nb') == '\"a\\\\nb\"'");
	check_lua("local t = json.decode('[1,[2,{\"x\":[3]}]]') return t[2][2].x[1] == 3 and #t == 2");
}

static void test_rejections(void)
{
	expect_error("{tables = {1, 2, function() end}}",
		     "args.tables[3]: a function cannot be converted to JSON");
	expect_error("{opts = {x = 0/0}}", "args.opts.x: NaN cannot be converted to JSON");
	expect_error("{opts = {x = math.huge}}",
		     "args.opts.x: an infinite number cannot be converted to JSON");
	expect_error("{list = {1, -math.huge}}",
		     "args.list[2]: an infinite number cannot be converted to JSON");
	expect_error("{co = coroutine.create(print)}", "args.co: a thread cannot be converted to JSON");
	expect_error("{f = io.stdout}", "args.f: a userdata cannot be converted to JSON");
	expect_error("(function() local t = {} t.self = {t} return t end)()",
		     "args.self[1]: a table that contains itself (a cycle) cannot be converted to JSON");
	expect_error("{[true] = 1}",
		     "args: a boolean key cannot be converted to JSON (keys are strings or array indices 1..n)");
	expect_error("{x = {[1.5] = 1}}",
		     "args.x: the key 1.5 cannot be converted to JSON (keys are strings or array indices 1..n)");
	expect_error("{[0] = 'a'}",
		     "args: the key 0 cannot be converted to JSON (keys are strings or array indices 1..n)");
	expect_error("{[{}] = 1}",
		     "args: a table key cannot be converted to JSON (keys are strings or array indices 1..n)");
	expect_error("{1, nil, 3}",
		     "args: a sparse array (2 items, highest index 3) cannot be converted to JSON");
	expect_error("{1, 2, a = 3}",
		     "args: a table with both array items and string keys cannot be converted to JSON");
	expect_error("json.array{a = 1}", "args: an array (json.array) cannot have string keys");
	expect_error("{['my key'] = {f = print}}",
		     "args[\"my key\"].f: a function cannot be converted to JSON");
	expect_error("{s = '\\xff\\xfe'}",
		     "args.s: a string that is not valid UTF-8 cannot be converted to JSON");
	expect_error("print", "args: a function cannot be converted to JSON");

	/* a light userdata that is not json.null */
	{
		static int x;
		char err[256];
		json_t *j;

		lua_pushlightuserdata(L, &x);
		j = luajson_to(L, -1, "ctx.outputs.step", err, sizeof(err));
		lua_pop(L, 1);
		CU_ASSERT_PTR_NULL(j);
		CU_ASSERT_STRING_EQUAL(err, "ctx.outputs.step: a userdata cannot be converted to JSON");
	}
	/* json.encode raises with the path */
	check_lua("local ok, e = pcall(json.encode, {a = {b = print}}) "
		  "return not ok and e:find('json.encode: value.a.b: a function cannot be converted to JSON', 1, true) ~= nil");
}

static void test_depth(void)
{
	char err[256];
	json_t *j;

	/* 200 levels are fine, 201 are not */
	check_lua("local t = {} for i = 1, 199 do t = {t} end return json.encode(t):sub(1, 3) == '[[['");
	check_lua("local t = {} for i = 1, 250 do t = {t} end local ok, e = pcall(json.encode, t) "
		  "return not ok and e:find('nested deeper than 200 levels', 1, true) ~= nil");
	check_lua("local ok, e = pcall(json.decode, string.rep('[', 250) .. string.rep(']', 250)) "
		  "return not ok and e:find('json.decode: nested deeper than 200 levels', 1, true) ~= nil");
	check_lua("return json.encode(json.decode(string.rep('[', 150) .. string.rep(']', 150))) == "
		  "string.rep('[', 150) .. string.rep(']', 150)");
	CU_ASSERT_EQUAL(eval("(function() local t = {} for i = 1, 300 do t = {x = t} end return t end)()"), 0);
	j = luajson_to(L, -1, "args", err, sizeof(err));
	lua_pop(L, 1);
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "args.x.x.x"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "deeper than 200 levels"));
}

static void test_decode_errors(void)
{
	check_lua("local ok, e = pcall(json.decode, '{\\n  \"a\": }') "
		  "return not ok and e:find('json.decode: line 2, column', 1, true) ~= nil");
	check_lua("local ok, e = pcall(json.decode, '[1, 2') "
		  "return not ok and e:find('line 1, column', 1, true) ~= nil");
	check_lua("local ok, e = pcall(json.decode, '') return not ok");
	check_lua("local ok, e = pcall(json.decode, {}) return not ok");
	check_lua("return json.decode('\"x\"') == 'x' and json.decode('true') == true "
		  "and json.decode('null') == json.null");
}

int main(void)
{
	CU_pSuite s;
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("luajson", setup, teardown);
	CU_add_test(s, "round trips", test_round_trip);
	CU_add_test(s, "integers and floats", test_numbers);
	CU_add_test(s, "arrays, objects, null, json table", test_arrays_objects);
	CU_add_test(s, "refusals name the path", test_rejections);
	CU_add_test(s, "depth bound", test_depth);
	CU_add_test(s, "decode errors", test_decode_errors);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
