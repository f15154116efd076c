#!/bin/sh
# tests/notify/notify.sh - `notify` in a runbook through `pgmove run / resume /
# rollback` against the local fakes: a gate that fails pages PagerDuty once
# (not again when it fails again on resume), Slack, the webhook and mail get
# each event with the failing check; when the gate recovers the incident is
# resolved with the same dedup key, and the start and end are change events.
# A delivery that fails is logged and journaled, does not stop the run, and
# is sent again by the next process (rollback here), which also restores the
# feature flag the run moved. Canary secrets (routing key, Slack URL, SMTP
# password, flag token) appear nowhere: journal, logs, status, report.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/notify/lib.sh"

notify_fake_start --token tok-CANARY-flag-77 --smtp-user mailer --smtp-password pw-CANARY-smtp-55
export PGMOVE_STATE_DIR="$TMP/state" PGMOVE_USER=tester
export T_BASE="$FAKE_URL" T_PD_KEY=CANARYpd0123456789abcdef01234567 T_SLACK="$FAKE_URL/hook/CANARY-slack"
export T_HOOK="$FAKE_URL/hook/plain" T_SMTP="$SMTP_URL" T_SMTP_PASSWORD=pw-CANARY-smtp-55
export T_FLAG_TOKEN=tok-CANARY-flag-77
RB="$top_srcdir/tests/notify/runbooks/notify.lua"
run() { $PGMOVE "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; cat "$TMP/run.err" >>"$TMP/all.err"; }
journal() { cat "$PGMOVE_STATE_DIR/notify-test/$1/journal.jsonl"; }
jcount() { journal "$1" | "$PY" -c 'import json,sys; print(sum(1 for l in sys.stdin if eval(sys.argv[1], {"e": json.loads(l)})))' "$2"; }
reqs() { ctl requests | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(sum(1 for r in j if eval(sys.argv[1], {"r": r})))' "$1"; }

ctl flag '{"name": "cutover", "value": "rds"}' >/dev/null
ctl health '{"status": 200, "body": {"status": "degraded"}}' >/dev/null

# ---- run 1: the gate fails
run run "$RB" --run-id r1
expect_eq "gate failed: exit 4" "$RC" 4
expect_eq "flag moved by the step" "$(jget "$(ctl flag '{"name":"cutover"}')" 'j["value"]')" aurora
DK=pgmove/notify-test/r1
expect_eq "PagerDuty: one trigger with the run's dedup key" \
	"$(reqs 'r["path"]=="/v2/enqueue" and r["json"]["event_action"]=="trigger" and r["json"]["dedup_key"]=="'$DK'"')" 1
expect_match "the page names the failing check" \
	"$(jget "$(ctl requests)" '[r for r in j if r["path"]=="/v2/enqueue"][-1]["json"]["payload"]["summary"]')" \
	"gate app-healthy failed .*'health endpoint says healthy'"
expect_eq "page fields" \
	"$(jget "$(ctl requests)" 'str([(p["source"], p["severity"], p["component"], p["class"], p["custom_details"]["details"]["failed_checks"][0]["detail"]["reason"]) for p in [[r for r in j if r["path"]=="/v2/enqueue"][-1]["json"]["payload"]]])')" \
	"[('app-db', 'critical', 'migration', 'gate.failed', '/status is \"degraded\", expected \"healthy\"')]"
expect_eq "run.started as a change event" "$(ctl changes)" '["pgmove notify-test: run r1 of runbook notify-test started"]'
expect_eq "Slack: run.started and gate.failed" \
	"$(jget "$(ctl requests)" '[r["json"]["text"].split(":")[1].strip()[:18] + "|" + r["json"]["channel"] for r in j if "CANARY-slack" in r["path"]]')" \
	'["run r1 of runbook |#db", "gate app-healthy f|#db"]'
expect_eq "webhook: the event as JSON with the failing checks" \
	"$(jget "$(ctl requests)" '[(r["json"]["event"], r["json"]["run"], r["json"]["details"]["failed_checks"][0]["check"], r["headers"]["Authorization"][:6]) for r in j if r["path"]=="/hook/plain"]')" \
	'[["gate.failed", "r1", "health endpoint says healthy", "Bearer"]]'
M=$(ctl mails)
expect_eq "mail: one per listed event" "$(jget "$M" '[m["data"].split("Subject: ")[1].split("\r\n")[0] for m in j]')" \
	'["[pgmove] notify-test: run r1 of runbook notify-test started", "[pgmove] notify-test: gate app-healthy failed (halt): '"'"'health endpoint says healthy'"'"'"]'
expect_eq "deliveries journaled" "$(jcount r1 'e["ev"]=="notify.sent"')" 7
expect_match "log target" "$(cat "$TMP/run.err")" "notify: pgmove notify-test: gate app-healthy failed"

# ---- resume while still unhealthy: the gate fails again, no second page
run resume r1
expect_eq "gate failed again" "$RC" 4
expect_eq "paged once, not once per failure" \
	"$(reqs 'r["path"]=="/v2/enqueue"')/$(jget "$(ctl alerts)" 'j["'$DK'"]["triggers"]')" 1/1
expect_eq "Slack told again" "$(reqs '"CANARY-slack" in r["path"]')" 3

# ---- healthy: the gate passes, the incident is resolved with the same key
ctl health '{"status": 200, "body": {"status": "healthy"}}' >/dev/null
run resume r1
expect_eq "completed" "$RC" 0
expect_eq "resolved with the same dedup key" \
	"$(jget "$(ctl requests)" '[(r["json"]["event_action"], r["json"]["dedup_key"]) for r in j if r["path"]=="/v2/enqueue"]')" \
	"[[\"trigger\", \"$DK\"], [\"resolve\", \"$DK\"]]"
expect_eq "alert resolved" "$(jget "$(ctl alerts)" 'j["'$DK'"]["status"]')" resolved
expect_eq "run.completed as a change event" "$(jget "$(ctl changes)" 'j[-1]')" "pgmove notify-test: run r1 of runbook notify-test completed"

# ---- run 2: every delivery fails; the run is not stopped by it
ctl clear >/dev/null
ctl flag '{"name": "cutover", "value": "rds"}' >/dev/null
ctl health '{"status": 200, "body": {"status": "degraded"}}' >/dev/null
ctl inject '{"path": "/v2/", "status": 500, "count": 1000}' >/dev/null
ctl inject '{"path": "/hook/", "status": 503, "count": 1000}' >/dev/null
run run "$RB" --run-id r2
expect_eq "run 2 reaches the gate despite failed deliveries" "$RC" 4
expect_match "a failed delivery is logged" "$(cat "$TMP/run.err")" "notify: pagerduty of gate.failed could not be delivered \(pagerduty.http"
expect_eq "and journaled" "$(jcount r2 'e["ev"]=="notify.failed"')" 5
FAILED_IDS=$(journal r2 | "$PY" -c 'import json,sys; print(" ".join(sorted(e["id"] for e in map(json.loads, sys.stdin) if e["ev"]=="notify.failed")))')

# the next process (a rollback) sends them again, then its own events
ctl reset >/dev/null
ctl flag '{"name": "cutover", "value": "aurora"}' >/dev/null
run rollback r2
expect_eq "rolled back" "$RC" 5
expect_eq "undo restored the flag it saw" "$(jget "$(ctl flag '{"name":"cutover"}')" 'j["value"]')" rds
expect_eq "every failed delivery sent again" \
	"$(journal r2 | "$PY" -c 'import json,sys; ev=[json.loads(l) for l in sys.stdin]; print(" ".join(sorted(e["id"] for e in ev if e["ev"]=="notify.sent" and e["id"] in [f["id"] for f in ev if f["ev"]=="notify.failed"])))')" \
	"$FAILED_IDS"
expect_eq "PagerDuty: the pending trigger, then resolved when the rollback finished" \
	"$(jget "$(ctl requests)" '[r["json"]["event_action"] for r in j if r["path"]=="/v2/enqueue"]')/$(jget "$(ctl alerts)" 'j["pgmove/notify-test/r2"]["status"]')" \
	'["trigger", "resolve"]/resolved'
expect_eq "rollback events to Slack" \
	"$(jget "$(ctl requests)" '[r["json"]["text"].split(": ", 1)[1][:25] for r in j if "CANARY-slack" in r["path"]]')" \
	'["run r2 of runbook notify-", "gate app-healthy failed (", "run r2: rollback started:", "run r2: rollback finished"]'

# ---- secrets: nowhere
$PGMOVE status r1 --json >>"$TMP/all.err" 2>&1
$PGMOVE status r2 --json >>"$TMP/all.err" 2>&1
$PGMOVE report r2 >>"$TMP/all.err" 2>&1
cat "$PGMOVE_STATE_DIR"/notify-test/*/journal.jsonl >>"$TMP/all.err"
expect_match "status and journal were read" "$(cat "$TMP/all.err")" "notify.failed"
if grep -q CANARY "$TMP/all.err" "$PGMOVE_STATE_DIR"/notify-test/*/*; then
	fail "a secret leaked: $(grep -ho '.\{60\}CANARY.\{20\}' "$TMP/all.err" "$PGMOVE_STATE_DIR"/notify-test/*/* | head -3)"
else
	pass "no secret in the journal, logs, status or report"
fi

# ---- run 3: a Slack delivery fails, `resume` sends it again before its own events
ctl reset >/dev/null
ctl flag '{"name": "cutover", "value": "rds"}' >/dev/null
ctl health '{"status": 200, "body": {"status": "degraded"}}' >/dev/null
ctl inject '{"path": "/hook/CANARY-slack", "status": 500, "count": 1000}' >/dev/null
run run "$RB" --run-id r3
expect_eq "run 3 halts at the gate" "$RC/$(jcount r3 'e["ev"]=="notify.failed" and e["kind"]=="slack"')" 4/2
ctl reset >/dev/null
ctl flag '{"name": "cutover", "value": "aurora"}' >/dev/null
run resume r3
expect_eq "resume: the two failed Slack messages first, then the run's own" \
	"$RC/$(jget "$(ctl requests)" '[r["json"]["text"].split()[-1] for r in j if "CANARY-slack" in r["path"]]')" \
	'0/["started", "healthy'"'"'", "completed"]'
expect_eq "each failed delivery is sent once" "$(jcount r3 'e["ev"]=="notify.sent" and e["kind"]=="slack"')" 3

# ---- every event, through the log target
EV="$top_srcdir/tests/notify/runbooks/events.lua"
run run "$EV" --run-id e1
expect_eq "approval pauses" "$RC" 3
expect_match "approval.needed with the command" "$(cat "$TMP/run.err")" \
	"notify: pgmove notify-events: run e1 is waiting for approval 'go': Switch traffic\? -- approve with: pgmove approve e1 go --by NAME"
expect_match "run.paused with the reason" "$(cat "$TMP/run.err")" \
	"notify: pgmove notify-events: run e1 paused: waiting for approval go: Switch traffic\?"
run resume e1 --approve go
expect_eq "the wait times out: failed" "$RC" 1
expect_eq "a breaker whose condition holds at every poll (6 of them) notifies once" \
	"$(grep -c 'notify: pgmove notify-events: breaker lag tripped' "$TMP/run.err")" 1
expect_match "breaker.tripped" "$(cat "$TMP/run.err")" "notify: pgmove notify-events: breaker lag tripped during w \(action alert\)"
expect_match "wait.timeout" "$(cat "$TMP/run.err")" "notify: pgmove notify-events: wait w timed out"
expect_match "run.failed" "$(cat "$TMP/run.err")" "notify: pgmove notify-events: run e1 failed: wait w failed"
run run "$EV" --run-id e2 -p mode=fail
expect_eq "step fails" "$RC" 1
expect_eq "step.failed once, after its retries" "$(grep -c 'notify: pgmove notify-events: step a failed' "$TMP/run.err")" 1
expect_match "with the attempt and the error" "$(cat "$TMP/run.err")" "step a failed \(attempt 2\): .*boom"
# ---- declaring: bad rules are refused at load time, naming the problem
bad() {
	printf 'runbook "bad" {}\n%s\nstep "s" { run = function() return {} end }\n' "$2" >"$TMP/bad.lua"
	run plan "$TMP/bad.lua"
	expect_eq "$1: exit 6" "$RC" 6
	expect_match "$1: message" "$(cat "$TMP/run.err")" "$3"
}
bad "unknown event" 'notify { on = { "run.exploded" }, log = true }' "notify: on\[1\] 'run.exploded' is not an event"
bad "unknown target field" 'notify { slack = { url = "https://x", colour = "red" } }' "notify slack: unknown field 'colour'"
bad "missing routing key" 'notify { pagerduty = { severity = "info" } }' "notify pagerduty: field 'routing_key' is required"
printf 'runbook "p" {}\nnotify { pagerduty = { routing_key = "CANARYplan0123456789abcdef012345" }, on = { "run.failed" } }\nstep "s" { run = function() return {} end }\n' >"$TMP/p.lua"
run plan "$TMP/p.lua" --json
expect_eq "plan names the rule, not its secrets" \
	"$RC/$(jget "$(cat "$TMP/run.out")" 'json.dumps([(r["on"], r["targets"]) for r in j["notify"]])')" \
	'0/[[["run.failed"], ["pagerduty"]]]'
expect_no_match "no routing key in the plan" "$(cat "$TMP/run.out")" CANARY
# ---- the shipped runbooks declare notifications, off until their params are set
for rb in $(cd "$top_srcdir/scripts/runbooks" && ls *.lua | sed 's/\.lua$//'); do
	case $rb in
	rds-to-aurora-snapshot) P="-p instance=a -p cluster=b -p db_name=c -p db_user=d" ;;
	dynamodb-to-postgres) P="-p table=t -p flags_url=http://f" ;;
	dms-full-load-cdc) P="-p source_host=a -p target_host=b -p db_name=c -p source_user=d -p target_user=e -p flags_url=http://f" ;;
	*) P= ;;
	esac
	PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$(ls -d "$top_builddir"/plugins/*/.libs | tr '\n' ':')" \
		PGMOVE_SOURCE=host=x PGMOVE_TARGET=host=y PGMOVE_DB_PASSWORD=x PGMOVE_SOURCE_PASSWORD=x \
		PGMOVE_TARGET_PASSWORD=x run plan "$top_srcdir/scripts/runbooks/$rb.lua" $P --json
	expect_eq "$rb: notify declared, every target off" \
		"$RC/$(jget "$(cat "$TMP/run.out")" 'json.dumps([r["targets"] for r in j["notify"]])')" '0/[[], [], []]'
	PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$(ls -d "$top_builddir"/plugins/*/.libs | tr '\n' ':')" \
		PGMOVE_SOURCE=host=x PGMOVE_TARGET=host=y PGMOVE_DB_PASSWORD=x PGMOVE_SOURCE_PASSWORD=x \
		PGMOVE_TARGET_PASSWORD=x PGMOVE_PAGERDUTY_KEY=CANARYpd0123456789abcdef01234567 PGMOVE_SLACK_WEBHOOK=https://h.example/x \
		PGMOVE_NOTIFY_MAIL_TO=dba@example.com PGMOVE_SMTP_URL=smtp://relay:587 \
		run plan "$top_srcdir/scripts/runbooks/$rb.lua" $P --json
	expect_eq "$rb: on when configured" \
		"$RC/$(jget "$(cat "$TMP/run.out")" 'json.dumps([r["targets"] for r in j["notify"]])')" \
		'0/[["pagerduty"], ["slack"], ["mail"]]'
