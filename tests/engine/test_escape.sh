#!/bin/sh
# tests/engine/test_escape.sh - runbook code cannot escape a timeout or a
# signal by catching the error the engine raises: loops around pcall,
# xpcall, coroutine.wrap, coroutine.resume, coroutine.close, load with a
# reader function and a looping __close handler, in a step, a gate check, a
# wait's condition and an undo. Each must stop within a few seconds of its
# deadline (or of SIGTERM); before the fix they spun until SIGKILL.
. "$(dirname "$0")/lib.sh"
D="$T/data"
mkdir -p "$D"

# Seconds allowed past a deadline: a few on a loaded machine, more under
# valgrind (limit). HARD is the watchdog that kills a pgmove that spins.
SLACK=$(limit 8)
HARD=$((SLACK * 5))

now_ms() { date +%s%3N; }

# bounded RC DESC LIMIT ARGS... - runs pgmove ARGS under the watchdog and
# checks its exit status and that it ended within LIMIT seconds.
bounded() {
	want=$1 desc=$2 lim=$3
	shift 3
	t0=$(now_ms)
	timeout -s KILL $HARD "$PGMOVE_BIN" "$@" >"$T/out" 2>"$T/err"
	got=$?
	took=$(($(now_ms) - t0))
	if [ "$got" = "$want" ]; then ok "$desc"; else bad "$desc: exit $got, expected $want"; fi
	if [ $took -lt $((lim * 1000)) ]; then
		ok "$desc: within ${lim}s (${took} ms)"
	else
		bad "$desc: took ${took} ms, more than ${lim}s"
	fi
}

# step_loop NAME BODY - a runbook NAME whose step loops with BODY under a 1 s timeout
step_loop() {
	cat >"$T/$1.lua" <<LUA
runbook "$1" { }
step "spin" { timeout = "1s", run = function(ctx)
$2
end }
LUA
	bounded 1 "$1: a step looping past its timeout fails" $((1 + SLACK)) run "$T/$1.lua"
	has "$(run_dir "$1")/journal.jsonl" '"code":"pgmove.timeout"' "$1: the journal says pgmove.timeout"
}

step_loop pcall 'while true do pcall(function() end) end'
step_loop pcallspin 'while true do pcall(function() while true do end end) end'
step_loop xpcall 'while true do xpcall(function() end, function(m) return m end) end'
step_loop xpcallh 'while true do xpcall(function() error("x") end, function(m) while true do pcall(function() end) end end) end'
step_loop wrap 'coroutine.wrap(function() while true do pcall(function() end) end end)()'
step_loop wraploop 'while true do pcall(coroutine.wrap(function() while true do end end)) end'
step_loop resume 'while true do coroutine.resume(coroutine.create(function() while true do end end)) end'
step_loop yields 'local co = coroutine.wrap(function() while true do pcall(coroutine.yield) end end)
while true do co() end'
step_loop close 'while true do
  local co = coroutine.create(function()
    local x <close> = setmetatable({}, { __close = function() while true do end end })
    coroutine.yield() end)
  coroutine.resume(co) coroutine.close(co) end'
step_loop reader 'while true do load(function() while true do end end) end'
step_loop closing 'local x <close> = setmetatable({}, { __close = function() while true do pcall(function() end) end end })
while true do end'
step_loop sleeps 'while true do pcall(ctx.sleep, "10ms") end'

# while loading: a pcall loop inside a C function's callback (where the
# loading thread cannot yield) is stopped too
cat >"$T/sortloop.lua" <<'LUA'
table.sort({ 3, 2, 1 }, function(a, b) while true do pcall(function() end) end end)
runbook "sortloop" { }
LUA
PGMOVE_LOAD_TIMEOUT=1s bounded 6 "a pcall loop in a table.sort comparator while loading" $((1 + SLACK)) \
	plan "$T/sortloop.lua"
has "$T/err" "did not finish loading within 1s" "the loading budget is named"

# code that catches other errors still works: pcall, xpcall, coroutines
cat >"$T/fine.lua" <<'LUA'
runbook "fine" { }
step "catch" { timeout = "10s", run = function(ctx)
  local ok1, e1 = pcall(error, "boom")
  local ok2, e2 = xpcall(function() error({ code = "x" }) end, function(m) return m.code end)
  local gen = coroutine.wrap(function() for i = 1, 3 do pcall(coroutine.yield, i) end end)
  local sum = gen() + gen() + gen()
  return { ok1 = ok1, e1 = e1, ok2 = ok2, e2 = e2, sum = sum }
end }
LUA
bounded 0 "pcall, xpcall and yields through pcall work before the deadline" 30 run "$T/fine.lua"
has "$(run_dir fine)/journal.jsonl" '"ok1":false' "pcall returned false"
has "$(run_dir fine)/journal.jsonl" '"e2":"x"' "xpcall's handler ran"
has "$(run_dir fine)/journal.jsonl" '"sum":6' "a coroutine yielded through pcall"

