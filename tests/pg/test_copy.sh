#!/bin/sh
# tests/pg/test_copy.sh - copy.data between two real servers: a few tables
# (one split into key ranges, one without a key split into ctid ranges,
# mixed types, a generated column, sequences), every chunk verified; a
# corrupted chunk is named with its table and range; a run SIGKILLed in
# the middle of the copy resumes from its checkpoint and copies only the
# chunks that were not committed (a chunk in flight is looked up by its
# transaction on the target: aborted, copied again; committed, kept, also
# for a ctid-split table); a deadline stops the copy;
# bad arguments are clear errors.
. "$(dirname "$0")/lib.sh"

start_sandbox --empty
SCHEMA="
CREATE TABLE big (id bigint PRIMARY KEY, n numeric, f float8, t text, j jsonb,
	ts timestamptz, b bytea, g int GENERATED ALWAYS AS (id::int % 7) STORED);
CREATE TABLE nokey (a int, b text);
CREATE TABLE small (k text PRIMARY KEY, v int);
CREATE TABLE empty (id int PRIMARY KEY);
CREATE SEQUENCE s1;"
psql_src "$SCHEMA
INSERT INTO big SELECT i, i / 3.0, i * 1.5, 'é-' || i, jsonb_build_object('i', i),
	'2024-01-01'::timestamptz + i * interval '1 second', decode(md5(i::text), 'hex')
	FROM generate_series(1, 20000) i;
UPDATE big SET t = NULL, n = NULL WHERE id % 100 = 0;
INSERT INTO nokey SELECT i % 50, repeat('x', i % 30) FROM generate_series(1, 6000) i;
INSERT INTO small SELECT 'k' || i, i FROM generate_series(1, 50) i;
SELECT setval('s1', 4242);
ANALYZE big, nokey, small;" >/dev/null || { echo "not ok - setting up the source"; exit 1; }
psql_tgt "$SCHEMA" >/dev/null || { echo "not ok - setting up the target"; exit 1; }

# --- a whole copy -------------------------------------------------------------
expect 0 "copy.data copies every table" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=3 chunk_rows=2000 split_larger_than=0
equals "$(jq 'd["rows"]')" 26050 "every row is counted"
equals "$(jq '[t["method"] for t in d["tables"] if t["table"] == "public.big"][0]')" key-range \
	"a table with an integer key is split into key ranges"
equals "$(jq '[t["chunks"] > 5 for t in d["tables"] if t["table"] == "public.big"][0]')" true \
	"the large table is cut into several chunks"
equals "$(jq '[t["method"] for t in d["tables"] if t["table"] == "public.nokey"][0]')" ctid-range \
	"a table without a key is split into ctid ranges"
equals "$(jq '[t["method"] for t in d["tables"] if t["table"] == "public.small"][0]')" whole-table \
	"a small table is one chunk"
equals "$(jq 'd["verified"]')" true "the copy says it verified"
equals "$(jq 'd["sequences"]')" 1 "the sequence is set"
equals "$(psql_tgt "SELECT nextval('s1')")" 4243 "the target's sequence continues after the source's"
equals "$(psql_tgt "SELECT sum(g) FROM big")" "$(psql_src "SELECT sum(g) FROM big")" \
	"generated columns are computed on the target"
lacks "$T/err" "$SB_PASSWORD" "the password is in no log line"
expect 0 "an independent checksum.compare agrees" call checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "source and target are equal"

