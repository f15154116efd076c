#!/bin/sh
# tests/engine/test_plugin_crash.sh - a plugin function that crashes the
# process (abort, SIGSEGV) is journaled as plugin.crashed of its step before
# pgmove dies of the same signal; resume treats it like any crashed step:
# an idempotent one runs again, a non-idempotent one waits for resolve.
. "$(dirname "$0")/lib.sh"
# The deliberate crashes (testplug.crash) are not errors of pgmove.
VG_EXPECTED=fn_crash

# last_event RUNBOOK - "ev node function signal attempt" of the journal's last event
last_event() {
	"$PY" - "$(run_dir "$1")/journal.jsonl" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "the journal does not end with a newline"
events = [json.loads(l) for l in lines[:-1]]
seqs = [e["seq"] for e in events]
assert seqs == list(range(1, len(seqs) + 1)), seqs
e = events[-1]
print(e.get("ev"), e.get("node"), e.get("function"), e.get("signal"), e.get("attempt"), e["ts"][:2])
PYEOF
}

mkdir -p "$T/d"
expect 134 "a plugin's abort() ends pgmove with SIGABRT" pgmove run "$RUNBOOKS/plugcrash.lua" -p dir="$T/d"
has "$T/err" "plugin function testplug.crash crashed with SIGABRT" "stderr names the function and the signal"
equals "$(last_event plugcrash)" "plugin.crashed a testplug.crash SIGABRT 1 20" "the journal's last event is the crash of step a"
expect 0 "status after the crash" pgmove status
has "$T/out" "testplug.crash crashed with SIGABRT" "status shows the crash"
expect 139 "resume: a runs again (idempotent), b's SIGSEGV ends pgmove" pgmove resume last -p dir="$T/d"
has "$T/err" "step a was running when pgmove stopped; it is idempotent" "a ran again by itself"
has "$T/err" "plugin function testplug.crash crashed with SIGSEGV" "stderr names the SIGSEGV"
equals "$(last_event plugcrash)" "plugin.crashed b testplug.crash SIGSEGV 1 20" "the journal's last event is the crash of step b"
expect 3 "resume: b is not idempotent: the run pauses" pgmove resume last
has "$T/err" "step b was running when pgmove stopped and is not idempotent.*pgmove resolve" "the operator is asked to decide"
has "$T/err" "testplug.crash crashed with SIGSEGV" "the message says the plugin crashed"
expect 0 "resolve b --retry" pgmove resolve last b --retry -m "fixed the plugin"
expect 0 "resume completes" pgmove resume last
equals "$(lines "$T/d/a") $(lines "$T/d/b")" "1 1" "each function crashed once"
expect 134 "pgmove call: a crash ends the process with the signal" pgmove call testplug.crash file="$T/d/c" how=abort
has "$T/err" "plugin function testplug.crash crashed with SIGABRT" "and says which function crashed"

finish
