-- operator.lua - a runbook with a wait, a gate of two checks, an approval
-- with approvers and undos, for pgmove test's scripted operator decisions
-- and crash points (tests/engine/test_pgmove_test.sh, operator.test.lua).
local t = plugin "testplug"

runbook "operator" {
  summary = "operator decisions test runbook",
  params = { hook = { type = "string", summary = "a Slack webhook for failures (off when unset)" } },
  -- a denied approval rolls back; anything else halts
  on_failure = function(ctx, err)
    if err.code == "runbook.denied" then return "rollback" end
    return "halt"
  end,
}

notify { on = { "run.failed", "rollback.started" }, slack = params.hook and { url = params.hook } }

step "provision" {
  run = function(ctx) return t.count { file = "provision" } end,
  undo = function(ctx, out) return t.echo { value = "deprovision" } end,
}

wait "ready" {
  every = "1m", timeout = "1h",
  condition = function(ctx)
    local v = t.read { file = "ready" }
    return v.value == "yes", v
  end,
}

gate "verified" {
  check("rows", function(ctx)
    local v = t.read { file = "rows" }
    return v.number == 10, v
  end),
  check("sums", function(ctx)
    local v = t.read { file = "sums" }
    return v.value == "equal", v
  end),
  on_fail = "halt",
}

approve "cutover" { prompt = "Switch to the new system?", approvers = { "alice", "bob" } }

step "switch" {
  run = function(ctx)
    local r = t.echo { value = "switch" }
    -- the time as Lua tells it (virtual under pgmove test)
    r.at, r.date = os.time(), os.date("!%Y-%m-%dT%H:%M")
    r.at_table = os.time { year = 2026, month = 1, day = 2, hour = 0 }
    return r
  end,
  undo = function(ctx, out) return t.echo { value = "switch back" } end,
}
