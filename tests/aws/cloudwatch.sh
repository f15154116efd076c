#!/bin/sh
# tests/aws/cloudwatch.sh - the cloudwatch plugin against the fake through
# `pgmove call`: metrics put in batches within AWS's limit, read back with
# GetMetricData, alarms put / described / deleted, and alarm_state as a gate
# reads it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"

fake_start
export AWS_ENDPOINT_URL_CLOUDWATCH="$FAKE_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET
# RDS goes elsewhere: only the CloudWatch override may be used.
export AWS_ENDPOINT_URL=http://127.0.0.1:1

pcall cloudwatch.put_metrics namespace=pgmove/Test name=ReplicaLag value=7.5 unit=Seconds \
	dimensions='{"DBClusterIdentifier":"aurora-1"}'
expect_eq "put one metric" "$RC/$(jget "$OUT" 'j["sent"]')" 0/1
expect_eq "service-specific endpoint, signing name monitoring" \
	"$(jget "$(ctl requests)" 'j[-1]["service"] + " " + j[-1]["params"]["MetricData.member.1.Dimensions.member.1.Value"]')" \
	"monitoring aurora-1"

# 2100 metrics go in three requests of at most 1000.
"$PY" -c 'import json; print(json.dumps([{"name": "R", "value": i} for i in range(2100)], separators=(",", ":")))' >"$TMP/m.json"
pcall cloudwatch.put_metrics namespace=pgmove/Test metrics="$(cat "$TMP/m.json")"
expect_eq "batched" "$RC/$(jget "$OUT" 'j["sent"]')/$(jget "$OUT" 'j["requests"]')" 0/2100/3
expect_eq "no batch over 1000" \
	"$(jget "$(ctl requests)" 'max(sum(1 for k in r["params"] if k.endswith(".MetricName")) for r in j)')" 1000

ctl seed '{"metrics": [{"namespace": "AWS/RDS", "name": "CPUUtilization", "dimensions": {"DBClusterIdentifier": "aurora-1"}, "values": [42, 80, 10], "spacing": 60}]}' >/dev/null
pcall cloudwatch.get_metric namespace=AWS/RDS name=CPUUtilization \
	dimensions='{"DBClusterIdentifier":"aurora-1"}' stat=Maximum period=1m window=10m
expect_eq "get_metric" "$RC/$(jget "$OUT" 'j["count"]')" 0/3
expect_eq "latest value first" "$(jget "$OUT" 'j["value"]')" 42.0
expect_eq "max over the window" "$(jget "$OUT" 'j["max"]')" 80.0
pcall cloudwatch.get_metric namespace=AWS/RDS name=CPUUtilization \
	dimensions='{"DBClusterIdentifier":"other"}'
expect_eq "no data: value null" "$RC/$(jget "$OUT" 'j["value"]')/$(jget "$OUT" 'j["count"]')" 0/null/0
pcall cloudwatch.get_metric namespace=AWS/RDS name=CPUUtilization period=1500ms
expect_eq "period in whole seconds" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid

pcall cloudwatch.put_alarm name=aurora-1-connections namespace=AWS/RDS metric=DatabaseConnections \
	dimensions='{"DBClusterIdentifier":"aurora-1"}' stat=Maximum threshold=25 comparison='>' \
	period=1m evaluation_periods=1 treat_missing_data=missing
expect_eq "put_alarm" "$RC/$(jget "$OUT" 'j["comparison"]')" 0/GreaterThanThreshold
pcall cloudwatch.put_alarm name=aurora-1-cpu namespace=AWS/RDS metric=CPUUtilization \
	dimensions='{"DBClusterIdentifier":"aurora-1"}' stat=Maximum threshold=40 comparison='>=' \
	period=1m evaluation_periods=1
pcall cloudwatch.put_alarm name=x namespace=AWS/RDS metric=CPUUtilization threshold=1 comparison='=~'
expect_eq "bad comparison" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid

pcall cloudwatch.describe_alarms prefix=aurora-1-
expect_eq "describe_alarms" "$RC/$(jget "$OUT" 'j["count"]')" 0/2
pcall cloudwatch.alarm_state names='["aurora-1-connections","aurora-1-cpu"]'
expect_eq "alarm_state not ok" "$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["in_alarm"]')" 'false/["aurora-1-cpu"]'
expect_eq "INSUFFICIENT_DATA counted apart" "$(jget "$OUT" 'j["insufficient_data"]')" '["aurora-1-connections"]'
pcall cloudwatch.alarm_state names='["aurora-1-connections"]'
expect_eq "insufficient data is ok by default" "$(jget "$OUT" 'j["ok"]')" true
pcall cloudwatch.alarm_state names='["aurora-1-connections"]' insufficient_ok=false
expect_eq "unless told otherwise" "$(jget "$OUT" 'j["ok"]')" false
pcall cloudwatch.alarm_state names='["aurora-1-connections","no-such-alarm"]'
expect_eq "a missing alarm is not ok" "$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["missing"]')" 'false/["no-such-alarm"]'
ctl alarm_state '{"name": "aurora-1-cpu", "state": "OK"}' >/dev/null
pcall cloudwatch.alarm_state prefix=aurora-1-
expect_eq "all clear" "$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["states"]["aurora-1-cpu"]')" true/OK

