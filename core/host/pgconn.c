/*
 * core/host/pgconn.c - the one wrapper that owns a PostgreSQL connection: an
 * asynchronous connect that honours cancellation and the deadline and
 * retries what a retry can help with (backoff and jitter), a password-free
 * description for messages, the last SQLSTATE, and statements sent
 * asynchronously so that cancellation reaches the server.
 *
 * No wait here may outlast the call's deadline or a SIGTERM / SIGINT, even
 * when the server is frozen (a paused VM, a stopped process, a black-holed
 * network): every connection gets TCP keepalives and tcp_user_timeout
 * (defaults the connection string may override), a connection attempt is
 * bounded by connect_timeout (default PG_CONNECT_TIMEOUT_S), and the cancel
 * request (libpq's PQcancel blocks until the server answers) is sent by a
 * short-lived child process that is killed if the server does not answer
 * within the cancel wait (cancel_wait_ms: CANCEL_WAIT_MS, more on a server
 * or machine so loaded that connecting took long); a statement that has
 * not stopped by then loses its connection.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "hostpriv.h"

/* Type OIDs (pg_type.dat); stable across releases. */
#define BOOLOID 16
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define OIDOID 26
#define JSONOID 114
#define FLOAT4OID 700
#define FLOAT8OID 701
#define JSONBOID 3802

#define CANCEL_WAIT_MS 2000      /* how long a cancelled statement may take to stop */
#define CANCEL_WAIT_MAX_MS 30000 /* ... at most, however slow connecting was */
#define PG_CONNECT_TIMEOUT_S 20  /* one connection attempt, unless connect_timeout says */

/* Defaults for every connection, placed before the connection string so
 * that its own values win: a dead peer is noticed within about a minute
 * (keepalive probes for an idle connection, tcp_user_timeout for data
 * the peer does not acknowledge). */
static const char *const conn_default_keys[] = {"keepalives", "keepalives_idle",
						"keepalives_interval", "keepalives_count",
						"tcp_user_timeout"};
static const char *const conn_default_vals[] = {"1", "30", "10", "3", "60000"};
#define N_CONN_DEFAULTS 5

struct pgm_pg {
	PGconn *conn;
	char *desc;       /* "host=... port=... dbname=... user=..."      */
	char sqlstate[6]; /* of the last failed command, or ""            */
	int busy;         /* a statement was sent, its result not taken   */
	int cancel_sent;
	pid_t cancel_pid; /* the child sending the cancel request, or 0   */
	long long connect_ms; /* how long the successful connection attempt took */
};

/* cancel_wait_ms - how long pg's cancelled statement may take to stop,
 * the cancel request included (a new connection to the server, as slow as
 * pg's own was): CANCEL_WAIT_MS plus 4 times pg's connection time, at most
 * CANCEL_WAIT_MAX_MS. A frozen server answered the connection before it
 * froze, so it still loses the connection after about CANCEL_WAIT_MS;
 * under load, a cancel that is merely slow is not taken for a hang. */
static long long cancel_wait_ms(const pgm_pg *pg)
{
	long long ms = CANCEL_WAIT_MS + 4 * (pg ? pg->connect_ms : 0);
	return ms < CANCEL_WAIT_MAX_MS ? ms : CANCEL_WAIT_MAX_MS;
}

/* Connecting ---------------------------------------------------------- */

/* conn_failure_state - the SQLSTATE a connection failure message stands
 * for (libpq gives no SQLSTATE for them), or NULL. */
static const char *conn_failure_state(const char *msg, int *retryable)
{
	static const struct {
		const char *text, *state;
		int retryable;
	} known[] = {
		{"the database system is starting up", "57P03", 1},
		{"the database system is not yet accepting connections", "57P03", 1},
		{"the database system is not accepting connections", "57P03", 1},
		{"the database system is in recovery mode", "57P03", 1},
		{"the database system is shutting down", "57P03", 1},
		{"too many clients already", "53300", 1},
		{"remaining connection slots are reserved", "53300", 1},
		{"password authentication failed", "28P01", 0},
		{"no password supplied", "28P01", 0},
		{"fe_sendauth: no password supplied", "28P01", 0},
		{"no pg_hba.conf entry", "28000", 0},
		{"does not exist", NULL, 0},
		{NULL, NULL, 0}};
	int i;

	*retryable = 0;
	for (i = 0; known[i].text; i++) {
		if (strstr(msg, known[i].text)) {
			*retryable = known[i].retryable;
			if (known[i].state == NULL && strstr(msg, "database \""))
				return "3D000";
			if (known[i].state == NULL && strstr(msg, "role \""))
				return "28000";
			return known[i].state;
		}
	}
	if (strstr(msg, "Connection refused") || strstr(msg, "No such file or directory") ||
	    strstr(msg, "server closed the connection unexpectedly") ||
	    strstr(msg, "Connection reset"))
		*retryable = 1;
	return NULL;
}

