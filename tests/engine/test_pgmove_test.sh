#!/bin/sh
# tests/engine/test_pgmove_test.sh - pgmove test: mocks and the virtual
# clock (tests/engine/runbooks/virtual.test.lua), failures reported with
# their reasons (failing.test.lua), bad files, temporary journals removed.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/tmp"
export TMPDIR="$T/tmp"

start=$(date +%s)
expect 0 "virtual.test.lua passes" pgmove test "$RUNBOOKS/virtual.test.lua"
took=$(($(date +%s) - start))
equals "$(grep -c '^ok ' "$T/out")" 9 "nine tests ok"
has "$T/out" '^1\.\.9$' "TAP plan line"
has "$T/out" '^ok 1 - .*24 hours of stable lag' "the 24-hour wait test passed"
if [ "$took" -lt 30 ]; then ok "3 virtual days and a 24-hour wait in ${took}s"; else bad "took ${took}s"; fi
equals "$(ls "$T/tmp" | wc -l | tr -d ' ')" 0 "temporary journals removed"

expect 1 "failing.test.lua fails" pgmove test "$RUNBOOKS/failing.test.lua"
equals "$(grep -c '^not ok ' "$T/out")" 4 "four tests not ok"
has "$T/out" 'no mock for testplug\.read\(\{"file":"lag"\}\)' "an unmocked call is named with its arguments"
has "$T/out" 'exit: expected 0, got 1' "a wrong exit code is reported"
has "$T/out" 'not_called: testplug\.echo was called' "a forbidden call is reported"
has "$T/out" 'check: .*exit was 1' "an error raised by check is reported"

expect 2 "a missing test file: exit 2" pgmove test "$T/nope.test.lua"
has "$T/err" "nope.test.lua" "the missing file is named"
printf 'return { tests = {} }\n' >"$T/bad.test.lua"
expect 2 "a test file without runbook: exit 2" pgmove test "$T/bad.test.lua"
has "$T/err" "needs runbook" "the missing field is named"

finish
