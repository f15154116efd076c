/*
 * plugins/checksum/checksum_compare.c - checksum.compare: row counts and
 * content checksums of the user tables of two servers.
 *
 * How it works (and why it is fast and bounded):
 * - Every connection forces the settings that decide the text form of
 *   values (checksum_session_sql), so equal data hashes equal on both sides.
 * - With snapshot=true (default) each side runs in one exported snapshot
 *   shared by all of that side's connections, so a busy source is
 *   compared as of one instant.
 * - A table with a primary key is cut into key ranges ("chunks") whose
 *   boundaries come from a TABLESAMPLE of the source's keys (cheap, no full
 *   scan; any boundaries are correct, good ones are balanced). Each chunk
 *   is one query per server: count(*) and sum() of a 64-bit row hash over
 *   an index range. The row hash XORs per-column hashes, each seeded by the
 *   column's position and NULL-aware. Types whose binary equality is the
 *   equality of their text form (integers, text, uuid, timestamps, ...)
 *   are hashed without output functions; everything else (numeric, floats,
 *   jsonb, interval, arrays, enums, ...) is hashed through its text form,
 *   so numeric 1.0 vs 1.00 and float -0 vs 0 differ.
 * - Chunks run on `jobs` connections to each server at once
 *   (pgm_pg_send / pgm_pg_wait_any); only two numbers per chunk come back.
 * - A chunk that differs is narrowed: split into sub-ranges hashed again,
 *   down to ranges of at most leaf_rows rows, whose keys and row hashes
 *   are fetched and merged to name the missing, extra and changed keys.
 * - A table without a primary key is compared whole (count and hash sum,
 *   which is duplicate-aware), and marked so.
 */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "checksum.h"
#include "checksum_hash.h"

enum { SRC = 0, TGT = 1 };
static const char *const side_name[2] = { "source", "target" };

typedef struct col {
	char *name;    /* as in the catalog                        */
	char *qname;   /* quoted                                   */
	char *type[2]; /* format_type() on each side; NULL: absent */
	long long typid;
	long long base;    /* the type under any domains                */
	char *coll[2];     /* collation name, NULL when not collatable */
	char *colldesc[2]; /* what decides its order (see TABLES_SQL)   */
	char *labels[2];   /* an enum's labels in order (JSON), or NULL */
} col;

typedef struct tbl {
	char *schema, *name;
	char *disp;       /* schema.name, for messages and results     */
	char *from;       /* "ONLY "s"."t"" (or without ONLY for 'p')  */
	int ncols;
	col *cols;
	int nkey;
	int *key;         /* indexes into cols                          */
	char **kexpr;     /* key column expressions for comparisons    */
	char **kpre;      /* written before a key parameter "$n"...    */
	char **kcast;     /* ...and after it ("::type", "::type COLLATE "C"") */
	int null_keys;    /* the target may hold NULL keys (no such key) */
	int unindexed;    /* a key compared in another order than its index's */
	int unpopulated[2]; /* a materialized view without data       */
	int matview;
	char *rowhash;    /* the row hash expression                   */
	char *sel;        /* "count(*), sum(...)::text"                */
	double est;       /* estimated rows on the source              */
	double pages;     /* its size in pages                          */
	int on_target;
	int counts_only;
	json_t *problems; /* strings                                    */
	int nb;           /* chunk boundaries (nb + 1 chunks)          */
	char **bounds;    /* nb * nkey strings                          */
	int first;        /* index of the first chunk in ctx.chunks    */
	long long rows[2];
	int chunks_done, mismatched;
	long long diff_rows;
} tbl;

typedef struct chunk {
	int t, i;
	int done[2];
	long long cnt[2];
	char *sum[2];
} chunk;

typedef struct ctx {
	pgm_call *call;
	int jobs;
	pgm_pg **conns[2];
	long long chunk_rows, leaf_rows, max_diff;
	int typed, check_types, counts_only, snapshot;
	int ntbl;
	tbl *tbls;
	int nchunks;
	chunk *chunks;
	json_t *mismatches;
	long long nmismatch; /* entries wanted in mismatches (kept or not) */
	int truncated;
	int snapshot_used;
	int large_objects;   /* compare them (argument large_objects)          */
	json_t *lo_result;   /* {"source": n, "target": n, "equal": b} or NULL */
	char *datcollate[2];
	char *encoding[2];
	int same_encoding;  /* text hashes are taken in the server encoding */
	int version[2];     /* server_version_num */
	int float_binary;   /* hash floats by their bits (a side is older than 12) */
	double rows_total, rows_done;
} ctx;

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */

static void *xcalloc(ctx *x, size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL)
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
	return p;
}

static char *xstrdup(ctx *x, const char *s)
{
	char *p = strdup(s ? s : "");

	if (p == NULL)
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
	return p;
}

/* mstream - a growing string (open_memstream). */
typedef struct mstream {
	FILE *f;
	char *buf;
	size_t len;
} mstream;

