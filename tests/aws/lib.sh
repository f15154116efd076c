# tests/aws/lib.sh - sourced by the AWS shell tests: starts the fake AWS on a
# free port (stopped on exit), a private HOME with no AWS files, and helpers.
#   fake_start [args]   start tests/aws/fake_aws.py; sets FAKE_URL, FAKE_PID
#   ctl PATH [JSON]     POST JSON to the fake's control endpoint (GET without)
#   pcall PLUGIN.FN k=v...   `pgmove call --json` into $OUT / $ERR / $RC
#   expect_eq WHAT GOT WANT / expect_match WHAT TEXT REGEX / fail MSG
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=.}"
PY=/usr/bin/python3
. "$top_srcdir/tests/valgrind.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-aws-test.XXXXXX")
FAKE_PID=
FAILS=0
cleanup() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	for p in ${EXTRA_PIDS:-}; do kill "$p" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
	vg_cleanup
}
trap cleanup EXIT INT TERM

export HOME="$TMP/home"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID \
	AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
	AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
	AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
	AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_ENDPOINT_URL AWS_ENDPOINT_URL_RDS \
	AWS_ENDPOINT_URL_CLOUDWATCH AWS_ENDPOINT_URL_CLOUDWATCH_LOGS AWS_MAX_ATTEMPTS PGMOVE_LOG_LEVEL 2>/dev/null
export AWS_EC2_METADATA_DISABLED=true
# Fast retries in tests (the default base is 1 s).
export PGMOVE_AWS_RETRY_BASE_MS=20
# The fake's default key.
FAKE_AKID=AKIDPGMOVEFAKE
FAKE_SECRET=pgmove/fake/secret/key0000

fake_start() {
	"$PY" "$top_srcdir/tests/aws/fake_aws.py" --port-file "$TMP/fake.port" "$@" \
		>"$TMP/fake.out" 2>"$TMP/fake.err" &
	FAKE_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$TMP/fake.port" ] && break
		sleep 0.05
	done
	[ -s "$TMP/fake.port" ] || { cat "$TMP/fake.err" >&2; echo "fake did not start" >&2; exit 99; }
	FAKE_PORT=$(cat "$TMP/fake.port")
	FAKE_URL="http://127.0.0.1:$FAKE_PORT"
}

ctl() {
	"$PY" -c '
import sys, urllib.request
url, data = sys.argv[1], (sys.argv[2].encode() if len(sys.argv) > 2 else None)
req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
try:
    sys.stdout.write(urllib.request.urlopen(req, timeout=30).read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode())
' "$FAKE_URL/_fake/$@"
}

export PGMOVE_PLUGIN_PATH="$top_builddir/plugins/rds_snapshot/.libs:$top_builddir/plugins/cloudwatch/.libs${EXTRA_PLUGIN_PATH:+:$EXTRA_PLUGIN_PATH}"
# under valgrind with PGMOVE_VALGRIND=1 (tests/valgrind.sh)
PGMOVE=$(vg_wrap "$top_builddir/pgmove")

# pcall PLUGIN.FUNCTION k=v...: `pgmove call --json`; stdout in $OUT, stderr in $ERR
# (also appended to $TMP/all.err), exit status in $RC
pcall() {
	$PGMOVE call "$@" --json >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	cat "$TMP/err" >>"$TMP/all.err"
	return 0
}

# jget JSONTEXT EXPR: a value of the JSON text ($OUT by default) with a Python expression on j
jget() {
	printf '%s' "$1" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); v=eval(sys.argv[1]); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$2"
}

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}
pass() {
	echo "ok: $*"
}
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got [$2], want [$3]"; fi
}
expect_match() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1: [$2] does not match /$3/"; fi
}
expect_no_match() {
	if printf '%s' "$2" | grep -Fq -- "$3"; then fail "$1: [$2] contains [$3]"; else pass "$1"; fi
}
finish() {
	vg_check || fail "valgrind found errors in pgmove (above)"
	if [ "$FAILS" -gt 0 ]; then
		echo "$FAILS check(s) failed" >&2
		KEEP_TMP=1
		echo "kept $TMP" >&2
		exit 1
	fi
	exit 0
}
