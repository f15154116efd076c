#!/bin/sh
# tests/engine/test_plugin_config.sh - a runbook configures a plugin once per
# run (local t = plugin "testplug" { ... }): the plugin's configure gets the
# table before any node runs, again in each process that resumes the run;
# a refused configuration stops the run before it starts; configuring a
# plugin without configure is refused when the runbook is loaded.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.lua" <<'LUA'
runbook "cfg" { params = { jobs = { type = "integer", default = 4 },
                           refuse = { type = "boolean", default = false } } }
local t = plugin "testplug" { greeting = "hi", jobs = params.jobs, refuse = params.refuse }
step "first" { run = function(ctx) return t.config {} end }
approve "go" { prompt = "Go on?" }
step "second" { run = function(ctx) return t.config {} end }
LUA

expect 0 "plan loads a configured plugin" pgmove plan "$T/cfg.lua"
expect 3 "run with a configured plugin pauses at the approval" pgmove run "$T/cfg.lua" -p jobs=8
expect 0 "status --json" pgmove status --json
got=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); o=[n for n in s["nodes"] if n["name"]=="first"][0]["output"]; print(o["config"]["greeting"], o["config"]["jobs"], o["count"], o["config"]["run"] == s["run"])' "$T/out")
equals "$got" "hi 8 1 True" "configure got the table (params resolved) and the run id, once, before the first step"
expect 0 "approve" pgmove approve last go
expect 0 "resume completes" pgmove resume last
expect 0 "status --json" pgmove status --json
got=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); o=[n for n in s["nodes"] if n["name"]=="second"][0]["output"]; print(o["config"]["greeting"], o["config"]["jobs"], o["count"])' "$T/out")
equals "$got" "hi 8 1" "the resuming process configured the plugin again, once"

rm -rf "$PGMOVE_STATE_DIR"
expect 6 "a refused configuration stops the run before it starts" pgmove run "$T/cfg.lua" -p refuse=true
has "$T/err" "plugin testplug: its configuration was refused: testplug.config: refusing the configuration on purpose" "the message says which plugin and why"
[ ! -d "$PGMOVE_STATE_DIR/cfg" ] || [ -z "$(ls -A "$PGMOVE_STATE_DIR/cfg" 2>/dev/null)" ] && ok "no run was created" || bad "a run directory was created"

cat >"$T/nocfg.lua" <<'LUA'
local p = plugin "pg" { x = 1 }
runbook "nocfg" {}
LUA
PGMOVE_PLUGIN_PATH="$PGMOVE_PLUGIN_PATH:$top_builddir/plugins" pgmove plan "$T/nocfg.lua" >"$T/out" 2>"$T/err"
equals "$?" 6 "configuring a plugin that has no configure function is refused by plan"
has "$T/err" "plugin pg takes no configuration" "the message names the plugin"
cat >"$T/nocfg.lua" <<'LUA'
local p = plugin "testplug"
local q = plugin "testplug" { a = 1 }
local r = plugin "testplug" { a = 2 }
runbook "twice" {}
LUA
expect 6 "configuring a plugin twice is refused" pgmove plan "$T/nocfg.lua"
has "$T/err" "plugin testplug is configured twice" "the message says so"
cat >"$T/notable.lua" <<'LUA'
local q = plugin "testplug" "text"
runbook "notable" {}
LUA
expect 6 "a configuration that is not a table is refused" pgmove plan "$T/notable.lua"
has "$T/err" "the configuration must be a table" "the message says so"
finish
