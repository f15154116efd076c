#!/bin/sh
# tests/engine/test_steps.sh - runs of real runbooks through the pgmove
# binary: retries, timeouts, waits with stable_for, gates that halt and
# roll back, approvals, breakers, irreversible steps, rollback, changed
# runbooks, the run lock, signals, secrets and a torn journal.
. "$(dirname "$0")/lib.sh"
D="$T/d"
mkdir -p "$D"
SECRET=s3cr3t-T0ken-xyz
export TEST_TOKEN="$SECRET"

# --- the basic runbook: retries, wait, gate, approval ---
echo yes >"$D/ready"
expect 3 "basic: pauses at the approval" pgmove run "$RUNBOOKS/basic.lua" -p dir="$D"
has "$T/err" "waiting for approval 'go'" "the pause names the approval"
equals "$(lines "$D/first")" 1 "step first ran once"
equals "$(lines "$D/flaky")" 3 "step flaky was retried until it succeeded"
equals "$(journal_events basic step.failed flaky)" 2 "two failed attempts are journaled"
expect 0 "status of the paused run" pgmove status
has "$T/out" "status +paused: waiting for approval go" "status says why it is paused"
has "$T/out" "attempt 1 failed: testplug.flaky" "status shows failed attempts"
has "$T/out" "ok +check first ran once" "status shows each check"
expect 0 "approve" pgmove approve last go --by alice -m "writes stopped"
expect 0 "resume completes" pgmove resume last
has "$T/err" "the password is \*\*\*\*\*\*\*\*" "a secret logged by a plugin is masked"
lacks "$T/err" "$SECRET" "the secret is not in the log"
expect 0 "status after completion" pgmove status
has "$T/out" "status +completed" "status says completed"
has "$T/out" "approved by alice at" "status shows who approved and when"
lacks "$(run_dir basic)/journal.jsonl" "$SECRET" "the secret is not in the journal"
equals "$(lines "$D/first")" 1 "resume did not run a succeeded step again"
expect 0 "report" pgmove report last
has "$T/out" "^\| verify \| .* \| checks: PASS \|" "report has the phase table with the gate result"
has "$T/out" "^\| go \| approved \| alice \|" "report has the approval"
expect 0 "resume of a completed run" pgmove resume last
has "$T/err" "already completed" "nothing to do"
rd=$(run_dir basic)
[ -f "$rd/state.json" ] && ok "the engine left a state snapshot" || bad "no state.json"
pgmove status --json last >"$T/snap.json" 2>/dev/null
rm -f "$rd/state.json"
pgmove status --json last >"$T/full.json" 2>/dev/null
if cmp -s "$T/snap.json" "$T/full.json"; then ok "status from the snapshot equals a full replay"; else bad "snapshot and replay differ"; diff "$T/snap.json" "$T/full.json" | head; fi
echo '{"format":1,"seq":3,"offset":50,"tail":"not the journal","nodes":[]}' >"$rd/state.json"
pgmove status --json last >"$T/bogus.json" 2>/dev/null
cmp -s "$T/bogus.json" "$T/full.json" && ok "a snapshot that does not match the journal is ignored" || bad "a bogus snapshot was used"

