#!/usr/bin/env bash
# bench/copy-bench.sh - the copy plugin against its baselines, measured in
# one run on two sandbox servers (run by hand, not in make check). The
# source holds pgbench at --scale plus a mixed-type table of --mixed rows;
# before each method the target's public schema is dropped and recreated.
#   - pgcopydb clone --table-jobs J --index-jobs J (no verification)
#   - pg_dump -Fc | pg_restore
#   - pgmove, as scripts/runbooks/pg-copy.lua does it: pg_dump --schema-only,
#     pg_restore --section=pre-data, pgmove call copy.data jobs=J indexes=true
#     analyze=true schema_file=... schema_check=... (copy + per-chunk
#     verification + each table's indexes and constraints as its data is in
#     + foreign keys + ANALYZE, schema re-dumped in the data's snapshot), then
#     pgdump.restore of the rest of post-data without what copy.data built:
#     the total, each phase, and copy.data's peak RSS
#   - the resume: copy.data with every table split into chunks
#     (split_larger_than=0; by default the benchmark's tables are copied
#     whole, and a kill loses a table whole), once in full, then twice in a
#     runbook SIGKILLed and pgmove resume: once killed when the target holds
#     half of the data (bytes), once at half of the full copy's time; the
#     resume's time against the full split copy.data. The two differ: the
#     largest table is copied first and mixed's rows cost more per byte, so
#     half of the bytes is about a third of the work
# and prints the ratios issue 13 sets as targets (pgmove <= pgcopydb,
# <= 0.5x pg_dump|pg_restore, RSS < 64 MB and flat, resume <= 60% of a copy).
#
#   bench/copy-bench.sh [--scale N] [--mixed ROWS] [--jobs J] [--dir DIR] [--keep]
#     --scale N     pgbench scale factor (default 100: 10M rows)
#     --mixed ROWS  rows of the mixed-type table (default 2000000)
#     --jobs J      connections / jobs for every method (default 2)
#     --index-jobs I  copy.data's post workers (default J: pgcopydb's
#                   --index-jobs is J too)
#     --index-workers W  copy.data's parallel workers per index build (default 0)
#     --dir DIR     sandbox directory (default: a temporary one)
#     --keep        leave the sandbox running
#     --no-load     the sandbox in --dir holds the data already (a --keep run)
#     --verify B    copy.data's verify for the pgmove measurement (default
#                   true; false measures what verification costs, not a target)
#   PGMOVE_BUILD_DIR  build directory holding pgmove (default ./build)
# Installs pgcopydb (Debian package) when it is missing; needs /usr/bin/time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PGMOVE_BUILD_DIR:-$top/build}
scale=100 mixed=2000000 jobs=2 ijobs= iworkers=0 dir= keep=0 load=1 verify=true
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=$2; shift 2 ;;
	--mixed) mixed=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--index-jobs) ijobs=$2; shift 2 ;;
	--index-workers) iworkers=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--no-load) load=0; shift ;;
	--verify) verify=$2; shift 2 ;;
	*) sed -n '2,39p' "$0" >&2; exit 2 ;;
	esac
