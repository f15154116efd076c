#!/bin/sh
# tests/aws/moto.sh - the rds_snapshot and cloudwatch plugins against moto, a
# third-party AWS emulator, for every operation moto implements, so that our
# reading of AWS is checked by someone else's (tests/aws/fake_aws.py stays for
# the faults and states moto lacks). moto runs as a server on a free port,
# reached through AWS_ENDPOINT_URL like the fake.
#
# moto comes with the machine's python3 (pip package moto[server], 5.x), not
# from Debian. Without it this test FAILS (it is not skipped): install it with
#     python3 -m pip install 'moto[server]'
# or point PGMOVE_MOTO_PYTHON at a python that has it.
#
# Where moto differs from AWS (its gaps, checked by the fake instead):
#   RestoreDBClusterFromSnapshot restores only from cluster snapshots, not from a
#   DB snapshot's ARN; CreateDBCluster wants MasterUsername even for a read
#   replica (so create_replica_cluster / promote_cluster are not run here); a
#   second RestoreDBClusterFromSnapshot of an existing cluster clashes with
#   moto's own automated snapshot instead of DBClusterAlreadyExistsFault; a new
#   alarm is OK (not INSUFFICIENT_DATA) before its first evaluation; PutMetricFilter
#   needs no log group, a second put adds a duplicate, and DeleteMetricFilter of
#   a missing filter succeeds.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"

MOTO_PY=
for py in ${PGMOVE_MOTO_PYTHON:-} python3 /usr/bin/python3; do
	if "$py" -c 'import moto.server, boto3' 2>/dev/null; then
		MOTO_PY=$py
		break
	fi
done
if [ -z "$MOTO_PY" ]; then
	echo "FAIL: moto is not installed for python3 ($(command -v python3 || echo none)):" \
		"the AWS plugins must also be checked against moto." >&2
	echo "      install it with: python3 -m pip install 'moto[server]'" \
		"(or set PGMOVE_MOTO_PYTHON to a python that has it)" >&2
	exit 1
fi
echo "moto $("$MOTO_PY" -c 'import moto; print(moto.__version__)') with $MOTO_PY"

started=0
for try in 1 2 3; do
	MOTO_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$MOTO_PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 &
	MOTO_PID=$!
	EXTRA_PIDS="${EXTRA_PIDS:-} $MOTO_PID"
	for _ in $(seq 1 200); do
		"$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
			"http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && { started=1; break; }
		kill -0 "$MOTO_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ $started = 1 ] && break
	kill "$MOTO_PID" 2>/dev/null
done
[ $started = 1 ] || { cat "$TMP/moto.log" >&2; echo "moto did not start" >&2; exit 99; }
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL="$MOTO_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=AKIDPGMOVEMOTO AWS_SECRET_ACCESS_KEY=pgmove/moto/secret

# Seed what no plugin function creates: an RDS PostgreSQL instance and an Aurora
# cluster to snapshot.
"$MOTO_PY" - "$MOTO_URL" <<'PYEOF' || { echo "seeding moto failed" >&2; exit 99; }
import sys, boto3
rds = boto3.client("rds", endpoint_url=sys.argv[1], region_name="eu-west-2",
                   aws_access_key_id="AKIDPGMOVEMOTO", aws_secret_access_key="pgmove/moto/secret")
rds.create_db_instance(DBInstanceIdentifier="app-db", DBInstanceClass="db.t3.micro",
                       Engine="postgres", MasterUsername="app", AllocatedStorage=20,
                       MasterUserPassword="moto-password-0")
rds.create_db_cluster(DBClusterIdentifier="seed-cluster", Engine="aurora-postgresql",
                      MasterUsername="app", MasterUserPassword="moto-password-0")
PYEOF

# --- rds_snapshot: DB snapshots ---------------------------------------------------------
pcall rds_snapshot.describe_instance id=app-db
expect_eq "describe_instance" "$RC/$(jget "$OUT" 'j["engine"]')/$(jget "$OUT" 'j["status"]')" 0/postgres/available
pcall rds_snapshot.create_snapshot instance=app-db id=snap1 tags='{"run":"m1"}'
expect_eq "create_snapshot" "$RC/$(jget "$OUT" 'j["adopted"]')/$(jget "$OUT" 'j["arn"]')" \
	0/false/arn:aws:rds:eu-west-2:123456789012:snapshot:snap1
pcall rds_snapshot.create_snapshot instance=app-db id=snap1
expect_eq "create again adopts" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/true
pcall rds_snapshot.wait_snapshot id=snap1 every=50ms timeout=10s
expect_eq "wait_snapshot" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
pcall rds_snapshot.copy_snapshot source=snap1 target=snap1-copy
expect_eq "copy_snapshot" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/false
expect_eq "same-region copy: no source identifier (as AWS documents)" "$(jget "$OUT" 'j.get("source")')" null
pcall rds_snapshot.copy_snapshot source=snap1 target=snap1-copy
expect_eq "copy again adopts its own copy" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/true
pcall rds_snapshot.list_snapshots instance=app-db type=manual
expect_eq "list_snapshots" "$RC/$(jget "$OUT" 'sorted(s["id"] for s in j["snapshots"])')" \
	'0/["snap1", "snap1-copy"]'
