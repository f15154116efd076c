-- operator-failing.test.lua - wrong expectations about operator.lua: each
-- test must fail with its own message (tests/engine/test_pgmove_test.sh
-- checks them), so every assertion of pgmove test can fail.
local function mocks(sums)
  return {
    ["testplug.count"] = { result = { count = 1 } },
    ["testplug.echo"] = function(args) return { value = args.value } end,
    ["testplug.read"] = function(args, t)
      if args.file == "ready" then return { value = t >= 120000 and "yes" or "no" } end
      if args.file == "rows" then return { value = "10", number = 10 } end
      return { value = sums or "equal" }
    end,
  }
end

return {
  runbook = "operator.lua",
  tests = {
    { name = "wrong status", mocks = mocks(), expect = { status = "completed" } },
    { name = "wrong steps order", mocks = mocks(), approve = { "cutover" }, by = "alice",
      expect = { steps = { "switch", "provision" } } },
    { name = "wrong rollback order", mocks = mocks(), approve = { "cutover" }, by = "alice",
      rollback = true, expect = { undone = { "provision", "switch" } } },
    { name = "wrong gate result", mocks = mocks("differ"), approve = { "cutover" }, by = "alice",
      expect = { gates = { verified = true } } },
    { name = "wrong check result", mocks = mocks(), approve = { "cutover" }, by = "alice",
      expect = { checks = { verified = { sums = false } } } },
    { name = "wrong node status", mocks = mocks(),
      script = { { deny = "cutover", by = "bob" }, "resume" },
      expect = { nodes = { cutover = "approved" } } },
    { name = "wrong arguments", mocks = mocks(), approve = { "cutover" }, by = "alice",
      expect = { called_with = { { fn = "testplug.echo", args = { value = "switch over" } } } } },
    { name = "wrong call count", mocks = mocks(), expect = { call_count = { ["testplug.count"] = 2 } } },
    { name = "never called but was", mocks = mocks(), expect = { not_called = { "testplug.count" } } },
    { name = "called but never was", mocks = mocks(), expect = { called = { "testplug.destroy" } } },
    { name = "wrong breakers", mocks = mocks(), expect = { breakers = { "lag-runaway" } } },
    { name = "too much virtual time", mocks = mocks(), approve = { "cutover" }, by = "alice",
      expect = { max_virtual = "0s", min_virtual = "0s" } },
    { name = "too little virtual time", mocks = mocks(), expect = { min_virtual = "1h" } },
    { name = "misspelled expectation", mocks = mocks(), expect = { stpes = { "provision" } } },
    { name = "a crash point never reached", mocks = mocks(), crash = { in_gate = "nope" } },
    { name = "a failed operator command", mocks = mocks(),
      script = { { resolve = "switch", decision = "retry" } } },
    { name = "a resolve without a decision", mocks = mocks(),
      script = { { resolve = "provision" } } },
    { name = "a bad duration to advance", mocks = mocks(), script = { { advance = "5 parsecs" } } },
    { name = "a list given as a string", mocks = mocks(), expect = { steps = "provision" } },
    { name = "wrong exit of a scripted resume", mocks = mocks(), script = { { resume = true, exit = 0 } } },
  },
}
