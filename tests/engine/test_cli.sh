#!/bin/sh
# tests/engine/test_cli.sh - the command line, `plan`'s checks of bad
# runbooks, the loader's errors, `plugins` and `call`.
. "$(dirname "$0")/lib.sh"

expect 0 "--help" pgmove --help
has "$T/out" "resume +continue a run" "--help lists the commands"
has "$T/out" "4 +a gate failed" "--help documents the exit codes"
expect 0 "run --help" pgmove run --help
has "$T/out" "-p, --param NAME=VALUE" "run --help shows -p"
expect 2 "unknown command" pgmove frobnicate
has "$T/err" "unknown command 'frobnicate'" "unknown command is named"
expect 2 "unknown option" pgmove status --frob
has "$T/err" "unknown option --frob" "unknown option is named"
expect 2 "missing argument" pgmove run
has "$T/err" "usage: pgmove run" "usage shown"
expect 0 "__man renders" pgmove __man
has "$T/out" '^\.SH EXIT STATUS' "man page has EXIT STATUS"

expect 0 "plan of a good runbook" pgmove plan "$RUNBOOKS/basic.lua"
has "$T/out" "6 nodes; plan OK" "plan counts the nodes"
has "$T/out" "retry 3x every 50ms" "plan shows retries"
expect 0 "plan --json" pgmove plan --json "$RUNBOOKS/basic.lua"
has "$T/out" '"kind": "gate"' "plan --json has the nodes"

# plan_fails NAME PATTERN DESCRIPTION - writes $T/NAME.lua from stdin and
# checks plan refuses it (exit 6) with PATTERN in the message.
plan_fails() {
	cat >"$T/$1.lua"
	expect 6 "plan refuses: $3" pgmove plan "$T/$1.lua"
	has "$T/err" "$2" "message for: $3"
}

plan_fails syntax "syntax\.lua:3: .*expected" "a Lua syntax error, with file:line" <<'LUA'
runbook "x" { }
step "a" { run = function(ctx) return 1 end }
step "b" { run = function(ctx) return end end }
LUA
plan_fails noplugin "plugin nosuch not found; tried .*nosuch" "an unknown plugin, naming the paths tried" <<'LUA'
local n = plugin "nosuch"
runbook "x" { }
LUA
plan_fails nofunc "nofunc\.lua:4: plugin testplug has no function 'ech'" "an unknown function, with its line" <<'LUA'
local t = plugin "testplug"
runbook "x" { }
step "a" {
  run = function(ctx) return t.ech { value = 1 } end }
LUA
# comments and strings are not calls: `t.ech` inside them is not checked,
# and an unknown function after them still names its own line
cat >"$T/strings.lua" <<'LUA'
local t = plugin "testplug"
runbook "x" { }
-- t.ech { } would be refused if it were code
--[==[ t.ech "x" ]] still a comment ]==]
step "a" {
  run = function(ctx)
    local m = [[ t.ech { } ]]
    error { code = "t.ech", message = 't.ech "not a call"' .. "t.ech\"(" }
  end }
LUA
expect 0 "plan: plugin calls inside comments and strings are not checked" pgmove plan "$T/strings.lua"
plan_fails strings2 "strings2\.lua:6: plugin testplug has no function 'ech'" "an unknown function after comments and strings, with its line" <<'LUA'
local t = plugin "testplug"
runbook "x" { } -- t.ech()
--[[ t.ech()
]] local s = "t.ech()"
step "a" {
  run = function(ctx) return t.ech { value = 1 } end }
LUA
plan_fails twice "name 'a' is used twice" "a step name used twice" <<'LUA'
runbook "x" { }
step "a" { run = function(ctx) end }
gate "a" { check("c", function() return true end) }
LUA
plan_fails parsecs "parsecs" "a duration like 5 parsecs" <<'LUA'
runbook "x" { }
step "a" { timeout = "5 parsecs", run = function(ctx) end }
LUA
plan_fails norecovery "irreversible but names no recovery" "an irreversible step without recovery" <<'LUA'
runbook "x" { }
step "a" { irreversible = true, run = function(ctx) end }
LUA
plan_fails laterrecovery "must be a step declared before it" "a recovery declared after the irreversible step" <<'LUA'
runbook "x" { }
step "drop" { irreversible = true, recovery = "backup", run = function(ctx) end }
step "backup" { run = function(ctx) end }
LUA
plan_fails loadcall "testplug.echo called while the runbook is loading" "a plugin call while loading" <<'LUA'
local t = plugin "testplug"
t.echo { value = 1 }
runbook "x" { }
LUA
plan_fails nobody "step 'a' has no body" "a step without its table" <<'LUA'
runbook "x" { }
step "a"
step "b" { run = function(ctx) end }
LUA
plan_fails badfield "unknown field 'retires'" "a misspelt field" <<'LUA'
runbook "x" { }
step "a" { retires = 3, run = function(ctx) end }
LUA
plan_fails norunbook "no runbook" "a file without runbook" <<'LUA'
local x = 1
LUA

