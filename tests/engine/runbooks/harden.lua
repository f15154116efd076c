-- harden.lua - engine test of issue 16 (items 20-26, 30): approvals given
-- up front, racing resumes, status of a dead run, a completed run resumed
-- without its params, a plain param passed to a plugin's secret param.
local t = plugin "testplug"

runbook "harden" {
  summary = "engine test: hardening",
  params = {
    dir = { type = "string", required = true, summary = "scratch directory" },
    ms  = { type = "integer", default = 0, summary = "how long the nap step sleeps" },
    key = { type = "string", default = "", summary = "passed to a secret plugin param" },
    key2 = { type = "string", default = "", summary = "passed to one through a local" },
  },
}

approve "first" { prompt = "Start?" }
step "nap" {
  idempotent = true,
  run = function(ctx)
    if ctx.params.key ~= "" then t.secret { password = ctx.params.key } end
    local k2 = ctx.params.key2
    if k2 ~= "" then t.secret { password = k2 } end
    return t.sleep { ms = ctx.params.ms, marker = ctx.params.dir .. "/nap" }
  end,
}
approve "late" { prompt = "Finish?" }
step "done" {
  run = function(ctx) return { by = ctx.approvals.late.by } end,
}
