/*
 * core/engine/engine.c - the runbook executor.
 *
 * The engine walks the plan's nodes in order. Before it acts it appends an
 * event to the journal (fsync'd); the run's state is the same replay that
 * `status` performs (core/state.c), updated event by event. Lua code of
 * the runbook (run, undo, when, condition, check, on_trip, on_failure) is
 * always called through lua_pcall with a traceback handler; a count hook
 * interrupts it on cancellation or when its deadline passes.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <libpq-fe.h>
#include <lua.h>

#include "eclock.h"
#include "engine.h"
#include "exitcodes.h"
#include "host.h"
#include "journal.h"
#include "loader.h"
#include "luajson.h"
#include "notify.h"
#include "params.h"
#include "runbook.h"
#include "state.h"

#define ERROR_MT "pgmove.error"
#define CONTINUE (-1) /* a node finished; go on with the next one */
#define SNAPSHOT_EVERY 2000 /* events between two state snapshots (state.json) */
#define GATE_CHECK_TIMEOUT_MS (30 * 60 * 1000LL) /* a gate check's default deadline */

typedef struct engine {
	runbook *rb;
	journal *j;
	run_state *st;
	json_t *params;        /* resolved values, secrets included       */
	json_t *by_use;        /* params secret by use (secret_by_use), or NULL */
	const engine_opts *o;
	char dir[PATH_MAX];
	int ctx_ref;
	int node;              /* index of the node being executed, or -1 */
	int in_step;           /* plugin calls are journaled as step.call */
	int in_check;          /* a when, condition or check function runs */
	int step_irreversible; /* the running step is declared irreversible */
	long long deadline_ms; /* monotonic; 0 = none                     */
	long long *breaker_since; /* per breaker: when its condition started holding (wall ms) */
	long long *breaker_last;  /* per breaker: when it was last evaluated   */
	int *breaker_tripped;
	int resuming;          /* reopen for resume: stop early at a completed run */
	notify *notify;        /* the runbook's notify rules; NULL when none */
	int notify_opened;
} engine;

static engine *current; /* the engine whose Lua code is running (one per process) */

long long engine_wall_ms(void)
{
	return eclock_wall_ms();
}

void engine_new_run_id(char *out, size_t outlen)
{
	time_t t = time(NULL);
	struct tm tm;
	char stamp[32];
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	unsigned r = 0;
	FILE *f = fopen("/dev/urandom", "rb");
	if (!f || fread(&r, sizeof(r), 1, f) != 1)
		r = (unsigned)getpid() ^ (unsigned)t;
	if (f)
		fclose(f);
	snprintf(out, outlen, "%s-%04x", stamp, r & 0xffff);
}

void engine_run_dir(const char *state_dir, const char *rb_name, const char *run_id, char *out,
		    size_t outlen)
{
	snprintf(out, outlen, "%s/%s/%s", state_dir, rb_name, run_id);
}

static const char *fmt_ms(long long ms, char *buf, size_t len)
{
	return pgm_duration_format(ms < 0 ? 0 : ms, buf, len);
}

/* ---------------------------------------------------------------------
 * Journal
 * ------------------------------------------------------------------- */

static int emit(engine *e, json_t *ev);

static int notify_journal(void *user, json_t *ev)
{
	return emit(user, ev);
}

/* engine_notify - hands a journaled event to the run's notifications
 * (core/engine/notify.c), opened on the first event of the process. */
static void engine_notify(engine *e, const json_t *applied)
{
	if (!e->notify_opened && e->rb && e->st && e->st->run_id) {
		e->notify_opened = 1;
		e->notify = notify_open(e->rb->L, e->rb->decl_ref, e->rb->name, e->st->run_id,
					e->dir, notify_journal, e);
	}
	notify_event(e->notify, applied);
}

/* emit - journals ev (stolen), applies it to the state and notifies. -1
 * when the journal could not be written: the engine must stop at once. */
static int emit(engine *e, json_t *ev)
{
	if (journal_append(e->j, ev) != 0) {
		json_decref(ev);
		return -1;
	}
	json_t *applied = pgm_redact_json(ev);
	json_object_set_new(applied, "ts", json_string(journal_last_ts(e->j)));
	json_object_set_new(applied, "seq", json_integer(journal_seq(e->j)));
	state_apply(e->st, applied);
	json_decref(ev);
	engine_notify(e, applied);
	json_decref(applied);
	if (e->st->events % SNAPSHOT_EVERY == 0)
		state_snapshot_save(e->st, e->dir, journal_size(e->j));
	return 0;
}

#define EMIT(e, ev)                                     \
	do {                                            \
		if (emit((e), (ev)) != 0)               \
			return PGMOVE_EXIT_INTERNAL;    \
	} while (0)

/* ---------------------------------------------------------------------
 * Lua plumbing
 * ------------------------------------------------------------------- */

static int error_tostring(lua_State *L)
{
	lua_getfield(L, 1, "code");
	lua_getfield(L, 1, "message");
	lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "error"), luaL_optstring(L, -1, ""));
	return 1;
}

/* push_error - pushes an error table {code, message, retryable}. (sp += 1) */
static void push_error(lua_State *L, const char *code, const char *message, int retryable)
{
	lua_createtable(L, 0, 4);
	lua_pushstring(L, code);
	lua_setfield(L, -2, "code");
	lua_pushstring(L, message);
	lua_setfield(L, -2, "message");
	lua_pushboolean(L, retryable);
	lua_setfield(L, -2, "retryable");
	luaL_setmetatable(L, ERROR_MT);
}

static int raise_error(lua_State *L, const char *code, int retryable, const char *fmt, ...)
	PGM_PRINTF(4, 5);
static int raise_error(lua_State *L, const char *code, int retryable, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	push_error(L, code, msg, retryable);
	return lua_error(L);
}

/* hook - interrupts Lua code on cancellation or past the deadline, at
 * every count from then on (also in __close handlers). The sandbox's
 * pcall, xpcall, coroutine.resume, coroutine.close and load call it again
 * after they return (runbook.c stop_check), so runbook code cannot catch
 * the error and go on: only to-be-closed variables and xpcall handlers run. */
static void hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	engine *e = current;
	if (pgm_cancel_signal())
		raise_error(L, "pgmove.cancelled", 0, "interrupted by signal %d", pgm_cancel_signal());
	else if (e && e->deadline_ms && eclock_mono_ms() > e->deadline_ms)
		raise_error(L, "pgmove.timeout", 1, "timed out");
}

/* text_json - the string at idx as JSON (repaired when not UTF-8), or
 * dflt when it is no string. New reference. */
static json_t *text_json(lua_State *L, int idx, const char *dflt)
{
	size_t len;
	const char *s;
	if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
		return json_string(dflt);
	s = lua_tolstring(L, idx, &len);
	return pgm_utf8_json(s, len);
}

/* error_json - the error value on top of the stack as a new JSON object
 * {code, message, retryable[, traceback]}; pops it. Never NULL: text that
 * is not UTF-8 is repaired, an error that is neither a string nor a table
 * says what it is. */
static json_t *error_json(lua_State *L)
{
	json_t *err = json_object();
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "code");
		lua_getfield(L, -2, "message");
		lua_getfield(L, -3, "retryable");
		lua_getfield(L, -4, "traceback");
		json_object_set_new(err, "code", text_json(L, -4, "runbook.error"));
		json_object_set_new(err, "message",
				    text_json(L, -3, "(error table without a message)"));
		json_object_set_new(err, "retryable",
				    json_boolean(lua_isnil(L, -2) ? 1 : lua_toboolean(L, -2)));
		if (lua_type(L, -1) == LUA_TSTRING)
			json_object_set_new(err, "traceback", text_json(L, -1, ""));
		lua_pop(L, 5);
		return err;
	}
	size_t len = 0;
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
	if (!s) {
		char what[96];
		snprintf(what, sizeof(what),
			 "the runbook raised an error with a %s value instead of a message",
			 luaL_typename(L, -1));
		json_object_set_new(err, "code", json_string("runbook.error"));
		json_object_set_new(err, "message", json_string(what));
		json_object_set_new(err, "retryable", json_true());
		lua_pop(L, 1);
		return err;
	}
	const char *tb = strstr(s, "\nstack traceback:");
	size_t mlen = tb ? (size_t)(tb - s) : len;
	json_object_set_new(err, "code", json_string("runbook.error"));
	json_object_set_new(err, "message", pgm_utf8_json(s, mlen));
	json_object_set_new(err, "retryable", json_true());
	if (tb)
		json_object_set_new(err, "traceback", pgm_utf8_json(tb + 1, len - mlen - 1));
	lua_pop(L, 1);
	return err;
}

/* truth - the boolean a when, condition or check function returned at
 * idx: true or false, nil counting as false. Anything else (0, "false",
 * a table) is a runbook bug: 0 with *err set to a new error object that
 * says so (what and name say whose result it was). */
static int truth(lua_State *L, int idx, const char *what, const char *name, json_t **err)
{
	*err = NULL;
	if (lua_isboolean(L, idx))
		return lua_toboolean(L, idx);
	if (lua_isnil(L, idx))
		return 0;
	char msg[512];
	size_t len = 0;
	const char *tname = luaL_typename(L, idx); /* before lua_tolstring converts a number */
	const char *shown = lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER
				    ? lua_tolstring(L, idx, &len)
				    : NULL;
	char *fixed = shown ? pgm_utf8_repair(shown, len < 40 ? len : 40, NULL) : NULL;
	snprintf(msg, sizeof(msg),
		 "%s of '%s' returned a %s%s%s%s where true or false (or nil) is expected", what,
		 name ? name : "?", tname, fixed ? " (" : "", fixed ? fixed : "", fixed ? ")" : "");
	free(fixed);
	*err = json_pack("{s:s, s:o, s:b}", "code", "runbook.not_boolean", "message",
			 pgm_utf8_json(msg, strlen(msg)), "retryable", 0);
	return 0;
}

/* call_lua - calls the function below nargs arguments on the stack with a
 * traceback handler and deadline_ms (monotonic, 0 none). On success leaves
 * nresults values and returns NULL; on error returns the error as JSON
 * (new reference) and leaves nothing. */
static json_t *call_lua(engine *e, int nargs, int nresults, long long deadline_ms)
{
	lua_State *L = e->rb->L;
	int base = lua_gettop(L) - nargs; /* the function's slot */
	lua_pushcfunction(L, runbook_traceback);
	lua_insert(L, base); /* handler below the function */
	e->deadline_ms = deadline_ms;
	int rc = lua_pcall(L, nargs, nresults, base);
	e->deadline_ms = 0;
	if (rc != LUA_OK) {
		json_t *err = error_json(L);
		lua_remove(L, base);
		return err;
	}
	lua_remove(L, base);
	return NULL;
}

static void push_ctx(engine *e)
{
	lua_rawgeti(e->rb->L, LUA_REGISTRYINDEX, e->ctx_ref); /* (sp += 1) */
}

/* ctx_set - ctx[section][name] = v (borrowed JSON; NULL sets nil). */
static void ctx_set(engine *e, const char *section, const char *name, const json_t *v)
{
	lua_State *L = e->rb->L;
	push_ctx(e);
	lua_getfield(L, -1, section);
	if (v)
		luajson_push(L, v);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, name);
	lua_pop(L, 2);
}

static void ctx_set_current(engine *e, const char *name, int attempt)
{
	lua_State *L = e->rb->L;
	push_ctx(e);
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "step");
	lua_pushinteger(L, attempt);
	lua_setfield(L, -2, "attempt");
	lua_pop(L, 1);
}

/* ctx.log(fmt, ...) */
static int l_ctx_log(lua_State *L)
{
	int n = lua_gettop(L);
	if (n > 1) {
		lua_getglobal(L, "string");
		lua_getfield(L, -1, "format");
		lua_insert(L, 1);
		lua_pop(L, 1);
		lua_call(L, n, 1);
	}
	pgm_info("%s", luaL_tolstring(L, 1, NULL));
	return 0;
}