# a gate check past the gate's timeout fails the check (the gate halts)
cat >"$T/gatespin.lua" <<'LUA'
runbook "gatespin" { }
gate "g" { timeout = "1s",
  check("spins", function(ctx) while true do pcall(function() end) end end),
  check("fine", function(ctx) return true end) }
LUA
bounded 4 "a gate check looping past the gate's timeout fails the gate" $((1 + SLACK)) run "$T/gatespin.lua"
has "$(run_dir gatespin)/journal.jsonl" 'pgmove.timeout' "the check's detail says pgmove.timeout"

# a wait's condition past the wait's timeout
cat >"$T/waitspin.lua" <<'LUA'
runbook "waitspin" { }
wait "w" { every = "50ms", timeout = "1s", on_timeout = "halt",
  condition = function(ctx) while true do xpcall(function() end, function(m) return m end) end end }
LUA
bounded 4 "a wait's condition looping past the wait's timeout halts the wait" $((1 + SLACK)) run "$T/waitspin.lua"

# SIGTERM while a step loops around pcall: exit 3 at once, resume works
# term_run NAME RC DESC ARGS... - starts pgmove ARGS, sends SIGTERM once
# $D/NAME.started exists, checks the exit status and that it came soon.
term_run() {
	name=$1 want=$2 desc=$3
	shift 3
	rm -f "$D/$name.started"
	timeout -s KILL $HARD "$PGMOVE_BIN" "$@" >"$T/out" 2>"$T/err" &
	pid=$!
	if ! wait_for "$D/$name.started" $HARD; then
		bad "$desc: the looping code did not start"
		kill -9 $pid 2>/dev/null
		return
	fi
	sleep 0.3 # well inside the loop
	t0=$(now_ms)
	kill -TERM $pid
	wait $pid
	got=$?
	took=$(($(now_ms) - t0))
	equals "$got" "$want" "$desc: exit $want"
	if [ $took -lt $((SLACK * 1000)) ]; then
		ok "$desc: stopped ${took} ms after SIGTERM"
	else
		bad "$desc: stopped ${took} ms after SIGTERM"
	fi
}

cat >"$T/term.lua" <<LUA
local t = plugin "testplug"
runbook "term" { }
step "spin" { idempotent = true, run = function(ctx)
  t.count { file = "$D/term.started" }
  while true do pcall(function() end) end
end }
step "after" { run = function(ctx) return t.count { file = "$D/term.after" } end }
LUA
term_run term 3 "SIGTERM while a step loops around pcall" run "$T/term.lua"
has "$(run_dir term)/journal.jsonl" '"ev":"run.interrupted"' "the interruption is journaled"
sed -i 's/while true do pcall(function() end) end/return 1/' "$T/term.lua"
expect 0 "resume after SIGTERM runs the step again and goes on" pgmove resume "$(run_dir term)" --accept-changed-runbook
equals "$(lines "$D/term.after")" 1 "the next step ran once"

# SIGTERM while a gate check spins (no timeout of its own: 30 minutes)
cat >"$T/termgate.lua" <<LUA
local t = plugin "testplug"
runbook "termgate" { }
gate "g" { check("spins", function(ctx)
  t.count { file = "$D/termgate.started" }
  while true do pcall(coroutine.wrap(function() while true do end end)) end end) }
LUA
term_run termgate 3 "SIGTERM while a gate check loops" run "$T/termgate.lua"

# SIGTERM while an undo loops during a rollback; resume finishes the rollback
cat >"$T/termundo.lua" <<LUA
local t = plugin "testplug"
runbook "termundo" { }
step "a" { run = function(ctx) return 1 end,
  undo = function(ctx, out)
    t.count { file = "$D/termundo.started" }
    while true do xpcall(function() while true do end end, function(m) return m end) end
  end }
gate "g" { on_fail = "rollback", check("no", function(ctx) return false end) }
LUA
term_run termundo 3 "SIGTERM while an undo loops around xpcall" run "$T/termundo.lua"
sed -i "s|while true do xpcall(function() while true do end end, function(m) return m end) end|t.count { file = \"$D/termundo.undone\" }|" "$T/termundo.lua"
expect 5 "resume finishes the rollback" pgmove resume "$(run_dir termundo)" --accept-changed-runbook
equals "$(lines "$D/termundo.undone")" 1 "the undo ran to its end once"

finish
