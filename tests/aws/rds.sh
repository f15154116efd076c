#!/bin/sh
# tests/aws/rds.sh - the rds_snapshot plugin and the AWS layer against the
# fake, through `pgmove call`: snapshots (create, progress, wait, adopt, copy,
# delete, pagination), Aurora restore + serverless instance, replica cluster
# and promotion, delete with a final snapshot; errors: bad identifier, not
# found, throttling that recovers and that never does (bounded), 500s,
# non-XML bodies, a 200 with an error inside, timeouts, expired token, bad
# signature, unknown key, unknown region; no secret in any log line.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"

fake_start --polls 3
ctl seed '{"instances": [{"id": "app-db", "address": "127.0.0.1", "port": 5433}]}' >/dev/null
export AWS_ENDPOINT_URL_RDS="$FAKE_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET

# --- snapshots -----------------------------------------------------------------
pcall rds_snapshot.create_snapshot instance=app-db id=pre-aurora-1 tags='{"run":"t1"}'
expect_eq "create_snapshot exit" "$RC" 0
expect_eq "create_snapshot status" "$(jget "$OUT" 'j["status"]')" creating
expect_eq "create_snapshot progress" "$(jget "$OUT" 'j["progress"]')" 0
expect_eq "create_snapshot not adopted" "$(jget "$OUT" 'j["adopted"]')" false
expect_eq "tags sent as Tags.Tag.N" \
	"$(jget "$(ctl requests)" '[r["params"].get("Tags.Tag.1.Value") for r in j if r["action"]=="CreateDBSnapshot"][0]')" t1
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "progress rises" "$(jget "$OUT" 'j["progress"]')" 33
pcall rds_snapshot.wait_snapshot id=pre-aurora-1 every=50ms timeout=10s
expect_eq "wait_snapshot exit" "$RC" 0
expect_eq "wait_snapshot available" "$(jget "$OUT" 'j["status"]')" available
expect_eq "wait_snapshot 100%" "$(jget "$OUT" 'j["progress"]')" 100
pcall rds_snapshot.create_snapshot instance=app-db id=pre-aurora-1
expect_eq "create again adopts" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/true
ctl seed '{"instances": [{"id": "other-db"}]}' >/dev/null
pcall rds_snapshot.create_snapshot instance=other-db id=pre-aurora-1
expect_eq "same id, other instance: error" "$RC/$(jget "$OUT" 'j["error"]["code"]')" \
	1/rds.DBSnapshotAlreadyExists
expect_match "names the other instance" "$OUT" "is of instance app-db, not other-db"

pcall rds_snapshot.create_snapshot instance=app-db id=bad--snapshot-
expect_eq "bad id: AWS's code" "$(jget "$OUT" 'j["error"]["code"]')" rds.InvalidParameterValue
expect_match "bad id: AWS's message" "$OUT" "not a valid identifier"
expect_eq "bad id: not retryable" "$(jget "$OUT" 'j["error"]["retryable"]')" false
pcall rds_snapshot.describe_snapshot id=no-such-snapshot
expect_eq "not found" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.DBSnapshotNotFound
expect_match "not found message has request id" "$OUT" "HTTP 404, request id [0-9a-f-]{36}"

pcall rds_snapshot.copy_snapshot source=pre-aurora-1 target=pre-aurora-1-copy
expect_eq "copy_snapshot" "$RC/$(jget "$OUT" 'j["status"]')" 0/creating
# A same-region copy has no SourceDBSnapshotIdentifier (botocore's model): the
# retry adopts its own copy by the pgmove:copy-of tag (issue 16 item 11).
expect_eq "same-region copy: no source identifier" "$(jget "$OUT" 'j.get("source")')" null
pcall rds_snapshot.copy_snapshot source=pre-aurora-1 target=pre-aurora-1-copy
expect_eq "copy again adopts its own copy" "$RC/$(jget "$OUT" 'j.get("adopted")')" 0/true
ctl seed '{"snapshots": [{"id": "other-snap", "instance": "app-db"}]}' >/dev/null
pcall rds_snapshot.copy_snapshot source=other-snap target=pre-aurora-1-copy
expect_eq "a copy of something else is not adopted" "$RC/$(jget "$OUT" 'j["error"]["code"]')" \
	1/rds.DBSnapshotAlreadyExists
pcall rds_snapshot.wait_snapshot id=pre-aurora-1-copy every=10ms
pcall rds_snapshot.delete_snapshot id=pre-aurora-1-copy
expect_eq "delete_snapshot" "$RC/$(jget "$OUT" 'j["status"]')/$(jget "$OUT" 'j["existed"]')" 0/deleted/true
pcall rds_snapshot.delete_snapshot id=pre-aurora-1-copy
expect_eq "delete again is a no-op" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false

