/*
 * plugins/pg/pg.c - the pg plugin: plain PostgreSQL work a runbook needs
 * around a migration. query (rows as JSON, read-only), exec, assess (the
 * pre-migration checks of the seeds and more), set_read_only /
 * set_read_write for a database (optionally terminating its sessions),
 * sync_sequences (target at least the source's values) and analyze.
 *
 * Every function opens its own connection(s) through the host (libpq,
 * retries, cancellation, password-free messages) and closes them before it
 * returns.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "pgmove/plugin.h"

#define PG_APP "pg"

/* Schemas that never hold user objects. */
#define USER_SCHEMA_FILTER \
	"n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') " \
	"AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'"

/* Objects that belong to an extension are the extension's business. */
#define NOT_EXTENSION_MEMBER(classid, oid) \
	"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '" classid \
	"'::pg_catalog.regclass AND d.objid = " oid " AND d.deptype = 'e')"

/* connect_arg - connects to the conninfo given in args[name]. NULL with the
 * error set. */
static pgm_pg *connect_arg(pgm_call *call, json_t *args, const char *name)
{
	const char *conninfo = pgm_arg_string(call, args, name, NULL, 1);

	if (conninfo == NULL)
		return NULL;
	return pgm_pg_connect(call, conninfo, PG_APP);
}

/* params_from_json - text parameters for a statement from a JSON array
 * (strings as they are, numbers and booleans in their JSON text, objects
 * and arrays as JSON, null as SQL NULL). Fills *out (caller frees each
 * element and the array with params_free). -1 with the error set. */
