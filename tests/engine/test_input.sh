#!/bin/sh
# tests/engine/test_input.sh - bad input never crashes, hangs or misleads
# (issue 7): the runbook sandbox, error text that is not UTF-8, declaration
# checks, the command line's refusals.
. "$(dirname "$0")/lib.sh"

# plan_fails NAME PATTERN DESCRIPTION - writes $T/NAME.lua from stdin and
# checks plan refuses it (exit 6) with PATTERN in the message.
plan_fails() {
	cat >"$T/$1.lua"
	expect 6 "plan refuses: $3" pgmove plan "$T/$1.lua"
	has "$T/err" "$2" "message for: $3"
}
# plan_ok NAME DESCRIPTION - writes $T/NAME.lua from stdin; plan accepts it.
plan_ok() {
	cat >"$T/$1.lua"
	expect 0 "plan accepts: $2" pgmove plan "$T/$1.lua"
}

# --- 1. the load-time environment is an allow-list ------------------------
for lib in io debug package; do
	plan_fails "global_$lib" "a nil value \\(global '$lib'\\)" "no $lib global while loading" <<LUA
local x = $lib.dummy
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
done
plan_fails require_io "module 'io' not found" "require 'io' does not hand back the io library" <<'LUA'
local io = require "io"
io.popen("touch /tmp/pgmove-sandbox-escaped")
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
plan_fails require_os "module 'os' not found" "require 'os' does not hand back os" <<'LUA'
local os = require "os"
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
plan_fails os_execute "field 'execute'|a nil value" "os.execute is gone" <<'LUA'
os.execute("true")
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
plan_fails string_dump "field 'dump'|a nil value" "string.dump is gone" <<'LUA'
local b = string.dump(function() end)
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
plan_fails getregistry "global 'debug'" "no debug.getregistry" <<'LUA'
local r = debug.getregistry()
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
# the documented allow-list is there
plan_ok allowed "string, table, math, utf8, os.time, json, load of text" <<'LUA'
assert(string.format and table.concat and math.floor and utf8.char and coroutine.wrap)
assert(os.time() > 0 and os.clock() >= 0 and os.date("!%Y") and os.difftime(2, 1) == 1)
assert(json.encode({ a = 1 }) == '{"a":1}')
assert(load("return 1 + 1")() == 2)
assert(pcall and xpcall and select and tostring and tonumber and setmetatable)
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
# runbook modules next to the runbook
mkdir -p "$T/lib"
printf 'return { answer = 42 }\n' >"$T/lib/mod.lua"
plan_ok require_local "require of a Lua module next to the runbook" <<'LUA'
local m = require "lib.mod"
assert(m.answer == 42 and require "lib.mod" == m)
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
printf 'return require "cyc_b"\n' >"$T/cyc_a.lua"
printf 'return require "cyc_a"\n' >"$T/cyc_b.lua"
plan_fails require_cycle "module 'cyc_a' requires itself \(a require cycle\)" "a require cycle is named" <<'LUA'
local a = require "cyc_a"
runbook "x" { }
step "a" { run = function(ctx) end }
LUA
lacks "$T/err" "C stack overflow" "a require cycle is not a C stack overflow"
plan_fails require_dots "bad module name" "require cannot leave the runbook's folder" <<'LUA'
local a = require "..secret"
runbook "x" { }
step "a" { run = function(ctx) end }
LUA

# --- 2. text chunks only ---------------------------------------------------
plan_fails binary_chunk "attempt to load a binary chunk" "load() refuses binary chunks" <<'LUA'
local f, e = load("\27Lua\84\0garbage")
if not f then error(e, 0) end
runbook "x" { }
step "a" { run = function(ctx) end }
LUA

