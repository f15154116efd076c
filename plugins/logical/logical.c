/*
 * plugins/logical/logical.c - the logical plugin: native PostgreSQL logical
 * replication for zero-downtime migrations. This file holds the shared
 * helpers, publications and subscriptions (create, adopt after a crash,
 * drop with their slots), sequence synchronisation and the descriptor;
 * logical_preflight.c the checks before anything is created,
 * logical_state.c the state, LSN positions and the cutover fence.
 *
 * Every function opens its own connections through the host (libpq,
 * retries, cancellation, password-free messages) and closes them before it
 * returns. "publisher" is the server whose changes are replicated (the
 * source, or the new primary for reverse replication), "subscriber" the
 * one that applies them.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "logical.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

pgm_pg *lg_connect(pgm_call *call, json_t *args, const char *name)
{
	const char *conninfo = pgm_arg_string(call, args, name, NULL, 1);

	if (conninfo == NULL)
		return NULL;
	return pgm_pg_connect(call, conninfo, LG_APP);
}

const char *lg_name_arg(pgm_call *call, json_t *args, const char *name, int required)
{
	const char *v = pgm_arg_string(call, args, name, NULL, required);
	size_t i, n;

	if (v == NULL)
		return NULL;
	n = strlen(v);
	if (n == 0 || n > 63) {
		pgm_fail(call, "args.invalid", 0, "argument \"%s\" must have 1 to 63 characters",
			 name);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
			pgm_fail(call, "args.invalid", 0,
				 "argument \"%s\": \"%s\" is not a valid name (lower-case letters, "
				 "digits and _ only)",
				 name, v);
			return NULL;
		}
	}
	return v;
}

json_t *lg_row(pgm_call *call, pgm_pg *pg, const char *sql, int nparams, const char *const *params)
{
	json_t *rows = pgm_pg_query_json(call, pg, sql, nparams, params), *row;

	if (rows == NULL)
		return NULL;
	row = json_array_size(rows) ? json_incref(json_array_get(rows, 0)) : json_null();
	json_decref(rows);
	return row;
}

uint64_t lg_lsn_parse(const char *text)
{
	unsigned int hi, lo;

	if (text == NULL || sscanf(text, "%X/%X", &hi, &lo) != 2)
		return 0;
	return ((uint64_t)hi << 32) | lo;
}

const char *lg_lsn_format(uint64_t lsn, char *buf, size_t len)
{
	snprintf(buf, len, "%X/%X", (unsigned int)(lsn >> 32), (unsigned int)lsn);
	return buf;
}

uint64_t lg_json_lsn(json_t *obj, const char *key)
{
	return lg_lsn_parse(json_string_value(json_object_get(obj, key)));
}

int lg_commandf(pgm_call *call, pgm_pg *pg, const char *fmt, ...)
{
	char *sql = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&sql, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		pgm_fail(call, "pgmove.nomem", 0, "out of memory");
		return -1;
	}
	rc = pgm_pg_command(call, pg, sql, 0, NULL);
	free(sql);
	return rc;
}

int lg_writable_session(pgm_call *call, pgm_pg *pg)
{
	return pgm_pg_command(call, pg, "SET default_transaction_read_only = off", 0, NULL);
}

/* ------------------------------------------------------------------------
 * Sequences (not replicated by logical replication)
 * ---------------------------------------------------------------------- */

static const char SEQ_SQL[] =
	"SELECT schemaname AS schema, sequencename AS name, last_value::text AS last_value "
	"FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
	"ORDER BY 1, 2";