# --- approvals on the command line, approvers ---
rm -rf "$PGMOVE_STATE_DIR" "$D"/*
echo yes >"$D/ready"
expect 0 "--approve runs through" pgmove run "$RUNBOOKS/basic.lua" -p dir="$D" --approve go -p token=cli-secret-value
has "$T/err" "param token is secret but was given with -p" "a secret on the command line is warned about"
lacks "$T/err" "cli-secret-value" "and not repeated in the log"
lacks "$(run_dir basic)/journal.jsonl" "cli-secret-value" "nor journaled"
equals "$(journal_events basic approve.given go)" 1 "the approval is journaled"
expect 2 "--approve of an unknown approval" pgmove run "$RUNBOOKS/basic.lua" -p dir="$D" --approve og
has "$T/err" "has no approve \"og\"" "the unknown approval is named"

cat >"$T/approvers.lua" <<'LUA'
runbook "approvers" { }
approve "cutover" { prompt = "Switch?", approvers = { "alice" } }
step "s" { run = function(ctx) return ctx.approvals.cutover.by end }
LUA
expect 3 "approvers: pauses" pgmove run "$T/approvers.lua"
expect 2 "approvers: bob may not approve" pgmove approve last cutover --by bob
has "$T/err" "bob is not among its approvers" "the refusal names bob"
expect 0 "approvers: alice may" pgmove approve last cutover --by alice
expect 0 "approvers: resume completes" pgmove resume last
cat >"$T/deny.lua" <<'LUA'
runbook "deny" { }
approve "cutover" { }
step "s" { run = function(ctx) return 1 end }
LUA
expect 3 "deny: pauses" pgmove run "$T/deny.lua"
expect 0 "deny: denied" pgmove approve last cutover --by carol --deny -m "not tonight"
expect 1 "deny: resume fails" pgmove resume last
has "$T/err" "approval cutover was denied by carol" "the denial is reported"

# --- timeouts and non-retryable errors ---
cat >"$T/timeout.lua" <<LUA
local t = plugin "testplug"
runbook "timeout" { }
step "slow" { timeout = "300ms", run = function(ctx) return t.sleep { ms = 20000 } end }
LUA
start=$(date +%s)
expect 1 "a step past its timeout fails" pgmove run "$T/timeout.lua"
took=$(( $(date +%s) - start ))
[ $took -lt "$(limit 10)" ] && ok "the timeout cut the call short (${took}s)" || bad "the timeout took ${took}s"
has "$(run_dir timeout)/journal.jsonl" '"code":"pgmove.timeout"' "the journal records pgmove.timeout"
cat >"$T/caught.lua" <<LUA
local t = plugin "testplug"
runbook "caught" { }
step "slow" { timeout = "300ms", run = function(ctx)
  local ok, err = pcall(function() while true do end end)
  -- pcall cannot catch the timeout (it is raised again); a plugin call here would keep the deadline
  return t.sleep { ms = 20000 } end }
LUA
start=$(date +%s)
expect 1 "a timeout is not caught by pcall" pgmove run "$T/caught.lua"
took=$(( $(date +%s) - start ))
[ $took -lt "$(limit 10)" ] && ok "it did not sleep 20 s (${took}s)" || bad "it took ${took}s"
cat >"$T/luaspin.lua" <<LUA
runbook "luaspin" { }
step "spin" { timeout = "300ms", run = function(ctx) while true do end end }
LUA
expect 1 "a Lua loop past its timeout is stopped" pgmove run "$T/luaspin.lua"
cat >"$T/noretry.lua" <<LUA
local t = plugin "testplug"
runbook "noretry" { }
step "s" { retry = { attempts = 3, delay = "10ms" },
  run = function(ctx) return t.count { file = "$D/noretry", fail_until = 5, retryable = false } end }
LUA
expect 1 "a non-retryable error" pgmove run "$T/noretry.lua"
equals "$(lines "$D/noretry")" 1 "is not retried"
has "$T/err" "not retryable" "the log says why"

# --- gates: halt, then resume after the fix; rollback ---
cat >"$T/gate.lua" <<LUA
local t = plugin "testplug"
runbook "gate" { }
step "a" { run = function(ctx) return t.count { file = "$D/gate.a" } end,
           undo = function(ctx, out) t.count { file = "$D/gate.undo" } ; t.echo{ value = "a" } end }
gate "verified" {
  check("first", function(ctx) return true, { rows = 10 } end),
  check("flag is yes", function(ctx) local r = t.read { file = "$D/flag" } return r.value == "yes", r end),
  check("raises", function(ctx) if t.read{ file = "$D/flag" }.value ~= "yes" then error("boom") end return true end),
}
step "b" { run = function(ctx) return 2 end }
LUA
echo no >"$D/flag"
expect 4 "a failed gate halts" pgmove run "$T/gate.lua"
has "$T/err" "gate verified failed: 2 of 3 checks failed: 'flag is yes', 'raises'" "the halt names the failed checks"
equals "$(journal_events gate gate.check verified)" 3 "every check ran and was journaled"
expect 0 "status of the halted run" pgmove status
has "$T/out" "FAIL check flag is yes" "status shows the failed check"
has "$T/out" "ok +check first" "status shows the passed check"
echo yes >"$D/flag"
expect 0 "resume evaluates the gate again and completes" pgmove resume last
equals "$(lines "$D/gate.a")" 1 "the step before the gate ran once"
sed -e 's/runbook "gate" { }/runbook "gate2" { }/' -e 's/check("first"/on_fail = "rollback", check("first"/' "$T/gate.lua" >"$T/gate2.lua"
echo no >"$D/flag"
expect 5 "a failed gate with on_fail = rollback rolls back" pgmove run "$T/gate2.lua"
equals "$(lines "$D/gate.undo")" 1 "the undo ran"
expect 0 "status of the rolled-back run" pgmove status
has "$T/out" "status +rolled-back" "status says rolled back"
has "$T/out" "undo +step +a +undone" "the step is shown undone"

# --- rollback order, resume after rollback ---
cat >"$T/order.lua" <<LUA
local t = plugin "testplug"
runbook "order" { }
step "one" { run = function(ctx) t.count { file = "$D/order.run" } return 1 end,
             undo = function(ctx, out) t.count { file = "$D/order.undo.one" } end }
step "two" { run = function(ctx) t.count { file = "$D/order.run" } return 2 end,
             undo = function(ctx, out) t.count { file = "$D/order.undo.two" }
               assert(t.read { file = "$D/order.undo.one" }.value == "", "one was undone before two") end }
step "three" { run = function(ctx) return 3 end }
LUA
expect 0 "order: completes" pgmove run "$T/order.lua"
expect 5 "rollback of a completed run" pgmove rollback last
equals "$(lines "$D/order.undo.two"):$(lines "$D/order.undo.one")" "1:1" "both undos ran, newest first"
expect 0 "resume after rollback starts over" pgmove resume last
equals "$(lines "$D/order.run")" 4 "the steps ran again"

# --- waits: stable_for, timeout, breakers ---
cat >"$T/stable.lua" <<LUA
local t = plugin "testplug"
runbook "stable" { }
wait "lag-ok" { every = "50ms", timeout = "30s", stable_for = "600ms",
  condition = function(ctx) local r = t.read { file = "$D/lag" } return r.number < 10, r end }
LUA
echo 5 >"$D/lag"
# the blip comes once the wait has polled: lag goes over the threshold for a
# moment, which must restart the stability window
(
	i=0
	while ! grep -qs '"ev":"wait.poll"' "$PGMOVE_STATE_DIR"/stable/*/journal.jsonl && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	echo 50 >"$D/lag"
	sleep 0.3
	echo 4 >"$D/lag"
) &
echo $! >>"$T/bg.pids"
expect 0 "a wait with stable_for completes" pgmove run "$T/stable.lua"
wait
has "$(run_dir stable)/journal.jsonl" '"ev":"wait.poll","node":"lag-ok","ok":false' "the blip is journaled"
gap=$("$PY" - "$(run_dir stable)/journal.jsonl" <<'PYEOF'
import json, sys, datetime
def t(e):
    return datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
ev = [json.loads(l) for l in open(sys.argv[1])]
last_bad = max(t(e) for e in ev if e["ev"] == "wait.poll" and not e["ok"])
done = [t(e) for e in ev if e["ev"] == "wait.done"][0]
print(int((done - last_bad) * 1000))
PYEOF
)
[ "$gap" -ge 600 ] && ok "it waited a whole stable window after the blip (${gap}ms)" || bad "it finished ${gap}ms after the blip, before a whole stable window"
cat >"$T/wto.lua" <<LUA
local t = plugin "testplug"
runbook "wto" { }
wait "never" { every = "50ms", timeout = "300ms", on_timeout = "halt",
  condition = function(ctx) return false end }
