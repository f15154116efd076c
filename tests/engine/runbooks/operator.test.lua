-- operator.test.lua - pgmove test of operator.lua: approvals given and
-- denied, resolve decisions, rollback commanded mid-run, and a crash at
-- each kind of point, resumed through pgmove resume.
local function reads(over)
  over = over or {}
  return function(args, t)
    if over[args.file] then return over[args.file](args, t) end
    if args.file == "ready" then
      return { value = t >= 5 * 60 * 1000 and "yes" or "no" }
    elseif args.file == "rows" then
      return { value = "10", number = 10 }
    end
    return { value = "equal" }
  end
end
local function mocks(over)
  return {
    ["testplug.count"] = { result = { count = 1 } },
    ["testplug.echo"] = function(args) return { value = args.value } end,
    ["testplug.read"] = reads(over),
  }
end
local approve = { approve = "cutover", by = "alice", comment = "writes stopped at 02:10" }
local function event(r, ev, node)
  for _, e in ipairs(r.events) do
    if e.ev == ev and (node == nil or e.node == node) then return e end
  end
  error("no " .. ev .. " event" .. (node and (" for " .. node) or ""))
end
local function count(r, pred)
  local n = 0
  for _, e in ipairs(r.events) do if pred(e) then n = n + 1 end end
  return n
end