json_t *lg_sync_sequences(pgm_call *call, pgm_pg *pub, pgm_pg *sub, long long margin, int *changed,
			  int *missing)
{
	json_t *srows = NULL, *trows = NULL, *list = json_array(), *row;
	size_t i, j;

	*changed = *missing = 0;
	srows = pgm_pg_query_json(call, pub, SEQ_SQL, 0, NULL);
	if (srows == NULL)
		goto fail;
	trows = pgm_pg_query_json(call, sub, SEQ_SQL, 0, NULL);
	if (trows == NULL || lg_writable_session(call, sub) < 0)
		goto fail;
	json_array_foreach(srows, i, row)
	{
		const char *schema = json_string_value(json_object_get(row, "schema"));
		const char *name = json_string_value(json_object_get(row, "name"));
		json_t *sv = json_object_get(row, "last_value"), *tv = NULL, *trow, *e;
		char *qs, *qn, *qual = NULL, want[32];
		int found = 0;
		long long s;

		json_array_foreach(trows, j, trow)
		{
			if (strcmp(json_string_value(json_object_get(trow, "schema")), schema) ==
				    0 &&
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
			(*missing)++;
			continue;
		}
		json_object_set(e, "target_before", tv);
		if (!json_is_string(sv)) {
			json_object_set_new(e, "status", json_string("unused on source"));
			continue;
		}
		s = atoll(json_string_value(sv)) + margin;
		if (json_is_string(tv) && atoll(json_string_value(tv)) >= s) {
			json_object_set_new(e, "status", json_string("ok"));
			continue;
		}
		qs = pgm_pg_quote_ident(sub, schema);
		qn = pgm_pg_quote_ident(sub, name);
		if (qs == NULL || qn == NULL || asprintf(&qual, "%s.%s", qs, qn) < 0) {
			free(qs);
			free(qn);
			pgm_fail(call, "pgmove.nomem", 0, "out of memory");
			goto fail;
		}
		free(qs);
		free(qn);
		snprintf(want, sizeof(want), "%lld", s);
		{
			const char *p[2] = {qual, want};
			int rc = pgm_pg_command(
				call, sub, "SELECT setval($1::regclass, $2::bigint, true)", 2, p);

			free(qual);
			if (rc < 0)
				goto fail;
		}
		json_object_set_new(e, "target_after", json_string(want));
		json_object_set_new(e, "status", json_string("advanced"));
		(*changed)++;
	}
	json_decref(srows);
	json_decref(trows);
	return list;
fail:
	json_decref(srows);
	json_decref(trows);
	json_decref(list);
	return NULL;
}

/* ------------------------------------------------------------------------
 * create_publication
 * ---------------------------------------------------------------------- */

/* resolve_tables - the quoted, schema-qualified names of the tables given
 * in args["tables"] ("schema.table" or "table"), sorted, as a new array;
 * an empty array when the argument is absent. NULL with the error set,
 * naming a table that does not exist. */
static json_t *resolve_tables(pgm_call *call, pgm_pg *pg, json_t *args)
{
	json_t *tables = json_object_get(args, "tables"), *out, *t, *row;
	size_t i;

	out = json_array();
	if (tables == NULL || json_is_null(tables))
		return out;
	if (!json_is_array(tables) || json_array_size(tables) == 0) {
		json_decref(out);
		pgm_fail(call, "args.invalid", 0,
			 "argument \"tables\" must be a non-empty array of table names");
		return NULL;
	}
	json_array_foreach(tables, i, t)
	{
		const char *p[1];

		if (!json_is_string(t)) {
			json_decref(out);
			pgm_fail(call, "args.invalid", 0,
				 "argument \"tables\": element %zu is not a string", i + 1);
			return NULL;
		}
		p[0] = json_string_value(t);
		row = lg_row(
			call, pg,
			"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name "
			"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			"WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
			1, p);
		if (row == NULL) {
			json_decref(out);
			return NULL;
		}
		if (!json_is_object(row)) {
			json_decref(row);
			json_decref(out);
			pgm_fail(call, "logical.no_such_table", 0, "%s: table %s does not exist",
				 pgm_pg_describe(pg), p[0]);
			return NULL;
		}
		json_array_append(out, json_object_get(row, "name"));
		json_decref(row);
	}
	return out;
}

/* join_names - "a, b, c" from an array of strings. Caller frees. */
static char *join_names(json_t *arr)
{
	size_t i, len = 1, at = 0;
	json_t *v;
	char *s;

	json_array_foreach(arr, i, v) len += strlen(json_string_value(v)) + 2;
	s = calloc(1, len);
	if (s == NULL)
		return NULL;
	json_array_foreach(arr, i, v)
	{
		const char *n = json_string_value(v);
		size_t nl = strlen(n);

		if (i > 0) {
			memcpy(s + at, ", ", 2);
			at += 2;
		}
		memcpy(s + at, n, nl);
		at += nl;
	}
	s[at] = '\0';
	return s;
}

/* publication_tables - the quoted names of the tables a publication holds
 * now, sorted (new array), NULL with the error set. */
static json_t *publication_tables(pgm_call *call, pgm_pg *pg, const char *name)
{
	const char *p[1] = {name};
	json_t *rows, *out, *r;
	size_t i;

	rows = pgm_pg_query_json(
		call, pg,
		"SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name "
		"FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
		1, p);
	if (rows == NULL)
		return NULL;
	out = json_array();
	json_array_foreach(rows, i, r) json_array_append(out, json_object_get(r, "name"));
	json_decref(rows);
	return out;
}

/* same_set - whether two arrays of strings hold the same strings. */
static int same_set(json_t *a, json_t *b)
{
	size_t i, j;
	json_t *x, *y;

	if (json_array_size(a) != json_array_size(b))
		return 0;
	json_array_foreach(a, i, x)
	{
		int found = 0;

		json_array_foreach(b, j, y) if (json_equal(x, y)) found = 1;
		if (!found)
			return 0;
	}
	return 1;
}

/* fn_create_publication - a publication of all tables, or of the given
 * ones. An existing publication of the same name is adopted when it has the
 * same definition (a re-run after a crash), refused otherwise. */
static json_t *fn_create_publication(pgm_call *call, json_t *args)
{
	const char *name = lg_name_arg(call, args, "name", 1);
	pgm_pg *pg = NULL;
	json_t *want = NULL, *have = NULL, *row = NULL, *out = NULL;
	int created = 0, all;
	char *list = NULL;

	if (name == NULL)
		return NULL;
	pg = lg_connect(call, args, "conninfo");
	if (pg == NULL)
		return NULL;
	want = resolve_tables(call, pg, args);
	if (want == NULL || lg_writable_session(call, pg) < 0)
		goto done;
	all = json_array_size(want) == 0;
	{
		const char *p[1] = {name};

		row = lg_row(call, pg, "SELECT puballtables FROM pg_publication WHERE pubname = $1",
			     1, p);
	}
	if (row == NULL)
		goto done;
	if (json_is_object(row)) {
		int have_all = json_is_true(json_object_get(row, "puballtables"));

		have = publication_tables(call, pg, name);
		if (have == NULL)
			goto done;
		if (have_all != all || (!all && !same_set(want, have))) {
			pgm_fail(call, "logical.conflict", 0,
				 "%s: publication %s exists with another definition (%s); drop it "
				 "or choose another name",
				 pgm_pg_describe(pg), name,
				 have_all ? "all tables" : "other tables");
			goto done;
		}
		pgm_info("publication %s exists with the same definition: adopted", name);
	} else {
		if (all) {
			if (lg_commandf(call, pg, "CREATE PUBLICATION %s FOR ALL TABLES", name) < 0)
				goto done;
		} else {
			list = join_names(want);
			if (list == NULL) {
				pgm_fail(call, "pgmove.nomem", 0, "out of memory");
				goto done;
			}
			if (lg_commandf(call, pg, "CREATE PUBLICATION %s FOR TABLE %s", name,
					list) < 0)
				goto done;
		}
		created = 1;
		have = publication_tables(call, pg, name);
		if (have == NULL)
			goto done;
	}
	out = json_pack("{s:s, s:b, s:b, s:b, s:O, s:I}", "name", name, "created", created,
			"adopted", !created, "all_tables", all, "tables", have, "count",
			(json_int_t)json_array_size(have));
done:
	free(list);
	json_decref(row);
	json_decref(want);
	json_decref(have);
	pgm_pg_close(pg);
	return out;
}

/* ------------------------------------------------------------------------
 * create_subscription
 * ---------------------------------------------------------------------- */

/* drop_slot - drops a replication slot on pg if it exists, first ending
 * the walsender that holds it. Sets *dropped. 0 or -1. */
static int drop_slot(pgm_call *call, pgm_pg *pg, const char *slot, int *dropped)
{
	const char *p[1] = {slot};
	json_t *row;
	int tries;

	*dropped = 0;
	for (tries = 0; tries < 50; tries++) {
		row = lg_row(call, pg,
			     "SELECT active_pid, pg_terminate_backend(active_pid) AS t "
			     "FROM pg_replication_slots WHERE slot_name = $1",
			     1, p);
		if (row == NULL)
			return -1;
		if (!json_is_object(row)) {
			json_decref(row);
			return 0;
		}
		if (json_is_null(json_object_get(row, "active_pid"))) {
			json_decref(row);
			break;
		}
		json_decref(row);
		if (pgm_sleep_ms(call, 100) < 0)
			return -1;
	}
	if (pgm_pg_command(call, pg,
			   "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
			   "WHERE slot_name = $1",
			   1, p) < 0)
		return -1;
	*dropped = 1;
	pgm_info("%s: dropped replication slot %s", pgm_pg_describe(pg), slot);
	return 0;
}

/* escape_literal - a quoted SQL literal of s. Caller frees with PQfreemem. */
static char *escape_literal(pgm_call *call, pgm_pg *pg, const char *s)
{
	char *lit = PQescapeLiteral(pgm_pg_conn(pg), s, strlen(s));

	if (lit == NULL)
		pgm_fail(call, "args.invalid", 0, "%s: cannot quote a connection string",
			 pgm_pg_describe(pg));
	return lit;
}

/* quiet_statement_logging - keeps this session's statements out of the
 * server's log (a failed CREATE SUBSCRIPTION would log its text, with the
 * password of its connection string). Needs a superuser; a role that may
 * not set these gets a warning, and the statement may reach the log. */
static void quiet_statement_logging(pgm_call *call, pgm_pg *pg)
{
	if (pgm_pg_command(call, pg, "SET log_min_error_statement = panic", 0, NULL) < 0 ||
	    pgm_pg_command(call, pg, "SET log_statement = 'none'", 0, NULL) < 0) {
		pgm_warn("%s: cannot keep CREATE SUBSCRIPTION out of the server's log (%s); if it "
			 "fails, the server logs its connection string",
			 pgm_pg_describe(pg), pgm_error_message(call));
		pgm_clear_error(call);
	}
}

/* fn_create_subscription - the subscription on the subscriber, with its
 * slot on the publisher. After a crash: an existing subscription for the
 * same publication is adopted (and enabled); a slot of the same name left
 * on the publisher by a CREATE that never committed is dropped first. */
static json_t *fn_create_subscription(pgm_call *call, json_t *args)
{
	const char *name = lg_name_arg(call, args, "name", 1);
	const char *publication = lg_name_arg(call, args, "publication", 1);
	const char *connect;
	int copy_data = 1, binary = 0, streaming = 0, created = 0, stale = 0;
	pgm_pg *pub = NULL, *sub = NULL;
	json_t *row = NULL, *out = NULL;
	char *lit = NULL, opts[256];
	const char *p[1];

	if (name == NULL || publication == NULL ||
	    pgm_arg_bool(call, args, "copy_data", 1, &copy_data) < 0 ||
	    pgm_arg_bool(call, args, "binary", 0, &binary) < 0 ||
	    pgm_arg_bool(call, args, "streaming", 0, &streaming) < 0)
		return NULL;
	if (pgm_arg_string(call, args, "publisher", NULL, 1) == NULL)
		return NULL;
	connect = pgm_arg_string(call, args, "connect", NULL, 0);
	if (pgm_failed(call))
		return NULL;
	if (connect == NULL)
		connect = json_string_value(json_object_get(args, "publisher"));
	pgm_secret_add_conninfo(connect);
	sub = lg_connect(call, args, "subscriber");
	if (sub == NULL)
		return NULL;
	pub = lg_connect(call, args, "publisher");
	if (pub == NULL || lg_writable_session(call, sub) < 0)
		goto done;
	if ((binary || streaming) && (PQserverVersion(pgm_pg_conn(sub)) < 140000 ||
				      PQserverVersion(pgm_pg_conn(pub)) < 140000)) {
		pgm_fail(call, "logical.unsupported", 0,
			 "binary and streaming need PostgreSQL 14 or later on both sides "
			 "(publisher %d, subscriber %d)",
			 PQserverVersion(pgm_pg_conn(pub)), PQserverVersion(pgm_pg_conn(sub)));
		goto done;
	}
	p[0] = publication;
	row = lg_row(call, pub, "SELECT 1 AS x FROM pg_publication WHERE pubname = $1", 1, p);
	if (row == NULL)
		goto done;
	if (!json_is_object(row)) {
		pgm_fail(call, "logical.no_such_publication", 0,
			 "%s: publication %s does not exist", pgm_pg_describe(pub), publication);
		goto done;
	}
	json_decref(row);
	p[0] = name;
	row = lg_row(call, sub,
		     "SELECT s.subenabled AS enabled, s.subslotname AS slot, "
		     "array_to_string(s.subpublications, ',') AS publications "
		     "FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid "
		     "WHERE d.datname = current_database() AND s.subname = $1",
		     1, p);
	if (row == NULL)
		goto done;
	if (json_is_object(row)) {
		const char *pubs = json_string_value(json_object_get(row, "publications"));

		if (pubs == NULL || strcmp(pubs, publication) != 0) {
			pgm_fail(call, "logical.conflict", 0,
				 "%s: subscription %s exists for publication(s) %s, not %s; drop "
				 "it or "
				 "choose another name",
				 pgm_pg_describe(sub), name, pubs ? pubs : "(none)", publication);
			goto done;
		}
		if (!json_is_true(json_object_get(row, "enabled")) &&
		    lg_commandf(call, sub, "ALTER SUBSCRIPTION %s ENABLE", name) < 0)
			goto done;
		pgm_info("subscription %s exists for publication %s: adopted", name, publication);
	} else {
		/* A slot of this name without a subscription is left over by a
		 * CREATE SUBSCRIPTION that did not commit: it is ours. */
		if (drop_slot(call, pub, name, &stale) < 0)
			goto done;
		lit = escape_literal(call, sub, connect);
		if (lit == NULL)
			goto done;
		quiet_statement_logging(call, sub);
		snprintf(opts, sizeof(opts), "copy_data = %s%s%s", copy_data ? "true" : "false",
			 binary ? ", binary = true" : "", streaming ? ", streaming = on" : "");
		if (lg_commandf(call, sub,
				"CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH (%s)",
				name, lit, publication, opts) < 0)
			goto done;
		created = 1;
	}
	out = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b}", "name", name, "publication",
			publication, "slot", name, "created", created, "adopted", !created,
			"copy_data", copy_data, "stale_slot_dropped", stale);
