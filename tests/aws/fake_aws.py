#!/usr/bin/python3
"""tests/aws/fake_aws.py - a fake of the AWS endpoints pgmove talks to.

Run with Debian's /usr/bin/python3 (it imports python3-botocore):

    /usr/bin/python3 tests/aws/fake_aws.py [--port 0] [--port-file F] \
        [--key AKID:SECRET[:TOKEN]]... [--polls N]

It listens on 127.0.0.1 and prints its port on stdout (and into --port-file).
Clients reach it through AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_RDS /
AWS_ENDPOINT_URL_CLOUDWATCH / AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_EC2_METADATA_SERVICE_ENDPOINT (IMDSv2) and
AWS_CONTAINER_CREDENTIALS_FULL_URI (http://127.0.0.1:PORT/creds/...).

What it checks, as AWS does:
  * every API request's SigV4 signature, recomputed with botocore's own
    SigV4Auth (independent of the C signer): MissingAuthenticationToken,
    InvalidClientTokenId (unknown key or wrong session token), ExpiredToken,
    SignatureDoesNotMatch (wrong signature, wrong scope, or clock skew);
  * every parameter against botocore's service model (unknown parameter,
    missing required parameter, bad identifiers, MaxRecords range).
Answers are serialised from botocore's output shapes, so element names and
list wrappers are the documented ones (<DBSnapshots><DBSnapshot>,
<MetricAlarms><member>), in the Query protocol's
<XResponse><XResult>...</XResult><ResponseMetadata> envelope, and errors in
<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.

State: DB instances, DB snapshots, clusters, cluster snapshots, metrics,
alarms (first evaluated "alarm_delay" seconds after they are put, a seed
setting, default 0), CloudWatch Logs log groups and metric filters. Resources that are created go creating -> available over --polls
describe calls (snapshots' PercentProgress rises on each).

Control endpoints (JSON in, JSON out), for the tests:
  POST /_fake/inject    {"action": "DescribeDBSnapshots" | "*", "count": 3,
                         "kind": "error" | "http500" | "delay" | "malformed"
                                 | "error200" | "expired" | "reset" | "xhtml200"
                                 | "other_action" | "errors403" | "lost",
                         "error": "Throttling", "status": 400,
                         "message": "...", "delay": 5}
  GET  /_fake/requests  every API request received (action, params, auth
                        result, status answered)
  POST /_fake/seed      {"instances": [{"id": "app-db", "engine": "postgres",
                         "address": "127.0.0.1", "port": 5433, ...}],
                         "cluster_endpoints": {"aurora": {"address": ...,
                         "port": ...}}, "polls": 2, "alarm_delay": 1.5}
  GET  /_fake/state     the whole state
  POST /_fake/keys      {"AKID": {"secret": "...", "token": null|"...",
                         "expired": false, "source": "imds"|"container",
                         "expiration": "ISO time"}}; imds/container keys are
                        what those endpoints hand out
  GET  /_fake/keys      how often each imds/container key was handed out
  POST /_fake/container_token {"token": "..."}: the Authorization the
                        container endpoint requires
  POST /_fake/alarm_state {"name": "...", "state": "ALARM", "reason": "..."}
"""

import argparse
import datetime
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import botocore.auth
import botocore.credentials
import botocore.loaders
import botocore.model
from botocore.awsrequest import AWSRequest

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
from fake_dms import Dms, DmsFault  # the DMS part: tests/aws/fake_dms.py

LOADER = botocore.loaders.Loader()
MODELS = {}
for _svc, _api in (("rds", "rds"), ("monitoring", "cloudwatch"), ("dms", "dms"),
                   ("logs", "logs")):
    MODELS[_svc] = botocore.model.ServiceModel(
        LOADER.load_service_model(_api, "service-2"), service_name=_api)

LOCK = threading.RLock()


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(s):
    s = s.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(s, fmt).replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            pass
    try:
        return float(s)
    except ValueError:
        raise Fault("InvalidParameterValue", 400, "Invalid timestamp: %s" % s)


class Fault(Exception):
    """An AWS error answer."""

    def __init__(self, code, status, message, sender=True):
        super().__init__(message)
        self.code, self.status, self.message, self.sender = code, status, message, sender


def fault(svc, shape_name, message):
    """A Fault with the code and HTTP status botocore's model gives shape_name."""
    shape = MODELS[svc].shape_for(shape_name)
    err = shape.metadata.get("error", {})
    return Fault(err.get("code", shape_name), err.get("httpStatusCode", 400), message)


# ---- request parsing against the input shape --------------------------------

def unflatten(shape, params, prefix=""):
    """Turns flat Query params under prefix into the value of shape."""
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, mshape in shape.members.items():
            key = (prefix + "." if prefix else "") + mshape.serialization.get("name", name)
            if any(k == key or k.startswith(key + ".") for k in params):
                out[name] = unflatten(mshape, params, key)
        return out
    if t == "list":
        mname = shape.member.serialization.get("name", "member")
        # each item gets only its own params: one pass over them, not one
        # per item and member (2100 metrics took minutes on a loaded machine)
        rx = re.compile(re.escape(prefix) + r"\." + re.escape(mname) + r"\.(\d+)(\.|$)")
        items = {}
        for k, v in params.items():
            m = rx.match(k)
            if m:
                items.setdefault(int(m.group(1)), {})[k] = v
        return [unflatten(shape.member, items[i], "%s.%s.%d" % (prefix, mname, i))
                for i in sorted(items)]
    if t == "map":
        return {}
    v = params.get(prefix)
    if v is None:
        return None
    if t in ("integer", "long"):
        try:
            return int(v)
        except ValueError:
            raise Fault("InvalidParameterValue", 400,
                        "Invalid value for parameter %s: %r is not an integer" % (prefix, v))
    if t in ("double", "float"):
        try:
            return float(v)
        except ValueError:
            raise Fault("InvalidParameterValue", 400,
                        "Invalid value for parameter %s: %r is not a number" % (prefix, v))
    if t == "boolean":
        if v not in ("true", "false"):
            raise Fault("InvalidParameterValue", 400,
                        "Invalid value for parameter %s: %r is not a boolean" % (prefix, v))
        return v == "true"
    if t == "timestamp":
        return parse_time(v)
    return v


def known_keys(shape, prefix, out):
    """Regex patterns of every flat key shape accepts."""
    t = shape.type_name
    if t == "structure":
        for name, mshape in shape.members.items():
            key = prefix + ("." if prefix else "") + re.escape(
                mshape.serialization.get("name", name))
            known_keys(mshape, key, out)
    elif t == "list":
        mname = shape.member.serialization.get("name", "member")
        known_keys(shape.member, prefix + r"\." + re.escape(mname) + r"\.\d+", out)
    else:
        out.append(prefix)


def parse_params(svc, action, params):
    op = MODELS[svc].operation_model(action)
    shape = op.input_shape
    if shape is None:
        return {}
    pats = []
    known_keys(shape, "", pats)
    rx = re.compile("^(" + "|".join(pats) + ")$") if pats else None
    for k in params:
        if k in ("Action", "Version"):
            continue
        if not rx or not rx.match(k):
            raise Fault("InvalidParameterValue", 400,
                        "The parameter %s is not recognized by %s (fake: not in botocore's "
                        "model)" % (k, action))
    flat = {k: v for k, v in params.items() if k not in ("Action", "Version")}
    value = {}
    for name, mshape in shape.members.items():
        key = mshape.serialization.get("name", name)
        if any(k == key or k.startswith(key + ".") for k in flat):
            value[name] = unflatten(mshape, flat, key)
    for req in shape.required_members:
        if req not in value:
            raise Fault("MissingParameter", 400,
                        "The request must contain the parameter %s" % req)
    return value