return {
  runbook = "operator.lua",
  tests = {
    {
      name = "approved by alice with a comment, then resumed: completes",
      mocks = mocks(),
      script = { approve, "resume" },
      expect = { exit = 0, status = "completed", steps = { "provision", "switch" },
                 nodes = { cutover = "approved", ready = "succeeded" },
                 gates = { verified = true }, checks = { verified = { rows = true, sums = true } },
                 call_count = { ["testplug.count"] = 1 },
                 called_with = { { fn = "testplug.echo", args = { value = "switch" }, node = "switch" } },
                 min_virtual = "5m", max_virtual = "7m" },
      check = function(r)
        local e = event(r, "approve.given", "cutover")
        assert(e.by == "alice" and e.comment == "writes stopped at 02:10", "approval recorded")
        assert(#r.phases == 3 and r.phases[1].exit == 3 and r.phases[2].exit == 0, "phases")
        -- os.time() and os.date() in the runbook follow the virtual clock
        local out = event(r, "step.succeeded", "switch").output
        assert(out.at >= 1767225600 + 300 and out.at < 1767225600 + 420, "os.time() " .. out.at)
        assert(out.date == "2026-01-01T00:05" or out.date == "2026-01-01T00:06", "os.date() " .. out.date)
        assert(out.at_table > 1767225600, "os.time{...} still converts a date")
      end,
    },
    {
      name = "the approver comes back 2 hours later: advance moves the virtual clock between commands",
      mocks = mocks(),
      script = { { advance = "2h" }, approve, "resume" },
      expect = { exit = 0, status = "completed", min_virtual = "2h5m", max_virtual = "2h7m" },
      check = function(r)
        local e = event(r, "approve.given", "cutover")
        assert(e.ts:sub(1, 16) == "2026-01-01T02:05" or e.ts:sub(1, 16) == "2026-01-01T02:06", "approved at " .. e.ts)
        assert(r.phases[2].action == "advance 2h", "phase " .. r.phases[2].action)
      end,
    },
    {
      name = "without an approval the run pauses at cutover",
      mocks = mocks(),
      expect = { exit = 3, status = "paused", steps = { "provision" },
                 nodes = { cutover = "waiting", switch = "pending" } },
    },
    {
      name = "denied by bob: the run fails and on_failure rolls back",
      mocks = mocks(),
      script = { { deny = "cutover", by = "bob", comment = "not tonight" }, "resume" },
      expect = { exit = 5, status = "rolled-back", steps = { "provision" }, undone = { "provision" },
                 nodes = { cutover = "denied", provision = "undone" },
                 called_with = { { fn = "testplug.echo", args = { value = "deprovision" } } } },
      check = function(r)
        local e = event(r, "approve.denied", "cutover")
        assert(e.by == "bob" and e.comment == "not tonight", "denial recorded")
        local f = event(r, "run.failed", "cutover")
        assert(f.reason:find("denied by bob", 1, true), "reason: " .. f.reason)
        for _, c in ipairs(r.calls) do assert(c.args.value ~= "switch", "switch ran") end
      end,
    },
    {
      name = "notifications are mocked calls too: the denial posts to the hook, nothing leaves",
      params = { hook = "https://hooks.test/T000/B000/XXXX" },
      mocks = (function()
        local m = mocks()
        m["http.webhook"] = { result = { status = 200 } }
        return m
      end)(),
      script = { { deny = "cutover", by = "bob", comment = "not tonight" }, "resume" },
      expect = { exit = 5, call_count = { ["http.webhook"] = 2 },
                 called_with = { { fn = "http.webhook", args = { url = "https://hooks.test/T000/B000/XXXX" } } } },
      check = function(r)
        local texts = {}
        for _, c in ipairs(r.calls) do
          if c.fn == "http.webhook" then texts[#texts + 1] = c.args.text end
        end
        assert(texts[1]:find("denied by bob", 1, true), "the failure's text: " .. texts[1])
      end,
    },
    {
      name = "mallory is not an approver: pgmove approve exits 2, the run stays paused",
      mocks = mocks(),
      script = { { approve = "cutover", by = "mallory", exit = 2 }, { resume = true, exit = 3 } },
      expect = { exit = 3, status = "paused", nodes = { cutover = "waiting" } },
    },
    {
      name = "crash after provision's call: paused for resolve; --succeeded does not run it again",
      mocks = mocks(),
      crash_after = "provision",
      script = { { resolve = "provision", decision = "succeeded", by = "alice",
                   comment = "the instance exists" }, approve, "resume" },
      expect = { exit = 0, status = "completed", steps = { "switch" },
                 call_count = { ["testplug.count"] = 1 } },
      check = function(r)
        assert(r.phases[1].exit == 86 and r.phases[2].exit == 3, "crash, then paused")
        local e = event(r, "step.resolved", "provision")
        assert(e.decision == "succeeded" and e.by == "alice", "decision recorded")
      end,
    },
    {
      name = "crash after provision's call, resolve --retry: provision runs again",
      mocks = mocks(),
      crash_after = "provision",
      script = { { resolve = "provision", decision = "retry" }, approve, "resume" },
      expect = { exit = 0, steps = { "provision", "switch" },
                 call_count = { ["testplug.count"] = 2 } },
    },
    {
      name = "crash after provision's call, resolve --failed, then rollback: nothing to undo",
      mocks = mocks(),
      crash_after = "provision",
      script = { { resolve = "provision", decision = "failed", by = "bob" }, "rollback" },
      expect = { exit = 5, status = "rolled-back", steps = {}, undone = {},
                 nodes = { provision = "failed" }, call_count = { ["testplug.count"] = 1 },
                 not_called = { "testplug.read", "testplug.echo" } },
    },
    {
      name = "resolve of a step that did not crash: pgmove resolve exits 2",
      mocks = mocks(),
      script = { { resolve = "provision", decision = "retry", exit = 2 } },
      expect = { exit = 3, status = "paused" },
    },
    {
      name = "crash before provision's call: the call never happened, resolve --retry makes it once",
      mocks = mocks(),
      crash = { before_call = "provision" },
      script = { { resolve = "provision", decision = "retry" }, approve, "resume" },
      expect = { exit = 0, steps = { "provision", "switch" },
                 call_count = { ["testplug.count"] = 1 } },
      check = function(r)
        assert(r.phases[2].exit == 3, "the resume paused for a decision")
        event(r, "step.crashed", "provision")
      end,
    },
    {
      name = "crash inside the wait at its 3rd poll: the resumed run waits on and completes",
      mocks = mocks(),
      approve = { "cutover" }, by = "alice",
      crash = { in_wait = "ready", nth = 3 },
      expect = { exit = 0, steps = { "provision", "switch" }, min_virtual = "5m", max_virtual = "7m" },
      check = function(r)
        local polls, resumed = 0, false
        for _, e in ipairs(r.events) do
          if e.ev == "run.resume" then resumed = true end
          if e.ev == "wait.poll" and not resumed then polls = polls + 1 end
        end
        assert(resumed and polls == 3, "3 polls before the crash, got " .. polls)
      end,
    },
    {
      name = "crash between the gate's checks: the resumed run evaluates the gate again",
      mocks = mocks(),
      approve = { "cutover" }, by = "alice",
      crash = { in_gate = "verified", nth = 1 },
      expect = { exit = 0, gates = { verified = true }, checks = { verified = { rows = true, sums = true } } },
      check = function(r)
        assert(count(r, function(e) return e.ev == "gate.start" end) == 2, "two evaluations")
        assert(count(r, function(e) return e.ev == "gate.check" and e.check == "rows" end) == 2, "rows twice")
        assert(count(r, function(e) return e.ev == "gate.check" and e.check == "sums" end) == 1, "sums once")
      end,
    },
    {
      name = "the gate fails on sums: halted, exit 4, the check results recorded",
      mocks = mocks { sums = function() return { value = "3 rows differ" } end },
      approve = { "cutover" }, by = "alice",
      expect = { exit = 4, status = "halted", gates = { verified = false },
                 checks = { verified = { rows = true, sums = false } }, not_called = { "testplug.echo" } },
    },
    {
      name = "crash during rollback after switch's undo call: resume finishes the rollback",
      mocks = mocks(),
      approve = { "cutover" }, by = "alice",
      crash = { in_rollback = "switch" },
      script = { "rollback" },
      expect = { exit = 5, status = "rolled-back", undone = { "switch", "provision" },
                 nodes = { switch = "undone", provision = "undone" } },
      check = function(r)
        local back = 0
        for _, c in ipairs(r.calls) do
          if c.args.value == "switch back" then assert(c.undo, "an undo call"); back = back + 1 end
        end
        assert(back == 2, "switch's undo ran again after the crash: " .. back)
        assert(r.phases[2].exit == 86 and r.phases[3].action == "resume", "crash then resume")
      end,
    },
    {
      name = "rollback commanded while paused at the approval",
      mocks = mocks(),
      script = { "rollback" },
      expect = { exit = 5, status = "rolled-back", undone = { "provision" },
                 nodes = { provision = "undone", switch = "pending" } },
    },
  },
}
