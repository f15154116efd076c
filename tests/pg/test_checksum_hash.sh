#!/bin/sh
# tests/pg/test_checksum_hash.sh - what checksum.compare / sequences must
# not call equal (issue 16, items 1-5, 7, 8), against two real servers:
# values whose PostgreSQL hashes collide (bigint, timestamp, timestamptz,
# time: the 64-bit hash functions fold the two halves together), trailing
# spaces of unbounded bpchar, sequences that were never called, rows whose
# key is NULL on a target without the primary key, materialized views and
# large objects; and what it must not call different: the same collation
# name with other rules or another version, enum keys whose labels are in
# another order, servers with different encodings. Memory stays flat with
# many differences, all of which are counted.
. "$(dirname "$0")/lib.sh"

start_sandbox --empty
. "$SB/sandbox.conf"
# admin_tgt SQL - SQL as the superuser on the target's database app.
admin_tgt() {
	psql -X -q -v ON_ERROR_STOP=1 -At -h "$SB/run" -p $((SB_PORT + 1)) -U postgres -d app -c "$1"
}
# compare ARGS... - checksum.compare of the sandbox's two databases.
compare() {
	expect 0 "$1" pgmove call --log-format plain checksum.compare source=@env:PGMOVE_SOURCE \
		target=@env:PGMOVE_TARGET "$2" "${3:-hash=typed}" chunk_rows=100 leaf_rows=10
}
# kind TABLE KEYJSON - the kinds of the mismatches recorded for that key.
kind() {
	jq "[m['kind'] for m in d['mismatches'] if m.get('table') == 'public.$1' and m.get('key') == $2]"
}
# tequal TABLE - the "equal" of the table's result entry.
tequal() { jq "[t['equal'] for t in d['tables'] if t['table'] == 'public.$1'][0]"; }

# --- item 1: collisions of PostgreSQL's 64-bit hashes -------------------------
# Each pair hashes equal with hashint8extended / timestamp_hash_extended /
# time_hash_extended (the old typed scheme): first, that this is so.
equals "$(psql_src "SELECT hashint8extended(-1, 1) = hashint8extended(4294967295, 1),
	hashint8extended(0, 1) = hashint8extended(4294967297, 1),
	timestamp_hash_extended('2024-01-01 00:00', 1) = timestamp_hash_extended('2023-12-31 22:48:25.032705', 1),
	time_hash_extended('00:00', 1) = time_hash_extended('01:11:34.967297', 1)" | tr '\n' ' ')" \
	"t|t|t|t " "the constructed values collide in PostgreSQL's own hash functions"
for side in src tgt; do
	psql_$side "CREATE TABLE h8 (id int PRIMARY KEY, v bigint);
	CREATE TABLE hts (id int PRIMARY KEY, v timestamp);
	CREATE TABLE htz (id int PRIMARY KEY, v timestamptz);
	CREATE TABLE htm (id int PRIMARY KEY, v time);
	CREATE TABLE k8 (id bigint PRIMARY KEY, v text);
	CREATE DOMAIN dbp AS bpchar;
	CREATE TABLE bp (id int PRIMARY KEY, u bpchar, d dbp, f char(4))" >/dev/null
done
psql_src "INSERT INTO h8 VALUES (1, -1), (2, 0), (3, 7);
	INSERT INTO hts VALUES (1, '2024-01-01 00:00'), (2, '2024-06-01 12:00');
	INSERT INTO htz VALUES (1, '2024-01-01 00:00+00'), (2, '2024-06-01 12:00+00');
	INSERT INTO htm VALUES (1, '00:00'), (2, '12:00');
	INSERT INTO k8 VALUES (-1, 'a'), (5, 'b');
	INSERT INTO bp VALUES (1, 'a', 'a', 'a'), (2, 'b', 'b  ', 'b'), (3, 'c', 'c', 'c')" >/dev/null
psql_tgt "INSERT INTO h8 VALUES (1, 4294967295), (2, 4294967297), (3, 7);
	INSERT INTO hts VALUES (1, '2023-12-31 22:48:25.032705'), (2, '2024-06-01 12:00');
	INSERT INTO htz VALUES (1, '2023-12-31 22:48:25.032705+00'), (2, '2024-06-01 12:00+00');
	INSERT INTO htm VALUES (1, '01:11:34.967297'), (2, '12:00');
	INSERT INTO k8 VALUES (4294967295, 'a'), (5, 'b');
	INSERT INTO bp VALUES (1, 'a  ', 'a', 'a'), (2, 'b', 'b', 'b'), (3, 'c', 'c', 'c  ')" >/dev/null
