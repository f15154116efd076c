#!/bin/sh
# tests/aws/runbook.sh - scripts/runbooks/rds-to-aurora-snapshot.lua end to end
# through `pgmove run` / `pgmove resume`, against the fake AWS, whose RDS
# instance and restored cluster report endpoints that are two real PostgreSQL
# servers (scripts/pgmove-sandbox): the source, and a target holding a copy of
# it (what restoring the snapshot gives). Checks: the run pauses for its
# approvals, the snapshot / cluster / serverless writer / alarms are made as
# the runbook says, the checksum gate passes, the decommission deletes the
# instance with a final snapshot; a second run whose target differs halts at
# the gate and decommissions nothing; no secret reaches the journal or logs.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"

EXTRA_PLUGIN_PATH="$top_builddir/plugins/checksum/.libs"
export PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$EXTRA_PLUGIN_PATH"
RUNBOOK="$top_srcdir/scripts/runbooks/rds-to-aurora-snapshot.lua"
SANDBOX="$top_srcdir/scripts/pgmove-sandbox"
STATE="$TMP/state"

# The sandbox's servers run as another user: it must reach the directory.
chmod 755 "$TMP"
SBX="$TMP/sandbox"
# a free port can be taken by a test running beside this one before the
# server binds it: try a few
started=0
for try in 1 2 3 4 5; do
	PORT=$("$SANDBOX" free-port --port $((30000 + ($$ * 7 + try * 997) % 25000 * 1))) || continue
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
# "Restore the snapshot": the target gets a copy of the source.
PGPASSWORD=$DBPASS pg_dump -h 127.0.0.1 -p "$PORT" -U pgmove --no-owner app 2>"$TMP/dump.err" |
	PGPASSWORD=$DBPASS psql -q -h 127.0.0.1 -p $((PORT + 1)) -U pgmove -d app -v ON_ERROR_STOP=1 \
		>/dev/null 2>"$TMP/restore.err" || { cat "$TMP/dump.err" "$TMP/restore.err" >&2; exit 99; }

