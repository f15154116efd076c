/*
 * tests/unit/test_journal.c - CUnit tests of core/engine/journal.c: append and
 * replay, seq across reopen, torn and corrupted lines, newer formats, the
 * run lock held by another process, secrets, modes, unwritable places.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "host.h"
#include "journal.h"

static char tmproot[] = "/tmp/pgmove-test-journal-XXXXXX";
static int ncase;
static char logbuf[8192];

/* log_sink - keeps the last log lines for assertions. */
static void log_sink(void *user, pgm_log_level level, const char *line)
{
	size_t n = strlen(logbuf);

	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", line);
}

/* newdir - a fresh run directory path (not created) under the temp root,
 * two levels deep so journal_open must create parents. */
static void newdir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/case%d/rb/run", tmproot, ++ncase);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void append_raw(const char *dir, const char *file, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "ab");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void write_raw(const char *dir, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void write_lockfile(const char *dir, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/lock", dir);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* append_n - opens dir, appends n events {"type":"t","i":k}, closes. */
static void append_n(const char *dir, int n)
{
	char err[512];
	journal *j = journal_open(dir, NULL, err, sizeof(err));

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	for (int k = 0; k < n; k++) {
		json_t *ev = json_pack("{s:s, s:i}", "type", "t", "i", k);

		CU_ASSERT_EQUAL(journal_append(j, ev), 0);
		json_decref(ev);
	}
	journal_close(j);
}

/* A replay collector: the seqs and the "i" of every event. */
typedef struct collect {
	int n;
	long long seq[64];
	long long i[64];
	int stop_after;
	int bad_meta;
} collect;

static int collect_fn(void *user, json_t *ev)
{
	collect *c = user;
	const char *ts = json_string_value(json_object_get(ev, "ts"));

	if (json_integer_value(json_object_get(ev, "v")) != PGMOVE_JOURNAL_VERSION ||
	    !ts || strlen(ts) != 24 || ts[23] != 'Z' || ts[10] != 'T' || ts[19] != '.')
		c->bad_meta++;
	if (c->n < 64) {
		c->seq[c->n] = json_integer_value(json_object_get(ev, "seq"));
		c->i[c->n] = json_integer_value(json_object_get(ev, "i"));
	}
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static void test_append_replay_reopen(void)
{
	char dir[512], path[4096], err[512];
	collect c = {0};
	struct stat st;
	journal *j;
	int torn = -1;
	json_t *ev;

	newdir(dir, sizeof(dir));
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(torn, 0);
	CU_ASSERT_EQUAL(journal_seq(j), 0);
	CU_ASSERT_STRING_EQUAL(journal_dir(j), dir);
	/* modes */
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	/* the event's own v/seq/ts are replaced */
	ev = json_pack("{s:s, s:i, s:i, s:s, s:i}", "type", "t", "v", 99, "seq", 77,
		       "ts", "yesterday", "i", 0);
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	json_decref(ev);
	CU_ASSERT_EQUAL(journal_seq(j), 1);
	journal_close(j);

	append_n(dir, 2); /* i = 0, 1 */
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(journal_seq(j), 3);
	ev = json_pack("{s:s, s:i}", "type", "t", "i", 7);
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	json_decref(ev);
	CU_ASSERT_EQUAL(journal_seq(j), 4);
	/* a non-object is refused */
	ev = json_integer(3);
	CU_ASSERT_EQUAL(journal_append(j, ev), -1);
	json_decref(ev);
	CU_ASSERT_EQUAL(journal_seq(j), 4);
	journal_close(j);

	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, &torn, err, sizeof(err)), 4);
	CU_ASSERT_EQUAL(torn, 0);
	CU_ASSERT_EQUAL(c.n, 4);
	CU_ASSERT_EQUAL(c.bad_meta, 0);
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(c.seq[k], k + 1);
	CU_ASSERT_EQUAL(c.i[0], 0);
	CU_ASSERT_EQUAL(c.i[1], 0);
	CU_ASSERT_EQUAL(c.i[2], 1);
	CU_ASSERT_EQUAL(c.i[3], 7);

	/* the callback stops the replay */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, NULL, err, sizeof(err)), 2);
	CU_ASSERT_EQUAL(c.n, 2);

	/* every line is one compact JSON object starting with v, seq, ts */
	char *text = slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(strncmp(text, "{\"v\":1,\"seq\":1,\"ts\":\"", 21), 0);
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	CU_ASSERT_EQUAL(lines, 4);
	free(text);
}