compare "compare with colliding values (hash=typed)" 'tables=["h8", "hts", "htz", "htm", "k8"]'
equals "$(kind h8 '{"id": "1"}')" '["changed"]' "bigint -1 vs 4294967295 is caught"
equals "$(kind h8 '{"id": "2"}')" '["changed"]' "bigint 0 vs 4294967297 is caught"
equals "$(kind h8 '{"id": "3"}')" '[]' "an equal bigint is not reported"
equals "$(kind hts '{"id": "1"}')" '["changed"]' "timestamp 2024-01-01 00:00 vs 2023-12-31 22:48:25.032705 is caught"
equals "$(kind htz '{"id": "1"}')" '["changed"]' "timestamptz 2024-01-01 00:00 vs 2023-12-31 22:48:25.032705 is caught"
equals "$(kind htm '{"id": "1"}')" '["changed"]' "time 00:00 vs 01:11:34.967297 is caught"
equals "$(kind k8 '{"id": "-1"}')" '["missing"]' "a bigint primary key -1 missing in a single-chunk table is caught"
equals "$(kind k8 '{"id": "4294967295"}')" '["extra"]' "its colliding replacement 4294967295 is caught"
equals "$(jq 'd["differences"]')" 7 "nothing else is reported"

# --- item 4: trailing spaces of bpchar, both modes -----------------------------
# char(4) pads to 4 on both sides: 'c' and 'c  ' are the same value there.
for mode in typed text; do
	compare "compare bpchar values (hash=$mode)" 'tables=["bp"]' hash=$mode
	equals "$(kind bp '{"id": "1"}')" '["changed"]' "bpchar 'a' vs 'a  ' is caught (hash=$mode)"
	equals "$(kind bp '{"id": "2"}')" '["changed"]' "a domain over bpchar: 'b  ' vs 'b' is caught (hash=$mode)"
	equals "$(kind bp '{"id": "3"}')" '[]' "char(4) 'c' and 'c  ' (both 'c   ') are equal (hash=$mode)"
done

# --- item 3: NULL keys on a target without the primary key ---------------------
psql_src "CREATE TABLE nk (id int PRIMARY KEY, v text);
	INSERT INTO nk SELECT i, 'v' || i FROM generate_series(1, 1000) i;
	CREATE TABLE nk1 (id int PRIMARY KEY, v text); INSERT INTO nk1 VALUES (1, 'a');
	ANALYZE nk" >/dev/null
psql_tgt "CREATE TABLE nk (id int, v text);
	INSERT INTO nk SELECT i, 'v' || i FROM generate_series(1, 1000) i;
	INSERT INTO nk VALUES (NULL, 'null key'), (NULL, 'another');
	CREATE TABLE nk1 (id int, v text); INSERT INTO nk1 VALUES (1, 'a'), (NULL, '')" >/dev/null
compare "compare tables with NULL keys on the target" 'tables=["nk", "nk1"]'
equals "$(jq "[t['chunks'] > 1 for t in d['tables'] if t['table'] == 'public.nk'][0]")" true \
	"the table with NULL keys is cut into several chunks"
equals "$(jq "[t['rows_target'] for t in d['tables'] if t['table'] == 'public.nk'][0]")" 1002 \
	"rows whose key is NULL are counted in a multi-chunk table"
equals "$(kind nk '{"id": None}')" '["extra", "extra"]' "both NULL-key rows are reported, key null"
equals "$(kind nk1 '{"id": None}')" '["extra"]' "a single-chunk table reports the NULL key as null, not \"\""
equals "$(kind nk1 '{"id": ""}')" '[]' "no key is reported as the empty string"

# --- item 2: sequences compared by what nextval returns --------------------------
psql_src "CREATE SEQUENCE s_start START 1000; CREATE SEQUENCE s_false; SELECT setval('s_false', 5, false);
	CREATE SEQUENCE s_same; SELECT setval('s_same', 10); CREATE SEQUENCE s_fresh" >/dev/null