done
# ---- long texts are cut on a character boundary (PagerDuty's summary limit, mail subjects)
ctl reset >/dev/null
cat >"$TMP/long.lua" <<LUA
runbook "notify-long" { params = { key = { type = "string", env = "T_PD_KEY", secret = true },
                                   base = { type = "string", env = "T_BASE" },
                                   smtp = { type = "string", env = "T_SMTP" },
                                   pw = { type = "string", env = "T_SMTP_PASSWORD", secret = true } } }
notify { on = { "gate.failed" }, pagerduty = { routing_key = params.key, url = params.base },
         mail = { server = params.smtp, from = "a@example.com", to = "b@example.com",
                  username = "mailer", password = params.pw, starttls = "none" } }
gate "g" { check(string.rep("é", 700), function() return false end) }
LUA
run run "$TMP/long.lua" --run-id l1
expect_eq "a 1400-byte check name: paged anyway" \
	"$RC/$(jget "$(ctl requests)" '[len(r["json"]["payload"]["summary"]) <= 1024 and r["json"]["payload"]["summary"].endswith("é") for r in j if r["path"]=="/v2/enqueue"]')" \
	"4/[true]"
expect_eq "and mailed" "$(jget "$(ctl mails)" 'len(j)')" 1
# ---- a rollback that stops on a failed undo pages (a finished one is a change event)
ctl reset >/dev/null
cat >"$TMP/undo.lua" <<LUA
runbook "notify-undo" { params = { key = { type = "string", env = "T_PD_KEY", secret = true },
                                   base = { type = "string", env = "T_BASE" } } }
