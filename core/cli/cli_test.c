/*
 * core/cli/cli_test.c - the test command: runs a runbook's test file with
 * mocked plugin functions and a virtual clock through the real engine
 * (core/engine/eclock.h is the seam), one forked process per run phase or
 * operator command (approve, deny, resolve), the journal in a temporary
 * directory, crashes injected at named points and resumed through
 * engine_resume; prints TAP and, with --junit FILE, JUnit XML.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "cli.h"
#include "eclock.h"
#include "engine.h"
#include "exitcodes.h"
#include "host.h"
#include "journal.h"
#include "luajson.h"
#include "state.h"

#define TEST_EPOCH_MS 1767225600000LL /* 2026-01-01T00:00:00Z: virtual runs start here */
#define EXIT_INJECTED_CRASH 86	      /* a child stopped by an injected crash */

/* crash_kind - where a test's crash is injected (see the crash key). */
enum crash_kind {
	CR_NONE,
	CR_AFTER_CALL,	/* after a step's plugin call returned          */
	CR_BEFORE_CALL, /* the call journaled (step.call), not yet made */
	CR_IN_WAIT,	/* after the nth poll of a wait was journaled   */
	CR_IN_GATE,	/* after the nth check of a gate was journaled  */
	CR_IN_ROLLBACK	/* after a step's undo made its plugin call     */
};

static const char *const crash_keys[] = {"",	    "after_call", "before_call",
					 "in_wait", "in_gate",	  "in_rollback"};

/* mock_ctx - the test being run: its Lua state with the test table at
 * test_ref, its temporary directory (calls.jsonl, unmocked.jsonl,
 * virtual_ms, state/), and the crash point, armed until it fired once. */
typedef struct mock_ctx {
	lua_State *L;
	int test_ref;
	char dir[PATH_MAX];
	enum crash_kind crash;
	char crash_node[256];
	long long crash_nth;
	int armed;	   /* this process may still crash             */
	long long seen;	   /* events counted toward crash_nth          */
	char undoing[256]; /* the step whose undo runs now, or ""      */
	json_t *counts;	   /* "plugin.fn" -> calls so far in the test   */
} mock_ctx;

/* test_result - one test's outcome, for TAP and JUnit. */
typedef struct test_result {
	char name[256];
	char why[2048]; /* "" when it passed */
	double seconds;
	long long virtual_ms;
	int exit;
} test_result;

/* append_line - appends v (borrowed) as one JSON line to dir/name. */
static void append_line(const char *dir, const char *name, const json_t *v)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "a");
	if (!f)
		return;
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (s)
		fprintf(f, "%s\n", s);
	free(s);
	fclose(f);
}

/* read_lines - path's JSON lines as an array (new reference). */
static json_t *read_lines(const char *path)
{
	json_t *a = json_array();
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	while (f && getline(&line, &cap, f) > 0) {
		json_t *v = json_loads(line, 0, NULL);
		if (v)
			json_array_append_new(a, v);
	}
	free(line);
	if (f)
		fclose(f);
	return a;
}

/* write_ms - records the virtual time spent in dir/virtual_ms. */
static void write_ms(const char *dir)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/virtual_ms", dir);
	FILE *fp = fopen(path, "w");
	if (fp) {
		fprintf(fp, "%lld\n", eclock_virtual_elapsed());
		fclose(fp);
	}
}

static long long read_ms(const char *dir)
{
	char path[PATH_MAX + 32];
	long long v = 0;
	snprintf(path, sizeof(path), "%s/virtual_ms", dir);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* crash_now - the injected crash: the process dies as a kill -9 would
 * leave it (the journal holds what was written), after saving the
 * virtual time for the resumed process. */
static void crash_now(mock_ctx *m)
{
	write_ms(m->dir);
	fflush(NULL);
	_exit(EXIT_INJECTED_CRASH);
}

/* crash_hook - the journal hook: tracks the undo running and injects the
 * crashes placed on journal events (before a call, in a wait, in a gate). */
static void crash_hook(void *user, const json_t *ev)
{
	mock_ctx *m = user;
	const char *k = json_string_value(json_object_get(ev, "ev"));
	const char *node = json_string_value(json_object_get(ev, "node"));
	if (!k)
		return;
	if (strcmp(k, "undo.start") == 0 && node)
		snprintf(m->undoing, sizeof(m->undoing), "%s", node);
	else if (strcmp(k, "undo.succeeded") == 0 || strcmp(k, "undo.failed") == 0)
		m->undoing[0] = 0;
	if (!m->armed || !node || strcmp(node, m->crash_node) != 0)
		return;
	if ((m->crash == CR_BEFORE_CALL && strcmp(k, "step.call") == 0 && !m->undoing[0]) ||
	    (m->crash == CR_IN_WAIT && strcmp(k, "wait.poll") == 0 && ++m->seen == m->crash_nth) ||
	    (m->crash == CR_IN_GATE && strcmp(k, "gate.check") == 0 && ++m->seen == m->crash_nth))
		crash_now(m);
}

/* mock_error - fails call from an error table at the top of the stack. */
static json_t *mock_error(lua_State *L, pgm_call *call, const char *full)
{
	lua_getfield(L, -1, "code");
	const char *code = lua_tostring(L, -1);
	lua_getfield(L, -2, "retryable");
	int retry = lua_toboolean(L, -1);
	lua_getfield(L, -3, "message");
	const char *msg = lua_tostring(L, -1);
	pgm_fail(call, code ? code : "test.mock_error", retry, "%s", msg ? msg : full);
	lua_pop(L, 3);
	return NULL;
}

/* mock_result - turns the mock value at the top of the stack (a table
 * with result, error or sequence, or a function of the arguments, the
 * virtual time, the call's number and the node) into the call's result.
 * Pops it. */
static json_t *mock_result(mock_ctx *m, pgm_call *call, const char *full, const json_t *args, int n)
{
	lua_State *L = m->L;
	char err[256];
	if (lua_isfunction(L, -1)) {
		luajson_push(L, args);
		lua_pushinteger(L, eclock_virtual_elapsed());
		lua_pushinteger(L, n);
		lua_pushstring(L, pgm_call_step(call)); /* the node calling, or nil */
		if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
			pgm_fail(call, "test.mock_error", 0, "mock %s: %s", full,
				 lua_tostring(L, -1));
			lua_pop(L, 1);
			return NULL;
		}
		if (lua_istable(L, -1)) {
			lua_getfield(L, -1, "error");
			if (lua_istable(L, -1)) {
				json_t *r = mock_error(L, call, full);
				lua_pop(L, 2);
				return r;
			}
			lua_pop(L, 1);
		}
		json_t *r =
			lua_isnil(L, -1) ? json_null() : luajson_to(L, -1, full, err, sizeof(err));
		lua_pop(L, 1);
		return r ? r : pgm_fail(call, "test.mock_error", 0, "mock %s: %s", full, err);
	}
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return pgm_fail(call, "test.mock_error", 0, "mock %s: not a table or function",
				full);
	}
	lua_getfield(L, -1, "sequence");
	if (lua_istable(L, -1)) {
		lua_Integer len = luaL_len(L, -1);
		lua_geti(L, -1, n <= len ? n : len); /* the last one repeats */
		lua_remove(L, -2);
		lua_remove(L, -2);
		return mock_result(m, call, full, args, n);
	}
	lua_pop(L, 1);
	lua_getfield(L, -1, "error");
	if (lua_istable(L, -1)) {
		json_t *r = mock_error(L, call, full);
		lua_pop(L, 2);
		return r;
	}
	lua_pop(L, 1);
	lua_getfield(L, -1, "result");
	json_t *r = lua_isnil(L, -1) ? json_object() : luajson_to(L, -1, full, err, sizeof(err));
	lua_pop(L, 2);
	return r ? r : pgm_fail(call, "test.mock_error", 0, "mock %s: %s", full, err);
}