/* ctx.sleep(duration) - sleeps, interrupted by cancellation or deadline. */
static int l_ctx_sleep(lua_State *L)
{
	long long ms;
	char err[256];
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_Number s = lua_tonumber(L, 1);
		if (!(s >= 0 && s <= (lua_Number)(PGM_DURATION_MAX_MS / 1000)))
			return luaL_error(L, "ctx.sleep: %f seconds is out of range (0 to %d)",
					  (double)s, (int)(PGM_DURATION_MAX_MS / 1000));
		ms = (long long)(s * 1000);
	} else if (pgm_duration_parse(luaL_checkstring(L, 1), &ms, err, sizeof(err)) != 0)
		return luaL_error(L, "ctx.sleep: %s", err);
	int rc = eclock_sleep_ms(ms, current ? current->deadline_ms : 0);
	if (rc != 0)
		hook(L, NULL);
	return 0;
}

static int node_has(engine *e, int i, const char *field);

/* checkpoint_ctx - what save_checkpoint needs to journal one call's
 * checkpoint: the step and the call's key ("plugin.function#n", n its
 * position among the plugin calls of the step's attempt). */
typedef struct checkpoint_ctx {
	engine *e;
	const char *node;
	char key[256];
} checkpoint_ctx;

/* save_checkpoint - journals a checkpoint as step.checkpoint (value
 * borrowed) before pgm_checkpoint_save returns (pgm_checkpoint_fn). */
static int save_checkpoint(void *user, pgm_call *call, const json_t *value)
{
	checkpoint_ctx *cp = user;
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:O}", "ev", "step.checkpoint", "node", cp->node,
			       "function", pgm_call_name(call), "key", cp->key, "value",
			       (json_t *)value);
	int was = loader_crash_pause(); /* a crash now must not write into this append */
	int rc = ev ? emit(cp->e, ev) : -1;
	loader_crash_resume(was);
	return rc;
}

/* crash_ctx - the plugin.crashed event of the running call, prepared
 * before the call (members without braces) so the crash handler only
 * writes it. */
typedef struct crash_ctx {
	journal *j;
	char *members;
} crash_ctx;

/* journal_crash - loader_crash_fn: journals plugin.crashed with the signal
 * (async-signal-safe: string copies, write, fsync). */
static void journal_crash(void *user, int signo)
{
	crash_ctx *cc = user;
	char extra[64];
	const char *pre = "\"signal\":\"", *sig = loader_signal_name(signo);
	size_t n = 0;
	while (*pre && n < sizeof(extra) - 2)
		extra[n++] = *pre++;
	while (*sig && n < sizeof(extra) - 2)
		extra[n++] = *sig++;
	extra[n++] = '"';
	extra[n] = '\0';
	if (cc && cc->members)
		journal_append_signal_safe(cc->j, cc->members, extra);
}

/* crash_prepare - the members of the plugin.crashed event for a call of
 * function full in node; malloc'd, NULL when out of memory. */
static char *crash_prepare(const char *node, const char *full, int attempt)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "ev", "plugin.crashed", "node", node,
			      "function", full, "attempt", attempt);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (text && strlen(text) >= 2) {
		size_t len = strlen(text);
		memmove(text, text + 1, len - 2);
		text[len - 2] = '\0';
	}
	return text;
}

/* mark_secret_args - refuses a call that hands the value of a runbook param
 * journaled in clear (not secret, not a conninfo, not secret by use, not
 * its default) to a parameter the plugin declares secret, as it is or
 * inside a longer string (values of 6 bytes or more): a flow the
 * source scan (secret_by_use) could not see. The value is registered as a
 * secret (loader_check_args did) and param.secret is journaled so status
 * and report mask the value run.start holds. 0 when the call may go on,
 * 1 with the param and the parameter in name / to (error set), -1 when
 * the journal could not be written. */
/* holds_value - whether the text given to secret parameter q holds val:
 * equal to it, or containing it when val has 6 bytes or more; of a
 * connection string (type conninfo) only the password counts (its host,
 * user and dbname are no secrets). */
static int holds_value(const pgm_param *q, const char *text, const char *val)
{
	int held = 0;
	if (q->type && strcmp(q->type, "conninfo") == 0) {
		char *perr = NULL;
		PQconninfoOption *opts = PQconninfoParse(text, &perr);
		PQfreemem(perr);
		for (PQconninfoOption *o = opts; o && o->keyword; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val)
				held = holds_value(&(pgm_param){.type = "string"}, o->val, val);
		PQconninfoFree(opts);
		return held;
	}
	return strcmp(text, val) == 0 || (strlen(val) >= 6 && strstr(text, val));
}

static int mark_secret_args(engine *e, const char *pname, const pgm_function *f, json_t *args,
			    char *msg, size_t msglen)
{
	for (const pgm_param *q = f->params; q && q->name; q++) {
		json_t *v = json_object_get(args, q->name);
		const char *name;
		json_t *pv;
		if (!q->secret || !json_is_string(v) || !*json_string_value(v))
			continue;
		json_object_foreach(e->params, name, pv)
		{
			json_t *spec = json_object_get(e->rb->params, name);
			const char *type = json_string_value(json_object_get(spec, "type"));
			json_t *dflt = json_object_get(spec, "default");
			/* a conninfo param's password is kept out already; a default is
			 * in the runbook itself */
			if (!json_is_string(pv) || !*json_string_value(pv) ||
			    !holds_value(q, json_string_value(v), json_string_value(pv)) ||
			    json_is_true(json_object_get(spec, "secret")) ||
			    (type && strcmp(type, "conninfo") == 0) || (dflt && json_equal(dflt, pv)) ||
			    json_object_get(e->by_use, name))
				continue;
			char full[256];
			snprintf(full, sizeof(full), "%s.%s %s", pname, f->name, q->name);
			snprintf(msg, msglen,
				 "param %s reaches secret parameter %s through code pgmove cannot "
				 "follow, but it is not declared secret: declare it secret = true in "
				 "the runbook's params. The call was not made; the value is masked "
				 "from now on, but this run's first journal event (run.start) holds "
				 "it: change that secret and remove the run's directory when done",
				 name, full);
			json_t *cur = json_object_get(e->st->params, name);
			if (json_is_string(cur) && strcmp(json_string_value(cur), "********") != 0 &&
			    emit(e, json_pack("{s:s, s:s, s:s}", "ev", "param.secret", "param", name,
					      "to", full)) != 0)
				return -1;
			return 1;
		}
	}
	return 0;
}

/* exec_call - a plugin function called from runbook code (see
 * runbook_call_fn). */
static int exec_call(lua_State *L, void *user)
{
	engine *e = user;
	const char *pname = luaL_checkstring(L, 1), *fname = luaL_checkstring(L, 2);
	char err[2048];
	const pgm_plugin *p = loader_get(pname, err, sizeof(err));
	if (!p)
		return raise_error(L, "runbook.unknown_plugin", 0, "%s", err);
	const pgm_function *f = loader_function(p, fname);
	if (!f)
		return raise_error(L, "runbook.unknown_function", 0, "plugin %s has no function %s",
				   pname, fname);
	char root[256];
	snprintf(root, sizeof(root), "%s.%s args", pname, fname);
	json_t *args = luajson_to(L, 3, root, err, sizeof(err));
	if (!args)
		return raise_error(L, "args.invalid", 0, "%s", err);
	if (loader_check_args(p, f, args, err, sizeof(err)) != 0) {
		json_decref(args);
		return raise_error(L, "args.invalid", 0, "%s", err);
	}
	const char *node = e->node >= 0 ? e->st->nodes[e->node].name : NULL;
	char leak[1024];
	int undeclared = mark_secret_args(e, pname, f, args, leak, sizeof(leak));
	if (undeclared != 0) {
		json_decref(args);
		if (undeclared > 0)
			return raise_error(L, "runbook.undeclared_secret", 0, "%s", leak);
		return raise_error(L, "pgmove.journal", 0, "cannot write the journal");
	}
	if ((f->flags & PGM_FN_IRREVERSIBLE) && e->in_check) {
		json_decref(args);
		return raise_error(L, "runbook.irreversible", 0,
				   "%s.%s is irreversible and may not be called from a when, "
				   "condition or check function (of %s)",
				   pname, fname, node ? node : "?");
	}
	if ((f->flags & PGM_FN_IRREVERSIBLE) && e->in_step && !e->step_irreversible) {
		json_decref(args);
		return raise_error(L, "runbook.irreversible", 0,
				   "step '%s' calls %s.%s, which is irreversible: declare the step "
				   "irreversible = true with recovery = \"<an earlier step>\"",
				   node ? node : "?", pname, fname);
	}
	if (e->in_step && node) {
		char full[256];
		snprintf(full, sizeof(full), "%s.%s", pname, fname);
		if (emit(e, json_pack("{s:s, s:s, s:s, s:b}", "ev", "step.call", "node", node,
				      "function", full, "idempotent",
				      (f->flags & PGM_FN_IDEMPOTENT) != 0)) != 0) {
			json_decref(args);
			return raise_error(L, "pgmove.journal", 0, "cannot write the journal");
		}
	}
	pgm_call *c = pgm_call_new(pname, fname);
	if (e->deadline_ms)
		pgm_call_set_deadline_ms(c, e->deadline_ms);
	checkpoint_ctx cp = { e, node, "" };
	if (node) {
		node_state *ns = &e->st->nodes[e->node];
		pgm_call_set_run(c, e->st->run_id, node, ns->attempts);
		if (e->in_step) {
			snprintf(cp.key, sizeof(cp.key), "%s.%s#%d", pname, fname, ns->calls);
			pgm_call_set_checkpoint(c, json_object_get(ns->checkpoints, cp.key),
						save_checkpoint, &cp);
		}
	}
	char logctx[512];
	snprintf(logctx, sizeof(logctx), "%s%s%s.%s", node ? node : "", node ? ": " : "", pname,
		 fname);
	pgm_log_set_context(logctx);
	crash_ctx cc = { e->j, NULL };
	if (node) {
		char full[256];
		snprintf(full, sizeof(full), "%s.%s", pname, fname);
		cc.members = crash_prepare(node, full, e->st->nodes[e->node].attempts);
	}
	void *duser;
	eclock_dispatch_fn dispatch = eclock_dispatch(&duser);
	json_t *res = dispatch ? dispatch(duser, pname, f, c, args)
			       : loader_invoke(p, f, c, args, journal_crash, &cc);
	free(cc.members);
	pgm_log_set_context(node);
	pgm_progress_clear();
	json_decref(args);
	if (!res) {
		json_t *ej = pgm_call_error_json(c);
		pgm_call_free(c);
		if (!ej)
			ej = json_pack("{s:s, s:s, s:b}", "code", "plugin.error", "message",
				       "the plugin function failed without saying why", "retryable",
				       0);
		push_error(L, json_string_value(json_object_get(ej, "code")),
			   json_string_value(json_object_get(ej, "message")),
			   json_is_true(json_object_get(ej, "retryable")));
		json_decref(ej);
		return lua_error(L);
	}
	pgm_call_free(c);
	luajson_push(L, res);
	json_decref(res);
	return 1;
}

/* build_ctx - the ctx table runbook functions receive, filled from the
 * replayed state so a resumed run sees what the first process saw. */
static void build_ctx(engine *e)
{
	lua_State *L = e->rb->L;
	lua_createtable(L, 0, 8); /* ctx (sp += 1) */
	luajson_push(L, e->params);
	lua_setfield(L, -2, "params");
	lua_newtable(L);
	lua_setfield(L, -2, "outputs");
	lua_newtable(L);
	lua_setfield(L, -2, "approvals");
	lua_createtable(L, 0, 4);
	lua_pushstring(L, e->st->run_id);
	lua_setfield(L, -2, "id");
	lua_pushstring(L, e->dir);
	lua_setfield(L, -2, "dir");
	lua_pushstring(L, e->rb->name);
	lua_setfield(L, -2, "runbook");
	lua_pushstring(L, e->o->user ? e->o->user : "");
	lua_setfield(L, -2, "user");
	lua_setfield(L, -2, "run");
	lua_pushcfunction(L, l_ctx_log);
	lua_setfield(L, -2, "log");
	lua_pushcfunction(L, l_ctx_sleep);
	lua_setfield(L, -2, "sleep");
	e->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* (sp -= 1) */
	for (int i = 0; i < e->st->nnodes; i++) {
		node_state *n = &e->st->nodes[i];
		if (n->status == NODE_SUCCEEDED && n->output)
			ctx_set(e, "outputs", n->name, n->output);
		if (n->approval && n->status == NODE_APPROVED)
			ctx_set(e, "approvals", n->name, n->approval);
	}
}

/* ---------------------------------------------------------------------
 * Plan helpers
 * ------------------------------------------------------------------- */

