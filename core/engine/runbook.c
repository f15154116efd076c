/*
 * core/engine/runbook.c - loading a runbook into a Lua state.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>

#include "eclock.h"
#include "host.h"
#include "loader.h"
#include "luajson.h"
#include "params.h"
#include "prelude_lua.h"
#include "runbook.h"

#define EXECUTOR_KEY "pgmove.executor"

typedef struct executor {
	runbook_call_fn fn;
	void *user;
} executor;

/* read_file - the whole file, NUL-terminated; caller frees. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO must not hang the open; only regular files */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	if (fd < 0) {
		snprintf(err, errlen, "cannot open runbook %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "runbook %s is not a regular file", path);
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open runbook %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "runbook %s: out of memory", path);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read runbook %s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void hex_sha256(const char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

int runbook_file_hash(const char *path, char out[65], char *err, size_t errlen)
{
	size_t len;
	char *data = read_file(path, &len, err, errlen);
	if (!data)
		return -1;
	hex_sha256(data, len, out);
	free(data);
	return 0;
}

int runbook_traceback(lua_State *L)
{
	if (lua_istable(L, 1)) {
		lua_pushliteral(L, "traceback");
		luaL_traceback(L, L, NULL, 1); /* (sp += 2) */
		lua_rawset(L, 1);	       /* no metamethod can fail here (sp -= 2) */
		lua_settop(L, 1);
		return 1;
	}
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(
				L,
				"the runbook raised an error with a %s value instead of "
				"a message",
				luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1); /* (sp += 1) */
	return 1;
}

/* l_call - C.call(plugin, function, args) from the prelude's proxies. */
static int l_call(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, EXECUTOR_KEY); /* (sp += 1) */
	executor *ex = lua_touserdata(L, -1);
	lua_pop(L, 1); /* (sp -= 1) */
	if (!ex || !ex->fn) {
		luaL_where(L, 2);
		return luaL_error(L,
				  "%s%s.%s called while the runbook is loading: plugin functions "
				  "may only be called from run, undo, when, condition, check, "
				  "on_trip and on_failure functions",
				  lua_tostring(L, -1), luaL_checkstring(L, 1), luaL_checkstring(L, 2));
	}
	return ex->fn(L, ex->user);
}

/* l_plugin_info - C.plugin_info(name): { functions = { fn = { flags } } }. */
static int l_plugin_info(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	char err[4096];
	const pgm_plugin *p = loader_get(name, err, sizeof(err));
	if (!p)
		return luaL_error(L, "%s", err);
	lua_newtable(L); /* info (sp += 1) */
	lua_pushstring(L, p->version ? p->version : "");
	lua_setfield(L, -2, "version");
	lua_pushboolean(L, p->configure != NULL);
	lua_setfield(L, -2, "configurable");
	lua_newtable(L); /* functions (sp += 1) */
	for (const pgm_function *f = p->functions; f->name; f++) {
		lua_newtable(L); /* (sp += 1) */
		lua_pushinteger(L, (lua_Integer)f->flags);
		lua_setfield(L, -2, "flags");
		lua_setfield(L, -2, f->name); /* (sp -= 1) */
	}
	lua_setfield(L, -2, "functions"); /* (sp -= 1) */
	return 1;
}

/* l_check_config - C.check_config(name, cfg): nil when cfg (a table) is a
 * configuration plugin name accepts by its configuration table (unknown
 * keys, types, limits, allowed values; required keys are checked when the
 * run starts, since plan may lack params), else the message. */
static int l_check_config(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	char err[4096];
	const pgm_plugin *p = loader_get(name, err, sizeof(err));
	if (!p)
		return luaL_error(L, "%s", err);
	char root[256];
	snprintf(root, sizeof(root), "plugin %s { ... }", name);
	json_t *cfg = luajson_to(L, 2, root, err, sizeof(err));
	if (cfg && json_is_array(cfg) && json_array_size(cfg) == 0) { /* {} */
		json_decref(cfg);
		cfg = json_object();
	}
	if (cfg && loader_check_config(p, cfg, 0, err, sizeof(err)) == 0) {
		json_decref(cfg);
		return 0;
	}
	json_decref(cfg);
	lua_pushstring(L, err); /* (sp += 1) */
	return 1;
}

/* l_duration - C.duration(v): milliseconds for "30s" or a number of seconds. */
static int l_duration(lua_State *L)
{
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_Number s = lua_tonumber(L, 1);
		if (!(s >= 0 && s <= (lua_Number)(PGM_DURATION_MAX_MS / 1000)))
			return luaL_error(L, "duration %f is out of range (0 to %d seconds)",
					  (double)s, (int)(PGM_DURATION_MAX_MS / 1000));
		lua_pushinteger(L, (lua_Integer)(s * 1000.0));
		return 1;
	}
	const char *text = luaL_checkstring(L, 1);
	long long ms;
	char err[256];
	if (pgm_duration_parse(text, &ms, err, sizeof(err)) != 0)
		return luaL_error(L, "%s", err);
	lua_pushinteger(L, (lua_Integer)ms);
	return 1;
}

