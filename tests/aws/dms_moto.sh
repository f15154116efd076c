#!/bin/sh
# tests/aws/dms_moto.sh - the dms plugin against moto (a third-party AWS
# emulator, run with the machine's python3: `python3 -m moto.server`), for the
# DMS operations moto implements: replication instances (create, describe,
# delete), endpoints (create, describe, delete), connection tests
# (TestConnection, DescribeConnections) and tasks (create, describe, start,
# stop, delete); and CloudWatch GetMetricData for cdc_latency. What moto does
# not implement (ModifyReplicationInstance, ModifyReplicationTask,
# ReloadTables, DescribeTableStatistics, assessment runs) is tested against
# our fake only (tests/aws/dms.sh). Without moto the test fails, as tests/aws/moto.sh.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"
export PGMOVE_PLUGIN_PATH="$top_builddir/plugins/dms/.libs"

MOTO_PY=${MOTO_PYTHON:-python3}
"$MOTO_PY" -c 'import moto.server' 2>/dev/null || {
	echo "FAIL: moto is not installed for $MOTO_PY (python3 -m pip install 'moto[server]')" >&2
	exit 1
}
started=0
for try in 1 2 3 4 5; do
	MOTO_PORT=$("$MOTO_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$MOTO_PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	for _ in $(seq 1 100); do
		"$MOTO_PY" -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/moto-api/" % sys.argv[1], timeout=1)' \
			"$MOTO_PORT" 2>/dev/null && { started=1; break; }
		sleep 0.1
	done
	[ $started = 1 ] && break
done
[ $started = 1 ] || { cat "$TMP/moto.log" >&2; echo "moto did not start" >&2; exit 99; }

export AWS_ENDPOINT_URL_DATABASE_MIGRATION_SERVICE="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL_CLOUDWATCH="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL=http://127.0.0.1:1 # nothing else may be used
export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=AKIAMOTO AWS_SECRET_ACCESS_KEY=moto-secret-key
W="every=20ms"

pcall dms.create_instance id=moto-ri class=dms.t3.medium storage=50 security_groups=sg-1
expect_eq "moto: create a replication instance" "$RC/$(jget "$OUT" '[j["id"], j["class"], j["adopted"]]')" '0/["moto-ri", "dms.t3.medium", false]'
expect_match "with moto's ARN" "$(jget "$OUT" 'j["arn"]')" '^arn:aws:dms:eu-west-1:[0-9]{12}:rep:'
pcall dms.create_instance id=moto-ri class=dms.t3.medium
expect_eq "moto: adopted on a re-run" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
pcall dms.create_instance id=moto-ri class=dms.r5.large
expect_eq "moto: another class is a conflict" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.conflict"
pcall dms.wait_instance id=moto-ri $W timeout=10s
expect_eq "moto: available" "$RC/$(jget "$OUT" 'j["status"]')" "0/available"

pcall dms.create_endpoint id=moto-src type=source server=10.0.0.5 database=app username=u password=moto-pw-123 ssl_mode=require
expect_eq "moto: source endpoint" "$RC/$(jget "$OUT" '[j["id"], j["type"], j["server"], j["adopted"]]')" '0/["moto-src", "source", "10.0.0.5", false]'
pcall dms.create_endpoint id=moto-src type=source server=10.0.0.5 database=app username=u password=moto-pw-123 ssl_mode=require
expect_eq "moto: adopted" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
pcall dms.create_endpoint id=moto-dst type=target engine=aurora-postgresql server=aurora.example database=app username=u password=moto-pw-123
expect_eq "moto: target endpoint" "$RC/$(jget "$OUT" 'j["engine"]')" "0/aurora-postgresql"
pcall dms.describe_endpoint id=moto-dst
expect_eq "moto: describe by id" "$RC/$(jget "$OUT" 'j["server"]')" "0/aurora.example"
expect_no_match "moto: no password in the result" "$OUT" moto-pw-123

pcall dms.test_connection instance=moto-ri endpoint=moto-src $W timeout=10s
expect_eq "moto: connection test" "$RC/$(jget "$OUT" 'j["status"]')" "0/successful"

MAP='[{"type":"include","schema":"public","table":"%"}]'
pcall dms.create_task id=moto-task instance=moto-ri source=moto-src target=moto-dst mappings="$MAP"
expect_eq "moto: task created" "$RC/$(jget "$OUT" '[j["id"], j["type"], j["adopted"]]')" '0/["moto-task", "full-load-and-cdc", false]'
pcall dms.create_task id=moto-task instance=moto-ri source=moto-src target=moto-dst mappings="$MAP"
expect_eq "moto: the same task again is adopted" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
pcall dms.create_task id=moto-task2 instance=moto-ri source=moto-nope target=moto-dst mappings="$MAP"
expect_match "moto: a missing endpoint is named" "$RC $(jget "$OUT" 'j["error"]["message"]')" "^1 .*task moto-task2: source endpoint moto-nope does not exist"
pcall dms.start_task task=moto-task
expect_eq "moto: started" "$RC/$(jget "$OUT" 'j["status"]')" "0/running"
pcall dms.replication_state task=moto-task
expect_eq "moto: running after a full load, no CloudWatch data: CDC_ACTIVE" "$RC/$(jget "$OUT" 'j["state"]')" "0/CDC_ACTIVE"
expect_match "moto: saying why" "$(jget "$OUT" 'j["reason"]')" "no CloudWatch data"
pcall dms.cdc_latency task=moto-task
expect_eq "moto: GetMetricData answered, no data" "$RC/$(jget "$OUT" '[j["source"], j["has_data"]]')" "0/[null, false]"
pcall dms.stop_task task=moto-task
expect_eq "moto: stopped" "$RC/$(jget "$OUT" 'j["status"]')" "0/stopped"
pcall dms.replication_state task=moto-task latency=false
expect_eq "moto: stopped by hand: STOPPED" "$RC/$(jget "$OUT" 'j["state"]')" "0/STOPPED"
pcall dms.delete_task task=moto-task
expect_eq "moto: task deleted" "$RC/$(jget "$OUT" 'j["existed"]')" "0/true"
pcall dms.delete_task task=moto-task
expect_eq "moto: absent counts as deleted" "$RC/$(jget "$OUT" 'j["existed"]')" "0/false"
pcall dms.delete_endpoint id=moto-src
expect_eq "moto: endpoint deleted" "$RC/$(jget "$OUT" 'j["existed"]')" "0/true"
pcall dms.delete_instance id=moto-ri
expect_eq "moto: instance deleted" "$RC/$(jget "$OUT" 'j["existed"]')" "0/true"
pcall dms.describe_instance id=moto-ri
expect_eq "moto: gone" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.ResourceNotFoundFault"
finish