static json_t *plan_node(engine *e, int i)
{
	return json_array_get(json_object_get(e->rb->plan, "nodes"), (size_t)i);
}

static long long plan_ms(json_t *pn, const char *field, long long dflt)
{
	json_t *v = json_object_get(pn, field);
	if (!json_is_integer(v))
		return dflt;
	/* a plan read back from a journal is outside input: keep its numbers in
	 * the range declarations allow, so now + ms cannot overflow */
	long long ms = json_integer_value(v);
	return ms < 0 ? 0 : ms > PGM_DURATION_MAX_MS ? PGM_DURATION_MAX_MS : ms;
}

static const char *plan_str(json_t *pn, const char *field, const char *dflt)
{
	const char *s = json_string_value(json_object_get(pn, field));
	return s ? s : dflt;
}

static int node_has(engine *e, int i, const char *field)
{
	return json_is_true(json_object_get(plan_node(e, i), field));
}

static long long deadline_after(long long ms)
{
	return ms > 0 ? eclock_mono_ms() + ms : 0;
}

/* interrupted - journals that a signal stopped the run at node. */
static int interrupted(engine *e, const char *node)
{
	int sig = pgm_cancel_signal();
	EMIT(e, json_pack("{s:s, s:s?, s:i, s:s}", "ev", "run.interrupted", "node", node, "signal",
			  sig, "reason", "interrupted by a signal; pgmove resume continues"));
	pgm_warn("run %s interrupted by signal %d%s%s; continue with: pgmove resume %s",
		 e->st->run_id, sig, node ? " at " : "", node ? node : "", e->st->run_id);
	return PGMOVE_EXIT_PAUSED;
}

/* sleep_wall - sleeps ms, 0 or -1 when interrupted. */
static int sleep_interruptible(long long ms)
{
	return eclock_sleep_ms(ms, 0);
}

/* ---------------------------------------------------------------------
 * Rollback and failure
 * ------------------------------------------------------------------- */

static int do_rollback(engine *e, const char *reason)
{
	if (!e->st->in_rollback)
		EMIT(e, json_pack("{s:s, s:s}", "ev", "rollback.start", "reason", reason));
	pgm_notice("rolling back run %s: %s", e->st->run_id, reason);
	for (;;) {
		/* the newest finished step that still has something to undo */
		int best = -1;
		long long best_seq = -1;
		for (int i = 0; i < e->st->nnodes; i++) {
			node_state *n = &e->st->nodes[i];
			if (strcmp(n->kind, "step") != 0)
				continue;
			if (n->status != NODE_SUCCEEDED && n->status != NODE_UNDO_FAILED)
				continue;
			if (!node_has(e, i, "undo") || node_has(e, i, "irreversible"))
				continue;
			if (n->done_seq > best_seq) {
				best_seq = n->done_seq;
				best = i;
			}
		}
		if (best < 0)
			break;
		node_state *n = &e->st->nodes[best];
		EMIT(e, json_pack("{s:s, s:s}", "ev", "undo.start", "node", n->name));
		pgm_log_set_context(n->name);
		pgm_info("undo of step %s", n->name);
		long long t0 = eclock_mono_ms();
		e->node = best;
		ctx_set_current(e, n->name, n->attempts);
		runbook_push_node_field(e->rb, best, "undo");
		push_ctx(e);
		if (n->output)
			luajson_push(e->rb->L, n->output);
		else
			lua_pushnil(e->rb->L);
		json_t *err = call_lua(e, 2, 0, deadline_after(plan_ms(plan_node(e, best),
									     "timeout_ms", 0)));
		e->node = -1;
		pgm_log_set_context(NULL);
		if (err && pgm_cancel_signal()) {
			json_decref(err);
			return interrupted(e, n->name);
		}
		if (err) {
			pgm_error("undo of step %s failed: %s", n->name,
				  json_string_value(json_object_get(err, "message")));
			EMIT(e, json_pack("{s:s, s:s, s:o}", "ev", "undo.failed", "node", n->name,
					  "error", err));
			EMIT(e, json_pack("{s:s, s:b, s:s}", "ev", "rollback.done", "ok", 0, "node",
					  n->name));
			pgm_error("rollback of run %s stopped at step %s; fix the cause, then run "
				  "pgmove rollback %s again",
				  e->st->run_id, n->name, e->st->run_id);
			return PGMOVE_EXIT_FAILED;
		}
		char d[32];
		long long dur = eclock_mono_ms() - t0;
		EMIT(e, json_pack("{s:s, s:s, s:I}", "ev", "undo.succeeded", "node", n->name,
				  "duration_ms", dur));
		ctx_set(e, "outputs", n->name, NULL);
		pgm_info("undo of step %s succeeded in %s", n->name, fmt_ms(dur, d, sizeof(d)));
	}
	for (int i = 0; i < e->st->nnodes; i++) {
		node_state *n = &e->st->nodes[i];
		if (strcmp(n->kind, "step") == 0 && n->status == NODE_SUCCEEDED &&
		    node_has(e, i, "irreversible"))
			pgm_warn("step %s is irreversible and was not undone", n->name);
	}
	EMIT(e, json_pack("{s:s, s:b}", "ev", "rollback.done", "ok", 1));
	pgm_notice("run %s rolled back", e->st->run_id);
	return PGMOVE_EXIT_ROLLED_BACK;
}

/* fail_run - the run cannot go on past node i because of err (borrowed):
 * asks on_failure what to do, journals, and rolls back or halts. */
static int fail_run(engine *e, int i, json_t *err)
{
	const char *node = e->st->nodes[i].name;
	const char *msg = json_string_value(json_object_get(err, "message"));
	char reason[2048];
	snprintf(reason, sizeof(reason), "%s %s failed: %s", e->st->nodes[i].kind, node,
		 msg ? msg : "?");
	const char *action = plan_str(e->rb->plan, "on_failure", "halt");
	char chosen[32];
	if (strcmp(action, "function") == 0) {
		snprintf(chosen, sizeof(chosen), "halt");
		runbook_push_on_failure(e->rb);
		push_ctx(e);
		luajson_push(e->rb->L, err); /* err (sp += 1): {code, message, retryable, node} */
		lua_pushstring(e->rb->L, node);
		lua_setfield(e->rb->L, -2, "node");
		luaL_setmetatable(e->rb->L, ERROR_MT); /* tostring(err) is "code: message" */
		json_t *herr = call_lua(e, 2, 1, deadline_after(10 * 60 * 1000));
		if (herr) {
			pgm_error("on_failure raised an error: %s",
				  json_string_value(json_object_get(herr, "message")));
			json_decref(herr);
		} else {
			const char *r = lua_tostring(e->rb->L, -1);
			if (r && strcmp(r, "rollback") == 0)
				snprintf(chosen, sizeof(chosen), "rollback");
			lua_pop(e->rb->L, 1);
		}
		action = chosen;
	}
	pgm_error("%s", reason);
	EMIT(e, json_pack("{s:s, s:s, s:s, s:O, s:s}", "ev", "run.failed", "node", node, "reason",
			  reason, "error", err, "action", action));
	if (strcmp(action, "rollback") == 0)
		return do_rollback(e, reason);
	pgm_notice("run %s stopped; after fixing the cause: pgmove resume %s (or pgmove resolve / "
		   "pgmove rollback)",
		   e->st->run_id, e->st->run_id);
	return PGMOVE_EXIT_FAILED;
}

/* ---------------------------------------------------------------------
 * Nodes
 * ------------------------------------------------------------------- */

static int retry_delay(json_t *retry, int tries)
{
	double d = (double)plan_ms(retry, "delay_ms", 0);
	double backoff = json_number_value(json_object_get(retry, "backoff"));
	if (backoff < 1)
		backoff = 1;
	for (int k = 1; k < tries; k++)
		d *= backoff;
	long long max = plan_ms(retry, "max_delay_ms", 0);
	if (max > 0 && d > (double)max)
		d = (double)max;
	if (d > 7 * 24 * 3600e3)
		d = 7 * 24 * 3600e3;
	return (int)d;
}

static int run_step(engine *e, int i)
{
	json_t *pn = plan_node(e, i);
	node_state *n = &e->st->nodes[i];
	const char *name = n->name;
	char d[32];

	pgm_log_set_context(name);
	if (node_has(e, i, "when")) {
		runbook_push_node_field(e->rb, i, "when");
		push_ctx(e);
		e->node = i;
		e->in_check = 1;
		json_t *err = call_lua(e, 1, 1, deadline_after(10 * 60 * 1000));
		e->in_check = 0;
		e->node = -1;
		if (err) {
			if (pgm_cancel_signal()) {
				json_decref(err);
				return interrupted(e, name);
			}
			int rc = fail_run(e, i, err);
			json_decref(err);
			return rc;
		}
		json_t *berr = NULL;
		int go = truth(e->rb->L, -1, "when", name, &berr);
		lua_pop(e->rb->L, 1);
		if (berr) {
			int rc = fail_run(e, i, berr);
			json_decref(berr);
			return rc;
		}
		if (!go) {
			EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "step.skipped", "node", name,
					  "reason", "when() returned false"));
			pgm_info("skipped: when() returned false");
			return CONTINUE;
		}
	}
	if (node_has(e, i, "irreversible")) {
		const char *rec = plan_str(pn, "recovery", "");
		node_state *r = state_node(e->st, rec);
		if (!r || r->status != NODE_SUCCEEDED) {
			json_t *err = json_pack(
				"{s:s, s:s, s:b}", "code", "runbook.no_recovery", "message", "", "retryable", 0);
			char msg[1024];
			snprintf(msg, sizeof(msg),
				 "step %s is irreversible and its recovery step %s has not succeeded "
				 "(it is %s): refusing to run it",
				 name, rec, r ? state_node_status_name(r->status) : "unknown");
			json_object_set_new(err, "message", json_string(msg));
			int rc = fail_run(e, i, err);
			json_decref(err);
			return rc;
		}
	}

	json_t *retry = json_object_get(pn, "retry");
	long long tries_declared = plan_ms(retry, "attempts", 1);
	int max_tries = tries_declared < 1 ? 1 : tries_declared > 1000 ? 1000 : (int)tries_declared;
	int all_errors = json_is_true(json_object_get(retry, "all_errors"));
	long long timeout = plan_ms(pn, "timeout_ms", 0);
	for (int tries = 1;; tries++) {
		int attempt = n->attempts + 1;
		EMIT(e, json_pack("{s:s, s:s, s:i}", "ev", "step.start", "node", name, "attempt",
				  attempt));
		n = &e->st->nodes[i];
		pgm_info("started (attempt %d)", attempt);
		long long t0 = eclock_mono_ms();
		e->node = i;
		e->in_step = 1;
		e->step_irreversible = node_has(e, i, "irreversible");
		ctx_set_current(e, name, attempt);
		runbook_push_node_field(e->rb, i, "run");
		push_ctx(e);
		json_t *err = call_lua(e, 1, 1, deadline_after(timeout));
		e->in_step = 0;
		e->node = -1;
		long long dur = eclock_mono_ms() - t0;
		if (!err) {
			char cerr[1024];
			json_t *out;
			if (lua_isnil(e->rb->L, -1))
				out = json_null();
			else
				out = luajson_to(e->rb->L, -1, "output", cerr, sizeof(cerr));
			lua_pop(e->rb->L, 1);
			if (!out) {
				err = json_pack("{s:s, s:o, s:b}", "code", "runbook.output",
						"message", pgm_utf8_json(cerr, strlen(cerr)),
						"retryable", 0);
			} else {
				json_t *red = pgm_redact_json(out);
				json_decref(out);
				EMIT(e, json_pack("{s:s, s:s, s:i, s:O, s:I}", "ev", "step.succeeded",
						  "node", name, "attempt", attempt, "output", red,
						  "duration_ms", dur));
				ctx_set(e, "outputs", name, red);
				json_decref(red);
				pgm_info("succeeded in %s", fmt_ms(dur, d, sizeof(d)));
				pgm_log_set_context(NULL);
				return CONTINUE;
			}
		}
		if (pgm_cancel_signal()) {
			json_decref(err);
			EMIT(e, json_pack("{s:s, s:s, s:i}", "ev", "step.interrupted", "node", name,
					  "attempt", attempt));
			pgm_log_set_context(NULL);
			return interrupted(e, name);
		}
		int retryable = json_is_true(json_object_get(err, "retryable")) || all_errors;
		int last = tries >= max_tries || !retryable;
		const char *msg = json_string_value(json_object_get(err, "message"));
		const char *code = json_string_value(json_object_get(err, "code"));
		EMIT(e, json_pack("{s:s, s:s, s:i, s:O, s:b, s:I}", "ev", "step.failed", "node", name,
				  "attempt", attempt, "error", err, "final", last, "duration_ms",
				  dur));
		if (last) {
			if (tries < max_tries)
				pgm_error("attempt %d failed (%s, not retryable): %s", attempt, code,
					  msg);
			else
				pgm_error("attempt %d failed (%s): %s", attempt, code, msg);
			pgm_log_set_context(NULL);
			int rc = fail_run(e, i, err);
			json_decref(err);
			return rc;
		}
		int delay = retry_delay(retry, tries);
		pgm_warn("attempt %d failed (%s): %s; retrying in %s (%d of %d attempts left)",
			 attempt, code, msg, fmt_ms(delay, d, sizeof(d)), max_tries - tries,
			 max_tries);
		json_decref(err);
		if (delay > 0 && sleep_interruptible(delay) != 0) {
			pgm_log_set_context(NULL);
			return interrupted(e, name);
		}
	}
}

