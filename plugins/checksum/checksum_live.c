/*
 * plugins/checksum/checksum_live.c - checksum.compare_live: an exact
 * compare between a source that is being written and a target that follows
 * it by replication (logical replication, DMS, any replicator that applies
 * the source's transactions in commit order).
 *
 * It runs checksum.compare (every differing key listed), then re-checks the
 * differing keys in rounds. A round reads the keys on the source in one
 * snapshot S_r (each row's hash of its text form and its tuple identity,
 * xmin and ctid), commits a marker row on the source after S_r, waits until
 * the target shows that marker (so the target has applied every transaction
 * visible in S_r), then reads the keys on the target (T_r). A key is decided
 * only on proof (doc/plugins-local.md says why these cannot be wrong):
 *   - the source row is the same tuple at S_(r-1) and S_r: nothing changed
 *     it in between, so the target at T_(r-1) must equal it; if not, the
 *     difference is real (missing / changed);
 *   - the target row is the same tuple at T_(r-1) and T_r: nothing was
 *     applied to it in between, so the source at S_r must equal it; if not,
 *     the difference is real (extra / changed);
 *   - else, equal in round r (or absent on both): it was in flight.
 * Keys still undecided after the last round (rows written more often than a
 * round lasts: pgbench's branches and tellers) are decided in a lock round:
 * one statement locks them on the source (SELECT ... FOR SHARE, bounded by
 * lock_timeout, below the source's deadlock_timeout), a marker is committed
 * on another connection and waited for, the target is read, the locks are
 * released: the target must then hold exactly the locked rows.
 * A table without a key is re-checked as a multiset of row hashes in 4096
 * buckets (by the row hash), with the same two rules per bucket (a bucket's
 * tuple identities unchanged between two rounds on one side); a proven
 * bucket's rows are located by their hashes and ctids.
 * Keys still undecided after all that are reported "unsettled" (the result
 * is then not equal: nothing is called equal without proof).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "checksum.h"

enum { SRC, TGT, MARK };

/* Buckets of a table without a key: 12 bits of the row hash. */
#define LIVE_BUCKETS 4096
/* Keys locked in one lock round at most. */
#define LIVE_LOCK_MAX 1000

/* A row as read in one round: present, tuple identity, hash of its text. */
typedef struct {
	int present;
	char *ident; /* "xmin/ctid" */
	char *hash;
} lrow;

typedef struct {
	const char *table; /* borrowed from the compare's result */
	json_t *key;	   /* borrowed: {column: text or null} */
	const char *first_kind;
	int decided;
	int locked; /* present on the source in the last lock round */
	lrow prev[2], cur[2];
} lkey;

typedef struct {
	char *name;	 /* schema.table as compare names it */
	char *from;	 /* quoted "schema"."table" */
	char *cols;	 /* ROW(t.a, t.b, ...) */
	json_t *types;	 /* {column: type} */
	long long found; /* confirmed + unsettled keys */
} ltable;

/* One bucket of a keyless table on one side in one round: its row count,
 * the sum of its rows' content hashes and of their tuple identities. */
typedef struct {
	long long n;
	char *sum; /* NULL when n is 0 */
	char *ids;
} lagg;

enum { B_OPEN, B_EQUAL, B_REAL, B_DONE };

/* A table without a key being re-checked by buckets. agg[p][s] is round
 * parity p's buckets on side s; rows[p][s] is {"bucket": [[md5, ctid]...]}
 * for the buckets whose rows were fetched in that round. */
typedef struct {
	const char *name; /* borrowed from the compare's result */
	const char *first_kind;
	lagg *agg[2][2];
	json_t *rows[2][2];
	unsigned char *state;	     /* B_* per bucket */
	unsigned char *fetch;	     /* fetch rows of this bucket in the next round */
	unsigned char *fetch_had[2]; /* rows fetched in round parity p */
	json_t *proofs;		     /* {"bucket": delta of its first exact pair} */
	long long found, in_flight, open_left;
} lwhole;

typedef struct {
	pgm_call *call;
	pgm_pg *pg[3];
	ltable *tbls;
	int ntbl;
	lwhole *whole;
	int nwhole;
	json_t *found; /* the result's mismatches (owned by the caller) */
	long long confirmed;
} lctx;

static void lrow_clear(lrow *r)
{
	free(r->ident);
	free(r->hash);
	memset(r, 0, sizeof(*r));
}

/* find_table - the table entry for name, loading its columns from the
 * source on first use; NULL with the error set. */
static ltable *find_table(lctx *x, const char *name)
{
	ltable *t, *n;
	const char *p[1] = {name};
	PGresult *res;
	FILE *f;
	size_t len;
	int i;

	for (i = 0; i < x->ntbl; i++)
		if (strcmp(x->tbls[i].name, name) == 0)
			return &x->tbls[i];
	n = realloc(x->tbls, (size_t)(x->ntbl + 1) * sizeof(*n));
	if (n == NULL)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), NULL;
	x->tbls = n;
	t = &x->tbls[x->ntbl];
	memset(t, 0, sizeof(*t));
	res = pgm_pg_exec(x->call, x->pg[SRC],
			  "SELECT format('%I.%I', n.nspname, c.relname), quote_ident(a.attname), "
			  "a.attname, format_type(a.atttypid, a.atttypmod) "
			  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			  "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
			  "AND NOT a.attisdropped WHERE n.nspname || '.' || c.relname = $1 "
			  "ORDER BY a.attnum",
			  1, p);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return pgm_fail(x->call, "checksum.table", 0,
				"compare_live: table %s: not found on the source", name),
		       NULL;
	}
	t->name = strdup(name);
	t->from = strdup(PQgetvalue(res, 0, 0));
	t->types = json_object();
	f = open_memstream(&t->cols, &len);
	if (f == NULL || t->name == NULL || t->from == NULL) {
		if (f != NULL)
			fclose(f);
		PQclear(res);
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), NULL;
	}
	fputs("ROW(", f);
	for (i = 0; i < PQntuples(res); i++) {
		fprintf(f, "%st.%s", i ? ", " : "", PQgetvalue(res, i, 1));
		json_object_set_new(t->types, PQgetvalue(res, i, 2),
				    json_string(PQgetvalue(res, i, 3)));
	}
	fputs(")", f);
	fclose(f);
	PQclear(res);
	x->ntbl++;
	return t;
}

