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
if [ "$n" -ge 6 ]; then ok "$n runbook test files"; else bad "$n runbook test files, expected 6"; fi

# a failure's message shows the arguments with the passwords masked
expect 1 "secret-failing.test.lua fails" pgmove test "$RUNBOOKS/secret-failing.test.lua"
has "$T/out" 'no mock for pg\.assess\(\{"conninfo":"\*{8}"\}\)' \
	"an unmocked call: its password masked"
has "$T/out" 'called_with: no call of pg\.query\(\{"sql":"SELECT 1"\}\); its calls: \[\{"conninfo":"\*{8}","sql"' \
	"called_with: the calls shown with their passwords masked"
lacks "$T/out" 'hunter' "no password in the output"
lacks "$T/err" 'hunter' "no password in the log"

# the runbook and the test file of pgmove-runbook(5) (EXAMPLE, TEST FILES) work
man5="$top_srcdir/doc/pgmove-runbook.5"
awk '/^\.SH EXAMPLE/{f=1} f&&/^\.nf/{p=1;next} p&&/^\.fi/{exit} p' "$man5" >"$T/demo.lua"
awk '/saved as/{f=1} f&&/^\.nf/{p=1;next} p&&/^\.fi/{exit} p' "$man5" >"$T/demo.test.lua"
expect 0 "the test file of pgmove-runbook(5) passes" pgmove test "$T/demo.test.lua"
equals "$(grep -c '^ok ' "$T/out")" 2 "its two tests ran"
finish