/* one_line - the message with newlines folded and trailing ones gone. */
static char *one_line(const char *msg)
{
	char *s = strdup(msg ? msg : ""), *p;
	size_t len;

	if (s == NULL)
		abort();
	len = strlen(s);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return s;
}

static void notice_receiver(void *arg, const PGresult *res)
{
	pgm_pg *pg = arg;
	char *m = one_line(PQresultErrorMessage(res));

	pgm_debug("%s: %s", pg->desc, m);
	free(m);
}

/* connect_once - one asynchronous connection attempt of at most
 * timeout_ms. 0 when connected; -1 with *conn_out left for the caller to
 * read the error from and free, -2 when cancelled (the call's error is
 * set), or -3 when the attempt timed out. */
static int connect_once(pgm_call *call, const char *conninfo, const char *appname,
			long long timeout_ms, PGconn **conn_out)
{
	const char *keys[N_CONN_DEFAULTS + 3], *vals[N_CONN_DEFAULTS + 3];
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long long give_up = pgm_now_ms() + timeout_ms;
	PGconn *conn;
	int i;

	for (i = 0; i < N_CONN_DEFAULTS; i++) {
		keys[i] = conn_default_keys[i];
		vals[i] = conn_default_vals[i];
	}
	keys[i] = "dbname";
	vals[i++] = conninfo;
	keys[i] = "application_name";
	vals[i++] = appname;
	keys[i] = NULL;
	vals[i] = NULL;
	conn = PQconnectStartParams(keys, vals, 1);
	*conn_out = conn;
	if (conn == NULL)
		return -1;
	if (PQstatus(conn) == CONNECTION_BAD)
		return -1;
	for (;;) {
		struct pollfd pfd;
		int r;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		if (pgm_check_cancel(call) < 0)
			return -2;
		if (pgm_now_ms() >= give_up)
			return -3;
		pfd.fd = PQsocket(conn);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return -1;
		r = poll(&pfd, 1, host_poll_ms(call, 100));
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			st = PQconnectPoll(conn);
	}
}

/* wall_in - the wall-clock time ms from now as "HH:MM:SS.mmmZ" into buf. */
static const char *wall_in(long long ms, char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	time_t sec;
	long long msec;

	clock_gettime(CLOCK_REALTIME, &ts);
	msec = (long long)ts.tv_nsec / 1000000 + (ms > 0 ? ms : 0);
	sec = ts.tv_sec + (time_t)(msec / 1000);
	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%03lldZ", tm.tm_hour, tm.tm_min, tm.tm_sec, msec % 1000);
	return buf;
}

/* attempt_ms - how long one connection attempt may take: the connection
 * string's connect_timeout (seconds, libpq's rules: below 2 counts as 2,
 * 0 or absent is the default here), else PG_CONNECT_TIMEOUT_S. */
static long long attempt_ms(PQconninfoOption *opts)
{
	PQconninfoOption *o;

	for (o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val) {
			long long s = atoll(o->val);

			if (s <= 0)
				break;
			return (s < 2 ? 2 : s) * 1000;
		}
	}
	return PG_CONNECT_TIMEOUT_S * 1000LL;
}

/* pgm_pg_connect - see plugin.h. Registers the connection string's password
 * as a secret first. Retries for up to the remaining deadline, or 10 s
 * when the call has none; each attempt is bounded by attempt_ms. */
