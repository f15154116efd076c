-- basic.lua - steps, retries, a wait with stable_for, a gate, an approval.
local t = plugin "testplug"

runbook "basic" {
  summary = "engine test: the happy path",
  params = {
    dir   = { type = "string", required = true, summary = "scratch directory" },
    token = { type = "string", env = "TEST_TOKEN", secret = true },
    n     = { type = "integer", default = 2 },
  },
}

phase "prepare"
step "first" {
  run = function(ctx) return t.count { file = ctx.params.dir .. "/first" } end,
  undo = function(ctx, out) t.count { file = ctx.params.dir .. "/first.undo" } end,
}
step "flaky" {
  retry = { attempts = 3, delay = "50ms", backoff = 2 },
  run = function(ctx)
    return t.count { file = ctx.params.dir .. "/flaky", fail_until = ctx.params.n }
  end,
  undo = function(ctx, out) t.count { file = ctx.params.dir .. "/flaky.undo" } end,
}
wait "ready" {
  every = "50ms", timeout = "20s", stable_for = "200ms",
  condition = function(ctx)
    local r = t.read { file = ctx.params.dir .. "/ready" }
    return r.value == "yes", r
  end,
}
phase "verify"
gate "checks" {
  check("first ran once", function(ctx) return ctx.outputs.first.count == 1, ctx.outputs.first end),
  check("flaky took 3", function(ctx) return ctx.outputs.flaky.count == 3, ctx.outputs.flaky end),
}
approve "go" { prompt = "Go on?" }
step "last" {
  run = function(ctx)
    if ctx.params.token then t.secret { password = ctx.params.token } end
    return { approved_by = ctx.approvals.go.by, echo = t.echo { value = { 1, 2.5, "x" } } }
  end,
}