# --- 3. a budget while loading ---------------------------------------------
cat >"$T/loop.lua" <<'LUA'
while true do end
LUA
start=$(date +%s)
PGMOVE_LOAD_TIMEOUT=1s expect 6 "an endless loop while loading stops" pgmove plan "$T/loop.lua"
has "$T/err" "did not finish loading within 1s" "the loading budget is named"
cat >"$T/loop_pcall.lua" <<'LUA'
while true do pcall(function() while true do end end) end
LUA
PGMOVE_LOAD_TIMEOUT=1s expect 6 "an endless loop catching errors while loading stops" pgmove plan "$T/loop_pcall.lua"
has "$T/err" "did not finish loading" "the loading budget is named (pcall)"
end=$(date +%s)
if [ $((end - start)) -le "$(limit 10)" ]; then ok "the loops stopped within the budget"; else bad "loops took $((end - start))s"; fi
plan_fails memory "more than 256 MB of memory while loading|not enough memory" "memory while loading is bounded" <<'LUA'
local t = {}
for i = 1, 100 do t[i] = string.rep("x", 16 * 1024 * 1024) .. i end
LUA
expect 6 "a bad PGMOVE_LOAD_TIMEOUT" env PGMOVE_LOAD_TIMEOUT=soon "$PGMOVE_BIN" plan "$T/allowed.lua"
has "$T/err" "PGMOVE_LOAD_TIMEOUT" "a bad PGMOVE_LOAD_TIMEOUT is named"
expect 6 "a PGMOVE_LOAD_TIMEOUT of 0" env PGMOVE_LOAD_TIMEOUT=0s "$PGMOVE_BIN" plan "$T/allowed.lua"
has "$T/err" "PGMOVE_LOAD_TIMEOUT: must be more than 0" "a PGMOVE_LOAD_TIMEOUT of 0 is refused"

# runbook code cannot escape the engine's hook: no debug.sethook, and a
# coroutine made while loading still times out
cat >"$T/escape.lua" <<'LUA'
local spin = coroutine.wrap(function() while true do end end)
runbook "escape" { }
step "a" { timeout = "300ms", run = function(ctx) spin() end }
LUA
expect 1 "a coroutine made while loading cannot escape a step's timeout" timeout -k 5 30 "$PGMOVE_BIN" run "$T/escape.lua"
has "$T/err" "timed out" "the step timed out"
cat >"$T/sethook.lua" <<'LUA'
runbook "sethook" { }
step "a" { run = function(ctx) debug.sethook() end }
LUA
expect 1 "debug.sethook is not there in a step" timeout -k 5 30 "$PGMOVE_BIN" run "$T/sethook.lua"
has "$T/err" "global 'debug'" "no debug in a step"

# --- 17. locations, error objects, BOM and #! ------------------------------
plan_fails node_loc "node_loc\.lua:3: step 'a': field 'run' is required" "a node's declaration error names the runbook's line" <<'LUA'
runbook "x" { }

step "a" { }
LUA
lacks "$T/err" "prelude:" "no prelude location in a node's error"
cat >"$T/locs.lua" <<'LUA'
runbook "x" { }
step "a" { run = function(ctx) end }
wait "w" { every = "1s", condition = function(ctx) return true end }
LUA
expect 0 "plan --json of a runbook" pgmove plan --json "$T/locs.lua"
has "$T/out" '"loc": "[^"]*locs\.lua:2"' "a step's loc is its runbook line"
has "$T/out" '"loc": "[^"]*locs\.lua:3"' "a wait's loc is its runbook line"
lacks "$T/out" '"loc": "prelude' "no loc names the prelude"
plan_fails error_table "error_table\.lua:1: my\.code: it broke" "an error table while loading says its code and message" <<'LUA'
error({ code = "my.code", message = "it broke" })
LUA
plan_fails error_nil "error_nil\.lua:1: the runbook raised an error with a nil value" "error(nil) while loading names the line" <<'LUA'
error(nil)
LUA
lacks "$T/err" "is not a string" "error(nil) is not 'not a string'"
printf '\357\273\277runbook "bom" { }\nstep "a" { run = function(ctx) end }\n' >"$T/bom.lua"
expect 0 "a runbook starting with a UTF-8 BOM loads" pgmove plan "$T/bom.lua"
printf '#!/usr/bin/env pgmove\nrunbook "sb" { }\nstep "a" { }\n' >"$T/shebang.lua"
expect 6 "a runbook starting with #! loads (and counts lines)" pgmove plan "$T/shebang.lua"
has "$T/err" "shebang\.lua:3: step 'a'" "line numbers after a #! line are right"

