/*
 * core/cli/cli_test.c - the test command: runs a runbook's test file with
 * mocked plugin functions and a virtual clock through the real engine
 * (core/engine/eclock.h is the seam), one forked process per run phase,
 * the journal in a temporary directory, and prints TAP.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

#define TEST_EPOCH_MS 1767225600000LL /* 2026-01-01T00:00:00Z: virtual runs start here */
#define EXIT_INJECTED_CRASH 86	      /* a child stopped by crash_after */

/* mock_ctx - the test being run: its Lua state with the test table at
 * test_ref, the file of calls made, and the crash point. */
typedef struct mock_ctx {
	lua_State *L;
	int test_ref;
	char dir[PATH_MAX];
	const char *crash_after; /* a node name, or NULL */
	json_t *counts;		 /* "plugin.fn" -> calls so far in this process */
} mock_ctx;

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
 * with result, error or sequence, or a function of the arguments and the
 * virtual time) into the call's result. Pops it. */
static json_t *mock_result(mock_ctx *m, pgm_call *call, const char *full, const json_t *args, int n)
{
	lua_State *L = m->L;
	char err[256];
	if (lua_isfunction(L, -1)) {
		luajson_push(L, args);
		lua_pushinteger(L, eclock_virtual_elapsed());
		if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
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
 * stops the process after a call of the crash_after node. */
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
	json_t *rec = json_pack("{s:s, s:O, s:I, s:s?}", "fn", full, "args", args, "t",
				(json_int_t)eclock_virtual_elapsed(), "node", node);
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
		char *a = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
		json_t *u = json_pack("{s:s, s:s}", "fn", full, "args", a ? a : "?");
		append_line(m->dir, "unmocked.jsonl", u);
		json_decref(u);
		pgm_fail(call, "test.unmocked", 0, "no mock for %s(%s)", full, a ? a : "?");
		free(a);
		return NULL;
	}
	json_t *r = mock_result(m, call, full, args, n);
	lua_pop(L, 2);
	if (m->crash_after && node && strcmp(node, m->crash_after) == 0) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/virtual_ms", m->dir);
		FILE *fp = fopen(path, "w");
		if (fp) {
			fprintf(fp, "%lld\n", eclock_virtual_elapsed());
			fclose(fp);
		}
		fflush(NULL);
		_exit(EXIT_INJECTED_CRASH);
	}
	return r;
}

enum phase { PH_RUN, PH_RESUME, PH_ROLLBACK };

/* run_phase - runs one engine command in a child with the virtual clock
 * at elapsed ms; returns its exit code (EXIT_INJECTED_CRASH after an
 * injected crash). */
static int run_phase(mock_ctx *m, enum phase ph, const char *rb, const char *crash_after,
		     engine_opts *o, long long elapsed)
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
		o->state_dir = sdir;
		m->crash_after = crash_after;
		m->counts = json_object();
		eclock_set_virtual(TEST_EPOCH_MS, elapsed);
		eclock_set_dispatch(mock_dispatch, m);
		journal_set_fsync(0);
		int rc;
		if (ph == PH_RUN) {
			rc = engine_run(rb, o);
		} else {
			DIR *d = opendir(sdir);
			struct dirent *de;
			rdir[0] = 0;
			while (d && (de = readdir(d)))
				if (de->d_name[0] != '.')
					snprintf(rdir, sizeof(rdir), "%s/%s/test", sdir,
						 de->d_name);
			if (d)
				closedir(d);
			rc = ph == PH_RESUME ? engine_resume(rdir, o) : engine_rollback(rdir, o);
		}
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/virtual_ms", m->dir);
		FILE *fp = fopen(path, "w");
		if (fp) {
			fprintf(fp, "%lld\n", eclock_virtual_elapsed());
			fclose(fp);
		}
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

/* read_lines - dir/name's JSON lines as an array (new reference). */
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

/* journal_events - the run's journal under dir/state (new reference). */
static json_t *journal_events(const char *dir)
{
	char sdir[PATH_MAX + 16], path[PATH_MAX * 2];
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	DIR *d = opendir(sdir);
	struct dirent *de;
	path[0] = 0;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(path, sizeof(path), "%s/%s/test/journal.jsonl", sdir, de->d_name);
	if (d)
		closedir(d);
	return read_lines(path);
}

/* names_of - the node names of events of kind ev, in order (new ref). */
static json_t *names_of(const json_t *events, const char *ev)
{
	json_t *a = json_array(), *e;
	size_t i;
	json_array_foreach(events, i, e)
	{
		const char *k = json_string_value(json_object_get(e, "ev"));
		json_t *node = json_object_get(e, "node");
		if (k && strcmp(k, ev) == 0 && json_is_string(node))
			json_array_append(a, node);
	}
	return a;
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

static int called(const json_t *calls, const char *fn)
{
	json_t *c;
	size_t i;
	json_array_foreach(calls, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "fn")), fn) == 0)
			return 1;
	}
	return 0;
}

