-- crash.lua - six steps that each leave a trace and take a moment, for
-- killing pgmove at different points. Odd steps are declared idempotent;
-- even ones call a non-idempotent function and so are not.
local t = plugin "testplug"

runbook "crash" {
  params = { dir = { type = "string", required = true }, ms = { type = "integer", default = 120 } },
}

for i = 1, 6 do
  step ("s" .. i) {
    idempotent = (i % 2 == 1) or nil,
    run = function(ctx)
      local r = t.count { file = ctx.params.dir .. "/s" .. i }
      t.sleep { ms = ctx.params.ms }
      return r
    end,
  }
end