notify { on = { "rollback.finished" }, pagerduty = { routing_key = params.key, url = params.base } }
step "s" { run = function() return {} end, undo = function() error("cannot undo") end }
LUA
run run "$TMP/undo.lua" --run-id u1
run rollback u1
expect_eq "failed rollback: a trigger, not a change event" \
	"$(jget "$(ctl requests)" '[(r["path"], r["json"].get("event_action")) for r in j]')" \
	'[["/v2/enqueue", "trigger"]]'
expect_match "naming the undo that failed" \
	"$(jget "$(ctl requests)" 'j[-1]["json"]["payload"]["summary"]')" "rollback stopped: the undo of s failed"
# ---- milestones: step.succeeded of the steps a rule names (the cutover) is a change
# event on PagerDuty's timeline, between the run's start and end; a step that failed and
# succeeds on resume resolves its incident first
ctl reset >/dev/null
cat >"$TMP/milestone.lua" <<LUA
local http = plugin "http"
runbook "notify-milestone" { params = { key = { type = "string", env = "T_PD_KEY", secret = true },
                                        base = { type = "string", env = "T_BASE" } } }
notify { on = { "run.started", "step.failed", "step.succeeded", "run.completed" },
         steps = { "switch" }, pagerduty = { routing_key = params.key, url = params.base }, log = true }