/* check_list - compares the expected list field of the expect table at
 * idx with got; a message in why on a difference. */
static int check_list(lua_State *L, int idx, const char *field, const json_t *got, char *why,
		      size_t len)
{
	json_t *want = str_list(L, idx, field);
	if (!want)
		return 0;
	int eq = json_equal(want, got);
	if (!eq) {
		char *w = json_dumps(want, JSON_COMPACT), *g = json_dumps(got, JSON_COMPACT);
		snprintf(why, len, "%s: expected %s, got %s", field, w ? w : "?", g ? g : "?");
		free(w);
		free(g);
	}
	json_decref(want);
	return eq ? 0 : -1;
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

/* run_test - runs the test table at the top of L's stack; 0 when it
 * passed, else -1 with the reason in why. */
static int run_test(lua_State *L, const char *rb, json_t *params, char *why, size_t len)
{
	int t = lua_gettop(L);
	mock_ctx m = {L, 0, "", NULL, NULL};
	const char *tmp = getenv("TMPDIR");
	snprintf(m.dir, sizeof(m.dir), "%s/pgmove-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(m.dir)) {
		snprintf(why, len, "cannot create a temporary directory: %s", strerror(errno));
		return -1;
	}
	lua_pushvalue(L, t);
	m.test_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	json_t *p = json_deep_copy(params);
	lua_getfield(L, t, "params");
	if (lua_istable(L, -1)) {
		add_params(L, p);
	}
	lua_pop(L, 1);
	json_t *approvals = str_list(L, t, "approve");
	engine_opts o;
	memset(&o, 0, sizeof(o));
	o.run_id = "test";
	o.cli_params = p;
	o.approvals = approvals ? approvals : json_array();
	o.user = "pgmove-test";
	lua_getfield(L, t, "crash_after");
	const char *crash_after = lua_tostring(L, -1);
	lua_getfield(L, t, "rollback");
	int rollback = lua_toboolean(L, -1);
	lua_pop(L, 1); /* crash_after stays on the stack while used */

	int rc = run_phase(&m, PH_RUN, rb, crash_after, &o, 0);
	int crashed = rc == EXIT_INJECTED_CRASH;
	if (crashed)
		rc = run_phase(&m, PH_RESUME, rb, NULL, &o, read_ms(m.dir));
	if (rc >= 0 && rollback)
		rc = run_phase(&m, PH_ROLLBACK, rb, NULL, &o, read_ms(m.dir));
	lua_pop(L, 1);

	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/calls.jsonl", m.dir);
	json_t *calls = read_lines(path);
	snprintf(path, sizeof(path), "%s/unmocked.jsonl", m.dir);
	json_t *unmocked = read_lines(path);
	json_t *events = journal_events(m.dir);
	json_t *steps = names_of(events, "step.succeeded");
	json_t *undone = names_of(events, "undo.succeeded");
	long long vms = read_ms(m.dir);
	int ok = 0;
	why[0] = 0;

	lua_getfield(L, t, "expect");
	int x = lua_gettop(L);
	if (rc < 0) {
		snprintf(why, len, "the engine did not finish");
		ok = -1;
	} else if (json_array_size(unmocked) > 0) {
		json_t *u = json_array_get(unmocked, 0);
		snprintf(why, len, "no mock for %s(%s)",
			 json_string_value(json_object_get(u, "fn")),
			 json_string_value(json_object_get(u, "args")));
		ok = -1;
	} else if (crash_after && !crashed) {
		snprintf(why, len, "crash_after: step %s made no plugin call", crash_after);
		ok = -1;
	} else if (lua_istable(L, x)) {
		lua_getfield(L, x, "exit");
		if (lua_isinteger(L, -1) && lua_tointeger(L, -1) != rc) {
			snprintf(why, len, "exit: expected %lld, got %d",
				 (long long)lua_tointeger(L, -1), rc);
			ok = -1;
		}
		lua_pop(L, 1);
		if (ok == 0)
			ok = check_list(L, x, "steps", steps, why, len);
		if (ok == 0)
			ok = check_list(L, x, "undone", undone, why, len);
		json_t *l = ok == 0 ? str_list(L, x, "called") : NULL;
		json_t *v;
		size_t i;
		json_array_foreach(l, i, v)
		{
			if (ok == 0 && !called(calls, json_string_value(v))) {
				snprintf(why, len, "called: %s was never called",
					 json_string_value(v));
				ok = -1;
			}
		}
		json_decref(l);
		l = ok == 0 ? str_list(L, x, "not_called") : NULL;
		json_array_foreach(l, i, v)
		{
			if (ok == 0 && called(calls, json_string_value(v))) {
				snprintf(why, len, "not_called: %s was called",
					 json_string_value(v));
				ok = -1;
			}
		}
		json_decref(l);
		lua_getfield(L, x, "max_virtual");
		long long maxv;
		char err[128];
		if (ok == 0 && lua_isstring(L, -1)) {
			if (pgm_duration_parse(lua_tostring(L, -1), &maxv, err, sizeof(err)) != 0) {
				snprintf(why, len, "max_virtual: %s", err);
				ok = -1;
			} else if (vms > maxv) {
				snprintf(why, len, "max_virtual: took %lld ms of virtual time",
					 vms);
				ok = -1;
			}
		}
		lua_pop(L, 1);
		lua_getfield(L, x, "min_virtual");
		if (ok == 0 && lua_isstring(L, -1)) {
			if (pgm_duration_parse(lua_tostring(L, -1), &maxv, err, sizeof(err)) != 0) {
				snprintf(why, len, "min_virtual: %s", err);
				ok = -1;
			} else if (vms < maxv) {
				snprintf(why, len, "min_virtual: took only %lld ms of virtual time",
					 vms);
				ok = -1;
			}
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, t, "check");
	if (ok == 0 && lua_isfunction(L, -1)) {
		lua_newtable(L);
		lua_pushinteger(L, rc);
		lua_setfield(L, -2, "exit");
		lua_pushinteger(L, vms);
		lua_setfield(L, -2, "virtual_ms");
		luajson_push(L, calls);
		lua_setfield(L, -2, "calls");
		luajson_push(L, events);
		lua_setfield(L, -2, "events");
		luajson_push(L, steps);
		lua_setfield(L, -2, "steps");
		luajson_push(L, undone);
		lua_setfield(L, -2, "undone");
		if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
			snprintf(why, len, "check: %s", luaL_tolstring(L, -1, NULL));
			lua_pop(L, 1);
			ok = -1;
		}
		lua_pushnil(L);
	}
	lua_settop(L, t);
	luaL_unref(L, LUA_REGISTRYINDEX, m.test_ref);
	json_decref(calls);
	json_decref(unmocked);
	json_decref(events);
	json_decref(steps);
	json_decref(undone);
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

/* run_file - runs the tests of one test file, numbering them from *n. */
static int run_file(const char *file, int *n, int *failed)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	if (luaL_dofile(L, file) != LUA_OK || !lua_istable(L, -1)) {
		pgm_error("test %s: %s", file,
			  lua_isstring(L, -1) ? lua_tostring(L, -1) : "must return a table");
		lua_close(L);
		return -1;
	}
	int top = lua_gettop(L);
	lua_getfield(L, top, "runbook");
	const char *rbf = lua_tostring(L, -1);
	lua_getfield(L, top, "tests");
	if (!rbf || !lua_istable(L, -1)) {
		pgm_error("test %s: needs runbook (a file) and tests (a list)", file);
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
	json_t *params = json_object();
	lua_getfield(L, top, "params");
	if (lua_istable(L, -1)) {
		add_params(L, params);
	}
	lua_pop(L, 1);
	int tests = lua_gettop(L);
	lua_Integer cnt = luaL_len(L, tests);
	for (lua_Integer i = 1; i <= cnt; i++) {
		char why[1024];
		lua_geti(L, tests, i);
		lua_getfield(L, -1, "name");
		char name[256];
		snprintf(name, sizeof(name), "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
		lua_pop(L, 1);
		int rc = run_test(L, rb, params, why, sizeof(why));
		lua_pop(L, 1);
		++*n;
		if (rc == 0) {
			printf("ok %d - %s: %s\n", *n, file, name);
		} else {
			++*failed;
			printf("not ok %d - %s: %s\n#   %s\n", *n, file, name, why);
		}
		fflush(stdout);
	}
	json_decref(params);
	lua_close(L);
	return 0;
}

int pgmove_cmd_test(cli_args *a)
{
	int n = 0, failed = 0, bad = 0;
	size_t files = json_array_size(a->pos);
	for (size_t i = 0; i < files; i++)
		if (run_file(cli_pos(a, (int)i), &n, &failed) != 0)
			bad = 1;
	printf("1..%d\n", n);
	if (bad)
		return PGMOVE_EXIT_USAGE;
	return failed ? PGMOVE_EXIT_FAILED : PGMOVE_EXIT_COMPLETED;
}
