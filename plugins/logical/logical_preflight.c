/*
 * plugins/logical/logical_preflight.c - logical.preflight: everything on
 * the publisher and the subscriber that would make logical replication
 * fail or lose data, each finding with what to change. A finding is a
 * "problem" (ok = false) unless its check is named in "accept" or it can
 * only be a warning (sequences, DDL).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "logical.h"

/* The tables in scope: user tables (not partitions, which replicate as
 * part of their parent's publication) with what replication needs to know. */
static const char TABLES_SQL[] =
	"SELECT n.nspname AS schema, c.relname AS name, "
	"quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname, "
	"c.relreplident::text AS replident, c.relpersistence::text AS persistence, "
	"EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS "
	"pk, "
	"pg_has_role(c.relowner, 'USAGE') AS owned "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
	"AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
	"AND n.nspname NOT LIKE 'pg\\_%' "
	"AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
	"AND d.objid = c.oid AND d.deptype = 'e') "
	"AND ($1::json IS NULL OR c.oid IN (SELECT to_regclass(x) FROM "
	"json_array_elements_text($1::json) x)) "
	"ORDER BY 1, 2";

/* What a server offers, in one row. */
static const char SERVER_SQL[] =
	"SELECT current_setting('server_version_num')::int AS version_num, "
	"current_setting('server_version') AS version, "
	"current_setting('wal_level') AS wal_level, "
	"current_setting('rds.logical_replication', true) AS rds_logical_replication, "
	"current_setting('max_replication_slots')::int AS max_replication_slots, "
	"(SELECT count(*) FROM pg_replication_slots)::int AS slots_used, "
	"current_setting('max_wal_senders')::int AS max_wal_senders, "
	"(SELECT count(*) FROM pg_stat_replication)::int AS wal_senders_used, "
	"current_setting('max_worker_processes')::int AS max_worker_processes, "
	"current_setting('max_logical_replication_workers')::int AS "
	"max_logical_replication_workers, "
	"current_setting('max_sync_workers_per_subscription')::int AS "
	"max_sync_workers_per_subscription, "
	"(SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL)::int AS workers_used, "
	"(SELECT count(*) FROM pg_replication_origin)::int AS origins_used, "
	"current_user AS \"user\", "
	"(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, "
	"(SELECT rolreplication FROM pg_roles WHERE rolname = current_user) AS replication, "
	"COALESCE((SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
	"WHERE rolname = 'rds_replication'), false) AS rds_replication, "
	"COALESCE((SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
	"WHERE rolname = 'rds_superuser'), false) AS rds_superuser, "
	"COALESCE((SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
	"WHERE rolname = 'pg_create_subscription'), false) AS create_subscription, "
	"(SELECT count(*) FROM pg_largeobject_metadata)::bigint AS large_objects, "
	"(SELECT count(*) FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', "
	"'information_schema'))::int AS sequences, "
	"(SELECT count(*) FROM pg_matviews)::int AS materialized_views, "
	"(SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database())::int "
	"AS prepared_transactions";

typedef struct finding_ctx {
	json_t *problems, *warnings, *accept;
} finding_ctx;

static void finding(finding_ctx *f, int warning_only, const char *check, const char *side,
		    json_t *objects, const char *fix, const char *fmt, ...) PGM_PRINTF(7, 8);

/* finding - records one finding (objects is stolen, may be NULL) as a
 * problem, or as a warning when warning_only or the check is accepted. */
static void finding(finding_ctx *f, int warning_only, const char *check, const char *side,
		    json_t *objects, const char *fix, const char *fmt, ...)
{
	char detail[1024];
	json_t *e, *a;
	size_t i;
	va_list ap;
	int accepted = 0;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_array_foreach(f->accept, i,
			   a) if (json_is_string(a) && strcmp(json_string_value(a), check) == 0)
		accepted = 1;
	e = json_pack("{s:s, s:s, s:s, s:s}", "check", check, "side", side, "detail", detail, "fix",
		      fix);
	if (objects != NULL)
		json_object_set_new(e, "objects", objects);
	if (accepted)
		json_object_set_new(e, "accepted", json_true());
	json_array_append_new(warning_only || accepted ? f->warnings : f->problems, e);
}

