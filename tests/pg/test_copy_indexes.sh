#!/bin/sh
# tests/pg/test_copy_indexes.sh - copy.data indexes=true between two real
# servers: each table's indexes (plain, expression, clustered), primary
# key, unique, exclusion and deferrable constraints are built as soon as
# its data is in, while a later table is still being copied; foreign keys
# at the end (one NOT VALID on the source stays so); ANALYZE per table;
# what was built is returned in post_data and pgdump.restore's post-data
# leaves exactly that out; indexes that exist are not built again; a
# corrupted chunk is found while other tables are still being copied and
# named with its key range; a bad maintenance_work_mem is refused; the
# schema dumped in the copy's snapshot (schema_file) is checked against
# the pre-data dumped earlier (schema_check).
. "$(dirname "$0")/lib.sh"

start_sandbox --empty
psql_src "CREATE TABLE parent (id bigint PRIMARY KEY, code text UNIQUE, v int);
CREATE INDEX parent_v_idx ON parent (v);
CREATE INDEX parent_lower_idx ON parent (lower(code));
ALTER TABLE parent CLUSTER ON parent_v_idx;
CREATE TABLE child (id int PRIMARY KEY, parent_id bigint REFERENCES parent (id), t text);
ALTER TABLE child ADD CONSTRAINT child_parent_nv FOREIGN KEY (parent_id)
	REFERENCES parent (id) NOT VALID;