step "prepare" { run = function() return {} end }
step "switch" { run = function(ctx)
  local h = http.health { url = ctx.params.base .. "/health", field = "/status", equals = "healthy" }
  if not h.ok then error("the application is not healthy") end
  return { to = "aurora" }
end }
step "after" { run = function() return {} end }
LUA
run run "$TMP/milestone.lua" --run-id m1
expect_eq "the cutover between start and end on PagerDuty's timeline" "$RC/$(ctl changes)" \
	'0/["pgmove notify-milestone: run m1 of runbook notify-milestone started", "pgmove notify-milestone: step switch succeeded", "pgmove notify-milestone: run m1 of runbook notify-milestone completed"]'
expect_eq "a milestone is not an alert" "$(reqs 'r["path"]=="/v2/enqueue"')" 0
expect_eq "only the named step is announced" \
	"$(grep -c 'notify: pgmove notify-milestone: step [a-z]* succeeded' "$TMP/run.err")/$(grep -c 'step switch succeeded' "$TMP/run.err")" 1/1
expect_eq "journaled as a change" "$(cat "$PGMOVE_STATE_DIR/notify-milestone/m1/journal.jsonl" | "$PY" -c 'import json,sys; print([e["node"] for e in map(json.loads, sys.stdin) if e["ev"]=="notify.sent" and e.get("event")=="step.succeeded" and e["action"]=="change"])')" \
	"['switch']"
