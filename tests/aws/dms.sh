#!/bin/sh
# tests/aws/dms.sh - the dms plugin against the fake's DMS (tests/aws/fake_dms.py,
# a state machine written from botocore's dms model): replication instances
# created / adopted / in conflict / modified, endpoints with a password or
# Secrets Manager, connection tests that pass and fail (a real TCP connect),
# tasks built from rules and checked before anything is sent, references sent
# as ARNs, the full load followed through REPLICATION_STATE to CDC and caught
# up, stop reasons, a failed task resumed, errored tables, table statistics,
# premigration assessments passing and blocking, deletes, and faults.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"
export PGMOVE_PLUGIN_PATH="$top_builddir/plugins/dms/.libs:$top_builddir/tests/plugins"

fake_start --polls 1
ctl dms '{"polls": 2}' >/dev/null
export AWS_ENDPOINT_URL="$FAKE_URL" AWS_REGION=eu-west-2
export AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET
W="every=20ms"
nreq() { jget "$(ctl requests)" "len([r for r in j if r['action'] == '$1'])"; }

# --- replication instances ------------------------------------------------------------
pcall dms.create_instance id=mig-ri class=dms.r5.large storage=100 multi_az=true \
	security_groups=sg-1,sg-2 subnet_group=dms-subnets engine_version=3.5.3
expect_eq "instance created" "$RC/$(jget "$OUT" 'j["status"] + " " + str(j["adopted"])')" "0/creating False"
expect_eq "as asked" "$(jget "$OUT" '[j["class"], j["storage"], j["multi_az"], j["security_groups"], j["subnet_group"]]')" \
	'["dms.r5.large", 100, true, ["sg-1", "sg-2"], "dms-subnets"]'
expect_match "its ARN" "$(jget "$OUT" 'j["arn"]')" '^arn:aws:dms:eu-west-2:123456789012:rep:'
pcall dms.create_instance id=mig-ri class=dms.r5.large multi_az=true
expect_eq "the same again adopts it" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
expect_eq "without a second CreateReplicationInstance" "$(nreq CreateReplicationInstance)" 1
pcall dms.create_instance id=mig-ri class=dms.c5.xlarge multi_az=true
expect_eq "another class is a conflict" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.conflict"
expect_match "naming both" "$(jget "$OUT" 'j["error"]["message"]')" "mig-ri exists with class dms.r5.large.*not dms.c5.xlarge"
pcall dms.create_instance id=mig-ri2 class=r5.large
expect_eq "a class that is not DMS's" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/args.invalid"
pcall dms.wait_instance id=mig-ri $W timeout=5s
expect_eq "waits until available" "$RC/$(jget "$OUT" 'j["status"]')" "0/available"
pcall dms.modify_instance id=mig-ri class=dms.r5.xlarge
expect_eq "scale the instance (seed 001's fallback)" "$RC/$(jget "$OUT" 'j["status"] + " " + j["pending"]["class"]')" "0/modifying dms.r5.xlarge"
pcall dms.create_instance id=mig-ri class=dms.r5.xlarge multi_az=true
expect_eq "a re-run create with the pending class adopts" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
pcall dms.wait_instance id=mig-ri $W timeout=5s
expect_eq "modified" "$RC/$(jget "$OUT" 'j["class"] + " " + j["status"]')" "0/dms.r5.xlarge available"
pcall dms.modify_instance id=mig-ri class=dms.r5.xlarge
expect_eq "modify to what it is: nothing sent" "$RC/$(jget "$OUT" 'j["modified"]')/$(nreq ModifyReplicationInstance)" "0/false/1"

# --- endpoints ------------------------------------------------------------------------------
PW='s3cret-Pa55word!'
pcall dms.create_endpoint id=src type=source server=127.0.0.1 port="$FAKE_PORT" database=app \
	username=app_admin password="$PW" ssl_mode=none slot_name=dms_slot plugin=pglogical heartbeat_frequency=5
