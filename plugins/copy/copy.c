/*
 * plugins/copy/copy.c - the copy plugin: table data streamed from one
 * PostgreSQL server to another with COPY, on N connections to each side,
 * verified chunk by chunk with the checksum plugin's row hash, resumable
 * per chunk through the host's durable checkpoints.
 *
 * How copy.data works:
 * - The source is read in one exported snapshot shared by all of its
 *   connections (consistent across tables and chunks).
 * - A table is cut into chunks of about chunk_rows rows: key ranges when
 *   its primary key is one integer column (bounds spread evenly between the
 *   key's min and max), else ctid page ranges; a small table is one chunk,
 *   loaded with TRUNCATE + COPY FREEZE in one transaction.
 * - Each chunk: the source's count and hash sum (checksum_col_hash, the
 *   checksum plugin's typed injective hash) in the snapshot, then COPY TO
 *   STDOUT on the source piped straight into COPY FROM STDIN on the target
 *   (binary by default), then, in the target's transaction before it
 *   commits, the target's count and hash of the same key range: a
 *   mismatch rolls the chunk back and names the table and range. Chunks
 *   of a ctid-split table are verified as a whole table once all are in.
 * - The checkpoint (pgm_checkpoint_save) records the plan, the chunks in
 *   flight and the chunks committed; a resume skips committed chunks,
 *   deletes the key range of a chunk that was in flight before copying it
 *   again, and starts a ctid-split table with a chunk in flight over.
 * - Then the sequences are set from the snapshot (setval on the target).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "pgmove/plugin.h"
#include "checksum.h"
#include "checksum_hash.h"

#define COPY_APP "copy"

enum { M_WHOLE = 0, M_KEY = 1, M_CTID = 2 };
static const char *const method_name[] = {"whole-table", "key-range", "ctid-range"};

typedef struct ctbl {
	char *disp;  /* schema.name                         */
	char *qname; /* "schema"."name"                     */
	char *cols;  /* "a", "b" (generated columns left out) */
	char *hash;  /* count(*), hash sum mod 2^64          */
	char *qkey;  /* the integer key column, or NULL      */
	int method;
	int n;		  /* chunks                         */
	long long lo, hi; /* M_KEY: key min and max         */
	long long pages;  /* M_CTID: pages at plan time     */
	unsigned char *done;
	unsigned char *fly; /* in flight when the checkpoint was saved */
	int ndone;
	long long rows, bytes;
	long long vrows; /* M_CTID: source rows of committed chunks */
	uint64_t vhash;	 /* ... and their hash sum mod 2^64           */
	int redo;	 /* resumed with a chunk in flight: start over */
} ctbl;

typedef struct job {
	int t, i;
} job;

typedef struct ctx {
	pgm_call *call;
	int jobs;
	long long chunk_rows;
	int binary, verify, freeze;
	int ntbl;
	ctbl *tbls;
	pgm_pg *src0, *tgt0;
	pgm_pg **src, **tgt;
	PGcancel **cancels; /* 2 per job: source, target (PQcancel is thread-safe) */
	char *snapshot;
	int same_encoding, float_binary;
	/* the queue, shared with the workers under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *queue;
	int nqueue, next;
	int stop;		  /* cancelled or failed: workers stop   */
	int running;		  /* workers still running               */
	char *err_code, *err_msg; /* the first worker error       */
	job *finished;		  /* chunks committed, not yet checkpointed */
	long long *fin_rows, *fin_bytes;
	uint64_t *fin_hash;
	int nfinished;
	job *started;
	int nstarted;
	long long rows_done, bytes_done, rows_total;
	int skipped;
} ctx;

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static char *xasprintf(const char *fmt, ...) PGM_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* chunk_where - the WHERE clause of chunk i of t (caller frees): a key
 * range (lo, hi] with open ends for the first and last chunk, or a ctid
 * page range [p, q). "" for a whole table. */
static char *chunk_where(const ctbl *t, int i)
{
	if (t->method == M_KEY) {
		long long span = t->hi - t->lo, a, b;

		a = t->lo + (long long)((double)span * i / t->n);
		b = t->lo + (long long)((double)span * (i + 1) / t->n);
		if (i == 0 && t->n == 1)
			return strdup("");
		if (i == 0)
			return xasprintf(" WHERE %s <= %lld", t->qkey, b);
		if (i == t->n - 1)
			return xasprintf(" WHERE %s > %lld", t->qkey, a);
		return xasprintf(" WHERE %s > %lld AND %s <= %lld", t->qkey, a, t->qkey, b);
	}
	if (t->method == M_CTID) {
		long long a = t->pages * i / t->n, b = t->pages * (i + 1) / t->n;

		if (i == 0)
			return xasprintf(" WHERE ctid < '(%lld,0)'::tid", b);
		if (i == t->n - 1)
			return xasprintf(" WHERE ctid >= '(%lld,0)'::tid", a);
		return xasprintf(" WHERE ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid", a, b);
	}
	return strdup("");
}

/* chunk_range - "(lo, hi]" / "pages [a, b)" for messages (caller frees). */
static char *chunk_range(const ctbl *t, int i)
{
	if (t->method == M_KEY) {
		long long span = t->hi - t->lo;
		long long a = t->lo + (long long)((double)span * i / t->n);
		long long b = t->lo + (long long)((double)span * (i + 1) / t->n);
		char lo[32], hi[32];

		snprintf(lo, sizeof(lo), "%lld", a);
		snprintf(hi, sizeof(hi), "%lld", b);
		return xasprintf("%s (%s, %s]", t->qkey, i == 0 ? "-inf" : lo,
				 i == t->n - 1 ? "+inf" : hi);
	}
	if (t->method == M_CTID)
		return xasprintf("pages [%lld, %s)", t->pages * i / t->n,
				 i == t->n - 1 ? "end" : "next");
	return strdup("whole table");
}

