#!/bin/sh
# tests/pg/test_logical.sh - the logical plugin against two real servers:
# preflight (problems with their fixes, accepted checks), publications and
# subscriptions (created, adopted, conflicting, a stale slot left by a
# crash), status and LSN positions, wait_applied and the fence applying
# exactly up to the source's position (rows committed before are on the
# target the moment it returns, an open transaction is ended, sequences
# synced), drop leaving no slot, bad input, no password in any message.
. "$(dirname "$0")/lib.sh"

start_sandbox --rows 2000
# as_admin PORT SQL - superuser over the sandbox's unix socket
as_admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$SB/run" -p "$1" -U postgres -d app -c "$2"; }
SRC="source=@env:PGMOVE_SOURCE"
PAIR="publisher=@env:PGMOVE_SOURCE subscriber=@env:PGMOVE_TARGET"
# $LSN(text) - an LSN as a number, inside jq expressions
LSN='(lambda l: int(l.split("/")[0], 16) * 2**32 + int(l.split("/")[1], 16))'

# --- preflight ------------------------------------------------------------------
expect 0 "preflight runs as an ordinary role" call logical.preflight $PAIR
equals "$(jq 'd["ok"]')" false "it is not ok"
checks=$(jq 'sorted(set(p["check"] for p in d["problems"]))')
for c in replica_identity subscription_privilege replication_privilege missing_on_target; do
	case "$checks" in *"\"$c\""*) ok "problem $c is found" ;; *) bad "problem $c is missing in $checks" ;; esac
done
equals "$(jq '[p["objects"] for p in d["problems"] if p["check"] == "replica_identity"]')" \
	'[["public.audit_log"]]' "the table without a key is named"
equals "$(jq 'all(p["fix"] for p in d["problems"])')" true "every problem says what to change"
has "$T/err" "replica_identity.*fix: add a primary key" "problems are logged with their fix"
expect 0 "preflight with accepted checks" call logical.preflight $PAIR \
	'accept=["replica_identity"]'
equals "$(jq '[w["check"] for w in d["warnings"] if w.get("accepted")]')" '["replica_identity"]' \
	"an accepted check becomes a warning"
expect 2 "preflight refuses a bad accept list" call logical.preflight $PAIR accept=yes
has "$T/err" "'accept' must be an array" "naming the argument"

# Fix what it found: superuser roles (rds_superuser on Aurora), a replica
# identity, the schema on the target; then rows on the target are a problem.
as_admin "$SB_PORT" "ALTER ROLE pgmove SUPERUSER"
as_admin "$((SB_PORT + 1))" "ALTER ROLE pgmove SUPERUSER"
psql_src "ALTER TABLE audit_log REPLICA IDENTITY FULL"
pg_dump --schema-only "$PGMOVE_SOURCE" | psql -X -q "$PGMOVE_TARGET" >/dev/null 2>&1
psql_tgt "INSERT INTO settings (key) VALUES ('stray')"
expect 0 "preflight after the fixes" call logical.preflight $PAIR
equals "$(jq '[p["check"] for p in d["problems"]]')" '["target_not_empty"]' \
	"only the target's stray rows are left"
psql_tgt "DELETE FROM settings"
expect 0 "preflight" call logical.preflight $PAIR
equals "$(jq 'd["ok"]')" true "now everything is ok"
equals "$(jq '"sequences" in [w["check"] for w in d["warnings"]]')" true "sequences are a warning"
# What logical replication does not carry: an unlogged table's rows, large objects;
# DDL is a standing warning.
psql_src "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)"
psql_tgt "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)"
lo=$(psql_src "SELECT lo_from_bytea(0, 'blob')")
expect 0 "preflight with an unlogged table and a large object" call logical.preflight $PAIR
equals "$(jq '[(p["check"], p["objects"] if "objects" in p else p["detail"]) for p in d["problems"]]')" \
	'[["unlogged_tables", ["public.scratch"]], ["large_objects", "1 large objects: not replicated"]]' \
	"the unlogged table is named and the large objects counted"
