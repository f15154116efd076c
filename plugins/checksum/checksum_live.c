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
 * Keys still undecided after the last round are reported "unsettled" (the
 * result is then not equal: nothing is called equal without proof).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "checksum.h"

enum { SRC, TGT };

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
	lrow prev[2], cur[2];
} lkey;

typedef struct {
	char *name;	 /* schema.table as compare names it */
	char *from;	 /* quoted "schema"."table" */
	char *cols;	 /* ROW(t.a, t.b, ...) */
	json_t *types;	 /* {column: type} */
	long long found; /* confirmed + unsettled keys */
} ltable;

typedef struct {
	pgm_call *call;
	pgm_pg *pg[2];
	ltable *tbls;
	int ntbl;
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

/* read_key - reads key k of t on side s (inside the caller's transaction)
 * into *out; -1 with the error set. */
static int read_key(lctx *x, int s, ltable *t, json_t *key, lrow *out)
{
	const char *col, *vals[64];
	json_t *v;
	char *sql = NULL, *q;
	size_t len;
	int np = 0, rc = -1;
	FILE *f = open_memstream(&sql, &len);
	PGresult *res;

	if (f == NULL)
		return pgm_fail(x->call, "checksum.oom", 0, "out of memory"), -1;
	fprintf(f, "SELECT t.xmin::text || '/' || t.ctid::text, md5(%s::text) FROM %s t WHERE ",
		t->cols, t->from);
	json_object_foreach(key, col, v)
	{
		const char *type = json_string_value(json_object_get(t->types, col));

		if (type == NULL || np >= 64) {
			fclose(f);
			free(sql);
			return pgm_fail(x->call, "checksum.table", 0,
					"compare_live: table %s: key column %s not found on the "
					"source",
					t->name, col),
			       -1;
		}
		q = pgm_pg_quote_ident(x->pg[s], col);
		if (json_is_null(v))
			fprintf(f, "%st.%s IS NULL", np ? " AND " : "", q ? q : "?");
		else {
			vals[np] = json_string_value(v);
			fprintf(f, "%st.%s = $%d::%s", np ? " AND " : "", q ? q : "?", np + 1,
				type);
		}
		free(q);
		if (!json_is_null(v))
			np++;
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
	rc = 0;
	PQclear(res);
	return rc;
}

/* read_side - reads every undecided key on side s in one snapshot. */
static int read_side(lctx *x, int s, lkey *k, int nk)
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
		if (t == NULL || read_key(x, s, t, k[i].key, &k[i].cur[s]) < 0) {
			pgm_pg_command(x->call, x->pg[s], "ROLLBACK", 0, NULL);
			return -1;
		}
	}
	return pgm_pg_command(x->call, x->pg[s], "COMMIT", 0, NULL);
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

/* mark_and_wait - commits a new marker value on the source (after the
 * source's snapshot of this round) and waits until the target shows it;
 * adds the wait to *waited. marker is quoted for SQL, name as given. -1 with the error set
 * (checksum.catch_up when the target does not get there within timeout_ms). */
static int mark_and_wait(lctx *x, const char *marker, const char *name, long long timeout_ms,
			 long long *waited)
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
	res = pgm_pg_exec(x->call, x->pg[SRC], sql, 0, NULL);
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
				 "ms "
				 "(is %s replicated, and is replication running?)",
				 name, token, timeout_ms, name);
			break;
		}
		if (pgm_sleep_ms(x->call, 10) < 0)
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

/* kept_for - whether found holds a table-level entry (no key) for name
 * (columns, ...): such a table's row entries are kept, not re-checked. */
static int kept_for(json_t *found, const char *name)
{
	size_t m;
	json_t *f;

	json_array_foreach(found, m, f)
	{
		const char *t = json_string_value(json_object_get(f, "table"));

		if (json_object_get(f, "key") == NULL && t != NULL && name != NULL &&
		    strcmp(t, name) == 0)
			return 1;
	}
	return 0;
}

static json_t *verdict(lkey *k, const char *kind, int round, const char *proof)
{
	return json_pack("{s:s, s:s, s:O, s:i, s:s}", "table", k->table, "kind", kind, "key",
			 k->key, "round", round, "proof", proof);
}

