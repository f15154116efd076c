#!/bin/sh
# tests/pg/test_sandbox.sh - scripts/pgmove-sandbox: the two servers, the
# sample database the seeds validate, the password kept in a 0600 file and
# required over TCP, clear errors (port in use), idempotent start, and a
# stop that removes only what start created.
. "$(dirname "$0")/lib.sh"

start_sandbox --rows 1000
equals "$(stat -c %a "$SB/secrets")" 600 "the password file is 0600"
equals "$(echo "$PGMOVE_SOURCE" | sed 's/.*password=//')" "$SB_PASSWORD" "env prints the password of DIR/secrets"
has "$T/sandbox.env" "PGMOVE_TARGET='host=127.0.0.1 port=$((SB_PORT + 1)) dbname=app user=pgmove" \
	"the target listens on PORT+1"
if psql -X -At "host=127.0.0.1 port=$SB_PORT dbname=app user=pgmove password=wrong" -c 'SELECT 1' \
	>/dev/null 2>"$T/err"; then
	bad "a wrong password is accepted over TCP"
else
	has "$T/err" "password authentication failed" "TCP needs the password"
fi
equals "$(psql_src "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class
	WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")" \
	audit_log,order_items,orders,settings,transactions,users "the sample tables are on the source"
equals "$(psql_tgt "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 \
	"the target's app database is empty"
equals "$(psql_src 'SELECT count(*) FROM transactions')" 1000 "--rows sizes the biggest table"
equals "$(psql_src "SELECT string_agg(DISTINCT data_type, ',' ORDER BY data_type) FROM information_schema.columns
	WHERE table_schema = 'public' AND data_type IN ('numeric', 'double precision',
	'timestamp with time zone', 'jsonb', 'bytea', 'ARRAY', 'text', 'uuid', 'interval')")" \
	"ARRAY,bytea,double precision,interval,jsonb,numeric,text,timestamp with time zone,uuid" \
	"columns of every common type"
equals "$(psql_src "SELECT count(*) > 0 FROM users WHERE name IS NULL")$(psql_src "SELECT count(*) > 0 FROM users WHERE name ~ '[^[:ascii:]]'")" \
	tt "text with NULLs and Unicode"
equals "$(psql_src "SELECT count(*) FROM pg_constraint WHERE contype = 'f'")" 3 "foreign keys"
equals "$(psql_src "SELECT count(*) FROM pg_constraint WHERE conrelid = 'audit_log'::regclass AND contype = 'p'")" 0 \
	"a table without a primary key"
equals "$(psql_src "SELECT pg_get_serial_sequence('users', 'id')")" public.users_id_seq "a sequence-backed key"

expect 0 "start again says it is running" "$SANDBOX" start --dir "$SB"
has "$T/err" "already running" "and says so"
expect 0 "status of a running sandbox" "$SANDBOX" status --dir "$SB"
has "$T/out" "target: running on 127.0.0.1:$((SB_PORT + 1))" "status names both servers"

# A second sandbox on the same ports: a clear error, nothing left behind.
expect 1 "a port in use is refused" "$SANDBOX" start --dir "$T/second" --port "$SB_PORT"
has "$T/err" "port $SB_PORT on 127.0.0.1 is in use" "the error names the port"
[ ! -e "$T/second" ] && ok "the failed start removed its directory" || bad "$T/second left behind"

# A directory that existed before: stop removes only what start made.
mkdir "$T/pre"
echo keep >"$T/pre/mine"
# Another test may take a port between free-port and the server's bind (the
# suite runs in parallel): a start that failed on "in use" is tried again on
# another port, after checking that the failure kept the directory's own file.
for try in 1 2 3 4 5; do
	port2=$("$SANDBOX" free-port --port "$(random_port_base)") || continue
	"$SANDBOX" start --dir "$T/pre" --port "$port2" --empty >"$T/out" 2>"$T/err" && break
	grep -q "in use" "$T/err" && [ "$(ls -A "$T/pre")" = mine ] || break
done
[ -f "$T/pre/sandbox.conf" ] && ok "start in an existing directory" ||
	bad "start in an existing directory (port $port2)"
equals "$(PGOPTIONS= psql -X -At "host=$T/pre/run port=$port2 dbname=app user=pgmove" \
	-c "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 "--empty loads nothing"
expect 0 "stop" "$SANDBOX" stop --dir "$T/pre"
equals "$(ls -A "$T/pre")" mine "stop removed what start made and kept the rest"

# A port a client socket of this machine used and left in TIME_WAIT (every
# outgoing connection takes a port of the ephemeral range, 54320 included):
# nothing listens, but the server cannot bind it. free-port skips it and
# start refuses it at once (it once failed in the demo after initdb).
tw=$("$PY" -c 'import socket, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = socket.socket(); c.connect(srv.getsockname()); port = c.getsockname()[1]
a, _ = srv.accept(); c.close(); time.sleep(0.1); a.close()
print(port)')
fp=$("$SANDBOX" free-port --port "$tw")
[ -n "$fp" ] && [ "$fp" != "$tw" ] && ok "free-port skips a port in TIME_WAIT ($tw -> $fp)" ||
	bad "free-port gave $fp for a port in TIME_WAIT ($tw)"
expect 1 "start on a port in TIME_WAIT is refused" "$SANDBOX" start --dir "$T/tw" --port "$tw" --empty
has "$T/err" "port $tw on 127.0.0.1 is in use" "before initdb, naming the port"
[ ! -e "$T/tw" ] && ok "nothing left behind" || bad "$T/tw left behind"

expect 0 "stop the first sandbox" "$SANDBOX" stop --dir "$SB"
[ ! -e "$SB" ] && ok "stop removed the directory start created" || bad "$SB left behind"
expect 1 "status without a sandbox" "$SANDBOX" status --dir "$SB"
has "$T/err" "no sandbox in" "says there is none"
finish