equals "$(jq 'all(p["fix"] for p in d["problems"]) and "ddl" in [w["check"] for w in d["warnings"]]')" true \
	"each with its fix; DDL is a warning"
psql_src "DROP TABLE scratch" && psql_tgt "DROP TABLE scratch" && psql_src "SELECT lo_unlink($lo)" >/dev/null
expect 0 "preflight once they are gone" call logical.preflight $PAIR
equals "$(jq 'd["ok"]')" true "ok again"

# --- publication ------------------------------------------------------------------
expect 1 "a bad name is refused" call logical.create_publication conninfo=@env:PGMOVE_SOURCE name='P-1'
has "$T/err" "not a valid name" "naming the problem"
expect 1 "a missing table is refused" call logical.create_publication \
	conninfo=@env:PGMOVE_SOURCE name=p1 'tables=["nosuch"]'
has "$T/err" "logical.no_such_table.*nosuch" "naming the table"
expect 0 "create_publication" call logical.create_publication conninfo=@env:PGMOVE_SOURCE name=p1
equals "$(jq '[d["created"], d["count"]]')" '[true, 6]' "created with the six tables"
expect 0 "create_publication again" call logical.create_publication conninfo=@env:PGMOVE_SOURCE name=p1
equals "$(jq 'd["adopted"]')" true "the same definition is adopted"
expect 1 "another definition under the same name" call logical.create_publication \
	conninfo=@env:PGMOVE_SOURCE name=p1 'tables=["users"]'
has "$T/err" "logical.conflict" "is a conflict"

# --- subscription with the initial copy --------------------------------------------
psql_src "SELECT pg_create_logical_replication_slot('s1', 'pgoutput')" >/dev/null
expect 0 "create_subscription over a slot left by a crash" call logical.create_subscription \
	$PAIR name=s1 publication=p1
equals "$(jq '[d["created"], d["stale_slot_dropped"]]')" '[true, true]' \
	"the stale slot was dropped and the subscription created"
expect 0 "create_subscription again" call logical.create_subscription $PAIR name=s1 publication=p1
equals "$(jq 'd["adopted"]')" true "the existing subscription is adopted"
expect 1 "the same name for another publication" call logical.create_subscription $PAIR \
	name=s1 publication=p2
has "$T/err" "logical.no_such_publication" "the missing publication is named"

i=0
while :; do
	call logical.status $PAIR subscription=s1
	[ "$(jq 'd["all_ready"]')" = true ] && break
	i=$((i + 1))
	[ $i -lt 150 ] || break
	sleep 0.2
done
equals "$(jq 'd["all_ready"]')" true "every table reached ready"
equals "$(jq '[d["tables_total"], d["tables_ready"], d["healthy"]]')" '[6, 6, true]' \
	"per-table states: six tables, all ready, healthy"
equals "$(jq 'd["slot"]["wal_status"]')" reserved "slot health is reported"
# A slot nobody reads holds WAL on the source: status names it with what it retains.
psql_src "SELECT pg_create_logical_replication_slot('idle_slot', 'pgoutput')" >/dev/null
psql_src "INSERT INTO settings (key) VALUES ('wal-for-idle-slot')"
expect 0 "status with an inactive slot on the source" call logical.status $PAIR subscription=s1
equals "$(jq '[(x["name"], x["wal_status"], x["retained_bytes"] > 0) for x in d["inactive_slots"]]')" \
	'[["idle_slot", "reserved", true]]' "the inactive slot is named with the WAL it retains"
equals "$(jq 'type(d["copy"]).__name__')" list "the initial copy's progress is a list (empty once ready)"
psql_src "SELECT pg_drop_replication_slot('idle_slot')" >/dev/null
equals "$(jq '[type(d[k]).__name__ for k in ("lag_bytes", "lag_bytes_unreceived", "lag_seconds")]')" \
	'["int", "int", "float"]' "lag in bytes from both sides and in seconds"
equals "$(psql_tgt 'SELECT count(*) FROM transactions')" 2000 "the initial copy brought the rows"

