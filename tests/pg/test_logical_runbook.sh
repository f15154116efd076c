#!/bin/sh
# tests/pg/test_logical_runbook.sh - scripts/runbooks/logical-cdc-cutover.lua
# end to end on two real servers while pgbench (standard script) and our
# writer (tests/pg/logical-writer: inserts, updates, deletes with sequence
# keys, logging every committed transaction) write the whole time. pgmove
# is SIGKILLed at random moments during the initial copy, the catch-up and
# inside the fence, and resumed. After cutover: pgbench_history holds
# exactly the transactions pgbench reports, the writer's log replays to the
# target's state, the target's sequences are ahead, no slot is left on the
# source. Then, with the writer moved to the target by itself
# (target_session_attrs=read-write), a rollback: every write made on the
# target is on the old source, nothing applied twice, no slot anywhere.
. "$(dirname "$0")/lib.sh"

RUNBOOK="$top_srcdir/scripts/runbooks/logical-cdc-cutover.lua"
WRITER="$top_builddir/tests/pg/logical-writer"
REPLAY="$top_srcdir/tests/pg/logical_replay.py"
start_sandbox --rows 3000
as_admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$SB/run" -p "$1" -U postgres -d app -c "$2"; }
TPORT=$((SB_PORT + 1))
# pgmove is superuser on both (rds_superuser on RDS / Aurora).
as_admin "$SB_PORT" "ALTER ROLE pgmove SUPERUSER"
as_admin "$TPORT" "ALTER ROLE pgmove SUPERUSER"
psql_src "ALTER TABLE audit_log REPLICA IDENTITY FULL"
export PGPASSWORD="$SB_PASSWORD" # for pgbench and the writer: never in argv
BASE="host=127.0.0.1 dbname=app user=pgmove"
pgbench -i -s 1 -q "$BASE port=$SB_PORT" >"$T/pgbench-init.out" 2>&1 || bad "pgbench -i failed"
psql_src "ALTER TABLE pgbench_history REPLICA IDENTITY FULL"
"$WRITER" --setup "$BASE port=$SB_PORT" || bad "writer setup failed"

# The application: both servers, whichever accepts writes.
APP="host=127.0.0.1,127.0.0.1 port=$SB_PORT,$TPORT dbname=app user=pgmove target_session_attrs=read-write connect_timeout=2"
bg "$WRITER" "$APP" "$T/writer.log" --rate 100 --stop-file "$T/stop" --pause-file "$T/pause" >"$T/writer.json"
WPID=$BG
bg pgbench -n -c 2 -T 12 -R 40 "$BASE port=$SB_PORT" >"$T/pgbench.out" 2>&1
PGBPID=$BG

RUNDIR="$PGMOVE_STATE_DIR/logical-cdc-cutover/r1"
OPTS="-p stable_for=2s -p poll=500ms -p rollback_window=0s -p jobs=2 -p verify_live_for=2s -p verify_every=300ms"

