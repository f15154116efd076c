-- dms-full-load-cdc.lua - PostgreSQL -> Aurora PostgreSQL with AWS DMS, full load + CDC, as
-- seed 001 plans it (gated phases, the REPLICATION_STATE machine, circuit breakers, a staged
-- cutover behind feature flags, the rollback procedure, a 90-day window), with the DMS
-- specifics of seed 003 (replication instance, endpoints, tasks, premigration assessment).
--
--   Phase 1  replication instance, source / target endpoints, the task (not started),
--            premigration assessment; gate 1: connection tests from the replication instance,
--            pg_settings compared, assessment passed
--   Phase 2  schema first (pgdump pre-data: DMS does not create secondary indexes, foreign
--            keys or sequences), task started, REPLICATION_STATE followed; the task stops
--            after the full load with cached changes applied, post-data (indexes,
--            constraints) is restored, the task resumes; CDC caught up for cdc_stable_for;
--            gate 2: all tables loaded, row counts equal and checksums equal on the tables DMS
--            validated, both while CDC runs (checksum.compare_live: a marker table created on
--            the source before the task starts is replicated by DMS like the others), CDC
--            latency under the threshold, no table errored
--   Breakers lag over lag_breaker_s for lag_breaker_for pages and pauses; DMS errors page;
--            a failed task is resumed from its checkpoint (resume-processing), reloaded
--            (reload-target) when that fails; application errors during the cutover roll back
--   Phase 3  approval, reads 10% -> 50% -> 100% on Aurora through the http plugin's feature
--            flags, each stage stable for stage_soak with health checks; the fence: source
--            read-only, DMS drained (latency and incoming changes zero), sequences synced, final
--            checksums; writes to Aurora. Undo (rollback) is the seed's procedure: writes flag
--            back, source writable, reads back, DMS paused.
--   Phase 4  approval (after the parallel run), final validation gate, a final snapshot of
--            the source (rds_snapshot when it is RDS, else a pg_dump archive) as the recovery
--            of the irreversible step that stops and removes the DMS resources.
--
-- Every threshold and duration is a param, so a rehearsal runs in minutes and the real run
-- uses the seed's "24h". Example (the real run):
--   PGMOVE_SOURCE_PASSWORD=... PGMOVE_TARGET_PASSWORD=... PGMOVE_PAGERDUTY_KEY=... \
--   pgmove run scripts/runbooks/dms-full-load-cdc.lua -p name=orders-db \
--     -p source_host=10.0.1.5 -p target_host=aurora.cluster-xyz.eu-west-2.rds.amazonaws.com \
--     -p db_name=app -p source_user=dms_src -p target_user=dms_tgt \
--     -p assessment_bucket=dms-assessments -p assessment_role=arn:aws:iam::1:role/dms-s3 \
--     -p flags_url=https://flags.internal/api/flags -p app_health=https://app.internal/health \
--     -p cdc_stable_for=24h -p stage_soak=24h -p instance_class=dms.r5.2xlarge
local dms  = plugin "dms"
local pg   = plugin "pg"
local dump = plugin "pgdump"
local sum  = plugin "checksum"
local http = plugin "http"
local pd   = plugin "pagerduty"
local rds  = plugin "rds_snapshot"