# ---- response serialisation from the output shape ---------------------------

def xml_value(shape, value, name):
    t = shape.type_name
    if t == "structure":
        inner = []
        for mname, mshape in shape.members.items():
            if mname in value and value[mname] is not None:
                inner.append(xml_value(mshape, value[mname],
                                       mshape.serialization.get("name", mname)))
        unknown = set(value) - set(shape.members)
        if unknown:
            raise RuntimeError("fake: %s has no members %s" % (shape.name, sorted(unknown)))
        return "<%s>%s</%s>" % (name, "".join(inner), name)
    if t == "list":
        mname = shape.member.serialization.get("name", "member")
        return "<%s>%s</%s>" % (name, "".join(xml_value(shape.member, v, mname)
                                               for v in value), name)
    if t == "boolean":
        text = "true" if value else "false"
    elif t == "timestamp":
        text = now_iso(value) if isinstance(value, (int, float)) else str(value)
    else:
        text = str(value)
    return "<%s>%s</%s>" % (name, escape(text), name)


def xml_response(svc, action, value, request_id):
    model = MODELS[svc]
    op = model.operation_model(action)
    ns = model.metadata.get("xmlNamespace", "")
    body = ""
    if op.output_shape is not None:
        wrapper = op.metadata.get("resultWrapper") or op.output_shape.serialization.get(
            "resultWrapper") or action + "Result"
        body = xml_value(op.output_shape, value or {}, wrapper)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">%s'
            "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>\n"
            % (action, ns, body, request_id, action))


def xml_error(svc, f, request_id):
    ns = MODELS[svc].metadata.get("xmlNamespace", "") if svc in MODELS else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="%s">\n  <Error>\n'
            "    <Type>%s</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n"
            "  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n"
            % (ns, "Sender" if f.sender else "Receiver", escape(f.code), escape(f.message),
               request_id))


# ---- state --------------------------------------------------------------------

IDENT = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$")


class State:
    def __init__(self, polls):
        self.polls = polls
        self.instances = {}
        self.snapshots = {}
        self.clusters = {}
        self.cluster_snapshots = {}
        self.cluster_endpoints = {}
        self.metrics = {}  # (ns, name, dims tuple) -> [(t, value)]
        self.alarms = {}
        self.alarm_delay = 0.0  # seconds from PutMetricAlarm to the first evaluation
        self.log_groups = {}  # name -> {"creationTime": ms, "filters": {name: filter}}
        self.account = "123456789012"

    def arn(self, region, kind, ident):
        return "arn:aws:rds:%s:%s:%s:%s" % (region, self.account, kind, ident)

    def dump(self):
        return {"instances": self.instances, "snapshots": self.snapshots,
                "clusters": self.clusters, "cluster_snapshots": self.cluster_snapshots,
                "alarms": self.alarms, "polls": self.polls, "log_groups": self.log_groups,
                "metrics": [{"namespace": k[0], "name": k[1], "dimensions": dict(k[2]),
                             "points": v} for k, v in self.metrics.items()]}


def check_ident(param, value):
    if not IDENT.match(value or ""):
        raise Fault("InvalidParameterValue", 400,
                    "The parameter %s is not a valid identifier. Identifiers must begin with "
                    "a letter; must contain only ASCII letters, digits, and hyphens; and must "
                    "not end with a hyphen or contain two consecutive hyphens." % param)


def page(items, args, default=100, lo=20, hi=100):
    mr = args.get("MaxRecords")
    if mr is not None and not lo <= mr <= hi:
        raise Fault("InvalidParameterValue", 400,
                    "Invalid value %d for MaxRecords. Must be between %d and %d" % (mr, lo, hi))
    mr = mr or default
    start = 0
    if args.get("Marker"):
        try:
            start = int(args["Marker"])
        except ValueError:
            raise Fault("InvalidParameterValue", 400, "Invalid marker: %s" % args["Marker"])
    chunk = items[start:start + mr]
    marker = str(start + mr) if start + mr < len(items) else None
    return chunk, marker


