#!/usr/bin/env python3
"""tests/dynamodb/fault_proxy.py - an HTTP proxy in front of moto for the
faults moto does not make: it forwards every request unchanged and answers
from a plan instead where told. POST /_fault/plan with
{"Scan": [["throttle", 2], ["5xx", 1]]} makes the next two Scan requests
answer 400 ProvisionedThroughputExceededException, then one 500
InternalServerError, in DynamoDB's documented JSON 1.0 error shape
("expired": ExpiredIteratorException, "close": see below)
({"__type": "com.amazonaws.dynamodb.v20120810#Code", "message": ...});
A plan keyed "Scan/N" applies to the Scan requests of segment N only (the
request's Segment), and is looked up before the action's own plan.
GET /_fault/count returns {"Scan": n, ...}: the requests seen per action;
GET /_fault/last the headers of the last request forwarded or faulted;
GET /_fault/log every request in arrival order: {"action", "segment",
"start" (ExclusiveStartKey), "fault", "t0", "t1" (start and end, seconds),
"items" (the Items answered)}.
Usage: fault_proxy.py --upstream URL --port-file FILE"""
import json, sys, threading, time, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UP = sys.argv[sys.argv.index("--upstream") + 1]
PLAN, COUNT, LAST, LOG, LOCK = {}, {}, {}, [], threading.Lock()
ERRORS = {
    "throttle": (400, "ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded."),
    "throttling": (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "5xx": (500, "InternalServerError", "Internal server error"),
    "validation": (400, "ValidationException", "One or more parameter values were invalid"),
    "expired": (400, "ExpiredIteratorException", "Iterator expired: the shard iterator is older than 15 minutes"),
}
# A third element delays the fault's answer by that many seconds
# ({"Scan/2": [["throttle", 4, 0.8]]}: a throttled segment that stays busy
# long enough for the others to be seen working meanwhile, whatever the
# backoff's jitter drew).
# "pass": forwarded unchanged (to fault a later request: [["pass", 3], ["5xx", 1]]).
# "close": forwarded, and the answer's NextShardIterator removed, as DynamoDB
# Streams answers the last GetRecords of a closed shard.

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/x-amz-json-1.0"):
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", "fault-proxy")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client is gone (a test killed pgmove)

    def do_GET(self):
        if self.path == "/_fault/count":
            with LOCK:
                return self.reply(200, json.dumps(COUNT).encode(), "application/json")
        if self.path == "/_fault/last":
            with LOCK:
                return self.reply(200, json.dumps(LAST).encode(), "application/json")
        if self.path == "/_fault/log":
            with LOCK:
                return self.reply(200, json.dumps(LOG).encode(), "application/json")
        self.forward(None)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/_fault/plan":
            with LOCK:
                PLAN.clear()
                PLAN.update({k: [list(x) for x in v] for k, v in json.loads(body).items()})
            return self.reply(200, b"{}", "application/json")
        self.forward(body)

    def forward(self, body):
        action = (self.headers.get("X-Amz-Target") or ".").split(".", 1)[1]
        try:
            req_doc = json.loads(body) if body else {}
        except ValueError:
            req_doc = {}
        entry = {"action": action, "segment": req_doc.get("Segment"),
                 "start": req_doc.get("ExclusiveStartKey"), "fault": None,
                 "t0": time.time(), "t1": None, "items": None}
        with LOCK:
            COUNT[action] = COUNT.get(action, 0) + 1
            LAST.clear()
            LAST.update({k.lower(): v for k, v in self.headers.items()})
            LOG.append(entry)
            fault, delay = None, 0
            steps = PLAN.get("%s/%s" % (action, entry["segment"])) or PLAN.get(action)
            if steps:
                fault = steps[0][0]
                delay = steps[0][2] if len(steps[0]) > 2 else 0
                steps[0][1] -= 1
                if steps[0][1] <= 0:
                    steps.pop(0)
        if fault == "pass":
            fault = None
        entry["fault"] = fault
        if fault and fault != "close":
            time.sleep(delay)
            entry["t1"] = time.time()
            code, name, msg = ERRORS[fault]
            return self.reply(code, json.dumps(
                {"__type": "com.amazonaws.dynamodb.v20120810#" + name, "message": msg}).encode())
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        req = urllib.request.Request(UP + self.path, data=body, headers=headers,
                                     method=self.command)
        try:
            r = urllib.request.urlopen(req, timeout=60)
            code, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            code, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        entry["t1"] = time.time()
        if code == 200 and action == "Scan":
            entry["items"] = len(json.loads(data).get("Items", []))
        if fault == "close" and code == 200:
            doc = json.loads(data)
            doc.pop("NextShardIterator", None)
            data = json.dumps(doc).encode()
        self.reply(code, data, ctype)

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[sys.argv.index("--port-file") + 1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