/* breaker_applies - whether breaker b watches wait i. */
static int breaker_applies(engine *e, json_t *b, int i)
{
	json_t *during = json_object_get(b, "during");
	if (!json_is_array(during))
		return 1;
	size_t k;
	json_t *d;
	const char *phase = e->st->nodes[i].phase;
	json_array_foreach(during, k, d)
	{
		const char *s = json_string_value(d);
		if (s && (strcmp(s, e->st->nodes[i].name) == 0 || (phase && strcmp(s, phase) == 0)))
			return 1;
	}
	return 0;
}

/* check_breakers - evaluates the breakers that watch wait i. Returns
 * CONTINUE, or an exit code when one tripped with a stopping action. */
static int check_breakers(engine *e, int i, long long every)
{
	json_t *bs = json_object_get(e->rb->plan, "breakers");
	size_t k;
	json_t *b;
	json_array_foreach(bs, k, b)
	{
		if (!breaker_applies(e, b, i))
			continue;
		long long now = engine_wall_ms();
		long long bevery = plan_ms(b, "every_ms", every);
		if (e->breaker_last[k] && now - e->breaker_last[k] < bevery)
			continue;
		e->breaker_last[k] = now;
		const char *bname = plan_str(b, "name", "?");
		runbook_push_breaker_field(e->rb, (int)k, "condition");
		push_ctx(e);
		e->in_check = 1;
		json_t *err = call_lua(e, 1, 2, deadline_after(bevery > 60000 ? bevery : 60000));
		e->in_check = 0;
		if (err) {
			if (pgm_cancel_signal()) {
				json_decref(err);
				return interrupted(e, e->st->nodes[i].name);
			}
			pgm_warn("breaker %s: condition raised an error: %s", bname,
				 json_string_value(json_object_get(err, "message")));
			json_decref(err);
			continue;
		}
		json_t *berr = NULL;
		int tripping = truth(e->rb->L, -2, "breaker condition", bname, &berr);
		if (berr) {
			pgm_warn("breaker %s: %s", bname,
				 json_string_value(json_object_get(berr, "message")));
			json_decref(berr);
		}
		char cerr[512];
		json_t *value = lua_isnil(e->rb->L, -1)
					? json_null()
					: luajson_to(e->rb->L, -1, "breaker value", cerr, sizeof(cerr));
		lua_pop(e->rb->L, 2);
		if (!value)
			value = pgm_utf8_json(cerr, strlen(cerr));
		if (!tripping) {
			e->breaker_since[k] = 0;
			e->breaker_tripped[k] = 0;
			json_decref(value);
			continue;
		}
		if (!e->breaker_since[k])
			e->breaker_since[k] = now;
		long long held = now - e->breaker_since[k];
		if (held < plan_ms(b, "sustained_ms", 0) || e->breaker_tripped[k]) {
			json_decref(value);
			continue;
		}
		e->breaker_tripped[k] = 1;
		const char *action = plan_str(b, "action", "pause");
		EMIT(e, json_pack("{s:s, s:s, s:s, s:s, s:O, s:I}", "ev", "breaker.trip", "breaker",
				  bname, "node", e->st->nodes[i].name, "action", action, "value",
				  value, "held_ms", held));
		pgm_error("breaker %s tripped during wait %s (held %lld ms): action %s", bname,
			  e->st->nodes[i].name, held, action);
		runbook_push_breaker_field(e->rb, (int)k, "on_trip");
		if (lua_isfunction(e->rb->L, -1)) {
			push_ctx(e);
			luajson_push(e->rb->L, value);
			json_t *herr = call_lua(e, 2, 0, deadline_after(5 * 60 * 1000));
			if (herr) {
				pgm_error("breaker %s: on_trip failed: %s", bname,
					  json_string_value(json_object_get(herr, "message")));
				json_decref(herr);
			}
		} else {
			lua_pop(e->rb->L, 1);
		}
		char reason[512];
		snprintf(reason, sizeof(reason), "breaker %s tripped", bname);
		if (strcmp(action, "pause") == 0) {
			json_decref(value);
			EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "run.paused", "node",
					  e->st->nodes[i].name, "reason", reason));
			pgm_notice("run %s paused by breaker %s; pgmove resume %s continues the wait",
				   e->st->run_id, bname, e->st->run_id);
			return PGMOVE_EXIT_PAUSED;
		}
		if (strcmp(action, "rollback") == 0) {
			json_decref(value);
			EMIT(e, json_pack("{s:s, s:s, s:s, s:s}", "ev", "run.failed", "node",
					  e->st->nodes[i].name, "reason", reason, "action", "rollback"));
			return do_rollback(e, reason);
		}
		if (strcmp(action, "fail") == 0) {
			json_t *err2 = json_pack("{s:s, s:s, s:b, s:o}", "code", "runbook.breaker",
						 "message", reason, "retryable", 0, "value", value);
			int rc = fail_run(e, i, err2);
			json_decref(err2);
			return rc;
		}
		json_decref(value); /* alert: on_trip only */
	}
	return CONTINUE;
}

/* wait_progress - on a terminal, one redrawn line saying how the wait is
 * going; log files get the polls' state changes only. */
static void wait_progress(const char *name, int ok, long long elapsed, long long timeout,
			  long long held, long long stable_for)
{
	char label[160];
	if (!isatty(2))
		return;
	pgm_call *c = pgm_call_new(NULL, NULL);
	if (ok && stable_for) {
		snprintf(label, sizeof(label), "%s: condition true, stable for", name);
		pgm_progress(c, (double)(held / 1000), (double)(stable_for / 1000), "s", label);
	} else {
		snprintf(label, sizeof(label), "%s: condition %s, waited", name,
			 ok ? "true" : "false");
		pgm_progress(c, (double)(elapsed / 1000),
			     timeout ? (double)(timeout / 1000) : 0, "s", label);
	}
	pgm_call_free(c);
}

static int run_wait(engine *e, int i)
{
	json_t *pn = plan_node(e, i);
	node_state *n = &e->st->nodes[i];
	const char *name = n->name;
	long long every = plan_ms(pn, "every_ms", 30000);
	long long timeout = plan_ms(pn, "timeout_ms", 0);
	long long stable_for = plan_ms(pn, "stable_for_ms", 0);
	char d1[32], d2[32];

	pgm_log_set_context(name);
	if (n->status != NODE_RUNNING) {
		EMIT(e, json_pack("{s:s, s:s}", "ev", "wait.start", "node", name));
		pgm_info("waiting (every %s%s%s)", fmt_ms(every, d1, sizeof(d1)),
			 timeout ? ", timeout " : "", timeout ? fmt_ms(timeout, d2, sizeof(d2)) : "");
	} else if (n->stable_since_ms && n->last_poll_ms &&
		   engine_wall_ms() - n->last_poll_ms > 2 * every) {
		/* nobody watched between the last poll and now: stability starts over */
		EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "wait.stability_reset", "node", name,
				  "reason", "pgmove was not running: nobody watched the condition"));
		pgm_notice("stability window restarts: the condition was not watched since %s",
			   state_format_ts(n->last_poll_ms, d1, sizeof(d1)));
	}
	n = &e->st->nodes[i];
	long long started = n->wait_start_ms ? n->wait_start_ms : engine_wall_ms();
	int last_ok = -1;
	for (;;) {
		e->node = i;
		ctx_set_current(e, name, n->attempts + 1);
		runbook_push_node_field(e->rb, i, "condition");
		push_ctx(e);
		long long left = timeout ? started + timeout - engine_wall_ms() : 0;
		e->in_check = 1;
		json_t *err = call_lua(e, 1, 2, deadline_after(left > every ? left : every));
		e->in_check = 0;
		e->node = -1;
		int ok = 0;
		json_t *value = NULL;
		if (err) {
			if (pgm_cancel_signal()) {
				json_decref(err);
				return interrupted(e, name);
			}
			if (!json_is_true(json_object_get(err, "retryable"))) {
				pgm_log_set_context(NULL);
				int rc = fail_run(e, i, err);
				json_decref(err);
				return rc;
			}
			pgm_warn("condition raised an error (polling on): %s",
				 json_string_value(json_object_get(err, "message")));
		} else {
			char cerr[512];
			json_t *berr = NULL;
			ok = truth(e->rb->L, -2, "condition", name, &berr);
			value = lua_isnil(e->rb->L, -1)
					? json_null()
					: luajson_to(e->rb->L, -1, "wait value", cerr, sizeof(cerr));
			if (!value)
				value = pgm_utf8_json(cerr, strlen(cerr));
			lua_pop(e->rb->L, 2);
			if (berr) {
				/* a runbook bug, not a condition that may yet hold */
				json_decref(value);
				pgm_log_set_context(NULL);
				int rc = fail_run(e, i, berr);
				json_decref(berr);
				return rc;
			}
		}
		json_t *ev = json_pack("{s:s, s:s, s:b}", "ev", "wait.poll", "node", name, "ok", ok);
		if (value)
			json_object_set(ev, "value", value);
		if (err)
			json_object_set(ev, "error", err);
		json_decref(err);
		if (emit(e, ev) != 0) {
			json_decref(value);
			return PGMOVE_EXIT_INTERNAL;
		}
		n = &e->st->nodes[i];
		if (ok != last_ok)
			pgm_info("condition is %s", ok ? "true" : "false");
		last_ok = ok;
		long long now = engine_wall_ms();
		if (ok && (stable_for == 0 || now - n->stable_since_ms >= stable_for)) {
			EMIT(e, json_pack("{s:s, s:s, s:O, s:I}", "ev", "wait.done", "node", name,
					  "value", value ? value : json_null(), "duration_ms",
					  now - started));
			json_t *red = pgm_redact_json(value ? value : json_null());
			ctx_set(e, "outputs", name, red);
			json_decref(red);
			json_decref(value);
			pgm_info("satisfied after %s", fmt_ms(now - started, d1, sizeof(d1)));
			pgm_log_set_context(NULL);
			return CONTINUE;
		}
		json_decref(value);
		wait_progress(name, ok, now - started, timeout,
			      ok && n->stable_since_ms ? now - n->stable_since_ms : 0, stable_for);
		int rc = check_breakers(e, i, every);
		if (rc != CONTINUE) {
			pgm_log_set_context(NULL);
			return rc;
		}
		if (timeout && now - started >= timeout) {
			const char *act = plan_str(pn, "on_timeout", "fail");
			char msg[512];
			snprintf(msg, sizeof(msg), "wait %s timed out after %s", name,
				 fmt_ms(timeout, d1, sizeof(d1)));
			json_t *terr = json_pack("{s:s, s:s, s:b}", "code", "pgmove.wait_timeout",
						 "message", msg, "retryable", 0);
			EMIT(e, json_pack("{s:s, s:s, s:O}", "ev", "wait.timeout", "node", name,
					  "error", terr));
			pgm_log_set_context(NULL);
			if (strcmp(act, "halt") == 0) {
				json_decref(terr);
				EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "run.halted", "node", name,
						  "reason", msg));
				pgm_error("%s: run halted; pgmove resume %s waits again", msg,
					  e->st->run_id);
				return PGMOVE_EXIT_GATE_FAILED;
			}
			if (strcmp(act, "rollback") == 0) {
				EMIT(e, json_pack("{s:s, s:s, s:s, s:O, s:s}", "ev", "run.failed",
						  "node", name, "reason", msg, "error", terr, "action",
						  "rollback"));
				json_decref(terr);
				return do_rollback(e, msg);
			}
			rc = fail_run(e, i, terr);
			json_decref(terr);
			return rc;
		}
		long long nap = every;
		if (timeout && started + timeout - now < nap)
			nap = started + timeout - now;
		if (stable_for && ok && n->stable_since_ms + stable_for - now < nap)
			nap = n->stable_since_ms + stable_for - now;
		if (nap < 1)
			nap = 1;
		if (sleep_interruptible(nap) != 0)
			return interrupted(e, name);
	}
}

