/*
 * plugins/logical/logical_state.c - what a subscription is doing, measured
 * from both sides (logical.status, logical.lsn), waiting until the
 * subscriber has applied up to a position (logical.wait_applied), and the
 * cutover fence (logical.fence).
 *
 * "Applied up to L" is read from the publisher's slot: its
 * confirmed_flush_lsn is what the subscriber reported as applied and
 * flushed, and passes L only when every transaction that committed before
 * L is durable on the subscriber.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "logical.h"

/* The subscription, seen from the subscriber. */
static const char SUB_SQL[] =
	"SELECT s.oid::text AS oid, s.subslotname AS slot, s.subenabled AS enabled, "
	"st.pid AS worker_pid, st.received_lsn::text AS received_lsn, "
	"st.latest_end_lsn::text AS latest_end_lsn, "
	"extract(epoch FROM now() - st.last_msg_send_time)::float8 AS since_last_send_s, "
	"extract(epoch FROM now() - st.latest_end_time)::float8 AS since_latest_end_s, "
	"array_to_string(s.subpublications, ',') AS publications "
	"FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid "
	"LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL "
	"WHERE d.datname = current_database() AND s.subname = $1";

/* The slot, seen from the publisher. */
static const char SLOT_SQL[] =
	"SELECT pg_current_wal_lsn()::text AS current_lsn, "
	"pg_current_wal_insert_lsn()::text AS insert_lsn, sl.slot_name AS name, "
	"sl.active, sl.confirmed_flush_lsn::text AS confirmed_flush_lsn, "
	"sl.restart_lsn::text AS restart_lsn, sl.wal_status, sl.safe_wal_size, "
	"pg_wal_lsn_diff(pg_current_wal_lsn(), sl.restart_lsn)::bigint AS retained_bytes, "
	"GREATEST(pg_wal_lsn_diff(pg_current_wal_lsn(), sl.confirmed_flush_lsn), 0)::bigint "
	"AS lag_bytes, "
	"extract(epoch FROM r.write_lag)::float8 AS write_lag_s, "
	"extract(epoch FROM r.flush_lag)::float8 AS flush_lag_s, "
	"extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s "
	"FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots sl ON sl.slot_name = $1 "
	"LEFT JOIN pg_stat_replication r ON r.pid = sl.active_pid";

/* sub_info - the subscription's row (new reference), with applied_lsn
 * (the replication origin's progress: the end of the last transaction
 * applied) when this role may read it. NULL with the error set, also when
 * the subscription does not exist. */
static json_t *sub_info(pgm_call *call, pgm_pg *sub, const char *name)
{
	const char *p[1] = {name};
	json_t *row = lg_row(call, sub, SUB_SQL, 1, p), *o;
	char origin[32];
	const char *op[1] = {origin};

	if (row == NULL)
		return NULL;
	if (!json_is_object(row)) {
		json_decref(row);
		return pgm_fail(call, "logical.no_such_subscription", 0,
				"%s: subscription %s does not exist", pgm_pg_describe(sub), name);
	}
	snprintf(origin, sizeof(origin), "pg_%s", json_string_value(json_object_get(row, "oid")));
	o = lg_row(call, sub, "SELECT pg_replication_origin_progress($1, true)::text AS lsn", 1,
		   op);
	if (o == NULL) { /* not readable by this role: leave it out */
		pgm_clear_error(call);
		json_object_set_new(row, "applied_lsn", json_null());
	} else {
		json_object_set(row, "applied_lsn",
				json_is_object(o) ? json_object_get(o, "lsn") : json_null());
		json_decref(o);
	}
	return row;
}

/* slot_info - the slot's row on the publisher (new reference); its name
 * is null when the slot does not exist. NULL with the error set. */
static json_t *slot_info(pgm_call *call, pgm_pg *pub, const char *slot)
{
	const char *p[1] = {slot};

	return lg_row(call, pub, SLOT_SQL, 1, p);
}

/* open_pair - connects to both sides and reads the subscription; the slot
 * name is the subscription's. 0 or -1 with the error set. */
