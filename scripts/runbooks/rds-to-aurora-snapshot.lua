-- rds-to-aurora-snapshot.lua - RDS PostgreSQL -> Aurora PostgreSQL Serverless v2 by
-- snapshot restore: the "Snapshot Migration" option of the Aurora migration plan
-- (seed 004), with the monitoring of checklist 000 section 12.
--
--   stop writes (approval) -> final snapshot of the RDS instance -> wait until it is
--   available -> restore an Aurora cluster from it (Serverless v2 capacity range) ->
--   add a db.serverless writer -> wait until cluster and writer are available ->
--   CloudWatch alarms (connections > 25, capacity > 80 %, replica lag > 5 s, failed
--   connection attempts, counted by a CloudWatch Logs metric filter on the
--   cluster's PostgreSQL log, which the restore publishes) -> wait until every alarm
--   has been evaluated once -> gate: row counts and checksums, sequences, schema
--   inventory between the old and the new endpoint, the metric filter in place, every
--   alarm evaluated and none firing -> approval ->
--   decommission the RDS instance (irreversible; its recovery is the final snapshot,
--   and AWS takes one more final snapshot as it deletes).
--
-- Endpoints come from AWS (DescribeDBInstances / DescribeDBClusters); the database
-- credentials from the params (the restored cluster keeps the instance's master
-- user and password). Example:
--   PGMOVE_DB_PASSWORD=... pgmove run scripts/runbooks/rds-to-aurora-snapshot.lua \
--       -p instance=mindmeasure-db -p cluster=mindmeasure-aurora -p region=eu-west-2 \
--       -p db_name=mindmeasure -p db_user=mindmeasure_admin \
--       --approve writes-stopped
local rds = plugin "rds_snapshot"
local cw  = plugin "cloudwatch"
local sum = plugin "checksum"

runbook "rds-to-aurora-snapshot" {
  summary = "RDS PostgreSQL -> Aurora PostgreSQL Serverless v2 by snapshot restore (seed 004)",
  params = {
    instance        = { type = "string", required = true, summary = "the RDS PostgreSQL instance to migrate" },
    cluster         = { type = "string", required = true, summary = "identifier of the new Aurora cluster" },
    writer          = { type = "string", summary = "identifier of its writer instance (default CLUSTER-writer)" },
    region          = { type = "string", env = "AWS_REGION", summary = "AWS region" },
    engine_version  = { type = "string", default = "15.4", summary = "Aurora PostgreSQL version" },
    min_capacity    = { type = "number", default = 0.5, summary = "Serverless v2 minimum ACUs" },
    max_capacity    = { type = "number", default = 16, summary = "Serverless v2 maximum ACUs" },
    subnet_group    = { type = "string", summary = "DB subnet group of the cluster" },
    security_groups = { type = "string", summary = "VPC security group ids, comma-separated" },
    db_name         = { type = "string", required = true, summary = "database to verify" },
    db_user         = { type = "string", required = true, summary = "database user (the master user)" },
    db_password     = { type = "string", env = "PGMOVE_DB_PASSWORD", secret = true, required = true,
                        summary = "its password" },
    sslmode         = { type = "string", default = "prefer", summary = "libpq sslmode for the checks" },
    alarm_topic     = { type = "string", summary = "SNS topic ARN the alarms notify" },
    poll            = { type = "duration", default = "30s", summary = "how often waits ask AWS" },
    login_failures_namespace = { type = "string", default = "LogMetrics/PostgreSQL",
                        summary = "namespace prefix of the FailedConnectionAttempts metric (NAMESPACE/CLUSTER), which the runbook's CloudWatch Logs metric filter on \"password authentication failed\" publishes" },
    alarm_wait      = { type = "duration", default = "15m", summary = "how long to wait for the alarms' first evaluation" },
    -- notifications (doc/pgmove-runbook.5, notify): each target is off until its params are set
    pagerduty_key = { type = "string", env = "PGMOVE_PAGERDUTY_KEY", secret = true,
                      summary = "PagerDuty Events API v2 integration key: failures page (off when unset)" },
    slack_webhook = { type = "string", env = "PGMOVE_SLACK_WEBHOOK", secret = true,
                      summary = "Slack incoming-webhook URL for the run's events (off when unset)" },
    notify_mail_to = { type = "string", env = "PGMOVE_NOTIFY_MAIL_TO",
                       summary = "who gets mail on failures and rollbacks (off when unset)" },
    smtp_url = { type = "string", env = "PGMOVE_SMTP_URL", summary = "smtp://relay:587 for that mail" },
    smtp_user = { type = "string", env = "PGMOVE_SMTP_USER", summary = "SMTP AUTH user" },
    smtp_password = { type = "string", env = "PGMOVE_SMTP_PASSWORD", secret = true,
                      summary = "SMTP AUTH password" },
    mail_from = { type = "string", default = "pgmove@localhost", summary = "the mail's sender" },
  },
  on_failure = "halt",
}

-- Seed 001 section 6.2: failures page, the team channel hears everything,
-- rollbacks and failures also go by mail. Nothing is sent until configured.
notify {
  on = { "run.started", "run.failed", "step.failed", "gate.failed", "breaker.tripped",
         "wait.timeout", "rollback.started", "rollback.finished", "step.succeeded",
         "run.completed" },
  steps = { "final-snapshot", "add-writer", "decommission-rds" }, -- milestones on the service's timeline
  pagerduty = params.pagerduty_key and { routing_key = params.pagerduty_key,
                                         source = "pgmove/rds-to-aurora-snapshot", component = "database-migration" },
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

-- libpq keyword/value quoting: 'value' with \ and ' escaped.
local function q(v)
  return "'" .. tostring(v):gsub("\\", "\\\\"):gsub("'", "\\'") .. "'"
end

local function conninfo(ctx, host, port)
  return string.format("host=%s port=%d dbname=%s user=%s password=%s sslmode=%s",
    q(host), math.tointeger(port) or 5432, q(ctx.params.db_name), q(ctx.params.db_user),
    q(ctx.params.db_password), q(ctx.params.sslmode))
end

local function writer_id(ctx)
  return ctx.params.writer or (ctx.params.cluster .. "-writer")
end

local function split(s)
  local out = {}
  for item in (s or ""):gmatch("[^,%s]+") do out[#out + 1] = item end
  return out
end

-- The metric filter that counts failed logins in the cluster's PostgreSQL log (which
-- the restore publishes to CloudWatch Logs): a metric without dimensions, so its
-- namespace names the cluster.
local function login_filter(ctx)
  local c = ctx.params.cluster
  return { log_group = "/aws/rds/cluster/" .. c .. "/postgresql", name = c .. "-failed-connections",
           pattern = '"password authentication failed"',
           namespace = ctx.params.login_failures_namespace .. "/" .. c,
           metric = "FailedConnectionAttempts", value = "1", default_value = 0 }
end

-- The alarms of checklist 000, section 12 ("Set up alerting thresholds").
local function alarm_specs(ctx)
  local c = ctx.params.cluster
  local dims = { DBClusterIdentifier = c }
  local lf = login_filter(ctx)
  return {
    { name = c .. "-connections-over-25", namespace = "AWS/RDS", metric = "DatabaseConnections",
      dimensions = dims, stat = "Maximum", comparison = ">", threshold = 25,
      description = "Connection count > 25 (checklist 000 section 12)" },
    { name = c .. "-capacity-over-80pct", namespace = "AWS/RDS", metric = "ACUUtilization",
      dimensions = dims, stat = "Average", comparison = ">", threshold = 80,
      evaluation_periods = 5, datapoints_to_alarm = 3,
      description = "Capacity usage > 80% of max ACUs (checklist 000 section 12)" },
    { name = c .. "-replica-lag-over-5s", namespace = "AWS/RDS", metric = "AuroraReplicaLagMaximum",
      dimensions = dims, stat = "Maximum", comparison = ">", threshold = 5000, unit = "Milliseconds",
      description = "Replication lag > 5 seconds (checklist 000 section 12)" },
    { name = c .. "-failed-connections", namespace = lf.namespace, metric = lf.metric,
      stat = "Sum", comparison = ">", threshold = 0,
      description = "Failed connection attempts, from the metric filter " .. lf.name ..
        " on " .. lf.log_group .. " (checklist 000 section 12)" },
  }
end

local function alarm_names(ctx)
  local names = {}
  for i, a in ipairs(alarm_specs(ctx)) do names[i] = a.name end
  return names
end

phase "pre-migration"

step "source-instance" {
  summary = "describe the RDS instance: engine, status, endpoint",
  run = function(ctx)
    local i = rds.describe_instance { id = ctx.params.instance, region = ctx.params.region }
    if i.engine ~= "postgres" then
      error(string.format("instance %s runs %s, not postgres", i.id, tostring(i.engine)))
    end
    if i.status ~= "available" then
      error(string.format("instance %s is %s, not available", i.id, tostring(i.status)))
    end
    return { id = i.id, endpoint = i.endpoint, port = i.port, engine_version = i.engine_version,
             arn = i.arn, class = i["class"] }
  end,
}

approve "writes-stopped" {
  prompt = "Stop application writes to the RDS instance now: the final snapshot is taken next, and anything written after it is not migrated. Writes stopped?",
}

step "final-snapshot" {
  summary = "final snapshot of the RDS instance (the recovery point of the decommission)",
  retry = { attempts = 3, delay = "30s", backoff = 2 },
  timeout = "15m",
  run = function(ctx)
    local s = rds.create_snapshot {
      instance = ctx.params.instance, region = ctx.params.region,
      id = ctx.params.instance .. "-pre-aurora-" .. ctx.run.id:lower():gsub("[^a-z0-9]+", "-"):gsub("-+$", ""),
      tags = { ["pgmove:run"] = ctx.run.id, ["pgmove:runbook"] = "rds-to-aurora-snapshot" },
    }
    return { id = s.id, arn = s.arn, status = s.status, adopted = s.adopted }
  end,
  -- No undo: a snapshot is a backup; rolling back keeps it.
}

wait "snapshot-available" {
  every = params.poll, timeout = "3h",
  condition = function(ctx)
    local s = rds.describe_snapshot { id = ctx.outputs["final-snapshot"].id, region = ctx.params.region }
    ctx.log(string.format("snapshot %s: %s, %d%%", s.id, s.status, s.progress or 0))
    return s.status == "available", { id = s.id, status = s.status, progress = s.progress }
  end,
}

phase "migration"

step "restore-cluster" {
  summary = "restore the Aurora PostgreSQL cluster from the final snapshot",
  timeout = "15m",
  run = function(ctx)
    local c = rds.restore_cluster {
      -- RestoreDBClusterFromSnapshot takes a DB snapshot only by its ARN
      id = ctx.params.cluster, snapshot = ctx.outputs["final-snapshot"].arn or ctx.outputs["final-snapshot"].id,
      engine = "aurora-postgresql", engine_version = ctx.params.engine_version,
      min_capacity = ctx.params.min_capacity, max_capacity = ctx.params.max_capacity,
      subnet_group = ctx.params.subnet_group,
      security_groups = ctx.params.security_groups and split(ctx.params.security_groups) or nil,
      region = ctx.params.region,
      log_exports = { "postgresql" },  -- the failed-connections metric filter reads it
      tags = { ["pgmove:run"] = ctx.run.id },
    }
    return { id = c.id, status = c.status, adopted = c.adopted, serverless = c.serverless }
  end,
  undo = function(ctx, out)
    rds.delete_cluster { id = out.id, skip_final_snapshot = true, region = ctx.params.region }
  end,
}

step "add-writer" {
  summary = "add a db.serverless writer instance to the cluster",
  timeout = "15m",
  run = function(ctx)
    local i = rds.add_instance { cluster = ctx.params.cluster, id = writer_id(ctx),
                                 class = "db.serverless", region = ctx.params.region }
    return { id = i.id, class = i["class"], status = i.status, adopted = i.adopted }
  end,
  undo = function(ctx, out)
    rds.delete_instance { id = out.id, skip_final_snapshot = true, region = ctx.params.region }
  end,
}

wait "aurora-available" {
  every = params.poll, timeout = "2h",
  condition = function(ctx)
    local c = rds.describe_cluster { id = ctx.params.cluster, region = ctx.params.region }
    local w = rds.describe_instance { id = writer_id(ctx), region = ctx.params.region }
    ctx.log(string.format("cluster %s: %s; writer %s: %s", c.id, c.status, w.id, w.status))
    return c.status == "available" and w.status == "available",
      { cluster = c.id, status = c.status, writer_status = w.status, endpoint = c.endpoint,
        reader_endpoint = c.reader_endpoint, port = c.port, engine_version = c.engine_version,
        serverless = c.serverless }
  end,
}

step "alarms" {
  summary = "CloudWatch alarms of checklist 000 section 12, and the log metric filter one needs",
  run = function(ctx)
    local f = login_filter(ctx)
    f.region = ctx.params.region
    f.create_log_group = true  -- RDS creates it with the first log line; making it first is allowed
    cw.put_metric_filter(f)
    local made = {}
    for _, a in ipairs(alarm_specs(ctx)) do
      a.period = "1m"
      a.treat_missing_data = "notBreaching"
      a.region = ctx.params.region
      if ctx.params.alarm_topic then a.actions = { ctx.params.alarm_topic } end
      made[#made + 1] = cw.put_alarm(a).name
    end
    return { alarms = made, metric_filter = f.name, log_group = f.log_group }
  end,
  undo = function(ctx, out)
    cw.delete_alarms { names = out.alarms, region = ctx.params.region }
    if out.metric_filter then
      cw.delete_metric_filter { log_group = out.log_group, name = out.metric_filter,
                                region = ctx.params.region }
    end
  end,
}

-- A new alarm is INSUFFICIENT_DATA until CloudWatch first evaluates it (about a
-- period later): a gate that read it at once would check nothing.
wait "alarms-evaluated" {
  every = params.poll, timeout = params.alarm_wait,
  condition = function(ctx)
    local r = cw.alarm_state { names = alarm_names(ctx), insufficient_ok = false,
                               region = ctx.params.region }
    local waiting = #r.insufficient_data + #r.unevaluated
    ctx.log(string.format("alarms: %d of %d not evaluated yet", waiting, #alarm_names(ctx)))
    return #r.insufficient_data == 0 and #r.unevaluated == 0 and #r.missing == 0,
      { states = r.states }
  end,
}

phase "verification"

gate "aurora-verified" {
  check("row counts and checksums match", function(ctx)
    local src = ctx.outputs["source-instance"]
    local dst = ctx.outputs["aurora-available"]
    local r = sum.compare { source = conninfo(ctx, src.endpoint, src.port),
                            target = conninfo(ctx, dst.endpoint, dst.port) }
    return r.equal, r
  end),
  check("sequences match", function(ctx)
    local src = ctx.outputs["source-instance"]
    local dst = ctx.outputs["aurora-available"]
    local r = sum.sequences { source = conninfo(ctx, src.endpoint, src.port),
                              target = conninfo(ctx, dst.endpoint, dst.port) }
    return r.equal, r
  end),
  check("schema inventory equal", function(ctx)
    local src = ctx.outputs["source-instance"]
    local dst = ctx.outputs["aurora-available"]
    local r = sum.inventory { source = conninfo(ctx, src.endpoint, src.port),
                              target = conninfo(ctx, dst.endpoint, dst.port) }
    return r.equal, r
  end),
  check("failed-connections metric filter in place", function(ctx)
    local f = login_filter(ctx)
    local r = cw.describe_metric_filters { log_group = f.log_group, prefix = f.name,
                                           region = ctx.params.region }
    local ok = false
    for _, x in ipairs(r.filters) do
      if x.name == f.name and x.metric == f.metric and x.namespace == f.namespace then ok = true end
    end
    return ok, { log_group = f.log_group, filters = r.filters }
  end),
  check("every alarm evaluated, none firing", function(ctx)
    local r = cw.alarm_state { names = alarm_names(ctx), insufficient_ok = false,
                               region = ctx.params.region }
    return r.ok, { in_alarm = r.in_alarm, missing = r.missing, unevaluated = r.unevaluated,
                   insufficient_data = r.insufficient_data, states = r.states }
  end),
  on_fail = "halt",
}

phase "decommission"

approve "decommission" {
  prompt = "Aurora is verified. Switch the application to the cluster endpoint, watch it (seed 004 keeps the old RDS for 24h), then approve deleting the old RDS instance. A final snapshot is taken as it is deleted.",
}

step "decommission-rds" {
  summary = "delete the old RDS instance, with a final snapshot",
  irreversible = true, recovery = "final-snapshot",
  run = function(ctx)
    local id = ctx.params.instance .. "-decommission-" .. ctx.run.id:lower():gsub("[^a-z0-9]+", "-"):gsub("-+$", "")
    local i = rds.delete_instance { id = ctx.params.instance, final_snapshot = id,
                                    region = ctx.params.region }
    return { id = i.id, status = i.status, final_snapshot = id }
  end,
}

wait "rds-deleted" {
  every = params.poll, timeout = "2h",
  condition = function(ctx)
    local ok, err = pcall(rds.describe_instance, { id = ctx.params.instance, region = ctx.params.region })
    if ok then return false, { status = err.status } end
    if type(err) == "table" and tostring(err.code):match("%.DBInstanceNotFound$") then
      local s = rds.describe_snapshot { id = ctx.outputs["decommission-rds"].final_snapshot,
                                        region = ctx.params.region }
      return s.status == "available", { instance = "deleted", final_snapshot = s.id, snapshot_status = s.status }
    end
    error(err)
  end,
}