static int ms_open(ctx *x, mstream *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	if (m->f == NULL) {
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	return 0;
}

/* ms_close - the built string (caller frees), or NULL with the error set. */
static char *ms_close(ctx *x, mstream *m)
{
	if (fclose(m->f) != 0) {
		free(m->buf);
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
		return NULL;
	}
	return m->buf;
}

/* with_context - re-records the call's error with "table T: chunk N: "
 * in front, so the message names the thing that failed. */
static void with_context(ctx *x, const char *fmt, ...) PGM_PRINTF(2, 3);
static void with_context(ctx *x, const char *fmt, ...)
{
	char where[512];
	char *code, *msg;
	int retry;
	va_list ap;

	if (!pgm_failed(x->call))
		return;
	va_start(ap, fmt);
	vsnprintf(where, sizeof(where), fmt, ap);
	va_end(ap);
	code = strdup(pgm_error_code(x->call) ? pgm_error_code(x->call) : "checksum.failed");
	msg = strdup(pgm_error_message(x->call) ? pgm_error_message(x->call) : "");
	retry = pgm_error_retryable(x->call);
	if (code != NULL && msg != NULL) {
		pgm_clear_error(x->call);
		pgm_fail(x->call, code, retry, "%s: %s", where, msg);
	}
	free(code);
	free(msg);
}

/* ------------------------------------------------------------------------
 * Table plans
 * ---------------------------------------------------------------------- */

/* col_hash - the hash expression of column c (checksum_col_hash). */
static void col_hash(FILE *f, const col *c, int seed, int typed, int float_binary,
		     int same_encoding)
{
	checksum_hcol h = { c->qname, c->type[SRC], c->type[TGT], c->typid, c->base };

	checksum_col_hash(f, &h, seed, typed, float_binary, same_encoding);
}

static void add_problem(tbl *t, const char *fmt, ...) PGM_PRINTF(2, 3);
static void add_problem(tbl *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(t->problems, json_string(buf));
}

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* plan_table - fills the expressions of t from its columns on both sides
 * (trow: the target's catalog row, NULL when the table is missing there). */
static int plan_table(ctx *x, tbl *t, json_t *srow, json_t *trow)
{
	json_t *scols = json_object_get(srow, "columns"), *tcols, *pk, *v;
	mstream m;
	size_t i, j;
	int k;
	char *qs, *qn;
	const char *relkind = json_string_value(json_object_get(srow, "relkind"));

	qs = pgm_pg_quote_ident(x->conns[SRC][0], t->schema);
	qn = pgm_pg_quote_ident(x->conns[SRC][0], t->name);
	if (qs == NULL || qn == NULL ||
	    asprintf(&t->from, "%s%s.%s", relkind && *relkind == 'p' ? "" : "ONLY ", qs, qn) < 0) {
		free(qs);
		free(qn);
		t->from = NULL;
		pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	free(qs);
	free(qn);
	v = json_object_get(srow, "est");
	t->est = json_is_number(v) ? json_number_value(v) : 0;
	if (t->est < 0)
		t->est = 0;
	v = json_object_get(srow, "pages");
	t->pages = json_is_number(v) ? json_number_value(v) : 0;
	t->on_target = trow != NULL;
	t->matview = relkind && *relkind == 'm';
	t->counts_only = x->counts_only;
	t->unpopulated[SRC] = json_is_false(json_object_get(srow, "populated"));
	t->unpopulated[TGT] = trow != NULL && json_is_false(json_object_get(trow, "populated"));

	t->ncols = (int)json_array_size(scols);
	t->cols = xcalloc(x, (size_t)t->ncols, sizeof(col));
	if (t->cols == NULL)
		return -1;
	tcols = trow ? json_object_get(trow, "columns") : NULL;
	json_array_foreach(scols, i, v) {
		col *c = &t->cols[i];
		json_t *tv;

		c->name = xstrdup(x, json_string_value(json_object_get(v, "name")));
		c->type[SRC] = xstrdup(x, json_string_value(json_object_get(v, "type")));
		c->typid = json_integer_value(json_object_get(v, "typid"));
		c->base = json_integer_value(json_object_get(v, "base"));
		if (json_is_string(json_object_get(v, "collation")))
			c->coll[SRC] = xstrdup(x, json_string_value(json_object_get(v, "collation")));
		if (json_is_string(json_object_get(v, "colldesc")))
			c->colldesc[SRC] = xstrdup(x, json_string_value(json_object_get(v, "colldesc")));
		if (json_is_array(json_object_get(v, "labels")))
			c->labels[SRC] = json_dumps(json_object_get(v, "labels"), JSON_COMPACT);
		c->qname = pgm_pg_quote_ident(x->conns[SRC][0], c->name);
		if (c->name == NULL || c->type[SRC] == NULL || c->qname == NULL)
			return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
		json_array_foreach(tcols, j, tv) {
			if (strcmp(json_string_value(json_object_get(tv, "name")), c->name) == 0) {
				c->type[TGT] = xstrdup(x, json_string_value(json_object_get(tv, "type")));
				if (json_is_string(json_object_get(tv, "collation")))
					c->coll[TGT] = xstrdup(
						x, json_string_value(json_object_get(tv, "collation")));
				if (json_is_string(json_object_get(tv, "colldesc")))
					c->colldesc[TGT] = xstrdup(
						x, json_string_value(json_object_get(tv, "colldesc")));
				if (json_is_array(json_object_get(tv, "labels")))
					c->labels[TGT] = json_dumps(json_object_get(tv, "labels"),
								    JSON_COMPACT);
				break;
			}
		}
		if (trow == NULL)
			continue;
		if (c->type[TGT] == NULL) {
			add_problem(t, "column %s missing on the target: rows counted, not hashed",
				    c->name);
			t->counts_only = 1;
		} else if (strcmp(c->type[SRC], c->type[TGT]) != 0 && x->check_types) {
			add_problem(t, "column %s is %s on the source, %s on the target", c->name,
				    c->type[SRC], c->type[TGT]);
		}
	}
	json_array_foreach(tcols, j, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		int found = 0;

		for (k = 0; k < t->ncols; k++)
			found |= strcmp(t->cols[k].name, n) == 0;
		if (!found)
			add_problem(t, "column %s exists only on the target", n);
	}

	/* The key: the source's primary key columns. A target without the
	 * same primary key may hold rows whose key is NULL: the last range
	 * of every table takes them (where_range). */
	pk = json_object_get(srow, "pkey");
	t->nkey = (int)json_array_size(pk);
	t->null_keys = trow != NULL && !json_equal(pk, json_object_get(trow, "pkey"));
	if (t->nkey > 0) {
		t->key = xcalloc(x, (size_t)t->nkey, sizeof(int));
		t->kexpr = xcalloc(x, (size_t)t->nkey, sizeof(char *));
		t->kpre = xcalloc(x, (size_t)t->nkey, sizeof(char *));
		t->kcast = xcalloc(x, (size_t)t->nkey, sizeof(char *));
		if (t->key == NULL || t->kexpr == NULL || t->kpre == NULL || t->kcast == NULL)
			return -1;
		json_array_foreach(pk, i, v) {
			col *c = NULL;
			int force_c, as_text, utf8, r;

			for (k = 0; k < t->ncols; k++) {
				if (strcmp(t->cols[k].name, json_string_value(v)) == 0) {
					c = &t->cols[k];
					t->key[i] = k;
				}
			}
			if (c == NULL)
				return pgm_fail(x->call, "checksum.catalog", 0,
						"table %s: primary key column %s not found",
						t->disp, json_string_value(v)), -1;
			/* Keys sort by their collation: when the two sides may sort
			 * differently (another collation under the same name, another
			 * version of it, another database default), ranges are
			 * compared bytewise on both. An enum sorts by its labels'
			 * order: when that differs, by the labels' text. When the
			 * encodings differ, text keys are compared as UTF-8 bytes. */
			force_c = c->coll[SRC] != NULL && !same_str(c->colldesc[SRC], c->colldesc[TGT]);
			as_text = c->labels[SRC] != NULL && !same_str(c->labels[SRC], c->labels[TGT]);
			utf8 = !x->same_encoding && (c->coll[SRC] != NULL || c->labels[SRC] != NULL);
			if (utf8)
				r = asprintf(&t->kexpr[i], "convert_to(%s::text, 'UTF8')", c->qname) < 0 ||
				    (t->kpre[i] = strdup("convert_to(")) == NULL ||
				    asprintf(&t->kcast[i], "::text, 'UTF8')") < 0;
			else if (as_text)
				r = asprintf(&t->kexpr[i], "%s::text COLLATE \"C\"", c->qname) < 0 ||
				    (t->kpre[i] = strdup("")) == NULL ||
				    asprintf(&t->kcast[i], "::text COLLATE \"C\"") < 0;
			else
				r = asprintf(&t->kexpr[i], "%s%s", c->qname,
					     force_c ? " COLLATE \"C\"" : "") < 0 ||
				    (t->kpre[i] = strdup("")) == NULL ||
				    asprintf(&t->kcast[i], "::%s%s", c->type[SRC],
					     force_c ? " COLLATE \"C\"" : "") < 0;
			if (r)
				return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
			t->unindexed |= utf8 || as_text || force_c;
			if (utf8)
				add_problem(t, "key column %s: server encodings differ; ranges compared "
					       "as UTF-8 bytes (collations differ; one chunk, no index use)",
					    c->name);
			else if (as_text)
				add_problem(t, "key column %s: enum labels are in another order on the "
					       "target; ranges compared by label text (collations "
					       "ignored; one chunk, no index use)",
					    c->name);
			else if (force_c)
				add_problem(t, "key column %s: collations differ between the servers "
					       "(definition or version); ranges compared bytewise "
					       "(one chunk, no index use)",
					    c->name);
		}
	}

	/* The row hash and the select list of a chunk. */
	if (ms_open(x, &m) < 0)
		return -1;
	if (t->ncols == 0)
		fputs("0::int8", m.f);
	for (k = 0; k < t->ncols; k++) {
		if (k > 0)
			fputs(" # ", m.f);
		col_hash(m.f, &t->cols[k], k + 1, x->typed, x->float_binary, x->same_encoding);
	}
	t->rowhash = ms_close(x, &m);
	if (t->rowhash == NULL)
		return -1;
	if (asprintf(&t->sel, t->counts_only ? "count(*), '0'"
					     : "count(*), coalesce(sum(%s), 0)::text",
		     t->rowhash) < 0) {
		t->sel = NULL;
		return pgm_fail(x->call, "pgmove.nomem", 0, "out of memory"), -1;
	}
	return 0;
}

/* where_range - appends " WHERE <key> > lo AND <key> <= hi" (either side
 * may be NULL: unbounded) and the parameters it needs (borrowed). When the
 * target may hold NULL keys (t->null_keys), the last range (hi NULL) also
 * takes the rows with a NULL in any key column, so that every row is in
 * exactly one range. */
static void where_range(FILE *f, const tbl *t, char **lo, char **hi, const char **p, int *np)
{
	int b, k;
	char **vals[2] = { lo, hi };
	const char *op[2] = { ">", "<=" };
	int first = 1, nulls = t->null_keys && hi == NULL && lo != NULL;

	for (b = 0; b < 2; b++) {
		if (vals[b] == NULL)
			continue;
		fputs(first ? (nulls ? " WHERE ((" : " WHERE ") : " AND ", f);
		first = 0;
		if (t->nkey > 1)
			fputs("ROW(", f);
		for (k = 0; k < t->nkey; k++)
			fprintf(f, "%s%s", k ? ", " : "", t->kexpr[k]);
		fprintf(f, "%s %s ", t->nkey > 1 ? ")" : "", op[b]);
		if (t->nkey > 1)
			fputs("ROW(", f);
		for (k = 0; k < t->nkey; k++) {
			p[*np] = vals[b][k];
			(*np)++;
			fprintf(f, "%s%s$%d%s", k ? ", " : "", t->kpre[k], *np, t->kcast[k]);
		}
		if (t->nkey > 1)
			fputs(")", f);
	}
	if (nulls) {
		fputs(")", f);
		for (k = 0; k < t->nkey; k++)
			fprintf(f, " OR %s IS NULL", t->cols[t->key[k]].qname);
		fputs(")", f);
	}
}

/* chunk_sql - the chunk query of t over (lo, hi]. Caller frees. */
static char *chunk_sql(ctx *x, const tbl *t, const char *sel, char **lo, char **hi,
		       const char **p, int *np)
{
	mstream m;

	if (ms_open(x, &m) < 0)
		return NULL;
	*np = 0;
	fprintf(m.f, "SELECT %s FROM %s", sel, t->from);
	where_range(m.f, t, lo, hi, p, np);
	return ms_close(x, &m);
}

/* range_text - "(lo, hi]" for messages. Caller frees. */
static char *range_text(const tbl *t, char **lo, char **hi)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int k;

	if (f == NULL)
		return NULL;
	/* (lo, hi] with a composite key's values in parentheses: ((a,300), (b,150)] */
	fputc('(', f);
	if (lo == NULL)
		fputs("-inf", f);
	for (k = 0; lo && k < t->nkey; k++)
		fprintf(f, "%s%s%s", k ? "," : t->nkey > 1 ? "(" : "", lo[k],
			k == t->nkey - 1 && t->nkey > 1 ? ")" : "");
	fputs(", ", f);
	if (hi == NULL)
		fputs("+inf", f);
	for (k = 0; hi && k < t->nkey; k++)
		fprintf(f, "%s%s%s", k ? "," : t->nkey > 1 ? "(" : "", hi[k],
			k == t->nkey - 1 && t->nkey > 1 ? ")" : "");
	fputc(']', f);
	fclose(f);
	return s;
}

static char **chunk_lo(const tbl *t, int i)
{
	return i == 0 ? NULL : &t->bounds[(size_t)(i - 1) * (size_t)t->nkey];
}

static char **chunk_hi(const tbl *t, int i)
{
	return i == t->nb ? NULL : &t->bounds[(size_t)i * (size_t)t->nkey];
}

/* sample_bounds - chunk boundaries of t: the quantiles of a TABLESAMPLE of
 * the source's keys, computed on the server (~est/chunk_rows chunks; about
 * ten sampled pages per chunk keep them balanced without a full scan).
 * Small tables, tables without a key and tables whose key is compared in
 * another order than its index's (t->unindexed) are one chunk. */
static int sample_bounds(ctx *x, tbl *t)
{
	double want_chunks, pct;
	int nch, k, nrows, i;
	mstream m;
	char *sql;
	PGresult *res;
	char pctbuf[64], nchbuf[32];
	const char *p[2];

	t->nb = 0;
	/* Without an index for the order the ranges are compared in, every
	 * chunk would scan the whole table: one scan of it is the least. */
	if (t->nkey == 0 || t->unindexed || t->est <= (double)x->chunk_rows * 1.5)
		return 0;
	want_chunks = ceil(t->est / (double)x->chunk_rows);
	if (want_chunks > 1000000)
		want_chunks = 1000000;
	nch = (int)want_chunks;
	pct = t->pages > 0 ? 100.0 * want_chunks * 10.0 / t->pages : 100.0;
	if (pct > 100)
		pct = 100;
	if (pct < 0.0001)
		pct = 0.0001;
	snprintf(pctbuf, sizeof(pctbuf), "%.6f", pct);
	snprintf(nchbuf, sizeof(nchbuf), "%d", nch);
	p[0] = pctbuf;
	p[1] = nchbuf;
	if (ms_open(x, &m) < 0)
		return -1;
	fputs("SELECT ", m.f);
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%ss.%s::text", k ? ", " : "", t->cols[t->key[k]].qname);
	fputs(" FROM (SELECT ", m.f);
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%s, ", t->cols[t->key[k]].qname);
	fputs("row_number() OVER (ORDER BY ", m.f);
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%s%s", k ? ", " : "", t->kexpr[k]);
	fprintf(m.f, ") AS pgmove_rn, count(*) OVER () AS pgmove_n "
		     "FROM %s TABLESAMPLE SYSTEM ($1::float8)) s "
		     "WHERE s.pgmove_rn < s.pgmove_n "
		     "AND (s.pgmove_rn * $2::int8) / s.pgmove_n <> ((s.pgmove_rn - 1) * $2::int8) / s.pgmove_n "
		     "ORDER BY s.pgmove_rn",
		t->from);
	sql = ms_close(x, &m);
	if (sql == NULL)
		return -1;
	res = pgm_pg_exec(x->call, x->conns[SRC][0], sql, 2, p);
	free(sql);
	if (res == NULL) {
		with_context(x, "table %s: sampling keys", t->disp);
		return -1;
	}
	nrows = PQntuples(res);
	t->bounds = xcalloc(x, (size_t)(nrows ? nrows : 1) * (size_t)t->nkey, sizeof(char *));
	if (t->bounds == NULL) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < nrows; i++) {
		for (k = 0; k < t->nkey; k++) {
			t->bounds[(size_t)i * (size_t)t->nkey + (size_t)k] = xstrdup(x, PQgetvalue(res, i, k));
			if (t->bounds[(size_t)i * (size_t)t->nkey + (size_t)k] == NULL) {
				t->nb = i + 1;
				PQclear(res);
				return -1;
			}
		}
	}
	t->nb = nrows;
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------------------------
 * Mismatch records
 * ---------------------------------------------------------------------- */

/* add_mismatch - appends e (stolen) unless max_differences is reached. */
static void add_mismatch(ctx *x, json_t *e)
{
	x->nmismatch++;
	if ((long long)json_array_size(x->mismatches) >= x->max_diff) {
		x->truncated = 1;
		json_decref(e);
		return;
	}
	json_array_append_new(x->mismatches, e);
}

static json_t *key_json(const tbl *t, PGresult *res, int row)
{
	json_t *o = json_object();
	int k;

	for (k = 0; k < t->nkey; k++)
		json_object_set_new(o, t->cols[t->key[k]].name,
				    PQgetisnull(res, row, k) ? json_null()
							     : json_string(PQgetvalue(res, row, k)));
	return o;
}

/* ------------------------------------------------------------------------
 * Running queries on both servers
 * ---------------------------------------------------------------------- */

/* pair_exec - runs sql on connection j of both servers at once; res[0] and
 * res[1] are the results (caller PQclears), or -1 with the error set. */
static int pair_exec(ctx *x, int j, const char *sql, int np, const char *const *p,
		     PGresult *res[2])
{
	pgm_pg *pgs[2] = { x->conns[SRC][j], x->conns[TGT][j] };
	int s, pending = 2;

	res[0] = res[1] = NULL;
	for (s = 0; s < 2; s++)
		if (pgm_pg_send(x->call, pgs[s], sql, np, p) < 0)
			goto fail;
	while (pending > 0) {
		pgm_pg *busy[2];
		int map[2], n = 0, i;

		for (s = 0; s < 2; s++)
			if (res[s] == NULL) {
				busy[n] = pgs[s];
				map[n++] = s;
			}
		i = pgm_pg_wait_any(x->call, busy, n);
		if (i < 0 || i >= n)
			goto fail;
		s = map[i];
		res[s] = pgm_pg_result(x->call, pgs[s]);
		if (res[s] == NULL)
			goto fail;
		pending--;
	}
	return 0;
fail:
	for (s = 0; s < 2; s++) {
		PQclear(res[s]);
		res[s] = NULL;
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * Narrowing a chunk down to keys
 * ---------------------------------------------------------------------- */

typedef struct krow {
	char *key; /* key columns joined by \x1f, each "v<value>" or "n" (NULL) */
	const char *hash;
	int row;
} krow;

static int krow_cmp(const void *a, const void *b)
{
	return strcmp(((const krow *)a)->key, ((const krow *)b)->key);
}

static krow *krows_from(ctx *x, const tbl *t, PGresult *res, int *n)
{
	int nr = PQntuples(res), i, k;
	krow *r = xcalloc(x, (size_t)nr, sizeof(krow));

	*n = 0;
	if (r == NULL)
		return NULL;
	for (i = 0; i < nr; i++) {
		mstream m;

		if (ms_open(x, &m) < 0)
			goto fail;
		for (k = 0; k < t->nkey; k++)
			fprintf(m.f, "%s%s%s", k ? "\x1f" : "", PQgetisnull(res, i, k) ? "n" : "v",
				PQgetvalue(res, i, k));
		r[i].key = ms_close(x, &m);
		if (r[i].key == NULL)
			goto fail;
		r[i].hash = PQgetvalue(res, i, t->nkey);
		r[i].row = i;
		*n = i + 1;
	}
	qsort(r, (size_t)nr, sizeof(krow), krow_cmp);
	return r;
fail:
	for (i = 0; i < *n; i++)
		free(r[i].key);
	free(r);
	return NULL;
}

/* leaf_diff - fetches keys and row hashes of (lo, hi] from both servers and
 * records the missing, extra and changed keys. Returns how many differ. */
static long long leaf_diff(ctx *x, tbl *t, int chunkno, char **lo, char **hi)
{
	const char *p[64];
	int np, k, n[2] = { 0, 0 }, a = 0, b = 0;
	mstream m;
	char *sel, *sql;
	PGresult *res[2];
	krow *r[2] = { NULL, NULL };
	long long found = 0;

	if (ms_open(x, &m) < 0)
		return -1;
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%s::text, ", t->cols[t->key[k]].qname);
	fputs(t->counts_only ? "'0'" : t->rowhash, m.f);
	sel = ms_close(x, &m);
	if (sel == NULL)
		return -1;
	sql = chunk_sql(x, t, sel, lo, hi, p, &np);
	free(sel);
	if (sql == NULL)
		return -1;
	k = pair_exec(x, 0, sql, np, p, res);
	free(sql);
	if (k < 0)
		return -1;
	r[0] = krows_from(x, t, res[0], &n[0]);
	r[1] = krows_from(x, t, res[1], &n[1]);
	if (r[0] == NULL || r[1] == NULL) {
		found = -1;
		goto done;
	}
	while (a < n[0] || b < n[1]) {
		int c = a >= n[0] ? 1 : b >= n[1] ? -1 : strcmp(r[0][a].key, r[1][b].key);
		const char *kind = NULL;
		json_t *key = NULL;

		if (c < 0) {
			kind = "missing";
			key = key_json(t, res[0], r[0][a].row);
			a++;
		} else if (c > 0) {
			kind = "extra";
			key = key_json(t, res[1], r[1][b].row);
			b++;
		} else {
			if (strcmp(r[0][a].hash, r[1][b].hash) != 0) {
				kind = "changed";
				key = key_json(t, res[0], r[0][a].row);
			}
			a++;
			b++;
		}
		if (kind != NULL) {
			found++;
			add_mismatch(x, json_pack("{s:s, s:s, s:o, s:i}", "table", t->disp, "kind",
						  kind, "key", key, "chunk", chunkno));
		}
	}
done:
	for (k = 0; k < 2; k++) {
		int i;

		for (i = 0; i < n[k]; i++)
			free(r[k][i].key);
		free(r[k]);
		PQclear(res[k]);
	}
	return found;
}

/* narrow - finds the differing keys of the range (lo, hi], which holds
 * c0 rows on the source and c1 on the target: split into ~16 sub-ranges
 * (boundaries from the side with more rows), hash those on both servers,
 * recurse into the ones that differ, fetch keys once a range is small.
 * Returns how many rows differ, or -1. */
static long long narrow(ctx *x, tbl *t, int chunkno, char **lo, char **hi, long long c0,
			long long c1, int depth)
{
	long long most = c0 > c1 ? c0 : c1, step, total = 0;
	int side = c0 >= c1 ? SRC : TGT, np, k, i, nb;
	const char *p[64];
	mstream m;
	char *sql, **bounds;
	PGresult *res;

	if (pgm_check_cancel(x->call) < 0)
		return -1;
	if (most <= x->leaf_rows || depth >= 8)
		return leaf_diff(x, t, chunkno, lo, hi);
	step = (most + 15) / 16;
	if (ms_open(x, &m) < 0)
		return -1;
	fputs("SELECT ", m.f);
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%ss.%s::text", k ? ", " : "", t->cols[t->key[k]].qname);
	fputs(" FROM (SELECT ", m.f);
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%s, ", t->cols[t->key[k]].qname);
	fputs("row_number() OVER (ORDER BY ", m.f);
	for (k = 0; k < t->nkey; k++)
		fprintf(m.f, "%s%s", k ? ", " : "", t->kexpr[k]);
	fprintf(m.f, ") AS pgmove_rn FROM %s", t->from);
	np = 0;
	where_range(m.f, t, lo, hi, p, &np);
	fprintf(m.f, ") s WHERE s.pgmove_rn %% %lld = 0", step);
	for (k = 0; t->null_keys && k < t->nkey; k++) /* NULL keys sort last: never a bound */
		fprintf(m.f, " AND s.%s IS NOT NULL", t->cols[t->key[k]].qname);
	fputs(" ORDER BY s.pgmove_rn", m.f);
	sql = ms_close(x, &m);
	if (sql == NULL)
		return -1;
	res = pgm_pg_exec(x->call, x->conns[side][0], sql, np, p);
	free(sql);
	if (res == NULL)
		return -1;
	nb = PQntuples(res);
	if (nb == 0) {
		PQclear(res);
		return leaf_diff(x, t, chunkno, lo, hi);
	}
	bounds = xcalloc(x, (size_t)nb * (size_t)t->nkey, sizeof(char *));
	if (bounds == NULL) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < nb; i++)
		for (k = 0; k < t->nkey; k++)
			bounds[(size_t)i * (size_t)t->nkey + (size_t)k] = PQgetvalue(res, i, k);
	for (i = 0; i <= nb; i++) {
		char **slo = i == 0 ? lo : &bounds[(size_t)(i - 1) * (size_t)t->nkey];
		char **shi = i == nb ? hi : &bounds[(size_t)i * (size_t)t->nkey];
		PGresult *r2[2];
		long long n0, n1, got;

		sql = chunk_sql(x, t, t->sel, slo, shi, p, &np);
		if (sql == NULL)
			goto fail;
		k = pair_exec(x, 0, sql, np, p, r2);
		free(sql);
		if (k < 0)
			goto fail;
		n0 = atoll(PQgetvalue(r2[0], 0, 0));
		n1 = atoll(PQgetvalue(r2[1], 0, 0));
		k = n0 != n1 || strcmp(PQgetvalue(r2[0], 0, 1), PQgetvalue(r2[1], 0, 1)) != 0;
		PQclear(r2[0]);
		PQclear(r2[1]);
		if (!k)
			continue;
		got = narrow(x, t, chunkno, slo, shi, n0, n1, depth + 1);
		if (got < 0)
			goto fail;
		total += got;
	}
	free(bounds);
	PQclear(res);
	return total;
fail:
	free(bounds);
	PQclear(res);
	return -1;
}

/* ------------------------------------------------------------------------
 * The chunk loop
 * ---------------------------------------------------------------------- */

/* chunk_finished - both sides of chunk c are in: compare them. */
static void chunk_finished(ctx *x, chunk *c)
{
	tbl *t = &x->tbls[c->t];
	int differ = c->cnt[SRC] != c->cnt[TGT] || strcmp(c->sum[SRC], c->sum[TGT]) != 0;

	t->rows[SRC] += c->cnt[SRC];
	t->rows[TGT] += c->cnt[TGT];
	t->chunks_done++;
	x->rows_done += (double)(c->cnt[SRC] > c->cnt[TGT] ? c->cnt[SRC] : c->cnt[TGT]);
	pgm_progress(x->call, x->rows_done, x->rows_total > x->rows_done ? x->rows_total : x->rows_done,
		     "rows", t->disp);
	if (differ)
		t->mismatched++;
}

/* run_chunks - hashes every chunk on both servers, jobs connections each. */
static int run_chunks(ctx *x)
{
	int nconn = 2 * x->jobs, s, j, i;
	int *task = xcalloc(x, (size_t)nconn, sizeof(int));
	int next[2] = { 0, 0 }, rc = -1;
	pgm_pg **busy = xcalloc(x, (size_t)nconn, sizeof(pgm_pg *));
	int *map = xcalloc(x, (size_t)nconn, sizeof(int));

	if (task == NULL || busy == NULL || map == NULL)
		goto done;
	for (i = 0; i < nconn; i++)
		task[i] = -1;
	for (;;) {
		int nbusy = 0, idx;
		PGresult *res;
		chunk *c;
		tbl *t;

		for (s = 0; s < 2; s++) {
			for (j = 0; j < x->jobs; j++) {
				int slot = s * x->jobs + j, np;
				const char *p[64];
				char *sql;

				if (task[slot] >= 0 || next[s] >= x->nchunks)
					continue;
				c = &x->chunks[next[s]];
				t = &x->tbls[c->t];
				sql = chunk_sql(x, t, t->sel, chunk_lo(t, c->i), chunk_hi(t, c->i), p, &np);
				if (sql == NULL)
					goto done;
				if (pgm_pg_send(x->call, x->conns[s][j], sql, np, p) < 0) {
					free(sql);
					with_context(x, "table %s: chunk %d", t->disp, c->i);
					goto done;
				}
				free(sql);
				task[slot] = next[s]++;
			}
		}
		for (i = 0; i < nconn; i++) {
			if (task[i] >= 0) {
				busy[nbusy] = x->conns[i / x->jobs][i % x->jobs];
				map[nbusy++] = i;
			}
		}
		if (nbusy == 0)
			break;
		idx = pgm_pg_wait_any(x->call, busy, nbusy);
		if (idx < 0 || idx >= nbusy) {
			if (!pgm_failed(x->call))
				pgm_fail(x->call, "checksum.internal", 0, "waiting for results failed");
			goto done;
		}
		i = map[idx];
		s = i / x->jobs;
		c = &x->chunks[task[i]];
		t = &x->tbls[c->t];
		res = pgm_pg_result(x->call, busy[idx]);
		if (res == NULL) {
			with_context(x, "table %s: chunk %d (%s)", t->disp, c->i, side_name[s]);
			goto done;
		}
		c->cnt[s] = atoll(PQgetvalue(res, 0, 0));
		c->sum[s] = strdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		if (c->sum[s] == NULL) {
			pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		c->done[s] = 1;
		task[i] = -1;
		if (c->done[SRC] && c->done[TGT])
			chunk_finished(x, c);
	}
	rc = 0;
done:
	free(task);
	free(busy);
	free(map);
	return rc;
}

/* narrow_all - names the differing keys of every chunk that differs,
 * table by table. Every differing row is counted (rows_differing, and
 * differences); only the first max_differences are listed, so memory
 * stays flat however many rows differ. */
static int narrow_all(ctx *x)
{
	int i;

	for (i = 0; i < x->nchunks; i++) {
		chunk *c = &x->chunks[i];
		tbl *t = &x->tbls[c->t];
		char *range;
		long long got = 0;

		if (c->cnt[SRC] == c->cnt[TGT] && strcmp(c->sum[SRC], c->sum[TGT]) == 0)
			continue;
		range = t->nkey ? range_text(t, chunk_lo(t, c->i), chunk_hi(t, c->i)) : NULL;
		if (t->nkey == 0) {
			add_mismatch(x, json_pack("{s:s, s:s, s:I, s:I, s:s}", "table", t->disp, "kind",
						  c->cnt[SRC] != c->cnt[TGT] ? "row_count" : "content",
						  "rows_source", (json_int_t)c->cnt[SRC], "rows_target",
						  (json_int_t)c->cnt[TGT], "note",
						  "no primary key: compared as a whole"));
			pgm_warn("table %s: %lld rows on the source, %lld on the target%s (no primary "
				 "key: compared as a whole)",
				 t->disp, c->cnt[SRC], c->cnt[TGT],
				 c->cnt[SRC] == c->cnt[TGT] ? ", content differs" : "");
		} else {
			got = narrow(x, t, c->i, chunk_lo(t, c->i), chunk_hi(t, c->i), c->cnt[SRC],
				     c->cnt[TGT], 0);
			if (got < 0) {
				with_context(x, "table %s: chunk %d %s: narrowing", t->disp, c->i,
					     range ? range : "");
				free(range);
				return -1;
			}
			t->diff_rows += got;
			pgm_warn("table %s: chunk %d %s: %lld rows differ (source %lld rows, target "
				 "%lld)",
				 t->disp, c->i, range ? range : "", got, c->cnt[SRC], c->cnt[TGT]);
		}
		free(range);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Connections, snapshot, catalog
 * ---------------------------------------------------------------------- */

static const char TABLES_SQL[] =
	"SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, "
	"c.relispopulated AS populated, "
	"(CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(greatest(x.reltuples, 0)), 0) "
	"FROM pg_partition_tree(c.oid) pt JOIN pg_class x ON x.oid = pt.relid) "
	"WHEN c.reltuples >= 0 THEN c.reltuples "
	"ELSE pg_relation_size(c.oid) / 100 END)::float8 AS est, "
	"((CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_relation_size(pt.relid)), 0) "
	"FROM pg_partition_tree(c.oid) pt) ELSE pg_relation_size(c.oid) END) "
	"/ current_setting('block_size')::int)::float8 AS pages, "
	"(SELECT json_agg(json_build_object('name', a.attname, "
	"'type', format_type(a.atttypid, a.atttypmod), 'typid', a.atttypid::int8, "
	"'base', b.base::int8, "
	"'labels', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e "
	"WHERE e.enumtypid = b.base), "
	"'collation', co.collname, "
	/* what decides the order of a collation: its definition (provider,
	 * locale, rules; for the default one the database's) and its version
	 * (recorded and actual), never only its name. Read through to_jsonb so
	 * that the columns of any release are taken as they are. */
	"'colldesc', CASE WHEN co.oid IS NULL THEN NULL WHEN co.oid = 100 THEN 'default ' || "
	"(SELECT jsonb_object_agg(j.k, j.v) FROM pg_database d, jsonb_each(to_jsonb(d)) j(k, v) "
	"WHERE d.datname = current_database() AND j.k IN ('datcollate', 'datctype', "
	"'datcollversion', 'datlocprovider', 'daticulocale', 'daticurules', 'datlocale'))::text "
	"ELSE (to_jsonb(co) - 'oid' - 'collname' - 'collnamespace' - 'collowner')::text || ' ' || "
	"coalesce(pg_collation_actual_version(co.oid), '') END) "
	"ORDER BY a.attnum) FROM pg_attribute a "
	"LEFT JOIN pg_collation co ON co.oid = a.attcollation "
	"CROSS JOIN LATERAL (WITH RECURSIVE r(oid, typtype, typbasetype) AS ("
	"SELECT t.oid, t.typtype, t.typbasetype FROM pg_type t WHERE t.oid = a.atttypid "
	"UNION ALL SELECT t.oid, t.typtype, t.typbasetype FROM pg_type t JOIN r "
	"ON t.oid = r.typbasetype WHERE r.typtype = 'd') "
	"SELECT r.oid AS base FROM r WHERE r.typtype <> 'd') b "
	"WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns, "
	"(SELECT json_agg(a.attname ORDER BY k.ord) FROM pg_constraint p "
	"CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord) "
	"JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum "
	"WHERE p.conrelid = c.oid AND p.contype = 'p') AS pkey "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition AND c.relpersistence <> 't' "
	"AND " CHECKSUM_USER_SCHEMAS " "
	"AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
	"AND d.objid = c.oid AND d.deptype = 'e') "
	"ORDER BY 1, 2";

/* open_side - connects jobs connections to one server, forces the session
 * settings, and (snapshot) opens the shared snapshot on all of them. */
static int open_side(ctx *x, int s, const char *conninfo)
{
	int j;
	PGresult *res;
	char *snap = NULL;

	for (j = 0; j < x->jobs; j++) {
		x->conns[s][j] = pgm_pg_connect(x->call, conninfo, CHECKSUM_APP);
		if (x->conns[s][j] == NULL)
			return -1;
		if (pgm_pg_command(x->call, x->conns[s][j], checksum_session_sql, 0, NULL) < 0)
			return -1;
	}
	res = pgm_pg_exec(x->call, x->conns[s][0],
			  "SELECT d.datcollate::text, pg_encoding_to_char(d.encoding)::text, "
			  "current_setting('server_version_num')::int "
			  "FROM pg_database d WHERE d.datname = current_database()",
			  0, NULL);
	if (res == NULL)
		return -1;
	x->datcollate[s] = strdup(PQgetvalue(res, 0, 0));
	x->encoding[s] = strdup(PQgetvalue(res, 0, 1));
	x->version[s] = atoi(PQgetvalue(res, 0, 2));
	PQclear(res);
	if (!x->snapshot)
		return 0;
	if (pgm_pg_command(x->call, x->conns[s][0],
			   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0)
		return -1;
	res = pgm_pg_exec(x->call, x->conns[s][0], "SELECT pg_export_snapshot()", 0, NULL);
	if (res == NULL) {
		with_context(x, "%s: exporting a snapshot (snapshot=false compares without one)",
			     side_name[s]);
		return -1;
	}
	snap = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (snap == NULL || strspn(snap, "0123456789ABCDEFabcdef-") != strlen(snap)) {
		free(snap);
		return pgm_fail(x->call, "checksum.snapshot", 0, "%s: unexpected snapshot id",
				side_name[s]), -1;
	}
	for (j = 1; j < x->jobs; j++) {
		char *sql = NULL;

		if (pgm_pg_command(x->call, x->conns[s][j],
				   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0 ||
		    asprintf(&sql, "SET TRANSACTION SNAPSHOT '%s'", snap) < 0 ||
		    pgm_pg_command(x->call, x->conns[s][j], sql, 0, NULL) < 0) {
			free(sql);
			free(snap);
			return -1;
		}
		free(sql);
	}
	free(snap);
	return 0;
}

/* name_matches - a table name against a pattern ("schema.table" or
 * "table", shell wildcards allowed). */
static int name_matches(const char *pattern, const char *schema, const char *name)
{
	char full[512];

	if (strchr(pattern, '.') != NULL) {
		snprintf(full, sizeof(full), "%s.%s", schema, name);
		return fnmatch(pattern, full, 0) == 0;
	}
	return fnmatch(pattern, name, 0) == 0;
}

static int any_matches(json_t *patterns, const char *schema, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(patterns, i, v)
		if (json_is_string(v) && name_matches(json_string_value(v), schema, name))
			return 1;
	return 0;
}

static int check_list(ctx *x, json_t *args, const char *name, json_t **out)
{
	json_t *v = json_object_get(args, name);
	size_t i;
	json_t *e;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v)) {
		pgm_fail(x->call, "args.invalid", 0, "argument \"%s\" must be an array of names", name);
		return -1;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			pgm_fail(x->call, "args.invalid", 0, "argument \"%s\": element %zu is not a string",
				 name, i + 1);
			return -1;
		}
	}
	*out = v;
	return 0;
}

/* wanted - whether the table passes the tables / schemas / exclude filters. */
static int wanted(json_t *tables, json_t *schemas, json_t *exclude, const char *schema,
		  const char *name)
{
	size_t i;
	json_t *v;
	int ok;

	if (tables != NULL)
		ok = any_matches(tables, schema, name);
	else if (schemas != NULL) {
		ok = 0;
		json_array_foreach(schemas, i, v)
			ok |= fnmatch(json_string_value(v), schema, 0) == 0;
	} else
		ok = 1;
	return ok && !(exclude != NULL && any_matches(exclude, schema, name));
}

static json_t *find_row(json_t *rows, const char *schema, const char *name)
{
	size_t i;
	json_t *r;

	json_array_foreach(rows, i, r)
		if (strcmp(json_string_value(json_object_get(r, "schema")), schema) == 0 &&
		    strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			return r;
	return NULL;
}

/* load_tables - the tables to compare, from both catalogs; records the
 * tables found on only one side as mismatches. */
static int load_tables(ctx *x, json_t *args)
{
	json_t *tables, *schemas, *exclude, *rows[2] = { NULL, NULL }, *r;
	size_t i, n = 0;
	int s, rc = -1;

	if (check_list(x, args, "tables", &tables) < 0 || check_list(x, args, "schemas", &schemas) < 0 ||
	    check_list(x, args, "exclude", &exclude) < 0)
		return -1;
	for (s = 0; s < 2; s++) {
		rows[s] = pgm_pg_query_json(x->call, x->conns[s][0], TABLES_SQL, 0, NULL);
		if (rows[s] == NULL) {
			with_context(x, "%s: reading the catalog", side_name[s]);
			goto done;
		}
	}
	if (tables != NULL) {
		json_array_foreach(tables, i, r) {
			size_t j;
			json_t *row;
			int found = 0;

			json_array_foreach(rows[SRC], j, row)
				found |= name_matches(json_string_value(r),
						      json_string_value(json_object_get(row, "schema")),
						      json_string_value(json_object_get(row, "name")));
			if (!found) {
				pgm_fail(x->call, "checksum.no_table", 0,
					 "table %s not found on the source (%s)", json_string_value(r),
					 pgm_pg_describe(x->conns[SRC][0]));
				goto done;
			}
		}
	}
	x->tbls = xcalloc(x, json_array_size(rows[SRC]), sizeof(tbl));
	if (x->tbls == NULL)
		goto done;
	json_array_foreach(rows[SRC], i, r) {
		const char *schema = json_string_value(json_object_get(r, "schema"));
		const char *name = json_string_value(json_object_get(r, "name"));
		tbl *t;

		if (!wanted(tables, schemas, exclude, schema, name))
			continue;
		t = &x->tbls[n++];
		x->ntbl = (int)n;
		t->schema = xstrdup(x, schema);
		t->name = xstrdup(x, name);
		t->problems = json_array();
		if (t->schema == NULL || t->name == NULL ||
		    asprintf(&t->disp, "%s.%s", schema, name) < 0) {
			t->disp = NULL;
			pgm_fail(x->call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		if (plan_table(x, t, r, find_row(rows[TGT], schema, name)) < 0)
			goto done;
		if (!t->on_target) {
			add_mismatch(x, json_pack("{s:s, s:s}", "table", t->disp, "kind", "missing_table"));
			pgm_warn("table %s: missing on the target", t->disp);
		} else if (t->unpopulated[SRC] != t->unpopulated[TGT]) {
			int side = t->unpopulated[SRC] ? SRC : TGT;

			add_mismatch(x, json_pack("{s:s, s:s, s:s}", "table", t->disp, "kind",
						  "not_populated", "side", side_name[side]));
			pgm_warn("materialized view %s: not populated on the %s: contents not compared",
				 t->disp, side_name[side]);
		}
	}
	json_array_foreach(rows[TGT], i, r) {
		const char *schema = json_string_value(json_object_get(r, "schema"));
		const char *name = json_string_value(json_object_get(r, "name"));
		char *disp = NULL;

		if (!wanted(tables, schemas, exclude, schema, name) || find_row(rows[SRC], schema, name))
			continue;
		if (asprintf(&disp, "%s.%s", schema, name) < 0)
			continue;
		add_mismatch(x, json_pack("{s:s, s:s}", "table", disp, "kind", "extra_table"));
		pgm_warn("table %s: exists only on the target", disp);
		free(disp);
	}
	rc = 0;
done:
	json_decref(rows[SRC]);
	json_decref(rows[TGT]);
	return rc;
}

/* plan_chunks - boundaries for every table present on both sides, and the
 * flat list of chunks. */
static int plan_chunks(ctx *x)
{
	int i, n = 0, c;

	for (i = 0; i < x->ntbl; i++) {
		tbl *t = &x->tbls[i];

		if (!t->on_target || t->unpopulated[SRC] || t->unpopulated[TGT])
			continue;
		if (pgm_check_cancel(x->call) < 0 || sample_bounds(x, t) < 0)
			return -1;
		n += t->nb + 1;
		x->rows_total += t->est;
	}
	x->chunks = xcalloc(x, (size_t)n, sizeof(chunk));
	if (x->chunks == NULL)
		return -1;
	x->nchunks = n;
	n = 0;
	for (i = 0; i < x->ntbl; i++) {
		tbl *t = &x->tbls[i];

		if (!t->on_target || t->unpopulated[SRC] || t->unpopulated[TGT])
			continue;
		t->first = n;
		for (c = 0; c <= t->nb; c++) {
			x->chunks[n].t = i;
			x->chunks[n].i = c;
			n++;
		}
	}
	return 0;
}

static void free_ctx(ctx *x)
{
	int i, s, k;

	for (i = 0; i < x->ntbl; i++) {
		tbl *t = &x->tbls[i];

		free(t->schema);
		free(t->name);
		free(t->disp);
		free(t->from);
		for (k = 0; k < t->ncols && t->cols; k++) {
			free(t->cols[k].name);
			free(t->cols[k].qname);
			for (s = 0; s < 2; s++) {
				free(t->cols[k].type[s]);
				free(t->cols[k].coll[s]);
				free(t->cols[k].colldesc[s]);
				free(t->cols[k].labels[s]);
			}
		}
		free(t->cols);
		for (k = 0; k < t->nkey; k++) {
			if (t->kexpr)
				free(t->kexpr[k]);
			if (t->kpre)
				free(t->kpre[k]);
			if (t->kcast)
				free(t->kcast[k]);
		}
		free(t->key);
		free(t->kexpr);
		free(t->kpre);
		free(t->kcast);
		free(t->rowhash);
		free(t->sel);
		for (k = 0; t->bounds && k < t->nb * t->nkey; k++)
			free(t->bounds[k]);
		free(t->bounds);
		json_decref(t->problems);
	}
	free(x->tbls);
	for (i = 0; i < x->nchunks; i++) {
		free(x->chunks[i].sum[SRC]);
		free(x->chunks[i].sum[TGT]);
	}
	free(x->chunks);
	for (s = 0; s < 2; s++) {
		for (i = 0; x->conns[s] && i < x->jobs; i++)
			pgm_pg_close(x->conns[s][i]);
		free(x->conns[s]);
		free(x->datcollate[s]);
		free(x->encoding[s]);
	}
	json_decref(x->mismatches);
	json_decref(x->lo_result);
}

#define LO_BATCH 1000

/* name_large_objects - walks the large objects of both servers in oid
 * order, LO_BATCH at a time from each (memory stays bounded), and records
 * each one missing on the target, extra on it, or with other contents
 * (SHA-256). Returns how many differ, or -1 with the error set. */
static long long name_large_objects(ctx *x)
{
	static const char sql[] =
		"SELECT m.oid::int8, encode(sha256(lo_get(m.oid)), 'hex') "
		"FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid > $1::int8::oid "
		"ORDER BY m.oid LIMIT 1000";
	long long last = 0, found = 0; /* oid 0 is no object */
	char lastbuf[32];

	for (;;) {
		const char *p[1] = { lastbuf };
		PGresult *res[2];
		int n[2], a = 0, b = 0, full[2], s;
		long long hi = -1;

		if (pgm_check_cancel(x->call) < 0)
			return -1;
		snprintf(lastbuf, sizeof(lastbuf), "%lld", last);
		if (pair_exec(x, 0, sql, 1, p, res) < 0)
			return -1;
		for (s = 0; s < 2; s++) {
			long long top;

			n[s] = PQntuples(res[s]);
			full[s] = n[s] == LO_BATCH;
			top = n[s] ? atoll(PQgetvalue(res[s], n[s] - 1, 0)) : -1;
			/* what both batches cover: up to the smaller end of a full one */
			if (full[s] && (hi < 0 || top < hi))
				hi = top;
		}
		while (a < n[SRC] || b < n[TGT]) {
			long long oa = a < n[SRC] ? atoll(PQgetvalue(res[SRC], a, 0)) : -1;
			long long ob = b < n[TGT] ? atoll(PQgetvalue(res[TGT], b, 0)) : -1;
			long long o;
			const char *kind = NULL;

			if (oa >= 0 && (ob < 0 || oa < ob))
				o = oa;
			else
				o = ob;
			if (hi >= 0 && o > hi)
				break;
			if (oa == o && ob == o) {
				if (strcmp(PQgetvalue(res[SRC], a, 1), PQgetvalue(res[TGT], b, 1)) != 0)
					kind = "changed";
				a++;
				b++;
			} else if (oa == o) {
				kind = "missing";
				a++;
			} else {
				kind = "extra";
				b++;
			}
			if (kind != NULL) {
				found++;
				add_mismatch(x, json_pack("{s:s, s:I}", "kind", kind, "large_object",
							  (json_int_t)o));
			}
		}
		PQclear(res[SRC]);
		PQclear(res[TGT]);
		if (hi < 0)
			return found;
		last = hi;
	}
}

/* compare_large_objects - the large objects of both servers, in the
 * snapshot: their number and the sum of a hash of (oid, SHA-256 of the
 * contents); when those differ, each differing object is named
 * (name_large_objects). Only when no tables / schemas filter is given
 * (large objects belong to no table). Fills x->lo_result. */
static int compare_large_objects(ctx *x)
{
	PGresult *res[2];
	long long n[2], differing = 0;
	int equal;

	if (pair_exec(x, 0,
		      x->counts_only
			      ? "SELECT count(*), '0' FROM pg_catalog.pg_largeobject_metadata"
			      : "SELECT count(*), coalesce(sum(hashtextextended(m.oid::text || ' ' || "
				"encode(sha256(lo_get(m.oid)), 'hex'), 0)), 0)::text "
				"FROM pg_catalog.pg_largeobject_metadata m",
		      0, NULL, res) < 0) {
		with_context(x, "large objects (large_objects=false leaves them out)");
		return -1;
	}
	n[SRC] = atoll(PQgetvalue(res[SRC], 0, 0));
	n[TGT] = atoll(PQgetvalue(res[TGT], 0, 0));
	equal = n[SRC] == n[TGT] && strcmp(PQgetvalue(res[SRC], 0, 1), PQgetvalue(res[TGT], 0, 1)) == 0;
	PQclear(res[SRC]);
	PQclear(res[TGT]);
	if (!equal && !x->counts_only) {
		differing = name_large_objects(x);
		if (differing < 0) {
			with_context(x, "large objects (large_objects=false leaves them out)");
			return -1;
		}
	} else if (!equal) {
		differing = 1;
		add_mismatch(x, json_pack("{s:s, s:I, s:I}", "kind", "large_objects", "rows_source",
					  (json_int_t)n[SRC], "rows_target", (json_int_t)n[TGT]));
	}
	x->lo_result = json_pack("{s:b, s:I, s:I, s:b, s:I}", "compared", 1, "source",
				 (json_int_t)n[SRC], "target", (json_int_t)n[TGT], "equal", equal,
				 "differing", (json_int_t)differing);
	if (!equal)
		pgm_warn("large objects: %lld on the source, %lld on the target, %lld differ", n[SRC],
			 n[TGT], differing);
	return 0;
}

/* table_json - the result entry of one table. */
static json_t *table_json(ctx *x, tbl *t)
{
	json_t *o, *key = json_array(), *p;
	int k, equal;
	size_t i;
	const char *method;

	for (k = 0; k < t->nkey; k++)
		json_array_append_new(key, json_string(t->cols[t->key[k]].name));
	if (!t->on_target)
		method = "missing-on-target";
	else if (t->unpopulated[SRC] || t->unpopulated[TGT])
		method = "not-populated";
	else if (t->counts_only)
		method = "counts-only";
	else if (t->nkey == 0)
		method = "whole-table";
	else
		method = "chunked";
	/* Collation notes are remarks, not differences; column problems are. */
	equal = t->on_target && t->mismatched == 0 && t->unpopulated[SRC] == t->unpopulated[TGT];
	json_array_foreach(t->problems, i, p) {
		if (strstr(json_string_value(p), "collations") != NULL)
			continue;
		equal = 0;
		if (t->on_target && t->mismatched == 0)
			add_mismatch(x, json_pack("{s:s, s:s, s:O}", "table", t->disp, "kind",
						  "columns", "detail", p));
	}
	o = json_pack("{s:s, s:b, s:s, s:o, s:I, s:I, s:i, s:i, s:I}", "table", t->disp, "equal",
		      equal, "method", method, "key", key, "rows_source", (json_int_t)t->rows[SRC],
		      "rows_target", (json_int_t)t->rows[TGT], "chunks",
		      t->on_target && !t->unpopulated[SRC] && !t->unpopulated[TGT] ? t->nb + 1 : 0,
		      "mismatched_chunks", t->mismatched, "rows_differing", (json_int_t)t->diff_rows);
	if (json_array_size(t->problems) > 0)
		json_object_set(o, "problems", t->problems);
	if (t->matview)
		json_object_set_new(o, "materialized_view", json_true());
	return o;
}

/* checksum_compare - see the file comment. Arguments: source, target,
 * tables / schemas / exclude, jobs, chunk_rows, leaf_rows, max_differences,
 * snapshot, hash ("typed" | "text"), check_types, counts_only. */
json_t *checksum_compare(pgm_call *call, json_t *args)
{
	ctx x;
	const char *src = pgm_arg_string(call, args, "source", NULL, 1);
	const char *tgt = pgm_arg_string(call, args, "target", NULL, 1);
	const char *hash;
	long long jobs;
	int i, all_equal, tables_equal = 0;
	long long t0 = pgm_now_ms(), rows[2] = { 0, 0 }, rows_differing = 0;
	json_t *out = NULL, *tables = NULL;

	memset(&x, 0, sizeof(x));
	x.call = call;
	x.mismatches = json_array();
	if (src == NULL || tgt == NULL)
		goto done;
	hash = pgm_arg_string(call, args, "hash", "typed", 0);
	if (hash == NULL ||
	    pgm_arg_int(call, args, "jobs", 4, 0, &jobs) < 0 ||
	    pgm_arg_int(call, args, "chunk_rows", 100000, 0, &x.chunk_rows) < 0 ||
	    pgm_arg_int(call, args, "leaf_rows", 2000, 0, &x.leaf_rows) < 0 ||
	    pgm_arg_int(call, args, "max_differences", 100, 0, &x.max_diff) < 0 ||
	    pgm_arg_bool(call, args, "snapshot", 1, &x.snapshot) < 0 ||
	    pgm_arg_bool(call, args, "check_types", 1, &x.check_types) < 0 ||
	    pgm_arg_bool(call, args, "counts_only", 0, &x.counts_only) < 0 ||
	    pgm_arg_bool(call, args, "large_objects", 1, &x.large_objects) < 0)
		goto done;
	if (strcmp(hash, "typed") != 0 && strcmp(hash, "text") != 0) {
		pgm_fail(call, "args.invalid", 0, "argument \"hash\" must be \"typed\" or \"text\"");
		goto done;
	}
	x.typed = strcmp(hash, "typed") == 0;
	if (jobs < 1 || jobs > 64 || x.chunk_rows < 100 || x.leaf_rows < 10 || x.max_diff < 0 ||
	    x.max_diff > CHECKSUM_MAX_LISTED) {
		pgm_fail(call, "args.invalid", 0,
			 "jobs must be 1..64, chunk_rows >= 100, leaf_rows >= 10, "
			 "max_differences 0..%d",
			 CHECKSUM_MAX_LISTED);
		goto done;
	}
	x.jobs = (int)jobs;
	for (i = 0; i < 2; i++) {
		x.conns[i] = xcalloc(&x, (size_t)x.jobs, sizeof(pgm_pg *));
		if (x.conns[i] == NULL)
			goto done;
	}
	if (open_side(&x, SRC, src) < 0 || open_side(&x, TGT, tgt) < 0)
		goto done;
	x.snapshot_used = x.snapshot;
	x.float_binary = x.version[SRC] < 120000 || x.version[TGT] < 120000;
	x.same_encoding = same_str(x.encoding[SRC], x.encoding[TGT]);
	if (!x.same_encoding)
		pgm_notice("server encodings differ (source %s, target %s): text is compared "
			   "decoded (as UTF-8), which is slower",
			   x.encoding[SRC], x.encoding[TGT]);
	if (load_tables(&x, args) < 0 || plan_chunks(&x) < 0 || run_chunks(&x) < 0 ||
	    narrow_all(&x) < 0)
		goto done;
	if (x.large_objects && json_object_get(args, "tables") == NULL &&
	    json_object_get(args, "schemas") == NULL && compare_large_objects(&x) < 0)
		goto done;

	tables = json_array();
	all_equal = x.nmismatch == 0;
	for (i = 0; i < x.ntbl; i++) {
		json_t *tj = table_json(&x, &x.tbls[i]);

		rows_differing += x.tbls[i].diff_rows;
		if (json_is_true(json_object_get(tj, "equal")))
			tables_equal++;
		else
			all_equal = 0;
		rows[SRC] += x.tbls[i].rows[SRC];
		rows[TGT] += x.tbls[i].rows[TGT];
		json_array_append_new(tables, tj);
	}
	if (x.nmismatch > 0)
		all_equal = 0;
	out = json_pack("{s:b, s:i, s:i, s:I, s:I, s:o, s:O, s:I, s:b, s:b, s:I, s:{s:i, s:I, s:s}}",
			"equal", all_equal, "tables_compared", x.ntbl, "tables_equal", tables_equal,
			"rows_source", (json_int_t)rows[SRC], "rows_target", (json_int_t)rows[TGT],
			"tables", tables, "mismatches", x.mismatches, "differences",
			(json_int_t)x.nmismatch, "truncated", x.truncated, "snapshot",
			x.snapshot_used, "duration_ms", (json_int_t)(pgm_now_ms() - t0), "settings",
			"jobs", x.jobs, "chunk_rows", (json_int_t)x.chunk_rows, "hash", hash);
	tables = NULL;
	json_object_set_new(out, "rows_differing", json_integer(rows_differing));
	json_object_set_new(out, "listed", json_integer((json_int_t)json_array_size(x.mismatches)));
	if (x.lo_result != NULL)
		json_object_set(out, "large_objects", x.lo_result);
	else
		json_object_set_new(out, "large_objects",
				    json_pack("{s:b, s:s}", "compared", 0, "reason",
					      !x.large_objects ? "large_objects=false"
							       : "a tables or schemas filter was given"));
	if (!all_equal)
		pgm_notice("%d of %d tables differ, %lld differences", x.ntbl - tables_equal, x.ntbl,
			   x.nmismatch);
done:
	json_decref(tables);
	for (i = 0; i < 2; i++) {
		int j;

		/* End the read-only snapshot transactions cleanly (harmless when
		 * none is open; the connections are closed next anyway). */
		for (j = 0; x.snapshot && x.conns[i] && j < x.jobs && !pgm_failed(call); j++)
			if (x.conns[i][j] != NULL)
				pgm_pg_command(call, x.conns[i][j], "COMMIT", 0, NULL);
	}
	free_ctx(&x);
	return out;
}