expect_eq "source endpoint" "$RC/$(jget "$OUT" '[j["type"], j["engine"], j["status"], j["port"]]')" "0/[\"source\", \"postgres\", \"active\", $FAKE_PORT]"
expect_eq "PostgreSQL settings: slot, plugin, heartbeat" \
	"$(jget "$(ctl requests)" '[r["params"]["PostgreSQLSettings"] for r in j if r["action"] == "CreateEndpoint"][0]')" \
	'{"HeartbeatEnable": true, "HeartbeatFrequency": 5, "SlotName": "dms_slot", "PluginName": "pglogical"}'
expect_no_match "no password in the result or the log" "$OUT$ERR" "$PW"
pcall dms.create_endpoint id=src type=source server=127.0.0.1 port="$FAKE_PORT" database=app \
	username=app_admin password="$PW" ssl_mode=none
expect_eq "same endpoint again: adopted" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
pcall dms.create_endpoint id=src type=source server=db2.internal database=app username=app_admin password="$PW" ssl_mode=none
expect_eq "other server: conflict" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.conflict"
expect_match "naming the difference" "$(jget "$OUT" 'j["error"]["message"]')" 'ServerName: has "127.0.0.1", wanted "db2.internal"'
pcall dms.create_endpoint id=dst type=target engine=aurora-postgresql database=app \
	secret_arn=arn:aws:secretsmanager:eu-west-2:123456789012:secret:aurora-abc \
	secret_role_arn=arn:aws:iam::123456789012:role/dms-secrets
expect_eq "target from Secrets Manager" "$RC/$(jget "$OUT" 'j["engine"] + " " + j["secret_arn"]')" \
	"0/aurora-postgresql arn:aws:secretsmanager:eu-west-2:123456789012:secret:aurora-abc"
pcall dms.create_endpoint id=bad type=target database=app server=h username=u
expect_eq "no password and no secret" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/args.invalid"
pcall dms.create_endpoint id=bad type=target database=app secret_arn=arn:aws:secretsmanager:x:1:secret:y
expect_match "a secret without its role" "$(jget "$OUT" 'j["error"]["message"]')" "secret_arn and secret_role_arn go together"
pcall dms.create_endpoint id=bad type=sink database=app server=h username=u password=p
expect_match "a bad type" "$(jget "$OUT" 'j["error"]["message"]')" 'type "sink" must be source or target'
before=$(nreq CreateEndpoint)
pcall dms.create_endpoint id=bad type=target database=app server=h username=u password=p ssl_mode=prefer
expect_match "an SSL mode DMS lacks" "$RC $(jget "$OUT" 'j["error"]["message"]')" \
	'^1 .*endpoint bad: ssl_mode "prefer" must be none, require, verify-ca or verify-full'
pcall dms.create_endpoint id=bad type=target database=app server=h username=u password=p ssl_mode=verify-full
expect_match "verify-full without its CA certificate" "$RC $(jget "$OUT" 'j["error"]["message"]')" \
	'^1 .*endpoint bad: ssl_mode verify-full needs certificate_arn'
expect_eq "none of these sent a CreateEndpoint" "$(nreq CreateEndpoint)" "$before"

# --- connection tests -------------------------------------------------------------------
pcall dms.test_connection instance=mig-ri endpoint=src $W timeout=5s
expect_eq "connection test from the instance passes" "$RC/$(jget "$OUT" 'j["status"]')" "0/successful"
expect_eq "TestConnection got ARNs" \
	"$(jget "$(ctl requests)" '[r["params"]["EndpointArn"][:22] + " " + r["params"]["ReplicationInstanceArn"][:22] for r in j if r["action"] == "TestConnection"]')" \
	'["arn:aws:dms:eu-west-2: arn:aws:dms:eu-west-2:"]'
pcall dms.create_endpoint id=src-down type=source server=127.0.0.1 port=1 database=app username=u password="$PW" ssl_mode=none
pcall dms.test_connection instance=mig-ri endpoint=src-down $W timeout=5s
expect_eq "an unreachable endpoint fails the test" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.connection_failed"
expect_match "with DMS's message, naming endpoint and instance" "$(jget "$OUT" 'j["error"]["message"]')" \
	"endpoint src-down: connection test from replication instance mig-ri failed: .*Connection refused"
