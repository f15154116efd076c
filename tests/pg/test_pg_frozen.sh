#!/bin/sh
# tests/pg/test_pg_frozen.sh - a frozen server (every process of it stopped
# with SIGSTOP, as a paused VM or a black-holed network looks to a client)
# must not hang pgmove: checksum.compare fails within its --timeout, a
# SIGTERM or SIGINT stops it within a few seconds, a connection attempt gives up
# after connect_timeout, and every connection pgmove opens has TCP
# keepalives. Before the fix the cancel request (a blocking PQcancel) waited
# forever for the frozen postmaster.
. "$(dirname "$0")/lib.sh"

start_sandbox --empty
. "$SB/sandbox.conf"
TPORT=$((SB_PORT + 1))

# freeze / thaw - SIGSTOP / SIGCONT the target's postmaster and children.
frozen=0
target_pids() {
	pm=$(head -1 "$SB/target/postmaster.pid")
	echo "$pm"
	ps -o pid= --ppid "$pm"
}
freeze() { frozen=1; kill -STOP $(target_pids); }
thaw() { kill -CONT $(target_pids) 2>/dev/null; frozen=0; }
extra_cleanup() {
	[ "$frozen" = 1 ] && thaw
	"$SANDBOX" stop --dir "$SB" >/dev/null 2>&1 || true
}

for side in src tgt; do
	psql_$side "CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i" >/dev/null
done

# lock_target - a session holding an exclusive lock on t, so that the
# compare's queries on the target wait; returns once the lock is held.
# unlock_target ends that session (its backend too: a backend in pg_sleep
# does not notice that its client is gone).
LOCKER_APP=pgmove-test-locker
lock_target() {
	PGAPPNAME=$LOCKER_APP psql -X -q "$PGMOVE_TARGET" \
		-c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);" >/dev/null 2>&1 &
	echo $! >>"$T/bg.pids" # stopped by cleanup if still running
	LOCKER=$!
	wait_sql psql_tgt "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.relation = 't'::regclass AND l.granted AND a.application_name = '$LOCKER_APP'" ||
		bad "the locking session did not get its lock on t within $(limit 10)s"
}
unlock_target() {
	kill "$LOCKER" 2>/dev/null
	wait "$LOCKER" 2>/dev/null
	psql_tgt "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$LOCKER_APP'" >/dev/null
}

# wait_blocked - until a session on the target other than the locking one
# waits for a lock (the compare's query on t): 0, or 1 after $(limit 10) s.
wait_blocked() {
	wait_sql psql_tgt "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND application_name <> '$LOCKER_APP' AND pid <> pg_backend_pid()"
}

# wait_exit PID SECONDS - 0 when PID ended within SECONDS (its status in
# $RC), 1 (and PID killed) when not.
wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"
		wait "$1" 2>/dev/null
		return 1
	fi
	wait "$1"
	RC=$?
	return 0
}

# SLACK - seconds more for each bound when pgmove runs slower than on an
# idle machine (TIME_FACTOR > 1): 6 under valgrind, for its start-up and
# the plugin's load. STOP_SLACK - seconds more for a cancelled statement to
# stop: pgmove waits 2 s plus 4 times its connection time (at most 30 s,
# core/host/pgconn.c), and under valgrind connecting takes seconds.
SLACK=0 STOP_SLACK=0
[ "$TIME_FACTOR" -gt 1 ] && SLACK=6 STOP_SLACK=30

# start_compare ARGS... - checksum.compare in the background; its pid in CPID.
start_compare() {
	(exec "$PGMOVE_BIN" call --log-format plain "$@" checksum.compare source=@env:PGMOVE_SOURCE \
		target=@env:PGMOVE_TARGET jobs=1 >"$T/out" 2>"$T/err") &
	CPID=$!
	echo $CPID >>"$T/bg.pids"
}