# Pagination: 130 snapshots come in two pages (MaxRecords 100, Marker).
ctl seed "$("$PY" -c 'import json; print(json.dumps({"snapshots": [{"id": "s%03d" % i, "instance": "big-db"} for i in range(130)]}))')" >/dev/null
ctl reset '{}' >/dev/null
pcall rds_snapshot.list_snapshots instance=big-db
expect_eq "list_snapshots all pages" "$(jget "$OUT" 'len(j["snapshots"])')/$(jget "$OUT" 'j["pages"]')" 130/2
expect_eq "second page sent the Marker" \
	"$(jget "$(ctl requests)" '[r["params"].get("Marker") for r in j][1]')" 100

# --- Aurora: restore, serverless instance, endpoints -------------------------------
pcall rds_snapshot.restore_cluster id=aurora-1 snapshot=pre-aurora-1 engine_version=15.4 \
	min_capacity=0.5 max_capacity=16 security_groups='["sg-0123456789abcdef0"]' \
	subnet_group=app-subnets log_exports='["postgresql"]'
expect_eq "restore_cluster" "$RC/$(jget "$OUT" 'j["status"]')" 0/creating
# RestoreDBClusterFromSnapshot takes a DB snapshot only by its ARN (issue 16 item 10)
expect_eq "restore sends the DB snapshot's ARN" \
	"$(jget "$(ctl requests)" '[r["params"].get("SnapshotIdentifier") for r in j if r["action"]=="RestoreDBClusterFromSnapshot"][-1]')" \
	"arn:aws:rds:eu-west-2:123456789012:snapshot:pre-aurora-1"
expect_eq "engine_version=15.4 is sent as 15.4 (issue 16 item 18)" \
	"$(jget "$(ctl requests)" '[r["params"].get("EngineVersion") for r in j if r["action"]=="RestoreDBClusterFromSnapshot"][-1]')" 15.4
expect_eq "log exports sent" \
	"$(jget "$(ctl requests)" '[r["params"].get("EnableCloudwatchLogsExports.member.1") for r in j if r["action"]=="RestoreDBClusterFromSnapshot"][-1]')" postgresql
expect_eq "serverless range" "$(jget "$OUT" 'j["serverless"]')" '{"min_capacity": 0.5, "max_capacity": 16.0}'
pcall rds_snapshot.add_instance cluster=aurora-1 id=aurora-1-writer
expect_eq "add_instance db.serverless" "$RC/$(jget "$OUT" 'j["class"]')" 0/db.serverless
pcall rds_snapshot.wait_cluster id=aurora-1 every=10ms timeout=5s
expect_eq "wait_cluster" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
expect_match "writer endpoint" "$(jget "$OUT" 'j["endpoint"]')" '^aurora-1\.cluster-'
expect_match "reader endpoint" "$(jget "$OUT" 'j["reader_endpoint"]')" '^aurora-1\.cluster-ro-'
expect_eq "writer member" "$(jget "$OUT" 'j["members"]')" '[{"id": "aurora-1-writer", "writer": true}]'
pcall rds_snapshot.wait_instance id=aurora-1-writer every=10ms timeout=5s
expect_eq "wait_instance" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
pcall rds_snapshot.restore_cluster id=aurora-1 snapshot=pre-aurora-1
expect_eq "restore again adopts" "$RC/$(jget "$OUT" 'j["adopted"]')" 0/true
pcall rds_snapshot.restore_cluster id=aurora-x snapshot=pre-aurora-1 min_capacity=4 max_capacity=2
expect_eq "capacity range checked" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid

# The example of doc/plugins-aws.md, as written there, sends the version without quotes
# (issue 16 item 18: the doc said engine_version='"15.4"', which sent the quotes).
ctl seed '{"snapshots": [{"id": "s1", "instance": "app-db"}]}' >/dev/null
doc_example=$(sed -n 's/.*`\(pgmove call rds_snapshot\.restore_cluster [^`]*\)`.*/\1/p' \
	"$top_srcdir/doc/plugins-aws.md" | head -n 1)
expect_match "the doc has the example" "$doc_example" "engine_version="
eval "$PGMOVE ${doc_example#pgmove } --json" >"$TMP/out" 2>"$TMP/err"
expect_eq "the doc's example works" "$?" 0
expect_eq "the doc's example sends 15.4" \
	"$(jget "$(ctl requests)" '[r["params"].get("EngineVersion") for r in j if r["action"]=="RestoreDBClusterFromSnapshot"][-1]')" 15.4