static int open_pair(pgm_call *call, json_t *args, pgm_pg **pub, pgm_pg **sub, const char **name,
		     json_t **subrow)
{
	*pub = *sub = NULL;
	*subrow = NULL;
	*name = lg_name_arg(call, args, "subscription", 1);
	if (*name == NULL)
		return -1;
	*pub = lg_connect(call, args, "publisher");
	if (*pub == NULL)
		return -1;
	*sub = lg_connect(call, args, "subscriber");
	if (*sub == NULL)
		return -1;
	*subrow = sub_info(call, *sub, *name);
	if (*subrow == NULL)
		return -1;
	if (!json_is_string(json_object_get(*subrow, "slot"))) {
		pgm_fail(call, "logical.no_slot", 0,
			 "%s: subscription %s has no slot (it was detached)", pgm_pg_describe(*sub),
			 *name);
		return -1;
	}
	return 0;
}

static const char *slot_of(json_t *subrow)
{
	return json_string_value(json_object_get(subrow, "slot"));
}

/* nudge - writes one small WAL record (a transaction id's commit) on the
 * publisher, so that its WAL sender passes any position taken before and
 * the subscriber confirms it even when nothing else is written. */
static int nudge(pgm_call *call, pgm_pg *pub)
{
	if (lg_writable_session(call, pub) < 0)
		return -1;
	return pgm_pg_command(call, pub, "SELECT txid_current()", 0, NULL);
}

/* ------------------------------------------------------------------------
 * status / lsn
 * ---------------------------------------------------------------------- */

/* lag_seconds - the lag in seconds: the WAL sender's replay lag (the
 * publisher's measure) when it has one, else 0 when nothing is pending,
 * else the time since the publisher last sent something as the subscriber
 * sees it. */
static double lag_seconds(json_t *slot, json_t *subrow)
{
	json_t *r = json_object_get(slot, "replay_lag_s");

	if (json_integer_value(json_object_get(slot, "lag_bytes")) == 0)
		return 0;
	if (json_is_number(r))
		return json_number_value(r);
	r = json_object_get(subrow, "since_last_send_s");
	return json_is_number(r) ? json_number_value(r) : -1;
}

/* Columns of the published tables on the publisher ($1: publications, a
 * comma-separated list), as JSON for the subscriber's side of the check. */
static const char PUB_COLUMNS_SQL[] =
	"SELECT COALESCE(json_agg(json_build_object('t', quote_ident(pt.schemaname) || '.' || "
	"quote_ident(pt.tablename), 'c', a.attname, 'ty', format_type(a.atttypid, a.atttypmod))), "
	"'[]')::text AS cols "
	"FROM pg_publication_tables pt JOIN pg_namespace n ON n.nspname = pt.schemaname "
	"JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
	"JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"WHERE pt.pubname = ANY (string_to_array($1, ','))";

/* Which of them the subscriber lacks or types differently ($1: that JSON,
 * $2: the subscription's oid); a published table missing from the
 * subscription has no columns there at all. */
static const char DRIFT_SQL[] =
	"WITH s AS (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS t, "
	"a.attname AS c, format_type(a.atttypid, a.atttypmod) AS ty "
	"FROM pg_subscription_rel sr JOIN pg_class c ON c.oid = sr.srrelid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"WHERE sr.srsubid = $2::oid) "
	"SELECT p.t AS \"table\", p.c AS \"column\", p.ty AS publisher_type, s.ty AS "
	"subscriber_type, "
	"CASE WHEN NOT EXISTS (SELECT 1 FROM s s2 WHERE s2.t = p.t) THEN 'table not subscribed "
	"(ALTER SUBSCRIPTION ... REFRESH PUBLICATION)' WHEN s.ty IS NULL THEN 'column missing on "
	"the subscriber' ELSE 'type differs' END AS problem "
	"FROM json_to_recordset($1::json) AS p(t text, c text, ty text) "
	"LEFT JOIN s ON s.t = p.t AND s.c = p.c WHERE s.ty IS DISTINCT FROM p.ty ORDER BY 1, 2";

/* schema_drift - the published columns the subscriber cannot apply (DDL
 * made on the publisher only, a table added to the publication): a new
 * array, NULL with the error set. */
