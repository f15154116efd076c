#!/bin/sh
# tests/engine/test_secret_flow.sh - a plain param that reaches a plugin's
# secret parameter never shows in clear in the run directory, the log,
# status or report when the source shows the flow (through locals, an
# alias of ctx.params, a table field, a concatenation); when it does not
# (a function's argument), the call is refused before it is made, with an
# error telling to declare the param secret.
. "$(dirname "$0")/lib.sh"
RB="$RUNBOOKS/secretflow.lua"
mkdir -p "$T/d"

# nowhere CANARY DESC - CANARY is in no file of the run directory
nowhere() {
	if grep -rq -- "$1" "$PGMOVE_STATE_DIR"; then
		bad "$2: found in $(grep -rl -- "$1" "$PGMOVE_STATE_DIR" | sed "s,$T/,,")"
	else ok "$2"; fi
}
# views CANARY RUN - status and report (text and JSON) of RUN lack CANARY
views() {
	for cmd in "status $2" "status $2 --json" "report $2" "report $2 --json"; do
		# shellcheck disable=SC2086
		expect 0 "$cmd" pgmove $cmd
		lacks "$T/out" "$1" "$cmd does not show it"
	done
}

expect 0 "params reaching secret parameters through locals, tables and concatenation" \
	pgmove run "$RB" -p dir="$T/d" -p a=canary-aaa-4711 -p b=canary-bbb-0815 \
	-p d=canary-ddd-1234 -p e=shown-eee --run-id flows
has "$T/err" "param a is passed to secret parameter testplug.secret password: it is treated as secret" \
	"a (through two locals) is found in the source"
has "$T/err" "param b is passed to secret parameter testplug.secret password" \
	"b (a table field, an alias of ctx.params, a concatenation) is found in the source"
lacks "$T/err" "param [cde] is passed" "c, d and e are not flagged"
lacks "$T/err" "canary-" "the log shows no value"
nowhere canary- "no value is anywhere in the run directory"
has "$(run_dir secretflow)/journal.jsonl" '"e":"shown-eee"' "a plain param that flows nowhere is journaled"
views canary- flows

# a flow the source scan cannot see: refused before the call
rm -rf "$PGMOVE_STATE_DIR"
expect 1 "a param reaching a secret parameter through a function's argument" \
	pgmove run "$RB" -p dir="$T/d" -p c=canary-ccc-4242 --run-id arg
has "$T/err" "param c reaches secret parameter testplug.secret password through code pgmove cannot follow, but it is not declared secret: declare it secret = true" \
	"the error names the param, the parameter and the fix"
lacks "$T/err" "the password is" "the plugin was not called"
lacks "$T/err" "canary-" "the log shows no value"
has "$(run_dir secretflow)/journal.jsonl" '"code":"runbook.undeclared_secret"' \
	"the step failed with runbook.undeclared_secret"
equals "$(journal_events secretflow param.secret)" 1 "param.secret masks it from then on"
n=$(grep -l -- canary-ccc "$(run_dir secretflow)"/* 2>/dev/null | wc -l)
equals "$n" 1 "only the journal holds it"
equals "$(grep -c -- canary-ccc "$(run_dir secretflow)/journal.jsonl")" 1 \
	"and only in its first event (run.start), as the error says"
views canary- arg
expect 2 "resume asks for c again" pgmove resume arg
has "$T/err" "param c was passed to a secret plugin parameter" "the message says why"
expect 1 "resume with c: refused again while it is not declared secret" \
	pgmove resume arg -p c=canary-ccc-4242
lacks "$T/err" "canary-" "the log shows no value"
sed 's/c = { type = "string", default = "", summary = "through a function.s argument" }/c = { type = "string", summary = "now declared", secret = true }/' \
	"$RB" >"$T/declared.lua"
grep -q 'now declared' "$T/declared.lua" || bad "the runbook was not changed"
expect 0 "declared secret, the resumed run completes" \
	pgmove resume "$(run_dir secretflow)" -p c=canary-ccc-4242 --accept-changed-runbook \
	--runbook "$T/declared.lua"
lacks "$T/err" "canary-" "the log shows no value"

# the value inside a longer string
rm -rf "$PGMOVE_STATE_DIR"
expect 1 "a param inside a longer string given to a secret parameter" \
	pgmove run "$RB" -p dir="$T/d" -p f=canary-fff-9999 --run-id inside
has "$T/err" "param f reaches secret parameter testplug.secret password" "the error names f"
lacks "$T/err" "canary-" "the log shows no value"
views canary- inside
finish
