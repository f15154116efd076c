-- tests/notify/runbooks/events.lua - every notification event through the
-- log target (no plugin needed): approval needed (with the command to give
-- it), breaker tripped, wait timed out, run failed, step failed after its
-- retries (tests/notify/notify.sh).
runbook "notify-events" {
  params = { mode = { type = "string", default = "ok" } },
}
notify {
  on = { "run.started", "run.completed", "run.failed", "run.paused", "step.failed",
         "gate.failed", "approval.needed", "breaker.tripped", "rollback.started",
         "rollback.finished", "wait.timeout" },
  log = true,
}
step "a" {
  run = function(ctx)
    if ctx.params.mode == "fail" then error("boom") end
    return {}
  end,
  retry = { attempts = 2, all_errors = true },
}
approve "go" { prompt = "Switch traffic?" }
breaker "lag" { condition = function(ctx) return true, { lag = 99 } end, action = "alert",
                during = { "w" } }
wait "w" { every = "10ms", timeout = "60ms", condition = function(ctx) return false end }
