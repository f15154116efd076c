#!/usr/bin/env bash
# bench/live-verify-bench.sh - checksum.compare_live under writes against the
# same compare on the quiet pair, in one run on two sandbox servers (run by
# hand, not in make check):
#   - pgbench -i at --scale on the source, the schema on the target, native
#     logical replication (logical.create_publication / create_subscription)
#   - the standard TPC-B pgbench at --rate and tests/pg/logical-writer write
#     on the source; first --settle seconds without any compare (the writers'
#     baseline latency), then --runs calls of checksum.compare and
#     checksum.compare_live under writes; then the writes stop and the same
#     calls run on the quiet pair
#   - reports each call's time, what compare_live re-checked, how long its
#     lock round held rows (lock.held_ms_max: the longest a writer can have
#     waited on it), and pgbench's transaction latency (max and p99, from its
#     per-transaction log) without compares and while compare_live ran
#
#   bench/live-verify-bench.sh [--scale N] [--rate TPS] [--clients N] [--runs N]
#                              [--jobs N] [--settle SEC] [--lock-after N] [--dir DIR] [--port PORT] [--keep]
#     --scale N   pgbench scale (default 100: 10M accounts, ~1.5 GB per server)
#     --rate TPS  pgbench transactions per second (default 200)
#     --runs N    compares of each kind under writes and quiet (default 5)
#     --settle S  seconds of writes without compares (default 20)
#     --lock-after N  compare_live's rounds before the lock round (default 3;
#                 its rounds stay 10)
#   PGMOVE_BUILD_DIR  build directory (default ./build; make check builds
#                     tests/pg/logical-writer, or: make tests/pg/logical-writer)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PGMOVE_BUILD_DIR:-$top/build}
scale=100 rate=200 clients=4 runs=5 jobs=4 settle=20 lock_after=3 dir= port= keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--settle) settle=$2; shift 2 ;;
	--lock-after) lock_after=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--port) port=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) sed -n '2,26p' "$0" >&2; exit 2 ;;
	esac
done
pgmove=$build/pgmove
writer=$build/tests/pg/logical-writer
[ -x "$pgmove" ] || { echo "live-verify-bench: $pgmove not built (set PGMOVE_BUILD_DIR)" >&2; exit 1; }
[ -x "$writer" ] || make -s -C "$build" tests/pg/logical-writer
export PGMOVE_PLUGIN_PATH=$build/plugins
sandbox=$top/scripts/pgmove-sandbox
work=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-vbench.XXXXXX")
chmod 0755 "$work"
[ -n "$dir" ] || dir=$work/sb
for try in 1 2 3 4 5; do
	[ -n "$port" ] || port=$("$sandbox" free-port --port $((56200 + RANDOM % 2000)))
	"$sandbox" start --dir "$dir" --port "$port" --empty >/dev/null 2>"$work/sandbox.err" && break
	grep -q "in use" "$work/sandbox.err" || { cat "$work/sandbox.err" >&2; exit 1; }
	port=
