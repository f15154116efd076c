#!/bin/sh
# tests/dynamodb/test_dynamodb_parallel.sh - copy_to_postgres and verify
# with parallel workers against moto (through tests/dynamodb/fault_proxy.py,
# which logs every Scan with its segment, start key and time): workers=4
# copy every item exactly once with Scans of different segments in flight
# at the same time; verify finds one changed attribute among the items (the
# 100k-item case is in bench/dynamodb-bench.sh: loading 100k items into moto
# takes over a minute); throttling on one segment is retried with backoff
# while the other segments go on; a failure in one worker stops the others
# and is reported; SIGTERM stops every worker; the read-capacity budget is
# shared by the workers.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/dynamodb/lib.sh"
start_sandbox
moto_start
N=${DDB_PARALLEL_ITEMS:-5000}
$DDB create orders && $DDB load orders $N || { echo "not ok - loading moto"; exit 1; }
psql_tgt "CREATE TABLE orders_doc (pk text PRIMARY KEY, item jsonb NOT NULL)"

"$MOTO_PY" "$top_srcdir/tests/dynamodb/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL_DYNAMODB" --port-file "$T/proxy.port" &
echo $! >>"$T/bg.pids"
wait_for "$T/proxy.port" 10 || { echo "not ok - the fault proxy did not start"; exit 1; }
PROXY="http://127.0.0.1:$(cat "$T/proxy.port")"
export AWS_ENDPOINT_URL_DYNAMODB="$PROXY"
plan() { "$MOTO_PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_fault/" + sys.argv[2], data=(sys.argv[3].encode() if len(sys.argv) > 3 else None)), timeout=10).read().decode())' "$PROXY" "$@"; }
# scans FROM PYEXPR - evaluates PYEXPR on the Scan requests logged since
# request number FROM (as s, a list of the proxy's log entries).
scans() {
	plan log >"$T/log.json"
	"$PY" -c 'import json, sys
s = [e for e in json.load(open(sys.argv[1]))[int(sys.argv[2]):] if e["action"] == "Scan"]
def overlap(s):
    ev = sorted([(e["t0"], 1) for e in s] + [(e["t1"], -1) for e in s])
    n = m = 0
    for _, d in ev:
        n += d
        m = max(m, n)
    return m
print(eval(sys.argv[3]))' "$T/log.json" "$1" "$2"
}
logged() { plan log | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))'; }

# workers = 4: every item exactly once, segments scanned at the same time
expect 0 "copy_to_postgres with workers=4, segments=8" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_doc segments=8 workers=4 page_size=200 --json
equals "$(jq '[d["items"], d["copied_now"], d["workers"], d["segments"], d["resumed"]]')" "[$N, $N, 4, 8, false]" \
	"$N items copied once each (copied_now counts every item loaded), by 4 workers"
equals "$(psql_tgt "SELECT count(*), count(DISTINCT pk) FROM orders_doc")" "$N|$N" "$N rows, $N distinct keys"
equals "$(scans 0 'sorted(set(e["segment"] for e in s))')" "[0, 1, 2, 3, 4, 5, 6, 7]" "every segment scanned"
equals "$(scans 0 'all(sum(1 for e in s if e["segment"] == g and e["start"] is None) == 1 for g in range(8))')" "True" \
	"each segment started once, from its beginning"
equals "$(scans 0 'sum(e["items"] or 0 for e in s)')" "$N" "the Scan pages answered $N items in all: none read twice"
inflight=$(scans 0 'overlap(s)')
[ "$inflight" -ge 2 ] && [ "$inflight" -le 4 ] && ok "Scans of different segments in flight at once ($inflight, at most the 4 workers)" ||
	bad "Scans in flight at once: $inflight (want 2..4)"

# verify finds one changed attribute among the N items, by key
expect 0 "verify with workers=4: equal" pgmove call dynamodb.verify table=orders target=@env:PGMOVE_TARGET \
	into=orders_doc segments=8 workers=4 --json
equals "$(jq '[d["equal"], d["items"], d["differences"], d["workers"]]')" "[true, $N, 0, 4]" "0 differences in $N items"
$DDB update orders item-004321 name "changed once"
psql_tgt "UPDATE orders_doc SET item = jsonb_set(item, '{doc,a,2,deep}', 'false') WHERE pk = 'item-001287'"
psql_tgt "DELETE FROM orders_doc WHERE pk = 'item-003000'"
psql_tgt "INSERT INTO orders_doc VALUES ('ghost-1', '{}'), ('ghost-2', '{}')"
expect 0 "verify after one change on each side" pgmove call dynamodb.verify table=orders target=@env:PGMOVE_TARGET \
	into=orders_doc segments=8 workers=4 --json