# kill_when WHAT PATTERN ARGS... - runs pgmove ARGS in the background, and
# SIGKILLs it at a random moment (0-300 ms, 0-30 ms with quick=0) after
# PATTERN is journaled.
kill_when() {
	what=$1 pat=$2
	shift 2
	"$PGMOVE_BIN" "$@" >>"$T/runs.out" 2>&1 &
	kpid=$!
	echo $kpid >>"$T/bg.pids"
	i=0
	while ! grep -q "$pat" "$RUNDIR/journal.jsonl" 2>/dev/null && kill -0 $kpid 2>/dev/null &&
		[ $i -lt 3000 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	delay=$(($(od -An -N1 -tu1 /dev/urandom | tr -d ' ') % 4))
	sleep "0.${quick:-}$delay"
	if kill -9 $kpid 2>/dev/null; then
		wait $kpid 2>/dev/null
		ok "pgmove SIGKILLed $what (0.${quick:-}${delay}s after the mark)"
	else
		wait $kpid
		bad "pgmove ended before it could be killed $what (exit $?)"
		tail -5 "$T/runs.out"
	fi
}

kill_when "during the initial copy" '"node":"tables-ready"' run "$RUNBOOK" --run-id r1 $OPTS
echo "# tables not ready when killed: $(psql_tgt "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")"
kill_when "during the catch-up" '"node":"caught-up"' resume r1
expect 3 "resume runs to the cutover approval" pgmove resume r1
equals "$(psql_src 'SHOW default_transaction_read_only')" off "the source still takes writes"
# Before the approval: checksum.compare_live under writes, equal for 2 s.
grep '"wait.poll"' "$RUNDIR/journal.jsonl" | grep '"node":"checksums-match-live"' >"$T/live.polls"
[ -s "$T/live.polls" ] && ok "compare_live ran under writes ($(lines "$T/live.polls") polls)" ||
	bad "no poll of checksums-match-live in the journal"
has "$T/live.polls" '"differences":0' "compare_live found the two equal under writes"
grep -q '"ev":"wait.done","node":"checksums-match-live"' "$RUNDIR/journal.jsonl" &&
	ok "the live checksum wait was satisfied" || bad "the live checksum wait was not satisfied"

wait $PGBPID
pgb=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$T/pgbench.out")
echo "# pgbench committed $pgb transactions"
[ -n "$pgb" ] && [ "$pgb" -gt 100 ] && ok "pgbench ran ($pgb transactions)" || bad "pgbench: $(tail -3 "$T/pgbench.out")"
equals "$(grep -c 'failed transactions: 0 ' "$T/pgbench.out")" 1 "no pgbench transaction failed"

expect 0 "approve the cutover" pgmove approve r1 cutover --by tester
quick=0
kill_when "inside the fence" '"ev":"step.start","node":"fence"' resume r1
quick=
if grep -q '"ev":"step.succeeded","node":"fence"' "$RUNDIR/journal.jsonl"; then
	echo "# the kill came after the fence had finished"
else
	echo "# the kill came inside the fence (source read-only: $(psql_src 'SHOW default_transaction_read_only'))"
fi
expect 3 "resume completes the cutover and waits at the end of the rollback window" pgmove resume r1
has "$RUNDIR/journal.jsonl" '"ev":"step.succeeded","node":"switch"' "the switch succeeded"
has "$RUNDIR/journal.jsonl" '"ev":"gate.result","node":"verified-at-fence","ok":true' \
	"counts, checksums and sequences matched at the fence"
equals "$(psql_src 'SELECT count(*) FROM pg_replication_slots')" 0 "no slot is left on the source"
equals "$(psql_tgt "SELECT slot_name || ' ' || active FROM pg_replication_slots")" "pgmove_rev true" \
	"reverse replication's slot is on the target, active"
equals "$(psql_src 'SHOW default_transaction_read_only')" on "the source is read-only"
equals "$(psql_tgt 'SELECT count(*) FROM pgbench_history')" "$pgb" \
	"pgbench_history on the target holds every transaction pgbench committed"

# The writer moved to the target by itself.
i=0
while [ "$(grep -c " $TPORT\$" "$T/writer.log")" -lt 50 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
ok_t=$(grep -c " $TPORT\$" "$T/writer.log")
[ "$ok_t" -ge 50 ] && ok "the writer commits on the target ($ok_t)" || bad "the writer did not move ($ok_t)"
# Quiesce it, let reverse replication catch up, compare everything.
touch "$T/pause"
wait_for "$T/pause.ack" 20 || bad "the writer did not pause"
expect 0 "reverse replication caught up" call logical.wait_applied publisher=@env:PGMOVE_TARGET \
	subscriber=@env:PGMOVE_SOURCE subscription=pgmove_rev timeout=60s
psql_tgt "SELECT id || '|' || v FROM writer_items ORDER BY id" >"$T/items"
psql_tgt "SELECT n FROM writer_txn" >"$T/txns"
if "$PY" "$REPLAY" "$T/writer.log" "$T/items" "$T/txns" >"$T/replay.json"; then
	ok "the writer's log replays to the target's state ($(cat "$T/replay.json" | cut -c1-80))"
else
	bad "the target differs from the writer's log: $(cat "$T/replay.json")"
fi
maxid=$(awk -v p="$SB_PORT" '$2 == "insert" && $4 == p && $3 > m { m = $3 } END { print m + 0 }' "$T/writer.log")
equals "$(psql_tgt "SELECT last_value >= $maxid FROM writer_items_id_seq")" t \
	"the target's sequence is ahead of every key the source handed out ($maxid)"
expect 0 "source and target are equal (reverse replication carried the new writes)" \
	call checksum.compare source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "content checksums equal"
rm -f "$T/pause"

# Rollback during the window: the same fence the other way.
sleep 0.5
before=$(grep -c " $SB_PORT\$" "$T/writer.log")
expect 5 "pgmove rollback" pgmove rollback r1
i=0
while [ "$(grep -c " $SB_PORT\$" "$T/writer.log")" -le $((before + 20)) ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
touch "$T/stop"
wait $WPID
after=$(grep -c " $SB_PORT\$" "$T/writer.log")
[ "$after" -gt $((before + 20)) ] && ok "the writer moved back to the source" ||
	bad "the writer did not move back ($before -> $after)"
psql_src "SELECT id || '|' || v FROM writer_items ORDER BY id" >"$T/items"
psql_src "SELECT n FROM writer_txn" >"$T/txns"
if "$PY" "$REPLAY" "$T/writer.log" "$T/items" "$T/txns" >"$T/replay.json"; then
	ok "after the rollback the source holds every write, also those made on the target"
else
	bad "the source differs from the writer's log: $(cat "$T/replay.json")"
fi
cp "$T/writer.json" "$T/out"
equals "$(jq 'd["anomalies"]')" 0 "the writer never missed a row it had written"
echo "# writer: $(cat "$T/writer.json")"
# (the pause spans pgmove's fence, kill and resume: limit scales it)
equals "$(jq "d['max_gap_ms'] < $(limit 20) * 1000")" true "the longest write pause stayed under $(limit 20) s"
equals "$(psql_src 'SELECT count(*) FROM pg_replication_slots')" 0 "no slot on the source"
equals "$(psql_tgt 'SELECT count(*) FROM pg_replication_slots')" 0 "no slot on the target"
equals "$(psql_src 'SHOW default_transaction_read_only')" off "the source takes writes again"
if grep -rqF --exclude-dir=dump -- "$SB_PASSWORD" "$RUNDIR"; then
	bad "the password is in a file of the run"
else
	ok "the password is in no file of the run"
fi
finish
