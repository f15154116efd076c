-- onfail.lua - on_failure receives the error: tostring(err) is
-- "code: message", and its fields are readable.
local t = plugin "testplug"

runbook "onfail" {
  on_failure = function(ctx, err)
    ctx.log("on_failure got [%s] code=%s retryable=%s node=%s", tostring(err), err.code,
            tostring(err.retryable), err.node)
    return "halt"
  end,
}

step "boom" {
  run = function(ctx) return t.fail { code = "testplug.boom", message = "it broke" } end,
}