pcall rds_snapshot.describe_snapshot id=no-such-snapshot
expect_eq "not found: AWS's code" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.DBSnapshotNotFound
expect_match "not found: HTTP 404" "$OUT" "HTTP 404"

# --- cluster snapshots, restore, serverless writer ------------------------------------------
pcall rds_snapshot.create_cluster_snapshot cluster=seed-cluster id=cs1
expect_eq "create_cluster_snapshot" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/false
pcall rds_snapshot.create_cluster_snapshot cluster=seed-cluster id=cs1
expect_eq "create_cluster_snapshot again adopts" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/true
pcall rds_snapshot.wait_cluster_snapshot id=cs1 every=50ms timeout=10s
expect_eq "wait_cluster_snapshot" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
pcall rds_snapshot.restore_cluster id=aurora-1 snapshot=cs1 min_capacity=0.5 max_capacity=8 \
	log_exports='["postgresql"]' tags='{"run":"m1"}'
expect_eq "restore_cluster from a cluster snapshot" "$RC/$(jget "$OUT" 'j["id"]')" 0/aurora-1
expect_eq "serverless range" "$(jget "$OUT" 'j["serverless"]')" '{"min_capacity": 0.5, "max_capacity": 8.0}'
pcall rds_snapshot.add_instance cluster=aurora-1 id=aurora-1-writer
expect_eq "add_instance" "$RC/$(jget "$OUT" 'j["class"]')/$(jget "$OUT" 'j["cluster"]')" 0/db.serverless/aurora-1
pcall rds_snapshot.add_instance cluster=aurora-1 id=aurora-1-writer
expect_eq "add_instance again adopts" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/true
pcall rds_snapshot.wait_cluster id=aurora-1 every=50ms timeout=10s
expect_eq "wait_cluster" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
expect_eq "writer member" "$(jget "$OUT" 'j["members"]')" '[{"id": "aurora-1-writer", "writer": true}]'
expect_match "cluster endpoint" "$(jget "$OUT" 'j["endpoint"]')" '^aurora-1\.cluster-'
pcall rds_snapshot.wait_instance id=aurora-1-writer every=50ms timeout=10s
expect_eq "wait_instance" "$RC/$(jget "$OUT" 'j["status"]')" 0/available

# --- deletes (issue 16 items 14, 15) -----------------------------------------------------------
pcall rds_snapshot.delete_cluster id=aurora-1 skip_final_snapshot=true
expect_eq "delete_cluster deletes its instances first" \
	"$RC/$(jget "$OUT" 'j["instances_deleted"]')" '0/["aurora-1-writer"]'
pcall rds_snapshot.delete_cluster id=aurora-1 skip_final_snapshot=true
expect_eq "delete_cluster again: done" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false
pcall rds_snapshot.delete_instance id=app-db final_snapshot=app-db-final
expect_eq "delete_instance" "$RC/$(jget "$OUT" 'j["existed"]')/$(jget "$OUT" 'j["final_snapshot"]')" 0/true/app-db-final
pcall rds_snapshot.delete_instance id=app-db final_snapshot=app-db-final
expect_eq "delete_instance again: done" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false
pcall rds_snapshot.describe_instance id=app-db
expect_eq "instance gone: AWS's code" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.DBInstanceNotFound
pcall rds_snapshot.wait_snapshot id=app-db-final every=50ms timeout=10s
expect_eq "final snapshot" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
pcall rds_snapshot.delete_snapshot id=snap1-copy
expect_eq "delete_snapshot" "$RC/$(jget "$OUT" 'j["existed"]')" 0/true
pcall rds_snapshot.delete_snapshot id=snap1-copy
expect_eq "delete_snapshot again: done" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false
pcall rds_snapshot.delete_cluster_snapshot id=cs1
expect_eq "delete_cluster_snapshot" "$RC/$(jget "$OUT" 'j["existed"]')" 0/true
pcall rds_snapshot.delete_cluster_snapshot id=cs1
expect_eq "delete_cluster_snapshot again: done" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false

# --- cloudwatch: metrics ------------------------------------------------------------------------
pcall cloudwatch.put_metrics namespace=pgmove/Test name=ReplicaLag value=7.5 unit=Seconds \
	dimensions='{"DBClusterIdentifier":"aurora-1"}'