/* key_cond - writes to f the condition selecting key (t.col = $n::type ...
 * AND ...), numbering parameters from *np and storing their values
 * (borrowed from key) in vals (room for 65535); -1 with the error set. */
static int key_cond(lctx *x, ltable *t, json_t *key, FILE *f, const char **vals, int *np)
{
	const char *col;
	json_t *v;
	int first = 1;

	json_object_foreach(key, col, v)
	{
		const char *type = json_string_value(json_object_get(t->types, col));
		char *q;

		if (type == NULL || *np >= 65000)
			return pgm_fail(x->call, "checksum.table", 0,
					"compare_live: table %s: key column %s not found on the "
					"source",
					t->name, col),
			       -1;
		q = pgm_pg_quote_ident(x->pg[SRC], col);
		if (json_is_null(v))
			fprintf(f, "%st.%s IS NULL", first ? "" : " AND ", q ? q : "?");
		else {
			vals[*np] = json_string_value(v);
			(*np)++;
			fprintf(f, "%st.%s = $%d::%s", first ? "" : " AND ", q ? q : "?", *np,
				type);
		}
		free(q);
		first = 0;
	}
	if (first)
		fputs("true", f);
	return 0;
}

/* read_key - reads key k of t on side s (inside the caller's transaction)
 * into *out; -1 with the error set. */
static int read_key(lctx *x, int s, ltable *t, json_t *key, lrow *out)
{
	const char *vals[64];
	char *sql = NULL;
	size_t len;
	int np = 0;
	FILE *f = open_memstream(&sql, &len);
	PGresult *res;

	if (f == NULL)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	if (json_object_size(key) > 64) {
		fclose(f);
		free(sql);
		return pgm_fail(x->call, "checksum.table", 0,
				"compare_live: table %s: more than 64 key columns", t->name),
		       -1;
	}
	fprintf(f, "SELECT t.xmin::text || '/' || t.ctid::text, md5(%s::text) FROM %s t WHERE ",
		t->cols, t->from);
	if (key_cond(x, t, key, f, vals, &np) < 0) {
		fclose(f);
		free(sql);
		return -1;
	}
	fclose(f);
	res = pgm_pg_exec(x->call, x->pg[s], sql, np, vals);
	free(sql);
	lrow_clear(out);
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0) {
		out->present = 1;
		out->ident = strdup(PQgetvalue(res, 0, 0));
		out->hash = strdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

static void lagg_clear(lagg *a)
{
	int b;

	for (b = 0; a != NULL && b < LIVE_BUCKETS; b++) {
		free(a[b].sum);
		free(a[b].ids);
		memset(&a[b], 0, sizeof(a[b]));
	}
}

static int str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* agg_same_rows - the same multiset of row contents (count and hash sum). */
static int agg_same_rows(const lagg *a, const lagg *b)
{
	return a->n == b->n && str_eq(a->sum, b->sum);
}

/* agg_same_tuples - the same tuples (no insert, update or delete). */
static int agg_same_tuples(const lagg *a, const lagg *b)
{
	return agg_same_rows(a, b) && str_eq(a->ids, b->ids);
}

/* bucket_list - "{1,5,...}" of the buckets whose flag is set (or all open
 * ones when flags is NULL); NULL when there is none (or out of memory:
 * *oom set). Caller frees. */
static char *bucket_list(const lwhole *w, const unsigned char *flags, int *oom)
{
	char *s = NULL;
	size_t len;
	FILE *f = open_memstream(&s, &len);
	int b, n = 0;

	if (f == NULL)
		return *oom = 1, NULL;
	fputc('{', f);
	for (b = 0; b < LIVE_BUCKETS; b++) {
		if (w->state[b] != B_OPEN && w->state[b] != B_REAL)
			continue;
		if (flags != NULL && !flags[b])
			continue;
		fprintf(f, "%s%d", n ? "," : "", b);
		n++;
	}
	fputc('}', f);
	fclose(f);
	if (n == 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Row hash, bucket and identity of each row of a keyless table. */
#define WHOLE_ROWS                                                                                 \
	"SELECT ('x' || substr(h, 1, 3))::bit(12)::int AS b, h, "                                  \
	"('x' || substr(h, 4, 16))::bit(64)::bigint AS c, "                                        \
	"('x' || substr(md5(i), 1, 16))::bit(64)::bigint AS i, ctid FROM (SELECT md5(%s::text) "   \
	"AS h, t.xmin::text || '/' || t.ctid::text AS i, t.ctid::text AS ctid FROM %s t) r"

/* read_whole - reads the open buckets of w (table t) on side s into
 * agg[p][s] and the rows of the buckets marked in fetch into rows[p][s],
 * inside the caller's transaction; -1 with the error set. */
static int read_whole(lctx *x, int s, lwhole *w, ltable *t, int p)
{
	char *sql = NULL, *list, *fl;
	const char *par[1];
	PGresult *res;
	int i, oom = 0;

	lagg_clear(w->agg[p][s]);
	json_decref(w->rows[p][s]);
	w->rows[p][s] = json_object();
	list = bucket_list(w, NULL, &oom);
	if (oom)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	if (list == NULL)
		return 0;
	par[0] = list;
	if (asprintf(&sql,
		     "SELECT b, count(*), sum(c)::text, sum(i)::text FROM (" WHOLE_ROWS
		     ") q WHERE b = ANY($1::int[]) GROUP BY b",
		     t->cols, t->from) < 0) {
		free(list);
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	}
	res = pgm_pg_exec(x->call, x->pg[s], sql, 1, par);
	free(sql);
	free(list);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		int b = atoi(PQgetvalue(res, i, 0));
		lagg *a = &w->agg[p][s][b];

		if (b < 0 || b >= LIVE_BUCKETS)
			continue;
		a->n = atoll(PQgetvalue(res, i, 1));
		a->sum = strdup(PQgetvalue(res, i, 2));
		a->ids = strdup(PQgetvalue(res, i, 3));
	}
	PQclear(res);
	fl = bucket_list(w, w->fetch, &oom);
	if (oom)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	if (fl == NULL)
		return 0;
	par[0] = fl;
	if (asprintf(&sql,
		     "SELECT b::text, h, ctid FROM (" WHOLE_ROWS ") q WHERE b = ANY($1::int[])",
		     t->cols, t->from) < 0) {
		free(fl);
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	}
	res = pgm_pg_exec(x->call, x->pg[s], sql, 1, par);
	free(sql);
	free(fl);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		const char *b = PQgetvalue(res, i, 0);
		json_t *arr = json_object_get(w->rows[p][s], b);

		if (arr == NULL) {
			arr = json_array();
			json_object_set_new(w->rows[p][s], b, arr);
		}
		json_array_append_new(
			arr, json_pack("[s, s]", PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)));
	}
	PQclear(res);
	return 0;
}

