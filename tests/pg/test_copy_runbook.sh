#!/bin/sh
# tests/pg/test_copy_runbook.sh - scripts/runbooks/pg-copy.lua end to end on
# a sandbox: plan, the approval before the source is made read-only, the
# copy (tables split into chunks; indexes, constraints, foreign keys and
# ANALYZE by copy.data, the rest of post-data by pg_restore without them),
# the validation gate, the target equal to the source with its indexes, no
# password in the run's files, and rollback (tables emptied, objects
# dropped, source writable).
. "$(dirname "$0")/lib.sh"

RUNBOOK="$top_srcdir/scripts/runbooks/pg-copy.lua"
start_sandbox --rows 20000

expect 0 "pgmove plan accepts the runbook" pgmove plan "$RUNBOOK"
has "$T/out" "approve freeze-source" "the plan shows the approval"
has "$T/out" "copy" "the plan shows the copy step"
expect 3 "the run pauses for the approval before the source is made read-only" \
	pgmove run "$RUNBOOK" --run-id r1 -p jobs=2 -p chunk_rows=5000 -p split_larger_than=0
equals "$(psql_src 'SHOW default_transaction_read_only')" off "the source is still writable"
expect 0 "pgmove approve" pgmove approve r1 freeze-source --by tester --comment "writes stopped"
expect 0 "pgmove resume runs the copy and the gates to the end" pgmove resume r1
RUNDIR="$PGMOVE_STATE_DIR/pg-copy/r1"
expect 0 "pgmove status" pgmove status r1 --json
equals "$(jq 'd.get("status")')" completed "the run is completed"
for t in users orders order_items transactions settings audit_log; do
	equals "$(psql_tgt "SELECT count(*) FROM $t")" "$(psql_src "SELECT count(*) FROM $t")" \
		"table $t has as many rows on the target"
done
equals "$(psql_tgt "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" \
	"$(psql_src "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" \
	"the indexes were built after the copy"
expect 0 "an independent compare agrees" call checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "source and target are equal"
has "$RUNDIR/journal.jsonl" '"ev":"gate.result","node":"data-verified"' "the data gate was recorded"
"$PY" - "$RUNDIR/journal.jsonl" >"$T/out" <<'PYEOF'
import json, sys
out = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("ev") == "step.succeeded":
        out[e.get("node")] = e.get("output")
print(json.dumps(out))
PYEOF
equals "$(jq 'sorted(d["copy"]["post_data"])')" \
	"$(psql_src "SELECT 'CONSTRAINT public ' || c.relname || ' ' || conname FROM pg_constraint
		JOIN pg_class c ON c.oid = conrelid WHERE contype IN ('p', 'u') AND connamespace = 'public'::regnamespace
		UNION ALL SELECT 'INDEX public ' || indexrelid::regclass FROM pg_index i JOIN pg_class c
		ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT indisprimary
		AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)
		UNION ALL SELECT 'FK CONSTRAINT public ' || c.relname || ' ' || conname FROM pg_constraint
		JOIN pg_class c ON c.oid = conrelid WHERE contype = 'f' AND connamespace = 'public'::regnamespace
		ORDER BY 1" | "$PY" -c 'import json, sys; print(json.dumps(sorted(l.strip() for l in sys.stdin if l.strip())))')" \
	"copy.data built every index, primary key, unique and foreign key of the source"
equals "$(jq 'd["post-data"]["entries_excluded"] == len(d["copy"]["post_data"])')" true \
	"the post-data restore left out exactly what copy.data built"
equals "$(jq 'd["post-data"]["file"].endswith("/schema-snapshot.dump")')" true \
	"post-data comes from the schema dumped in the copy's snapshot"
equals "$(psql_tgt "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'public'
	AND last_analyze IS NULL AND n_live_tup > 0")" 0 "every copied table was analyzed"
equals "$(psql_tgt "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated")" 0 \
	"the foreign keys are validated"
if grep -rqF -- "$SB_PASSWORD" "$RUNDIR"; then
	bad "the password is in a file of the run"
else
	ok "the password is in no file of the run"
fi
expect 5 "pgmove rollback" pgmove rollback r1
equals "$(psql_tgt "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 \
	"rollback dropped what was copied and restored"
equals "$(psql_src 'SHOW default_transaction_read_only')" off "the source is writable again"
finish
