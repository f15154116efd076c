/*
 * tests/pg/logical_writer.c - an application of ours that writes for the
 * whole of a migration and records every transaction it knows committed,
 * so that a test can prove nothing was lost or applied twice.
 *
 *   logical-writer --setup CONNINFO
 *       creates writer_items (id bigserial, v text) and writer_txn (n).
 *   logical-writer CONNINFO LOG [--rate N] [--duration SEC] [--stop-file F]
 *                  [--pause-file F]
 *       writes until SIGTERM/SIGINT, the duration or the stop file. While
 *       the pause file exists it writes nothing, and says so by creating
 *       F.ack (every committed transaction is in LOG by then).
 *
 * Each transaction n inserts a row (v = 'n<n>', key from the sequence),
 * updates one of the rows it knows (v = 'n<n>') or deletes one, and
 * inserts n into writer_txn, then commits. After a successful COMMIT it
 * appends "n op id port" to LOG. When the connection dies during COMMIT
 * the outcome is unknown: after reconnecting it asks writer_txn whether n
 * is there and logs it only if so. CONNINFO normally names both servers
 * with target_session_attrs=read-write, as an application would: it then
 * follows the cutover (and a rollback) to whichever server accepts writes.
 * At the end it prints a JSON summary: committed, max_gap_ms (the longest
 * time without a commit: the write downtime), per-port counts, max_id.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* exec_ok - runs sql with params; 1 when its status is want, else 0 (the
 * result is cleared either way; *out gets the first value when asked). */
static int exec_ok(PGconn *c, const char *sql, int n, const char *const *p, ExecStatusType want,
		   char *out, size_t outlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	int ok = r != NULL && PQresultStatus(r) == want;

	if (ok && out != NULL) {
		if (PQntuples(r) > 0)
			snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
		else
			out[0] = '\0';
	}
	PQclear(r);
	return ok;
}

/* connect_writable - connects, retrying every 20 ms until it works or the
 * writer is told to stop. NULL when stopped. */
static PGconn *connect_writable(const char *conninfo)
{
	while (!stop) {
		PGconn *c = PQconnectdb(conninfo);

		if (PQstatus(c) == CONNECTION_OK)
			return c;
		PQfinish(c);
		usleep(20000);
	}
	return NULL;
}

