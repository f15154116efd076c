#!/bin/sh
# tests/engine/test_pgmove_test.sh - pgmove test: mocks and the virtual
# clock (tests/engine/runbooks/virtual.test.lua), operator decisions and
# crash points (operator.test.lua), failures reported with their reasons
# (failing.test.lua, operator-failing.test.lua: every assertion can fail),
# JUnit XML, bad files, temporary journals removed.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/tmp"
export TMPDIR="$T/tmp"

start=$(date +%s)
expect 0 "virtual.test.lua passes" pgmove test "$RUNBOOKS/virtual.test.lua"
took=$(($(date +%s) - start))
equals "$(grep -c '^ok ' "$T/out")" 9 "nine tests ok"
has "$T/out" '^1\.\.9$' "TAP plan line"
has "$T/out" '^ok 1 - .*24 hours of stable lag' "the 24-hour wait test passed"
if [ "$took" -lt "$(limit 30)" ]; then ok "3 virtual days and a 24-hour wait in ${took}s"; else bad "took ${took}s"; fi
equals "$(ls "$T/tmp" | wc -l | tr -d ' ')" 0 "temporary journals removed"

expect 1 "failing.test.lua fails" pgmove test "$RUNBOOKS/failing.test.lua"
equals "$(grep -c '^not ok ' "$T/out")" 4 "four tests not ok"
has "$T/out" 'no mock for testplug\.read\(\{"file":"lag"\}\)' "an unmocked call is named with its arguments"
has "$T/out" 'exit: expected 0, got 1' "a wrong exit code is reported"
has "$T/out" 'not_called: testplug\.echo was called' "a forbidden call is reported"
has "$T/out" 'check: .*exit was 1' "an error raised by check is reported"

# (with the http plugin, for the notification test)
PGMOVE_PLUGIN_PATH="$top_builddir/tests/plugins:$top_builddir/plugins"
expect 0 "operator.test.lua passes" pgmove test "$RUNBOOKS/operator.test.lua"
PGMOVE_PLUGIN_PATH="$top_builddir/tests/plugins"
equals "$(grep -c '^ok ' "$T/out")" 16 "sixteen operator tests ok"
has "$T/out" '^ok 2 - .*advance moves the virtual clock' "time advanced between commands"
has "$T/out" '^ok 4 - .*denied by bob' "a denial with its consequence"
has "$T/out" '^ok 5 - .*notifications are mocked' "a notification answered by a mock"
has "$T/out" '^ok 15 - .*crash during rollback' "a crash during rollback resumed"

# every assertion can fail, with a message that names what differed
expect 1 "operator-failing.test.lua fails" pgmove test "$RUNBOOKS/operator-failing.test.lua"
equals "$(grep -c '^not ok ' "$T/out")" 20 "twenty tests not ok"
for msg in 'status: expected completed, got paused: waiting for approval cutover' \
	'steps: expected \["switch","provision"\], got \["provision","switch"\]' \
	'undone: expected \["provision","switch"\], got \["switch","provision"\]' \
	'gates verified: expected true, got false' \
	'checks verified / sums: expected false, got true' \
	'nodes cutover: expected "approved", got "denied"' \
	'called_with: no call of testplug\.echo\(\{"value":"switch over"\}\); its calls: \[\{"value":"switch"\}\]' \
	'call_count testplug.count: expected 2, got 1' \
	'not_called: testplug\.count was called \(1 call\)' \
	'called: testplug.destroy was never called' \
	'breakers: expected \["lag-runaway"\], got \[\]' \
	'max_virtual: expected at most 0s, took 120000 ms' \
	'min_virtual: expected at least 1h, took 120000 ms' \
	"expect: unknown key 'stpes'" \
	'crash: in_gate nope .*was never reached' \
	'script: resolve switch --retry: exit 2: step switch is pending' \
	'script\[1\]: resolve needs decision' \
	'script\[1\]: advance: .*parsecs' \
	'expect\.steps: must be a table, not a string' \
	'script: resume: exit expected 0, got 3'; do
	has "$T/out" "$msg" "reported: $msg"
done

# JUnit XML: one testcase per test, a <failure> for each failed one, an
# <error> for a file that cannot be read
expect 2 "--junit with a missing file: exit 2" pgmove test --junit "$T/j.xml" \
	"$RUNBOOKS/virtual.test.lua" "$RUNBOOKS/failing.test.lua" "$T/nope.test.lua"
if "$PY" - "$T/j.xml" "$RUNBOOKS" >"$T/py.out" 2>&1 <<'PYEOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
rb = sys.argv[2]
assert root.tag == "testsuites", root.tag
assert root.get("tests") == "14" and root.get("failures") == "4" and root.get("errors") == "1", root.attrib
suites = root.findall("testsuite")
assert [s.get("name") for s in suites] == [rb + "/virtual.test.lua", rb + "/failing.test.lua",
                                          sys.argv[1].rsplit("/", 1)[0] + "/nope.test.lua"], suites
v, f, n = suites
assert v.get("tests") == "9" and v.get("failures") == "0", v.attrib
cases = v.findall("testcase")
assert len(cases) == 9 and not any(c.find("failure") is not None for c in cases)
assert cases[0].get("name") == "happy path: 24 hours of stable lag in virtual time", cases[0].get("name")
assert all(c.get("classname") == rb + "/virtual.test.lua" and float(c.get("time")) >= 0 for c in cases)
fc = {c.get("name"): c.find("failure") for c in f.findall("testcase")}
assert list(fc) == ["unmocked", "wrong exit", "called when it must not be", "check raises"], list(fc)
assert all(x is not None for x in fc.values())
assert 'no mock for testplug.read({"file":"lag"})' in fc["unmocked"].get("message"), fc["unmocked"].get("message")
assert fc["wrong exit"].get("message").startswith("exit: expected 0, got 1"), fc["wrong exit"].get("message")
assert "exit was 1" in fc["check raises"].text
err = n.find("testcase/error")
assert n.get("errors") == "1" and err is not None and "nope.test.lua" in err.get("message")
print("junit ok")
PYEOF
then ok "the JUnit XML parses with the names and failures"; else bad "JUnit XML: $(cat "$T/py.out")"; fi
expect 2 "--junit into a missing directory: exit 2" pgmove test --junit "$T/no/such/dir/j.xml" \
	"$RUNBOOKS/failing.test.lua"
has "$T/err" "--junit $T/no/such/dir/j.xml: No such file" "the JUnit file is named"

printf 'return { runbook = "nope.lua", tests = {} }\n' >"$T/norb.test.lua"
expect 2 "a test file whose runbook is missing: exit 2" pgmove test "$T/norb.test.lua"
has "$T/err" "norb.test.lua: runbook .*/nope.lua: No such file" "the missing runbook is named"
printf 'return { runbook = "%s", tset = {}, tests = {} }\n' "$RUNBOOKS/virtual.lua" >"$T/typo.test.lua"
expect 2 "a misspelled key of a test file: exit 2" pgmove test "$T/typo.test.lua"
has "$T/err" "typo.test.lua: unknown key 'tset'" "the misspelled key is named"

expect 2 "a missing test file: exit 2" pgmove test "$T/nope.test.lua"
has "$T/err" "nope.test.lua" "the missing file is named"
printf 'return { tests = {} }\n' >"$T/bad.test.lua"
expect 2 "a test file without runbook: exit 2" pgmove test "$T/bad.test.lua"
has "$T/err" "needs runbook" "the missing field is named"

finish
