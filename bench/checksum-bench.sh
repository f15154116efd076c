#!/usr/bin/env bash
# bench/checksum-bench.sh - checksum.compare against its baselines, measured
# in one run on two sandbox servers loaded with pgbench (run by hand, not in
# make check):
#   - COPY pgbench_accounts TO '/dev/null' on both servers at once
#   - the seeds' query, md5(array_agg(md5(row::text))::text) ordered by key,
#     on both servers at once
#   - pgmove call checksum.compare (full content, default settings), its
#     wall time and peak RSS (/usr/bin/time -v), on the whole database and
#     on a 1M-row copy of pgbench_accounts (RSS must not grow with rows)
# and prints the ratios the issue sets as targets (compare <= 1.5x COPY,
# >= 6x faster than the seeds' query, RSS < 64 MB and flat).
#
#   bench/checksum-bench.sh [--scale N] [--dir DIR] [--port PORT] [--keep] [--big]
#     --scale N   pgbench scale factor (default 100: 10M rows, ~1.5 GB per server)
#     --dir DIR   sandbox directory (default: a temporary one); reused when it
#                 already holds a running sandbox with pgbench data
#     --keep      leave the sandbox running
#     --big       also compare a 100M-row table (and try the seeds' query on it)
#   PGMOVE_BUILD_DIR  build directory holding pgmove (default ./build)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PGMOVE_BUILD_DIR:-$top/build}
scale=100
dir=
port=
keep=0
big=0
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--port) port=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--big) big=1; shift ;;
	*) sed -n '2,22p' "$0" >&2; exit 2 ;;
	esac
