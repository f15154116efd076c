/*
 * core/engine/journal.c - the run's durable journal (journal.jsonl) and its lock.
 *
 * Every event is one line of compact JSON written with a single write()
 * and fsync'd before journal_append returns. A crash can only leave a torn
 * last line behind; journal_open moves it aside and journal_replay skips
 * it. The run lock is an flock() on dir/lock, whose content names the
 * holder (pid, host, start time) for the message a second process prints.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "eclock.h"
#include "journal.h"

#define JOURNAL_FILE "journal.jsonl"
#define LOCK_FILE "lock"
#define TAIL_CHUNK 65536

struct journal {
	char *dir;
	char *path;     /* dir/journal.jsonl */
	int fd;         /* journal, O_APPEND */
	int lockfd;     /* dir/lock, flock'ed */
	long long seq;  /* seq of the last event */
	off_t size;     /* bytes of complete lines in the file */
	char ts[40];    /* "ts" of the last event appended */
	int broken;     /* a write or fsync failed: no more appends */
};

/* The longest line replay reads (journal_set_max_line): a line that never
 * ends must not grow memory without bound. */
static size_t max_line = JOURNAL_MAX_LINE;

void journal_set_max_line(size_t bytes)
{
	max_line = bytes ? bytes : JOURNAL_MAX_LINE;
}

/* read_line - getline with a bound: the next line (with its newline, if
 * any) into *buf; its length, -1 at the end of the file or on a read
 * error, -2 when the line is longer than max_line (the rest of it unread). */
static ssize_t read_line(FILE *f, char **buf, size_t *cap)
{
	size_t n = 0;
	int c;

	while ((c = getc_unlocked(f)) != EOF) {
		if (n + 2 > *cap) {
			size_t ncap = *cap ? *cap * 2 : 4096;
			char *nb;

			if (ncap > max_line + 2)
				ncap = max_line + 2;
			if (n + 2 > ncap)
				return -2;
			nb = realloc(*buf, ncap);
			if (!nb)
				return -1;
			*buf = nb;
			*cap = ncap;
		}
		(*buf)[n++] = (char)c;
		if (c == '\n')
			break;
		if (n > max_line)
			return -2;
	}
	if (n == 0)
		return -1;
	(*buf)[n] = '\0';
	return (ssize_t)n;
}

/* open_regular - opens path read-only without blocking on a FIFO, and
 * only when it is a regular file; a FILE, or NULL with errno set (EINVAL
 * for a file that is not regular). */
static FILE *open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	/* back to blocking reads for a regular file */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* path_join - "dir/name", malloc'd; NULL when out of memory. */
static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* format_ts - UTC time now as RFC 3339 with milliseconds into buf. */
static void format_ts(char *buf, size_t len)
{
	long long ms = eclock_wall_ms(); /* virtual under pgmove test */
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

static int no_fsync; /* pgmove test: a throwaway journal need not be durable */

void journal_set_fsync(int on)
{
	no_fsync = !on;
}

/* fsync_dir - fsyncs a directory so a new entry in it is durable. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* mkdir_p - creates dir and its missing parents with mode 0700; the run
 * directory itself is set to exactly 0700 when this creates it. */
static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	char *p = strdup(dir);
	struct stat st;
	size_t i, n;
	int created = 0;

	if (!p) {
		snprintf(err, errlen, "cannot create run directory %s: %s", dir,
			 strerror(ENOMEM));
		return -1;
	}
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == 0) {
			created = (i == n);
		} else if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create run directory %s: %s",
				 dir, strerror(errno));
			free(p);
			return -1;
		}
		if (i < n)
			p[i] = '/';
	}
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot create run directory %s: %s", dir,
			 strerror(errno ? errno : ENOTDIR));
		free(p);
		return -1;
	}
	if (created && chmod(p, 0700) != 0) {
		snprintf(err, errlen, "cannot set mode 0700 on run directory %s: %s",
			 dir, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

/* read_holder - parses the lock file's content {"pid","host","started"}.
 * Returns the pid (0 when unreadable); host and since are filled in. */
static long read_holder(int fd, char *host, size_t hostlen, char *since,
			size_t sincelen)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	json_t *o;
	long pid = 0;

	if (host && hostlen)
		host[0] = '\0';
	if (since && sincelen)
		since[0] = '\0';
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	o = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return 0;
	}
	if (json_is_integer(json_object_get(o, "pid")))
		pid = (long)json_integer_value(json_object_get(o, "pid"));
	if (host && json_is_string(json_object_get(o, "host")))
		snprintf(host, hostlen, "%s", json_string_value(json_object_get(o, "host")));
	if (since && json_is_string(json_object_get(o, "started")))
		snprintf(since, sincelen, "%s",
			 json_string_value(json_object_get(o, "started")));
	json_decref(o);
	return pid;
}

