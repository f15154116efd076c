#!/bin/sh
# tests/aws/dms_runbook.sh - scripts/runbooks/dms-full-load-cdc.lua (seed 001) end to end
# through `pgmove run` / `resume` / `rollback`, against the fake AWS (DMS, CloudWatch, RDS)
# and the fake flag service / PagerDuty (tests/notify/fake_notify.py), with two real
# PostgreSQL servers (scripts/pgmove-sandbox) as the endpoints' databases: the fake's DMS
# really copies the rows in its full load (without sequences, as DMS), and tests the
# endpoints' connections by connecting.
#   run a: killed (SIGKILL) in the middle of the CDC wait and resumed; its task fails
#          meanwhile and is resumed from its checkpoint; gates 1 and 2 pass; the staged
#          cutover moves the read flag 10 -> 50 -> 100, the fence makes the source
#          read-only, syncs sequences, verifies; writes move; decommission snapshots the
#          source and removes DMS
#   run b: CDC lags: the breaker pages and pauses; then a row differs and DMS reports a
#          validation failure: gate 2 halts with every check recorded; rollback undoes in
#          order (task stopped, deleted, endpoints, instance)
#   run c: the application turns unhealthy at the 10 % stage: the breaker rolls back, the
#          read flag returns to 0 before DMS is stopped
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"

for p in checksum pg pgdump rds_snapshot http pagerduty dms; do
	PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$top_builddir/plugins/$p/.libs"
done
export PGMOVE_PLUGIN_PATH
RUNBOOK="$top_srcdir/scripts/runbooks/dms-full-load-cdc.lua"
SANDBOX="$top_srcdir/scripts/pgmove-sandbox"
STATE="$TMP/state"

chmod 755 "$TMP"
SBX="$TMP/sandbox"
started=0
for try in 1 2 3 4 5; do
	PORT=$("$SANDBOX" free-port --port $((30000 + ($$ * 7 + try * 997) % 25000))) || continue
	if "$SANDBOX" start --dir "$SBX" --port "$PORT" --rows 2000 >"$TMP/sandbox.log" 2>&1; then
		started=1
		break
	fi
	"$SANDBOX" stop --dir "$SBX" >/dev/null 2>&1
done
[ $started = 1 ] || { cat "$TMP/sandbox.log" >&2; exit 99; }
trap '"$SANDBOX" stop --dir "$SBX" >/dev/null 2>&1; cleanup' EXIT INT TERM
eval "$("$SANDBOX" env --dir "$SBX")"
DBPASS=$(printf '%s' "$PGMOVE_SOURCE" | sed 's/.*password=\([^ ]*\).*/\1/')
TPORT=$((PORT + 1))
src() { PGPASSWORD=$DBPASS psql -X -q -At -h 127.0.0.1 -p "$PORT" -U pgmove -d app -c "$1" 2>&1; }
tgt() { PGPASSWORD=$DBPASS psql -X -q -At -h 127.0.0.1 -p "$TPORT" -U pgmove -d "$1" -c "$2" 2>&1; }
for db in app_b app_c; do tgt app "CREATE DATABASE $db" >/dev/null; done

# The AWS fake, and the notify fake (flags, health, PagerDuty).
fake_start --polls 1
ctl dms '{"polls": 2, "copy_data": true}' >/dev/null
ctl seed "{\"instances\": [{\"id\": \"app-db\", \"address\": \"127.0.0.1\", \"port\": $PORT}]}" >/dev/null
"$PY" "$top_srcdir/tests/notify/fake_notify.py" --port-file "$TMP/notify.port" >"$TMP/notify.out" 2>"$TMP/notify.err" &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
for _ in $(seq 1 100); do [ -s "$TMP/notify.port" ] && break; sleep 0.05; done
NOTIFY="http://127.0.0.1:$(jget "$(cat "$TMP/notify.port")" 'j["http"]')"
nctl() { FAKE_URL="$NOTIFY" ctl "$@"; }
for f in a b c; do
	nctl flag "{\"name\": \"$f-read\", \"value\": 0}" >/dev/null
	nctl flag "{\"name\": \"$f-write\", \"value\": \"source\"}" >/dev/null
done

export AWS_ENDPOINT_URL="$FAKE_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET
export PGMOVE_SOURCE_PASSWORD="$DBPASS" PGMOVE_TARGET_PASSWORD="$DBPASS"
export PGMOVE_PAGERDUTY_KEY=0123456789abcdef0123456789abcdef PGMOVE_PAGERDUTY_RETRY_BASE_MS=20

