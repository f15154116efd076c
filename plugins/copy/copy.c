/*
 * plugins/copy/copy.c - the copy plugin: table data streamed from one
 * PostgreSQL server to another with COPY, on N connections to each side,
 * verified as it goes with the checksum plugin's row hash, indexes and
 * constraints built per table as soon as its data is in, resumable per
 * chunk through the host's durable checkpoints.
 *
 * How copy.data works:
 * - The source is read in one exported snapshot shared by all of its
 *   connections (consistent across tables and chunks).
 * - A table larger than split_larger_than, or than twice its share of the
 *   data (plan_split), is cut into chunks of about chunk_rows rows: key
 *   ranges when its primary key is one integer column (bounds spread evenly
 *   between the key's min and max), else ctid page ranges. Any other table
 *   is one chunk, loaded with TRUNCATE + COPY FREEZE in one transaction.
 * - jobs copy workers take the next chunk (largest table first); index_jobs
 *   post workers (each with one source and one target connection) take a
 *   table's verification and index builds as soon as its last chunk is in
 *   (side by side: SHARE locks), its ALTERs and
 *   ANALYZE, while the copy workers go on copying other tables.
 * - A chunk: BEGIN on the target and its transaction id recorded in the
 *   checkpoint; COPY TO STDOUT on the source piped straight into COPY FROM
 *   STDIN on the target (binary by default; rows batched into 64 KB
 *   messages); the source's count and hash sum taken as the rows pass: of
 *   the binary rows' bytes (hash=stream), or the checksum plugin's typed
 *   injective SQL hash (checksum_col_hash) computed by the source as one
 *   more column of the COPY and taken off each row (hash=sql, and auto for
 *   tables whose every column has a typed hash); COMMIT only once the
 *   checkpoint holding that hash is durable.
 * - A table, once all its chunks are in: one scan of the target checks it
 *   (the stored rows' binary COPY, or the SQL hash), a split table grouped
 *   by chunk (the key's chunk among the bounds), every chunk's count and
 *   hash against the source's: a mismatch names the table and key range at
 *   once. A ctid-split table is checked as a whole.
 * - indexes = true: the table's indexes (CREATE INDEX from the source's
 *   pg_get_indexdef) and its primary key, unique and exclusion constraints
 *   (a unique index, then ADD CONSTRAINT ... USING INDEX), with
 *   maintenance_work_mem and index_workers parallel workers; then, once
 *   every table is in, foreign keys: ADD CONSTRAINT ... NOT VALID one after
 *   the other (a brief lock on both tables), then VALIDATE CONSTRAINT in
 *   parallel (a validation locks only its own table against writers, so
 *   validations of keys pointing at one table do not queue behind each
 *   other as plain ADD FOREIGN KEY does). What was built is returned
 *   (post_data) so that pg_restore's post-data leaves it out.
 * - Resume: the stopped run's target sessions still there are ended first
 *   (end_stopped_sessions); committed chunks are skipped; a chunk in flight at the kill is
 *   looked up by its transaction id on the target (txid_status):
 *   committed, it is kept; aborted, it is copied again; unknown, a key
 *   range is emptied before it is copied again and a ctid-split table is
 *   copied again from the start. Indexes and constraints that exist are
 *   not built again.
 * - Then the sequences are set from the snapshot (setval on the target).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgmove/plugin.h"
#include "checksum.h"
#include "checksum_hash.h"
#include "copy_stream.h"

#define COPY_APP "copy"

enum { M_WHOLE = 0, M_KEY = 1, M_CTID = 2 };
/* how chunks are hashed (hash=): binary COPY bytes, the SQL hash, or per
 * table the cheaper of the two */
enum { H_STREAM = 0, H_SQL, H_AUTO };
static const char *const method_name[] = {"whole-table", "key-range", "ctid-range"};

/* kinds of work a worker does */
enum { J_CHUNK = 0, J_VERIFY, J_INDEX, J_ATTACH, J_ANALYZE, J_VALIDATE };

/* cidx - an index, or a constraint with its index, of a table. Its index
 * is built by a job of its own (SHARE lock: in parallel with the table's
 * other index builds and its verification); the statements that need the
 * table alone (ADD CONSTRAINT, CLUSTER ON, REPLICA IDENTITY) run in one
 * job per table afterwards. */
typedef struct cidx {
	char *entry; /* pg_restore's TOC name: "INDEX public t_a_idx"  */
	char *nsp;   /* the index's schema and name                    */
	char *iname;
	char *con;    /* the constraint's name, or NULL                 */
	char *build;  /* CREATE INDEX, or NULL                          */
	char *attach; /* ALTER TABLE ... ADD CONSTRAINT, or NULL        */
	char *extra;  /* CLUSTER ON / REPLICA IDENTITY, or NULL         */
	double size;  /* bytes on the source                            */
} cidx;
/* cfk - a foreign key between two copied tables. */
typedef struct cfk {
	char *entry, *name, *qtable, *def;
	int t, rt;     /* referencing and referenced table */
	int validated; /* on the source                    */
} cfk;

typedef struct ctbl {
	char *disp;    /* schema.name                           */
	char *qname;   /* "schema"."name"                       */
	char *cols;    /* "a", "b" (generated columns left out) */
	char *hash;    /* count(*), hash sum mod 2^64           */
	char *rowhash; /* one row's hash (int8), summed by hash */
	char *qkey;    /* the integer key column, or NULL       */
	int method;
	int streamed;	      /* verified by hashing binary COPY streams */
	int typed;	      /* every column has a typed SQL hash       */
	int ncols;	      /* columns copied                          */
	unsigned char *kinds; /* ... their COPY_TK_* kinds              */
	uint64_t *nullh;      /* ... the hash each gives when NULL      */
	int chash;	      /* typed, and pgmove computes every column's
			       * hash from the stream (copy_tfeed)       */
	int streamable;	      /* the stream hash can be used             */
	int kpos;	      /* the key's position among cols, or -1    */
	int n;		      /* chunks                         */
	long long lo, hi;     /* M_KEY: key min and max         */
	long long pages;      /* M_CTID: pages at plan time     */
	double size;	      /* bytes on the source, TOAST included */
	unsigned char *done;
	unsigned char *fly; /* in flight (under mu); at load: in flight at the kill */
	long long *fxid;    /* ... its target transaction id (0: unknown)         */
	long long *frows;   /* ... and its source count and hash                   */
	uint64_t *fhash;
	unsigned char *unk; /* in flight at a kill, fate unknown: emptied first   */
	long long *scnt;    /* source count and hash of chunks hashed in this run */
	uint64_t *shash;
	unsigned char *known;
	int ndone, left; /* chunks committed, chunks still to commit */
	long long rows, bytes;
	long long vrows; /* source rows of committed chunks */
	uint64_t vhash;	 /* ... and their hash sum mod 2^64  */
	int redo;	 /* resumed with a ctid chunk of unknown fate: start over */
	int nidx;
	cidx *idx;
	int post_left;		 /* verification and index jobs not finished */
	int attach, attached;	 /* has ALTER statements; they are queued  */
	int verified;		 /* all in and checked (or nothing to check) */
	long long t_first, t_in; /* first chunk started, last chunk in (ms) */
	long long verify_ms, index_ms;
} ctbl;

typedef struct job {
	int kind, t, i;
} job;