static void test_replay_missing(void)
{
	char err[512];
	collect c = {0};

	CU_ASSERT_EQUAL(journal_replay("/nonexistent/pgmove/run", collect_fn, &c, NULL,
				       err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open journal /nonexistent/pgmove/run/journal.jsonl"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
}

static void test_torn_last_line(void)
{
	char dir[512], path[4096], err[512];
	const char *half = "{\"v\":1,\"seq\":3,\"ts\":\"2024-01-01T00:00:00.000Z\",\"ty";
	collect c = {0};
	journal *j;
	int torn = 0;
	char *text;
	size_t len;
	json_t *ev;

	newdir(dir, sizeof(dir));
	append_n(dir, 2);
	append_raw(dir, "journal.jsonl", half);

	/* replay skips it */
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, &torn, err, sizeof(err)), 2);
	CU_ASSERT_EQUAL(torn, 1);
	CU_ASSERT_EQUAL(c.n, 2);

	/* open moves it aside and cuts it */
	logbuf[0] = '\0';
	torn = 0;
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(torn, 1);
	CU_ASSERT_EQUAL(journal_seq(j), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(logbuf, "journal.torn.1"));
	snprintf(path, sizeof(path), "%s/journal.torn.1", dir);
	text = slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_STRING_EQUAL(text, half);
	free(text);

	/* the next append lands on its own line */
	ev = json_pack("{s:s, s:i}", "type", "t", "i", 5);
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	json_decref(ev);
	CU_ASSERT_EQUAL(journal_seq(j), 3);
	journal_close(j);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	text = slurp(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strstr(text, "\"ty{"));
	CU_ASSERT_EQUAL(text[len - 1], '\n');
	free(text);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, &torn, err, sizeof(err)), 3);
	CU_ASSERT_EQUAL(torn, 0);
	CU_ASSERT_EQUAL(c.seq[2], 3);
	CU_ASSERT_EQUAL(c.i[2], 5);

	/* a second torn line goes to journal.torn.2; torn.1 is kept */
	append_raw(dir, "journal.jsonl", "{\"v\":1");
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(torn, 1);
	CU_ASSERT_EQUAL(journal_seq(j), 3);
	journal_close(j);
	snprintf(path, sizeof(path), "%s/journal.torn.2", dir);
	text = slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_STRING_EQUAL(text, "{\"v\":1");
	free(text);
	snprintf(path, sizeof(path), "%s/journal.torn.1", dir);
	text = slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_STRING_EQUAL(text, half);
	free(text);
}

/* A complete last line that is garbage (a crash can leave one) is treated
 * like a torn one by both replay and open. */
static void test_garbage_last_line(void)
{
	char dir[512], err[512];
	collect c = {0};
	journal *j;
	int torn = 0;

	newdir(dir, sizeof(dir));
	append_n(dir, 2);
	append_raw(dir, "journal.jsonl", "\x01\x02garbage\n");
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, &torn, err, sizeof(err)), 2);
	CU_ASSERT_EQUAL(torn, 1);
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(torn, 1);
	CU_ASSERT_EQUAL(journal_seq(j), 2);
	journal_close(j);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, &torn, err, sizeof(err)), 2);
	CU_ASSERT_EQUAL(torn, 0);

	/* a journal that is only a torn line starts again at seq 1 */
	newdir(dir, sizeof(dir));
	append_n(dir, 0);
	write_raw(dir, "{\"v\":1,\"se");
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(torn, 1);
	CU_ASSERT_EQUAL(journal_seq(j), 0);
	json_t *ev = json_pack("{s:s}", "type", "t");
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	json_decref(ev);
	CU_ASSERT_EQUAL(journal_seq(j), 1);
	journal_close(j);
}

/* Long lines (longer than the 64 KiB chunks open reads the tail in) and
 * many lines stream through replay and open. */
static void test_long_and_many_lines(void)
{
	char dir[512], err[512], line[256];
	size_t big = 200000;
	char *s = malloc(big + 1);
	collect c = {0};
	journal *j;
	json_t *ev;
	int torn = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(s, 'a', big);
	s[big] = '\0';
	newdir(dir, sizeof(dir));
	append_n(dir, 1);
	for (int k = 2; k <= 3000; k++) {
		snprintf(line, sizeof(line),
			 "{\"v\":1,\"seq\":%d,\"ts\":\"2024-01-01T00:00:00.000Z\",\"i\":%d}\n", k, k);
		append_raw(dir, "journal.jsonl", line);
	}
	j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(journal_seq(j), 3000);
	ev = json_pack("{s:s, s:s}", "type", "big", "blob", s);
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	journal_close(j);
	/* a torn copy of the long line after it */
	append_raw(dir, "journal.jsonl", "{\"v\":1,\"seq\":3002,\"blob\":\"");
	append_raw(dir, "journal.jsonl", s);
	j = journal_open(dir, &torn, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(torn, 1);
	CU_ASSERT_EQUAL(journal_seq(j), 3001);
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	CU_ASSERT_EQUAL(journal_seq(j), 3002);
	json_decref(ev);
	journal_close(j);
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, &torn, err, sizeof(err)), 3002);
	CU_ASSERT_EQUAL(torn, 0);
	free(s);
}