run() {
	$PGMOVE "$@" --state-dir "$STATE" >"$TMP/run.out" 2>"$TMP/run.err"
	RC=$?
	cat "$TMP/run.out" "$TMP/run.err" >>"$TMP/all.err"
}
# params NAME DB: the runbook's params for run NAME into target database DB (short windows)
params() {
	echo -p name="$1" -p source_host=127.0.0.1 -p source_port="$PORT" -p target_host=127.0.0.1 \
		-p target_port="$TPORT" -p db_name=app -p source_user=pgmove -p target_user=pgmove \
		-p dms_ssl_mode=none -p instance_class=dms.t3.medium -p assessment_bucket=dms-assess \
		-p assessment_role=arn:aws:iam::123456789012:role/dms-s3 -p poll=200ms \
		-p cdc_stable_for="${STABLE:-1s}" -p stage_soak=600ms -p lag_breaker_for=1s -p app_errors_for=1s \
		-p metric_window=10s -p metric_period=1s -p flags_url="$NOTIFY/flags" \
		-p read_flag="$1-read" -p write_flag="$1-write" -p app_health="$NOTIFY/health" \
		-p pd_url="$NOTIFY" -p exclude_tables=public.audit_log -p live_catch_up=2s
}
journal() { cat "$STATE/dms-full-load-cdc/$1/journal.jsonl"; }
dstate() { ctl dms; }

# The target database of run a is "app": the endpoints name db_name, the same on both
# servers; runs b and c use app_b / app_c through a target of their own database name.
expect_eq "pgmove plan accepts the runbook" "$($PGMOVE plan "$RUNBOOK" >/dev/null 2>&1; echo $?)" 0

# --- run a: crash in the CDC wait, a failed task resumed, to completion ------------------------
STABLE=4s $PGMOVE run "$RUNBOOK" --run-id a $(STABLE=4s params a) -p source_instance=app-db --state-dir "$STATE" \
	>"$TMP/a1.out" 2>"$TMP/a1.err" &
apid=$!
EXTRA_PIDS="$EXTRA_PIDS $apid"
i=0
while ! journal a 2>/dev/null | grep -q '"node":"cdc-caught-up"' && kill -0 $apid 2>/dev/null && [ $i -lt 1500 ]; do
	sleep 0.02
	i=$((i + 1))
done
if kill -9 $apid 2>/dev/null; then
	wait $apid 2>/dev/null
	pass "run a SIGKILLed while waiting for CDC to catch up"
else
	wait $apid
	fail "run a ended before it could be killed (exit $?)"
	cat "$TMP/a1.err" >&2
fi
cat "$TMP/a1.out" "$TMP/a1.err" >>"$TMP/all.err"
D=$(dstate)
expect_eq "full load copied the rows" \
	"$(tgt app 'SELECT count(*) FROM orders')" "$(src 'SELECT count(*) FROM orders')"
expect_eq "post-data restored after the full load: indexes on the target" \
	"$(tgt app "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'")" "$(src "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'")"
expect_eq "task created with the mappings (audit_log excluded), full-load-and-cdc" \
	"$(jget "$D" '[(t["MigrationType"], sorted(x["TableName"] for x in t["tables"])) for t in j["tasks"] if t["ReplicationTaskIdentifier"] == "a-task"]')" \
	'[["full-load-and-cdc", ["order_items", "orders", "pgmove_marker", "settings", "transactions", "users"]]]'
expect_eq "connection tests from the instance passed" \
	"$(jget "$D" 'sorted(c["EndpointIdentifier"] + ":" + c["Status"] for c in j["connections"] if c["EndpointIdentifier"].startswith("a-"))')" \
	'["a-source:successful", "a-target:successful"]'
expect_eq "resume-processing after the indexes" \
	"$(jget "$(ctl requests)" '[r["params"]["StartReplicationTaskType"] for r in j if r["action"] == "StartReplicationTask"]')" \
	'["start-replication", "resume-processing"]'
ctl dms '{"fail_task": "a-task", "message": "ERROR: replication slot is lost"}' >/dev/null
ctl dms '{"resume_fails": "a-task", "message": "ERROR: requested WAL segment has already been removed"}' >/dev/null
run resume a
expect_eq "resumed after the crash: paused at the cutover approval (exit 3)" "$RC" 3
[ "$RC" = 3 ] || tail -20 "$TMP/run.err" >&2
expect_eq "the failed task was resumed from its checkpoint, then reloaded when that failed" \
	"$(jget "$(ctl requests)" '[r["params"]["StartReplicationTaskType"] for r in j if r["action"] == "StartReplicationTask"]')" \
	'["start-replication", "resume-processing", "resume-processing", "reload-target"]'
