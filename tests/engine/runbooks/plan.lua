-- plan.lua - pgmove plan as a side-effect plan: steps calling plugin
-- functions of each kind (read-only, idempotent, writing, irreversible),
-- in run, undo and when, through helpers (local, global, a captured
-- function), in gate checks, a breaker and on_failure; params declared out
-- of alphabetical order.
local t = plugin "testplug"
local planmod = require "planmod"

runbook "plan" {
  summary = "engine test: what pgmove plan shows",
  params = {
    zeta = { type = "string", required = true, summary = "declared first" },
    alpha = { type = "string", secret = true, env = "PLAN_ALPHA" },
    ["mid-name"] = { type = "integer", default = 3 },
  },
  on_failure = function(ctx, err) t.count { file = ctx.params.zeta .. "/on_failure" } end,
}

-- a local helper (captured as an upvalue by the step that calls it)
local function destroy_old(ctx)
  return t.destroy { file = ctx.params.zeta .. "/old" }
end

-- a global helper, named by the check that calls it
function verify_file(ctx, name)
  return t.read { file = ctx.params.zeta .. "/" .. name }
end

-- a plugin function bound to a local name
local count = t.count

phase "prepare"
step "copy" { run = function(ctx) return t.count { file = "x" } end, undo = function(ctx, out) t.fail { code = "x.y" } end }
step "look" {
  when = function(ctx) return t.echo { value = true }.value end,
  run = function(ctx)
    -- t.destroy { file = "in a comment" } is not a call
    local s = "t.destroy { file = 'in a string' }"
    return t.echo { value = s }
  end,
}
step "counted" {
  run = function(ctx) return count { file = ctx.params.zeta .. "/counted" } end,
}
step "through-module" {
  run = function(ctx) return planmod.work(ctx) end,
}
phase "cutover"
gate "verified" {
  check("first file", function(ctx) return verify_file(ctx, "a").value == "yes" end), check("echo", function(ctx) return t.echo { value = 1 }.value == 1 end),
}
step "drop-old" {
  irreversible = true, recovery = "copy",
  run = function(ctx) return destroy_old(ctx) end,
}
step "sneaky" {
  run = function(ctx) return destroy_old(ctx) end,
}
breaker "lagging" {
  condition = function(ctx) return t.echo { value = false }.value end,
  on_trip = function(ctx) t.count { file = "trip" } end,
  sustained = "1s",
}