done
pgmove=$build/pgmove
[ -x "$pgmove" ] || { echo "checksum-bench: $pgmove not built (set PGMOVE_BUILD_DIR)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "checksum-bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
export PGMOVE_PLUGIN_PATH=$build/plugins
sandbox=$top/scripts/pgmove-sandbox
created=0
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-bench.XXXXXX")
	chmod 0755 "$dir"
	dir=$dir/sb
fi
if ! "$sandbox" status --dir "$dir" >/dev/null 2>&1; then
	[ -n "$port" ] || port=$("$sandbox" free-port --port 56000)
	"$sandbox" start --dir "$dir" --port "$port" --empty >/dev/null
	created=1
fi
cleanup() { [ $keep = 1 ] || [ $created = 0 ] || "$sandbox" stop --dir "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
eval "$("$sandbox" env --dir "$dir")"
. "$dir/sandbox.conf"
admin() { # admin SIDE SQL - as the superuser over the unix socket
	local p=$SANDBOX_PORT
	[ "$1" = target ] && p=$((SANDBOX_PORT + 1))
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -h "$dir/run" -p "$p" -U postgres -d app -c "$2"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, a / b }'; }

rows=$(admin source "SELECT count(*) FROM pgbench_accounts" 2>/dev/null || echo 0)
if [ "$rows" != $((scale * 100000)) ]; then
	echo "== loading pgbench scale $scale on both servers"
	t0=$(now)
	pgbench -i -q -s "$scale" "$PGMOVE_SOURCE" >/dev/null 2>&1 &
	pgbench -i -q -s "$scale" "$PGMOVE_TARGET" >/dev/null 2>&1 &
	wait
	echo "   loaded in $(secs "$t0" "$(now)") s"
fi
for s in source target; do
	admin $s "VACUUM ANALYZE" >/dev/null 2>&1 &
done
wait
echo "== pgbench_accounts: $(admin source 'SELECT count(*) FROM pgbench_accounts') rows," \
	"$(admin source "SELECT pg_size_pretty(pg_total_relation_size('pgbench_accounts'))") per server"

# warm the caches once (the first pass also sets hint bits)
admin source "COPY pgbench_accounts TO '/dev/null'" &
admin target "COPY pgbench_accounts TO '/dev/null'" &
wait

t0=$(now)
admin source "COPY pgbench_accounts TO '/dev/null'" &
admin target "COPY pgbench_accounts TO '/dev/null'" &
wait
copy=$(secs "$t0" "$(now)")
echo "COPY pgbench_accounts TO '/dev/null', both servers at once: $copy s"

seeds_q="SELECT md5(array_agg(md5(row::text))::text) FROM (SELECT * FROM pgbench_accounts ORDER BY aid) row"
t0=$(now)
psql -X -q -At "$PGMOVE_SOURCE" -c "$seeds_q" >/dev/null &
psql -X -q -At "$PGMOVE_TARGET" -c "$seeds_q" >/dev/null &
wait
seeds=$(secs "$t0" "$(now)")
echo "seeds' md5(array_agg(md5(row::text))) query, both servers at once: $seeds s"

# compare_run LABEL ARGS... - one checksum.compare; sets cmp_s and cmp_kb
compare_run() {
	local label=$1
	shift
	/usr/bin/time -v -o "$dir/../time.txt" "$pgmove" call --log-format plain -q checksum.compare \
		source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET "$@" >"$dir/../compare.json"
	cmp_s=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0;
		for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%.2f", s }' "$dir/../time.txt")
	cmp_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/../time.txt")
	local eq
	eq=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["equal"], d["rows_source"])' \
		"$dir/../compare.json")
	echo "checksum.compare ($label): $cmp_s s, peak RSS $((cmp_kb / 1024)) MB, equal/rows: $eq"
}
compare_run "whole database, default settings"
full_s=$cmp_s full_kb=$cmp_kb

for s in source target; do
	admin $s "DROP TABLE IF EXISTS accounts_1m;
		CREATE TABLE accounts_1m AS SELECT * FROM pgbench_accounts WHERE aid <= 1000000;
		ALTER TABLE accounts_1m ADD PRIMARY KEY (aid); ALTER TABLE accounts_1m OWNER TO pgmove;
		ANALYZE accounts_1m" >/dev/null &
done
wait
compare_run "1M-row table" 'tables=["accounts_1m"]'
small_kb=$cmp_kb
compare_run "10M-row pgbench_accounts" 'tables=["pgbench_accounts"]'
acc_s=$cmp_s acc_kb=$cmp_kb
compare_run "10M-row pgbench_accounts, hash=text" 'tables=["pgbench_accounts"]' hash=text
text_s=$cmp_s

echo
echo "== ratios (targets from issue 4)"
echo "compare / COPY both at once:      $(ratio "$acc_s" "$copy" %.2f)x  (target <= 1.5x)"
echo "seeds' query / compare:           $(ratio "$seeds" "$acc_s" %.1f)x  (target >= 6x)"
echo "compare hash=text / COPY:         $(ratio "$text_s" "$copy" %.2f)x"
echo "peak RSS 1M rows / 10M rows / db: $((small_kb / 1024)) / $((acc_kb / 1024)) / $((full_kb / 1024)) MB  (target < 64 MB, flat)"

if [ $big = 1 ]; then
	echo
	echo "== 100M-row table"
	for s in source target; do
		admin $s "DROP TABLE IF EXISTS big100m;
			CREATE TABLE big100m (id bigint, v int);
			INSERT INTO big100m SELECT i, i % 1000 FROM generate_series(1, 100000000) i;
			ALTER TABLE big100m ADD PRIMARY KEY (id); ALTER TABLE big100m OWNER TO pgmove" >/dev/null &&
			admin $s "VACUUM ANALYZE big100m" &
	done
	wait
	compare_run "100M-row table" 'tables=["big100m"]'
	t0=$(now)
	if psql -X -q -At "$PGMOVE_SOURCE" -c \
		"SELECT md5(array_agg(md5(row::text))::text) FROM (SELECT * FROM big100m ORDER BY id) row" \
		>/dev/null 2>"$dir/../seeds.err"; then
		echo "seeds' query on 100M rows: $(secs "$t0" "$(now)") s"
	else
		echo "seeds' query on 100M rows failed after $(secs "$t0" "$(now)") s: $(head -n 1 "$dir/../seeds.err")"
	fi
fi