runbook "dms-full-load-cdc" {
  summary = "PostgreSQL -> Aurora PostgreSQL with AWS DMS full load + CDC, gates, breakers, staged cutover (seed 001)",
  params = {
    name            = { type = "string", default = "pgmove", summary = "prefix of the DMS resources: NAME-ri, NAME-source, NAME-target, NAME-task" },
    region          = { type = "string", env = "AWS_REGION", summary = "AWS region" },
    instance_class  = { type = "string", default = "dms.r5.2xlarge", summary = "replication instance class (seed 001 5.2)" },
    storage         = { type = "integer", default = 100, summary = "replication instance storage, GB" },
    multi_az        = { type = "boolean", default = true, summary = "Multi-AZ replication instance (seed 003 2)" },
    subnet_group    = { type = "string", summary = "replication subnet group" },
    security_groups = { type = "string", summary = "VPC security group ids, comma-separated" },
    source_host     = { type = "string", required = true, summary = "source server, as DMS and pgmove reach it" },
    source_port     = { type = "integer", default = 5432, summary = "source port" },
    target_host     = { type = "string", required = true, summary = "Aurora writer endpoint" },
    target_port     = { type = "integer", default = 5432, summary = "target port" },
    db_name         = { type = "string", required = true, summary = "database to migrate" },
    target_db       = { type = "string", summary = "its name on the target (default db_name)" },
    source_user     = { type = "string", required = true, summary = "source user (replication rights)" },
    source_password = { type = "string", env = "PGMOVE_SOURCE_PASSWORD", secret = true, required = true, summary = "its password" },
    target_user     = { type = "string", required = true, summary = "target user" },
    target_password = { type = "string", env = "PGMOVE_TARGET_PASSWORD", secret = true, required = true, summary = "its password" },
    source_secret_arn = { type = "string", summary = "DMS reads the source credentials from this Secrets Manager secret instead" },
    target_secret_arn = { type = "string", summary = "the same for the target" },
    secret_role_arn = { type = "string", summary = "role DMS assumes to read the secrets" },
    dms_ssl_mode    = { type = "string", default = "require", summary = "SSL mode of the DMS endpoints" },
    sslmode         = { type = "string", default = "prefer", summary = "libpq sslmode of pgmove's own connections" },
    schemas         = { type = "string", default = "public", summary = "schemas to migrate, comma-separated" },
    exclude_tables  = { type = "string", summary = "schema.table patterns (% wildcard) left out, comma-separated" },
    pg_settings     = { type = "string", default = "server_encoding,lc_collate,lc_ctype,TimeZone,DateStyle,IntervalStyle,standard_conforming_strings,default_transaction_isolation,search_path,statement_timeout,idle_in_transaction_session_timeout,max_connections",
                        summary = "pg_settings that must match (gate 1)" },
    assessment      = { type = "boolean", default = true, summary = "run the premigration assessment (gate 1)" },
    assessment_bucket = { type = "string", summary = "S3 bucket for the assessment results" },
    assessment_role = { type = "string", summary = "IAM role ARN DMS uses to write them" },
    poll            = { type = "duration", default = "30s", summary = "how often waits ask DMS" },
    full_load_timeout = { type = "duration", default = "72h", summary = "how long the full load may take" },
    caught_up_below = { type = "number", default = 10, summary = "CDC_CAUGHT_UP below this latency, seconds (seed: 10 s)" },
    cdc_stable_for  = { type = "duration", default = "24h", summary = "how long CDC must stay caught up before gate 2 (seed: 24h)" },
    marker          = { type = "string", default = "public.pgmove_marker", summary = "schema.table created on the source for gate 2's compare_live (DMS replicates it)" },
    live_catch_up   = { type = "duration", default = "60s", summary = "gate 2: how long compare_live waits for DMS to apply its marker" },
    lag_breaker_s   = { type = "number", default = 60, summary = "breaker: CDC latency over this, seconds (seed 4.3: 60 s)" },
    lag_breaker_for = { type = "duration", default = "5m", summary = "breaker: for this long (seed 4.3: 5 min)" },
    metric_window   = { type = "duration", default = "5m", summary = "CloudWatch window read for latency" },
    metric_period   = { type = "duration", default = "60s", summary = "CloudWatch period" },
    flags_url       = { type = "string", required = true, summary = "base URL of the feature flags (FLAGS/read_flag, FLAGS/write_flag)" },
    flag_token      = { type = "string", env = "PGMOVE_FLAG_TOKEN", secret = true, summary = "flag service token" },
    read_flag       = { type = "string", default = "aurora-read-pct", summary = "flag: percent of reads on Aurora" },
    write_flag      = { type = "string", default = "db-writes", summary = "flag: where writes go (source / aurora)" },
    stage_soak      = { type = "duration", default = "24h", summary = "how long each cutover stage must be stable" },
    app_health      = { type = "string", summary = "application health URL checked during the cutover" },
    app_errors_for  = { type = "duration", default = "5m", summary = "breaker: unhealthy this long rolls back (seed 4.3)" },
    fence_latency_s = { type = "number", default = 0, summary = "the fence: CDC latency at most this, seconds" },
    pd_routing_key  = { type = "string", env = "PGMOVE_PAGERDUTY_KEY", secret = true, summary = "PagerDuty integration key (pages on breaker trips and DMS errors)" },
    pd_url          = { type = "string", summary = "PagerDuty events endpoint (default PagerDuty's)" },
    source_instance = { type = "string", summary = "the source's RDS instance id: the final backup is an RDS snapshot" },
    backup_file     = { type = "string", summary = "else: the final pg_dump archive (default in the run directory)" },
    keep_dms        = { type = "boolean", default = false, summary = "keep the DMS resources at the end" },
    -- notifications (doc/pgmove-runbook.5, notify): each target is off until its params are set
    slack_webhook   = { type = "string", env = "PGMOVE_SLACK_WEBHOOK", secret = true, summary = "Slack incoming-webhook URL for the run's events (off when unset)" },
    notify_mail_to  = { type = "string", env = "PGMOVE_NOTIFY_MAIL_TO", summary = "who gets mail on failures and rollbacks (off when unset)" },
    smtp_url        = { type = "string", env = "PGMOVE_SMTP_URL", summary = "smtp://relay:587 for that mail" },
    smtp_user       = { type = "string", env = "PGMOVE_SMTP_USER", summary = "SMTP AUTH user" },
    smtp_password   = { type = "string", env = "PGMOVE_SMTP_PASSWORD", secret = true, summary = "SMTP AUTH password" },
    mail_from       = { type = "string", default = "pgmove@localhost", summary = "the mail's sender" },
  },
  on_failure = function(ctx, err)
    local msg = type(err) == "table" and (tostring(err.code) .. ": " .. tostring(err.message)) or tostring(err)
    page(ctx, "failure", "pgmove dms-full-load-cdc failed at " .. tostring(ctx.step and ctx.step.name or ctx.step) .. ": " .. msg, "critical")
    return "halt"
  end,
}