# --- which tables are split, and how they are hashed -------------------------------
# By default a table is split only when it is larger than split_larger_than
# (4GB) or than twice its share of the data (all tables' size / jobs): big
# (most of the data, 3 jobs) is; nokey and small go whole, each by one COPY
# FREEZE into the table truncated in the same transaction (their rows are
# frozen: no hint bits to set later), and are verified after their COMMIT.
# hash=auto: SQL for tables whose every column has a typed hash (nokey:
# int, text; small: text, int), the stream for the others (big: numeric,
# jsonb, ...).
as_tgt_admin() { psql -X -q -v ON_ERROR_STOP=1 -At -h "$SB/run" -p $((SB_PORT + 1)) -U postgres -d app -c "$1"; }
psql_tgt "TRUNCATE big, nokey, small" >/dev/null
expect 0 "copy.data with the default split and hash" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=3 chunk_rows=2000
equals "$(jq '[(t["table"], t["method"], t["hash"]) for t in d["tables"]]')" \
	'[["public.big", "key-range", "stream"], ["public.nokey", "whole-table", "sql"], ["public.small", "whole-table", "sql"], ["public.empty", "whole-table", "sql"]]' \
	"big is split (more than twice its share), the others go whole; typed tables hash with SQL"
equals "$(jq 'd["verified"]')" true "and every table is verified"
as_tgt_admin "CREATE EXTENSION IF NOT EXISTS pageinspect" >/dev/null
frozen() { as_tgt_admin "SELECT count(*) FILTER (WHERE t_infomask & 768 = 768) || ' of ' || count(*)
	FROM heap_page_items(get_raw_page('$1', 0)) WHERE lp_len > 0"; }
equals "$(frozen nokey | sed 's/ of .*//')" "$(frozen nokey | sed 's/.* of //')" \
	"the rows of a table copied whole are frozen (COPY FREEZE): $(frozen nokey)"
equals "$(frozen big | sed 's/ of .*//')" 0 "those of a split table are not"
psql_tgt "TRUNCATE big, nokey, small" >/dev/null
expect 0 "split_larger_than=100kB splits nokey too" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=3 chunk_rows=2000 split_larger_than=100kB
equals "$(jq '[(t["table"], t["method"]) for t in d["tables"]][:2]')" \
	'[["public.big", "key-range"], ["public.nokey", "ctid-range"]]' "the threshold is a size"
# a table's size counts its TOAST: 40 rows of 64 kB text are one page of
# the table itself and about 2 MB of TOAST
psql_src "CREATE TABLE toasty (id int PRIMARY KEY, doc text);
INSERT INTO toasty SELECT i, string_agg(md5(i || '.' || j), '') FROM generate_series(1, 40) i,
	generate_series(1, 2000) j GROUP BY i; ANALYZE toasty" >/dev/null
psql_tgt "CREATE TABLE toasty (id int PRIMARY KEY, doc text)" >/dev/null
expect 0 "copy.data of a table whose data is in TOAST" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET chunk_rows=10 split_larger_than=1MB tables='["public.toasty"]'
equals "$(jq '[t["method"] for t in d["tables"]][0]')" key-range \
	"it is split: its size is $(psql_src "SELECT pg_table_size('toasty')") bytes with TOAST, $(psql_src "SELECT pg_relation_size('toasty')") without"
psql_src "DROP TABLE toasty" >/dev/null
psql_tgt "DROP TABLE toasty" >/dev/null
# pgmove computes the typed hash of each row itself from the values the
# source sends (the source only reads them), for every kind of column it
# knows, NULLs and edge values included; the target's SQL hash must agree
# chunk by chunk. A table with an inet column is hashed by the source.
TYPED="CREATE TABLE typed (id int8 PRIMARY KEY, s int2, i int4, o oid, b bool, t text,
	v varchar(20), c char(6), u uuid, ts timestamp, tz timestamptz, tm time, n8 int8);
CREATE TABLE withinet (id int PRIMARY KEY, a inet);"
psql_src "$TYPED
INSERT INTO typed SELECT g, (g * 32)::int2, g * 7919 - 2000000000, (g + 1000) * 4000, g % 3 = 0,
	repeat('é', g % 13) || g, left(md5(g::text), abs(g) % 21), repeat(' ', g % 3) || (g % 100),
	md5(g::text)::uuid, '1999-12-31 23:00'::timestamp + g * interval '1 minute 1.000001 s',
	'2026-01-01 00:00+05'::timestamptz - g * interval '1 hour', ('00:00'::time + g * interval '17 s'),
	g * 4611686018427387
	FROM generate_series(-1000, 1000) g;