static void test_corrupt_middle_line(void)
{
	char dir[512], err[512], path[4096];
	collect c = {0};
	char *text, *nl1, *nl2;
	FILE *f;

	newdir(dir, sizeof(dir));
	append_n(dir, 3);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	text = slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	nl1 = strchr(text, '\n');
	nl2 = strchr(nl1 + 1, '\n');
	f = fopen(path, "wb");
	fwrite(text, 1, (size_t)(nl1 + 1 - text), f);
	fputs("{\"v\":1,\"seq\":2,\"broken\n", f); /* line 2 */
	fputs(nl2 + 1, f);
	fclose(f);
	free(text);
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not valid JSON"));
	CU_ASSERT_EQUAL(c.n, 1);

	/* a line that is JSON but no event, in the middle */
	newdir(dir, sizeof(dir));
	append_n(dir, 1);
	append_raw(dir, "journal.jsonl", "[1,2]\n");
	append_raw(dir, "journal.jsonl",
		   "{\"v\":1,\"seq\":3,\"ts\":\"2030-01-01T00:00:00.000Z\",\"type\":\"x\"}\n");
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2 is not a pgmove journal event"));
}

static void test_newer_version(void)
{
	char dir[512], err[512];
	collect c = {0};
	journal *j;

	newdir(dir, sizeof(dir));
	append_n(dir, 2);
	append_raw(dir, "journal.jsonl",
		   "{\"v\":2,\"seq\":3,\"ts\":\"2030-01-01T00:00:00.000Z\",\"type\":\"x\"}\n");
	/* as the last line: replay and open refuse it */
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3 was written by a newer pgmove (format 2; this one reads 1)"));
	j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(j);
	journal_close(j);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "newer pgmove"));
	/* in the middle */
	append_raw(dir, "journal.jsonl",
		   "{\"v\":1,\"seq\":4,\"ts\":\"2030-01-01T00:00:00.000Z\",\"type\":\"x\"}\n");
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL(journal_replay(dir, collect_fn, &c, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 3 was written by a newer pgmove"));
	CU_ASSERT_EQUAL(c.n, 2);
}

static void test_lock(void)
{
	char dir[512], err[512], want[64], ch;
	int ready[2], go[2], status;
	journal *j;
	pid_t pid;
	struct timespec t0, t1;

	newdir(dir, sizeof(dir));
	append_n(dir, 1);
	CU_ASSERT_EQUAL(journal_lock_holder(dir), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		journal *cj;

		close(ready[0]);
		close(go[1]);
		cj = journal_open(dir, NULL, err, sizeof(err));
		ch = cj ? 'y' : 'n';
		if (write(ready[1], &ch, 1) != 1)
			_exit(2);
		if (read(go[0], &ch, 1) < 0)
			_exit(2);
		journal_close(cj);
		_exit(cj ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	CU_ASSERT_EQUAL(read(ready[0], &ch, 1), 1);
	CU_ASSERT_EQUAL(ch, 'y');

	clock_gettime(CLOCK_MONOTONIC, &t0);
	j = journal_open(dir, NULL, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CU_ASSERT_PTR_NULL(j);
	journal_close(j);
	snprintf(want, sizeof(want), "in use by pgmove pid %ld", (long)pid);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, " since 20"));
	/* at once: well under a second */
	CU_ASSERT((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	CU_ASSERT_EQUAL(journal_lock_holder(dir), (long)pid);

	/* the child exits: the lock is free again */
	CU_ASSERT_EQUAL(write(go[1], "x", 1), 1);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(go[1]);
	CU_ASSERT_EQUAL(journal_lock_holder(dir), 0);
	j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(journal_seq(j), 1);
	CU_ASSERT_EQUAL(journal_lock_holder(dir), (long)getpid());
	/* a second open in the same process is refused too */
	journal *j2 = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(j2);
	journal_close(j2);
	snprintf(want, sizeof(want), "in use by pgmove pid %ld", (long)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	journal_close(j);
	CU_ASSERT_EQUAL(journal_lock_holder(dir), 0);

	/* a name left in the lock file by a crashed holder does not matter */
	write_lockfile(dir, "{\"pid\":999999999,\"host\":\"x\",\"started\":\"2020\"}\n");
	CU_ASSERT_EQUAL(journal_lock_holder(dir), 0);
	j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(j);
	journal_close(j);
}

static void test_secrets_redacted(void)
{
	char dir[512], err[512], path[4096];
	const char *secret = "Sup3r-s3cret-t0ken-value";
	journal *j;
	json_t *ev;
	char *text;

	newdir(dir, sizeof(dir));
	pgm_secret_add(secret);
	j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	ev = json_pack("{s:s, s:s, s:{s:[s]}}", "type", "step.failed", "message",
		       "login with Sup3r-s3cret-t0ken-value failed", "output", "nested",
		       "token Sup3r-s3cret-t0ken-value!");
	CU_ASSERT_EQUAL(journal_append(j, ev), 0);
	/* the caller's event is not changed */
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(ev, "message")), secret));
	json_decref(ev);
	journal_close(j);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	text = slurp(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NULL(strstr(text, secret));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "step.failed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "login with "));
	free(text);
	pgm_secret_reset();
}

/* run_as_nobody - forks, drops to user nobody, tries journal_open(dir),
 * and returns the error message it got ("" when it succeeded). */
static void run_as_nobody(const char *dir, char *out, size_t outlen)
{
	struct passwd *pw = getpwnam("nobody");
	int p[2], status;
	pid_t pid;
	ssize_t n;

	out[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(pw);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char err[512] = "";
		journal *j;

		close(p[0]);
		if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			_exit(3);
		j = journal_open(dir, NULL, err, sizeof(err));
		journal_close(j);
		if (write(p[1], err, strlen(err)) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_unwritable(void)
{
	char base[256], dir[1100], file[1024], err[512], want[2048];
	journal *j;
	FILE *f;

	/* a path under a regular file */
	snprintf(base, sizeof(base), "%s/case%d", tmproot, ++ncase);
	CU_ASSERT_EQUAL_FATAL(mkdir(base, 0755), 0);
	snprintf(file, sizeof(file), "%s/plain", base);
	f = fopen(file, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/rb/run", file);
	j = journal_open(dir, NULL, err, sizeof(err));
	CU_ASSERT_PTR_NULL(j);
	journal_close(j);
	snprintf(want, sizeof(want), "cannot create run directory %s: Not a directory", dir);
	CU_ASSERT_STRING_EQUAL(err, want);

	/* a directory this user may not write to */
	snprintf(dir, sizeof(dir), "%s/ro", base);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/ro/rb/run", base);
	snprintf(want, sizeof(want), "cannot create run directory %s: Permission denied", dir);
	if (geteuid() == 0) {
		CU_ASSERT_EQUAL(chmod(tmproot, 0755), 0);
		run_as_nobody(dir, err, sizeof(err));
		CU_ASSERT_STRING_EQUAL(err, want);
		CU_ASSERT_EQUAL(chmod(tmproot, 0700), 0);
	} else {
		snprintf(file, sizeof(file), "%s/ro", base);
		CU_ASSERT_EQUAL(chmod(file, 0555), 0);
		j = journal_open(dir, NULL, err, sizeof(err));
		CU_ASSERT_PTR_NULL(j);
		journal_close(j);
		CU_ASSERT_STRING_EQUAL(err, want);
		CU_ASSERT_EQUAL(chmod(file, 0755), 0);
	}
}

/* rm_rf - removes the temp tree (tests leave nothing behind). */
static int rm_rf(const char *path)
{
	char cmd[4096];
	pid_t pid;
	int status;

	snprintf(cmd, sizeof(cmd), "%s", path);
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", cmd, (char *)NULL);
		_exit(127);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(void)
{
	CU_pSuite s;
	unsigned failures;

	if (!mkdtemp(tmproot)) {
		perror("mkdtemp");
		return 1;
	}
	pgm_log_set_sink(log_sink, NULL);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("journal", NULL, NULL);
	CU_add_test(s, "append, replay, seq across reopen, modes", test_append_replay_reopen);
	CU_add_test(s, "replay of a missing journal", test_replay_missing);
	CU_add_test(s, "torn last line", test_torn_last_line);
	CU_add_test(s, "garbage last line", test_garbage_last_line);
	CU_add_test(s, "long and many lines", test_long_and_many_lines);
	CU_add_test(s, "corrupted middle line", test_corrupt_middle_line);
	CU_add_test(s, "newer format refused", test_newer_version);
	CU_add_test(s, "run lock held by another process", test_lock);
	CU_add_test(s, "secrets never reach the file", test_secrets_redacted);
	CU_add_test(s, "unwritable places", test_unwritable);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	pgm_log_set_sink(NULL, NULL);
	rm_rf(tmproot);
	return failures ? 1 : 0;
}