ctl dms '{"connection_fails": {"dst": "FATAL: password authentication failed for user \"dms\""}}' >/dev/null
pcall dms.test_connection instance=mig-ri endpoint=dst $W timeout=5s
expect_match "a refused login" "$RC $(jget "$OUT" 'j["error"]["message"]')" '^1 .*password authentication failed'
ctl dms '{"connection_fails": {"dst": ""}}' >/dev/null

# --- table mappings and tasks: checked before anything is sent --------------------------
MAP='[{"type":"include","schema":"public","table":"%"},{"type":"exclude","schema":"public","table":"tmp_%"},
{"type":"include","schema":"audit","table":"log","filters":[{"column":"created","gte":"2024-01-01"}]},
{"type":"rename","schema":"audit","to":"audit_archive"},{"type":"remove-column","schema":"public","table":"customers","column":"ssn"},
{"type":"lowercase","target":"table","schema":"public","table":"%"},{"type":"parallel-load","schema":"public","table":"orders"}]'
before=$(nreq CreateReplicationTask)
pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings='[{"type":"include","schema":"public"},{"type":"renam","schema":"public","to":"x"}]'
expect_eq "unknown rule type" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/args.invalid"
expect_match "naming the task and the rule" "$(jget "$OUT" 'j["error"]["message"]')" 'task orders-cdc: table mappings: rule 2: unknown rule type "renam"'
pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings='[{"type":"exclude","schema":"public"}]'
expect_match "a selection of nothing" "$RC $(jget "$OUT" 'j["error"]["message"]')" '^1 .*task orders-cdc: table mappings select no table'
pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings='[]'
expect_match "no rules at all" "$RC $(jget "$OUT" 'j["error"]["message"]')" '^1 .*table mappings are empty'
pcall dms.create_task id=orders-cdc instance=mig-ri source=no-such-src target=dst mappings="$MAP"
expect_eq "a source endpoint that does not exist" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.ResourceNotFoundFault"
expect_match "named" "$(jget "$OUT" 'j["error"]["message"]')" "task orders-cdc: source endpoint no-such-src does not exist"
pcall dms.create_task id=orders-cdc instance=mig-ri source=dst target=src mappings="$MAP"
expect_match "endpoints the wrong way round" "$RC $(jget "$OUT" 'j["error"]["message"]')" "^1 .*endpoint dst is not a source"
pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings="$MAP" settings='{"lob_mode":"huge"}'
expect_match "a bad setting" "$RC $(jget "$OUT" 'j["error"]["message"]')" '^1 .*setting lob_mode = "huge" is not valid'
expect_eq "none of these sent a CreateReplicationTask" "$(nreq CreateReplicationTask)" "$before"
# every transformation as DMS's JSON: prefixes and suffixes with their value, case, a
# column renamed; rules checked before sending (a value missing, a target DMS lacks, and
# in DMS's own form an unknown rule-action)
pcall dms.table_mappings task=t1 mappings='[{"type":"include","schema":"public","table":"%"},
{"type":"add-prefix","schema":"public","table":"%","value":"dms_"},{"type":"remove-prefix","target":"schema","schema":"legacy_%","value":"legacy_"},
{"type":"add-suffix","schema":"public","table":"orders","column":"%","value":"_v1"},{"type":"remove-suffix","schema":"public","table":"%_old","value":"_old"},
{"type":"uppercase","target":"column","schema":"public","table":"%","column":"%"},{"type":"rename","schema":"public","table":"customers","column":"ssn","to":"tax_id"}]'
expect_eq "transformations in DMS's form" \
	"$RC/$(jget "$OUT" '[(r["rule-action"], r.get("rule-target"), r["object-locator"].get("table-name"), r["object-locator"].get("column-name"), r.get("value")) for r in j["mappings"]["rules"][1:]]')" \
	'0/[["add-prefix", "table", "%", null, "dms_"], ["remove-prefix", "schema", null, null, "legacy_"], ["add-suffix", "column", "orders", "%", "_v1"], ["remove-suffix", "table", "%_old", null, "_old"], ["convert-uppercase", "column", "%", "%", null], ["rename", "column", "customers", "ssn", "tax_id"]]'