/* read_side - reads every undecided key and every open bucket on side s in
 * one snapshot (round parity p for the buckets). */
static int read_side(lctx *x, int s, lkey *k, int nk, int p)
{
	int i;

	if (pgm_pg_command(x->call, x->pg[s], "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
			   NULL) < 0)
		return -1;
	for (i = 0; i < nk; i++) {
		ltable *t;

		if (k[i].decided)
			continue;
		t = find_table(x, k[i].table);
		if (t == NULL || read_key(x, s, t, k[i].key, &k[i].cur[s]) < 0)
			goto fail;
	}
	for (i = 0; i < x->nwhole; i++) {
		ltable *t = find_table(x, x->whole[i].name);

		if (t == NULL || read_whole(x, s, &x->whole[i], t, p) < 0)
			goto fail;
	}
	return pgm_pg_command(x->call, x->pg[s], "COMMIT", 0, NULL);
fail:
	pgm_pg_command(x->call, x->pg[s], "ROLLBACK", 0, NULL);
	return -1;
}

static int same_tuple(const lrow *a, const lrow *b)
{
	return a->present && b->present && strcmp(a->ident, b->ident) == 0;
}

static int same_value(const lrow *a, const lrow *b)
{
	if (!a->present || !b->present)
		return a->present == b->present;
	return strcmp(a->hash, b->hash) == 0;
}

/* mark_and_wait - commits a new marker value on the source through
 * connection m (after the source's snapshot of this round, or while its rows
 * are locked) and waits until the target shows it; adds the wait to
 * *waited. marker is quoted for SQL, name as given. -1 with the error set
 * (checksum.catch_up when the target does not get there within
 * timeout_ms; what names the timeout in that message). */
static int mark_and_wait(lctx *x, pgm_pg *m, const char *marker, const char *name,
			 long long timeout_ms, const char *what, long long *waited)
{
	char *sql = NULL, *token;
	PGresult *res;
	long long t0 = pgm_now_ms();
	const char *p[1];

	if (asprintf(
		    &sql,
		    "INSERT INTO %s AS m (id, n) VALUES (1, (extract(epoch FROM clock_timestamp()) "
		    "* 1000000)::bigint) ON CONFLICT (id) DO UPDATE SET n = greatest(m.n + 1, "
		    "EXCLUDED.n) RETURNING n::text",
		    marker) < 0)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	res = pgm_pg_exec(x->call, m, sql, 0, NULL);
	free(sql);
	if (res == NULL)
		return -1;
	token = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (token == NULL)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	p[0] = token;
	if (asprintf(&sql, "SELECT coalesce(max(n) >= $1::bigint, false) FROM %s WHERE id = 1",
		     marker) < 0) {
		free(token);
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	}
	for (;;) {
		int there;

		res = pgm_pg_exec(x->call, x->pg[TGT], sql, 1, p);
		if (res == NULL)
			break;
		there = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (there) {
			free(sql);
			free(token);
			*waited += pgm_now_ms() - t0;
			return 0;
		}
		if (pgm_now_ms() - t0 > timeout_ms) {
			pgm_fail(x->call, "checksum.catch_up", 1,
				 "compare_live: the target did not show marker %s = %s within %lld "
				 "ms (%s; is %s replicated, and is replication running?)",
				 name, token, timeout_ms, what, name);
			break;
		}
		if (pgm_sleep_ms(x->call, 5) < 0)
			break;
	}
	free(sql);
	free(token);
	return -1;
}

/* quote_marker - "schema.table" (or "table" in public) quoted for SQL;
 * NULL with the error set. */
static char *quote_marker(lctx *x, const char *marker)
{
	const char *dot = strchr(marker, '.');
	char *schema = dot ? strndup(marker, (size_t)(dot - marker)) : strdup("public");
	char *qs = NULL, *qt = NULL, *out = NULL;

	if (schema != NULL) {
		qs = pgm_pg_quote_ident(x->pg[SRC], schema);
		qt = pgm_pg_quote_ident(x->pg[SRC], dot ? dot + 1 : marker);
	}
	if (qs == NULL || qt == NULL || asprintf(&out, "%s.%s", qs, qt) < 0)
		out = NULL;
	free(schema);
	free(qs);
	free(qt);
	if (out == NULL)
		pgm_fail(x->call, "checksum.oom", 0, "out of memory");
	return out;
}

/* kept_for - whether found holds a table-level entry (no key) other than
 * row_count / content for name (columns, ...): such a table's entries are
 * kept as the first compare found them, not re-checked. */
static int kept_for(json_t *found, const char *name)
{
	size_t m;
	json_t *f;

	json_array_foreach(found, m, f)
	{
		const char *t = json_string_value(json_object_get(f, "table"));
		const char *kind = json_string_value(json_object_get(f, "kind"));

		if (json_object_get(f, "key") == NULL && t != NULL && name != NULL &&
		    strcmp(t, name) == 0 && kind != NULL && strcmp(kind, "row_count") != 0 &&
		    strcmp(kind, "content") != 0)
			return 1;
	}
	return 0;
}

/* whole_table - whether the compare compared table name whole because it
 * has no key (not a materialized view, which replication does not carry). */
static int whole_table(json_t *tables, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(tables, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "table"));
		const char *m = json_string_value(json_object_get(e, "method"));

		if (t != NULL && name != NULL && strcmp(t, name) == 0)
			return m != NULL && strcmp(m, "whole-table") == 0 &&
			       !json_is_true(json_object_get(e, "materialized_view"));
	}
	return 0;
}

static json_t *verdict(lkey *k, const char *kind, int round, const char *proof)
{
	return json_pack("{s:s, s:s, s:O, s:i, s:s}", "table", k->table, "kind", kind, "key",
			 k->key, "round", round, "proof", proof);
}