typedef struct ctx {
	pgm_call *call;
	int jobs;	/* copy workers: chunks first                          */
	int index_jobs; /* post workers: verification, index builds, ANALYZE... */
	int nw;		/* jobs + index_jobs: workers and connections to each side */
	long long chunk_rows;
	long long split_bytes; /* split_larger_than (-1: "auto" only by share) */
	int binary, verify, freeze, indexes, analyze;
	int hmode;	   /* hash=: H_STREAM, H_SQL or H_AUTO */
	const char *mwm;   /* maintenance_work_mem of index builds */
	int index_workers; /* their max_parallel_maintenance_workers */
	int ntbl;
	ctbl *tbls;
	int nfk;
	cfk *fks;
	pgm_pg *src0, *tgt0;
	pgm_pg **src, **tgt;
	PGcancel **cancels; /* 2 per job: source, target (PQcancel is thread-safe) */
	char *snapshot;
	int same_encoding, float_binary;
	int src_text_raw; /* the source sends text as stored (UTF8, SQL_ASCII) */
	int chash_ok;	  /* pgmove's typed hashes equal the source's (probed) */
	json_t *sessions; /* this run's target backends: [{"pid", "start"}] */
	/* the work, shared with the workers under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *queue; /* chunks, largest table first */
	int nqueue, next;
	job *ready; /* verification, index, analyze, validate jobs */
	int nready, cap_ready;
	int inflight;		  /* jobs being worked on                */
	int stop;		  /* cancelled or failed: workers stop   */
	int running;		  /* workers still running               */
	char *err_code, *err_msg; /* the first worker error       */
	long long gen, saved_gen; /* changes made / changes in the saved checkpoint */
	long long t0;
	long long rows_done, bytes_done, rows_total;
	/* per worker: rows and bytes of the chunk it is copying, not yet
	 * committed (written by the worker, read by the progress line:
	 * __atomic, relaxed), so that a table copied whole by one long COPY
	 * shows progress before its COMMIT */
	long long *fly_rows, *fly_bytes;
	int tables_in;
	int skipped;
	long long analyze_ms, fk_ms;
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

/* key_bound - the upper bound of chunk i - 1 of key-split t (the lower,
 * exclusive, bound of chunk i): bounds spread evenly over [lo, hi]. */
static long long key_bound(const ctbl *t, int i)
{
	return t->lo + (long long)((double)(t->hi - t->lo) * i / t->n);
}

/* chunk_where - the WHERE clause of chunk i of t (caller frees): a key
 * range (lo, hi] with open ends for the first and last chunk, or a ctid
 * page range [p, q). "" for a whole table. */
static char *chunk_where(const ctbl *t, int i)
{
	if (t->method == M_KEY) {
		long long a = key_bound(t, i), b = key_bound(t, i + 1);

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

/* copy_out - the COPY TO STDOUT of chunk i's rows (where: chunk_where's)
 * in format fmt (caller frees). A whole table is read by COPY t (cols):
 * a plain scan, about 5% cheaper on the server than the query form that
 * a range needs (which also covers a table without columns to list). */
static char *copy_out(const ctbl *t, const char *where, const char *fmt)
{
	if (*where == '\0' && *t->cols != '\0')
		return xasprintf("COPY %s (%s) TO STDOUT WITH (FORMAT %s)", t->qname, t->cols, fmt);
	return xasprintf("COPY (SELECT %s FROM ONLY %s%s) TO STDOUT WITH (FORMAT %s)", t->cols,
			 t->qname, where, fmt);
}

/* copy_out_hashed - the binary COPY TO STDOUT of chunk i's rows (where:
 * chunk_where's) with one more column, the row's SQL hash, computed by the
 * source in the same scan; the copy takes it off each row before the row
 * goes on to the target (caller frees). */
static char *copy_out_hashed(const ctbl *t, const char *where)
{
	return xasprintf("COPY (SELECT %s, (%s)::int8 FROM ONLY %s%s) TO STDOUT WITH (FORMAT "
			 "binary)",
			 t->cols, t->rowhash, t->qname, where);
}

/* chunk_range - "(lo, hi]" / "pages [a, b)" for messages (caller frees). */
static char *chunk_range(const ctbl *t, int i)
{
	if (t->method == M_KEY) {
		long long a = key_bound(t, i), b = key_bound(t, i + 1);
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
	char *range = i >= 0 ? chunk_range(t, i) : NULL;

	snprintf(code, sizeof(code), "pg.%s", st ? st : "08006");
	if (i >= 0)
		wfail(x, code, "copy: table %s: chunk %d %s: %s: %s", t->disp, i,
		      range ? range : "", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	else
		wfail(x, code, "copy: table %s: %s: %s", t->disp, what,
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

/* stream_hash - runs sql (a COPY ... TO STDOUT WITH (FORMAT binary)) on c
 * and hashes what it sends into h. 0, or -1 after wfail. */
static int stream_hash(ctx *x, PGconn *c, const char *sql, const ctbl *t, copy_shash *h,
		       const char *what, int i)
{
	PGresult *r = PQexec(c, sql);
	char *buf;
	int n;

	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		pg_fail(x, c, r, what, t, i);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
		copy_sfeed(h, buf, n);
		PQfreemem(buf);
	}
	r = PQgetResult(c);
	if (n == -2 || PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail(x, c, r, what, t, i);
		PQclear(r);
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
		return -1;
	}
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	if (h->bad || !h->ended) {
		wfail(x, "copy.stream", "copy: table %s: %s: the binary COPY stream did not parse",
		      t->disp, what);
		return -1;
	}
	return 0;
}

/* push_ready - queues a post-copy job. Called with mu held; cap_ready is
 * sized for every job there can be. */
static void push_ready(ctx *x, int kind, int t, int i)
{
	if (x->nready < x->cap_ready) {
		x->ready[x->nready].kind = kind;
		x->ready[x->nready].t = t;
		x->ready[x->nready].i = i;
		x->nready++;
	}
	pthread_cond_broadcast(&x->cv);
}

/* table_posted - every verification and index job of table k is done:
 * its ALTER statements are next, then its ANALYZE. Called with mu held. */
static void table_posted(ctx *x, int k)
{
	ctbl *t = &x->tbls[k];

	if (x->indexes && t->attach && !t->attached) {
		t->attached = 1;
		t->post_left++;
		push_ready(x, J_ATTACH, k, 0);
	} else if (x->analyze) {
		push_ready(x, J_ANALYZE, k, 0);
	}
}

/* table_in - the last chunk of table k is committed: its verification
 * (split tables) and index builds are queued. Called with mu held. */
static void table_in(ctx *x, int k)
{
	ctbl *t = &x->tbls[k];
	double secs = t->t_first ? (double)(pgm_now_ms() - t->t_first) / 1000.0 : 0;
	int i;

	t->t_in = pgm_now_ms();
	x->tables_in++;
	if (t->rows > 0 || secs > 0)
		pgm_info("copy: table %s: data in: %lld rows, %.1f MB in %.2f s (%.0f rows/s, "
			 "%.1f MB/s)",
			 t->disp, t->rows, (double)t->bytes / 1e6, secs,
			 secs > 0 ? (double)t->rows / secs : 0.0,
			 secs > 0 ? (double)t->bytes / 1e6 / secs : 0.0);
	else
		pgm_info("copy: table %s: data in (committed before the resume)", t->disp);
	if (!x->verify)
		t->verified = 1;
	if (x->verify && !t->verified) {
		push_ready(x, J_VERIFY, k, 0);
		t->post_left++;
	}
	for (i = 0; x->indexes && i < t->nidx; i++) {
		if (t->idx[i].build == NULL)
			continue;
		push_ready(x, J_INDEX, k, i);
		t->post_left++;
	}
	if (t->post_left == 0)
		table_posted(x, k);
}

/* chunk_started - records chunk i of t as in flight with the target's
 * transaction xid and the source's count and hash; returns the change
 * number the checkpoint must reach before the chunk may commit. */
static long long chunk_started(ctx *x, ctbl *t, int i, long long xid, long long cnt, uint64_t h)
{
	long long g;

	pthread_mutex_lock(&x->mu);
	if (t->t_first == 0)
		t->t_first = pgm_now_ms();
	t->fly[i] = 1;
	t->fxid[i] = xid;
	t->frows[i] = cnt;
	t->fhash[i] = h;
	g = ++x->gen;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return g;
}

/* wait_saved - waits until the checkpoint holds change g (0), or stop (-1). */
static int wait_saved(ctx *x, long long g)
{
	int rc;

	pthread_mutex_lock(&x->mu);
	while (x->saved_gen < g && !x->stop)
		pthread_cond_wait(&x->cv, &x->mu);
	rc = x->stop ? -1 : 0;
	pthread_mutex_unlock(&x->mu);
	return rc;
}

/* chunk_committed - chunk i of table k is committed: counted, and the
 * table's post-copy jobs queued when it was the last one. */
static void chunk_committed(ctx *x, int k, int i, long long rows, long long bytes, long long cnt,
			    uint64_t h, int hashed)
{
	ctbl *t = &x->tbls[k];

	pthread_mutex_lock(&x->mu);
	t->fly[i] = 0;
	t->done[i] = 1;
	t->ndone++;
	t->rows += rows;
	t->bytes += bytes;
	t->vrows += cnt;
	t->vhash += h;
	if (hashed) {
		t->scnt[i] = cnt;
		t->shash[i] = h;
		t->known[i] = 1;
	}
	x->rows_done += rows;
	x->bytes_done += bytes;
	x->gen++;
	if (--t->left == 0)
		table_in(x, k);
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

/* batch - rows gathered for the target: one CopyData message of up to
 * BATCH bytes instead of one per row (COPY FROM reads a stream, rows need
 * not match messages). libpq sends a message's bytes once 8 KB have
 * gathered, a send() per 8 KB when each row is its own message; batched,
 * one per 64 KB, and a tenth of the calls into libpq. */
#define BATCH 65536
typedef struct batch {
	char *buf;
	int len;
} batch;

/* batch_flush - sends what b holds to d. 0, or -1 (PQerrorMessage). */
static int batch_flush(batch *b, PGconn *d)
{
	int rc = b->len > 0 && PQputCopyData(d, b->buf, b->len) != 1 ? -1 : 0;

	b->len = 0;
	return rc;
}

/* batch_put - adds row (n bytes) to b, sending b when full (a row as
 * large as b goes alone). 0, or -1 (PQerrorMessage, or out of memory). */
static int batch_put(batch *b, PGconn *d, const char *row, int n)
{
	if (b->buf == NULL && (b->buf = malloc(BATCH)) == NULL)
		return PQputCopyData(d, row, n) == 1 ? 0 : -1;
	if (n > BATCH - b->len && batch_flush(b, d) < 0)
		return -1;
	if (n >= BATCH)
		return PQputCopyData(d, row, n) == 1 ? 0 : -1;
	memcpy(b->buf + b->len, row, (size_t)n);
	b->len += n;
	return 0;
}

/* copy_chunk - copies chunk i of table k on worker w's connections (see
 * the file's comment). 0, or -1 after wfail (the target's transaction
 * rolled back, or its fate left to the checkpoint's transaction id). */
static int copy_chunk(ctx *x, int w, int k, int i)
{
	ctbl *t = &x->tbls[k];
	PGconn *s = pgm_pg_conn(x->src[w]), *d = pgm_pg_conn(x->tgt[w]);
	char *where = chunk_where(t, i), *sql = NULL, *buf;
	long long scnt = 0, xid, g, rows = 0, bytes = 0;
	uint64_t sh = 0;
	PGresult *r;
	int n, rc = -1, in_tx = 0, streamed = x->verify && t->streamed;
	/* the SQL hash of each row sent along by the source (binary only), or
	 * computed by pgmove from the row (chash) */
	int inhash = x->verify && !t->streamed && x->binary && *t->cols != '\0';
	int chash = inhash && t->chash && x->chash_ok;
	const char *fmt = x->binary ? "binary" : "text";
	copy_shash src = {.kpos = t->kpos,
			  .nchunks = t->n,
			  .header = 1,
			  .ncols = t->ncols,
			  .kinds = t->kinds,
			  .nullh = t->nullh};
	batch ob = {0};
	long long nmsg = 0; /* CopyData messages from the source: a row each */

	if (where == NULL)
		return wfail(x, "pgmove.nomem", "out of memory"), -1;
	if (x->verify && !streamed && !inhash &&
	    hash_of(x, s, t, i, where, "source", &scnt, &sh) < 0)
		goto out;
	if (exec_ok(x, d, "BEGIN", "BEGIN on the target", t, i) < 0)
		goto out;
	in_tx = 1;
	r = PQexec(d, "SELECT pg_catalog.txid_current()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_fail(x, d, r, "txid_current on the target", t, i);
		PQclear(r);
		goto out;
	}
	xid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	g = chunk_started(x, t, i, xid, scnt, sh);
	if (t->n == 1) {
		free(sql);
		sql = xasprintf("TRUNCATE ONLY %s", t->qname);
		if (sql == NULL || exec_ok(x, d, sql, "TRUNCATE on the target", t, i) < 0)
			goto out;
	} else if (t->method == M_KEY && t->unk != NULL && t->unk[i]) {
		/* in flight at a kill, its fate unknown: it may have committed */
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
	sql = inhash && !chash ? copy_out_hashed(t, where) : copy_out(t, where, fmt);
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
		int ok, len = n;

		if (streamed)
			copy_sfeed(&src, buf, n);
		else if (chash)
			copy_tfeed(&src, buf, n);
		if ((chash && src.bad) ||
		    (inhash && !chash && (len = copy_hstrip(&src, buf, n)) < 0)) {
			PQfreemem(buf);
			wfail(x, "copy.stream",
			      "copy: table %s: chunk %d: the source's binary COPY stream did not "
			      "parse",
			      t->disp, i);
			goto drain;
		}
		ok = batch_put(&ob, d, buf, len) == 0;
		PQfreemem(buf);
		bytes += len;
		if ((++nmsg & 1023) == 0) {
			__atomic_store_n(&x->fly_rows[w], nmsg, __ATOMIC_RELAXED);
			__atomic_store_n(&x->fly_bytes[w], bytes, __ATOMIC_RELAXED);
		}
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
	if (batch_flush(&ob, d) < 0) {
		pg_fail(x, d, NULL, "sending to the target", t, i);
		goto drain;
	}
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
	rows = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	while ((r = PQgetResult(d)) != NULL)
		PQclear(r);
	if (streamed || inhash) {
		if (src.bad || !src.ended) {
			wfail(x, "copy.stream",
			      "copy: table %s: chunk %d: the source's binary COPY stream did not "
			      "parse",
			      t->disp, i);
			goto out;
		}
		scnt = src.cnt;
		sh = src.sum;
		/* the chunk's source hash goes into the checkpoint with its xid */
		g = chunk_started(x, t, i, xid, scnt, sh);
	}
	/* the checkpoint names this transaction before it may commit */
	if (wait_saved(x, g) < 0) {
		wfail(x, "pgmove.cancelled", "copy: cancelled");
		goto out;
	}
	in_tx = 0;
	if (exec_ok(x, d, "COMMIT", "COMMIT on the target", t, i) < 0)
		goto out;
	if (x->verify)
		rows = scnt;
	chunk_committed(x, (int)(t - x->tbls), i, rows, bytes, x->verify ? scnt : rows, sh,
			x->verify);
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
	free(ob.buf);
	__atomic_store_n(&x->fly_rows[w], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&x->fly_bytes[w], 0, __ATOMIC_RELAXED);
	if (in_tx)
		PQclear(PQexec(d, "ROLLBACK"));
	free(sql);
	free(where);
	return rc;
}

/* mismatch - fails the copy naming chunk i of t (i < 0: the whole table). */
static void mismatch(ctx *x, const ctbl *t, int i, long long sc, uint64_t sh, long long tc,
		     uint64_t th)
{
	char *range = i >= 0 ? chunk_range(t, i) : NULL;

	if (i >= 0)
		wfail(x, "copy.mismatch",
		      "copy: table %s: chunk %d %s: the target differs after the copy: "
		      "source %lld rows hash %" PRIu64 ", target %lld rows hash %" PRIu64
		      " (the step's next run copies the chunk again)",
		      t->disp, i, range ? range : "", sc, sh, tc, th);
	else
		wfail(x, "copy.mismatch",
		      "copy: table %s (%d %s chunks): the target differs after the copy: "
		      "source %lld rows hash %" PRIu64 ", target %lld rows hash %" PRIu64
		      " (the step's next run copies the table again)",
		      t->disp, t->n, method_name[t->method], sc, sh, tc, th);
	free(range);
}

/* recopy - chunk i of t (all of them when i < 0) is to be copied again:
 * it differs from the source. The checkpoint shows it in flight with no
 * transaction (its fate unknown), so that the next run empties its key
 * range (a ctid-split table: the table) and copies it again; the caller
 * takes its source count and hash out of the table's sums. */
static void recopy(ctx *x, ctbl *t, int i)
{
	int a = i < 0 ? 0 : i, b = i < 0 ? t->n - 1 : i;

	pthread_mutex_lock(&x->mu);
	for (; a <= b; a++) {
		if (t->done[a]) {
			t->done[a] = 0;
			t->ndone--;
		}
		t->fly[a] = 1;
		t->fxid[a] = 0;
		t->frows[a] = 0;
		t->fhash[a] = 0;
		t->known[a] = 0;
	}
	if (i < 0) {
		t->vrows = 0;
		t->vhash = 0;
	}
	x->gen++;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

/* key_buckets - the SQL of the chunk number of a key-split table's row:
 * width_bucket over the lower bounds of chunks 1..n-1 (caller frees). */
static char *key_buckets(const ctbl *t)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int i;

	if (f == NULL)
		return NULL;
	fprintf(f, "pg_catalog.width_bucket(%s::int8, '{", t->qkey);
	for (i = 1; i < t->n; i++) {
		fprintf(f, "%s%lld", i > 1 ? "," : "", key_bound(t, i) + 1);
	}
	fputs("}'::int8[])", f);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* verify_table - the check of a table once all its chunks are in: one
 * scan of the target. A key-split table is grouped by chunk and each
 * chunk's count and hash compared with the source's (a chunk committed
 * before a resume, whose source hash this run did not take, is hashed on
 * the source now if its group differs); a ctid-split or whole table is
 * compared whole. What differs is marked to be copied again by the step's
 * next run (recopy). 0, or -1 after wfail. */
static int verify_table(ctx *x, int w, int k)
{
	ctbl *t = &x->tbls[k];
	PGconn *d = pgm_pg_conn(x->tgt[w]), *s = pgm_pg_conn(x->src[w]);
	char *sql = NULL, *b = NULL;
	PGresult *r;
	long long *tc = NULL, *ub = NULL, ucnt = 0, kcnt = 0;
	uint64_t *th = NULL, uh = 0, kh = 0;
	int i, rc = -1, bad = 0;

	if (t->method != M_KEY) {
		long long cnt;
		uint64_t h;

		if (t->streamed) {
			copy_shash tg = {.kpos = t->kpos, .nchunks = t->n, .header = 1};

			sql = copy_out(t, "", "binary");
			if (sql == NULL)
				return wfail(x, "pgmove.nomem", "out of memory"), -1;
			rc = stream_hash(x, d, sql, t, &tg, "hashing on the target", -1);
			free(sql);
			if (rc < 0)
				return -1;
			cnt = tg.cnt;
			h = tg.sum;
		} else if (hash_of(x, d, t, -1, "", "target", &cnt, &h) < 0) {
			return -1;
		}
		if (cnt != t->vrows || h != t->vhash) {
			mismatch(x, t, t->n == 1 ? 0 : -1, t->vrows, t->vhash, cnt, h);
			recopy(x, t, -1);
			return -1;
		}
		return 0;
	}
	tc = calloc((size_t)t->n, sizeof(long long));
	th = calloc((size_t)t->n, sizeof(uint64_t));
	ub = calloc((size_t)t->n, sizeof(long long));
	if (tc == NULL || th == NULL || ub == NULL) {
		wfail(x, "pgmove.nomem", "out of memory");
		goto out;
	}
	for (i = 0; i < t->n; i++)
		ub[i] = key_bound(t, i + 1);
	if (t->streamed) {
		/* one COPY of the stored rows, each hashed into its key's chunk */
		copy_shash tg = {.kpos = t->kpos,
				 .nchunks = t->n,
				 .header = 1,
				 .ccnt = tc,
				 .csum = th,
				 .ub = ub};

		sql = copy_out(t, "", "binary");
		if (sql == NULL) {
			wfail(x, "pgmove.nomem", "out of memory");
			goto out;
		}
		if (stream_hash(x, d, sql, t, &tg, "hashing the chunks on the target", -1) < 0)
			goto out;
		goto compare;
	}
	b = key_buckets(t);
	sql = b ? xasprintf("SELECT %s, %s FROM ONLY %s GROUP BY 1", b, t->hash, t->qname) : NULL;
	if (sql == NULL) {
		wfail(x, "pgmove.nomem", "out of memory");
		goto out;
	}
	r = PQexec(d, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 3) {
		pg_fail(x, d, r, "hashing the chunks on the target", t, -1);
		PQclear(r);
		goto out;
	}
	for (i = 0; i < PQntuples(r); i++) {
		int c = atoi(PQgetvalue(r, i, 0));

		if (c < 0 || c >= t->n)
			continue;
		tc[c] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		th[c] = strtoull(PQgetvalue(r, i, 2), NULL, 10);
	}
	PQclear(r);
compare:
	/* every chunk that differs is named once and copied again by the
	 * next run (the first one in the error) */
	for (i = 0; i < t->n; i++)
		if (t->known[i] && (t->scnt[i] != tc[i] || t->shash[i] != th[i])) {
			if (bad++ == 0)
				mismatch(x, t, i, t->scnt[i], t->shash[i], tc[i], th[i]);
			else
				pgm_warn("copy: table %s: chunk %d differs too", t->disp, i);
			pthread_mutex_lock(&x->mu);
			t->vrows -= t->scnt[i];
			t->vhash -= t->shash[i];
			pthread_mutex_unlock(&x->mu);
			recopy(x, t, i);
		}
	if (bad > 0)
		goto out;
	for (i = 0; i < t->n; i++) {
		if (t->known[i]) {
			kcnt += t->scnt[i];
			kh += t->shash[i];
		} else {
			ucnt += tc[i];
			uh += th[i];
		}
	}
	/* chunks from before a resume: their sum, else each one on the source
	 * (in this run's snapshot); the sums are then rebuilt from the chunks
	 * that match, and those that differ are copied again by the next run */
	if (ucnt != t->vrows - kcnt || uh != t->vhash - kh) {
		long long okcnt = kcnt;
		uint64_t okh = kh;

		for (i = 0; i < t->n; i++) {
			char *where;
			long long sc;
			uint64_t shh;

			if (t->known[i])
				continue;
			where = chunk_where(t, i);
			if (where != NULL && t->streamed) {
				copy_shash sr = {.kpos = t->kpos, .nchunks = t->n, .header = 1};
				char *q = copy_out(t, where, "binary");

				free(where);
				where = NULL;
				if (q == NULL ||
				    stream_hash(x, s, q, t, &sr, "hashing on the source", i) < 0) {
					free(q);
					goto out;
				}
				free(q);
				sc = sr.cnt;
				shh = sr.sum;
			} else if (where == NULL ||
				   hash_of(x, s, t, i, where, "source", &sc, &shh) < 0) {
				free(where);
				goto out;
			}
			free(where);
			if (sc == tc[i] && shh == th[i]) {
				okcnt += tc[i];
				okh += th[i];
				continue;
			}
			if (bad++ == 0)
				mismatch(x, t, i, sc, shh, tc[i], th[i]);
			else
				pgm_warn("copy: table %s: chunk %d differs too", t->disp, i);
			recopy(x, t, i);
		}
		pthread_mutex_lock(&x->mu);
		t->vrows = okcnt;
		t->vhash = okh;
		x->gen++;
		pthread_mutex_unlock(&x->mu);
		if (bad > 0)
			goto out;
		/* every chunk equals the source: the checkpoint's sum was taken
		 * from another snapshot or hash */
		pgm_notice("copy: table %s: the sum of the chunks committed before the resume "
			   "differed from the checkpoint's, but each of them equals the source",
			   t->disp);
	}
	rc = 0;
out:
	free(sql);
	free(b);
	free(tc);
	free(th);
	free(ub);
	return rc;
}

/* exists_on_target - 1 when index / constraint e already exists on the
 * target (built by an earlier run), 0 when not, -1 after wfail. */
static int exists_on_target(ctx *x, PGconn *d, const ctbl *t, const char *nsp, const char *name,
			    int is_con, const char *qtable)
{
	const char *p[2] = {is_con ? qtable : nsp, name};
	PGresult *r = PQexecParams(
		d,
		is_con ? "SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = $1::regclass "
			 "AND conname = $2"
		       : "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON "
			 "n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
		2, NULL, p, NULL, NULL, 0);
	int rc;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_fail(x, d, r, "looking up an index on the target", t, -1);
		PQclear(r);
		return -1;
	}
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

/* build_index - the index of entry i of table k on the target, in one
 * transaction with maintenance_work_mem: 0, 1 when it exists already (an
 * earlier run built it), or -1 after wfail. */
static int build_index(ctx *x, int w, int k, int i)
{
	ctbl *t = &x->tbls[k];
	cidx *e = &t->idx[i];
	PGconn *d = pgm_pg_conn(x->tgt[w]);
	char *sql, what[96];
	int ex = exists_on_target(x, d, t, e->nsp, e->iname, 0, NULL), rc;

	if (ex != 0)
		return ex;
	sql = xasprintf("BEGIN; SET LOCAL maintenance_work_mem = '%s'; "
			"SET LOCAL max_parallel_maintenance_workers = %d; %s; COMMIT",
			x->mwm, x->index_workers, e->build);
	if (sql == NULL)
		return wfail(x, "pgmove.nomem", "out of memory"), -1;
	snprintf(what, sizeof(what), "building %.80s", e->entry);
	rc = exec_ok(x, d, sql, what, t, -1);
	if (rc < 0)
		PQclear(PQexec(d, "ROLLBACK"));
	free(sql);
	return rc;
}

/* attach_table - the ALTER statements of table k's constraints (those
 * not yet on the target), CLUSTER ON and REPLICA IDENTITY, in one
 * transaction once its indexes are built. */
static int attach_table(ctx *x, int w, int k)
{
	ctbl *t = &x->tbls[k];
	PGconn *d = pgm_pg_conn(x->tgt[w]);
	char *sql = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&sql, &len);
	int i, rc;

	if (f == NULL)
		return wfail(x, "pgmove.nomem", "out of memory"), -1;
	fprintf(f,
		"BEGIN; SET LOCAL maintenance_work_mem = '%s'; "
		"SET LOCAL max_parallel_maintenance_workers = %d",
		x->mwm, x->index_workers);
	for (i = 0; i < t->nidx; i++) {
		cidx *e = &t->idx[i];

		if (e->attach) {
			int ex = exists_on_target(x, d, t, NULL, e->con, 1, t->qname);

			if (ex < 0) {
				fclose(f);
				free(sql);
				return -1;
			}
			if (!ex)
				fprintf(f, "; %s", e->attach);
		}
		if (e->extra)
			fprintf(f, "; %s", e->extra);
	}
	fputs("; COMMIT", f);
	if (fclose(f) != 0)
		return free(sql), wfail(x, "pgmove.nomem", "out of memory"), -1;
	rc = exec_ok(x, d, sql, "adding constraints", t, -1);
	if (rc < 0)
		PQclear(PQexec(d, "ROLLBACK"));
	free(sql);
	return rc;
}

/* worker_main - takes work until there is none left or stop. A post
 * worker (w >= jobs) takes only ready post-copy jobs, the largest table's
 * first; a copy worker takes the next chunk, and ready jobs once no chunk
 * is left (or first, when there are no post workers: index_jobs = 0). */
static void *worker_main(void *arg)
{
	worker *wk = arg;
	ctx *x = wk->x;
	int post = wk->w >= x->jobs;

	pthread_mutex_lock(&x->mu);
	for (;;) {
		job j;
		int best = -1, r, rc = 0;
		long long t0;
		int chunk = !post && x->next < x->nqueue;

		if (x->stop)
			break;
		if (!chunk || x->index_jobs == 0)
			for (r = 0; r < x->nready; r++)
				if (best < 0 || x->ready[r].t < x->ready[best].t)
					best = r;
		if (best >= 0) {
			j = x->ready[best];
			memmove(&x->ready[best], &x->ready[best + 1],
				(size_t)(x->nready - best - 1) * sizeof(job));
			x->nready--;
		} else if (chunk) {
			j = x->queue[x->next++];
		} else if (x->inflight == 0 && x->next >= x->nqueue) {
			break;
		} else {
			pthread_cond_wait(&x->cv, &x->mu);
			continue;
		}
		x->inflight++;
		pthread_mutex_unlock(&x->mu);
		t0 = pgm_now_ms();
		switch (j.kind) {
		case J_CHUNK:
			rc = copy_chunk(x, wk->w, j.t, j.i);
			break;
		case J_VERIFY:
			rc = verify_table(x, wk->w, j.t);
			if (rc == 0)
				pgm_info("copy: table %s: verified, %d chunks (%.2f s)",
					 x->tbls[j.t].disp, x->tbls[j.t].n,
					 (double)(pgm_now_ms() - t0) / 1000.0);
			break;
		case J_INDEX:
			rc = build_index(x, wk->w, j.t, j.i);
			if (rc == 0)
				pgm_info("copy: table %s: built %s (%.2f s)", x->tbls[j.t].disp,
					 x->tbls[j.t].idx[j.i].entry,
					 (double)(pgm_now_ms() - t0) / 1000.0);
			if (rc == 1)
				pgm_info("copy: table %s: %s exists already: kept",
					 x->tbls[j.t].disp, x->tbls[j.t].idx[j.i].entry);
			rc = rc < 0 ? -1 : 0;
			break;
		case J_ATTACH:
			rc = attach_table(x, wk->w, j.t);
			if (rc == 0)
				pgm_info("copy: table %s: constraints added (%.2f s)",
					 x->tbls[j.t].disp, (double)(pgm_now_ms() - t0) / 1000.0);
			break;
		case J_ANALYZE: {
			char *sql = xasprintf("ANALYZE %s", x->tbls[j.t].qname);

			rc = sql ? exec_ok(x, pgm_pg_conn(x->tgt[wk->w]), sql, "ANALYZE",
					   &x->tbls[j.t], -1)
				 : -1;
			free(sql);
			break;
		}
		case J_VALIDATE: {
			cfk *f = &x->fks[j.i];
			char *sql = xasprintf("BEGIN; SET LOCAL enable_seqscan = on; SET LOCAL "
					      "enable_sort = on; ALTER TABLE ONLY %s VALIDATE "
					      "CONSTRAINT %s; COMMIT",
					      f->qtable, f->name);

			rc = sql ? exec_ok(x, pgm_pg_conn(x->tgt[wk->w]), sql,
					   "VALIDATE CONSTRAINT", &x->tbls[f->t], -1)
				 : -1;
			if (rc < 0)
				PQclear(PQexec(pgm_pg_conn(x->tgt[wk->w]), "ROLLBACK"));
			free(sql);
			if (rc == 0)
				pgm_info("copy: table %s: validated %s (%.2f s)",
					 x->tbls[f->t].disp, f->entry,
					 (double)(pgm_now_ms() - t0) / 1000.0);
			break;
		}
		default:
			break;
		}
		pthread_mutex_lock(&x->mu);
		x->inflight--;
		if (rc == 0) {
			ctbl *t = &x->tbls[j.t];

			if (j.kind == J_VERIFY) {
				t->verify_ms += pgm_now_ms() - t0;
				t->verified = 1;
				x->gen++; /* the checkpoint says so */
			}
			if (j.kind == J_INDEX || j.kind == J_ATTACH)
				t->index_ms += pgm_now_ms() - t0;
			if (j.kind == J_ANALYZE)
				x->analyze_ms += pgm_now_ms() - t0;
			if (j.kind == J_VALIDATE)
				x->fk_ms += pgm_now_ms() - t0;
			if ((j.kind == J_VERIFY || j.kind == J_INDEX || j.kind == J_ATTACH) &&
			    --t->post_left == 0)
				table_posted(x, j.t);
		}
		pthread_cond_broadcast(&x->cv);
	}
	x->running--;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Checkpoint: {"v": 2, "tables": {"s.t": {"n", "method", "lo", "hi",
 * "pages", "done": [[a, b], ...], "fly": [[i, xid, rows, "hash"], ...],
 * "vrows", "vhash"}}} (v1 had "fly": [i, ...]: fate unknown)
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

/* listed - 1 when the checkpoint lists chunk i of t with those in flight:
 * it is, or its rows may be on the target from an earlier attempt whose
 * fate is unknown (unk, until the chunk commits: an attempt that aborts
 * takes its DELETE of the range back with it). */
static int listed(const ctbl *t, int i)
{
	return t->fly[i] || (t->unk[i] && !t->done[i]);
}

/* checkpoint_json - the plan, what is committed and what is in flight
 * (with its target transaction). Called with mu held; new reference. */
static json_t *checkpoint_json(ctx *x)
{
	json_t *tables = json_object();
	char hb[32];
	int k, i;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];
		json_t *f;
		int nfly = 0;

		for (i = 0; t->fly && i < t->n; i++)
			nfly += listed(t, i);
		/* small for many tables: nothing for a table not started (planned
		 * again on resume), {"ok": 1} for one that is in and checked */
		if (t->ndone == 0 && nfly == 0)
			continue;
		if (t->ndone == t->n && t->verified) {
			json_object_set_new(tables, t->disp, json_pack("{s:i}", "ok", 1));
			continue;
		}
		f = json_array();
		for (i = 0; t->fly && i < t->n; i++)
			if (listed(t, i)) {
				snprintf(hb, sizeof(hb), "%" PRIu64, t->fly[i] ? t->fhash[i] : 0);
				json_array_append_new(
					f, json_pack("[i, I, I, s, i]", i,
						     (json_int_t)(t->fly[i] ? t->fxid[i] : 0),
						     (json_int_t)(t->fly[i] ? t->frows[i] : 0), hb,
						     t->unk[i] && !t->done[i]));
			}
		snprintf(hb, sizeof(hb), "%" PRIu64, t->vhash);
		json_object_set_new(tables, t->disp,
				    json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:o, s:o, s:I, s:s}",
					      "hashing", t->streamed, "n", t->n, "method",
					      t->method, "lo", (json_int_t)t->lo, "hi",
					      (json_int_t)t->hi, "pages", (json_int_t)t->pages,
					      "done", runs_json(t->done, t->n), "fly", f, "vrows",
					      (json_int_t)t->vrows, "vhash", hb));
	}
	return json_pack("{s:i, s:o, s:O}", "v", 2, "tables", tables, "sessions", x->sessions);
}

/* save_checkpoint - saves the checkpoint as of now and tells the workers
 * waiting to commit (saved_gen). Called from the function's thread with
 * mu held; unlocks it while the journal is written. */
static int save_checkpoint(ctx *x)
{
	json_t *cp = checkpoint_json(x);
	long long g = x->gen;
	int rc;

	pthread_mutex_unlock(&x->mu);
	rc = cp ? pgm_checkpoint_save(x->call, cp) : -1;
	json_decref(cp);
	pthread_mutex_lock(&x->mu);
	if (rc == 0 && g > x->saved_gen)
		x->saved_gen = g;
	pthread_cond_broadcast(&x->cv);
	return rc;
}

/* alloc_chunks - the per-chunk arrays of t (n chunks). -1 without memory. */
static int alloc_chunks(ctbl *t)
{
	size_t n = (size_t)t->n;

	free(t->done);
	free(t->fly);
	free(t->unk);
	free(t->fxid);
	free(t->frows);
	free(t->fhash);
	free(t->scnt);
	free(t->shash);
	free(t->known);
	t->done = calloc(n, 1);
	t->fly = calloc(n, 1);
	t->unk = calloc(n, 1);
	t->known = calloc(n, 1);
	t->fxid = calloc(n, sizeof(long long));
	t->frows = calloc(n, sizeof(long long));
	t->scnt = calloc(n, sizeof(long long));
	t->fhash = calloc(n, sizeof(uint64_t));
	t->shash = calloc(n, sizeof(uint64_t));
	return t->done && t->fly && t->unk && t->known && t->fxid && t->frows && t->scnt &&
			       t->fhash && t->shash
		       ? 0
		       : -1;
}

/* load_checkpoint - adopts the plan and progress of an earlier run of the
 * same call. A table is re-planned from scratch when the checkpoint does
 * not know it. Chunks in flight at the kill are left in fly with their
 * transaction (0: unknown) for resolve_in_flight. A table goes on with the
 * hash its committed chunks were summed with (an earlier pgmove streamed
 * what hash=auto now hashes with SQL); -1 (failed) when that hash cannot
 * be used now. */
static int load_checkpoint(ctx *x, json_t *cp)
{
	json_t *tables = json_object_get(cp, "tables");
	int k, v = (int)json_integer_value(json_object_get(cp, "v"));

	if (!json_is_object(tables) || (v != 1 && v != 2))
		return 0;
	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];
		json_t *e = json_object_get(tables, t->disp), *run, *f;
		size_t i;
		int n = (int)json_integer_value(json_object_get(e, "n"));
		int method = (int)json_integer_value(json_object_get(e, "method"));
		const char *vh = json_string_value(json_object_get(e, "vhash"));

		if (json_is_object(e) && json_integer_value(json_object_get(e, "ok")) == 1 &&
		    t->n >= 1 && alloc_chunks(t) == 0) {
			/* in and checked by an earlier run */
			memset(t->done, 1, (size_t)t->n);
			t->ndone = t->n;
			t->verified = 1;
			continue;
		}
		if (!json_is_object(e) || n < 1 || n > 10000000 || method < 0 || method > 2 ||
		    (method == M_KEY && t->qkey == NULL))
			continue;
		t->n = n;
		if (alloc_chunks(t) < 0) {
			t->n = 0;
			continue;
		}
		t->method = method;
		/* the hash of the chunks already in: the checkpoint's (v1: SQL) */
		if (!json_is_true(json_object_get(e, "hashing")) &&
		    json_integer_value(json_object_get(e, "hashing")) != 1)
			t->streamed = 0;
		else if (t->streamable)
			t->streamed = 1;
		else if (x->verify)
			return pgm_fail(x->call, "copy.resume_mismatch", 0,
					"copy: table %s: the chunks committed before the stop were "
					"hashed from the binary COPY stream, which this run cannot "
					"do (format text, or a column's type changed): resume with "
					"the arguments of the first run",
					t->disp),
			       -1;
		t->lo = json_integer_value(json_object_get(e, "lo"));
		t->hi = json_integer_value(json_object_get(e, "hi"));
		t->pages = json_integer_value(json_object_get(e, "pages"));
		t->vrows = json_integer_value(json_object_get(e, "vrows"));
		t->vhash = strtoull(vh ? vh : "0", NULL, 10);
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
		json_array_foreach(json_object_get(e, "fly"), i, f)
		{
			json_int_t a = json_is_array(f) ? json_integer_value(json_array_get(f, 0))
							: json_integer_value(f);
			const char *h = json_string_value(json_array_get(f, 3));

			if (a < 0 || a >= n || t->done[a])
				continue;
			t->fly[a] = 1;
			if (json_is_array(f)) {
				t->unk[a] = json_integer_value(json_array_get(f, 4)) == 1;
				t->fxid[a] = json_integer_value(json_array_get(f, 1));
				t->frows[a] = json_integer_value(json_array_get(f, 2));
				t->fhash[a] = strtoull(h ? h : "0", NULL, 10);
			}
		}
	}
	return 0;
}

/* resolve_in_flight - the fate of each chunk in flight at the kill, by
 * its transaction's status on the target: committed (kept, counted),
 * aborted (copied again; when the checkpoint marks it unknown, from an
 * earlier attempt, emptied first), else unknown (a key range is emptied
 * before it is copied again; a ctid-split table starts over). A transaction still
 * in progress (its backend not yet gone) is waited for, up to 30 s. */
static int resolve_in_flight(ctx *x)
{
	int k, i;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		for (i = 0; t->fly && i < t->n; i++) {
			char xb[32];
			const char *p[1] = {xb};
			const char *st = "unknown";
			PGresult *r = NULL;
			long long waited = 0;

			if (!t->fly[i])
				continue;
			t->fly[i] = 0;
			snprintf(xb, sizeof(xb), "%lld", t->fxid[i]);
			while (t->fxid[i] > 0) {
				PQclear(r);
				r = pgm_pg_exec(x->call, x->tgt0,
						"SELECT pg_catalog.txid_status($1::int8)", 1, p);
				if (r == NULL)
					return -1;
				st = PQgetisnull(r, 0, 0) ? "unknown" : PQgetvalue(r, 0, 0);
				if (strcmp(st, "in progress") != 0 || waited >= 30000)
					break;
				if (pgm_sleep_ms(x->call, 200) < 0)
					return PQclear(r), -1;
				waited += 200;
			}
			if (strcmp(st, "in progress") == 0) {
				pgm_fail(x->call, "copy.in_progress", 1,
					 "copy: table %s: chunk %d was in flight at the stop and "
					 "its "
					 "transaction %lld is still in progress on the target "
					 "after 30 s: "
					 "resume again once it has ended "
					 "(pg_stat_activity.backend_xid)",
					 t->disp, i, t->fxid[i]);
				PQclear(r);
				return -1;
			}
			if (strcmp(st, "committed") == 0) {
				t->done[i] = 1;
				t->ndone++;
				t->vrows += t->frows[i];
				t->vhash += t->fhash[i];
				pgm_notice(
					"copy: table %s: chunk %d was in flight at the stop; its "
					"transaction %lld committed: kept",
					t->disp, i, t->fxid[i]);
			} else if (strcmp(st, "aborted") == 0 && !t->unk[i]) {
				pgm_notice(
					"copy: table %s: chunk %d was in flight at the stop; its "
					"transaction %lld aborted: copied again",
					t->disp, i, t->fxid[i]);
			} else {
				/* aborted with unk: an attempt to copy again a chunk
				 * of unknown fate; what it replaced may be there */
				t->unk[i] = 1;
				if (t->method == M_CTID)
					t->redo = 1;
				pgm_notice("copy: table %s: chunk %d was in flight at the stop and "
					   "its fate is %s: %s",
					   t->disp, i,
					   strcmp(st, "aborted") == 0
						   ? "unknown (its last attempt aborted)"
						   : st,
					   t->method == M_CTID
						   ? "the table is copied again from the start"
						   : "its range is emptied and copied again");
			}
			PQclear(r);
		}
		if (t->redo) {
			memset(t->done, 0, (size_t)t->n);
			t->ndone = 0;
			t->vrows = 0;
			t->vhash = 0;
		}
	}
	return 0;
}

/* SESSIONS_SQL - the backends of $1 (a checkpoint's "sessions") still on
 * the target, matched by pid and start time (a pid is reused; the start
 * compared as the text note_session read, so that no entry can fail a
 * cast). */
#define SESSIONS_SQL                                                                               \
	"FROM pg_catalog.pg_stat_activity s JOIN pg_catalog.json_to_recordset($1::json) AS "       \
	"o(pid int, start text) ON s.pid = o.pid AND s.backend_start::text = o.start "

/* end_stopped_sessions - a pgmove killed while its sessions ran a
 * statement leaves them running on the target, and one building an index
 * or adding a constraint commits behind the resume's back (whose own build
 * of it then fails on the name). The sessions of the run that saved the
 * checkpoint cp that are still there are ended (pg_terminate_backend) and
 * waited for, up to 30 s: what they had not committed is done again. */
static int end_stopped_sessions(ctx *x, const json_t *cp)
{
	PGconn *d = pgm_pg_conn(x->tgt0);
	json_t *all = json_object_get(cp, "sessions"), *ok = json_array(), *e;
	char *js = NULL;
	const char *p[1];
	PGresult *r;
	long long waited = 0;
	size_t k;
	int i, n, rc = -1;

	/* only well-formed entries: a checkpoint of an older pgmove has none */
	json_array_foreach(all, k, e)
	{
		json_int_t pid = json_integer_value(json_object_get(e, "pid"));

		if (pid > 0 && pid <= INT32_MAX && json_is_string(json_object_get(e, "start")))
			json_array_append(ok, e);
	}
	if (ok == NULL || json_array_size(ok) == 0)
		return json_decref(ok), 0;
	js = json_dumps(ok, JSON_COMPACT);
	json_decref(ok);
	if (js == NULL)
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	p[0] = js;
	r = PQexecParams(d,
			 "SELECT s.pid, s.state, pg_catalog.left(pg_catalog.regexp_replace("
			 "coalesce(s.query, ''), '\\s+', ' ', 'g'), 60), "
			 "pg_catalog.pg_terminate_backend(s.pid) " SESSIONS_SQL,
			 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char *m = xasprintf("%s", PQresultErrorMessage(r));

		for (i = 0; m && m[i]; i++)
			if (m[i] == '\n')
				m[i] = ' ';
		pgm_fail(x->call, "copy.stopped_session", 0,
			 "copy: the stopped run's sessions on the target could not be ended "
			 "(%s): end them (pg_stat_activity, application_name %s; "
			 "pg_terminate_backend) or let them finish, then resume",
			 m ? m : "out of memory", "pgmove/" COPY_APP);
		free(m);
		goto out;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++)
		pgm_notice("copy: the stopped run's session %s on the target was still there "
			   "(%s: %s): ended; what it had not committed is done again",
			   PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	while (n > 0) {
		PQclear(r);
		r = PQexecParams(d, "SELECT pg_catalog.string_agg(s.pid::text, ', ') " SESSIONS_SQL,
				 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			pgm_fail(x->call, "copy.stopped_session", 0,
				 "copy: looking up the stopped run's sessions on the target: %s",
				 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
			goto out;
		}
		if (PQgetisnull(r, 0, 0))
			break;
		if (waited >= 30000) {
			pgm_fail(x->call, "copy.stopped_session", 1,
				 "copy: the stopped run's sessions %s are still on the target 30 s "
				 "after they were told to end: resume once they are gone "
				 "(pg_stat_activity)",
				 PQgetvalue(r, 0, 0));
			goto out;
		}
		if (pgm_sleep_ms(x->call, 100) < 0)
			goto out;
		waited += 100;
	}
	rc = 0;
out:
	PQclear(r);
	free(js);
	return rc;
}

/* note_session - adds the backend of target connection pg to the
 * sessions the checkpoint names (end_stopped_sessions). */
static int note_session(ctx *x, pgm_pg *pg)
{
	PGresult *r =
		pgm_pg_exec(x->call, pg,
			    "SELECT pid, backend_start::text FROM pg_catalog.pg_stat_activity "
			    "WHERE pid = pg_catalog.pg_backend_pid()",
			    0, NULL);

	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1))
		json_array_append_new(x->sessions,
				      json_pack("{s:I, s:s}", "pid",
						(json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
						"start", PQgetvalue(r, 0, 1)));
	PQclear(r);
	return 0;
}

/* tk_of - the COPY_TK_* kind of column c when pgmove computes its typed
 * SQL hash from the value the source sends (copy_tkhash), or COPY_TK_NONE
 * when the source computes it ("char", inet, macaddr and floats have few
 * users; text sent converted to UTF8 is not the bytes the server hashes). */
static int tk_of(const ctx *x, const checksum_hcol *c)
{
	if (!checksum_col_typed(c, x->float_binary, x->same_encoding))
		return COPY_TK_NONE;
	switch (c->typid) {
	case 21:
		return COPY_TK_INT2;
	case 23:
	case 26:
		return COPY_TK_INT4;
	case 20:
		return COPY_TK_INT8;
	case 16:
		return COPY_TK_BOOL;
	case 25:
	case 1043:
		return x->src_text_raw ? COPY_TK_TEXT : COPY_TK_NONE;
	case 1042:
		return x->src_text_raw ? COPY_TK_BPCHAR : COPY_TK_NONE;
	case 2950:
		return COPY_TK_UUID;
	case 1114:
	case 1184:
	case 1083:
		return COPY_TK_TIME8;
	default:
		return COPY_TK_NONE;
	}
}

/* probe_chash - x->chash_ok: pgmove's typed hashes (copy_tkhash) equal the
 * source's for values of every kind, edge cases included, each value and
 * its SQL hash read in binary as a COPY sends them. They differ on a
 * big-endian server (lookup3 reads words in the machine's order); then the
 * source hashes each row in its COPY, as before. In a savepoint: the
 * snapshot's transaction survives an error. */
static int probe_chash(ctx *x)
{
	static const struct {
		long long typid;
		int kind;
		const char *lit;
	} pr[] = {
		{21, COPY_TK_INT2, "'-3'::int2"},
		{21, COPY_TK_INT2, "'32767'::int2"},
		{23, COPY_TK_INT4, "'-123456789'::int4"},
		{26, COPY_TK_INT4, "'4000000000'::oid"},
		{20, COPY_TK_INT8, "'-1099511627781'::int8"},
		{20, COPY_TK_INT8, "'1099511627781'::int8"},
		{20, COPY_TK_INT8, "'-1'::int8"},
		{16, COPY_TK_BOOL, "true"},
		{16, COPY_TK_BOOL, "false"},
		{2950, COPY_TK_UUID, "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"},
		{1114, COPY_TK_TIME8, "'2026-12-07 10:11:12.345678'::timestamp"},
		{1184, COPY_TK_TIME8, "'1999-01-08 04:05:06+02'::timestamptz"},
		{1083, COPY_TK_TIME8, "'23:59:59.999999'::time"},
		/* text last: only where pgmove hashes text (tk_of) */
		{25, COPY_TK_TEXT, "''::text"},
		{25, COPY_TK_TEXT, "'x'::text"},
		{1043, COPY_TK_TEXT, "'twelve bytes'::varchar"},
		{25, COPY_TK_TEXT, "'pgmove \u00e9\u00fc probe: 35 bytes long'::text"},
		{1042, COPY_TK_BPCHAR, "'xy'::char(6)"},
		{1042, COPY_TK_BPCHAR, "'\u00fc'::char(3)"},
	};
	int n = (int)(sizeof(pr) / sizeof(pr[0])), i, ok = 1;
	char *sql = NULL;
	size_t len = 0;
	FILE *f;
	PGconn *c = pgm_pg_conn(x->src0);
	PGresult *r;

	if (!x->src_text_raw || !x->same_encoding) /* text is not hashed by pgmove */
		while (n > 0 && pr[n - 1].kind >= COPY_TK_TEXT && pr[n - 1].kind <= COPY_TK_BPCHAR)
			n--;
	f = open_memstream(&sql, &len);
	if (f == NULL)
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	fputs("SELECT ", f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s, ", pr[i].lit);
	for (i = 0; i < n; i++) {
		checksum_hcol hc = {pr[i].lit, "probe", "probe", pr[i].typid, pr[i].typid};

		fputs(i ? ", (" : "(", f);
		checksum_col_hash(f, &hc, i * 97 + 1, 1, x->float_binary, x->same_encoding);
		fputs(")::int8", f);
	}
	if (fclose(f) != 0)
		return free(sql), pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	if (pgm_pg_command(x->call, x->src0, "SAVEPOINT pgmove_probe", 0, NULL) < 0)
		return free(sql), -1;
	r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	free(sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 2 * n) {
		pgm_debug("copy: hash probe: %s", PQresultErrorMessage(r));
		ok = 0;
	}
	for (i = 0; ok && i < n; i++) {
		const unsigned char *h = (const unsigned char *)PQgetvalue(r, 0, n + i);
		uint64_t want = 0, got;
		int bad = 0, b;

		if (PQgetlength(r, 0, n + i) != 8)
			ok = 0;
		for (b = 0; ok && b < 8; b++)
			want = want << 8 | h[b];
		got = copy_tkhash(pr[i].kind, (const unsigned char *)PQgetvalue(r, 0, i),
				  PQgetlength(r, 0, i), (uint64_t)(i * 97 + 1), &bad);
		if (ok && (bad || got != want)) {
			pgm_debug("copy: hash probe: %s: the source's %" PRIu64
				  ", pgmove's %" PRIu64,
				  pr[i].lit, want, got);
			ok = 0;
		}
	}
	PQclear(r);
	if (pgm_pg_command(x->call, x->src0,
			   ok ? "RELEASE SAVEPOINT pgmove_probe"
			      : "ROLLBACK TO SAVEPOINT pgmove_probe",
			   0, NULL) < 0)
		return -1;
	x->chash_ok = ok;
	if (!ok)
		pgm_notice("copy: the source's typed hashes differ from pgmove's (a big-endian "
			   "server?): the source computes each row's hash in its COPY");
	return 0;
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
	"pg_catalog.pg_table_size(c.oid)::float8 AS size, "
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
	"   AND a.atttypid IN (20, 21, 23)) AS ikey, "
	/* no column whose binary form holds OIDs of user types (they differ
	 * between servers): built-in types, enums, arrays of built-in types */
	"(SELECT coalesce(bool_and((b.oid < 16384 AND (b.typelem = 0 OR b.typelem < 16384) "
	"   AND b.typtype <> 'c') OR b.typtype = 'e'), true) "
	" FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
	" JOIN pg_type b ON b.oid = coalesce(nullif(t.typbasetype, 0), t.oid) "
	" WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"   AND a.attgenerated = '') AS streamable "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND " CHECKSUM_USER_SCHEMAS " "
	"ORDER BY pg_catalog.pg_relation_size(c.oid) DESC, 1";

/* plan_split - which tables are split into chunks. A table copied whole
 * is loaded by one COPY FREEZE into the table truncated in the same
 * transaction: its rows need no hint bits and no freezing later, and the
 * source reads it by one plain scan. Split chunks go in side by side
 * without FREEZE, so the first scans of the target (verification, index
 * builds) set a hint bit on every row, and the source reads each chunk by
 * an index range scan: with 2 jobs, splitting pgbench_accounts cost about
 * 4 CPU seconds more (29.7 against 25.4 for the benchmark's copy, 15.8 s
 * against 13.7 s). So a table is split only when that pays: when it is
 * larger than split_larger_than (a kill then loses at most a chunk of it,
 * not the whole table), or larger than twice its share of the data (all
 * the tables' size / jobs, TOAST included), where one stream would run at
 * least twice as long as the average job. (Where both servers and pgmove
 * share few cores, one stream keeps about 1.4 cores busy and splitting
 * does not pay; where the target has a core per job, it pays from about
 * 1.7 times the rest of the data: twice the share is between the two.)
 * split_larger_than = 0 splits every table of more than chunk_rows rows. */
static void plan_split(ctx *x)
{
	double total = 0, share;
	int k;

	if (x->split_bytes == 0)
		return;
	for (k = 0; k < x->ntbl; k++)
		total += x->tbls[k].size;
	share = total / x->jobs;
	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];
		double bytes = t->size; /* TOAST included: large values count */

		if (t->n > 1 && bytes <= (double)x->split_bytes && bytes <= 2 * share) {
			t->n = 1;
			t->method = M_WHOLE;
		}
	}
}

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
		t->size = json_number_value(json_object_get(row, "size"));
		if (json_is_string(json_object_get(row, "ikey")))
			t->qkey = strdup(json_string_value(json_object_get(row, "ikey")));
		t->kpos = -1;
		f = open_memstream(&h, &hl);
		if (f == NULL)
			break;
		t->typed = 1;
		{
			FILE *g = open_memstream(&cl, &cll);

			if (g == NULL) {
				fclose(f);
				break;
			}
			if (json_array_size(cols) == 0)
				fputs("0::int8", f);
			t->ncols = (int)json_array_size(cols);
			t->kinds = calloc((size_t)t->ncols + 1, 1);
			t->nullh = calloc((size_t)t->ncols + 1, sizeof(uint64_t));
			t->chash = t->ncols > 0;
			if (t->kinds == NULL || t->nullh == NULL) {
				fclose(f);
				fclose(g);
				break;
			}
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
				t->typed &=
					checksum_col_typed(&hc, x->float_binary, x->same_encoding);
				t->kinds[i] = (unsigned char)tk_of(x, &hc);
				t->nullh[i] = (uint64_t)checksum_mix64((uint64_t)i + 1);
				t->chash &= t->kinds[i] != COPY_TK_NONE;
				fprintf(g, "%s%s", i ? ", " : "", hc.qname);
				if (t->qkey != NULL && strcmp(hc.qname, t->qkey) == 0)
					t->kpos = (int)i;
			}
			fclose(g);
		}
		fclose(f);
		t->rowhash = h;
		t->hash =
			h ? xasprintf("count(*), (((coalesce(sum(%s), 0) %% 18446744073709551616) "
				      "+ 18446744073709551616) %% 18446744073709551616)::text",
				      h)
			  : NULL;
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
		/* the stream hash, unless hash=sql, or hash=auto and every column
		 * has a typed SQL hash (no output function per value): then pgmove
		 * (chash) or the source in the COPY's own scan hashes each row and the target
		 * checks with one SQL scan, cheaper than the target's binary
		 * read-back of the stored rows and pgmove hashing both streams
		 * (the benchmark's copy: 24.7-25.8 CPU seconds in all against
		 * 26.3-28.2 with the stream; the source pays about 1 s more for
		 * pgbench_accounts, pgmove 2 s less, the target 1 s less). Columns
		 * hashed through their text form (numeric, jsonb, arrays, ...) cost
		 * the servers more than the stream: such tables stream. */
		t->streamable = x->binary && json_is_true(json_object_get(row, "streamable")) &&
				(t->qkey == NULL || t->kpos >= 0);
		t->streamed = t->streamable && x->hmode != H_SQL &&
			      !(x->hmode == H_AUTO && t->typed && x->verify);
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
	plan_split(x);
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

static const char INDEXES_SQL[] =
	"SELECT n.nspname || '.' || t.relname AS disp, ni.nspname AS nsp, ic.relname AS iname, "
	"pg_catalog.pg_get_indexdef(i.indexrelid) AS idef, con.conname, "
	"con.contype::text AS contype, coalesce(con.condeferrable, false) AS deferrable, "
	"pg_catalog.pg_get_constraintdef(con.oid) AS cdef, i.indisclustered AS clustered, "
	"i.indisreplident AS replident, n.nspname AS tnsp, t.relname AS tname, "
	"pg_catalog.pg_relation_size(i.indexrelid)::float8 AS size, "
	"pg_catalog.format('%I', ic.relname) AS qiname, "
	"pg_catalog.quote_ident(con.conname) AS qcon "
	"FROM pg_catalog.pg_index i "
	"JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
	"JOIN pg_catalog.pg_namespace ni ON ni.oid = ic.relnamespace "
	"JOIN pg_catalog.pg_class t ON t.oid = i.indrelid "
	"JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace "
	"LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid "
	"  AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x') "
	"WHERE t.relkind = 'r' AND NOT t.relispartition AND i.indisvalid AND i.indislive "
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = "
	"    i.indexrelid AND coalesce(a.attstattarget, -1) >= 0) "
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dp WHERE dp.objid = i.indexrelid "
	"    AND dp.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dp.deptype = 'e') "
	"  AND " CHECKSUM_USER_SCHEMAS " ORDER BY size DESC, 3";

static const char FKS_SQL[] =
	"SELECT n.nspname || '.' || t.relname AS disp, rn.nspname || '.' || rt.relname AS rdisp, "
	"pg_catalog.format('%I.%I', n.nspname, t.relname) AS qtable, "
	"pg_catalog.format('%I', con.conname) AS qcon, n.nspname AS nsp, t.relname AS tname, "
	"con.conname, pg_catalog.pg_get_constraintdef(con.oid) AS def, "
	"con.convalidated AS validated "
	"FROM pg_catalog.pg_constraint con "
	"JOIN pg_catalog.pg_class t ON t.oid = con.conrelid "
	"JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace "
	"JOIN pg_catalog.pg_class rt ON rt.oid = con.confrelid "
	"JOIN pg_catalog.pg_namespace rn ON rn.oid = rt.relnamespace "
	"WHERE con.contype = 'f' AND con.conparentid = 0 AND t.relkind = 'r' "
	"  AND NOT t.relispartition AND rt.relkind = 'r' AND " CHECKSUM_USER_SCHEMAS
	" ORDER BY 1, 7";

/* table_of - the index of the copied table named disp, or -1. */
static int table_of(const ctx *x, const char *disp)
{
	int k;

	for (k = 0; disp && k < x->ntbl; k++)
		if (strcmp(x->tbls[k].disp, disp) == 0)
			return k;
	return -1;
}

/* plan_posts - the indexes and constraints of the copied tables (largest
 * first) and the foreign keys between them, read from the source's
 * catalog (definitions fully qualified: the session's search_path is
 * pg_catalog). Indexes of partitions, indexes with per-column statistics
 * targets and extensions' indexes are left to pg_restore's post-data. */
static int plan_posts(ctx *x)
{
	json_t *rows = pgm_pg_query_json(x->call, x->src0, INDEXES_SQL, 0, NULL), *row;
	size_t r;

	if (rows == NULL)
		return -1;
	json_array_foreach(rows, r, row)
	{
#define S(name) json_string_value(json_object_get(row, name))
		int k = table_of(x, S("disp"));
		ctbl *t;
		cidx *e, *grown;
		const char *con = S("conname"), *ct = S("contype");
		FILE *f;
		size_t len = 0;

		if (k < 0)
			continue;
		t = &x->tbls[k];
		grown = realloc(t->idx, (size_t)(t->nidx + 1) * sizeof(cidx));
		if (grown == NULL)
			break;
		t->idx = grown;
		e = &t->idx[t->nidx++];
		memset(e, 0, sizeof(*e));
		e->size = json_number_value(json_object_get(row, "size"));
		e->nsp = strdup(S("nsp"));
		e->iname = strdup(S("iname"));
		e->con = con ? strdup(con) : NULL;
		if (con)
			e->entry = xasprintf("CONSTRAINT %s %s %s", S("tnsp"), S("tname"), con);
		else
			e->entry = xasprintf("INDEX %s %s", S("nsp"), S("iname"));
		if (con &&
		    (strcmp(ct, "x") == 0 || json_is_true(json_object_get(row, "deferrable")))) {
			/* built by ADD CONSTRAINT itself, under the table's exclusive lock */
			e->attach = xasprintf("ALTER TABLE ONLY %s ADD CONSTRAINT %s %s", t->qname,
					      S("qcon"), S("cdef"));
		} else {
			e->build = strdup(S("idef"));
			if (con)
				e->attach = xasprintf(
					"ALTER TABLE ONLY %s ADD CONSTRAINT %s %s USING INDEX %s",
					t->qname, S("qcon"),
					strcmp(ct, "p") == 0 ? "PRIMARY KEY" : "UNIQUE",
					S("qiname"));
		}
		f = open_memstream(&e->extra, &len);
		if (f == NULL)
			break;
		if (json_is_true(json_object_get(row, "clustered")))
			fprintf(f, "ALTER TABLE ONLY %s CLUSTER ON %s", t->qname,
				con ? S("qcon") : S("qiname"));
		if (json_is_true(json_object_get(row, "replident")))
			fprintf(f, "%sALTER TABLE ONLY %s REPLICA IDENTITY USING INDEX %s",
				json_is_true(json_object_get(row, "clustered")) ? "; " : "",
				t->qname, con ? S("qcon") : S("qiname"));
		if (fclose(f) != 0)
			break;
		if (len == 0) {
			free(e->extra);
			e->extra = NULL;
		}
		t->attach |= e->attach != NULL || e->extra != NULL;
		if (e->nsp == NULL || e->iname == NULL || e->entry == NULL ||
		    (con && (e->con == NULL || e->attach == NULL)) ||
		    (e->attach == NULL && e->build == NULL))
			break;
	}
	if (r < json_array_size(rows)) {
		json_decref(rows);
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	}
	json_decref(rows);
	rows = pgm_pg_query_json(x->call, x->src0, FKS_SQL, 0, NULL);
	if (rows == NULL)
		return -1;
	x->fks = calloc(json_array_size(rows) + 1, sizeof(cfk));
	if (x->fks == NULL)
		return json_decref(rows), pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	json_array_foreach(rows, r, row)
	{
		int k = table_of(x, S("disp")), rk = table_of(x, S("rdisp"));
		cfk *f = &x->fks[x->nfk];

		if (k < 0 || rk < 0)
			continue; /* left to pg_restore's post-data */
		f->t = k;
		f->rt = rk;
		f->validated = json_is_true(json_object_get(row, "validated"));
		f->entry = xasprintf("FK CONSTRAINT %s %s %s", S("nsp"), S("tname"), S("conname"));
		f->name = strdup(S("qcon"));
		f->qtable = strdup(S("qtable"));
		f->def = xasprintf("%s%s", S("def"), f->validated ? " NOT VALID" : "");
		x->nfk++;
		if (!f->entry || !f->name || !f->qtable || !f->def) {
			json_decref(rows);
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
		}
#undef S
	}
	json_decref(rows);
	return 0;
}

/* add_foreign_keys - ADD CONSTRAINT ... NOT VALID of every foreign key
 * between copied tables, one after the other on the control connection
 * (each locks both of its tables briefly); those that exist are skipped.
 * The validations are then queued for the workers. */
static int add_foreign_keys(ctx *x)
{
	int i;

	for (i = 0; i < x->nfk; i++) {
		cfk *f = &x->fks[i];
		const char *p[2] = {f->qtable, NULL};
		char *sql;
		PGresult *r;
		int exists;

		/* f->name is quoted: compare it with the stored name quoted */
		r = pgm_pg_exec(
			x->call, x->tgt0,
			"SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = $1::regclass "
			"AND pg_catalog.quote_ident(conname) = $2",
			2, (p[1] = f->name, p));
		if (r == NULL)
			return -1;
		exists = PQntuples(r) > 0;
		PQclear(r);
		if (!exists) {
			sql = xasprintf("ALTER TABLE ONLY %s ADD CONSTRAINT %s %s", f->qtable,
					f->name, f->def);
			if (sql == NULL)
				return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
			if (pgm_pg_command(x->call, x->tgt0, sql, 0, NULL) < 0)
				return free(sql), -1;
			free(sql);
		}
		if (f->validated) {
			pthread_mutex_lock(&x->mu);
			push_ready(x, J_VALIDATE, f->t, i);
			pthread_mutex_unlock(&x->mu);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The schema in the data's snapshot
 * ---------------------------------------------------------------------- */

/* run_tool - runs argv (env: NULL or PGPASSWORD=...) to completion; 0, or
 * -1 with the call's error set naming what failed (code copy.<tool>). */
static int run_tool(ctx *x, const char *const *argv, const char *const *env, const char *what)
{
	pgm_child_spec spec = {.argv = argv, .env = env};
	pgm_child_result res;

	if (pgm_child_run(x->call, &spec, &res) < 0)
		return -1;
	if (!res.exited || res.status != 0) {
		pgm_fail(x->call,
			 strcmp(argv[0], "pg_dump") == 0 ? "copy.pg_dump" : "copy.pg_restore", 0,
			 "copy: %s %s with status %d: %s", what,
			 res.exited ? "exited" : "was killed", res.status,
			 res.stderr_tail ? res.stderr_tail : "");
		pgm_child_result_free(&res);
		return -1;
	}
	pgm_child_result_free(&res);
	return 0;
}

/* split_conninfo - conninfo without its password (for a child's argv,
 * caller frees) and "PGPASSWORD=..." in *pwenv (caller wipes and frees;
 * NULL when there is none). NULL with the call's error set. */
static char *split_conninfo(ctx *x, const char *conninfo, char **pwenv)
{
	char *err = NULL, *buf = NULL;
	size_t len = 0;
	PQconninfoOption *opts, *o;
	FILE *f;

	*pwenv = NULL;
	pgm_secret_add_conninfo(conninfo);
	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		PQfreemem(err);
		pgm_fail(x->call, "args.invalid", 0,
			 "copy: the source connection string is invalid");
		return NULL;
	}
	f = open_memstream(&buf, &len);
	for (o = opts; f != NULL && o->keyword != NULL; o++) {
		const char *p;

		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			free(*pwenv);
			*pwenv = xasprintf("PGPASSWORD=%s", o->val);
			continue;
		}
		fprintf(f, "%s%s='", len ? " " : "", o->keyword);
		fflush(f);
		for (p = o->val; *p; p++) {
			if (*p == '\'' || *p == '\\')
				fputc('\\', f);
			fputc(*p, f);
		}
		fputc('\'', f);
		fflush(f);
	}
	PQconninfoFree(opts);
	if (f == NULL || fclose(f) != 0) {
		free(buf);
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
		return NULL;
	}
	return buf;
}

/* next_line - the next line of f that is not pg_restore's \restrict /
 * \unrestrict (a random key per run); NULL at the end. */
static char *next_line(FILE *f, char **buf, size_t *cap)
{
	while (getline(buf, cap, f) >= 0)
		if (strncmp(*buf, "\\restrict ", 10) != 0 &&
		    strncmp(*buf, "\\unrestrict ", 12) != 0)
			return *buf;
	return NULL;
}

/* same_sql - 1 when SQL files a and b hold the same lines (but for
 * \restrict keys), 0 when not, -1 when one cannot be read. */
static int same_sql(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	char *la = NULL, *lb = NULL;
	size_t ca = 0, cb = 0;
	int rc = -1;

	if (fa && fb) {
		const char *x, *y;

		do {
			x = next_line(fa, &la, &ca);
			y = next_line(fb, &lb, &cb);
		} while (x && y && strcmp(x, y) == 0);
		rc = x == NULL && y == NULL;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	free(la);
	free(lb);
	return rc;
}

/* dump_schema - pg_dump --schema-only of the source in the copy's
 * exported snapshot into file (custom format), so that the post-data
 * restored after the copy is the schema of the data copied. With check
 * (the schema dump whose pre-data is on the target), the two pre-data
 * sections must be the same SQL: else the schema changed in between and
 * the copy stops before any data moves. */
static int dump_schema(ctx *x, const char *source, const char *file, const char *check)
{
	char *pw = NULL, *db = split_conninfo(x, source, &pw);
	char *dbarg = db ? xasprintf("--dbname=%s", db) : NULL;
	char *snap = xasprintf("--snapshot=%s", x->snapshot), *farg = xasprintf("--file=%s", file);
	char *a = NULL, *b = NULL, *fa = NULL, *fb = NULL;
	const char *env[2] = {pw, NULL};
	int rc = -1;
	long long t0 = pgm_now_ms();

	if (db == NULL)
		goto out;
	if (dbarg == NULL || snap == NULL || farg == NULL) {
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
		goto out;
	}
	{
		const char *argv[] = {
			"pg_dump", "--schema-only", "--format=custom", snap, farg, dbarg, NULL};

		if (run_tool(x, argv, env, "pg_dump --schema-only in the copy's snapshot") < 0)
			goto out;
	}
	pgm_info("copy: schema dumped in the copy's snapshot to %s (%.2f s)", file,
		 (double)(pgm_now_ms() - t0) / 1000.0);
	if (check != NULL) {
		int same;

		a = xasprintf("%s.pre-data.sql", file);
		b = xasprintf("%s.check-pre-data.sql", file);
		fa = a ? xasprintf("--file=%s", a) : NULL;
		fb = b ? xasprintf("--file=%s", b) : NULL;
		if (fa == NULL || fb == NULL) {
			pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
			goto out;
		}
		{
			const char *ra[] = {"pg_restore", "--section=pre-data", fa, file, NULL};
			const char *rb[] = {"pg_restore", "--section=pre-data", fb, check, NULL};

			if (run_tool(x, ra, NULL, "pg_restore --section=pre-data of the new dump") <
				    0 ||
			    run_tool(x, rb, NULL, "pg_restore --section=pre-data of schema_check") <
				    0)
				goto out;
		}
		same = same_sql(a, b);
		if (same != 1) {
			pgm_fail(x->call, "copy.schema_changed", 0,
				 same < 0
					 ? "copy: cannot read the pre-data of %s and %s"
					 : "copy: the source's schema changed since %s was dumped: "
					   "its pre-data differs from the schema in the copy's "
					   "snapshot (%s): restore the schema again",
				 check, file);
			goto out;
		}
		pgm_info("copy: the schema in the copy's snapshot has the pre-data of %s", check);
	}
	rc = 0;
out:
	if (a)
		unlink(a);
	if (b)
		unlink(b);
	if (pw)
		memset(pw, 0, strlen(pw));
	free(pw);
	free(db);
	free(dbarg);
	free(snap);
	free(farg);
	free(a);
	free(b);
	free(fa);
	free(fb);
	return rc;
}

/* ------------------------------------------------------------------------
 * The function
 * ---------------------------------------------------------------------- */

/* open_sides - the snapshot connection on the source, the control
 * connection on the target, and jobs connections to each side (sources in
 * the exported snapshot; targets with synchronous_commit off, no sorts
 * (the per-chunk check groups by chunk in a hash) and sequential scans
 * (their reads are of whole tables, maybe while an index is built)). */
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
	x->sessions = json_array();
	if (x->sessions == NULL)
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	if (pgm_pg_command(x->call, x->src0, checksum_session_sql, 0, NULL) < 0 ||
	    pgm_pg_command(x->call, x->tgt0, checksum_session_sql, 0, NULL) < 0 ||
	    note_session(x, x->tgt0) < 0)
		return -1;
	sv = PQserverVersion(pgm_pg_conn(x->src0));
	tv = PQserverVersion(pgm_pg_conn(x->tgt0));
	x->float_binary = sv < 120000 || tv < 120000;
	se = PQparameterStatus(pgm_pg_conn(x->src0), "server_encoding")
		     ? strdup(PQparameterStatus(pgm_pg_conn(x->src0), "server_encoding"))
		     : NULL;
	te = (char *)PQparameterStatus(pgm_pg_conn(x->tgt0), "server_encoding");
	x->same_encoding = se && te && strcmp(se, te) == 0;
	x->src_text_raw = se && (strcmp(se, "UTF8") == 0 || strcmp(se, "SQL_ASCII") == 0);
	free(se);
	if (pgm_pg_command(x->call, x->src0, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
			   NULL) < 0)
		return -1;
	r = pgm_pg_exec(x->call, x->src0, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
	if (r == NULL)
		return -1;
	x->snapshot = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	x->src = calloc((size_t)x->nw, sizeof(pgm_pg *));
	x->tgt = calloc((size_t)x->nw, sizeof(pgm_pg *));
	if (x->snapshot == NULL || x->src == NULL || x->tgt == NULL)
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	p[0] = x->snapshot;
	for (j = 0; j < x->nw; j++) {
		x->src[j] = pgm_pg_connect(x->call, source, COPY_APP);
		/* sequential scans allowed: a chunk may be a whole table, and the
		 * source has statistics to choose between its key and a scan */
		if (x->src[j] == NULL ||
		    pgm_pg_command(x->call, x->src[j], checksum_session_sql, 0, NULL) < 0 ||
		    pgm_pg_command(x->call, x->src[j],
				   "SELECT pg_catalog.set_config('enable_seqscan', 'on', false)", 0,
				   NULL) < 0 ||
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
			    "SELECT pg_catalog.set_config('synchronous_commit', 'off', false), "
			    "pg_catalog.set_config('enable_sort', 'off', false), "
			    "pg_catalog.set_config('enable_seqscan', 'on', false)",
			    0, NULL) < 0 ||
		    note_session(x, x->tgt[j]) < 0)
			return -1;
	}
	(void)p;
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

/* run_pool - starts the workers on the queued work and, while they run,
 * saves the checkpoint whenever a chunk starts or commits (a chunk
 * commits only once its start is saved), reports progress, and cancels
 * the workers' statements on cancellation or the deadline. */
static int run_pool(ctx *x)
{
	pthread_t *th = calloc((size_t)x->nw, sizeof(pthread_t));
	worker *wk = calloc((size_t)x->nw, sizeof(worker));
	int i, nth = 0, rc = 0;
	long long last_report = 0;

	if (th == NULL || wk == NULL) {
		free(th);
		free(wk);
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	}
	x->running = x->nw;
	for (i = 0; i < x->nw; i++) {
		wk[i].x = x;
		wk[i].w = i;
		if (pthread_create(&th[i], NULL, worker_main, &wk[i]) != 0) {
			pthread_mutex_lock(&x->mu);
			x->stop = 1;
			x->running -= x->nw - i;
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

		if (x->gen != x->saved_gen && rc == 0) {
			if (save_checkpoint(x) < 0 && rc == 0) {
				x->stop = 1;
				rc = -1;
			}
			continue;
		}
		if (pgm_now_ms() - last_report >= 500 || x->running == 0) {
			char label[200];
			double secs = (double)(pgm_now_ms() - x->t0) / 1000.0;
			long long rows = x->rows_done, bytes = x->bytes_done;
			double rate;

			for (i = 0; i < x->nw; i++) {
				rows += __atomic_load_n(&x->fly_rows[i], __ATOMIC_RELAXED);
				bytes += __atomic_load_n(&x->fly_bytes[i], __ATOMIC_RELAXED);
			}
			rate = secs > 0 ? (double)rows / secs : 0;
			last_report = pgm_now_ms();
			snprintf(label, sizeof(label),
				 "copy %.1f MB at %.1f MB/s, %.0f rows/s, %d/%d tables in, ~%.0f s "
				 "left",
				 (double)bytes / 1e6, secs > 0 ? (double)bytes / 1e6 / secs : 0.0,
				 rate, x->tables_in, x->ntbl,
				 rate > 0 && x->rows_total > rows
					 ? (double)(x->rows_total - rows) / rate
					 : 0.0);
			pthread_mutex_unlock(&x->mu);
			pgm_progress(x->call, (double)rows,
				     (double)(x->rows_total > rows ? x->rows_total : rows), "rows",
				     label);
			pthread_mutex_lock(&x->mu);
		}
		if (x->running == 0)
			break;
		if (!x->stop && (pgm_cancelled(x->call) || pgm_remaining_ms(x->call) == 0)) {
			char eb[256];

			x->stop = 1;
			pthread_cond_broadcast(&x->cv);
			/* a worker blocked on a frozen server wakes up with an error */
			for (i = 0; i < 2 * x->nw; i++)
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
	free(th);
	free(wk);
	return rc;
}

/* prepare_run - the chunks' arrays of tables planned in this run, the
 * queue of chunks not yet committed (largest table first), ctid-split
 * tables that start over emptied, tables already complete handed to
 * table_in, and a first checkpoint. */
static int prepare_run(ctx *x)
{
	int k, i, total = 0, posts = 0;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		if (t->done == NULL && alloc_chunks(t) < 0)
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
		total += t->n;
		posts += t->nidx + 3; /* verify, attach, analyze */
	}
	x->queue = calloc((size_t)total + 1, sizeof(job));
	x->cap_ready = posts + x->nfk + 1;
	x->ready = calloc((size_t)x->cap_ready, sizeof(job));
	x->cancels = calloc((size_t)x->nw * 2, sizeof(PGcancel *));
	x->fly_rows = calloc((size_t)x->nw, sizeof(long long));
	x->fly_bytes = calloc((size_t)x->nw, sizeof(long long));
	if (x->queue == NULL || x->ready == NULL || x->cancels == NULL || x->fly_rows == NULL ||
	    x->fly_bytes == NULL)
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	for (i = 0; i < x->nw; i++) {
		x->cancels[2 * i] = PQgetCancel(pgm_pg_conn(x->src[i]));
		x->cancels[2 * i + 1] = PQgetCancel(pgm_pg_conn(x->tgt[i]));
	}
	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		if (t->redo) {
			char *sql = xasprintf("TRUNCATE ONLY %s", t->qname);

			if (sql == NULL || pgm_pg_command(x->call, x->tgt0, sql, 0, NULL) < 0)
				return free(sql), -1;
			free(sql);
			memset(t->unk, 0, (size_t)t->n);
		}
		for (i = 0; i < t->n; i++) {
			if (t->done[i]) {
				x->skipped++;
				continue;
			}
			x->queue[x->nqueue].kind = J_CHUNK;
			x->queue[x->nqueue].t = k;
			x->queue[x->nqueue].i = i;
			x->nqueue++;
			t->left++;
		}
	}
	pthread_mutex_lock(&x->mu);
	for (k = 0; k < x->ntbl; k++)
		if (x->tbls[k].left == 0)
			table_in(x, k);
	x->gen++;
	i = save_checkpoint(x);
	pthread_mutex_unlock(&x->mu);
	return i;
}

static void free_ctx(ctx *x)
{
	int k, i;

	for (k = 0; k < x->ntbl; k++) {
		ctbl *t = &x->tbls[k];

		free(t->disp);
		free(t->qname);
		free(t->cols);
		free(t->hash);
		free(t->rowhash);
		free(t->kinds);
		free(t->nullh);
		free(t->qkey);
		free(t->done);
		free(t->fly);
		free(t->unk);
		free(t->fxid);
		free(t->frows);
		free(t->fhash);
		free(t->scnt);
		free(t->shash);
		free(t->known);
		for (i = 0; i < t->nidx; i++) {
			free(t->idx[i].entry);
			free(t->idx[i].nsp);
			free(t->idx[i].iname);
			free(t->idx[i].con);
			free(t->idx[i].build);
			free(t->idx[i].attach);
			free(t->idx[i].extra);
		}
		free(t->idx);
	}
	free(x->tbls);
	for (k = 0; k < x->nfk; k++) {
		free(x->fks[k].entry);
		free(x->fks[k].name);
		free(x->fks[k].qtable);
		free(x->fks[k].def);
	}
	free(x->fks);
	for (k = 0; k < x->nw; k++) {
		if (x->src)
			pgm_pg_close(x->src[k]);
		if (x->tgt)
			pgm_pg_close(x->tgt[k]);
	}
	for (k = 0; x->cancels && k < 2 * x->nw; k++)
		PQfreeCancel(x->cancels[k]);
	free(x->cancels);
	free(x->fly_rows);
	free(x->fly_bytes);
	free(x->src);
	free(x->tgt);
	pgm_pg_close(x->src0);
	pgm_pg_close(x->tgt0);
	free(x->snapshot);
	json_decref(x->sessions);
	free(x->queue);
	free(x->ready);
	free(x->err_code);
	free(x->err_msg);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
}

/* size_bytes - a size like "4GB" (digits, then B, kB, MB, GB or TB, 1024
 * apart; no unit: bytes) in bytes, or -1. with_b: "B" is a unit. */
static long long size_bytes(const char *v, int with_b)
{
	static const char *const units[] = {"", "B", "kB", "MB", "GB", "TB", NULL};
	static const long long mult[] = {1, 1, 1LL << 10, 1LL << 20, 1LL << 30, 1LL << 40};
	const char *p = v;
	long long n = 0;
	int i;

	if (v == NULL || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (1LL << 40))
			return -1;
		n = n * 10 + (*p - '0');
	}
	while (*p == ' ')
		p++;
	for (i = 0; units[i]; i++)
		if (strcmp(p, units[i]) == 0 && (with_b || i != 1))
			return n <= (1LL << 62) / mult[i] ? n * mult[i] : -1;
	return -1;
}

/* mwm_ok - a maintenance_work_mem value (it goes into SET): digits and an
 * optional unit of PostgreSQL's (kB, MB, GB, TB), 11 digits at most. */
static int mwm_ok(const char *v)
{
	return size_bytes(v, 0) >= 0 && strspn(v, "0123456789 ") < 12;
}

/* copy_data - copy.data (see the file's comment). args borrowed; returns
 * a new object or NULL with the call's error set. */
static json_t *copy_data(pgm_call *call, json_t *args)
{
	ctx x;
	const char *source, *target, *format, *schema_file, *schema_check, *hash, *split;
	json_t *tables = json_object_get(args, "tables"), *res = NULL, *list, *cp, *built;
	int k, i, nseq;
	long long t0 = pgm_now_ms(), ms, plan_ms, data_ms, fk0, seq0;

	memset(&x, 0, sizeof(x));
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	x.call = call;
	{
		long long jobs = 4, index_jobs = -1, index_workers = 0;

		source = pgm_arg_string(call, args, "source", NULL, 1);
		target = pgm_arg_string(call, args, "target", NULL, 1);
		format = pgm_arg_string(call, args, "format", "binary", 0);
		x.mwm = pgm_arg_string(call, args, "maintenance_work_mem", "1GB", 0);
		schema_file = pgm_arg_string(call, args, "schema_file", NULL, 0);
		hash = pgm_arg_string(call, args, "hash", "auto", 0);
		split = pgm_arg_string(call, args, "split_larger_than", "4GB", 0);
		schema_check = pgm_arg_string(call, args, "schema_check", NULL, 0);
		if (source == NULL || target == NULL || format == NULL || x.mwm == NULL ||
		    pgm_arg_int(call, args, "jobs", 4, 0, &jobs) < 0 ||
		    pgm_arg_int(call, args, "index_jobs", -1, 0, &index_jobs) < 0 ||
		    pgm_arg_int(call, args, "index_workers", 0, 0, &index_workers) < 0 ||
		    pgm_arg_int(call, args, "chunk_rows", 100000, 0, &x.chunk_rows) < 0 ||
		    pgm_arg_bool(call, args, "verify", 1, &x.verify) < 0 ||
		    pgm_arg_bool(call, args, "freeze", 1, &x.freeze) < 0 ||
		    pgm_arg_bool(call, args, "indexes", 0, &x.indexes) < 0 ||
		    pgm_arg_bool(call, args, "analyze", 0, &x.analyze) < 0)
			goto out;
		if (jobs < 1 || jobs > 64) {
			pgm_fail(call, "copy.bad_argument", 0,
				 "copy.data: jobs must be 1..64, not %lld", jobs);
			goto out;
		}
		if (index_jobs < -1 || index_jobs > 64) {
			pgm_fail(call, "copy.bad_argument", 0,
				 "copy.data: index_jobs must be 0..64, not %lld", index_jobs);
			goto out;
		}
		if (index_workers < 0 || index_workers > 64) {
			pgm_fail(call, "copy.bad_argument", 0,
				 "copy.data: index_workers must be 0..64, not %lld", index_workers);
			goto out;
		}
		x.index_workers = (int)index_workers;
		x.jobs = (int)jobs;
		x.index_jobs = index_jobs < 0 ? x.jobs : (int)index_jobs;
	}
	x.split_bytes = size_bytes(split, 1);
	if (split != NULL && x.split_bytes < 0) {
		pgm_fail(call, "args.invalid", 0,
			 "copy.data: split_larger_than must be a size like \"4GB\" (B, kB, MB, GB, "
			 "TB) or 0, not \"%s\"",
			 split);
		goto out;
	}
	if (x.chunk_rows < 1) {
		pgm_fail(call, "copy.bad_argument", 0, "copy.data: chunk_rows must be at least 1");
		goto out;
	}
	if (!mwm_ok(x.mwm)) {
		pgm_fail(call, "args.invalid", 0,
			 "copy.data: maintenance_work_mem must be a size like \"512MB\" or "
			 "\"2GB\" (kB, MB, GB, TB), not \"%s\"",
			 x.mwm);
		goto out;
	}
	if (strcmp(format, "binary") != 0 && strcmp(format, "text") != 0) {
		pgm_fail(call, "copy.bad_argument", 0,
			 "copy.data: format must be \"binary\" or \"text\", not \"%s\"", format);
		goto out;
	}
	x.binary = strcmp(format, "binary") == 0;
	if (hash == NULL || (strcmp(hash, "stream") != 0 && strcmp(hash, "sql") != 0 &&
			     strcmp(hash, "auto") != 0)) {
		pgm_fail(call, "args.invalid", 0,
			 "copy.data: hash must be \"auto\", \"stream\" or \"sql\", not \"%s\"",
			 hash ? hash : "(not a string)");
		goto out;
	}
	x.hmode = strcmp(hash, "stream") == 0 ? H_STREAM
		  : strcmp(hash, "sql") == 0  ? H_SQL
					      : H_AUTO;
	if (!x.verify && !x.indexes && !x.analyze)
		x.index_jobs = 0; /* no post-copy work for them */
	x.nw = x.jobs + x.index_jobs;
	if (tables != NULL && !json_is_array(tables)) {
		pgm_fail(call, "copy.bad_argument", 0,
			 "copy.data: tables must be an array of \"schema.table\"");
		goto out;
	}
	if (pgm_failed(call))
		goto out;
	if (schema_check != NULL && schema_file == NULL) {
		pgm_fail(call, "args.invalid", 0, "copy.data: schema_check needs schema_file");
		goto out;
	}
	cp = pgm_checkpoint_get(call);
	if (open_sides(&x, source, target) < 0 ||
	    (cp != NULL && end_stopped_sessions(&x, cp) < 0) ||
	    (schema_file != NULL && dump_schema(&x, source, schema_file, schema_check) < 0) ||
	    plan_tables(&x, tables) < 0)
		goto out;
	if (cp != NULL) {
		if (load_checkpoint(&x, cp) < 0)
			goto out;
		pgm_notice("copy: resuming from the checkpoint of an earlier run of this step");
	}
	for (k = 0; k < x.ntbl && x.verify && x.binary; k++)
		if (x.tbls[k].chash && !x.tbls[k].streamed) {
			if (probe_chash(&x) < 0)
				goto out;
			break;
		}
	if (plan_bounds(&x) < 0 || (cp != NULL && resolve_in_flight(&x) < 0) ||
	    (x.indexes && plan_posts(&x) < 0) || prepare_run(&x) < 0)
		goto out;
	plan_ms = pgm_now_ms() - t0;
	x.t0 = pgm_now_ms();
	if (run_pool(&x) < 0)
		goto out;
	data_ms = pgm_now_ms() - x.t0;
	fk0 = pgm_now_ms();
	if (x.indexes && x.nfk > 0 && (add_foreign_keys(&x) < 0 || run_pool(&x) < 0))
		goto out;
	seq0 = pgm_now_ms();
	nseq = set_sequences(&x);
	if (nseq < 0)
		goto out;
	ms = pgm_now_ms() - t0;
	list = json_array();
	built = json_array();
	for (k = 0; k < x.ntbl; k++) {
		ctbl *t = &x.tbls[k];

		json_array_append_new(
			list,
			json_pack(
				"{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:b, s:i, s:I, s:I, s:I}",
				"table", t->disp, "qname", t->qname, "hash",
				t->streamed ? "stream" : "sql", "hashed_by",
				!x.verify					      ? "none"
				: t->streamed || (x.binary && t->chash && x.chash_ok) ? "pgmove"
										      : "source",
				"method", method_name[t->method], "chunks", t->n, "rows",
				(json_int_t)t->rows, "bytes", (json_int_t)t->bytes, "verified",
				x.verify, "indexes", x.indexes ? t->nidx : 0, "data_ms",
				(json_int_t)(t->t_in > t->t_first && t->t_first > 0
						     ? t->t_in - t->t_first
						     : 0),
				"verify_ms", (json_int_t)t->verify_ms, "index_ms",
				(json_int_t)t->index_ms));
		for (i = 0; x.indexes && i < t->nidx; i++)
			json_array_append_new(built, json_string(t->idx[i].entry));
	}
	for (i = 0; i < x.nfk; i++)
		json_array_append_new(built, json_string(x.fks[i].entry));
	res = json_pack("{s:o, s:I, s:I, s:i, s:i, s:b, s:s, s:i, s:i, s:I, s:f, s:o, "
			"s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
			"tables", list, "rows", (json_int_t)x.rows_done, "bytes",
			(json_int_t)x.bytes_done, "chunks_skipped", x.skipped, "sequences", nseq,
			"verified", x.verify, "format", format, "jobs", x.jobs, "index_jobs",
			x.index_jobs, "ms", (json_int_t)ms, "rows_per_s",
			ms > 0 ? (double)x.rows_done * 1000.0 / (double)ms : 0.0, "post_data",
			built, "phases", "plan_ms", (json_int_t)plan_ms, "data_ms",
			(json_int_t)data_ms, "foreign_keys_ms", (json_int_t)(seq0 - fk0),
			"sequences_ms", (json_int_t)(pgm_now_ms() - seq0), "verify_ms_sum",
			(json_int_t)0, "index_ms_sum", (json_int_t)0);
	if (res != NULL) {
		json_t *ph = json_object_get(res, "phases");
		long long vs = 0, is = 0;

		for (k = 0; k < x.ntbl; k++) {
			vs += x.tbls[k].verify_ms;
			is += x.tbls[k].index_ms;
		}
		json_object_set_new(ph, "verify_ms_sum", json_integer(vs));
		json_object_set_new(ph, "index_ms_sum", json_integer(is));
		json_object_set_new(ph, "analyze_ms_sum", json_integer(x.analyze_ms));
		json_object_set_new(ph, "validate_ms_sum", json_integer(x.fk_ms));
	}
out:
	free_ctx(&x);
	return res;
}

static const char *const formats[] = {"binary", "text", NULL};
static const char *const hashes[] = {"auto", "stream", "sql", NULL};

static const pgm_param data_params[] = {
	{"source", "conninfo", 1, 1, "source connection string"},
	{"target", "conninfo", 1, 1, "target connection string (tables already created, empty)"},
	{"tables", "array", 0, 0, "tables to copy (\"schema.table\"); default all user tables"},
	{"jobs", "integer", 0, 0, "copy workers (each with a connection to each server)", "4", "1",
	 "64", NULL},
	{"index_jobs", "integer", 0, 0,
	 "post workers (each with a connection to each server) that verify tables, build "
	 "indexes and constraints, ANALYZE and validate foreign keys while the copy workers go "
	 "on copying (like pgcopydb's --index-jobs); 0: the copy workers do that work too, "
	 "before their next chunk. Default: jobs",
	 NULL, "0", "64", NULL},
	{"chunk_rows", "integer", 0, 0, "rows per chunk (key or ctid range) of a split table",
	 "100000", "1", NULL, NULL},
	{"split_larger_than", "string", 0, 0,
	 "split a table into chunks of chunk_rows rows when it is larger than this (a kill then "
	 "loses at most a chunk) or larger than twice its share of the data (all tables' "
	 "size / jobs); other tables are copied whole, by one COPY FREEZE (no hint bits to set "
	 "later, one plain scan of the source). 0: split every table of more than chunk_rows "
	 "rows",
	 "\"4GB\"", NULL, NULL, NULL},
	{"format", "string", 0, 0, "COPY format", "\"binary\"", NULL, NULL, formats},
	{"hash", "string", 0, 0,
	 "how chunks are verified: \"stream\" hashes the binary COPY bytes (the source's as "
	 "they pass, the target's by one COPY of the stored rows per table), \"sql\" runs the "
	 "checksum plugin's typed hash (with format binary the source's computed by pgmove from "
	 "the values it passes on, or by the source in the copy's own scan), \"auto\" sql for "
	 "tables whose every column has a typed hash "
	 "(integers, text, char, uuid, timestamps, ...), stream for the others; stream needs "
	 "format binary and falls back to sql for tables with composite columns or arrays of "
	 "user types",
	 "\"auto\"", NULL, NULL, hashes},
	{"verify", "boolean", 0, 0, "count and hash each chunk on both sides", "true", NULL, NULL,
	 NULL},
	{"freeze", "boolean", 0, 0,
	 "COPY FREEZE for one-chunk tables (truncated in the same "
	 "transaction)",
	 "true", NULL, NULL, NULL},
	{"indexes", "boolean", 0, 0,
	 "build each table's indexes, primary key, unique and exclusion constraints as soon "
	 "as its data is in, foreign keys between copied tables at the end (returned in "
	 "post_data for pg_restore to leave out)",
	 "false", NULL, NULL, NULL},
	{"maintenance_work_mem", "string", 0, 0,
	 "maintenance_work_mem of each index build (as pgcopydb; the sort of a large index "
	 "spills to disk below it: pgbench_accounts' key took 3.9 s with 256MB, 2.4 s with 1GB); "
	 "the target needs this much memory per post worker",
	 "\"1GB\"", NULL, NULL, NULL},
	{"index_workers", "integer", 0, 0,
	 "max_parallel_maintenance_workers of each index build: parallel workers of the target "
	 "server that help one CREATE INDEX (within the server's max_worker_processes and "
	 "max_parallel_workers); 0: each build is one process",
	 "0", "0", "64", NULL},
	{"analyze", "boolean", 0, 0, "ANALYZE each table once its indexes are built", "false", NULL,
	 NULL, NULL},
	{"schema_file", "string", 0, 0,
	 "pg_dump --schema-only (custom format) of the source in the copy's snapshot to this "
	 "file, for the post-data restore"},
	{"schema_check", "string", 0, 0,
	 "an earlier schema dump whose pre-data must equal schema_file's (else "
	 "copy.schema_changed before any data moves)"},
	{NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const pgm_function copy_functions[] = {
	{"data", copy_data, PGM_FN_IDEMPOTENT,
	 "table data streamed from source to target with COPY on N connections, tables split "
	 "into key or ctid ranges, each chunk verified by count and hash, indexes built per "
	 "table as its data is in, resumable per chunk; then sequences",
	 data_params},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(copy) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "copy",
	.version = "0.1.0",
	.summary = "parallel streaming COPY between servers, verified per chunk, resumable",
	.functions = copy_functions,
};