/* take_lock - opens dir/lock and flocks it without waiting; writes this
 * process's pid, host and start time into it. Returns the fd or -1 with
 * the reason (naming the holder when there is one) in err. */
static int take_lock(const char *dir, int *busy, char *err, size_t errlen)
{
	char *path = path_join(dir, LOCK_FILE);
	char host[256], since[64], buf[512];
	json_t *o;
	char *text;
	int fd, tries;

	if (!path) {
		snprintf(err, errlen, "run directory %s: %s", dir, strerror(ENOMEM));
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	/* Another process may hold the lock (fail at once, naming it), or be
	 * between taking it and writing its name, or only probing it
	 * (journal_lock_holder): retry for up to ~100 ms while no live holder
	 * is named in the file. */
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; tries++) {
		long pid;

		if (errno != EWOULDBLOCK) {
			snprintf(err, errlen, "cannot lock run directory %s: %s", dir,
				 strerror(errno));
			close(fd);
			return -1;
		}
		pid = read_holder(fd, host, sizeof(host), since, sizeof(since));
		if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 &&
		    errno == ESRCH)
			pid = 0; /* stale name left by a crashed holder */
		if (pid > 0 || tries >= 20) {
			*busy = 1;
			if (pid > 0)
				snprintf(err, errlen,
					 "run directory %s is in use by pgmove pid %ld on %s since %s",
					 dir, pid, host[0] ? host : "?", since[0] ? since : "?");
			else
				snprintf(err, errlen,
					 "run directory %s is in use by another pgmove process", dir);
			close(fd);
			return -1;
		}
		usleep(5000);
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	format_ts(since, sizeof(since));
	o = json_pack("{s:I, s:s, s:s}", "pid", (json_int_t)getpid(), "host", host,
		      "started", since);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	snprintf(buf, sizeof(buf), "%s\n", text ? text : "{}");
	free(text);
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
		snprintf(err, errlen, "cannot write lock file in %s: %s", dir,
			 strerror(errno));
		flock(fd, LOCK_UN);
		close(fd);
		return -1;
	}
	return fd;
}

/* prev_newline - the offset of the last '\n' before offset end, or -1. */
static off_t prev_newline(int fd, off_t end, int *ioerr)
{
	char buf[TAIL_CHUNK];

	*ioerr = 0;
	while (end > 0) {
		off_t start = end > TAIL_CHUNK ? end - TAIL_CHUNK : 0;
		size_t len = (size_t)(end - start);
		ssize_t n = pread(fd, buf, len, start);

		if (n != (ssize_t)len) {
			*ioerr = n < 0 ? errno : EIO;
			return -1;
		}
		for (size_t i = len; i > 0; i--)
			if (buf[i - 1] == '\n')
				return start + (off_t)(i - 1);
		end = start;
	}
	return -1;
}

/* event_check - checks one parsed line: an object with integer "v" no
 * larger than ours and an integer "seq". 0 ok, -1 not an event (message
 * in err), -2 newer format (message in err). */
static int event_check(const json_t *ev, const char *path, long long line,
		       char *err, size_t errlen)
{
	json_t *v = json_object_get(ev, "v");

	if (!json_is_object(ev) || !json_is_integer(v) ||
	    !json_is_integer(json_object_get(ev, "seq"))) {
		snprintf(err, errlen, "journal %s line %lld is not a pgmove journal event",
			 path, line);
		return -1;
	}
	if (json_integer_value(v) > PGMOVE_JOURNAL_VERSION) {
		snprintf(err, errlen,
			 "journal %s line %lld was written by a newer pgmove (format %lld; this one reads %d)",
			 path, line, (long long)json_integer_value(v), PGMOVE_JOURNAL_VERSION);
		return -2;
	}
	return 0;
}

/* parse_range - parses the bytes [start, end) of fd as one event. Returns
 * the event (new reference) or NULL; *newer is set when the event is of a
 * newer format (message in err). */