/* delta - the rows by which bucket b of w differs between the source and
 * the target in round parity p (both read in that round): a new object
 * {md5: [source count - target count, [source ctids], [target ctids]]}
 * with the differing row hashes only. */
static json_t *delta(lwhole *w, int b, int p)
{
	char key[16];
	json_t *cnt = json_object(), *src, *tgt, *e, *v;
	const char *h;
	void *it;
	size_t i;

	snprintf(key, sizeof(key), "%d", b);
	src = json_object_get(w->rows[p][SRC], key);
	tgt = json_object_get(w->rows[p][TGT], key);
	json_array_foreach(src, i, e)
	{
		h = json_string_value(json_array_get(e, 0));
		if ((v = json_object_get(cnt, h)) == NULL)
			json_object_set_new(cnt, h, v = json_pack("[i, [], []]", 0));
		json_array_set_new(v, 0,
				   json_integer(json_integer_value(json_array_get(v, 0)) + 1));
		json_array_append(json_array_get(v, 1), json_array_get(e, 1));
	}
	json_array_foreach(tgt, i, e)
	{
		h = json_string_value(json_array_get(e, 0));
		if ((v = json_object_get(cnt, h)) == NULL)
			json_object_set_new(cnt, h, v = json_pack("[i, [], []]", 0));
		json_array_set_new(v, 0,
				   json_integer(json_integer_value(json_array_get(v, 0)) - 1));
		json_array_append(json_array_get(v, 2), json_array_get(e, 1));
	}
	for (it = json_object_iter(cnt); it != NULL;) {
		v = json_object_iter_value(it);
		h = json_object_iter_key(it);
		it = json_object_iter_next(cnt, it);
		if (json_integer_value(json_array_get(v, 0)) == 0)
			json_object_del(cnt, h);
	}
	return cnt;
}

/* confirm - reports the rows of bucket b that differ the same way in d
 * (this round's exact pair) and in the bucket's earlier proof, as missing
 * (with the source's ctid) and extra (the target's ctid) entries of
 * x->found; returns how many. A row that differed in only one exact pair
 * may have been written and removed between two rounds (visible in one
 * snapshot only): it is not reported. */
static long long confirm(lctx *x, lwhole *w, int b, json_t *d, json_t *earlier, int round,
			 const char *proof)
{
	const char *h;
	json_t *v;
	long long n = 0;

	json_object_foreach(d, h, v)
	{
		json_t *e = json_object_get(earlier, h);
		long long now = json_integer_value(json_array_get(v, 0)), then, k, i;

		if (e == NULL)
			continue;
		then = json_integer_value(json_array_get(e, 0));
		if ((now > 0) != (then > 0))
			continue;
		k = llabs(now) < llabs(then) ? llabs(now) : llabs(then);
		for (i = 0; i < k; i++) {
			json_t *ctids = json_array_get(v, now > 0 ? 1 : 2);
			json_t *c = json_array_get(ctids, json_array_size(ctids) - 1 - (size_t)i);

			json_array_append_new(x->found,
					      json_pack("{s:s, s:s, s:s, s:O, s:i, s:i, s:s}",
							"table", w->name, "kind",
							now > 0 ? "missing" : "extra", "row_md5", h,
							now > 0 ? "source_ctid" : "target_ctid",
							c ? c : json_null(), "bucket", b, "round",
							round, "proof", proof));
			n++;
		}
	}
	w->found += n;
	return n;
}

/* decide_whole - applies the rules to the open buckets of w after round
 * r (parity p); marks the buckets whose rows the next round fetches;
 * returns the buckets still open. */
static long long decide_whole(lctx *x, lwhole *w, int r, int p)
{
	long long open = 0;
	int b, q = !p;

	for (b = 0; b < LIVE_BUCKETS; b++) {
		int exact = -1, fetched;
		const char *proof = NULL;

		if (w->state[b] != B_OPEN && w->state[b] != B_REAL)
			continue;
		if (r > 1 && agg_same_tuples(&w->agg[q][TGT][b], &w->agg[p][TGT][b]))
			exact = p, proof = "target bucket unchanged between two rounds";
		else if (r > 1 && agg_same_tuples(&w->agg[q][SRC][b], &w->agg[p][SRC][b]))
			exact = q, proof = "source bucket unchanged between two rounds";
		if (exact >= 0) {
			fetched = w->fetch_had[exact][b];
			if (agg_same_rows(&w->agg[exact][SRC][b], &w->agg[exact][TGT][b])) {
				if (w->state[b] == B_OPEN) {
					w->state[b] = B_EQUAL;
					w->in_flight++;
				}
			} else if (fetched) {
				/* proven different; reported once a second exact
				 * pair shows the same rows differing */
				json_t *d = delta(w, b, exact);
				char key[16];
				long long n;

				snprintf(key, sizeof(key), "%d", b);
				n = confirm(x, w, b, d, json_object_get(w->proofs, key),
					    exact == p ? r : r - 1, proof);
				x->confirmed += n;
				if (n > 0) {
					w->state[b] = B_DONE;
					json_decref(d);
				} else {
					json_object_set_new(w->proofs, key, d);
					w->state[b] = B_REAL;
				}
			} else
				w->state[b] = B_REAL;
		} else if (w->state[b] == B_OPEN &&
			   agg_same_rows(&w->agg[p][SRC][b], &w->agg[p][TGT][b])) {
			/* equal in the first round: not in flight, just equal */
			w->state[b] = B_EQUAL;
			w->in_flight += r > 1;
		}
		w->fetch[b] = (w->state[b] == B_OPEN || w->state[b] == B_REAL) &&
			      !agg_same_rows(&w->agg[p][SRC][b], &w->agg[p][TGT][b]);
		if (w->state[b] == B_OPEN || w->state[b] == B_REAL)
			open++;
	}
	return open;
}

/* What the lock rounds did, for the result. */
typedef struct {
	int attempts, timeouts, taken;
	long long keys, absent, held_max, held_total, acquire_max;
} llock;

/* lock_round - one attempt to decide the undecided keys (at most
 * LIVE_LOCK_MAX) by locking them on the source: one statement, bounded by
 * lock_to ms, takes FOR SHARE locks on their rows (it waits for writers in
 * progress, and blocks new updates and deletes of these rows); a marker is
 * committed on another connection and waited for (at most hold ms); the
 * target is read; the locks are released. The target must then hold
 * exactly the locked rows. Keys absent on the source cannot be locked (an
 * insert is not blocked by a row lock) and stay undecided. Returns 1 when
 * the locks were taken, 0 when the lock statement ran out of time (nothing
 * is held then), -1 with the error set. */