/* parse_hash - the count and hash sum of a count/hash row. */
static void parse_hash(PGresult *r, long long *cnt, uint64_t *h)
{
	*cnt = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*h = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
}

/* ------------------------------------------------------------------------
 * Workers (one source and one target connection each)
 * ---------------------------------------------------------------------- */

typedef struct worker {
	ctx *x;
	int w;
} worker;

/* wfail - records the first worker error (code and message are copied)
 * and tells everyone to stop. Called with mu not held. */
static void wfail(ctx *x, const char *code, const char *fmt, ...) PGM_PRINTF(3, 4);
static void wfail(ctx *x, const char *code, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	pthread_mutex_lock(&x->mu);
	if (x->err_code == NULL) {
		char *red = msg ? pgm_redact(msg) : NULL;

		x->err_code = strdup(code);
		x->err_msg = red ? red : strdup("out of memory");
	}
	x->stop = 1;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	free(msg);
}

/* pg_fail - wfail with the connection's SQLSTATE and message. */
static void pg_fail(ctx *x, PGconn *c, PGresult *r, const char *what, const ctbl *t, int i)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char code[16];
	char *range = chunk_range(t, i);

	snprintf(code, sizeof(code), "pg.%s", st ? st : "08006");
	wfail(x, code, "copy: table %s: chunk %d %s: %s: %s", t->disp, i, range ? range : "", what,
	      r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	free(range);
}

/* exec_ok - runs sql on c; 0, or -1 after pg_fail. */
static int exec_ok(ctx *x, PGconn *c, const char *sql, const char *what, const ctbl *t, int i)
{
	PGresult *r = PQexec(c, sql);
	int ok = r &&
		 (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);

	if (!ok)
		pg_fail(x, c, r, what, t, i);
	PQclear(r);
	return ok ? 0 : -1;
}

/* hash_of - the count and hash sum of rows matching where on c. */
static int hash_of(ctx *x, PGconn *c, const ctbl *t, int i, const char *where, const char *side,
		   long long *cnt, uint64_t *h)
{
	char *sql = xasprintf("SELECT %s FROM ONLY %s%s", t->hash, t->qname, where);
	PGresult *r;
	int rc = -1;

	if (sql == NULL)
		return wfail(x, "pgmove.nomem", "out of memory"), -1;
	r = PQexec(c, sql);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		parse_hash(r, cnt, h);
		rc = 0;
	} else {
		char what[64];

		snprintf(what, sizeof(what), "hashing on the %s", side);
		pg_fail(x, c, r, what, t, i);
	}
	PQclear(r);
	free(sql);
	return rc;
}

/* copy_chunk - copies and verifies chunk i of t on worker w's connections.
 * 0, or -1 after wfail (the target's transaction rolled back). */
static int copy_chunk(ctx *x, int w, ctbl *t, int i, long long *rows, long long *bytes,
		      uint64_t *hout)
{
	PGconn *s = pgm_pg_conn(x->src[w]), *d = pgm_pg_conn(x->tgt[w]);
	char *where = chunk_where(t, i), *sql = NULL, *buf;
	long long scnt = 0, tcnt = 0;
	uint64_t sh = 0, th = 0;
	PGresult *r;
	int n, rc = -1, in_tx = 0;
	const char *fmt = x->binary ? "binary" : "text";

	*bytes = 0;
	if (where == NULL)
		return wfail(x, "pgmove.nomem", "out of memory"), -1;
	if (x->verify && hash_of(x, s, t, i, where, "source", &scnt, &sh) < 0)
		goto out;
	if (exec_ok(x, d, "BEGIN", "BEGIN on the target", t, i) < 0)
		goto out;
	in_tx = 1;
	if (t->n == 1) {
		free(sql);
		sql = xasprintf("TRUNCATE ONLY %s", t->qname);
		if (sql == NULL || exec_ok(x, d, sql, "TRUNCATE on the target", t, i) < 0)
			goto out;
	} else if (t->fly != NULL && t->fly[i] && t->method == M_KEY) {
		/* in flight when the process died: it may have committed */
		free(sql);
		sql = xasprintf("DELETE FROM ONLY %s%s", t->qname, where);
		if (sql == NULL || exec_ok(x, d, sql, "emptying the range on the target", t, i) < 0)
			goto out;
	}
	free(sql);
	sql = xasprintf("COPY %s (%s) FROM STDIN WITH (FORMAT %s%s)", t->qname, t->cols, fmt,
			t->n == 1 && x->freeze ? ", FREEZE" : "");
	if (sql == NULL)
		goto nomem;
	r = PQexec(d, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		pg_fail(x, d, r, "COPY FROM on the target", t, i);
		PQclear(r);
		goto out;
	}
	PQclear(r);
	free(sql);
	sql = xasprintf("COPY (SELECT %s FROM ONLY %s%s) TO STDOUT WITH (FORMAT %s)", t->cols,
			t->qname, where, fmt);
	if (sql == NULL)
		goto nomem;
	r = PQexec(s, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		pg_fail(x, s, r, "COPY TO on the source", t, i);
		PQclear(r);
		PQputCopyEnd(d, "source failed");
		PQclear(PQgetResult(d));
		goto out;
	}
	PQclear(r);
	while ((n = PQgetCopyData(s, &buf, 0)) > 0) {
		int ok = PQputCopyData(d, buf, n) == 1;

		PQfreemem(buf);
		*bytes += n;
		if (!ok) {
			pg_fail(x, d, NULL, "sending to the target", t, i);
			goto drain;
		}
		if (x->stop) {
			wfail(x, "pgmove.cancelled", "copy: cancelled");
			goto drain;
		}
	}
	r = PQgetResult(s);
	if (n == -2 || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail(x, s, r, "COPY TO on the source", t, i);
		PQclear(r);
		goto drain;
	}
	PQclear(r);
	while ((r = PQgetResult(s)) != NULL)
		PQclear(r);
	if (PQputCopyEnd(d, NULL) != 1) {
		pg_fail(x, d, NULL, "ending COPY on the target", t, i);
		goto out;
	}
	r = PQgetResult(d);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail(x, d, r, "COPY FROM on the target", t, i);
		PQclear(r);
		goto out;
	}
	*rows = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	while ((r = PQgetResult(d)) != NULL)
		PQclear(r);
	if (x->verify && t->n == 1) {
		if (hash_of(x, d, t, i, where, "target", &tcnt, &th) < 0)
			goto out;
		if (tcnt != scnt || th != sh) {
			char *range = chunk_range(t, i);

			wfail(x, "copy.mismatch",
			      "copy: table %s: chunk %d %s: the target differs after the copy: "
			      "source %lld rows hash %" PRIu64 ", target %lld rows hash %" PRIu64,
			      t->disp, i, range ? range : "", scnt, sh, tcnt, th);
			free(range);
			goto out;
		}
	}
	if (exec_ok(x, d, "COMMIT", "COMMIT on the target", t, i) < 0) {
		in_tx = 0;
		goto out;
	}
	in_tx = 0;
	*hout = sh;
	if (x->verify)
		*rows = scnt;
	rc = 0;
	goto out;