# --- read replica cluster and promotion ---------------------------------------------
pcall rds_snapshot.create_replica_cluster id=aurora-replica source_instance=app-db
expect_eq "create_replica_cluster" "$RC/$(jget "$OUT" 'j["replication_source"]')" \
	"0/arn:aws:rds:us-east-1:123456789012:db:app-db"
pcall rds_snapshot.promote_cluster id=aurora-replica
expect_eq "promote before available: AWS's error" "$(jget "$OUT" 'j["error"]["code"]')" \
	rds.InvalidDBClusterStateFault
pcall rds_snapshot.wait_cluster id=aurora-replica every=10ms
pcall rds_snapshot.promote_cluster id=aurora-replica
expect_eq "promote_cluster" "$RC/$(jget "$OUT" 'j["status"]')" 0/promoting
pcall rds_snapshot.wait_cluster id=aurora-replica every=10ms
expect_eq "promoted: no replication source" "$RC/$(jget "$OUT" 'j.get("replication_source")')" 0/null

# --- decommission ------------------------------------------------------------------
pcall rds_snapshot.delete_instance id=app-db
expect_eq "delete_instance needs a final snapshot" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall rds_snapshot.delete_instance id=app-db final_snapshot=app-db-final
expect_eq "delete_instance" "$RC/$(jget "$OUT" 'j["status"]')/$(jget "$OUT" 'j["final_snapshot"]')" 0/deleting/app-db-final
expect_eq "FinalDBSnapshotIdentifier sent" \
	"$(jget "$(ctl requests)" '[r["params"].get("FinalDBSnapshotIdentifier") for r in j if r["action"]=="DeleteDBInstance"][-1]')" app-db-final
pcall rds_snapshot.wait_snapshot id=app-db-final every=10ms
expect_eq "final snapshot available" "$RC/$(jget "$OUT" 'j["status"]')" 0/available

# --- faults and retries --------------------------------------------------------------
export AWS_MAX_ATTEMPTS=3
ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeDBSnapshots", "error": "Throttling", "count": 2}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "throttling that recovers" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
expect_eq "three attempts made" "$(jget "$(ctl requests)" 'len(j)')" 3
expect_match "retry logged" "$ERR" "Throttling \(retryable\); retrying in [0-9]+ ms \(attempt 2 of 3\)"

ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeDBSnapshots", "error": "Throttling", "count": 100}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "throttling that never recovers" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.Throttling
expect_eq "bounded: three requests" "$(jget "$(ctl requests)" 'len(j)')" 3
expect_match "says how many attempts" "$OUT" "Rate exceeded \(HTTP 400.*\) \(gave up after 3 attempts\)"
expect_eq "still marked retryable" "$(jget "$OUT" 'j["error"]["retryable"]')" true

ctl reset '{}' >/dev/null
ctl inject '{"action": "*", "kind": "http500", "count": 1}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "a 500 is retried" "$RC/$(jget "$(ctl requests)" 'len(j)')" 0/2

ctl reset '{}' >/dev/null
ctl inject '{"action": "*", "kind": "malformed", "count": 10}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "non-XML body" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.bad_response
expect_match "non-XML body message" "$OUT" "HTTP 200 with a body that is not XML"

ctl reset '{}' >/dev/null
ctl inject '{"action": "*", "kind": "error200", "error": "AccessDenied", "message": "User is not authorized", "count": 1}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "200 with an error inside" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.AccessDenied
expect_match "200 with an error: message" "$OUT" "User is not authorized \(HTTP 200"
ctl inject '{"action": "*", "kind": "error200", "error": "InternalFailure", "count": 1}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "200 with a transient error is retried" "$RC" 0

ctl reset '{}' >/dev/null
ctl inject '{"action": "*", "kind": "delay", "delay": 2, "count": 2}' >/dev/null
PGMOVE_AWS_TIMEOUT_MS=300 AWS_MAX_ATTEMPTS=2 pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "timeout" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/http.timeout
expect_match "timeout attempts" "$OUT" "gave up after 2 attempts"

