/* tests/unit/test_child.c - pgm_child_run and pgm_tempfile against real
 * children (/bin/sh scripts passed as arguments, never through a shell of
 * ours). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "cu_host.h"

typedef struct lines {
	int n[2];           /* lines seen on stdout, stderr */
	size_t longest;
	char last[2][256];
} lines;

static void on_line(void *user, int is_stderr, const char *line)
{
	lines *l = user;

	l->n[is_stderr]++;
	if (strlen(line) > l->longest)
		l->longest = strlen(line);
	snprintf(l->last[is_stderr], sizeof(l->last[0]), "%s", line);
}

/* run_sh - runs /bin/sh -c script with the given env additions. */
static int run_sh(pgm_call *call, const char *script, const char *const *env, lines *l,
		  pgm_child_result *res)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	pgm_child_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.env = env;
	spec.line_fn = on_line;
	spec.user = l;
	return pgm_child_run(call, &spec, res);
}

static void test_status(void)
{
	pgm_call *call = pgm_call_new("t", "child");
	pgm_child_result res;
	lines l;

	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(run_sh(call, "echo out; echo err >&2; exit 3", NULL, &l, &res), 0);
	CU_ASSERT_EQUAL(res.exited, 1);
	CU_ASSERT_EQUAL(res.status, 3);
	CU_ASSERT_STRING_EQUAL(l.last[0], "out");
	CU_ASSERT_STRING_EQUAL(l.last[1], "err");
	CU_ASSERT_STRING_EQUAL(res.stderr_tail, "err\n");
	pgm_child_result_free(&res);

	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(run_sh(call, "kill -KILL $$", NULL, &l, &res), 0);
	CU_ASSERT_EQUAL(res.exited, 0);
	CU_ASSERT_EQUAL(res.status, SIGKILL);
	pgm_child_result_free(&res);

	{
		const char *argv[] = {"pgmove-no-such-program", NULL};
		pgm_child_spec spec;

		memset(&spec, 0, sizeof(spec));
		spec.argv = argv;
		CU_ASSERT_EQUAL(pgm_child_run(call, &spec, &res), -1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pgm_error_code(call));
		CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "child.start");
		CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "pgmove-no-such-program"));
		pgm_child_result_free(&res);
	}
	CU_ASSERT_FALSE(pgm_failed(NULL));
	pgm_call_free(call);
}

static void test_lines(void)
{
	pgm_call *call = pgm_call_new("t", "child");
	pgm_child_result res;
	lines l;

	/* 20000 lines, one line of 100000 bytes, a last line without newline */
	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(run_sh(call,
			       "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done; "
			       "head -c 100000 /dev/zero | tr '\\0' x; echo; printf 'tail-no-newline'",
			       NULL, &l, &res), 0);
	CU_ASSERT_EQUAL(res.exited, 1);
	CU_ASSERT_EQUAL(res.status, 0);
	CU_ASSERT_EQUAL(l.n[0], 20002);
	CU_ASSERT_EQUAL(l.longest, 100000);
	CU_ASSERT_STRING_EQUAL(l.last[0], "tail-no-newline");
	pgm_child_result_free(&res);

	/* the tail keeps the last lines of stderr, at most 4 KiB */
	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(run_sh(call,
			       "i=0; while [ $i -lt 1000 ]; do echo \"error line $i\" >&2; i=$((i+1)); done",
			       NULL, &l, &res), 0);
	CU_ASSERT_EQUAL(l.n[1], 1000);
	CU_ASSERT(strlen(res.stderr_tail) <= 4096 && strlen(res.stderr_tail) > 3500);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.stderr_tail, "error line 999\n"));
	CU_ASSERT_PTR_NULL(strstr(res.stderr_tail, "error line 1\n"));
	CU_ASSERT_EQUAL(strncmp(res.stderr_tail, "error line ", 11), 0); /* whole lines */
	pgm_child_result_free(&res);
	pgm_call_free(call);
}

static void test_env_and_redaction(void)
{
	pgm_call *call = pgm_call_new("t", "child");
	const char *env[] = {"PGPASSWORD=Sup3rS3cret!", "PGMOVE_TEST_VAR=hello world", NULL};
	pgm_child_result res;
	lines l;

	pgm_secret_add("Sup3rS3cret!");
	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(run_sh(call,
			       "echo \"$PGMOVE_TEST_VAR\"; echo \"auth with $PGPASSWORD failed\" >&2; exit 1",
			       env, &l, &res), 0);
	CU_ASSERT_STRING_EQUAL(l.last[0], "hello world");
	CU_ASSERT_EQUAL(res.status, 1);
	CU_ASSERT_PTR_NULL(strstr(res.stderr_tail, "Sup3rS3cret"));
	CU_ASSERT_STRING_EQUAL(res.stderr_tail, "auth with ******** failed\n");
	pgm_child_result_free(&res);
	pgm_secret_reset();
	pgm_call_free(call);
}

