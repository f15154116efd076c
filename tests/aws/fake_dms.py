"""tests/aws/fake_dms.py - the DMS part of the fake AWS (tests/aws/fake_aws.py):
a state machine that behaves the way AWS DMS does, written from botocore's
dms service model (data/dms/2016-01-01/service-2.json).

Requests are checked against the operation's input shape: unknown members,
missing required members, wrong types, enum values, MaxRecords ranges, and
every *Arn member (and *-arn filter value) must be an ARN: DMS takes ARNs for
every reference, never identifiers.

State machines, advanced one step per describe call ("polls" steps a stage):
  replication instance  creating -> available; modifying -> available (the
                        new class in PendingModifiedValues until then);
                        deleting -> gone
  connection test       testing -> successful | failed (LastFailureMessage):
                        a TCP connection to the endpoint's server and port is
                        really tried, or a failure set with the control below
  replication task      creating -> ready -> starting -> running (full load:
                        FullLoadProgressPercent rising, tables queued ->
                        loading -> completed) -> stopped with StopReason
                        FULL_LOAD_ONLY_FINISHED (full-load) or
                        CACHED_CHANGES_APPLIED (StopTaskCachedChangesApplied),
                        else running in CDC (CloudWatch AWS/DMS CDCLatencySource,
                        CDCLatencyTarget, CDCIncomingChanges published); stop ->
                        stopping -> stopped (NORMAL); failed on demand;
                        resume-processing from stopped / failed; reload-target
  assessment run        starting -> running -> passed | failed | warning, each
                        individual assessment passed unless told to fail

With "copy_data", the full load really copies rows: pg_dump --data-only of
the source endpoint's database into the target's (both reached with the
endpoints' own credentials), and the table list comes from the source.

Control (POST /_fake/dms, JSON in and out), for the tests:
  {"polls": N}                       describe calls per stage
  {"copy_data": true}                full load copies the data for real
  {"tables": [{"schema", "table", "rows"}]}   tables of a source (no copy_data)
  {"fail_task": "ID", "message": "...", "reason": "..."}   the task fails now
  {"resume_fails": "ID", "message": "..."}  resume-processing of ID fails again
  {"table_error": "ID", "table": "schema.table"}           a table errors
  {"validation_failed": "ID", "table": "schema.table", "records": N}
  {"latency": {"ID": [source_s, target_s]}, "incoming": {"ID": N}}
  {"connection_fails": {"endpoint-id": "message"}}
  {"assessment_fails": ["individual-assessment-name", ...]}
"""

import fnmatch
import json
import re
import socket
import subprocess
import time
import uuid

ACCOUNT = "123456789012"
ARN_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$")
IDENT_RE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")
ASSESSMENTS = [
    "unsupported-data-types-in-source",
    "table-with-no-primary-key-or-unique-constraint",
    "table-with-lob-but-without-primary-key-or-unique-constraint",
    "full-lob-not-nullable-at-target",
    "postgres-check-maxslot",
    "postgres-check-walsenders",
    "postgres-check-dbtype",
]
FILTERS = {
    "DescribeReplicationInstances": ("ReplicationInstances", {
        "replication-instance-arn": "ReplicationInstanceArn",
        "replication-instance-id": "ReplicationInstanceIdentifier",
        "replication-instance-class": "ReplicationInstanceClass",
        "engine-version": "EngineVersion"}, "No replication instance found"),
    "DescribeEndpoints": ("Endpoints", {
        "endpoint-arn": "EndpointArn", "endpoint-type": "EndpointType",
        "endpoint-id": "EndpointIdentifier", "engine-name": "EngineName"},
        "No Endpoints found matching provided filters"),
    "DescribeReplicationTasks": ("ReplicationTasks", {
        "replication-task-arn": "ReplicationTaskArn",
        "replication-task-id": "ReplicationTaskIdentifier",
        "migration-type": "MigrationType",
        "endpoint-arn": ("SourceEndpointArn", "TargetEndpointArn"),
        "replication-instance-arn": "ReplicationInstanceArn"},
        "No Tasks found matching provided filters"),
    "DescribeConnections": ("Connections", {
        "endpoint-arn": "EndpointArn",
        "replication-instance-arn": "ReplicationInstanceArn"}, None),
    "DescribeReplicationTaskAssessmentRuns": ("ReplicationTaskAssessmentRuns", {
        "replication-task-assessment-run-arn": "ReplicationTaskAssessmentRunArn",
        "replication-task-arn": "ReplicationTaskArn",
        "replication-instance-arn": "_instance_arn", "status": "Status"},
        "No assessment runs found"),
    "DescribeReplicationTaskIndividualAssessments": ("ReplicationTaskIndividualAssessments", {
        "replication-task-assessment-run-arn": "ReplicationTaskAssessmentRunArn",
        "replication-task-arn": "_task_arn", "status": "Status"},
        "No individual assessments found"),
}