CREATE TABLE slot (id int PRIMARY KEY, r int4range, EXCLUDE USING gist (r WITH &&));
CREATE TABLE dfr (a int, CONSTRAINT dfr_a_key UNIQUE (a) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO parent SELECT i, 'c' || i, i % 97 FROM generate_series(1, 20000) i;
INSERT INTO child SELECT i, 1 + i % 20000, repeat('y', i % 20) FROM generate_series(1, 6000) i;
INSERT INTO slot SELECT i, int4range(i * 10, i * 10 + 5) FROM generate_series(1, 30) i;
INSERT INTO dfr SELECT i FROM generate_series(1, 40) i;
ANALYZE;" >/dev/null || { echo "not ok - setting up the source"; exit 1; }
pg_dump -Fc --schema-only -f "$T/schema.dump" "$PGMOVE_SOURCE" &&
	pg_restore --section=pre-data -d "$PGMOVE_TARGET" "$T/schema.dump" ||
	{ echo "not ok - restoring pre-data on the target"; exit 1; }
# each chunk of child takes 0.3 s on the target: child is still being
# copied when parent (the largest table, copied first) is in
SLOW="CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END\$\$;
CREATE TRIGGER slow AFTER INSERT ON child FOR EACH STATEMENT EXECUTE FUNCTION slow();"
psql_tgt "$SLOW" >/dev/null

expect 1 "a bad maintenance_work_mem is refused (args.invalid)" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET indexes=true maintenance_work_mem="1GB; DROP TABLE parent"
has "$T/err" 'maintenance_work_mem must be a size like "512MB"' "the error names the argument"

expect 0 "copy.data builds indexes and constraints per table" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET jobs=2 chunk_rows=1000 split_larger_than=0 indexes=true \
	analyze=true maintenance_work_mem=64MB
cp "$T/out" "$T/copy.json"
cp "$T/err" "$T/copy.err"
equals "$(jq 'sorted(d["post_data"])')" '["CONSTRAINT public child child_pkey", "CONSTRAINT public dfr dfr_a_key", "CONSTRAINT public parent parent_code_key", "CONSTRAINT public parent parent_pkey", "CONSTRAINT public slot slot_pkey", "CONSTRAINT public slot slot_r_excl", "FK CONSTRAINT public child child_parent_id_fkey", "FK CONSTRAINT public child child_parent_nv", "INDEX public parent_lower_idx", "INDEX public parent_v_idx"]' \
	"post_data names every index and constraint built, as pg_restore --list does"
built=$(grep -n "table public.parent: built INDEX public parent_v_idx" "$T/copy.err" | cut -d: -f1)
child_in=$(grep -n "table public.child: data in" "$T/copy.err" | cut -d: -f1)
if [ -n "$built" ] && [ -n "$child_in" ] && [ "$built" -lt "$child_in" ]; then
	ok "parent's index was built (line $built) before child's copy ended (line $child_in)"
else
	bad "parent's index (line '$built') was not built before child's data was in (line '$child_in')"
fi
has "$T/copy.err" "table public.parent: verified, 20 chunks" "the split table was verified by chunk"
has "$T/copy.err" "table public.child: validated FK CONSTRAINT public child child_parent_id_fkey" \
	"the foreign key was validated"
equals "$(psql_tgt "SELECT conname || ':' || convalidated FROM pg_constraint WHERE contype = 'f'
	ORDER BY 1" | tr '\n' ' ')" "child_parent_id_fkey:true child_parent_nv:false " \
	"the foreign keys are there, the one NOT VALID on the source still NOT VALID"
equals "$(psql_tgt "SELECT indisclustered FROM pg_index WHERE indexrelid = 'parent_v_idx'::regclass")" \
	t "CLUSTER ON is kept"
equals "$(psql_tgt "SELECT condeferrable::text || contype::text FROM pg_constraint WHERE conname = 'dfr_a_key'")" \
	trueu "the deferrable unique constraint is deferrable"
equals "$(psql_tgt "SELECT contype FROM pg_constraint WHERE conname = 'slot_r_excl'")" x \
	"the exclusion constraint is there"
equals "$(psql_tgt "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NULL")" 0 \
	"every table was analyzed"
equals "$(jq 'd["phases"]["index_ms_sum"] > 0 and d["tables"][0]["verify_ms"] >= 0')" true \
	"the output has per-phase times"
psql_tgt "DROP TRIGGER slow ON child; DROP FUNCTION slow()" >/dev/null
expect 0 "pgdump.restore post-data leaves out what copy.data built" call pgdump.restore \
	conninfo=@env:PGMOVE_TARGET file="$T/schema.dump" sections='["post-data"]' \
	exclude_entries="$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["post_data"]))' "$T/copy.json")"
equals "$(jq 'd["entries_excluded"]')" 10 "ten entries were left out"
expect 2 "exclude_entries that is not an array is refused (usage)" call pgdump.restore \
	conninfo=@env:PGMOVE_TARGET file="$T/schema.dump" sections='["post-data"]' \
	exclude_entries='"INDEX public parent_v_idx"'
has "$T/err" "argument 'exclude_entries' must be an array" "the error names the argument"
expect 0 "checksum.inventory" call checksum.inventory source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "indexes, constraints and objects match the source's"
expect 0 "checksum.compare" call checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "the data matches"

# indexes and constraints that exist (an earlier run built them) are kept
psql_tgt "TRUNCATE slot, dfr" >/dev/null
expect 0 "copy.data again with the constraints in place" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET indexes=true \
	tables='["public.slot", "public.dfr"]'
lacks "$T/err" "built " "no index was built again"
has "$T/err" "table public.slot: CONSTRAINT public slot slot_pkey exists already: kept" \
	"the existing index is kept"
equals "$(psql_tgt "SELECT count(*) FROM pg_constraint WHERE conrelid = 'slot'::regclass")" 2 \
	"slot's two constraints are there once"

# a corrupted chunk of parent is found while child is still being copied
psql_tgt "DROP TABLE child, parent, slot, dfr" >/dev/null
pg_restore --section=pre-data -d "$PGMOVE_TARGET" -t parent -t child "$T/schema.dump"
psql_tgt "$SLOW
CREATE FUNCTION corrupt() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN IF NEW.id = 12345 THEN NEW.v := -1; END IF; RETURN NEW; END\$\$;
CREATE TRIGGER corrupt BEFORE INSERT ON parent FOR EACH ROW EXECUTE FUNCTION corrupt();" >/dev/null
expect 1 "a corrupted row fails the copy" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=2 chunk_rows=1000 split_larger_than=0 \
	tables='["public.parent", "public.child"]'
has "$T/err" "copy.mismatch" "the error code says mismatch"
has "$T/err" "table public.parent: chunk 12 id \(12000, 13000\]: the target differs" \
	"the error names the table, the chunk and its key range"
lacks "$T/err" "table public.child: data in" "it was found before child's copy ended"

# the schema dumped in the copy's snapshot, checked against the pre-data on the target
psql_tgt "DROP TRIGGER corrupt ON parent; DROP TRIGGER slow ON child; TRUNCATE parent, child" >/dev/null
expect 0 "copy.data dumps the schema in its snapshot" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET tables='["public.parent"]' schema_file="$T/snap.dump" \
	schema_check="$T/schema.dump"
has "$T/err" "the schema in the copy's snapshot has the pre-data of" \
	"its pre-data is the one restored on the target"
if pg_restore -l "$T/snap.dump" 2>/dev/null | grep -q "INDEX public parent_v_idx"; then
	ok "the snapshot's schema dump holds the post-data"
else
	bad "the snapshot's schema dump has no INDEX public parent_v_idx"
fi
lacks "$T/err" "$SB_PASSWORD" "the password is in no log line"
psql_src "CREATE TABLE added (x int)" >/dev/null
psql_tgt "TRUNCATE parent" >/dev/null
expect 1 "a schema changed since the pre-data was dumped stops the copy" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET tables='["public.parent"]' \
	schema_file="$T/snap.dump" schema_check="$T/schema.dump"
has "$T/err" "copy.schema_changed: copy: the source's schema changed since" "the error says so"
equals "$(psql_tgt "SELECT count(*) FROM parent")" 0 "no data was copied"

# post workers (index_jobs) have connections of their own: with jobs=1 and
# index_jobs=2, parent's indexes are built while child is still copied
psql_src "DROP TABLE added" >/dev/null
psql_tgt "DROP TABLE child, parent" >/dev/null
pg_restore --section=pre-data -d "$PGMOVE_TARGET" -t parent -t child "$T/schema.dump"
psql_tgt "DROP FUNCTION IF EXISTS slow() CASCADE; $SLOW" >/dev/null ||
	bad "the slow trigger on child could not be created"
expect 2 "index_workers=-1 is refused (bad argument)" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET index_workers=-1
has "$T/err" "index_workers" "the error names index_workers"
expect 2 "index_jobs=65 is refused (bad argument)" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET index_jobs=65
has "$T/err" "index_jobs" "the error names index_jobs"
pgmove call --log-format plain copy.data source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET \
	jobs=1 index_jobs=2 index_workers=2 chunk_rows=1000 split_larger_than=0 indexes=true \
	tables='["public.parent", "public.child"]' \
	>"$T/out" 2>"$T/err" &
cpid=$!
most=0
while kill -0 $cpid 2>/dev/null; do
	n=$(psql_tgt "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%copy%'")
	[ "${n:-0}" -gt "$most" ] && most=$n
	sleep 0.05
done
wait $cpid
equals "$?" 0 "copy.data with jobs=1 index_jobs=2 succeeds"
equals "$most" 4 "the target had four copy sessions: planning, one copy worker, two post workers"
equals "$(jq 'd["index_jobs"]')" 2 "the result says index_jobs"
built=$(grep -n "table public.parent: built" "$T/err" | head -1 | cut -d: -f1)
child_in=$(grep -n "table public.child: data in" "$T/err" | cut -d: -f1)
if [ -n "$built" ] && [ -n "$child_in" ] && [ "$built" -lt "$child_in" ]; then
	ok "a post worker built parent's index (line $built) while the copy worker copied child (line $child_in)"
else
	bad "parent's index (line '$built') was not built before child's data was in (line '$child_in')"
fi
expect 0 "checksum.compare after it" call checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET tables='["public.parent", "public.child"]'
equals "$(jq 'd["equal"]')" true "parent and child match the source"

# --- kill -9 during an index build, resume -----------------------------------
# An index whose expression sleeps 10 ms a row takes 5 s to build (15 s
# under valgrind, where the resume takes seconds to start); pgmove
# is SIGKILLed during that build on the target, which its server session
# goes on with. The resume ends that session before building the index:
# else the session commits the index behind the resume's back, and the
# resume's own build of it fails on its name.
SLOWIX="CREATE FUNCTION slowid(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
\$\$BEGIN PERFORM pg_sleep(0.01); RETURN \$1; END\$\$;"
psql_src "$SLOWIX CREATE TABLE slowix (id int PRIMARY KEY);
INSERT INTO slowix SELECT generate_series(1, $((500 * (TIME_FACTOR > 3 ? 3 : TIME_FACTOR))));
CREATE INDEX slowix_slow_idx ON slowix (slowid(id));" >/dev/null &&
	psql_tgt "$SLOWIX" >/dev/null &&
	pg_dump -Fc --schema-only -t slowix -f "$T/slowix.dump" "$PGMOVE_SOURCE" &&
	pg_restore --section=pre-data -d "$PGMOVE_TARGET" "$T/slowix.dump" ||
	bad "setting up slowix"
copy_runbook "$T/ix.lua" copy-ix 'tables = { "public.slowix" }, indexes = true'
building="SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
	AND application_name = 'pgmove/copy' AND query LIKE '%CREATE INDEX slowix_slow_idx%'"
"$PGMOVE_BIN" run "$T/ix.lua" --run-id i1 >"$T/ix1.out" 2>"$T/ix1.err" &
rpid=$!
echo $rpid >>"$T/bg.pids"
if wait_sql psql_tgt "$building" 30 && kill -9 $rpid 2>/dev/null; then
	wait $rpid 2>/dev/null
	ok "pgmove was SIGKILLed while the target built slowix_slow_idx"
else
	bad "pgmove was not killed during the index build: $(tail -3 "$T/ix1.err")"
fi
equals "$(psql_tgt "$building")" 1 "the killed run's index build goes on on the target"
expect 0 "pgmove resume builds the index" pgmove resume i1
has "$T/err" "copy: the stopped run's session [0-9]+ on the target was still there \(active: BEGIN; SET LOCAL" \
	"the resume ended the killed run's session, and says so"
equals "$(psql_tgt "SELECT count(*) FROM pg_index WHERE indexrelid = 'slowix_slow_idx'::regclass
	AND indisvalid")" 1 "the index is there, once, and valid"
equals "$(psql_tgt "$building")" 0 "no build of the killed run is left"
finish