static json_t *schema_drift(pgm_call *call, pgm_pg *pub, pgm_pg *sub, json_t *subrow)
{
	const char *p1[1] = {json_string_value(json_object_get(subrow, "publications"))};
	const char *p2[2];
	json_t *r = lg_row(call, pub, PUB_COLUMNS_SQL, 1, p1), *out;

	if (r == NULL)
		return NULL;
	p2[0] = json_string_value(json_object_get(r, "cols"));
	p2[1] = json_string_value(json_object_get(subrow, "oid"));
	out = pgm_pg_query_json(call, sub, DRIFT_SQL, 2, p2);
	json_decref(r);
	return out;
}

/* lg_fn_status - per-table sync state, initial copy progress, lag in bytes
 * and seconds from both sides, slot health and inactive slots. */
json_t *lg_fn_status(pgm_call *call, json_t *args)
{
	pgm_pg *pub = NULL, *sub = NULL;
	const char *name;
	json_t *subrow = NULL, *slot = NULL, *tables = NULL, *copy = NULL, *inactive = NULL;
	json_t *drift = NULL, *out = NULL, *t, *problems = json_array();
	long ready = 0;
	size_t i;
	const char *p[1];

	if (open_pair(call, args, &pub, &sub, &name, &subrow) < 0)
		goto done;
	slot = slot_info(call, pub, slot_of(subrow));
	if (slot == NULL)
		goto done;
	p[0] = name;
	tables = pgm_pg_query_json(
		call, sub,
		"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS \"table\", "
		"sr.srsubstate::text AS state, CASE sr.srsubstate WHEN 'i' THEN 'init' "
		"WHEN 'd' THEN 'copying' WHEN 'f' THEN 'copied' WHEN 's' THEN 'synchronized' "
		"WHEN 'r' THEN 'ready' ELSE 'unknown' END AS state_name, sr.srsublsn::text AS lsn "
		"FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid "
		"JOIN pg_database d ON d.oid = s.subdbid AND d.datname = current_database() "
		"JOIN pg_class c ON c.oid = sr.srrelid JOIN pg_namespace n ON n.oid = "
		"c.relnamespace "
		"WHERE s.subname = $1 ORDER BY 1",
		1, p);
	if (tables == NULL)
		goto done;
	copy = pgm_pg_query_json(
		call, sub,
		"SELECT relid::regclass::text AS \"table\", bytes_processed, bytes_total, "
		"tuples_processed FROM pg_stat_progress_copy "
		"WHERE datname = current_database() ORDER BY 1",
		0, NULL);
	if (copy == NULL)
		goto done;
	inactive = pgm_pg_query_json(call, pub,
				     "SELECT slot_name AS name, wal_status, "
				     "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
				     "AS retained_bytes FROM pg_replication_slots WHERE NOT active "
				     "ORDER BY 1",
				     0, NULL);
	if (inactive == NULL)
		goto done;
	drift = schema_drift(call, pub, sub, subrow);
	if (drift == NULL)
		goto done;
	if (json_array_size(drift) > 0)
		json_array_append_new(
			problems,
			json_sprintf("%zu published columns cannot be applied (DDL on the "
				     "publisher only?): first %s.%s: %s",
				     json_array_size(drift),
				     json_string_value(
					     json_object_get(json_array_get(drift, 0), "table")),
				     json_string_value(
					     json_object_get(json_array_get(drift, 0), "column")),
				     json_string_value(json_object_get(json_array_get(drift, 0),
								       "problem"))));
	json_array_foreach(tables, i, t) if (strcmp(json_string_value(json_object_get(t, "state")),
						    "r") == 0) ready++;
	if (!json_is_string(json_object_get(slot, "name")))
		json_array_append_new(problems, json_sprintf("slot %s is missing on the publisher",
							     slot_of(subrow)));
	else if (json_is_string(json_object_get(slot, "wal_status")) &&
		 strcmp(json_string_value(json_object_get(slot, "wal_status")), "lost") == 0)
		json_array_append_new(problems, json_sprintf("slot %s lost WAL it needed: the "
							     "subscription must start over",
							     slot_of(subrow)));
	if (!json_is_true(json_object_get(subrow, "enabled")))
		json_array_append_new(problems, json_sprintf("subscription %s is disabled", name));
	else if (json_is_null(json_object_get(subrow, "worker_pid")))
		json_array_append_new(problems,
				      json_sprintf("subscription %s has no apply worker running "
						   "(see the subscriber's log)",
						   name));
	out = json_pack(
		"{s:s, s:b, s:b, s:O, s:I, s:I, s:b, s:O, s:I, s:f, s:O, s:O, s:O, s:O, s:O, s:b}",
		"subscription", name, "enabled", json_is_true(json_object_get(subrow, "enabled")),
		"worker_running", !json_is_null(json_object_get(subrow, "worker_pid")), "tables",
		tables, "tables_total", (json_int_t)json_array_size(tables), "tables_ready",
		(json_int_t)ready, "all_ready",
		json_array_size(tables) > 0 && (size_t)ready == json_array_size(tables), "copy",
		copy, "lag_bytes",
		(json_int_t)json_integer_value(json_object_get(slot, "lag_bytes")), "lag_seconds",
		lag_seconds(slot, subrow), "slot", slot, "subscriber", subrow, "inactive_slots",
		inactive, "schema_drift", drift, "problems", problems, "healthy",
		json_array_size(problems) == 0);
	if (out != NULL) { /* the subscriber's side: what it has not even received */
		uint64_t cur = lg_json_lsn(slot, "current_lsn"),
			 rcv = lg_json_lsn(subrow, "received_lsn");

		json_object_set_new(out, "lag_bytes_unreceived",
				    rcv ? json_integer((json_int_t)(cur > rcv ? cur - rcv : 0))
					: json_null());
	}
done:
	json_decref(problems);
	json_decref(drift);
	json_decref(subrow);
	json_decref(slot);
	json_decref(tables);
	json_decref(copy);
	json_decref(inactive);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}