static void test_files(void)
{
	pgm_call *call = pgm_call_new("t", "child");
	const char *argv[] = {"tr", "a-z", "A-Z", NULL};
	pgm_child_spec spec;
	pgm_child_result res;
	char *in, *out, buf[64] = "";
	struct stat st;
	FILE *f;

	in = pgm_tempfile(call, "in", "hello pgmove\n", 13);
	out = pgm_tempfile(call, "out", NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(stat(in, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	{
		char *dir = strdup(in);

		*strrchr(dir, '/') = '\0';
		CU_ASSERT_EQUAL(stat(dir, &st), 0);
		CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
		free(dir);
	}
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.stdin_path = in;
	spec.stdout_path = out;
	spec.cwd = "/";
	CU_ASSERT_EQUAL(pgm_child_run(call, &spec, &res), 0);
	CU_ASSERT_EQUAL(res.status, 0);
	pgm_child_result_free(&res);
	f = fopen(out, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof(buf), f));
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "HELLO PGMOVE\n");
	free(in);
	free(out);
	pgm_call_free(call);
}

static void test_cancel(void)
{
	pgm_call *call = pgm_call_new("t", "child");
	pgm_child_result res;
	long long t0 = pgm_now_ms();
	lines l;

	/* the deadline passes while the child sleeps: SIGTERM ends it */
	memset(&l, 0, sizeof(l));
	pgm_call_set_deadline_ms(call, t0 + 300);
	CU_ASSERT_EQUAL(run_sh(call, "echo started; exec sleep 30", NULL, &l, &res), -1);
	CU_ASSERT(pgm_now_ms() - t0 < 3000);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.timeout");
	CU_ASSERT_EQUAL(res.exited, 0);
	CU_ASSERT_EQUAL(res.status, SIGTERM);
	CU_ASSERT_STRING_EQUAL(l.last[0], "started");
	pgm_child_result_free(&res);

	/* a child that ignores SIGTERM gets SIGKILL after 5 s */
	pgm_clear_error(call);
	t0 = pgm_now_ms();
	pgm_call_set_deadline_ms(call, t0 + 300);
	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(run_sh(call, "trap '' TERM; sleep 30", NULL, &l, &res), -1);
	CU_ASSERT(pgm_now_ms() - t0 >= 5200 && pgm_now_ms() - t0 < 8000);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.timeout");
	CU_ASSERT_EQUAL(res.exited, 0);
	CU_ASSERT_EQUAL(res.status, SIGKILL);
	pgm_child_result_free(&res);

	/* cancellation before the start: nothing runs */
	pgm_clear_error(call);
	pgm_call_set_deadline_ms(call, 0);
	pgm_cancel_request(SIGINT);
	CU_ASSERT_EQUAL(run_sh(call, "exit 0", NULL, &l, &res), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.cancelled");
	pgm_child_result_free(&res);
	pgm_cancel_reset();
	pgm_call_free(call);
}

/* test_parent_death - a child outlives nothing: when the process that ran
 * it is killed with SIGKILL, the kernel sends the child SIGTERM. */
static void test_parent_death(void)
{
	char pidfile[] = "/tmp/pgmove-child-XXXXXX";
	int fd = mkstemp(pidfile);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	pid_t runner = fork();
	if (runner == 0) {
		/* the child writes its own pid, then sleeps long */
		const char *argv[] = { "/bin/sh", "-c", "echo $$ > \"$1\"; exec sleep 60", "sh",
				       pidfile, NULL };
		pgm_child_spec spec = { .argv = argv };
		pgm_child_result res;
		pgm_call *call = pgm_call_new(NULL, NULL);
		pgm_child_run(call, &spec, &res);
		_exit(0);
	}
	long child = 0;
	for (int i = 0; i < 200 && child <= 0; i++) {
		FILE *f = fopen(pidfile, "r");
		if (f) {
			if (fscanf(f, "%ld", &child) != 1)
				child = 0;
			fclose(f);
		}
		if (child <= 0)
			usleep(20000);
	}
	CU_ASSERT_FATAL(child > 0);
	CU_ASSERT_EQUAL(kill((pid_t)child, 0), 0); /* running */
	kill(runner, SIGKILL);
	waitpid(runner, NULL, 0);
	int gone = 0;
	for (int i = 0; i < 250 && !gone; i++) {
		char path[64], state = '?';
		snprintf(path, sizeof(path), "/proc/%ld/stat", child);
		FILE *f = fopen(path, "r");
		if (!f) {
			gone = 1;
			break;
		}
		/* a zombie (reaped by init soon) counts as gone */
		if (fscanf(f, "%*d %*s %c", &state) == 1 && state == 'Z')
			gone = 1;
		fclose(f);
		if (!gone)
			usleep(20000);
	}
	CU_ASSERT(gone);
	if (!gone)
		kill((pid_t)child, SIGKILL);
	unlink(pidfile);
}

int main(void)
{
	static const cu_test tests[] = {
		{"the child is stopped when pgmove dies", test_parent_death},
		{"exit status, signal, start failure", test_status},
		{"line splitting and stderr tail", test_lines},
		{"env and redacted tail", test_env_and_redaction},
		{"stdin/stdout files and tempfile", test_files},
		{"cancel: SIGTERM, then SIGKILL", test_cancel},
		{NULL, NULL}};

	return cu_run("child", tests);
}
