#!/bin/sh
# tests/pg/test_secrets.sh - issue 16, items 26-29, against a real server
# and the real pg_dump: a child gets an explicit environment (no
# PGMOVE_SOURCE / PGMOVE_TARGET, no other secrets) with its password as
# PGPASSWORD only; no password file is left behind by a kill -9; what
# pg_dump writes is 0600 whatever the umask; a connection string libpq
# cannot parse never shows a piece of its password (call errors, the
# journal, status).
. "$(dirname "$0")/lib.sh"

start_sandbox --rows 100
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR" "$T/bin" "$T/w"
REAL=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# a pg_dump that records its environment, then (when told) waits, then runs
# the real one
cat >"$T/bin/pg_dump" <<SH
#!/bin/sh
env >>"$T/child.env"
case "\$*" in *--version*) ;; *) [ -f "$T/hold" ] && { echo \$\$ >"$T/held"; exec sleep 30; } ;; esac
exec "$REAL/pg_dump" "\$@"
SH
chmod 0755 "$T/bin/pg_dump"
export AWS_SECRET_ACCESS_KEY=canary-aws-secret-4711
umask 022

# --- items 29 and 26: the child's environment, the dump's mode
expect 0 "dump through a pg_dump that records its environment" \
	call pgdump.dump conninfo=@env:PGMOVE_SOURCE file="$T/w/app.dump" bindir="$T/bin"
lacks "$T/child.env" "^PGMOVE_" "item 29: no PGMOVE_* variable reaches the child"
lacks "$T/child.env" "canary-aws-secret" "item 29: nor another secret of pgmove's environment"
has "$T/child.env" "^PGPASSWORD=$SB_PASSWORD\$" "item 29: the child gets its password as PGPASSWORD"
has "$T/child.env" "^PATH=" "item 29: and PATH"
lacks "$T/child.env" "PGPASSFILE" "item 27: and no password file"
equals "$(stat -c %a "$T/w/app.dump")" 600 "item 26: pg_dump's output is 0600 under umask 022"
expect 0 "directory-format dump" call pgdump.dump conninfo=@env:PGMOVE_SOURCE \
	file="$T/w/app.dir" format=directory bindir="$T/bin"
equals "$(find "$T/w/app.dir" -type f ! -perm 0600 | wc -l)" 0 \
	"item 26: every file of a directory-format dump is 0600"

# --- item 27: a kill -9 in the middle of a dump leaves no password file
: >"$T/hold"
bg "$PGMOVE_BIN" call pgdump.dump conninfo=@env:PGMOVE_SOURCE file="$T/w/k.dump" \
	bindir="$T/bin"
pid=$BG
wait_for "$T/held" 30 || bad "item 27: pg_dump did not start"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
kill -KILL "$(cat "$T/held")" 2>/dev/null
rm -f "$T/hold"
equals "$(find "$TMPDIR" -type f | wc -l)" 0 "item 27: no file left in TMPDIR after kill -9"
if grep -rqs -- "$SB_PASSWORD" "$TMPDIR" "$PGMOVE_STATE_DIR"; then
	bad "item 27: the password is in a file left behind"
else
	ok "item 27: the password is in no file left behind"
fi

# --- item 28: a connection string libpq cannot parse
export BAD="host=127.0.0.1 port=$SB_PORT dbname=app 7f3Q-pass"
expect 1 "pg.query with an unparsable connection string" call pg.query conninfo=@env:BAD sql="select 1"
has "$T/err" 'invalid connection string: missing "=" after "\.\.\."' "item 28: the error says what is wrong"
lacks "$T/err" "7f3Q" "item 28: pg.query's error shows no piece of the password"
expect 1 "pgdump.dump with an unparsable connection string" call pgdump.dump conninfo=@env:BAD file="$T/w/x.dump"
lacks "$T/err" "7f3Q" "item 28: pgdump's error shows no piece of the password"
export BAD="postgresql://app:7f3Q%zzpass@127.0.0.1:$SB_PORT/app"
expect 1 "pgdump.dump with a bad URI" call pgdump.dump conninfo=@env:BAD file="$T/w/x.dump"
lacks "$T/err" "7f3Q" "item 28: a bad URI's error shows no piece of the password"
cat >"$T/leak.lua" <<'LUA'
local pg = plugin "pg"
runbook "leak" { params = { port = { type = "string", required = true } } }
step "q" {
  run = function(ctx)
    return pg.query { conninfo = "host=127.0.0.1 port=" .. ctx.params.port .. " 7f3Q-pass", sql = "select 1" }
  end,
}
LUA
expect 1 "a runbook building an unparsable connection string fails" \
	pgmove run "$T/leak.lua" -p port="$SB_PORT"
lacks "$T/err" "7f3Q" "item 28: the run's log shows no piece of the password"
if grep -rqs "7f3Q" "$PGMOVE_STATE_DIR"; then bad "item 28: the journal holds a piece of the password"
else ok "item 28: the journal holds no piece of the password"; fi
expect 0 "status of the failed run" pgmove status last
has "$T/out" "invalid connection string" "item 28: status shows the error"
lacks "$T/out" "7f3Q" "item 28: status shows no piece of the password"

finish