drain:
	PQputCopyEnd(d, "pgmove: copy stopped");
	while ((r = PQgetResult(d)) != NULL)
		PQclear(r);
	/* the source's COPY OUT is abandoned: cancel it so the connection is usable */
	{
		PGcancel *cn = PQgetCancel(s);
		char eb[256];

		if (cn) {
			PQcancel(cn, eb, sizeof(eb));
			PQfreeCancel(cn);
		}
		while (PQgetCopyData(s, &buf, 0) > 0)
			PQfreemem(buf);
		while ((r = PQgetResult(s)) != NULL)
			PQclear(r);
	}
	goto out;
nomem:
	wfail(x, "pgmove.nomem", "out of memory");
out:
	if (in_tx)
		PQclear(PQexec(d, "ROLLBACK"));
	free(sql);
	free(where);
	return rc;
}

/* worker_main - takes chunks off the queue until it is empty or stop. */
static void *worker_main(void *arg)
{
	worker *wk = arg;
	ctx *x = wk->x;

	for (;;) {
		job j;
		long long rows = 0, bytes = 0;
		uint64_t h = 0;

		pthread_mutex_lock(&x->mu);
		if (x->stop || x->next >= x->nqueue) {
			x->running--;
			pthread_cond_broadcast(&x->cv);
			pthread_mutex_unlock(&x->mu);
			return NULL;
		}
		j = x->queue[x->next++];
		x->started[x->nstarted++] = j;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);

		if (copy_chunk(x, wk->w, &x->tbls[j.t], j.i, &rows, &bytes, &h) < 0)
			continue; /* stop is set: the loop ends */
		pthread_mutex_lock(&x->mu);
		x->finished[x->nfinished] = j;
		x->fin_rows[x->nfinished] = rows;
		x->fin_bytes[x->nfinished] = bytes;
		x->fin_hash[x->nfinished] = h;
		x->nfinished++;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
	}
}

/* ------------------------------------------------------------------------
 * Checkpoint: {"v": 1, "tables": {"s.t": {"n", "lo", "hi", "pages",
 * "done": [[a, b], ...], "fly": [i, ...], "vrows", "vhash"}}}
 * ---------------------------------------------------------------------- */

static json_t *runs_json(const unsigned char *bits, int n)
{
	json_t *a = json_array();
	int i = 0;

	while (i < n) {
		int b;

		if (!bits[i]) {
			i++;
			continue;
		}
		for (b = i; b + 1 < n && bits[b + 1]; b++)
			;
		json_array_append_new(a, json_pack("[ii]", i, b));
		i = b + 1;
	}
	return a;
}

/* save_checkpoint - records the plan, what is committed and what is in
 * flight (fly: flags per table and chunk, NULL for none). */
static int save_checkpoint(ctx *x, unsigned char **fly)
{
	json_t *tables = json_object(), *cp;
	char hb[32];
	int k, i, rc;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];
		json_t *f = json_array();

		for (i = 0; fly && fly[k] && i < t->n; i++)
			if (fly[k][i])
				json_array_append_new(f, json_integer(i));
		snprintf(hb, sizeof(hb), "%" PRIu64, t->vhash);
		json_object_set_new(tables, t->disp,
				    json_pack("{s:i, s:i, s:I, s:I, s:I, s:o, s:o, s:I, s:s}", "n",
					      t->n, "method", t->method, "lo", (json_int_t)t->lo,
					      "hi", (json_int_t)t->hi, "pages",
					      (json_int_t)t->pages, "done",
					      runs_json(t->done, t->n), "fly", f, "vrows",
					      (json_int_t)t->vrows, "vhash", hb));
	}
	cp = json_pack("{s:i, s:o}", "v", 1, "tables", tables);
	rc = pgm_checkpoint_save(x->call, cp);
	json_decref(cp);
	return rc;
}

/* load_checkpoint - adopts the plan and progress of an earlier run of the
 * same call. A table is re-planned from scratch when the checkpoint does
 * not know it; a ctid-split table with a chunk in flight starts over. */
