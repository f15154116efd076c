# tests/dynamodb/lib.sh - sourced by the dynamodb plugin's tests: a
# PostgreSQL sandbox (tests/pg/lib.sh) and moto's DynamoDB and DynamoDB
# Streams (`python3 -m moto.server`, the machine's python3 with moto), on
# free ports, stopped on exit. Without moto the test fails (as tests/aws/moto.sh).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/pg/lib.sh"
export PGMOVE_PLUGIN_PATH="$top_builddir/plugins/dynamodb/.libs:$top_builddir/plugins/pg/.libs"
MOTO_PY=${MOTO_PYTHON:-python3}
DDB="$MOTO_PY $top_srcdir/tests/dynamodb/ddb_tool.py"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_DYNAMODB 2>/dev/null
export HOME="$T/home" AWS_EC2_METADATA_DISABLED=true PGMOVE_AWS_RETRY_BASE_MS=20
mkdir -p "$HOME"

# moto_start - starts moto on a free port; exports AWS_ENDPOINT_URL_DYNAMODB
# (and _STREAMS) and test credentials.
moto_start() {
	"$MOTO_PY" -c 'import moto.server' 2>/dev/null || {
		echo "not ok - moto is not installed for $MOTO_PY (see DEVELOPERS.md)"
		exit 1
	}
	started=0
	for _try in 1 2 3 4 5; do
		MOTO_PORT=$("$MOTO_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		bg "$MOTO_PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$T/moto.log" 2>&1
		for _ in $(seq 1 150); do
			"$MOTO_PY" -c 'import sys, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/moto-api/" % sys.argv[1], timeout=1)' \
				"$MOTO_PORT" 2>/dev/null && { started=1; break; }
			sleep 0.1
		done
		[ $started = 1 ] && break
	done
	[ $started = 1 ] || { cat "$T/moto.log"; echo "not ok - moto did not start"; exit 1; }
	export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$MOTO_PORT"
	export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="http://127.0.0.1:$MOTO_PORT"
	export AWS_ENDPOINT_URL=http://127.0.0.1:1 # nothing else may be used
	export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=AKIAMOTO AWS_SECRET_ACCESS_KEY=moto-secret-key
}