pgm_pg *pgm_pg_connect(pgm_call *call, const char *conninfo, const char *app)
{
	long long start = pgm_now_ms(), delay = 200;
	long long window = pgm_remaining_ms(call) >= 0 ? pgm_remaining_ms(call) : 10000;
	char appname[64], *desc, until[32];
	char *perr = NULL;
	PQconninfoOption *opts;
	unsigned seed = (unsigned)start ^ ((unsigned)getpid() << 16); /* jitter differs per process */
	int attempt = 0;
	long long per_attempt;
	pgm_pg *pg;

	if (conninfo == NULL)
		conninfo = "";
	pgm_secret_add_conninfo(conninfo);
	opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		char *m = host_conninfo_error(perr);

		pgm_fail(call, "pg.connect", 0, "invalid connection string: %s", m);
		free(m);
		PQfreemem(perr);
		return NULL;
	}
	per_attempt = attempt_ms(opts);
	PQconninfoFree(opts);
	desc = pgm_conninfo_describe(conninfo);
	snprintf(appname, sizeof(appname), "pgmove/%s", app && *app ? app : "host");

	for (;;) {
		PGconn *conn = NULL;
		long long t0 = pgm_now_ms();
		int r = connect_once(call, conninfo, appname, per_attempt, &conn);
		const char *state;
		char *msg;
		int retryable;
		long long wait;

		attempt++;
		if (r == 0) {
			pg = calloc(1, sizeof(*pg));
			if (pg == NULL)
				abort();
			pg->conn = conn;
			pg->connect_ms = pgm_now_ms() - t0;
			free(desc);
			{
				const char *h = PQhost(conn), *p = PQport(conn);
				const char *d = PQdb(conn), *u = PQuser(conn);
				char *s = NULL;

				if (asprintf(&s, "host=%s port=%s dbname=%s user=%s",
					     h && *h ? h : "localhost", p && *p ? p : "5432",
					     d ? d : "", u ? u : "") < 0)
					abort();
				pg->desc = pgm_redact(s);
				free(s);
			}
			PQsetNoticeReceiver(conn, notice_receiver, pg);
			pgm_debug("pg: connected to %s", pg->desc);
			return pg;
		}
		if (r == -2) {
			PQfinish(conn);
			free(desc);
			return NULL;
		}
		if (r == -3) {
			char *m = NULL;

			if (asprintf(&m, "no answer from the server within %lld s (connect_timeout)",
				     per_attempt / 1000) < 0)
				abort();
			msg = m;
			retryable = 1;
			state = NULL;
		} else {
			msg = one_line(conn ? PQerrorMessage(conn) : "out of memory");
			state = conn_failure_state(msg, &retryable);
		}
		PQfinish(conn);
		wait = delay / 2 + rand_r(&seed) % (delay + 1); /* jitter: 0.5x .. 1.5x */
		/* the last wait is cut short so that one more attempt fits in */
		if (wait > window - (pgm_now_ms() - start) - 50)
			wait = window - (pgm_now_ms() - start) - 50;
		if (retryable && wait >= 20 && !pgm_cancelled(call)) {
			char next[32];

			/* info, not debug: the operator must see a check or a step that
			 * waits for a server move, and when it tries again */
			pgm_info("pg: connect %s: %s (attempt %d; next attempt at %s, retrying "
				 "until %s)",
				 desc, msg, attempt, wall_in(wait, next, sizeof(next)),
				 wall_in(window - (pgm_now_ms() - start), until, sizeof(until)));
			free(msg);
			if (pgm_sleep_ms(call, wait) < 0) {
				free(desc);
				return NULL;
			}
			delay = delay * 2 > 5000 ? 5000 : delay * 2;
			continue;
		}
		if (state) {
			char code[16];

			snprintf(code, sizeof(code), "pg.%s", state);
			pgm_fail(call, code, retryable, "pg: connect %s: %s", desc, msg);
		} else {
			pgm_fail(call, "pg.connect", retryable, "pg: connect %s: %s", desc, msg);
		}
		free(msg);
		free(desc);
		return NULL;
	}
}

static void cancel_reap(pgm_pg *pg, int kill_it);

void pgm_pg_close(pgm_pg *pg)
{
	if (pg == NULL)
		return;
	cancel_reap(pg, 1);
	PQfinish(pg->conn);
	free(pg->desc);
	free(pg);
}

PGconn *pgm_pg_conn(pgm_pg *pg)
{
	return pg ? pg->conn : NULL;
}

const char *pgm_pg_describe(const pgm_pg *pg)
{
	return pg && pg->desc ? pg->desc : "";
}

const char *pgm_pg_sqlstate(const pgm_pg *pg)
{
	return pg ? pg->sqlstate : "";
}

/* Statements ---------------------------------------------------------- */

static int retryable_state(const char *st)
{
	return strncmp(st, "08", 2) == 0 || strcmp(st, "40001") == 0 ||
	       strcmp(st, "40P01") == 0 || strcmp(st, "57P01") == 0 ||
	       strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0 ||
	       strcmp(st, "53300") == 0 || strcmp(st, "55P03") == 0;
}

