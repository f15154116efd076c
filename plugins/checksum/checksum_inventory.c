/*
 * plugins/checksum/checksum_inventory.c - checksum.inventory (the objects
 * of two databases compared by name: schemas, tables, columns and types,
 * indexes, constraints, sequences, views, functions, triggers, types,
 * extensions) and checksum.sequences (last values on both sides).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "checksum.h"

#define NOT_EXT(classid, oid) \
	" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '" classid \
	"'::regclass AND d.objid = " oid " AND d.deptype = 'e')"

/* One row per object: kind, qualified name, a detail that must be equal
 * on both sides. Ordered bytewise so that the two lists merge with strcmp. */
static const char INVENTORY_SQL[] =
	"SELECT kind, name, detail FROM ("
	/* schemas */
	"SELECT 'schema' AS kind, n.nspname::text AS name, '' AS detail "
	"FROM pg_namespace n WHERE " CHECKSUM_USER_SCHEMAS NOT_EXT("pg_namespace", "n.oid")
	/* tables, views, materialized views, foreign tables, sequences */
	" UNION ALL SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' "
	"WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view' WHEN 'f' THEN 'foreign_table' "
	"WHEN 'S' THEN 'sequence' END, n.nspname || '.' || c.relname, "
	"CASE c.relkind WHEN 'p' THEN 'partitioned' WHEN 'S' THEN "
	"(SELECT format_type(s.seqtypid, NULL) FROM pg_sequence s WHERE s.seqrelid = c.oid) "
	"ELSE '' END "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relpersistence <> 't' AND "
	CHECKSUM_USER_SCHEMAS NOT_EXT("pg_class", "c.oid")
	/* columns of tables, views, ... */
	" UNION ALL SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, "
	"format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END "
	"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped "
	"AND c.relpersistence <> 't' AND " CHECKSUM_USER_SCHEMAS NOT_EXT("pg_class", "c.oid")
	/* indexes */
	" UNION ALL SELECT 'index', n.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid) "
	"FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
	"JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = ic.relnamespace "
	"WHERE c.relpersistence <> 't' AND " CHECKSUM_USER_SCHEMAS NOT_EXT("pg_class", "c.oid")
	/* constraints (of tables and domains) */
	" UNION ALL SELECT 'constraint', n.nspname || '.' || coalesce(c.relname, t.typname) || '.' "
	"|| k.conname, pg_get_constraintdef(k.oid) "
	"FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace "
	"LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type t ON t.oid = k.contypid "
	"WHERE " CHECKSUM_USER_SCHEMAS
	" AND (c.oid IS NULL OR c.relpersistence <> 't')"
	" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.deptype = 'e' AND "
	"((d.classid = 'pg_class'::regclass AND d.objid = c.oid) OR "
	"(d.classid = 'pg_type'::regclass AND d.objid = t.oid)))"
	/* functions and procedures */
	" UNION ALL SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' "
	"ELSE 'function' END, n.nspname || '.' || p.proname || '(' || "
	"pg_get_function_identity_arguments(p.oid) || ')', "
	"coalesce(pg_get_function_result(p.oid), '') "
	"FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
	"WHERE " CHECKSUM_USER_SCHEMAS NOT_EXT("pg_proc", "p.oid")
	/* triggers */
	" UNION ALL SELECT 'trigger', n.nspname || '.' || c.relname || '.' || g.tgname, "
	"pg_get_triggerdef(g.oid) "
	"FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE NOT g.tgisinternal AND " CHECKSUM_USER_SCHEMAS NOT_EXT("pg_class", "c.oid")
	/* enums, domains, composite and range types (not the row types of tables) */
	" UNION ALL SELECT 'type', n.nspname || '.' || t.typname, "
	"CASE t.typtype WHEN 'e' THEN 'enum (' || (SELECT string_agg(e.enumlabel, ', ' "
	"ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')' "
	"WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod) "
	"WHEN 'c' THEN 'composite' WHEN 'r' THEN 'range' ELSE t.typtype::text END "
	"FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
	"WHERE t.typtype IN ('e', 'd', 'c', 'r') AND t.typelem = 0 "
	"AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') "
	"AND " CHECKSUM_USER_SCHEMAS NOT_EXT("pg_type", "t.oid")
	/* extensions, by name */
	" UNION ALL SELECT 'extension', e.extname::text, '' FROM pg_extension e"
	") o ORDER BY kind COLLATE \"C\", name COLLATE \"C\", detail COLLATE \"C\"";