INSERT INTO typed VALUES (1001, -32768, -2147483648, 4294967295, NULL, '', '', '',
	NULL, 'infinity', '-infinity', '24:00', 9223372036854775807), (1002, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, -9223372036854775808), (1003, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO withinet SELECT g, ('10.0.' || g % 256 || '.1/' || (8 + g % 25))::inet FROM generate_series(1, 300) g;" >/dev/null &&
	psql_src "ANALYZE typed, withinet" >/dev/null && psql_tgt "$TYPED" >/dev/null || bad "creating typed"
expect 0 "copy.data of every kind of column pgmove hashes" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET chunk_rows=200 split_larger_than=0 tables='["public.typed", "public.withinet"]'
equals "$(jq '[(t["table"], t["method"], t["hash"], t["hashed_by"], t["rows"]) for t in d["tables"]]')" \
	'[["public.typed", "key-range", "sql", "pgmove", 2004], ["public.withinet", "key-range", "sql", "source", 300]]' \
	"typed is hashed by pgmove, withinet (inet) by the source, both split"
equals "$(jq 'd["verified"]')" true "both are verified against the target's SQL hash"
psql_tgt "TRUNCATE typed;
CREATE FUNCTION nbsp() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN IF NEW.id = 77 THEN NEW.c := NEW.c || ' '; NEW.t := NEW.t || ' '; END IF; RETURN NEW; END\$\$;
CREATE TRIGGER nbsp BEFORE INSERT ON typed FOR EACH ROW EXECUTE FUNCTION nbsp();" >/dev/null
expect 1 "a trailing space added to one text value on the target" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET chunk_rows=200 split_larger_than=0 \
	tables='["public.typed"]'
has "$T/err" "table public.typed: chunk [0-9]+ id \([0-9-]+, [0-9]+\]: the target differs" \
	"is found, and its chunk named"
psql_src "DROP TABLE typed, withinet" >/dev/null
psql_tgt "DROP TABLE typed, withinet; DROP FUNCTION nbsp()" >/dev/null
expect 0 "an independent checksum.compare agrees" call checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "source and target are equal"
expect 1 "split_larger_than that is not a size is refused" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET split_larger_than=4parsecs
has "$T/err" "split_larger_than must be a size like" "the error names the argument"

# the progress of a table copied whole counts the rows of its COPY before
# its COMMIT (each row sleeps 2 ms on the target: the COPY takes 6 s, the
# progress line comes every 5 s)
psql_src "CREATE TABLE slow1 (id int PRIMARY KEY, v text);
INSERT INTO slow1 SELECT i, 'v' || i FROM generate_series(1, 3000) i; ANALYZE slow1" >/dev/null
psql_tgt "CREATE TABLE slow1 (id int PRIMARY KEY, v text);
CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END\$\$;
CREATE TRIGGER slow_row BEFORE INSERT ON slow1 FOR EACH ROW EXECUTE FUNCTION slow_row();" >/dev/null
expect 0 "copy.data of a slow table copied whole" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET tables='["public.slow1"]'
has "$T/err" "progress: copy.data: copy .* 0/1 tables in.* \([1-9][0-9]*%\)" \
	"its progress counts rows before the table is in"
psql_src "DROP TABLE slow1" >/dev/null
psql_tgt "DROP TABLE slow1; DROP FUNCTION slow_row()" >/dev/null

expect 0 "copy.data in text format" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=2 chunk_rows=100000 format=text tables='["public.small"]'
equals "$(jq 'd["format"] + " " + str(d["rows"])')" "text 50" "text COPY of one table"

psql_tgt "TRUNCATE big, nokey" >/dev/null
expect 0 "copy.data with the SQL hash" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=2 chunk_rows=2000 split_larger_than=0 hash=sql \
	tables='["public.big", "public.nokey"]'
equals "$(jq '[t["hash"] for t in d["tables"]]')" '["sql", "sql"]' "hash=sql hashes with SQL"
equals "$(jq 'd["verified"]')" true "and verifies"
# the binary form of arrays of user types and of composites holds type OIDs,
# which differ between servers: such tables are hashed with SQL
TYPES="CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TYPE pair AS (a int, b text);
CREATE TABLE moods (id int PRIMARY KEY, m mood, ms mood[], p pair, ints int[]);
CREATE TABLE plain (id int PRIMARY KEY, m mood, ints int[], r int4range);"
psql_tgt "$TYPES" >/dev/null
psql_src "$TYPES
INSERT INTO moods SELECT i, 'ok', ARRAY['sad', 'happy']::mood[], ROW(i, 'x')::pair, ARRAY[i]
	FROM generate_series(1, 300) i;
INSERT INTO plain SELECT i, 'happy', ARRAY[i, -i], int4range(i, i + 3) FROM generate_series(1, 300) i;" >/dev/null
expect 0 "copy.data of tables with enums, arrays, composites and ranges" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET tables='["public.moods", "public.plain"]'
equals "$(jq '[(t["table"], t["hash"]) for t in d["tables"]]')" \
	'[["public.moods", "sql"], ["public.plain", "stream"]]' \
	"arrays of user types and composites fall back to the SQL hash; enums and built-in arrays stream"
equals "$(psql_tgt "SELECT count(*) FROM moods JOIN plain USING (id)")" 300 "both are copied"
psql_src "DROP TABLE moods, plain; DROP TYPE mood, pair" >/dev/null
psql_tgt "DROP TABLE moods, plain; DROP TYPE mood, pair" >/dev/null

# --- a corrupted chunk is detected ---------------------------------------------
psql_tgt "TRUNCATE big, nokey, small;
CREATE FUNCTION corrupt() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN IF NEW.id = 12345 THEN NEW.t := 'corrupted'; END IF; RETURN NEW; END\$\$;
CREATE TRIGGER corrupt BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION corrupt();" >/dev/null
expect 1 "a corrupted row fails the copy" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=2 chunk_rows=2000 split_larger_than=0
has "$T/err" "copy.mismatch" "the error code says mismatch"
has "$T/err" "table public.big: chunk [0-9]+ id \([0-9]+, [0-9]+\]" "the error names the table and key range"
krange=$(grep -Eo 'id \([0-9]+, [0-9]+\]' "$T/err" | head -1 | tr -d 'id(],')
set -- $krange
if [ "${1:-x}" != x ] && [ "$1" -lt 12345 ] && [ "$2" -ge 12345 ]; then
	ok "the named range ($1, $2] holds the corrupted key"
else
	bad "the named range '$krange' does not hold key 12345"
fi
psql_tgt "TRUNCATE big, nokey, small" >/dev/null
expect 1 "a corrupted row fails the copy with the SQL hash too" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET jobs=2 chunk_rows=2000 \
	split_larger_than=0 hash=sql
has "$T/err" "table public.big: chunk [0-9]+ id \(12[0-9]+, 1[0-9]+\]: the target differs" \
	"the error names the table and key range"
psql_tgt "DROP TRIGGER corrupt ON big; TRUNCATE big, nokey, small;
CREATE TRIGGER corrupt BEFORE INSERT ON small FOR EACH ROW EXECUTE FUNCTION corrupt();
CREATE OR REPLACE FUNCTION corrupt() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN IF NEW.k = 'k7' THEN NEW.v := -1; END IF; RETURN NEW; END\$\$;" >/dev/null
expect 1 "a corrupted one-chunk table fails the copy" call copy.data \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET tables='["public.small"]'
has "$T/err" "table public.small: chunk 0 whole table: the target differs" \
	"the one-chunk table is named"
# a table copied whole is checked after its COMMIT (beside its index
# builds): the rows stay (in a runbook, the step's checkpoint marks the
# table to be copied again by its next run: below)
equals "$(psql_tgt "SELECT count(*) FROM small")" 50 "the table's rows stay, unverified"
psql_tgt "DROP TRIGGER corrupt ON small; TRUNCATE big, nokey, small" >/dev/null

# --- bad input ------------------------------------------------------------------
expect 1 "an unknown table is refused" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET tables='["public.nope"]'
has "$T/err" "public.nope is not a table on the source" "the error names the table"
expect 2 "jobs=0 is refused (bad argument)" call copy.data source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET jobs=0
has "$T/err" "jobs" "the error names jobs"

# --- kill -9 in the middle, resume ------------------------------------------------
# Each chunk's COPY into big sleeps 0.15 s on the target (a statement
# trigger), so the copy is slow enough to be killed in the middle.
psql_tgt "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN PERFORM pg_sleep(0.15); RETURN NULL; END\$\$;
CREATE TRIGGER slow AFTER INSERT ON big FOR EACH STATEMENT EXECUTE FUNCTION slow();" >/dev/null
# a deadline stops the copy promptly (workers' statements are cancelled):
# in 100 chunks of 200 rows big takes at least 15 s without the deadline;
# the bound is 4 s (13 s under valgrind, whose start-up is seconds).
start=$(date +%s)
expect 1 "copy.data past its deadline fails" pgmove call --log-format plain --timeout 1s \
	copy.data source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET jobs=1 chunk_rows=200 split_larger_than=0
has "$T/err" "cancel|deadline|out of time|timeout" "the error says the call ran out of time"
if [ $(($(date +%s) - start)) -le $((3 + $(limit 1))) ]; then
	ok "the copy stopped within seconds of its deadline"
else
	bad "the copy took $(($(date +%s) - start)) s to stop after a 1 s deadline (bound $((3 + $(limit 1))) s)"
fi
psql_tgt "TRUNCATE big, nokey, small" >/dev/null
# For the kill, each chunk of big takes 0.6 s: far longer than this shell
# needs between seeing a chunk in flight and killing (a loaded machine took
# longer than 0.15 s once, and the chunk had committed by the kill).
psql_tgt "CREATE OR REPLACE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN PERFORM pg_sleep(0.6); RETURN NULL; END\$\$;" >/dev/null
copy_runbook "$T/copy.lua" copy-resume 'jobs = 1, chunk_rows = 1000, split_larger_than = "0"'
RUNDIR="$PGMOVE_STATE_DIR/copy-resume/c1"
"$PGMOVE_BIN" run "$T/copy.lua" --run-id c1 >"$T/run1.out" 2>"$T/run1.err" &
rpid=$!
echo $rpid >>"$T/bg.pids"
i=0
checkpoints() { cat "$RUNDIR/journal.jsonl" 2>/dev/null | grep -c '"ev":"step.checkpoint"'; }
# in_flight TABLE - "I XID": chunk I of TABLE and its target transaction,
# the first that the last checkpoint has in flight (started, not
# committed); "" when none.
in_flight() {
	"$PY" - "$RUNDIR/journal.jsonl" "$1" <<'PYEOF'
import json, sys
last = None
try:
    for line in open(sys.argv[1]):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("ev") == "step.checkpoint":
            last = e
except OSError:
    pass
def find(o):
    if isinstance(o, dict):
        if isinstance(o.get("tables"), dict):
            return o["tables"]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    return None
t = (find(last) or {}).get(sys.argv[2])
if t and t["fly"]:
    print(t["fly"][0][0], t["fly"][0][1])
PYEOF
}
# step_output - the copy step's output in the run's journal
step_output() {
	"$PY" - "$RUNDIR/journal.jsonl" >"$T/out" <<'PYEOF'
import json, sys
out = None
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("ev") == "step.succeeded" and e.get("node") == "copy":
        out = e.get("output")
print(json.dumps(out))
PYEOF
}
while { [ "$(checkpoints)" -lt 12 ] || [ -z "$(in_flight public.big)" ]; } &&
	kill -0 $rpid 2>/dev/null && [ $i -lt 1000 ]; do
	sleep 0.02
	i=$((i + 1))
done
if kill -9 $rpid 2>/dev/null; then
	wait $rpid 2>/dev/null
	ok "pgmove was SIGKILLed in the middle of the copy"
else
	wait $rpid
	bad "pgmove finished before it could be killed (exit $?)"
fi
fly=$(in_flight public.big)
if [ -n "$fly" ]; then
	ok "a chunk of big was in flight at the kill, with its target transaction: $fly"
else
	bad "no chunk of big was in flight at the kill"
fi
set -- $fly
flyxid=${2:-0}
before=$(psql_tgt "SELECT count(*) FROM big")
if [ "$before" -gt 0 ] && [ "$before" -lt 20000 ]; then
	ok "part of big was committed before the kill ($before rows)"
else
	bad "big holds $before rows after the kill, expected some"
fi
expect 0 "pgmove resume completes the copy" pgmove resume c1
# (killed during its COPY it aborted; in the few ms between its COPY and its
# COMMIT it may have committed: both are right, the compare below decides)
has "$T/err" "chunk ${1:-x} was in flight at the stop; its transaction $flyxid (aborted: copied again|committed: kept)" \
	"the chunk in flight is looked up by its transaction on the target"
expect 0 "pgmove status" pgmove status c1 --json
equals "$(jq 'd.get("status")')" completed "the run is completed"
step_output
skipped=$(jq 'd["chunks_skipped"]')
if [ "${skipped:-0}" -gt 0 ] 2>/dev/null; then
	ok "the resume skipped $skipped committed chunks"
else
	bad "the resume skipped no chunks: $(cat "$T/out")"
fi
if [ "$(jq 'd["rows"]')" -lt 26050 ] 2>/dev/null; then
	ok "the resume copied fewer rows than a full copy ($(jq 'd["rows"]'))"
else
	bad "the resume copied everything again: $(jq 'd["rows"]')"
fi
psql_tgt "DROP TRIGGER slow ON big" >/dev/null
expect 0 "an independent checksum.compare agrees after the resume" call checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "no chunk is missing or doubled"
if grep -rqF -- "$SB_PASSWORD" "$RUNDIR"; then
	bad "the password is in a file of the run"
else
	ok "the password is in no file of the run"
fi

# --- kill -9 while a chunk of a ctid-split table commits ------------------------
# A deferred trigger makes each COMMIT into nokey take 1.5 s; pgmove is
# killed during one, which the server completes. The resume finds that
# transaction committed and keeps the chunk: the ctid-split table goes on
# from its unfinished chunks, not from the start. The run hashes with
# hash="stream"; the resume runs the runbook changed to the default
# (hash=auto, which would hash nokey with SQL): the chunks committed before
# the stop were summed with the stream hash, so nokey goes on with it.
psql_tgt "TRUNCATE big, nokey, small;
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN IF current_setting('pgm.slept', true) IS DISTINCT FROM 'y' THEN
	PERFORM set_config('pgm.slept', 'y', true); PERFORM pg_sleep(1.5); END IF;
	RETURN NULL; END\$\$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON nokey DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION slow_commit();" >/dev/null
sed 's/jobs = 1, chunk_rows = 1000/jobs = 1, chunk_rows = 1000, tables = { "public.nokey" }, hash = "stream"/' \
	"$T/copy.lua" >"$T/copy2.lua"
RUNDIR="$PGMOVE_STATE_DIR/copy-resume/c2"
"$PGMOVE_BIN" run "$T/copy2.lua" --run-id c2 >"$T/run2.out" 2>"$T/run2.err" &
rpid=$!
echo $rpid >>"$T/bg.pids"
committing() {
	psql_tgt "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'COMMIT'
		AND application_name LIKE 'pgmove/copy%'"
}
i=0
while [ "$(psql_tgt "SELECT count(*) FROM nokey")" -lt 2000 ] && kill -0 $rpid 2>/dev/null &&
	[ $i -lt 1000 ]; do
	sleep 0.05
	i=$((i + 1))
done
i=0
while [ "$(committing)" = 0 ] && kill -0 $rpid 2>/dev/null && [ $i -lt 1000 ]; do
	sleep 0.02
	i=$((i + 1))
done
fly=$(in_flight public.nokey)
if [ "$(committing)" != 0 ] && kill -9 $rpid 2>/dev/null; then
	wait $rpid 2>/dev/null
	ok "pgmove was SIGKILLed while a chunk of nokey was committing ($fly)"
else
	wait $rpid
	bad "pgmove could not be killed during a COMMIT (exit $?)"
fi
set -- $fly
psql_tgt "DROP TRIGGER slow_commit ON nokey" >/dev/null # waits for that COMMIT
kept=$(psql_tgt "SELECT count(*) FROM nokey")
sed -i 's/, hash = "stream"//' "$T/copy2.lua"
expect 0 "pgmove resume completes the copy of the ctid-split table" pgmove \
	resume c2 --accept-changed-runbook
has "$T/err" "nokey: chunk ${1:-x} was in flight at the stop; its transaction ${2:-x} committed: kept" \
	"the chunk whose COMMIT the kill interrupted is found committed and kept"
lacks "$T/err" "copied again from the start" "the ctid-split table does not start over"
step_output
rows=$(jq 'd["tables"][0]["rows"]')
equals "$(jq 'd["tables"][0]["hash"] + " " + str(d["verified"])')" "stream True" \
	"the table goes on with the stream hash of its committed chunks, and is verified"
equals "$((${rows:-0} + kept))" 6000 \
	"the resume copied only the rows of the unfinished chunks ($kept were kept)"
equals "$(psql_tgt "SELECT count(*) FROM nokey")" 6000 "nokey has every row once"
expect 0 "an independent checksum.compare agrees" call checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET tables='["public.nokey"]'
equals "$(jq 'd["equal"]')" true "no row of nokey is missing or doubled"

# --- a chunk that differs is copied again by the step's next run -----------------
# A trigger on the target changes one row: the step fails naming the chunk,
# which its checkpoint marks to be copied again. Once the trigger is gone,
# pgmove resume empties that chunk (a key range; a table copied whole is
# truncated), copies it again and verifies the table: only that chunk moves.
# differing_run ID TABLE IF THEN SED - a trigger on TABLE doing THEN where IF
# holds, and the copy runbook edited by SED run as ID: the step must fail;
# then the trigger is dropped and RUNDIR names the run
differing_run() {
	psql_tgt "CREATE OR REPLACE FUNCTION corrupt() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN IF $3 THEN $4; END IF; RETURN NEW; END\$\$;
CREATE TRIGGER corrupt BEFORE INSERT ON $2 FOR EACH ROW EXECUTE FUNCTION corrupt();" >/dev/null
	sed "$5" "$T/copy.lua" >"$T/$1.lua"
	RUNDIR="$PGMOVE_STATE_DIR/copy-resume/$1"
	expect 1 "run $1: the copy of $2 differs, the step fails" pgmove run "$T/$1.lua" --run-id "$1"
	cp "$T/err" "$T/$1.err"
	psql_tgt "DROP TRIGGER corrupt ON $2" >/dev/null
}
psql_tgt "TRUNCATE big, nokey, small" >/dev/null
differing_run c4 big "NEW.id = 12345" "NEW.t := 'corrupted'" \
	's/jobs = 1, chunk_rows = 1000/jobs = 2, chunk_rows = 1000, tables = { "public.big" }/'
has "$T/c4.err" "table public.big: chunk [0-9]+ id \(12[0-9]+, 1[0-9]+\]: the target differs after the copy.*copies the chunk again" \
	"the error names the chunk and says the next run copies it again"
expect 0 "pgmove resume copies that chunk again" pgmove resume c4
has "$T/err" "big: chunk [0-9]+ was in flight at the stop and its fate is unknown: its range is emptied and copied again" \
	"the chunk is emptied and copied again"
step_output
equals "$(jq 'str(d["rows"]) + " " + str(d["verified"])')" "1000 True" \
	"only that chunk's 1000 rows were copied again, and the table is verified"
expect 0 "checksum.compare agrees after the chunk was copied again" call checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET tables='["public.big"]'
equals "$(jq 'd["equal"]')" true "big equals the source"
differing_run c5 small "NEW.k = 'k7'" "NEW.v := -1" \
	's/jobs = 1, chunk_rows = 1000, split_larger_than = "0"/jobs = 1, tables = { "public.small" }/'
has "$T/c5.err" "table public.small: chunk 0 whole table: the target differs.*copies the chunk again" \
	"a table copied whole is named"
expect 0 "pgmove resume copies the table again" pgmove resume c5
step_output
equals "$(jq 'str(d["rows"]) + " " + str(d["verified"])')" "50 True" "small is copied again and verified"
equals "$(psql_tgt "SELECT count(*) FILTER (WHERE v = -1) || '/' || count(*) FROM small")" "0/50" \
	"no changed row and no row twice"

# A chunk to be copied again whose next attempt fails (a trigger raises in
# it, and its DELETE of the range is rolled back with it) stays marked: the
# run after that still empties the range before copying it.
psql_tgt "DROP TRIGGER IF EXISTS slow ON big; TRUNCATE big" >/dev/null
differing_run c6 big "NEW.id = 12345" "NEW.t := 'corrupted'" \
	's/jobs = 1, chunk_rows = 1000/jobs = 1, chunk_rows = 1000, tables = { "public.big" }/'
psql_tgt "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN RAISE EXCEPTION 'refused by the test'; END\$\$;
CREATE TRIGGER refuse BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION refuse();" >/dev/null
expect 1 "resume c6: the attempt to copy the chunk again fails" pgmove resume c6
has "$T/err" "refused by the test" "it fails on the target's error"
psql_tgt "DROP TRIGGER refuse ON big" >/dev/null
expect 0 "the next resume copies the chunk again" pgmove resume c6
has "$T/err" "big: chunk [0-9]+ was in flight at the stop and its fate is unknown \(its last attempt aborted\): its range is emptied" \
	"the chunk's range is still emptied first"
equals "$(psql_tgt "SELECT count(*) || ' ' || count(DISTINCT id) FROM big")" "20000 20000" \
	"big has every row once"
expect 0 "checksum.compare agrees" call checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET tables='["public.big"]'
equals "$(jq 'd["equal"]')" true "big equals the source"

# --- many tables: the checkpoint names only tables in progress ----------------------
# (a full entry per table would pass the journal's 64 KiB checkpoint limit
# at about 450 tables)
MANY="SELECT format('CREATE TABLE m%s (id int PRIMARY KEY, v text)', i) FROM generate_series(1, 600) i \\gexec"
echo "$MANY" | psql -X -q -v ON_ERROR_STOP=1 "$PGMOVE_SOURCE" >/dev/null &&
	echo "$MANY" | psql -X -q -v ON_ERROR_STOP=1 "$PGMOVE_TARGET" >/dev/null ||
	bad "creating 600 tables"
echo "SELECT format('INSERT INTO m%s VALUES (1, ''x''), (2, ''y'')', i) FROM generate_series(1, 600) i \\gexec" |
	psql -X -q -v ON_ERROR_STOP=1 "$PGMOVE_SOURCE" >/dev/null
psql_tgt "TRUNCATE big, nokey, small" >/dev/null
sed 's/jobs = 1, chunk_rows = 1000/jobs = 4/' "$T/copy.lua" >"$T/copy3.lua"
RUNDIR="$PGMOVE_STATE_DIR/copy-resume/c3"
expect 0 "a runbook copies 604 tables" pgmove run "$T/copy3.lua" --run-id c3
equals "$(psql_tgt "SELECT count(*) FROM m600")" 2 "the last of them is copied"
"$PY" - "$RUNDIR/journal.jsonl" >"$T/out" <<'PYEOF'
import json, sys
sizes = [len(line) for line in open(sys.argv[1]) if '"ev":"step.checkpoint"' in line]
print(json.dumps({"n": len(sizes), "max": max(sizes or [0])}))
PYEOF
equals "$(jq 'd["n"] > 0 and d["max"] < 40000')" true \
	"every checkpoint stays small ($(jq 'd["max"]') bytes at most)"
finish