static int run_gate(engine *e, int i)
{
	json_t *pn = plan_node(e, i);
	node_state *n = &e->st->nodes[i];
	const char *name = n->name;
	json_t *checks = json_object_get(pn, "checks");
	int attempt = n->attempts + 1;
	long long t0 = eclock_mono_ms();
	int failed = 0;
	char failed_names[1024] = "";
	size_t used = 0;

	/* each check has the gate's timeout (default 30 minutes): a server that
	 * refuses connections fails the check instead of being retried for hours */
	long long check_ms = plan_ms(pn, "timeout_ms", GATE_CHECK_TIMEOUT_MS);

	pgm_log_set_context(name);
	EMIT(e, json_pack("{s:s, s:s, s:i}", "ev", "gate.start", "node", name, "attempt", attempt));
	for (size_t j = 0; j < json_array_size(checks); j++) {
		const char *cname = json_string_value(json_array_get(checks, j));
		e->node = i;
		ctx_set_current(e, name, attempt);
		runbook_push_check_fn(e->rb, i, (int)j);
		push_ctx(e);
		e->in_check = 1;
		json_t *err = call_lua(e, 1, 2, deadline_after(check_ms));
		e->in_check = 0;
		e->node = -1;
		int ok = 0;
		json_t *detail;
		if (err) {
			if (pgm_cancel_signal()) {
				json_decref(err);
				return interrupted(e, name);
			}
			detail = json_pack("{s:O}", "error", err);
			json_decref(err);
		} else {
			char cerr[512];
			json_t *berr = NULL;
			ok = truth(e->rb->L, -2, "check", cname, &berr);
			detail = lua_isnil(e->rb->L, -1)
					 ? json_null()
					 : luajson_to(e->rb->L, -1, "check detail", cerr, sizeof(cerr));
			if (!detail)
				detail = pgm_utf8_json(cerr, strlen(cerr));
			lua_pop(e->rb->L, 2);
			if (berr) {
				/* the check fails, and says why */
				pgm_error("%s",
					  json_string_value(json_object_get(berr, "message")));
				json_decref(detail);
				detail = json_pack("{s:o}", "error", berr);
			}
		}
		EMIT(e, json_pack("{s:s, s:s, s:s, s:b, s:o}", "ev", "gate.check", "node", name,
				  "check", cname, "ok", ok, "detail", detail));
		if (ok) {
			pgm_info("check '%s' passed", cname);
		} else {
			pgm_error("check '%s' FAILED", cname);
			failed++;
			if (used < sizeof(failed_names))
				used += (size_t)snprintf(failed_names + used, sizeof(failed_names) - used,
							 "%s'%s'", used ? ", " : "", cname);
		}
	}
	long long dur = eclock_mono_ms() - t0;
	if (!failed) {
		EMIT(e, json_pack("{s:s, s:s, s:b, s:I}", "ev", "gate.result", "node", name, "ok", 1,
				  "duration_ms", dur));
		ctx_set(e, "outputs", name, e->st->nodes[i].output);
		pgm_info("gate passed (%zu checks)", json_array_size(checks));
		pgm_log_set_context(NULL);
		return CONTINUE;
	}
	const char *action = plan_str(pn, "on_fail", "halt");
	char reason[1536];
	snprintf(reason, sizeof(reason), "gate %s failed: %d of %zu checks failed: %s", name, failed,
		 json_array_size(checks), failed_names);
	EMIT(e, json_pack("{s:s, s:s, s:b, s:s, s:I}", "ev", "gate.result", "node", name, "ok", 0,
			  "action", action, "duration_ms", dur));
	pgm_log_set_context(NULL);
	if (strcmp(action, "continue") == 0) {
		pgm_warn("%s; on_fail = continue", reason);
		return CONTINUE;
	}
	if (strcmp(action, "rollback") == 0) {
		pgm_error("%s", reason);
		EMIT(e, json_pack("{s:s, s:s, s:s, s:s}", "ev", "run.failed", "node", name, "reason",
				  reason, "action", "rollback"));
		int rc = do_rollback(e, reason);
		return rc == PGMOVE_EXIT_ROLLED_BACK ? PGMOVE_EXIT_ROLLED_BACK : rc;
	}
	EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "run.halted", "node", name, "reason", reason));
	pgm_error("%s; run halted. After fixing the cause: pgmove resume %s (checks run again)",
		  reason, e->st->run_id);
	return PGMOVE_EXIT_GATE_FAILED;
}

/* approved_on_cli - whether --approve named this approval. */
static int approved_on_cli(engine *e, const char *name)
{
	size_t k;
	json_t *a;
	json_array_foreach(e->o->approvals, k, a)
	if (json_is_string(a) && strcmp(json_string_value(a), name) == 0)
		return 1;
	return 0;
}

static int run_approve(engine *e, int i)
{
	json_t *pn = plan_node(e, i);
	node_state *n = &e->st->nodes[i];
	const char *name = n->name;
	const char *prompt = plan_str(pn, "prompt", "");
	if (n->status == NODE_DENIED) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "approval %s was denied by %s", name,
			 json_string_value(json_object_get(n->approval, "by")));
		json_t *err = json_pack("{s:s, s:s, s:b}", "code", "runbook.denied", "message", msg,
					"retryable", 0);
		int rc = fail_run(e, i, err);
		json_decref(err);
		return rc;
	}
	if (n->status != NODE_WAITING)
		EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "approve.pending", "node", name, "prompt",
				  prompt));
	char reason[1024];
	snprintf(reason, sizeof(reason), "waiting for approval %s: %s", name, prompt);
	EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "run.paused", "node", name, "reason", reason));
	pgm_notice("run %s is waiting for approval '%s': %s", e->st->run_id, name, prompt);
	pgm_notice("approve with: pgmove approve %s %s --by NAME, then: pgmove resume %s",
		   e->st->run_id, name, e->st->run_id);
	return PGMOVE_EXIT_PAUSED;
}

/* execute - runs the nodes that are not done yet, in order. */
static int execute(engine *e)
{
	for (int i = 0; i < e->st->nnodes; i++) {
		node_state *n = &e->st->nodes[i];
		if (pgm_cancel_signal())
			return interrupted(e, n->name);
		int rc = CONTINUE;
		if (strcmp(n->kind, "step") == 0) {
			if (n->status == NODE_SUCCEEDED || n->status == NODE_SKIPPED)
				continue;
			rc = run_step(e, i);
		} else if (strcmp(n->kind, "wait") == 0) {
			if (n->status == NODE_SUCCEEDED)
				continue;
			rc = run_wait(e, i);
		} else if (strcmp(n->kind, "gate") == 0) {
			if (n->status == NODE_SUCCEEDED)
				continue;
			rc = run_gate(e, i);
		} else if (strcmp(n->kind, "approve") == 0) {
			if (n->status == NODE_APPROVED)
				continue;
			if (approved_on_cli(e, n->name)) {
				EMIT(e, json_pack("{s:s, s:s, s:s?, s:s}", "ev", "approve.given", "node",
						  n->name, "by", e->o->user, "via", "command line"));
				ctx_set(e, "approvals", n->name, e->st->nodes[i].approval);
				pgm_info("approval %s given on the command line by %s", n->name,
					 e->o->user ? e->o->user : "?");
				continue;
			}
			rc = run_approve(e, i);
		}
		if (rc != CONTINUE)
			return rc;
	}
	EMIT(e, json_pack("{s:s}", "ev", "run.completed"));
	pgm_notice("run %s completed", e->st->run_id);
	return PGMOVE_EXIT_COMPLETED;
}

/* ---------------------------------------------------------------------
 * Setting up
 * ------------------------------------------------------------------- */

static void engine_free(engine *e)
{
	if (current == e)
		current = NULL;
	if (e->rb) {
		runbook_set_executor(e->rb, NULL, NULL);
		runbook_free(e->rb);
	}
	if (e->j && e->st && e->st->events)
		state_snapshot_save(e->st, e->dir, journal_size(e->j));
	notify_close(e->notify);
	journal_close(e->j);
	state_free(e->st);
	json_decref(e->params);
	json_decref(e->by_use);
	free(e->breaker_since);
	free(e->breaker_last);
	free(e->breaker_tripped);
	free(e);
}

/* prepare - what run, resume and rollback share once the runbook is loaded
 * and the journal open: the executor, the hook, ctx, breakers. */
