# tests/notify/lib.sh - sourced by the tests of the http and pagerduty plugins
# and of `notify`: the helpers of tests/aws/lib.sh (pcall, jget, ctl,
# expect_eq, ...) with tests/notify/fake_notify.py instead of the AWS fake.
#   notify_fake_start [args]  starts the fake; sets FAKE_URL (HTTP) and SMTP_URL
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"
unset PAGERDUTY_EVENTS_URL 2>/dev/null
export PGMOVE_PLUGIN_PATH="$top_builddir/plugins/http/.libs:$top_builddir/plugins/pagerduty/.libs"
# Fast retries in tests (the default base is 1 s).
export PGMOVE_PAGERDUTY_RETRY_BASE_MS=20

notify_fake_start() {
	"$PY" "$top_srcdir/tests/notify/fake_notify.py" --port-file "$TMP/notify.port" "$@" \
		>"$TMP/fake.out" 2>"$TMP/fake.err" &
	FAKE_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$TMP/notify.port" ] && break
		sleep 0.05
	done
	[ -s "$TMP/notify.port" ] || { cat "$TMP/fake.err" >&2; echo "fake did not start" >&2; exit 99; }
	FAKE_URL="http://127.0.0.1:$(jget "$(cat "$TMP/notify.port")" 'j["http"]')"
	SMTP_URL="smtp://127.0.0.1:$(jget "$(cat "$TMP/notify.port")" 'j["smtp"]')"
}
