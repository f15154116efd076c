/*
 * core/engine/luajson.c - the bridge between Lua values and JSON (jansson), and
 * the `json` table runbooks use (json.null, json.array, json.encode,
 * json.decode).
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "luajson.h"

#define ARRAY_MT "pgmove.array"
/* LUAJSON_MAX_DEPTH - how deeply tables may nest, both ways. */
#define LUAJSON_MAX_DEPTH 200

/* The address of null_sentinel is json.null, a light userdata. */
static const char null_sentinel = 0;
#define JSON_NULL_PTR ((void *)&null_sentinel)

/* ------------------------------------------------------------------ */
/* JSON -> Lua                                                          */

/* luajson_push - see luajson.h. Recursion is bounded by jansson's parser
 * depth for parsed values; the Lua stack is grown as it goes. */
void luajson_push(lua_State *L, const json_t *v)
{
	luaL_checkstack(L, 3, "JSON value nested too deeply");
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;

		lua_createtable(L, 0, (int)json_object_size(v)); /* (sp += 1) */
		json_object_foreach((json_t *)v, key, val) {
			luajson_push(L, val);           /* (sp += 1) */
			lua_setfield(L, -2, key);       /* (sp -= 1) */
		}
		break;
	}
	case JSON_ARRAY: {
		size_t i, n = json_array_size(v);

		lua_createtable(L, (int)n, 0);          /* (sp += 1) */
		luaL_setmetatable(L, ARRAY_MT);
		for (i = 0; i < n; i++) {
			luajson_push(L, json_array_get(v, i)); /* (sp += 1) */
			lua_seti(L, -2, (lua_Integer)i + 1);    /* (sp -= 1) */
		}
		break;
	}
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, (lua_Number)json_real_value(v));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	case JSON_NULL:
	default:
		lua_pushlightuserdata(L, JSON_NULL_PTR);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Lua -> JSON                                                          */

/* A conversion's state: the path of the value being converted (grown and
 * cut back as the walk goes down and up) and the tables on that path, to
 * catch cycles. */
typedef struct conv {
	lua_State *L;
	char *path;
	size_t len, cap;
	const void *stack[LUAJSON_MAX_DEPTH + 1];
	int depth;
	char *err;
	size_t errlen;
} conv;

/* path_add - appends text to the path; returns the old length, to cut
 * back to with path_cut. */
static size_t path_add(conv *c, const char *text)
{
	size_t old = c->len, n = strlen(text);

	if (c->len + n + 1 > c->cap) {
		size_t cap = (c->len + n + 1) * 2;
		char *p = realloc(c->path, cap);

		if (!p)
			return old; /* the path is only for messages */
		c->path = p;
		c->cap = cap;
	}
	memcpy(c->path + c->len, text, n + 1);
	c->len += n;
	return old;
}

static void path_cut(conv *c, size_t len)
{
	c->len = len;
	if (c->path)
		c->path[len] = '\0';
}

/* is_ident - whether key can be written after a dot in a path. */
static int is_ident(const char *key, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)key[0]) || key[0] == '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)key[i]) || key[i] == '_'))
			return 0;
	return 1;
}

/* path_add_key - ".key", or ["key"] when key is no identifier. */
static size_t path_add_key(conv *c, const char *key, size_t len)
{
	char buf[160];

	if (is_ident(key, len))
		snprintf(buf, sizeof(buf), ".%.*s", (int)(len > 140 ? 140 : len), key);
	else
		snprintf(buf, sizeof(buf), "[\"%.*s\"]", (int)(len > 140 ? 140 : len), key);
	return path_add(c, buf);
}

static size_t path_add_index(conv *c, lua_Integer i)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "[%lld]", (long long)i);
	return path_add(c, buf);
}

/* fail - writes "path: message" into the error buffer (a long path cut
 * in the middle); returns NULL. */
static json_t *fail(conv *c, const char *msg)
{
	if (c->path && c->len > 160) /* deep: keep both ends of the path */
		snprintf(c->err, c->errlen, "%.80s...%s: %s", c->path,
			 c->path + c->len - 70, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->path ? c->path : "?", msg);
	return NULL;
}

static json_t *to_json(conv *c, int idx);

