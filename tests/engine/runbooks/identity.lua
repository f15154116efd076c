-- identity.lua - a step, an approval, a step: for resuming a run after the
-- plugin it loaded changed.
local t = plugin "testplug"

runbook "identity" {}

step "before" { run = function(ctx) return t.echo { value = "a" } end }
approve "go" { prompt = "Go on?" }
step "after" { run = function(ctx) return t.echo { value = "b" } end }