/* The parameter values known while a runbook loads (runbook_load_with). */
static const json_t *load_cli, *load_journaled;

/* l_resolve_params - C.resolve_params(specs): the values of the params as
 * `run` will see them, or nil when they cannot all be resolved yet (plan
 * without a required param): the prelude then falls back to defaults. */
static int l_resolve_params(lua_State *L)
{
	char err[1024];
	json_t *specs = luajson_to(L, 1, "params", err, sizeof(err));
	if (!specs)
		return luaL_error(L, "%s", err);
	if (params_check_specs(specs, err, sizeof(err)) != 0) {
		json_decref(specs);
		return luaL_error(L, "%s", err);
	}
	json_t *values = params_resolve(specs, load_cli, load_journaled, err, sizeof(err));
	json_decref(specs);
	if (!values) {
		lua_pushnil(L);
		return 1;
	}
	luajson_push(L, values);
	json_decref(values);
	return 1;
}

/* Loading's budget: wall time (PGMOVE_LOAD_TIMEOUT, a duration) and the
 * memory of the Lua state while the runbook loads. */
#define LOAD_TIMEOUT_MS 10000LL
#define LOAD_MEMORY_MAX ((size_t)256 << 20)

static long long load_deadline; /* pgm_now_ms() after which loading stops; 0 = not loading */
static lua_Hook run_hook;       /* the engine's count hook (runbook_set_hook) */

void runbook_set_hook(lua_Hook hook)
{
	run_hook = hook;
}
static int load_expired;	/* the hook found the budget spent */

/* rb_alloc - the Lua state's allocator: counts the bytes in use and
 * refuses to grow past mem_limit (0 = no limit). */
static void *rb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	runbook *rb = ud;
	if (!ptr)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		rb->mem_used -= osize;
		return NULL;
	}
	if (rb->mem_limit && nsize > osize && rb->mem_used + (nsize - osize) > rb->mem_limit)
		return NULL;
	void *np = realloc(ptr, nsize);
	if (np)
		rb->mem_used = rb->mem_used - osize + nsize;
	return np;
}

static int rb_panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);
	pgm_error("Lua panic: %s", msg ? msg : "(error object is not a string)");
	abort();
}

/* load_hook - stops runbook code that loads for longer than its budget:
 * the loading thread is suspended (a yield no pcall can catch); where it
 * cannot yield (inside a C function), an error is raised, again at every
 * count until loading ends. */