expect_eq "put_metrics" "$RC/$(jget "$OUT" 'j["sent"]')" 0/1
"$PY" -c 'import json; print(json.dumps([{"name": "Batch", "value": i} for i in range(1500)], separators=(",", ":")))' >"$TMP/m.json"
pcall cloudwatch.put_metrics namespace=pgmove/Test metrics="$(cat "$TMP/m.json")"
expect_eq "put_metrics batched" "$RC/$(jget "$OUT" 'j["sent"]')/$(jget "$OUT" 'j["requests"]')" 0/1500/2
pcall cloudwatch.put_metrics namespace=pgmove/Test name=ReplicaLag value=9 \
	dimensions='{"DBClusterIdentifier":"aurora-1"}'
pcall cloudwatch.get_metric namespace=pgmove/Test name=ReplicaLag \
	dimensions='{"DBClusterIdentifier":"aurora-1"}' stat=Maximum period=1m window=10m
expect_eq "get_metric: the maximum" "$RC/$(jget "$OUT" 'j["max"]')" 0/9.0
pcall cloudwatch.get_metric namespace=pgmove/Test name=ReplicaLag \
	dimensions='{"DBClusterIdentifier":"other"}'
expect_eq "get_metric: no data" "$RC/$(jget "$OUT" 'j["value"]')/$(jget "$OUT" 'j["count"]')" 0/null/0

# --- cloudwatch: alarms (issue 16 item 16) ----------------------------------------------------------
pcall cloudwatch.put_alarm name=aurora-1-lag namespace=pgmove/Test metric=ReplicaLag \
	dimensions='{"DBClusterIdentifier":"aurora-1"}' stat=Maximum threshold=5 comparison='>' \
	period=1m treat_missing_data=notBreaching
expect_eq "put_alarm" "$RC/$(jget "$OUT" 'j["comparison"]')" 0/GreaterThanThreshold
pcall cloudwatch.describe_alarms prefix=aurora-1-
expect_eq "describe_alarms" "$RC/$(jget "$OUT" '[a["name"] for a in j["alarms"]]')" '0/["aurora-1-lag"]'
pcall cloudwatch.alarm_state prefix=no-such-prefix-
expect_eq "a prefix matching nothing is not ok" "$RC/$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["count"]')" 0/false/0
pcall cloudwatch.alarm_state names='["aurora-1-lag","no-such-alarm"]'
expect_eq "a missing alarm is not ok" "$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["missing"]')" 'false/["no-such-alarm"]'
pcall cloudwatch.alarm_state names='["aurora-1-lag"]' insufficient_ok=false
expect_eq "never evaluated: not ok when evaluation is required" \
	"$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["unevaluated"]')" 'false/["aurora-1-lag"]'
pcall cloudwatch.delete_alarms names='["aurora-1-lag","no-such-alarm"]'
expect_eq "delete_alarms skips absent ones" "$RC/$(jget "$OUT" 'j["deleted"]')" '0/["aurora-1-lag"]'
pcall cloudwatch.describe_alarms prefix=aurora-1-
expect_eq "deleted" "$(jget "$OUT" 'j["count"]')" 0

# --- cloudwatch: CloudWatch Logs metric filters (issue 16 item 17) ----------------------------------
LG=/aws/rds/cluster/aurora-1/postgresql
pcall cloudwatch.put_metric_filter log_group=$LG name=aurora-1-failed-connections \
	pattern='"password authentication failed"' namespace=LogMetrics/PostgreSQL/aurora-1 \
	metric=FailedConnectionAttempts default_value=0 create_log_group=true
expect_eq "put_metric_filter creates the log group" "$RC/$(jget "$OUT" 'j["log_group_created"]')" 0/true
pcall cloudwatch.describe_metric_filters log_group=$LG prefix=aurora-1-
expect_eq "describe_metric_filters" \
	"$RC/$(jget "$OUT" 'sorted(set((f["name"], f["pattern"], f["namespace"], f["metric"], f["value"]) for f in j["filters"]))')" \
	'0/[["aurora-1-failed-connections", "\"password authentication failed\"", "LogMetrics/PostgreSQL/aurora-1", "FailedConnectionAttempts", "1"]]'
pcall cloudwatch.put_metric_filter log_group=$LG name=aurora-1-failed-connections \
	pattern='"password authentication failed"' namespace=LogMetrics/PostgreSQL/aurora-1 \
	metric=FailedConnectionAttempts default_value=0 create_log_group=true
expect_eq "put_metric_filter again: the group exists" "$RC/$(jget "$OUT" 'j["log_group_created"]')" 0/false
pcall cloudwatch.delete_metric_filter log_group=$LG name=aurora-1-failed-connections
expect_eq "delete_metric_filter" "$RC/$(jget "$OUT" 'j["existed"]')" 0/true

# --- no secret in any output ------------------------------------------------------------------------
expect_no_match "no secret key in any log line" "$(cat "$TMP/all.err")" "pgmove/moto/secret"

finish
