#!/bin/sh
# tests/dynamodb/test_dynamodb_runbook.sh - scripts/runbooks/dynamodb-to-postgres.lua (seed
# 002) end to end through `pgmove run` / `resume --approve`: moto's DynamoDB and Streams, a
# real PostgreSQL, the fake flag service and health endpoint (tests/notify/fake_notify.py).
# The schema created from the table's keys, a backup, the stream before the copy, the copy,
# the catch-up of writes made after the copy, gates verifying 0 differences, dual writing
# on, reads 10 -> 50 -> 100 %, dual writing off, the final verify and backup check. Then a
# second run where the application turns unhealthy at 10 %: the breaker rolls back (read
# flag back to 0, dual writing off).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/dynamodb/lib.sh"
export PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$top_builddir/plugins/http/.libs"
start_sandbox
moto_start
"$PY" "$top_srcdir/tests/notify/fake_notify.py" --port-file "$T/notify.port" >"$T/notify.out" 2>&1 &
echo $! >>"$T/bg.pids"
wait_for "$T/notify.port" 10 || { echo "not ok - fake_notify did not start"; exit 1; }
NOTIFY="http://127.0.0.1:$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$T/notify.port")"
fctl() { "$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_fake/" + sys.argv[2], data=(sys.argv[3].encode() if len(sys.argv) > 3 else None), headers={"Content-Type": "application/json"}), timeout=10).read().decode())' "$NOTIFY" "$@"; }
flag() { fctl flag "{\"name\": \"$1\"}" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["value"]))'; }
RB="$top_srcdir/scripts/runbooks/dynamodb-to-postgres.lua"
N=300
$DDB create orders && $DDB load orders $N || { echo "not ok - loading moto"; exit 1; }
fctl flag '{"name": "dual-write", "value": false}' >/dev/null
fctl flag '{"name": "postgres-read-pct", "value": 0}' >/dev/null
P="-p table=orders -p flags_url=$NOTIFY/flags -p app_health=$NOTIFY/health -p poll=100ms -p verify_period=300ms -p stage_soak=200ms -p app_errors_for=300ms -p page_size=50"

expect 0 "plan" pgmove plan "$RB" $P
expect 3 "run: pauses for the traffic-shift approval" pgmove run "$RB" $P
equals "$(psql_tgt "SELECT count(*) FROM orders")" "$N" "the schema step created the table; the copy filled it"
equals "$(flag dual-write)" "true" "dual writing on"
# the application writes to DynamoDB while dual writing (the stream brings them over)
$DDB writes orders 30 >/dev/null
expect 3 "resume: pauses for cleanup" pgmove resume last --approve start-traffic-shift
equals "$(flag postgres-read-pct)" "100" "reads 100 % on PostgreSQL"
equals "$(psql_tgt "SELECT item->>'name' FROM orders WHERE pk = 'item-000004'")" "written 4" "writes during dual writing applied from the stream"
expect 0 "resume: cleanup completes" pgmove resume last --approve cleanup
equals "$(flag dual-write)" "false" "dual writing off"
expect 0 "status" pgmove status --json
res=$("$PY" -c 'import json,sys
s = json.load(open(sys.argv[1]))
n = {x["name"]: x for x in s["nodes"]}
print(n["backup"]["output"]["status"], n["copy"]["output"]["items"], n["final-verification"]["status"], s["status"])' "$T/out" 2>&1)
equals "$res" "AVAILABLE $N succeeded completed" "backup AVAILABLE, $N items copied, final verification passed, run completed"

# run b: unhealthy during the shift -> rollback
$DDB create orders2 && $DDB load orders2 50 || { echo "not ok - loading moto"; exit 1; }
fctl flag '{"name": "dw2", "value": false}' >/dev/null
fctl flag '{"name": "rp2", "value": 0}' >/dev/null
P2="-p table=orders2 -p flags_url=$NOTIFY/flags -p dual_write_flag=dw2 -p read_flag=rp2 -p app_health=$NOTIFY/health -p poll=100ms -p verify_period=200ms -p stage_soak=5s -p app_errors_for=300ms"
expect 3 "run b: pauses for the traffic-shift approval" pgmove run "$RB" $P2
(sleep 1.5; fctl health '{"status": 500, "body": {"status": "failing"}}' >/dev/null) &
expect 5 "run b: the app turns unhealthy at 10 %: rolled back" pgmove resume last --approve start-traffic-shift
equals "$(flag rp2)/$(flag dw2)" "0/false" "read flag back to 0, dual writing off"
finish