psql_tgt "CREATE SEQUENCE s_start START 1; CREATE SEQUENCE s_false; SELECT setval('s_false', 5, true);
	CREATE SEQUENCE s_same; SELECT setval('s_same', 10); CREATE SEQUENCE s_fresh" >/dev/null
expect 0 "checksum.sequences runs" pgmove call --log-format plain checksum.sequences \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" false "sequences that would return other values are unequal"
equals "$(jq "sorted(m['name'] for m in d['mismatches'])")" '["public.s_false", "public.s_start"]' \
	"a sequence starting at 1000 vs 1, and setval(5, false) vs setval(5, true), are named; only they"
equals "$(jq "[(s['source'], s['target']) for s in d['sequences'] if s['name'] == 'public.s_start'][0]")" \
	'["1000", "1"]' "the values compared are what nextval returns"
equals "$(jq "[(s['source'], s['target']) for s in d['sequences'] if s['name'] == 'public.s_same'][0]")" \
	'["11", "11"]' "a called sequence: last value plus increment"

# --- item 5: no false differences ------------------------------------------------
# The same collation name with other rules: "ck" is bytewise (libc C) on
# the source and ICU's root order (case-insensitive first) on the target.
psql_src "CREATE COLLATION ck (provider = libc, locale = 'C')" >/dev/null
psql_tgt "CREATE COLLATION ck (provider = icu, locale = 'und')" >/dev/null
# Enum labels in another order; a text key under the database's default
# collation, whose recorded version the target will claim differs.
psql_src "CREATE TYPE mood AS ENUM ('calm', 'happy', 'sad')" >/dev/null
psql_tgt "CREATE TYPE mood AS ENUM ('sad', 'happy', 'calm')" >/dev/null
for side in src tgt; do
	psql_$side "CREATE TABLE ck (k text COLLATE ck PRIMARY KEY, v int);
	INSERT INTO ck SELECT (CASE WHEN i % 2 = 0 THEN 'a' ELSE 'B' END) || i, i FROM generate_series(1, 1000) i;
	CREATE TABLE ek (m mood, n int, v int, PRIMARY KEY (m, n));
	INSERT INTO ek SELECT m, n, n FROM unnest(enum_range(NULL::mood)) m, generate_series(1, 400) n;
	CREATE TABLE dk (k text PRIMARY KEY, v int);
	INSERT INTO dk SELECT 'k' || i, i FROM generate_series(1, 1000) i;
	ANALYZE ck, ek, dk" >/dev/null
done
compare "compare with other collation rules and enum orders" 'tables=["ck", "ek"]'
equals "$(tequal ck)" true "the same collation name with other rules: equal data compares equal"
has "$T/out" "key column k: collations differ between the servers" "the fallback to bytewise ranges is noted"
equals "$(tequal ek)" true "an enum key whose labels are in another order: equal data compares equal"
equals "$(jq 'd["equal"]')" true "no false difference"
# Real differences are still found and named in those orders.
psql_tgt "UPDATE ck SET v = -1 WHERE k = 'B501'; UPDATE ek SET v = -1 WHERE m = 'sad' AND n = 77" >/dev/null
compare "compare with a difference under each fallback order" 'tables=["ck", "ek"]'
equals "$(kind ck '{"k": "B501"}')" '["changed"]' "a change under a key compared bytewise is named"
equals "$(kind ek '{"m": "sad", "n": "77"}')" '["changed"]' "a change under an enum key compared by text is named"
equals "$(jq 'd["differences"]')" 2 "nothing else is reported"
# The glibc-upgrade case, simulated (one machine has one glibc): the target
# database's recorded collation version is set to another value, as a
# database created under another glibc would record it. The key ranges must
# then be compared bytewise (here both orders agree, so the data is equal).
admin_tgt "UPDATE pg_database SET datcollversion = '2.28-simulated' WHERE datname = 'app'" >/dev/null
compare "compare with another collation version on the target" 'tables=["dk"]'
equals "$(tequal dk)" true "equal data under another collation version compares equal"
has "$T/out" "key column k: collations differ between the servers \(definition or version\)" \
	"a different collation version makes ranges bytewise"
admin_tgt "UPDATE pg_database SET datcollversion = NULL WHERE datname = 'app'" >/dev/null
compare "compare with the same collation version" 'tables=["dk"]'
lacks "$T/out" "collations differ" "the same collation and version keeps the index order"