# DDL on the source alone: the apply cannot go on; status says so.
psql_src "ALTER TABLE settings ADD COLUMN extra int"
expect 0 "status after DDL on the source only" call logical.status $PAIR subscription=s1
equals "$(jq '[(x["table"], x["column"], x["problem"]) for x in d["schema_drift"]]')" \
	'[["public.settings", "extra", "column missing on the subscriber"]]' "the drift names the column"
equals "$(jq 'd["healthy"]')" false "the subscription is not healthy"
psql_tgt "ALTER TABLE settings ADD COLUMN extra int"
expect 0 "status after the same DDL on the target" call logical.status $PAIR subscription=s1
equals "$(jq '[d["schema_drift"], d["healthy"]]')" '[[], true]' "healthy again"

# --- positions and wait_applied -----------------------------------------------------
expect 0 "lsn" call logical.lsn $PAIR subscription=s1
equals "$(jq 'sorted(k for k in d if k.endswith("_lsn"))')" \
	'["publisher_insert_lsn", "publisher_lsn", "slot_confirmed_flush_lsn", "slot_restart_lsn", "subscriber_applied_lsn", "subscriber_received_lsn", "subscriber_reported_lsn"]' \
	"every position is reported"
psql_src "INSERT INTO transactions (amount) SELECT g FROM generate_series(1, 500) g"
expect 0 "wait_applied" call logical.wait_applied $PAIR subscription=s1 timeout=30s
equals "$(psql_tgt 'SELECT count(*) FROM transactions')" 2500 \
	"rows committed before the call are on the target when it returns"
equals "$(jq "$LSN(d['slot_confirmed_flush_lsn']) >= $LSN(d['lsn'])")" \
	true "the confirmed position is at least the one waited for"
expect 1 "wait_applied with a bad lsn" call logical.wait_applied $PAIR subscription=s1 lsn=nope
has "$T/err" "not an LSN" "says so"
expect 1 "status of a missing subscription" call logical.status $PAIR subscription=nosuch
has "$T/err" "logical.no_such_subscription.*nosuch" "names it"

# --- binary transfer and streaming (PostgreSQL 14+), on a publication of their own -------
expect 0 "a publication of one table" call logical.create_publication conninfo=@env:PGMOVE_SOURCE \
	name=p_bin 'tables=["settings"]'
expect 0 "a subscription with binary transfer and streaming" call logical.create_subscription $PAIR \
	name=s_bin publication=p_bin copy_data=false binary=true streaming=true
equals "$(psql_tgt "SELECT subbinary::text || ' ' || substream::text FROM pg_subscription WHERE subname = 's_bin'")" \
	"true true" "created with binary = true, streaming = on"
expect 0 "the same again" call logical.create_subscription $PAIR name=s_bin publication=p_bin \
	copy_data=false binary=true streaming=true
equals "$(jq 'd["adopted"]')" true "is adopted"
expect 0 "drop it" call logical.drop $PAIR subscription=s_bin publication=p_bin
equals "$(psql_src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's_bin'")" 0 "its slot is gone"
equals "$(psql_src "SELECT count(*) FROM pg_publication WHERE pubname = 'p_bin'")" 0 "and its publication"

# --- the fence -------------------------------------------------------------------------
# A session opened before the fence: without terminate the fence waits it
# out and gives up naming it.
psql -X -q "$PGMOVE_SOURCE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
echo $! >>"$T/bg.pids"
sleeper=$!
sleep 0.5
expect 1 "the fence without terminate times out on an old session" call logical.fence $PAIR \
	subscription=s1 terminate=false timeout=1s
has "$T/err" "logical.sessions_remain.*pgmove/" "the error names the session"
# An uncommitted write in flight and committed ones just before the fence.
psql -X -q "$PGMOVE_SOURCE" -c "BEGIN READ WRITE" \
	-c "INSERT INTO settings (key) VALUES ('in-flight')" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