static void load_hook(lua_State *L, lua_Debug *ar)
{
	if (!load_deadline) {
		/* a coroutine made while loading keeps this hook: after loading it
		 * answers to the engine's (timeouts, signals) */
		if (run_hook)
			run_hook(L, ar);
		return;
	}
	if (!load_expired && pgm_now_ms() <= load_deadline && !pgm_cancel_signal())
		return;
	load_expired = 1;
	if (lua_isyieldable(L)) {
		lua_yield(L, 0); /* in a hook it returns; the yield happens after */
		return;
	}
	luaL_error(L, "the runbook's loading budget is spent");
}

/* stop_check - raises again the error that stops runbook code once its
 * time is over: while loading, when the budget is spent or a signal came;
 * at run time, the engine's hook (past the deadline, or a signal). Called
 * after every function that catches errors (pcall, xpcall,
 * coroutine.resume, coroutine.close, load's reader), so a loop around
 * one of them cannot swallow the error the count hook raises and spin. */
static void stop_check(lua_State *L)
{
	if (load_deadline) {
		if (load_expired || pgm_now_ms() > load_deadline || pgm_cancel_signal()) {
			load_expired = 1;
			luaL_error(L, "the runbook's loading budget is spent");
		}
		return;
	}
	if (run_hook)
		run_hook(L, NULL);
}

/* guarded_k - the continuation of l_guarded (also after a yield inside
 * the call): checks for a stop, then returns every result. */
static int guarded_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	stop_check(L);
	return lua_gettop(L);
}

/* l_guarded - the sandbox's pcall, xpcall, coroutine.resume and
 * coroutine.close: calls the library function (upvalue 1) with the same
 * arguments, then stop_check. lua_callk keeps yields through it working. */
static int l_guarded(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1)); /* (sp += 1) */
	lua_insert(L, 1);
	lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, guarded_k);
	return guarded_k(L, LUA_OK, 0);
}

/* guard - wraps field name of the table at idx in l_guarded. */
static void guard(lua_State *L, int idx, const char *name)
{
	idx = lua_absindex(L, idx);
	lua_getfield(L, idx, name);	   /* (sp += 1) */
	lua_pushcclosure(L, l_guarded, 1); /* (sp += 0) */
	lua_setfield(L, idx, name);	   /* (sp -= 1) */
}

/* l_load - load(chunk [, name [, mode [, env]]]) with mode forced to "t":
 * binary chunks are refused (mutated bytecode crashes liblua). An error in
 * a reader function is returned by load, so a stop is checked after it. */
static int l_load(lua_State *L)
{
	if (lua_gettop(L) < 3)
		lua_settop(L, 3);
	lua_pushliteral(L, "t"); /* (sp += 1) */
	lua_replace(L, 3);	 /* (sp -= 1) */
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	stop_check(L);
	return lua_gettop(L);
}

#define MODULES_KEY "pgmove.modules"

/* l_require - require(name): a Lua module next to the runbook
 * (name.lua, dots for folders), loaded as text once; a require cycle is an
 * error naming the module. The standard library is not reachable through
 * it: what the sandbox leaves is already global. */
static int l_require(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *dir = lua_tostring(L, lua_upvalueindex(1));
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen > 100 || name[0] == '.')
		return luaL_error(L, "require: bad module name '%s'", name);
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		      (*p == '.' && p[1] != '.')))
			return luaL_error(
				L,
				"require: bad module name '%s' (letters, digits, '_', '-' and '.')",
				name);
	lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY); /* mods (sp += 1) */
	lua_getfield(L, -1, name);			 /* mods v (sp += 1) */
	if (lua_type(L, -1) == LUA_TLIGHTUSERDATA)
		return luaL_error(L, "require: module '%s' requires itself (a require cycle)",
				  name);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1); /* mods */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '.')
			*p = '/';
	if (strlen(path) + 5 > sizeof(path))
		return luaL_error(L, "require: module name '%s' is too long", name);
	memcpy(path + strlen(path), ".lua", 5);
	char err[PATH_MAX + 256];
	size_t len;
	char *src = read_file(path, &len, err, sizeof(err));
	if (!src)
		return luaL_error(L,
				  "require: module '%s' not found: runbook modules are .lua files "
				  "next to the runbook (%s)",
				  name, err);
	char chunk[PATH_MAX + 2];
	snprintf(chunk, sizeof(chunk), "@%s", path);
	int rc = luaL_loadbufferx(L, src, len, chunk, "t"); /* mods f (sp += 1) */
	free(src);
	if (rc != LUA_OK)
		return lua_error(L);
	lua_pushlightuserdata(L, (void *)&load_expired); /* the "loading" mark */
	lua_setfield(L, -3, name);
	lua_pushstring(L, name);
	lua_call(L, 1, 1); /* mods v */
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, name);
	return 1;
}

