#!/bin/sh
# tests/engine/test_plugin_identity.sh - what ran is part of the record:
# run.start journals each plugin's name, version, path and SHA-256; plan,
# status and report show them; resume refuses a plugin whose file changed
# unless --accept-changed-plugins, and then journals a deviation.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/plugs"
cp "$top_builddir/tests/plugins/.libs/testplug.so" "$T/plugs/testplug.so"
export PGMOVE_PLUGIN_PATH="$T/plugs"
sum=$(sha256sum "$T/plugs/testplug.so" | cut -d' ' -f1)

expect 0 "plan" pgmove plan "$RUNBOOKS/identity.lua"
has "$T/out" "plugin +testplug 1\.0 sha256 $(echo "$sum" | cut -c1-16) $T/plugs/testplug.so" "plan shows the plugin's identity"
expect 0 "plan --json" pgmove plan "$RUNBOOKS/identity.lua" --json
equals "$("$PY" -c 'import json,sys; p=json.load(open(sys.argv[1]))["plugins"]; print(p[0]["name"], p[0]["version"], p[0]["sha256"])' "$T/out")" \
	"testplug 1.0 $sum" "plan --json lists the plugins"

expect 3 "run pauses at the approval" pgmove run "$RUNBOOKS/identity.lua"
got=$("$PY" - "$(run_dir identity)/journal.jsonl" <<'PYEOF'
import json, sys
start = json.loads(open(sys.argv[1]).readline())
p = start["plugins"]
print(start["ev"], len(p), p[0]["name"], p[0]["version"], p[0]["path"], p[0]["sha256"])
PYEOF
)
equals "$got" "run.start 1 testplug 1.0 $T/plugs/testplug.so $sum" "run.start journals name, version, path and SHA-256"
expect 0 "status" pgmove status
has "$T/out" "plugin +testplug 1\.0 sha256 $(echo "$sum" | cut -c1-16)" "status shows the plugin"
expect 0 "report" pgmove report
has "$T/out" "^- Plugin: testplug 1\.0 \(sha256 \`$(echo "$sum" | cut -c1-16)\`" "report shows the plugin"

# the plugin's file changes (a rebuild, a vendor's update)
printf 'x' >>"$T/plugs/testplug.so"
new=$(sha256sum "$T/plugs/testplug.so" | cut -d' ' -f1)
expect 0 "approve" pgmove approve last go
expect 6 "resume refuses a changed plugin" pgmove resume last
has "$T/err" "plugins changed since run .* testplug 1\.0 \(sha256 $(echo "$sum" | cut -c1-12)\) -> 1\.0 \(sha256 $(echo "$new" | cut -c1-12)\).*--accept-changed-plugins" \
	"the message names the plugin, both hashes and the option"
equals "$(journal_events identity step.start after)" 0 "nothing ran"
expect 0 "resume --accept-changed-plugins completes" pgmove resume last --accept-changed-plugins
has "$T/err" "plugins changed since the run started .*accepted by tester" "the acceptance is logged"
got=$("$PY" - "$(run_dir identity)/journal.jsonl" <<'PYEOF'
import json, sys
d = [e for e in map(json.loads, open(sys.argv[1])) if e["ev"] == "run.deviation"][0]
c = d["changes"][0]
print(d["what"], d["by"], c["name"], c["old_sha256"][:8], c["new_sha256"][:8], d["plugins"][0]["sha256"][:8])
PYEOF
)
equals "$got" "plugins changed tester testplug $(echo "$sum" | cut -c1-8) $(echo "$new" | cut -c1-8) $(echo "$new" | cut -c1-8)" "the deviation is journaled with both hashes"
expect 0 "status after" pgmove status
has "$T/out" "plugins changed, accepted by tester" "status lists the deviation"
has "$T/out" "plugin +testplug 1\.0 sha256 $(echo "$new" | cut -c1-16)" "status shows the plugin now in use"

finish
