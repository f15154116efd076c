#!/bin/sh
# tests/engine/test_loader_checks.sh - a broken plugin fails at load, with a
# message naming the cause, never in the middle of a run: an undefined
# symbol (the dynamic linker's own message), a file that is not a shared
# object, a NULL function, a duplicate name, an unknown parameter type, a
# default that breaks its own limits, a plugin that needs a newer pgmove.
# `pgmove plugins NAME` exits 1 for each. Then the parameter table's
# defaults, limits and allowed values at call time.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/extra"
printf 'this is not an ELF file\n' >"$T/extra/notelf.so"
PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$T/extra"

expect 1 "plugins undefsym exits 1" pgmove plugins undefsym
has "$T/out" "undefsym: FAILED TO LOAD: .*undefined symbol: pgmove_test_no_such_function" \
	"an undefined symbol is reported at load with the linker's message"
expect 1 "plugins notelf exits 1" pgmove plugins notelf
has "$T/out" "notelf: FAILED TO LOAD: .*notelf.so: (invalid ELF header|file too short)" \
	"a file that is not a shared object says so (not 'file not found')"
expect 1 "plugins nullfn exits 1" pgmove plugins nullfn
has "$T/out" "function y has no function pointer" "a NULL function pointer is refused"
expect 1 "plugins dupfn exits 1" pgmove plugins dupfn
has "$T/out" "function x is declared twice" "a duplicate function name is refused"
expect 1 "plugins badtype exits 1" pgmove plugins badtype
has "$T/out" "parameter table has type 'sting'" "an unknown parameter type is refused"
expect 1 "plugins baddefault exits 1" pgmove plugins baddefault
has "$T/out" "parameter jobs: default 99 must be at most 16" "a default outside its limits is refused"
expect 1 "plugins newer exits 1" pgmove plugins newer
has "$T/out" "needs pgmove 99.0.0 or later \(this is [0-9]+\.[0-9]+\.[0-9]+\)" "a plugin for a newer pgmove names both versions"
expect 1 "plugins badabi exits 1" pgmove plugins badabi
expect 0 "plugins testplug exits 0" pgmove plugins testplug

# a runbook using a broken plugin fails in plan, before anything runs
cat >"$T/undef.lua" <<'LUA'
local u = plugin "undefsym"
runbook "undef" {}
step "one" { run = function(ctx) return u.x {} end }
LUA
expect 1 "call of a plugin with an undefined symbol fails cleanly" pgmove call undefsym.x
has "$T/err" "undefined symbol: pgmove_test_no_such_function" "the call names the symbol"
pgmove run "$T/undef.lua" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" != 127 ] && [ "$rc" -lt 128 ] && ok "run with the broken plugin exits $rc, not 127 or a signal" ||
	bad "run with the broken plugin exited $rc"
has "$T/err" "undefined symbol: pgmove_test_no_such_function" "the run names the symbol"

# defaults, limits and allowed values
expect 0 "defaults are filled in" pgmove call testplug.limits --json
equals "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["jobs"], d["every"], d["mode"], "ratio" in d)' "$T/out")" \
	"4 30s cdc False" "the function sees the defaults (and no value for a param without one)"
expect 2 "below min" pgmove call testplug.limits jobs=0
has "$T/err" "testplug.limits: argument 'jobs' must be at least 1 \(not 0\)" "min is named"
expect 2 "above max" pgmove call testplug.limits ratio=1.5
has "$T/err" "argument 'ratio' must be at most 1 \(not 1.5\)" "max is named"
expect 2 "duration above max" pgmove call testplug.limits every=2h
has "$T/err" "argument 'every' must be at most 1h" "a duration's max is named"
expect 2 "a value not allowed" pgmove call testplug.limits mode=full
has "$T/err" "argument 'mode' must be one of full-load, cdc" "the allowed values are listed"
expect 0 "allowed values pass" pgmove call testplug.limits mode=full-load jobs=16 every=1s --json
expect 0 "plugins shows them" pgmove plugins testplug --json
equals "$("$PY" -c '
import json,sys
p=json.load(open(sys.argv[1]))[0]
f=[f for f in p["functions"] if f["name"]=="limits"][0]
q={x["name"]:x for x in f["params"]}
print(q["jobs"]["default"], q["jobs"]["min"], q["jobs"]["max"], q["mode"]["allowed"])' "$T/out")" \
	"4 1 16 ['full-load', 'cdc']" "plugins --json lists default, min, max and allowed"

finish
