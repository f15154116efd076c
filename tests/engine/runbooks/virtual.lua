-- virtual.lua - a runbook with retries, a 24-hour stable_for wait, a
-- breaker and an undo, for pgmove test's virtual clock and mocks
-- (tests/engine/test_pgmove_test.sh, virtual.test.lua).
local t = plugin "testplug"

runbook "virtual" {
  summary = "virtual-clock test runbook",
  params = { threshold = { type = "integer", default = 10 } },
}

step "provision" {
  retry = { attempts = 4, delay = "10m", backoff = 2 },
  run = function(ctx) return t.count { file = "provision" } end,
  undo = function(ctx, out) return t.echo { value = "deprovision" } end,
}

breaker "lag-runaway" {
  during = { "caught-up" },
  condition = function(ctx)
    local v = t.read { file = "lag" }
    return v.number > 1000, { lag = v.number }
  end,
  sustained = "5m",
  action = "pause",
}

wait "caught-up" {
  every = "1m", stable_for = "24h", timeout = "3d",
  condition = function(ctx)
    local v = t.read { file = "lag" }
    return v.number < ctx.params.threshold, { lag = v.number }
  end,
}

step "finish" {
  run = function(ctx) return t.echo { value = "done" } end,
}
