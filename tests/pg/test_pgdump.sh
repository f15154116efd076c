#!/bin/sh
# tests/pg/test_pgdump.sh - the pgdump plugin against real servers: a
# sectioned, parallel dump and restore of the sandbox gives an inventory-
# and checksum-equal target; the password never reaches a child's argv or
# the logs; failures carry the exit status and stderr; a pg_dump older
# than the server is refused naming both versions; clean undoes restore.
. "$(dirname "$0")/lib.sh"

start_sandbox --rows 5000
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
D="$T/dumps"

expect 0 "pgdump.check finds a pg_dump new enough" \
	call pgdump.check conninfo=@env:PGMOVE_SOURCE
has "$T/out" '"pg_dump_version": "[0-9]+' "check reports the pg_dump version"

expect 0 "schema-only dump (custom format)" pgmove call --log-format plain -v pgdump.dump \
	conninfo=@env:PGMOVE_SOURCE file="$D/schema.dump" content=schema
equals "$(jq 'd["bytes"] > 0')" true "the schema dump has bytes"
has "$T/err" "child: running .*pg_dump .*--dbname=" "the child's command line is logged at debug level"
lacks "$T/err" "$SB_PASSWORD" "the password is not in the child's argv nor any log line"
lacks "$T/err" "password=" "no password= appears in the logs"
equals "$(ls -A "$TMPDIR" | wc -l)" 0 "the password file is gone when pgmove exits"

expect 0 "pgdump.list of the schema dump" call pgdump.list file="$D/schema.dump"
equals "$(jq 'd["by_kind"]["TABLE"]')" 6 "the archive lists the six tables"
equals "$(jq 'd["by_kind"].get("TABLE DATA", 0)')" 0 "a schema-only archive has no table data"

expect 0 "pre-data restored in one transaction" call pgdump.restore conninfo=@env:PGMOVE_TARGET \
	file="$D/schema.dump" 'sections=["pre-data"]' single_transaction=true clean=true
equals "$(psql_tgt "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")" 6 \
	"the tables exist on the target"
equals "$(psql_tgt "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" 0 \
	"indexes wait for post-data"
expect 0 "pre-data restore with clean=true can run again" call pgdump.restore \
	conninfo=@env:PGMOVE_TARGET file="$D/schema.dump" 'sections=["pre-data"]' \
	single_transaction=true clean=true

expect 0 "parallel data-only dump (directory format, compressed)" call pgdump.dump \
	conninfo=@env:PGMOVE_SOURCE file="$D/data" format=directory content=data jobs=2 compress=3
equals "$(jq 'd["tables"]')" 6 "progress counted six tables from --verbose output"
expect 1 "jobs > 1 needs the directory format" call pgdump.dump conninfo=@env:PGMOVE_SOURCE \
	file="$D/x.dump" jobs=2
has "$T/err" "args.invalid.*directory" "the refusal says why"
expect 0 "parallel data restore" call pgdump.restore conninfo=@env:PGMOVE_TARGET file="$D/data" \
	content=data jobs=2
expect 0 "post-data restore" call pgdump.restore conninfo=@env:PGMOVE_TARGET \
	file="$D/schema.dump" 'sections=["post-data"]' jobs=2
expect 0 "checksum.compare after the restore" call checksum.compare source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "the restored target is checksum-equal"
equals "$(jq 'd["rows_target"]')" "$(jq 'd["rows_source"]')" "with as many rows"
expect 0 "checksum.inventory after the restore" call checksum.inventory source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "the restored target is inventory-equal"
expect 0 "checksum.sequences after the restore" call checksum.sequences source=@env:PGMOVE_SOURCE \
	target=@env:PGMOVE_TARGET
equals "$(jq 'd["equal"]')" true "the sequences were restored"

# --- failures ----------------------------------------------------------------
echo "this is not a pg_dump archive, only some text" >"$T/notarchive"
expect 1 "restoring something that is not an archive fails" call pgdump.restore \
	conninfo=@env:PGMOVE_TARGET file="$T/notarchive"
has "$T/err" "exited with status 1" "the failure carries the exit status"
has "$T/err" "does not appear to be a valid archive" "and the tail of stderr"
mkdir -p "$T/oldbin"
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n' >"$T/oldbin/pg_dump"
printf '#!/bin/sh\necho "pg_restore (PostgreSQL) 9.6.24"\n' >"$T/oldbin/pg_restore"
chmod +x "$T/oldbin/pg_dump" "$T/oldbin/pg_restore"
expect 1 "a pg_dump older than the server is refused" call pgdump.dump \
	conninfo=@env:PGMOVE_SOURCE file="$D/old.dump" bindir="$T/oldbin"
has "$T/err" "pgdump.version" "with its own error code"
has "$T/err" "pg_dump 9.6.24 .* older than the server \(PostgreSQL 1[0-9]" "naming both versions"
[ ! -e "$D/old.dump" ] && ok "nothing was written" || bad "a dump file was written"
PGMOVE_BAD="host=127.0.0.1 port=$SB_PORT dbname=app user=pgmove password=wrong-$SB_PASSWORD"
export PGMOVE_BAD
expect 1 "a wrong password fails before pg_dump runs" call pgdump.dump conninfo=@env:PGMOVE_BAD \
	file="$D/bad.dump"
has "$T/err" "password authentication failed" "the server's message is kept"
lacks "$T/err" "wrong-" "the wrong password is not shown either"

# --- clean: the undo of restore ------------------------------------------------
expect 0 "clean mode=data empties the restored tables" call pgdump.clean \
	conninfo=@env:PGMOVE_TARGET file="$D/data" mode=data
equals "$(jq 'd["tables_emptied"]')" 6 "six tables emptied"
equals "$(psql_tgt "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM transactions)")" 0 \
	"no rows left"
expect 0 "clean mode=objects drops what was restored" call pgdump.clean \
	conninfo=@env:PGMOVE_TARGET file="$D/schema.dump"
equals "$(psql_tgt "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 \
	"no relation left in public"
expect 0 "clean is idempotent" call pgdump.clean conninfo=@env:PGMOVE_TARGET file="$D/schema.dump"
equals "$(psql_src "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")" 6 \
	"the source is untouched"
finish
