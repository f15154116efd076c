#!/bin/sh
# tests/pg/test_checksum.sh - checksum.compare / sequences / inventory
# against two real servers: what must be caught (one changed value in a
# 1M-row table, numeric 1.0 vs 1.00, float -0 vs 0, NULL vs '', jsonb and
# interval text forms, missing / extra rows, a changed sequence, a missing
# index, a differing column type), chunk boundaries across gaps in keys,
# composite and text keys, a table without a primary key, and a server
# going away mid-compare (a clear error, no hang).
. "$(dirname "$0")/lib.sh"

start_sandbox --rows 3000

# Extra tables on the source, then the target as an exact copy.
psql_src "
CREATE TABLE gaps (id bigint PRIMARY KEY, v text);
INSERT INTO gaps SELECT i * 1000, 'v' || i FROM generate_series(1, 3000) i;
INSERT INTO gaps SELECT 1000000000000 + i, 'far' || i FROM generate_series(1, 2000) i;
CREATE TABLE ckey (region text, n int, v numeric, PRIMARY KEY (region, n));
INSERT INTO ckey SELECT r, n, n / 3.0 FROM unnest(ARRAY['a', 'B', 'b', 'z', 'é', '東']) r,
	generate_series(1, 600) n;
CREATE TABLE tkey (k text PRIMARY KEY, v int);
INSERT INTO tkey SELECT 'k-é-' || i, i FROM generate_series(1, 2500) i;
CREATE TABLE nums (id int PRIMARY KEY, n numeric, f float8, t text, j jsonb, iv interval,
	ts timestamptz);
INSERT INTO nums VALUES
	(1, 1.0, 1, 'a', '{}', '1 day', '2024-01-01 00:00:00+00'),
	(2, 2, 0, 'b', '{}', '1 day', '2024-01-01 00:00:00+00'),
	(3, 3, 1, NULL, '{}', '1 day', '2024-01-01 00:00:00+00'),
	(4, 4, 1, 'd', '{\"a\": 1.0}', '1 day', '2024-01-01 00:00:00+00'),
	(5, 5, 1, 'e', '{}', '1 day', '2024-01-01 00:00:00+00'),
	(6, 6, 1, 'f', '{}', '1 day', '2024-01-01 00:00:00+00'),
	(7, 7, 1, 'g', '{}', '1 day', '2024-01-01 00:00:00+00');
CREATE TABLE nopk (a int, b text);
INSERT INTO nopk SELECT i % 10, 'x' FROM generate_series(1, 100) i;
ANALYZE gaps, ckey, tkey, nums, nopk;
" >/dev/null || { echo "not ok - setting up the source"; exit 1; }
copy_source_to_target

# --- equal servers ---------------------------------------------------------
expect 0 "compare of identical servers succeeds" \
	pgmove call --log-format plain checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET chunk_rows=500 leaf_rows=50 jobs=3
equals "$(jq 'd["equal"]')" true "identical servers compare equal"
equals "$(jq 'd["tables_compared"]')" 11 "every user table is compared"
equals "$(jq '[t["chunks"] > 1 for t in d["tables"] if t["table"] == "public.gaps"][0]')" true \
	"a table with gaps in its keys is cut into several chunks"
equals "$(jq '[t["method"] for t in d["tables"] if t["table"] == "public.nopk"][0]')" whole-table \
	"a table without a primary key is compared whole, and marked"
equals "$(jq '[t["key"] for t in d["tables"] if t["table"] == "public.ckey"][0]')" '["region", "n"]' \
	"a composite key is used as the chunk key"
equals "$(jq 'd["snapshot"]')" true "each side is read in one snapshot"
lacks "$T/err" "$SB_PASSWORD" "the password is in no log line"

