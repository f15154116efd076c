/*
 * core/host/child.c - child processes without a shell: fork and exec in a process
 * group of their own, stdout and stderr read with poll() and split into
 * lines, the tail of stderr kept (redacted), cancellation by SIGTERM then
 * SIGKILL; and 0600 temp files in a private directory removed at exit.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostpriv.h"

extern char **environ;

#define TAIL_MAX 4096
#define LINE_MAX_BYTES (1024 * 1024) /* longer lines are passed on in pieces */
#define KILL_AFTER_MS 5000

/* One output stream of the child. */
typedef struct stream {
	int fd;        /* -1 once closed */
	int is_stderr;
	char *buf;
	size_t len, cap;
} stream;

typedef struct run_state {
	const pgm_child_spec *spec;
	char tail[TAIL_MAX + 1]; /* last bytes of stderr, whole lines where possible */
	size_t tail_len;
} run_state;

static void tail_add(run_state *st, const char *line)
{
	size_t n = strlen(line);

	if (n >= TAIL_MAX) {
		line += n - (TAIL_MAX - 1);
		n = TAIL_MAX - 1;
	}
	if (st->tail_len + n + 1 > TAIL_MAX) {
		/* drop whole lines from the front until it fits */
		size_t need = st->tail_len + n + 1 - TAIL_MAX, cut = 0;

		while (cut < st->tail_len && (cut < need || st->tail[cut - 1] != '\n'))
			cut++;
		memmove(st->tail, st->tail + cut, st->tail_len - cut);
		st->tail_len -= cut;
	}
	memcpy(st->tail + st->tail_len, line, n);
	st->tail_len += n;
	st->tail[st->tail_len++] = '\n';
	st->tail[st->tail_len] = '\0';
}

static void emit_line(run_state *st, stream *s, const char *line)
{
	if (s->is_stderr)
		tail_add(st, line);
	if (st->spec->line_fn)
		st->spec->line_fn(st->spec->user, s->is_stderr, line);
	else if (s->is_stderr)
		pgm_debug("child %s: %s", st->spec->argv[0], line);
}

/* stream_read - reads what is there, emits complete lines; closes at EOF
 * and emits the last unterminated line. */
static void stream_read(run_state *st, stream *s)
{
	char chunk[8192];
	ssize_t n = read(s->fd, chunk, sizeof(chunk));
	size_t i, start = 0;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (s->len > 0) {
			s->buf[s->len] = '\0';
			emit_line(st, s, s->buf);
			s->len = 0;
		}
		close(s->fd);
		s->fd = -1;
		return;
	}
	for (i = 0; i <= (size_t)n; i++) {
		size_t piece;

		if (i < (size_t)n && chunk[i] != '\n')
			continue;
		piece = i - start;
		if (s->len + piece + 1 > s->cap) {
			size_t cap = s->cap ? s->cap : 256;

			while (s->len + piece + 1 > cap)
				cap *= 2;
			s->buf = realloc(s->buf, cap);
			if (s->buf == NULL)
				abort();
			s->cap = cap;
		}
		memcpy(s->buf + s->len, chunk + start, piece);
		s->len += piece;
		if (i < (size_t)n || s->len >= LINE_MAX_BYTES) {
			if (s->len > 0 && s->buf[s->len - 1] == '\r')
				s->len--;
			s->buf[s->len] = '\0';
			emit_line(st, s, s->buf);
			s->len = 0;
		}
		start = i + 1;
	}
}

/* env_passes - whether NAME=value of pgmove's environment is handed to a
 * child: what a program needs to run (PATH, HOME, USER, LOGNAME, SHELL,
 * LANG, LANGUAGE, LC_*, TZ, TMPDIR) and libpq's own PG* settings, never
 * pgmove's (PGMOVE_*, which hold connection strings with passwords) nor
 * anything else (AWS keys, tokens). */
static int env_passes(const char *var)
{
	static const char *const names[] = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG",
					    "LANGUAGE", "TZ", "TMPDIR", NULL};
	size_t klen = strcspn(var, "=");
	int i;

	if (var[klen] != '=')
		return 0;
	for (i = 0; names[i]; i++)
		if (strlen(names[i]) == klen && strncmp(var, names[i], klen) == 0)
			return 1;
	if (strncmp(var, "LC_", 3) == 0)
		return 1;
	return strncmp(var, "PG", 2) == 0 && strncmp(var, "PGMOVE", 6) != 0;
}

/* build_env - the child's explicit environment: the variables of
 * pgmove's environment that env_passes, with spec->env added (same names
 * replaced). Caller frees the array (not the strings). */
static char **build_env(const char *const *add)
{
	size_t n = 0, m = 0, i, j, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	while (add && add[m])
		m++;
	env = calloc(n + m + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int replaced = 0;

		if (!env_passes(environ[i]))
			continue;
		for (j = 0; j < m; j++)
			if (strncmp(add[j], environ[i], klen) == 0 && add[j][klen] == '=')
				replaced = 1;
		if (!replaced)
			env[k++] = environ[i];
	}
	for (j = 0; j < m; j++)
		env[k++] = (char *)add[j];
	env[k] = NULL;
	return env;
}

