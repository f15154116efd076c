#!/usr/bin/python3
"""bench/engine_bench.py - wall time and peak memory of `pgmove plan` on a
generated 1,000-step runbook and of `pgmove status` on a 100,000-event
journal, each next to a baseline measured in the same run.

usage: bench/engine_bench.py [BUILD_DIR]   (default ./build)

Baselines: for plan, starting the program (`pgmove --version`); for status,
reading the journal and parsing every line as JSON in Python. Targets (issue
2): each under 200 ms and 50 MB.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
pgmove = os.path.join(build, ".libs", "pgmove")
if not os.path.exists(pgmove):
    pgmove = os.path.join(build, "pgmove")
env = dict(os.environ)
env["PGMOVE_PLUGIN_PATH"] = os.path.join(build, "tests", "plugins")
env["LD_LIBRARY_PATH"] = os.path.join(build, "core", "host", ".libs")
REPEAT = 5


def measure(argv, **kw):
    """best wall time (s) over REPEAT runs and the peak RSS (MB) of one run"""
    best = None
    peak = 0
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execve(argv[0], argv, env)
        _, status, ru = os.wait4(pid, 0)
        dt = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0 and not kw.get("any_status"):
            sys.exit("failed: %s" % " ".join(argv))
        best = dt if best is None or dt < best else best
        peak = max(peak, ru.ru_maxrss / 1024.0)
    return best, peak


def gen_runbook(path, n):
    with open(path, "w") as f:
        f.write('local t = plugin "testplug"\n')
        f.write('runbook "bench" { params = { dir = { type = "string", default = "/tmp" } } }\n')
        for i in range(n):
            if i % 100 == 0:
                f.write('phase "p%d"\n' % (i // 100))
            f.write('step "s%d" {\n  retry = { attempts = 3, delay = "10s", backoff = 2 }, timeout = "1h",\n'
                    '  run = function(ctx) return t.count { file = ctx.params.dir .. "/s%d" } end,\n'
                    '  undo = function(ctx, out) t.echo { value = out } end,\n}\n' % (i, i))
            if i % 50 == 49:
                f.write('gate "g%d" { check("c", function(ctx) return t.echo{ value = 1 }.value == 1 end) }\n' % i)


def gen_journal(dirpath, events):
    nodes = [{"name": "s%d" % i, "kind": "step", "phase": "p%d" % (i // 100), "undo": True,
              "retry": {"attempts": 3, "delay_ms": 10000, "backoff": 2.0}} for i in range(200)]
    nodes.append({"name": "lag", "kind": "wait", "phase": "p9", "every_ms": 30000})
    os.makedirs(dirpath, mode=0o700)
    seq = 0
    with open(os.path.join(dirpath, "journal.jsonl"), "w") as f:
        def put(ev):
            nonlocal seq
            seq += 1
            ev = dict({"v": 1, "seq": seq, "ts": "2026-11-21T07:%02d:%02d.%03dZ" % (
                (seq // 60000) % 60, (seq // 1000) % 60, seq % 1000)}, **ev)
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")
        put({"ev": "run.start", "run": "bench", "runbook": "bench", "file": "/x.lua",
             "hash": "0" * 64, "pgmove": "bench", "params": {"dir": "/tmp"},
             "plan": {"runbook": "bench", "nodes": nodes, "breakers": []}})
        i = 0
        while seq < events - 1000:
            n = "s%d" % (i % 200)
            put({"ev": "step.start", "node": n, "attempt": 1})
            put({"ev": "step.call", "node": n, "function": "testplug.count", "idempotent": False})
            put({"ev": "step.failed", "node": n, "attempt": 1, "final": False,
                 "error": {"code": "aws.Throttling", "message": "Rate exceeded", "retryable": True}})
            put({"ev": "step.succeeded", "node": n, "attempt": 2, "duration_ms": 1234,
                 "output": {"count": i, "rows": [1, 2, 3], "table": "public.orders"}})
            i += 1
        put({"ev": "wait.start", "node": "lag"})
        while seq < events:
            put({"ev": "wait.poll", "node": "lag", "ok": seq % 7 != 0,
                 "value": {"lag_seconds": seq % 13, "state": "running"}})


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rb = os.path.join(tmp, "bench.lua")
        gen_runbook(rb, 1000)
        base_t, base_m = measure([pgmove, "--version"])
        plan_t, plan_m = measure([pgmove, "plan", rb])
        print("plan, 1,000 steps + 20 gates: %.1f ms, %.1f MB peak   "
              "(baseline: program start %.1f ms, %.1f MB; ratio %.1fx time)"
              % (plan_t * 1e3, plan_m, base_t * 1e3, base_m, plan_t / base_t))
        jdir = os.path.join(tmp, "state", "bench", "bench")
        gen_journal(jdir, 100000)
        size = os.path.getsize(os.path.join(jdir, "journal.jsonl")) / 1e6
        py = [sys.executable, "-c",
              "import json,sys\n[json.loads(l) for l in open(sys.argv[1])]",
              os.path.join(jdir, "journal.jsonl")]
        py_t, py_m = measure(py)
        snap = os.path.join(jdir, "state.json")
        global REPEAT
        cold = []
        for _ in range(3):
            if os.path.exists(snap):
                os.unlink(snap)
            REPEAT = 1
            cold.append(measure([pgmove, "status", jdir]))
        REPEAT = 5
        cold_t, cold_m = min(c[0] for c in cold), max(c[1] for c in cold)
        st_t, st_m = measure([pgmove, "status", jdir])
        sj_t, sj_m = measure([pgmove, "status", "--json", jdir])
        print("status, 100,000 events (%.0f MB journal), full replay (no state.json): %.1f ms, %.1f MB peak"
              % (size, cold_t * 1e3, cold_m))
        print("status, same run with the state snapshot the engine keeps: %.1f ms, %.1f MB peak; "
              "--json %.1f ms, %.1f MB" % (st_t * 1e3, st_m, sj_t * 1e3, sj_m))
        print("   (baseline: Python json.loads of every line %.1f ms, %.1f MB; ratios %.2fx full replay, "
              "%.3fx with snapshot)" % (py_t * 1e3, py_m, cold_t / py_t, st_t / py_t))
        ok = plan_t < 0.2 and st_t < 0.2 and plan_m < 50 and st_m < 50
        print("targets (each < 200 ms and < 50 MB): %s" % ("met" if ok else "NOT met"))


main()