static int setup(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "logical-writer: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	ok = exec_ok(c, "CREATE TABLE writer_items (id bigserial PRIMARY KEY, v text NOT NULL)", 0,
		     NULL, PGRES_COMMAND_OK, NULL, 0) &&
	     exec_ok(c,
		     "CREATE TABLE writer_txn (n bigint PRIMARY KEY, at timestamptz DEFAULT now())",
		     0, NULL, PGRES_COMMAND_OK, NULL, 0);
	if (!ok)
		fprintf(stderr, "logical-writer: setup: %s", PQerrorMessage(c));
	PQfinish(c);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *conninfo, *logpath, *stop_file = NULL, *pause_file = NULL;
	double rate = 200, duration = 0;
	long long *live = NULL, nlive = 0, cap = 0, n = 0, committed = 0, failed = 0;
	long long resolved_yes = 0, resolved_no = 0, anomalies = 0, max_id = 0;
	long long last_commit = 0, max_gap = 0, t_end = 0;
	double max_gap_at = 0, last_commit_wall = 0;
	long long ports[2][64];
	int nports = 0, i;
	PGconn *c = NULL;
	FILE *log;

	if (argc == 3 && strcmp(argv[1], "--setup") == 0)
		return setup(argv[2]);
	if (argc < 3) {
		fprintf(stderr,
			"usage: logical-writer --setup CONNINFO | logical-writer CONNINFO LOG "
			"[--rate N] [--duration SEC] [--stop-file F]\n");
		return 2;
	}
	conninfo = argv[1];
	logpath = argv[2];
	for (i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--rate") == 0)
			rate = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--duration") == 0)
			duration = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--stop-file") == 0)
			stop_file = argv[i + 1];
		else if (strcmp(argv[i], "--pause-file") == 0)
			pause_file = argv[i + 1];
		else {
			fprintf(stderr, "logical-writer: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	log = fopen(logpath, "a");
	if (log == NULL) {
		perror(logpath);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid());
	if (duration > 0)
		t_end = now_ms() + (long long)(duration * 1000);
	while (!stop) {
		char nbuf[32], val[40], idbuf[32], out[64];
		const char *p[2];
		const char *op;
		int pick = -1;
		long long id = 0, t0 = now_ms();

		if (t_end && now_ms() >= t_end)
			break;
		if (stop_file != NULL && access(stop_file, F_OK) == 0)
			break;
		if (pause_file != NULL && access(pause_file, F_OK) == 0) {
			char ack[4096];
			FILE *f;

			snprintf(ack, sizeof(ack), "%s.ack", pause_file);
			f = fopen(ack, "w");
			if (f != NULL) {
				fprintf(f, "%lld\n", committed);
				fclose(f);
			}
			while (!stop && access(pause_file, F_OK) == 0 &&
			       (stop_file == NULL || access(stop_file, F_OK) != 0))
				usleep(10000);
			unlink(ack);
			last_commit = 0; /* a pause is no downtime */
			continue;
		}
		if (c == NULL || PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = connect_writable(conninfo);
			if (c == NULL)
				break;
		}
		n++;
		snprintf(nbuf, sizeof(nbuf), "%lld", n);
		snprintf(val, sizeof(val), "n%lld", n);
		if (!exec_ok(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, 0))
			goto failed;
		if (nlive < 50 || random() % 100 < 50) {
			op = "insert";
			p[0] = val;
			if (!exec_ok(c, "INSERT INTO writer_items (v) VALUES ($1) RETURNING id", 1,
				     p, PGRES_TUPLES_OK, out, sizeof(out)))
				goto failed;
			id = atoll(out);
			if (id > max_id)
				max_id = id;
		} else {
			pick = (int)(random() % nlive);
			id = live[pick];
			op = random() % 100 < 70 ? "update" : "delete";
			snprintf(idbuf, sizeof(idbuf), "%lld", id);
			p[0] = idbuf;
			p[1] = val;
			if (!exec_ok(c,
				     op[0] == 'u' ? "UPDATE writer_items SET v = $2 WHERE id = $1 "
						    "RETURNING id"
						  : "DELETE FROM writer_items WHERE id = $1 AND $2 "
						    "<> '' RETURNING id",
				     2, p, PGRES_TUPLES_OK, out, sizeof(out)))
				goto failed;
			if (out[0] == '\0')
				anomalies++; /* the row this writer knows is not there */
		}
		p[0] = nbuf;
		if (!exec_ok(c, "INSERT INTO writer_txn (n) VALUES ($1)", 1, p, PGRES_COMMAND_OK,
			     NULL, 0))
			goto failed;
		if (!exec_ok(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, 0)) {
			/* Did the commit happen? Ask once a writable server answers. */
			if (PQstatus(c) == CONNECTION_OK)
				goto failed; /* an error the server reported: rolled back */
			PQfinish(c);
			c = connect_writable(conninfo);
			if (c == NULL)
				break;
			if (!exec_ok(c, "SELECT count(*) FROM writer_txn WHERE n = $1", 1, p,
				     PGRES_TUPLES_OK, out, sizeof(out)))
				goto failed;
			if (atoll(out) != 1) {
				resolved_no++;
				goto failed;
			}
			resolved_yes++;
		}
		/* committed */
		fprintf(log, "%lld %s %lld %s\n", n, op, id, PQport(c));
		fflush(log);
		committed++;
		if (op[0] == 'i') {
			if (nlive == cap) {
				cap = cap ? cap * 2 : 1024;
				live = realloc(live, (size_t)cap * sizeof(*live));
				if (live == NULL)
					return 1;
			}
			live[nlive++] = id;
		} else if (op[0] == 'd') {
			live[pick] = live[--nlive];
		}
		{
			long long t = now_ms();
			int port = atoi(PQport(c)), k;

			if (last_commit && t - last_commit > max_gap) {
				max_gap = t - last_commit;
				max_gap_at = last_commit_wall;
			}
			last_commit = t;
			last_commit_wall = wall();
			for (k = 0; k < nports && ports[0][k] != port; k++)
				;
			if (k == nports && nports < 64) {
				ports[0][nports] = port;
				ports[1][nports++] = 0;
			}
			if (k < 64)
				ports[1][k]++;
		}
		goto pace;
	failed:
		failed++;
		if (PQstatus(c) == CONNECTION_OK)
			exec_ok(c, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL, 0);
	pace:
		if (rate > 0) {
			long long want = (long long)(1000.0 / rate) - (now_ms() - t0);

			if (want > 0)
				usleep((useconds_t)want * 1000);
		}
	}
	PQfinish(c);
	fclose(log);
	printf("{\"committed\": %lld, \"failed\": %lld, \"resolved_committed\": %lld, "
	       "\"resolved_rolled_back\": %lld, \"anomalies\": %lld, \"max_id\": %lld, "
	       "\"max_gap_ms\": %lld, \"max_gap_started\": %.3f, \"live\": %lld, \"by_port\": {",
	       committed, failed, resolved_yes, resolved_no, anomalies, max_id, max_gap, max_gap_at,
	       nlive);
	for (i = 0; i < nports; i++)
		printf("%s\"%lld\": %lld", i ? ", " : "", ports[0][i], ports[1][i]);
	printf("}}\n");
	free(live);
	return 0;
}
