#!/bin/sh
# tests/pg/test_runbook.sh - scripts/runbooks/pg-dump-restore.lua end to end
# through the real pgmove binary and plugins, on a sandbox: it pauses at
# the approval before the source is made read-only, a run SIGKILLed in the
# middle of the data restore resumes to completion, the target is then
# equal to the source, no password reaches the run's files, and rollback
# drops what was restored and makes the source writable again.
. "$(dirname "$0")/lib.sh"

RUNBOOK="$top_srcdir/scripts/runbooks/pg-dump-restore.lua"
start_sandbox --rows 60000

expect 0 "pgmove plan accepts the runbook" pgmove plan "$RUNBOOK"
has "$T/out" "approve freeze-source" "the plan shows the approval"

expect 3 "the run pauses for the approval before the source is made read-only" \
	pgmove run "$RUNBOOK" --run-id r1 -p jobs=2
equals "$(psql_src 'SHOW default_transaction_read_only')" off "the source is still writable"
equals "$(psql_tgt "SELECT count(*) FROM pg_class WHERE relname = 'users'")" 1 \
	"the schema is on the target already"
expect 0 "pgmove approve" pgmove approve r1 freeze-source --by tester --comment "writes stopped"

# Resume, and kill it hard while the data is being restored.
RUNDIR="$PGMOVE_STATE_DIR/pg-dump-restore/r1"
"$PGMOVE_BIN" resume r1 >"$T/resume1.out" 2>"$T/resume1.err" &
echo $! >>"$T/bg.pids" # stopped by cleanup if still running
rpid=$!
i=0
while ! grep -q '"ev":"step.start","node":"data-restore"' "$RUNDIR/journal.jsonl" 2>/dev/null &&
	kill -0 $rpid 2>/dev/null && [ $i -lt 600 ]; do
	sleep 0.02
	i=$((i + 1))
done
if kill -9 $rpid 2>/dev/null; then
	wait $rpid 2>/dev/null
	ok "pgmove was SIGKILLed during data-restore"
else
	wait $rpid
	bad "pgmove finished before it could be killed (exit $?)"
fi
lacks "$RUNDIR/journal.jsonl" '"ev":"step.succeeded","node":"data-restore"' \
	"the journal shows data-restore unfinished"

expect 0 "pgmove resume completes the killed run" pgmove resume r1
expect 0 "pgmove status" pgmove status r1 --json
equals "$(jq 'd.get("status")')" completed "the run is completed"
equals "$(psql_src 'SHOW default_transaction_read_only')" on "the source was made read-only"
for t in users orders order_items transactions settings audit_log; do
	equals "$(psql_tgt "SELECT count(*) FROM $t")" "$(psql_src "SELECT count(*) FROM $t")" \
		"table $t has as many rows on the target"
done
equals "$(psql_tgt "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" \
	"$(psql_src "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" \
	"the indexes were restored"
expect 0 "an independent compare agrees" call checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "source and target are equal"
if grep -rqF --exclude-dir=dump -- "$SB_PASSWORD" "$RUNDIR"; then
	bad "the password is in a file of the run"
else
	ok "the password is in no file of the run"
fi
has "$RUNDIR/journal.jsonl" '"ev":"gate.result","node":"data-verified"' "the data gate was recorded"

expect 5 "pgmove rollback" pgmove rollback r1
equals "$(psql_tgt "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 \
	"rollback dropped what was restored"
equals "$(psql_src 'SHOW default_transaction_read_only')" off "the source is writable again"
finish