# Different server encodings: a UTF8 database on the source, a LATIN1 one
# on the target (the encoding a server runs a database in: what initdb -E
# sets for the databases it creates).
psql_src "CREATE DATABASE u8 ENCODING 'UTF8' TEMPLATE template0" >/dev/null
psql_tgt "CREATE DATABASE l1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
SRC8=$(echo "$PGMOVE_SOURCE" | sed 's/dbname=app/dbname=u8/')
TGT1=$(echo "$PGMOVE_TARGET" | sed 's/dbname=app/dbname=l1/')
equals "$(psql -X -At "$TGT1" -c "SHOW server_encoding")" LATIN1 "the target database is LATIN1"
for db in "$SRC8" "$TGT1"; do
	PGCLIENTENCODING=UTF8 psql -X -q -v ON_ERROR_STOP=1 "$db" -c "
	CREATE TABLE enc (k text PRIMARY KEY, v text, c char(3), j jsonb, a text[]);
	INSERT INTO enc SELECT 'clé-' || i || CASE WHEN i % 3 = 0 THEN 'ß' ELSE 'é' END, 'café ' || i,
		'ü', '{\"naïve\": \"ça\"}', ARRAY['à', 'ö'] FROM generate_series(1, 600) i;
	ANALYZE enc" >/dev/null
done
PGCLIENTENCODING=UTF8 psql -X -q "$TGT1" -c "UPDATE enc SET v = 'cafe 7' WHERE k = 'clé-7é'" >/dev/null
expect 0 "compare of a UTF8 and a LATIN1 database" pgmove call --log-format plain checksum.compare \
	"source=$SRC8" "target=$TGT1" chunk_rows=100 leaf_rows=10
equals "$(jq "[t['chunks'] for t in d['tables']][0]")" 1 \
	"the table is compared in one chunk (no index has the UTF-8 order: one scan)"
equals "$(jq "[(m['kind'], m['key']) for m in d['mismatches']] == [('changed', {'k': 'clé-7é'})]")" true \
	"only the one changed row differs: non-ASCII text is compared decoded"
lacks "$T/err" "$SB_PASSWORD" "no password in the log"

# --- item 7: materialized views and large objects ---------------------------------
psql_src "CREATE MATERIALIZED VIEW mv AS SELECT i FROM generate_series(1, 10) i;
	CREATE MATERIALIZED VIEW mv_same AS SELECT i FROM generate_series(1, 10) i;
	CREATE MATERIALIZED VIEW mv_empty AS SELECT 1 AS i;
	SELECT lo_from_bytea(4242, 'abc'), lo_from_bytea(4343, 'same'), lo_from_bytea(4444, 'src');
	SELECT count(lo_from_bytea(100000 + i, convert_to('lo' || i, 'UTF8'))) FROM generate_series(1, 1500) i" >/dev/null
psql_tgt "CREATE MATERIALIZED VIEW mv AS SELECT i * 2 AS i FROM generate_series(1, 10) i;
	CREATE MATERIALIZED VIEW mv_same AS SELECT i FROM generate_series(1, 10) i;
	CREATE MATERIALIZED VIEW mv_empty AS SELECT 1 AS i WITH NO DATA;
	SELECT lo_from_bytea(4242, 'abd'), lo_from_bytea(4343, 'same'), lo_from_bytea(4545, 'tgt');
	SELECT count(lo_from_bytea(100000 + i, convert_to('lo' || i, 'UTF8'))) FROM generate_series(1, 1500) i;
	SELECT lo_put(101400, 0, 'LO')" >/dev/null
expect 0 "compare with materialized views and large objects" pgmove call --log-format plain \
	checksum.compare source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET 'exclude=["nk", "nk1"]'
equals "$(tequal mv)" false "a materialized view's contents are compared"
equals "$(tequal mv_same)" true "an equal materialized view is equal"
equals "$(jq "[m['kind'] for m in d['mismatches'] if m.get('table') == 'public.mv']")" '["content"]' \
	"the differing materialized view is reported"
equals "$(jq "[(m['kind'], m['side']) for m in d['mismatches'] if m.get('table') == 'public.mv_empty']")" \
	'[["not_populated", "target"]]' "a materialized view not populated on one side is reported"
