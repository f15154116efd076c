#!/bin/sh
# tests/engine/test_plan.sh - pgmove plan as a side-effect plan: for each
# step the plugin functions it may call with their flags, undo calls apart,
# calls through helpers, plugin versions, params in declaration order, and
# --json locations in the runbook file (never the prelude).
. "$(dirname "$0")/lib.sh"

# a copy in a directory with a long name: a loc must be the whole path,
# never Lua's short_src ("...tail", cut at 60 bytes)
D="$T/a-directory-with-a-rather-long-name-so-that-lua-would-cut-it/runbooks"
mkdir -p "$D"
cp "$RUNBOOKS/plan.lua" "$RUNBOOKS/planmod.lua" "$D/"
RB="$D/plan.lua"

expect 0 "plan of plan.lua" pgmove plan "$RB"
cp "$T/out" "$T/plan.txt"
# calls per step, with their flags
has "$T/plan.txt" "^ +run +testplug\.count +writes, NOT idempotent +$RB:33$" "copy: run calls count (writes, not idempotent) at its line"
has "$T/plan.txt" "^ +undo +testplug\.fail +writes, idempotent +$RB:33$" "copy: undo call shown as undo, told apart on the same line"
lacks "$T/plan.txt" "^ +run +testplug\.fail" "copy: the undo's call is not attributed to run"
has "$T/plan.txt" "^ +when +testplug\.echo +read-only +$RB:35$" "look: the when call, read-only"
has "$T/plan.txt" "^ +run +testplug\.echo +read-only +$RB:39$" "look: the run call"
lacks "$T/plan.txt" "$RB:3[78]" "look: calls in a comment or a string are not calls"
has "$T/plan.txt" "^ +run +testplug\.count .* $RB:43$" "counted: a function bound to a local (local count = t.count) counts as a call"
# helpers defined at top level: attributed, with the helper named
has "$T/plan.txt" "^ +!! run +testplug\.destroy +IRREVERSIBLE +$RB:21 \(via destroy_old, $RB:20\)$" "drop-old: the irreversible call inside a local helper, flagged !!"
grep -A1 "check: first file" "$T/plan.txt" >"$T/check1"
has "$T/check1" "^ +testplug\.read +read-only +$RB:26 \(via verify_file, $RB:25\)$" "gate check: the call inside a global helper, under its check"
grep -A1 "check: echo" "$T/plan.txt" >"$T/check2"
has "$T/check2" "^ +testplug\.echo +read-only +$RB:50$" "gate check: two checks on one line told apart"
lacks "$T/check2" "testplug\.read" "gate check: the other check's call is not under it"
has "$T/plan.txt" "!! calls an irreversible function but is not declared irreversible" "sneaky: an undeclared irreversible call is flagged"
has "$T/plan.txt" "calls inside planmod \(.*planmod\.lua:4\) are not shown" "through-module: calls in another file are said not to be shown"
has "$T/plan.txt" "^ +condition +testplug\.echo +read-only +$RB:60$" "breaker condition call"
has "$T/plan.txt" "^ +on_trip +testplug\.count" "breaker on_trip call"
has "$T/plan.txt" "^ +on_failure +testplug\.count .* $RB:16$" "on_failure call"
has "$T/plan.txt" "^plugin calls: 2 irreversible \(marked !!\), 5 that write, 5 read-only" "the side-effect counts"
has "$T/plan.txt" "^  plugin   testplug 1\.0 sha256 [0-9a-f]{16} .*testplug\.la$" "plugin with version, sha256, path"
# params in declaration order (zeta, alpha, mid-name), not sorted or hashed
"$PY" - "$T/plan.txt" >"$T/order" <<'PYEOF'
import re, sys
names = []
inside = False
for line in open(sys.argv[1]):
    if line.startswith("params"):
        inside = True
        continue
    if inside:
        if not line.strip():
            break
        names.append(line.split()[0])
print(" ".join(names))
PYEOF
equals "$(cat "$T/order")" "zeta alpha mid-name" "params listed in the order they are declared"
has "$T/plan.txt" "^  alpha +string +secret env PLAN_ALPHA$" "secret param shown as secret, with its env"
has "$T/plan.txt" "^  zeta +string +required$" "required param"

