#!/bin/sh
# bench/dynamodb-bench.sh - dynamodb.copy_to_postgres and dynamodb.verify
# from moto's DynamoDB into a real PostgreSQL (a sandbox), against plain
# paginated Scans of the same table by boto3 in the same run (one client,
# and 4 parallel segments on 4 threads), at two table sizes (N/10 and N
# small items) so pgmove's peak memory can be seen flat as the table grows.
# Run by hand (not in make check), from the build tree:
#   top_srcdir=.. top_builddir=. sh ../bench/dynamodb-bench.sh [N] [WORKERS] [PAGE]
# N: items of the larger table (default 100000; 1000000 fits in moto's
# memory but loading takes long); WORKERS: the parallel pgmove run (default 4);
# PAGE: the Scan Limit of every scan, boto3's and pgmove's (default 10000:
# moto walks the table from its start for each page, so a page costs O(N)
# and 1000-item pages make a 100k scan take over 10 minutes; DynamoDB and
# moto both cap a page at 1 MB).
# For each size it prints items/s of: boto3 scan (1 client), boto3 scan (4
# segments), pgmove copy workers=1, pgmove copy workers=WORKERS, pgmove verify
# workers=WORKERS (0 differences), and verify after one attribute of one item
# changed (it must find exactly that key); pgmove's max RSS for each; and the
# ratios pgmove / boto3. Loading the items into moto is timed apart and not
# counted. Needs /usr/bin/time (Debian package time) and boto3.
set -u
N=${1:-100000}
WORKERS=${2:-4}
PAGE=${3:-10000}
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/dynamodb/lib.sh"
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)"; exit 1; }
"$MOTO_PY" -c 'import boto3' 2>/dev/null || { echo "bench: boto3 is missing for $MOTO_PY"; exit 1; }
start_sandbox
moto_start
# moto answers each Scan page by walking the whole table: its own speed,
# not DynamoDB's, bounds every figure here; the ratios are what matters.
cat >"$T/boto.py" <<'PY'
import os, sys, time, threading
import boto3
ep, region = os.environ["AWS_ENDPOINT_URL_DYNAMODB"], os.environ["AWS_REGION"]
cmd, table = sys.argv[1], sys.argv[2]
def client():
    return boto3.session.Session().client("dynamodb", region_name=region, endpoint_url=ep)
if cmd == "load":
    n, c, batch = int(sys.argv[3]), client(), []
    for i in range(n):
        batch.append({"PutRequest": {"Item": {"pk": {"S": "k%08d" % i}, "n": {"N": str(i)},
                                              "s": {"S": "value %d" % i}, "b": {"BOOL": i % 2 == 0}}}})
        if len(batch) == 25 or i == n - 1:
            req = {table: batch}
            while req:
                req = c.batch_write_item(RequestItems=req).get("UnprocessedItems") or None
            batch = []
elif cmd == "scan":
    segs = int(sys.argv[3])
    counts = [0] * segs
    def seg(g):
        c = client()
        kw = {"TableName": table, "Limit": int(sys.argv[4])}
        if segs > 1:
            kw.update(Segment=g, TotalSegments=segs)
        while True:
            r = c.scan(**kw)
            counts[g] += len(r["Items"])
            if "LastEvaluatedKey" not in r:
                break
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    t0 = time.time()
    th = [threading.Thread(target=seg, args=(g,)) for g in range(segs)]
    [t.start() for t in th]
    [t.join() for t in th]
    dt = time.time() - t0
    print("%d %.3f" % (sum(counts), dt))
elif cmd == "update":
    client().update_item(TableName=table, Key={"pk": {"S": sys.argv[3]}}, UpdateExpression="SET s = :v",
                         ExpressionAttributeValues={":v": {"S": "changed by the bench"}})
