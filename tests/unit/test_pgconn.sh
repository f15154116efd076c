#!/bin/sh
# tests/unit/test_pgconn.sh - starts a throw-away PostgreSQL server (initdb and
# pg_ctl as an unprivileged user, in a temp dir, on a free loopback port, SCRAM
# password over TCP) and runs test_pgconn against it (under valgrind when
# PGMOVE_VALGRIND=1, through the test wrapper).
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || { echo "test_pgconn.sh: no PostgreSQL server binaries" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgmove-pgconn-XXXXXX")
as=
if [ "$(id -u)" = 0 ]; then
	user=postgres
	id "$user" >/dev/null 2>&1 || { echo "test_pgconn.sh: no postgres user to run the server as" >&2; exit 1; }
	chown "$user" "$tmp"
	as="runuser -u $user --"
fi
chmod 700 "$tmp"
cleanup() {
	$as "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
umask 077
printf '%s\n' "$password" > "$tmp/pw"
[ -z "$as" ] || chown postgres "$tmp/pw"
$as "$bindir/initdb" -D "$tmp/data" -U pgmove_test --pwfile="$tmp/pw" -A scram-sha-256 \
	-E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
rm -f "$tmp/pw"
# Two free ports: one for the server, one where nothing listens. A test
# running beside this one may take the port before the server binds it: try
# a few times.
started=0
for try in 1 2 3 4 5; do
	ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
	port=${ports% *}
	badport=${ports#* }
	if $as "$bindir/pg_ctl" -D "$tmp/data" -w -t 60 -l "$tmp/server.log" \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c max_connections=20" \
		start >/dev/null; then
		started=1
		break
	fi
done
[ $started = 1 ] || { cat "$tmp/server.log" >&2; exit 1; }

PGMOVE_TEST_CONNINFO="host=127.0.0.1 port=$port dbname=postgres user=pgmove_test password=$password"
PGMOVE_TEST_BADPORT=$badport
export PGMOVE_TEST_CONNINFO PGMOVE_TEST_BADPORT
"$top_srcdir/tests/testwrapper.sh" "$top_builddir/tests/unit/test_pgconn"