/* open_one - a connection with the checksum session settings. */
static pgm_pg *open_one(pgm_call *call, json_t *args, const char *name)
{
	const char *conninfo = pgm_arg_string(call, args, name, NULL, 1);
	pgm_pg *pg;

	if (conninfo == NULL)
		return NULL;
	pg = pgm_pg_connect(call, conninfo, CHECKSUM_APP);
	if (pg == NULL)
		return NULL;
	if (pgm_pg_command(call, pg, checksum_session_sql, 0, NULL) < 0) {
		pgm_pg_close(pg);
		return NULL;
	}
	return pg;
}

/* query_both - opens the source and the target (args "source", "target")
 * and runs sql on each; the connections and results go to the caller, who
 * closes and clears them whatever this returns. 0, or -1 with the error set. */
static int query_both(pgm_call *call, json_t *args, const char *sql, pgm_pg **src,
		      pgm_pg **tgt, PGresult *r[2])
{
	*src = open_one(call, args, "source");
	if (*src == NULL)
		return -1;
	*tgt = open_one(call, args, "target");
	if (*tgt == NULL)
		return -1;
	r[0] = pgm_pg_exec(call, *src, sql, 0, NULL);
	if (r[0] == NULL)
		return -1;
	r[1] = pgm_pg_exec(call, *tgt, sql, 0, NULL);
	return r[1] == NULL ? -1 : 0;
}

static int kind_ignored(json_t *ignore, const char *kind)
{
	size_t i;
	json_t *v;

	json_array_foreach(ignore, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), kind) == 0)
			return 1;
	return 0;
}

/* count_kind - counts[kind][side] += 1. */
static void count_kind(json_t *counts, const char *kind, const char *side)
{
	json_t *k = json_object_get(counts, kind), *v;

	if (k == NULL) {
		k = json_pack("{s:i, s:i}", "source", 0, "target", 0);
		json_object_set_new(counts, kind, k);
	}
	v = json_object_get(k, side);
	json_integer_set(v, json_integer_value(v) + 1);
}

static int row_cmp(PGresult *a, int i, PGresult *b, int j)
{
	int c = strcmp(PQgetvalue(a, i, 0), PQgetvalue(b, j, 0));

	return c ? c : strcmp(PQgetvalue(a, i, 1), PQgetvalue(b, j, 1));
}

static void push_limited(json_t *arr, json_t *e, long long max, int *truncated)
{
	if ((long long)json_array_size(arr) >= max) {
		*truncated = 1;
		json_decref(e);
		return;
	}
	json_array_append_new(arr, e);
}

/* checksum_inventory - both catalogs listed and merged by (kind, name).
 * Returns {"equal", "counts": {kind: {source, target}}, "missing" (on the
 * target), "extra" (only on the target), "different" (same name, other
 * definition), "truncated"}. */
