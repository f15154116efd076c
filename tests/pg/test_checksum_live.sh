#!/bin/sh
# tests/pg/test_checksum_live.sh - checksum.compare_live between a source
# written by pgbench and our writer and a target following it by logical
# replication: repeated compares under writes report nothing (0 false
# alarms, while the plain compare sees rows in flight); every corruption
# injected on the target (changed value, deleted row, extra row; in tables
# being written and in a table not written) is found with its table, key
# and kind in every repetition, and nothing else is; a wait with stable_for
# over it passes while clean and times out once the target is corrupted;
# bad input is refused. Prints the compare's time under writes and quiet.
. "$(dirname "$0")/lib.sh"

WRITER="$top_builddir/tests/pg/logical-writer"
start_sandbox --rows 2000
as_admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$SB/run" -p "$1" -U postgres -d app -c "$2"; }
TPORT=$((SB_PORT + 1))
as_admin "$SB_PORT" "ALTER ROLE pgmove SUPERUSER"
as_admin "$TPORT" "ALTER ROLE pgmove SUPERUSER"
psql_src "ALTER TABLE audit_log REPLICA IDENTITY FULL"
export PGPASSWORD="$SB_PASSWORD" # for pgbench and the writer: never in argv
BASE="host=127.0.0.1 dbname=app user=pgmove"
pgbench -i -s 1 -q "$BASE port=$SB_PORT" >"$T/pgbench-init.out" 2>&1 || bad "pgbench -i failed"
# pgbench_history gets a key, so that its rows can be told apart.
psql_src "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"
"$WRITER" --setup "$BASE port=$SB_PORT" || bad "writer setup failed"
psql_src "CREATE TABLE pgmove_marker (id int PRIMARY KEY, n bigint NOT NULL)"
pg_dump --schema-only "$PGMOVE_SOURCE" | psql -X -q "$PGMOVE_TARGET" >/dev/null 2>&1
PAIR="publisher=@env:PGMOVE_SOURCE subscriber=@env:PGMOVE_TARGET"
expect 0 "publication" call logical.create_publication conninfo=@env:PGMOVE_SOURCE name=live
expect 0 "subscription" call logical.create_subscription $PAIR name=live publication=live
i=0
while [ "$(psql_tgt "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" != 0 ] &&
	[ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
equals "$(psql_tgt "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" 0 \
	"the initial copy is done"

# Writes: our writer (inserts, updates, deletes in writer_items) and pgbench
# updating pgbench_accounts 1..50000 and inserting into pgbench_history.
cat >"$T/bench.sql" <<'EOF'
\set aid random(1, 50000)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);
END;
EOF
bg "$WRITER" "$BASE port=$SB_PORT" "$T/writer.log" --rate 100 --stop-file "$T/stop" >"$T/writer.json"
bg pgbench -n -c 2 -R 100 -T 600 -f "$T/bench.sql" "$BASE port=$SB_PORT" >"$T/pgbench.out" 2>&1
PGBPID=$BG
sleep 1

# (large objects are left out: there are none, and under valgrind the
# compare's large-object scan once failed on the target with could not open
# file "base/16385/2995" while replication applied: not understood yet.)
LIVE="source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET marker=public.pgmove_marker jobs=2 large_objects=false exclude=[\"audit_log\"]"

# --- bad input -----------------------------------------------------------------------
expect 2 "no marker" call checksum.compare_live source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
has "$T/err" "marker" "the message names the argument"
expect 1 "rounds=1 is refused" call checksum.compare_live $LIVE rounds=1
has "$T/err" "rounds must be 2..1000" "the message says the range"

# --- under writes: no false alarm --------------------------------------------------
inflight=0
plain_diff=0
for rep in 1 2 3 4 5; do
	expect 0 "plain compare $rep under writes" call checksum.compare source=@env:PGMOVE_SOURCE \
		target=@env:PGMOVE_TARGET jobs=2 'exclude=["audit_log"]'
	v=$(jq 'd["differences"]')
	plain_diff=$((plain_diff + ${v:-0}))
	expect 0 "compare_live $rep under writes" call checksum.compare_live $LIVE
	equals "$(jq 'd["equal"]')" true "compare_live $rep: equal ($(jq 'd["live"]'))"
	equals "$(jq 'd["live"]["in_flight"] == d["live"]["rechecked"]')" true \
		"compare_live $rep: every re-checked row was in flight"
	v=$(jq 'd["live"]["rechecked"]')
	inflight=$((inflight + ${v:-0}))
	echo "$(jq 'd["duration_ms"]')" >>"$T/busy.ms"
done
echo "# the plain compare reported $plain_diff differences in flight over 5 runs; compare_live re-checked $inflight rows"
kill -0 "$PGBPID" 2>/dev/null && ok "pgbench is still writing" || bad "pgbench stopped: $(tail -3 "$T/pgbench.out")"

# --- a gate: the checksums stay equal for 2 s -------------------------------------
mkdir -p "$T/rb"
cat >"$T/rb/live.lua" <<'EOF'
local sum = plugin "checksum"
runbook "live-verify" {
  summary = "checksums match while writes continue",
  params = { source = { type = "conninfo", env = "PGMOVE_SOURCE", secret = true },
             target = { type = "conninfo", env = "PGMOVE_TARGET", secret = true },
             window = { type = "string", default = "2s" }, limit = { type = "string", default = "60s" } },
}
wait "checksums-stable" {
  every = "200ms", stable_for = params.window, timeout = params.limit,
  condition = function(ctx)
    local r = sum.compare_live { source = ctx.params.source, target = ctx.params.target,
                                 marker = "public.pgmove_marker", jobs = 2, large_objects = false,
                                 exclude = { "audit_log" } }
    return r.equal, { differences = r.differences, rechecked = r.live.rechecked }
  end,
}
EOF
expect 0 "the stable_for wait passes under writes" pgmove run "$T/rb/live.lua" --run-id g1

# --- corruption on the target, found in every repetition --------------------------
: >"$T/expected"
for rep in 1 2 3; do
	a=$((60000 + rep)) d=$((70000 + rep)) x=$((200000 + rep))
	h=$(psql_tgt "SELECT min(hid) + $rep FROM pgbench_history")
	o=$((10 + rep)) od=$((20 + rep)) ox=$((900000 + rep))
	psql_tgt "UPDATE pgbench_accounts SET filler = 'corrupt' WHERE aid = $a;
		DELETE FROM pgbench_accounts WHERE aid = $d;
		INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES ($x, 1, 0, 'x');
		UPDATE pgbench_history SET delta = delta + 1 WHERE hid = $h;
		DELETE FROM pgbench_history WHERE hid = $((h + 100));
		INSERT INTO pgbench_history (hid, tid, bid, aid, delta) VALUES ($((1000000000 + rep)), 1, 1, 1, 0);
		UPDATE transactions SET memo = coalesce(memo, '') || '!' WHERE id = $o;
		DELETE FROM transactions WHERE id = $od;
		INSERT INTO transactions (id, amount) VALUES ($ox, 1)" || bad "injecting failed"
	cat >>"$T/expected" <<EOF
public.pgbench_accounts changed aid=$a
public.pgbench_accounts missing aid=$d
public.pgbench_accounts extra aid=$x
public.pgbench_history changed hid=$h
public.pgbench_history missing hid=$((h + 100))
public.pgbench_history extra hid=$((1000000000 + rep))
public.transactions changed id=$o
public.transactions missing id=$od
public.transactions extra id=$ox
EOF
	sort -o "$T/expected" "$T/expected"
	expect 0 "compare_live after corruption $rep" call checksum.compare_live $LIVE
	equals "$(jq 'd["equal"]')" false "repetition $rep: not equal"
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for m in d["mismatches"]:
    print(m["table"], m["kind"], ",".join("%s=%s" % kv for kv in m["key"].items()))' "$T/out" |
		sort >"$T/found"
	if cmp -s "$T/expected" "$T/found"; then
		ok "repetition $rep: all $(lines "$T/expected") corruptions found and located, nothing else"
	else
		bad "repetition $rep: found differs from injected: $(diff "$T/expected" "$T/found" | tr '\n' ' ')"
	fi
	equals "$(jq 'd["live"]["unsettled"]')" 0 "repetition $rep: nothing unsettled"
done

# A marker the target never shows (not in the subscription): a clear error.
psql_src "CREATE TABLE marker2 (id int PRIMARY KEY, n bigint NOT NULL)"
psql_tgt "CREATE TABLE marker2 (id int PRIMARY KEY, n bigint NOT NULL)"
expect 1 "a marker that is not replicated" call checksum.compare_live $LIVE marker=marker2 \
	catch_up_timeout=1s 'exclude=["audit_log","marker2"]'
has "$T/err" "checksum.catch_up.*did not show marker marker2 = [0-9]+ within 1000 ms" \
	"the error names the marker and the wait"

expect 1 "the stable_for wait times out on a corrupted target" pgmove run "$T/rb/live.lua" \
	--run-id g2 -p window=1s -p limit=3s

# --- quiet pair: the same compare ------------------------------------------------------
kill "$PGBPID" 2>/dev/null
touch "$T/stop"
sleep 1
for rep in 1 2 3; do
	expect 0 "compare_live $rep on a quiet pair" call checksum.compare_live $LIVE
	echo "$(jq 'd["duration_ms"]')" >>"$T/quiet.ms"
done
equals "$(jq 'd["live"]["in_flight"]')" 0 "nothing is in flight on a quiet pair"
echo "# compare_live ms under writes: $(tr '\n' ' ' <"$T/busy.ms"); quiet: $(tr '\n' ' ' <"$T/quiet.ms")"
lacks "$T/err" "$SB_PASSWORD" "no password in messages"
call logical.drop $PAIR subscription=live publication=live >/dev/null 2>&1
finish