expect_eq "reloaded with the target tables truncated first, running on into CDC" \
	"$(jget "$(ctl requests)" '[(lambda s: [s["FullLoadSettings"]["TargetTablePrepMode"], s["FullLoadSettings"]["StopTaskCachedChangesApplied"]])(__import__("json").loads(r["params"]["ReplicationTaskSettings"])) for r in j if r["action"] == "ModifyReplicationTask"]')" \
	'[["TRUNCATE_BEFORE_LOAD", false]]'
expect_eq "the recovery journaled" "$(journal a | grep '"wait.poll"' | grep -o '"recovery":"[a-z-]*' | sort -u | tr '\n' ' ')" \
	'"recovery":"modify-task "recovery":"reload-target "recovery":"resume-processing '
expect_eq "the reload left the rows equal" \
	"$(tgt app 'SELECT count(*) FROM order_items')" "$(src 'SELECT count(*) FROM order_items')"
expect_eq "DMS's failure paged" \
	"$(jget "$(nctl alerts)" '"dms-task-failed" in [k.rsplit("/", 1)[1] for k in j if "/a/" in k]')" true
$PGMOVE status a --json --state-dir "$STATE" >"$TMP/a-status.json" 2>/dev/null
expect_eq "gate 1: four checks passed" \
	"$(jget "$(cat "$TMP/a-status.json")" '[c.get("ok") for n in j["nodes"] if n["name"] == "gate-1-infrastructure-ready" for c in n["checks"]]')" \
	'[true, true, true, true]'
expect_eq "gate 2: five checks passed" \
	"$(jget "$(cat "$TMP/a-status.json")" '[c.get("ok") for n in j["nodes"] if n["name"] == "gate-2-replication-stable" for c in n["checks"]]')" \
	'[true, true, true, true, true]'

run resume a --approve start-cutover
expect_eq "reads moved: paused at the writes approval (exit 3)" "$RC" 3
[ "$RC" = 3 ] || tail -20 "$TMP/run.err" >&2
expect_eq "read flag 10 -> 50 -> 100" \
	"$(jget "$(nctl requests)" '[r["json"]["value"] for r in j if r.get("path") == "/flags/a-read" and r.get("method") == "PUT"]')" '[10, 50, 100]'
ctl dms '{"latency": {"a-task": [0, 0]}}' >/dev/null
src "SELECT nextval('invoice_no_seq') FROM generate_series(1, 5)" >/dev/null
run resume a --approve writes-cutover
expect_eq "writes moved: paused at the decommission approval (exit 3)" "$RC" 3
[ "$RC" = 3 ] || tail -20 "$TMP/run.err" >&2
expect_eq "source read-only" "$(src 'SHOW default_transaction_read_only')" on
expect_eq "sequences synced (DMS does not copy them)" \
	"$(tgt app "SELECT last_value FROM invoice_no_seq")" "$(src "SELECT last_value FROM invoice_no_seq")"
expect_eq "write flag on aurora" "$(jget "$(nctl flag '{"name": "a-write"}')" 'j["value"]')" aurora
run resume a --approve decommission
expect_eq "run a completed (exit 0)" "$RC" 0
[ "$RC" = 0 ] || tail -20 "$TMP/run.err" >&2
D=$(dstate)
expect_eq "DMS task and endpoints removed" \
	"$(jget "$D" '[x for x in [t["ReplicationTaskIdentifier"] for t in j["tasks"]] + [e["EndpointIdentifier"] for e in j["endpoints"]] if x.startswith("a-")]')" '[]'
expect_eq "replication instance deleting" \
	"$(jget "$D" '[i["ReplicationInstanceStatus"] for i in j["instances"] if i["ReplicationInstanceIdentifier"] == "a-ri"]')" '["deleting"]'
expect_eq "a final snapshot of the source (RDS), available" \
	"$(jget "$(ctl state)" '[(k, v["Status"]) for k, v in j["snapshots"].items()]')" '[["app-db-final-a", "available"]]'
expect_eq "taken before DMS was removed" \
	"$(jget "$(ctl requests)" '[r["action"] for r in j if r["action"] in ("CreateDBSnapshot", "DeleteReplicationTask")][:2]')" \
	'["CreateDBSnapshot", "DeleteReplicationTask"]'