/* positions - the LSN evidence of one moment as a new object. */
static json_t *positions(json_t *slot, json_t *subrow)
{
	uint64_t cur = lg_json_lsn(slot, "current_lsn"),
		 conf = lg_json_lsn(slot, "confirmed_flush_lsn");

	return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:I, s:b}", "publisher_lsn",
			 json_object_get(slot, "current_lsn"), "publisher_insert_lsn",
			 json_object_get(slot, "insert_lsn"), "slot_confirmed_flush_lsn",
			 json_object_get(slot, "confirmed_flush_lsn"), "slot_restart_lsn",
			 json_object_get(slot, "restart_lsn"), "subscriber_received_lsn",
			 json_object_get(subrow, "received_lsn"), "subscriber_reported_lsn",
			 json_object_get(subrow, "latest_end_lsn"), "subscriber_applied_lsn",
			 json_object_get(subrow, "applied_lsn"), "lag_bytes",
			 (json_int_t)(cur > conf ? cur - conf : 0), "caught_up",
			 conf != 0 && conf >= cur);
}

/* lg_fn_lsn - the WAL positions of the publisher, the slot and the
 * subscriber at one moment (for live verification). */
json_t *lg_fn_lsn(pgm_call *call, json_t *args)
{
	pgm_pg *pub = NULL, *sub = NULL;
	const char *name;
	json_t *subrow = NULL, *slot = NULL, *out = NULL;

	if (open_pair(call, args, &pub, &sub, &name, &subrow) < 0)
		goto done;
	slot = slot_info(call, pub, slot_of(subrow));
	if (slot == NULL)
		goto done;
	out = positions(slot, subrow);
done:
	json_decref(subrow);
	json_decref(slot);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}

/* wait_confirmed - polls the slot until its confirmed_flush_lsn reaches
 * lsn, within timeout_ms. Returns the last slot row (new reference) or
 * NULL with the error set (logical.wait_timeout, retryable). */
