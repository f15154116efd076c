#!/usr/bin/python3
"""tests/notify/fake_notify.py - local stand-ins for the services the http and
pagerduty plugins and `notify` talk to, in one process:

HTTP (one port):
  POST /v2/enqueue          PagerDuty Events API v2 (alert events), validated as
                            PagerDuty documents it (developer.pagerduty.com,
                            "Send an Alert Event"): routing_key of 32 characters,
                            event_action trigger|acknowledge|resolve, dedup_key at
                            most 255 characters (required to acknowledge / resolve),
                            payload.summary (<= 1024), payload.source and
                            payload.severity (critical|error|warning|info) required to
                            trigger, timestamp ISO 8601, custom_details an object,
                            links[].href and images[].src (https) required, 512 KB.
                            202 {"status":"success","message":"Event processed",
                            "dedup_key":...}; 400 {"status":"invalid event",
                            "message":"Event object is invalid","errors":[...]}.
  POST /v2/change/enqueue   change events: routing_key, payload.summary (<= 1024),
                            optional source, timestamp, custom_details, links.
  POST /hook/NAME           a webhook sink (answers "ok" like Slack)
  GET/PUT/PATCH /flags/NAME a feature-flag service: {"name","value","version"} with
                            an ETag; writes need If-Match (428 without, 412 on a
                            stale one)
  GET/PUT /vflags/NAME      the same without ETags: the body's "version" must be
                            the current one (409 otherwise)
  GET /health               answers what /_fake/health set
  ANY /echo                 the request as JSON
  ANY /slow/MS              answers {"status": "healthy"} after MS milliseconds
  /_fake/...                control: requests, mails, alerts, inject, health, flag,
                            race, reset
SMTP (a second port): EHLO with AUTH PLAIN LOGIN, MAIL, RCPT, DATA, RSET, NOOP,
QUIT; messages kept for /_fake/mails. Credentials checked when --smtp-user is given.
With --smtp-tls-cert/--smtp-tls-key it offers STARTTLS and refuses AUTH before it.

Both ports are written to --port-file as JSON {"http": P, "smtp": S}.
"""
import argparse
import base64
import datetime
import json
import re
import socketserver
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {}


def reset():
    with LOCK:
        STATE.clear()
        STATE.update(requests=[], mails=[], alerts={}, changes=[], inject=[],
                     health={"status": 200, "body": {"status": "healthy"}},
                     flags={}, race={})


reset()
ARGS = None
SEVERITIES = ("critical", "error", "warning", "info")
ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def validate_links(ev, errors, images_ok):
    links = ev.get("links")
    if links is not None:
        if not isinstance(links, list):
            errors.append("'links' must be an array")
        else:
            for i, l in enumerate(links):
                if not isinstance(l, dict) or not isinstance(l.get("href"), str) or not l["href"]:
                    errors.append("'links[%d].href' is missing or blank" % i)
    images = ev.get("images")
    if images is not None:
        if not images_ok:
            errors.append("'images' is not supported for change events")
        elif not isinstance(images, list):
            errors.append("'images' must be an array")
        else:
            for i, im in enumerate(images):
                if not isinstance(im, dict) or not isinstance(im.get("src"), str):
                    errors.append("'images[%d].src' is missing" % i)
                elif not im["src"].startswith("https://"):
                    errors.append("'images[%d].src' must be served via HTTPS" % i)


def validate_payload_common(p, errors):
    s = p.get("summary")
    if not isinstance(s, str) or not s.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(s) > 1024:
        errors.append("'payload.summary' is longer than 1024 characters")
    ts = p.get("timestamp")
    if ts is not None and (not isinstance(ts, str) or not ISO8601.match(ts)):
        errors.append("'payload.timestamp' is not a valid ISO 8601 timestamp")
    cd = p.get("custom_details")
    if cd is not None and not isinstance(cd, dict):
        errors.append("'payload.custom_details' must be an object")


