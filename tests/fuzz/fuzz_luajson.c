/*
 * tests/fuzz/fuzz_luajson.c - libFuzzer harness: the Lua/JSON bridge
 * (core/engine/luajson.c) and the text repair of core/host/utf8.c. The
 * input is decoded by json.decode in a Lua state; what decodes converts
 * back to the same JSON. The raw bytes as a Lua string (and as a table key)
 * convert to JSON or to an error, and pgm_utf8_json always gives valid JSON.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "host.h"
#include "luajson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	if (!L) {
		L = luaL_newstate();
		luaL_openlibs(L);
		luajson_open(L);
	}
	lua_settop(L, 0);
	/* json.decode, then back */
	lua_getglobal(L, "json");
	lua_getfield(L, -1, "decode");
	lua_pushlstring(L, (const char *)data, size);
	if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
		json_t *j = luajson_to(L, -1, "value", err, sizeof(err));
		json_t *orig = json_loadb((const char *)data, size,
					  JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		/* what json.decode accepted converts back to the same value */
		if (!orig || !j || !json_equal(j, orig))
			abort();
		json_decref(j);
		json_decref(orig);
	}
	lua_settop(L, 0);
	/* the bytes as a string value and as a key */
	lua_pushlstring(L, (const char *)data, size);
	json_t *s = luajson_to(L, 1, "value", err, sizeof(err));
	if (!s != !pgm_utf8_valid((const char *)data, size))
		abort(); /* converted exactly when the bytes are UTF-8 */
	json_decref(s);
	lua_newtable(L);
	lua_pushlstring(L, (const char *)data, size);
	lua_pushinteger(L, 1);
	lua_settable(L, -3);
	s = luajson_to(L, -1, "value", err, sizeof(err));
	json_decref(s);
	lua_settop(L, 0);
	/* repair: always valid, always dumps */
	json_t *r = pgm_utf8_json((const char *)data, size);
	char *text = r ? json_dumps(r, JSON_ENCODE_ANY) : NULL;
	if (!r || !text)
		abort();
	free(text);
	json_decref(r);
	lua_gc(L, LUA_GCCOLLECT);
	return 0;
}
