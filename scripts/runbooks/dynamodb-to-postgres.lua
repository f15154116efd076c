-- dynamodb-to-postgres.lua - DynamoDB -> PostgreSQL (Aurora Serverless v2), the dual-write
-- roadmap of seed 002, with nothing lost and every item verified (the seed's "99.9 % success
-- rate" becomes "0 differences"):
--
--   pre-deployment  connection checks (PostgreSQL, the DynamoDB table ACTIVE), an on-demand
--                   DynamoDB backup (waited for), schema migrations in one transaction
--                   (the target table of the mapping, then the statements of the Lua module
--                   named by -p migrations, if any)
--   data-migration  the table's stream enabled (NEW_AND_OLD_IMAGES) BEFORE the copy, the
--                   segmented Scan copy into PostgreSQL (resumable), the stream applied
--                   (catch-up: every write made while the copy ran), gate: verify item by item
--   dual-writing    the dual-write feature flag on; the stream kept applied and the
--                   application healthy for verify_period (stable_for); gate: verify again
--   traffic-shift   approval, reads 10 % -> 50 % -> 100 % on PostgreSQL (feature flag), each
--                   stage healthy and caught up for stage_soak; an unhealthy application for
--                   app_errors_for rolls back (flags back, newest first)
--   cleanup         approval, dual writing off, the last catch-up (the stream is then no
--                   longer read), gate: final verify and the backup still AVAILABLE
--
-- The mapping is declared below (COLUMNS): nil copies each item as a document (key columns +
-- the whole item as jsonb); a table { attr = "type" } maps attributes to typed columns
-- (doc/plugins-dynamodb.md). Every threshold and duration is a param. Example:
--   PGMOVE_TARGET='host=aurora... dbname=app user=app' PGMOVE_TARGET_PASSWORD=... \
--   pgmove run scripts/runbooks/dynamodb-to-postgres.lua -p table=orders \
--     -p flags_url=https://flags.internal/api/flags -p app_health=https://app.internal/health \
--     -p verify_period=24h -p stage_soak=24h
local ddb  = plugin "dynamodb"
local pg   = plugin "pg"
local http = plugin "http"

-- The column mapping, or nil for the document mapping. For example:
--   COLUMNS = { customer = "text", total = "numeric", items = "jsonb", tags = "text[]" }
local COLUMNS = nil

runbook "dynamodb-to-postgres" {
  summary = "DynamoDB -> PostgreSQL: backup, stream, copy, catch-up, verify, dual writing, staged reads (seed 002)",
  params = {
    table           = { type = "string", required = true, summary = "the DynamoDB table" },
    region          = { type = "string", env = "AWS_REGION", summary = "AWS region" },
    target          = { type = "conninfo", env = "PGMOVE_TARGET", secret = true, required = true, summary = "PostgreSQL (Aurora) connection string" },
    into            = { type = "string", summary = "the PostgreSQL table (default: the DynamoDB table's name)" },
    schema          = { type = "string", default = "public", summary = "its schema" },
    document_column = { type = "string", default = "item", summary = "document mapping: the jsonb column" },
    misfits         = { type = "string", summary = "a table for items that do not fit the mapping (default: such an item fails the copy)" },
    migrations      = { type = "string", summary = "a Lua module (beside the runbook) returning a list of SQL statements, run after the table is created" },
    segments        = { type = "integer", default = 4, summary = "Scan segments" },
    workers         = { type = "integer", default = 4, summary = "segments the copy and verify scan at once (threads, one PostgreSQL connection each)" },
    page_size       = { type = "integer", default = 1000, summary = "items per Scan page" },
    read_capacity   = { type = "number", default = 0, summary = "read capacity units per second the copy (and verify) may use, shared by the workers (0: no limit)" },
    backup          = { type = "boolean", default = true, summary = "take an on-demand DynamoDB backup first" },
    flags_url       = { type = "string", required = true, summary = "base URL of the feature flags (FLAGS/dual_write_flag, FLAGS/read_flag)" },
    flag_token      = { type = "string", env = "PGMOVE_FLAG_TOKEN", secret = true, summary = "flag service token" },
    dual_write_flag = { type = "string", default = "dual-write", summary = "flag: the application writes to both databases (true / false)" },
    read_flag       = { type = "string", default = "postgres-read-pct", summary = "flag: percent of reads on PostgreSQL" },
    app_health      = { type = "string", summary = "health URL of the application (checked during dual writing and the shift)" },
    poll            = { type = "duration", default = "30s", summary = "how often waits check" },
    verify_period   = { type = "duration", default = "24h", summary = "dual writing stable this long before the second verify" },
    stage_soak      = { type = "duration", default = "24h", summary = "each read stage stable this long" },
    app_errors_for  = { type = "duration", default = "5m", summary = "breaker: unhealthy this long during the shift rolls back" },
    max_age_s       = { type = "number", default = 60, summary = "catch-up: a shard not caught up, or records older than this once applied, is not stable" },
    -- notifications (doc/pgmove-runbook.5, notify): each target is off until its params are set
    pd_routing_key  = { type = "string", env = "PGMOVE_PAGERDUTY_KEY", secret = true, summary = "PagerDuty integration key" },
    pd_url          = { type = "string", env = "PGMOVE_PAGERDUTY_URL", summary = "PagerDuty Events API base URL (default: PagerDuty's)" },
    slack_webhook   = { type = "string", env = "PGMOVE_SLACK_WEBHOOK", secret = true, summary = "Slack-compatible webhook for run events" },
    notify_mail_to  = { type = "string", env = "PGMOVE_NOTIFY_MAIL_TO", summary = "who gets mail on failures and rollbacks (off when unset)" },
    smtp_url        = { type = "string", env = "PGMOVE_SMTP_URL", summary = "smtp://relay:587 for that mail" },
    smtp_user       = { type = "string", env = "PGMOVE_SMTP_USER", summary = "SMTP AUTH user" },
    smtp_password   = { type = "string", env = "PGMOVE_SMTP_PASSWORD", secret = true, summary = "SMTP AUTH password" },
    mail_from       = { type = "string", default = "pgmove@localhost", summary = "the mail's sender" },
  },
}

-- Seed 002 4.2 (alerts on error rate and degradation): failures, gate failures, breaker trips
-- and rollbacks page / post / mail; nothing is sent until configured.
notify {
  on = { "run.started", "run.failed", "gate.failed", "breaker.tripped", "wait.timeout",
         "rollback.started", "rollback.finished", "step.succeeded", "run.completed" },
  steps = { "dual-write-on", "dual-write-off" }, -- milestones on the service's timeline
  pagerduty = params.pd_routing_key and { routing_key = params.pd_routing_key, url = params.pd_url,
                                          source = "pgmove/dynamodb-to-postgres",
                                          component = "database-migration" },
}
notify {
  on = { "run.started", "run.completed", "run.failed", "step.failed", "gate.failed",
         "approval.needed", "breaker.tripped", "wait.timeout", "rollback.started",
         "rollback.finished" },
  slack = params.slack_webhook and { url = params.slack_webhook },
}
notify {
  on = { "run.failed", "gate.failed", "rollback.started", "rollback.finished" },
  mail = params.notify_mail_to and params.smtp_url and {
    server = params.smtp_url, from = params.mail_from, to = params.notify_mail_to,
    username = params.smtp_user, password = params.smtp_password, starttls = "required" },
}

local function into(ctx) return ctx.params.into or ctx.params.table end
local function flag_url(ctx, which) return ctx.params.flags_url .. "/" .. ctx.params[which] end

-- args - the arguments every copy / catch_up / verify call shares: table, target, mapping.
local function args(ctx, extra)
  local a = { table = ctx.params.table, region = ctx.params.region, target = ctx.params.target,
              into = into(ctx), schema = ctx.params.schema, columns = COLUMNS,
              document_column = ctx.params.document_column,
              segments = ctx.params.segments, page_size = ctx.params.page_size }
  for k, v in pairs(extra or {}) do a[k] = v end
  return a
end

-- The stream's positions: the last catch-up's, kept between the evaluations of a wait (after
-- a restart, those of the last catch-up step: applying again from there converges).
local positions = nil
local function catch_up(ctx)
  local from = positions or (ctx.outputs["catch-up"] and ctx.outputs["catch-up"].positions)
  local r = ddb.catch_up(args(ctx, { from = from }))
  positions = r.positions
  ctx.log("catch-up: %d records applied (%d inserts, %d modifies, %d removes), caught up: %s, newest %s s old",
          r.records, r.inserts, r.modifies, r.removes, tostring(r.caught_up), tostring(r.newest_age_s))
  return r
end

local function healthy(ctx)
  if not ctx.params.app_health then return true, "not checked" end
  local h = http.health { url = ctx.params.app_health }
  return h.ok, h.reason
end

local function verify_check(ctx)
  local r = ddb.verify(args(ctx, { workers = ctx.params.workers, read_capacity = ctx.params.read_capacity }))
  return r.equal, { items = r.items, differences = r.differences, missing = r.missing,
                    changed = r.changed, extra = r.extra, unconvertible = r.unconvertible }
end

breaker "app-errors" {
  summary = "application unhealthy for app_errors_for during the traffic shift: roll back",
  during = { "traffic-shift" },
  sustained = params.app_errors_for,
  condition = function(ctx)
    local ok, reason = healthy(ctx)
    return not ok, { reason = reason }
  end,
  action = "rollback",
}

-- ---- pre-deployment ---------------------------------------------------------------------------
phase "pre-deployment"

step "connections" {
  summary = "PostgreSQL reachable; the DynamoDB table ACTIVE",
  run = function(ctx)
    local v = pg.query { conninfo = ctx.params.target, sql = "SELECT version() AS version" }
    local t = ddb.describe_table { table = ctx.params.table, region = ctx.params.region }
    if t.status ~= "ACTIVE" then error("table " .. ctx.params.table .. " is " .. tostring(t.status)) end
    return { postgres = v.rows[1].version, table = t }
  end,
}

step "backup" {
  summary = "on-demand DynamoDB backup, waited for",
  timeout = "6h",
  run = function(ctx)
    if not ctx.params.backup then return { skipped = true } end
    return ddb.backup { table = ctx.params.table, region = ctx.params.region,
                        name = "pgmove-" .. ctx.params.table .. "-" .. ctx.run.id, every = ctx.params.poll }
  end,
}

local SQL_TYPE = { S = "text", N = "numeric", B = "bytea" }
step "schema" {
  summary = "schema migrations in one transaction: the target table, then the migrations module",
  run = function(ctx)
    local keys, cols = ctx.outputs.connections.table.keys, {}
    local q = function(s) return '"' .. s:gsub('"', '""') .. '"' end
    for _, k in ipairs(keys) do cols[#cols + 1] = q(k.name) .. " " .. SQL_TYPE[k.type] .. " NOT NULL" end
    if COLUMNS then
      for attr, ty in pairs(COLUMNS) do
        local is_key = false
        for _, k in ipairs(keys) do if k.name == attr then is_key = true end end
        if not is_key then cols[#cols + 1] = q(type(ty) == "table" and ty.column or attr) .. " " .. (type(ty) == "table" and ty.type or ty) end
      end
    else
      cols[#cols + 1] = q(ctx.params.document_column) .. " jsonb NOT NULL"
    end
    local pk = {}
    for _, k in ipairs(keys) do pk[#pk + 1] = q(k.name) end
    local sql = { string.format("CREATE TABLE IF NOT EXISTS %s.%s (%s, PRIMARY KEY (%s))",
                                q(ctx.params.schema), q(into(ctx)), table.concat(cols, ", "), table.concat(pk, ", ")) }
    if ctx.params.migrations then
      for _, s in ipairs(require(ctx.params.migrations)) do sql[#sql + 1] = s end
    end
    pg.exec { conninfo = ctx.params.target, sql = sql }
    return { statements = #sql }
  end,
}

-- ---- data migration ---------------------------------------------------------------------------
phase "data-migration"

step "stream" {
  summary = "the table's stream (NEW_AND_OLD_IMAGES), enabled before the copy starts",
  run = function(ctx) return ddb.enable_stream { table = ctx.params.table, region = ctx.params.region } end,
}

step "copy" {
  summary = "segmented Scan into PostgreSQL (COPY, upsert by key), resumable per page",
  timeout = "72h",
  run = function(ctx)
    return ddb.copy_to_postgres(args(ctx, { misfits = ctx.params.misfits, read_capacity = ctx.params.read_capacity,
                                            workers = ctx.params.workers }))
  end,
}

step "catch-up" {
  summary = "the writes made while the copy ran, applied from the stream",
  run = function(ctx) return catch_up(ctx) end,
}

gate "copy-verified" {
  check("every item equal in PostgreSQL (0 differences)", verify_check),
  on_fail = "halt",
}

-- ---- dual writing -----------------------------------------------------------------------------
phase "dual-writing"

step "dual-write-on" {
  summary = "the application writes to DynamoDB and PostgreSQL (feature flag)",
  run = function(ctx)
    local f = http.flag_set { url = flag_url(ctx, "dual_write_flag"), token = ctx.params.flag_token, value = true }
    return { value = f.value, previous = f.previous, changed = f.changed }
  end,
  undo = function(ctx, out)
    http.flag_set { url = flag_url(ctx, "dual_write_flag"), token = ctx.params.flag_token,
                    value = out.previous or false, expect = out.value }
  end,
}

local function stable(ctx)
  local ok, reason = healthy(ctx)
  local r = catch_up(ctx)
  local fresh = r.newest_age_s == nil or r.records == 0 or r.newest_age_s <= ctx.params.max_age_s
  return ok and r.caught_up and fresh, { app = reason, caught_up = r.caught_up, records = r.records,
                                           newest_age_s = r.newest_age_s }
end

wait "dual-write-stable" {
  every = params.poll, stable_for = params.verify_period, timeout = "30d",
  condition = stable,
}

gate "dual-write-verified" {
  check("every item equal after the dual-write period", function(ctx)
    catch_up(ctx)
    return verify_check(ctx)
  end),
  on_fail = "halt",
}

-- ---- traffic shift ----------------------------------------------------------------------------
phase "traffic-shift"

approve "start-traffic-shift" {
  prompt = "PostgreSQL holds every item and dual writing is stable. Move reads 10% -> 50% -> 100% to PostgreSQL?",
}

local function stage(pct)
  step("reads-" .. pct) {
    summary = "reads " .. pct .. "% on PostgreSQL (feature flag)",
    run = function(ctx)
      local f = http.flag_set { url = flag_url(ctx, "read_flag"), token = ctx.params.flag_token, value = pct }
      return { value = f.value, previous = f.previous, changed = f.changed }
    end,
    undo = function(ctx, out)
      http.flag_set { url = flag_url(ctx, "read_flag"), token = ctx.params.flag_token,
                      value = out.previous or 0, expect = out.value }
    end,
  }
  wait("reads-" .. pct .. "-stable") {
    every = params.poll, stable_for = params.stage_soak, timeout = "14d",
    condition = stable,
  }
end
stage(10)
stage(50)
stage(100)

-- ---- cleanup ----------------------------------------------------------------------------------
phase "cleanup"

approve "cleanup" {
  prompt = "All reads are on PostgreSQL. Stop dual writing (writes to PostgreSQL only) and stop reading the stream?",
}

step "dual-write-off" {
  summary = "dual writing off: the application writes to PostgreSQL only",
  run = function(ctx)
    local f = http.flag_set { url = flag_url(ctx, "dual_write_flag"), token = ctx.params.flag_token, value = false }
    return { value = f.value, previous = f.previous, changed = f.changed }
  end,
  undo = function(ctx, out)
    http.flag_set { url = flag_url(ctx, "dual_write_flag"), token = ctx.params.flag_token,
                    value = out.previous, expect = out.value }
  end,
}

step "final-catch-up" {
  summary = "the last writes to DynamoDB applied; the stream is not read after this",
  run = function(ctx) return catch_up(ctx) end,
}

gate "final-verification" {
  check("every item equal (final)", verify_check),
  check("the DynamoDB backup is AVAILABLE", function(ctx)
    local b = ctx.outputs.backup or {}
    if b.skipped then return true, { skipped = true } end
    -- a backup step an operator resolved as succeeded has no output: the
    -- operator vouched for the backup; the evidence says it was not checked
    if not b.arn then
      return true, { unverified = "the backup step was resolved by an operator and recorded no ARN: "
                                  .. "check the backup with aws dynamodb list-backups" }
    end
    local d = ddb.describe_backup { arn = b.arn, region = ctx.params.region }
    return d.status == "AVAILABLE", d
  end),
  on_fail = "halt",
}