-- Seed 001 section 6.2: replication failure -> PagerDuty, data inconsistency -> Slack,
-- rollback -> mail + Slack. Breaker trips and failures already page through page() below
-- (their own dedup keys); notify pages what they do not cover, with the run's incident
-- resolved when the run recovers or completes. Nothing is sent until configured.
notify {
  on = { "run.started", "gate.failed", "wait.timeout", "rollback.started", "rollback.finished",
         "step.succeeded", "run.completed" },
  steps = { "source-read-only", "writes-to-aurora", "remove-dms" }, -- milestones on the service's timeline
  pagerduty = params.pd_routing_key and { routing_key = params.pd_routing_key, url = params.pd_url,
                                          source = "pgmove/dms-full-load-cdc",
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

-- ---- helpers ------------------------------------------------------------------------------

local function q(v)
  return "'" .. tostring(v):gsub("\\", "\\\\"):gsub("'", "\\'") .. "'"
end

local function db(ctx, side)
  return side == "target" and ctx.params.target_db or ctx.params.db_name
end

local function conn(ctx, side)
  local p = ctx.params
  return string.format("host=%s port=%d dbname=%s user=%s password=%s sslmode=%s",
    q(p[side .. "_host"]), math.tointeger(p[side .. "_port"]) or 5432, q(db(ctx, side)),
    q(p[side .. "_user"]), q(p[side .. "_password"]), q(p.sslmode))
end

local function split(s)
  local out = json.array {}  -- an empty list stays a JSON array (checksum.compare's exclude)
  for item in (s or ""):gmatch("[^,%s]+") do out[#out + 1] = item end
  return out
end

local function id(ctx, what) return ctx.params.name .. "-" .. what end

local function R(ctx) return ctx.params.region end

-- page - a PagerDuty alert when a routing key is given; logged either way. Global, so the
-- runbook's on_failure can use it.
function page(ctx, key, summary, severity)
  ctx.log("PAGE %s: %s", key, summary)
  if not ctx.params.pd_routing_key then return end
  local ok, err = pcall(pd.trigger, {
    routing_key = ctx.params.pd_routing_key, url = ctx.params.pd_url,
    dedup_key = "pgmove/" .. ctx.run.id .. "/" .. key, summary = summary,
    source = ctx.params.target_host, severity = severity or "error",
    component = "dms", group = "aurora-migration", class = key })
  if not ok then ctx.log("paging failed: %s", tostring(err)) end
end

local function mappings(ctx)
  local rules = {}
  local ms, mt = string.match(ctx.params.marker, "^([%a_][%w_]*)%.([%a_][%w_]*)$")
  local marker_in = false
  for _, s in ipairs(split(ctx.params.schemas)) do
    rules[#rules + 1] = { type = "include", schema = s, table = "%" }
    marker_in = marker_in or s == ms
  end
  -- gate 2's marker table is replicated even when its schema is not migrated
  if ms and not marker_in then rules[#rules + 1] = { type = "include", schema = ms, table = mt } end
  for _, t in ipairs(split(ctx.params.exclude_tables)) do
    local s, n = t:match("^([^.]+)%.(.+)$")
    if not s then error("exclude_tables: " .. t .. " is not schema.table") end
    rules[#rules + 1] = { type = "exclude", schema = s, table = n }
  end
  return rules
end

-- marker - the marker table's schema, table and quoted name; the param is checked, not
-- quoted blindly.
local function marker(ctx)
  local sch, tbl = string.match(ctx.params.marker, "^([%a_][%w_]*)%.([%a_][%w_]*)$")
  if not sch then
    error({ code = "args.invalid", retryable = false,
            message = "marker: " .. ctx.params.marker .. " is not schema.table (letters, digits, _)" })
  end
  return sch, tbl, string.format('"%s"."%s"', sch, tbl)
end

-- live - checksum.compare_live between the servers while DMS applies CDC (args: tables,
-- or the schemas and exclusions of the migration).
local function live(ctx, tables)
  return sum.compare_live { source = conn(ctx, "source"), target = conn(ctx, "target"),
                            marker = ctx.params.marker, catch_up_timeout = ctx.params.live_catch_up,
                            tables = tables, schemas = not tables and split(ctx.params.schemas) or nil,
                            exclude = not tables and split(ctx.params.exclude_tables) or nil }
end

-- counts_differ - the compare_live mismatches that change a row count (a missing or
-- extra row or table, a whole-table count, a row that never settled).
local function counts_differ(r)
  local out = json.array {}
  for _, m in ipairs(r.mismatches or {}) do
    if m.kind ~= "changed" and m.kind ~= "content" and m.kind ~= "columns" then out[#out + 1] = m end
  end
  return out
end

local function flag_url(ctx, which) return ctx.params.flags_url .. "/" .. ctx.params[which] end

-- Recovery of a failed task (seed 001 4.2: restart from checkpoint, full reload if
-- necessary), per process: the first failure resumes from the checkpoint; the next one
-- reloads: the task is modified to truncate the target tables before loading (they hold
-- rows and, after post-data, keys) and to run on into CDC, then reload-target; a failure
-- after that is an error.
local recovery, reload_pending = {}, {}

-- follow - the task's REPLICATION_STATE; a failed task is paged and recovered.
local function follow(ctx)
  local tid = id(ctx, "task")
  local s = dms.replication_state { task = tid, region = R(ctx),
                                    caught_up_below = ctx.params.caught_up_below,
                                    window = ctx.params.metric_window, period = ctx.params.metric_period }
  local v = { state = s.state, reason = s.reason, status = s.status,
              full_load_percent = s.full_load_percent, tables_loaded = s.tables_loaded,
              tables_errored = s.tables_errored, latency_source = s.latency_source,
              latency_target = s.latency_target }
  ctx.log("%s: %s (%s)", tid, s.state, s.reason)
  if reload_pending[tid] and s.status ~= "modifying" then
    reload_pending[tid] = nil
    dms.start_task { task = tid, type = "reload-target", region = R(ctx) }
    v.recovery = "reload-target"
  elseif s.status == "failed" then
    local n = (recovery[tid] or 0) + 1
    recovery[tid] = n
    page(ctx, "dms-task-failed", "DMS task " .. tid .. " failed: " .. tostring(s.reason), "critical")
    if n == 1 then
      dms.start_task { task = tid, type = "resume-processing", region = R(ctx) }
      v.recovery = "resume-processing"
    elseif n == 2 then
      dms.modify_task { task = tid, region = R(ctx),
                        settings = { prep_mode = "TRUNCATE_BEFORE_LOAD", stop_after_cached_changes = false,
                                     validation = true, lob_mode = "limited", logging = true } }
      reload_pending[tid] = true
      v.recovery = "modify-task for reload (TRUNCATE_BEFORE_LOAD)"
    else
      -- (split: the loader's check of alias.function calls also reads string literals)
      error({ code = "dms" .. ".task_failed", retryable = false,
              message = "task " .. tid .. " failed again after resume and reload: " .. tostring(s.reason) })
    end
  end
  return s, v
end

-- ---- breakers (seed 001 4.3) -----------------------------------------------------------------

breaker "replication-lag" {
  summary = "CDC latency over lag_breaker_s for lag_breaker_for: page and pause",
  during = { "cdc-caught-up", "cutover" },
  sustained = params.lag_breaker_for,
  condition = function(ctx)
    local l = dms.cdc_latency { task = id(ctx, "task"), region = R(ctx),
                                window = ctx.params.metric_window, period = ctx.params.metric_period }
    local worst = math.max(l.source or 0, l.target or 0)
    return worst > ctx.params.lag_breaker_s, { source = l.source, target = l.target }
  end,
  on_trip = function(ctx, v)
    page(ctx, "replication-lag", string.format("DMS CDC latency over %g s (source %s, target %s): cutover paused",
      ctx.params.lag_breaker_s, tostring(v.source), tostring(v.target)), "critical")
  end,
  action = "pause",
}

breaker "dms-errors" {
  summary = "any DMS error (a failed task, an errored table): page",
  during = { "replication", "cutover" },
  condition = function(ctx)
    local s = dms.replication_state { task = id(ctx, "task"), region = R(ctx), latency = false }
    return s.state == "REPLICATION_FAILED", { reason = s.reason }
  end,
  on_trip = function(ctx, v)
    page(ctx, "dms-errors", "DMS error: " .. tostring(v.reason), "error")
  end,
  action = "alert",
}

breaker "app-errors" {
  summary = "application unhealthy for app_errors_for during the cutover: roll back to the source",
  during = { "cutover" },
  sustained = params.app_errors_for,
  condition = function(ctx)
    if not ctx.params.app_health then return false end
    local h = http.health { url = ctx.params.app_health }
    return not h.ok, { status = h.status, reason = h.reason }
  end,
  on_trip = function(ctx, v)
    page(ctx, "app-errors", "application unhealthy during the cutover (" .. tostring(v.reason) .. "): rolling back", "critical")
  end,
  action = "rollback",
}

-- ---- Phase 1: infrastructure and gate 1 --------------------------------------------------------

phase "infrastructure"

step "replication-instance" {
  summary = "DMS replication instance (seed 003 2: class, storage, Multi-AZ, security groups)",
  timeout = "15m",
  run = function(ctx)
    local i = dms.create_instance { id = id(ctx, "ri"), class = ctx.params.instance_class,
      storage = ctx.params.storage, multi_az = ctx.params.multi_az,
      subnet_group = ctx.params.subnet_group, region = R(ctx),
      security_groups = ctx.params.security_groups and split(ctx.params.security_groups) or nil,
      tags = { ["pgmove:run"] = ctx.run.id } }
    return { id = i.id, arn = i.arn, status = i.status, adopted = i.adopted }
  end,
  undo = function(ctx, out) dms.delete_instance { id = out.id, region = R(ctx) } end,
}

wait "instance-available" {
  every = params.poll, timeout = "1h",
  condition = function(ctx)
    local i = dms.describe_instance { id = id(ctx, "ri"), region = R(ctx) }
    return i.status == "available", { status = i.status, class = i.class }
  end,
}

-- One step per endpoint: each is recorded for undo as soon as it exists.
local function endpoint_step(side)
  step(side .. "-endpoint") {
    summary = side .. " endpoint (seed 003 3)",
    timeout = "10m",
    run = function(ctx)
      local p = ctx.params
      local spec = { id = id(ctx, side), type = side, database = db(ctx, side), region = R(ctx),
                     engine = side == "source" and "postgres" or "aurora-postgresql",
                     ssl_mode = p.dms_ssl_mode, tags = { ["pgmove:run"] = ctx.run.id } }
      if p[side .. "_secret_arn"] then
        spec.secret_arn, spec.secret_role_arn = p[side .. "_secret_arn"], p.secret_role_arn
      else
        spec.server, spec.port = p[side .. "_host"], p[side .. "_port"]
        spec.username, spec.password = p[side .. "_user"], p[side .. "_password"]
      end
      if side == "source" then spec.heartbeat = true end
      local e = dms.create_endpoint(spec)
      return { id = e.id, arn = e.arn, adopted = e.adopted }
    end,
    undo = function(ctx, out) dms.delete_endpoint { id = out.id, region = R(ctx) } end,
  }
end
endpoint_step("source")
endpoint_step("target")

step "task" {
  summary = "replication task, full-load-and-cdc, not started (seed 003 4)",
  timeout = "10m",
  run = function(ctx)
    local t = dms.create_task { id = id(ctx, "task"), instance = id(ctx, "ri"),
      source = id(ctx, "source"), target = id(ctx, "target"), type = "full-load-and-cdc",
      mappings = mappings(ctx), region = R(ctx),
      settings = { prep_mode = "DO_NOTHING", stop_after_cached_changes = true, validation = true,
                   lob_mode = "limited", logging = true },
      tags = { ["pgmove:run"] = ctx.run.id } }
    return { id = t.id, arn = t.arn, status = t.status, adopted = t.adopted }
  end,
  undo = function(ctx, out)
    pcall(dms.stop_task, { task = out.id, region = R(ctx) })
    for _ = 1, 600 do
      local ok, t = pcall(dms.describe_task, { task = out.id, region = R(ctx) })
      if not ok or t.status ~= "stopping" and t.status ~= "running" and t.status ~= "starting" then break end
      ctx.sleep("1s")
    end
    dms.delete_task { task = out.id, region = R(ctx) }
    -- Endpoints and the instance can go only once the task is gone.
    for _ = 1, 600 do
      if not pcall(dms.describe_task, { task = out.id, region = R(ctx) }) then break end
      ctx.sleep("1s")
    end
  end,
}

wait "task-ready" {
  every = params.poll, timeout = "1h",
  condition = function(ctx)
    local t = dms.describe_task { task = id(ctx, "task"), region = R(ctx) }
    return t.status == "ready", { status = t.status }
  end,
}

step "assessment" {
  summary = "premigration assessment run (seed 003 5)",
  when = function(ctx) return ctx.params.assessment end,
  run = function(ctx)
    if not ctx.params.assessment_bucket or not ctx.params.assessment_role then
      error({ code = "args.invalid", retryable = false,
              message = "assessment needs assessment_bucket and assessment_role (or -p assessment=false)" })
    end
    local r = dms.start_assessment { task = id(ctx, "task"), bucket = ctx.params.assessment_bucket,
                                     role = ctx.params.assessment_role, region = R(ctx) }
    return { arn = r.arn, name = r.name, adopted = r.adopted }
  end,
}

wait "assessment-done" {
  every = params.poll, timeout = "2h",
  condition = function(ctx)
    if not ctx.params.assessment then return true, { skipped = true } end
    local r = dms.assessment_result { run = ctx.outputs.assessment.arn, region = R(ctx) }
    return r.done, { status = r.status, passed = r.passed, blocking = r.blocking }
  end,
}

gate "gate-1-infrastructure-ready" {
  check("source endpoint reachable from the replication instance", function(ctx)
    local ok, r = pcall(dms.test_connection, { instance = id(ctx, "ri"), endpoint = id(ctx, "source"),
                                               every = ctx.params.poll, region = R(ctx) })
    return ok, ok and r or tostring(r)
  end),
  check("target endpoint reachable from the replication instance", function(ctx)
    local ok, r = pcall(dms.test_connection, { instance = id(ctx, "ri"), endpoint = id(ctx, "target"),
                                               every = ctx.params.poll, region = R(ctx) })
    return ok, ok and r or tostring(r)
  end),
  check("pg_settings match", function(ctx)
    local names = split(ctx.params.pg_settings)
    local sql = "SELECT name, setting FROM pg_settings WHERE name = ANY(string_to_array($1, ','))"
    local list = table.concat(names, ",")
    local a = pg.query { conninfo = conn(ctx, "source"), sql = sql, params = { list } }
    local b = pg.query { conninfo = conn(ctx, "target"), sql = sql, params = { list } }
    local sv, tv, diff = {}, {}, {}
    for _, r in ipairs(a.rows) do sv[r.name] = r.setting end
    for _, r in ipairs(b.rows) do tv[r.name] = r.setting end
    for _, n in ipairs(names) do
      if sv[n] == nil or sv[n] ~= tv[n] then
        diff[#diff + 1] = { name = n, source = sv[n] or "(no such setting)", target = tv[n] or "(no such setting)" }
      end
    end
    return #diff == 0, { compared = #names, differ = json.array(diff) }
  end),
  check("premigration assessment passed", function(ctx)
    if not ctx.params.assessment then return true, { skipped = "assessment = false" } end
    local r = dms.assessment_result { run = ctx.outputs.assessment.arn, region = R(ctx) }
    return r.passed, { status = r.status, blocking = r.blocking, warnings = r.warnings }
  end),
  on_fail = "halt",
}

-- ---- Phase 2: replication and gate 2 ----------------------------------------------------------

phase "replication"

step "marker-table" {
  summary = "the table gate 2's compare_live writes on the source and waits for on the target",
  idempotent = true,
  run = function(ctx)
    local _, _, q = marker(ctx)
    local there = pg.query { conninfo = conn(ctx, "source"),
                             sql = "SELECT to_regclass($1) IS NOT NULL AS present", params = { q } }
    if there.rows[1] and there.rows[1].present == true then return { created = false } end
    pg.exec { conninfo = conn(ctx, "source"),
              sql = "CREATE TABLE IF NOT EXISTS " .. q .. " (id int PRIMARY KEY, n bigint NOT NULL)" }
    return { created = true }
  end,
  -- only a table this run created is dropped
  undo = function(ctx, out)
    if not (out and out.created) then return end
    local _, _, q = marker(ctx)
    return pg.exec { conninfo = conn(ctx, "source"), sql = "DROP TABLE IF EXISTS " .. q }
  end,
}

step "schema-pre-data" {
  summary = "schema first: tables without secondary indexes, foreign keys (pgdump pre-data)",
  timeout = "1h",
  run = function(ctx)
    local file = ctx.run.dir .. "/schema.dump"
    -- The whole database's schema (a dump of named schemas would also create them).
    dump.dump { conninfo = conn(ctx, "source"), file = file, content = "schema",
                no_owner = true, no_privileges = true }
    dump.restore { conninfo = conn(ctx, "target"), file = file, sections = { "pre-data" },
                   no_owner = true, no_privileges = true, exit_on_error = true }
    return { file = file }
  end,
}

step "start-task" {
  summary = "start the task (full load, then CDC)",
  run = function(ctx)
    local t = dms.start_task { task = id(ctx, "task"), type = "start-replication", region = R(ctx) }
    return { status = t.status, already = t.already }
  end,
  undo = function(ctx) dms.stop_task { task = id(ctx, "task"), region = R(ctx) } end,
}

wait "full-load-complete" {
  summary = "REPLICATION_STATE: FULL_LOAD_RUNNING -> FULL_LOAD_COMPLETE (stopped, cached changes applied)",
  every = params.poll, timeout = params.full_load_timeout,
  condition = function(ctx)
    local s, v = follow(ctx)
    return s.state == "FULL_LOAD_COMPLETE", v
  end,
}

step "post-data" {
  summary = "indexes, constraints, triggers after the full load (pgdump post-data)",
  timeout = "12h",
  run = function(ctx)
    dump.restore { conninfo = conn(ctx, "target"), file = ctx.outputs["schema-pre-data"].file,
                   sections = { "post-data" }, no_owner = true, no_privileges = true }
    return { restored = "post-data" }
  end,
}

step "resume-cdc" {
  summary = "resume the task: CDC",
  run = function(ctx)
    local t = dms.start_task { task = id(ctx, "task"), type = "resume-processing", region = R(ctx) }
    return { status = t.status, already = t.already }
  end,
}

wait "cdc-caught-up" {
  summary = "REPLICATION_STATE: CDC_ACTIVE -> CDC_CAUGHT_UP for cdc_stable_for",
  every = params.poll, timeout = "14d", stable_for = params.cdc_stable_for,
  condition = function(ctx)
    local s, v = follow(ctx)
    return s.state == "CDC_CAUGHT_UP", v
  end,
}

gate "gate-2-replication-stable" {
  check("all tables loaded", function(ctx)
    local st = dms.table_statistics { task = id(ctx, "task"), region = R(ctx) }
    return st.count > 0 and st.loaded == st.count, { count = st.count, loaded = st.loaded, loading = st.loading }
  end),
  check("row counts equal", function(ctx)
    local r = live(ctx, nil)
    local d = counts_differ(r)
    return #d == 0 and not r.truncated, { rows_source = r.rows_source, differing = d,
                                          truncated = r.truncated, live = r.live }
  end),
  check("checksums equal on the tables DMS validated", function(ctx)
    local st = dms.table_statistics { task = id(ctx, "task"), region = R(ctx) }
    local tables = {}
    for _, t in ipairs(st.tables) do
      if t.validation_state == "Validated" then tables[#tables + 1] = t.schema .. "." .. t.table end
    end
    if #tables == 0 then return false, { reason = "DMS validated no table" } end
    local r = live(ctx, tables)
    return r.equal, r
  end),
  check("CDC latency under the threshold", function(ctx)
    local l = dms.cdc_latency { task = id(ctx, "task"), region = R(ctx),
                                window = ctx.params.metric_window, period = ctx.params.metric_period }
    return l.has_data and l.source < ctx.params.caught_up_below and l.target < ctx.params.caught_up_below, l
  end),
  check("no table errored, no validation failure", function(ctx)
    local st = dms.table_statistics { task = id(ctx, "task"), region = R(ctx) }
    return st.ok, { errored = st.errored, validation_failed = st.validation_failed,
                    validation_suspended = st.validation_suspended }
  end),
  on_fail = "halt",
}

-- ---- Phase 3: staged cutover --------------------------------------------------------------

phase "cutover"

approve "start-cutover" {
  prompt = "Gate 2 passed: replication is stable. Start the staged cutover (reads 10% -> 50% -> 100% on Aurora, then writes)?",
}

local function stage(pct)
  step("reads-" .. pct) {
    summary = "reads " .. pct .. "% on Aurora (feature flag)",
    run = function(ctx)
      local f = http.flag_set { url = flag_url(ctx, "read_flag"), token = ctx.params.flag_token, value = pct }
      return { value = f.value, previous = f.previous, changed = f.changed }
    end,
    undo = function(ctx, out)
      http.flag_set { url = flag_url(ctx, "read_flag"), token = ctx.params.flag_token,
                      value = out.previous, expect = out.value }
    end,
  }
  wait("reads-" .. pct .. "-stable") {
    every = params.poll, stable_for = params.stage_soak, timeout = "14d",
    condition = function(ctx)
      local healthy, h = true, nil
      if ctx.params.app_health then
        h = http.health { url = ctx.params.app_health }
        healthy = h.ok
      end
      local s = follow(ctx)
      return healthy and s.state == "CDC_CAUGHT_UP", { state = s.state, app = h and h.reason or "not checked" }
    end,
  }
end
stage(10)
stage(50)
stage(100)

approve "writes-cutover" {
  prompt = "Reads are on Aurora and stable. Stop writes on the source, drain DMS, sync sequences, verify, and move writes to Aurora?",
}

step "source-read-only" {
  summary = "the fence: source writes stopped",
  run = function(ctx)
    pg.set_read_only { conninfo = conn(ctx, "source"), terminate = true, keep_roles = { ctx.params.source_user } }
    return { read_only = true }
  end,
  undo = function(ctx)
    pg.set_read_write { conninfo = conn(ctx, "source") }
  end,
}

wait "dms-drained" {
  summary = "the fence: DMS caught up (latency at most fence_latency_s, no incoming changes)",
  every = params.poll, timeout = "1h",
  condition = function(ctx)
    local l = dms.cdc_latency { task = id(ctx, "task"), region = R(ctx),
                                window = ctx.params.metric_window, period = ctx.params.metric_period }
    local f = ctx.params.fence_latency_s
    return l.has_data and l.source <= f and l.target <= f and (l.incoming_changes or 1) == 0, l
  end,
}

step "sync-sequences" {
  summary = "the fence: sequences (DMS does not migrate them)",
  run = function(ctx)
    return pg.sync_sequences { source = conn(ctx, "source"), target = conn(ctx, "target") }
  end,
}

gate "fence-verified" {
  check("final checksums equal", function(ctx)
    local r = sum.compare { source = conn(ctx, "source"), target = conn(ctx, "target"),
                            schemas = split(ctx.params.schemas), exclude = split(ctx.params.exclude_tables) }
    return r.equal, r
  end),
  check("sequences equal", function(ctx)
    local r = sum.sequences { source = conn(ctx, "source"), target = conn(ctx, "target") }
    return r.equal, r
  end),
  on_fail = "rollback",
}

step "writes-to-aurora" {
  summary = "the application switch: writes to Aurora",
  run = function(ctx)
    local f = http.flag_set { url = flag_url(ctx, "write_flag"), token = ctx.params.flag_token, value = "aurora" }
    return { value = f.value, previous = f.previous, changed = f.changed }
  end,
  undo = function(ctx, out)
    http.flag_set { url = flag_url(ctx, "write_flag"), token = ctx.params.flag_token,
                    value = out.previous, expect = out.value }
  end,
}

wait "writes-stable" {
  every = params.poll, stable_for = params.stage_soak, timeout = "14d",
  condition = function(ctx)
    if not ctx.params.app_health then return true, { app = "not checked" } end
    local h = http.health { url = ctx.params.app_health }
    return h.ok, { app = h.reason }
  end,
}

-- ---- Phase 4: decommission -------------------------------------------------------------------

phase "decommission"

approve "decommission" {
  prompt = "Writes are on Aurora. After the parallel run (seed 001: 90 days), approve the final validation and removing DMS.",
}

gate "final-validation" {
  check("checksums match", function(ctx)
    local r = sum.compare { source = conn(ctx, "source"), target = conn(ctx, "target"),
                            schemas = split(ctx.params.schemas), exclude = split(ctx.params.exclude_tables) }
    return r.equal, r
  end),
  check("no application connections on the source", function(ctx)
    local rows = pg.query { conninfo = conn(ctx, "source"),
      sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND application_name NOT LIKE 'pgmove/%'" }
    return rows.rows[1].n == 0, { connections = rows.rows[1].n }
  end),
  on_fail = "halt",
}

step "final-source-backup" {
  summary = "final snapshot of the source (RDS), or a pg_dump archive",
  timeout = "24h",
  run = function(ctx)
    if ctx.params.source_instance then
      local s = rds.create_snapshot { instance = ctx.params.source_instance, region = R(ctx),
        id = ctx.params.source_instance .. "-final-" .. ctx.run.id:lower():gsub("[^a-z0-9]+", "-"):gsub("-+$", "") }
      return { snapshot = s.id, status = s.status }
    end
    local file = ctx.params.backup_file or (ctx.run.dir .. "/source-final.dump")
    dump.dump { conninfo = conn(ctx, "source"), file = file }
    return { file = file }
  end,
}

wait "final-backup-available" {
  every = params.poll, timeout = "24h",
  condition = function(ctx)
    local o = ctx.outputs["final-source-backup"]
    if not o.snapshot then return true, o end
    local s = rds.describe_snapshot { id = o.snapshot, region = R(ctx) }
    return s.status == "available", { snapshot = s.id, status = s.status }
  end,
}

step "remove-dms" {
  summary = "stop the DMS task and remove the DMS resources (checklist 000 section 11)",
  irreversible = true, recovery = "final-source-backup",
  timeout = "2h",
  run = function(ctx)
    dms.stop_task { task = id(ctx, "task"), region = R(ctx) }
    if ctx.params.keep_dms then return { kept = true } end
    for _ = 1, 3600 do
      local t = dms.describe_task { task = id(ctx, "task"), region = R(ctx) }
      if t.status ~= "stopping" then break end
      ctx.sleep("1s")
    end
    dms.delete_task { task = id(ctx, "task"), region = R(ctx) }
    for _ = 1, 3600 do
      local ok = pcall(dms.describe_task, { task = id(ctx, "task"), region = R(ctx) })
      if not ok then break end
      ctx.sleep("1s")
    end
    dms.delete_endpoint { id = id(ctx, "source"), region = R(ctx) }
    dms.delete_endpoint { id = id(ctx, "target"), region = R(ctx) }
    dms.delete_instance { id = id(ctx, "ri"), region = R(ctx) }
    return { removed = { id(ctx, "task"), id(ctx, "source"), id(ctx, "target"), id(ctx, "ri") } }
  end,
}