PY
rate() { awk "BEGIN { printf \"%.0f\", $1 / $2 }"; }
# pg_run NAME ARGS... - pgmove call dynamodb.ARGS under /usr/bin/time: sets secs, rss (KB), out in $T/out
pg_run() {
	/usr/bin/time -f "%e %M" -o "$T/time" "$PGMOVE_BIN" call "$@" --json >"$T/out" 2>"$T/err" ||
		{ echo "bench: pgmove call $* failed:"; tail -5 "$T/err"; exit 1; }
	read -r secs rss <"$T/time"
}
echo "dynamodb-bench: N=$N workers=$WORKERS page=$PAGE, moto $("$MOTO_PY" -c 'import moto; print(moto.__version__)'), $(nproc) CPUs"
for n in $((N / 10)) $N; do
	t=bench$n
	$DDB create $t
	l0=$(date +%s)
	"$MOTO_PY" "$T/boto.py" load $t $n || { echo "bench: loading $n items failed"; exit 1; }
	echo "items=$n: loaded into moto in $(($(date +%s) - l0)) s (not counted)"
	psql_tgt "CREATE TABLE $t (pk text PRIMARY KEY, item jsonb NOT NULL)"
	read -r c1 s1 <<-EOF2
	$("$MOTO_PY" "$T/boto.py" scan $t 1 "$PAGE")
	EOF2
	read -r c4 s4 <<-EOF2
	$("$MOTO_PY" "$T/boto.py" scan $t 4 "$PAGE")
	EOF2
	[ "$c1" = "$n" ] && [ "$c4" = "$n" ] || { echo "bench: boto3 scans counted $c1 and $c4 items, not $n"; exit 1; }
	b1=$(rate "$n" "$s1")
	b4=$(rate "$n" "$s4")
	echo "  boto3 scan, 1 client:      $s1 s, $b1 items/s"
	echo "  boto3 scan, 4 segments:    $s4 s, $b4 items/s"
	pg_run dynamodb.copy_to_postgres table=$t target=@env:PGMOVE_TARGET into=$t segments=4 workers=1 page_size=$PAGE
	rows=$(psql_tgt "SELECT count(*) FROM $t")
	[ "$rows" = "$n" ] || { echo "bench: $rows rows after the copy, not $n"; exit 1; }
	p1=$(rate "$n" "$secs")
	echo "  pgmove copy, workers=1:    $secs s, $p1 items/s, max RSS $rss KB"
	psql_tgt "TRUNCATE $t"
	pg_run dynamodb.copy_to_postgres table=$t target=@env:PGMOVE_TARGET into=$t segments=4 workers=$WORKERS page_size=$PAGE
	rows=$(psql_tgt "SELECT count(*) FROM $t")
	[ "$rows" = "$n" ] || { echo "bench: $rows rows after the copy, not $n"; exit 1; }
	p4=$(rate "$n" "$secs")
	echo "  pgmove copy, workers=$WORKERS:    $secs s, $p4 items/s, max RSS $rss KB"
	pg_run dynamodb.verify table=$t target=@env:PGMOVE_TARGET into=$t segments=4 workers=$WORKERS page_size=$PAGE
	v=$(jq '[d["equal"], d["items"], d["differences"]]')
	[ "$v" = "[true, $n, 0]" ] || { echo "bench: verify said $v"; exit 1; }
	echo "  pgmove verify, workers=$WORKERS:  $secs s, $(rate "$n" "$secs") items/s, max RSS $rss KB: 0 differences"
	key=$(printf 'k%08d' $((n * 7 / 10)))
	"$MOTO_PY" "$T/boto.py" update $t "$key"
	pg_run dynamodb.verify table=$t target=@env:PGMOVE_TARGET into=$t segments=4 workers=$WORKERS page_size=$PAGE
	v=$(jq '[d["equal"], d["differences"], d["changed"]]')
	[ "$v" = "[false, 1, [{\"pk\": \"$key\"}]]" ] || { echo "bench: verify after one change said $v"; exit 1; }
	echo "  pgmove verify, one change: $secs s, found exactly $key among $n items"
	echo "  ratios: pgmove workers=1 / boto3 1 client = $(awk "BEGIN { printf \"%.2f\", $p1 / $b1 }"), pgmove workers=$WORKERS / boto3 4 segments = $(awk "BEGIN { printf \"%.2f\", $p4 / $b4 }")"
done
