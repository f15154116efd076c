# tests/pg/lib.sh - shared by the tests against real PostgreSQL servers
# (sourced). Starts a sandbox (scripts/pgmove-sandbox: source on PORT,
# target on PORT+1) in a temporary directory on a free port, and stops and
# removes it on exit, whatever happens. Every assertion prints "ok - ..."
# or "not ok - ..."; finish prints the totals and sets the exit status.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
PGMOVE_BIN="$top_builddir/core/pgmove"
SANDBOX="$top_srcdir/scripts/pgmove-sandbox"
export PGMOVE_PLUGIN_PATH="$top_builddir/plugins"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-pgtest.XXXXXX")
chmod 0755 "$T" # the servers run as an unprivileged user when we are root
export PGMOVE_STATE_DIR="$T/state"
export PGMOVE_USER=tester
SB="$T/sandbox"
passed=0
failed=0

cleanup() {
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	if [ -f "$SB/sandbox.conf" ]; then
		"$SANDBOX" stop --dir "$SB" >/dev/null 2>&1 || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# pgmove ARGS - the binary under test (under valgrind with PGMOVE_VALGRIND=1).
pgmove() {
	if [ "${PGMOVE_VALGRIND:-0}" = 1 ]; then
		"$top_builddir/libtool" --mode=execute valgrind -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite "$PGMOVE_BIN" "$@"
	else
		"$PGMOVE_BIN" "$@"
	fi
}

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

# call FUNCTION ARGS... - pgmove call with the sandbox's connection strings
# available as source=@env:PGMOVE_SOURCE etc.; JSON result in $T/out.
call() {
	pgmove call --log-format plain "$@" >"$T/out" 2>"$T/err"
}

# jq EXPR - evaluates a Python expression on the JSON in $T/out (as d).
jq() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)' "$T/out" "$1" 2>/dev/null
}

has() {
	if grep -Eq -- "$2" "$1"; then ok "$3"; else bad "$3: no /$2/ in $(basename "$1")"; fi
}
lacks() {
	if grep -Eq -- "$2" "$1"; then bad "$3: found /$2/ in $(basename "$1")"; else ok "$3"; fi
}
equals() {
	if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: got '$1', expected '$2'"; fi
}

# start_sandbox ARGS... - starts the sandbox on a free port; exports
# PGMOVE_SOURCE / PGMOVE_TARGET. Exits the test when it cannot.
start_sandbox() {
	local port try
	for try in 1 2 3 4 5; do
		port=$("$SANDBOX" free-port --port $((20000 + (RANDOM % 20000) * 2))) || continue
		if "$SANDBOX" start --dir "$SB" --port "$port" "$@" >"$T/sandbox.env" 2>"$T/sandbox.err"; then
			eval "$(cat "$T/sandbox.env")"
			SB_PORT=$port
			SB_PASSWORD=$(cat "$SB/secrets")
			return 0
		fi
		grep -q "in use" "$T/sandbox.err" || break
	done
	echo "not ok - sandbox did not start:"
	sed 's/^/    | /' "$T/sandbox.err"
	exit 1
}

# psql_src / psql_tgt SQL - runs SQL on a server, unaligned tuples only.
psql_src() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_SOURCE" -c "$1"; }
psql_tgt() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_TARGET" -c "$1"; }

# copy_source_to_target - the target becomes a copy of the source.
copy_source_to_target() {
	pg_dump "$PGMOVE_SOURCE" | psql -X -q -v ON_ERROR_STOP=1 "$PGMOVE_TARGET" >/dev/null
}

finish() {
	echo "# $passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}