static json_t *parse_range(int fd, off_t start, off_t end, const char *path,
			   int *newer, char *err, size_t errlen)
{
	size_t len = (size_t)(end - start);
	char *buf = malloc(len + 1);
	json_t *ev = NULL;

	*newer = 0;
	if (!buf)
		return NULL;
	if (pread(fd, buf, len, start) == (ssize_t)len)
		ev = json_loadb(buf, len, JSON_ALLOW_NUL, NULL);
	free(buf);
	if (ev) {
		int rc = event_check(ev, path, 0, err, errlen);

		if (rc == -2) {
			/* no line number without counting; name the last one */
			snprintf(err, errlen,
				 "journal %s: its last event was written by a newer pgmove (format %lld; this one reads %d)",
				 path, (long long)json_integer_value(json_object_get(ev, "v")),
				 PGMOVE_JOURNAL_VERSION);
			*newer = 1;
		}
		if (rc != 0) {
			json_decref(ev);
			ev = NULL;
		}
	}
	return ev;
}

/* move_torn - copies the bytes [from, size) of the journal to the first
 * free dir/journal.torn.<n>, fsyncs it, then cuts them from the journal. */
static int move_torn(journal *j, off_t from, off_t size, char *err, size_t errlen)
{
	size_t len = (size_t)(size - from);
	char *buf = malloc(len ? len : 1);
	char name[64], *path = NULL;
	int fd = -1, n;

	if (!buf) {
		snprintf(err, errlen, "journal %s: %s", j->path, strerror(ENOMEM));
		return -1;
	}
	if (pread(j->fd, buf, len, from) != (ssize_t)len) {
		snprintf(err, errlen, "cannot read journal %s: %s", j->path, strerror(errno));
		goto fail;
	}
	for (n = 1; n < 10000; n++) {
		snprintf(name, sizeof(name), "journal.torn.%d", n);
		free(path);
		path = path_join(j->dir, name);
		if (!path)
			break;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot move torn line of journal %s aside to %s: %s",
			 j->path, path ? path : name, strerror(errno));
		goto fail;
	}
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		goto fail;
	}
	close(fd);
	if (ftruncate(j->fd, from) != 0 || fsync(j->fd) != 0) {
		snprintf(err, errlen, "cannot cut torn line from journal %s: %s",
			 j->path, strerror(errno));
		goto fail;
	}
	fsync_dir(j->dir);
	pgm_warn("journal %s: torn last line (%zu bytes) moved to %s", j->path, len, path);
	free(path);
	free(buf);
	return 0;
fail:
	free(path);
	free(buf);
	return -1;
}

/* scan_tail - finds the last complete event of the journal (its seq) and
 * a torn tail after it: bytes without a final newline, or a last line that
 * does not parse. The tail is moved aside. */
static int scan_tail(journal *j, int *torn, char *err, size_t errlen)
{
	struct stat st;
	off_t size, nl, prev, cut;
	int ioerr, newer = 0, pass;
	json_t *ev = NULL;

	if (fstat(j->fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat journal %s: %s", j->path, strerror(errno));
		return -1;
	}
	size = st.st_size;
	cut = size;
	/* bytes after the last newline are torn */
	nl = prev_newline(j->fd, size, &ioerr);
	if (ioerr)
		goto ioerror;
	if (nl + 1 < size)
		cut = nl + 1;
	/* the last complete line must be an event; if it is not, it is torn
	 * too (a crash can leave garbage before a newline), but only once */
	for (pass = 0; pass < 2 && cut > 0; pass++) {
		prev = prev_newline(j->fd, cut - 1, &ioerr);
		if (ioerr)
			goto ioerror;
		ev = parse_range(j->fd, prev + 1, cut - 1, j->path, &newer, err, errlen);
		if (ev || newer)
			break;
		if (pass == 1) {
			snprintf(err, errlen,
				 "journal %s is corrupted: its last two lines are not events",
				 j->path);
			return -1;
		}
		cut = prev + 1;
	}
	if (newer)
		return -1;
	j->seq = ev ? (long long)json_integer_value(json_object_get(ev, "seq")) : 0;
	json_decref(ev);
	if (cut < size) {
		if (move_torn(j, cut, size, err, errlen) != 0)
			return -1;
		if (torn)
			*torn = 1;
	}
	j->size = cut;
	return 0;
ioerror:
	snprintf(err, errlen, "cannot read journal %s: %s", j->path, strerror(ioerr));
	return -1;
}

/* journal_open - see journal.h. The journal is opened O_APPEND; on
 * creation the file and the directory entry are fsync'd. */
journal *journal_open(const char *dir, int *torn, char *err, size_t errlen)
{
	return journal_open_run(dir, torn, NULL, err, errlen);
}

/* journal_open_run - see journal.h. */
journal *journal_open_run(const char *dir, int *torn, int *busy, char *err, size_t errlen)
{
	journal *j;
	int created = 0, held = 0;

	if (torn)
		*torn = 0;
	if (busy)
		*busy = 0;
	if (mkdir_p(dir, err, errlen) != 0)
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->dir = strdup(dir)) || !(j->path = path_join(dir, JOURNAL_FILE))) {
		snprintf(err, errlen, "run directory %s: %s", dir, strerror(ENOMEM));
		if (j) {
			free(j->dir);
			free(j);
		}
		return NULL;
	}
	j->fd = -1;
	j->lockfd = take_lock(dir, &held, err, errlen);
	if (j->lockfd < 0) {
		if (busy)
			*busy = held;
		goto fail;
	}
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (j->fd >= 0) {
		created = 1;
	} else if (errno == EEXIST) {
		j->fd = open(j->path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC);
	}
	if (j->fd < 0) {
		snprintf(err, errlen, "cannot open journal %s: %s", j->path, strerror(errno));
		goto fail;
	}
	{
		struct stat sb;

		if (fstat(j->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			snprintf(err, errlen, "journal %s is not a regular file", j->path);
			goto fail;
		}
		fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) & ~O_NONBLOCK);
	}
	if (created) {
		if (fchmod(j->fd, 0600) != 0 || fsync(j->fd) != 0 || fsync_dir(dir) != 0) {
			snprintf(err, errlen, "cannot create journal %s: %s", j->path,
				 strerror(errno));
			goto fail;
		}
		return j;
	}
	if (scan_tail(j, torn, err, errlen) != 0)
		goto fail;
	return j;