/* mock_dispatch - the engine's plugin call under test: records the call,
 * answers from the test's mocks, fails an unmocked call naming it, and
 * stops the process after a call of the crash point's step (or undo). */
static json_t *mock_dispatch(void *user, const char *pname, const pgm_function *f, pgm_call *call,
			     json_t *args)
{
	mock_ctx *m = user;
	lua_State *L = m->L;
	char full[256];
	snprintf(full, sizeof(full), "%s.%s", pname, f->name);
	int n = (int)json_integer_value(json_object_get(m->counts, full)) + 1;
	json_object_set_new(m->counts, full, json_integer(n));
	const char *node = pgm_call_step(call);
	/* shown: the arguments as messages may show them, secrets masked */
	json_t *shown = pgm_redact_json(args);
	json_t *rec = json_pack("{s:s, s:O, s:o?, s:I, s:s?, s:b}", "fn", full, "args", args,
				"shown", shown, "t", (json_int_t)eclock_virtual_elapsed(), "node",
				node, "undo", m->undoing[0] != 0);
	append_line(m->dir, "calls.jsonl", rec);
	json_decref(rec);

	lua_rawgeti(L, LUA_REGISTRYINDEX, m->test_ref);
	lua_getfield(L, -1, "mocks");
	if (lua_istable(L, -1))
		lua_getfield(L, -1, full);
	else
		lua_pushnil(L);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 3);
		json_t *red = pgm_redact_json(args);
		char *a = json_dumps(red ? red : args, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(red);
		json_t *u = json_pack("{s:s, s:s}", "fn", full, "args", a ? a : "?");
		append_line(m->dir, "unmocked.jsonl", u);
		json_decref(u);
		pgm_fail(call, "test.unmocked", 0, "no mock for %s(%s)", full, a ? a : "?");
		free(a);
		return NULL;
	}
	json_t *r = mock_result(m, call, full, args, n);
	lua_pop(L, 2);
	if (m->armed && node && strcmp(node, m->crash_node) == 0 &&
	    ((m->crash == CR_AFTER_CALL && !m->undoing[0]) ||
	     (m->crash == CR_IN_ROLLBACK && strcmp(m->undoing, node) == 0))) {
		json_decref(r);
		crash_now(m);
	}
	return r;
}

/* count_calls - "plugin.fn" -> calls made so far in the test, from
 * calls.jsonl, so a sequence goes on where it was after a crash (new ref). */
static json_t *count_calls(const char *dir)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/calls.jsonl", dir);
	json_t *calls = read_lines(path), *c, *counts = json_object();
	size_t i;
	json_array_foreach(calls, i, c)
	{
		const char *fn = json_string_value(json_object_get(c, "fn"));
		if (fn)
			json_object_set_new(
				counts, fn,
				json_integer(json_integer_value(json_object_get(counts, fn)) + 1));
	}
	json_decref(calls);
	return counts;
}

/* run_dir_of - the run's directory under dir/state into out ("" when no
 * run was created). */
static void run_dir_of(const char *dir, char *out, size_t len)
{
	char sdir[PATH_MAX + 16];
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	DIR *d = opendir(sdir);
	struct dirent *de;
	out[0] = 0;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(out, len, "%s/%s/test", sdir, de->d_name);
	if (d)
		closedir(d);
}

enum phase { PH_RUN, PH_RESUME, PH_ROLLBACK, PH_APPROVE, PH_DENY, PH_RESOLVE, PH_ADVANCE };

static const char *const phase_names[] = {"run",  "resume",  "rollback", "approve",
					  "deny", "resolve", "advance"};

/* op - one action of a test: an engine phase, an operator command on
 * node with decision (resolve), by and comment, or time passing (advance:
 * node holds the duration, ms its value). */
typedef struct op {
	enum phase ph;
	const char *node, *decision, *by, *comment;
	int want_exit; /* -1: not asserted */
	long long ms;
} op;

/* run_op - the operator command of o (approve, deny, resolve) through
 * the same functions as pgmove approve / resolve; its exit code. */
static int run_op(const char *rdir, const char *sdir, const op *o)
{
	cli_args a;
	a.opts = json_object();
	a.pos = json_pack("[s, s]", rdir, o->node);
	a.state_dir = sdir;
	a.user = o->by ? o->by : "pgmove-test";
	if (o->comment)
		json_object_set_new(a.opts, "comment", json_string(o->comment));
	int rc;
	if (o->ph == PH_RESOLVE) {
		json_object_set_new(a.opts, o->decision ? o->decision : "", json_true());
		rc = pgmove_cmd_resolve(&a);
	} else {
		if (o->ph == PH_DENY)
			json_object_set_new(a.opts, "deny", json_true());
		rc = pgmove_cmd_approve(&a);
	}
	json_decref(a.opts);
	json_decref(a.pos);
	return rc;
}

/* run_phase - runs one engine command or operator command in a child,
 * with the virtual clock at the time already spent; returns its exit
 * code (EXIT_INJECTED_CRASH after an injected crash, -1 when the child
 * died). */
