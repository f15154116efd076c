/*
 * core/engine/luajson.h - the bridge between Lua values and JSON (jansson).
 *
 * JSON -> Lua: objects become tables, arrays become tables with the
 * "pgmove.array" metatable (so they convert back as arrays even when
 * empty), integers become Lua integers, reals become floats, null becomes
 * the light userdata `json.null`.
 * Lua -> JSON: a table whose keys are exactly 1..n is an array, a table of
 * string keys is an object, an empty table is an object unless it carries
 * the array metatable. Cycles, functions, threads, userdata other than
 * json.null, keys that are neither strings nor 1..n, NaN and infinities
 * are refused with a message that names the path: "args.tables[3]: a
 * function cannot be converted to JSON".
 */
#ifndef PGMOVE_CORE_LUAJSON_H
#define PGMOVE_CORE_LUAJSON_H

#include <stddef.h>
#include <jansson.h>
#include <lua.h>

/* luajson_open - registers the array metatable and the null sentinel, and
 * sets the global table `json` with json.null, json.array(t) (marks t as
 * an array and returns it), json.encode(v) and json.decode(s). */
void luajson_open(lua_State *L);

/* luajson_push - pushes v (borrowed) as a Lua value. (sp += 1) */
void luajson_push(lua_State *L, const json_t *v);

/* luajson_to - converts the value at index idx (not popped) into a new JSON
 * reference. root names the value in messages ("args", "ctx.outputs.x").
 * NULL with the message in err on failure. */
json_t *luajson_to(lua_State *L, int idx, const char *root, char *err, size_t errlen);

#endif