# --- the deadline -----------------------------------------------------------
lock_target
start=$(date +%s)
TO=$((4 + 2 * SLACK))
start_compare --timeout ${TO}s
wait_blocked || bad "the compare did not reach its query on t within $(limit 10)s"
# While the compare waits: its connection has a keepalive timer of at most
# 30 s (libpq's own default is the system's: two hours).
# ss shows one timer per socket: while the query's bytes are not yet
# acknowledged it is the retransmission timer ("timer:(on,168ms,0)", seen
# under a full make check), so the snapshot is taken again until the
# keepalive timer shows, for at most $(limit 5) s
keepalive() { grep "pid=$CPID," "$T/ss" | grep -Eq "timer:\(keepalive,([0-9.]+ms|[0-9.]+sec),"; }
i=0
while ss -tnopH state established "( dport = :$TPORT )" >"$T/ss" 2>&1 && ! keepalive &&
	[ $i -lt $(($(limit 5) * 4)) ]; do
	sleep 0.25
	i=$((i + 1))
done
if keepalive; then
	ok "pgmove's connection to the target has TCP keepalives every 30 s"
else
	sed 's/^/    | /' "$T/ss"
	bad "pgmove's connection to the target has TCP keepalives every 30 s"
fi
freeze
if wait_exit $CPID $((20 + SLACK + STOP_SLACK)); then
	elapsed=$(($(date +%s) - start))
	equals "$RC" 1 "compare against a frozen server fails at its deadline"
	[ "$elapsed" -le $((TO + 7 + SLACK + STOP_SLACK)) ] && ok "it failed after ${elapsed}s (--timeout ${TO}s)" ||
		bad "it failed after ${elapsed}s (--timeout ${TO}s)"
	has "$T/err" "timed out after ${TO}s" "the error says the call timed out"
	lacks "$T/err" "$SB_PASSWORD" "the error holds no password"
else
	bad "compare still running $((20 + SLACK + STOP_SLACK))s after its ${TO}s deadline with a frozen target"
fi
thaw
unlock_target

# --- SIGTERM, SIGINT -------------------------------------------------------------
for sig in TERM INT; do
	lock_target
	start_compare
	wait_blocked || bad "the compare did not reach its query on t within $(limit 10)s"
	freeze
	kill -$sig $CPID
	start=$(date +%s)
	if wait_exit $CPID $((15 + SLACK + STOP_SLACK)); then
		elapsed=$(($(date +%s) - start))
		equals "$RC" 1 "SIG$sig stops a compare waiting on a frozen server"
		[ "$elapsed" -le $((6 + SLACK + STOP_SLACK)) ] && ok "it stopped ${elapsed}s after SIG$sig" ||
			bad "it stopped ${elapsed}s after SIG$sig"
		has "$T/err" "cancelled by SIG$sig" "the error says it was cancelled by SIG$sig"
	else
		bad "compare still running $((15 + SLACK + STOP_SLACK))s after SIG$sig with a frozen target"
	fi
	thaw
	unlock_target
done

# --- connecting to a frozen server ---------------------------------------------
# The kernel completes the TCP handshake for the stopped postmaster, which
# never answers: each attempt gives up after connect_timeout, and attempts
# are retried for 10 s when the call has no deadline (before the fix the
# first attempt waited forever).
freeze
start=$(date +%s)
(exec "$PGMOVE_BIN" call --log-format plain pg.query \
	"conninfo=$PGMOVE_TARGET connect_timeout=2" "sql=SELECT 1" >"$T/out" 2>"$T/err") &
CPID=$!
echo $CPID >>"$T/bg.pids"
if wait_exit $CPID $((20 + SLACK)); then
	elapsed=$(($(date +%s) - start))
	equals "$RC" 1 "connecting to a frozen server fails"
	[ "$elapsed" -le $((18 + SLACK)) ] && ok "it gave up after ${elapsed}s (connect_timeout=2, 10s of retries)" ||
		bad "it gave up after ${elapsed}s (connect_timeout=2, 10s of retries)"
	has "$T/err" "no answer from the server within 2 s" "the error says the server did not answer"
	lacks "$T/err" "$SB_PASSWORD" "the error holds no password"
else
	bad "connect still running $((20 + SLACK))s after connect_timeout=2 with a frozen target"
fi
thaw
finish