static int lock_round(lctx *x, lkey *k, int nk, const char *qmarker, const char *marker,
		      long long lock_to, long long hold, int round, llock *st, long long *waited)
{
	const char **vals = NULL;
	int *idx = NULL, np = 0, n = 0, i, rc = -1;
	char *sql = NULL, *set = NULL;
	size_t len;
	FILE *f;
	PGresult *res = NULL;
	long long t0, held;

	vals = calloc(65536, sizeof(*vals));
	idx = calloc((size_t)nk + 1, sizeof(*idx));
	f = open_memstream(&sql, &len);
	if (vals == NULL || idx == NULL || f == NULL) {
		pgm_fail(x->call, "checksum.oom", 0, "out of memory");
		goto out;
	}
	fputs("WITH ", f);
	for (i = 0; i < nk && n < LIVE_LOCK_MAX; i++) {
		ltable *t;

		if (k[i].decided)
			continue;
		t = find_table(x, k[i].table);
		if (t == NULL) {
			fclose(f);
			f = NULL;
			goto out;
		}
		fprintf(f,
			"%sk%d AS MATERIALIZED (SELECT %d AS i, t.xmin::text || '/' || "
			"t.ctid::text AS id, md5(%s::text) AS h FROM %s t WHERE ",
			n ? ", " : "", n, n, t->cols, t->from);
		if (key_cond(x, t, k[i].key, f, vals, &np) < 0) {
			fclose(f);
			f = NULL;
			goto out;
		}
		fputs(" FOR SHARE OF t)", f);
		idx[n++] = i;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%sSELECT * FROM k%d", i ? " UNION ALL " : " ", i);
	fclose(f);
	f = NULL;
	if (n == 0) {
		rc = 1;
		goto out;
	}
	st->attempts++;
	if (asprintf(&set, "SET LOCAL statement_timeout = %lld", lock_to) < 0) {
		pgm_fail(x->call, "checksum.oom", 0, "out of memory");
		goto out;
	}
	if (pgm_pg_command(x->call, x->pg[SRC], "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL) <
		    0 ||
	    pgm_pg_command(x->call, x->pg[SRC], set, 0, NULL) < 0)
		goto rollback;
	t0 = pgm_now_ms();
	res = pgm_pg_exec(x->call, x->pg[SRC], sql, np, vals);
	if (res == NULL) {
		const char *state = pgm_pg_sqlstate(x->pg[SRC]);

		if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0) {
			pgm_clear_error(x->call);
			st->timeouts++;
			rc = 0;
		}
		goto rollback;
	}
	if (pgm_now_ms() - t0 > st->acquire_max)
		st->acquire_max = pgm_now_ms() - t0;
	for (i = 0; i < n; i++) {
		lrow_clear(&k[idx[i]].cur[SRC]);
		k[idx[i]].locked = 0;
	}
	for (i = 0; i < PQntuples(res); i++) {
		int j = atoi(PQgetvalue(res, i, 0));
		lkey *kk;

		if (j < 0 || j >= n)
			continue;
		kk = &k[idx[j]];
		kk->cur[SRC].present = 1;
		kk->cur[SRC].ident = strdup(PQgetvalue(res, i, 1));
		kk->cur[SRC].hash = strdup(PQgetvalue(res, i, 2));
		kk->locked = 1;
	}
	PQclear(res);
	res = NULL;
	if (mark_and_wait(x, x->pg[MARK], qmarker, marker, hold, "lock_hold: rows locked", waited) <
		    0 ||
	    pgm_pg_command(x->call, x->pg[TGT], "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			   0, NULL) < 0)
		goto rollback;
	for (i = 0; i < n; i++) {
		lkey *kk = &k[idx[i]];
		ltable *t = find_table(x, kk->table);

		if (kk->locked && (t == NULL || read_key(x, TGT, t, kk->key, &kk->cur[TGT]) < 0)) {
			pgm_pg_command(x->call, x->pg[TGT], "ROLLBACK", 0, NULL);
			goto rollback;
		}
	}
	if (pgm_pg_command(x->call, x->pg[TGT], "COMMIT", 0, NULL) < 0 ||
	    pgm_pg_command(x->call, x->pg[SRC], "ROLLBACK", 0, NULL) < 0)
		goto out;
	held = pgm_now_ms() - t0;
	st->taken++;
	st->held_total += held;
	if (held > st->held_max)
		st->held_max = held;
	for (i = 0; i < n; i++) {
		lkey *kk = &k[idx[i]];

		if (!kk->locked) {
			st->absent++;
			continue;
		}
		st->keys++;
		kk->decided = 1;
		if (same_value(&kk->cur[SRC], &kk->cur[TGT]))
			continue;
		json_array_append_new(
			x->found, verdict(kk, kk->cur[TGT].present ? "changed" : "missing", round,
					  "row locked on the source while the target caught up"));
		find_table(x, kk->table)->found++;
		x->confirmed++;
	}
	rc = 1;
	goto out;
rollback:
	if (pgm_failed(x->call)) {
		/* keep the first error: the rollback's own would replace it */
		char *code = strdup(pgm_error_code(x->call)),
		     *msg = strdup(pgm_error_message(x->call));
		int retry = pgm_error_retryable(x->call);

		pgm_pg_command(x->call, x->pg[SRC], "ROLLBACK", 0, NULL);
		pgm_fail(x->call, code ? code : "checksum.oom", retry, "%s",
			 msg ? msg : "out of memory");
		free(code);
		free(msg);
	} else if (pgm_pg_command(x->call, x->pg[SRC], "ROLLBACK", 0, NULL) < 0)
		rc = -1;
out:
	if (f != NULL)
		fclose(f);
	PQclear(res);
	free(sql);
	free(set);
	free(vals);
	free(idx);
	return rc;
}

/* deadlock_ms - the source's deadlock_timeout in ms; -1 with the error set. */
static long long deadlock_ms(lctx *x)
{
	PGresult *res = pgm_pg_exec(
		x->call, x->pg[SRC],
		"SELECT (extract(epoch FROM current_setting('deadlock_timeout')::interval) * "
		"1000)::bigint",
		0, NULL);
	long long v;

	if (res == NULL)
		return -1;
	v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void whole_free(lwhole *w)
{
	int p, s;

	for (p = 0; p < 2; p++) {
		for (s = 0; s < 2; s++) {
			lagg_clear(w->agg[p][s]);
			free(w->agg[p][s]);
			json_decref(w->rows[p][s]);
		}
		free(w->fetch_had[p]);
	}
	free(w->state);
	free(w->fetch);
	json_decref(w->proofs);
}

/* add_whole - starts re-checking keyless table name by buckets; -1 when out
 * of memory (the error set). */
static int add_whole(lctx *x, const char *name, const char *kind)
{
	lwhole *n = realloc(x->whole, (size_t)(x->nwhole + 1) * sizeof(*n)), *w;
	int p, s;

	if (n == NULL)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	x->whole = n;
	w = &x->whole[x->nwhole++];
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->first_kind = kind;
	w->state = calloc(LIVE_BUCKETS, 1);
	w->fetch = calloc(LIVE_BUCKETS, 1);
	w->proofs = json_object();
	if (w->state == NULL || w->fetch == NULL || w->proofs == NULL)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	for (p = 0; p < 2; p++) {
		w->fetch_had[p] = calloc(LIVE_BUCKETS, 1);
		if (w->fetch_had[p] == NULL)
			return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
		for (s = 0; s < 2; s++)
			if ((w->agg[p][s] = calloc(LIVE_BUCKETS, sizeof(lagg))) == NULL)
				return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	}
	return 0;
}

/* any_open - the number of keys not decided yet. */
static int any_open(const lkey *k, int nk)
{
	int j, n = 0;

	for (j = 0; j < nk; j++)
		n += !k[j].decided;
	return n;
}

/* lock_phase - up to attempts lock rounds (one that takes its locks
 * ends it; a lock statement that runs out of lock_to is tried again after
 * interval) over the keys not decided after round r; opens the marker
 * connection on first use. 0, or -1 with the error set. */
static int lock_phase(lctx *x, lkey *keys, int nk, const char *qmarker, const char *marker,
		      const char *src, long long lock_to, long long hold, long long attempts,
		      long long interval, int r, llock *lk, long long *waited)
{
	int a;

	if (x->pg[MARK] == NULL) {
		x->pg[MARK] = pgm_pg_connect(x->call, src, CHECKSUM_APP);
		if (x->pg[MARK] == NULL)
			return -1;
	}
	for (a = 0; a < attempts; a++) {
		int got;

		if (a > 0 && pgm_sleep_ms(x->call, interval) < 0)
			return -1;
		got = lock_round(x, keys, nk, qmarker, marker, lock_to, hold, r, lk, waited);
		if (got < 0)
			return -1;
		if (got > 0)
			return 0;
	}
	return 0;
}

/* checksum_compare_live - see the file comment. Arguments: those of
 * checksum.compare, marker (required), rounds, catch_up_timeout, interval,
 * lock, lock_timeout, lock_hold, lock_attempts. The result is new. */
json_t *checksum_compare_live(pgm_call *call, json_t *args)
{
	lctx x;
	const char *src = pgm_arg_string(call, args, "source", NULL, 1);
	const char *tgt = pgm_arg_string(call, args, "target", NULL, 1);
	const char *marker = pgm_arg_string(call, args, "marker", NULL, 1);
	long long rounds, timeout, interval, max_diff, waited = 0, t0 = pgm_now_ms();
	long long lock_to, lock_hold, lock_attempts, lock_after, dl;
	long long in_flight = 0, unsettled = 0, kept = 0, open_buckets = 0;
	json_t *cargs = NULL, *res = NULL, *out = NULL, *found = NULL, *e, *tables, *mism;
	lkey *keys = NULL;
	llock lk;
	char *qmarker = NULL;
	size_t i;
	int nk = 0, r = 0, s, left, tables_equal = 0, all_equal, lock, j;

	memset(&x, 0, sizeof(x));
	memset(&lk, 0, sizeof(lk));
	x.call = call;
	if (src == NULL || tgt == NULL || marker == NULL ||
	    pgm_arg_int(call, args, "rounds", 10, 0, &rounds) < 0 ||
	    pgm_arg_duration_ms(call, args, "catch_up_timeout", 60000, 0, &timeout) < 0 ||
	    pgm_arg_duration_ms(call, args, "interval", 100, 0, &interval) < 0 ||
	    pgm_arg_int(call, args, "max_differences", 100, 0, &max_diff) < 0 ||
	    pgm_arg_bool(call, args, "lock", 1, &lock) < 0 ||
	    pgm_arg_duration_ms(call, args, "lock_timeout", 200, 0, &lock_to) < 0 ||
	    pgm_arg_duration_ms(call, args, "lock_hold", 5000, 0, &lock_hold) < 0 ||
	    pgm_arg_int(call, args, "lock_attempts", 5, 0, &lock_attempts) < 0 ||
	    pgm_arg_int(call, args, "lock_after", 0, 0, &lock_after) < 0)
		return NULL;
	if (rounds < 2 || rounds > 1000 || timeout < 1 || interval < 0 || max_diff < 0 ||
	    max_diff > CHECKSUM_MAX_LISTED)
		return pgm_fail(call, "args.invalid", 0,
				"compare_live: rounds must be 2..1000, catch_up_timeout > 0, "
				"interval >= 0, max_differences 0..%d",
				CHECKSUM_MAX_LISTED);
	if (lock_after == 0)
		lock_after = rounds;
	if (lock_to < 1 || lock_hold < 1 || lock_attempts < 1 || lock_attempts > 100 ||
	    lock_after < 1 || lock_after > rounds)
		return pgm_fail(call, "args.invalid", 0,
				"compare_live: lock_timeout and lock_hold must be > 0, "
				"lock_attempts 1..100, lock_after 1..rounds");

	/* lock_timeout against the source's deadlock_timeout, before any
	 * work: a bad setting is refused whether or not a lock is needed */
	if (lock) {
		x.pg[SRC] = pgm_pg_connect(call, src, CHECKSUM_APP);
		if (x.pg[SRC] == NULL ||
		    pgm_pg_command(call, x.pg[SRC], checksum_session_sql, 0, NULL) < 0 ||
		    (dl = deadlock_ms(&x)) < 0)
			goto done;
		if (lock_to >= dl) {
			pgm_fail(
				call, "args.invalid", 0,
				"compare_live: lock_timeout (%lld ms) must be below the source's "
				"deadlock_timeout (%lld ms), so that a writer waiting for a locked "
				"row is never taken for a deadlock",
				lock_to, dl);
			goto done;
		}
	}

	/* The first pass: an ordinary compare, every difference listed. */
	cargs = json_deep_copy(args);
	json_object_del(cargs, "marker");
	json_object_del(cargs, "rounds");
	json_object_del(cargs, "catch_up_timeout");
	json_object_del(cargs, "interval");
	json_object_del(cargs, "lock");
	json_object_del(cargs, "lock_timeout");
	json_object_del(cargs, "lock_hold");
	json_object_del(cargs, "lock_attempts");
	json_object_del(cargs, "lock_after");
	json_object_set_new(cargs, "max_differences", json_integer(CHECKSUM_MAX_LISTED));
	json_object_set_new(cargs, "snapshot", json_true());
	res = checksum_compare(call, cargs);
	json_decref(cargs);
	if (res == NULL) {
		pgm_pg_close(x.pg[SRC]); /* opened for lock_timeout's check */
		return NULL;
	}
	if (json_is_true(json_object_get(res, "truncated"))) {
		json_object_set_new(res, "equal", json_false());
		json_object_set_new(res, "live",
				    json_pack("{s:b, s:s}", "complete", 0, "reason",
					      "more differences than can be re-checked (10000)"));
		pgm_warn("compare_live: more than %d differences: not re-checked",
			 CHECKSUM_MAX_LISTED);
		pgm_pg_close(x.pg[SRC]);
		return res;
	}

	/* Keys and keyless tables to re-check; other table-level entries are
	 * kept as they are. */
	found = json_array();
	x.found = found;
	mism = json_object_get(res, "mismatches");
	tables = json_object_get(res, "tables");
	keys = calloc(json_array_size(mism) + 1, sizeof(*keys));
	if (keys == NULL || found == NULL) {
		pgm_fail(call, "checksum.oom", 0, "out of memory");
		goto done;
	}
	json_array_foreach(mism, i, e)
	{
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *name = json_string_value(json_object_get(e, "table"));
		json_t *key = json_object_get(e, "key");

		if (json_is_object(key) && name && kind &&
		    (!strcmp(kind, "missing") || !strcmp(kind, "extra") ||
		     !strcmp(kind, "changed")) &&
		    !kept_for(mism, name)) {
			keys[nk].table = name;
			keys[nk].key = key;
			keys[nk].first_kind = kind;
			nk++;
		} else if (key == NULL && name && kind &&
			   (!strcmp(kind, "row_count") || !strcmp(kind, "content")) &&
			   whole_table(tables, name) && !kept_for(mism, name)) {
			if (add_whole(&x, name, kind) < 0)
				goto done;
		} else {
			json_array_append(found, e);
			kept++;
		}
	}

	if (nk > 0 || x.nwhole > 0) {
		for (s = 0; s < 2; s++) {
			if (x.pg[s] != NULL)
				continue; /* the source's, opened for lock_timeout's check */
			x.pg[s] = pgm_pg_connect(call, s == SRC ? src : tgt, CHECKSUM_APP);
			if (x.pg[s] == NULL ||
			    pgm_pg_command(call, x.pg[s], checksum_session_sql, 0, NULL) < 0)
				goto done;
		}
		qmarker = quote_marker(&x, marker);
		if (qmarker == NULL)
			goto done;
	}
	left = nk + x.nwhole;
	for (r = 1; left > 0 && r <= rounds; r++) {
		int p = r & 1;

		if (r > 1 && pgm_sleep_ms(call, interval) < 0)
			goto done;
		for (j = 0; j < x.nwhole; j++)
			memcpy(x.whole[j].fetch_had[p], x.whole[j].fetch, LIVE_BUCKETS);
		if (read_side(&x, SRC, keys, nk, p) < 0 ||
		    mark_and_wait(&x, x.pg[SRC], qmarker, marker, timeout, "catch_up_timeout",
				  &waited) < 0 ||
		    read_side(&x, TGT, keys, nk, p) < 0)
			goto done;
		left = 0;
		for (j = 0; j < nk; j++) {
			lkey *k = &keys[j];
			json_t *v = NULL;

			if (k->decided)
				continue;
			if (r > 1 && same_tuple(&k->prev[SRC], &k->cur[SRC])) {
				if (!same_value(&k->prev[SRC], &k->prev[TGT]))
					v = verdict(k, k->prev[TGT].present ? "changed" : "missing",
						    r, "source row unchanged between two rounds");
				else
					in_flight++;
				k->decided = 1;
			} else if (r > 1 && same_tuple(&k->prev[TGT], &k->cur[TGT])) {
				if (!same_value(&k->cur[SRC], &k->cur[TGT]))
					v = verdict(k, k->cur[SRC].present ? "changed" : "extra", r,
						    "target row unchanged between two rounds");
				else
					in_flight++;
				k->decided = 1;
			} else if (same_value(&k->cur[SRC], &k->cur[TGT])) {
				in_flight++;
				k->decided = 1;
			}
			if (v != NULL) {
				ltable *t = find_table(&x, k->table);

				if (t != NULL)
					t->found++;
				x.confirmed++;
				json_array_append_new(found, v);
			}
			for (s = 0; s < 2; s++) {
				lrow_clear(&k->prev[s]);
				k->prev[s] = k->cur[s];
				memset(&k->cur[s], 0, sizeof(k->cur[s]));
			}
			if (!k->decided)
				left++;
		}
		for (j = 0; j < x.nwhole; j++) {
			x.whole[j].open_left = decide_whole(&x, &x.whole[j], r, p);
			left += x.whole[j].open_left > 0;
		}
		/* Keys that did not settle in lock_after rounds: a lock round. */
		if (lock && r == lock_after && any_open(keys, nk)) {
			if (lock_phase(&x, keys, nk, qmarker, marker, src, lock_to, lock_hold,
				       lock_attempts, interval, r, &lk, &waited) < 0)
				goto done;
			left = any_open(keys, nk);
			for (j = 0; j < x.nwhole; j++)
				left += x.whole[j].open_left > 0;
		}
	}
	if (r > 1)
		r--;

	for (j = 0; j < nk; j++)
		in_flight += keys[j].decided && keys[j].locked &&
			     same_value(&keys[j].cur[SRC], &keys[j].cur[TGT]);
	for (i = 0; i < (size_t)nk; i++) {
		if (keys[i].decided)
			continue;
		unsettled++;
		if (find_table(&x, keys[i].table) != NULL)
			find_table(&x, keys[i].table)->found++;
		json_array_append_new(
			found,
			json_pack(
				"{s:s, s:s, s:O, s:s, s:s}", "table", keys[i].table, "kind",
				"unsettled", "key", keys[i].key, "first_seen", keys[i].first_kind,
				"reason",
				!lock ? "the row changed on both sides in every round (lock=false)"
				: lk.taken == 0
					? "the row changed on both sides in every round, and could "
					  "not be locked within lock_timeout"
					: "the row changed on both sides in every round, and was "
					  "absent on the source when locked (or beyond the 1000 "
					  "keys a lock round takes)"));
	}
	for (j = 0; j < x.nwhole; j++) {
		lwhole *w = &x.whole[j];
		long long nopen = 0, nreal = 0;
		int b;

		for (b = 0; b < LIVE_BUCKETS; b++) {
			nopen += w->state[b] == B_OPEN;
			nreal += w->state[b] == B_REAL;
		}
		in_flight += w->in_flight;
		open_buckets += nopen;
		if (nreal > 0) {
			unsettled++;
			json_array_append_new(
				found,
				json_pack(
					"{s:s, s:s, s:s, s:I, s:s}", "table", w->name, "kind",
					"unsettled", "first_seen", w->first_kind, "buckets",
					(json_int_t)nreal, "reason",
					"no key: these buckets differed in one round with proof, "
					"but "
					"not by the same rows in a second one within the rounds"));
		}
		if (nopen > 0) {
			unsettled++;
			json_array_append_new(
				found,
				json_pack("{s:s, s:s, s:s, s:I, s:s}", "table", w->name, "kind",
					  "unsettled", "first_seen", w->first_kind, "buckets",
					  (json_int_t)nopen, "reason",
					  "no key: these buckets of its rows changed on both sides "
					  "in every round"));
		}
	}

	/* The result: the compare's, with the re-checked differences. A table
	 * is equal when nothing left in found names it. */
	json_array_foreach(tables, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "table"));
		long long n = 0;
		int named = 0;
		size_t m;
		json_t *f;

		for (j = 0; j < x.ntbl; j++)
			if (name && strcmp(x.tbls[j].name, name) == 0)
				n += x.tbls[j].found;
		for (j = 0; j < x.nwhole; j++)
			if (name && strcmp(x.whole[j].name, name) == 0)
				n += x.whole[j].found;
		json_array_foreach(found, m, f)
		{
			const char *t = json_string_value(json_object_get(f, "table"));

			named |= t != NULL && name != NULL && strcmp(t, name) == 0;
		}
		json_object_set_new(e, "rows_differing", json_integer(n));
		json_object_set_new(e, "equal", json_boolean(!named));
		if (!named)
			tables_equal++;
	}
	all_equal = json_array_size(found) == 0;
	out = res;
	res = NULL;
	json_object_set_new(out, "equal", json_boolean(all_equal));
	json_object_set_new(out, "tables_equal", json_integer(tables_equal));
	json_object_set_new(out, "differences", json_integer((json_int_t)json_array_size(found)));
	json_object_set_new(out, "rows_differing", json_integer(x.confirmed + unsettled));
	while ((long long)json_array_size(found) > max_diff)
		json_array_remove(found, json_array_size(found) - 1);
	json_object_set_new(out, "listed", json_integer((json_int_t)json_array_size(found)));
	json_object_set_new(
		out, "truncated",
		json_boolean(json_array_size(found) <
			     (size_t)json_integer_value(json_object_get(out, "differences"))));
	json_object_set(out, "mismatches", found);
	json_object_set_new(
		out, "live",
		json_pack("{s:b, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			  "complete", 1, "marker", marker, "rounds", nk + x.nwhole > 0 ? r : 0,
			  "rechecked", nk, "tables_rechecked", x.nwhole, "in_flight",
			  (json_int_t)in_flight, "confirmed", (json_int_t)x.confirmed, "unsettled",
			  (json_int_t)unsettled, "open_buckets", (json_int_t)open_buckets,
			  "table_level", (json_int_t)kept, "catch_up_ms", (json_int_t)waited,
			  "recheck_ms",
			  (json_int_t)(pgm_now_ms() - t0 -
				       json_integer_value(json_object_get(out, "duration_ms"))),
			  "lock",
			  json_pack("{s:b, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "enabled",
				    lock, "attempts", lk.attempts, "timeouts", lk.timeouts, "taken",
				    lk.taken, "keys", (json_int_t)lk.keys, "absent",
				    (json_int_t)lk.absent, "acquire_ms_max",
				    (json_int_t)lk.acquire_max, "held_ms_max",
				    (json_int_t)lk.held_max, "held_ms_total",
				    (json_int_t)lk.held_total, "lock_timeout_ms",
				    (json_int_t)lock_to)));
	json_object_set_new(out, "duration_ms", json_integer(pgm_now_ms() - t0));
	if (!all_equal)
		pgm_notice("compare_live: %lld differences after %d rounds (%lld confirmed, %lld "
			   "unsettled), %lld in flight",
			   (long long)json_integer_value(json_object_get(out, "differences")),
			   nk + x.nwhole > 0 ? r : 0, x.confirmed, unsettled, in_flight);
done:
	for (i = 0; keys != NULL && i < (size_t)nk; i++)
		for (s = 0; s < 2; s++) {
			lrow_clear(&keys[i].prev[s]);
			lrow_clear(&keys[i].cur[s]);
		}
	free(keys);
	json_decref(found);
	json_decref(res);
	for (s = 0; s < 3; s++)
		pgm_pg_close(x.pg[s]);
	for (i = 0; i < (size_t)x.ntbl; i++) {
		free(x.tbls[i].name);
		free(x.tbls[i].from);
		free(x.tbls[i].cols);
		json_decref(x.tbls[i].types);
	}
	free(x.tbls);
	for (j = 0; j < x.nwhole; j++)
		whole_free(&x.whole[j]);
	free(x.whole);
	free(qmarker);
	return out;
}