# --- 15. numbers and durations are range-checked at declaration -----------
plan_fails timeout_nan "field 'timeout': .*out of range" "timeout = 0/0 is refused" <<'LUA'
runbook "x" { }
step "a" { timeout = 0/0, run = function(ctx) end }
LUA
plan_fails timeout_huge "field 'timeout': .*out of range" "a timeout of 1e300 seconds is refused" <<'LUA'
runbook "x" { }
step "a" { timeout = 1e300, run = function(ctx) end }
LUA
plan_fails duration_big "too large \(at most 3650d\)" "a duration of 99999999d is refused" <<'LUA'
runbook "x" { }
wait "w" { every = "99999999d", condition = function(ctx) return true end }
LUA
plan_fails attempts_big "retry.attempts must be a whole number from 1 to 1000" "retry.attempts = 4294967297 is refused" <<'LUA'
runbook "x" { }
step "a" { retry = { attempts = 4294967297 }, run = function(ctx) end }
LUA
plan_fails backoff_nan "retry.backoff must be a number from 1 to 100" "retry.backoff = 0/0 is refused" <<'LUA'
runbook "x" { }
step "a" { retry = { attempts = 2, backoff = 0/0 }, run = function(ctx) end }
LUA

# --- 16. plan refuses runbooks that cannot work -----------------------------
plan_fails recovery_self "names itself as its recovery" "a recovery step naming itself" <<'LUA'
runbook "x" { }
step "a" { irreversible = true, recovery = "a", run = function(ctx) end }
LUA
plan_fails approvers_empty "approvers is empty" "approvers = {}" <<'LUA'
runbook "x" { }
approve "go" { approvers = {} }
LUA
plan_fails stable_long "stable_for \(2h\) is longer than timeout \(1h\)" "stable_for longer than timeout" <<'LUA'
runbook "x" { }
wait "w" { timeout = "1h", stable_for = "2h", condition = function(ctx) return true end }
LUA
# checks and conditions: only a boolean (or nil) counts
cat >"$T/truthy.lua" <<'LUA'
runbook "truthy" { }
gate "g" {
  check("zero", function(ctx) return 0 end),
  check("text", function(ctx) return "false" end),
  check("table", function(ctx) return {} end),
  check("yes", function(ctx) return true end),
}
LUA
expect 4 "a gate whose checks return 0, \"false\" and {} fails" pgmove run "$T/truthy.lua"
has "$T/err" "check of 'zero' returned a number \(0\) where true or false" "a check returning 0 says so"
has "$T/err" "check 'text' FAILED" "a check returning \"false\" fails"
has "$T/err" "check 'table' FAILED" "a check returning {} fails"
lacks "$T/err" "check 'yes' FAILED" "a check returning true passes"
cat >"$T/cond.lua" <<'LUA'
runbook "cond" { }
wait "w" { every = "10ms", timeout = "5s", condition = function(ctx) return 1 end }
LUA
expect 1 "a wait whose condition returns 1 fails the run" pgmove run "$T/cond.lua"
has "$T/err" "condition of 'w' returned a number \(1\)" "the wait's bad result is named"