/* connection_lost - records "pg.connection" (retryable) for pg. */
static void connection_lost(pgm_call *call, pgm_pg *pg, const char *what)
{
	char *m = one_line(PQerrorMessage(pg->conn));

	snprintf(pg->sqlstate, sizeof(pg->sqlstate), "08006");
	pgm_fail(call, "pg.connection", 1, "%s: %s: %s", pg->desc, what,
		 *m ? m : "connection lost");
	free(m);
}

/* pgm_pg_send - sends one statement; the result comes with pgm_pg_result. */
int pgm_pg_send(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		const char *const *params)
{
	if (pg == NULL || pg->conn == NULL) {
		pgm_fail(call, "pg.connection", 0, "pg: no connection");
		return -1;
	}
	if (pg->busy) {
		pgm_fail(call, "pg.busy", 0, "%s: a statement is already running", pg->desc);
		return -1;
	}
	if (pgm_check_cancel(call) < 0)
		return -1;
	pg->sqlstate[0] = '\0';
	pg->cancel_sent = 0;
	if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
		if (PQstatus(pg->conn) == CONNECTION_BAD) {
			connection_lost(call, pg, "send");
		} else {
			char *m = one_line(PQerrorMessage(pg->conn));

			pgm_fail(call, "pg.send", 0, "%s: %s", pg->desc, m);
			free(m);
		}
		return -1;
	}
	pg->busy = 1;
	return 0;
}

/* cancel_reap - collects the child that sent pg's cancel request once it
 * has exited; with kill_it, kills it first (the server did not answer). */
