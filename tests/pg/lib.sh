# tests/pg/lib.sh - shared by the tests against real PostgreSQL servers
# (sourced). Starts a sandbox (scripts/pgmove-sandbox: source on PORT,
# target on PORT+1) in a temporary directory on a free port, and stops and
# removes it on exit, whatever happens. Every assertion prints "ok - ..."
# or "not ok - ..."; finish prints the totals and sets the exit status.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/engine/lib.sh"
SANDBOX="$top_srcdir/scripts/pgmove-sandbox"
export PGMOVE_PLUGIN_PATH="$top_builddir/plugins"
chmod 0755 "$T" # the servers run as an unprivileged user when we are root
SB="$T/sandbox"
extra_cleanup() {
	if [ -f "$SB/sandbox.conf" ]; then
		"$SANDBOX" stop --dir "$SB" >/dev/null 2>&1 || true
	fi
}
trap 'exit 130' INT TERM

# call FUNCTION ARGS... - pgmove call with the sandbox's connection strings
# available as source=@env:PGMOVE_SOURCE etc.; JSON result in $T/out.
call() {
	pgmove call --log-format plain "$@" >"$T/out" 2>"$T/err"
}

# jq EXPR - evaluates a Python expression on the JSON in $T/out (as d).
jq() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)' "$T/out" "$1" 2>/dev/null
}


# start_sandbox ARGS... - starts the sandbox on a free port; exports
# PGMOVE_SOURCE / PGMOVE_TARGET. Exits the test when it cannot.
start_sandbox() {
	local port try
	for try in 1 2 3 4 5; do
		port=$("$SANDBOX" free-port --port "$(random_port_base)") || continue
		if "$SANDBOX" start --dir "$SB" --port "$port" "$@" >"$T/sandbox.env" 2>"$T/sandbox.err"; then
			eval "$(cat "$T/sandbox.env")"
			SB_PORT=$port
			SB_PASSWORD=$(cat "$SB/secrets")
			return 0
		fi
		grep -q "in use" "$T/sandbox.err" || break
	done
	echo "not ok - sandbox did not start:"
	sed 's/^/    | /' "$T/sandbox.err"
	exit 1
}

# copy_runbook FILE NAME ARGS - writes to FILE a runbook NAME of one step,
# copy, calling copy.data with the sandbox's connection strings (params
# source and target, from PGMOVE_SOURCE / PGMOVE_TARGET) and ARGS (Lua
# table fields, on a line of their own).
copy_runbook() {
	cat >"$1" <<LUA
local copy = plugin "copy"
runbook "$2" {
  params = {
    source = { type = "conninfo", env = "PGMOVE_SOURCE", secret = true, required = true },
    target = { type = "conninfo", env = "PGMOVE_TARGET", secret = true, required = true },
  },
}
step "copy" {
  run = function(ctx)
    return copy.data { source = ctx.params.source, target = ctx.params.target,
                       $3 }
  end,
}
LUA
}

# psql_src / psql_tgt SQL - runs SQL on a server, unaligned tuples only.
psql_src() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_SOURCE" -c "$1"; }
psql_tgt() { psql -X -q -v ON_ERROR_STOP=1 -At "$PGMOVE_TARGET" -c "$1"; }

# wait_sql psql_src|psql_tgt SQL [SECONDS] - until SQL (a count) is above 0:
# 0, or 1 after $(limit SECONDS) seconds (10 by default). For waits on what
# a server shows (a lock held, a session waiting) instead of sleeps.
wait_sql() {
	ws_i=0
	ws_n=$(($(limit "${3:-10}") * 10))
	while [ $ws_i -lt $ws_n ]; do
		ws_c=$("$1" "$2" 2>/dev/null)
		[ "${ws_c:-0}" -gt 0 ] 2>/dev/null && return 0
		sleep 0.1
		ws_i=$((ws_i + 1))
	done
	return 1
}

# copy_source_to_target - the target becomes a copy of the source.
copy_source_to_target() {
	pg_dump "$PGMOVE_SOURCE" | psql -X -q -v ON_ERROR_STOP=1 "$PGMOVE_TARGET" >/dev/null
}


