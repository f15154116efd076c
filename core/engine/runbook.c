/*
 * core/engine/runbook.c - loading a runbook into a Lua state.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>

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
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open runbook %s: %s", path, strerror(errno));
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
		luaL_traceback(L, L, NULL, 1); /* (sp += 1) */
		lua_setfield(L, 1, "traceback"); /* (sp -= 1) */
		lua_settop(L, 1);
		return 1;
	}
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
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

/* l_duration - C.duration(v): milliseconds for "30s" or a number of seconds. */
static int l_duration(lua_State *L)
{
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_Number s = lua_tonumber(L, 1);
		if (s < 0 || s > 1e12)
			return luaL_error(L, "duration %f is out of range", (double)s);
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

/* restrict_stdlib - removes what lets a runbook act on its own: files,
 * processes, C modules. Side effects go through plugins. */
static void restrict_stdlib(lua_State *L, const char *dir)
{
	static const char *const os_drop[] = { "execute", "exit", "remove", "rename", "tmpname",
					       "setlocale", NULL };
	lua_pushnil(L);
	lua_setglobal(L, "io");
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_getglobal(L, "os"); /* (sp += 1) */
	for (int i = 0; os_drop[i]; i++) {
		lua_pushnil(L);
		lua_setfield(L, -2, os_drop[i]);
	}
	lua_pop(L, 1); /* (sp -= 1) */
	lua_getglobal(L, "package"); /* (sp += 1) */
	lua_pushnil(L);
	lua_setfield(L, -2, "loadlib");
	lua_pushstring(L, "");
	lua_setfield(L, -2, "cpath");
	lua_pushfstring(L, "%s/?.lua", dir);
	lua_setfield(L, -2, "path");
	lua_getfield(L, -1, "searchers"); /* (sp += 1) */
	/* keep the preload and Lua searchers only */
	for (lua_Integer i = (lua_Integer)luaL_len(L, -1); i > 2; i--) {
		lua_pushnil(L);
		lua_rawseti(L, -2, i);
	}
	lua_pop(L, 2); /* (sp -= 2) */
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

/* load - runbook_load_with's work, with load_cli / load_journaled set. */
static runbook *load(const char *path, char *err, size_t errlen)
{
	runbook *rb = calloc(1, sizeof(*rb));
	char abs[PATH_MAX];
	size_t len;
	rb->decl_ref = LUA_NOREF;
	if (!realpath(path, abs)) {
		snprintf(err, errlen, "cannot open runbook %s: %s", path, strerror(errno));
		free(rb);
		return NULL;
	}
	rb->path = strdup(abs);
	char *source = read_file(abs, &len, err, errlen);
	if (!source) {
		runbook_free(rb);
		return NULL;
	}
	hex_sha256(source, len, rb->hash);

	lua_State *L = luaL_newstate();
	rb->L = L;
	luaL_openlibs(L);
	luajson_open(L);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", abs);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	restrict_stdlib(L, dir);

	/* the prelude: returns finish(source, chunkname) */
	lua_pushcfunction(L, runbook_traceback); /* handler (sp += 1) */
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
	lua_pushcfunction(L, l_duration);
	lua_setfield(L, -2, "duration");
	lua_pushcfunction(L, l_resolve_params);
	lua_setfield(L, -2, "resolve_params");
	if (lua_pcall(L, 1, 1, h) != LUA_OK) { /* finish (sp -= 1) */
		free(source);
		return fail_load(rb, err, errlen, lua_tostring(L, -1));
	}
	int finish = lua_gettop(L);

	char chunk[PATH_MAX + 2];
	snprintf(chunk, sizeof(chunk), "@%s", path);
	if (luaL_loadbuffer(L, source, len, chunk) != LUA_OK) { /* (sp += 1) */
		free(source);
		return fail_load(rb, err, errlen, lua_tostring(L, -1));
	}
	if (lua_pcall(L, 0, 0, h) != LUA_OK) {
		/* a runtime error while loading: keep the first line (file:line: msg) */
		const char *msg = lua_tostring(L, -1);
		free(source);
		if (msg) {
			const char *nl = strstr(msg, "\nstack traceback:");
			char first[4096];
			snprintf(first, sizeof(first), "%.*s",
				 (int)(nl ? (size_t)(nl - msg) : strlen(msg)), msg);
			return fail_load(rb, err, errlen, first);
		}
		return fail_load(rb, err, errlen, "runbook raised an error that is not a string");
	}
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
