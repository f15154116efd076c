#!/bin/sh
# tests/engine/test_crash.sh - SIGKILL in the middle of a multi-step run,
# at several points, then resume until the run completes. A succeeded step
# never runs again; a step caught running is run again only if it is
# idempotent, otherwise the run pauses for `pgmove resolve`.
. "$(dirname "$0")/lib.sh"

check_journal() {
	"$PY" - "$1" <<'PYEOF'
import json, sys
events = []
for line in open(sys.argv[1]):
    try:
        events.append(json.loads(line))
    except ValueError:
        pass
problems = []
succeeded = {}
running = None        # the step started and not finished
resolved = set()
called = set()        # steps that journaled a plugin call since their last start
for e in events:
    ev, node = e.get("ev"), e.get("node")
    if ev == "step.start":
        if node in succeeded:
            problems.append("step %s started again after it succeeded" % node)
        running = node
        called.discard(node)
    elif ev == "step.succeeded":
        if node in succeeded:
            problems.append("step %s succeeded twice" % node)
        succeeded[node] = e
        running = None
    elif ev == "step.call":
        called.add(node)
    elif ev == "step.crashed":
        rerun = e.get("idempotent")
        # odd steps are declared idempotent; an even one is re-run only if
        # it was killed before it called its (non-idempotent) function
        want = (int(node[1:]) % 2 == 1) or node not in called
        if rerun != want:
            problems.append("step %s crashed: idempotent=%s, expected %s" % (node, rerun, want))
    elif ev == "step.resolved":
        resolved.add(node)
        if e.get("decision") == "succeeded":
            succeeded[node] = e
# a non-idempotent step started twice only after a resolve; a start that
# was killed before its first plugin call was journaled (step.call) ran
# nothing, so the engine may start it again without asking
starts = {}
current = None
for e in events:
    if e.get("ev") == "step.start":
        current = e["node"]
    elif e.get("ev") == "step.call" and current is not None and e.get("node", current) == current:
        starts.setdefault(current, []).append(e)
        current = None
for node, s in starts.items():
    if len(s) > 1 and int(node[1:]) % 2 == 0 and node not in resolved:
        problems.append("non-idempotent step %s ran %d times without a resolve" % (node, len(s)))
if [e for e in events if e.get("ev") == "run.completed"] == []:
    problems.append("the run did not complete")
for i in range(1, 7):
    if "s%d" % i not in succeeded:
        problems.append("step s%d never succeeded" % i)
print("\n".join(problems) if problems else "OK")
PYEOF
}

# one kill $delay seconds after the run started, then resume (resolving
# with --retry when asked)
for delay in 0 0.07 0.19 0.31 0.43 0.55 0.67; do
	rm -rf "$PGMOVE_STATE_DIR" "$T/d"
	mkdir -p "$T/d"
	bg "$PGMOVE_BIN" run "$RUNBOOKS/crash.lua" -p dir="$T/d" >"$T/run.log" 2>&1
	pid=$BG
	i=0
	while ! ls "$PGMOVE_STATE_DIR"/crash/*/journal.jsonl >/dev/null 2>&1 && [ $i -lt 3000 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	sleep "$delay"
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	rounds=0
	rc=1
	while [ $rounds -lt 8 ]; do
		rounds=$((rounds + 1))
		pgmove resume last >"$T/out" 2>"$T/err"
		rc=$?
		[ $rc = 0 ] && break
		if [ $rc = 3 ] && grep -q "pgmove resolve" "$T/err"; then
			step=$(sed -n 's/.*step \(s[0-9]\) was running when pgmove stopped and is not idempotent.*/\1/p' "$T/err" | head -1)
			pgmove resolve last "$step" --retry -m "checked by the test" >/dev/null 2>&1
			continue
		fi
		break
	done
	equals "$rc" 0 "killed after ${delay}s: resume completes"
	res=$(check_journal "$(run_dir crash)/journal.jsonl")
	equals "$res" "OK" "killed after ${delay}s: journal shows no step run twice wrongly"
done

# a kill inside a non-idempotent step: resume refuses, resolve --succeeded skips it
rm -rf "$PGMOVE_STATE_DIR" "$T/d"
mkdir -p "$T/d"
bg "$PGMOVE_BIN" run "$RUNBOOKS/crash.lua" -p dir="$T/d" -p ms=3000 >"$T/run.log" 2>&1
pid=$BG
wait_for "$T/d/s2" 60 || bad "step s2 did not start"
kill -KILL $pid
wait $pid 2>/dev/null
expect 3 "resume after a kill inside non-idempotent s2 pauses" pgmove resume last -p ms=10
has "$T/err" "step s2 was running when pgmove stopped and is not idempotent .*pgmove resolve" "the message says what to do"
equals "$(lines "$T/d/s2")" 1 "s2 was not run again"
expect 0 "status shows the crash" pgmove status
has "$T/out" "attempt 1: pgmove stopped while it ran" "status shows the crashed attempt"
expect 2 "resolve of a step that did not fail" pgmove resolve last s1 --succeeded
expect 0 "resolve s2 --succeeded" pgmove resolve last s2 --succeeded -m "counted by hand"
expect 0 "resume completes" pgmove resume last -p ms=10
equals "$(lines "$T/d/s2")" 1 "s2 never ran again"
equals "$(lines "$T/d/s6")" 1 "the rest ran once"
expect 0 "status lists the decision" pgmove status
has "$T/out" "s2 marked succeeded by tester" "the operator's decision is shown with who"

# a kill inside an idempotent step: it runs again by itself
rm -rf "$PGMOVE_STATE_DIR" "$T/d"
mkdir -p "$T/d"
bg "$PGMOVE_BIN" run "$RUNBOOKS/crash.lua" -p dir="$T/d" -p ms=3000 >"$T/run.log" 2>&1
pid=$BG
wait_for "$T/d/s1" 60 || bad "step s1 did not start"
kill -KILL $pid
wait $pid 2>/dev/null
expect 0 "resume after a kill inside idempotent s1 completes" pgmove resume last -p ms=10
equals "$(lines "$T/d/s1")" 2 "s1 ran again"
has "$T/err" "step s1 was running when pgmove stopped; it is idempotent" "the log says why"

finish