echo $! >>"$T/bg.pids"
psql -X -q "$PGMOVE_SOURCE" -c "SET default_transaction_read_only = off" \
	-c "INSERT INTO transactions (amount) SELECT g FROM generate_series(1, 300) g" \
	-c "SELECT nextval('users_id_seq') FROM generate_series(1, 50)" >/dev/null
expect 0 "the fence" call logical.fence $PAIR subscription=s1 timeout=30s
wait $sleeper 2>/dev/null
equals "$(psql_tgt 'SELECT count(*) FROM transactions')" 2800 \
	"every row committed before the fence is on the target when it returns"
equals "$(psql_tgt "SELECT count(*) FROM settings WHERE key = 'in-flight'")" 0 \
	"the transaction in flight was ended, not applied"
equals "$(jq 'd["terminated"] >= 1')" true "the sessions were terminated"
equals "$(jq "$LSN(d['slot_confirmed_flush_lsn']) >= $LSN(d['fence_lsn'])")" \
	true "the slot confirmed the fence position"
src_seq=$(psql_src 'SELECT last_value FROM users_id_seq')
equals "$(psql_tgt "SELECT last_value >= $src_seq FROM users_id_seq")" t \
	"the target's sequence is at least the source's"
if psql_src "INSERT INTO settings (key) VALUES ('after')" >/dev/null 2>"$T/psql.err"; then
	bad "the source still takes writes after the fence"
else
	has "$T/psql.err" "read-only transaction" "the source is read-only after the fence"
fi
expect 0 "the fence again (idempotent)" call logical.fence $PAIR subscription=s1 timeout=30s
equals "$(jq 'd["sequences_changed"]')" 0 "nothing left to change"
expect 0 "an independent compare agrees" call checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "source and target are equal"

# --- no password anywhere ------------------------------------------------------------------
expect 1 "a subscription whose connection fails" call logical.create_subscription $PAIR \
	name=s3 publication=p1 \
	connect="host=127.0.0.1 port=1 dbname=app user=pgmove password=SeCrEt-xyz-123"
lacks "$T/err" "SeCrEt-xyz-123" "the password is not in the error"
lacks "$T/out" "SeCrEt-xyz-123" "nor in the output"
lacks "$SB/log/target.log" "SeCrEt-xyz-123" "nor in the target server's log (the failed statement)"

# --- drop --------------------------------------------------------------------------------------
expect 0 "drop" call logical.drop $PAIR subscription=s1 publication=p1
equals "$(jq '[d["dropped_subscription"], d["dropped_slots"], d["dropped_publication"]]')" \
	'[true, ["s1"], true]' "subscription, slot and publication dropped"
equals "$(psql_src 'SELECT count(*) FROM pg_replication_slots')" 0 "no slot is left on the source"
equals "$(psql_tgt 'SELECT count(*) FROM pg_subscription')" 0 "no subscription on the target"
expect 0 "drop again" call logical.drop $PAIR subscription=s1 publication=p1
equals "$(jq 'd["dropped_subscription"]')" false "idempotent"
psql_src "SELECT pg_create_logical_replication_slot('orphan', 'pgoutput')" >/dev/null
expect 0 "drop of a slot whose target is gone" call logical.drop \
	publisher=@env:PGMOVE_SOURCE slot=orphan
equals "$(psql_src 'SELECT count(*) FROM pg_replication_slots')" 0 "the orphan slot is gone"
expect 1 "drop without a server" call logical.drop subscription=s1
has "$T/err" "args.invalid" "is refused"

# --- preflight on servers that cannot replicate -----------------------------------------------
# The source: wal_level=replica, its only replication slot taken, no WAL sender, a
# prepared transaction left open, a materialized view; the target: no logical
# replication worker.
PGOPTIONS="-c default_transaction_read_only=off" as_admin "$SB_PORT" \
	"CREATE MATERIALIZED VIEW settings_count AS SELECT count(*) AS n FROM settings"