fail:
	journal_close(j);
	return NULL;
}

/* journal_append - "v", "seq", "ts" first, then the redacted event's own
 * keys (its own v/seq/ts are dropped); one write() of line + newline, then
 * fsync. A failed write is cut back; a failed fsync makes j unwritable. */
int journal_append(journal *j, const json_t *event)
{
	json_t *red, *out, *val;
	const char *key;
	char ts[40], *text;
	size_t len;
	ssize_t n;

	if (j->broken) {
		pgm_error("journal %s: not writable after an earlier write error", j->path);
		return -1;
	}
	if (!json_is_object(event)) {
		pgm_error("journal %s: an event must be a JSON object", j->path);
		return -1;
	}
	red = pgm_redact_json(event);
	out = json_object();
	if (!red || !out) {
		json_decref(red);
		json_decref(out);
		pgm_error("journal %s: out of memory", j->path);
		return -1;
	}
	format_ts(ts, sizeof(ts));
	json_object_set_new(out, "v", json_integer(PGMOVE_JOURNAL_VERSION));
	json_object_set_new(out, "seq", json_integer(j->seq + 1));
	json_object_set_new(out, "ts", json_string(ts));
	json_object_foreach(red, key, val) {
		if (strcmp(key, "v") && strcmp(key, "seq") && strcmp(key, "ts"))
			json_object_set(out, key, val);
	}
	json_decref(red);
	text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(out);
	if (!text) {
		pgm_error("journal %s: the event cannot be written as JSON", j->path);
		return -1;
	}
	len = strlen(text);
	text[len] = '\n'; /* json_dumps' NUL becomes the newline: one write */
	n = write(j->fd, text, len + 1);
	free(text);
	if (n != (ssize_t)(len + 1)) {
		int e = n < 0 ? errno : ENOSPC;

		/* cut a partial line so the next event starts on its own line */
		if (n > 0 && ftruncate(j->fd, j->size) != 0)
			j->broken = 1;
		pgm_error("journal %s: cannot write event %lld: %s", j->path, j->seq + 1,
			  strerror(e));
		return -1;
	}
	if (!no_fsync && fsync(j->fd) != 0) {
		j->broken = 1;
		pgm_error("journal %s: cannot fsync event %lld: %s", j->path, j->seq + 1,
			  strerror(errno));
		return -1;
	}
	j->seq++;
	j->size += (off_t)(len + 1);
	snprintf(j->ts, sizeof(j->ts), "%s", ts);
	eclock_journaled(event); /* pgmove test's crash points */
	return 0;
}

/* journal_move - rename(2) of the run directory; the open journal and lock
 * fds stay valid, only the paths change. */