pcall dms.table_mappings task=t1 mappings='[{"type":"include","schema":"public"},{"type":"add-prefix","schema":"public","table":"%"}]'
expect_match "a prefix without its value" "$RC $(jget "$OUT" 'j["error"]["message"]')" '^1 .*task t1: table mappings: rule 2: add-prefix needs value'
pcall dms.table_mappings task=t1 mappings='[{"type":"include","schema":"public"},{"type":"lowercase","target":"index","schema":"public"}]'
expect_match "a target DMS lacks" "$RC $(jget "$OUT" 'j["error"]["message"]')" '^1 .*rule 2: lowercase: target "index" must be schema, table or column'
pcall dms.table_mappings task=t1 mappings='{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"1","rule-action":"include","object-locator":{"schema-name":"p","table-name":"%"}},{"rule-type":"transformation","rule-id":"2","rule-name":"2","rule-action":"renam","rule-target":"table","object-locator":{"schema-name":"p","table-name":"%"},"value":"x"}]}'
expect_match "DMS's own form: an unknown rule-action" "$RC $(jget "$OUT" 'j["error"]["message"]')" \
	'^1 .*task t1: table mappings: rule 2: unknown transformation rule-action "renam"'
pcall dms.table_mappings task=t1 mappings='{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"1","rule-action":"explicit","object-locator":{"schema-name":"p","table-name":"t"}}]}'
expect_eq "DMS's own form: an explicit selection selects" "$RC/$(jget "$OUT" 'j["rules"]')" 0/1

pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings="$MAP" \
	settings='{"lob_mode":"limited","lob_max_size_kb":64,"parallel_tables":4,"Logging":{"LogComponents":[{"Id":"SOURCE_CAPTURE","Severity":"LOGGER_SEVERITY_DEFAULT"}]}}'
expect_eq "task created" "$RC/$(jget "$OUT" 'j["status"] + " " + j["state"] + " " + str(j["adopted"])')" "0/creating NOT_STARTED False"
R=$(jget "$(ctl requests)" '[r["params"] for r in j if r["action"] == "CreateReplicationTask"][-1]')
expect_eq "references sent as ARNs" "$(jget "$R" '[j[k].split(":")[5] for k in ("SourceEndpointArn","TargetEndpointArn","ReplicationInstanceArn")]')" '["endpoint", "endpoint", "rep"]'
expect_eq "table mappings as DMS's JSON text" "$(jget "$R" '[(r["rule-type"], r.get("rule-action")) for r in __import__("json").loads(j["TableMappings"])["rules"]]')" \
	'[["selection", "include"], ["selection", "exclude"], ["selection", "include"], ["transformation", "rename"], ["transformation", "remove-column"], ["transformation", "convert-lowercase"], ["table-settings", null]]'
expect_eq "source filter" "$(jget "$R" '__import__("json").loads(j["TableMappings"])["rules"][2]["filters"]')" \
	'[{"column-name": "created", "filter-conditions": [{"filter-operator": "gte", "value": "2024-01-01"}], "filter-type": "source"}]'
expect_eq "settings merged over the defaults" "$(jget "$R" '(lambda s: [s["TargetMetadata"]["LobMaxSize"], s["FullLoadSettings"]["MaxFullLoadSubTasks"], s["FullLoadSettings"]["TargetTablePrepMode"], s["FullLoadSettings"]["StopTaskCachedChangesApplied"], s["ValidationSettings"]["EnableValidation"], s["Logging"]["EnableLogging"], s["Logging"]["LogComponents"][0]["Id"]])(__import__("json").loads(j["ReplicationTaskSettings"]))')" \
	'[64, 4, "DO_NOTHING", true, true, true, "SOURCE_CAPTURE"]'
pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings="$MAP"
expect_eq "the same task again: adopted" "$RC/$(jget "$OUT" 'j["adopted"]')" "0/true"
pcall dms.create_task id=orders-cdc instance=mig-ri source=src target=dst mappings='[{"type":"include","schema":"public"}]'
expect_eq "other mappings: conflict" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.conflict"
expect_match "saying what differs" "$(jget "$OUT" 'j["error"]["message"]')" "table mappings differ"

# --- the task's life: full load, cached changes, CDC ------------------------------------
pcall dms.wait_task task=orders-cdc $W timeout=5s
expect_eq "ready" "$RC/$(jget "$OUT" 'j["status"]')" "0/ready"
pcall dms.start_task task=orders-cdc
expect_eq "started" "$RC/$(jget "$OUT" 'j["status"] + " " + j["started_as"]')" "0/starting start-replication"
pcall dms.start_task task=orders-cdc
expect_eq "a re-run start leaves it alone" "$RC/$(jget "$OUT" 'j["already"]')/$(nreq StartReplicationTask)" "0/true/1"
pcall dms.replication_state task=orders-cdc
expect_eq "full load running" "$RC/$(jget "$OUT" 'j["state"]')" "0/FULL_LOAD_RUNNING"
expect_eq "half way" "$(jget "$OUT" 'j["full_load_percent"]')" 50
pcall dms.wait_task task=orders-cdc state=FULL_LOAD_COMPLETE $W timeout=5s
expect_eq "full load complete" "$RC/$(jget "$OUT" 'j["state"] + " " + j["status"]')" "0/FULL_LOAD_COMPLETE stopped"
expect_match "stopped with cached changes applied" "$(jget "$OUT" 'j["stop_reason"]')" "CACHED_CHANGES_APPLIED"
pcall dms.table_statistics task=orders-cdc
expect_eq "tables by the mappings (tmp_ excluded)" "$(jget "$OUT" '[(t["schema"] + "." + t["table"], t["state"], t["full_load_rows"], t["validation_state"]) for t in j["tables"]]')" \
	'[["public.orders", "Table completed", 1000, "Validated"], ["public.customers", "Table completed", 200, "Validated"], ["audit.log", "Table completed", 50, "Validated"]]'
expect_eq "summary" "$(jget "$OUT" '[j["loaded"], j["errored"], j["validated"], j["ok"]]')" '[3, [], 3, true]'
pcall dms.start_task task=orders-cdc type=resume-processing
expect_eq "resumed after the indexes" "$RC/$(jget "$OUT" 'j["started_as"]')" "0/resume-processing"
pcall dms.wait_task task=orders-cdc state=CDC_CAUGHT_UP $W timeout=5s
expect_eq "CDC caught up" "$RC/$(jget "$OUT" 'j["state"]')" "0/CDC_CAUGHT_UP"
expect_eq "latency from CloudWatch AWS/DMS" "$(jget "$OUT" '[j["latency_source"], j["latency_target"], j["incoming_changes"]]')" '[1.0, 2.0, 0.0]'
expect_eq "GetMetricData with the task's dimensions" \
	"$(jget "$(ctl requests)" 'sorted(set(v for r in j if r["action"] == "GetMetricData" for k, v in r["params"].items() if k.endswith("Dimensions.member.1.Value")))')" '["mig-ri"]'
ctl dms '{"latency": {"orders-cdc": [75, 90]}, "incoming": {"orders-cdc": 1200}}' >/dev/null
pcall dms.replication_state task=orders-cdc
pcall dms.replication_state task=orders-cdc window=10s period=1s
expect_eq "lagging: CDC_ACTIVE" "$RC/$(jget "$OUT" 'j["state"]')" "0/CDC_ACTIVE"
expect_match "with the reason" "$(jget "$OUT" 'j["reason"]')" "latency source 75.0 s, target 90.0 s"
pcall dms.cdc_latency task=orders-cdc window=10s period=1s
expect_eq "cdc_latency" "$RC/$(jget "$OUT" '[j["source"], j["target"], j["incoming_changes"]]')" "0/[75.0, 90.0, 1200.0]"
ctl dms '{"latency": {"orders-cdc": [1, 1]}, "incoming": {"orders-cdc": 0}}' >/dev/null

