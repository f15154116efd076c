#!/usr/bin/env bash
# bench/logical-bench.sh - the zero-downtime cutover of
# scripts/runbooks/logical-cdc-cutover.lua measured against pg_dump /
# pg_restore on the same database, in one run on two sandbox servers (run by
# hand, not in make check):
#   - pgbench -i at --scale on the source; pgbench (standard script) at a
#     fixed --rate and tests/pg/logical-writer (its own rows, every commit
#     logged) write for the whole migration
#   - time to ready (initial copy), lag in bytes and seconds sampled every
#     second during the catch-up (logical.status)
#   - the cutover (fence, reverse replication, switch) and the write
#     downtime: the writer's longest time without a commit, from its last
#     commit on the source to its first on the target
#   - afterwards: pgbench_history and the writer's log checked on the
#     target, checksums compared, then decommission: no slot left
#   - baseline: pg_dump -Fd -j / pg_restore -j of the same database into a
#     new database on the target: with pg_dump the writes stop for all of it
#
#   bench/logical-bench.sh [--scale N] [--rate TPS] [--clients N] [--jobs N]
#                          [--stable DURATION] [--dir DIR] [--port PORT] [--keep]
#     --scale N   pgbench scale (default 100: 10M accounts, ~1.5 GB)
#     --rate TPS  pgbench transactions per second (default 200)
#     --stable D  the catch-up's stable_for (default 30s)
#   PGMOVE_BUILD_DIR  build directory (default ./build; make check builds
#                     tests/pg/logical-writer, or: make tests/pg/logical-writer)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PGMOVE_BUILD_DIR:-$top/build}
scale=100 rate=200 clients=4 jobs=4 stable=30s dir= port= keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--stable) stable=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--port) port=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) sed -n '2,25p' "$0" >&2; exit 2 ;;
	esac
done
pgmove=$build/pgmove
writer=$build/tests/pg/logical-writer
[ -x "$pgmove" ] || { echo "logical-bench: $pgmove not built (set PGMOVE_BUILD_DIR)" >&2; exit 1; }
[ -x "$writer" ] || make -s -C "$build" tests/pg/logical-writer
export PGMOVE_PLUGIN_PATH=$build/plugins
sandbox=$top/scripts/pgmove-sandbox
work=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-lbench.XXXXXX")
chmod 0755 "$work"
[ -n "$dir" ] || dir=$work/sb
[ -n "$port" ] || port=$("$sandbox" free-port --port 56100)
"$sandbox" start --dir "$dir" --port "$port" --empty >/dev/null
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
export PGMOVE_STATE_DIR=$work/state
tport=$((port + 1))
admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$dir/run" -p "$1" -U postgres -d app -c "$2"; }
src() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_SOURCE" -c "$1"; }
tgt() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_TARGET" -c "$1"; }
now() { date +%s.%N; }
since() { python3 -c 'import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 2))' "$(now)" "$1"; }
say() { echo "logical-bench: $*" >&2; }
base="host=127.0.0.1 dbname=app user=pgmove"

admin "$port" "ALTER ROLE pgmove SUPERUSER"
admin "$tport" "ALTER ROLE pgmove SUPERUSER"
say "pgbench -i -s $scale on the source"
t=$(now)
pgbench -i -s "$scale" -q "$base port=$port" >"$work/init.log" 2>&1
say "loaded in $(since "$t") s; $(src "SELECT pg_size_pretty(pg_database_size('app'))")"
src "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
"$writer" --setup "$base port=$port"

app="host=127.0.0.1,127.0.0.1 port=$port,$tport dbname=app user=pgmove target_session_attrs=read-write connect_timeout=2"
"$writer" "$app" "$work/writer.log" --rate 50 --stop-file "$work/stop" \
	--pause-file "$work/pause" >"$work/writer.json" &
pids+=($!)
wpid=$!
pgbench -n -c "$clients" -j 2 -T 100000 -R "$rate" "$base port=$port" >"$work/pgbench.log" 2>&1 &
pids+=($!)
# Lag sampled every second while the run goes.
(while :; do
	"$pgmove" call logical.status publisher=@env:PGMOVE_SOURCE subscriber=@env:PGMOVE_TARGET \
		subscription=pgmove_fwd 2>/dev/null | tr -d '\n' || true
	echo
	sleep 1
done) >"$work/lag.jsonl" &
pids+=($!)
lagpid=$!

runbook=$top/scripts/runbooks/logical-cdc-cutover.lua
opts=(-p "stable_for=$stable" -p poll=1s -p rollback_window=0s -p "jobs=$jobs"
	-p verify_at_fence=false -p max_lag_seconds=5 -p verify_live_for=0s)
say "replication: run to the cutover approval"
t0=$(now)
rc=0
"$pgmove" run "$runbook" --run-id b1 "${opts[@]}" 2>"$work/run.log" || rc=$?
t_paused=$(now)
[ $rc = 3 ] || { tail -20 "$work/run.log" >&2; say "run ended with $rc, not at the approval"; exit 1; }
kill "$lagpid" 2>/dev/null || true
journal=$PGMOVE_STATE_DIR/logical-cdc-cutover/b1/journal.jsonl