as_admin "$SB_PORT" "ALTER SYSTEM SET max_prepared_transactions = 2"
as_admin "$SB_PORT" "ALTER SYSTEM SET wal_level = replica"
as_admin "$SB_PORT" "ALTER SYSTEM SET max_replication_slots = 1"
as_admin "$SB_PORT" "ALTER SYSTEM SET max_wal_senders = 0"
as_admin "$((SB_PORT + 1))" "ALTER SYSTEM SET max_logical_replication_workers = 0"
. "$SB/sandbox.conf"
runuser -u "$SANDBOX_USER" -- "$SANDBOX_BINDIR/pg_ctl" -D "$SB/source" -w -m fast restart \
	-l "$SB/log/source.log" >/dev/null 2>&1 || bad "the source did not restart"
runuser -u "$SANDBOX_USER" -- "$SANDBOX_BINDIR/pg_ctl" -D "$SB/target" -w -m fast restart \
	-l "$SB/log/target.log" >/dev/null 2>&1 || bad "the target did not restart"
as_admin "$SB_PORT" "SELECT pg_create_physical_replication_slot('standby1')" >/dev/null
as_admin "$SB_PORT" "BEGIN; SELECT 1; PREPARE TRANSACTION 'left_open'" >/dev/null
expect 0 "preflight against them" call logical.preflight $PAIR
equals "$(jq 'd["ok"]')" false "it is not ok"
equals "$(jq '[p["check"] for p in d["problems"] if p["side"] == "publisher"]')" \
	'["wal_level", "max_replication_slots", "max_wal_senders", "prepared_transactions"]' \
	"wal_level, the slots, the WAL senders and the open prepared transaction are the publisher's problems"
has "$T/out" "COMMIT PREPARED or ROLLBACK PREPARED" "the fix for the prepared transaction"
equals "$(jq '[w["detail"] for w in d["warnings"] if w["check"] == "materialized_views"]')" \
	'["1 materialized views: not replicated"]' "a materialized view is a warning"
as_admin "$SB_PORT" "ROLLBACK PREPARED 'left_open'"
has "$T/out" "set wal_level = logical and restart" "the fix says what to set"
has "$T/out" "no free replication slot \\(1 of 1 used\\)" "the slot count is given"
has "$T/out" "no free WAL sender \\(0 of 0 used\\)" "the WAL senders are counted"
equals "$(jq '[p["check"] for p in d["problems"] if p["side"] == "subscriber" and p["check"].startswith("max_")]')" \
	'["max_logical_replication_workers"]' "no apply worker is the subscriber's problem"

# --- RDS / Aurora: rds.logical_replication off, the rds_replication and rds_superuser roles ---
# A database setting stands in for RDS's parameter group; the roles are RDS's names.
# (The source is read-only since the fence.)
export PGOPTIONS="-c default_transaction_read_only=off"
as_admin "$SB_PORT" "ALTER DATABASE app SET rds.logical_replication = '0'"
as_admin "$SB_PORT" "CREATE ROLE rds_replication"
as_admin "$SB_PORT" "GRANT rds_replication TO pgmove"
as_admin "$SB_PORT" "ALTER ROLE pgmove NOSUPERUSER NOREPLICATION"
unset PGOPTIONS
as_admin "$((SB_PORT + 1))" "CREATE ROLE rds_superuser"
as_admin "$((SB_PORT + 1))" "GRANT rds_superuser TO pgmove"
as_admin "$((SB_PORT + 1))" "ALTER ROLE pgmove NOSUPERUSER"
expect 0 "preflight as on RDS" call logical.preflight $PAIR
equals "$(jq '[p["detail"] for p in d["problems"] if p["check"] == "wal_level"]')" \
	'["rds.logical_replication is 0"]' "rds.logical_replication is the publisher's problem"
has "$T/out" "set rds.logical_replication = 1 in the DB parameter group" "the fix names the parameter group"
equals "$(jq '[p["check"] for p in d["problems"] if p["check"] in ("replication_privilege", "subscription_privilege")]')" \
	'[]' "rds_replication and rds_superuser are enough"
equals "$(jq '"publication_privilege" in [p["check"] for p in d["problems"]]')" true \
	"no longer a superuser: a publication FOR ALL TABLES is a problem"
finish