# --- answers that are not AWS's answer (issue 16 items 12, 13) -----------------------------
ctl seed '{"instances": [{"id": "keep-db"}, {"id": "lost-db"}]}' >/dev/null
ctl reset '{}' >/dev/null
ctl inject '{"action": "DeleteDBInstance", "kind": "xhtml200", "count": 10}' >/dev/null
pcall rds_snapshot.delete_instance id=keep-db skip_final_snapshot=true
expect_eq "an XHTML page with 200 is not success" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.bad_response
expect_match "says what came instead" "$OUT" "root is <html>, not <DeleteDBInstanceResponse>"
ctl reset '{}' >/dev/null
ctl inject '{"action": "DeleteDBInstance", "kind": "other_action", "count": 10}' >/dev/null
pcall rds_snapshot.delete_instance id=keep-db skip_final_snapshot=true
expect_eq "another action's answer is not success" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.bad_response
ctl reset '{}' >/dev/null
pcall rds_snapshot.describe_instance id=keep-db
expect_eq "nothing was deleted" "$RC/$(jget "$OUT" 'j["status"]')" 0/available
ctl inject '{"action": "DescribeDBSnapshots", "kind": "errors403", "count": 1}' >/dev/null
pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "ErrorResponse/Errors/Error parsed" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.SignatureDoesNotMatch
expect_match "its whole message" "$OUT" "does not match the signature you provided. \(HTTP 403"

# --- deletes that happened although the reply was lost (issue 16 items 14, 15) -------------
ctl reset '{}' >/dev/null
ctl inject '{"action": "DeleteDBInstance", "kind": "lost", "count": 1}' >/dev/null
pcall rds_snapshot.delete_instance id=lost-db final_snapshot=lost-db-final
expect_eq "delete after a lost reply succeeds" "$RC/$(jget "$OUT" 'j.get("status")')" 0/deleting
expect_eq "the delete was sent twice" \
	"$(jget "$(ctl requests)" 'len([r for r in j if r["action"]=="DeleteDBInstance"])')" 2
pcall rds_snapshot.wait_snapshot id=lost-db-final every=10ms
pcall rds_snapshot.describe_instance id=lost-db
pcall rds_snapshot.describe_instance id=lost-db
pcall rds_snapshot.describe_instance id=lost-db
expect_eq "it is gone" "$(jget "$OUT" 'j["error"]["code"]')" rds.DBInstanceNotFound
pcall rds_snapshot.delete_instance id=lost-db final_snapshot=lost-db-final
expect_eq "deleting a deleted instance is done" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false
ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeDBSnapshots", "kind": "http500", "count": 1}' >/dev/null
pcall rds_snapshot.describe_snapshot id=no-such-snapshot
expect_eq "a final answer after a retry" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/rds.DBSnapshotNotFound
expect_no_match "not 'gave up' of a non-retryable error" "$OUT" "gave up"
expect_match "says the attempt and the earlier failure" "$OUT" "on attempt 2; the one before failed with InternalError"

ctl reset '{}' >/dev/null
pcall rds_snapshot.delete_cluster id=aurora-1 skip_final_snapshot=true
expect_eq "delete_cluster deletes its instances first" \
	"$RC/$(jget "$OUT" 'j.get("instances_deleted")')" '0/["aurora-1-writer"]'
expect_eq "DeleteDBInstance, then DeleteDBCluster" \
	"$(jget "$(ctl requests)" '",".join(r["action"] for r in j if r["action"].startswith("Delete"))')" \
	DeleteDBInstance,DeleteDBCluster
pcall rds_snapshot.delete_cluster id=aurora-1 skip_final_snapshot=true
expect_eq "deleting it again is done" "$RC/$(jget "$OUT" 'j["status"]')" 0/deleting

# --- wait timeout: a retryable rds.wait_timeout naming the status (issue 16 item 9) --------
ctl seed '{"polls": 1000}' >/dev/null
pcall rds_snapshot.create_snapshot instance=keep-db id=slow-snap
pcall rds_snapshot.wait_snapshot id=slow-snap every=20ms timeout=100ms
expect_eq "wait timeout code" "$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" \
	1/rds.wait_timeout/true
expect_match "wait timeout message" "$OUT" "snapshot slow-snap is still creating after"
ctl seed '{"polls": 3}' >/dev/null

# --- credentials and region ---------------------------------------------------------------
ctl reset '{}' >/dev/null
AWS_SECRET_ACCESS_KEY=not-the-secret pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "wrong secret" "$(jget "$OUT" 'j["error"]["code"]')" rds.SignatureDoesNotMatch
expect_eq "auth failure not retried" "$(jget "$(ctl requests)" 'len(j)')" 1
AWS_ACCESS_KEY_ID=AKIDUNKNOWN pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "unknown key" "$(jget "$OUT" 'j["error"]["code"]')" rds.InvalidClientTokenId
ctl keys '{"ASIATEMP": {"secret": "temp/secret/0000", "token": "tok-valid-0001"}, "ASIAOLD": {"secret": "old/secret/0000", "token": "tok-old-0002", "expired": true}}' >/dev/null
AWS_ACCESS_KEY_ID=ASIATEMP AWS_SECRET_ACCESS_KEY=temp/secret/0000 AWS_SESSION_TOKEN=tok-valid-0001 \
	pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "session token accepted" "$RC" 0