static void load_checkpoint(ctx *x, json_t *cp)
{
	json_t *tables = json_object_get(cp, "tables");
	int k;

	if (!json_is_object(tables) || json_integer_value(json_object_get(cp, "v")) != 1)
		return;
	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];
		json_t *e = json_object_get(tables, t->disp), *run, *v;
		size_t i;
		int n = (int)json_integer_value(json_object_get(e, "n"));
		int method = (int)json_integer_value(json_object_get(e, "method"));

		if (!json_is_object(e) || n < 1 || n > 10000000 || method < 0 || method > 2 ||
		    (method == M_KEY && t->qkey == NULL))
			continue;
		t->n = n;
		t->method = method;
		t->lo = json_integer_value(json_object_get(e, "lo"));
		t->hi = json_integer_value(json_object_get(e, "hi"));
		t->pages = json_integer_value(json_object_get(e, "pages"));
		t->vrows = json_integer_value(json_object_get(e, "vrows"));
		t->vhash = strtoull(json_string_value(json_object_get(e, "vhash"))
					    ? json_string_value(json_object_get(e, "vhash"))
					    : "0",
				    NULL, 10);
		t->done = calloc((size_t)n, 1);
		t->fly = calloc((size_t)n, 1);
		if (t->done == NULL || t->fly == NULL)
			continue;
		json_array_foreach(json_object_get(e, "done"), i, run)
		{
			json_int_t a = json_integer_value(json_array_get(run, 0));
			json_int_t b = json_integer_value(json_array_get(run, 1));

			for (; a <= b && a < n; a++)
				if (a >= 0 && !t->done[a]) {
					t->done[a] = 1;
					t->ndone++;
				}
		}
		json_array_foreach(json_object_get(e, "fly"), i, v)
		{
			json_int_t a = json_integer_value(v);

			if (a >= 0 && a < n && !t->done[a])
				t->fly[a] = 1;
		}
		if (method == M_CTID) {
			for (i = 0; i < (size_t)n; i++)
				t->redo |= t->fly[i];
			if (t->redo) {
				memset(t->done, 0, (size_t)n);
				t->ndone = 0;
				t->vrows = 0;
				t->vhash = 0;
			}
		}
	}
}

/* ------------------------------------------------------------------------
 * Plan
 * ---------------------------------------------------------------------- */

static const char TABLES_SQL[] =
	"SELECT format('%I.%I', n.nspname, c.relname) AS qname, "
	"n.nspname || '.' || c.relname AS disp, "
	"greatest(c.reltuples, 0)::float8 AS est, "
	"(pg_catalog.pg_relation_size(c.oid) / "
	" pg_catalog.current_setting('block_size')::int)::int8 AS pages, "
	"(SELECT json_agg(json_build_object('q', quote_ident(a.attname), 'typid', "
	"a.atttypid::int8, "
	"  'base', coalesce(nullif(t.typbasetype, 0), a.atttypid)::int8, "
	"  'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum) "
	" FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
	" WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"   AND a.attgenerated = '') AS cols, "
	"(SELECT quote_ident(a.attname) FROM pg_index i JOIN pg_attribute a "
	"   ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
	" WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnkeyatts = 1 "
	"   AND a.atttypid IN (20, 21, 23)) AS ikey "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND " CHECKSUM_USER_SCHEMAS " "
	"ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, 1";

/* plan_tables - the source's tables (all user tables, or those named in
 * tables), their columns, hash expressions and chunks. */
static int plan_tables(ctx *x, json_t *wanted)
{
	json_t *rows = pgm_pg_query_json(x->call, x->src0, TABLES_SQL, 0, NULL), *row;
	size_t r, w;
	int k = 0;

	if (rows == NULL)
		return -1;
	x->tbls = calloc(json_array_size(rows) + 1, sizeof(ctbl));
	if (x->tbls == NULL)
		return json_decref(rows), pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	json_array_foreach(wanted, w, row)
	{
		const char *name = json_string_value(row);
		int found = 0;
		size_t i;
		json_t *e;

		json_array_foreach(rows, i, e) found |=
			name && strcmp(json_string_value(json_object_get(e, "disp")), name) == 0;
		if (!found) {
			json_decref(rows);
			return pgm_fail(x->call, "copy.bad_argument", 0,
					"copy: tables: %s is not a table on the source (give "
					"\"schema.table\")",
					name ? name : "(not a string)"),
			       -1;
		}
	}
	json_array_foreach(rows, r, row)
	{
		ctbl *t = &x->tbls[k];
		json_t *cols = json_object_get(row, "cols"), *c;
		const char *disp = json_string_value(json_object_get(row, "disp"));
		FILE *f;
		char *h = NULL, *cl = NULL;
		size_t hl = 0, cll = 0, i;
		double est = json_number_value(json_object_get(row, "est"));
		int found = json_array_size(wanted) == 0;

		json_array_foreach(wanted, w, c) found |= strcmp(json_string_value(c), disp) == 0;
		if (!found)
			continue;
		t->disp = strdup(disp);
		t->qname = strdup(json_string_value(json_object_get(row, "qname")));
		t->pages = json_integer_value(json_object_get(row, "pages"));
		if (json_is_string(json_object_get(row, "ikey")))
			t->qkey = strdup(json_string_value(json_object_get(row, "ikey")));
		f = open_memstream(&h, &hl);
		if (f == NULL)
			break;
		fputs("count(*), (((coalesce(sum(", f);
		{
			FILE *g = open_memstream(&cl, &cll);

			if (g == NULL) {
				fclose(f);
				break;
			}
			if (json_array_size(cols) == 0)
				fputs("0::int8", f);
			json_array_foreach(cols, i, c)
			{
				checksum_hcol hc = {json_string_value(json_object_get(c, "q")),
						    json_string_value(json_object_get(c, "type")),
						    json_string_value(json_object_get(c, "type")),
						    json_integer_value(json_object_get(c, "typid")),
						    json_integer_value(json_object_get(c, "base"))};

				if (i > 0)
					fputs(" # ", f);
				checksum_col_hash(f, &hc, (int)i + 1, 1, x->float_binary,
						  x->same_encoding);
				fprintf(g, "%s%s", i ? ", " : "", hc.qname);
			}
			fclose(g);
		}
		fputs("), 0) % 18446744073709551616) + 18446744073709551616) "
		      "% 18446744073709551616)::text",
		      f);
		fclose(f);
		t->hash = h;
		t->cols = cl;
		if (t->disp == NULL || t->qname == NULL || t->hash == NULL || t->cols == NULL)
			break;
		if (est <= 0 && t->pages > 0)
			est = (double)t->pages * 100;
		t->n = (int)ceil(est / (double)x->chunk_rows);
		if (t->n < 1)
			t->n = 1;
		if (t->n > 100000)
			t->n = 100000;
		t->method = t->n == 1 ? M_WHOLE : t->qkey ? M_KEY : M_CTID;
		x->rows_total += (long long)est;
		k++;
		x->ntbl = k;
	}
	if (r < json_array_size(rows)) {
		json_decref(rows);
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	}
	json_decref(rows);
	for (int i = 0; i < x->ntbl; i++)
		if (x->tbls[i].hash == NULL || x->tbls[i].cols == NULL)
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	return 0;
}