static json_t *wait_confirmed(pgm_call *call, pgm_pg *pub, pgm_pg *sub, const char *subname,
			      const char *slotname, uint64_t lsn, long long timeout_ms)
{
	long long start = pgm_now_ms(), last_log = start;
	char want[32], have[32];

	lg_lsn_format(lsn, want, sizeof(want));
	for (;;) {
		json_t *slot = slot_info(call, pub, slotname);
		uint64_t conf;

		if (slot == NULL)
			return NULL;
		if (!json_is_string(json_object_get(slot, "name"))) {
			json_decref(slot);
			return pgm_fail(call, "logical.no_slot", 0, "%s: slot %s does not exist",
					pgm_pg_describe(pub), slotname);
		}
		conf = lg_json_lsn(slot, "confirmed_flush_lsn");
		if (conf >= lsn)
			return slot;
		json_decref(slot);
		if (pgm_now_ms() - start > timeout_ms) {
			lg_lsn_format(conf, have, sizeof(have));
			return pgm_fail(call, "logical.wait_timeout", 1,
					"subscription %s: the subscriber confirmed %s, not yet %s, "
					"after %lld ms",
					subname, have, want, pgm_now_ms() - start);
		}
		if (pgm_now_ms() - last_log > 5000) {
			json_t *s = sub_info(call, sub, subname);

			if (s == NULL)
				return NULL;
			lg_lsn_format(conf, have, sizeof(have));
			if (json_is_null(json_object_get(s, "worker_pid")))
				pgm_warn("subscription %s has no apply worker running (see the "
					 "subscriber's log); confirmed %s, waiting for %s",
					 subname, have, want);
			else
				pgm_info("subscription %s: confirmed %s, waiting for %s", subname,
					 have, want);
			json_decref(s);
			last_log = pgm_now_ms();
		}
		if (pgm_sleep_ms(call, 50) < 0)
			return NULL;
	}
}

/* lg_fn_wait_applied - waits until the subscriber has applied (and
 * flushed) everything the publisher committed before lsn (default: the
 * publisher's insert position when the call starts). */
json_t *lg_fn_wait_applied(pgm_call *call, json_t *args)
{
	pgm_pg *pub = NULL, *sub = NULL;
	const char *name, *lsnarg;
	json_t *subrow = NULL, *slot = NULL, *out = NULL, *sub2 = NULL;
	long long timeout, t0 = pgm_now_ms();
	uint64_t lsn;
	char buf[32];

	lsnarg = pgm_arg_string(call, args, "lsn", NULL, 0);
	if (pgm_failed(call) || pgm_arg_duration_ms(call, args, "timeout", 300000, 0, &timeout) < 0)
		return NULL;
	if (lsnarg != NULL && lg_lsn_parse(lsnarg) == 0)
		return pgm_fail(call, "args.invalid", 0,
				"argument \"lsn\": \"%s\" is not an LSN (X/X)", lsnarg);
	if (open_pair(call, args, &pub, &sub, &name, &subrow) < 0)
		goto done;
	if (lsnarg != NULL) {
		lsn = lg_lsn_parse(lsnarg);
	} else {
		json_t *r =
			lg_row(call, pub, "SELECT pg_current_wal_insert_lsn()::text AS l", 0, NULL);

		if (r == NULL)
			goto done;
		lsn = lg_json_lsn(r, "l");
		json_decref(r);
	}
	if (nudge(call, pub) < 0)
		goto done;
	slot = wait_confirmed(call, pub, sub, name, slot_of(subrow), lsn, timeout);
	if (slot == NULL)
		goto done;
	sub2 = sub_info(call, sub, name);
	if (sub2 == NULL)
		goto done;
	out = positions(slot, sub2);
	json_object_set_new(out, "lsn", json_string(lg_lsn_format(lsn, buf, sizeof(buf))));
	json_object_set_new(out, "waited_ms", json_integer(pgm_now_ms() - t0));
done:
	json_decref(subrow);
	json_decref(sub2);
	json_decref(slot);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}

/* ------------------------------------------------------------------------
 * fence
 * ---------------------------------------------------------------------- */

/* Client sessions of this database that could still write: not ours, not
 * of keep_roles ($1, a JSON array), started before the database became
 * read-only at $2. */
#define WRITERS_WHERE                                                                              \
	"a.datname = current_database() AND a.pid <> pg_backend_pid() "                            \
	"AND a.backend_type = 'client backend' "                                                   \
	"AND NOT (a.usename = ANY (ARRAY(SELECT json_array_elements_text($1::json)))) "            \
	"AND a.backend_start < $2::timestamptz"

