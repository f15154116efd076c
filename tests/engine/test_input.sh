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
if [ $((end - start)) -le 10 ]; then ok "the loops stopped within the budget"; else bad "loops took $((end - start))s"; fi
plan_fails memory "more than 256 MB of memory while loading|not enough memory" "memory while loading is bounded" <<'LUA'
local t = {}
for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
LUA
expect 6 "a bad PGMOVE_LOAD_TIMEOUT" env PGMOVE_LOAD_TIMEOUT=soon "$PGMOVE_BIN" plan "$T/allowed.lua"
has "$T/err" "PGMOVE_LOAD_TIMEOUT" "a bad PGMOVE_LOAD_TIMEOUT is named"

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

finish