/* plan_bounds - the key min and max of key-split tables (in the
 * snapshot); a table whose key range is empty becomes one chunk. */
static int plan_bounds(ctx *x)
{
	int k;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];
		char *sql;
		PGresult *r;

		if (t->done != NULL || t->method != M_KEY)
			continue;
		sql = xasprintf("SELECT min(%s)::int8, max(%s)::int8 FROM ONLY %s", t->qkey,
				t->qkey, t->qname);
		if (sql == NULL)
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
		r = pgm_pg_exec(x->call, x->src0, sql, 0, NULL);
		free(sql);
		if (r == NULL)
			return -1;
		if (PQgetisnull(r, 0, 0)) {
			t->method = M_WHOLE;
			t->n = 1;
		} else {
			t->lo = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			t->hi = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
			if (t->hi - t->lo < t->n) {
				t->method = M_WHOLE;
				t->n = 1;
			}
		}
		PQclear(r);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The function
 * ---------------------------------------------------------------------- */

/* open_sides - the snapshot connection on the source, the control
 * connection on the target, and jobs connections to each side (sources in
 * the exported snapshot; targets with synchronous_commit off). */
static int open_sides(ctx *x, const char *source, const char *target)
{
	PGresult *r;
	const char *p[1];
	int j, sv, tv;
	char *se, *te;

	x->src0 = pgm_pg_connect(x->call, source, COPY_APP);
	if (x->src0 == NULL)
		return -1;
	x->tgt0 = pgm_pg_connect(x->call, target, COPY_APP);
	if (x->tgt0 == NULL)
		return -1;
	if (pgm_pg_command(x->call, x->src0, checksum_session_sql, 0, NULL) < 0 ||
	    pgm_pg_command(x->call, x->tgt0, checksum_session_sql, 0, NULL) < 0)
		return -1;
	sv = PQserverVersion(pgm_pg_conn(x->src0));
	tv = PQserverVersion(pgm_pg_conn(x->tgt0));
	x->float_binary = sv < 120000 || tv < 120000;
	se = PQparameterStatus(pgm_pg_conn(x->src0), "server_encoding")
		     ? strdup(PQparameterStatus(pgm_pg_conn(x->src0), "server_encoding"))
		     : NULL;
	te = (char *)PQparameterStatus(pgm_pg_conn(x->tgt0), "server_encoding");
	x->same_encoding = se && te && strcmp(se, te) == 0;
	free(se);
	if (pgm_pg_command(x->call, x->src0, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
			   NULL) < 0)
		return -1;
	r = pgm_pg_exec(x->call, x->src0, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
	if (r == NULL)
		return -1;
	x->snapshot = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	x->src = calloc((size_t)x->jobs, sizeof(pgm_pg *));
	x->tgt = calloc((size_t)x->jobs, sizeof(pgm_pg *));
	if (x->snapshot == NULL || x->src == NULL || x->tgt == NULL)
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	p[0] = x->snapshot;
	for (j = 0; j < x->jobs; j++) {
		x->src[j] = pgm_pg_connect(x->call, source, COPY_APP);
		if (x->src[j] == NULL ||
		    pgm_pg_command(x->call, x->src[j], checksum_session_sql, 0, NULL) < 0 ||
		    pgm_pg_command(x->call, x->src[j],
				   "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL) < 0)
			return -1;
		{
			char *sql = xasprintf("SET TRANSACTION SNAPSHOT '%s'", x->snapshot);

			if (sql == NULL || strchr(x->snapshot, '\'') != NULL)
				return free(sql),
				       pgm_fail(x->call, "copy.snapshot", 0,
						"copy: bad snapshot name"),
				       -1;
			if (pgm_pg_command(x->call, x->src[j], sql, 0, NULL) < 0)
				return free(sql), -1;
			free(sql);
		}
		x->tgt[j] = pgm_pg_connect(x->call, target, COPY_APP);
		if (x->tgt[j] == NULL ||
		    pgm_pg_command(x->call, x->tgt[j], checksum_session_sql, 0, NULL) < 0 ||
		    pgm_pg_command(
			    x->call, x->tgt[j],
			    "SELECT pg_catalog.set_config('synchronous_commit', 'off', false)", 0,
			    NULL) < 0)
			return -1;
	}
	(void)p;
	return 0;
}

/* narrow - the first chunk of key-split t whose count or hash differs
 * between the source (snapshot) and the target, named in the call's
 * error. Only called after the table's sums differ. */
static void narrow(ctx *x, ctbl *t)
{
	int i;

	for (i = 0; i < t->n && x->err_code == NULL; i++) {
		char *where = chunk_where(t, i), *range;
		long long sc = 0, tc = 0;
		uint64_t sh = 0, th = 0;

		if (where == NULL)
			return;
		if (hash_of(x, pgm_pg_conn(x->src0), t, i, where, "source", &sc, &sh) == 0 &&
		    hash_of(x, pgm_pg_conn(x->tgt0), t, i, where, "target", &tc, &th) == 0 &&
		    (sc != tc || sh != th)) {
			range = chunk_range(t, i);
			pgm_fail(x->call, "copy.mismatch", 0,
				 "copy: table %s: chunk %d %s: the target differs after the copy: "
				 "source %lld rows hash %" PRIu64
				 ", target %lld rows hash %" PRIu64,
				 t->disp, i, range ? range : "", sc, sh, tc, th);
			free(range);
			free(where);
			return;
		}
		free(where);
	}
}

/* verify_split_tables - the check of tables copied in several chunks: the
 * target's whole-table count and hash sum against the sum of the source's
 * chunk hashes (one scan of each target table, which has no index yet);
 * a difference is narrowed to the chunk of a key-split table. */
static int verify_split_tables(ctx *x)
{
	int k;

	for (k = 0; k < x->ntbl && x->verify; k++) {
		ctbl *t = &x->tbls[k];
		char *sql;
		PGresult *r;
		long long cnt;
		uint64_t h;

		if (t->n == 1)
			continue;
		sql = xasprintf("SELECT %s FROM ONLY %s", t->hash, t->qname);
		if (sql == NULL)
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
		r = pgm_pg_exec(x->call, x->tgt0, sql, 0, NULL);
		free(sql);
		if (r == NULL)
			return -1;
		parse_hash(r, &cnt, &h);
		PQclear(r);
		if (cnt == t->vrows && h == t->vhash)
			continue;
		if (t->method == M_KEY)
			narrow(x, t);
		if (!pgm_failed(x->call) && x->err_code != NULL)
			pgm_fail(x->call, x->err_code, 0, "%s", x->err_msg);
		if (!pgm_failed(x->call))
			pgm_fail(
				x->call, "copy.mismatch", 0,
				"copy: table %s (%d %s chunks): the target differs after the copy: "
				"source %lld rows hash %" PRIu64 ", target %lld rows hash %" PRIu64,
				t->disp, t->n, method_name[t->method], t->vrows, t->vhash, cnt, h);
		return -1;
	}
	return 0;
}

/* set_sequences - every user sequence of the source gets its value in the
 * snapshot on the target. Returns how many, or -1. */
static int set_sequences(ctx *x)
{
	PGresult *r = pgm_pg_exec(x->call, x->src0,
				  "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
				  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = "
				  "'S' AND " CHECKSUM_USER_SCHEMAS " ORDER BY 1",
				  0, NULL);
	int i, n;

	if (r == NULL)
		return -1;
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		char *sql = xasprintf("SELECT last_value::text, is_called::text FROM %s",
				      PQgetvalue(r, i, 0));
		PGresult *v;
		const char *p[3];

		if (sql == NULL)
			return PQclear(r), pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"),
			       -1;
		v = pgm_pg_exec(x->call, x->src0, sql, 0, NULL);
		free(sql);
		if (v == NULL)
			return PQclear(r), -1;
		p[0] = PQgetvalue(r, i, 0);
		p[1] = PQgetvalue(v, 0, 0);
		p[2] = PQgetvalue(v, 0, 1);
		if (pgm_pg_command(x->call, x->tgt0,
				   "SELECT pg_catalog.setval($1::regclass, $2::int8, $3::bool)", 3,
				   p) < 0) {
			PQclear(v);
			PQclear(r);
			return -1;
		}
		PQclear(v);
	}
	PQclear(r);
	return n;
}

/* run_chunks - starts the workers on every chunk not yet committed and,
 * while they run, checkpoints each chunk as it starts and commits. */
static int run_chunks(ctx *x)
{
	pthread_t *th;
	worker *wk;
	unsigned char **fly;
	int k, i, nth = 0, rc = 0, total = 0;
	long long t0 = pgm_now_ms();

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		if (t->done == NULL && (t->done = calloc((size_t)t->n, 1)) == NULL)
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
		total += t->n;
	}
	x->queue = calloc((size_t)total + 1, sizeof(job));
	x->started = calloc((size_t)total + 1, sizeof(job));
	x->finished = calloc((size_t)total + 1, sizeof(job));
	x->fin_rows = calloc((size_t)total + 1, sizeof(long long));
	x->fin_bytes = calloc((size_t)total + 1, sizeof(long long));
	x->fin_hash = calloc((size_t)total + 1, sizeof(uint64_t));
	fly = calloc((size_t)x->ntbl + 1, sizeof(unsigned char *));
	th = calloc((size_t)x->jobs, sizeof(pthread_t));
	wk = calloc((size_t)x->jobs, sizeof(worker));
	if (!x->queue || !x->started || !x->finished || !x->fin_rows || !x->fin_bytes ||
	    !x->fin_hash || !fly || !th || !wk) {
		free(fly);
		free(th);
		free(wk);
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	}
	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		if (t->redo) {
			char *sql = xasprintf("TRUNCATE ONLY %s", t->qname);

			pgm_notice("copy: table %s: a ctid-range chunk was in flight when the copy "
				   "stopped: the table is copied again from the start",
				   t->disp);
			if (sql == NULL || pgm_pg_command(x->call, x->tgt0, sql, 0, NULL) < 0) {
				free(sql);
				rc = -1;
				goto out;
			}
			free(sql);
		}
		fly[k] = calloc((size_t)t->n, 1);
		if (fly[k] == NULL) {
			pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
			rc = -1;
			goto out;
		}
		for (i = 0; i < t->n; i++) {
			if (t->done[i]) {
				x->skipped++;
				continue;
			}
			x->queue[x->nqueue].t = k;
			x->queue[x->nqueue].i = i;
			x->nqueue++;
		}
	}
	if (save_checkpoint(x, NULL) < 0) {
		rc = -1;
		goto out;
	}
	x->cancels = calloc((size_t)x->jobs * 2, sizeof(PGcancel *));
	if (x->cancels == NULL) {
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
		rc = -1;
		goto out;
	}
	for (i = 0; i < x->jobs; i++) {
		x->cancels[2 * i] = PQgetCancel(pgm_pg_conn(x->src[i]));
		x->cancels[2 * i + 1] = PQgetCancel(pgm_pg_conn(x->tgt[i]));
	}
	x->running = x->jobs;
	for (i = 0; i < x->jobs; i++) {
		wk[i].x = x;
		wk[i].w = i;
		if (pthread_create(&th[i], NULL, worker_main, &wk[i]) != 0) {
			pthread_mutex_lock(&x->mu);
			x->stop = 1;
			x->running -= x->jobs - i;
			pthread_mutex_unlock(&x->mu);
			pgm_fail(x->call, "copy.thread", 0, "copy: cannot start a worker thread");
			rc = -1;
			break;
		}
		nth++;
	}
	pthread_mutex_lock(&x->mu);
	for (;;) {
		struct timespec ts;
		int changed = 0;

		while (x->nstarted > 0) {
			job j = x->started[--x->nstarted];

			fly[j.t][j.i] = 1;
			changed = 1;
		}
		while (x->nfinished > 0) {
			int f = --x->nfinished;
			job j = x->finished[f];
			ctbl *t = &x->tbls[j.t];

			fly[j.t][j.i] = 0;
			t->done[j.i] = 1;
			t->ndone++;
			t->rows += x->fin_rows[f];
			t->bytes += x->fin_bytes[f];
			t->vrows += x->fin_rows[f];
			t->vhash += x->fin_hash[f];
			x->rows_done += x->fin_rows[f];
			x->bytes_done += x->fin_bytes[f];
			changed = 1;
		}
		if (changed) {
			char label[160];
			double secs = (double)(pgm_now_ms() - t0) / 1000.0;
			double rate = secs > 0 ? (double)x->rows_done / secs : 0;

			pthread_mutex_unlock(&x->mu);
			if (save_checkpoint(x, fly) < 0) {
				pthread_mutex_lock(&x->mu);
				x->stop = 1;
				rc = -1;
				continue;
			}
			snprintf(label, sizeof(label), "copy %.1f MB, %.0f rows/s, ~%.0f s left",
				 (double)x->bytes_done / 1e6, rate,
				 rate > 0 && x->rows_total > x->rows_done
					 ? (double)(x->rows_total - x->rows_done) / rate
					 : 0.0);
			pgm_progress(x->call, (double)x->rows_done,
				     (double)(x->rows_total > x->rows_done ? x->rows_total
									   : x->rows_done),
				     "rows", label);
			pthread_mutex_lock(&x->mu);
			continue;
		}
		if (x->running == 0)
			break;
		if (!x->stop && (pgm_cancelled(x->call) || pgm_remaining_ms(x->call) == 0)) {
			char eb[256];

			x->stop = 1;
			/* a worker blocked on a frozen server wakes up with an error */
			for (i = 0; i < 2 * x->jobs; i++)
				if (x->cancels[i] != NULL)
					PQcancel(x->cancels[i], eb, sizeof(eb));
			if (x->err_code == NULL) {
				x->err_code = strdup("pgmove.cancelled");
				x->err_msg = strdup(
					"copy: cancelled or out of time; committed chunks are "
					"kept and resume skips them");
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&x->cv, &x->mu, &ts);
	}
	pthread_mutex_unlock(&x->mu);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (rc == 0 && x->err_code != NULL) {
		pgm_fail(x->call, x->err_code,
			 strcmp(x->err_code, "copy.mismatch") != 0 &&
				 strncmp(x->err_code, "pg.08", 5) == 0,
			 "%s", x->err_msg ? x->err_msg : "copy failed");
		rc = -1;
	}
out:
	for (k = 0; k < x->ntbl; k++)
		free(fly[k]);
	free(fly);
	free(th);
	free(wk);
	return rc;
}

static void free_ctx(ctx *x)
{
	int k;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		free(t->disp);
		free(t->qname);
		free(t->cols);
		free(t->hash);
		free(t->qkey);
		free(t->done);
		free(t->fly);
	}
	free(x->tbls);
	for (k = 0; k < x->jobs; k++) {
		if (x->src)
			pgm_pg_close(x->src[k]);
		if (x->tgt)
			pgm_pg_close(x->tgt[k]);
	}
	for (k = 0; x->cancels && k < 2 * x->jobs; k++)
		PQfreeCancel(x->cancels[k]);
	free(x->cancels);
	free(x->src);
	free(x->tgt);
	pgm_pg_close(x->src0);
	pgm_pg_close(x->tgt0);
	free(x->snapshot);
	free(x->queue);
	free(x->started);
	free(x->finished);
	free(x->fin_rows);
	free(x->fin_bytes);
	free(x->fin_hash);
	free(x->err_code);
	free(x->err_msg);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
}

