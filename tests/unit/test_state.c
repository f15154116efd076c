/*
 * tests/unit/test_state.c - CUnit tests of core/engine/state.c and the
 * journal's replay checks against bad input (issue 7): seq gaps, repeats
 * and disorder; events of the wrong shape; state.json that is corrupt,
 * disagrees with the plan, or is a FIFO; JSON null outputs through the
 * snapshot; bounded line length.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "host.h"
#include "journal.h"
#include "state.h"

static char tmproot[] = "/tmp/pgmove-test-state-XXXXXX";
static int ncase;

static void newdir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/case%d", tmproot, ++ncase);
	mkdir(buf, 0700);
}

/* write_journal - dir/journal.jsonl with the given lines (a newline after each). */
static void write_journal(const char *dir, const char *const *lines)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; lines[i]; i++)
		fprintf(f, "%s\n", lines[i]);
	fclose(f);
}

#define PLAN                                                                                       \
	"\"plan\":{\"runbook\":\"r\",\"nodes\":[{\"name\":\"a\",\"kind\":\"step\"},"               \
	"{\"name\":\"ok\",\"kind\":\"approve\"},{\"name\":\"c\",\"kind\":\"step\"}]}"
#define START                                                                                      \
	"{\"v\":1,\"seq\":1,\"ts\":\"2026-01-01T00:00:00.000Z\",\"ev\":\"run.start\",\"run\":"     \
	"\"r1\",\"runbook\":\"r\"," PLAN "}"
#define EV(seq, rest) "{\"v\":1,\"seq\":" #seq ",\"ts\":\"2026-01-01T00:00:01.000Z\"," rest "}"

static const char *good[] = {START,
			     EV(2, "\"ev\":\"step.start\",\"node\":\"a\",\"attempt\":1"),
			     EV(3, "\"ev\":\"step.succeeded\",\"node\":\"a\",\"attempt\":1,"
				   "\"output\":null,\"duration_ms\":1"),
			     EV(4, "\"ev\":\"approve.pending\",\"node\":\"ok\""),
			     EV(5, "\"ev\":\"run.paused\",\"node\":\"ok\",\"reason\":\"approval\""),
			     NULL};

/* load_err - state_load of lines; the error text (empty when it loaded). */
static const char *load_err(const char *const *lines)
{
	static char err[1024];
	char dir[256];
	newdir(dir, sizeof(dir));
	write_journal(dir, lines);
	err[0] = '\0';
	run_state *st = state_load(dir, err, sizeof(err));
	if (st)
		err[0] = '\0';
	state_free(st);
	return err;
}

static void test_good(void)
{
	CU_ASSERT_STRING_EQUAL(load_err(good), "");
}

static void test_seq(void)
{
	const char *gap[] = {good[0], good[1], good[3], good[4], NULL};
	const char *dup[] = {good[0], good[1], good[1], good[2], NULL};
	const char *swap[] = {good[0], good[2], good[1], good[3], NULL};
	const char *neg[] = {EV(-1, "\"ev\":\"run.start\",\"run\":\"r1\",\"runbook\":\"r\"," PLAN),
			     NULL};
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(gap), "line 3 has seq 4 where 3 was expected"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(dup), "line 3 has seq 2 where 3 was expected"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(swap), "line 2 has seq 3 where 2 was expected"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(neg), "line 1 has seq -1 where 1 was expected"));
}

