-- plugcrash.lua - plugin functions that crash the process (abort, SIGSEGV)
-- the first time: an idempotent step, then a non-idempotent one.
local t = plugin "testplug"

runbook "plugcrash" {
  params = { dir = { type = "string", required = true } },
}

step "a" {
  idempotent = true,
  run = function(ctx) return t.crash { file = ctx.params.dir .. "/a", how = "abort" } end,
}

step "b" {
  run = function(ctx) return t.crash { file = ctx.params.dir .. "/b", how = "segv" } end,
}