ctl reset >/dev/null
ctl health '{"status": 200, "body": {"status": "degraded"}}' >/dev/null
run run "$TMP/milestone.lua" --run-id m2
expect_eq "the step fails: paged" "$RC/$(jget "$(ctl requests)" '[r["json"]["event_action"] for r in j if r["path"]=="/v2/enqueue"]')" '1/["trigger"]'
ctl health '{"status": 200, "body": {"status": "healthy"}}' >/dev/null
run resume m2
expect_eq "it succeeds on resume: resolved, then the milestone" \
	"$RC/$(jget "$(ctl requests)" '[r["json"].get("event_action") or r["json"]["payload"]["summary"].split(": ")[1] for r in j if r["path"].startswith("/v2/")]')" \
	'0/["run m2 of runbook notify-milestone started", "trigger", "resolve", "step switch succeeded", "run m2 of runbook notify-milestone completed"]'
bad "steps without step.succeeded" 'notify { on = { "run.failed" }, steps = { "s" }, log = true }' \
	"notify: steps names the steps whose step.succeeded is sent, but on does not list step.succeeded"
bad "steps naming no step" 'notify { on = { "step.succeeded" }, steps = { "nosuch" }, log = true }' \
	"notify: steps names 'nosuch', which is not a step of this runbook"
finish