int journal_move(journal *j, const char *newdir)
{
	char *dir = strdup(newdir), *path = path_join(newdir, JOURNAL_FILE);
	char *parent, *slash;

	if (!dir || !path) {
		free(dir);
		free(path);
		errno = ENOMEM;
		return -1;
	}
	if (rename(j->dir, newdir) != 0) {
		int e = errno;

		free(dir);
		free(path);
		errno = e;
		return -1;
	}
	free(j->dir);
	free(j->path);
	j->dir = dir;
	j->path = path;
	parent = strdup(newdir);
	slash = parent ? strrchr(parent, '/') : NULL;
	if (slash && slash != parent) {
		*slash = '\0';
		fsync_dir(parent);
	}
	free(parent);
	return 0;
}

const char *journal_last_ts(const journal *j)
{
	return j->ts;
}

long long journal_size(const journal *j)
{
	return (long long)j->size;
}

long long journal_seq(const journal *j)
{
	return j->seq;
}

const char *journal_dir(const journal *j)
{
	return j->dir;
}

void journal_close(journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->lockfd >= 0) {
		if (ftruncate(j->lockfd, 0) != 0) {
			/* the stale content is ignored once the lock is free */
		}
		flock(j->lockfd, LOCK_UN);
		close(j->lockfd);
	}
	free(j->path);
	free(j->dir);
	free(j);
}

/* journal_replay - streams the journal with getline: one line buffer,
 * one event at a time, so memory does not grow with the journal. */
long long journal_replay(const char *dir, journal_replay_fn fn, void *user,
			 int *torn, char *err, size_t errlen)
{
	return journal_replay_from(dir, 0, fn, user, NULL, torn, err, errlen);
}

/* journal_replay_from - journal_replay from byte offset on (the start of a
 * line; line numbers in messages count from there). */
long long journal_replay_from(const char *dir, long long offset, journal_replay_fn fn,
			      void *user, long long *end, int *torn, char *err, size_t errlen)
{
	char *path = path_join(dir, JOURNAL_FILE);
	char *line = NULL, *next = NULL;
	size_t cap = 0, ncap = 0;
	ssize_t len;
	long long lineno = 0, count = 0, pos = offset;
	long long expect = offset > 0 ? 0 : 1, first_line = 1;
	FILE *f;

	if (torn)
		*torn = 0;
	if (!path) {
		snprintf(err, errlen, "run directory %s: %s", dir, strerror(ENOMEM));
		return -1;
	}
	f = open_regular(path);
	if (!f) {
		if (errno == EINVAL)
			snprintf(err, errlen, "journal %s is not a regular file", path);
		else
			snprintf(err, errlen, "cannot open journal %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (offset > 0 && fseeko(f, (off_t)offset, SEEK_SET) != 0) {
		snprintf(err, errlen, "cannot read journal %s: %s", path, strerror(errno));
		goto fail;
	}
	while ((len = read_line(f, &line, &cap)) != -1) {
		json_error_t jerr;
		json_t *ev;
		int rc;
		long long seq;

		lineno++;
		if (len == -2) {
			snprintf(err, errlen,
				 "journal %s line %lld is longer than %zu bytes: not a pgmove "
				 "journal event",
				 path, lineno + first_line - 1, max_line);
			goto fail;
		}
		if (len == 0 || line[len - 1] != '\n') {
			/* no newline: a torn last line */
			if (torn)
				*torn = 1;
			break;
		}
		ev = json_loadb(line, (size_t)len - 1, JSON_ALLOW_NUL, &jerr);
		rc = ev ? event_check(ev, path, lineno, err, errlen) : -1;
		if (rc == -2) {
			json_decref(ev);
			goto fail;
		}
		if (rc != 0) {
			/* bad: torn if it is the last line, an error otherwise */
			ssize_t nlen;

			json_decref(ev);
			nlen = read_line(f, &next, &ncap);
			if ((nlen == -1 && feof(f)) || (nlen > 0 && next[nlen - 1] != '\n')) {
				/* it is the last line, or only a torn one follows */
				if (torn)
					*torn = 1;
				break;
			}
			if (!ev)
				snprintf(err, errlen, "journal %s line %lld is not valid JSON: %s",
					 path, lineno, jerr.text);
			goto fail;
		}
		/* seq counts the lines: 1, 2, 3 ... A gap, a repeat or disorder
		 * is a deleted, duplicated or moved line */
		seq = (long long)json_integer_value(json_object_get(ev, "seq"));
		if (expect == 0 && offset > 0 && seq > 0) {
			expect = seq; /* from a snapshot: the caller checks the first */
			first_line = seq;
		}
		if (seq != expect) {
			snprintf(err, errlen,
				 "journal %s is corrupted: line %lld has seq %lld where %lld was "
				 "expected "
				 "(a line was deleted, duplicated or moved)",
				 path, lineno + first_line - 1, seq, expect ? expect : 1);
			json_decref(ev);
			goto fail;
		}
		expect = seq + 1;
		count++;
		pos += len;
		if (end)
			*end = pos;
		rc = fn(user, ev);
		json_decref(ev);
		if (rc != 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read journal %s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	free(line);
	free(next);
	free(path);
	return count;
fail:
	fclose(f);
	free(line);
	free(next);
	free(path);
	return -1;
}

/* journal_lock_holder - probes dir/lock with a shared non-blocking flock:
 * 0 when it is free, else the pid written by the holder (-1 when the
 * holder has not written it yet). */
long journal_lock_holder(const char *dir)
{
	char *path = path_join(dir, LOCK_FILE);
	long pid = 0;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN); /* nobody holds it */
	} else if (errno == EWOULDBLOCK) {
		pid = read_holder(fd, NULL, 0, NULL, 0);
		if (pid <= 0)
			pid = -1;
	}
	close(fd);
	return pid;
}

/* Signal-safe appending ------------------------------------------------- */

/* put - appends the NUL-ended s to buf (at *used, capacity cap). */
static void put(char *buf, size_t *used, size_t cap, const char *s)
{
	while (*s && *used + 1 < cap)
		buf[(*used)++] = *s++;
}

/* put_num - appends the decimal v, zero-padded to width digits. */
static void put_num(char *buf, size_t *used, size_t cap, long long v, int width)
{
	char tmp[24];
	int n = 0;

	if (v < 0)
		v = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof(tmp));
	while (n < width && n < (int)sizeof(tmp))
		tmp[n++] = '0';
	while (n > 0 && *used + 1 < cap)
		buf[(*used)++] = tmp[--n];
}