static int run_phase(mock_ctx *m, const op *o, const char *rb, engine_opts *eo)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		pgm_error("test: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char sdir[PATH_MAX + 16], rdir[PATH_MAX * 2];
		snprintf(sdir, sizeof(sdir), "%s/state", m->dir);
		run_dir_of(m->dir, rdir, sizeof(rdir));
		eo->state_dir = sdir;
		if (o->by)
			eo->user = o->by;
		m->counts = count_calls(m->dir);
		eclock_set_virtual(TEST_EPOCH_MS, read_ms(m->dir));
		eclock_set_dispatch(mock_dispatch, m);
		eclock_set_journal_hook(crash_hook, m);
		journal_set_fsync(0);
		int rc;
		if (o->ph != PH_RUN && !rdir[0]) {
			pgm_error("test: %s: there is no run to act on (the run was not created)",
				  phase_names[o->ph]);
			rc = PGMOVE_EXIT_USAGE;
		} else if (o->ph == PH_RUN)
			rc = engine_run(rb, eo);
		else if (o->ph == PH_RESUME)
			rc = engine_resume(rdir, eo);
		else if (o->ph == PH_ROLLBACK)
			rc = engine_rollback(rdir, eo);
		else {
			/* the command's message goes to the test's reason (last_error) */
			char epath[PATH_MAX + 32];
			snprintf(epath, sizeof(epath), "%s/op.err", m->dir);
			FILE *ef = fopen(epath, "w");
			if (ef) {
				fflush(stderr);
				dup2(fileno(ef), 2);
				fclose(ef);
			}
			rc = run_op(rdir, sdir, o);
		}
		write_ms(m->dir);
		fflush(NULL);
		_exit(rc);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		pgm_error("test: the engine died of signal %d", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* last_error - the last line of dir/op.err (an operator command's
 * message) into out, without its time stamp; "" when none. */
static void last_error(const char *dir, char *out, size_t len)
{
	char path[PATH_MAX + 32], *line = NULL;
	size_t cap = 0;
	snprintf(path, sizeof(path), "%s/op.err", dir);
	FILE *f = fopen(path, "r");
	out[0] = 0;
	while (f && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		const char *m = strstr(line, " ERROR ");
		if (m)
			snprintf(out, len, "%s", m + 7);
	}
	free(line);
	if (f)
		fclose(f);
}

/* names_of - the values of field of the events of kind ev, in order (new
 * reference). */
static json_t *names_of(const json_t *events, const char *ev, const char *field)
{
	json_t *a = json_array(), *e;
	size_t i;
	json_array_foreach(events, i, e)
	{
		const char *k = json_string_value(json_object_get(e, "ev"));
		json_t *node = json_object_get(e, field);
		if (k && strcmp(k, ev) == 0 && json_is_string(node))
			json_array_append(a, node);
	}
	return a;
}

/* gate_results - {gate: {ok, checks: {check: ok}}} from the journal: each
 * gate's last result and the checks of its last evaluation (new ref). */
static json_t *gate_results(const json_t *events)
{
	json_t *g = json_object(), *e;
	size_t i;
	json_array_foreach(events, i, e)
	{
		const char *k = json_string_value(json_object_get(e, "ev"));
		const char *node = json_string_value(json_object_get(e, "node"));
		if (!k || !node)
			continue;
		if (strcmp(k, "gate.start") == 0) {
			json_object_set_new(g, node, json_pack("{s:o}", "checks", json_object()));
		} else if (strcmp(k, "gate.check") == 0 && json_object_get(g, node)) {
			const char *c = json_string_value(json_object_get(e, "check"));
			if (c)
				json_object_set(json_object_get(json_object_get(g, node), "checks"),
						c, json_object_get(e, "ok"));
		} else if (strcmp(k, "gate.result") == 0 && json_object_get(g, node)) {
			json_object_set(json_object_get(g, node), "ok", json_object_get(e, "ok"));
		}
	}
	return g;
}

/* str_list - the strings of the table field name of the table at idx, as a
 * JSON array, or NULL when absent. */
static json_t *str_list(lua_State *L, int idx, const char *name)
{
	lua_getfield(L, idx, name);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return NULL;
	}
	json_t *a = json_array();
	lua_Integer len = luaL_len(L, -1);
	for (lua_Integer i = 1; i <= len; i++) {
		lua_geti(L, -1, i);
		if (lua_isstring(L, -1))
			json_array_append_new(a, json_string(lua_tostring(L, -1)));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return a;
}

/* table_json - field name of the table at idx as JSON (new ref), NULL when
 * absent or not convertible (the reason in why). */
static json_t *table_json(lua_State *L, int idx, const char *name, char *why, size_t len)
{
	char err[256];
	lua_getfield(L, idx, name);
	json_t *v = NULL;
	if (!lua_isnil(L, -1)) {
		v = luajson_to(L, -1, name, err, sizeof(err));
		if (!v)
			snprintf(why, len, "expect.%s: %s", name, err);
	}
	lua_pop(L, 1);
	return v;
}

static int count_of(const json_t *calls, const char *fn)
{
	json_t *c;
	size_t i;
	int n = 0;
	json_array_foreach(calls, i, c)
	{
		const char *f = json_string_value(json_object_get(c, "fn"));
		if (f && strcmp(f, fn) == 0)
			n++;
	}
	return n;
}

/* json_subset - whether want is part of got: objects key by key (got may
 * have more), arrays element by element, numbers by value. */
static int json_subset(const json_t *want, const json_t *got)
{
	if (json_is_number(want) && json_is_number(got))
		return json_number_value(want) == json_number_value(got);
	if (json_is_object(want)) {
		const char *k;
		json_t *v;
		if (!json_is_object(got))
			return 0;
		json_object_foreach((json_t *)want, k,
				    v) if (!json_subset(v, json_object_get(got, k))) return 0;
		return 1;
	}
	if (json_is_array(want)) {
		if (!json_is_array(got) || json_array_size(want) != json_array_size(got))
			return 0;
		for (size_t i = 0; i < json_array_size(want); i++)
			if (!json_subset(json_array_get(want, i), json_array_get(got, i)))
				return 0;
		return 1;
	}
	return json_equal(want, got);
}

/* check_keys - whether every string key of the table at idx is one of
 * known; else the unknown one is named in why. */
static int check_keys(lua_State *L, int idx, const char *where, const char *const *known, char *why,
		      size_t len)
{
	int ok = 0;
	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (ok != 0 || lua_type(L, -1) != LUA_TSTRING)
			continue;
		const char *k = lua_tostring(L, -1);
		int found = 0;
		for (const char *const *p = known; *p; p++)
			if (strcmp(*p, k) == 0)
				found = 1;
		if (!found) {
			size_t n = (size_t)snprintf(why, len, "%s: unknown key '%s' (known:", where,
						    k);
			for (const char *const *p = known; *p && n < len; p++)
				n += (size_t)snprintf(why + n, len - n, " %s", *p);
			if (n < len)
				snprintf(why + n, len - n, ")");
			ok = -1;
		}
	}
	return ok;
}

/* differ - the message "what: expected W, got G" into why; returns -1. */
static int differ(const char *what, const json_t *want, const json_t *got, char *why, size_t len)
{
	char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	snprintf(why, len, "%s: expected %s, got %s", what, w ? w : "null", g ? g : "null");
	free(w);
	free(g);
	return -1;
}

/* outcome - what happened in a test, for its assertions. */
typedef struct outcome {
	int exit;
	long long vms;
	const char *status, *reason;
	json_t *calls, *events, *steps, *undone, *breakers, *gates, *nodes, *phases;
} outcome;

static const char *const expect_keys[] = {"exit",	 "status",	"steps",       "undone",
					  "called",	 "not_called",	"called_with", "call_count",
					  "gates",	 "checks",	"nodes",       "breakers",
					  "min_virtual", "max_virtual", NULL};

/* check_expect - the assertions of the expect table at x on r; 0, or -1
 * with the first one that failed in why. */
static int check_expect(lua_State *L, int x, const outcome *r, char *why, size_t len)
{
	if (check_keys(L, x, "expect", expect_keys, why, len) != 0)
		return -1;
	/* each key's Lua type: a list or table, or a string */
	static const char *const typed[] = {
		"steps", "undone", "breakers", "called", "not_called",	"called_with", "call_count",
		"gates", "checks", "nodes",    "status", "min_virtual", "max_virtual", NULL};
	for (int i = 0; typed[i]; i++) {
		int want = i < 10 ? LUA_TTABLE : LUA_TSTRING;
		int ty = lua_getfield(L, x, typed[i]);
		lua_pop(L, 1);
		if (ty != LUA_TNIL && ty != want) {
			snprintf(why, len, "expect.%s: must be a %s, not a %s", typed[i],
				 want == LUA_TTABLE ? "table" : "string", lua_typename(L, ty));
			return -1;
		}
	}
	lua_getfield(L, x, "exit");
	if (!lua_isnil(L, -1) && !lua_isinteger(L, -1)) {
		snprintf(why, len, "expect.exit: must be an integer (pgmove(1) EXIT STATUS)");
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	lua_getfield(L, x, "exit");
	int has_exit = !lua_isnil(L, -1);
	lua_Integer want_exit = lua_tointeger(L, -1);
	lua_pop(L, 1);
	if (has_exit && want_exit != r->exit) {
		snprintf(why, len, "exit: expected %lld, got %d (run %s%s%s)", (long long)want_exit,
			 r->exit, r->status, r->reason ? ": " : "", r->reason ? r->reason : "");
		return -1;
	}
	lua_getfield(L, x, "status");
	const char *ws = lua_tostring(L, -1);
	if (ws && strcmp(ws, r->status) != 0) {
		snprintf(why, len, "status: expected %s, got %s%s%s", ws, r->status,
			 r->reason ? ": " : "", r->reason ? r->reason : "");
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	static const char *const lists[] = {"steps", "undone", "breakers"};
	const json_t *got[] = {r->steps, r->undone, r->breakers};
	for (int i = 0; i < 3; i++) {
		json_t *want = str_list(L, x, lists[i]);
		int eq = !want || json_equal(want, got[i]);
		if (!eq)
			differ(lists[i], want, got[i], why, len);
		json_decref(want);
		if (!eq)
			return -1;
	}
	int ok = 0;
	json_t *l = str_list(L, x, "called"), *v;
	size_t i;
	json_array_foreach(l, i, v)
	{
		if (ok == 0 && count_of(r->calls, json_string_value(v)) == 0) {
			snprintf(why, len, "called: %s was never called", json_string_value(v));
			ok = -1;
		}
	}
	json_decref(l);
	l = ok == 0 ? str_list(L, x, "not_called") : NULL;
	json_array_foreach(l, i, v)
	{
		int n = count_of(r->calls, json_string_value(v));
		if (ok == 0 && n > 0) {
			snprintf(why, len, "not_called: %s was called (%d call%s)",
				 json_string_value(v), n, n == 1 ? "" : "s");
			ok = -1;
		}
	}
	json_decref(l);
	if (ok)
		return ok;

	/* call_count = { ["plugin.fn"] = n } */
	json_t *cc = table_json(L, x, "call_count", why, len);
	const char *k;
	json_object_foreach(cc, k, v)
	{
		int n = count_of(r->calls, k);
		if (ok == 0 && (!json_is_number(v) || json_number_value(v) != n)) {
			json_t *g = json_integer(n);
			char what[300];
			snprintf(what, sizeof(what), "call_count %s", k);
			ok = differ(what, v, g, why, len);
			json_decref(g);
		}
	}
	json_decref(cc);
	if (ok || why[0])
		return -1;

	/* called_with = { { fn = ..., args = {...}, node = ... }, ... } */
	json_t *cw = table_json(L, x, "called_with", why, len);
	if (why[0])
		return -1;
	json_array_foreach(cw, i, v)
	{
		const char *fn = json_string_value(json_object_get(v, "fn"));
		json_t *args = json_object_get(v, "args");
		const char *node = json_string_value(json_object_get(v, "node"));
		if (!fn) {
			snprintf(why, len, "called_with[%zu]: needs fn", i + 1);
			ok = -1;
			break;
		}
		int found = 0;
		json_t *c, *seen = json_array();
		size_t j;
		json_array_foreach(r->calls, j, c)
		{
			if (strcmp(json_string_value(json_object_get(c, "fn")), fn) != 0)
				continue;
			json_array_append(seen, json_object_get(c, "shown"));
			if ((!args || json_subset(args, json_object_get(c, "args"))) &&
			    (!node ||
			     json_equal(json_object_get(c, "node"), json_object_get(v, "node"))))
				found = 1;
		}
		if (!found) {
			char *w = json_dumps(args ? args : json_null(),
					     JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
			char *s = json_dumps(seen, JSON_COMPACT | JSON_SORT_KEYS);
			snprintf(why, len, "called_with: no call of %s(%s)%s%s; its calls: %s", fn,
				 w ? w : "?", node ? " from " : "", node ? node : "", s ? s : "?");
			free(w);
			free(s);
			ok = -1;
		}
		json_decref(seen);
		if (ok)
			break;
	}
	json_decref(cw);
	if (ok)
		return ok;

	/* gates = { G = true|false }, checks = { G = { C = true|false } } */
	json_t *gw = table_json(L, x, "gates", why, len);
	json_object_foreach(gw, k, v)
	{
		json_t *got_ok = json_object_get(json_object_get(r->gates, k), "ok");
		if (ok == 0 && !json_equal(v, got_ok)) {
			char what[300];
			snprintf(what, sizeof(what), "gates %s", k);
			ok = differ(what, v, got_ok, why, len);
		}
	}
	json_decref(gw);
	json_t *cw2 = ok || why[0] ? NULL : table_json(L, x, "checks", why, len);
	json_object_foreach(cw2, k, v)
	{
		const char *c;
		json_t *w;
		json_t *got_checks = json_object_get(json_object_get(r->gates, k), "checks");
		json_object_foreach(v, c, w)
		{
			json_t *g = json_object_get(got_checks, c);
			if (ok == 0 && !json_equal(w, g)) {
				char what[600];
				snprintf(what, sizeof(what), "checks %s / %s", k, c);
				ok = differ(what, w, g, why, len);
			}
		}
	}
	json_decref(cw2);
	if (ok || why[0])
		return -1;

	/* nodes = { NAME = "status" } */
	json_t *nw = table_json(L, x, "nodes", why, len);
	json_object_foreach(nw, k, v)
	{
		json_t *g = json_object_get(r->nodes, k);
		if (ok == 0 && !json_equal(v, g)) {
			char what[300];
			snprintf(what, sizeof(what), "nodes %s", k);
			ok = differ(what, v, g, why, len);
		}
	}
	json_decref(nw);
	if (ok || why[0])
		return -1;

	static const char *const bounds[] = {"max_virtual", "min_virtual"};
	for (int b = 0; b < 2; b++) {
		lua_getfield(L, x, bounds[b]);
		const char *d = lua_tostring(L, -1);
		long long ms;
		char err[128];
		if (d && pgm_duration_parse(d, &ms, err, sizeof(err)) != 0) {
			snprintf(why, len, "%s: %s", bounds[b], err);
			ok = -1;
		} else if (d && (b == 0 ? r->vms > ms : r->vms < ms)) {
			snprintf(why, len, "%s: expected %s %s, took %lld ms of virtual time",
				 bounds[b], b == 0 ? "at most" : "at least", d, r->vms);
			ok = -1;
		}
		lua_pop(L, 1);
		if (ok)
			return ok;
	}
	return 0;
}

/* add_params - adds the params table at the top of L's stack to obj as
 * name -> string, as -p would give them. */
static void add_params(lua_State *L, json_t *obj)
{
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING) {
			const char *v = luaL_tolstring(L, -1, NULL); /* (sp += 1) */
			json_object_set_new(obj, lua_tostring(L, -3), json_string(v));
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
}

static const char *const test_keys[] = {"name",	  "params", "approve",	   "by",
					"mocks",  "crash",  "crash_after", "rollback",
					"script", "expect", "check",	   NULL};
static const char *const crash_table_keys[] = {"before_call", "after_call", "in_wait", "in_gate",
					       "in_rollback", "nth",	    NULL};
static const char *const action_keys[] = {"advance",  "approve", "deny",    "resolve",
					  "decision", "by",	 "comment", "resume",
					  "rollback", "exit",	 NULL};

/* parse_crash - the test's crash point (crash_after = STEP, or crash =
 * { before_call | after_call | in_wait | in_gate | in_rollback = NODE,
 * nth = N }) into m; 0, or -1 with the reason in why. */
static int parse_crash(lua_State *L, int t, mock_ctx *m, char *why, size_t len)
{
	lua_getfield(L, t, "crash_after");
	if (lua_isstring(L, -1)) {
		m->crash = CR_AFTER_CALL;
		snprintf(m->crash_node, sizeof(m->crash_node), "%s", lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	lua_getfield(L, t, "crash");
	int rc = 0;
	if (lua_istable(L, -1)) {
		int c = lua_gettop(L);
		rc = check_keys(L, c, "crash", crash_table_keys, why, len);
		for (int k = CR_AFTER_CALL; rc == 0 && k <= CR_IN_ROLLBACK; k++) {
			lua_getfield(L, c, crash_keys[k]);
			if (lua_isstring(L, -1)) {
				if (m->crash != CR_NONE) {
					snprintf(why, len, "crash: name one point only");
					rc = -1;
				}
				m->crash = (enum crash_kind)k;
				snprintf(m->crash_node, sizeof(m->crash_node), "%s",
					 lua_tostring(L, -1));
			}
			lua_pop(L, 1);
		}
		lua_getfield(L, c, "nth");
		m->crash_nth = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 1;
		lua_pop(L, 1);
		if (rc == 0 && (m->crash == CR_NONE || m->crash_nth < 1)) {
			snprintf(why, len,
				 "crash: needs one of before_call, after_call, in_wait, "
				 "in_gate, in_rollback = NODE (and nth >= 1)");
			rc = -1;
		}
	} else if (!lua_isnil(L, -1)) {
		snprintf(why, len, "crash: must be a table");
		rc = -1;
	}
	lua_pop(L, 1);
	return rc;
}

/* parse_script - the test's actions into ops (at most max): the run, the
 * script's actions, then a rollback when rollback = true. Strings in ops
 * point into the test table (kept alive by L). Returns the count or -1
 * with the reason in why. */
static int parse_script(lua_State *L, int t, op *ops, int max, char *why, size_t len)
{
	int n = 0;
	ops[n++] = (op){PH_RUN, NULL, NULL, NULL, NULL, -1, 0};
	lua_getfield(L, t, "script");
	int s = lua_gettop(L);
	if (!lua_isnil(L, s) && !lua_istable(L, s)) {
		snprintf(why, len, "script: must be a list of actions");
		return -1;
	}
	lua_Integer cnt = lua_istable(L, s) ? luaL_len(L, s) : 0;
	for (lua_Integer i = 1; i <= cnt; i++) {
		if (n >= max - 1) {
			snprintf(why, len, "script: more than %d actions", max - 2);
			return -1;
		}
		op o = {PH_RESUME, NULL, NULL, NULL, NULL, -1, 0};
		lua_geti(L, s, i);
		const char *str = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		char where[64];
		snprintf(where, sizeof(where), "script[%lld]", (long long)i);
		if (str && strcmp(str, "resume") == 0) {
			o.ph = PH_RESUME;
		} else if (str && strcmp(str, "rollback") == 0) {
			o.ph = PH_ROLLBACK;
		} else if (lua_istable(L, -1)) {
			int a = lua_gettop(L);
			if (check_keys(L, a, where, action_keys, why, len) != 0)
				return -1;
			int kinds = 0;
			static const char *const names[] = {"approve", "deny", "resolve",
							    "advance"};
			static const enum phase phs[] = {PH_APPROVE, PH_DENY, PH_RESOLVE,
							 PH_ADVANCE};
			for (int k = 0; k < 4; k++) {
				lua_getfield(L, a, names[k]);
				if (lua_isstring(L, -1)) {
					o.ph = phs[k];
					o.node = lua_tostring(L, -1);
					kinds++;
				}
				lua_pop(L, 1);
			}
			static const char *const flags[] = {"resume", "rollback"};
			static const enum phase fph[] = {PH_RESUME, PH_ROLLBACK};
			for (int k = 0; k < 2; k++) {
				lua_getfield(L, a, flags[k]);
				if (lua_toboolean(L, -1)) {
					o.ph = fph[k];
					kinds++;
				}
				lua_pop(L, 1);
			}
			lua_getfield(L, a, "decision");
			o.decision = lua_tostring(L, -1);
			lua_getfield(L, a, "by");
			o.by = lua_tostring(L, -1);
			lua_getfield(L, a, "comment");
			o.comment = lua_tostring(L, -1);
			lua_getfield(L, a, "exit");
			if (lua_isinteger(L, -1))
				o.want_exit = (int)lua_tointeger(L, -1);
			lua_pop(L, 4);
			if (kinds != 1) {
				snprintf(why, len,
					 "%s: needs exactly one of approve, deny, resolve = NODE, "
					 "advance = DURATION, resume = true, rollback = true",
					 where);
				return -1;
			}
			char err[128];
			if (o.ph == PH_ADVANCE &&
			    pgm_duration_parse(o.node, &o.ms, err, sizeof(err)) != 0) {
				snprintf(why, len, "%s: advance: %s", where, err);
				return -1;
			}
			if (o.ph == PH_RESOLVE &&
			    (!o.decision || (strcmp(o.decision, "succeeded") != 0 &&
					     strcmp(o.decision, "failed") != 0 &&
					     strcmp(o.decision, "retry") != 0))) {
				snprintf(
					why, len,
					"%s: resolve needs decision = \"succeeded\", \"failed\" or "
					"\"retry\"",
					where);
				return -1;
			}
		} else {
			snprintf(why, len,
				 "%s: an action is \"resume\", \"rollback\" or a table "
				 "({ approve | deny | resolve = NODE, ... }, { advance = DURATION "
				 "})",
				 where);
			return -1;
		}
		lua_pop(L, 1);
		ops[n++] = o;
	}
	lua_pop(L, 1);
	lua_getfield(L, t, "rollback");
	if (lua_toboolean(L, -1))
		ops[n++] = (op){PH_ROLLBACK, NULL, NULL, NULL, NULL, -1, 0};
	lua_pop(L, 1);
	return n;
}

/* op_text - "resolve provision --retry" for messages. */
static void op_text(const op *o, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s%s%s%s", phase_names[o->ph], o->node ? " " : "",
		 o->node ? o->node : "", o->decision ? " --" : "", o->decision ? o->decision : "",
		 o->by ? " by " : "", o->by ? o->by : "");
}

/* push_outcome - pushes r as the table check(r) sees. (sp += 1) */
static void push_outcome(lua_State *L, const outcome *r)
{
	lua_newtable(L);
	lua_pushinteger(L, r->exit);
	lua_setfield(L, -2, "exit");
	lua_pushstring(L, r->status);
	lua_setfield(L, -2, "status");
	lua_pushinteger(L, r->vms);
	lua_setfield(L, -2, "virtual_ms");
	static const char *const names[] = {"calls",	"events", "steps", "undone",
					    "breakers", "gates",  "nodes", "phases"};
	const json_t *v[] = {r->calls,	  r->events, r->steps, r->undone,
			     r->breakers, r->gates,  r->nodes, r->phases};
	for (int i = 0; i < 8; i++) {
		luajson_push(L, v[i]);
		lua_setfield(L, -2, names[i]);
	}
}

#define MAX_OPS 64

/* run_test - runs the test table at the top of L's stack; 0 when it
 * passed, else -1 with the reason in why. *exit_out and *vms_out get the
 * last engine phase's exit code and the virtual time taken. */
static int run_test(lua_State *L, const char *rb, json_t *params, char *why, size_t len,
		    int *exit_out, long long *vms_out)
{
	int t = lua_gettop(L);
	mock_ctx m;
	memset(&m, 0, sizeof(m));
	m.L = L;
	why[0] = 0;
	op ops[MAX_OPS];
	if (check_keys(L, t, "test", test_keys, why, len) != 0 ||
	    parse_crash(L, t, &m, why, len) != 0) {
		lua_settop(L, t);
		return -1;
	}
	int nops = parse_script(L, t, ops, MAX_OPS, why, len);
	if (nops < 0) {
		lua_settop(L, t);
		return -1;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(m.dir, sizeof(m.dir), "%s/pgmove-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(m.dir)) {
		snprintf(why, len, "cannot create a temporary directory: %s", strerror(errno));
		lua_settop(L, t);
		return -1;
	}
	lua_pushvalue(L, t);
	m.test_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	json_t *p = json_deep_copy(params);
	lua_getfield(L, t, "params");
	if (lua_istable(L, -1))
		add_params(L, p);
	lua_pop(L, 1);
	json_t *approvals = str_list(L, t, "approve");
	if (!approvals)
		approvals = json_array();
	engine_opts o;
	memset(&o, 0, sizeof(o));
	o.run_id = "test";
	o.cli_params = p;
	o.approvals = approvals;
	lua_getfield(L, t, "by");
	o.user = lua_isstring(L, -1) ? lua_tostring(L, -1) : "pgmove-test";
	lua_pop(L, 1); /* the string stays in the test table */

	int rc = 0, fired = 0, ok = 0;
	json_t *phases = json_array();
	for (int i = 0; i < nops && ok == 0; i++) {
		char text[512];
		op_text(&ops[i], text, sizeof(text));
		m.armed = m.crash != CR_NONE && !fired;
		int r = 0;
		if (ops[i].ph == PH_ADVANCE) {
			/* time passes between two commands: the next one starts later */
			long long now = read_ms(m.dir);
			char path[PATH_MAX + 32];
			snprintf(path, sizeof(path), "%s/virtual_ms", m.dir);
			FILE *fp = fopen(path, "w");
			if (fp) {
				fprintf(fp, "%lld\n", now + ops[i].ms);
				fclose(fp);
			}
		} else {
			r = run_phase(&m, &ops[i], rb, &o);
		}
		json_array_append_new(phases, json_pack("{s:s, s:i}", "action", text, "exit", r));
		if (r == EXIT_INJECTED_CRASH) {
			/* the process died at the crash point: pgmove resume, as an operator would
			 */
			fired = 1;
			m.armed = 0;
			op res = {PH_RESUME, NULL, NULL, NULL, NULL, -1, 0};
			r = run_phase(&m, &res, rb, &o);
			json_array_append_new(
				phases, json_pack("{s:s, s:i}", "action", "resume", "exit", r));
		}
		if (r < 0) {
			snprintf(why, len, "%s: the process did not finish", text);
			ok = -1;
		} else if (ops[i].want_exit >= 0 && r != ops[i].want_exit) {
			snprintf(why, len, "script: %s: exit expected %d, got %d", text,
				 ops[i].want_exit, r);
			ok = -1;
		} else if (ops[i].ph >= PH_APPROVE && ops[i].ph <= PH_RESOLVE &&
			   ops[i].want_exit < 0 && r != 0) {
			char msg[1024];
			last_error(m.dir, msg, sizeof(msg));
			snprintf(why, len, "script: %s: exit %d: %s", text, r, msg);
			ok = -1;
		}
		if (ops[i].ph < PH_APPROVE)
			rc = r;
	}

	char path[PATH_MAX + 32], rdir[PATH_MAX * 2], err[512];
	snprintf(path, sizeof(path), "%s/calls.jsonl", m.dir);
	outcome r;
	memset(&r, 0, sizeof(r));
	r.exit = rc;
	r.phases = phases;
	r.calls = read_lines(path);
	snprintf(path, sizeof(path), "%s/unmocked.jsonl", m.dir);
	json_t *unmocked = read_lines(path);
	run_dir_of(m.dir, rdir, sizeof(rdir));
	char jpath[PATH_MAX * 2 + 32];
	snprintf(jpath, sizeof(jpath), "%s/journal.jsonl", rdir);
	r.events = read_lines(jpath);
	r.steps = names_of(r.events, "step.succeeded", "node");
	r.undone = names_of(r.events, "undo.succeeded", "node");
	r.breakers = names_of(r.events, "breaker.trip", "breaker");
	r.gates = gate_results(r.events);
	r.nodes = json_object();
	r.vms = read_ms(m.dir);
	run_state *st = rdir[0] ? state_load(rdir, err, sizeof(err)) : NULL;
	r.status = st ? state_run_status_name(st->status) : "none";
	r.reason = st ? st->reason : NULL;
	for (int i = 0; st && i < st->nnodes; i++)
		json_object_set_new(r.nodes, st->nodes[i].name,
				    json_string(state_node_status_name(st->nodes[i].status)));

	if (json_array_size(unmocked) > 0) {
		/* first: an unmocked call explains what followed it */
		json_t *u = json_array_get(unmocked, 0);
		snprintf(why, len, "no mock for %s(%s)",
			 json_string_value(json_object_get(u, "fn")),
			 json_string_value(json_object_get(u, "args")));
		ok = -1;
	} else if (ok != 0) {
		/* a script action failed: why says which */
	} else if (m.crash != CR_NONE && !fired) {
		snprintf(why, len, "crash: %s %s%s was never reached", crash_keys[m.crash],
			 m.crash_node,
			 m.crash == CR_IN_WAIT || m.crash == CR_IN_GATE ? " (or not nth times)"
									: "");
		ok = -1;
	} else {
		lua_getfield(L, t, "expect");
		if (lua_istable(L, -1))
			ok = check_expect(L, lua_gettop(L), &r, why, len);
		else if (!lua_isnil(L, -1)) {
			snprintf(why, len, "expect: must be a table");
			ok = -1;
		}
		lua_settop(L, t);
	}
	lua_getfield(L, t, "check");
	if (ok == 0 && lua_isfunction(L, -1)) {
		push_outcome(L, &r);
		if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
			snprintf(why, len, "check: %s", luaL_tolstring(L, -1, NULL));
			ok = -1;
		}
	}
	lua_settop(L, t);
	luaL_unref(L, LUA_REGISTRYINDEX, m.test_ref);
	*exit_out = rc;
	*vms_out = r.vms;
	state_free(st);
	json_decref(r.calls);
	json_decref(unmocked);
	json_decref(r.events);
	json_decref(r.steps);
	json_decref(r.undone);
	json_decref(r.breakers);
	json_decref(r.gates);
	json_decref(r.nodes);
	json_decref(phases);
	json_decref(approvals);
	json_decref(p);
	if (!getenv("PGMOVE_TEST_KEEP")) {
		pid_t pid = fork();
		if (pid == 0) {
			execlp("rm", "rm", "-rf", "--", m.dir, (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	} else {
		fprintf(stderr, "# kept %s\n", m.dir);
	}
	return ok;
}

static double now_s(void)
{
	return (double)pgm_now_ms() / 1000.0;
}

/* run_file - runs the tests of one test file, numbering them from *n;
 * each outcome is appended to results (an array of {name, why, seconds,
 * exit, virtual_ms}). -1 with the reason in err when the file cannot be
 * read. */
static int run_file(const char *file, int *n, int *failed, json_t *results, char *err,
		    size_t errlen)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	if (luaL_dofile(L, file) != LUA_OK || !lua_istable(L, -1)) {
		snprintf(err, errlen, "test %s: %s", file,
			 lua_isstring(L, -1) ? lua_tostring(L, -1) : "must return a table");
		lua_close(L);
		return -1;
	}
	int top = lua_gettop(L);
	lua_getfield(L, top, "runbook");
	const char *rbf = lua_tostring(L, -1);
	lua_getfield(L, top, "tests");
	if (!rbf || !lua_istable(L, -1)) {
		snprintf(err, errlen, "test %s: needs runbook (a file) and tests (a list)", file);
		lua_close(L);
		return -1;
	}
	static const char *const file_keys[] = {"runbook", "params", "tests", NULL};
	if (check_keys(L, top, file, file_keys, err, errlen) != 0) {
		lua_close(L);
		return -1;
	}
	char rb[PATH_MAX * 2];
	if (rbf[0] == '/') {
		snprintf(rb, sizeof(rb), "%s", rbf);
	} else {
		const char *slash = strrchr(file, '/');
		snprintf(rb, sizeof(rb), "%.*s%s", slash ? (int)(slash - file + 1) : 0, file, rbf);
	}
	if (access(rb, R_OK) != 0) {
		snprintf(err, errlen, "test %.400s: runbook %.400s: %s", file, rb, strerror(errno));
		lua_close(L);
		return -1;
	}
	json_t *params = json_object();
	lua_getfield(L, top, "params");
	if (lua_istable(L, -1))
		add_params(L, params);
	lua_pop(L, 1);
	int tests = lua_gettop(L);
	lua_Integer cnt = luaL_len(L, tests);
	for (lua_Integer i = 1; i <= cnt; i++) {
		char why[2048];
		lua_geti(L, tests, i);
		lua_getfield(L, -1, "name");
		char name[256];
		snprintf(name, sizeof(name), "%s",
			 lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no name)");
		lua_pop(L, 1);
		double t0 = now_s();
		int ex = -1;
		long long vms = 0;
		int rc = lua_istable(L, -1)
				 ? run_test(L, rb, params, why, sizeof(why), &ex, &vms)
				 : (snprintf(why, sizeof(why), "a test must be a table"), -1);
		lua_pop(L, 1);
		++*n;
		if (rc == 0) {
			printf("ok %d - %s: %s\n", *n, file, name);
		} else {
			++*failed;
			printf("not ok %d - %s: %s\n#   %s\n", *n, file, name, why);
		}
		json_array_append_new(results,
				      json_pack("{s:s, s:s, s:f, s:i, s:I}", "name", name, "why",
						rc == 0 ? "" : why, "seconds", now_s() - t0, "exit",
						ex, "virtual_ms", (json_int_t)vms));
		fflush(stdout);
	}
	json_decref(params);
	lua_close(L);
	return 0;
}

/* xml_put - writes s to f escaped for XML text and attributes; characters
 * XML 1.0 cannot hold become '?'. */
static void xml_put(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c == '\'')
			fputs("&apos;", f);
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			fputc('?', f);
		else
			fputc(c, f);
	}
}

/* write_junit - writes suites ([{file, error?, tests: [results]}]) as
 * JUnit XML to f: one testsuite per file, one testcase per test, a
 * <failure> for a failed test, an <error> for a file that cannot be run. */
static void write_junit(FILE *f, const json_t *suites)
{
	size_t i, k;
	json_t *s, *t;
	int all = 0, allf = 0, alle = 0;
	double allt = 0;
	json_array_foreach(suites, i, s)
	{
		json_array_foreach(json_object_get(s, "tests"), k, t)
		{
			all++;
			allt += json_real_value(json_object_get(t, "seconds"));
			if (*json_string_value(json_object_get(t, "why")))
				allf++;
		}
		if (json_object_get(s, "error")) {
			all++;
			alle++;
		}
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
		"<testsuites name=\"pgmove test\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
		"time=\"%.3f\">\n",
		all, allf, alle, allt);
	json_array_foreach(suites, i, s)
	{
		const char *file = json_string_value(json_object_get(s, "file"));
		const char *error = json_string_value(json_object_get(s, "error"));
		json_t *tests = json_object_get(s, "tests");
		int nf = 0;
		double st = 0;
		json_array_foreach(tests, k, t)
		{
			st += json_real_value(json_object_get(t, "seconds"));
			if (*json_string_value(json_object_get(t, "why")))
				nf++;
		}
		fputs("  <testsuite name=\"", f);
		xml_put(f, file);
		fprintf(f, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" time=\"%.3f\">\n",
			json_array_size(tests) + (error ? 1 : 0), nf, error ? 1 : 0, st);
		if (error) {
			fputs("    <testcase classname=\"", f);
			xml_put(f, file);
			fputs("\" name=\"(test file)\" time=\"0\">\n      <error message=\"", f);
			xml_put(f, error);
			fputs("\" type=\"test.file\"/>\n    </testcase>\n", f);
		}
		json_array_foreach(tests, k, t)
		{
			const char *why = json_string_value(json_object_get(t, "why"));
			fputs("    <testcase classname=\"", f);
			xml_put(f, file);
			fputs("\" name=\"", f);
			xml_put(f, json_string_value(json_object_get(t, "name")));
			fprintf(f, "\" time=\"%.3f\">\n",
				json_real_value(json_object_get(t, "seconds")));
			if (*why) {
				fputs("      <failure message=\"", f);
				xml_put(f, why);
				fputs("\" type=\"assertion\">", f);
				xml_put(f, why);
				fputs("</failure>\n", f);
			}
			fprintf(f,
				"      <system-out>exit %d, %lld ms of virtual time</system-out>\n"
				"    </testcase>\n",
				(int)json_integer_value(json_object_get(t, "exit")),
				(long long)json_integer_value(json_object_get(t, "virtual_ms")));
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
}

int pgmove_cmd_test(cli_args *a)
{
	int n = 0, failed = 0, bad = 0;
	const char *junit = cli_opt_str(a, "junit");
	FILE *jf = NULL;
	if (junit) {
		jf = fopen(junit, "w");
		if (!jf) {
			pgm_error("--junit %s: %s", junit, strerror(errno));
			return PGMOVE_EXIT_USAGE;
		}
	}
	json_t *suites = json_array();
	size_t files = json_array_size(a->pos);
	for (size_t i = 0; i < files; i++) {
		char err[1024];
		const char *file = cli_pos(a, (int)i);
		json_t *results = json_array();
		if (run_file(file, &n, &failed, results, err, sizeof(err)) != 0) {
			pgm_error("%s", err);
			bad = 1;
			json_array_append_new(suites, json_pack("{s:s, s:s, s:o}", "file", file,
								"error", err, "tests", results));
		} else {
			json_array_append_new(
				suites, json_pack("{s:s, s:o}", "file", file, "tests", results));
		}
	}
	printf("1..%d\n", n);
	int rc = bad ? PGMOVE_EXIT_USAGE : failed ? PGMOVE_EXIT_FAILED : PGMOVE_EXIT_COMPLETED;
	if (jf) {
		write_junit(jf, suites);
		if (fclose(jf) != 0) {
			pgm_error("--junit %s: %s", junit, strerror(errno));
			rc = PGMOVE_EXIT_USAGE;
		}
	}
	json_decref(suites);
	return rc;
}