/* table_to_json - the table at idx (absolute) as an array or an object. */
static json_t *table_to_json(conv *c, int idx)
{
	lua_State *L = c->L;
	const void *self = lua_topointer(L, idx);
	lua_Integer count = 0, maxi = 0;
	int strings = 0, numbers = 0, is_array = 0;
	json_t *out = NULL;
	int i;

	for (i = 0; i < c->depth; i++)
		if (c->stack[i] == self)
			return fail(c, "a table that contains itself (a cycle) cannot be converted to JSON");
	if (c->depth >= LUAJSON_MAX_DEPTH) {
		char msg[80];

		snprintf(msg, sizeof(msg), "tables nested deeper than %d levels cannot be converted to JSON",
			 LUAJSON_MAX_DEPTH);
		return fail(c, msg);
	}
	luaL_checkstack(L, 4, "JSON value nested too deeply");
	if (lua_getmetatable(L, idx)) {                 /* (sp += 1) */
		luaL_getmetatable(L, ARRAY_MT);          /* (sp += 1) */
		is_array = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);                           /* (sp -= 2) */
	}
	/* classify the keys */
	lua_pushnil(L);                                  /* (sp += 1) */
	while (lua_next(L, idx) != 0) {                  /* (sp += 1) */
		int kt = lua_type(L, -2);

		if (kt == LUA_TSTRING) {
			strings++;
		} else if (kt == LUA_TNUMBER && lua_isinteger(L, -2) &&
			   lua_tointeger(L, -2) >= 1) {
			numbers++;
			if (lua_tointeger(L, -2) > maxi)
				maxi = lua_tointeger(L, -2);
		} else {
			char key[64];

			if (kt == LUA_TNUMBER && lua_isinteger(L, -2))
				snprintf(key, sizeof(key), "the key %lld",
					 (long long)lua_tointeger(L, -2));
			else if (kt == LUA_TNUMBER)
				snprintf(key, sizeof(key), "the key %g", (double)lua_tonumber(L, -2));
			else
				snprintf(key, sizeof(key), "a %s key", luaL_typename(L, -2));
			lua_pop(L, 2);                   /* (sp -= 2) */
			{
				char msg[256];

				snprintf(msg, sizeof(msg),
					 "%s cannot be converted to JSON (keys are strings or array indices 1..n)",
					 key);
				return fail(c, msg);
			}
		}
		count++;
		lua_pop(L, 1);                           /* (sp -= 1) */
	}
	if (strings && numbers)
		return fail(c, "a table with both array items and string keys cannot be converted to JSON");
	if (strings && is_array)
		return fail(c, "an array (json.array) cannot have string keys");
	if (numbers && maxi != count) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "a sparse array (%lld items, highest index %lld) cannot be converted to JSON",
			 (long long)count, (long long)maxi);
		return fail(c, msg);
	}
	c->stack[c->depth++] = self;
	if (numbers || is_array) {
		out = json_array();
		for (lua_Integer k = 1; out && k <= count; k++) {
			size_t mark = path_add_index(c, k);
			json_t *item;

			lua_geti(L, idx, k);                     /* (sp += 1) */
			item = to_json(c, lua_gettop(L));
			lua_pop(L, 1);                           /* (sp -= 1) */
			path_cut(c, mark);
			if (!item || json_array_append_new(out, item) != 0) {
				json_decref(out);
				out = NULL;
			}
		}
	} else {
		out = json_object();
		lua_pushnil(L);                                  /* (sp += 1) */
		while (out && lua_next(L, idx) != 0) {           /* (sp += 1) */
			size_t klen, mark;
			const char *key = lua_tolstring(L, -2, &klen); /* a string: no conversion */
			json_t *item;

			mark = path_add_key(c, key, klen);
			if (strlen(key) != klen) {
				lua_pop(L, 2);                   /* (sp -= 2) */
				fail(c, "a key with a NUL byte cannot be converted to JSON");
				json_decref(out);
				out = NULL;
				break;
			}
			item = to_json(c, lua_gettop(L));
			path_cut(c, mark);
			if (!item) {
				lua_pop(L, 2);                   /* (sp -= 2) */
				json_decref(out);
				out = NULL;
				break;
			}
			if (json_object_set_new(out, key, item) != 0) {
				lua_pop(L, 2);                   /* (sp -= 2) */
				mark = path_add_key(c, key, klen);
				fail(c, "a key that is not valid UTF-8 cannot be converted to JSON");
				path_cut(c, mark);
				json_decref(out);
				out = NULL;
				break;
			}
			lua_pop(L, 1);                           /* (sp -= 1) */
		}
	}
	c->depth--;
	return out;
}

/* to_json - the value at idx (absolute) as a new JSON reference, or NULL
 * with c->err written. */