static void cancel_reap(pgm_pg *pg, int kill_it)
{
	int status;
	pid_t w;

	if (pg->cancel_pid <= 0)
		return;
	if (kill_it)
		kill(pg->cancel_pid, SIGKILL);
	do
		w = waitpid(pg->cancel_pid, &status, kill_it ? 0 : WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w == 0)
		return; /* still running */
	if (w == pg->cancel_pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		pgm_debug("%s: the cancel request failed", pg->desc);
	else if (w == pg->cancel_pid && WIFSIGNALED(status))
		pgm_debug("%s: no answer to the cancel request", pg->desc);
	pg->cancel_pid = 0;
}

/* send_cancel - asks the server to cancel pg's running statement without
 * blocking: PQcancel (which waits for the server to close the cancel
 * connection, forever if the server is frozen) runs in a child process
 * (PQcancel is async-signal-safe, so it may run after fork in a threaded
 * process); the caller reaps or kills it (cancel_reap). */
static void send_cancel(pgm_pg *pg)
{
	PGcancel *c;
	pid_t pid;

	if (pg->cancel_sent || !pg->busy)
		return;
	pg->cancel_sent = 1;
	c = PQgetCancel(pg->conn);
	if (c == NULL)
		return;
	pid = fork();
	if (pid == 0) {
		char err[256];

		_exit(PQcancel(c, err, sizeof(err)) ? 0 : 1);
	}
	if (pid < 0)
		pgm_debug("%s: cancel request not sent: fork: %s", pg->desc, strerror(errno));
	else
		pg->cancel_pid = pid;
	PQfreeCancel(c);
}

/* input - reads what the socket has. -1 when the connection broke. */
static int input(pgm_pg *pg)
{
	if (!PQconsumeInput(pg->conn))
		return -1;
	return 0;
}

/* pgm_pg_wait_any - polls the sockets of the busy connections until one
 * has its result ready. On cancellation every busy statement is cancelled
 * on its server and its result discarded, so the connections stay usable. */
int pgm_pg_wait_any(pgm_call *call, pgm_pg *const *pgs, int n)
{
	struct pollfd *pfd;
	int *idx;
	long long cancel_at = 0;
	int i, ret = -1;

	if (n <= 0) {
		pgm_fail(call, "pg.busy", 0, "pg: no statement to wait for");
		return -1;
	}
	pfd = calloc((size_t)n, sizeof(*pfd));
	idx = calloc((size_t)n, sizeof(*idx));
	if (pfd == NULL || idx == NULL)
		abort();
	for (;;) {
		int m = 0, r, any_busy = 0;

		for (i = 0; i < n; i++) {
			if (pgs[i] == NULL || !pgs[i]->busy)
				continue;
			any_busy = 1;
			if (!PQisBusy(pgs[i]->conn) && !cancel_at) {
				ret = i;
				goto done;
			}
			if (PQstatus(pgs[i]->conn) == CONNECTION_BAD && !cancel_at) {
				ret = i; /* pgm_pg_result reports it */
				goto done;
			}
			pfd[m].fd = PQsocket(pgs[i]->conn);
			pfd[m].events = POLLIN;
			pfd[m].revents = 0;
			idx[m++] = i;
		}
		if (cancel_at) {
			int pending = 0;

			for (i = 0; i < n; i++) {
				PGresult *res;

				if (pgs[i] == NULL || !pgs[i]->busy)
					continue;
				if (PQisBusy(pgs[i]->conn) && PQstatus(pgs[i]->conn) != CONNECTION_BAD) {
					pending = 1;
					continue;
				}
				while ((res = PQgetResult(pgs[i]->conn)) != NULL)
					PQclear(res);
				pgs[i]->busy = 0;
			}
			for (i = 0; i < n; i++)
				if (pgs[i])
					cancel_reap(pgs[i], 0);
			long long wait_ms = CANCEL_WAIT_MS;
			for (i = 0; i < n; i++)
				if (pgs[i] && cancel_wait_ms(pgs[i]) > wait_ms)
					wait_ms = cancel_wait_ms(pgs[i]);
			if (!pending || pgm_now_ms() - cancel_at > wait_ms) {
				for (i = 0; i < n; i++) {
					if (pgs[i] == NULL)
						continue;
					/* a cancel request the server has not answered yet */
					cancel_reap(pgs[i], 1);
					if (pgs[i]->busy) {
						/* the server did not stop: drop the connection */
						pgm_warn("%s: the statement did not stop within %lld ms of "
							 "its cancellation: connection dropped",
							 pgs[i]->desc, wait_ms);
						PQfinish(pgs[i]->conn);
						pgs[i]->conn = NULL;
						pgs[i]->busy = 0;
					}
				}
				goto done;
			}
		} else if (!any_busy) {
			pgm_fail(call, "pg.busy", 0, "pg: no statement to wait for");
			goto done;
		} else if (pgm_cancelled(call)) {
			cancel_at = pgm_now_ms();
			if (cancel_at == 0)
				cancel_at = 1;
			for (i = 0; i < n; i++)
				if (pgs[i] && pgs[i]->busy)
					send_cancel(pgs[i]);
			pgm_check_cancel(call);
			continue;
		}
		r = poll(pfd, (nfds_t)m, cancel_at ? 100 : host_poll_ms(call, 100));
		if (r < 0 && errno != EINTR) {
			pgm_fail(call, "pg.connection", 1, "pg: poll: %s", strerror(errno));
			goto done;
		}
		for (i = 0; i < m; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (input(pgs[idx[i]]) < 0 && !cancel_at) {
				ret = idx[i]; /* pgm_pg_result reports the broken connection */
				goto done;
			}
		}
	}
done:
	free(pfd);
	free(idx);
	return ret;
}

/* fail_result - records the error of a failed result on the call. */
static void fail_result(pgm_call *call, pgm_pg *pg, const PGresult *res)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	char code[16];
	char *m;

	if (st == NULL || PQstatus(pg->conn) == CONNECTION_BAD) {
		connection_lost(call, pg, "query");
		return;
	}
	snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", st);
	if (strcmp(st, "57014") == 0 && pg->cancel_sent && pgm_check_cancel(call) < 0)
		return;
	snprintf(code, sizeof(code), "pg.%s", st);
	m = one_line(primary ? primary : PQresultErrorMessage(res));
	if (detail) {
		char *d = one_line(detail);

		pgm_fail(call, code, retryable_state(st), "%s: %s (%s)", pg->desc, m, d);
		free(d);
	} else {
		pgm_fail(call, code, retryable_state(st), "%s: %s", pg->desc, m);
	}
	free(m);
}

/* pgm_pg_result - collects the results of the statement last sent, keeps
 * the last one (the first error wins). Caller PQclear()s it. Blocks if
 * the result is not ready yet, so call it after pgm_pg_wait_any. */