/* stop_writers - ends (terminate) or waits out (not terminate) the
 * sessions that may still write, within timeout_ms. Returns how many were
 * terminated, or -1 with the error set. */
static long long stop_writers(pgm_call *call, pgm_pg *pub, int terminate, const char *keep,
			      const char *since, long long timeout_ms)
{
	const char *p[2] = {keep, since};
	long long start = pgm_now_ms(), terminated = 0;
	json_t *r;

	for (;;) {
		if (terminate) {
			r = lg_row(call, pub,
				   "SELECT count(*) FILTER (WHERE "
				   "pg_terminate_backend(a.pid))::bigint AS n "
				   "FROM pg_stat_activity a WHERE " WRITERS_WHERE,
				   2, p);
			if (r == NULL)
				return -1;
			terminated += json_integer_value(json_object_get(r, "n"));
			json_decref(r);
		}
		/* A terminated backend may still be finishing a commit: wait
		 * until it is gone, so the fence's position comes after it. */
		r = lg_row(call, pub,
			   "SELECT count(*)::bigint AS n, string_agg(a.usename || '/' || a.pid, ', "
			   "') AS who "
			   "FROM pg_stat_activity a WHERE " WRITERS_WHERE,
			   2, p);
		if (r == NULL)
			return -1;
		if (json_integer_value(json_object_get(r, "n")) == 0) {
			json_decref(r);
			return terminated;
		}
		if (pgm_now_ms() - start > timeout_ms) {
			pgm_fail(
				call, "logical.sessions_remain", 1,
				"%s: %lld sessions opened before the database became read-only are "
				"still connected (%s); they could still write (terminate=true ends "
				"them)",
				pgm_pg_describe(pub),
				(long long)json_integer_value(json_object_get(r, "n")),
				json_string_value(json_object_get(r, "who")));
			json_decref(r);
			return -1;
		}
		json_decref(r);
		if (pgm_sleep_ms(call, terminate ? 20 : 200) < 0)
			return -1;
	}
}

/* lg_fn_fence - the cutover fence: the publisher's database becomes
 * read-only for new sessions, the sessions that could still write are
 * ended (or waited out), the publisher's WAL position after the last
 * possible write is taken, and the call waits until the subscriber has
 * confirmed exactly that position; then the subscriber's sequences are set
 * to at least the publisher's. Idempotent: a re-run fences again (the
 * database is already read-only) and waits for the new position. */
