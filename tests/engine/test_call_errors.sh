#!/bin/sh
# tests/engine/test_call_errors.sh - `pgmove call --json` prints the
# structured error on stdout for every failure, the host's own argument
# errors included; on_failure's err prints as "code: message".
. "$(dirname "$0")/lib.sh"

# json_error - "code|retryable" of {"error": {...}} in $T/out
json_error() {
	"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; print("%s|%s|%s" % (e["code"], e["retryable"], bool(e["message"])))' "$T/out" 2>&1
}

expect 2 "not PLUGIN.FUNCTION" pgmove call nodot --json
equals "$(json_error)" "call.usage|False|True" "a bad target is a JSON error"
expect 2 "unknown plugin (a usage error, issue 7)" pgmove call nosuchplugin.x --json
equals "$(json_error)" "plugin.load|False|True" "a plugin that does not load is a JSON error"
expect 2 "unknown function" pgmove call testplug.nosuch --json
equals "$(json_error)" "call.unknown_function|False|True" "an unknown function is a JSON error"
expect 2 "not NAME=VALUE" pgmove call testplug.echo novalue --json
equals "$(json_error)" "args.invalid|False|True" "a malformed argument is a JSON error"
expect 2 "unset @env:" env -u PGMOVE_TEST_UNSET "$PGMOVE_BIN" call testplug.echo value=@env:PGMOVE_TEST_UNSET --json
equals "$(json_error)" "args.invalid|False|True" "an unset environment variable is a JSON error"
has "$T/err" "environment variable PGMOVE_TEST_UNSET is not set" "and says which"
expect 2 "wrong type" pgmove call testplug.sleep ms=abc --json
equals "$(json_error)" "args.invalid|False|True" "a wrong type is a JSON error"
expect 2 "bad --timeout" pgmove call testplug.sleep ms=1 --timeout soon --json
equals "$(json_error)" "args.invalid|False|True" "a bad --timeout is a JSON error"
expect 1 "the function's own error" pgmove call testplug.fail code=testplug.x retryable=true --json
equals "$(json_error)" "testplug.x|True|True" "the function's error is printed the same way"
expect 2 "without --json stdout stays empty" pgmove call testplug.nosuch
equals "$(wc -c <"$T/out" | tr -d ' ')" 0 "nothing on stdout without --json"
expect 2 "a secret in a bad argument is redacted" pgmove call testplug.secret password=hunter2-secret-pw fail=maybe --json
lacks "$T/out" "hunter2-secret-pw" "the JSON error holds no secret"

expect 1 "on_failure halts" pgmove run "$RUNBOOKS/onfail.lua"
has "$T/err" "on_failure got \[testplug.boom: it broke\] code=testplug.boom retryable=false node=boom" \
	"on_failure's err prints as code: message and has code, retryable and node"

finish
