#!/bin/sh
# tests/engine/test_runbook_tests.sh - runs the shipped runbooks' test files
# (scripts/runbooks/tests/*.test.lua) with pgmove test and the real plugins
# (their argument checks and flags), every function mocked.
. "$(dirname "$0")/lib.sh"

export PGMOVE_PLUGIN_PATH="$top_builddir/plugins"
n=0
for f in "$top_srcdir"/scripts/runbooks/tests/*.test.lua; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	expect 0 "pgmove test $(basename "$f")" pgmove test "$f"
	lacks "$T/out" '^not ok' "$(basename "$f"): no test failed"
	has "$T/out" '^ok ' "$(basename "$f"): tests ran"
done
if [ "$n" -ge 1 ]; then ok "$n runbook test files"; else bad "no runbook test files"; fi
finish