static void test_shapes(void)
{
	const char *noplan[] = {"{\"v\":1,\"seq\":1,\"ev\":\"run.start\",\"run\":\"r\",\"runbook\":"
				"\"r\",\"plan\":{}}",
				NULL};
	const char *nokind[] = {
		"{\"v\":1,\"seq\":1,\"ev\":\"run.start\",\"run\":\"r\",\"runbook\":\"r\","
		"\"plan\":{\"nodes\":[{\"name\":\"a\"}]}}",
		NULL};
	const char *kindnum[] = {
		"{\"v\":1,\"seq\":1,\"ev\":\"run.start\",\"run\":\"r\",\"runbook\":\"r\","
		"\"plan\":{\"nodes\":[{\"name\":\"a\",\"kind\":5}]}}",
		NULL};
	const char *norb[] = {"{\"v\":1,\"seq\":1,\"ev\":\"run.start\",\"run\":\"r\"," PLAN "}",
			      NULL};
	const char *before[] = {EV(1, "\"ev\":\"step.start\",\"node\":\"a\""), NULL};
	const char *nonode[] = {START, EV(2, "\"ev\":\"step.start\",\"node\":\"zz\""), NULL};
	const char *notype[] = {START, EV(2, "\"node\":\"a\""), NULL};
	const char *twice[] = {
		START,
		"{\"v\":1,\"seq\":2,\"ev\":\"run.start\",\"run\":\"r1\",\"runbook\":\"r\"," PLAN
		"}",
		NULL};
	const char *gatechk[] = {
		"{\"v\":1,\"seq\":1,\"ev\":\"run.start\",\"run\":\"r\",\"runbook\":\"r\","
		"\"plan\":{\"nodes\":[{\"name\":\"g\",\"kind\":\"gate\",\"checks\":[1]}]}}",
		NULL};
	CU_ASSERT_PTR_NOT_NULL(
		strstr(load_err(noplan), "line 1 is corrupted: run.start has no usable plan"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(nokind), "('a') has no kind"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(kindnum), "('a') has no kind"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(norb), "run.start has no \"run\" or \"runbook\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(before), "step.start comes before run.start"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(load_err(nonode), "line 2 is corrupted: step.start names node 'zz'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(notype), "has no \"ev\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(twice), "a second run.start"));
	CU_ASSERT_PTR_NOT_NULL(strstr(load_err(gatechk), "no list of check names"));
}

/* snapshot_of - a run dir with the good journal and a state.json saved
 * from its replayed state, after fix(st) changed that state (may be NULL). */
static void snapshot_of(char *dir, size_t len, void (*fix)(run_state *))
{
	char err[512];
	long long end = 0;
	newdir(dir, len);
	write_journal(dir, good);
	run_state *st = state_load_at(dir, &end, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	if (fix)
		fix(st);
	CU_ASSERT_EQUAL(state_snapshot_save(st, dir, end), 0);
	state_free(st);
}

static void check_truth(const char *dir)
{
	char err[512];
	run_state *st = state_load(dir, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(st->nnodes, 3);
	CU_ASSERT_EQUAL(st->status, RUN_PAUSED);
	CU_ASSERT_EQUAL(st->nodes[0].status, NODE_SUCCEEDED);
	CU_ASSERT_EQUAL(st->nodes[1].status, NODE_WAITING);
	CU_ASSERT_EQUAL(st->nodes[2].status, NODE_PENDING);
	/* issue 7 item 8: a JSON null output stays JSON null */
	CU_ASSERT_PTR_NOT_NULL(st->nodes[0].output);
	CU_ASSERT_TRUE(json_is_null(st->nodes[0].output));
	state_free(st);
}

static void drop_nodes(run_state *st)
{
	/* nodes in another order than the plan's */
	char *t = st->nodes[0].name;
	st->nodes[0].name = st->nodes[2].name;
	st->nodes[2].name = t;
}

static void test_snapshot(void)
{
	char dir[256], path[512];
	/* a good snapshot is used, and keeps the null output */
	snapshot_of(dir, sizeof(dir), NULL);
	check_truth(dir);

	/* bytes changed (an approval marked given, the run completed): ignored */
	snapshot_of(dir, sizeof(dir), NULL);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	json_t *snap = json_load_file(path, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
	json_object_set_new(json_array_get(json_object_get(snap, "nodes"), 1), "status",
			    json_integer(NODE_APPROVED));
	json_object_set_new(snap, "status", json_integer(RUN_COMPLETED));
	json_dump_file(snap, path, JSON_COMPACT);
	json_decref(snap);
	check_truth(dir);

	/* a snapshot whose nodes are not the plan's (its sum is right) */
	snapshot_of(dir, sizeof(dir), drop_nodes);
	check_truth(dir);

	/* state.json a FIFO: never opened for long */
	snapshot_of(dir, sizeof(dir), NULL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
	CU_ASSERT_EQUAL(mkfifo(path, 0600), 0);
	check_truth(dir);
}

static void test_fifo_and_long_line(void)
{
	char dir[256], path[512], err[512];
	newdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	CU_ASSERT_EQUAL(mkfifo(path, 0600), 0);
	run_state *st = state_load(dir, err, sizeof(err));
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a regular file"));
	journal *j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a regular file"));
	journal_close(j);

	newdir(dir, sizeof(dir));
	write_journal(dir, good);
	journal_set_max_line(64);
	st = state_load(dir, err, sizeof(err));
	journal_set_max_line(0);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1 is longer than 64 bytes"));
	st = state_load(dir, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(st);
	state_free(st);
}

int main(void)
{
	if (!mkdtemp(tmproot))
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("state", NULL, NULL);
	CU_add_test(s, "a good journal replays", test_good);
	CU_add_test(s, "seq gaps, repeats, disorder, negative", test_seq);
	CU_add_test(s, "events of the wrong shape name the line", test_shapes);
	CU_add_test(s, "state.json checked against itself and the plan", test_snapshot);
	CU_add_test(s, "a FIFO journal, a line too long", test_fifo_and_long_line);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "%s", tmproot);
	/* leave the temp tree to the OS tmp cleaner only on failure */
	if (!failed) {
		pid_t p = fork();
		if (p == 0) {
			execlp("rm", "rm", "-rf", cmd, (char *)NULL);
			_exit(127);
		}
		if (p > 0)
			waitpid(p, NULL, 0);
	}
	return failed ? 1 : 0;
}