expect 0 "plan --json" pgmove plan --json "$RB"
cp "$T/out" "$T/plan.json"
"$PY" - "$T/plan.json" "$RB" >"$T/json.check" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
rb = sys.argv[2]
out = []
def ok(cond, what):
    out.append(("ok" if cond else "FAIL") + " " + what)
locs = []
def walk(x, path):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in ("loc", "via_loc"):
                locs.append((path + "." + k, v))
            elif k == "check_locs":
                for i, l in enumerate(v):
                    locs.append((path + ".check_locs[%d]" % i, l))
            walk(v, path + "." + k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            walk(v, path + "[%d]" % i)
walk(d, "")
ok(len(locs) >= 20, "%d locs found" % len(locs))
bad = [p + "=" + l for p, l in locs
       if not (l.startswith(rb + ":") or l.startswith(rb.replace("plan.lua", "planmod.lua") + ":"))
       or "prelude" in l or not l.rsplit(":", 1)[1].isdigit()]
ok(not bad, "every loc is file:line in the runbook (or its module): " + ", ".join(bad))
ok(d["loc"] == rb + ":9", "runbook loc " + d["loc"])
ok(d["param_order"] == ["zeta", "alpha", "mid-name"], "param_order %s" % d["param_order"])
ok(list(d["params"]) == ["zeta", "alpha", "mid-name"], "params object in declaration order")
ok(d["param_order_declared"] is True, "param_order_declared")
ok(d["plugins"][0]["name"] == "testplug" and d["plugins"][0]["version"] == "1.0"
   and len(d["plugins"][0]["sha256"]) == 64 and d["plugins"][0]["path"].endswith("testplug.la"),
   "plugin identity")
nodes = {n["name"]: n for n in d["nodes"]}
def calls(name, where=None):
    return [(c["in"], c["plugin"] + "." + c["function"], tuple(c["flags"]))
            for c in nodes[name]["calls"] if where is None or c["in"] == where]
ok(calls("copy") == [("run", "testplug.count", ()), ("undo", "testplug.fail", ("idempotent",))],
   "copy calls %s" % calls("copy"))
ok(calls("drop-old") == [("run", "testplug.destroy", ("irreversible",))], "drop-old calls")
ok(nodes["drop-old"]["calls"][0]["via"] == "destroy_old", "via names the helper")
ok(calls("verified") == [("check", "testplug.read", ("idempotent", "read-only")),
                         ("check", "testplug.echo", ("idempotent", "read-only"))], "gate calls")
ok([c["check"] for c in nodes["verified"]["calls"]] == ["first file", "echo"], "check names")
ok(nodes["verified"]["check_locs"] == [rb + ":50", rb + ":50"], "check locs")
ok(calls("through-module") == [] and nodes["through-module"]["unresolved"][0]["name"] == "planmod",
   "module calls unresolved")
ok(d["side_effects"] == {"irreversible": 2, "writes": 5, "read_only": 5}, "side_effects %s" % d["side_effects"])
b = d["breakers"][0]
ok([(c["in"], c["function"]) for c in b["calls"]] == [("condition", "echo"), ("on_trip", "count")],
   "breaker calls")
ok([c["function"] for c in d["on_failure_calls"]] == ["count"], "on_failure calls")
print("\n".join(out))
PYEOF
while read -r res what; do
	if [ "$res" = ok ]; then ok "json: $what"; else bad "json: $what"; fi
done <"$T/json.check"
[ -s "$T/json.check" ] || bad "json: the checker printed nothing"

# a runbook that does not load is still refused (exit 6)
printf 'local t = plugin "testplug"\nrunbook "x" {}\nstep "a" { run = function() return t.nosuch {} end }\n' >"$T/bad.lua"
expect 6 "plan of a runbook calling an unknown function" pgmove plan "$T/bad.lua"
has "$T/err" "bad.lua:3: plugin testplug has no function 'nosuch'" "unknown function named with its line"
finish
