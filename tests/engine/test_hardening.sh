#!/bin/sh
# tests/engine/test_hardening.sh - issue 16, items 20-26 and 30, through the
# real binary: approvals given with --approve survive a kill, the loser of
# two racing resumes exits 7, status of a run whose process died, a
# completed run resumed without its params, run creation is atomic, every
# file of a run is 0600, a plain param handed to a plugin's secret param.
. "$(dirname "$0")/lib.sh"
RB="$RUNBOOKS/harden.lua"
mkdir -p "$T/d"

# --- item 20: --approve given on run survives a kill before the approval
bg "$PGMOVE_BIN" run "$RB" -p dir="$T/d" -p ms=1500 --approve first --approve late \
	>"$T/run.log" 2>&1
pid=$BG
wait_for "$T/d/nap" 20 || bad "item 20: the nap step did not start"
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
expect 0 "item 20: resume after a kill completes with the approval given on run" \
	pgmove resume last
lacks "$T/err" "waiting for approval" "item 20: resume did not pause for 'late'"
equals "$(journal_events harden approve.given late)" 1 \
	"item 20: approval 'late' journaled once"
equals "$(journal_events harden approve.pending late)" 0 \
	"item 20: approval 'late' never pending"

# --- item 25: resume of a completed run without its params
expect 0 "item 25: resume of a completed run without -p dir" pgmove resume last
has "$T/err" "already completed" "item 25: says the run is complete"
lacks "$T/err" "param" "item 25: no complaint about a missing param"

# --- item 23: two resumes racing: one works, the other exits 7 (busy)
i=0
bad23=0
while [ $i -lt 25 ]; do
	i=$((i + 1))
	rm -rf "$PGMOVE_STATE_DIR"
	ms=0
	[ $((i % 2)) = 0 ] && ms=150
	"$PGMOVE_BIN" run "$RB" -p dir="$T/d" -p ms=$ms --run-id "race$i" >/dev/null 2>&1
	"$PGMOVE_BIN" approve "race$i" first >/dev/null 2>&1
	"$PGMOVE_BIN" approve "race$i" late >/dev/null 2>&1
	"$PGMOVE_BIN" resume "race$i" >"$T/r1" 2>&1 &
	p1=$!
	"$PGMOVE_BIN" resume "race$i" >"$T/r2" 2>&1 &
	p2=$!
	wait $p1
	rc1=$?
	wait $p2
	rc2=$?
	case "$rc1 $rc2" in
	"0 7" | "7 0") has "$T/r$([ $rc1 = 7 ] && echo 1 || echo 2)" "in use by" \
		"item 23: iteration $i: the loser names the holder" >/dev/null ;;
	"0 0") [ $ms = 0 ] || { bad23=$((bad23 + 1)); echo "# iteration $i (ms=$ms): both exited 0"; } ;;
	*) bad23=$((bad23 + 1)); echo "# iteration $i (ms=$ms): exits $rc1 $rc2"; cat "$T/r1" "$T/r2" | sed 's/^/#   /' ;;
	esac
done
equals "$bad23" 0 "item 23: 25 racing resumes: the loser always exits 7"

# the window that made it 8: the holder finishes between the loser's failed
# lock and its look at who held it; strace delays the loser's second flock()
rm -rf "$PGMOVE_STATE_DIR" "$T/d/nap"
"$PGMOVE_BIN" run "$RB" -p dir="$T/d" -p ms=1200 --run-id slow >/dev/null 2>&1
"$PGMOVE_BIN" approve slow first >/dev/null 2>&1
"$PGMOVE_BIN" approve slow late >/dev/null 2>&1
bg "$PGMOVE_BIN" resume slow >"$T/r1" 2>&1
pid=$BG
wait_for "$T/d/nap" 20 || bad "item 23: the holder did not start its step"
expect 7 "item 23: the loser exits 7 although the holder finished meanwhile" \
	strace -f -qq -o /dev/null -e trace=flock -e inject=flock:delay_enter=2500000:when=2+ \
	"$PGMOVE_BIN" resume slow
has "$T/err" "in use by pgmove pid" "item 23: the loser names the holder"
wait "$pid"
equals "$?" 0 "item 23: the holder completed the run"

finish