AWS_ACCESS_KEY_ID=ASIATEMP AWS_SECRET_ACCESS_KEY=temp/secret/0000 \
	pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "session token missing" "$(jget "$OUT" 'j["error"]["code"]')" rds.InvalidClientTokenId
AWS_ACCESS_KEY_ID=ASIAOLD AWS_SECRET_ACCESS_KEY=old/secret/0000 AWS_SESSION_TOKEN=tok-old-0002 \
	pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "expired token" "$(jget "$OUT" 'j["error"]["code"]')" rds.ExpiredToken
expect_match "expired token message" "$OUT" "security token included in the request is expired"

AWS_REGION=mars-north-1 pcall rds_snapshot.describe_snapshot id=pre-aurora-1
expect_eq "unknown region" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.region_unknown
expect_match "unknown region message" "$OUT" 'region \\"mars-north-1\\" \(from AWS_REGION\)'
(unset AWS_REGION; pcall rds_snapshot.describe_snapshot id=pre-aurora-1
 expect_eq "no region" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.region_missing; exit $FAILS) ||
	FAILS=$((FAILS + 1))
pcall rds_snapshot.describe_snapshot id=pre-aurora-1 region=eu-central-1
expect_eq "region param wins" "$(jget "$(ctl requests)" 'j[-1]["region"]')" eu-central-1

# --- the run's configuration: plugin "rds_snapshot" { region = ... } for calls that give none
export PGMOVE_STATE_DIR="$TMP/state"
cat >"$TMP/region.lua" <<'LUA'
runbook "region" {}
local rds = plugin "rds_snapshot" { region = "eu-central-1" }
step "configured" { run = function(ctx) pcall(rds.describe_snapshot, { id = "pre-aurora-1" }) end }
step "own" { run = function(ctx) pcall(rds.describe_snapshot, { id = "pre-aurora-1", region = "us-west-2" }) end }
LUA
$PGMOVE run "$TMP/region.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
cat "$TMP/err" >>"$TMP/all.err"
expect_eq "a run with a configured region completes" "$RC" 0
expect_eq "the configured region wins over AWS_REGION; a call's own region over the configuration" \
	"$(jget "$(ctl requests)" 'j[-2]["region"] + " " + j[-1]["region"]')" "eu-central-1 us-west-2"
printf 'runbook "r2" {}\nlocal rds = plugin "rds_snapshot" { region = "eu central" }\nstep "s" { run = function() end }\n' >"$TMP/region.lua"
$PGMOVE run "$TMP/region.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "a region that is no region name stops the run before it starts" "$RC/$(grep -c "region 'eu central' is not an AWS region name" "$TMP/err")" 6/1
for plug in rds_snapshot cloudwatch dms dynamodb; do
	printf 'runbook "r3" {}\nlocal p = plugin "%s" { regoin = "eu-west-1" }\n' "$plug" >"$TMP/region.lua"
	PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$top_builddir/plugins/dms/.libs:$top_builddir/plugins/dynamodb/.libs" \
		$PGMOVE plan "$TMP/region.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
	expect_eq "$plug: plan refuses an unknown configuration key by name" \
		"$RC/$(grep -c "plugin $plug { ... }: unknown key 'regoin' (keys: region)" "$TMP/err")" 6/1
done

# --- no secret in any log line, even at debug level -------------------------------------------
ctl reset '{}' >/dev/null
ctl inject '{"action": "*", "error": "Throttling", "count": 1}' >/dev/null
AWS_ACCESS_KEY_ID=ASIATEMP AWS_SECRET_ACCESS_KEY=temp/secret/0000 AWS_SESSION_TOKEN=tok-valid-0001 \
	$PGMOVE call rds_snapshot.describe_snapshot id=pre-aurora-1 -v >"$TMP/dbg.out" 2>"$TMP/dbg.err"
expect_match "debug log is on" "$(cat "$TMP/dbg.err")" "DEBUG .*aws: rds DescribeDBSnapshots: attempt 1/3"
cat "$TMP/dbg.err" "$TMP/dbg.out" >>"$TMP/all.err"
for secret in "$FAKE_SECRET" temp/secret/0000 tok-valid-0001 old/secret/0000 tok-old-0002 not-the-secret; do
	expect_no_match "no secret $secret in any output" "$(cat "$TMP/all.err")" "$secret"
done
expect_no_match "no Authorization header logged" "$(cat "$TMP/all.err")" "Signature="

finish