static void prepare(engine *e)
{
	lua_State *L = e->rb->L;
	current = e;
	luaL_newmetatable(L, ERROR_MT);
	lua_pushcfunction(L, error_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
	runbook_set_executor(e->rb, exec_call, e);
	lua_sethook(L, hook, LUA_MASKCOUNT, 1000);
	runbook_set_hook(hook);
	size_t nb = json_array_size(json_object_get(e->rb->plan, "breakers"));
	e->breaker_since = calloc(nb + 1, sizeof(long long));
	e->breaker_last = calloc(nb + 1, sizeof(long long));
	e->breaker_tripped = calloc(nb + 1, sizeof(int));
	e->node = -1;
	build_ctx(e);
	pgm_cancel_install();
}

/* check_approvals - every --approve names an approval of the plan. */
static int check_approvals(const runbook *rb, const json_t *approvals)
{
	size_t k;
	json_t *a;
	json_array_foreach(approvals, k, a)
	{
		const char *name = json_string_value(a);
		int found = 0;
		size_t i;
		json_t *pn;
		json_array_foreach(json_object_get(rb->plan, "nodes"), i, pn)
		if (strcmp(plan_str(pn, "kind", ""), "approve") == 0 &&
		    strcmp(plan_str(pn, "name", ""), name) == 0)
			found = 1;
		if (!found) {
			pgm_error("--approve %s: runbook %s has no approve \"%s\"", name, rb->name,
				  name);
			return -1;
		}
	}
	return 0;
}

/* warn_cli_secrets - a secret param given with -p is on the command line,
 * which other users of the machine can read (ps, /proc). */
static void warn_cli_secrets(const runbook *rb, const json_t *cli)
{
	const char *name;
	json_t *v;
	json_object_foreach((json_t *)cli, name, v)
	{
		json_t *spec = json_object_get(rb->params, name);
		if (!json_is_true(json_object_get(spec, "secret")))
			continue;
		const char *env = json_string_value(json_object_get(spec, "env"));
		pgm_warn("param %s is secret but was given with -p: a command line is visible to "
			 "other users of this machine; prefer %s%s",
			 name, env ? "the environment variable " : "an environment variable",
			 env ? env : "");
	}
}

/* approver_ok - whether user may give approval node (plan approvers). */
static int approver_ok(const runbook *rb, const char *node, const char *user)
{
	size_t i;
	json_t *pn;
	json_array_foreach(json_object_get(rb->plan, "nodes"), i, pn)
	{
		if (strcmp(plan_str(pn, "name", ""), node) != 0)
			continue;
		json_t *list = json_object_get(pn, "approvers");
		if (!json_is_array(list))
			return 1;
		size_t k;
		json_t *a;
		json_array_foreach(list, k, a)
		if (user && strcmp(json_string_value(a), user) == 0)
			return 1;
		pgm_error("approval %s: %s is not among its approvers", node, user ? user : "?");
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------------
 * Params that become secret by use (a plain param handed to a plugin
 * parameter declared secret)
 * ------------------------------------------------------------------- */

static int ident_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* skip_blank - past spaces, tabs and newlines. */
static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* params_ref - when p starts params.NAME or params["NAME"] (after "<x>."
 * or on its own), the length of NAME in *nlen and NAME itself. */
static const char *params_ref(const char *src, const char *p, size_t *nlen)
{
	const char *q = p + 6, *name;
	if (strncmp(p, "params", 6) != 0 || (p > src && ident_char(p[-1])))
		return NULL;
	if (*q == '.') {
		name = ++q;
		while (ident_char(*q))
			q++;
	} else if (*q == '[' && (q[1] == '"' || q[1] == '\'')) {
		name = q + 2;
		q = strchr(name, q[1]);
		if (!q)
			return NULL;
	} else {
		return NULL;
	}
	*nlen = (size_t)(q - name);
	return *nlen && *nlen < 128 ? name : NULL;
}

/* skip_text - when p starts a string literal or a comment, the last
 * character of it (NULL at the end of the source); else p itself. */
static const char *skip_text(const char *p)
{
	if (*p == '"' || *p == '\'') {
		char quote = *p;
		for (p++; *p && *p != quote && *p != '\n'; p++)
			if (*p == '\\' && p[1])
				p++;
		return *p ? p : NULL;
	}
	if (p[0] == '-' && p[1] == '-') {
		while (*p && *p != '\n')
			p++;
		return *p ? p : NULL;
	}
	return p;
}

static int lua_keyword(const char *w, size_t n)
{
	static const char *const kw[] = {"and",	 "break",  "do",    "else", "elseif", "end",
					 "false", "for",    "function", "goto", "if",	  "in",
					 "local", "nil",    "not",   "or",	 "repeat", "return",
					 "then",  "true",   "until", "while", NULL};
	for (int i = 0; kw[i]; i++)
		if (strlen(kw[i]) == n && strncmp(kw[i], w, n) == 0)
			return 1;
	return 0;
}

/* word_start - whether an identifier starts at p (not a field after '.'
 * or ':', not the middle of a word). */
static int word_start(const char *src, const char *p)
{
	return ident_char(*p) && !(*p >= '0' && *p <= '9') &&
	       !(p > src && (ident_char(p[-1]) || p[-1] == '.' || p[-1] == ':'));
}

/* plain_param - found[name] = how when name is a runbook param not declared
 * secret and not a conninfo (whose password is kept out already; its host
 * is no secret). */
static void plain_param(runbook *rb, const char *name, json_t *found, const char *how)
{
	json_t *spec = json_object_get(rb->params, name);
	const char *type = json_string_value(json_object_get(spec, "type"));
	if (spec && !json_is_true(json_object_get(spec, "secret")) &&
	    !(type && strcmp(type, "conninfo") == 0) && !json_object_get(found, name))
		json_object_set_new(found, name, json_string(how));
}

/* expr_refs - scans the expression that starts at p, up to a ',' or ';' at
 * its own bracket depth, its closing bracket, or (line) the end of its
 * line: every params.NAME in it goes into found (plain_param), every other
 * identifier into idents (NAME -> the set of fields read from it, "" when
 * used whole), so the values they hold can be followed (follow_idents);
 * *bare is set when the params table itself is in it (an alias). */
static void expr_refs(runbook *rb, const char *src, const char *p, int line, json_t *found,
		      const char *how, json_t *idents, int *bare)
{
	int depth = 0;
	for (; *p; p++) {
		const char *e = skip_text(p);
		if (!e)
			return;
		if (e != p) {
			p = e;
			continue;
		}
		if (*p == '{' || *p == '(' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ')' || *p == ']') {
			if (--depth < 0)
				return;
		} else if (depth == 0 && (*p == ',' || *p == ';' || (line && *p == '\n')))
			return;
		size_t nlen;
		const char *name = *p == 'p' ? params_ref(src, p, &nlen) : NULL;
		if (name) {
			char pn[130];
			snprintf(pn, sizeof(pn), "%.*s", (int)nlen, name);
			plain_param(rb, pn, found, how);
			p = name + nlen - 1;
			continue;
		}
		if (*p == 'p' && strncmp(p, "params", 6) == 0 && !ident_char(p[6]) &&
		    !(p > src && ident_char(p[-1]))) {
			*bare = 1;
			p += 5;
			continue;
		}
		if (!word_start(src, p))
			continue;
		const char *w = p;
		while (ident_char(p[1]))
			p++;
		size_t n = (size_t)(p - w + 1);
		if (lua_keyword(w, n) || n >= 64)
			continue;
		char id[64], field[64] = "";
		snprintf(id, sizeof(id), "%.*s", (int)n, w);
		const char *f = p + 1, *fe = NULL;
		if (*f == '.' && ident_char(f[1])) {
			fe = ++f;
			while (ident_char(*fe))
				fe++;
		} else if (f[0] == '[' && (f[1] == '"' || f[1] == '\'')) {
			f += 2;
			fe = strchr(f, f[-1]);
		}
		if (fe && fe > f && fe - f < 64)
			snprintf(field, sizeof(field), "%.*s", (int)(fe - f), f);
		json_t *fields = json_object_get(idents, id);
		if (!fields) {
			fields = json_object();
			json_object_set_new(idents, id, fields);
		}
		json_object_set_new(fields, field, json_true());
	}
}

/* assigned_at - when p (a word start) is NAME followed by "=" (not "=="),
 * also as one of several names ("a, NAME, b ="), the start of the value
 * assigned; else NULL. */
static const char *assigned_at(const char *p, const char *name, size_t nlen)
{
	if (strncmp(p, name, nlen) != 0 || ident_char(p[nlen]))
		return NULL;
	const char *q = p + nlen;
	for (;;) {
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '<') { /* an attribute: <const>, <close> */
			while (*q && *q != '>' && *q != '\n')
				q++;
			if (*q != '>')
				return NULL;
			q++;
			continue;
		}
		if (*q != ',')
			break;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		while (ident_char(*q))
			q++;
	}
	return *q == '=' && q[1] != '=' ? q + 1 : NULL;
}

/* follow_idents - the values assigned to each identifier in idents (and,
 * in turn, to the identifiers those name), anywhere in the source: the
 * plain params they mention go into found (NAME -> how); an identifier
 * that holds the params table gives the fields read from it, or every
 * plain param when it is used whole. A textual over-approximation: scopes
 * are not told apart. Stops after 256 names. */
static void follow_idents(runbook *rb, const char *src, json_t *idents, json_t *found,
			  const char *how)
{
	json_t *seen = json_object();
	for (int round = 0; round < 256; round++) {
		const char *id = NULL;
		json_t *v;
		json_object_foreach(idents, id, v)
		{
			if (!json_object_get(seen, id))
				break;
		}
		if (!id || json_object_get(seen, id))
			break;
		char name[64];
		snprintf(name, sizeof(name), "%s", id);
		json_object_set_new(seen, name, json_true());
		size_t nlen = strlen(name);
		int bare = 0;
		for (const char *p = src; *p; p++) {
			const char *e = skip_text(p);
			if (!e)
				break;
			if (e != p) {
				p = e;
				continue;
			}
			const char *rhs;
			if (*p == name[0] && word_start(src, p) && (rhs = assigned_at(p, name, nlen)))
				expr_refs(rb, src, rhs, 1, found, how, idents, &bare);
		}
		if (!bare)
			continue;
		json_t *fields = json_object_get(idents, name), *t;
		const char *field;
		json_object_foreach(fields, field, t)
		{
			if (*field) {
				plain_param(rb, field, found, how);
			} else { /* the whole table: any param may flow */
				const char *pn;
				json_object_foreach(rb->params, pn, t)
					plain_param(rb, pn, found, how);
				break;
			}
		}
	}
	json_decref(seen);
}

/* scan_call - the arguments of one call ALIAS.FN{...} or ALIAS.FN({...})
 * starting at open: for every KEY = <expression> directly in the argument
 * table whose KEY is a secret parameter of f, the plain params the
 * expression mentions (params.NAME, or through identifiers whose assigned
 * values mention them, see follow_idents) go into found (NAME ->
 * "plugin.function KEY"). */
static void scan_call(runbook *rb, const char *src, const char *open, const char *pname,
		      const pgm_function *f, json_t *found)
{
	int depth = 0, argdepth = *open == '{' ? 1 : 2;
	for (const char *p = open; *p; p++) {
		const char *e = skip_text(p);
		if (!e)
			return;
		if (e != p) {
			p = e;
			continue;
		}
		if (*p == '{' || *p == '(' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ')' || *p == ']') {
			if (--depth <= 0)
				return;
		}
		if (depth != argdepth || !word_start(src, p))
			continue;
		for (const pgm_param *q = f->params; q && q->name; q++) {
			const char *rhs;
			if (!q->secret || !(rhs = assigned_at(p, q->name, strlen(q->name))))
				continue;
			char how[256];
			snprintf(how, sizeof(how), "%s.%s %s", pname, f->name, q->name);
			json_t *idents = json_object();
			int bare = 0; /* KEY = params: not a string, the call fails */
			expr_refs(rb, src, rhs, 0, found, how, idents, &bare);
			follow_idents(rb, src, idents, found, how);
			json_decref(idents);
			break;
		}
		while (ident_char(p[1]))
			p++;
	}
}

/* secret_by_use - the runbook params that are not declared secret but that
 * the runbook's source hands to a secret plugin parameter, written
 * ALIAS.FN { KEY = <expression> } whose expression mentions
 * <x>.params.NAME (or params["NAME"]), directly or through the values
 * assigned to the identifiers it names (scan_call), with ALIAS bound
 * by local ALIAS = plugin "PLUGIN" and KEY a parameter that PLUGIN.FN
 * declares secret: an object NAME -> "PLUGIN.FN KEY". New reference
 * (empty when none). */
static json_t *secret_by_use(runbook *rb)
{
	json_t *found = json_object();
	FILE *f = fopen(rb->path, "re");
	char *src = NULL, err[1024];
	size_t cap = 0;
	ssize_t len = f ? getdelim(&src, &cap, '\0', f) : -1;
	if (f)
		fclose(f);
	for (ssize_t i = 0; len > 0 && i < len; i++) {
		/* local ALIAS = plugin "NAME" | plugin("NAME") */
		const char *p = src + i;
		if (strncmp(p, "local", 5) != 0 || (i > 0 && ident_char(p[-1])) || ident_char(p[5]))
			continue;
		const char *alias = skip_blank(p + 5), *q = alias;
		while (ident_char(*q))
			q++;
		size_t alen = (size_t)(q - alias);
		q = skip_blank(q);
		if (!alen || alen > 64 || *q != '=')
			continue;
		q = skip_blank(q + 1);
		if (strncmp(q, "plugin", 6) != 0 || ident_char(q[6]))
			continue;
		q = skip_blank(q + 6);
		if (*q == '(')
			q = skip_blank(q + 1);
		if (*q != '"' && *q != '\'')
			continue;
		const char *pn = q + 1, *pe = strchr(pn, *q);
		if (!pe || pe - pn > 64)
			continue;
		char pname[72], aname[72];
		snprintf(pname, sizeof(pname), "%.*s", (int)(pe - pn), pn);
		snprintf(aname, sizeof(aname), "%.*s", (int)alen, alias);
		const pgm_plugin *pl = loader_get(pname, err, sizeof(err));
		if (!pl)
			continue;
		/* every call ALIAS.FN { ... } / ALIAS.FN({ ... }) */
		for (const char *c = strstr(src, aname); c; c = strstr(c + 1, aname)) {
			if ((c > src && (ident_char(c[-1]) || c[-1] == '.')) || c[alen] != '.')
				continue;
			const char *fn = c + alen + 1, *fe = fn;
			while (ident_char(*fe))
				fe++;
			char fname[72];
			if (fe == fn || fe - fn > 64)
				continue;
			snprintf(fname, sizeof(fname), "%.*s", (int)(fe - fn), fn);
			const pgm_function *fun = loader_function(pl, fname);
			const char *open = skip_blank(fe);
			if (!fun || (*open != '{' && *open != '('))
				continue;
			scan_call(rb, src, open, pname, fun, found);
		}
	}
	free(src);
	return found;
}

/* hide_secret_by_use - takes the params that are secret by use out of the
 * public params (pub, may be NULL) and registers their values as secrets;
 * on resume (resuming), each must be given again (-p or its env variable):
 * it was never journaled, and its default must not stand in for it
 * silently. 0, or -1 after logging. */
static int hide_secret_by_use(engine *e, json_t *pub, int resuming)
{
	json_t *use = secret_by_use(e->rb), *how;
	const char *name;
	int rc = 0;
	json_object_foreach(use, name, how)
	{
		json_t *v = json_object_get(e->params, name);
		json_t *dflt = json_object_get(json_object_get(e->rb->params, name), "default");
		/* nothing to hide in no value, an empty one, or the runbook's default */
		if (!resuming && (!v || json_is_null(v) || (dflt && json_equal(v, dflt)) ||
				  (json_is_string(v) && !*json_string_value(v))))
			continue;
		if (json_is_string(v))
			pgm_secret_add(json_string_value(v));
		if (pub)
			json_object_del(pub, name);
		const char *env = json_string_value(
			json_object_get(json_object_get(e->rb->params, name), "env"));
		if (resuming && !json_object_get(e->st->params, name) &&
		    !json_object_get(e->o->cli_params, name) && !(env && getenv(env))) {
			pgm_error("param %s is passed to secret parameter %s, so it was not journaled: "
				  "give it again with %s%s%s",
				  name, json_string_value(how), env ? "the environment variable " : "-p ",
				  env ? env : name, env ? "" : "=...");
			rc = -1;
		} else if (!resuming) {
			pgm_warn("param %s is passed to secret parameter %s: it is treated as secret "
				 "(not journaled; give it again on resume); declare it secret = true",
				 name, json_string_value(how));
		}
	}
	json_decref(e->by_use);
	e->by_use = use; /* mark_secret_args lets these through */
	return rc;
}

/* journal_cli_approvals - journals every --approve at once, before the run
 * reaches it, so an interruption cannot lose an approval the operator gave
 * (resume then finds it in the journal). 0 or an exit code. */
static int journal_cli_approvals(engine *e)
{
	size_t k;
	json_t *a;
	json_array_foreach(e->o->approvals, k, a)
	{
		const char *name = json_string_value(a);
		node_state *n = name ? state_node(e->st, name) : NULL;
		if (!n || n->status == NODE_APPROVED)
			continue;
		if (!approver_ok(e->rb, name, e->o->user))
			return PGMOVE_EXIT_USAGE;
		EMIT(e, json_pack("{s:s, s:s, s:s?, s:s}", "ev", "approve.given", "node", name, "by",
				  e->o->user, "via", "command line"));
		pgm_info("approval %s given on the command line by %s", name,
			 e->o->user ? e->o->user : "?");
	}
	return 0;
}

static int open_journal(engine *e, const char *dir)
{
	char err[1024];
	int torn = 0, busy = 0;
	e->j = journal_open_run(dir, &torn, &busy, err, sizeof(err));
	if (!e->j) {
		pgm_error("%s", err);
		return busy ? PGMOVE_EXIT_BUSY : PGMOVE_EXIT_INTERNAL;
	}
	if (torn)
		pgm_warn("%s/journal.jsonl ended with a torn line (a crash while writing); it was "
			 "moved aside and ignored",
			 dir);
	return 0;
}

#define UNBORN_PREFIX ".new-" /* a run being created: STATE/RUNBOOK/.new-ID.PID */
#define UNBORN_AGE_S 60       /* an unborn directory older than this and unlocked is stale */

/* remove_run_files - removes dir and the regular files in it (a run
 * directory that never became a run). 0, or -1 with errno set. */
static int remove_run_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
			int err = errno;
			closedir(d);
			errno = err;
			return -1;
		}
	}
	closedir(d);
	return rmdir(dir);
}