done:
	if (lit != NULL)
		PQfreemem(lit);
	json_decref(row);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}

/* ------------------------------------------------------------------------
 * drop
 * ---------------------------------------------------------------------- */

/* fn_drop - drops a subscription on the subscriber (detached from its slot
 * first, so this works when the publisher is gone), then on the publisher
 * its slot, the table synchronisation slots of the subscription and the
 * publication. Either side may be left out: without the subscriber, only
 * the publisher's slot and publication are dropped (the rescue for a
 * source whose target is gone and whose slot retains WAL). Idempotent. */
static json_t *fn_drop(pgm_call *call, json_t *args)
{
	const char *subname = lg_name_arg(call, args, "subscription", 0);
	const char *pubname = lg_name_arg(call, args, "publication", 0);
	const char *slot = lg_name_arg(call, args, "slot", 0);
	pgm_pg *pub = NULL, *sub = NULL;
	json_t *row = NULL, *out = NULL, *slots = json_array(), *rows = NULL, *r;
	int dropped_sub = 0, dropped_pub = 0, d;
	char subslot[64] = "", suboid[16] = "";
	size_t i;

	if (pgm_failed(call))
		goto done;
	if (json_object_get(args, "subscriber") != NULL) {
		if (subname == NULL) {
			pgm_fail(call, "args.invalid", 0,
				 "argument \"subscription\" is required with "
				 "\"subscriber\"");
			goto done;
		}
		sub = lg_connect(call, args, "subscriber");
		if (sub == NULL || lg_writable_session(call, sub) < 0)
			goto done;
		{
			const char *p[1] = {subname};

			row = lg_row(call, sub,
				     "SELECT s.oid::text AS oid, s.subslotname AS slot FROM "
				     "pg_subscription s "
				     "JOIN pg_database d ON d.oid = s.subdbid "
				     "WHERE d.datname = current_database() AND s.subname = $1",
				     1, p);
		}
		if (row == NULL)
			goto done;
		if (json_is_object(row)) {
			const char *s = json_string_value(json_object_get(row, "slot"));

			snprintf(suboid, sizeof(suboid), "%s",
				 json_string_value(json_object_get(row, "oid")));
			if (s != NULL)
				snprintf(subslot, sizeof(subslot), "%s", s);
			if (lg_commandf(call, sub, "ALTER SUBSCRIPTION %s DISABLE", subname) < 0 ||
			    lg_commandf(call, sub, "ALTER SUBSCRIPTION %s SET (slot_name = NONE)",
					subname) < 0 ||
			    lg_commandf(call, sub, "DROP SUBSCRIPTION %s", subname) < 0)
				goto done;
			dropped_sub = 1;
			pgm_info("%s: dropped subscription %s", pgm_pg_describe(sub), subname);
		}
	}
	if (json_object_get(args, "publisher") != NULL) {
		pub = lg_connect(call, args, "publisher");
		if (pub == NULL || lg_writable_session(call, pub) < 0)
			goto done;
		if (slot == NULL)
			slot = subslot[0] ? subslot : subname;
		if (slot != NULL) {
			if (drop_slot(call, pub, slot, &d) < 0)
				goto done;
			if (d)
				json_array_append_new(slots, json_string(slot));
		}
		if (suboid[0]) { /* table synchronisation slots: pg_<suboid>_sync_<relid>_<sysid> */
			char pat[64];
			const char *p[1] = {pat};

			snprintf(pat, sizeof(pat), "pg\\_%s\\_sync\\_%%", suboid);
			rows = pgm_pg_query_json(
				call, pub,
				"SELECT slot_name AS name FROM pg_replication_slots "
				"WHERE slot_name LIKE $1",
				1, p);
			if (rows == NULL)
				goto done;
			json_array_foreach(rows, i, r)
			{
				const char *n = json_string_value(json_object_get(r, "name"));

				if (drop_slot(call, pub, n, &d) < 0)
					goto done;
				if (d)
					json_array_append_new(slots, json_string(n));
			}
		}
		if (pubname != NULL) {
			const char *p[1] = {pubname};
			json_t *x = lg_row(call, pub,
					   "SELECT 1 AS x FROM pg_publication WHERE pubname = $1",
					   1, p);

			if (x == NULL)
				goto done;
			if (json_is_object(x)) {
				json_decref(x);
				if (lg_commandf(call, pub, "DROP PUBLICATION %s", pubname) < 0)
					goto done;
				dropped_pub = 1;
				pgm_info("%s: dropped publication %s", pgm_pg_describe(pub),
					 pubname);
			} else {
				json_decref(x);
			}
		}
	} else if (pubname != NULL || slot != NULL) {
		pgm_fail(call, "args.invalid", 0,
			 "arguments \"publication\" and \"slot\" need \"publisher\"");
		goto done;
	}
	if (sub == NULL && pub == NULL) {
		pgm_fail(call, "args.invalid", 0, "give \"subscriber\", \"publisher\" or both");
		goto done;
	}
	out = json_pack("{s:b, s:O, s:b}", "dropped_subscription", dropped_sub, "dropped_slots",
			slots, "dropped_publication", dropped_pub);
done:
	json_decref(rows);
	json_decref(row);
	json_decref(slots);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}