def validate_alert(ev):
    errors = []
    rk = ev.get("routing_key")
    if not isinstance(rk, str) or not rk:
        errors.append("'routing_key' is missing or blank")
    elif len(rk) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    act = ev.get("event_action")
    if act not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dk = ev.get("dedup_key")
    if dk is not None and (not isinstance(dk, str) or len(dk) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if act in ("acknowledge", "resolve") and not dk:
        errors.append("'dedup_key' is required for %s events" % act)
    if act == "trigger":
        p = ev.get("payload")
        if not isinstance(p, dict):
            errors.append("'payload' is missing or not an object")
        else:
            validate_payload_common(p, errors)
            src = p.get("source")
            if not isinstance(src, str) or not src.strip():
                errors.append("'payload.source' is missing or blank")
            if p.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
            for k in ("component", "group", "class"):
                if k in p and not isinstance(p[k], str):
                    errors.append("'payload.%s' must be a string" % k)
        validate_links(ev, errors, True)
    return errors


def validate_change(ev):
    errors = []
    rk = ev.get("routing_key")
    if not isinstance(rk, str) or len(rk) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    p = ev.get("payload")
    if not isinstance(p, dict):
        errors.append("'payload' is missing or not an object")
    else:
        validate_payload_common(p, errors)
        if "source" in p and not isinstance(p["source"], str):
            errors.append("'payload.source' must be a string")
    validate_links(ev, errors, False)
    return errors


def take_injection(path):
    with LOCK:
        for inj in STATE["inject"]:
            if path.startswith(inj["path"]) and inj["count"] > 0:
                inj["count"] -= 1
                return inj
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else (
            json.dumps(body).encode() if ctype == "application/json" else body.encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        raw = self.body()
        path = self.path.split("?")[0]
        if path.startswith("/_fake/"):
            return self.control(path[7:], raw)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        rec = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
               "body": raw.decode("utf-8", "replace"), "json": parsed}
        with LOCK:
            STATE["requests"].append(rec)
        inj = take_injection(path)
        if inj:
            h = {"Retry-After": str(inj["retry_after"])} if "retry_after" in inj else None
            return self.reply(inj["status"], inj.get("body", {"status": "throttled"}), headers=h)
        if ARGS.token and (path.startswith("/flags/") or path.startswith("/vflags/") or path == "/secure"):
            if self.headers.get("Authorization") != "Bearer " + ARGS.token:
                return self.reply(401, {"error": "unauthorized"})
        if path == "/v2/enqueue" and self.command == "POST":
            return self.pd_alert(raw, parsed)
        if path == "/v2/change/enqueue" and self.command == "POST":
            return self.pd_change(raw, parsed)
        if path.startswith("/hook/") and self.command == "POST":
            if self.headers.get("Content-Type") != "application/json" or not isinstance(parsed, dict):
                return self.reply(400, "invalid_payload", "text/plain")
            return self.reply(200, "ok", "text/plain")
        if path.startswith("/flags/") or path.startswith("/vflags/"):
            return self.flag(path, parsed)
        if path == "/health":
            with LOCK:
                h = dict(STATE["health"])
            b = h["body"]
            return self.reply(h["status"], b, "application/json" if not isinstance(b, str) else "text/plain")
        if path == "/echo" or path == "/secure":
            return self.reply(200, {"method": self.command, "path": self.path,
                                    "headers": dict(self.headers.items()), "body": raw.decode("utf-8", "replace"),
                                    "json": parsed, "nested": {"a/b": [10, {"c~d": "deep"}]}})
        if path == "/text":
            return self.reply(200, "plain words\n", "text/plain")
        m = re.match(r"^/slow/(\d+)$", path)
        if m:  # a hung service: answers after so many milliseconds
            time.sleep(int(m.group(1)) / 1000.0)
            return self.reply(200, {"status": "healthy"})
        m = re.match(r"^/status/(\d+)$", path)
        if m:
            return self.reply(int(m.group(1)), {"status": int(m.group(1))})
        return self.reply(404, {"error": "no such path %s" % path})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def pd_alert(self, raw, ev):
        if len(raw) > 512 * 1024:
            return self.reply(413, {"status": "invalid event", "message": "Payload too large"})
        if not isinstance(ev, dict):
            return self.reply(400, {"status": "invalid event", "message": "Event object is invalid",
                                    "errors": ["Invalid JSON"]})
        errors = validate_alert(ev)
        if errors:
            return self.reply(400, {"status": "invalid event", "message": "Event object is invalid",
                                    "errors": errors})
        dk = ev.get("dedup_key") or uuid.uuid4().hex
        with LOCK:
            a = STATE["alerts"].get(dk)
            act = ev["event_action"]
            if act == "trigger":
                if a and a["status"] != "resolved":
                    a["triggers"] += 1
                else:
                    STATE["alerts"][dk] = {"status": "triggered", "triggers": 1,
                                           "summary": ev["payload"]["summary"]}
            elif a and a["status"] != "resolved":
                a["status"] = "acknowledged" if act == "acknowledge" else "resolved"
        return self.reply(202, {"status": "success", "message": "Event processed", "dedup_key": dk})

    def pd_change(self, raw, ev):
        if not isinstance(ev, dict):
            return self.reply(400, {"status": "invalid event", "message": "Event object is invalid",
                                    "errors": ["Invalid JSON"]})
        errors = validate_change(ev)
        if errors:
            return self.reply(400, {"status": "invalid event", "message": "Event object is invalid",
                                    "errors": errors})
        with LOCK:
            STATE["changes"].append(ev["payload"]["summary"])
        return self.reply(202, {"status": "success", "message": "Change event processed"})

    def flag(self, path, body):
        versioned = path.startswith("/vflags/")
        name = path.split("/", 2)[2]
        with LOCK:
            f = STATE["flags"].get(name)
            if f is None:
                return self.reply(404, {"error": "no flag %s" % name})
            etag = '"v%d"' % f["version"]
            doc = {"name": name, "value": f["value"], "version": f["version"]}
            if self.command == "GET":
                race = STATE["race"].pop(name, None)
                if race is not None:  # another client moves it right after this read
                    f["value"] = race
                    f["version"] += 1
                return self.reply(200, doc, headers=None if versioned else {"ETag": etag})
            if self.command not in ("PUT", "PATCH", "POST"):
                return self.reply(405, {"error": "method"})
            if not isinstance(body, dict) or "value" not in body:
                return self.reply(400, {"error": "body must be {\"value\": ...}"})
            if versioned:
                if body.get("version") != f["version"]:
                    return self.reply(409, {"error": "version conflict", "version": f["version"]})
            else:
                im = self.headers.get("If-Match")
                if im is None:
                    return self.reply(428, {"error": "If-Match required"})
                if im != etag:
                    return self.reply(412, {"error": "stale ETag"})
            f["value"] = body["value"]
            f["version"] += 1
            f["writes"] = f.get("writes", 0) + 1
            doc = {"name": name, "value": f["value"], "version": f["version"]}
            return self.reply(200, doc, headers=None if versioned else {"ETag": '"v%d"' % f["version"]})

    def control(self, what, raw):
        arg = json.loads(raw) if raw else {}
        with LOCK:
            if what == "requests":
                return self.reply(200, STATE["requests"])
            if what == "mails":
                return self.reply(200, STATE["mails"])
            if what == "alerts":
                return self.reply(200, STATE["alerts"])
            if what == "changes":
                return self.reply(200, STATE["changes"])
            if what == "inject":
                STATE["inject"].append(arg)
                return self.reply(200, {})
            if what == "health":
                STATE["health"] = arg
                return self.reply(200, {})
            if what == "flag":
                if "value" in arg:
                    STATE["flags"][arg["name"]] = {"value": arg["value"], "version": 1, "writes": 0}
                return self.reply(200, STATE["flags"].get(arg["name"]))
            if what == "race":
                STATE["race"][arg["name"]] = arg["value"]
                return self.reply(200, {})
            if what == "clear":
                STATE["requests"] = []
                STATE["mails"] = []
                return self.reply(200, {})
        if what == "reset":
            reset()
            return self.reply(200, {})
        return self.reply(404, {"error": "no control " + what})


class SMTPHandler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def check_auth(self, user, password):
        if ARGS.smtp_user is None:
            return True
        return user == ARGS.smtp_user and password == ARGS.smtp_password

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.smtp_tls_cert, ARGS.smtp_tls_key)
        self.request = ctx.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")
        self.wfile = self.request.makefile("wb")

    def handle(self):
        mail = None
        authed = None
        tls = False
        self.send("220 fake-smtp ESMTP ready")
        try:
            while True:
                line = self.readline()
                cmd = line[:4].upper()
                if cmd in ("EHLO", "HELO"):
                    if cmd == "HELO":
                        self.send("250 fake-smtp")
                    else:
                        self.send("250-fake-smtp")
                        if ARGS.smtp_tls_cert and not tls:
                            self.send("250-STARTTLS")
                        self.send("250-8BITMIME")
                        self.send("250-AUTH PLAIN LOGIN")
                        self.send("250 SIZE 1048576")
                elif line.upper() == "STARTTLS" and ARGS.smtp_tls_cert and not tls:
                    self.send("220 2.0.0 Ready to start TLS")
                    self.starttls()
                    tls = True
                    mail = authed = None
                elif cmd == "AUTH" and ARGS.smtp_tls_cert and not tls:
                    self.send("530 5.7.0 Must issue a STARTTLS command first")
                elif cmd == "AUTH":
                    parts = line.split()
                    mech = parts[1].upper() if len(parts) > 1 else ""
                    if mech == "PLAIN":
                        resp = parts[2] if len(parts) > 2 else None
                        if resp is None:
                            self.send("334 ")
                            resp = self.readline()
                        try:
                            _, u, p = base64.b64decode(resp).decode().split("\0")
                        except Exception:
                            self.send("501 bad AUTH PLAIN")
                            continue
                    elif mech == "LOGIN":
                        self.send("334 VXNlcm5hbWU6")
                        u = base64.b64decode(self.readline()).decode()
                        self.send("334 UGFzc3dvcmQ6")
                        p = base64.b64decode(self.readline()).decode()
                    else:
                        self.send("504 unrecognized authentication type")
                        continue
                    if self.check_auth(u, p):
                        authed = u
                        self.send("235 2.7.0 Authentication successful")
                    else:
                        self.send("535 5.7.8 Authentication credentials invalid")
                elif cmd == "MAIL":
                    if ARGS.smtp_user is not None and authed is None:
                        self.send("530 5.7.0 Authentication required")
                        continue
                    m = re.match(r"(?i)MAIL FROM:\s*<([^>]*)>", line)
                    mail = {"from": m.group(1) if m else None, "rcpt": [], "user": authed, "tls": tls}
                    self.send("250 OK")
                elif cmd == "RCPT":
                    m = re.match(r"(?i)RCPT TO:\s*<([^>]*)>", line)
                    if mail is None or not m:
                        self.send("503 bad sequence")
                        continue
                    if m.group(1).startswith("reject"):
                        self.send("550 5.1.1 no such user")
                        continue
                    mail["rcpt"].append(m.group(1))
                    self.send("250 OK")
                elif cmd == "DATA":
                    if mail is None or not mail["rcpt"]:
                        self.send("503 bad sequence")
                        continue
                    self.send("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        l = self.rfile.readline(1 << 20).decode("utf-8", "replace")
                        if l in (".\r\n", ".\n", ""):
                            break
                        if l.startswith(".."):
                            l = l[1:]
                        lines.append(l)
                    mail["data"] = "".join(lines)
                    with LOCK:
                        STATE["mails"].append(mail)
                    mail = None
                    self.send("250 OK queued")
                elif cmd == "RSET":
                    mail = None
                    self.send("250 OK")
                elif cmd == "NOOP":
                    self.send("250 OK")
                elif cmd == "QUIT":
                    self.send("221 bye")
                    return
                else:
                    self.send("502 command not implemented")
        except (EOFError, ConnectionError, ssl.SSLError):
            return


class SMTPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", default=None, help="bearer token the flag service wants")
    ap.add_argument("--smtp-user", default=None)
    ap.add_argument("--smtp-password", default=None)
    ap.add_argument("--smtp-tls-cert", default=None, help="offer STARTTLS with this certificate")
    ap.add_argument("--smtp-tls-key", default=None)
    ARGS = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    smtpd = SMTPServer(("127.0.0.1", 0), SMTPHandler)
    threading.Thread(target=smtpd.serve_forever, daemon=True).start()
    with open(ARGS.port_file + ".tmp", "w") as f:
        json.dump({"http": httpd.server_address[1], "smtp": smtpd.server_address[1]}, f)
    import os
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
