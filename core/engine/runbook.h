/*
 * core/engine/runbook.h - loading a runbook: a Lua state with the runbook
 * language (core/engine/prelude.lua), the file run in it, and the plan that
 * results. Loading has no side effects: a plugin function called while
 * the runbook loads is an error.
 */
#ifndef PGMOVE_CORE_RUNBOOK_H
#define PGMOVE_CORE_RUNBOOK_H

#include <stddef.h>
#include <jansson.h>
#include <lua.h>

typedef struct runbook {
	lua_State *L;
	char *path;        /* absolute path of the file               */
	char *name;        /* runbook "name"                           */
	char hash[65];     /* SHA-256 of the file, hex                 */
	json_t *plan;      /* the plan as data (see prelude.lua plan_of) */
	json_t *params;    /* the param specs (plan.params)            */
	int decl_ref;      /* registry reference to the decl table     */
	size_t mem_used;   /* bytes the Lua state holds                */
	size_t mem_limit;  /* refuse to grow past this (0 = no limit): the loading budget */
} runbook;

/* runbook_call_fn - how plugin calls made from Lua reach the engine:
 * set by the engine while it executes; NULL while loading. The function
 * runs on the Lua stack of the call: (plugin, function, args) in slots
 * 1..3, pushes one result and returns 1, or raises a Lua error. */
typedef int (*runbook_call_fn)(lua_State *L, void *user);

/* runbook_plugin_config - the runbook's plugin configurations
 * (`plugin "name" { ... }`) as {name: config}; new reference, or NULL with
 * the reason in err. */
json_t *runbook_plugin_config(runbook *rb, char *err, size_t errlen);
void runbook_set_executor(runbook *rb, runbook_call_fn fn, void *user);

/* runbook_load - loads the runbook at path. NULL with the message in err:
 * a Lua syntax or runtime error with file:line, a declaration error, an
 * unknown plugin or function, an irreversible step without recovery. */
runbook *runbook_load(const char *path, char *err, size_t errlen);
/* runbook_load_with - runbook_load with the parameter values known so far
 * (-p assignments, the values journaled by the run; either may be NULL),
 * so that declarations can use them (every = params.poll). */
runbook *runbook_load_with(const char *path, const json_t *cli, const json_t *journaled,
			   char *err, size_t errlen);
/* runbook_effects - for `pgmove plan`: the plugin calls each node may make,
 * found in the runbook's text (prelude.lua effects_of): {nodes: [{name,
 * calls: [{plugin, function, in, check?, loc, via?, via_loc?}], unresolved,
 * check_locs?}], breakers: [...], on_failure: [calls], param_order: [names],
 * param_order_declared}. New reference, or NULL with the reason in err. */
json_t *runbook_effects(runbook *rb, char *err, size_t errlen);
void runbook_free(runbook *rb);

/* runbook_file_hash - SHA-256 of a file, hex, into out[65]. 0 or -1. */
int runbook_file_hash(const char *path, char out[65], char *err, size_t errlen);

/* runbook_push_node_field - pushes decl.nodes[index+1][field] (nil when
 * absent). (sp += 1) */
void runbook_push_node_field(runbook *rb, int index, const char *field);
/* runbook_push_check_fn - pushes the function of check j of gate index. (sp += 1) */
void runbook_push_check_fn(runbook *rb, int index, int j);
/* runbook_push_breaker_field - pushes decl.breakers[index+1][field]. (sp += 1) */
void runbook_push_breaker_field(runbook *rb, int index, const char *field);
/* runbook_push_on_failure - pushes decl.runbook.on_failure. (sp += 1) */
void runbook_push_on_failure(runbook *rb);

/* runbook_set_hook - the count hook of the running engine: coroutines the
 * runbook made while it loaded carry the loading hook, which hands over to
 * this one once loading is done, so they cannot escape timeouts and
 * signals. */
void runbook_set_hook(lua_Hook hook);

/* runbook_traceback - the message handler for lua_pcall: keeps an error
 * table as it is (adding a traceback field), turns anything else into a
 * string with a traceback. */
int runbook_traceback(lua_State *L);

#endif