/* ------------------------------------------------------------------------
 * sync_sequences
 * ---------------------------------------------------------------------- */

/* fn_sync_sequences - the sequences step of the fence on its own. */
static json_t *fn_sync_sequences(pgm_call *call, json_t *args)
{
	pgm_pg *pub = NULL, *sub = NULL;
	json_t *list = NULL, *out = NULL;
	long long margin;
	int changed, missing;

	if (pgm_arg_int(call, args, "margin", 0, 0, &margin) < 0)
		return NULL;
	if (margin < 0)
		return pgm_fail(call, "args.invalid", 0,
				"argument \"margin\" must not be negative");
	pub = lg_connect(call, args, "publisher");
	if (pub == NULL)
		return NULL;
	sub = lg_connect(call, args, "subscriber");
	if (sub == NULL)
		goto done;
	list = lg_sync_sequences(call, pub, sub, margin, &changed, &missing);
	if (list == NULL)
		goto done;
	out = json_pack("{s:O, s:i, s:i, s:b}", "sequences", list, "changed", changed, "missing",
			missing, "complete", missing == 0);
done:
	json_decref(list);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}

/* ------------------------------------------------------------------------
 * The descriptor
 * ---------------------------------------------------------------------- */

#define PUBLISHER                                                                                  \
	{                                                                                          \
		"publisher", "conninfo", 1, 1, "the server whose changes are replicated"           \
	}