def advance(res, status_key, final="available", progress=False):
    """One describe poll of a resource that is on its way somewhere."""
    steps = res.pop("_steps", None)
    if steps is None:
        return
    steps -= 1
    if progress:
        res["PercentProgress"] = min(100, res.get("PercentProgress", 0) +
                                     max(1, 100 // max(1, res.get("_polls", 1))))
    if steps <= 0:
        res[status_key] = res.pop("_final", final)
        if progress:
            res["PercentProgress"] = 100
        res.pop("_polls", None)
    else:
        res["_steps"] = steps


def public(res):
    return {k: v for k, v in res.items() if not k.startswith("_")}


class RDS:
    def __init__(self, st):
        self.st = st

    def _pending(self, res, final="available"):
        res["_steps"] = self.st.polls
        res["_polls"] = self.st.polls
        res["_final"] = final

    def _instance(self, ident):
        inst = self.st.instances.get(ident)
        if not inst:
            raise fault("rds", "DBInstanceNotFoundFault", "DBInstance %s not found." % ident)
        return inst

    def _snap_view(self, s):
        advance(s, "Status", progress=True)
        return public(s)

    def CreateDBSnapshot(self, a, region):
        sid, iid = a["DBSnapshotIdentifier"], a["DBInstanceIdentifier"]
        check_ident("DBSnapshotIdentifier", sid)
        inst = self._instance(iid)
        if sid in self.st.snapshots:
            raise fault("rds", "DBSnapshotAlreadyExistsFault",
                        "Cannot create the snapshot because a snapshot with the identifier "
                        "%s already exists." % sid)
        if inst["DBInstanceStatus"] != "available":
            raise fault("rds", "InvalidDBInstanceStateFault",
                        "Cannot create a snapshot because the database instance %s is not "
                        "currently in the available state." % iid)
        s = {"DBSnapshotIdentifier": sid, "DBInstanceIdentifier": iid,
             "SnapshotCreateTime": time.time(), "Engine": inst["Engine"],
             "EngineVersion": inst.get("EngineVersion", "15.4"), "AllocatedStorage": 20,
             "Status": "creating", "Port": inst["Endpoint"]["Port"],
             "SnapshotType": "manual", "PercentProgress": 0, "Encrypted": False,
             "DBSnapshotArn": self.st.arn(region, "snapshot", sid),
             "TagList": a.get("Tags", [])}
        s["OriginalSnapshotCreateTime"] = s["SnapshotCreateTime"]
        self._pending(s)
        self.st.snapshots[sid] = s
        return {"DBSnapshot": public(s)}

    def DescribeDBSnapshots(self, a, region):
        sid = a.get("DBSnapshotIdentifier")
        if sid:
            if sid not in self.st.snapshots:
                raise fault("rds", "DBSnapshotNotFoundFault", "DBSnapshot not found: %s" % sid)
            items = [self.st.snapshots[sid]]
        else:
            items = [s for s in self.st.snapshots.values()
                     if a.get("DBInstanceIdentifier") in (None, s["DBInstanceIdentifier"])]
        chunk, marker = page(items, a)
        out = {"DBSnapshots": [self._snap_view(s) for s in chunk]}
        if marker:
            out["Marker"] = marker
        return out

    def CopyDBSnapshot(self, a, region):
        src, dst = a["SourceDBSnapshotIdentifier"], a["TargetDBSnapshotIdentifier"]
        check_ident("TargetDBSnapshotIdentifier", dst)
        s = self.st.snapshots.get(src.split(":")[-1])
        if not s:
            raise fault("rds", "DBSnapshotNotFoundFault", "DBSnapshot not found: %s" % src)
        if s["Status"] != "available":
            raise fault("rds", "InvalidDBSnapshotStateFault",
                        "Snapshot %s is not in the available state." % src)
        if dst in self.st.snapshots:
            raise fault("rds", "DBSnapshotAlreadyExistsFault",
                        "Cannot copy the snapshot because a snapshot with the identifier %s "
                        "already exists." % dst)
        c = dict(public(s), DBSnapshotIdentifier=dst, Status="creating", PercentProgress=0,
                 DBSnapshotArn=self.st.arn(region, "snapshot", dst), SnapshotCreateTime=time.time(),
                 TagList=(list(s.get("TagList", [])) if a.get("CopyTags") else []) +
                 a.get("Tags", []))
        c.pop("SourceDBSnapshotIdentifier", None)
        # botocore's model: SourceDBSnapshotIdentifier "only has a value in the
        # case of a cross-account or cross-Region copy".
        parts = src.split(":")
        if src.startswith("arn:") and len(parts) > 4 and (parts[3] != region or
                                                          parts[4] != self.st.account):
            c["SourceDBSnapshotIdentifier"] = src
            c["SourceRegion"] = parts[3]
        if a.get("KmsKeyId"):
            c["KmsKeyId"], c["Encrypted"] = a["KmsKeyId"], True
        self._pending(c)
        self.st.snapshots[dst] = c
        return {"DBSnapshot": public(c)}

    def DeleteDBSnapshot(self, a, region):
        sid = a["DBSnapshotIdentifier"]
        s = self.st.snapshots.get(sid)
        if not s:
            raise fault("rds", "DBSnapshotNotFoundFault", "DBSnapshot not found: %s" % sid)
        if s["Status"] != "available":
            raise fault("rds", "InvalidDBSnapshotStateFault",
                        "Cannot delete the snapshot %s because it is in the %s state."
                        % (sid, s["Status"]))
        del self.st.snapshots[sid]
        return {"DBSnapshot": dict(public(s), Status="deleted")}

    def CreateDBClusterSnapshot(self, a, region):
        sid, cid = a["DBClusterSnapshotIdentifier"], a["DBClusterIdentifier"]
        check_ident("DBClusterSnapshotIdentifier", sid)
        c = self._cluster(cid)
        if sid in self.st.cluster_snapshots:
            raise fault("rds", "DBClusterSnapshotAlreadyExistsFault",
                        "Cannot create the cluster snapshot because one with the identifier "
                        "%s already exists." % sid)
        s = {"DBClusterSnapshotIdentifier": sid, "DBClusterIdentifier": cid,
             "SnapshotCreateTime": time.time(), "Engine": c["Engine"],
             "EngineVersion": c["EngineVersion"], "AllocatedStorage": 1, "Status": "creating",
             "Port": c["Port"], "SnapshotType": "manual", "PercentProgress": 0,
             "StorageEncrypted": False,
             "DBClusterSnapshotArn": self.st.arn(region, "cluster-snapshot", sid)}
        self._pending(s)
        self.st.cluster_snapshots[sid] = s
        return {"DBClusterSnapshot": public(s)}

    def DescribeDBClusterSnapshots(self, a, region):
        sid = a.get("DBClusterSnapshotIdentifier")
        if sid:
            if sid not in self.st.cluster_snapshots:
                raise fault("rds", "DBClusterSnapshotNotFoundFault",
                            "DBClusterSnapshot %s not found." % sid)
            items = [self.st.cluster_snapshots[sid]]
        else:
            items = [s for s in self.st.cluster_snapshots.values()
                     if a.get("DBClusterIdentifier") in (None, s["DBClusterIdentifier"])]
        chunk, marker = page(items, a)
        out = {"DBClusterSnapshots": [self._snap_view(s) for s in chunk]}
        if marker:
            out["Marker"] = marker
        return out

    def DeleteDBClusterSnapshot(self, a, region):
        sid = a["DBClusterSnapshotIdentifier"]
        s = self.st.cluster_snapshots.get(sid)
        if not s:
            raise fault("rds", "DBClusterSnapshotNotFoundFault",
                        "DBClusterSnapshot %s not found." % sid)
        if s["Status"] != "available":
            raise fault("rds", "InvalidDBClusterSnapshotStateFault",
                        "Cannot delete the cluster snapshot %s in the %s state."
                        % (sid, s["Status"]))
        del self.st.cluster_snapshots[sid]
        return {"DBClusterSnapshot": dict(public(s), Status="deleted")}

    def _cluster(self, cid):
        c = self.st.clusters.get(cid)
        if not c:
            raise fault("rds", "DBClusterNotFoundFault", "DBCluster %s not found." % cid)
        return c

    def _new_cluster(self, a, region, engine, version):
        cid = a["DBClusterIdentifier"]
        check_ident("DBClusterIdentifier", cid)
        if cid in self.st.clusters:
            raise fault("rds", "DBClusterAlreadyExistsFault",
                        "DB Cluster already exists")
        ep = self.st.cluster_endpoints.get(cid, {})
        host = "%s.cluster-c0fake.%s.rds.amazonaws.com" % (cid, region)
        c = {"DBClusterIdentifier": cid, "Status": "creating", "Engine": engine,
             "EngineVersion": version, "Port": int(ep.get("port", a.get("Port") or 5432)),
             "Endpoint": ep.get("address", host),
             "ReaderEndpoint": ep.get("reader_address", ep.get("address",
                                      host.replace(".cluster-", ".cluster-ro-"))),
             "MultiAZ": False, "DBClusterMembers": [], "StorageEncrypted": False,
             "DBClusterArn": self.st.arn(region, "cluster", cid),
             "ClusterCreateTime": time.time(), "EngineMode": "provisioned",
             "DeletionProtection": bool(a.get("DeletionProtection", False))}
        if a.get("ServerlessV2ScalingConfiguration"):
            sc = a["ServerlessV2ScalingConfiguration"]
            lo, hi = sc.get("MinCapacity"), sc.get("MaxCapacity")
            if lo is None or hi is None or lo < 0 or hi > 256 or lo > hi:
                raise Fault("InvalidParameterCombination", 400,
                            "ServerlessV2ScalingConfiguration: MinCapacity %s and MaxCapacity "
                            "%s are not a valid range" % (lo, hi))
            c["ServerlessV2ScalingConfiguration"] = {"MinCapacity": lo, "MaxCapacity": hi}
        if a.get("VpcSecurityGroupIds"):
            c["VpcSecurityGroups"] = [{"VpcSecurityGroupId": g, "Status": "active"}
                                      for g in a["VpcSecurityGroupIds"]]
        if a.get("DBSubnetGroupName"):
            c["DBSubnetGroup"] = a["DBSubnetGroupName"]
        self._pending(c)
        self.st.clusters[cid] = c
        return c

    def _cluster_view(self, c):
        advance(c, "Status")
        return public(c)

    def RestoreDBClusterFromSnapshot(self, a, region):
        # botocore's model: "You can use either the name or the ARN to specify a
        # DB cluster snapshot. However, you can use only the ARN to specify a DB
        # snapshot."
        ident = a["SnapshotIdentifier"]
        snap_id = ident.split(":")[-1]
        if ident.startswith("arn:") and ":snapshot:" in ident:
            s = self.st.snapshots.get(snap_id)
            if not s:
                raise fault("rds", "DBSnapshotNotFoundFault",
                            "DBSnapshot not found: %s" % ident)
        else:
            s = self.st.cluster_snapshots.get(snap_id)
            if not s:
                raise fault("rds", "DBClusterSnapshotNotFoundFault",
                            "DBClusterSnapshot %s not found." % ident)
        if s["Status"] != "available":
            raise fault("rds", "InvalidDBSnapshotStateFault",
                        "Snapshot %s is not in the available state (%s)."
                        % (snap_id, s["Status"]))
        if not a["Engine"].startswith("aurora"):
            raise Fault("InvalidParameterValue", 400,
                        "Invalid DB engine for a cluster: %s" % a["Engine"])
        c = self._new_cluster(a, region, a["Engine"],
                              a.get("EngineVersion") or s.get("EngineVersion"))
        return {"DBCluster": public(c)}

    def CreateDBCluster(self, a, region):
        if not a["Engine"].startswith("aurora"):
            raise Fault("InvalidParameterValue", 400, "Invalid DB engine: %s" % a["Engine"])
        src = a.get("ReplicationSourceIdentifier")
        if src:
            iid = src.split(":")[-1]
            self._instance(iid)
        elif not a.get("MasterUsername"):
            raise Fault("InvalidParameterValue", 400,
                        "The parameter MasterUsername must be provided and must not be blank.")
        c = self._new_cluster(a, region, a["Engine"], a.get("EngineVersion") or "15.4")
        if src:
            c["ReplicationSourceIdentifier"] = src
            inst = self.st.instances[src.split(":")[-1]]
            inst.setdefault("ReadReplicaDBClusterIdentifiers", []).append(c["DBClusterArn"])
        return {"DBCluster": public(c)}

    def PromoteReadReplicaDBCluster(self, a, region):
        c = self._cluster(a["DBClusterIdentifier"])
        if not c.get("ReplicationSourceIdentifier"):
            raise fault("rds", "InvalidDBClusterStateFault",
                        "DB cluster %s is not a read replica." % c["DBClusterIdentifier"])
        if c["Status"] != "available":
            raise fault("rds", "InvalidDBClusterStateFault",
                        "DB cluster %s is not in the available state." % c["DBClusterIdentifier"])
        src = c.pop("ReplicationSourceIdentifier").split(":")[-1]
        inst = self.st.instances.get(src)
        if inst and c["DBClusterArn"] in inst.get("ReadReplicaDBClusterIdentifiers", []):
            inst["ReadReplicaDBClusterIdentifiers"].remove(c["DBClusterArn"])
        c["Status"] = "promoting"
        self._pending(c)
        return {"DBCluster": public(c)}

    def DescribeDBClusters(self, a, region):
        cid = a.get("DBClusterIdentifier")
        if cid:
            items = [self._cluster(cid)]
        else:
            items = list(self.st.clusters.values())
        chunk, marker = page(items, a)
        views = []
        for c in chunk:
            v = self._cluster_view(c)
            if v.get("Status") == "_gone":
                del self.st.clusters[c["DBClusterIdentifier"]]
                if cid:
                    raise fault("rds", "DBClusterNotFoundFault", "DBCluster %s not found." % cid)
            else:
                views.append(v)
        out = {"DBClusters": views}
        if marker:
            out["Marker"] = marker
        return out

    def CreateDBInstance(self, a, region):
        iid = a["DBInstanceIdentifier"]
        check_ident("DBInstanceIdentifier", iid)
        if iid in self.st.instances:
            raise fault("rds", "DBInstanceAlreadyExistsFault", "DB instance already exists")
        cid = a.get("DBClusterIdentifier")
        cls = a["DBInstanceClass"]
        if cid:
            c = self._cluster(cid)
            if cls == "db.serverless" and not c.get("ServerlessV2ScalingConfiguration"):
                raise Fault("InvalidParameterCombination", 400,
                            "Set the Serverless v2 scaling configuration on the parent DB "
                            "cluster before creating a Serverless v2 DB instance.")
            if a["Engine"] != c["Engine"]:
                raise Fault("InvalidParameterCombination", 400,
                            "The engine %s does not match the cluster's engine %s"
                            % (a["Engine"], c["Engine"]))
            address, port = c["Endpoint"], c["Port"]
            if "." in address and not address[0].isdigit():
                address = "%s.c0fake.%s.rds.amazonaws.com" % (iid, region)
            c["DBClusterMembers"].append({"DBInstanceIdentifier": iid,
                                          "IsClusterWriter": not c["DBClusterMembers"],
                                          "DBClusterParameterGroupStatus": "in-sync",
                                          "PromotionTier": a.get("PromotionTier", 1)})
        else:
            address = "%s.c0fake.%s.rds.amazonaws.com" % (iid, region)
            port = a.get("Port") or 5432
        inst = {"DBInstanceIdentifier": iid, "DBInstanceClass": cls, "Engine": a["Engine"],
                "DBInstanceStatus": "creating", "EngineVersion": a.get("EngineVersion", "15.4"),
                "Endpoint": {"Address": address, "Port": port},
                "DBInstanceArn": self.st.arn(region, "db", iid),
                "InstanceCreateTime": time.time(), "MultiAZ": False,
                "PubliclyAccessible": bool(a.get("PubliclyAccessible", False))}
        if cid:
            inst["DBClusterIdentifier"] = cid
        self._pending(inst)
        self.st.instances[iid] = inst
        return {"DBInstance": public(inst)}

    def _instance_view(self, inst):
        advance(inst, "DBInstanceStatus")
        if inst.get("DBInstanceStatus") == "_gone":
            return None
        return public(inst)

    def DescribeDBInstances(self, a, region):
        iid = a.get("DBInstanceIdentifier")
        items = [self._instance(iid)] if iid else list(self.st.instances.values())
        chunk, marker = page(items, a)
        views = []
        for inst in chunk:
            v = self._instance_view(inst)
            if v is None:
                del self.st.instances[inst["DBInstanceIdentifier"]]
                c = self.st.clusters.get(inst.get("DBClusterIdentifier"))
                if c:
                    c["DBClusterMembers"] = [m for m in c["DBClusterMembers"]
                                             if m["DBInstanceIdentifier"] != inst[
                                                 "DBInstanceIdentifier"]]
                if iid:
                    raise fault("rds", "DBInstanceNotFoundFault",
                                "DBInstance %s not found." % iid)
            else:
                views.append(v)
        out = {"DBInstances": views}
        if marker:
            out["Marker"] = marker
        return out

    def DeleteDBInstance(self, a, region):
        iid = a["DBInstanceIdentifier"]
        inst = self._instance(iid)
        skip = a.get("SkipFinalSnapshot", False)
        final = a.get("FinalDBSnapshotIdentifier")
        if not skip and not final and not inst.get("DBClusterIdentifier"):
            raise Fault("InvalidParameterCombination", 400,
                        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is "
                        "specified.")
        if skip and final:
            raise Fault("InvalidParameterCombination", 400,
                        "Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier.")
        if inst["DBInstanceStatus"] not in ("available", "stopped", "failed"):
            raise fault("rds", "InvalidDBInstanceStateFault",
                        "Instance %s is not in the available state (%s)."
                        % (iid, inst["DBInstanceStatus"]))
        if final:
            check_ident("FinalDBSnapshotIdentifier", final)
            if final in self.st.snapshots:
                raise fault("rds", "DBSnapshotAlreadyExistsFault",
                            "Cannot create the snapshot because a snapshot with the identifier "
                            "%s already exists." % final)
            s = {"DBSnapshotIdentifier": final, "DBInstanceIdentifier": iid,
                 "SnapshotCreateTime": time.time(), "Engine": inst["Engine"],
                 "EngineVersion": inst.get("EngineVersion", "15.4"), "AllocatedStorage": 20,
                 "Status": "creating", "Port": inst["Endpoint"]["Port"],
                 "SnapshotType": "manual", "PercentProgress": 0, "Encrypted": False,
                 "DBSnapshotArn": self.st.arn(region, "snapshot", final)}
            self._pending(s)
            self.st.snapshots[final] = s
        inst["DBInstanceStatus"] = "deleting"
        self._pending(inst, final="_gone")
        return {"DBInstance": public(inst)}

    def DeleteDBCluster(self, a, region):
        c = self._cluster(a["DBClusterIdentifier"])
        live = [m["DBInstanceIdentifier"] for m in c["DBClusterMembers"]
                if self.st.instances.get(m["DBInstanceIdentifier"], {}).get(
                    "DBInstanceStatus") not in (None, "deleting")]
        if live:
            raise fault("rds", "InvalidDBClusterStateFault",
                        "Cluster cannot be deleted, it still contains DB instances in "
                        "non-deleting state.")
        if c.get("DeletionProtection"):
            raise fault("rds", "InvalidDBClusterStateFault",
                        "Cannot delete protected Cluster, please disable deletion protection "
                        "and try again.")
        skip = a.get("SkipFinalSnapshot", False)
        final = a.get("FinalDBSnapshotIdentifier")
        if not skip and not final:
            raise Fault("InvalidParameterCombination", 400,
                        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is "
                        "specified.")
        if final:
            check_ident("FinalDBSnapshotIdentifier", final)
            s = {"DBClusterSnapshotIdentifier": final,
                 "DBClusterIdentifier": c["DBClusterIdentifier"],
                 "SnapshotCreateTime": time.time(), "Engine": c["Engine"],
                 "EngineVersion": c["EngineVersion"], "AllocatedStorage": 1,
                 "Status": "creating", "Port": c["Port"], "SnapshotType": "manual",
                 "PercentProgress": 0, "StorageEncrypted": False,
                 "DBClusterSnapshotArn": self.st.arn(region, "cluster-snapshot", final)}
            self._pending(s)
            self.st.cluster_snapshots[final] = s
        c["Status"] = "deleting"
        self._pending(c, final="_gone")
        return {"DBCluster": public(c)}

    def ModifyDBCluster(self, a, region):
        c = self._cluster(a["DBClusterIdentifier"])
        sc = a.get("ServerlessV2ScalingConfiguration")
        if sc:
            c["ServerlessV2ScalingConfiguration"] = {"MinCapacity": sc.get("MinCapacity"),
                                                     "MaxCapacity": sc.get("MaxCapacity")}
        return {"DBCluster": public(c)}


STATS = {"Average": lambda v: sum(v) / len(v), "Sum": sum, "Maximum": max, "Minimum": min,
         "SampleCount": len}


class CloudWatch:
    def __init__(self, st):
        self.st = st

    def PutMetricData(self, a, region):
        data = a.get("MetricData") or []
        if len(data) > 1000:
            raise Fault("InvalidParameterValue", 400,
                        "The collection MetricData must not have a size greater than 1000.")
        if not data:
            raise Fault("MissingParameter", 400,
                        "The request must contain the parameter MetricData")
        ns = a["Namespace"]
        for d in data:
            dims = tuple(sorted((x["Name"], x["Value"]) for x in d.get("Dimensions", [])))
            vals = d.get("Values") or ([d["Value"]] if d.get("Value") is not None else [])
            t = d.get("Timestamp") or time.time()
            pts = self.st.metrics.setdefault((ns, d["MetricName"], dims), [])
            for v in vals:
                pts.append((t, v))
        return {}

    def _points(self, ns, name, dims):
        return self.st.metrics.get((ns, name, tuple(sorted(dims))), [])

    def _series(self, metric, stat, period, start, end):
        dims = [(x["Name"], x["Value"]) for x in metric.get("Dimensions", [])]
        pts = self._points(metric["Namespace"], metric["MetricName"], dims)
        buckets = {}
        for t, v in pts:
            if start <= t < end:
                b = start + ((t - start) // period) * period
                buckets.setdefault(b, []).append(v)
        fn = STATS.get(stat)
        if not fn:
            raise Fault("InvalidParameterValue", 400, "Unsupported statistic %s" % stat)
        return sorted(((b, float(fn(v))) for b, v in buckets.items()), reverse=True)

    def GetMetricData(self, a, region):
        start, end = a["StartTime"], a["EndTime"]
        if end <= start:
            raise Fault("InvalidParameterValue", 400,
                        "The parameter StartTime must be less than the parameter EndTime.")
        results = []
        for q in a["MetricDataQueries"]:
            ms = q.get("MetricStat")
            if not ms:
                raise Fault("InvalidParameterValue", 400,
                            "fake: only MetricStat queries are supported")
            if ms["Period"] % 60 and ms["Period"] not in (1, 5, 10, 30):
                raise Fault("InvalidParameterValue", 400,
                            "The parameter Period must be 1, 5, 10, 30 or a multiple of 60.")
            series = self._series(ms["Metric"], ms["Stat"], ms["Period"], start, end)
            if q.get("ReturnData", True) is False:
                continue
            results.append({"Id": q["Id"], "Label": q.get("Label", ms["Metric"]["MetricName"]),
                            "Timestamps": [t for t, _ in series],
                            "Values": [v for _, v in series], "StatusCode": "Complete"})
        return {"MetricDataResults": results, "Messages": []}

    def PutMetricAlarm(self, a, region):
        name = a["AlarmName"]
        old = self.st.alarms.get(name, {})
        al = dict(a)
        al.update({"AlarmArn": "arn:aws:cloudwatch:%s:%s:alarm:%s" % (region, self.st.account,
                                                                     name),
                   "AlarmConfigurationUpdatedTimestamp": time.time(),
                   "StateValue": old.get("StateValue", "INSUFFICIENT_DATA"),
                   "StateReason": old.get("StateReason", "Unchecked: Initial alarm creation"),
                   "StateUpdatedTimestamp": old.get("StateUpdatedTimestamp", time.time()),
                   "ActionsEnabled": a.get("ActionsEnabled", True)})
        al.pop("Tags", None)
        al["_created"] = old.get("_created", time.time())
        self.st.alarms[name] = al
        return {}

    def _evaluate(self, al):
        """Moves an alarm's state from its metric's data (unless forced). As in
        CloudWatch, a new alarm stays INSUFFICIENT_DATA ("Unchecked: Initial
        alarm creation") until its first evaluation (here --alarm-delay seconds
        after it is put), and no data counts as TreatMissingData says:
        notBreaching -> OK, breaching -> ALARM, ignore -> unchanged, missing
        (the default) -> INSUFFICIENT_DATA."""
        if al.get("_forced") or "MetricName" not in al:
            return
        if time.time() < al.get("_created", 0) + self.st.alarm_delay:
            return
        period, n = al["Period"], al["EvaluationPeriods"]
        end = time.time() + 1
        series = self._series({"Namespace": al["Namespace"], "MetricName": al["MetricName"],
                               "Dimensions": al.get("Dimensions", [])},
                              al.get("Statistic", "Average"), period, end - period * n, end)
        missing = al.get("TreatMissingData", "missing")
        if not series and missing == "ignore":
            return
        if not series and missing == "notBreaching":
            state, reason = "OK", "Threshold Crossed: no datapoints were received; missing " \
                "data is treated as not breaching"
        elif not series and missing == "breaching":
            state, reason = "ALARM", "Threshold Crossed: no datapoints were received; " \
                "missing data is treated as breaching"
        elif not series:
            state, reason = "INSUFFICIENT_DATA", "Insufficient Data: no datapoints"
        else:
            op = al["ComparisonOperator"]
            th = al["Threshold"]
            cmp = {"GreaterThanThreshold": lambda v: v > th,
                   "GreaterThanOrEqualToThreshold": lambda v: v >= th,
                   "LessThanThreshold": lambda v: v < th,
                   "LessThanOrEqualToThreshold": lambda v: v <= th}.get(op, lambda v: False)
            breaching = sum(1 for _, v in series if cmp(v))
            need = al.get("DatapointsToAlarm", n)
            state = "ALARM" if breaching >= need else "OK"
            reason = "Threshold Crossed: %d of %d datapoints [%s] %s the threshold (%s)" % (
                breaching, len(series), ", ".join("%g" % v for _, v in series),
                "crossed" if state == "ALARM" else "did not cross", th)
        if state != al["StateValue"]:
            al["StateValue"], al["StateReason"] = state, reason
            al["StateUpdatedTimestamp"] = time.time()

    def DescribeAlarms(self, a, region):
        names = a.get("AlarmNames")
        items = []
        for name, al in sorted(self.st.alarms.items()):
            if names and name not in names:
                continue
            if a.get("AlarmNamePrefix") and not name.startswith(a["AlarmNamePrefix"]):
                continue
            self._evaluate(al)
            if a.get("StateValue") and al["StateValue"] != a["StateValue"]:
                continue
            items.append(public(al))
        start = int(a.get("NextToken") or 0)
        mr = a.get("MaxRecords") or 50
        if not 1 <= mr <= 100:
            raise Fault("InvalidParameterValue", 400, "MaxRecords must be between 1 and 100")
        out = {"MetricAlarms": items[start:start + mr], "CompositeAlarms": []}
        if start + mr < len(items):
            out["NextToken"] = str(start + mr)
        return out

    def DeleteAlarms(self, a, region):
        names = a["AlarmNames"]
        missing = [n for n in names if n not in self.st.alarms]
        if missing:
            raise fault("monitoring", "ResourceNotFound",
                        "Alarm(s) not found: %s" % ", ".join(missing))
        for n in names:
            del self.st.alarms[n]
        return {}

    def SetAlarmState(self, a, region):
        al = self.st.alarms.get(a["AlarmName"])
        if not al:
            raise fault("monitoring", "ResourceNotFound", "Alarm %s not found" % a["AlarmName"])
        al.update(StateValue=a["StateValue"], StateReason=a["StateReason"],
                  StateUpdatedTimestamp=time.time(), _forced=True)
        return {}


class LogsFault(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def check_json(svc, action, args):
    """Checks a JSON 1.1 request's top-level members against botocore's input
    shape: unknown members and missing required ones are refused."""
    shape = MODELS[svc].operation_model(action).input_shape
    if shape is None:
        return

    def walk(sh, value, where):
        if sh.type_name == "structure":
            if not isinstance(value, dict):
                raise LogsFault("InvalidParameterException", "%s must be an object" % where)
            for k in value:
                if k not in sh.members:
                    raise LogsFault("InvalidParameterException",
                                    "%s: unknown member %s (fake: not in botocore's model)"
                                    % (where, k))
            for r in sh.required_members:
                if r not in value:
                    raise LogsFault("InvalidParameterException",
                                    "1 validation error detected: Value null at '%s' failed to "
                                    "satisfy constraint: Member must not be null" % r)
            for k, v in value.items():
                walk(sh.members[k], v, k)
        elif sh.type_name == "list":
            if not isinstance(value, list):
                raise LogsFault("InvalidParameterException", "%s must be a list" % where)
            for v in value:
                walk(sh.member, v, where)
        elif sh.type_name == "string" and not isinstance(value, str):
            raise LogsFault("InvalidParameterException", "%s must be a string" % where)
        elif sh.type_name in ("integer", "long") and not isinstance(value, int):
            raise LogsFault("InvalidParameterException", "%s must be an integer" % where)
        elif sh.type_name in ("double", "float") and not isinstance(value, (int, float)):
            raise LogsFault("InvalidParameterException", "%s must be a number" % where)
    walk(shape, args, action)


class Logs:
    """CloudWatch Logs (JSON 1.1): log groups and metric filters."""

    def __init__(self, st):
        self.st = st

    def call(self, action, args):
        impl = getattr(self, action, None)
        if impl is None:
            raise LogsFault("InvalidParameterException", "fake: %s is not implemented" % action)
        check_json("logs", action, args)
        return impl(args)

    def _group(self, name):
        g = self.st.log_groups.get(name)
        if g is None:
            raise LogsFault("ResourceNotFoundException", "The specified log group does not exist.")
        return g

    def CreateLogGroup(self, a):
        if a["logGroupName"] in self.st.log_groups:
            raise LogsFault("ResourceAlreadyExistsException",
                            "The specified log group already exists")
        self.st.log_groups[a["logGroupName"]] = {"creationTime": int(time.time() * 1000),
                                                 "filters": {}}
        return {}

    def DescribeLogGroups(self, a):
        names = sorted(n for n in self.st.log_groups
                       if n.startswith(a.get("logGroupNamePrefix", "")))
        return {"logGroups": [{"logGroupName": n,
                               "creationTime": self.st.log_groups[n]["creationTime"]}
                              for n in names]}

    def PutMetricFilter(self, a):
        g = self._group(a["logGroupName"])
        if len(a["metricTransformations"]) != 1:
            raise LogsFault("InvalidParameterException",
                            "metricTransformations must hold exactly one transformation")
        f = dict(a, creationTime=int(time.time() * 1000))
        g["filters"][a["filterName"]] = f
        return {}

    def DescribeMetricFilters(self, a):
        if "logGroupName" in a:
            groups = [(a["logGroupName"], self._group(a["logGroupName"]))]
        else:
            groups = sorted(self.st.log_groups.items())
        out = [f for _, g in groups for n, f in sorted(g["filters"].items())
               if n.startswith(a.get("filterNamePrefix", ""))]
        start = int(a.get("nextToken") or 0)
        n = a.get("limit") or 50
        res = {"metricFilters": out[start:start + n]}
        if start + n < len(out):
            res["nextToken"] = str(start + n)
        return res

    def DeleteMetricFilter(self, a):
        g = self._group(a["logGroupName"])
        if a["filterName"] not in g["filters"]:
            raise LogsFault("ResourceNotFoundException", "The specified metric filter does not "
                            "exist.")
        del g["filters"][a["filterName"]]
        return {}


# ---- the server ---------------------------------------------------------------

class Fake:
    def __init__(self, keys, polls):
        self.keys = keys
        self.state = State(polls)
        self.rds = RDS(self.state)
        self.cw = CloudWatch(self.state)
        self.dms = Dms(MODELS["dms"], self.state)
        self.logs = Logs(self.state)
        self.injections = []
        self.requests = []
        self.imds_tokens = set()
        self.container_token = None


def find_injection(fake, action):
    for inj in fake.injections:
        if inj.get("action", "*") in ("*", action) and inj.get("count", 1) > 0:
            inj["count"] = inj.get("count", 1) - 1
            inj["used"] = inj.get("used", 0) + 1
            return inj
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-aws/1"

    def log_message(self, fmt, *args):  # quiet
        if self.server.verbose:
            sys.stderr.write("fake_aws: " + fmt % args + "\n")

    def _send(self, status, body, ctype="text/xml", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj, default=str), "application/json")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # -- control, IMDS, container -------------------------------------------
    def do_GET(self):
        fake = self.server.fake
        self._body()
        if self.path == "/_fake/requests":
            with LOCK:
                return self._json(200, fake.requests)
        if self.path == "/_fake/keys":
            with LOCK:
                return self._json(200, {k: {"served": v.get("served", 0),
                                            "source": v.get("source")}
                                        for k, v in fake.keys.items()})
        if self.path == "/_fake/state":
            with LOCK:
                return self._json(200, fake.state.dump())
        if self.path == "/_fake/dms":
            with LOCK:
                return self._json(200, fake.dms.dump())
        if self.path.startswith("/latest/meta-data/iam/security-credentials"):
            tok = self.headers.get("X-aws-ec2-metadata-token")
            if tok not in fake.imds_tokens:
                return self._send(401, "", "text/plain")
            role = self.path.rstrip("/").rsplit("/", 1)[-1]
            creds = self._temp_creds("imds")
            if not creds:
                return self._send(404, "", "text/plain")
            if role == "security-credentials":
                return self._send(200, "pgmove-test-role", "text/plain")
            if role != "pgmove-test-role":
                return self._send(404, "", "text/plain")
            return self._json(200, dict(creds, Code="Success", Type="AWS-HMAC",
                                        LastUpdated=now_iso()))
        if self.path.startswith("/creds/"):
            if fake.container_token and self.headers.get("Authorization") != fake.container_token:
                return self._send(401, "", "text/plain")
            creds = self._temp_creds("container")
            if not creds:
                return self._send(404, "", "text/plain")
            return self._json(200, dict(creds, RoleArn="arn:aws:iam::123456789012:role/x"))
        return self._send(404, "not found", "text/plain")

    def _temp_creds(self, source):
        for akid, k in self.server.fake.keys.items():
            if k.get("source") == source:
                with LOCK:
                    k["served"] = k.get("served", 0) + 1
                exp = k.get("expiration") or now_iso(time.time() + 3600)
                return {"AccessKeyId": akid, "SecretAccessKey": k["secret"],
                        "Token": k.get("token"), "Expiration": exp}
        return None

    def do_PUT(self):
        fake = self.server.fake
        self._body()
        if self.path == "/latest/api/token":
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl:
                return self._send(400, "", "text/plain")
            tok = "imds-token-" + uuid.uuid4().hex
            with LOCK:
                fake.imds_tokens.add(tok)
            return self._send(200, tok, "text/plain",
                              {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        return self._send(404, "not found", "text/plain")

    def do_POST(self):
        fake = self.server.fake
        body = self._body()
        if self.path.startswith("/_fake/"):
            return self._control(self.path[7:], json.loads(body or b"{}"))
        return self._api(body)

    def _control(self, what, arg):
        fake = self.server.fake
        with LOCK:
            if what == "inject":
                fake.injections.append(arg)
                return self._json(200, {"ok": True})
            if what == "dms":
                return self._json(200, fake.dms.control(arg))
            if what == "keys":
                fake.keys.update(arg)
                return self._json(200, {"ok": True})
            if what == "container_token":
                fake.container_token = arg.get("token")
                return self._json(200, {"ok": True})
            if what == "seed":
                st = fake.state
                st.polls = arg.get("polls", st.polls)
                st.alarm_delay = float(arg.get("alarm_delay", st.alarm_delay))
                st.cluster_endpoints.update(arg.get("cluster_endpoints", {}))
                fake.dms.seed(arg.get("dms_tasks", []))
                for i in arg.get("instances", []):
                    st.instances[i["id"]] = {
                        "DBInstanceIdentifier": i["id"],
                        "DBInstanceClass": i.get("class", "db.t3.micro"),
                        "Engine": i.get("engine", "postgres"), "DBInstanceStatus": "available",
                        "EngineVersion": i.get("engine_version", "15.4"),
                        "Endpoint": {"Address": i.get("address", "%s.c0fake.rds" % i["id"]),
                                     "Port": int(i.get("port", 5432))},
                        "DBInstanceArn": st.arn("us-east-1", "db", i["id"]),
                        "MultiAZ": False, "PubliclyAccessible": False}
                for sn in arg.get("snapshots", []):
                    st.snapshots[sn["id"]] = {
                        "DBSnapshotIdentifier": sn["id"],
                        "DBInstanceIdentifier": sn.get("instance", "app-db"),
                        "SnapshotCreateTime": time.time(), "Engine": "postgres",
                        "EngineVersion": "15.4", "AllocatedStorage": 20,
                        "Status": sn.get("status", "available"), "Port": 5432,
                        "SnapshotType": sn.get("type", "manual"), "PercentProgress": 100,
                        "DBSnapshotArn": st.arn("us-east-1", "snapshot", sn["id"])}
                for m in arg.get("metrics", []):
                    key = (m["namespace"], m["name"],
                           tuple(sorted(m.get("dimensions", {}).items())))
                    t0 = time.time()
                    pts = st.metrics.setdefault(key, [])
                    for n, v in enumerate(m["values"]):
                        pts.append((t0 - m.get("spacing", 60) * n, float(v)))
                return self._json(200, {"ok": True})
            if what == "alarm_state":
                al = fake.state.alarms.get(arg["name"])
                if not al:
                    return self._json(404, {"error": "no such alarm"})
                al.update(StateValue=arg["state"], StateReason=arg.get("reason", "forced"),
                          _forced=True, StateUpdatedTimestamp=time.time())
                return self._json(200, {"ok": True})
            if what == "reset":
                fake.injections = []
                fake.requests = []
                return self._json(200, {"ok": True})
        return self._json(404, {"error": "unknown control " + what})

    # -- the API --------------------------------------------------------------
    def _api(self, body):
        if self.headers.get("X-Amz-Target"):
            return self._json_api(body)
        fake = self.server.fake
        rid = str(uuid.uuid4())
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        action = params.get("Action", "")
        rec = {"action": action, "params": params, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()
                           if k.lower() not in ("authorization", "x-amz-security-token")},
               "time": time.time()}
        with LOCK:
            fake.requests.append(rec)
        svc = None
        try:
            svc = self._verify(body, rec)
            rec["auth"] = "ok"
            if params.get("Version") != MODELS[svc].api_version:
                raise Fault("InvalidAction", 400,
                            "Could not find operation %s for version %s"
                            % (action, params.get("Version")))
            if action not in MODELS[svc].operation_names:
                raise Fault("InvalidAction", 400,
                            "Could not find operation %s for version %s"
                            % (action, params.get("Version")))
            inj = None
            with LOCK:
                inj = find_injection(fake, action)
            if inj:
                rec["injected"] = inj.get("kind", "error")
                if self._inject(inj, svc, action, rid, rec):
                    return
            args = parse_params(svc, action, params)
            impl = getattr(fake.rds if svc == "rds" else fake.cw, action, None)
            if not impl:
                raise Fault("InvalidAction", 400, "fake: %s is not implemented" % action)
            with LOCK:
                result = impl(args, rec.get("region", "us-east-1"))
                xml = xml_response(svc, action, result, rid)
            if rec.get("lost"):
                rec["status"] = 0
                self.close_connection = True
                return
            rec["status"] = 200
            self._send(200, xml, extra={"x-amzn-RequestId": rid})
        except Fault as f:
            rec["status"], rec["error"] = f.status, f.code
            self._send(f.status, xml_error(svc or "rds", f, rid), extra={"x-amzn-RequestId": rid})

    def _json_api(self, body):
        """The JSON 1.1 protocol (DMS): X-Amz-Target names the operation, the
        body is JSON, errors are {"__type", "message"}. Signatures are checked
        as for the Query APIs."""
        fake = self.server.fake
        rid = str(uuid.uuid4())
        target = self.headers.get("X-Amz-Target", "")
        prefix, _, action = target.partition(".")
        rec = {"action": action, "target": target, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()
                           if k.lower() not in ("authorization", "x-amz-security-token")},
               "time": time.time()}
        with LOCK:
            fake.requests.append(rec)

        def error(status, code, message):
            rec["status"], rec["error"] = status, code
            self._send(status, json.dumps({"__type": code, "message": message}),
                       "application/x-amz-json-1.1", extra={"x-amzn-RequestId": rid})
        try:
            svc = self._verify(body, rec)
            rec["auth"] = "ok"
            model = MODELS[svc]
            if prefix != model.metadata.get("targetPrefix") or action not in model.operation_names:
                return error(400, "UnknownOperationException", "unknown operation " + target)
            if self.headers.get("Content-Type", "") != "application/x-amz-json-1.1":
                return error(400, "SerializationException", "expected application/x-amz-json-1.1")
            try:
                args = json.loads(body or b"{}")
            except ValueError:
                return error(400, "SerializationException", "the body is not JSON")
            rec["params"] = args
            with LOCK:
                inj = find_injection(fake, action)
            if inj:
                kind = inj.get("kind", "error")
                rec["injected"] = kind
                if kind == "http500":
                    return error(500, "InternalFailure", "internal failure")
                if kind == "malformed":
                    rec["status"] = 200
                    return self._send(200, '{"ReplicationTasks": [', "application/x-amz-json-1.1")
                return error(inj.get("status", 400), inj.get("error", "ThrottlingException"),
                             inj.get("message", "Rate exceeded"))
            with LOCK:
                if svc == "logs":
                    result = fake.logs.call(action, args)
                else:
                    result = fake.dms.call(action, args, rec.get("region"))
            rec["status"] = 200
            self._send(200, json.dumps(result, default=str), "application/x-amz-json-1.1",
                       extra={"x-amzn-RequestId": rid})
        except Fault as f:
            error(f.status, f.code, str(f))
        except DmsFault as f:
            error(400, f.code, f.message)
        except LogsFault as f:
            error(400, f.code, f.message)

    def _inject(self, inj, svc, action, rid, rec):
        kind = inj.get("kind", "error")
        if kind == "delay":
            time.sleep(float(inj.get("delay", 5)))
            return False  # then answer normally (the client has given up)
        if kind == "http500":
            rec["status"] = inj.get("status", 500)
            self._send(rec["status"], "<html><body>Internal Server Error</body></html>",
                       "text/html")
            return True
        if kind == "malformed":
            rec["status"] = inj.get("status", 200)
            self._send(rec["status"], "<%sResponse><%sResult><DBSnap" % (action, action))
            return True
        if kind == "xhtml200":
            # a proxy's login page: XML, 200, and not AWS's answer
            rec["status"] = 200
            self._send(200, '<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
                       "<head><title>Proxy</title></head><body><p>Please log in</p></body>"
                       "</html>\n", "application/xhtml+xml")
            return True
        if kind == "other_action":
            # another action's answer (a cache or proxy mixing up requests)
            rec["status"] = 200
            self._send(200, xml_response("rds", "DescribeDBInstances", {"DBInstances": []}, rid))
            return True
        if kind == "errors403":
            # <ErrorResponse><Errors><Error>: the shape some services and moto use
            rec["status"] = 403
            self._send(403, '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse>\n  '
                       "<Errors>\n    <Error>\n      <Type>Sender</Type>\n      <Code>%s"
                       "</Code>\n      <Message>%s</Message>\n    </Error>\n  </Errors>\n"
                       "  <RequestID>%s</RequestID>\n</ErrorResponse>\n"
                       % (escape(inj.get("error", "SignatureDoesNotMatch")),
                          escape(inj.get("message", "The request signature we calculated "
                                         "does not match the signature you provided.")), rid))
            return True
        if kind == "lost":
            # the action happens, the answer is lost (the connection drops)
            rec["lost"] = True
            return False
        if kind == "error200":
            f = Fault(inj.get("error", "InternalFailure"), 200,
                      inj.get("message", "The request processing has failed because of an "
                              "unknown error, exception or failure."), sender=False)
            rec["status"] = 200
            self._send(200, xml_error(svc, f, rid))
            return True
        if kind == "expired":
            raise Fault("ExpiredToken", 400,
                        "The security token included in the request is expired")
        code = inj.get("error", "Throttling")
        status = inj.get("status", 400)
        raise Fault(code, status, inj.get("message", "Rate exceeded"), sender=status < 500)

    def _verify(self, body, rec):
        """Checks SigV4 with botocore; returns the signing service name."""
        fake = self.server.fake
        auth = self.headers.get("Authorization")
        if not auth:
            rec["auth"] = "missing"
            raise Fault("MissingAuthenticationToken", 403, "Request is missing Authentication Token")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$", auth)
        if not m:
            rec["auth"] = "malformed"
            raise Fault("IncompleteSignature", 400,
                        "Authorization header requires 'Credential', 'SignedHeaders' and "
                        "'Signature' parameters.")
        akid, date, region, svc, signed, sig = m.groups()
        rec["region"], rec["service"], rec["access_key"] = region, svc, akid
        if svc not in MODELS:
            raise Fault("SignatureDoesNotMatch", 403,
                        "Credential should be scoped to correct service: 'rds', 'monitoring' "
                        "or 'dms'.")
        key = fake.keys.get(akid)
        if not key:
            rec["auth"] = "unknown key"
            raise Fault("InvalidClientTokenId", 403,
                        "The security token included in the request is invalid.")
        token = self.headers.get("X-Amz-Security-Token")
        if key.get("token") != token:
            rec["auth"] = "bad token"
            raise Fault("InvalidClientTokenId", 403,
                        "The security token included in the request is invalid.")
        if key.get("expired"):
            rec["auth"] = "expired"
            raise Fault("ExpiredToken", 400, "The security token included in the request is expired")
        amz_date = self.headers.get("X-Amz-Date", "")
        if not amz_date.startswith(date):
            rec["auth"] = "bad scope"
            raise Fault("SignatureDoesNotMatch", 403,
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                        "of date from HTTP: '%s' != '%s'" % (date, amz_date[:8]))
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise Fault("IncompleteSignature", 400, "X-Amz-Date is not a valid date")
        if abs(time.time() - t) > 300:
            rec["auth"] = "skew"
            raise Fault("SignatureDoesNotMatch", 403,
                        "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                        % (amz_date, now_iso(time.time() - 300), now_iso()))
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            raise Fault("SignatureDoesNotMatch", 403, "Host and X-Amz-Date must be signed")
        headers = {}
        for n in names:
            v = self.headers.get(n)
            if v is None:
                raise Fault("SignatureDoesNotMatch", 403, "Signed header %s is missing" % n)
            headers[n] = v
        url = "http://%s%s" % (self.headers.get("Host"), self.path)
        req = AWSRequest(method=self.command, url=url, data=body, headers=headers)
        req.context["timestamp"] = amz_date
        creds = botocore.credentials.Credentials(akid, key["secret"], token)
        signer = botocore.auth.SigV4Auth(creds, svc, region)
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        expect = signer.signature(sts, req)
        if expect != sig:
            rec["auth"] = "bad signature"
            raise Fault("SignatureDoesNotMatch", 403,
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. Consult "
                        "the service documentation for details.")
        return svc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--key", action="append", default=[],
                    help="AKID:SECRET[:TOKEN] accepted for signing")
    ap.add_argument("--polls", type=int, default=3)
    ap.add_argument("--verbose", action="store_true")
    o = ap.parse_args()
    keys = {}
    for k in o.key or ["AKIDPGMOVEFAKE:pgmove/fake/secret/key0000:"]:
        parts = k.split(":")
        keys[parts[0]] = {"secret": parts[1], "token": parts[2] if len(parts) > 2 and parts[2]
                          else None}
    srv = ThreadingHTTPServer(("127.0.0.1", o.port), Handler)
    srv.daemon_threads = True
    srv.fake = Fake(keys, o.polls)
    srv.verbose = o.verbose
    port = srv.server_address[1]
    if o.port_file:
        with open(o.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(o.port_file + ".tmp", o.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
