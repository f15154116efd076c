#!/bin/sh
# tests/pg/test_checksum_live.sh - checksum.compare_live between a source
# written by the standard TPC-B pgbench (its branches and tellers rows are
# updated by every transaction: they never settle) and our writer, and a
# target following it by logical replication: repeated compares under
# writes report nothing (0 false alarms, while the plain compare sees rows
# in flight; the hot rows are decided by the lock round, pgbench_history,
# which has no key, by buckets); every corruption injected on the target
# (changed value, deleted row, extra row; in tables being written and in
# tables not written, with and without a key) is found with its table, its
# key (or ctid for a table without a key) and its kind in every repetition,
# and nothing else is; a wait with stable_for over it passes while clean and
# times out once the target is corrupted; the lock round decides locked
# rows by itself, and a lock statement that runs out of lock_timeout while a
# writer holds a row leaves the decision to the rounds, the writer
# undisturbed; bad input is refused. Prints the compare's time under writes
# and quiet, and the longest row lock held.
. "$(dirname "$0")/lib.sh"

WRITER="$top_builddir/tests/pg/logical-writer"
start_sandbox --rows 2000
as_admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$SB/run" -p "$1" -U postgres -d app -c "$2"; }
TPORT=$((SB_PORT + 1))
as_admin "$SB_PORT" "ALTER ROLE pgmove SUPERUSER"
as_admin "$TPORT" "ALTER ROLE pgmove SUPERUSER"
export PGPASSWORD="$SB_PASSWORD" # for pgbench and the writer: never in argv
BASE="host=127.0.0.1 dbname=app user=pgmove"
pgbench -i -s 1 -q "$BASE port=$SB_PORT" >"$T/pgbench-init.out" 2>&1 || bad "pgbench -i failed"
# Accounts that the standard script never writes (it picks aid in
# 1..100000 at scale 1), in the written table, for the corruptions.
psql_src "INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(100001, 100100) g"
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

# Writes: our writer (inserts, updates, deletes in writer_items) and the
# standard TPC-B pgbench (builtin tpcb-like: accounts, tellers, branches
# updated, pgbench_history, which has no key, inserted into).
bg "$WRITER" "$BASE port=$SB_PORT" "$T/writer.log" --rate 100 --stop-file "$T/stop" >"$T/writer.json"
bg pgbench -n -c 2 -R 100 -T 600 "$BASE port=$SB_PORT" >"$T/pgbench.out" 2>&1
PGBPID=$BG
sleep 1

# (large objects are left out: there are none, and under valgrind the
# compare's large-object scan once failed on the target with could not open
# file "base/16385/2995" while replication applied: not understood yet.)
LIVE="source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET marker=public.pgmove_marker jobs=2 large_objects=false"

# --- bad input -----------------------------------------------------------------------
expect 2 "no marker" call checksum.compare_live source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
has "$T/err" "marker" "the message names the argument"
expect 1 "rounds=1 is refused" call checksum.compare_live $LIVE rounds=1
has "$T/err" "rounds must be 2..1000" "the message says the range"
expect 1 "lock_attempts=0 is refused" call checksum.compare_live $LIVE lock_attempts=0
has "$T/err" "lock_attempts 1..100" "the message says the range"
expect 1 "lock_after beyond rounds is refused" call checksum.compare_live $LIVE rounds=3 lock_after=4
has "$T/err" "lock_after 1..rounds" "the message says the range"
# the first compare failing after lock_timeout's check opened a connection:
# that connection is closed (LeakSanitizer in an --enable-asan build, valgrind)
expect 1 "compare_live of a table that does not exist fails" call checksum.compare_live $LIVE \
	'tables=["no_such_table"]'
has "$T/err" "no_such_table" "the message names the table"
expect 1 "a lock_timeout at the deadlock_timeout is refused" call checksum.compare_live $LIVE \
	rounds=2 lock_timeout=1s
has "$T/err" "lock_timeout \(1000 ms\) must be below the source's deadlock_timeout \(1000 ms\)" \
	"the message names both settings"

# --- under writes: no false alarm --------------------------------------------------
# lock_after=2: the hot rows (pgbench_branches, pgbench_tellers) reach the
# lock round in (nearly) every call; pgbench_history's buckets get 10 rounds.
inflight=0
plain_diff=0
locked=0
held=0
acq=0
for rep in 1 2 3 4 5; do
	expect 0 "plain compare $rep under writes" call checksum.compare source=@env:PGMOVE_SOURCE \
		target=@env:PGMOVE_TARGET jobs=2 large_objects=false
	v=$(jq 'd["differences"]')
	plain_diff=$((plain_diff + ${v:-0}))
	expect 0 "compare_live $rep under writes" call checksum.compare_live $LIVE lock_after=2
	equals "$(jq 'd["equal"]')" true "compare_live $rep: equal ($(jq 'd["live"]'))"
	equals "$(jq 'd["live"]["confirmed"] + d["live"]["unsettled"]')" 0 \
		"compare_live $rep: nothing confirmed, nothing unsettled"
	v=$(jq 'd["live"]["rechecked"]')
	inflight=$((inflight + ${v:-0}))
	v=$(jq 'd["live"]["lock"]["keys"]')
	locked=$((locked + ${v:-0}))
	v=$(jq 'd["live"]["lock"]["held_ms_max"]')
	[ "${v:-0}" -gt "$held" ] && held=$v
	v=$(jq 'd["live"]["lock"]["acquire_ms_max"]')
	[ "${v:-0}" -gt "$acq" ] && acq=$v
	echo "$(jq 'd["duration_ms"]')" >>"$T/busy.ms"