PGresult *pgm_pg_result(pgm_call *call, pgm_pg *pg)
{
	PGresult *res, *keep = NULL, *bad = NULL;

	if (pg == NULL || pg->conn == NULL) {
		pgm_fail(call, "pg.connection", 1, "pg: no connection");
		return NULL;
	}
	if (!pg->busy) {
		pgm_fail(call, "pg.busy", 0, "%s: no statement was sent", pg->desc);
		return NULL;
	}
	while ((res = PQgetResult(pg->conn)) != NULL) {
		ExecStatusType s = PQresultStatus(res);

		if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH) {
			/* COPY is not handled here: end it and report */
			PQclear(res);
			if (s == PGRES_COPY_IN)
				PQputCopyEnd(pg->conn, "pgmove: COPY is not supported by pgm_pg_exec");
			if (bad == NULL)
				bad = PQmakeEmptyPGresult(pg->conn, PGRES_FATAL_ERROR);
			if (PQstatus(pg->conn) == CONNECTION_BAD)
				break;
			continue;
		}
		if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR) {
			if (bad == NULL)
				bad = res;
			else
				PQclear(res);
			continue;
		}
		PQclear(keep);
		keep = res;
	}
	pg->busy = 0;
	if (bad) {
		PQclear(keep);
		if (PQresultErrorField(bad, PG_DIAG_SQLSTATE) == NULL &&
		    PQstatus(pg->conn) != CONNECTION_BAD && PQresultStatus(bad) == PGRES_FATAL_ERROR &&
		    PQresultErrorMessage(bad)[0] == '\0')
			pgm_fail(call, "pg.copy", 0, "%s: COPY is not supported here", pg->desc);
		else
			fail_result(call, pg, bad);
		PQclear(bad);
		return NULL;
	}
	if (keep == NULL) {
		connection_lost(call, pg, "query");
		return NULL;
	}
	return keep;
}

int pgm_pg_busy(const pgm_pg *pg)
{
	return pg ? pg->busy : 0;
}

/* pgm_pg_exec - send, wait, result. */
PGresult *pgm_pg_exec(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		      const char *const *params)
{
	pgm_pg *one[1];

	if (pgm_pg_send(call, pg, sql, nparams, params) < 0)
		return NULL;
	one[0] = pg;
	if (pgm_pg_wait_any(call, one, 1) < 0)
		return NULL;
	return pgm_pg_result(call, pg);
}

int pgm_pg_command(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		   const char *const *params)
{
	PGresult *res = pgm_pg_exec(call, pg, sql, nparams, params);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* value_json - one field as the JSON value of its kind. */
static json_t *value_json(const PGresult *res, int row, int col)
{
	const char *v;

	if (PQgetisnull(res, row, col))
		return json_null();
	v = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case OIDOID: {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno == 0 && *end == '\0' && end != v)
			return json_integer(n);
		break;
	}
	case FLOAT4OID:
	case FLOAT8OID: {
		char *end;
		double d;

		if (strcasecmp(v, "NaN") == 0 || strstr(v, "Infinity") || strstr(v, "inf"))
			break;
		d = strtod(v, &end);
		if (*end == '\0' && end != v)
			return json_real(d);
		break;
	}
	case BOOLOID:
		return json_boolean(v[0] == 't');
	case JSONOID:
	case JSONBOID: {
		json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		if (j)
			return j;
		break;
	}
	default:
		break;
	}
	return json_string(v);
}

/* pgm_pg_query_json - rows as an array of objects keyed by column name. */
json_t *pgm_pg_query_json(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
			  const char *const *params)
{
	PGresult *res = pgm_pg_exec(call, pg, sql, nparams, params);
	json_t *rows;
	int r, c, nr, nc;

	if (res == NULL)
		return NULL;
	rows = json_array();
	nr = PQntuples(res);
	nc = PQnfields(res);
	for (r = 0; r < nr; r++) {
		json_t *row = json_object();

		for (c = 0; c < nc; c++) {
			json_t *v = value_json(res, r, c);

			json_object_set_new(row, PQfname(res, c), v ? v : json_null());
		}
		json_array_append_new(rows, row);
	}
	PQclear(res);
	return rows;
}

/* pgm_pg_quote_ident - PQescapeIdentifier, copied to malloc'd memory.
 * Without a connection, the same quoting by hand (doubling '"'). */
char *pgm_pg_quote_ident(pgm_pg *pg, const char *ident)
{
	char *q, *out;

	if (ident == NULL)
		return NULL;
	if (pg && pg->conn) {
		q = PQescapeIdentifier(pg->conn, ident, strlen(ident));
		if (q == NULL)
			return NULL;
		out = strdup(q);
		PQfreemem(q);
		return out;
	} else {
		size_t len = strlen(ident), i, o = 0;

		out = malloc(2 * len + 3);
		if (out == NULL)
			return NULL;
		out[o++] = '"';
		for (i = 0; i < len; i++) {
			if (ident[i] == '"')
				out[o++] = '"';
			out[o++] = ident[i];
		}
		out[o++] = '"';
		out[o] = '\0';
		return out;
	}
}