# --- failures -----------------------------------------------------------------------
ctl dms '{"fail_task": "orders-cdc", "message": "ERROR: could not receive data from WAL stream"}' >/dev/null
pcall dms.replication_state task=orders-cdc
expect_eq "failed on demand" "$RC/$(jget "$OUT" 'j["state"] + " " + j["status"]')" "0/REPLICATION_FAILED failed"
expect_match "with DMS's message" "$(jget "$OUT" 'j["reason"]')" "could not receive data from WAL stream"
pcall dms.wait_task task=orders-cdc state=CDC_CAUGHT_UP $W timeout=5s
expect_eq "a wait sees it" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.task_failed"
pcall dms.start_task task=orders-cdc type=resume-processing
pcall dms.wait_task task=orders-cdc state=CDC_CAUGHT_UP $W timeout=5s
expect_eq "resumed from its checkpoint" "$RC/$(jget "$OUT" 'j["state"]')" "0/CDC_CAUGHT_UP"
expect_match "recovery checkpoint" "$(jget "$OUT" 'j["recovery_checkpoint"]')" "^checkpoint:"
ctl dms '{"table_error": "orders-cdc", "table": "public.customers"}' >/dev/null
pcall dms.replication_state task=orders-cdc latency=false
expect_match "an errored table" "$(jget "$OUT" 'j["state"] + " " + j["reason"]')" "REPLICATION_FAILED"
pcall dms.table_statistics task=orders-cdc
expect_eq "named in the statistics" "$(jget "$OUT" '[j["errored"], j["ok"]]')" '[["public.customers"], false]'
pcall dms.reload_tables task=orders-cdc tables='["public.customers"]'
expect_eq "reload it" "$RC" 0
pcall dms.table_statistics task=orders-cdc table=customers
pcall dms.table_statistics task=orders-cdc table=customers
expect_eq "reloaded" "$(jget "$OUT" '[t["state"] for t in j["tables"]]')" '["Table completed"]'
pcall dms.reload_tables task=orders-cdc tables='["customers"]'
expect_eq "a table without its schema" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/args.invalid"

pcall dms.stop_task task=orders-cdc
expect_eq "stop" "$RC/$(jget "$OUT" 'j["status"]')" "0/stopping"
pcall dms.wait_task task=orders-cdc status=stopped $W timeout=5s
expect_eq "stopped, reason NORMAL" "$RC/$(jget "$OUT" 'j["stop_reason"] + " " + j["state"]')" "0/Stop Reason NORMAL STOPPED"
pcall dms.stop_task task=orders-cdc
expect_eq "stop again: nothing to do" "$RC/$(jget "$OUT" 'j["already"]')/$(nreq StopReplicationTask)" "0/true/1"
pcall dms.modify_task task=orders-cdc settings='{"parallel_tables": 16}'
expect_eq "modify a stopped task" "$RC/$(jget "$OUT" 'j["status"]')" "0/modifying"
pcall dms.wait_task task=orders-cdc status=stopped $W timeout=5s
expect_eq "and back to stopped" "$RC/$(jget "$OUT" 'j["status"]')" "0/stopped"

# --- premigration assessment -----------------------------------------------------
pcall dms.start_assessment task=orders-cdc bucket=dms-assess role=arn:aws:iam::123456789012:role/dms-s3
expect_eq "assessment started" "$RC/$(jget "$OUT" 'j["name"] + " " + str(j["adopted"])')" "0/orders-cdc-assessment False"
pcall dms.wait_assessment task=orders-cdc $W timeout=5s
expect_eq "passed" "$RC/$(jget "$OUT" '[j["status"], j["passed"], len(j["assessments"]), j["blocking"]]')" '0/["passed", true, 7, []]'
pcall dms.start_assessment task=orders-cdc bucket=dms-assess role=arn:aws:iam::123456789012:role/dms-s3
expect_eq "a re-run adopts the run" "$RC/$(jget "$OUT" 'j["adopted"]')/$(nreq StartReplicationTaskAssessmentRun)" "0/true/1"
ctl dms '{"assessment_fails": ["table-with-no-primary-key-or-unique-constraint"]}' >/dev/null
pcall dms.start_assessment task=orders-cdc name=second bucket=dms-assess role=arn:aws:iam::123456789012:role/dms-s3
pcall dms.wait_assessment task=orders-cdc name=second $W timeout=5s
expect_eq "blocking findings are an error" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.assessment_failed"
expect_match "naming them" "$(jget "$OUT" 'j["error"]["message"]')" "second is failed; blocking: table-with-no-primary-key-or-unique-constraint"
pcall dms.assessment_result task=orders-cdc name=second
expect_eq "each result readable by a gate" "$RC/$(jget "$OUT" '[j["passed"], j["blocking"], sorted(set(a["status"] for a in j["assessments"]))]')" \
	'0/[false, ["table-with-no-primary-key-or-unique-constraint"], ["failed", "passed"]]'