equals "$(jq '[d["equal"], d["items"], d["differences"], sorted(x["pk"] for x in d["changed"]), d["missing"], sorted(x["pk"] for x in d["extra"])]')" \
	"[false, $N, 5, [\"item-001287\", \"item-004321\"], [{\"pk\": \"item-003000\"}], [\"ghost-1\", \"ghost-2\"]]" \
	"two changed (a nested attribute, a top-level one), one missing, two extra, by key"

# throttling on one segment, retried with backoff while the others go on
psql_tgt "TRUNCATE orders_doc"
from=$(logged)
# each throttled answer takes 0.8 s: with full jitter the backoffs alone may
# sum to a few ms, too short to see the other segments work meanwhile
plan plan '{"Scan/2": [["throttle", 4, 0.8]]}' >/dev/null
expect 0 "copy through throttling of segment 2" env PGMOVE_AWS_RETRY_BASE_MS=500 AWS_MAX_ATTEMPTS=8 "$PGMOVE_BIN" call \
	dynamodb.copy_to_postgres table=orders target=@env:PGMOVE_TARGET into=orders_doc segments=4 workers=4 page_size=100 --json
equals "$(jq '[d["items"], d["copied_now"]]')" "[$N, $N]" "every item copied once"
equals "$(psql_tgt "SELECT count(*) FROM orders_doc")" "$N" "$N rows"
equals "$(scans "$from" '[e["segment"] for e in s if e["fault"]]')" "[2, 2, 2, 2]" "segment 2 throttled 4 times, no other"
others=$(scans "$from" 'sum(1 for e in s if e["segment"] != 2 and not e["fault"] and e["t0"] > min(x["t1"] for x in s if x["fault"]) and e["t1"] < max(x["t0"] for x in s if x["fault"]))')
[ "$others" -ge 2 ] && ok "the other segments read $others pages while segment 2 was backing off" ||
	bad "pages of other segments during segment 2's backoff: $others"

# a failure in one worker is the call's error; the others stop
psql_tgt "TRUNCATE orders_doc"
plan plan '{"Scan/1": [["pass", 3], ["validation", 1]]}' >/dev/null
t0=$(date +%s)
expect 1 "a validation error on the 4th page of segment 1" "$PGMOVE_BIN" call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_doc segments=4 workers=4 page_size=100 --json
has "$T/out" '"code": *"dynamodb.ValidationException"' "the failing worker's error, not another worker's cancellation"
[ $(($(date +%s) - t0)) -lt 20 ] && ok "the other workers stopped" || bad "the call took $(($(date +%s) - t0)) s"
rows=$(psql_tgt "SELECT count(*) FROM orders_doc")
[ "$rows" -gt 0 ] && [ "$rows" -lt "$N" ] && ok "the copy stopped early ($rows of $N rows)" || bad "the copy went on to $rows rows"

# SIGTERM during a parallel copy: every worker stops, the call says so
psql_tgt "TRUNCATE orders_doc"
bg "$PGMOVE_BIN" call dynamodb.copy_to_postgres table=orders target=@env:PGMOVE_TARGET into=orders_doc \
	segments=8 workers=4 page_size=20 read_capacity=40 --json >"$T/term.out" 2>"$T/term.err"
pid=$BG
i=0
while [ "$(psql_tgt "SELECT count(*) FROM orders_doc")" -lt 100 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $pid
t0=$(date +%s)
wait $pid
rc=$?
[ "$rc" -ne 0 ] && [ $(($(date +%s) - t0)) -lt 10 ] && ok "SIGTERM stops the 4 workers within seconds (exit $rc)" ||
	bad "after SIGTERM: exit $rc after $(($(date +%s) - t0)) s"
has "$T/term.out" '"code": *"pgmove.cancelled"' "pgmove.cancelled"
has "$T/term.out" 'cancelled by SIGTERM' "naming the signal"

# the read-capacity budget is shared: 4 workers together stay under it
psql_tgt "TRUNCATE orders_doc"
expect 0 "copy with read_capacity=20" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_doc segments=4 workers=4 page_size=100 read_capacity=20 --json
rate=$(jq 'round(d["read_capacity_used"] / (d["duration_ms"] / 1000.0), 1)')
equals "$(jq '[d["items"], d["read_capacity_used"] >= 50]')" "[$N, true]" "every item, and the capacity each page used counted"
"$PY" -c "import sys; sys.exit(0 if $rate <= 20 * 1.25 else 1)" && ok "4 workers used $rate units/s with a budget of 20" ||
	bad "4 workers used $rate units/s with a budget of 20"

expect 2 "workers=0 is refused before the call" pgmove call dynamodb.copy_to_postgres table=orders target=@env:PGMOVE_TARGET into=orders_doc workers=0 --json
has "$T/err" "argument 'workers' must be at least 1" "naming workers"
finish