json_t *checksum_inventory(pgm_call *call, json_t *args)
{
	pgm_pg *src = NULL, *tgt = NULL;
	PGresult *r[2] = { NULL, NULL };
	json_t *ignore = json_object_get(args, "ignore");
	json_t *counts = json_object(), *missing = json_array(), *extra = json_array();
	json_t *different = json_array(), *out = NULL;
	long long max;
	int i = 0, j = 0, n0, n1, truncated = 0;

	if (pgm_arg_int(call, args, "max_differences", 200, 0, &max) < 0)
		goto done;
	if (ignore != NULL && !json_is_array(ignore) && !json_is_null(ignore)) {
		pgm_fail(call, "args.invalid", 0, "argument \"ignore\" must be an array of kinds");
		goto done;
	}
	if (query_both(call, args, INVENTORY_SQL, &src, &tgt, r) != 0)
		goto done;
	n0 = PQntuples(r[0]);
	n1 = PQntuples(r[1]);
	while (i < n0 || j < n1) {
		int c = i >= n0 ? 1 : j >= n1 ? -1 : row_cmp(r[0], i, r[1], j);
		const char *kind = c <= 0 ? PQgetvalue(r[0], i, 0) : PQgetvalue(r[1], j, 0);

		if (kind_ignored(ignore, kind)) {
			i += c <= 0;
			j += c >= 0;
			continue;
		}
		if (c < 0) {
			count_kind(counts, kind, "source");
			push_limited(missing, json_pack("{s:s, s:s, s:s}", "kind", kind, "name",
							PQgetvalue(r[0], i, 1), "detail",
							PQgetvalue(r[0], i, 2)),
				     max, &truncated);
			i++;
		} else if (c > 0) {
			count_kind(counts, kind, "target");
			push_limited(extra, json_pack("{s:s, s:s, s:s}", "kind", kind, "name",
						      PQgetvalue(r[1], j, 1), "detail",
						      PQgetvalue(r[1], j, 2)),
				     max, &truncated);
			j++;
		} else {
			count_kind(counts, kind, "source");
			count_kind(counts, kind, "target");
			if (strcmp(PQgetvalue(r[0], i, 2), PQgetvalue(r[1], j, 2)) != 0)
				push_limited(different,
					     json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "name",
						       PQgetvalue(r[0], i, 1), "source",
						       PQgetvalue(r[0], i, 2), "target",
						       PQgetvalue(r[1], j, 2)),
					     max, &truncated);
			i++;
			j++;
		}
	}
	{
		int equal = json_array_size(missing) == 0 && json_array_size(extra) == 0 &&
			    json_array_size(different) == 0;

		if (!equal)
			pgm_notice("inventory: %zu%s missing on the target, %zu extra, %zu different",
				   json_array_size(missing), truncated ? "+" : "",
				   json_array_size(extra), json_array_size(different));
		out = json_pack("{s:b, s:O, s:O, s:O, s:O, s:b}", "equal", equal, "counts", counts,
				"missing", missing, "extra", extra, "different", different,
				"truncated", truncated);
	}
done:
	PQclear(r[0]);
	PQclear(r[1]);
	json_decref(counts);
	json_decref(missing);
	json_decref(extra);
	json_decref(different);
	pgm_pg_close(src);
	pgm_pg_close(tgt);
	return out;
}

/* The sequences, and for each the SQL that reads it. */
static const char SEQUENCES_SQL[] =
	"SELECT s.schemaname || '.' || s.sequencename AS name, "
	"pg_catalog.quote_ident(s.schemaname) || '.' || pg_catalog.quote_ident(s.sequencename) AS q, "
	"s.increment_by::text AS inc "
	"FROM pg_sequences s WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema') "
	"ORDER BY (s.schemaname || '.' || s.sequencename) COLLATE \"C\"";

/* next_values - the value nextval would return for each sequence of r
 * (SEQUENCES_SQL's rows), in r's order: last_value when is_called is
 * false (a fresh sequence, or setval(s, n, false)), else last_value plus
 * the increment (as numeric: it may pass the type's range). One query for
 * all of them. Caller PQclears the result; NULL with the error set. */