/* checksum_compare_live - see the file comment. Arguments: those of
 * checksum.compare, marker (required), rounds, catch_up_timeout, interval. */
json_t *checksum_compare_live(pgm_call *call, json_t *args)
{
	lctx x;
	const char *src = pgm_arg_string(call, args, "source", NULL, 1);
	const char *tgt = pgm_arg_string(call, args, "target", NULL, 1);
	const char *marker = pgm_arg_string(call, args, "marker", NULL, 1);
	long long rounds, timeout, interval, max_diff, waited = 0, t0 = pgm_now_ms();
	long long in_flight = 0, confirmed = 0, unsettled = 0, kept = 0;
	json_t *cargs = NULL, *res = NULL, *out = NULL, *found = NULL, *e, *tables;
	lkey *keys = NULL;
	char *qmarker = NULL;
	size_t i;
	int nk = 0, r = 0, s, left, tables_equal = 0, all_equal;

	memset(&x, 0, sizeof(x));
	x.call = call;
	if (src == NULL || tgt == NULL || marker == NULL ||
	    pgm_arg_int(call, args, "rounds", 10, 0, &rounds) < 0 ||
	    pgm_arg_duration_ms(call, args, "catch_up_timeout", 60000, 0, &timeout) < 0 ||
	    pgm_arg_duration_ms(call, args, "interval", 100, 0, &interval) < 0 ||
	    pgm_arg_int(call, args, "max_differences", 100, 0, &max_diff) < 0)
		return NULL;
	if (rounds < 2 || rounds > 1000 || timeout < 1 || interval < 0 || max_diff < 0 ||
	    max_diff > CHECKSUM_MAX_LISTED)
		return pgm_fail(call, "args.invalid", 0,
				"compare_live: rounds must be 2..1000, catch_up_timeout > 0, "
				"interval >= 0, max_differences 0..%d",
				CHECKSUM_MAX_LISTED);

	/* The first pass: an ordinary compare, every difference listed. */
	cargs = json_deep_copy(args);
	json_object_del(cargs, "marker");
	json_object_del(cargs, "rounds");
	json_object_del(cargs, "catch_up_timeout");
	json_object_del(cargs, "interval");
	json_object_set_new(cargs, "max_differences", json_integer(CHECKSUM_MAX_LISTED));
	json_object_set_new(cargs, "snapshot", json_true());
	res = checksum_compare(call, cargs);
	json_decref(cargs);
	if (res == NULL)
		return NULL;
	if (json_is_true(json_object_get(res, "truncated"))) {
		json_object_set_new(res, "equal", json_false());
		json_object_set_new(res, "live",
				    json_pack("{s:b, s:s}", "complete", 0, "reason",
					      "more differences than can be re-checked (10000)"));
		pgm_warn("compare_live: more than %d differences: not re-checked",
			 CHECKSUM_MAX_LISTED);
		return res;
	}

	/* Keys to re-check; table-level entries are kept as they are. */
	found = json_array();
	keys = calloc(json_array_size(json_object_get(res, "mismatches")) + 1, sizeof(*keys));
	if (keys == NULL || found == NULL) {
		pgm_fail(call, "checksum.oom", 0, "out of memory");
		goto done;
	}
	json_array_foreach(json_object_get(res, "mismatches"), i, e)
	{
		const char *kind = json_string_value(json_object_get(e, "kind"));
		json_t *key = json_object_get(e, "key");

		if (json_is_object(key) && json_is_string(json_object_get(e, "table")) && kind &&
		    (!strcmp(kind, "missing") || !strcmp(kind, "extra") ||
		     !strcmp(kind, "changed")) &&
		    !kept_for(json_object_get(res, "mismatches"),
			      json_string_value(json_object_get(e, "table")))) {
			keys[nk].table = json_string_value(json_object_get(e, "table"));
			keys[nk].key = key;
			keys[nk].first_kind = kind;
			nk++;
		} else {
			json_array_append(found, e);
			kept++;
		}
	}

	if (nk > 0) {
		for (s = 0; s < 2; s++) {
			x.pg[s] = pgm_pg_connect(call, s == SRC ? src : tgt, CHECKSUM_APP);
			if (x.pg[s] == NULL ||
			    pgm_pg_command(call, x.pg[s], checksum_session_sql, 0, NULL) < 0)
				goto done;
		}
		qmarker = quote_marker(&x, marker);
		if (qmarker == NULL)
			goto done;
	}
	left = nk;
	for (r = 1; left > 0 && r <= rounds; r++) {
		int j;

		if (r > 1 && pgm_sleep_ms(call, interval) < 0)
			goto done;
		if (read_side(&x, SRC, keys, nk) < 0 ||
		    mark_and_wait(&x, qmarker, marker, timeout, &waited) < 0 ||
		    read_side(&x, TGT, keys, nk) < 0)
			goto done;
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
				confirmed++;
				json_array_append_new(found, v);
			}
			for (s = 0; s < 2; s++) {
				lrow_clear(&k->prev[s]);
				k->prev[s] = k->cur[s];
				memset(&k->cur[s], 0, sizeof(k->cur[s]));
			}
			if (k->decided)
				left--;
		}
	}
	for (i = 0; i < (size_t)nk; i++) {
		if (keys[i].decided)
			continue;
		unsettled++;
		if (find_table(&x, keys[i].table) != NULL)
			find_table(&x, keys[i].table)->found++;
		json_array_append_new(found,
				      json_pack("{s:s, s:s, s:O, s:s, s:s}", "table", keys[i].table,
						"kind", "unsettled", "key", keys[i].key,
						"first_seen", keys[i].first_kind, "reason",
						"the row changed on both sides in every round"));
	}

	/* The result: the compare's, with the re-checked differences. */
	tables = json_object_get(res, "tables");
	json_array_foreach(tables, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "table"));
		long long n = 0, orig = json_integer_value(json_object_get(e, "rows_differing"));
		int eq = json_is_true(json_object_get(e, "equal")), j;

		for (j = 0; j < x.ntbl; j++)
			if (name && strcmp(x.tbls[j].name, name) == 0)
				n = x.tbls[j].found;
		/* Unequal only by its rows? Then equal now, unless a table-level
		 * entry (columns, row_count, ...) was kept for it. */
		if (!eq && orig > 0 && n == 0)
			eq = !kept_for(found, name);
		json_object_set_new(e, "rows_differing", json_integer(n));
		json_object_set_new(e, "equal", json_boolean(eq && n == 0));
		if (eq && n == 0)
			tables_equal++;
	}
	all_equal = json_array_size(found) == 0;
	out = res;
	res = NULL;
	json_object_set_new(out, "equal", json_boolean(all_equal));
	json_object_set_new(out, "tables_equal", json_integer(tables_equal));
	json_object_set_new(out, "differences", json_integer((json_int_t)json_array_size(found)));
	json_object_set_new(out, "rows_differing", json_integer(confirmed + unsettled));
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
		json_pack("{s:b, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "complete", 1,
			  "marker", marker, "rounds", nk > 0 ? r - 1 : 0, "rechecked", nk,
			  "in_flight", (json_int_t)in_flight, "confirmed", (json_int_t)confirmed,
			  "unsettled", (json_int_t)unsettled, "table_level", (json_int_t)kept,
			  "catch_up_ms", (json_int_t)waited, "recheck_ms",
			  (json_int_t)(pgm_now_ms() - t0 -
				       json_integer_value(json_object_get(out, "duration_ms")))));
	json_object_set_new(out, "duration_ms", json_integer(pgm_now_ms() - t0));
	if (!all_equal)
		pgm_notice("compare_live: %lld rows differ after %d rounds (%lld confirmed, %lld "
			   "unsettled), %lld in flight",
			   confirmed + unsettled, nk > 0 ? r - 1 : 0, confirmed, unsettled,
			   in_flight);
done:
	for (i = 0; keys != NULL && i < (size_t)nk; i++)
		for (s = 0; s < 2; s++) {
			lrow_clear(&keys[i].prev[s]);
			lrow_clear(&keys[i].cur[s]);
		}
	free(keys);
	json_decref(found);
	json_decref(res);
	for (s = 0; s < 2; s++)
		pgm_pg_close(x.pg[s]);
	for (i = 0; i < (size_t)x.ntbl; i++) {
		free(x.tbls[i].name);
		free(x.tbls[i].from);
		free(x.tbls[i].cols);
		json_decref(x.tbls[i].types);
	}
	free(x.tbls);
	free(qmarker);
	return out;
}