say "cutover"
"$pgmove" approve b1 cutover --by bench >/dev/null 2>&1
"$pgmove" resume b1 2>"$work/cutover.log" || rc=$?
[ $rc = 3 ] || { tail -20 "$work/cutover.log" >&2; say "cutover ended with $rc"; exit 1; }
sleep 2
touch "$work/pause"
for _ in $(seq 100); do [ -s "$work/pause.ack" ] && break; sleep 0.1; done
"$pgmove" call logical.wait_applied publisher=@env:PGMOVE_TARGET subscriber=@env:PGMOVE_SOURCE \
	subscription=pgmove_rev timeout=5m >/dev/null 2>&1
tgt "SELECT id || '|' || v FROM writer_items ORDER BY id" >"$work/items"
tgt "SELECT n FROM writer_txn" >"$work/txns"
replay=$(python3 "$top/tests/pg/logical_replay.py" "$work/writer.log" "$work/items" "$work/txns" || true)
hist_src=$(src "SELECT count(*) FROM pgbench_history")
hist_tgt=$(tgt "SELECT count(*) FROM pgbench_history")
pgbench_aborted=$(grep -c "aborted\|terminat\|read-only" "$work/pgbench.log" || true)
"$pgmove" call checksum.compare source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET \
	jobs="$jobs" >"$work/compare.json" 2>/dev/null || true
touch "$work/stop"
wait "$wpid" || true

say "decommission"
"$pgmove" approve b1 end-rollback-window --by bench >/dev/null 2>&1
"$pgmove" resume b1 2>"$work/decommission.log" || { say "decommission failed"; exit 1; }
slots=$(( $(src "SELECT count(*) FROM pg_replication_slots") + $(tgt "SELECT count(*) FROM pg_replication_slots") ))

say "baseline: pg_dump -Fd -j $jobs | pg_restore -j $jobs into a new database"
admin "$tport" "CREATE DATABASE app2 OWNER pgmove"
t=$(now)
pg_dump -Fd -j "$jobs" -Z 1 -f "$work/dump" "$base port=$port"
pg_restore -j "$jobs" -d "$base port=$tport dbname=app2" "$work/dump"
t_dump=$(since "$t")

python3 - "$journal" "$work/lag.jsonl" "$work/writer.json" "$work/compare.json" \
	"$scale" "$rate" "$t0" "$t_paused" "$t_dump" "$hist_src" "$hist_tgt" "$slots" \
	"$replay" "$pgbench_aborted" <<'PYEOF'
import datetime, json, sys
(journal, lagf, writerf, comparef, scale, rate, t0, t_paused, t_dump, hs, ht, slots,
 replay, aborted) = sys.argv[1:]
ev = [json.loads(l) for l in open(journal) if l.strip()]
def ts(e):
    return datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
def at(kind, node):
    for e in ev:
        if e.get("ev") == kind and e.get("node") == node:
            return ts(e)
start = ts(ev[0])
ready = at("wait.satisfied", "tables-ready") or at("wait.done", "tables-ready")
caught = at("wait.satisfied", "caught-up") or at("wait.done", "caught-up")
fence0, switched = at("step.start", "fence"), at("step.succeeded", "switch")
fence_out = next((e.get("output") for e in ev if e.get("ev") == "step.succeeded" and e.get("node") == "fence"), {}) or {}
lags = []
for l in open(lagf):
    try:
        d = json.loads(l)
        lags.append((d["lag_bytes"], d["lag_seconds"], d["all_ready"]))
    except Exception:
        pass
catch = [x for x in lags if x[2]] or lags
w = json.load(open(writerf))
try:
    cmp = json.load(open(comparef))
except Exception:
    cmp = {}
r = {
  "scale": int(scale), "pgbench_rate": int(rate),
  "time_to_ready_s": round(ready - start, 1) if ready else None,
  "time_to_caught_up_s": round(caught - start, 1) if caught else None,
  "lag_bytes_max_catchup": max((x[0] for x in catch), default=None),
  "lag_seconds_max_catchup": max((x[1] for x in catch), default=None),
  "lag_samples": len(lags),
  "fence_ms": fence_out.get("duration_ms"),
  "fence_apply_wait_ms": fence_out.get("apply_wait_ms"),
  "cutover_fence_to_switch_s": round(switched - fence0, 3) if switched and fence0 else None,
  "write_downtime_ms": w.get("max_gap_ms"),
  "writer": w, "writer_replay_on_target": json.loads(replay) if replay else None,
  "pgbench_history_source": int(hs), "pgbench_history_target": int(ht),
  "pgbench_clients_ended_at_fence": int(aborted),
  "checksums_equal": cmp.get("equal"), "slots_left": int(slots),
  "pg_dump_restore_s": float(t_dump),
}
if r["write_downtime_ms"]:
    r["downtime_ratio_dump_vs_logical"] = round(float(t_dump) * 1000 / r["write_downtime_ms"], 1)
print(json.dumps(r, indent=1))
PYEOF