# --- differences -------------------------------------------------------------
psql_tgt "
UPDATE nums SET n = 1.00 WHERE id = 1;
UPDATE nums SET f = '-0' WHERE id = 2;
UPDATE nums SET t = '' WHERE id = 3;
UPDATE nums SET j = '{\"a\": 1.00}' WHERE id = 4;
UPDATE nums SET iv = '24 hours' WHERE id = 5;
UPDATE nums SET ts = ts + interval '1 microsecond' WHERE id = 6;
DELETE FROM transactions WHERE id = 42;
INSERT INTO transactions (id, amount) VALUES (999999, 1);
UPDATE gaps SET v = 'changed' WHERE id = 1000;
DELETE FROM gaps WHERE id = 1000000002000;
INSERT INTO gaps VALUES (1, 'below min'), (500000000000, 'in the gap');
UPDATE ckey SET v = v + 1 WHERE region = 'b' AND n = 17;
UPDATE tkey SET v = -1 WHERE k = 'k-é-1234';
DELETE FROM nopk WHERE ctid IN (SELECT ctid FROM nopk WHERE a = 3 LIMIT 1);
INSERT INTO nopk VALUES (3, 'y');
" >/dev/null
expect 0 "compare of differing servers succeeds (differences are a result, not an error)" \
	pgmove call --log-format plain checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET chunk_rows=500 leaf_rows=50 jobs=3
equals "$(jq 'd["equal"]')" false "differing servers compare unequal"
# kind TABLE KEYJSON - the kind of the mismatch recorded for that key.
kind() {
	jq "[m['kind'] for m in d['mismatches'] if m['table'] == 'public.$1' and m.get('key') == $2]"
}
equals "$(kind nums '{"id": "1"}')" '["changed"]' "numeric 1.0 vs 1.00 is caught"
equals "$(kind nums '{"id": "2"}')" '["changed"]' "float8 0 vs -0 is caught"
equals "$(kind nums '{"id": "3"}')" '["changed"]' "NULL vs empty string is caught"
equals "$(kind nums '{"id": "4"}')" '["changed"]' "jsonb 1.0 vs 1.00 is caught"
equals "$(kind nums '{"id": "5"}')" '["changed"]' "interval 1 day vs 24 hours is caught"
equals "$(kind nums '{"id": "6"}')" '["changed"]' "a one-microsecond timestamptz change is caught"
equals "$(kind nums '{"id": "7"}')" '[]' "an unchanged row is not reported"
equals "$(kind transactions '{"id": "42"}')" '["missing"]' "a row missing on the target is caught"
equals "$(kind transactions '{"id": "999999"}')" '["extra"]' "an extra row on the target is caught"
equals "$(kind gaps '{"id": "1000"}')" '["changed"]' "a change at the first key is caught"
equals "$(kind gaps '{"id": "1000000002000"}')" '["missing"]' "a row missing at the last key is caught"
equals "$(kind gaps '{"id": "1"}')" '["extra"]' "an extra row below the smallest key is caught"
equals "$(kind gaps '{"id": "500000000000"}')" '["extra"]' "an extra row inside a gap in keys is caught"
equals "$(kind ckey '{"region": "b", "n": "17"}')" '["changed"]' "a change under a composite key is named by both columns"
equals "$(kind tkey '{"k": "k-é-1234"}')" '["changed"]' "a change under a text key is named"
equals "$(jq "[m['kind'] for m in d['mismatches'] if m['table'] == 'public.nopk']")" '["content"]' \
	"a table without a primary key: same count, other rows, is caught"
equals "$(jq 'd["differences"]')" 15 "nothing else is reported"
has "$T/err" "table public.gaps: chunk [0-9]+ \(" "a differing chunk is logged with its table, number and range"

# --- sequences, inventory, column types ---------------------------------------
psql_tgt "SELECT setval('invoice_no_seq', 5); DROP INDEX orders_user_id_idx;
	ALTER TABLE settings ALTER COLUMN value TYPE varchar(200);" >/dev/null
expect 0 "checksum.sequences runs" pgmove call --log-format plain checksum.sequences \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" false "a changed sequence makes sequences unequal"
equals "$(jq "[m['name'] for m in d['mismatches']]")" '["public.invoice_no_seq"]' \
	"the changed sequence is named, and only it"