done
echo "# the plain compare reported $plain_diff differences in flight over 5 runs; compare_live re-checked $inflight keys, $locked of them in a lock round; longest lock held: $held ms (of which acquiring: $acq ms)"
[ "$locked" -gt 0 ] && ok "the hot rows were decided in lock rounds ($locked keys)" ||
	bad "no lock round decided a key: the hot rows settled by themselves?"
kill -0 "$PGBPID" 2>/dev/null && ok "pgbench is still writing" || bad "pgbench stopped: $(tail -3 "$T/pgbench.out")"
# Without the lock round, a hot row may stay unsettled, but is never
# called a difference.
expect 0 "compare_live lock=false under writes" call checksum.compare_live $LIVE rounds=2 lock=false
equals "$(jq 'd["live"]["confirmed"]')" 0 "lock=false: nothing confirmed ($(jq 'd["live"]["unsettled"]') unsettled)"
equals "$(jq 'd["live"]["lock"]["attempts"]')" 0 "lock=false: no lock taken"

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
                                 lock_after = 2 }
    return r.equal, { differences = r.differences, rechecked = r.live.rechecked }
  end,
}
EOF
# (each compare_live pass under writes takes seconds, tens under valgrind:
# the wait's timeout scales with limit)
expect 0 "the stable_for wait passes under writes" pgmove run "$T/rb/live.lua" --run-id g1 \
	-p limit="$(limit 60)s"

# --- corruption on the target, found in every repetition --------------------------
# A row of a table without a key is located by its ctid (on the source for
# a missing row, on the target for an extra one); a changed row there is a
# missing and an extra row. rowsql TABLE CTID_SQL picks a row by a query.
src_ctid_of() { # TABLE MD5 - the source row with this text's md5
	psql_src "SELECT ctid FROM $1 a WHERE md5(a::text) = '$2' LIMIT 1"
}
: >"$T/expected"
for rep in 1 2 3; do
	a=$((100010 + rep)) d=$((100020 + rep)) x=$((200000 + rep))
	o=$((10 + rep)) od=$((20 + rep)) ox=$((900000 + rep))
	# pgbench_history (written, no key): change and delete older rows.
	hc=$(psql_tgt "SELECT ctid FROM pgbench_history ORDER BY mtime, aid LIMIT 1 OFFSET $((10 * rep))")
	hd=$(psql_tgt "SELECT ctid FROM pgbench_history ORDER BY mtime, aid LIMIT 1 OFFSET $((10 * rep + 5))")
	hcm=$(psql_tgt "SELECT md5(a::text) FROM pgbench_history a WHERE ctid = '$hc'")
	hdm=$(psql_tgt "SELECT md5(a::text) FROM pgbench_history a WHERE ctid = '$hd'")
	# audit_log (not written, no key, has duplicate rows): rows that occur once.
	uniq="SELECT ctid FROM audit_log a WHERE (SELECT count(*) FROM audit_log b WHERE b::text = a::text) = 1 ORDER BY ctid"
	lc=$(psql_tgt "$uniq LIMIT 1 OFFSET $((4 * rep))")
	ld=$(psql_tgt "$uniq LIMIT 1 OFFSET $((4 * rep + 2))")
	lcm=$(psql_tgt "SELECT md5(a::text) FROM audit_log a WHERE ctid = '$lc'")
	ldm=$(psql_tgt "SELECT md5(a::text) FROM audit_log a WHERE ctid = '$ld'")
	hcs=$(src_ctid_of pgbench_history "$hcm") hds=$(src_ctid_of pgbench_history "$hdm")
	lcs=$(src_ctid_of audit_log "$lcm") lds=$(src_ctid_of audit_log "$ldm")
	[ -n "$hcs" ] && [ -n "$hds" ] && [ -n "$lcs" ] && [ -n "$lds" ] ||
		bad "repetition $rep: the rows to corrupt are not on the source ($hcs $hds $lcs $lds)"
	psql_tgt "UPDATE pgbench_accounts SET filler = 'corrupt' WHERE aid = $a;
		DELETE FROM pgbench_accounts WHERE aid = $d;
		INSERT INTO pgbench_accounts (aid, bid, abalance, filler) VALUES ($x, 1, 0, 'x');
		UPDATE transactions SET memo = coalesce(memo, '') || '!' WHERE id = $o;
		DELETE FROM transactions WHERE id = $od;
		INSERT INTO transactions (id, amount) VALUES ($ox, 1);
		DELETE FROM pgbench_history WHERE ctid = '$hd';
		DELETE FROM audit_log WHERE ctid = '$ld'" || bad "injecting failed"
	hct=$(psql_tgt "UPDATE pgbench_history SET delta = delta + 1 WHERE ctid = '$hc' RETURNING ctid")
	hxt=$(psql_tgt "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, $x, 7, now()) RETURNING ctid")
	lct=$(psql_tgt "UPDATE audit_log SET actor = actor || '!' WHERE ctid = '$lc' RETURNING ctid")
	lxt=$(psql_tgt "INSERT INTO audit_log (actor, action) VALUES ('intruder$rep', 'x') RETURNING ctid")
	cat >>"$T/expected" <<EOF
