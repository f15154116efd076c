#!/bin/sh
# tests/aws/json.sh - the AWS layer's JSON 1.1 protocol (pgm_aws_json, what
# DMS speaks) against the fake, through the test plugin's aws_json: the
# X-Amz-Target and content type, the signature checked by botocore, the
# answer parsed, Marker pagination by hand, JSON error shapes mapped to
# codes, throttling retried and bounded.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"
export PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$top_builddir/tests/plugins"

fake_start
export AWS_ENDPOINT_URL_DATABASE_MIGRATION_SERVICE="$FAKE_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET
export AWS_ENDPOINT_URL=http://127.0.0.1:1 # only the DMS override may be used
# 21 tasks: DMS's MaxRecords is at least 20, so the second page holds one.
ctl seed '{"dms_tasks": [{"id": "orders-cdc"}, {"id": "users-full", "type": "full-load"},
  {"id": "t01"}, {"id": "t02"}, {"id": "t03"}, {"id": "t04"}, {"id": "t05"}, {"id": "t06"},
  {"id": "t07"}, {"id": "t08"}, {"id": "t09"}, {"id": "t10"}, {"id": "t11"}, {"id": "t12"},
  {"id": "t13"}, {"id": "t14"}, {"id": "t15"}, {"id": "t16"}, {"id": "t17"}, {"id": "t18"},
  {"id": "zz-last"}]}' >/dev/null

pcall testplug.aws_json action=DescribeReplicationTasks body='{"MaxRecords": 20}'
expect_eq "a JSON 1.1 call succeeds" "$RC" 0
expect_eq "its answer is parsed" "$(jget "$OUT" '[t["ReplicationTaskIdentifier"] for t in j["ReplicationTasks"]][:2]')" '["orders-cdc", "users-full"]'
expect_eq "with the page marker" "$(jget "$OUT" 'j["Marker"]')" 20
req=$(ctl requests)
expect_eq "X-Amz-Target names the operation" "$(jget "$req" 'j[-1]["target"]')" AmazonDMSv20160101.DescribeReplicationTasks
expect_eq "content type" "$(jget "$req" 'j[-1]["headers"]["content-type"]')" application/x-amz-json-1.1
expect_eq "signed for dms in the region, checked by botocore" "$(jget "$req" 'j[-1]["service"] + " " + j[-1]["region"] + " " + j[-1]["auth"]')" "dms eu-west-2 ok"
pcall testplug.aws_json action=DescribeReplicationTasks body='{"MaxRecords": 20, "Marker": "20"}'
expect_eq "the next page" "$(jget "$OUT" '[t["ReplicationTaskIdentifier"] for t in j["ReplicationTasks"]]')" '["zz-last"]'

arn=arn:aws:dms:us-east-1:123456789012:task:ORDERS-CDC
pcall testplug.aws_json action=StartReplicationTask body="{\"ReplicationTaskArn\": \"$arn\", \"StartReplicationTaskType\": \"start-replication\"}"
expect_eq "start a task" "$RC/$(jget "$OUT" 'j["ReplicationTask"]["Status"]')" 0/starting
pcall testplug.aws_json action=StartReplicationTask body="{\"ReplicationTaskArn\": \"$arn\", \"StartReplicationTaskType\": \"start-replication\"}"
expect_eq "a JSON error shape becomes dms.<__type>" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/dms.InvalidResourceStateFault
expect_eq "not retryable" "$(jget "$OUT" 'j["error"]["retryable"]')" false
expect_match "with AWS's message" "$(jget "$OUT" 'j["error"]["message"]')" "orders-cdc is starting"

ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeReplicationTasks", "error": "ThrottlingException", "count": 2}' >/dev/null
pcall testplug.aws_json action=DescribeReplicationTasks
expect_eq "throttling is retried until it passes" "$RC/$(jget "$(ctl requests)" 'len(j)')" 0/3
ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeReplicationTasks", "error": "ThrottlingException", "count": 50}' >/dev/null
pcall testplug.aws_json action=DescribeReplicationTasks
expect_eq "throttling that never stops: bounded" "$RC/$(jget "$(ctl requests)" 'len(j)')" 1/3
expect_eq "and still marked retryable" "$(jget "$OUT" 'j["error"]["code"] + " " + str(j["error"]["retryable"])')" "dms.ThrottlingException True"
ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeReplicationTasks", "kind": "malformed", "count": 1}' >/dev/null
pcall testplug.aws_json action=DescribeReplicationTasks
expect_eq "a body that is not JSON once: retried" "$RC/$(jget "$(ctl requests)" 'len(j)')" 0/2
ctl reset '{}' >/dev/null
ctl inject '{"action": "DescribeReplicationTasks", "kind": "malformed", "count": 9}' >/dev/null
pcall testplug.aws_json action=DescribeReplicationTasks
expect_eq "a body that is never JSON is an error" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.bad_response

AWS_SECRET_ACCESS_KEY=wrong-secret-key-123 pcall testplug.aws_json action=DescribeReplicationTasks
expect_eq "a wrong secret is refused by the fake's signature check" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/dms.SignatureDoesNotMatch
expect_no_match "the secret is not in the output" "$OUT$ERR" wrong-secret-key-123
finish
