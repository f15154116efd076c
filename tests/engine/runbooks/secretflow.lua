-- secretflow.lua - engine test of plain params reaching a plugin's secret
-- parameter (tests/engine/test_secret_flow.sh): through locals, tables and
-- concatenation (found in the source: never journaled), and through a
-- function's argument (not followed: the call is refused).
local t = plugin "testplug"

runbook "secretflow" {
  summary = "engine test: params flowing to secret plugin parameters",
  params = {
    dir = { type = "string", required = true, summary = "scratch directory" },
    a = { type = "string", default = "", summary = "through a local" },
    b = { type = "string", default = "", summary = "through a table field and a concatenation" },
    c = { type = "string", default = "", summary = "through a function's argument" },
    d = { type = "string", summary = "declared secret", secret = true },
    e = { type = "string", default = "", summary = "plain, shown" },
    f = { type = "string", default = "", summary = "inside a longer string, through an argument" },
  },
}

local function login(pw)
  return t.secret { password = pw }
end

step "locals" {
  run = function(ctx)
    local p = ctx.params
    local a = ctx.params.a
    local alias = a
    local cfg = { user = "app", pw = "pw-" .. p.b }
    cfg.pw2 = ctx.params["b"]
    if alias ~= "" then t.secret { password = alias } end
    if p.b ~= "" then t.secret({ password = cfg.pw }) end
    if ctx.params.d then t.secret { password = ctx.params.d } end
    return { shown = ctx.params.e }
  end,
}
step "argument" {
  run = function(ctx)
    if (ctx.params.c or "") ~= "" then return login(ctx.params.c) end
    if ctx.params.f ~= "" then return login("Bearer " .. ctx.params.f) end
    return { skipped = true }
  end,
}