fake_start --polls 1
# Alarms are first evaluated a second after they are put (CloudWatch: about a period).
ctl seed "{\"alarm_delay\": 1,
           \"instances\": [{\"id\": \"app-db\", \"address\": \"127.0.0.1\", \"port\": $PORT},
                           {\"id\": \"app-db2\", \"address\": \"127.0.0.1\", \"port\": $PORT}],
           \"cluster_endpoints\": {\"aurora-1\": {\"address\": \"127.0.0.1\", \"port\": $((PORT + 1))},
                                  \"aurora-2\": {\"address\": \"127.0.0.1\", \"port\": $((PORT + 1))}}}" >/dev/null
export AWS_ENDPOINT_URL="$FAKE_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET
export PGMOVE_DB_PASSWORD="$DBPASS"

run() {
	$PGMOVE "$@" --state-dir "$STATE" >"$TMP/run.out" 2>"$TMP/run.err"
	RC=$?
	cat "$TMP/run.out" "$TMP/run.err" >>"$TMP/all.err"
}
state() {
	ctl state
}

# --- the happy path ------------------------------------------------------------------
run run "$RUNBOOK" --run-id r1 -p instance=app-db -p cluster=aurora-1 -p db_name=app \
	-p db_user=pgmove -p min_capacity=0.5 -p max_capacity=8 -p security_groups=sg-1,sg-2 \
	-p alarm_topic=arn:aws:sns:eu-west-2:123456789012:ops -p poll=200ms --approve writes-stopped
expect_eq "paused at the decommission approval (exit 3)" "$RC" 3
[ "$RC" = 3 ] || cat "$TMP/run.err" >&2
S=$(state)
expect_eq "final snapshot made and available" \
	"$(jget "$S" '[(k, v["Status"]) for k, v in j["snapshots"].items()]')" '[["app-db-pre-aurora-r1", "available"]]'
expect_eq "cluster restored from it, available" \
	"$(jget "$S" 'j["clusters"]["aurora-1"]["Status"]')" available
expect_eq "serverless capacity range" \
	"$(jget "$S" 'j["clusters"]["aurora-1"]["ServerlessV2ScalingConfiguration"]')" \
	'{"MinCapacity": 0.5, "MaxCapacity": 8.0}'
expect_eq "security groups" \
	"$(jget "$S" '[g["VpcSecurityGroupId"] for g in j["clusters"]["aurora-1"]["VpcSecurityGroups"]]')" '["sg-1", "sg-2"]'
expect_eq "restore named the DB snapshot by its ARN (RestoreDBClusterFromSnapshot takes no name)" \
	"$(jget "$(ctl requests)" '[r["params"]["SnapshotIdentifier"] for r in j if r["action"]=="RestoreDBClusterFromSnapshot"]')" \
	'["arn:aws:rds:eu-west-2:123456789012:snapshot:app-db-pre-aurora-r1"]'
expect_eq "db.serverless writer" \
	"$(jget "$S" 'j["instances"]["aurora-1-writer"]["DBInstanceClass"] + " " + j["instances"]["aurora-1-writer"]["DBInstanceStatus"]')" \
	"db.serverless available"
expect_eq "the four alarms of checklist 000 section 12" \
	"$(jget "$S" 'sorted((a["MetricName"], a["ComparisonOperator"], a["Threshold"]) for a in j["alarms"].values())')" \
	'[["ACUUtilization", "GreaterThanThreshold", 80.0], ["AuroraReplicaLagMaximum", "GreaterThanThreshold", 5000.0], ["DatabaseConnections", "GreaterThanThreshold", 25.0], ["FailedConnectionAttempts", "GreaterThanThreshold", 0.0]]'
expect_eq "the restore publishes the PostgreSQL log" \
	"$(jget "$(ctl requests)" '[r["params"].get("EnableCloudwatchLogsExports.member.1") for r in j if r["action"]=="RestoreDBClusterFromSnapshot"]')" \
	'["postgresql"]'
# issue 16 item 17: the FailedConnectionAttempts alarm has the metric filter it needs,
# and the gate reads alarms that have been evaluated
expect_eq "the failed-connections metric filter on the cluster's log" \
	"$(jget "$S" '[(n, f["filterPattern"], f["metricTransformations"][0]["metricNamespace"], f["metricTransformations"][0]["metricName"]) for n, f in j["log_groups"]["/aws/rds/cluster/aurora-1/postgresql"]["filters"].items()]')" \
	'[["aurora-1-failed-connections", "\"password authentication failed\"", "LogMetrics/PostgreSQL/aurora-1", "FailedConnectionAttempts"]]'
expect_eq "its alarm watches that metric" \
	"$(jget "$S" '[(a["Namespace"], a.get("Dimensions")) for a in j["alarms"].values() if a["MetricName"] == "FailedConnectionAttempts"]')" \
	'[["LogMetrics/PostgreSQL/aurora-1", null]]'
expect_eq "alarms notify the topic" \
	"$(jget "$S" 'sorted(set(x for a in j["alarms"].values() for x in a["AlarmActions"]))')" \
	'["arn:aws:sns:eu-west-2:123456789012:ops"]'
expect_eq "instance not deleted before the approval" \
	"$(jget "$S" 'j["instances"]["app-db"]["DBInstanceStatus"]')" available
$PGMOVE status r1 --json --state-dir "$STATE" >"$TMP/status.json" 2>/dev/null
expect_match "gate passed with its four checks" "$(cat "$TMP/status.json")" '"aurora-verified"'
expect_eq "every check passed" \
	"$(jget "$(cat "$TMP/status.json")" '[c.get("ok", c.get("passed")) for n in j.get("nodes", []) if n.get("name") == "aurora-verified" for c in n.get("checks", [])]')" \
	'[true, true, true, true, true]'
expect_eq "the gate read evaluated alarms, all OK" \
	"$(jget "$(cat "$TMP/status.json")" 'sorted(set(v for n in j.get("nodes", []) if n.get("name") == "aurora-verified" for c in n.get("checks", []) for v in ((c.get("detail") or c.get("value") or c.get("result") or {}).get("states") or {}).values()))')" \
	'["OK"]'

run resume r1 --approve decommission
expect_eq "completes after the approval (exit 0)" "$RC" 0
[ "$RC" = 0 ] || cat "$TMP/run.err" >&2
S=$(state)
expect_eq "old instance deleted" "$(jget "$S" '"app-db" in j["instances"]')" false
expect_eq "deleted with a final snapshot" \
	"$(jget "$(ctl requests)" '[r["params"].get("FinalDBSnapshotIdentifier") for r in j if r["action"]=="DeleteDBInstance"]')" \
	'["app-db-decommission-r1"]'
expect_eq "decommission snapshot available" \
	"$(jget "$S" 'j["snapshots"]["app-db-decommission-r1"]["Status"]')" available

# --- a target that differs halts at the gate -------------------------------------------
PGPASSWORD=$DBPASS psql -q -h 127.0.0.1 -p $((PORT + 1)) -U pgmove -d app \
	-c "UPDATE settings SET value = value || '-changed' WHERE key = (SELECT min(key) FROM settings)" \
	>/dev/null 2>&1 ||
	PGPASSWORD=$DBPASS psql -q -h 127.0.0.1 -p $((PORT + 1)) -U pgmove -d app \
		-c "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)" >/dev/null
run run "$RUNBOOK" --run-id r2 -p instance=app-db2 -p cluster=aurora-2 -p db_name=app \
	-p db_user=pgmove -p poll=200ms --approve writes-stopped --approve decommission
expect_eq "gate failed: halted (exit 4)" "$RC" 4
S=$(state)
expect_eq "nothing decommissioned" "$(jget "$S" 'j["instances"]["app-db2"]["DBInstanceStatus"]')" available
expect_eq "no DeleteDBInstance for app-db2" \
	"$(jget "$(ctl requests)" '[r for r in j if r["action"]=="DeleteDBInstance" and r["params"]["DBInstanceIdentifier"]=="app-db2"]')" '[]'

# --- secrets ------------------------------------------------------------------------------
cat "$STATE"/*/*/journal.jsonl >>"$TMP/all.err" 2>/dev/null
expect_match "journal was read" "$(cat "$STATE"/*/r1/journal.jsonl)" "decommission-rds"
for secret in "$DBPASS" "$FAKE_SECRET"; do
	expect_no_match "no secret in journal, status or logs" "$(cat "$TMP/all.err" "$TMP/status.json")" "$secret"
done

finish
