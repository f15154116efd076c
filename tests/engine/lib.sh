# tests/engine/lib.sh - shared by the engine's shell tests (sourced).
# Every assertion prints "ok - ..." or "not ok - ..."; finish prints the
# closing "N passed, N failed" line and sets the exit status.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/valgrind.sh"
# The binary under test: under valgrind with PGMOVE_VALGRIND=1 (vg_wrap),
# whether a test runs it through the function pgmove or as "$PGMOVE_BIN".
PGMOVE_BIN=$(vg_wrap "$top_builddir/pgmove")
RUNBOOKS="$top_srcdir/tests/engine/runbooks"
export PGMOVE_PLUGIN_PATH="$top_builddir/tests/plugins"
T=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-test.XXXXXX")
export PGMOVE_STATE_DIR="$T/state"
export PGMOVE_USER=tester
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
# bg COMMAND... - runs COMMAND in the background and remembers its pid (in
# $BG) so cleanup can stop it; `jobs -p` says nothing in a dash script.
bg() {
	"$@" &
	BG=$!
	echo "$BG" >>"$T/bg.pids"
}
# A test library that sources this one may define extra_cleanup (stop the
# servers it started); it runs before $T is removed.
cleanup() {
	if command -v extra_cleanup >/dev/null 2>&1; then extra_cleanup; fi
	if [ -f "$T/bg.pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null; done <"$T/bg.pids"
	fi
	rm -rf "$T"
	vg_cleanup
}
trap cleanup EXIT
passed=0
failed=0

# pgmove ARGS - the binary under test (under valgrind with PGMOVE_VALGRIND=1).
pgmove() { "$PGMOVE_BIN" "$@"; }

ok() { passed=$((passed + 1)); echo "ok - $*"; }
bad() {
	failed=$((failed + 1))
	echo "not ok - $*"
	if [ -f "$T/err" ]; then sed 's/^/    | /' "$T/err" | tail -15; fi
}

# expect RC DESCRIPTION COMMAND... - runs COMMAND (stdout in $T/out, stderr
# in $T/err) and checks its exit status.
expect() {
	want=$1 desc=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$desc"; else bad "$desc: exit $got, expected $want"; fi
}

# has FILE PATTERN DESCRIPTION - FILE contains the extended regex PATTERN.
has() {
	if grep -Eq -- "$2" "$1"; then ok "$3"; else bad "$3: no /$2/ in $(basename "$1")"; fi
}
# lacks FILE PATTERN DESCRIPTION
lacks() {
	if grep -Eq -- "$2" "$1"; then bad "$3: found /$2/ in $(basename "$1")"; else ok "$3"; fi
}
# equals GOT WANT DESCRIPTION
equals() {
	if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: got '$1', expected '$2'"; fi
}
# random_port_base - a random even port below the ephemeral range (from
# 10000; every outgoing connection takes a port of that range, and holds it
# in TIME_WAIT a minute after closing, where no server can bind), so tests
# running side by side do not all start their search at the same port
# ($RANDOM is not there in dash).
random_port_base() {
	r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 0)
	if [ "${lo:-0}" -gt 14000 ] 2>/dev/null; then
		echo $((10000 + (r % ((lo - 12000) / 2)) * 2))
	else
		echo $((20000 + (r % 20000) * 2))
	fi
}

# TIME_FACTOR and limit SECONDS: see tests/valgrind.sh.

# lines FILE - number of lines (0 when missing)
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# run_dir RUNBOOK - the one run directory of RUNBOOK
run_dir() { ls -d "$PGMOVE_STATE_DIR/$1"/*/ | head -1 | sed 's,/$,,'; }
# journal_events RUNBOOK EV [NODE] - how many EV events (for NODE)
journal_events() {
	"$PY" - "$(run_dir "$1")/journal.jsonl" "$2" "${3:-}" <<'PYEOF'
import json, sys
path, ev, node = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
for line in open(path):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("ev") == ev and (not node or e.get("node") == node):
        n += 1
print(n)
PYEOF
}

# wait_for FILE [SECONDS] - until FILE exists (0) or the time is up (1).
wait_for() {
	i=0
	lim=$(( ${2:-20} * 20 ))
	while [ ! -s "$1" ] && [ $i -lt $lim ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$1" ]
}

finish() {
	if ! vg_check; then bad "valgrind found errors in pgmove (above)"; fi
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