pcall dms.start_assessment task=orders-cdc bucket=b role=dms-s3
expect_eq "role must be an ARN" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/args.invalid"

# --- the fake holds DMS to its model ----------------------------------------------------
pcall testplug.aws_json action=StartReplicationTask body='{"ReplicationTaskArn": "orders-cdc", "StartReplicationTaskType": "start-replication"}'
expect_match "an identifier where DMS takes an ARN is refused" "$(jget "$OUT" 'j["error"]["code"] + " " + j["error"]["message"]')" "InvalidParameterValueException .*not an ARN"
pcall testplug.aws_json action=StartReplicationTask body='{"ReplicationTaskArn": "arn:aws:dms:eu-west-2:123456789012:task:X", "StartReplicationTaskType": "go"}'
expect_match "enums are checked" "$(jget "$OUT" 'j["error"]["message"]')" "valid values are start-replication"
pcall testplug.aws_json action=DescribeReplicationTasks body='{"MaxRecords": 5}'
expect_match "MaxRecords range" "$(jget "$OUT" 'j["error"]["message"]')" "between 20 and 100"

# --- faults ------------------------------------------------------------------------
ctl inject '{"action": "CreateReplicationInstance", "error": "ResourceQuotaExceededFault", "message": "Quota exceeded for replication instances", "count": 1}' >/dev/null
pcall dms.create_instance id=mig-ri3 class=dms.t3.medium
expect_eq "DMS's fault code" "$RC/$(jget "$OUT" 'j["error"]["code"] + " " + str(j["error"]["retryable"])')" "1/dms.ResourceQuotaExceededFault False"
expect_match "and message" "$(jget "$OUT" 'j["error"]["message"]')" "Quota exceeded for replication instances"
ctl inject '{"action": "DescribeReplicationTasks", "error": "ThrottlingException", "count": 1}' >/dev/null
pcall dms.describe_task task=orders-cdc
expect_eq "throttling retried by the AWS layer" "$RC" 0

# --- deletes ------------------------------------------------------------------------------
pcall dms.delete_endpoint id=src
expect_eq "an endpoint a task uses cannot go" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.InvalidResourceStateFault"
pcall dms.wait_task task=orders-cdc status=stopped $W timeout=5s
pcall dms.delete_task task=orders-cdc
expect_eq "delete the task" "$RC/$(jget "$OUT" 'j["existed"]')" "0/true"
for _ in 1 2 3; do pcall dms.describe_task task=orders-cdc; done
expect_eq "gone" "$RC/$(jget "$OUT" 'j["error"]["code"]')" "1/dms.ResourceNotFoundFault"
pcall dms.delete_task task=orders-cdc
expect_eq "deleting it again: absent counts as deleted" "$RC/$(jget "$OUT" 'j["existed"]')" "0/false"
for e in src src-down dst; do pcall dms.delete_endpoint id=$e; done
expect_eq "endpoints deleted" "$RC/$(jget "$OUT" 'j["existed"]')" "0/true"
pcall dms.delete_instance id=mig-ri
expect_eq "instance deleting" "$RC/$(jget "$OUT" 'j["status"]')" "0/deleting"

expect_no_match "no password in any output" "$(cat "$TMP/all.err")" "$PW"
finish