static PGresult *next_values(pgm_call *call, pgm_pg *pg, PGresult *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	PGresult *res;
	int i, n = PQntuples(r);

	if (f == NULL) {
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		return NULL;
	}
	if (n == 0)
		fputs("SELECT NULL::int, NULL::text WHERE false", f);
	for (i = 0; i < n; i++)
		fprintf(f,
			"%sSELECT %d AS i, (CASE WHEN is_called THEN last_value::numeric + %s "
			"ELSE last_value::numeric END)::text FROM %s",
			i ? " UNION ALL " : "", i, PQgetvalue(r, i, 2), PQgetvalue(r, i, 1));
	fputs(" ORDER BY 1", f);
	if (fclose(f) != 0) {
		free(buf);
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		return NULL;
	}
	res = pgm_pg_exec(call, pg, buf, 0, NULL);
	free(buf);
	if (res != NULL && PQntuples(res) != n) {
		PQclear(res);
		pgm_fail(call, "checksum.catalog", 0, "%s: sequences changed while read",
			 pgm_pg_describe(pg));
		return NULL;
	}
	return res;
}

/* checksum_sequences - the value nextval would return next for every
 * sequence on both sides (what a migration must carry over; last_value
 * alone says nothing when is_called is false). Equal when every source
 * sequence exists on the target with the same next value (or, with
 * target_ahead_ok, one at least as high). */
json_t *checksum_sequences(pgm_call *call, json_t *args)
{
	pgm_pg *src = NULL, *tgt = NULL;
	PGresult *r[2] = { NULL, NULL }, *v[2] = { NULL, NULL };
	json_t *list = json_array(), *mism = json_array(), *out = NULL;
	int ahead_ok = 0, i = 0, j = 0, n0, n1;

	if (pgm_arg_bool(call, args, "target_ahead_ok", 0, &ahead_ok) < 0)
		goto done;
	if (query_both(call, args, SEQUENCES_SQL, &src, &tgt, r) != 0)
		goto done;
	v[0] = next_values(call, src, r[0]);
	if (v[0] == NULL)
		goto done;
	v[1] = next_values(call, tgt, r[1]);
	if (v[1] == NULL)
		goto done;
	n0 = PQntuples(r[0]);
	n1 = PQntuples(r[1]);
	while (i < n0 || j < n1) {
		int c = i >= n0 ? 1 : j >= n1 ? -1 : strcmp(PQgetvalue(r[0], i, 0), PQgetvalue(r[1], j, 0));
		json_t *sv, *tv, *e;
		const char *name;
		int ok;

		if (c < 0) {
			name = PQgetvalue(r[0], i, 0);
			json_array_append_new(mism, json_pack("{s:s, s:s}", "name", name, "kind",
							      "missing"));
			i++;
			continue;
		}
		if (c > 0) {
			name = PQgetvalue(r[1], j, 0);
			json_array_append_new(mism, json_pack("{s:s, s:s}", "name", name, "kind",
							      "extra"));
			j++;
			continue;
		}
		name = PQgetvalue(r[0], i, 0);
		sv = json_string(PQgetvalue(v[0], i, 1));
		tv = json_string(PQgetvalue(v[1], j, 1));
		if (ahead_ok)
			ok = strtold(json_string_value(tv), NULL) >= strtold(json_string_value(sv), NULL);
		else
			ok = strcmp(json_string_value(sv), json_string_value(tv)) == 0;
		e = json_pack("{s:s, s:O, s:O, s:b}", "name", name, "source", sv, "target", tv,
			      "equal", ok);
		json_array_append_new(list, e);
		if (!ok) {
			json_array_append_new(mism, json_pack("{s:s, s:s, s:o, s:o}", "name", name,
							      "kind", "value", "source", sv,
							      "target", tv));
			pgm_warn("sequence %s: next value %s on the source, %s on the target", name,
				 json_string_value(sv), json_string_value(tv));
		} else {
			json_decref(sv);
			json_decref(tv);
		}
		i++;
		j++;
	}
	out = json_pack("{s:b, s:O, s:O}", "equal", json_array_size(mism) == 0, "sequences", list,
			"mismatches", mism);
done:
	PQclear(r[0]);
	PQclear(r[1]);
	PQclear(v[0]);
	PQclear(v[1]);
	json_decref(list);
	json_decref(mism);
	pgm_pg_close(src);
	pgm_pg_close(tgt);
	return out;
}