#define SUBSCRIBER                                                                                 \
	{                                                                                          \
		"subscriber", "conninfo", 1, 1, "the server that applies them"                     \
	}
#define SUBSCRIPTION                                                                               \
	{                                                                                          \
		"subscription", "string", 1, 0, "subscription name"                                \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, NULL, 0, 0, NULL                                                             \
	}

static const pgm_param preflight_params[] = {
	PUBLISHER,
	SUBSCRIBER,
	{"tables", "array", 0, 0, "tables to replicate (default: all tables)"},
	{"accept", "array", 0, 0, "check names to report as warnings instead of problems"},
	{"reverse", "boolean", 0, 0, "also check reverse replication (default true)"},
	{"copy_data", "boolean", 0, 0,
	 "the initial copy will run: target tables must be empty (default true)"},
	END};
static const pgm_param pub_params[] = {
	{"conninfo", "conninfo", 1, 1, "the publisher"},
	{"name", "string", 1, 0, "publication name"},
	{"tables", "array", 0, 0, "tables to publish (default: all tables)"},
	END};
static const pgm_param sub_params[] = {
	SUBSCRIBER,
	PUBLISHER,
	{"connect", "conninfo", 0, 1,
	 "how the subscriber reaches the publisher (default: publisher)"},
	{"name", "string", 1, 0, "subscription (and slot) name"},
	{"publication", "string", 1, 0, "publication on the publisher"},
	{"copy_data", "boolean", 0, 0, "copy the existing rows first (default true)"},
	{"binary", "boolean", 0, 0, "binary transfer (14+)"},
	{"streaming", "boolean", 0, 0, "stream large in-progress transactions (14+)"},
	END};
