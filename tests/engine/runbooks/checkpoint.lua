-- checkpoint.lua - one long step that works through chunks and saves a
-- checkpoint after each (testplug.chunks), for killing pgmove in the middle
-- and resuming; a second step that fails once, for checkpoints across retries.
local t = plugin "testplug"

runbook "checkpoint" {
  params = {
    dir = { type = "string", required = true },
    n = { type = "integer", default = 20 },
    ms = { type = "integer", default = 100 },
  },
}

step "copy" {
  run = function(ctx)
    local who = t.whoami {}
    local r = t.chunks { file = ctx.params.dir .. "/chunks", n = ctx.params.n, ms = ctx.params.ms }
    r.who = who
    return r
  end,
}

step "flaky" {
  retry = { attempts = 2, delay = "10ms" },
  run = function(ctx)
    local r = t.chunks { file = ctx.params.dir .. "/flaky", n = 3 }
    t.count { file = ctx.params.dir .. "/flaky.count", fail_until = 1 }
    local who = t.whoami {}
    r.who = who
    return r
  end,
}