done
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ $keep = 1 ] || "$sandbox" stop --dir "$dir" >/dev/null 2>&1 || true
	[ $keep = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
eval "$("$sandbox" env --dir "$dir")"
export PGPASSWORD
PGPASSWORD=$(cat "$dir/secrets")
tport=$((port + 1))
admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$dir/run" -p "$1" -U postgres -d app -c "$2"; }
src() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_SOURCE" -c "$1"; }
tgt() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_TARGET" -c "$1"; }
now() { date +%s.%N; }
say() { echo "live-verify-bench: $*" >&2; }
base="host=127.0.0.1 dbname=app user=pgmove"
pair="source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET jobs=$jobs large_objects=false"

admin "$port" "ALTER ROLE pgmove SUPERUSER"
admin "$tport" "ALTER ROLE pgmove SUPERUSER"
say "pgbench -i -s $scale on the source"
pgbench -i -s "$scale" -q "$base port=$port" >"$work/init.log" 2>&1
"$writer" --setup "$base port=$port"
src "CREATE TABLE pgmove_marker (id int PRIMARY KEY, n bigint NOT NULL)"
pg_dump --schema-only "$PGMOVE_SOURCE" | psql -X -q "$PGMOVE_TARGET" >/dev/null 2>&1
"$pgmove" call -q logical.create_publication conninfo=@env:PGMOVE_SOURCE name=vb >/dev/null
"$pgmove" call -q logical.create_subscription publisher=@env:PGMOVE_SOURCE \
	subscriber=@env:PGMOVE_TARGET name=vb publication=vb >/dev/null
say "initial copy"
until [ "$(tgt "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ]; do sleep 1; done

"$writer" "$base port=$port" "$work/writer.log" --rate 50 --stop-file "$work/stop" >"$work/writer.json" &
pids+=($!)
(cd "$work" && exec pgbench -n -c "$clients" -j 2 -T 100000 -R "$rate" -l --log-prefix=pgb \
	"$base port=$port" >"$work/pgbench.log" 2>&1) &
pids+=($!)
pgbpid=$!
t_base=$(now)
say "writes for $settle s without compares"
sleep "$settle"
t_live=$(now)

# run KIND LABEL ARGS... - one call; appends "label kind ms rechecked in_flight
# lock_keys held_ms acquire_ms equal" to $work/runs
run() {
	local kind=$1 label=$2
	shift 2
	"$pgmove" call --log-format plain -q "checksum.$kind" $pair "$@" >"$work/out.json" 2>>"$work/calls.err" ||
		{ echo "live-verify-bench: checksum.$kind failed: $(tail -2 "$work/calls.err")" >&2; return 1; }
	python3 - "$work/out.json" "$label" "$kind" >>"$work/runs" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
l = d.get("live", {})
k = l.get("lock", {})
print(sys.argv[2], sys.argv[3], d["duration_ms"], l.get("rechecked", 0), l.get("in_flight", 0),
      k.get("keys", 0), k.get("held_ms_max", 0), k.get("acquire_ms_max", 0), d["equal"])
if not d["equal"] and sys.argv[3] == "compare_live":
    print("live-verify-bench: compare_live not equal:", json.dumps(d["mismatches"][:5]),
          json.dumps(l), file=sys.stderr)
PYEOF
}
say "$runs compares of each kind under writes"
for i in $(seq "$runs"); do
	run compare busy
	run compare_live busy marker=public.pgmove_marker lock_after="$lock_after"
done
t_quiet=$(now)
kill "$pgbpid" 2>/dev/null || true
touch "$work/stop"
wait "$pgbpid" 2>/dev/null || true
sleep 2
say "$runs compares of each kind on the quiet pair"
for i in $(seq "$runs"); do
	run compare quiet
	run compare_live quiet marker=public.pgmove_marker lock_after="$lock_after"
done
"$pgmove" call -q logical.drop publisher=@env:PGMOVE_SOURCE subscriber=@env:PGMOVE_TARGET \
	subscription=vb publication=vb >/dev/null 2>&1 || true

cat "$work"/pgb.* >"$work/pgb.all" 2>/dev/null || : >"$work/pgb.all"
python3 - "$work/runs" "$work/pgb.all" "$t_base" "$t_live" "$t_quiet" "$scale" "$rate" <<'PYEOF'
import json, statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
def col(label, kind, i):
    return [float(r[i]) for r in runs if r[0] == label and r[1] == kind]
t_base, t_live, t_quiet = map(float, sys.argv[3:6])
lat = {"baseline": [], "compares": []}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) < 6:
        continue
    t = int(f[4]) + int(f[5]) / 1e6
    us = int(f[2])
    if t_base <= t < t_live:
        lat["baseline"].append(us / 1000)
    elif t_live <= t < t_quiet:
        lat["compares"].append(us / 1000)
def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(len(v) * p))], 1) if v else None
out = {"scale": int(sys.argv[6]), "pgbench_rate": int(sys.argv[7])}
for label in ("busy", "quiet"):
    for kind in ("compare", "compare_live"):
        ms = col(label, kind, 2)
        out["%s_%s_ms" % (kind, label)] = {"median": statistics.median(ms) if ms else None,
                                          "min": min(ms) if ms else None,
                                          "max": max(ms) if ms else None}
busy = col("busy", "compare_live", 2)
quiet = col("quiet", "compare_live", 2)
out["compare_live_busy_over_quiet"] = round(statistics.median(busy) / statistics.median(quiet), 2) \
    if busy and quiet else None
out["compare_live_busy_equal"] = [r[8] for r in runs if r[0] == "busy" and r[1] == "compare_live"]
out["compare_live_rechecked"] = col("busy", "compare_live", 3)
out["compare_live_lock_keys"] = col("busy", "compare_live", 5)
out["lock_held_ms_max"] = max(col("busy", "compare_live", 6) or [0])
out["lock_acquire_ms_max"] = max(col("busy", "compare_live", 7) or [0])
for k, v in lat.items():
    out["pgbench_latency_ms_" + k] = {"n": len(v), "p99": pct(v, 0.99), "max": pct(v, 1.0)}
print(json.dumps(out, indent=1))
PYEOF