/* copy_data - copy.data (see the file's comment). args borrowed; returns
 * a new object or NULL with the call's error set. */
static json_t *copy_data(pgm_call *call, json_t *args)
{
	ctx x;
	const char *source, *target, *format;
	json_t *tables = json_object_get(args, "tables"), *res = NULL, *list, *cp;
	int k, nseq;
	long long t0 = pgm_now_ms(), ms;

	memset(&x, 0, sizeof(x));
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	x.call = call;
	{
		long long jobs = 4;

		source = pgm_arg_string(call, args, "source", NULL, 1);
		target = pgm_arg_string(call, args, "target", NULL, 1);
		format = pgm_arg_string(call, args, "format", "binary", 0);
		if (source == NULL || target == NULL || format == NULL ||
		    pgm_arg_int(call, args, "jobs", 4, 0, &jobs) < 0 ||
		    pgm_arg_int(call, args, "chunk_rows", 100000, 0, &x.chunk_rows) < 0 ||
		    pgm_arg_bool(call, args, "verify", 1, &x.verify) < 0 ||
		    pgm_arg_bool(call, args, "freeze", 1, &x.freeze) < 0)
			goto out;
		if (jobs < 1 || jobs > 64) {
			pgm_fail(call, "copy.bad_argument", 0,
				 "copy.data: jobs must be 1..64, not %lld", jobs);
			goto out;
		}
		x.jobs = (int)jobs;
	}
	if (source == NULL || target == NULL) {
		pgm_fail(call, "copy.bad_argument", 0, "copy.data: source and target are required");
		goto out;
	}
	if (x.chunk_rows < 1) {
		pgm_fail(call, "copy.bad_argument", 0, "copy.data: chunk_rows must be at least 1");
		goto out;
	}
	if (strcmp(format, "binary") != 0 && strcmp(format, "text") != 0) {
		pgm_fail(call, "copy.bad_argument", 0,
			 "copy.data: format must be \"binary\" or \"text\", not \"%s\"", format);
		goto out;
	}
	x.binary = strcmp(format, "binary") == 0;
	if (tables != NULL && !json_is_array(tables)) {
		pgm_fail(call, "copy.bad_argument", 0,
			 "copy.data: tables must be an array of \"schema.table\"");
		goto out;
	}
	if (open_sides(&x, source, target) < 0 || plan_tables(&x, tables) < 0)
		goto out;
	cp = pgm_checkpoint_get(call);
	if (cp != NULL) {
		load_checkpoint(&x, cp);
		pgm_notice("copy: resuming from the checkpoint of an earlier run of this step");
	}
	if (plan_bounds(&x) < 0 || run_chunks(&x) < 0 || verify_split_tables(&x) < 0)
		goto out;
	nseq = set_sequences(&x);
	if (nseq < 0)
		goto out;
	ms = pgm_now_ms() - t0;
	list = json_array();
	for (k = 0; k < x.ntbl; k++) {
		ctbl *t = &x.tbls[k];

		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:b}",
						      "table", t->disp, "qname", t->qname, "method",
						      method_name[t->method], "chunks", t->n,
						      "rows", (json_int_t)t->rows, "bytes",
						      (json_int_t)t->bytes, "verified", x.verify));
	}
	res = json_pack("{s:o, s:I, s:I, s:i, s:i, s:b, s:s, s:i, s:I, s:f}", "tables", list,
			"rows", (json_int_t)x.rows_done, "bytes", (json_int_t)x.bytes_done,
			"chunks_skipped", x.skipped, "sequences", nseq, "verified", x.verify,
			"format", format, "jobs", x.jobs, "ms", (json_int_t)ms, "rows_per_s",
			ms > 0 ? (double)x.rows_done * 1000.0 / (double)ms : 0.0);