static long long iget(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static int bget(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* check_server - the settings and privileges one side needs. role is
 * "publisher" or "subscriber"; as_pub / as_sub say what the side will be
 * (both for a side of reverse replication). */
static void check_server(finding_ctx *f, json_t *s, const char *side, int as_pub, int as_sub,
			 int sync_workers, int reverse_part)
{
	const char *pfx = reverse_part ? "reverse_" : "";
	char check[64];

	if (iget(s, "version_num") < 100000) {
		snprintf(check, sizeof(check), "%sversion", pfx);
		finding(f, 0, check, side, NULL, "upgrade to PostgreSQL 10 or later",
			"PostgreSQL %s has no native logical replication",
			json_string_value(json_object_get(s, "version")));
		return;
	}
	if (as_pub) {
		const char *wl = json_string_value(json_object_get(s, "wal_level"));
		const char *rds = json_string_value(json_object_get(s, "rds_logical_replication"));

		snprintf(check, sizeof(check), "%swal_level", pfx);
		if (rds != NULL && strcmp(rds, "on") != 0 && strcmp(rds, "1") != 0)
			finding(f, 0, check, side, NULL,
				"set rds.logical_replication = 1 in the DB parameter group and "
				"reboot",
				"rds.logical_replication is %s", rds);
		else if (wl == NULL || strcmp(wl, "logical") != 0)
			finding(f, 0, check, side, NULL,
				"set wal_level = logical and restart the server",
				"wal_level is %s, logical replication needs logical",
				wl ? wl : "?");
		snprintf(check, sizeof(check), "%smax_replication_slots", pfx);
		if (iget(s, "max_replication_slots") - iget(s, "slots_used") < 1)
			finding(f, 0, check, side, NULL,
				"raise max_replication_slots (restart) or drop unused slots",
				"no free replication slot (%lld of %lld used)",
				iget(s, "slots_used"), iget(s, "max_replication_slots"));
		else if (iget(s, "max_replication_slots") - iget(s, "slots_used") <
			 1 + sync_workers)
			finding(f, 1, check, side, NULL, "raise max_replication_slots (restart)",
				"%lld free replication slots: the initial copy uses up to %d more "
				"at once",
				iget(s, "max_replication_slots") - iget(s, "slots_used"),
				sync_workers);
		snprintf(check, sizeof(check), "%smax_wal_senders", pfx);
		if (iget(s, "max_wal_senders") - iget(s, "wal_senders_used") < 1)
			finding(f, 0, check, side, NULL, "raise max_wal_senders (restart)",
				"no free WAL sender (%lld of %lld used)",
				iget(s, "wal_senders_used"), iget(s, "max_wal_senders"));
		else if (iget(s, "max_wal_senders") - iget(s, "wal_senders_used") <
			 1 + sync_workers)
			finding(f, 1, check, side, NULL, "raise max_wal_senders (restart)",
				"%lld free WAL senders: the initial copy uses up to %d more at "
				"once",
				iget(s, "max_wal_senders") - iget(s, "wal_senders_used"),
				sync_workers);
		snprintf(check, sizeof(check), "%sreplication_privilege", pfx);
		if (!bget(s, "superuser") && !bget(s, "replication") && !bget(s, "rds_replication"))
			finding(f, 0, check, side, NULL,
				"ALTER ROLE ... REPLICATION (on RDS / Aurora: GRANT "
				"rds_replication TO ...)",
				"role %s may not open replication connections",
				json_string_value(json_object_get(s, "user")));
	}
	if (as_sub) {
		snprintf(check, sizeof(check), "%ssubscription_privilege", pfx);
		if (!bget(s, "superuser") && !bget(s, "rds_superuser") &&
		    !bget(s, "create_subscription"))
			finding(f, 0, check, side, NULL,
				"use a superuser (on RDS / Aurora: a member of rds_superuser; 16+: "
				"GRANT pg_create_subscription)",
				"role %s may not create subscriptions",
				json_string_value(json_object_get(s, "user")));
		snprintf(check, sizeof(check), "%smax_replication_slots", pfx);
		if (iget(s, "max_replication_slots") - iget(s, "origins_used") < 1)
			finding(f, 0, check, side, NULL, "raise max_replication_slots (restart)",
				"no free replication origin: a subscriber tracks each subscription "
				"in one (%lld of %lld used)",
				iget(s, "origins_used"), iget(s, "max_replication_slots"));
		snprintf(check, sizeof(check), "%smax_logical_replication_workers", pfx);
		if (iget(s, "max_logical_replication_workers") - iget(s, "workers_used") < 1)
			finding(f, 0, check, side, NULL,
				"raise max_logical_replication_workers (and max_worker_processes)",
				"no free logical replication worker (%lld of %lld used)",
				iget(s, "workers_used"),
				iget(s, "max_logical_replication_workers"));
		snprintf(check, sizeof(check), "%smax_worker_processes", pfx);
		if (iget(s, "max_worker_processes") <
		    iget(s, "max_logical_replication_workers") + 1)
			finding(f, 1, check, side, NULL,
				"max_worker_processes at least max_logical_replication_workers + 1",
				"max_worker_processes %lld is below "
				"max_logical_replication_workers %lld + 1 "
				"(the launcher)",
				iget(s, "max_worker_processes"),
				iget(s, "max_logical_replication_workers"));
	}
}

/* table_names - the "schema.name" of the rows of tables for which pred. */
static json_t *table_names(json_t *tables, int (*pred)(json_t *))
{
	json_t *out = json_array(), *t;
	size_t i;

	json_array_foreach(tables, i, t) if (pred(t))
		json_array_append(out, json_object_get(t, "qname"));
	return out;
}

static int no_identity(json_t *t)
{
	const char *ri = json_string_value(json_object_get(t, "replident"));

	return ri != NULL && (strcmp(ri, "n") == 0 || (strcmp(ri, "d") == 0 && !bget(t, "pk")));
}

static int unlogged(json_t *t)
{
	const char *p = json_string_value(json_object_get(t, "persistence"));

	return p != NULL && strcmp(p, "u") == 0;
}

static int not_owned(json_t *t)
{
	return !bget(t, "owned");
}

/* finding_list - a finding about the tables in list (stolen) when any. */
static void finding_list(finding_ctx *f, json_t *list, const char *check, const char *side,
			 const char *fix, const char *what)
{
	if (json_array_size(list) == 0) {
		json_decref(list);
		return;
	}
	finding(f, 0, check, side, list, fix, "%zu %s", json_array_size(list), what);
}

/* lg_fn_preflight - see the file comment. */
json_t *lg_fn_preflight(pgm_call *call, json_t *args)
{
	pgm_pg *pub = NULL, *sub = NULL;
	json_t *ps = NULL, *ss = NULL, *ptab = NULL, *stab = NULL, *out = NULL, *t, *list;
	json_t *tables_arg = json_object_get(args, "tables");
	finding_ctx f = {json_array(), json_array(), json_object_get(args, "accept")};
	int reverse = 1, copy_data = 1, sync;
	char *tables_json = NULL;
	const char *p[1], *all[1] = {NULL};
	size_t i, j;

	if (pgm_arg_bool(call, args, "reverse", 1, &reverse) < 0 ||
	    pgm_arg_bool(call, args, "copy_data", 1, &copy_data) < 0)
		goto done;
	if (f.accept != NULL && !json_is_array(f.accept) && !json_is_null(f.accept)) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"accept\" must be an array of check names");
		goto done;
	}
	if (tables_arg != NULL && !json_is_null(tables_arg)) {
		if (!json_is_array(tables_arg)) {
			pgm_fail(call, "args.invalid", 0, "argument \"tables\" must be an array");
			goto done;
		}
		tables_json = json_dumps(tables_arg, JSON_COMPACT);
	}
	p[0] = tables_json;
	pub = lg_connect(call, args, "publisher");
	if (pub == NULL)
		goto done;
	sub = lg_connect(call, args, "subscriber");
	if (sub == NULL)
		goto done;
	if ((ps = lg_row(call, pub, SERVER_SQL, 0, NULL)) == NULL ||
	    (ss = lg_row(call, sub, SERVER_SQL, 0, NULL)) == NULL ||
	    (ptab = pgm_pg_query_json(call, pub, TABLES_SQL, 1, p)) == NULL ||
	    (stab = pgm_pg_query_json(call, sub, TABLES_SQL, 1, all)) == NULL)
		goto done;
	sync = (int)iget(ss, "max_sync_workers_per_subscription");
	check_server(&f, ps, "publisher", 1, 0, sync, 0);
	check_server(&f, ss, "subscriber", 0, 1, sync, 0);
	if (reverse) {
		check_server(&f, ss, "subscriber", 1, 0, 0, 1);
		check_server(&f, ps, "publisher", 0, 1, 0, 1);
	}
	if (iget(ss, "version_num") / 10000 < iget(ps, "version_num") / 10000)
		finding(&f, 1, "versions", "subscriber", NULL,
			"a target at least as new as the source is the usual path",
			"the subscriber (%s) is older than the publisher (%s)",
			json_string_value(json_object_get(ss, "version")),
			json_string_value(json_object_get(ps, "version")));
	if (tables_arg != NULL && json_array_size(ptab) != json_array_size(tables_arg))
		finding(&f, 0, "tables", "publisher", json_incref(tables_arg),
			"name existing tables (schema.table), not partitions",
			"%zu tables were named, %zu of them exist", json_array_size(tables_arg),
			json_array_size(ptab));
	finding_list(
		&f, table_names(ptab, no_identity), "replica_identity", "publisher",
		"add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL (every UPDATE and "
		"DELETE then compares whole rows on the target)",
		"tables without a primary key or replica identity: their UPDATE and DELETE "
		"fail on the publisher once published");
	finding_list(&f, table_names(ptab, unlogged), "unlogged_tables", "publisher",
		     "ALTER TABLE ... SET LOGGED, or move these tables another way",
		     "unlogged tables: not replicated (their rows never reach the target)");
	if (!bget(ps, "superuser"))
		finding_list(&f, table_names(ptab, not_owned), "table_ownership", "publisher",
			     "publish as the tables' owner or a superuser",
			     "tables the role does not own: it cannot add them to a publication");
	if (tables_arg == NULL && !bget(ps, "superuser"))
		finding(&f, 0, "publication_privilege", "publisher", NULL,
			"list the tables (tables = {...}) or use a superuser",
			"a publication FOR ALL TABLES needs a superuser");
	/* Tables missing on the subscriber. */
	list = json_array();
	json_array_foreach(ptab, i, t)
	{
		int found = 0;
		json_t *u;

		json_array_foreach(stab, j, u) if (json_equal(json_object_get(t, "qname"),
							      json_object_get(u, "qname"))) found =
			1;
		if (!found)
			json_array_append(list, json_object_get(t, "qname"));
	}
	finding_list(&f, list, "missing_on_target", "subscriber",
		     "restore the schema on the target first (pgdump.restore sections pre-data)",
		     "published tables missing on the subscriber");
	/* Target tables holding rows: the initial copy would collide with them. */
	if (copy_data) {
		list = json_array();
		json_array_foreach(ptab, i, t)
		{
			json_t *u, *r;
			char *sql = NULL;

			json_array_foreach(stab, j, u)
			{
				if (!json_equal(json_object_get(t, "qname"),
						json_object_get(u, "qname")))
					continue;
				if (asprintf(&sql, "SELECT EXISTS (SELECT 1 FROM %s) AS x",
					     json_string_value(json_object_get(u, "qname"))) < 0) {
					json_decref(list);
					pgm_fail(call, "pgmove.nomem", 0, "out of memory");
					goto done;
				}
				r = lg_row(call, sub, sql, 0, NULL);
				free(sql);
				if (r == NULL) {
					json_decref(list);
					goto done;
				}
				if (bget(r, "x"))
					json_array_append(list, json_object_get(t, "qname"));
				json_decref(r);
			}
		}
		finding_list(&f, list, "target_not_empty", "subscriber",
			     "empty them (the initial copy inserts every row) or subscribe with "
			     "copy_data = false",
			     "target tables already hold rows");
	}
	if (iget(ps, "large_objects") > 0)
		finding(&f, 0, "large_objects", "publisher", NULL,
			"move them with pg_dump --large-objects at the fence, or accept the loss",
			"%lld large objects: not replicated", iget(ps, "large_objects"));
	if (iget(ps, "prepared_transactions") > 0)
		finding(&f, 0, "prepared_transactions", "publisher", NULL,
			"COMMIT PREPARED or ROLLBACK PREPARED them",
			"%lld prepared transactions are open", iget(ps, "prepared_transactions"));
	if (iget(ps, "sequences") > 0)
		finding(&f, 1, "sequences", "publisher", NULL,
			"nothing: logical.fence sets the target's sequences after writes stop",
			"%lld sequences: not replicated", iget(ps, "sequences"));
	if (iget(ps, "materialized_views") > 0)
		finding(&f, 1, "materialized_views", "publisher", NULL,
			"REFRESH MATERIALIZED VIEW on the target after cutover",
			"%lld materialized views: not replicated", iget(ps, "materialized_views"));
	finding(&f, 1, "ddl", "publisher", NULL,
		"freeze schema changes until cutover; apply any change to the target first, then "
		"the source",
		"DDL is not replicated: a column added on the source alone stops the apply");
	out = json_pack("{s:b, s:O, s:O, s:O, s:O, s:I}", "ok", json_array_size(f.problems) == 0,
			"problems", f.problems, "warnings", f.warnings, "publisher", ps,
			"subscriber", ss, "tables", (json_int_t)json_array_size(ptab));
	for (i = 0; i < json_array_size(f.problems); i++) {
		json_t *e = json_array_get(f.problems, i);

		pgm_warn("%s: %s: %s (fix: %s)", json_string_value(json_object_get(e, "side")),
			 json_string_value(json_object_get(e, "check")),
			 json_string_value(json_object_get(e, "detail")),
			 json_string_value(json_object_get(e, "fix")));
	}
done:
	free(tables_json);
	json_decref(f.problems);
	json_decref(f.warnings);
	json_decref(ps);
	json_decref(ss);
	json_decref(ptab);
	json_decref(stab);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}