LUA
expect 4 "a wait past its timeout with on_timeout = halt" pgmove run "$T/wto.lua"
has "$T/err" "wait never timed out after 300ms" "the timeout is reported"
cat >"$T/breaker.lua" <<LUA
local t = plugin "testplug"
runbook "breaker" { }
phase "replicate"
wait "caught-up" { every = "50ms", timeout = "30s",
  condition = function(ctx) return t.read { file = "$D/caught" }.value == "yes" end }
breaker "lag" { sustained = "200ms", action = "pause", during = { "replicate" },
  condition = function(ctx) local r = t.read { file = "$D/blag" } return r.number > 60, r end,
  on_trip = function(ctx, v) t.count { file = "$D/paged" } end }
LUA
echo no >"$D/caught"
echo 90 >"$D/blag"
expect 3 "a breaker that holds pauses the run" pgmove run "$T/breaker.lua"
equals "$(lines "$D/paged")" 1 "on_trip ran once"
expect 0 "status shows the trip" pgmove status
has "$T/out" "lag during caught-up -> pause" "the trip is listed"
echo 5 >"$D/blag"
echo yes >"$D/caught"
expect 0 "resume continues the wait" pgmove resume last

# --- irreversible steps ---
cat >"$T/irr.lua" <<LUA
local t = plugin "testplug"
runbook "irr" { }
step "sneaky" { run = function(ctx) return t.destroy { file = "$D/destroyed" } end }
LUA
expect 1 "an irreversible function in an undeclared step is refused" pgmove run "$T/irr.lua"
has "$T/err" "calls testplug.destroy, which is irreversible" "the refusal says why"
equals "$(lines "$D/destroyed")" 0 "nothing was destroyed"
cat >"$T/irrgate.lua" <<LUA
local t = plugin "testplug"
runbook "irrgate" { }
gate "g" { check("sneaky", function(ctx) t.destroy { file = "$D/destroyed" } return true end) }
LUA
expect 4 "an irreversible function in a gate check is refused (the check fails)" pgmove run "$T/irrgate.lua"
has "$(run_dir irrgate)/journal.jsonl" "may not be called from a when, condition or check" "the journal says why"
equals "$(lines "$D/destroyed")" 0 "nothing was destroyed by the check"
cat >"$T/irr2.lua" <<LUA
local t = plugin "testplug"
runbook "irr2" { params = { backup = { type = "boolean", default = true } } }
step "backup" { when = function(ctx) return ctx.params.backup end, run = function(ctx) return "snap-1" end }
step "decommission" { irreversible = true, recovery = "backup",
  run = function(ctx) return t.destroy { file = "$D/destroyed" } end }