# --- run b: the lag breaker pauses; gate 2 fails with every check; rollback in order ---------
ctl dms '{"latency": {"b-task": [90, 95]}}' >/dev/null
run run "$RUNBOOK" --run-id b $(params b) -p target_db=app_b
expect_eq "lag over the threshold: the breaker paused the run (exit 3)" "$RC" 3
[ "$RC" = 3 ] || tail -20 "$TMP/run.err" >&2
expect_match "the trip is journaled" "$(journal b)" '"breaker":"replication-lag"'
expect_eq "and paged" "$(jget "$(nctl alerts)" '[k.rsplit("/", 1)[1] for k in j if "/b/" in k]')" '["replication-lag"]'
ctl dms '{"latency": {"b-task": [1, 1]}, "validation_failed": "b-task", "table": "public.orders", "records": 3}' >/dev/null
tgt app_b "DELETE FROM settings WHERE key = (SELECT min(key) FROM settings)" >/dev/null
run resume b
expect_eq "gate 2 failed: halted (exit 4)" "$RC" 4
[ "$RC" = 4 ] || tail -20 "$TMP/run.err" >&2
$PGMOVE status b --json --state-dir "$STATE" >"$TMP/b-status.json" 2>/dev/null
expect_eq "every check of gate 2 recorded" \
	"$(jget "$(cat "$TMP/b-status.json")" '[(c["check"], c["ok"]) for n in j["nodes"] if n["name"] == "gate-2-replication-stable" for c in n["checks"]]')" \
	'[["all tables loaded", true], ["row counts equal", false], ["checksums equal on the tables DMS validated", false], ["CDC latency under the threshold", true], ["no table errored, no validation failure", false]]'
expect_eq "no cutover flag moved" "$(jget "$(nctl flag '{"name": "b-read"}')" 'j["value"]')" 0
before=$(jget "$(ctl requests)" 'len(j)')
run rollback b
expect_eq "rollback (exit 5 or 0)" "$(echo "$RC" | grep -cE '^(0|5)$')" 1
[ "$RC" = 0 ] || [ "$RC" = 5 ] || tail -20 "$TMP/run.err" >&2
expect_eq "undone newest first: task stopped, deleted, endpoints, instance" \
	"$(jget "$(ctl requests)" "[r['action'] for r in j[$before:] if r['action'] in ('StopReplicationTask', 'DeleteReplicationTask', 'DeleteEndpoint', 'DeleteReplicationInstance')]")" \
	'["StopReplicationTask", "DeleteReplicationTask", "DeleteEndpoint", "DeleteEndpoint", "DeleteReplicationInstance"]'

# --- run c: the application breaks at 10 %: rolled back, flags first --------------------------
run run "$RUNBOOK" --run-id c $(params c) -p target_db=app_c
expect_eq "run c paused at the cutover approval" "$RC" 3
[ "$RC" = 3 ] || tail -20 "$TMP/run.err" >&2
nctl health '{"status": 503, "body": {"status": "degraded"}}' >/dev/null
run resume c --approve start-cutover
expect_eq "the application breaker rolled the run back (exit 5)" "$RC" 5
[ "$RC" = 5 ] || tail -20 "$TMP/run.err" >&2
expect_eq "the read flag is back at 0" "$(jget "$(nctl flag '{"name": "c-read"}')" 'j["value"]')" 0
expect_eq "undo order: the flag, then DMS stopped and removed" \
	"$(journal c | "$PY" -c '
import json, sys
print(json.dumps([e["node"] for e in map(json.loads, sys.stdin) if e.get("ev") == "undo.succeeded"]))')" \
	'["reads-10", "start-task", "marker-table", "task", "target-endpoint", "source-endpoint", "replication-instance"]'
expect_eq "paged" "$(jget "$(nctl alerts)" '[k.rsplit("/", 1)[1] for k in j if "/c/" in k]')" '["app-errors"]'

# --- secrets ----------------------------------------------------------------------------------
cat "$STATE"/*/*/journal.jsonl "$TMP"/*-status.json >>"$TMP/all.err" 2>/dev/null
for secret in "$DBPASS" "$FAKE_SECRET" "$PGMOVE_PAGERDUTY_KEY"; do
	expect_no_match "no secret in the journals, status or logs" "$(cat "$TMP/all.err")" "$secret"
done
finish