/* sweep_unborn - removes the run directories of rbdir that a process
 * killed while creating a run left behind (named .new-*, unlocked, older
 * than a minute), saying so. */
static void sweep_unborn(const char *rbdir)
{
	DIR *d = opendir(rbdir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char dir[PATH_MAX];
		struct stat sb;
		if (strncmp(de->d_name, UNBORN_PREFIX, strlen(UNBORN_PREFIX)) != 0)
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s", rbdir, de->d_name) >= (int)sizeof(dir))
			continue;
		if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
		    time(NULL) - sb.st_mtime < UNBORN_AGE_S || journal_lock_holder(dir) != 0)
			continue;
		if (remove_run_files(dir) == 0)
			pgm_notice("removed %s: a run whose creation was interrupted (it never started)",
				   dir);
		else
			pgm_warn("cannot remove %s (a run whose creation was interrupted): %s", dir,
				 strerror(errno));
	}
	closedir(d);
}

/* create_run - creates the run directory atomically: the journal is
 * created, locked and given its fsync'd run.start under a temporary name
 * (RUNBOOK/.new-ID.PID), which is then renamed to RUNBOOK/ID. A kill at
 * any point leaves either no run or a complete one. 0 or an exit code. */
static int create_run(engine *e, const char *run_id)
{
	char final[PATH_MAX], rbdir[PATH_MAX];
	struct stat sb;
	engine_run_dir(e->o->state_dir, e->rb->name, run_id, final, sizeof(final));
	snprintf(rbdir, sizeof(rbdir), "%s/%s", e->o->state_dir, e->rb->name);
	if (stat(final, &sb) == 0) {
		char jpath[PATH_MAX + 16];
		snprintf(jpath, sizeof(jpath), "%s/journal.jsonl", final);
		if (stat(jpath, &sb) != 0 || sb.st_size == 0)
			pgm_error("%s exists but holds no run (its creation was interrupted by an "
				  "older pgmove): remove it, or choose another --run-id",
				  final);
		else
			pgm_error("run %s already exists in %s: continue it with pgmove resume %s",
				  run_id, final, run_id);
		return PGMOVE_EXIT_USAGE;
	}
	sweep_unborn(rbdir);
	if (snprintf(e->dir, sizeof(e->dir), "%s/" UNBORN_PREFIX "%s.%ld", rbdir, run_id,
		     (long)getpid()) >= (int)sizeof(e->dir)) {
		pgm_error("run directory %s: path too long", final);
		return PGMOVE_EXIT_USAGE;
	}
	int rc = open_journal(e, e->dir);
	if (rc)
		return rc;
	e->st = state_new();
	json_t *pub = params_public(e->rb->params, e->params);
	hide_secret_by_use(e, pub, 0);
	json_t *start = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:O}", "ev",
				  "run.start", "run", run_id, "runbook", e->rb->name, "file",
				  e->rb->path, "hash", e->rb->hash, "pgmove", VERSION, "by",
				  e->o->user, "params", pub, "plan", e->rb->plan);
	/* what ran is part of the record: every plugin the runbook loaded */
	json_object_set_new(start, "plugins", loader_identities());
	if (emit(e, start) != 0) {
		remove_run_files(e->dir);
		return PGMOVE_EXIT_INTERNAL;
	}
	if (journal_move(e->j, final) != 0) {
		int err = errno;
		remove_run_files(e->dir);
		if (err == EEXIST || err == ENOTEMPTY) {
			pgm_error("run %s already exists in %s: continue it with pgmove resume %s",
				  run_id, final, run_id);
			return PGMOVE_EXIT_USAGE;
		}
		pgm_error("cannot create run directory %s: %s", final, strerror(err));
		return PGMOVE_EXIT_INTERNAL;
	}
	snprintf(e->dir, sizeof(e->dir), "%s", final);
	return 0;
}

static int configure_plugins(engine *e, const char *run_id);

int engine_run(const char *path, const engine_opts *o)
{
	engine *e = calloc(1, sizeof(*e));
	char err[4096], run_id[128];
	int rc;
	e->o = o;
	e->rb = runbook_load_with(path, o->cli_params, NULL, err, sizeof(err));
	if (!e->rb) {
		pgm_error("%s", err);
		engine_free(e);
		return PGMOVE_EXIT_RUNBOOK;
	}
	warn_cli_secrets(e->rb, o->cli_params);
	e->params = params_resolve(e->rb->params, o->cli_params, NULL, err, sizeof(err));
	if (!e->params) {
		pgm_error("runbook %s: %s", e->rb->name, err);
		engine_free(e);
		return PGMOVE_EXIT_USAGE;
	}
	if (check_approvals(e->rb, o->approvals) != 0) {
		engine_free(e);
		return PGMOVE_EXIT_USAGE;
	}
	for (size_t k = 0; k < json_array_size(o->approvals); k++)
		if (!approver_ok(e->rb, json_string_value(json_array_get(o->approvals, k)), o->user)) {
			engine_free(e);
			return PGMOVE_EXIT_USAGE;
		}
	if (o->run_id)
		snprintf(run_id, sizeof(run_id), "%s", o->run_id);
	else
		engine_new_run_id(run_id, sizeof(run_id));
	rc = configure_plugins(e, run_id);
	if (rc) {
		engine_free(e);
		return rc;
	}
	rc = create_run(e, run_id);
	if (rc) {
		engine_free(e);
		return rc;
	}
	pgm_notice("run %s of runbook %s started; journal %s/journal.jsonl", run_id, e->rb->name,
		   e->dir);
	rc = journal_cli_approvals(e);
	if (rc) {
		engine_free(e);
		return rc;
	}
	prepare(e);
	rc = execute(e);
	engine_free(e);
	return rc;
}

/* plugin_changes - the plugins loaded now that differ from those the run
 * journaled (was), by name: [{name, old_version, new_version, old_sha256,
 * new_sha256, path}] (old_* null for a plugin the run did not load). New
 * reference. */
static json_t *plugin_changes(const json_t *was, const json_t *now)
{
	json_t *changes = json_array();
	size_t i, k;
	json_t *n, *w;
	json_array_foreach(now, i, n)
	{
		const char *name = json_string_value(json_object_get(n, "name"));
		json_t *old = NULL;
		json_array_foreach(was, k, w)
		if (name && json_equal(json_object_get(w, "name"), json_object_get(n, "name")))
			old = w;
		if (old && json_equal(json_object_get(old, "sha256"), json_object_get(n, "sha256")))
			continue;
		json_array_append_new(changes,
				      json_pack("{s:s?, s:O?, s:O?, s:O?, s:O?, s:O?}", "name", name,
						"old_version", json_object_get(old, "version"),
						"new_version", json_object_get(n, "version"),
						"old_sha256", json_object_get(old, "sha256"),
						"new_sha256", json_object_get(n, "sha256"), "path",
						json_object_get(n, "path")));
	}
	return changes;
}

/* check_plugins - compares the plugins the runbook loaded now with those
 * the run journaled at start, like the runbook's hash: a change is refused
 * unless the operator accepts it, and then journaled as a deviation. 0 or
 * an exit code. */
static int check_plugins(engine *e)
{
	if (!e->st->plugins) {
		pgm_notice("run %s journaled no plugin identities (started by an older pgmove): "
			   "the plugins are not compared",
			   e->st->run_id);
		return 0;
	}
	json_t *now = loader_identities();
	json_t *changes = plugin_changes(e->st->plugins, now);
	if (!json_array_size(changes)) {
		json_decref(now);
		json_decref(changes);
		return 0;
	}
	char list[2048] = "";
	size_t used = 0, i;
	json_t *c;
	json_array_foreach(changes, i, c)
	if (used < sizeof(list))
		used += (size_t)snprintf(
			list + used, sizeof(list) - used, "%s%s %s (sha256 %.12s) -> %s (sha256 %.12s)",
			used ? "; " : "", json_string_value(json_object_get(c, "name")),
			json_string_value(json_object_get(c, "old_version"))
				? json_string_value(json_object_get(c, "old_version"))
				: "(not loaded)",
			json_string_value(json_object_get(c, "old_sha256"))
				? json_string_value(json_object_get(c, "old_sha256"))
				: "-",
			json_string_value(json_object_get(c, "new_version")),
			json_string_value(json_object_get(c, "new_sha256")));
	int rc = 0;
	if (!e->o->accept_changed_plugins) {
		pgm_error("plugins changed since run %s started: %s; review the change, then resume "
			  "with --accept-changed-plugins (it is recorded as a deviation)",
			  e->st->run_id, list);
		rc = PGMOVE_EXIT_RUNBOOK;
	} else if (emit(e, json_pack("{s:s, s:s, s:O, s:s?, s:O}", "ev", "run.deviation", "what",
				     "plugins changed", "changes", changes, "by", e->o->user,
				     "plugins", now)) != 0) {
		rc = PGMOVE_EXIT_INTERNAL;
	} else {
		pgm_warn("plugins changed since the run started (%s); accepted by %s and recorded as "
			 "a deviation",
			 list, e->o->user ? e->o->user : "?");
	}
	json_decref(now);
	json_decref(changes);
	return rc;
}

/* config_leaks_param - whether a secret key of plugin p's configuration
 * (cfg) holds the value of a param that is not secret (a conninfo's
 * password aside; its default is in the runbook itself): that value would
 * be journaled with the run's params, so the run is refused before
 * anything is journaled, naming the param and the key. */
