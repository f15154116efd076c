-- virtual.test.lua - pgmove test of virtual.lua: the virtual clock runs a
-- 24-hour wait, retry delays and a breaker's sustained time in milliseconds.
local function lag(v) return { result = { value = tostring(v), number = v } } end
local base = {
  ["testplug.count"] = { result = { count = 1 } },
  ["testplug.echo"] = { result = { value = "x" } },
  ["testplug.read"] = lag(3),
}
local function with(over)
  local m = {}
  for k, v in pairs(base) do m[k] = v end
  for k, v in pairs(over) do m[k] = v end
  return m
end

return {
  runbook = "virtual.lua",
  tests = {
    {
      name = "happy path: 24 hours of stable lag in virtual time",
      mocks = base,
      expect = { exit = 0, steps = { "provision", "finish" }, min_virtual = "24h",
                 max_virtual = "24h5m", called = { "testplug.echo" } },
      check = function(r)
        local reads = 0
        for _, c in ipairs(r.calls) do if c.fn == "testplug.read" then reads = reads + 1 end end
        -- one poll a minute for 24 hours, condition and breaker each
        assert(reads >= 2 * 1440 and reads <= 2 * 1450, "reads: " .. reads)
      end,
    },
    {
      name = "lag as a function of virtual time: high for 2 hours, then stable",
      mocks = with { ["testplug.read"] = function(args, t)
        if t < 2 * 3600 * 1000 then return { value = "50", number = 50 } end
        return { value = "1", number = 1 }
      end },
      expect = { exit = 0, min_virtual = "26h", max_virtual = "26h5m" },
    },
    {
      name = "retries: two throttling errors, delays 10m then 20m",
      mocks = with { ["testplug.count"] = { sequence = {
        { error = { code = "aws.ThrottlingException", retryable = true, message = "slow down" } },
        { error = { code = "aws.ThrottlingException", retryable = true, message = "slow down" } },
        { result = { count = 3 } } } } },
      expect = { exit = 0, steps = { "provision", "finish" } },
      check = function(r)
        local first = r.calls[1]
        local third
        for _, c in ipairs(r.calls) do if c.fn == "testplug.count" then third = c end end
        assert(first.fn == "testplug.count" and first.t == 0, "first call at 0")
        assert(third.t >= 30 * 60 * 1000 and third.t < 31 * 60 * 1000, "third call at " .. third.t)
      end,
    },
    {
      name = "a non-retryable error fails the step at once",
      mocks = with { ["testplug.count"] = { error = { code = "aws.AccessDenied", message = "no" } } },
      expect = { exit = 1, steps = {}, max_virtual = "1s", not_called = { "testplug.read" } },
    },
    {
      name = "breaker lag-runaway trips after 5 minutes and pauses the run",
      mocks = with { ["testplug.read"] = lag(5000) },
      expect = { exit = 3, status = "paused", steps = { "provision" }, breakers = { "lag-runaway" },
                 min_virtual = "5m", max_virtual = "10m", not_called = { "testplug.echo" } },
      check = function(r)
        for _, e in ipairs(r.events) do
          if e.ev == "breaker.trip" then return end
        end
        error("no breaker.trip in the journal")
      end,
    },
    {
      name = "the wait times out after 3 days",
      mocks = with { ["testplug.read"] = lag(50) },
      expect = { exit = 1, steps = { "provision" }, min_virtual = "3d", max_virtual = "3d1h" },
    },
    {
      name = "rollback after the run undoes provision",
      rollback = true,
      mocks = base,
      expect = { exit = 5, undone = { "provision" } },
      check = function(r)
        local last = r.calls[#r.calls]
        assert(last.fn == "testplug.echo" and last.args.value == "deprovision", "undo call")
      end,
    },
    {
      name = "crash after provision's call: not idempotent, resume pauses for pgmove resolve",
      crash_after = "provision",
      mocks = base,
      expect = { exit = 3, steps = {}, not_called = { "testplug.read" } },
    },
    {
      name = "crash after finish's call: idempotent, resume runs it again and completes",
      crash_after = "finish",
      mocks = base,
      expect = { exit = 0, steps = { "provision", "finish" } },
      check = function(r)
        local n = 0
        for _, c in ipairs(r.calls) do if c.fn == "testplug.echo" then n = n + 1 end end
        assert(n == 2, "echo calls: " .. n)
      end,
    },
  },
}
