#!/bin/sh
# tests/pg/test_pg.sh - the pg plugin against real servers: query (rows as
# JSON, read-only), exec, assess, set_read_only / set_read_write (with
# session termination), sync_sequences (never backwards), analyze.
. "$(dirname "$0")/lib.sh"

start_sandbox --rows 2000

# --- query / exec ----------------------------------------------------------
expect 0 "pg.query with parameters" call pg.query conninfo=@env:PGMOVE_SOURCE \
	sql='SELECT id, email, balance, profile FROM users WHERE id <= $1 ORDER BY id' 'params=[2]'
equals "$(jq 'd["count"]')" 2 "two rows come back"
equals "$(jq 'd["rows"][0]["email"]')" user1@example.com "columns by name"
equals "$(jq 'type(d["rows"][0]["id"]).__name__')" int "integers stay integers"
equals "$(jq 'type(d["rows"][0]["balance"]).__name__')" str "numeric stays a string (no precision lost)"
equals "$(jq 'type(d["rows"][0]["profile"]).__name__')" dict "jsonb becomes JSON"
expect 1 "pg.query refuses to write" call pg.query conninfo=@env:PGMOVE_SOURCE \
	sql='DELETE FROM transactions'
has "$T/err" "pg.25006" "with the read-only SQLSTATE"
equals "$(psql_src 'SELECT count(*) FROM transactions')" 2000 "nothing was deleted"
expect 1 "max_rows guards against huge results" call pg.query conninfo=@env:PGMOVE_SOURCE \
	sql='SELECT * FROM transactions' max_rows=10
has "$T/err" "more than max_rows=10" "the error says so"

expect 0 "pg.exec with parameters" call pg.exec conninfo=@env:PGMOVE_TARGET \
	sql='CREATE TABLE t (id int PRIMARY KEY, v text)'
expect 0 "pg.exec of a list of statements" call pg.exec conninfo=@env:PGMOVE_TARGET \
	'sql=["INSERT INTO t VALUES (1, '"'"'a'"'"')", "INSERT INTO t VALUES (2, '"'"'b'"'"'), (3, NULL)"]'
equals "$(jq 'd["rows"]')" 3 "rows affected are summed"
expect 1 "a failing statement rolls the whole list back" call pg.exec conninfo=@env:PGMOVE_TARGET \
	'sql=["INSERT INTO t VALUES (4, '"'"'d'"'"')", "INSERT INTO t VALUES (1, '"'"'dup'"'"')"]'
has "$T/err" "pg.23505" "the error has the SQLSTATE"
equals "$(psql_tgt 'SELECT count(*) FROM t')" 3 "the first statement was rolled back"
expect 0 "pg.exec with a parameter" call pg.exec conninfo=@env:PGMOVE_TARGET \
	sql='UPDATE t SET v = $1 WHERE id = 3' 'params=["é"]'
equals "$(psql_tgt 'SELECT v FROM t WHERE id = 3')" é "the parameter reached the server"

# --- assess --------------------------------------------------------------------
expect 0 "pg.assess" call pg.assess conninfo=@env:PGMOVE_SOURCE
equals "$(jq '[t["name"] for t in d["tables_without_primary_key"]]')" '["audit_log"]' \
	"tables without a primary key are listed"
equals "$(jq 'd["server"]["version_num"] >= 100000')" true "the server version is reported"
equals "$(jq 'd["large_objects"]["count"]')" 0 "large objects are counted"
equals "$(jq '[e["name"] for e in d["extensions"]]')" '["plpgsql"]' "extensions are listed"
equals "$(jq 'd["replication"]["wal_level"]')" logical "replication settings are reported"
has "$T/out" "1 tables without a primary key" "warnings name what needs a decision"
psql_src "SELECT lo_from_bytea(0, 'x')" >/dev/null
call pg.assess conninfo=@env:PGMOVE_SOURCE
equals "$(jq 'd["large_objects"]["count"]')" 1 "a large object is counted"

# --- set_read_only / set_read_write --------------------------------------------
psql -X -q "$PGMOVE_SOURCE" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
echo $! >>"$T/bg.pids" # stopped by cleanup if still running
sleeper=$!
# until the session runs its statement (a fixed 0.3 s was too short on a
# loaded machine: nothing was there to terminate yet)
i=0
while [ "$(psql_src "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'")" = 0 ] &&
	[ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
expect 0 "pg.set_read_only with terminate" call pg.set_read_only conninfo=@env:PGMOVE_SOURCE \
	terminate=true
equals "$(jq 'd["terminated"]')" 1 "the other session was terminated"
wait $sleeper 2>/dev/null
equals "$?" 2 "the terminated session saw its connection end"
if psql_src "INSERT INTO settings (key) VALUES ('ro-test')" >/dev/null 2>"$T/psql.err"; then
	bad "a new session can still write"
else
	has "$T/psql.err" "read-only transaction" "a new session cannot write"
fi
expect 0 "pg.set_read_only again (idempotent)" call pg.set_read_only conninfo=@env:PGMOVE_SOURCE
expect 0 "pg.set_read_write" call pg.set_read_write conninfo=@env:PGMOVE_SOURCE
equals "$(psql_src "INSERT INTO settings (key) VALUES ('rw-test') RETURNING key")" rw-test \
	"a new session can write again"

# --- sync_sequences --------------------------------------------------------------
pg_dump --schema-only "$PGMOVE_SOURCE" | psql -X -q "$PGMOVE_TARGET" >/dev/null 2>&1
psql_tgt "SELECT setval('orders_id_seq', 99999)" >/dev/null
expect 0 "pg.sync_sequences" call pg.sync_sequences source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET margin=10
equals "$(psql_tgt "SELECT last_value FROM users_id_seq")" "$(($(psql_src "SELECT last_value FROM users_id_seq") + 10))" \
	"a target sequence behind the source is advanced (plus the margin)"
equals "$(psql_tgt "SELECT last_value FROM orders_id_seq")" 99999 "a sequence ahead is never moved back"
equals "$(jq "[s['status'] for s in d['sequences'] if s['name'] == 'orders_id_seq']")" '["ok"]' \
	"and reported as ok"
expect 0 "pg.sync_sequences again changes nothing" call pg.sync_sequences \
	source=@env:PGMOVE_SOURCE target=@env:PGMOVE_TARGET margin=10
equals "$(jq 'd["changed"]')" 0 "idempotent"

# --- analyze -------------------------------------------------------------------------
psql_src "SELECT pg_stat_reset()" >/dev/null 2>&1
expect 0 "pg.analyze" call pg.analyze conninfo=@env:PGMOVE_SOURCE
equals "$(jq 'd["tables"]')" 6 "every user table was analyzed"
lacks "$T/err" "only superuser" "no warnings about catalogs the role cannot analyze"
expect 0 "pg.analyze of named tables" call pg.analyze conninfo=@env:PGMOVE_SOURCE 'tables=["users"]'
equals "$(jq 'd["tables"]')" 1 "one table"
expect 1 "pg.analyze of a missing table fails" call pg.analyze conninfo=@env:PGMOVE_SOURCE \
	'tables=["nosuch"]'
has "$T/err" "nosuch" "naming it"
finish
