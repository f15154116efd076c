-- tests/notify/runbooks/notify.lua - a runbook that moves a feature flag,
-- then checks an application's health in a gate, with notifications to
-- PagerDuty, Slack, a JSON webhook, mail and the log, each off unless its
-- param is set (tests/notify/notify.sh).
local http = plugin "http"

runbook "notify-test" {
  summary = "notifications, incidents, flags",
  params = {
    base = { type = "string", env = "T_BASE", required = true, summary = "the fake's URL" },
    pd_key = { type = "string", env = "T_PD_KEY", secret = true },
    slack = { type = "string", env = "T_SLACK", secret = true },
    hook = { type = "string", env = "T_HOOK" },
    smtp = { type = "string", env = "T_SMTP" },
    smtp_password = { type = "string", env = "T_SMTP_PASSWORD", secret = true },
    flag_token = { type = "string", env = "T_FLAG_TOKEN", secret = true },
  },
}

notify {
  on = { "run.started", "run.completed", "gate.failed", "step.failed", "rollback.started",
         "rollback.finished" },
  pagerduty = params.pd_key and { routing_key = params.pd_key, url = params.base,
                                  source = "app-db", component = "migration" },
  slack = params.slack and { url = params.slack, channel = "#db" },
  mail = params.smtp and { server = params.smtp, from = "pgmove@example.com",
                           to = { "dba@example.com" }, username = "mailer",
                           password = params.smtp_password, starttls = "none" },
  log = true,
}
notify { on = { "gate.failed" },
         webhook = params.hook and { url = params.hook, token = params.flag_token } }

local function flag(ctx) return ctx.params.base .. "/flags/cutover" end

step "move-flag" {
  run = function(ctx)
    return http.flag_set { url = flag(ctx), token = ctx.params.flag_token, value = "aurora",
                           expect = "rds" }
  end,
  undo = function(ctx, out)
    http.flag_set { url = flag(ctx), token = ctx.params.flag_token, value = out.previous,
                    expect = out.value }
  end,
}

gate "app-healthy" {
  check("health endpoint says healthy", function(ctx)
    local h = http.health { url = ctx.params.base .. "/health", field = "/status",
                            equals = "healthy" }
    return h.ok, h
  end),
}

step "done" { run = function(ctx) return { ok = true } end }