done
[ -n "$ijobs" ] || ijobs=$jobs
pgmove=$build/pgmove
[ -x "$pgmove" ] || { echo "copy-bench: $pgmove not built (set PGMOVE_BUILD_DIR)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "copy-bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
if ! command -v pgcopydb >/dev/null; then
	echo "== installing pgcopydb (Debian package)"
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get install -y -q pgcopydb >/dev/null ||
		{ echo "copy-bench: cannot install pgcopydb (apt-get install pgcopydb)" >&2; exit 1; }
fi
export PGMOVE_PLUGIN_PATH=$build/plugins
sandbox=$top/scripts/pgmove-sandbox
work=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-copy-bench.XXXXXX")
chmod 0755 "$work"
[ -n "$dir" ] || dir=$work/sb
created=0
if ! "$sandbox" status --dir "$dir" >/dev/null 2>&1; then
	"$sandbox" start --dir "$dir" --port "$("$sandbox" free-port --port 57000)" --empty >/dev/null
	created=1
fi
cleanup() {
	[ $keep = 1 ] || [ $created = 0 ] || "$sandbox" stop --dir "$dir" >/dev/null 2>&1 || true
	rm -rf "$work/dump" "$work/pgcopydb" "$work/state"
	# the sandbox's data (hundreds of MB) went with it unless it is kept
	[ $keep = 1 ] || [ "$dir" != "$work/sb" ] || rm -rf "$work"
}
trap cleanup EXIT
eval "$("$sandbox" env --dir "$dir")"
. "$dir/sandbox.conf"
admin() { # admin SIDE SQL - as the superuser over the unix socket
	local p=$SANDBOX_PORT
	[ "$1" = target ] && p=$((SANDBOX_PORT + 1))
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir/run" \
		-p "$p" -U postgres -d app -c "$2"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
reset_target() {
	admin target "DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION pgmove" >/dev/null
}
rss_of() { awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$1"; }
# CPU seconds: a server's (its postmaster's reaped children: the backends
# of the method measured, which have exited) and a client's (/usr/bin/time)
tck=$(getconf CLK_TCK)
server_cpu() {
	awk -v t="$tck" '{ printf "%.2f", ($14 + $15 + $16 + $17) / t }' \
		"/proc/$(head -1 "$dir/$1/postmaster.pid")/stat"
}
client_cpu() { awk -F': ' '/(User|System) time/ { s += $2 } END { printf "%.2f", s }' "$1"; }
cpu_mark() { cs=$(server_cpu source) ct=$(server_cpu target); }
# cpu_line TIMEFILE - the CPU used since cpu_mark: both servers and the client
cpu_line() {
	sleep 0.3 # the last backends exit
	awk -v a="$cs" -v b="$(server_cpu source)" -v c="$ct" -v d="$(server_cpu target)" \
		-v e="$(client_cpu "$1")" 'BEGIN { printf "   CPU: source server %.2f s, target server %.2f s, client %.2f s, total %.2f s\n", b - a, d - c, e, b - a + d - c + e }'
}

if [ $load = 0 ]; then
	echo "== the source holds $(admin source "SELECT count(*) FROM pgbench_accounts") pgbench_accounts rows and $(admin source "SELECT count(*) FROM mixed") mixed rows (--no-load)"
else
	echo "== loading pgbench scale $scale and a $mixed-row mixed-type table on the source"
	t0=$(now)
	pgbench -i -q -s "$scale" "$PGMOVE_SOURCE" >/dev/null 2>&1
	psql -X -q -v ON_ERROR_STOP=1 "$PGMOVE_SOURCE" -c "
	DROP TABLE IF EXISTS mixed;
	CREATE TABLE mixed (id bigint PRIMARY KEY, n numeric(12,3), f float8, t text, j jsonb,
	ts timestamptz, u uuid, b bytea, flag bool, d date, arr int[]);
	INSERT INTO mixed SELECT i, i / 7.0, i * 0.5, 'row ' || i || repeat('x', i % 40),
	jsonb_build_object('i', i, 's', 'v' || i), '2024-01-01'::timestamptz + i * interval '1 s',
	md5(i::text)::uuid, decode(md5(i::text), 'hex'), i % 2 = 0, '2024-01-01'::date + i % 1000,
	ARRAY[i, i + 1] FROM generate_series(1, $mixed) i;" -c "VACUUM ANALYZE" >/dev/null 2>&1
	echo "   loaded in $(secs "$t0" "$(now)") s; source size $(admin source "SELECT pg_size_pretty(pg_database_size('app'))")"
fi

# 1. pgcopydb clone
reset_target
rm -rf "$work/pgcopydb"
cpu_mark
t0=$(now)
/usr/bin/time -v -o "$work/time.txt" pgcopydb clone --source "$PGMOVE_SOURCE" --target "$PGMOVE_TARGET" --table-jobs "$jobs" \
	--index-jobs "$jobs" --dir "$work/pgcopydb" --no-owner >"$work/pgcopydb.log" 2>&1 ||
	{ echo "pgcopydb clone failed:"; tail -20 "$work/pgcopydb.log"; exit 1; }
pgcopydb_s=$(secs "$t0" "$(now)")
echo "pgcopydb clone (table-jobs $jobs, index-jobs $jobs, no verification): $pgcopydb_s s"
cpu_line "$work/time.txt"

# 2. pg_dump -Fc | pg_restore
reset_target
cpu_mark
t0=$(now)
/usr/bin/time -v -o "$work/time.txt" sh -c 'pg_dump -Fc "$PGMOVE_SOURCE" | pg_restore --no-owner -d "$PGMOVE_TARGET"'
dump_s=$(secs "$t0" "$(now)")
echo "pg_dump -Fc | pg_restore: $dump_s s"
cpu_line "$work/time.txt"

# 3. pgmove: schema by pg_dump sections, data + indexes + verification by
# copy.data, then the rest of post-data
reset_target
mkdir -p "$work/dump"
cpu_mark
t0=$(now)
pg_dump -Fc --schema-only -f "$work/dump/schema.dump" "$PGMOVE_SOURCE"
pg_restore --no-owner --section=pre-data -d "$PGMOVE_TARGET" "$work/dump/schema.dump"
t1=$(now)
/usr/bin/time -v -o "$work/time.txt" "$pgmove" call --log-format plain -q copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET jobs="$jobs" index_jobs="$ijobs" index_workers="$iworkers" \
	indexes=true analyze=true verify="$verify" \
	schema_file="$work/dump/snap.dump" schema_check="$work/dump/schema.dump" >"$work/copy.json"
t2=$(now)
"$pgmove" call --log-format plain -q pgdump.restore conninfo=@env:PGMOVE_TARGET \
	file="$work/dump/snap.dump" sections='["post-data"]' no_owner=true jobs="$jobs" \
	exclude_entries="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["post_data"]))' "$work/copy.json")" \
	>"$work/post.json"
t3=$(now)
pgmove_s=$(secs "$t0" "$t3")
copy_s=$(secs "$t1" "$t2")
rss_all=$(rss_of "$work/time.txt")
echo "pgmove (pre-data, copy.data + verification + indexes + analyze, rest of post-data): $pgmove_s s" \
	"(copy.data $copy_s s, peak RSS $rss_all MB; $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["rows"], "rows,", len(d["tables"]), "tables, verified:", d["verified"])' "$work/copy.json"))"
cpu_line "$work/time.txt"
echo "   (client CPU: copy.data only)"
echo "   phases: pre-data (dump + restore) $(secs "$t0" "$t1") s; copy.data $copy_s s; rest of post-data $(secs "$t2" "$t3") s"
python3 - "$work/copy.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["phases"]
print("   copy.data: plan and schema dump %.2f s, data + verification + indexes + analyze %.2f s "
      "(wall), foreign keys %.2f s, sequences %.2f s" % (p["plan_ms"] / 1e3, p["data_ms"] / 1e3,
      p["foreign_keys_ms"] / 1e3, p["sequences_ms"] / 1e3))
print("   worker time summed over jobs: verification %.2f s, index builds %.2f s, analyze %.2f s, "
      "FK validation %.2f s" % (p["verify_ms_sum"] / 1e3, p["index_ms_sum"] / 1e3,
      p["analyze_ms_sum"] / 1e3, p["validate_ms_sum"] / 1e3))
for t in d["tables"][:4]:
    print("   %-28s %9d rows %8.1f MB  data in %.2f s, verify %.2f s, indexes %.2f s" % (
        t["table"], t["rows"], t["bytes"] / 1e6, t["data_ms"] / 1e3, t["verify_ms"] / 1e3,
        t["index_ms"] / 1e3))
PY

# memory: the mixed table alone, and pgbench_accounts alone (rows differ 1:N)
for t in public.mixed public.pgbench_accounts; do
	admin target "TRUNCATE $t" >/dev/null
	/usr/bin/time -v -o "$work/time.txt" "$pgmove" call --log-format plain -q copy.data \
		source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET jobs="$jobs" "tables=[\"$t\"]" \
		>"$work/one.json"
	echo "copy.data $t: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' "$work/one.json") rows, peak RSS $(rss_of "$work/time.txt") MB"
done

# 4. resume after a kill at 50%. By default a table under 4 GB that is not
# more than twice its share of the data is copied whole (one COPY FREEZE),
# and a kill loses it whole; the resume is measured with every table split
# (split_larger_than=0), against a full copy.data with the same split
reset_target
pg_restore --no-owner --section=pre-data -d "$PGMOVE_TARGET" "$work/dump/schema.dump"
t0=$(now)
"$pgmove" call --log-format plain -q copy.data source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET \
	jobs="$jobs" index_jobs="$ijobs" index_workers="$iworkers" indexes=true analyze=true \
	split_larger_than=0 >"$work/split.json"
split_s=$(secs "$t0" "$(now)")
echo "copy.data with every table split (split_larger_than=0): $split_s s"
cat >"$work/copy.lua" <<LUA
local copy = plugin "copy"
runbook "copy-bench" {
  params = {
    source = { type = "conninfo", env = "PGMOVE_SOURCE", secret = true, required = true },
    target = { type = "conninfo", env = "PGMOVE_TARGET", secret = true, required = true },
  },
}
step "copy" {
  run = function(ctx)
    return copy.data { source = ctx.params.source, target = ctx.params.target, jobs = $jobs,
                       index_jobs = $ijobs, index_workers = $iworkers,
                       indexes = true, analyze = true, split_larger_than = "0" }
  end,
}
LUA
export PGMOVE_STATE_DIR=$work/state
tables_size="SELECT coalesce(sum(pg_catalog.pg_table_size(c.oid)), 0) FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
src_size=$(admin source "$tables_size")
# half_data: the target's tables hold half of the source's bytes (those of
# chunks in flight too, lost at the kill). (Half of the chunks in the
# checkpoint was not half: tables not started are not in it, so it meant
# half of pgbench_accounts with mixed not started.)
half_data() {
	local t
	t=$(admin target "$tables_size" 2>/dev/null) || return 1
	[ $((t * 2)) -ge "$src_size" ]
}
# half_time: half of the full split copy's time has passed
half_time() {
	awk -v a="$t0" -v b="$(now)" -v s="$split_s" 'BEGIN { exit !(b - a >= s / 2) }'
}
# killed_resume ID UNTIL - the runbook run as ID on a target holding the
# pre-data, SIGKILLed once UNTIL holds, then pgmove resume: sets killed_s
# and resume_s
killed_resume() {
	reset_target
	pg_restore --no-owner --section=pre-data -d "$PGMOVE_TARGET" "$work/dump/schema.dump"
	"$pgmove" run "$work/copy.lua" --run-id "$1" >"$work/run-$1.log" 2>&1 &
	rpid=$!
	t0=$(now)
	while ! $2 && kill -0 $rpid 2>/dev/null; do sleep 0.1; done
	kill -9 $rpid 2>/dev/null || { echo "the copy ended before it was killed ($2)"; exit 1; }
	wait $rpid 2>/dev/null || true
	killed_s=$(secs "$t0" "$(now)")
	t0=$(now)
	"$pgmove" resume "$1" >"$work/resume-$1.log" 2>&1 ||
		{ echo "resume failed:"; tail "$work/resume-$1.log"; exit 1; }
	resume_s=$(secs "$t0" "$(now)")
}
killed_resume b1 half_data
data_resume_s=$resume_s
echo "copy.data killed once half of the data was in, after $killed_s s; pgmove resume: $resume_s s"
killed_resume b2 half_time
echo "copy.data killed at half of the split copy's time, after $killed_s s; pgmove resume: $resume_s s"

echo
echo "== ratios (targets from issue 13), jobs=$jobs (copy.data index_jobs=$ijobs index_workers=$iworkers), scale $scale, mixed $mixed rows"
what="copy+verify"
[ "$verify" = true ] || what="copy, verify=$verify: not the targets"
echo "pgmove ($what) / pgcopydb clone: $(ratio "$pgmove_s" "$pgcopydb_s")x  (target <= 1)"
echo "pgmove ($what) / pg_dump -Fc | pg_restore: $(ratio "$pgmove_s" "$dump_s")x  (target <= 0.5)"
echo "resume after a kill at 50% / copy.data (both split), killed at half of the data: $(ratio "$data_resume_s" "$split_s")x, at half of the time: $(ratio "$resume_s" "$split_s")x  (target <= 0.6)"
echo "peak RSS of copy.data (whole db):      $rss_all MB  (target < 64 MB, flat)"