/* l_os_time - os.time through the engine's clock: without an argument the
 * (virtual, under pgmove test) time now; with a table, Lua's os.time
 * (upvalue 1). */
static int l_os_time(lua_State *L)
{
	if (lua_isnoneornil(L, 1)) {
		lua_pushinteger(L, (lua_Integer)(eclock_wall_ms() / 1000)); /* (sp += 1) */
		return 1;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* l_os_date - os.date through the engine's clock: without a time, the
 * (virtual) time now; Lua's os.date is upvalue 1. */
static int l_os_date(lua_State *L)
{
	int n = lua_gettop(L);
	if (n < 2 || lua_isnil(L, 2)) {
		if (n < 1)
			lua_pushstring(L, "%c");
		lua_settop(L, 1);
		lua_pushinteger(L, (lua_Integer)(eclock_wall_ms() / 1000));
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* sandbox - the runbook's global environment, from an allow-list: the
 * base functions without dofile, loadfile, collectgarbage; load for text
 * only; require for Lua files next to the runbook; string (without dump),
 * table, math, utf8, coroutine; os.time, os.clock, os.date, os.difftime.
 * No io, debug, package or C modules: side effects go through plugins.
 * debug.getinfo is handed to the prelude only (C.getinfo). */
static void sandbox(lua_State *L, const char *dir)
{
	static const char *const keep[] = {
		"_G",	     "_VERSION", "assert",	 "error",    "getmetatable", "ipairs",
		"next",	     "pairs",	 "pcall",	 "rawequal", "rawget",	     "rawlen",
		"rawset",    "select",	 "setmetatable", "tonumber", "tostring",     "type",
		"xpcall",    "load",	 "string",	 "table",    "math",	     "utf8",
		"coroutine", "os",	 "json",	 NULL};
	static const char *const os_keep[] = {"time", "clock", "date", "difftime", NULL};

	lua_pushglobaltable(L); /* G (sp += 1) */
	lua_newtable(L);	/* G drop (sp += 1) */
	lua_pushnil(L);
	while (lua_next(L, -3) != 0) { /* G drop k v */
		int found = 0;
		if (lua_type(L, -2) == LUA_TSTRING)
			for (int i = 0; keep[i]; i++)
				if (strcmp(lua_tostring(L, -2), keep[i]) == 0)
					found = 1;
		lua_pop(L, 1); /* G drop k */
		if (!found) {
			lua_pushvalue(L, -1);
			lua_pushboolean(L, 1);
			lua_settable(L, -4); /* drop[k] = true */
		}
	}
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) { /* G drop k true */
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		lua_pushnil(L);
		lua_settable(L, -5); /* G[k] = nil */
	}
	lua_pop(L, 1); /* G */

	lua_newtable(L); /* G os' */
	lua_getfield(L, -2, "os");
	for (int i = 0; os_keep[i]; i++) {
		lua_getfield(L, -1, os_keep[i]);
		lua_setfield(L, -3, os_keep[i]);
	}
	/* the time now comes from the engine's clock (virtual under pgmove test) */
	lua_getfield(L, -1, "time");
	lua_pushcclosure(L, l_os_time, 1);
	lua_setfield(L, -3, "time");
	lua_getfield(L, -1, "date");
	lua_pushcclosure(L, l_os_date, 1);
	lua_setfield(L, -3, "date");
	lua_pop(L, 1);
	lua_setfield(L, -2, "os"); /* G */

	lua_getfield(L, -1, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);

	lua_getfield(L, -1, "load");
	lua_pushcclosure(L, l_load, 1);
	lua_setfield(L, -2, "load");

	guard(L, -1, "pcall");
	guard(L, -1, "xpcall");
	lua_getfield(L, -1, "coroutine"); /* G co (sp += 1) */
	guard(L, -1, "resume");
	guard(L, -1, "close");
	lua_pop(L, 1); /* G (sp -= 1) */

	lua_pushstring(L, dir);
	lua_pushcclosure(L, l_require, 1);
	lua_setfield(L, -2, "require");
	lua_pop(L, 1); /* (sp -= 1) */

	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
}

static runbook *load(const char *path, char *err, size_t errlen);

static runbook *fail_load(runbook *rb, char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg ? msg : "unknown error");
	runbook_free(rb);
	return NULL;
}

runbook *runbook_load(const char *path, char *err, size_t errlen)
{
	return runbook_load_with(path, NULL, NULL, err, errlen);
}

runbook *runbook_load_with(const char *path, const json_t *cli, const json_t *journaled,
			   char *err, size_t errlen)
{
	load_cli = cli;
	load_journaled = journaled;
	runbook *rb = load(path, err, errlen);
	load_cli = load_journaled = NULL;
	return rb;
}

/* load_budget_ms - PGMOVE_LOAD_TIMEOUT (a duration) or LOAD_TIMEOUT_MS;
 * -1 after logging when it does not parse. */
static long long load_budget_ms(char *err, size_t errlen)
{
	const char *v = getenv("PGMOVE_LOAD_TIMEOUT");
	long long ms = 0;
	char derr[256] = "";
	if (!v || !*v)
		return LOAD_TIMEOUT_MS;
	if (pgm_duration_parse(v, &ms, derr, sizeof(derr)) != 0) {
		snprintf(err, errlen, "PGMOVE_LOAD_TIMEOUT: %s", derr);
		return -1;
	}
	if (ms <= 0) {
		snprintf(err, errlen, "PGMOVE_LOAD_TIMEOUT: must be more than 0");
		return -1;
	}
	return ms;
}

/* error_text - the error object at idx of co (a coroutine that failed)
 * as one line in buf: a string up to its traceback, a table's message
 * (and code), else what it is; with the runbook line that raised it when
 * the message has none. */
static void error_text(lua_State *co, int idx, const char *chunk, char *buf, size_t len)
{
	char where[PATH_MAX + 32] = "";
	lua_Debug ar;
	idx = lua_absindex(co, idx);
	for (int level = 0; lua_getstack(co, level, &ar); level++) {
		if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0 &&
		    strcmp(ar.source, chunk) == 0) {
			snprintf(where, sizeof(where), "%s:%d: ", ar.short_src, ar.currentline);
			break;
		}
	}
	if (lua_type(co, idx) == LUA_TSTRING) {
		const char *msg = lua_tostring(co, idx);
		const char *nl = strstr(msg, "\nstack traceback:");
		snprintf(buf, len, "%.*s", (int)(nl ? (size_t)(nl - msg) : strlen(msg)), msg);
		return;
	}
	if (lua_type(co, idx) == LUA_TTABLE) {
		lua_getfield(co, idx, "message");
		lua_getfield(co, idx, "code");
		const char *msg = lua_type(co, -2) == LUA_TSTRING ? lua_tostring(co, -2) : NULL;
		const char *code = lua_type(co, -1) == LUA_TSTRING ? lua_tostring(co, -1) : NULL;
		if (msg || code)
			snprintf(buf, len, "%s%s%s%s", where, code ? code : "",
				 code && msg ? ": " : "", msg ? msg : "");
		else
			snprintf(buf, len,
				 "%sthe runbook raised an error table without a message or code",
				 where);
		lua_pop(co, 2);
		return;
	}
	snprintf(buf, len, "%sthe runbook raised an error with a %s value instead of a message",
		 where, luaL_typename(co, idx));
}

/* load - runbook_load_with's work, with load_cli / load_journaled set. */
static runbook *load(const char *path, char *err, size_t errlen)
{
	runbook *rb = calloc(1, sizeof(*rb));
	char abs[PATH_MAX];
	size_t len;
	if (!rb) {
		snprintf(err, errlen, "runbook %s: out of memory", path);
		return NULL;
	}
	rb->decl_ref = LUA_NOREF;
	if (!realpath(path, abs)) {
		snprintf(err, errlen, "cannot open runbook %s: %s", path, strerror(errno));
		free(rb);
		return NULL;
	}
	rb->path = strdup(abs);
	if (!pgm_utf8_valid(abs, strlen(abs))) {
		snprintf(err, errlen, "runbook path %s is not valid UTF-8: rename it", path);
		runbook_free(rb);
		return NULL;
	}
	long long budget = load_budget_ms(err, errlen);
	if (budget < 0) {
		runbook_free(rb);
		return NULL;
	}
	char *source = read_file(abs, &len, err, errlen);
	if (!source) {
		runbook_free(rb);
		return NULL;
	}
	hex_sha256(source, len, rb->hash);
	/* what lua(1) skips too: a UTF-8 byte order mark and a first line
	 * starting with '#' (a #! line); line numbers stay the same */
	const char *code = source;
	size_t clen = len;
	if (clen >= 3 && memcmp(code, "\xEF\xBB\xBF", 3) == 0) {
		code += 3;
		clen -= 3;
	}
	if (clen > 0 && code[0] == '#') {
		const char *nl = memchr(code, '\n', clen);
		clen -= nl ? (size_t)(nl - code) : clen;
		code = nl ? nl : code + clen;
	}

	rb->mem_limit = LOAD_MEMORY_MAX;
	lua_State *L = lua_newstate(rb_alloc, rb);
	if (!L) {
		free(source);
		return fail_load(rb, err, errlen, "cannot create a Lua state: out of memory");
	}
	rb->L = L;
	lua_atpanic(L, rb_panic);
	luaL_openlibs(L);
	luajson_open(L);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", abs);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	lua_getglobal(L, "debug"); /* debug (sp += 1) */
	lua_getfield(L, -1, "getinfo");
	lua_getfield(L, -2, "getupvalue"); /* debug getinfo getupvalue (sp += 2) */
	lua_remove(L, -3);		   /* getinfo getupvalue (sp -= 1) */
	sandbox(L, dir);

	/* the prelude: returns finish(source, chunkname) */
	lua_pushcfunction(L, runbook_traceback); /* getinfo getupvalue handler (sp += 1) */
	int h = lua_gettop(L);
	if (luaL_loadbuffer(L, (const char *)prelude_lua, prelude_lua_len, "=prelude") != LUA_OK) {
		free(source);
		return fail_load(rb, err, errlen, lua_tostring(L, -1));
	}
	lua_newtable(L); /* C (sp += 1) */
	lua_pushcfunction(L, l_call);
	lua_setfield(L, -2, "call");
	lua_pushcfunction(L, l_plugin_info);
	lua_setfield(L, -2, "plugin_info");
	lua_pushcfunction(L, l_check_config);
	lua_setfield(L, -2, "check_config");
	lua_pushcfunction(L, l_duration);
	lua_setfield(L, -2, "duration");
	lua_pushcfunction(L, l_resolve_params);
	lua_setfield(L, -2, "resolve_params");
	lua_pushvalue(L, h - 2);
	lua_setfield(L, -2, "getinfo");
	lua_pushvalue(L, h - 1);
	lua_setfield(L, -2, "getupvalue");
	if (lua_pcall(L, 1, 1, h) != LUA_OK) { /* finish (sp -= 1) */
		free(source);
		return fail_load(rb, err, errlen, lua_tostring(L, -1));
	}
	int finish = lua_gettop(L);

	char chunk[PATH_MAX + 2];
	snprintf(chunk, sizeof(chunk), "@%s", path);
	/* the runbook runs in its own thread, under the loading budget */
	lua_State *co = lua_newthread(L); /* (sp += 1) */
	if (luaL_loadbufferx(co, code, clen, chunk, "t") != LUA_OK) {
		free(source);
		return fail_load(rb, err, errlen, lua_tostring(co, -1));
	}
	load_deadline = pgm_now_ms() + budget;
	load_expired = 0;
	lua_sethook(co, load_hook, LUA_MASKCOUNT, 1000);
	int nres = 0;
	int rc = lua_resume(co, L, 0, &nres);
	load_deadline = 0;
	if (rc != LUA_OK) {
		char first[4096], dur[64];
		if (load_expired || rc == LUA_YIELD)
			snprintf(first, sizeof(first),
				 "%s: the runbook did not finish loading within %s (an endless "
				 "loop? "
				 "loading must only declare; PGMOVE_LOAD_TIMEOUT sets the budget)",
				 path, pgm_duration_format(budget, dur, sizeof(dur)));
		else if (rc == LUA_ERRMEM)
			snprintf(first, sizeof(first),
				 "%s: the runbook used more than %zu MB of memory while loading",
				 path, LOAD_MEMORY_MAX >> 20);
		else
			error_text(co, -1, chunk, first, sizeof(first));
		free(source);
		return fail_load(rb, err, errlen, first);
	}
	lua_pop(L, 1);		  /* the thread (sp -= 1) */
	lua_pushvalue(L, finish); /* (sp += 1) */
	lua_pushlstring(L, source, len);
	lua_pushstring(L, path);
	free(source);
	if (lua_pcall(L, 2, 1, h) != LUA_OK) { /* decl (sp -= 2) */
		const char *msg = lua_tostring(L, -1);
		const char *nl = msg ? strstr(msg, "\nstack traceback:") : NULL;
		char first[4096];
		snprintf(first, sizeof(first), "%.*s", (int)(nl ? (size_t)(nl - msg) : strlen(msg)),
			 msg ? msg : "error");
		return fail_load(rb, err, errlen, first);
	}
	rb->mem_limit = 0;	     /* the budget is for loading; steps may hold large outputs */
	lua_getfield(L, -1, "plan"); /* (sp += 1) */
	char cerr[1024];
	rb->plan = luajson_to(L, -1, "plan", cerr, sizeof(cerr));
	lua_pop(L, 1); /* (sp -= 1) */
	if (!rb->plan)
		return fail_load(rb, err, errlen, cerr);
	rb->decl_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* (sp -= 1) */
	lua_settop(L, 0);

	rb->name = strdup(json_string_value(json_object_get(rb->plan, "runbook")));
	rb->params = json_object_get(rb->plan, "params");
	if (!rb->params) {
		rb->params = json_object();
		json_object_set_new(rb->plan, "params", rb->params);
	}
	if (json_is_array(rb->params) && json_array_size(rb->params) == 0) {
		rb->params = json_object();
		json_object_set_new(rb->plan, "params", rb->params);
	}
	char perr[1024];
	if (params_check_specs(rb->params, perr, sizeof(perr)) != 0) {
		char msg[2048];
		snprintf(msg, sizeof(msg), "%s: runbook '%s': %s", path, rb->name, perr);
		return fail_load(rb, err, errlen, msg);
	}
	return rb;
}

void runbook_set_executor(runbook *rb, runbook_call_fn fn, void *user)
{
	lua_State *L = rb->L;
	if (!fn) {
		lua_pushnil(L);
	} else {
		executor *ex = lua_newuserdatauv(L, sizeof(*ex), 0); /* (sp += 1) */
		ex->fn = fn;
		ex->user = user;
	}
	lua_setfield(L, LUA_REGISTRYINDEX, EXECUTOR_KEY); /* (sp -= 1) */
}

static void push_decl(runbook *rb)
{
	lua_rawgeti(rb->L, LUA_REGISTRYINDEX, rb->decl_ref); /* (sp += 1) */
}

json_t *runbook_plugin_config(runbook *rb, char *err, size_t errlen)
{
	lua_State *L = rb->L;
	push_decl(rb);                          /* decl */
	lua_getfield(L, -1, "plugin_config");   /* decl cfg */
	json_t *cfg = lua_istable(L, -1) ? luajson_to(L, -1, "plugin configuration", err, errlen)
					 : json_object();
	lua_pop(L, 2);
	if (cfg && json_is_array(cfg) && json_array_size(cfg) == 0) { /* an empty table */
		json_decref(cfg);
		cfg = json_object();
	}
	return cfg;
}

void runbook_push_node_field(runbook *rb, int index, const char *field)
{
	lua_State *L = rb->L;
	push_decl(rb);                     /* decl */
	lua_getfield(L, -1, "nodes");      /* decl nodes */
	lua_rawgeti(L, -1, index + 1);     /* decl nodes node */
	lua_getfield(L, -1, field);        /* decl nodes node v */
	lua_replace(L, -4);                /* v nodes node */
	lua_pop(L, 2);                     /* v (sp += 1) */
}

void runbook_push_check_fn(runbook *rb, int index, int j)
{
	lua_State *L = rb->L;
	runbook_push_node_field(rb, index, "checks"); /* checks */
	lua_rawgeti(L, -1, j + 1);                    /* checks check */
	lua_getfield(L, -1, "fn");                    /* checks check fn */
	lua_replace(L, -3);                           /* fn check */
	lua_pop(L, 1);                                /* fn (sp += 1) */
}

void runbook_push_breaker_field(runbook *rb, int index, const char *field)
{
	lua_State *L = rb->L;
	push_decl(rb);
	lua_getfield(L, -1, "breakers");
	lua_rawgeti(L, -1, index + 1);
	lua_getfield(L, -1, field);
	lua_replace(L, -4);
	lua_pop(L, 2); /* (sp += 1) */
}

void runbook_push_on_failure(runbook *rb)
{
	lua_State *L = rb->L;
	push_decl(rb);
	lua_getfield(L, -1, "runbook");
	lua_getfield(L, -1, "on_failure");
	lua_replace(L, -3);
	lua_pop(L, 1); /* (sp += 1) */
}

json_t *runbook_effects(runbook *rb, char *err, size_t errlen)
{
	lua_State *L = rb->L;
	int top = lua_gettop(L);
	lua_pushcfunction(L, runbook_traceback); /* h (sp += 1) */
	push_decl(rb);				 /* h decl (sp += 1) */
	lua_getfield(L, -1, "effects");		 /* h decl fn (sp += 1) */
	lua_remove(L, -2);			 /* h fn (sp -= 1) */
	json_t *out = NULL;
	if (lua_pcall(L, 0, 1, top + 1) != LUA_OK) { /* h result (sp += 0) */
		const char *msg = lua_tostring(L, -1);
		const char *nl = msg ? strstr(msg, "\nstack traceback:") : NULL;
		snprintf(err, errlen, "runbook %s: finding its plugin calls failed: %.*s", rb->name,
			 (int)(nl ? (size_t)(nl - msg) : (msg ? strlen(msg) : 0)), msg ? msg : "");
	} else {
		out = luajson_to(L, -1, "effects", err, errlen);
	}
	lua_settop(L, top);
	return out;
}

void runbook_free(runbook *rb)
{
	if (!rb)
		return;
	if (rb->L)
		lua_close(rb->L);
	json_decref(rb->plan);
	free(rb->path);
	free(rb->name);
	free(rb);
}