static json_t *to_json(conv *c, int idx)
{
	lua_State *L = c->L;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		{
			double d = (double)lua_tonumber(L, idx);

			if (isnan(d))
				return fail(c, "NaN cannot be converted to JSON");
			if (isinf(d))
				return fail(c, "an infinite number cannot be converted to JSON");
			return json_real(d);
		}
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		json_t *j = json_stringn(s, len);

		return j ? j : fail(c, "a string that is not valid UTF-8 cannot be converted to JSON");
	}
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == JSON_NULL_PTR)
			return json_null();
		return fail(c, "a userdata cannot be converted to JSON");
	case LUA_TTABLE:
		return table_to_json(c, idx);
	default:
		{
			char msg[64];

			snprintf(msg, sizeof(msg), "a %s cannot be converted to JSON",
				 luaL_typename(L, idx));
			return fail(c, msg);
		}
	}
}

/* luajson_to - see luajson.h. */
json_t *luajson_to(lua_State *L, int idx, const char *root, char *err, size_t errlen)
{
	conv c;
	json_t *out;

	memset(&c, 0, sizeof(c));
	c.L = L;
	c.err = err;
	c.errlen = errlen;
	path_add(&c, root ? root : "value");
	out = to_json(&c, lua_absindex(L, idx));
	free(c.path);
	return out;
}

/* ------------------------------------------------------------------ */
/* The json table                                                       */

/* json_depth - how deeply v nests (a scalar is 0), stopping past limit. */
static int json_depth(const json_t *v, int limit)
{
	int d = 0, sub;

	if (limit < 0)
		return 1;
	if (json_is_object(v)) {
		const char *key;
		json_t *val;

		json_object_foreach((json_t *)v, key, val) {
			sub = json_depth(val, limit - 1);
			if (sub > d)
				d = sub;
			if (d > limit)
				break;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *val;

		json_array_foreach(v, i, val) {
			sub = json_depth(val, limit - 1);
			if (sub > d)
				d = sub;
			if (d > limit)
				break;
		}
		return d + 1;
	}
	return 0;
}

/* json.encode(v) -> string (compact, keys sorted); raises on values that
 * have no JSON form, naming where they are. */
static int l_encode(lua_State *L)
{
	char err[512];
	json_t *j;
	char *text;

	luaL_checkany(L, 1);
	j = luajson_to(L, 1, "value", err, sizeof(err));
	if (!j)
		return luaL_error(L, "json.encode: %s", err);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	if (!text)
		return luaL_error(L, "json.encode: out of memory");
	lua_pushstring(L, text);
	free(text);
	return 1;
}

/* json.decode(s) -> value; raises "json.decode: line L, column C: ..." */
static int l_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	json_error_t jerr;
	json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (!j)
		return luaL_error(L, "json.decode: line %d, column %d: %s", jerr.line,
				  jerr.column, jerr.text);
	if (json_depth(j, LUAJSON_MAX_DEPTH) > LUAJSON_MAX_DEPTH) {
		json_decref(j);
		return luaL_error(L, "json.decode: nested deeper than %d levels",
				  LUAJSON_MAX_DEPTH);
	}
	luajson_push(L, j);                      /* (sp += 1) */
	json_decref(j);
	return 1;
}

/* json.array([t]) -> t marked as an array (a new empty one without t). */
static int l_array(lua_State *L)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);                 /* (sp += 1) */
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getmetatable(L, 1)) {            /* (sp += 1) */
		luaL_getmetatable(L, ARRAY_MT);  /* (sp += 1) */
		if (!lua_rawequal(L, -1, -2))
			return luaL_error(L, "json.array: the table already has a metatable");
		lua_pop(L, 2);                   /* (sp -= 2) */
	}
	luaL_setmetatable(L, ARRAY_MT);
	return 1;
}

/* luajson_open - see luajson.h. */
void luajson_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"encode", l_encode},
		{"decode", l_decode},
		{"array", l_array},
		{NULL, NULL}
	};

	if (luaL_newmetatable(L, ARRAY_MT)) {    /* (sp += 1) */
		lua_pushliteral(L, "json.array"); /* (sp += 1) */
		lua_setfield(L, -2, "__name");   /* (sp -= 1) */
	}
	lua_pop(L, 1);                           /* (sp -= 1) */
	luaL_newlib(L, fns);                     /* (sp += 1) */
	lua_pushlightuserdata(L, JSON_NULL_PTR); /* (sp += 1) */
	lua_setfield(L, -2, "null");             /* (sp -= 1) */
	lua_setglobal(L, "json");                /* (sp -= 1) */
}