static const pgm_param drop_params[] = {
	{"subscriber", "conninfo", 0, 1, "where the subscription is"},
	{"publisher", "conninfo", 0, 1, "where the slot and publication are"},
	{"subscription", "string", 0, 0, "subscription to drop"},
	{"publication", "string", 0, 0, "publication to drop"},
	{"slot", "string", 0, 0, "slot to drop (default: the subscription's)"},
	END};
static const pgm_param state_params[] = {PUBLISHER, SUBSCRIBER, SUBSCRIPTION, END};
static const pgm_param wait_params[] = {
	PUBLISHER,
	SUBSCRIBER,
	SUBSCRIPTION,
	{"lsn", "string", 0, 0, "position to wait for (default: the publisher's current one)"},
	{"timeout", "duration", 0, 0, "give up after (default 5m)"},
	END};
static const pgm_param fence_params[] = {
	PUBLISHER,
	SUBSCRIBER,
	SUBSCRIPTION,
	{"terminate", "boolean", 0, 0, "end the publisher database's sessions (default true)"},
	{"keep_roles", "array", 0, 0, "roles whose sessions are never ended"},
	{"sequences", "boolean", 0, 0, "sync sequences after the wait (default true)"},
	{"sequence_margin", "integer", 0, 0, "added to each sequence (default 0)"},
	{"timeout", "duration", 0, 0, "longest wait for sessions and the subscriber (default 5m)"},
	END};