json_t *lg_fn_fence(pgm_call *call, json_t *args)
{
	pgm_pg *pub = NULL, *sub = NULL;
	const char *name;
	json_t *subrow = NULL, *slot = NULL, *sub2 = NULL, *r = NULL, *out = NULL, *seqs = NULL;
	json_t *keep = json_object_get(args, "keep_roles"), *none = NULL;
	int terminate = 1, sequences = 1, changed = 0, missing = 0;
	long long timeout, margin, t0 = pgm_now_ms(), terminated, t_ro, t_lsn, t_applied;
	char *keep_json = NULL, *qdb = NULL, since[64], lsnbuf[32];
	uint64_t fence_lsn;

	if (pgm_arg_bool(call, args, "terminate", 1, &terminate) < 0 ||
	    pgm_arg_bool(call, args, "sequences", 1, &sequences) < 0 ||
	    pgm_arg_int(call, args, "sequence_margin", 0, 0, &margin) < 0 ||
	    pgm_arg_duration_ms(call, args, "timeout", 300000, 0, &timeout) < 0)
		return NULL;
	if (margin < 0)
		return pgm_fail(call, "args.invalid", 0,
				"argument \"sequence_margin\" must not be negative");
	if (keep != NULL && !json_is_null(keep) && !json_is_array(keep))
		return pgm_fail(call, "args.invalid", 0,
				"argument \"keep_roles\" must be an array of role names");
	if (keep == NULL || json_is_null(keep))
		keep = none = json_array();
	keep_json = json_dumps(keep, JSON_COMPACT);
	json_decref(none);
	if (open_pair(call, args, &pub, &sub, &name, &subrow) < 0)
		goto done;
	if (lg_writable_session(call, pub) < 0)
		goto done;
	r = lg_row(
		call, pub,
		"SELECT quote_ident(current_database()) AS db, "
		"(SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database())::int "
		"AS prepared",
		0, NULL);
	if (r == NULL)
		goto done;
	if (json_integer_value(json_object_get(r, "prepared")) > 0) {
		pgm_fail(call, "logical.prepared_transactions", 0,
			 "%s: %lld prepared transactions could still commit; COMMIT PREPARED or "
			 "ROLLBACK PREPARED them first",
			 pgm_pg_describe(pub),
			 (long long)json_integer_value(json_object_get(r, "prepared")));
		goto done;
	}
	qdb = strdup(json_string_value(json_object_get(r, "db")));
	json_decref(r);
	r = NULL;
	if (qdb == NULL ||
	    lg_commandf(call, pub, "ALTER DATABASE %s SET default_transaction_read_only = on",
			qdb) < 0)
		goto done;
	t_ro = pgm_now_ms();
	r = lg_row(call, pub, "SELECT clock_timestamp()::text AS t", 0, NULL);
	if (r == NULL)
		goto done;
	snprintf(since, sizeof(since), "%s", json_string_value(json_object_get(r, "t")));
	json_decref(r);
	r = NULL;
	pgm_info("%s: read-only for new sessions; %s the sessions that could still write",
		 pgm_pg_describe(pub), terminate ? "ending" : "waiting out");
	/* Sessions opened before the switch may write: end them, or wait for
	 * them to go away. Newer ones are read-only and may stay. */
	terminated = stop_writers(call, pub, terminate, keep_json, since, timeout);
	if (terminated < 0)
		goto done;
	r = lg_row(call, pub, "SELECT pg_current_wal_insert_lsn()::text AS l", 0, NULL);
	if (r == NULL)
		goto done;
	fence_lsn = lg_json_lsn(r, "l");
	json_decref(r);
	r = NULL;
	t_lsn = pgm_now_ms();
	lg_lsn_format(fence_lsn, lsnbuf, sizeof(lsnbuf));
	pgm_info("fence position %s; waiting for subscription %s to apply it", lsnbuf, name);
	if (nudge(call, pub) < 0)
		goto done;
	slot = wait_confirmed(call, pub, sub, name, slot_of(subrow), fence_lsn,
			      timeout - (pgm_now_ms() - t0));
	if (slot == NULL)
		goto done;
	t_applied = pgm_now_ms();
	sub2 = sub_info(call, sub, name);
	if (sub2 == NULL)
		goto done;
	if (sequences) {
		seqs = lg_sync_sequences(call, pub, sub, margin, &changed, &missing);
		if (seqs == NULL)
			goto done;
	} else {
		seqs = json_array();
	}
	out = positions(slot, sub2);
	json_object_set_new(out, "fence_lsn", json_string(lsnbuf));
	json_object_set_new(out, "read_only_since", json_string(since));
	json_object_set_new(out, "terminated", json_integer(terminated));
	json_object_set_new(out, "sequences", json_incref(seqs));
	json_object_set_new(out, "sequences_changed", json_integer(changed));
	json_object_set_new(out, "sequences_missing", json_integer(missing));
	json_object_set_new(out, "stop_writers_ms", json_integer(t_lsn - t_ro));
	json_object_set_new(out, "apply_wait_ms", json_integer(t_applied - t_lsn));
	json_object_set_new(out, "duration_ms", json_integer(pgm_now_ms() - t0));
	pgm_info("fence: subscription %s applied up to %s (confirmed %s) in %lld ms", name, lsnbuf,
		 json_string_value(json_object_get(slot, "confirmed_flush_lsn")),
		 pgm_now_ms() - t0);
done:
	free(keep_json);
	free(qdb);
	json_decref(r);
	json_decref(seqs);
	json_decref(subrow);
	json_decref(sub2);
	json_decref(slot);
	pgm_pg_close(pub);
	pgm_pg_close(sub);
	return out;
}