static int config_leaks_param(engine *e, const pgm_plugin *p, json_t *cfg, char *msg,
			      size_t msglen)
{
	const json_t *params = e->params ? e->params : e->st ? e->st->params : NULL;
	for (const pgm_param *q = p->config; q && q->name; q++) {
		json_t *v = json_object_get(cfg, q->name);
		const char *name;
		json_t *pv;
		if (!q->secret || !json_is_string(v) || !*json_string_value(v))
			continue;
		json_object_foreach((json_t *)params, name, pv)
		{
			json_t *spec = json_object_get(e->rb->params, name);
			const char *type = json_string_value(json_object_get(spec, "type"));
			json_t *dflt = json_object_get(spec, "default");
			if (!json_is_string(pv) || !*json_string_value(pv) ||
			    strcmp(json_string_value(pv), "********") == 0 ||
			    !holds_value(q, json_string_value(v), json_string_value(pv)) ||
			    json_is_true(json_object_get(spec, "secret")) ||
			    (type && strcmp(type, "conninfo") == 0) || (dflt && json_equal(dflt, pv)))
				continue;
			snprintf(msg, msglen,
				 "param %s reaches secret key %s of plugin %s's configuration but is "
				 "not declared secret: declare it secret = true in the runbook's "
				 "params (nothing was journaled)",
				 name, q->name, p->name);
			return 1;
		}
	}
	return 0;
}

/* configure_plugins - gives each plugin the runbook configures its
 * configuration (plugin "name" { ... }), once per process, before any node
 * runs. 0, or PGMOVE_EXIT_RUNBOOK after logging why. */
static int configure_plugins(engine *e, const char *run_id)
{
	char err[2048];
	json_t *all = runbook_plugin_config(e->rb, err, sizeof(err));
	if (!all) {
		pgm_error("runbook %s: %s", e->rb->name, err);
		return PGMOVE_EXIT_RUNBOOK;
	}
	const char *name;
	json_t *cfg;
	int rc = 0;
	json_object_foreach(all, name, cfg)
	{
		const pgm_plugin *p = loader_get(name, err, sizeof(err));
		if (!p || !p->configure) {
			if (p)
				pgm_error("plugin %s takes no configuration", name);
			else
				pgm_error("%s", err);
			rc = PGMOVE_EXIT_RUNBOOK;
			break;
		}
		if (loader_check_config(p, cfg, 1, err, sizeof(err)) != 0) {
			pgm_error("%s", err);
			rc = PGMOVE_EXIT_RUNBOOK;
			break;
		}
		if (config_leaks_param(e, p, cfg, err, sizeof(err))) {
			pgm_error("%s", err);
			rc = PGMOVE_EXIT_RUNBOOK;
			break;
		}
		pgm_call *c = pgm_call_new(name, "configure");
		pgm_call_set_run(c, run_id, NULL, 0);
		pgm_call_set_deadline_ms(c, pgm_now_ms() + 60 * 1000);
		pgm_log_set_context(pgm_call_name(c));
		int ok = p->configure(c, cfg);
		pgm_log_set_context(NULL);
		if (ok != 0) {
			pgm_error("plugin %s: its configuration was refused: %s: %s", name,
				  pgm_error_code(c) ? pgm_error_code(c) : "plugin.error",
				  pgm_error_message(c) ? pgm_error_message(c)
						       : "configure failed without saying why");
			rc = PGMOVE_EXIT_RUNBOOK;
		}
		pgm_call_free(c);
		if (rc)
			break;
	}
	json_decref(all);
	return rc;
}

/* reopen - what resume and rollback share: lock, replay, runbook (checked
 * against the journaled hash), plugins (against the journaled identities),
 * params. 0 or an exit code. */
static int reopen(engine *e, const char *run_dir)
{
	char err[4096];
	int rc;
	snprintf(e->dir, sizeof(e->dir), "%s", run_dir);
	rc = open_journal(e, run_dir);
	if (rc)
		return rc;
	e->st = state_load_at(run_dir, NULL, err, sizeof(err));
	if (!e->st) {
		pgm_error("%s", err);
		return PGMOVE_EXIT_INTERNAL;
	}
	/* a completed run needs neither its runbook nor its params to be resumed */
	if (e->resuming && e->st->status == RUN_COMPLETED)
		return 0;
	const char *file = e->o->runbook ? e->o->runbook : e->st->file;
	e->rb = runbook_load_with(file, e->o->cli_params, e->st->params, err, sizeof(err));
	if (!e->rb) {
		pgm_error("%s", err);
		return PGMOVE_EXIT_RUNBOOK;
	}
	if (strcmp(e->rb->name, e->st->runbook) != 0) {
		pgm_error("%s declares runbook '%s', but run %s belongs to runbook '%s'", file,
			  e->rb->name, e->st->run_id, e->st->runbook);
		return PGMOVE_EXIT_RUNBOOK;
	}
	if (!e->st->hash || strcmp(e->rb->hash, e->st->hash) != 0) {
		if (!e->o->accept_changed) {
			pgm_error("runbook %s changed since run %s started (sha256 %.12s… now "
				  "%.12s…); review the change, then resume with "
				  "--accept-changed-runbook (it is recorded as a deviation)",
				  file, e->st->run_id, e->st->hash ? e->st->hash : "?", e->rb->hash);
			return PGMOVE_EXIT_RUNBOOK;
		}
		rc = emit(e, json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s?, s:O}", "ev", "run.deviation",
				       "what", "runbook changed", "old_hash", e->st->hash, "new_hash",
				       e->rb->hash, "file", e->rb->path, "by", e->o->user, "plan",
				       e->rb->plan));
		if (rc)
			return PGMOVE_EXIT_INTERNAL;
		pgm_warn("runbook %s changed since the run started; accepted by %s and recorded as "
			 "a deviation",
			 file, e->o->user ? e->o->user : "?");
	}
	rc = check_plugins(e);
	if (!rc)
		rc = configure_plugins(e, e->st->run_id);
	if (rc)
		return rc;
	warn_cli_secrets(e->rb, e->o->cli_params);
	/* a param masked by param.secret was not kept: it must be given again */
	json_t *prev = json_deep_copy(e->st->params), *masked = json_array(), *pv;
	const char *pn;
	void *tmp;
	json_object_foreach_safe(prev, tmp, pn, pv)
	{
		if (json_is_string(pv) && strcmp(json_string_value(pv), "********") == 0) {
			json_array_append_new(masked, json_string(pn));
			json_object_del(prev, pn);
		}
	}
	e->params = params_resolve(e->rb->params, e->o->cli_params, prev, err, sizeof(err));
	json_decref(prev);
	if (!e->params) {
		json_decref(masked);
		pgm_error("runbook %s: %s", e->rb->name, err);
		return PGMOVE_EXIT_USAGE;
	}
	size_t k;
	json_t *m;
	rc = 0;
	json_array_foreach(masked, k, m)
	{
		const char *name = json_string_value(m);
		const char *env = json_string_value(
			json_object_get(json_object_get(e->rb->params, name), "env"));
		json_t *v = json_object_get(e->params, name);
		if (json_is_string(v))
			pgm_secret_add(json_string_value(v));
		if (!json_object_get(e->o->cli_params, name) && !(env && getenv(env))) {
			pgm_error("param %s was passed to a secret plugin parameter, so it is masked "
				  "in the journal: give it again with %s%s%s",
				  name, env ? "the environment variable " : "-p ", env ? env : name,
				  env ? "" : "=...");
			rc = PGMOVE_EXIT_USAGE;
		}
	}
	json_decref(masked);
	if (rc)
		return rc;
	if (hide_secret_by_use(e, NULL, 1) != 0)
		return PGMOVE_EXIT_USAGE;
	if (check_approvals(e->rb, e->o->approvals) != 0)
		return PGMOVE_EXIT_USAGE;
	return 0;
}

/* crashed_nodes - on resume, looks for a node the previous process left
 * running. A step is run again only if idempotent (declared, or all the
 * plugin functions it had called are); otherwise the operator decides. */
static int crashed_nodes(engine *e)
{
	for (int i = 0; i < e->st->nnodes; i++) {
		node_state *n = &e->st->nodes[i];
		if (strcmp(n->kind, "step") != 0 ||
		    (n->status != NODE_RUNNING && n->status != NODE_INTERRUPTED))
			continue;
		json_t *idem = json_object_get(plan_node(e, i), "idempotent");
		int idempotent = json_is_boolean(idem) ? json_is_true(idem) : !n->nonidem_call;
		const char *why = json_is_boolean(idem) ? "declared"
				  : n->nonidem_call    ? "it called a non-idempotent function"
						       : "every function it called is idempotent";
		const char *code = json_string_value(json_object_get(n->error, "code"));
		if (code && strcmp(code, "plugin.crashed") == 0)
			pgm_warn("step %s: %s", n->name,
				 json_string_value(json_object_get(n->error, "message")));
		EMIT(e, json_pack("{s:s, s:s, s:i, s:b, s:s}", "ev", "step.crashed", "node", n->name,
				  "attempt", n->attempts, "idempotent", idempotent, "why", why));
		if (idempotent) {
			pgm_notice("step %s was running when pgmove stopped; it is idempotent (%s) "
				   "and runs again",
				   n->name, why);
			continue;
		}
		char reason[1024];
		snprintf(reason, sizeof(reason),
			 "step %s was running when pgmove stopped and is not idempotent (%s): "
			 "decide with pgmove resolve %s %s --succeeded|--failed|--retry",
			 n->name, why, e->st->run_id, n->name);
		EMIT(e, json_pack("{s:s, s:s, s:s}", "ev", "run.paused", "node", n->name, "reason",
				  reason));
		pgm_error("%s", reason);
		return PGMOVE_EXIT_PAUSED;
	}
	return 0;
}

int engine_resume(const char *run_dir, const engine_opts *o)
{
	engine *e = calloc(1, sizeof(*e));
	e->o = o;
	e->resuming = 1;
	int rc = reopen(e, run_dir);
	if (rc) {
		engine_free(e);
		return rc;
	}
	if (e->st->status == RUN_COMPLETED) {
		pgm_notice("run %s is already completed; nothing to do", e->st->run_id);
		engine_free(e);
		return PGMOVE_EXIT_COMPLETED;
	}
	run_status before = e->st->status;
	rc = emit(e, json_pack("{s:s, s:s?, s:s, s:s}", "ev", "run.resume", "by", o->user, "hash",
			       e->rb->hash, "from", state_run_status_name(before)));
	if (rc) {
		engine_free(e);
		return PGMOVE_EXIT_INTERNAL;
	}
	pgm_notice("resuming run %s of runbook %s (it was %s)", e->st->run_id, e->rb->name,
		   state_run_status_name(before));
	rc = journal_cli_approvals(e);
	if (rc) {
		engine_free(e);
		return rc;
	}
	prepare(e);
	if (e->st->in_rollback) {
		rc = do_rollback(e, "continuing an interrupted rollback");
		engine_free(e);
		return rc;
	}
	if (before == RUN_ROLLED_BACK) {
		if (emit(e, json_pack("{s:s, s:s}", "ev", "run.restart", "reason",
				      "resumed after a rollback: the runbook starts over")) != 0) {
			engine_free(e);
			return PGMOVE_EXIT_INTERNAL;
		}
		lua_State *L = e->rb->L;
		luaL_unref(L, LUA_REGISTRYINDEX, e->ctx_ref);
		build_ctx(e);
		pgm_notice("the run was rolled back: starting over from the first node");
	}
	rc = crashed_nodes(e);
	if (!rc)
		rc = execute(e);
	engine_free(e);
	return rc;
}

int engine_rollback(const char *run_dir, const engine_opts *o)
{
	engine *e = calloc(1, sizeof(*e));
	e->o = o;
	int rc = reopen(e, run_dir);
	if (rc) {
		engine_free(e);
		return rc;
	}
	if (e->st->status == RUN_ROLLED_BACK) {
		pgm_notice("run %s is already rolled back", e->st->run_id);
		engine_free(e);
		return PGMOVE_EXIT_ROLLED_BACK;
	}
	prepare(e);
	char reason[256];
	snprintf(reason, sizeof(reason), "requested by %s", o->user ? o->user : "the operator");
	rc = do_rollback(e, reason);
	engine_free(e);
	return rc;
}