class DmsFault(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def bad(message):
    return DmsFault("InvalidParameterValueException", message)


def public(o):
    return {k: v for k, v in o.items() if not k.startswith("_")}


def check_shape(shape, value, path):
    """value against a botocore input shape: types, required, enums, ARNs."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            raise DmsFault("SerializationException", "%s must be an object" % path)
        for k in value:
            if k not in shape.members:
                raise DmsFault("SerializationException",
                               "Unknown parameter %s in %s" % (k, path or "input"))
        for k in shape.required_members:
            if value.get(k) is None:
                raise bad("The parameter %s must be provided" % (path + k))
        for k, v in value.items():
            if v is not None:
                check_shape(shape.members[k], v, path + k + ".")
                if k.endswith("Arn") and isinstance(v, str) and not ARN_RE.match(v):
                    raise bad("Invalid ARN for %s: %s is not an ARN" % (path + k, v))
    elif t == "list":
        if not isinstance(value, list):
            raise DmsFault("SerializationException", "%s must be a list" % path.rstrip("."))
        for i, x in enumerate(value):
            check_shape(shape.member, x, "%s[%d]." % (path.rstrip("."), i))
    elif t == "string":
        if not isinstance(value, str):
            raise DmsFault("SerializationException", "%s must be a string" % path.rstrip("."))
        if shape.enum and value not in shape.enum:
            raise bad("%s: invalid value %s, valid values are %s"
                      % (path.rstrip("."), value, ", ".join(shape.enum)))
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise DmsFault("SerializationException", "%s must be an integer" % path.rstrip("."))
    elif t == "boolean":
        if not isinstance(value, bool):
            raise DmsFault("SerializationException", "%s must be a boolean" % path.rstrip("."))
    elif t == "timestamp":
        if not isinstance(value, (int, float, str)):
            raise DmsFault("SerializationException", "%s must be a timestamp" % path.rstrip("."))


def ident(param, value, lower=False):
    if not IDENT_RE.match(value or ""):
        raise bad("The parameter %s is not a valid identifier: it must begin with a letter, "
                  "contain only ASCII letters, digits and hyphens, and must not end with a "
                  "hyphen or contain two consecutive hyphens" % param)
    return value.lower() if lower else value


def rid():
    return uuid.uuid4().hex[:26].upper()


def page(items, args, lo=20, hi=100):
    mr = args.get("MaxRecords")
    if mr is not None and not lo <= mr <= hi:
        raise bad("MaxRecords must be between %d and %d, not %d" % (lo, hi, mr))
    mr = mr or 100
    start = 0
    if args.get("Marker"):
        try:
            start = int(args["Marker"])
        except ValueError:
            raise bad("Invalid marker: %s" % args["Marker"])
    out = items[start:start + mr]
    return out, (str(start + mr) if start + mr < len(items) else None)


def match(pattern, name):
    return fnmatch.fnmatchcase(name, pattern.replace("%", "*"))


class Dms:
    def __init__(self, model, state):
        self.model = model
        self.state = state  # the fake's shared state: CloudWatch metrics live there
        self.polls = 2
        self.instances, self.endpoints, self.tasks = {}, {}, {}
        self.connections, self.runs, self.individual = {}, {}, {}
        self.copy_data = False
        self.tables = [{"schema": "public", "table": "orders", "rows": 1000},
                       {"schema": "public", "table": "customers", "rows": 200},
                       {"schema": "audit", "table": "log", "rows": 50}]
        self.latency, self.incoming = {}, {}
        self.connection_fails, self.assessment_fails = {}, []
        self.resume_fails = {}
        self.copies = []

    # ---- plumbing ---------------------------------------------------------------
    def call(self, action, args, region):
        op = self.model.operation_model(action)
        if op.input_shape is not None:
            check_shape(op.input_shape, args, "")
        impl = getattr(self, action, None)
        if impl is None:
            raise DmsFault("InvalidOperationFault", "fake: %s is not implemented" % action)
        self.region = region or "us-east-1"
        return impl(args)

    def arn(self, kind):
        return "arn:aws:dms:%s:%s:%s:%s" % (self.region, ACCOUNT, kind, rid())

    def control(self, arg):
        self.polls = arg.get("polls", self.polls)
        self.copy_data = arg.get("copy_data", self.copy_data)
        if "tables" in arg:
            self.tables = arg["tables"]
        for k, v in arg.get("latency", {}).items():
            self.latency[k] = v
        for k, v in arg.get("incoming", {}).items():
            self.incoming[k] = v
        self.connection_fails.update(arg.get("connection_fails", {}))
        if "assessment_fails" in arg:
            self.assessment_fails = arg["assessment_fails"]
        if "resume_fails" in arg:
            self.resume_fails[arg["resume_fails"]] = arg.get("message", "resume failed")
        if "fail_task" in arg:
            t = self._task_by_id(arg["fail_task"])
            self._fail(t, arg.get("message", "Last Error Task error notification received "
                                  "from subtask 0, thread 0 [reptask/replicationtask.c:2883] "
                                  "[1022301] Error executing source loop; Stream component "
                                  "failed at subtask 0"),
                       arg.get("reason", "Stop Reason FATAL_ERROR Error Level FATAL"))
        if "table_error" in arg:
            t = self._task_by_id(arg["table_error"])
            s, n = arg["table"].split(".", 1)
            for ts in t["_tables"]:
                if ts["SchemaName"] == s and ts["TableName"] == n:
                    ts["TableState"] = "Table error"
                    ts["ValidationState"] = "Table error"
            t["ReplicationTaskStats"]["TablesErrored"] = sum(
                1 for x in t["_tables"] if x["TableState"] == "Table error")
        if "validation_failed" in arg:
            t = self._task_by_id(arg["validation_failed"])
            s, n = arg["table"].split(".", 1)
            for ts in t["_tables"]:
                if ts["SchemaName"] == s and ts["TableName"] == n:
                    ts["ValidationFailedRecords"] = arg.get("records", 1)
                    ts["ValidationState"] = "Mismatched records"
        return {"ok": True}

    def dump(self):
        return {"instances": [public(x) for x in self.instances.values()],
                "endpoints": [public(x) for x in self.endpoints.values()],
                "tasks": [dict(public(x), tables=x["_tables"]) for x in self.tasks.values()],
                "connections": list(self.connections.values()),
                "runs": [public(x) for x in self.runs.values()],
                "copies": self.copies}

    def seed(self, tasks):
        """Tasks that exist already (tests/aws/json.sh)."""
        for t in tasks:
            arn = "arn:aws:dms:us-east-1:%s:task:%s" % (ACCOUNT, t["id"].upper())
            self.tasks[arn] = {"ReplicationTaskIdentifier": t["id"], "ReplicationTaskArn": arn,
                               "MigrationType": t.get("type", "full-load-and-cdc"),
                               "Status": t.get("status", "ready"),
                               "SourceEndpointArn": "arn:aws:dms:us-east-1:%s:endpoint:S" % ACCOUNT,
                               "TargetEndpointArn": "arn:aws:dms:us-east-1:%s:endpoint:T" % ACCOUNT,
                               "ReplicationInstanceArn": "arn:aws:dms:us-east-1:%s:rep:I" % ACCOUNT,
                               "TableMappings": '{"rules": []}', "_rules": [
                                   {"rule-type": "selection", "rule-action": "include",
                                    "object-locator": {"schema-name": "%", "table-name": "%"}}],
                               "ReplicationTaskCreationDate": time.time(),
                               "ReplicationTaskStats": {"FullLoadProgressPercent": 0},
                               "_tables": [], "_steps": 0, "_settings": {}}

    def describe(self, action, args, items):
        key, names, none = FILTERS[action]
        for f in args.get("Filters") or []:
            field = names.get(f["Name"])
            if field is None:
                raise bad("Invalid filter name %s; valid names: %s"
                          % (f["Name"], ", ".join(names)))
            if f["Name"].endswith("-arn"):
                for v in f["Values"]:
                    if not ARN_RE.match(v):
                        raise bad("Invalid ARN in filter %s: %s" % (f["Name"], v))
            fields = field if isinstance(field, tuple) else (field,)
            items = [x for x in items if any(x.get(fl) in f["Values"] for fl in fields)]
        if not items and none and args.get("Filters"):
            raise DmsFault("ResourceNotFoundFault", none)
        chunk, marker = page(items, args)
        out = {key: [public(x) for x in chunk]}
        if marker:
            out["Marker"] = marker
        return out

    # ---- replication instances ---------------------------------------------------
    def _advance_instance(self, r):
        if r.get("_steps", 0) <= 0:
            return
        r["_steps"] -= 1
        if r["_steps"] > 0:
            return
        if r["ReplicationInstanceStatus"] == "deleting":
            del self.instances[r["ReplicationInstanceArn"]]
            return
        pend = r.pop("PendingModifiedValues", {}) or {}
        r.update(pend)
        r["PendingModifiedValues"] = {}
        r["ReplicationInstanceStatus"] = "available"

    def _instance(self, arn):
        r = self.instances.get(arn)
        if not r:
            raise DmsFault("ResourceNotFoundFault",
                           "Replication Instance not found: %s" % arn)
        return r

    def CreateReplicationInstance(self, a):
        rid_ = ident("ReplicationInstanceIdentifier", a["ReplicationInstanceIdentifier"],
                     lower=True)
        if any(r["ReplicationInstanceIdentifier"] == rid_ for r in self.instances.values()):
            raise DmsFault("ResourceAlreadyExistsFault",
                           "Replication instance %s already exists" % rid_)
        if not a["ReplicationInstanceClass"].startswith("dms."):
            raise bad("Invalid replication instance class %s" % a["ReplicationInstanceClass"])
        storage = a.get("AllocatedStorage", 50)
        if not 5 <= storage <= 6144:
            raise bad("AllocatedStorage must be between 5 and 6144")
        arn = self.arn("rep")
        r = {"ReplicationInstanceIdentifier": rid_, "ReplicationInstanceArn": arn,
             "ReplicationInstanceClass": a["ReplicationInstanceClass"],
             "ReplicationInstanceStatus": "creating", "AllocatedStorage": storage,
             "InstanceCreateTime": time.time(), "MultiAZ": a.get("MultiAZ", False),
             "EngineVersion": a.get("EngineVersion", "3.5.3"),
             "AutoMinorVersionUpgrade": a.get("AutoMinorVersionUpgrade", True),
             "PubliclyAccessible": a.get("PubliclyAccessible", True),
             "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"}
                                   for g in a.get("VpcSecurityGroupIds", [])],
             "ReplicationSubnetGroup": {"ReplicationSubnetGroupIdentifier":
                                        a.get("ReplicationSubnetGroupIdentifier", "default")},
             "ReplicationInstancePrivateIpAddress": "10.0.0.10",
             "PendingModifiedValues": {}, "_steps": self.polls}
        self.instances[arn] = r
        return {"ReplicationInstance": public(r)}

    def DescribeReplicationInstances(self, a):
        for r in list(self.instances.values()):
            self._advance_instance(r)
        return self.describe("DescribeReplicationInstances", a, list(self.instances.values()))

    def ModifyReplicationInstance(self, a):
        r = self._instance(a["ReplicationInstanceArn"])
        if r["ReplicationInstanceStatus"] != "available":
            raise DmsFault("InvalidResourceStateFault", "Replication instance %s is %s"
                           % (r["ReplicationInstanceIdentifier"], r["ReplicationInstanceStatus"]))
        pend = {}
        for k in ("ReplicationInstanceClass", "AllocatedStorage", "MultiAZ", "EngineVersion"):
            if k in a:
                pend[k] = a[k]
        if not pend:
            raise bad("No modifications were requested")
        r["PendingModifiedValues"] = pend
        r["ReplicationInstanceStatus"] = "modifying"
        r["_steps"] = self.polls
        return {"ReplicationInstance": public(r)}

    def DeleteReplicationInstance(self, a):
        r = self._instance(a["ReplicationInstanceArn"])
        if any(t["ReplicationInstanceArn"] == r["ReplicationInstanceArn"]
               for t in self.tasks.values()):
            raise DmsFault("InvalidResourceStateFault",
                           "Replication instance %s is used by a replication task"
                           % r["ReplicationInstanceIdentifier"])
        r["ReplicationInstanceStatus"] = "deleting"
        r["_steps"] = self.polls
        return {"ReplicationInstance": public(r)}

    # ---- endpoints ----------------------------------------------------------------
    def _endpoint(self, arn):
        e = self.endpoints.get(arn)
        if not e:
            raise DmsFault("ResourceNotFoundFault", "Endpoint not found: %s" % arn)
        return e

    def CreateEndpoint(self, a):
        eid = ident("EndpointIdentifier", a["EndpointIdentifier"])
        if any(e["EndpointIdentifier"] == eid for e in self.endpoints.values()):
            raise DmsFault("ResourceAlreadyExistsFault", "Endpoint %s already exists" % eid)
        pg = dict(a.get("PostgreSQLSettings") or {})
        if a["EngineName"] in ("postgres", "aurora-postgresql"):
            if pg.get("SecretsManagerSecretId"):
                if not pg.get("SecretsManagerAccessRoleArn"):
                    raise bad("SecretsManagerAccessRoleArn is required with "
                              "SecretsManagerSecretId")
            else:
                for k in ("ServerName", "Port", "Username", "Password", "DatabaseName"):
                    if not a.get(k):
                        raise bad("The parameter %s must be provided for engine %s"
                                  % (k, a["EngineName"]))
        arn = self.arn("endpoint")
        password = a.get("Password") or pg.pop("Password", None)
        e = {"EndpointIdentifier": eid, "EndpointArn": arn, "EndpointType":
             a["EndpointType"].upper(), "EngineName": a["EngineName"],
             "EngineDisplayName": {"postgres": "PostgreSQL",
                                   "aurora-postgresql": "Amazon Aurora PostgreSQL"}.get(
                 a["EngineName"], a["EngineName"]),
             "Status": "active", "SslMode": a.get("SslMode", "none"),
             "_password": password}
        for k in ("ServerName", "Port", "DatabaseName", "Username", "CertificateArn",
                  "ExtraConnectionAttributes", "KmsKeyId"):
            if a.get(k) is not None:
                e[k] = a[k]
        if pg:
            e["PostgreSQLSettings"] = pg
        self.endpoints[arn] = e
        return {"Endpoint": public(e)}

    def DescribeEndpoints(self, a):
        return self.describe("DescribeEndpoints", a, list(self.endpoints.values()))

    def DeleteEndpoint(self, a):
        e = self._endpoint(a["EndpointArn"])
        if any(a["EndpointArn"] in (t["SourceEndpointArn"], t["TargetEndpointArn"])
               for t in self.tasks.values()):
            raise DmsFault("InvalidResourceStateFault",
                           "Endpoint %s is used by a replication task" % e["EndpointIdentifier"])
        del self.endpoints[a["EndpointArn"]]
        self.connections = {k: c for k, c in self.connections.items()
                            if c["EndpointArn"] != a["EndpointArn"]}
        return {"Endpoint": public(dict(e, Status="deleting"))}

    def TestConnection(self, a):
        r = self._instance(a["ReplicationInstanceArn"])
        e = self._endpoint(a["EndpointArn"])
        if r["ReplicationInstanceStatus"] != "available":
            raise DmsFault("InvalidResourceStateFault",
                           "Replication instance %s is not available"
                           % r["ReplicationInstanceIdentifier"])
        key = (a["ReplicationInstanceArn"], a["EndpointArn"])
        c = self.connections.get(key)
        if c and c["Status"] == "testing":
            raise DmsFault("InvalidResourceStateFault", "A connection test is in progress")
        c = {"ReplicationInstanceArn": r["ReplicationInstanceArn"],
             "EndpointArn": e["EndpointArn"], "Status": "testing",
             "EndpointIdentifier": e["EndpointIdentifier"],
             "ReplicationInstanceIdentifier": r["ReplicationInstanceIdentifier"],
             "_steps": self.polls}
        self.connections[key] = c
        return {"Connection": public(c)}

    def _conclude(self, c):
        e = self.endpoints.get(c["EndpointArn"])
        msg = self.connection_fails.get(c["EndpointIdentifier"])
        if not msg and e and e.get("ServerName"):
            try:
                socket.create_connection((e["ServerName"], int(e.get("Port", 5432))), 2).close()
            except OSError as ex:
                msg = ("Test connection failed for endpoint '%s' and replication instance '%s'. "
                       "Application-Detailed-Message: Cannot connect to ODBC provider "
                       "Network error has occurred, caused by: %s"
                       % (c["EndpointIdentifier"], c["ReplicationInstanceIdentifier"],
                          ex.strerror or ex))
        if msg:
            c["Status"], c["LastFailureMessage"] = "failed", msg
        else:
            c["Status"] = "successful"
            c.pop("LastFailureMessage", None)

    def DescribeConnections(self, a):
        for c in self.connections.values():
            if c["Status"] == "testing":
                c["_steps"] -= 1
                if c["_steps"] <= 0:
                    self._conclude(c)
        return self.describe("DescribeConnections", a, list(self.connections.values()))

    # ---- tasks ----------------------------------------------------------------------
    def _task(self, arn):
        t = self.tasks.get(arn)
        if not t:
            raise DmsFault("ResourceNotFoundFault", "Replication Task not found: %s" % arn)
        return t

    def _task_by_id(self, tid):
        for t in self.tasks.values():
            if t["ReplicationTaskIdentifier"] == tid:
                return t
        raise KeyError("no task " + tid)

    def _mappings(self, text):
        try:
            doc = json.loads(text)
        except ValueError:
            raise bad("TableMappings is not valid JSON")
        rules = doc.get("rules") if isinstance(doc, dict) else None
        if not isinstance(rules, list):
            raise bad("TableMappings must have a rules array")
        ids = set()
        for r in rules:
            if r.get("rule-type") not in ("selection", "transformation", "table-settings"):
                raise bad("Invalid rule type %s" % r.get("rule-type"))
            if r.get("rule-id") in ids:
                raise bad("Duplicate rule-id %s" % r.get("rule-id"))
            ids.add(r.get("rule-id"))
            if "object-locator" not in r:
                raise bad("Rule %s has no object-locator" % r.get("rule-id"))
        if not any(r["rule-type"] == "selection" and r.get("rule-action") == "include"
                   for r in rules):
            raise bad("Error in mapping rules. No selection rule with rule-action include")
        return rules

    def _settings(self, text):
        if not text:
            return {}
        try:
            s = json.loads(text)
        except ValueError:
            raise bad("ReplicationTaskSettings is not valid JSON")
        if not isinstance(s, dict):
            raise bad("ReplicationTaskSettings must be a JSON object")
        return s

    def CreateReplicationTask(self, a):
        tid = ident("ReplicationTaskIdentifier", a["ReplicationTaskIdentifier"])
        if any(t["ReplicationTaskIdentifier"] == tid for t in self.tasks.values()):
            raise DmsFault("ResourceAlreadyExistsFault", "Replication task %s already exists"
                           % tid)
        src = self.endpoints.get(a["SourceEndpointArn"])
        dst = self.endpoints.get(a["TargetEndpointArn"])
        if not src:
            raise DmsFault("ResourceNotFoundFault", "Endpoint %s not found"
                           % a["SourceEndpointArn"])
        if not dst:
            raise DmsFault("ResourceNotFoundFault", "Endpoint %s not found"
                           % a["TargetEndpointArn"])
        if src["EndpointType"] != "SOURCE" or dst["EndpointType"] != "TARGET":
            raise bad("SourceEndpointArn must name a source endpoint and TargetEndpointArn "
                      "a target endpoint")
        inst = self._instance(a["ReplicationInstanceArn"])
        if inst["ReplicationInstanceStatus"] not in ("available", "modifying"):
            raise DmsFault("InvalidResourceStateFault", "Replication instance %s is %s"
                           % (inst["ReplicationInstanceIdentifier"],
                              inst["ReplicationInstanceStatus"]))
        rules = self._mappings(a["TableMappings"])
        settings = self._settings(a.get("ReplicationTaskSettings"))
        arn = self.arn("task")
        t = {"ReplicationTaskIdentifier": tid, "ReplicationTaskArn": arn,
             "SourceEndpointArn": a["SourceEndpointArn"],
             "TargetEndpointArn": a["TargetEndpointArn"],
             "ReplicationInstanceArn": a["ReplicationInstanceArn"],
             "MigrationType": a["MigrationType"], "TableMappings": a["TableMappings"],
             "ReplicationTaskSettings": json.dumps(settings),
             "Status": "creating", "ReplicationTaskCreationDate": time.time(),
             "ReplicationTaskStats": {"FullLoadProgressPercent": 0, "ElapsedTimeMillis": 0,
                                      "TablesLoaded": 0, "TablesLoading": 0, "TablesQueued": 0,
                                      "TablesErrored": 0},
             "_rules": rules, "_settings": settings, "_steps": self.polls, "_tables": [],
             "_started": False}
        self.tasks[arn] = t
        return {"ReplicationTask": public(t)}

    def _source_tables(self, t):
        src = self.endpoints.get(t["SourceEndpointArn"], {})
        if self.copy_data and src.get("ServerName"):
            out = subprocess.run(
                ["psql", "-X", "-At", "-F", "\t", "-h", src["ServerName"], "-p",
                 str(src.get("Port", 5432)), "-U", src["Username"], "-d", src["DatabaseName"],
                 "-c", "SELECT schemaname, relname, n_live_tup FROM pg_stat_user_tables"],
                env={"PGPASSWORD": src.get("_password") or "", "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, timeout=30)
            if out.returncode != 0:
                raise RuntimeError(out.stderr)
            tables = []
            for line in out.stdout.splitlines():
                s, n, rows = line.split("\t")
                tables.append({"schema": s, "table": n, "rows": int(rows)})
            return tables
        return list(self.tables)

    def _selected(self, t, tables):
        """The tables the task's selection rules take: an include matches, no exclude."""
        def hit(r, tb):
            loc = r["object-locator"]
            return r["rule-type"] == "selection" and \
                match(loc.get("schema-name", "%"), tb["schema"]) and \
                match(loc.get("table-name", "%"), tb["table"])
        return [tb for tb in tables
                if any(hit(r, tb) and r.get("rule-action") == "include" for r in t["_rules"])
                and not any(hit(r, tb) and r.get("rule-action") == "exclude"
                            for r in t["_rules"])]

    def _begin_full_load(self, t, tables=None):
        settings = t["_settings"]
        validation = settings.get("ValidationSettings", {}).get("EnableValidation", False)
        names = tables or self._selected(t, self._source_tables(t))
        stats = []
        for tb in names:
            stats.append({"SchemaName": tb["schema"], "TableName": tb["table"],
                          "Inserts": 0, "Deletes": 0, "Updates": 0, "Ddls": 0,
                          "AppliedInserts": 0, "AppliedDeletes": 0, "AppliedUpdates": 0,
                          "AppliedDdls": 0, "FullLoadRows": 0, "FullLoadCondtnlChkFailedRows": 0,
                          "FullLoadErrorRows": 0, "FullLoadReloaded": bool(tables),
                          "TableState": "Before load", "LastUpdateTime": time.time(),
                          "ValidationPendingRecords": 0, "ValidationFailedRecords": 0,
                          "ValidationSuspendedRecords": 0,
                          "ValidationState": "Pending records" if validation else "Not enabled",
                          "_rows": tb.get("rows", 0)})
        if tables:
            keep = {(s["SchemaName"], s["TableName"]) for s in stats}
            t["_tables"] = [x for x in t["_tables"]
                            if (x["SchemaName"], x["TableName"]) not in keep] + stats
        else:
            t["_tables"] = stats
        t["_phase"] = "full-load"
        t["_load_step"] = 0
        st = t["ReplicationTaskStats"]
        st.update(FullLoadProgressPercent=0, TablesQueued=len(stats), TablesLoading=0,
                  TablesLoaded=0, TablesErrored=0, FullLoadStartDate=time.time())
        st.pop("FullLoadFinishDate", None)

    def _copy(self, t):
        src = self.endpoints[t["SourceEndpointArn"]]
        dst = self.endpoints[t["TargetEndpointArn"]]
        args = []
        for tb in t["_tables"]:
            args += ["-t", '"%s"."%s"' % (tb["SchemaName"], tb["TableName"])]
        if not args:
            return
        dump = subprocess.run(
            ["pg_dump", "--data-only", "--no-owner", "-h", src["ServerName"], "-p",
             str(src.get("Port", 5432)), "-U", src["Username"], "-d", src["DatabaseName"]]
            + args, env={"PGPASSWORD": src.get("_password") or "", "PATH": "/usr/bin:/bin"},
            capture_output=True, timeout=120)
        if dump.returncode != 0:
            raise RuntimeError(dump.stderr.decode())
        # DMS does not migrate sequences: drop their values from the copy.
        data = b"\n".join(line for line in dump.stdout.split(b"\n")
                          if not line.startswith(b"SELECT pg_catalog.setval("))
        prep = t["_settings"].get("FullLoadSettings", {}).get("TargetTablePrepMode")
        if prep == "TRUNCATE_BEFORE_LOAD":
            data = ("TRUNCATE %s CASCADE;\n" % ", ".join(
                '"%s"."%s"' % (x["SchemaName"], x["TableName"]) for x in t["_tables"])).encode() + data
        load = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", dst["ServerName"], "-p",
             str(dst.get("Port", 5432)), "-U", dst["Username"], "-d", dst["DatabaseName"]],
            input=data, env={"PGPASSWORD": dst.get("_password") or "",
                                    "PATH": "/usr/bin:/bin"},
            capture_output=True, timeout=120)
        self.copies.append({"task": t["ReplicationTaskIdentifier"], "rc": load.returncode,
                            "stderr": load.stderr.decode()[-500:]})
        if load.returncode != 0:
            raise RuntimeError(load.stderr.decode())

    def _fail(self, t, message, reason="Stop Reason FATAL_ERROR Error Level FATAL"):
        t["Status"] = "failed"
        t["LastFailureMessage"] = message
        t["StopReason"] = reason
        t["_steps"] = 0
        t["ReplicationTaskStats"]["StopDate"] = time.time()

    def _publish(self, t):
        inst = self.instances.get(t["ReplicationInstanceArn"], {})
        dims = tuple(sorted([("ReplicationInstanceIdentifier",
                              inst.get("ReplicationInstanceIdentifier", "")),
                             ("ReplicationTaskIdentifier",
                              t["ReplicationTaskArn"].rsplit(":", 1)[1])]))
        lat = self.latency.get(t["ReplicationTaskIdentifier"], [1.0, 2.0])
        now = time.time()
        for name, v in (("CDCLatencySource", lat[0]), ("CDCLatencyTarget", lat[1]),
                        ("CDCIncomingChanges",
                         self.incoming.get(t["ReplicationTaskIdentifier"], 0))):
            self.state.metrics.setdefault(("AWS/DMS", name, dims), []).append((now, float(v)))

    def _advance_task(self, t):
        st = t["ReplicationTaskStats"]
        s = t["Status"]
        if s in ("creating", "modifying"):
            t["_steps"] -= 1
            if t["_steps"] <= 0:
                t["Status"] = "stopped" if t.get("_started") else "ready"
            return
        if s == "deleting":
            t["_steps"] -= 1
            if t["_steps"] <= 0:
                del self.tasks[t["ReplicationTaskArn"]]
            return
        if s == "stopping":
            t["Status"] = "stopped"
            t["StopReason"] = "Stop Reason NORMAL"
            st["StopDate"] = time.time()
            return
        if s == "starting":
            t["_steps"] -= 1
            if t["_steps"] <= 0:
                if t.get("_resume_fail"):
                    self._fail(t, t.pop("_resume_fail"))
                    return
                t["Status"] = "running"
            return
        if s != "running":
            return
        st["ElapsedTimeMillis"] = int((time.time() - st.get("StartDate", time.time())) * 1000)
        if t.get("_phase") == "full-load":
            t["_load_step"] += 1
            n = len(t["_tables"])
            total = max(1, self.polls)
            pct = min(100, int(100 * t["_load_step"] / total))
            st["FullLoadProgressPercent"] = pct
            done = int(n * pct / 100)
            for i, tb in enumerate(t["_tables"]):
                if tb["TableState"] == "Table error":
                    continue
                if i < done:
                    tb["TableState"] = "Table completed"
                    tb["FullLoadRows"] = tb["_rows"]
                elif i == done:
                    tb["TableState"] = "Full load"
                    tb["FullLoadRows"] = tb["_rows"] // 2
                tb["LastUpdateTime"] = time.time()
            errored = sum(1 for x in t["_tables"] if x["TableState"] == "Table error")
            st.update(TablesLoaded=sum(1 for x in t["_tables"]
                                       if x["TableState"] == "Table completed"),
                      TablesLoading=sum(1 for x in t["_tables"] if x["TableState"] == "Full load"),
                      TablesQueued=sum(1 for x in t["_tables"] if x["TableState"] == "Before load"),
                      TablesErrored=errored)
            if pct >= 100:
                if self.copy_data:
                    try:
                        self._copy(t)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as ex:
                        self._fail(t, "Full load failed: %s" % str(ex)[:300])
                        return
                for tb in t["_tables"]:
                    if tb["ValidationState"] == "Pending records":
                        tb["ValidationState"] = "Validated"
                st["FullLoadFinishDate"] = time.time()
                t["_phase"] = "cdc"
                fl = t["_settings"].get("FullLoadSettings", {})
                if t.pop("_reload", False):
                    pass  # tables reloaded while CDC runs: CDC goes on
                elif t["MigrationType"] == "full-load":
                    t["Status"] = "stopped"
                    t["StopReason"] = "Stop Reason FULL_LOAD_ONLY_FINISHED"
                    st["StopDate"] = time.time()
                elif fl.get("StopTaskCachedChangesApplied"):
                    t["Status"] = "stopped"
                    t["StopReason"] = "Stop Reason CACHED_CHANGES_APPLIED"
                    st["StopDate"] = time.time()
            return
        # CDC
        t["RecoveryCheckpoint"] = "checkpoint:V1#%d#00000001/%08X:0:0:0:0#0#0#*#0#%d" % (
            int(time.time()), int(time.time()) & 0xffffffff, len(t["_tables"]))
        self._publish(t)

    def DescribeReplicationTasks(self, a):
        for t in list(self.tasks.values()):
            self._advance_task(t)
        out = self.describe("DescribeReplicationTasks", a, list(self.tasks.values()))
        if a.get("WithoutSettings"):
            for t in out["ReplicationTasks"]:
                t.pop("ReplicationTaskSettings", None)
        return out

    def StartReplicationTask(self, a):
        t = self._task(a["ReplicationTaskArn"])
        kind = a["StartReplicationTaskType"]
        s = t["Status"]
        if kind == "start-replication":
            if t.get("_started") or s != "ready":
                raise DmsFault("InvalidResourceStateFault",
                               "Replication task %s is %s: start-replication starts a new "
                               "task; use resume-processing or reload-target"
                               % (t["ReplicationTaskIdentifier"], s))
        elif s not in ("stopped", "failed", "ready"):
            raise DmsFault("InvalidResourceStateFault",
                           "Replication task %s is %s, it must be stopped or failed"
                           % (t["ReplicationTaskIdentifier"], s))
        elif kind == "resume-processing" and not t.get("_started"):
            raise DmsFault("InvalidResourceStateFault",
                           "Replication task %s was never started: use start-replication"
                           % t["ReplicationTaskIdentifier"])
        st = t["ReplicationTaskStats"]
        if kind == "start-replication" or kind == "reload-target" or \
                (kind == "resume-processing" and t.get("_phase") == "full-load"):
            if t["MigrationType"] == "cdc":
                t["_phase"] = "cdc"
                t["_tables"] = [{"SchemaName": x["schema"], "TableName": x["table"],
                                 "TableState": "Table completed", "FullLoadRows": 0,
                                 "Inserts": 0, "Updates": 0, "Deletes": 0, "Ddls": 0,
                                 "ValidationState": "Not enabled",
                                 "ValidationPendingRecords": 0, "ValidationFailedRecords": 0,
                                 "ValidationSuspendedRecords": 0, "_rows": 0}
                                for x in self._selected(t, self._source_tables(t))]
            else:
                try:
                    self._begin_full_load(t)
                except (RuntimeError, OSError, subprocess.SubprocessError) as ex:
                    raise DmsFault("InvalidResourceStateFault",
                                   "Cannot read the source tables: %s" % str(ex)[:200])
        if kind == "resume-processing" and t["ReplicationTaskIdentifier"] in self.resume_fails:
            t["_resume_fail"] = self.resume_fails.pop(t["ReplicationTaskIdentifier"])
        t["_started"] = True
        t["Status"] = "starting"
        t["_steps"] = 1
        for k in ("StopReason", "LastFailureMessage"):
            t.pop(k, None)
        st.pop("StopDate", None)
        st["StartDate"] = time.time()
        st.setdefault("FreshStartDate", time.time())
        t["ReplicationTaskStartDate"] = time.time()
        return {"ReplicationTask": public(t)}

    def StopReplicationTask(self, a):
        t = self._task(a["ReplicationTaskArn"])
        if t["Status"] not in ("running", "starting"):
            raise DmsFault("InvalidResourceStateFault", "Replication task %s is not running "
                           "(%s)" % (t["ReplicationTaskIdentifier"], t["Status"]))
        t["Status"] = "stopping"
        return {"ReplicationTask": public(t)}

    def ModifyReplicationTask(self, a):
        t = self._task(a["ReplicationTaskArn"])
        if t["Status"] not in ("ready", "stopped", "failed"):
            raise DmsFault("InvalidResourceStateFault", "Replication task %s is %s: stop it "
                           "before modifying it" % (t["ReplicationTaskIdentifier"], t["Status"]))
        if "TableMappings" in a:
            t["_rules"] = self._mappings(a["TableMappings"])
            t["TableMappings"] = a["TableMappings"]
        if "ReplicationTaskSettings" in a:
            t["_settings"] = self._settings(a["ReplicationTaskSettings"])
            t["ReplicationTaskSettings"] = json.dumps(t["_settings"])
        if "MigrationType" in a:
            t["MigrationType"] = a["MigrationType"]
        t["Status"] = "modifying"
        t["_steps"] = self.polls
        return {"ReplicationTask": public(t)}

    def ReloadTables(self, a):
        t = self._task(a["ReplicationTaskArn"])
        if t["Status"] != "running":
            raise DmsFault("InvalidResourceStateFault", "Replication task %s is not running"
                           % t["ReplicationTaskIdentifier"])
        known = {(x["SchemaName"], x["TableName"]): x for x in t["_tables"]}
        reload = []
        for x in a["TablesToReload"]:
            ts = known.get((x["SchemaName"], x["TableName"]))
            if not ts:
                raise DmsFault("ResourceNotFoundFault", "Table %s.%s is not part of the task"
                               % (x["SchemaName"], x["TableName"]))
            reload.append({"schema": x["SchemaName"], "table": x["TableName"],
                           "rows": ts["_rows"]})
        if a.get("ReloadOption", "data-reload") == "data-reload":
            self._begin_full_load(t, reload)
            t["_reload"] = True
            t["ReplicationTaskStats"]["TablesLoaded"] = len(t["_tables"]) - len(reload)
        else:
            for x in reload:
                known[(x["schema"], x["table"])]["ValidationState"] = "Validated"
                known[(x["schema"], x["table"])]["ValidationFailedRecords"] = 0
        return {"ReplicationTaskArn": t["ReplicationTaskArn"]}

    def DeleteReplicationTask(self, a):
        t = self._task(a["ReplicationTaskArn"])
        if t["Status"] in ("running", "starting", "stopping"):
            raise DmsFault("InvalidResourceStateFault", "Replication task %s is %s: stop it "
                           "first" % (t["ReplicationTaskIdentifier"], t["Status"]))
        t["Status"] = "deleting"
        t["_steps"] = self.polls
        return {"ReplicationTask": public(t)}

    def DescribeTableStatistics(self, a):
        t = self._task(a["ReplicationTaskArn"])
        items = t["_tables"]
        for f in a.get("Filters") or []:
            field = {"schema-name": "SchemaName", "table-name": "TableName",
                     "table-state": "TableState"}.get(f["Name"])
            if not field:
                raise bad("Invalid filter name %s" % f["Name"])
            items = [x for x in items if x.get(field) in f["Values"]]
        chunk, marker = page(items, a, 20, 500)
        out = {"ReplicationTaskArn": t["ReplicationTaskArn"],
               "TableStatistics": [public(x) for x in chunk]}
        if marker:
            out["Marker"] = marker
        return out

    # ---- premigration assessments -------------------------------------------------
    def StartReplicationTaskAssessmentRun(self, a):
        t = self._task(a["ReplicationTaskArn"])
        if t["Status"] not in ("ready", "stopped", "failed"):
            raise DmsFault("InvalidResourceStateFault", "Replication task %s is %s"
                           % (t["ReplicationTaskIdentifier"], t["Status"]))
        for r in self.runs.values():
            if r["ReplicationTaskArn"] == t["ReplicationTaskArn"] and \
                    r["AssessmentRunName"] == a["AssessmentRunName"]:
                raise DmsFault("ResourceAlreadyExistsFault", "Assessment run %s exists"
                               % a["AssessmentRunName"])
        names = [n for n in ASSESSMENTS if not a.get("IncludeOnly") or n in a["IncludeOnly"]]
        names = [n for n in names if n not in (a.get("Exclude") or [])]
        if not names:
            raise bad("IncludeOnly and Exclude leave no assessment to run")
        arn = self.arn("assessment-run")
        r = {"ReplicationTaskAssessmentRunArn": arn, "ReplicationTaskArn": t["ReplicationTaskArn"],
             "Status": "starting", "ReplicationTaskAssessmentRunCreationDate": time.time(),
             "AssessmentProgress": {"IndividualAssessmentCount": len(names),
                                    "IndividualAssessmentCompletedCount": 0},
             "ServiceAccessRoleArn": a["ServiceAccessRoleArn"],
             "ResultLocationBucket": a["ResultLocationBucket"],
             "ResultLocationFolder": a.get("ResultLocationFolder", ""),
             "AssessmentRunName": a["AssessmentRunName"],
             "_instance_arn": t["ReplicationInstanceArn"], "_steps": self.polls + 1}
        self.runs[arn] = r
        self.individual[arn] = [
            {"ReplicationTaskIndividualAssessmentArn": self.arn("individual-assessment"),
             "ReplicationTaskAssessmentRunArn": arn, "IndividualAssessmentName": n,
             "Status": "pending", "ReplicationTaskIndividualAssessmentStartDate": time.time(),
             "_task_arn": t["ReplicationTaskArn"]} for n in names]
        return {"ReplicationTaskAssessmentRun": public(r)}

    def _advance_run(self, r):
        if r["Status"] not in ("starting", "running"):
            return
        r["_steps"] -= 1
        ind = self.individual[r["ReplicationTaskAssessmentRunArn"]]
        if r["_steps"] > 0:
            r["Status"] = "running"
            for x in ind:
                x["Status"] = "running"
            return
        for x in ind:
            x["Status"] = "failed" if x["IndividualAssessmentName"] in self.assessment_fails \
                else "passed"
        r["AssessmentProgress"]["IndividualAssessmentCompletedCount"] = len(ind)
        r["Status"] = "failed" if any(x["Status"] == "failed" for x in ind) else "passed"

    def DescribeReplicationTaskAssessmentRuns(self, a):
        for r in self.runs.values():
            self._advance_run(r)
        return self.describe("DescribeReplicationTaskAssessmentRuns", a, list(self.runs.values()))

    def DescribeReplicationTaskIndividualAssessments(self, a):
        items = [x for ind in self.individual.values() for x in ind]
        return self.describe("DescribeReplicationTaskIndividualAssessments", a, items)
