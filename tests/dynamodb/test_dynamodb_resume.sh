#!/bin/sh
# tests/dynamodb/test_dynamodb_resume.sh - copy_to_postgres in a runbook
# step, 3 segments scanned by 3 workers at once: kill -9 in the middle of
# the copy, `pgmove resume` goes on from each segment's own last evaluated
# key (the journaled checkpoint; seen in the Scans through the fault proxy),
# not from zero, and the verify step finds 0 differences. Then faults moto does not make, from
# tests/dynamodb/fault_proxy.py in front of it: throttling
# (ProvisionedThroughputExceededException, ThrottlingException) and a 500
# retried with backoff; a validation error is not retried and is named.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/dynamodb/lib.sh"
start_sandbox
moto_start
N=600
$DDB create orders && $DDB load orders $N || { echo "not ok - loading moto"; exit 1; }
psql_tgt "CREATE TABLE orders_doc (pk text PRIMARY KEY, item jsonb NOT NULL)"

"$MOTO_PY" "$top_srcdir/tests/dynamodb/fault_proxy.py" --upstream "$AWS_ENDPOINT_URL_DYNAMODB" --port-file "$T/proxy.port" &
echo $! >>"$T/bg.pids"
wait_for "$T/proxy.port" 10 || { echo "not ok - the fault proxy did not start"; exit 1; }
PROXY="http://127.0.0.1:$(cat "$T/proxy.port")"
export AWS_ENDPOINT_URL_DYNAMODB="$PROXY"
plan() { "$MOTO_PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_fault/" + sys.argv[2], data=(sys.argv[3].encode() if len(sys.argv) > 3 else None)), timeout=10).read().decode())' "$PROXY" "$@"; }

bg "$PGMOVE_BIN" run "$top_srcdir/tests/dynamodb/copy.lua" -p page_size=4 -p workers=3 >"$T/run.log" 2>&1
pid=$BG
i=0
while [ "$(journal_events ddb-copy step.checkpoint copy 2>/dev/null || echo 0)" -lt 8 ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -KILL $pid
wait $pid 2>/dev/null
before=$(psql_tgt "SELECT count(*) FROM orders_doc")
saved=$(journal_events ddb-copy step.checkpoint copy)
[ "$saved" -ge 8 ] && ok "checkpoints journaled before the kill ($saved)" || bad "checkpoints before the kill: $saved"
[ "$before" -gt 0 ] && [ "$before" -lt $N ] && ok "killed in the middle ($before of $N rows)" ||
	bad "killed in the middle: $before rows"
# the segments' positions in the last journaled checkpoint
"$PY" - "$(run_dir ddb-copy)/journal.jsonl" >"$T/cp.json" <<'PYEOF'
import json, sys
last = None
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("ev") == "step.checkpoint" and e.get("node") == "copy":
        last = e["value"]
print(json.dumps(last))
PYEOF
moving=$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(sum(1 for s in c["segments"] if s["key"] is not None or s["done"]))' "$T/cp.json")
[ "$moving" -ge 2 ] && ok "the checkpoint holds a position for $moving of 3 segments (scanned at once)" ||
	bad "segments with a position in the checkpoint: $moving"
from=$(plan log | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')
expect 0 "resume completes" pgmove resume last
plan log >"$T/log.json"
res=$("$PY" - "$T/cp.json" "$T/log.json" "$from" <<'PYEOF'
import json, sys
cp = json.load(open(sys.argv[1]))
scans = [e for e in json.load(open(sys.argv[2]))[int(sys.argv[3]):] if e["action"] == "Scan" and e["t0"]]
bad = []
for g, st in enumerate(cp["segments"]):
    mine = [e for e in scans if e["segment"] == g]
    if st["done"]:
        if mine:
            bad.append("segment %d was done and scanned again" % g)
    elif not mine or mine[0]["start"] != st["key"]:
        bad.append("segment %d started from %s, not %s" % (g, mine[0]["start"] if mine else "-", st["key"]))
print("; ".join(bad) or "each from its own")
PYEOF
)
equals "$res" "each from its own" "on resume each segment's first Scan starts at its own journaled key"
expect 0 "status --json" pgmove status --json
res=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); o=[x for x in s["nodes"] if x["name"]=="copy"][0]["output"]; print(o["resumed"], o["items"], o["copied_now"] < o["items"], o["copied_now"] <= '$N' - '"$before"' + 3 * 4)' "$T/out")
equals "$res" "True $N True True" "the resumed copy went on from the segments' keys (copied again at most one page per segment)"
v=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); o=[x for x in s["nodes"] if x["name"]=="verify"][0]["output"]; print(o["equal"], o["items"], o["differences"])' "$T/out")
equals "$v" "True $N 0" "verify after the resume: $N items, 0 differences"
equals "$(psql_tgt "SELECT count(*) FROM orders_doc")" "$N" "every item once"

# faults, through the proxy
psql_tgt "TRUNCATE orders_doc"
scans0=$(plan count | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Scan"])')
plan plan '{"Scan": [["throttle", 2], ["5xx", 1], ["throttling", 1]]}' >/dev/null
expect 0 "copy through throttling and a 500" env AWS_MAX_ATTEMPTS=5 "$PGMOVE_BIN" call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_doc segments=1 page_size=200 --json
equals "$(jq '[d["items"], d["pages"]]')" "[$N, 3]" "every item copied, in 3 pages"
equals "$(plan count | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Scan"] - '"$scans0"')')" "7" "3 Scan pages + 4 faults retried"
equals "$(psql_tgt "SELECT count(*) FROM orders_doc")" "$N" "$N rows"
equals "$(plan last | "$PY" -c 'import json,sys; h=json.load(sys.stdin); print(h["content-type"], h["x-amz-target"], "/eu-west-1/dynamodb/aws4_request" in h["authorization"])')" \
	"application/x-amz-json-1.0 DynamoDB_20120810.Scan True" "JSON 1.0: content type, target, signed for dynamodb"
plan plan '{"Scan": [["throttle", 9]]}' >/dev/null
expect 1 "throttled beyond the attempts" env AWS_MAX_ATTEMPTS=2 "$PGMOVE_BIN" call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_doc segments=1 --json
has "$T/out" '"code": *"dynamodb.ProvisionedThroughputExceededException"' "AWS's code"
has "$T/out" '"retryable": *true' "retryable, so the step's retry can try later"
has "$T/out" 'gave up after 2 attempts' "saying it gave up"
plan plan '{"Scan": [["validation", 1]]}' >/dev/null
expect 1 "a validation error" "$PGMOVE_BIN" call dynamodb.verify table=orders target=@env:PGMOVE_TARGET into=orders_doc --json
has "$T/out" '"code": *"dynamodb.ValidationException"' "is not retried and named"
finish