cat >"$T/needs.lua" <<'LUA'
runbook "needs" { params = { source = { type = "conninfo", env = "NEEDS_SOURCE", required = true },
                            jobs = { type = "integer", default = 2 } } }
step "a" { run = function(ctx) return ctx.params.jobs end }
LUA
expect 2 "a missing required param" env -u NEEDS_SOURCE "$PGMOVE_BIN" run "$T/needs.lua"
has "$T/err" "param 'source' is required.*NEEDS_SOURCE" "the message names the param and its env"
expect 2 "a param of the wrong type" env NEEDS_SOURCE="host=x" "$PGMOVE_BIN" run "$T/needs.lua" -p jobs=many
has "$T/err" "jobs" "the message names the param"
expect 2 "an unknown -p" env NEEDS_SOURCE="host=x" "$PGMOVE_BIN" run "$T/needs.lua" -p jbos=3
has "$T/err" "jbos" "the unknown name is in the message"

: >"$T/afile"
expect 8 "a state directory that cannot be created" pgmove --state-dir "$T/afile/state" run "$RUNBOOKS/basic.lua" -p dir="$T"
has "$T/err" "afile/state" "the message names the directory"

cat >"$T/pp.lua" <<'LUA'
runbook "pp" { params = { poll = { type = "duration", default = "30s" },
                          src = { type = "conninfo", env = "PP_SRC", required = true } } }
wait "w" { every = params.poll, condition = function(ctx) return true end }
LUA
expect 0 "plan: declarations read params (default)" env -u PP_SRC "$PGMOVE_BIN" plan "$T/pp.lua"
has "$T/out" "wait +w +every 30s" "the default applies"
expect 0 "plan: declarations read params (-p)" env -u PP_SRC "$PGMOVE_BIN" plan "$T/pp.lua" -p poll=2s -p src=host=db1
has "$T/out" "wait +w +every 2s" "-p changes the declared interval"
printf 'runbook "ro" { }\nparams.x = 1\n' >"$T/ro.lua"
expect 6 "params is read-only" pgmove plan "$T/ro.lua"
has "$T/err" "ro.lua:2: params is read-only" "with the line"

expect 0 "plugins" pgmove plugins
has "$T/out" "^testplug 1.0" "plugins lists testplug"
has "$T/out" "destroy  \[irreversible\]" "plugins shows flags"
has "$T/out" "badabi: FAILED TO LOAD: .*ABI 999" "a plugin built for another ABI is reported"
has "$T/out" "badinit: FAILED TO LOAD: .*init failed" "a plugin whose init fails is reported"
has "$T/out" "nosym: FAILED TO LOAD: .*does not export nosym_LTX_pgmove_plugin" "a plugin without the symbol is reported"
expect 0 "plugins --json" pgmove plugins --json
has "$T/out" '"name": "count"' "plugins --json lists functions"

expect 0 "call with JSON and string args" pgmove call testplug.echo 'value={"a":[1,2.5,"x"]}'
has "$T/out" '"a": \[' "call prints the JSON result"
expect 0 "call: a string parameter keeps a numeric-looking value as text" pgmove call testplug.count file="$T/15.40"
[ -f "$T/15.40" ] && ok "the file argument stayed the string 15.40" || bad "15.40 was not taken as text"
expect 0 "call: an 'any' parameter takes JSON" pgmove call testplug.echo value=15.40
has "$T/out" '"value": 15.4' "the value was parsed as a number"
expect 0 "call: an integer parameter takes a whole real (2.0)" pgmove call testplug.count file="$T/cnt" fail_until=0.0
expect 2 "call: but not 2.5" pgmove call testplug.count file="$T/cnt" fail_until=2.5
has "$T/err" "argument 'fail_until' must be an integer" "the message names the argument"
expect 2 "call an unknown function" pgmove call testplug.nope
has "$T/err" "no function nope \(functions: echo" "call lists the functions"
expect 2 "call with an unknown argument" pgmove call testplug.echo valeu=1
has "$T/err" "unknown argument 'valeu'" "call names the argument"
expect 2 "call without a required argument" pgmove call testplug.read
has "$T/err" "argument 'file' is required" "call names the missing argument"
expect 1 "call of a failing function" pgmove call testplug.fail code=x.y message=boom
has "$T/err" "x.y: boom" "call prints the structured error"
expect 2 "call of a missing plugin (a usage error)" pgmove call nosuch.f
has "$T/err" "plugin nosuch not found; tried .*tests/plugins/nosuch" "missing plugin names the paths tried"
SECRET=hunter2hunter2
expect 1 "call with a secret from the environment" env PW="$SECRET" "$PGMOVE_BIN" call testplug.secret password=@env:PW fail=true
lacks "$T/err" "$SECRET" "the secret is not in the log or the error"
has "$T/err" "login with \*\*\*\*\*\*\*\* refused" "the secret is masked in the error"
expect 1 "call timeout" pgmove call testplug.sleep ms=10000 --timeout 300ms
has "$T/err" "pgmove.timeout" "the call timed out"

finish
