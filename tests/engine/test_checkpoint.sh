#!/bin/sh
# tests/engine/test_checkpoint.sh - durable plugin checkpoints
# (pgm_checkpoint_save / pgm_checkpoint_get) through the real binary: a
# step killed with SIGKILL in the middle of testplug.chunks resumes from the
# last journaled checkpoint instead of chunk 1; a retried attempt gets the
# checkpoint of the failed one; a call sees its run id, step and attempt.
. "$(dirname "$0")/lib.sh"

# chunk_lines FILE - the "chunk K" lines of FILE, space-separated numbers
chunk_lines() { sed -n 's/^chunk //p' "$1" | tr '\n' ' ' | sed 's/ $//'; }

mkdir -p "$T/d"
bg "$PGMOVE_BIN" run "$RUNBOOKS/checkpoint.lua" -p dir="$T/d" -p n=12 -p ms=150 \
	>"$T/run.log" 2>&1
pid=$BG
i=0
while [ "$(lines "$T/d/chunks")" -lt 4 ] && [ $i -lt 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -KILL $pid
wait $pid 2>/dev/null
before=$(lines "$T/d/chunks")
saved=$(journal_events checkpoint step.checkpoint copy)
[ "$before" -ge 4 ] && [ "$before" -lt 12 ] && ok "killed in the middle (after $before chunks)" ||
	bad "killed in the middle: $before chunks done"
[ "$saved" -ge 3 ] && ok "checkpoints were journaled before the kill ($saved)" ||
	bad "checkpoints before the kill: $saved"
last=$("$PY" - "$(run_dir checkpoint)/journal.jsonl" <<'PYEOF'
import json, sys
last = None
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("ev") == "step.checkpoint":
        assert e["node"] == "copy" and e["function"] == "testplug.chunks", e
        assert e["key"] == "testplug.chunks#2", e
        last = e["value"]["next"]
print(last)
PYEOF
)
expect 0 "resume after the kill completes" pgmove resume last -p ms=1
has "$T/err" "step copy was running when pgmove stopped; it is idempotent" "the step runs again"
# every chunk up to the last checkpoint ran once; the one in flight at most twice
want=$(seq 1 12 | tr '\n' ' ' | sed 's/ $//')
got=$("$PY" - "$T/d/chunks" "$last" <<'PYEOF'
import sys
seen = [int(l.split()[1]) for l in open(sys.argv[1])]
last = int(sys.argv[2])
rerun = [k for k in set(seen) if seen.count(k) > 1]
if sorted(set(seen)) != list(range(1, 13)):
    print("chunks missing: %s" % seen)
elif [k for k in rerun if k < last - 1 or k > last]:
    print("chunks before the checkpoint ran again: %s (checkpoint next=%d)" % (seen, last))
else:
    print("OK")
PYEOF
)
equals "$got" "OK" "resume went on from the checkpoint (next=$last), not from chunk 1"
expect 0 "status --json" pgmove status --json
first=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); n=[x for x in s["nodes"] if x["name"]=="copy"][0]; print(n["output"]["first"], n["output"]["who"]["step"], n["output"]["who"]["attempt"], n["output"]["who"]["run"] == s["run"])' "$T/out")
equals "$first" "$last copy 2 True" "the re-run started at the checkpoint and saw run id, step and attempt 2"

# a retried attempt gets the checkpoint of the failed one; success forgets it
equals "$(chunk_lines "$T/d/flaky")" "1 2 3" "the retried step did not redo its chunks"
flaky=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); n=[x for x in s["nodes"] if x["name"]=="flaky"][0]; print(n["output"]["first"], n["output"]["who"]["attempt"], n.get("checkpoints"))' "$T/out")
equals "$flaky" "4 2 None" "attempt 2 started after the checkpoint; the succeeded step keeps none"

# outside a run: the checkpoint lives as long as the call; too large fails
expect 0 "pgmove call with checkpoints" pgmove call testplug.chunks file="$T/d/by-hand" n=3 --json
has "$T/out" '"first": ?1' "a call by hand starts from the beginning"
expect 1 "a checkpoint over the limit fails the call" \
	pgmove call testplug.chunks file="$T/d/big" n=1 pad=70000
has "$T/err" "pgmove.checkpoint.*checkpoint of 700[0-9]+ bytes .at most 65536" "the error names the size and the limit"
expect 0 "whoami by hand" pgmove call testplug.whoami --json
has "$T/out" '"attempt": ?0' "no attempt outside a run"
has "$T/out" '"run": null' "no run id outside a run"

finish