# A prefix that matches no alarm checks nothing: not ok (issue 16 item 16).
pcall cloudwatch.alarm_state prefix=no-such-prefix-
expect_eq "no alarm matched: not ok" "$RC/$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["count"]')" 0/false/0
expect_match "says why" "$OUT" "no alarm matches"

# As in CloudWatch, a new alarm is INSUFFICIENT_DATA until its first evaluation;
# then no data counts as treat_missing_data says (notBreaching: OK).
ctl seed '{"alarm_delay": 3600}' >/dev/null
pcall cloudwatch.put_alarm name=aurora-1-new namespace=AWS/RDS metric=Nothing threshold=1 \
	comparison='>' period=1m treat_missing_data=notBreaching
pcall cloudwatch.alarm_state names='["aurora-1-new"]' insufficient_ok=false
expect_eq "not evaluated yet" "$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["states"]["aurora-1-new"]')" false/INSUFFICIENT_DATA
expect_match "unchecked" "$(jget "$OUT" 'j["alarms"][0]["reason"]')" "^Unchecked"
ctl seed '{"alarm_delay": 0}' >/dev/null # the first evaluation is due now
pcall cloudwatch.alarm_state names='["aurora-1-new"]' insufficient_ok=false
expect_eq "evaluated: no data, not breaching" "$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["states"]["aurora-1-new"]')" true/OK
pcall cloudwatch.delete_alarms names='["aurora-1-new"]'

# --- CloudWatch Logs metric filters (JSON 1.1, signing name logs) -----------------------
export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="$FAKE_URL"
LG=/aws/rds/cluster/aurora-1/postgresql
pcall cloudwatch.put_metric_filter log_group=$LG name=aurora-1-failed-connections \
	pattern='"password authentication failed"' namespace=pgmove/aurora-1 \
	metric=FailedConnectionAttempts default_value=0
expect_eq "no log group: AWS's error" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/logs.ResourceNotFoundException
pcall cloudwatch.put_metric_filter log_group=$LG name=aurora-1-failed-connections \
	pattern='"password authentication failed"' namespace=pgmove/aurora-1 \
	metric=FailedConnectionAttempts default_value=0 create_log_group=true
expect_eq "put_metric_filter creates the group" "$RC/$(jget "$OUT" 'j["log_group_created"]')" 0/true
expect_eq "sent to logs with its target" \
	"$(jget "$(ctl requests)" 'j[-1]["service"] + " " + j[-1]["target"]')" "logs Logs_20140328.PutMetricFilter"
expect_eq "the transformation sent" \
	"$(jget "$(ctl requests)" 'j[-1]["params"]["metricTransformations"]')" \
	'[{"metricName": "FailedConnectionAttempts", "metricNamespace": "pgmove/aurora-1", "metricValue": "1", "defaultValue": 0.0}]'
pcall cloudwatch.put_metric_filter log_group=$LG name=aurora-1-failed-connections \
	pattern='"password authentication failed"' namespace=pgmove/aurora-1 \
	metric=FailedConnectionAttempts default_value=0 create_log_group=true
expect_eq "again: idempotent" "$RC/$(jget "$OUT" 'j["log_group_created"]')" 0/false
pcall cloudwatch.describe_metric_filters log_group=$LG prefix=aurora-1-
expect_eq "describe_metric_filters" \
	"$RC/$(jget "$OUT" 'j["count"]')/$(jget "$OUT" 'j["filters"][0]["metric"]')/$(jget "$OUT" 'j["filters"][0]["pattern"]')" \
	'0/1/FailedConnectionAttempts/"password authentication failed"'
pcall cloudwatch.delete_metric_filter log_group=$LG name=aurora-1-failed-connections
expect_eq "delete_metric_filter" "$RC/$(jget "$OUT" 'j["existed"]')" 0/true
pcall cloudwatch.delete_metric_filter log_group=$LG name=aurora-1-failed-connections
expect_eq "delete again: done" "$RC/$(jget "$OUT" 'j["existed"]')" 0/false

pcall cloudwatch.delete_alarms names='["aurora-1-cpu","no-such-alarm"]'
expect_eq "delete_alarms skips absent ones" "$RC/$(jget "$OUT" 'j["deleted"]')" '0/["aurora-1-cpu"]'
pcall cloudwatch.describe_alarms
expect_eq "one alarm left" "$(jget "$OUT" '[a["name"] for a in j["alarms"]]')" '["aurora-1-connections"]'

ctl inject '{"action": "DescribeAlarms", "error": "Throttling", "count": 1}' >/dev/null
pcall cloudwatch.alarm_state prefix=aurora-1-
expect_eq "throttled describe recovers" "$RC/$(jget "$OUT" 'j["count"]')" 0/1

finish