LUA
expect 1 "an irreversible step whose recovery was skipped is refused" pgmove run "$T/irr2.lua" -p backup=false
has "$T/err" "recovery step backup has not succeeded" "the refusal names the recovery step"
equals "$(lines "$D/destroyed")" 0 "nothing was destroyed"
rm -rf "$PGMOVE_STATE_DIR/irr2"
expect 0 "an irreversible step after its recovery runs" pgmove run "$T/irr2.lua"
equals "$(lines "$D/destroyed")" 1 "it ran once"

# --- changed runbook on resume ---
cat >"$T/change.lua" <<LUA
runbook "change" { }
approve "go" { }
step "s" { run = function(ctx) return 1 end }
LUA
expect 3 "change: pauses" pgmove run "$T/change.lua"
echo '-- an edit' >>"$T/change.lua"
expect 0 "change: approve" pgmove approve last go
expect 6 "resume with a changed runbook is refused" pgmove resume last
has "$T/err" "changed since run .* --accept-changed-runbook" "the refusal says how to accept"
expect 0 "resume with --accept-changed-runbook" pgmove resume last --accept-changed-runbook --by dave
expect 0 "status lists the deviation" pgmove status
has "$T/out" "runbook changed .* accepted by dave" "the deviation is recorded with who"

# --- the lock, signals ---
cat >"$T/slow.lua" <<LUA
local t = plugin "testplug"
runbook "slow" { }
step "nap" { run = function(ctx) return t.sleep { ms = 30000, marker = "$D/nap" } end }
step "after" { run = function(ctx) return t.count { file = "$D/after" } end }
LUA
bg "$PGMOVE_BIN" run "$T/slow.lua" >"$T/slow.out" 2>&1
pid=$BG
wait_for "$D/nap" || bad "the slow step did not start"
expect 7 "a second pgmove on a running run fails at once" pgmove resume last
has "$T/err" "in use by pgmove pid $pid" "the message names the holder's pid"
expect 0 "status works while the run is going" pgmove status
has "$T/out" "pgmove pid $pid is working on it" "status names the active process"
kill -TERM $pid
wait $pid
equals "$?" 3 "SIGTERM stops the run with exit 3"
has "$(run_dir slow)/journal.jsonl" '"ev":"run.interrupted"' "the interruption is journaled"
expect 0 "status of the interrupted run" pgmove status
has "$T/out" "status +interrupted" "status says interrupted"
sed -i 's/ms = 30000/ms = 10/' "$T/slow.lua"
expect 0 "resume after SIGTERM (idempotent step runs again)" pgmove resume last --accept-changed-runbook
equals "$(lines "$D/after")" 1 "the next step ran once"

# --- journal problems ---
jd=$(run_dir slow)
printf '{"v":1,"seq":999,"ev":"step.sta' >>"$jd/journal.jsonl"
expect 0 "status reads a journal with a torn last line" pgmove status "$jd"
has "$T/out" "torn last line ignored" "status mentions the torn line"
expect 0 "resume of a completed run with a torn last line" pgmove resume "$jd"
has "$T/err" "torn line" "the torn line is reported"
ls "$jd"/journal.torn.* >/dev/null 2>&1 && ok "the torn bytes are kept aside" || bad "no journal.torn file"
mkdir -p "$T/newer/rb/r1"
printf '{"v":99,"seq":1,"ts":"2026-01-01T00:00:00.000Z","ev":"run.start"}\n{"v":99,"seq":2,"ts":"2026-01-01T00:00:00.000Z","ev":"run.completed"}\n' >"$T/newer/rb/r1/journal.jsonl"
expect 8 "a journal written by a newer pgmove" pgmove status "$T/newer/rb/r1"
has "$T/err" "newer pgmove" "the message says a newer pgmove wrote it"

finish