out:
	free_ctx(&x);
	return res;
}

static const char *const formats[] = {"binary", "text", NULL};

static const pgm_param data_params[] = {
	{"source", "conninfo", 1, 1, "source connection string"},
	{"target", "conninfo", 1, 1, "target connection string (tables already created, empty)"},
	{"tables", "array", 0, 0, "tables to copy (\"schema.table\"); default all user tables"},
	{"jobs", "integer", 0, 0, "connections to each server", "4", "1", "64", NULL},
	{"chunk_rows", "integer", 0, 0, "rows per chunk (key or ctid range)", "100000", "1", NULL,
	 NULL},
	{"format", "string", 0, 0, "COPY format", "\"binary\"", NULL, NULL, formats},
	{"verify", "boolean", 0, 0, "count and hash each chunk on both sides", "true", NULL, NULL,
	 NULL},
	{"freeze", "boolean", 0, 0,
	 "COPY FREEZE for one-chunk tables (truncated in the same "
	 "transaction)",
	 "true", NULL, NULL, NULL},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_function copy_functions[] = {
	{"data", copy_data, PGM_FN_IDEMPOTENT,
	 "table data streamed from source to target with COPY on N connections, tables split "
	 "into key or ctid ranges, each chunk verified by count and hash, resumable per chunk; "
	 "then sequences",
	 data_params},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(copy) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "copy",
	.version = "0.1.0",
	.summary = "parallel streaming COPY between servers, verified per chunk, resumable",
	.functions = copy_functions,
};