static int params_from_json(pgm_call *call, json_t *arr, char ***out, int *n)
{
	size_t i, len;
	char **p;

	*out = NULL;
	*n = 0;
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		pgm_fail(call, "args.invalid", 0, "argument \"params\" must be an array");
		return -1;
	}
	len = json_array_size(arr);
	if (len > 65535) {
		pgm_fail(call, "args.invalid", 0, "argument \"params\" has too many elements");
		return -1;
	}
	p = calloc(len ? len : 1, sizeof(*p));
	if (p == NULL) {
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	for (i = 0; i < len; i++) {
		json_t *v = json_array_get(arr, i);

		if (json_is_null(v))
			p[i] = NULL;
		else if (json_is_string(v))
			p[i] = strdup(json_string_value(v));
		else if (json_is_true(v))
			p[i] = strdup("true");
		else if (json_is_false(v))
			p[i] = strdup("false");
		else
			p[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	*out = p;
	*n = (int)len;
	return 0;
}

static void params_free(char **p, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(p[i]);
	free(p);
}

/* ------------------------------------------------------------------------
 * query
 * ---------------------------------------------------------------------- */

/* fn_query - one read-only statement; rows as an array of objects. The
 * session is read-only, so a query that writes fails instead of writing. */
static json_t *fn_query(pgm_call *call, json_t *args)
{
	const char *sql = pgm_arg_string(call, args, "sql", NULL, 1);
	long long max_rows;
	char **params = NULL;
	int nparams = 0;
	pgm_pg *pg = NULL;
	json_t *rows = NULL, *out = NULL;

	if (sql == NULL ||
	    pgm_arg_int(call, args, "max_rows", 100000, 0, &max_rows) < 0 ||
	    params_from_json(call, json_object_get(args, "params"), &params, &nparams) < 0)
		goto done;
	pg = connect_arg(call, args, "conninfo");
	if (pg == NULL)
		goto done;
	if (pgm_pg_command(call, pg, "SET default_transaction_read_only = on", 0, NULL) < 0)
		goto done;
	rows = pgm_pg_query_json(call, pg, sql, nparams, (const char *const *)params);
	if (rows == NULL)
		goto done;
	if (max_rows > 0 && json_array_size(rows) > (size_t)max_rows) {
		pgm_fail(call, "pg.too_many_rows", 0,
			 "query returned %zu rows, more than max_rows=%lld; add a LIMIT "
			 "or aggregate on the server",
			 json_array_size(rows), max_rows);
		goto done;
	}
	out = json_pack("{s:O, s:I}", "rows", rows, "count", (json_int_t)json_array_size(rows));
done:
	json_decref(rows);
	params_free(params, nparams);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * exec
 * ---------------------------------------------------------------------- */

/* exec_one - runs one statement; appends {"command","rows"} to results. */
static int exec_one(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		    char **params, json_t *results)
{
	PGresult *res = pgm_pg_exec(call, pg, sql, nparams, (const char *const *)params);
	const char *tuples;

	if (res == NULL)
		return -1;
	tuples = PQcmdTuples(res);
	json_array_append_new(results,
			      json_pack("{s:s, s:I}", "command", PQcmdStatus(res), "rows",
					(json_int_t)(tuples && *tuples ? atoll(tuples) : 0)));
	PQclear(res);
	return 0;
}

/* fn_exec - one statement (with params) or a list of statements run in one
 * transaction. Returns {"results": [{"command", "rows"}...], "rows": total}. */
static json_t *fn_exec(pgm_call *call, json_t *args)
{
	json_t *sqlv = json_object_get(args, "sql");
	char **params = NULL;
	int nparams = 0, intx = 0;
	pgm_pg *pg = NULL;
	json_t *results = json_array(), *out = NULL, *r;
	json_int_t total = 0;
	size_t i;

	if (!json_is_string(sqlv) && !json_is_array(sqlv)) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"sql\" is required: a statement or an array of statements");
		goto done;
	}
	if (params_from_json(call, json_object_get(args, "params"), &params, &nparams) < 0)
		goto done;
	if (json_is_array(sqlv) && nparams > 0) {
		pgm_fail(call, "args.invalid", 0,
			 "argument \"params\" needs a single statement in \"sql\"");
		goto done;
	}
	pg = connect_arg(call, args, "conninfo");
	if (pg == NULL)
		goto done;
	if (json_is_string(sqlv)) {
		if (exec_one(call, pg, json_string_value(sqlv), nparams, params, results) < 0)
			goto done;
	} else {
		if (pgm_pg_command(call, pg, "BEGIN", 0, NULL) < 0)
			goto done;
		intx = 1;
		for (i = 0; i < json_array_size(sqlv); i++) {
			json_t *s = json_array_get(sqlv, i);

			if (!json_is_string(s)) {
				pgm_fail(call, "args.invalid", 0,
					 "argument \"sql\": element %zu is not a string", i + 1);
				goto done;
			}
			if (exec_one(call, pg, json_string_value(s), 0, NULL, results) < 0)
				goto done;
		}
		if (pgm_pg_command(call, pg, "COMMIT", 0, NULL) < 0)
			goto done;
		intx = 0;
	}
	json_array_foreach(results, i, r)
		total += json_integer_value(json_object_get(r, "rows"));
	out = json_pack("{s:O, s:I}", "results", results, "rows", total);
done:
	if (intx && pg != NULL)
		PQclear(PQexec(pgm_pg_conn(pg), "ROLLBACK")); /* the error is already recorded */
	json_decref(results);
	params_free(params, nparams);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * assess
 * ---------------------------------------------------------------------- */

/* assess_query - runs sql and stores its rows (or first row when one is
 * set) under key in out. -1 with the error set. */
static int assess_query(pgm_call *call, pgm_pg *pg, json_t *out, const char *key,
			const char *sql, int one)
{
	json_t *rows = pgm_pg_query_json(call, pg, sql, 0, NULL);

	if (rows == NULL)
		return -1;
	if (one) {
		json_object_set(out, key, json_array_size(rows) ? json_array_get(rows, 0) : json_null());
		json_decref(rows);
	} else {
		json_object_set_new(out, key, rows);
	}
	return 0;
}

static void add_warning(json_t *warnings, const char *fmt, ...) PGM_PRINTF(2, 3);
static void add_warning(json_t *warnings, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(warnings, json_string(buf));
}

/* fn_assess - what a migration must know about a database before it
 * starts (checklist 000 section 3, 003's data-type assessment): version,
 * size, encoding, extensions, C-language functions, tables without primary
 * keys, large objects, unlogged and foreign tables, replication settings,
 * roles, the biggest tables. "warnings" lists what needs a decision. */
static json_t *fn_assess(pgm_call *call, json_t *args)
{
	pgm_pg *pg = connect_arg(call, args, "conninfo");
	json_t *out = NULL, *w, *v;
	size_t n;

	if (pg == NULL)
		return NULL;
	out = json_object();
	w = json_array();
	if (pgm_pg_command(call, pg, "SET default_transaction_read_only = on", 0, NULL) < 0)
		goto fail;
	if (assess_query(call, pg, out, "server",
			 "SELECT current_setting('server_version') AS version, "
			 "current_setting('server_version_num')::int AS version_num, "
			 "current_database() AS database, current_user AS \"user\", "
			 "pg_database_size(current_database()) AS size_bytes, "
			 "pg_size_pretty(pg_database_size(current_database())) AS size, "
			 "pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, "
			 "d.datctype AS ctype, "
			 "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser "
			 "FROM pg_database d WHERE d.datname = current_database()",
			 1) < 0)
		goto fail;
	if (assess_query(call, pg, out, "extensions",
			 "SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema "
			 "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
			 "ORDER BY 1",
			 0) < 0)
		goto fail;
	/* The seeds' "SELECT proname FROM pg_proc WHERE probin IS NOT NULL",
	 * without what extensions bring (those come back with the extension). */
	if (assess_query(call, pg, out, "c_functions",
			 "SELECT n.nspname AS schema, p.proname AS name, l.lanname AS language, "
			 "p.probin AS library "
			 "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
			 "JOIN pg_language l ON l.oid = p.prolang "
			 "WHERE (p.probin IS NOT NULL OR l.lanname = 'c') AND " USER_SCHEMA_FILTER
			 " AND " NOT_EXTENSION_MEMBER("pg_proc", "p.oid") " ORDER BY 1, 2",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "languages",
			 "SELECT lanname AS name FROM pg_language "
			 "WHERE lanname NOT IN ('internal', 'c', 'sql', 'plpgsql') ORDER BY 1",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "tables_without_primary_key",
			 "SELECT n.nspname AS schema, c.relname AS name, "
			 "c.reltuples::bigint AS estimated_rows "
			 "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			 "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND " USER_SCHEMA_FILTER
			 " AND " NOT_EXTENSION_MEMBER("pg_class", "c.oid")
			 " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid "
			 "AND k.contype = 'p') ORDER BY 1, 2",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "unlogged_tables",
			 "SELECT n.nspname AS schema, c.relname AS name "
			 "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			 "WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' AND "
			 USER_SCHEMA_FILTER " ORDER BY 1, 2",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "foreign_tables",
			 "SELECT n.nspname AS schema, c.relname AS name, s.srvname AS server "
			 "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			 "JOIN pg_foreign_table f ON f.ftrelid = c.oid "
			 "JOIN pg_foreign_server s ON s.oid = f.ftserver ORDER BY 1, 2",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "large_objects",
			 "SELECT count(*) AS count FROM pg_largeobject_metadata", 1) < 0)
		goto fail;
	if (assess_query(call, pg, out, "tablespaces",
			 "SELECT spcname AS name FROM pg_tablespace "
			 "WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "replication",
			 "SELECT current_setting('wal_level') AS wal_level, "
			 "current_setting('max_replication_slots')::int AS max_replication_slots, "
			 "current_setting('max_wal_senders')::int AS max_wal_senders, "
			 "(SELECT count(*) FROM pg_replication_slots) AS slots, "
			 "(SELECT count(*) FROM pg_publication) AS publications, "
			 "(SELECT count(*) FROM pg_stat_replication) AS replicas, "
			 "pg_is_in_recovery() AS in_recovery",
			 1) < 0)
		goto fail;
	if (assess_query(call, pg, out, "roles",
			 "SELECT rolname AS name, rolsuper AS superuser, rolcanlogin AS login, "
			 "rolcreatedb AS createdb, rolcreaterole AS createrole, "
			 "rolreplication AS replication, "
			 "ARRAY(SELECT b.rolname FROM pg_auth_members m "
			 "JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)::text "
			 "AS member_of "
			 "FROM pg_roles r WHERE rolname !~ '^pg_' ORDER BY 1",
			 0) < 0)
		goto fail;
	/* Checklist 000 section 7: the row-count picture, biggest first. */
	if (assess_query(call, pg, out, "tables",
			 "SELECT s.schemaname AS schema, s.relname AS name, s.n_live_tup AS live_rows, "
			 "pg_total_relation_size(s.relid) AS total_bytes "
			 "FROM pg_stat_user_tables s ORDER BY s.n_live_tup DESC, 1, 2 LIMIT 50",
			 0) < 0)
		goto fail;
	if (assess_query(call, pg, out, "connections",
			 "SELECT count(*) AS current, current_setting('max_connections')::int AS max "
			 "FROM pg_stat_activity WHERE backend_type = 'client backend'",
			 1) < 0)
		goto fail;

	v = json_object_get(out, "extensions");
	n = json_array_size(v);
	if (n > 1) /* plpgsql is always there */
		add_warning(w, "%zu extensions installed: check each is available on the target", n);
	if ((n = json_array_size(json_object_get(out, "c_functions"))) > 0)
		add_warning(w, "%zu C-language functions outside extensions: they cannot be "
			       "installed on Aurora/RDS", n);
	if ((n = json_array_size(json_object_get(out, "tables_without_primary_key"))) > 0)
		add_warning(w, "%zu tables without a primary key: logical replication and DMS "
			       "CDC cannot update them; checksums compare them whole", n);
	if ((n = json_array_size(json_object_get(out, "unlogged_tables"))) > 0)
		add_warning(w, "%zu unlogged tables: not replicated, empty after a crash", n);
	if ((n = json_array_size(json_object_get(out, "foreign_tables"))) > 0)
		add_warning(w, "%zu foreign tables: their servers must be reachable from the target", n);
	if ((n = json_array_size(json_object_get(out, "tablespaces"))) > 0)
		add_warning(w, "%zu non-default tablespaces: Aurora has none; restore with "
			       "--no-tablespaces", n);
	v = json_object_get(json_object_get(out, "large_objects"), "count");
	if (json_integer_value(v) > 0)
		add_warning(w, "%lld large objects: DMS does not migrate them; pg_dump does "
			       "(--large-objects)", (long long)json_integer_value(v));
	v = json_object_get(json_object_get(out, "replication"), "wal_level");
	if (json_is_string(v) && strcmp(json_string_value(v), "logical") != 0)
		add_warning(w, "wal_level is %s: logical replication and DMS CDC need 'logical'",
			    json_string_value(v));
	json_object_set_new(out, "warnings", w);
	pgm_pg_close(pg);
	return out;
fail:
	json_decref(w);
	json_decref(out);
	pgm_pg_close(pg);
	return NULL;
}

/* ------------------------------------------------------------------------
 * set_read_only / set_read_write
 * ---------------------------------------------------------------------- */

/* terminate_sessions - terminates the other sessions of database db
 * (except those of the roles in keep). Returns how many, or -1. */
static long long terminate_sessions(pgm_call *call, pgm_pg *pg, const char *db, json_t *keep)
{
	json_t *none = keep ? NULL : json_array();
	char *keep_json = json_dumps(keep ? keep : none, JSON_COMPACT);
	const char *params[2] = { db, keep_json };
	PGresult *res;
	long long n = -1;

	json_decref(none);
	res = pgm_pg_exec(call, pg,
			  "SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid)) "
			  "FROM pg_stat_activity a WHERE a.datname = $1 "
			  "AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' "
			  "AND NOT (a.usename = ANY (ARRAY(SELECT json_array_elements_text($2::json))))",
			  2, params);
	free(keep_json);
	if (res == NULL)
		return -1;
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* set_db_mode - ALTER DATABASE db SET/RESET default_transaction_read_only,
 * then optionally terminates the sessions that still run in the old mode. */
static json_t *set_db_mode(pgm_call *call, json_t *args, int read_only)
{
	pgm_pg *pg = connect_arg(call, args, "conninfo");
	const char *dbarg;
	int terminate = 0;
	char *db = NULL, *qdb = NULL, *sql = NULL;
	json_t *keep = json_object_get(args, "keep_roles"), *out = NULL;
	long long terminated = 0, others = 0;
	PGresult *res;

	if (pg == NULL)
		return NULL;
	dbarg = pgm_arg_string(call, args, "database", NULL, 0);
	if (pgm_failed(call) || pgm_arg_bool(call, args, "terminate", 0, &terminate) < 0)
		goto done;
	if (keep != NULL && !json_is_array(keep) && !json_is_null(keep)) {
		pgm_fail(call, "args.invalid", 0, "argument \"keep_roles\" must be an array of role names");
		goto done;
	}
	if (json_is_null(keep))
		keep = NULL;
	/* This session must be able to write whatever the database default is. */
	if (pgm_pg_command(call, pg, "SET default_transaction_read_only = off", 0, NULL) < 0)
		goto done;
	if (dbarg == NULL) {
		res = pgm_pg_exec(call, pg, "SELECT current_database()", 0, NULL);
		if (res == NULL)
			goto done;
		db = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	} else {
		db = strdup(dbarg);
	}
	qdb = pgm_pg_quote_ident(pg, db);
	if (qdb == NULL) {
		pgm_fail(call, "args.invalid", 0, "bad database name");
		goto done;
	}
	if (asprintf(&sql, read_only ? "ALTER DATABASE %s SET default_transaction_read_only = on"
				     : "ALTER DATABASE %s RESET default_transaction_read_only",
		     qdb) < 0) {
		sql = NULL;
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		goto done;
	}
	if (pgm_pg_command(call, pg, sql, 0, NULL) < 0)
		goto done;
	if (terminate) {
		terminated = terminate_sessions(call, pg, db, keep);
		if (terminated < 0)
			goto done;
	}
	{
		const char *p[1] = { db };

		res = pgm_pg_exec(call, pg,
				  "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
				  "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
				  1, p);
		if (res == NULL)
			goto done;
		others = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (others > 0 && !terminate)
		pgm_notice("database %s: %lld existing sessions keep their old mode until they "
			   "reconnect (terminate=true ends them)",
			   db, others);
	out = json_pack("{s:s, s:b, s:I, s:I}", "database", db, "read_only", read_only,
			"terminated", (json_int_t)terminated, "other_sessions", (json_int_t)others);
done:
	free(sql);
	free(qdb);
	free(db);
	pgm_pg_close(pg);
	return out;
}

static json_t *fn_set_read_only(pgm_call *call, json_t *args)
{
	return set_db_mode(call, args, 1);
}

static json_t *fn_set_read_write(pgm_call *call, json_t *args)
{
	return set_db_mode(call, args, 0);
}

/* ------------------------------------------------------------------------
 * sync_sequences
 * ---------------------------------------------------------------------- */

static const char SEQ_SQL[] =
	"SELECT schemaname AS schema, sequencename AS name, last_value::text AS last_value "
	"FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
	"ORDER BY 1, 2";

/* fn_sync_sequences - sets each target sequence to at least the source's
 * last value (plus margin). Never moves a sequence backwards. */
static json_t *fn_sync_sequences(pgm_call *call, json_t *args)
{
	pgm_pg *src = NULL, *tgt = NULL;
	json_t *srows = NULL, *trows = NULL, *list = json_array(), *out = NULL, *row;
	long long margin;
	long changed = 0, missing = 0;
	size_t i, j;

	if (pgm_arg_int(call, args, "margin", 0, 0, &margin) < 0)
		goto done;
	if (margin < 0) {
		pgm_fail(call, "args.invalid", 0, "argument \"margin\" must not be negative");
		goto done;
	}
	src = connect_arg(call, args, "source");
	if (src == NULL)
		goto done;
	tgt = connect_arg(call, args, "target");
	if (tgt == NULL)
		goto done;
	srows = pgm_pg_query_json(call, src, SEQ_SQL, 0, NULL);
	if (srows == NULL)
		goto done;
	trows = pgm_pg_query_json(call, tgt, SEQ_SQL, 0, NULL);
	if (trows == NULL)
		goto done;
	if (pgm_pg_command(call, tgt, "SET default_transaction_read_only = off", 0, NULL) < 0)
		goto done;
	json_array_foreach(srows, i, row) {
		const char *schema = json_string_value(json_object_get(row, "schema"));
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *sv = json_object_get(row, "last_value"), *tv = NULL, *trow, *e;
		int found = 0;
		char *qs, *qn, *qual = NULL, want[32];
		long long s, t;

		json_array_foreach(trows, j, trow) {
			if (strcmp(json_string_value(json_object_get(trow, "schema")), schema) == 0 &&
			    strcmp(json_string_value(json_object_get(trow, "name")), name) == 0) {
				found = 1;
				tv = json_object_get(trow, "last_value");
				break;
			}
		}
		e = json_pack("{s:s, s:s, s:O}", "schema", schema, "name", name, "source", sv);
		json_array_append_new(list, e);
		if (!found) {
			json_object_set_new(e, "status", json_string("missing on target"));
			missing++;
			continue;
		}
		json_object_set(e, "target_before", tv);
		if (!json_is_string(sv)) { /* never used on the source */
			json_object_set_new(e, "status", json_string("unused on source"));
			continue;
		}
		s = atoll(json_string_value(sv)) + margin;
		t = json_is_string(tv) ? atoll(json_string_value(tv)) : 0;
		if (json_is_string(tv) && t >= s) {
			json_object_set_new(e, "status", json_string("ok"));
			continue;
		}
		qs = pgm_pg_quote_ident(tgt, schema);
		qn = pgm_pg_quote_ident(tgt, name);
		if (qs == NULL || qn == NULL || asprintf(&qual, "%s.%s", qs, qn) < 0) {
			qual = NULL;
			free(qs);
			free(qn);
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		free(qs);
		free(qn);
		snprintf(want, sizeof(want), "%lld", s);
		{
			const char *p[2] = { qual, want };

			if (pgm_pg_command(call, tgt, "SELECT setval($1::regclass, $2::bigint, true)",
					   2, p) < 0) {
				free(qual);
				goto done;
			}
		}
		free(qual);
		json_object_set_new(e, "target_after", json_string(want));
		json_object_set_new(e, "status", json_string("advanced"));
		changed++;
	}
	out = json_pack("{s:O, s:i, s:i, s:b}", "sequences", list, "changed", (int)changed,
			"missing", (int)missing, "complete", missing == 0);
done:
	json_decref(list);
	json_decref(srows);
	json_decref(trows);
	pgm_pg_close(src);
	pgm_pg_close(tgt);
	return out;
}

/* ------------------------------------------------------------------------
 * analyze
 * ---------------------------------------------------------------------- */

/* fn_analyze - ANALYZE of the given tables, or of every user table the
 * connected role may analyze (checklist 000 section 10). */
static json_t *fn_analyze(pgm_call *call, json_t *args)
{
	pgm_pg *pg = connect_arg(call, args, "conninfo");
	json_t *tables = json_object_get(args, "tables"), *list = NULL, *out = NULL, *t;
	long long t0 = pgm_now_ms();
	size_t i, n;

	if (pg == NULL)
		return NULL;
	if (tables != NULL && !json_is_null(tables)) {
		if (!json_is_array(tables)) {
			pgm_fail(call, "args.invalid", 0, "argument \"tables\" must be an array");
			goto done;
		}
		list = json_array();
		json_array_foreach(tables, i, t) {
			if (!json_is_string(t)) {
				pgm_fail(call, "args.invalid", 0, "argument \"tables\": element %zu "
					 "is not a string", i + 1);
				goto done;
			}
			json_array_append_new(list, json_pack("{s:s}", "name", json_string_value(t)));
		}
	} else {
		/* Quoted names of the tables this role owns (ANALYZE skips the rest
		 * with a warning anyway). */
		list = pgm_pg_query_json(
			call, pg,
			"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name "
			"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			"WHERE c.relkind IN ('r', 'm', 'p') AND " USER_SCHEMA_FILTER
			" AND pg_has_role(c.relowner, 'USAGE') ORDER BY 1",
			0, NULL);
		if (list == NULL)
			goto done;
	}
	if (pgm_pg_command(call, pg, "SET default_transaction_read_only = off", 0, NULL) < 0)
		goto done;
	n = json_array_size(list);
	json_array_foreach(list, i, t) {
		char *sql = NULL;
		const char *name = json_string_value(json_object_get(t, "name"));

		if (pgm_check_cancel(call) < 0)
			goto done;
		if (tables != NULL && !json_is_null(tables)) {
			/* Names given by the user: resolve them safely through regclass. */
			const char *p[1] = { name };
			PGresult *res = pgm_pg_exec(call, pg, "SELECT $1::regclass::text", 1, p);

			if (res == NULL)
				goto done;
			if (asprintf(&sql, "ANALYZE %s", PQgetvalue(res, 0, 0)) < 0)
				sql = NULL;
			PQclear(res);
		} else if (asprintf(&sql, "ANALYZE %s", name) < 0) {
			sql = NULL;
		}
		if (sql == NULL) {
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto done;
		}
		if (pgm_pg_command(call, pg, sql, 0, NULL) < 0) {
			free(sql);
			goto done;
		}
		free(sql);
		pgm_progress(call, (double)(i + 1), (double)n, "tables", name);
	}
	out = json_pack("{s:I, s:I}", "tables", (json_int_t)n, "duration_ms",
			(json_int_t)(pgm_now_ms() - t0));
done:
	json_decref(list);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ---------------------------------------------------------------------- */

static const pgm_param query_params[] = {
	{ "conninfo", "conninfo", 1, 1, "libpq connection string" },
	{ "sql", "string", 1, 0, "one statement; runs in a read-only session" },
	{ "params", "array", 0, 0, "values for $1, $2, ... (null = SQL NULL)" },
	{ "max_rows", "integer", 0, 0, "fail when more rows come back (default 100000; 0 = no limit)" },
	{ NULL, NULL, 0, 0, NULL }
};
static const pgm_param exec_params[] = {
	{ "conninfo", "conninfo", 1, 1, "libpq connection string" },
	{ "sql", "any", 1, 0, "a statement, or an array of statements run in one transaction" },
	{ "params", "array", 0, 0, "values for $1, $2, ... of a single statement" },
	{ NULL, NULL, 0, 0, NULL }
};
static const pgm_param conn_params[] = {
	{ "conninfo", "conninfo", 1, 1, "libpq connection string" },
	{ NULL, NULL, 0, 0, NULL }
};
static const pgm_param mode_params[] = {
	{ "conninfo", "conninfo", 1, 1, "libpq connection string" },
	{ "database", "string", 0, 0, "database to change (default: the connected one)" },
	{ "terminate", "boolean", 0, 0, "terminate the database's other sessions (default false)" },
	{ "keep_roles", "array", 0, 0, "roles whose sessions are never terminated" },
	{ NULL, NULL, 0, 0, NULL }
};
static const pgm_param seq_params[] = {
	{ "source", "conninfo", 1, 1, "source connection string" },
	{ "target", "conninfo", 1, 1, "target connection string" },
	{ "margin", "integer", 0, 0, "added to the source's value (default 0)" },
	{ NULL, NULL, 0, 0, NULL }
};
static const pgm_param analyze_params[] = {
	{ "conninfo", "conninfo", 1, 1, "libpq connection string" },
	{ "tables", "array", 0, 0, "tables to analyze (default: all user tables the role owns)" },
	{ NULL, NULL, 0, 0, NULL }
};

static const pgm_function pg_functions[] = {
	{ "query", fn_query, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "run a read-only query; rows as JSON objects", query_params },
	{ "exec", fn_exec, 0, "run a statement (or several in one transaction)", exec_params },
	{ "assess", fn_assess, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	  "pre-migration assessment: version, size, extensions, C functions, tables "
	  "without primary keys, large objects, replication settings",
	  conn_params },
	{ "set_read_only", fn_set_read_only, PGM_FN_IDEMPOTENT,
	  "make a database read-only for new sessions (optionally terminate the others)",
	  mode_params },
	{ "set_read_write", fn_set_read_write, PGM_FN_IDEMPOTENT,
	  "make a database writable again (undoes set_read_only)", mode_params },
	{ "sync_sequences", fn_sync_sequences, PGM_FN_IDEMPOTENT,
	  "advance the target's sequences to at least the source's values", seq_params },
	{ "analyze", fn_analyze, PGM_FN_IDEMPOTENT, "ANALYZE user tables", analyze_params },
	{ NULL, NULL, 0, NULL, NULL }
};

PGMOVE_PLUGIN(pg) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "pg",
	.version = "0.1.0",
	.summary = "PostgreSQL queries, assessment, read-only switch, sequences, ANALYZE",
	.functions = pg_functions,
};
