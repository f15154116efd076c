#!/bin/sh
# tests/dynamodb/test_dynamodb_streams.sh - change capture with
# dynamodb.catch_up against moto's DynamoDB Streams: the stream enabled
# before the copy, an application writing (puts, updates, deletes) while
# copy_to_postgres runs, catch_up applying every write in order per key, and
# verify finding 0 differences; a later catch_up from the earlier positions
# applies only what is new. Then faults through tests/dynamodb/fault_proxy.py:
# an expired iterator (taken again after the last applied record), a shard
# that closes (read to its end, marked done), throttling.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/dynamodb/lib.sh"
start_sandbox
moto_start
N=600
W=150
$DDB create orders && $DDB load orders $N || { echo "not ok - loading moto"; exit 1; }
psql_tgt "CREATE TABLE orders_doc (pk text PRIMARY KEY, item jsonb NOT NULL)"
ARGS="table=orders target=@env:PGMOVE_TARGET into=orders_doc"

expect 0 "enable_stream before the copy" pgmove call dynamodb.enable_stream table=orders --json
expect 0 "catch_up on a quiet stream" pgmove call dynamodb.catch_up $ARGS --json
equals "$(jq '[d["caught_up"], d["records"], d["newest_age_s"], d["lag"]["records_behind"]]')" "[true, 0, null, 0]" \
	"nothing to apply, no newest record, nothing behind"

# the application writes while the copy runs
bg $DDB writes orders $W 0.01
writer=$BG
expect 0 "copy while the application writes" pgmove call dynamodb.copy_to_postgres $ARGS segments=2 page_size=20 --json
wait $writer
equals "$?" "0" "the writer finished"
expect 0 "catch_up" pgmove call dynamodb.catch_up $ARGS --json
cp "$T/out" "$T/catchup1.json"
equals "$(jq '[d["caught_up"], d["records"], d["inserts"], d["modifies"], d["removes"]]')" \
	"[true, $W, $((W / 3)), $((W / 3)), $((W / 3))]" "every write of the application applied"
# lag: the age of the newest applied record on the wall clock (the writes
# ended seconds ago), and no shard behind: each answered an empty GetRecords
equals "$(jq 'isinstance(d["newest_age_s"], float) and 0 <= d["newest_age_s"] < 120')" "true" \
	"newest_age_s: the newest applied record is $(jq 'round(d["newest_age_s"], 1)') s old"
equals "$(jq '[d["lag"]["records_behind"], d["lag"]["shards_behind"], all(s["at_tip"] for s in d["lag"]["shards"] if not s["closed"]), sum(s["records_read"] for s in d["lag"]["shards"])]')" \
	"[0, 0, true, $W]" "lag: 0 records and 0 shards behind, every open shard at its tip, $W records read"
equals "$(jq 'all(s["last_get_records"] == 0 and s["last_sequence"] is not None for s in d["lag"]["shards"] if s["records_read"])')" "true" \
	"per shard: the last GetRecords answered nothing, the last applied sequence number"
expect 0 "verify" pgmove call dynamodb.verify $ARGS --json
equals "$(jq '[d["equal"], d["differences"], d["items"]]')" "[true, 0, $N]" "0 differences after the catch-up"
equals "$(psql_tgt "SELECT item->>'name', item->>'n' FROM orders_doc WHERE pk = 'item-000004'")" "written 4|1004" "an update applied"
equals "$(psql_tgt "SELECT count(*) FROM orders_doc WHERE pk IN ('item-000302', 'item-000305')")" "0" "deletes applied"

# later writes, applied from the earlier positions: only the new ones
$DDB update orders item-000010 name again
$DDB delete orders item-000011
POS=$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["positions"]))' "$T/catchup1.json")
expect 0 "catch_up from the earlier positions" pgmove call dynamodb.catch_up $ARGS from="$POS" --json
equals "$(jq '[d["records"], d["modifies"], d["removes"]]')" "[2, 1, 1]" "only the two new writes"
expect 0 "verify again" pgmove call dynamodb.verify $ARGS --json
equals "$(jq 'd["differences"]')" "0" "0 differences"

# faults
"$MOTO_PY" "$top_srcdir/tests/dynamodb/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL_DYNAMODB" --port-file "$T/proxy.port" &
echo $! >>"$T/bg.pids"
wait_for "$T/proxy.port" 10 || { echo "not ok - the fault proxy did not start"; exit 1; }
PROXY="http://127.0.0.1:$(cat "$T/proxy.port")"
plan() { "$MOTO_PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_fault/" + sys.argv[2], data=(sys.argv[3].encode() if len(sys.argv) > 3 else None)), timeout=10).read().decode())' "$PROXY" "$@"; }
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="$PROXY"
$DDB writes orders 30 >/dev/null
expect 0 "catch_up position before the faults" pgmove call dynamodb.catch_up $ARGS page_size=10 --json
POS=$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["positions"]))' "$T/out")
$DDB update orders item-000020 name fault1
$DDB update orders item-000021 name fault2
$DDB update orders item-000022 name fault3
plan plan '{"GetRecords": [["expired", 1], ["throttle", 1]]}' >/dev/null
expect 0 "catch_up through an expired iterator and throttling" pgmove call dynamodb.catch_up $ARGS from="$POS" page_size=1 --json
equals "$(jq '[d["records"], d["expired_iterators"], d["caught_up"]]')" "[3, 1, true]" "the iterator taken again after the last applied record: nothing lost, nothing twice"
equals "$(psql_tgt "SELECT string_agg(item->>'name', ',' ORDER BY pk) FROM orders_doc WHERE pk IN ('item-000020', 'item-000021', 'item-000022')")" "fault1,fault2,fault3" "all three applied"
POS=$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["positions"]))' "$T/out")
$DDB update orders item-000023 name closing
plan plan '{"GetRecords": [["close", 1]]}' >/dev/null
expect 0 "catch_up of a shard that closes" pgmove call dynamodb.catch_up $ARGS from="$POS" --json
equals "$(jq '[d["records"], d["closed_shards"], d["caught_up"]]')" "[1, 1, true]" "its last records applied, the shard done"
POS2=$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["positions"]))' "$T/out")
before=$(plan count | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("GetRecords", 0))')
expect 0 "catch_up after the close" pgmove call dynamodb.catch_up $ARGS from="$POS2" --json
after=$(plan count | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("GetRecords", 0))')
equals "$((after - before))" "0" "a closed shard is not read again"
expect 1 "catch_up of a table without a stream" pgmove call dynamodb.catch_up table=nostream target=@env:PGMOVE_TARGET into=orders_doc --json
finish