/* put_ts - appends "YYYY-MM-DDTHH:MM:SS.mmmZ" for now (UTC) without gmtime
 * (days to civil date, H. Hinnant's algorithm), async-signal-safe. */
static void put_ts(char *buf, size_t *used, size_t cap)
{
	long long wall = eclock_wall_ms(); /* async-signal-safe: arithmetic or clock_gettime */
	long long s, days, rem, era, doe, yoe, y, doy, mp, d, m;

	s = wall / 1000;
	days = s / 86400;
	rem = s % 86400;
	days += 719468;
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	put_num(buf, used, cap, y, 4);
	put(buf, used, cap, "-");
	put_num(buf, used, cap, m, 2);
	put(buf, used, cap, "-");
	put_num(buf, used, cap, d, 2);
	put(buf, used, cap, "T");
	put_num(buf, used, cap, rem / 3600, 2);
	put(buf, used, cap, ":");
	put_num(buf, used, cap, rem % 3600 / 60, 2);
	put(buf, used, cap, ":");
	put_num(buf, used, cap, rem % 60, 2);
	put(buf, used, cap, ".");
	put_num(buf, used, cap, wall % 1000, 3);
	put(buf, used, cap, "Z");
}

/* journal_append_signal_safe - see journal.h: only write() and fsync(); the
 * line is built in a static buffer (one crash handler runs at a time). */
int journal_append_signal_safe(journal *j, const char *members, const char *extra)
{
	static char line[8192];
	size_t used = 0;

	if (j == NULL || j->broken || j->fd < 0)
		return -1;
	put(line, &used, sizeof(line), "{\"v\":");
	put_num(line, &used, sizeof(line), PGMOVE_JOURNAL_VERSION, 1);
	put(line, &used, sizeof(line), ",\"seq\":");
	put_num(line, &used, sizeof(line), j->seq + 1, 1);
	put(line, &used, sizeof(line), ",\"ts\":\"");
	put_ts(line, &used, sizeof(line));
	put(line, &used, sizeof(line), "\",");
	put(line, &used, sizeof(line), members);
	if (extra && *extra) {
		put(line, &used, sizeof(line), ",");
		put(line, &used, sizeof(line), extra);
	}
	if (used + 3 >= sizeof(line))
		return -1; /* never write a line that was cut */
	line[used++] = '}';
	line[used++] = '\n';
	if (write(j->fd, line, used) != (ssize_t)used)
		return -1;
	if (fsync(j->fd) != 0)
		return -1;
	j->seq++;
	j->size += (off_t)used;
	return 0;
}