equals "$(jq "[d['large_objects'][k] for k in ('compared', 'equal', 'source', 'target', 'differing')]")" \
	'[true, false, 1503, 1503, 4]' "large objects are compared: same number, four differ"
equals "$(jq "[(m['kind'], m['large_object']) for m in d['mismatches'] if 'large_object' in m]")" \
	'[["changed", 4242], ["missing", 4444], ["extra", 4545], ["changed", 101400]]' \
	"each differing large object is named, in oid order, across batches of 1000"
equals "$(jq 'd["equal"]')" false "so the servers are not equal"
psql_tgt "SELECT lo_put(4242, 2, 'c'); REFRESH MATERIALIZED VIEW mv_empty" >/dev/null
psql_src "SELECT lo_put(101400, 0, 'LO'), lo_unlink(4444), lo_from_bytea(4545, 'tgt')" >/dev/null
expect 0 "compare after making the large objects equal" pgmove call --log-format plain \
	checksum.compare source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET 'exclude=["*"]'
equals "$(jq "[d['large_objects'][k] for k in ('compared', 'equal', 'differing')] + [d['equal']]")" \
	'[true, true, 0, true]' "equal large objects compare equal"
expect 0 "compare of one table" pgmove call --log-format plain checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET 'tables=["mv_empty"]'
equals "$(jq "(d['large_objects']['compared'], d['equal'])")" '[false, true]' \
	"with a tables filter, large objects are reported as not compared"

# --- item 8: many differences: all counted, a bounded list, flat memory ----------
for side in src tgt; do
	psql_$side "CREATE TABLE many (id int PRIMARY KEY, v int);
		INSERT INTO many SELECT i, i FROM generate_series(1, 100000) i; ANALYZE many" >/dev/null &
done
wait
psql_tgt "UPDATE many SET v = -v WHERE id % 2 = 0" >/dev/null
# maxrss MAXDIFF - runs the compare, prints the peak RSS in MB.
maxrss() {
	"$PY" - "$PGMOVE_BIN" "$1" "$T/out" "$T/err" <<'PYEOF'
import resource, subprocess, sys
b, n, out, err = sys.argv[1:]
rc = subprocess.call([b, "call", "--log-format", "plain", "checksum.compare",
                      "source=@env:PGMOVE_SOURCE", "target=@env:PGMOVE_TARGET",
                      'tables=["many"]', "chunk_rows=10000", "max_differences=" + n],
                     stdout=open(out, "w"), stderr=open(err, "w"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024 if rc == 0 else -1)
PYEOF
}
small=$(maxrss 100)
equals "$(jq "(d['differences'], d['rows_differing'], d['listed'], d['truncated'])")" \
	'[50000, 50000, 100, true]' "50000 changed rows: all counted, 100 listed, truncated"
equals "$(jq "[t['rows_differing'] for t in d['tables']]")" '[50000]' \
	"the table's rows_differing agrees with differences"
big=$(maxrss 10000)
equals "$(jq "(d['differences'], d['rows_differing'], d['listed'])")" '[50000, 50000, 10000]' \
	"with max_differences=10000: 10000 listed, all counted"
# An AddressSanitizer build (configure --enable-asan) maps hundreds of MB
# of shadow memory, and valgrind's own memory is in pgmove's RSS: there only
# the growth is bounded (under valgrind by twice as much: memcheck's shadow
# and redzones grow with the heap).
limit=64 base=0
# ASan's redzones and its quarantine of freed blocks grow with the heap too
# (65 MB of growth seen): 128 MB there as well.
if grep -q -- '-fsanitize=address' "$top_builddir/Makefile"; then base=$small limit=128; fi
if [ "${PGMOVE_VALGRIND:-0}" = 1 ]; then base=$small limit=128; fi
[ "$small" -gt 0 ] && [ "$big" -gt 0 ] && [ $((big - base)) -le $limit ] && [ $((small - base)) -le $limit ] &&
	ok "peak memory ${small} MB (100 listed), ${big} MB (10000 listed)" ||
	bad "peak memory ${small} MB (100 listed), ${big} MB (10000 listed)"
expect 1 "max_differences above 10000 is refused" pgmove call --log-format plain checksum.compare \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET max_differences=10001
has "$T/err" "max_differences 0..10000" "the error names the bound"
finish