static const pgm_param seq_params[] = {
	PUBLISHER,
	SUBSCRIBER,
	{"margin", "integer", 0, 0, "added to the publisher's value (default 0)"},
	END};

static const pgm_function logical_functions[] = {
	{"preflight", lg_fn_preflight, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "everything that would make logical replication fail or lose data, each with a fix",
	 preflight_params},
	{"create_publication", fn_create_publication, PGM_FN_IDEMPOTENT,
	 "create (or adopt) a publication of all tables or a list", pub_params},
	{"create_subscription", fn_create_subscription, PGM_FN_IDEMPOTENT,
	 "create (or adopt) a subscription and its slot on the publisher", sub_params},
	{"drop", fn_drop, PGM_FN_IDEMPOTENT,
	 "drop a subscription, its slots and a publication, so no WAL stays retained", drop_params},
	{"status", lg_fn_status, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "per-table sync state, copy progress, lag in bytes and seconds, slot health",
	 state_params},
	{"lsn", lg_fn_lsn, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "WAL positions: publisher current, subscriber received/applied, slot confirmed flush",
	 state_params},
	{"wait_applied", lg_fn_wait_applied, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
	 "wait until the subscriber has applied everything up to an LSN", wait_params},
	{"fence", lg_fn_fence, PGM_FN_IDEMPOTENT,
	 "cutover fence: stop writes on the publisher, wait until the subscriber applied "
	 "exactly up to its LSN, sync sequences",
	 fence_params},
	{"sync_sequences", fn_sync_sequences, PGM_FN_IDEMPOTENT,
	 "subscriber's sequences at least the publisher's values", seq_params},
	{NULL, NULL, 0, NULL, NULL}};

PGMOVE_PLUGIN(logical) = {
	.abi = PGMOVE_PLUGIN_ABI,
	.name = "logical",
	.version = "0.1.0",
	.summary = "native PostgreSQL logical replication: preflight, publications, "
		   "subscriptions, lag, the cutover fence, reverse replication",
	.functions = logical_functions,
};