static char *argv_text(const char *const *argv)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int i;

	if (f == NULL)
		return NULL;
	for (i = 0; argv[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", argv[i]);
	fclose(f);
	return s;
}

/* find_program - 0 when argv0 names an executable file (looked up in PATH
 * when it has no '/'), else an errno: a missing program gets a clear message
 * before anything is forked. */
static int find_program(const char *argv0)
{
	const char *path = getenv("PATH"), *p;
	int err = ENOENT;

	if (strchr(argv0, '/'))
		return access(argv0, X_OK) == 0 ? 0 : errno;
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *cand = NULL;
		struct stat sb;

		if (asprintf(&cand, "%.*s/%s", (int)len, len ? p : ".", argv0) < 0)
			return ENOMEM;
		if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (access(cand, X_OK) == 0) {
				free(cand);
				return 0;
			}
			err = EACCES;
		}
		free(cand);
		if (end == NULL)
			return err;
		p = end + 1;
	}
}

/* pgm_child_run - see plugin.h. */
int pgm_child_run(pgm_call *call, const pgm_child_spec *spec, pgm_child_result *res)
{
	run_state st;
	stream out = {-1, 0, NULL, 0, 0}, err = {-1, 1, NULL, 0, 0};
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	int outfd = -1, rc = -1, status = 0, exited = 0, cancelled = 0;
	long long term_at = 0, exit_at = 0;
	sigset_t none, defs;
	char **env = NULL;
	char *cmd;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	st.spec = spec;
	if (spec == NULL || spec->argv == NULL || spec->argv[0] == NULL) {
		pgm_fail(call, "child.start", 0, "child: no program to run");
		return -1;
	}
	if (pgm_check_cancel(call) < 0)
		return -1;
	if ((rc = find_program(spec->argv[0])) != 0) {
		pgm_fail(call, "child.start", 0, "child %s: cannot start: %s", spec->argv[0],
			 strerror(rc));
		return -1;
	}
	cmd = argv_text(spec->argv);
	pgm_debug("child: running %s", cmd ? cmd : spec->argv[0]);
	free(cmd);

	if (spec->stdout_path) {
		outfd = open(spec->stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (outfd < 0) {
			pgm_fail(call, "child.start", 0, "child %s: cannot create %s: %s",
				 spec->argv[0], spec->stdout_path, strerror(errno));
			return -1;
		}
	} else if (pipe2(outp, O_CLOEXEC) < 0) {
		pgm_fail(call, "child.start", 1, "child %s: pipe: %s", spec->argv[0],
			 strerror(errno));
		return -1;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		pgm_fail(call, "child.start", 1, "child %s: pipe: %s", spec->argv[0],
			 strerror(errno));
		goto out_fds;
	}
	env = build_env(spec->env);
	if (env == NULL) {
		pgm_fail(call, "child.start", 1, "child %s: out of memory", spec->argv[0]);
		goto out_fds;
	}

	/* fork and exec rather than posix_spawn: the child must ask the kernel
	 * for SIGTERM when pgmove dies (kill -9, OOM), or a pg_restore left
	 * running would race the resumed run. An exec failure comes back
	 * through a close-on-exec pipe. */
	int failp[2] = {-1, -1};
	if (pipe2(failp, O_CLOEXEC) < 0) {
		free(env);
		pgm_fail(call, "child.start", 1, "child %s: pipe: %s", spec->argv[0],
			 strerror(errno));
		goto out_fds;
	}
	sigemptyset(&none);
	sigemptyset(&defs);
	pid_t parent = getpid();
	pid = fork();
	if (pid == 0) {
		int e;
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127); /* pgmove died before prctl took effect */
		static const int reset[] = { SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP };
		for (size_t k = 0; k < sizeof(reset) / sizeof(reset[0]); k++)
			signal(reset[k], SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		umask(077); /* what the child writes (pg_dump's output) is the user's only */
		int in = open(spec->stdin_path ? spec->stdin_path : "/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(outfd >= 0 ? outfd : outp[1], 1) < 0 ||
		    dup2(errp[1], 2) < 0 || (spec->cwd && chdir(spec->cwd) != 0))
			goto child_fail;
		execvpe(spec->argv[0], (char *const *)spec->argv, env);
child_fail:
		e = errno;
		if (write(failp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	rc = pid < 0 ? errno : 0;
	free(env);
	close(failp[1]);
	if (rc == 0) {
		int e = 0;
		ssize_t got;
		do
			got = read(failp[0], &e, sizeof(e));
		while (got < 0 && errno == EINTR);
		if (got == (ssize_t)sizeof(e)) {
			rc = e;
			waitpid(pid, NULL, 0);
		}
	}
	close(failp[0]);
	if (rc != 0) {
		pgm_fail(call, "child.start", 0, "child %s: cannot start: %s", spec->argv[0],
			 strerror(rc));
		rc = -1;
		goto out_fds;
	}
	rc = -1;
	if (outfd >= 0) {
		close(outfd);
		outfd = -1;
	} else {
		close(outp[1]);
		outp[1] = -1;
		out.fd = outp[0];
		outp[0] = -1;
	}
	close(errp[1]);
	errp[1] = -1;
	err.fd = errp[0];
	errp[0] = -1;

	for (;;) {
		struct pollfd pfd[2];
		int nfd = 0, r, timeout;
		long long now;

		if (out.fd >= 0) {
			pfd[nfd].fd = out.fd;
			pfd[nfd++].events = POLLIN;
		}
		if (err.fd >= 0) {
			pfd[nfd].fd = err.fd;
			pfd[nfd++].events = POLLIN;
		}
		if (exited && nfd == 0)
			break;
		timeout = 100;
		r = nfd ? poll(pfd, (nfds_t)nfd, timeout) : poll(NULL, 0, 20);
		if (r > 0) {
			int i;

			for (i = 0; i < nfd; i++) {
				if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				stream_read(&st, pfd[i].fd == out.fd ? &out : &err);
			}
		}
		now = pgm_now_ms();
		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid) {
				exited = 1;
				exit_at = now;
				/* a grandchild may hold the pipes: give it a moment */
			}
		} else if (r == 0 || now - exit_at > 2000) {
			/* exited and nothing more came: stop reading */
			break;
		}
		if (!exited && pgm_cancelled(call)) {
			if (!cancelled) {
				cancelled = 1;
				term_at = now;
				pgm_debug("child %s: cancelled, sending SIGTERM to %d",
					  spec->argv[0], (int)pid);
				kill(-pid, SIGTERM);
				kill(pid, SIGTERM);
			} else if (term_at && now - term_at >= KILL_AFTER_MS) {
				pgm_debug("child %s: still running, sending SIGKILL",
					  spec->argv[0]);
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				term_at = 0;
			}
		}
	}
	if (!exited)
		waitpid(pid, &status, 0);
	if (out.fd >= 0)
		close(out.fd);
	if (err.fd >= 0)
		close(err.fd);

	if (WIFEXITED(status)) {
		res->exited = 1;
		res->status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->exited = 0;
		res->status = WTERMSIG(status);
	}
	res->stderr_tail = pgm_redact(st.tail);
	if (cancelled) {
		pgm_check_cancel(call);
		rc = -1;
	} else {
		pgm_debug("child %s: %s %d", spec->argv[0],
			  res->exited ? "exited with status" : "killed by signal", res->status);
		rc = 0;
	}
out_fds:
	if (outfd >= 0)
		close(outfd);
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	free(out.buf);
	free(err.buf);
	return rc;
}

void pgm_child_result_free(pgm_child_result *res)
{
	if (res == NULL)
		return;
	free(res->stderr_tail);
	res->stderr_tail = NULL;
}

/* The private temp directory ----------------------------------------- */

static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tmp_dir;
static pid_t tmp_owner;

/* tmp_cleanup - at exit of the process that made it: removes the files
 * in the directory (it holds no subdirectories) and the directory. */
static void tmp_cleanup(void)
{
	DIR *d;
	struct dirent *e;

	if (tmp_dir == NULL || getpid() != tmp_owner)
		return;
	d = opendir(tmp_dir);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	rmdir(tmp_dir);
	free(tmp_dir);
	tmp_dir = NULL;
}

/* pgm_tempfile - see plugin.h. The file name is <prefix>-XXXXXX. */
char *pgm_tempfile(pgm_call *call, const char *prefix, const char *data, size_t len)
{
	char *path = NULL;
	const char *p;
	size_t off = 0;
	int fd;

	pthread_mutex_lock(&tmp_lock);
	if (tmp_dir == NULL) {
		const char *base = getenv("TMPDIR");
		char *tmpl = NULL;

		if (base == NULL || *base == '\0')
			base = "/tmp";
		if (asprintf(&tmpl, "%s/pgmove-XXXXXX", base) < 0 || mkdtemp(tmpl) == NULL) {
			pthread_mutex_unlock(&tmp_lock);
			pgm_fail(call, "tempfile.create", 0,
				 "cannot create a private directory in %s: %s", base,
				 strerror(errno));
			free(tmpl);
			return NULL;
		}
		chmod(tmpl, 0700);
		tmp_dir = tmpl;
		tmp_owner = getpid();
		atexit(tmp_cleanup);
	}
	for (p = prefix && *prefix ? prefix : "tmp"; *p; p++)
		if (*p == '/')
			break;
	if (asprintf(&path, "%s/%s-XXXXXX", tmp_dir,
		     prefix && *prefix && *p == '\0' ? prefix : "tmp") < 0) {
		pthread_mutex_unlock(&tmp_lock);
		pgm_fail(call, "tempfile.create", 0, "out of memory");
		return NULL;
	}
	pthread_mutex_unlock(&tmp_lock);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		pgm_fail(call, "tempfile.create", 0, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	fchmod(fd, 0600);
	while (data && off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pgm_fail(call, "tempfile.write", 0, "cannot write %s: %s", path,
				 strerror(errno));
			close(fd);
			unlink(path);
			free(path);
			return NULL;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		pgm_fail(call, "tempfile.write", 0, "cannot write %s: %s", path, strerror(errno));
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}