# --- 4/9. text that is not UTF-8, and NUL bytes ------------------------------
cat >"$T/utf.lua" <<'LUA'
runbook "utf" { params = { what = { type = "string", default = "msg" } } }
step "a" { run = function(ctx)
  if ctx.params.what == "msg" then error("bad \255\254 byte") end
  if ctx.params.what == "code" then error({ code = "x\255", message = "m\255" }) end
  if ctx.params.what == "key" then return { ["k\255"] = 1 } end
  if ctx.params.what == "nul" then return { s = "a\0b" } end
  if ctx.params.what == "nil" then error(nil) end
  if ctx.params.what == "table" then error({}) end
end }
step "b" { run = function(ctx)
  assert(ctx.outputs.a.s == "a\0b", "the NUL byte survived: " .. #ctx.outputs.a.s)
end }
LUA
for what in msg code key; do
	expect 1 "a step failing with text that is not UTF-8 ($what) fails cleanly" pgmove run "$T/utf.lua" -p what=$what --run-id "utf-$what"
	lacks "$T/err" "PANIC|must be a JSON object" "no panic, no bad event ($what)"
	expect 0 "status of that run ($what)" pgmove status "utf-$what"
	has "$T/out" "failed" "the run is failed, not left running ($what)"
	expect 1 "resume of that run fails again cleanly ($what)" pgmove resume "utf-$what"
	lacks "$T/err" "PANIC" "resume does not panic ($what)"
done
has "$PGMOVE_STATE_DIR/utf/utf-msg/journal.jsonl" "bad $(printf '\357\277\275\357\277\275') byte" "the message is journaled with U+FFFD"
expect 0 "a NUL byte in an output survives the journal and ctx.outputs" pgmove run "$T/utf.lua" -p what=nul --run-id utf-nul
has "$PGMOVE_STATE_DIR/utf/utf-nul/journal.jsonl" '"a\\u0000b"' "the journal keeps the NUL byte"
# check details that are not UTF-8 (a key, a failed check's text): the gate
# event is journaled with the details repaired or replaced, the run goes on
cat >"$T/det.lua" <<'LUA'
runbook "det" { params = { what = { type = "string", default = "key" } } }
gate "g" {
  check("bytes", function(ctx)
    if ctx.params.what == "key" then return true, { ["k\255"] = "v" } end
    return false, "bad \255 detail"
  end),
}
step "s" { run = function(ctx) return 1 end }
LUA
expect 0 "a check passing with a detail key that is not UTF-8" pgmove run "$T/det.lua" --run-id det-key
lacks "$T/err" "PANIC|must be a JSON object" "no panic, no bad event (check detail key)"
has "$PGMOVE_STATE_DIR/det/det-key/journal.jsonl" '"ev":"gate.check".*"ok":true' "the check is journaled"
expect 4 "a check failing with a detail that is not UTF-8" pgmove run "$T/det.lua" -p what=text --run-id det-text
lacks "$T/err" "PANIC|must be a JSON object" "no panic, no bad event (check detail text)"
expect 0 "status of the halted run" pgmove status det-text
has "$T/out" "halted: gate g failed" "the run is halted at the gate, not left running"
expect 1 "error(nil) in a step" pgmove run "$T/utf.lua" -p what=nil --run-id utf-nil
has "$T/err" "raised an error with a nil value instead of a message" "error(nil) says what it is"
expect 1 "error({}) in a step" pgmove run "$T/utf.lua" -p what=table --run-id utf-table
has "$T/err" "error table without a message" "error({}) says what it is"

# --- 12-14, 18. the command line ---------------------------------------------
cat >"$T/params.lua" <<'LUA'
runbook "params" { params = {
  source = { type = "conninfo", env = "TEST_SOURCE" },
  n = { type = "integer", default = 1 },
} }
step "a" { run = function(ctx) return ctx.params.n end }
LUA
for ci in 'host=x ab' 'x ab' 'host=x a b c d' 'a=b c'; do
	expect 2 "-p source='$ci' (a conninfo that does not parse)" pgmove run "$T/params.lua" -p "source=$ci"
	has "$T/err" "is not a valid connection string" "the conninfo error is clean ('$ci')"
done
expect 2 "-p with a value that is not UTF-8" pgmove run "$T/params.lua" -p "$(printf 'n=\377')"
has "$T/err" "is not valid UTF-8" "a value that is not UTF-8 is refused with a message"
expect 2 "approve --by that is not UTF-8" pgmove approve last go --by "$(printf 'mallory\377')"
has "$T/err" "is not valid UTF-8" "approve --by that is not UTF-8 is refused"
expect 2 "call with a value that is not UTF-8" pgmove call testplug.echo "$(printf 'value=\377')"
has "$T/err" "is not valid UTF-8" "call value that is not UTF-8 is refused"
expect 2 "call with @env: that is not UTF-8" env "BAD=$(printf '\377')" "$PGMOVE_BIN" call testplug.echo value=@env:BAD
has "$T/err" "environment variable BAD is not valid UTF-8" "@env: that is not UTF-8 is named"
expect 2 "a param's environment variable that is not UTF-8" env "TEST_SOURCE=$(printf '\377')" "$PGMOVE_BIN" run "$T/params.lua"
has "$T/err" "TEST_SOURCE is not valid UTF-8" "the param's environment variable is named"
expect 2 "--run-id ../../x" pgmove run "$T/params.lua" --run-id ../../escaped
has "$T/err" "a run id is letters, digits" "a run id that is a path is refused"
if [ -e "$T/escaped" ] || [ -e "$PGMOVE_STATE_DIR/../escaped" ]; then bad "--run-id ../../x wrote outside the state dir"; else ok "nothing written outside the state dir"; fi
expect 2 "--run-id ''" pgmove run "$T/params.lua" --run-id ''
if [ -e "$T/journal.jsonl" ]; then bad "--run-id '' wrote a journal next to the runbook"; else ok "no journal next to the runbook"; fi
expect 2 "status of a run id with ../" pgmove status '..'
expect 2 "call of an unknown plugin is a usage error" pgmove call nosuch.f
expect 2 "call of an invalid plugin name is a usage error" pgmove call 'Bad-Name.f'

# a runbook whose path is not UTF-8 (reached through a relative path)
bad_dir="$T/$(printf 'dir\377')"
mkdir -p "$bad_dir" && cp "$T/allowed.lua" "$bad_dir/rb.lua"
expect 6 "a runbook path that is not UTF-8 is refused" sh -c 'cd "$1" && "$2" plan rb.lua' sh "$bad_dir" "$PGMOVE_BIN"
has "$T/err" "is not valid UTF-8: rename it" "a runbook path that is not UTF-8 is named"
expect 2 "a runbook argument that is not UTF-8 is refused" pgmove plan "$bad_dir/rb.lua"

# --- 5-7, 10, 11. the journal is the truth ------------------------------------
cat >"$T/jr.lua" <<'LUA'
runbook "jr" { }
step "a" { run = function(ctx) return { n = 1 } end }
approve "ok" { }
step "c" { run = function(ctx) return 2 end }
LUA
expect 3 "a run that pauses for an approval" pgmove run "$T/jr.lua" --run-id jr-good
good="$PGMOVE_STATE_DIR/jr/jr-good"
# corrupt NAME SED-SCRIPT DESCRIPTION PATTERN - a copy of the good run with
# its journal edited; every command that reads it refuses it, exit 8.
corrupt() {
	d="$PGMOVE_STATE_DIR/jr/$1"
	rm -rf "$d"
	cp -r "$good" "$d"
	rm -f "$d/lock"
	sed -i "$2" "$d/journal.jsonl"
	for cmd in "status $1" "report $1" "resume $1" "approve $1 ok --by x" "resolve $1 a --succeeded --by x"; do
		# shellcheck disable=SC2086
		expect 8 "$3: pgmove $cmd" timeout -k 5 20 "$PGMOVE_BIN" $cmd
		has "$T/err" "$4" "$3: pgmove ${cmd%% *} says why"
	done
}
corrupt jr-gap '3d' "a deleted line" "seq [0-9]+ where 3 was expected"
corrupt jr-dup '2p' "a duplicated line" "line 3 has seq 2 where 3 was expected"
corrupt jr-swap '2{h;d};3{G}' "two lines swapped" "line 2 has seq 3 where 2 was expected"
corrupt jr-neg '1s/"seq":1,/"seq":-1,/' "a negative seq" "line 1 has seq -1"
corrupt jr-noplan '1s/"nodes":\[/"nodez":[/' "a run.start without a plan" "run.start has no usable plan"
corrupt jr-nokind '1s/"kind":"approve"/"kinx":"approve"/' "a plan node without a kind" "\('ok'\) has no kind"
corrupt jr-kindnum '1s/"kind":"step"/"kind":7/' "a plan node kind that is a number" "has no kind"
corrupt jr-norunbook '1s/"runbook":"jr",//' "a run.start without runbook" "no \"run\" or \"runbook\""
# a FIFO where the journal should be: refused at once, never waited on
d="$PGMOVE_STATE_DIR/jr/jr-fifo"
mkdir -p "$d" && mkfifo "$d/journal.jsonl"
expect 8 "status of a run whose journal is a FIFO" timeout -k 5 20 "$PGMOVE_BIN" status jr-fifo
has "$T/err" "is not a regular file" "a FIFO journal is named"
expect 8 "resume of a run whose journal is a FIFO" timeout -k 5 20 "$PGMOVE_BIN" resume jr-fifo
has "$T/err" "is not a regular file" "resume: a FIFO journal is named"
# the good run is still good
expect 0 "status of the good run" pgmove status jr-good
has "$T/out" "paused" "the good run is paused"
# permission problems are not "not found" (only testable as another user)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$T"
	mkdir -p "$T/locked/jr/r1" && cp "$good/journal.jsonl" "$T/locked/jr/r1/"
	chmod 700 "$T/locked"
	asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env PGMOVE_STATE_DIR="$T/locked" "$@"; }
	chmod -R a+rX "$top_builddir" 2>/dev/null
	expect 8 "status of a run in a state dir nobody may read" asnobody "$PGMOVE_BIN" status r1
	has "$T/err" "permission denied" "permission denied is said (status)"
	expect 8 "status --all in a state dir nobody may read" asnobody "$PGMOVE_BIN" status --all
	has "$T/err" "permission denied" "permission denied is said (status --all)"
	expect 8 "status of a run directory nobody may read" asnobody "$PGMOVE_BIN" status "$T/locked/jr/r1"
	has "$T/err" "permission denied" "permission denied is said (a directory)"
else
	echo "ok - # SKIP permission tests need root to switch users"
fi

finish