expect 0 "checksum.inventory runs" pgmove call --log-format plain checksum.inventory \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" false "a missing index makes the inventory unequal"
equals "$(jq "[m['name'] for m in d['missing']]")" '["public.orders_user_id_idx"]' \
	"the missing index is named"
equals "$(jq "[(m['kind'], m['name'], m['target']) for m in d['different']]")" \
	'[["column", "public.settings.value", "character varying(200)"]]' \
	"a differing column type is named with both types"
expect 0 "compare of one table" pgmove call --log-format plain checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET 'tables=["settings"]'
equals "$(jq 'd["equal"]')" false "a differing column type makes compare unequal"
has "$T/out" "column value is text on the source, character varying\(200\) on the target" \
	"compare names the column and both types"
expect 1 "an unknown table is an error" pgmove call --log-format plain checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET 'tables=["nosuch"]'
has "$T/err" "table nosuch not found on the source" "the error names the table"

# --- one changed value in a 1M-row table ---------------------------------------
for side in src tgt; do
	(psql_$side "CREATE TABLE big (id int PRIMARY KEY, v int);
		INSERT INTO big SELECT i, i % 1000 FROM generate_series(1, 1000000) i;" &&
		psql_$side "VACUUM ANALYZE big") >/dev/null &
	echo $! >>"$T/bg.pids" # stopped by cleanup if still running
done
wait
psql_tgt "UPDATE big SET v = -1 WHERE id = 777777" >/dev/null
start=$(date +%s)
expect 0 "compare of a 1M-row table" pgmove call --log-format plain checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET 'tables=["big"]' jobs=2
equals "$(jq "[(m['kind'], m['key']) for m in d['mismatches']]")" '[["changed", {"id": "777777"}]]' \
	"one changed value among 1M rows is found and named"
equals "$(jq 'd["rows_source"]')" 1000000 "all 1M rows were counted"
elapsed=$(($(date +%s) - start))
[ "$elapsed" -le "$(limit 30)" ] && ok "the 1M-row compare took ${elapsed}s" ||
	bad "the 1M-row compare took ${elapsed}s (more than $(limit 30)s)"

# --- a server going away mid-compare ------------------------------------------
# A session holding a lock makes the target's queries wait; then the target
# stops hard. The compare must end with a clear error, not hang.
. "$SB/sandbox.conf"
PGAPPNAME=pgmove-test-locker psql -X -q "$PGMOVE_TARGET" \
	-c "BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);" >/dev/null 2>&1 &
echo $! >>"$T/bg.pids" # stopped by cleanup if still running
wait_sql psql_tgt "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.relation = 'big'::regclass AND l.granted AND a.application_name = 'pgmove-test-locker'" ||
	bad "the locking session did not get its lock on big"
"$PGMOVE_BIN" call --log-format plain checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET 'tables=["big"]' >"$T/out" 2>"$T/err" &
echo $! >>"$T/bg.pids" # stopped by cleanup if still running
cpid=$!
# the target goes away while the compare's query waits behind the lock
wait_sql psql_tgt "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	AND application_name <> 'pgmove-test-locker' AND pid <> pg_backend_pid()" ||
	bad "the compare's query on the target did not wait for the lock"
if [ "$(id -u)" = 0 ]; then
	runuser -u "$SANDBOX_USER" -- "$SANDBOX_BINDIR/pg_ctl" -D "$SB/target" -m immediate stop >/dev/null 2>&1
else
	"$SANDBOX_BINDIR/pg_ctl" -D "$SB/target" -m immediate stop >/dev/null 2>&1
fi
i=0
while kill -0 $cpid 2>/dev/null && [ $i -lt $(($(limit 15) * 10)) ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $cpid 2>/dev/null; then
	kill -9 $cpid
	bad "compare still running $(limit 15)s after the target went away"
else
	wait $cpid
	equals "$?" 1 "compare fails when the target goes away"
	has "$T/err" "port=$((SB_PORT + 1))" "the error names the target server"
	lacks "$T/err" "$SB_PASSWORD" "the error holds no password"
fi
finish