public.pgbench_accounts changed aid=$a
public.pgbench_accounts missing aid=$d
public.pgbench_accounts extra aid=$x
public.transactions changed id=$o
public.transactions missing id=$od
public.transactions extra id=$ox
public.pgbench_history missing $hcs
public.pgbench_history extra $hct
public.pgbench_history missing $hds
public.pgbench_history extra $hxt
public.audit_log missing $lcs
public.audit_log extra $lct
public.audit_log missing $lds
public.audit_log extra $lxt
EOF
	sort -o "$T/expected" "$T/expected"
	expect 0 "compare_live after corruption $rep" call checksum.compare_live $LIVE lock_after=2 \
		max_differences=1000
	equals "$(jq 'd["equal"]')" false "repetition $rep: not equal"
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for m in d["mismatches"]:
    loc = ",".join("%s=%s" % kv for kv in m["key"].items()) if "key" in m else \
        m.get("source_ctid") or m.get("target_ctid") or "?"
    print(m["table"], m["kind"], loc)' "$T/out" |
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
	catch_up_timeout=1s 'exclude=["marker2"]'
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

# --- the lock round, deterministically (quiet pair, lock_after=1) -------------------
# After round 1 no rule applies yet, so every differing key with a row on the
# source is decided under the lock: the changed and missing rows of
# transactions with the lock's proof, the extra ones (no row on the source to
# lock) by the rules in round 2.
TX="source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET marker=public.pgmove_marker jobs=2 large_objects=false tables=[\"transactions\"]"
expect 0 "compare_live lock_after=1" call checksum.compare_live $TX lock_after=1
equals "$(jq '[d["live"]["lock"][k] for k in ("taken", "keys", "absent", "timeouts")]')" "[1, 6, 3, 0]" \
	"one lock round: 6 keys locked, 3 absent on the source"
equals "$(jq 'sorted((m["kind"], m["key"]["id"], m["proof"][:8]) for m in d["mismatches"])')" \
	'[["changed", "11", "row lock"], ["changed", "12", "row lock"], ["changed", "13", "row lock"], ["extra", "900001", "target r"], ["extra", "900002", "target r"], ["extra", "900003", "target r"], ["missing", "21", "row lock"], ["missing", "22", "row lock"], ["missing", "23", "row lock"]]' \
	"the locked rows decided by the lock, the extra ones by the rules"
# A writer holds row 11 longer than lock_timeout: the lock statement is
# cancelled (twice), nothing is held, the rounds decide; the writer is not
# disturbed. The writer holds the row until the compare is done (it waits
# for an advisory lock that a gate session holds until then), however long
# the compare takes.
PGAPPNAME=pgmove-test-gate psql -X -q "$PGMOVE_SOURCE" -c "SELECT pg_advisory_lock(4711)" \
	-c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
GATE=$!
echo $GATE >>"$T/bg.pids"
wait_sql psql_src "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4711 AND granted" ||
	bad "the gate session did not take its advisory lock"
psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_SOURCE" -c "BEGIN" \
	-c "UPDATE transactions SET memo = memo WHERE id = 11" -c "SELECT pg_advisory_lock(4711)" -c "COMMIT" \
	>"$T/blocker.out" 2>&1 &
BLK=$!
wait_sql psql_src "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4711 AND NOT granted" ||
	bad "the writer did not get to hold row 11"
expect 0 "compare_live lock_after=1 while a writer holds a row" call checksum.compare_live $TX \
	lock_after=1 lock_timeout=100ms lock_attempts=2
kill $GATE 2>/dev/null
psql_src "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgmove-test-gate'" >/dev/null
equals "$(jq '[d["live"]["lock"][k] for k in ("taken", "timeouts", "attempts")]')" "[0, 2, 2]" \
	"both lock statements ran out of lock_timeout"
equals "$(jq 'sorted((m["kind"], m["key"]["id"]) for m in d["mismatches"])')" \
	'[["changed", "11"], ["changed", "12"], ["changed", "13"], ["extra", "900001"], ["extra", "900002"], ["extra", "900003"], ["missing", "21"], ["missing", "22"], ["missing", "23"]]' \
	"the rounds decided the same differences"
wait $BLK && ok "the writer holding the row committed" || bad "the writer failed: $(cat "$T/blocker.out")"
echo "# compare_live ms under writes: $(tr '\n' ' ' <"$T/busy.ms"); quiet: $(tr '\n' ' ' <"$T/quiet.ms")"
lacks "$T/err" "$SB_PASSWORD" "no password in messages"
call logical.drop $PAIR subscription=live publication=live >/dev/null 2>&1
finish
