-- logical-cdc-cutover.lua - PostgreSQL (RDS / self-managed) -> Aurora
-- PostgreSQL (or any PostgreSQL 10+) with native logical replication, while
-- the application keeps writing: seed 001's zero-downtime plan.
--
--   assessment   logical.preflight: wal_level, slots, senders, workers,
--                privileges, tables without replica identity, large objects...
--   schema       pg_dump --schema-only restored on the target: pre-data, then
--                post-data (the apply of UPDATE / DELETE needs the target's
--                primary keys from the start, so indexes come before the copy)
--   replication  the target is made read-only for applications, then a
--                publication and a subscription with the initial copy; wait
--                until every table is ready and the lag stays under the
--                thresholds for stable_for; then, while the application still
--                writes, checksum.compare_live must find the two equal in every
--                compare for verify_live_for (seed 001 gate 2: counts and
--                checksums while CDC runs; a marker table is created on the
--                source for it and replicated like the others)
--   cutover      approval, then the fence: the source becomes read-only, its
--                sessions end, the target applies exactly up to the source's
--                last position, sequences are synced; a gate compares counts,
--                checksums and sequences of the frozen source and the target;
--                reverse replication (target -> source) is set up, then the
--                target accepts writes
--   rollback     `pgmove rollback RUN` during the window runs the same fence
--                the other way (writes made on the target reach the source),
--                then makes the source writable again
--   window       after the rollback window, an approval and the reverse
--                replication is dropped (no slot is left anywhere)
--
-- The application should connect with both servers and
-- target_session_attrs=read-write (or switch its endpoint when the run says
-- "switch"): the read-only switches then move it by themselves.
--
--   pgmove run scripts/runbooks/logical-cdc-cutover.lua --approve cutover
-- with PGMOVE_SOURCE and PGMOVE_TARGET set. A rehearsal with short windows:
--   -p stable_for=10s -p poll=2s -p rollback_window=0s

local pg = plugin "pg"
local pgdump = plugin "pgdump"
local sum = plugin "checksum"
local logical = plugin "logical"

local FWD = "pgmove_fwd" -- publication, subscription and slot, source -> target
local REV = "pgmove_rev" -- the same, target -> source, for the rollback window

runbook "logical-cdc-cutover" {
  summary = "Migrate a PostgreSQL database under live writes with native logical replication",
  params = {
    source = { type = "conninfo", env = "PGMOVE_SOURCE", secret = true, required = true,
               summary = "the database to migrate (needs wal_level=logical)" },
    target = { type = "conninfo", env = "PGMOVE_TARGET", secret = true, required = true,
               summary = "the empty database to migrate into" },
    source_from_target = { type = "conninfo", env = "PGMOVE_SOURCE_FROM_TARGET", secret = true,
               summary = "how the target reaches the source (default: source)" },
    target_from_source = { type = "conninfo", env = "PGMOVE_TARGET_FROM_SOURCE", secret = true,
               summary = "how the source reaches the target, for reverse replication (default: target)" },
    jobs = { type = "integer", default = 4, summary = "parallel jobs for restore and checksums" },
    workdir = { type = "string", summary = "where the schema dump goes (default: the run's directory)" },
    accept = { type = "string", default = "",
               summary = "comma-separated preflight checks to accept as warnings (e.g. large_objects)" },
    binary = { type = "boolean", default = false, summary = "binary transfer (14+ on both sides)" },
    streaming = { type = "boolean", default = false,
                  summary = "stream large transactions before they commit (14+)" },
    poll = { type = "duration", default = "10s", summary = "how often the waits look" },
    ready_timeout = { type = "duration", default = "24h", summary = "longest initial copy" },
    max_lag_bytes = { type = "integer", default = 16777216,
                      summary = "catch-up: lag in bytes of WAL at most this" },
    max_lag_seconds = { type = "number", default = 10, summary = "catch-up: lag in seconds at most this" },
    stable_for = { type = "duration", default = "1h",
                   summary = "catch-up: the lag stays under the thresholds this long" },
    catchup_timeout = { type = "duration", default = "7d", summary = "longest catch-up" },
    terminate_sessions = { type = "boolean", default = true,
                           summary = "the fence ends the source's sessions (else waits them out)" },
    fence_timeout = { type = "duration", default = "5m",
                      summary = "longest wait at the fence for sessions and the apply" },
    verify_live_for = { type = "duration", default = "1h",
                        summary = "before the fence: checksums under writes (compare_live) match this long (0s: not compared)" },
    verify_every = { type = "duration", default = "10m", summary = "how often compare_live runs in that wait" },
    verify_timeout = { type = "duration", default = "3d", summary = "longest wait for checksums that match under writes" },
    marker = { type = "string", default = "public.pgmove_marker",
               summary = "schema.table created on the source for compare_live (replicated like every table)" },
    verify_at_fence = { type = "boolean", default = true,
                        summary = "compare counts, checksums and sequences while writes are stopped" },
    rollback_window = { type = "duration", default = "90d",
                        summary = "how long reverse replication is kept before decommission" },
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

-- Seed 001 section 6.2: failures and a broken replication page, the team
-- channel hears everything (approvals: the cutover and the end of the
-- window), rollbacks and failures also go by mail. Nothing is sent until
-- configured.
notify {
  on = { "run.started", "run.failed", "step.failed", "gate.failed", "breaker.tripped",
         "wait.timeout", "rollback.started", "rollback.finished", "step.succeeded",
         "run.completed" },
  steps = { "fence", "switch", "decommission" }, -- milestones on the service's timeline
  pagerduty = params.pagerduty_key and { routing_key = params.pagerduty_key,
                                         source = "pgmove/logical-cdc-cutover",
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

local function dir(ctx) return ctx.params.workdir or (ctx.run.dir .. "/dump") end
local function schema_file(ctx) return dir(ctx) .. "/schema.dump" end

local function accepted(ctx, extra)
  local list = json.array {}
  for name in string.gmatch(ctx.params.accept or "", "[^,%s]+") do list[#list + 1] = name end
  for _, name in ipairs(extra or {}) do list[#list + 1] = name end
  return list
end

-- seconds("90d") - a duration param in seconds.
local UNIT = { ms = 0.001, s = 1, m = 60, h = 3600, d = 86400, w = 604800 }
local function seconds(text)
  local total = 0
  for n, u in string.gmatch(tostring(text), "(%d+%.?%d*)(%a*)") do
    total = total + tonumber(n) * (UNIT[u ~= "" and u or "s"] or 1)
  end
  return total
end

local function forward(ctx)
  return { publisher = ctx.params.source, subscriber = ctx.params.target, subscription = FWD }
end
local function reverse(ctx)
  return { publisher = ctx.params.target, subscriber = ctx.params.source, subscription = REV }
end

-- marker_sql - the marker table's quoted name; the param is checked, not quoted blindly.
local function marker_sql(ctx)
  local sch, tbl = string.match(ctx.params.marker, "^([%a_][%w_]*)%.([%a_][%w_]*)$")
  if not sch then
    error({ code = "args.invalid", retryable = false,
            message = "marker: " .. ctx.params.marker .. " is not schema.table (letters, digits, _)" })
  end
  return string.format('"%s"."%s"', sch, tbl)
end

local function live_verify(ctx) return seconds(ctx.params.verify_live_for) > 0 end

local function preflight(ctx, extra)
  return logical.preflight { publisher = ctx.params.source, subscriber = ctx.params.target,
                             accept = accepted(ctx, extra) }
end

------------------------------------------------------------------------------
phase "assessment"

step "preflight" {
  summary = "what would make logical replication fail or lose data (tables come with the schema)",
  run = function(ctx)
    local r = preflight(ctx, { "missing_on_target" })
    for _, w in ipairs(r.warnings) do ctx.log("warning: %s: %s", w.check, w.detail) end
    return r
  end,
}

gate "replication-possible" {
  summary = "no setting, privilege or table that breaks logical replication",
  check("preflight found no problem", function(ctx)
    local r = ctx.outputs.preflight
    return r.ok, { problems = r.problems }
  end),
  on_fail = "halt",
}

step "tools" {
  summary = "the pg_dump that will run is at least the source's version",
  run = function(ctx) return pgdump.check { conninfo = ctx.params.source } end,
}

------------------------------------------------------------------------------
phase "schema"

step "marker-table" {
  summary = "the table compare_live writes on the source and waits for on the target (when verify_live_for > 0)",
  idempotent = true,
  when = function(ctx) return live_verify(ctx) end,
  run = function(ctx)
    local q = marker_sql(ctx)
    local there = pg.query { conninfo = ctx.params.source,
                             sql = "SELECT to_regclass($1) IS NOT NULL AS present", params = { q } }
    if there.rows[1] and there.rows[1].present == true then return { created = false } end
    pg.exec { conninfo = ctx.params.source,
              sql = "CREATE TABLE IF NOT EXISTS " .. q .. " (id int PRIMARY KEY, n bigint NOT NULL)" }
    return { created = true }
  end,
  -- only a table this run created is dropped
  undo = function(ctx, out)
    if not (out and out.created) then return end
    return pg.exec { conninfo = ctx.params.source, sql = "DROP TABLE IF EXISTS " .. marker_sql(ctx) }
  end,
}

step "schema-dump" {
  summary = "pg_dump --schema-only (custom format)",
  run = function(ctx)
    return pgdump.dump { conninfo = ctx.params.source, file = schema_file(ctx),
                         content = "schema", format = "custom" }
  end,
}

step "schema-restore" {
  summary = "tables, types, functions, sequences (pre-data) in one transaction",
  idempotent = true,
  run = function(ctx)
    return pgdump.restore { conninfo = ctx.params.target, file = schema_file(ctx),
                            sections = { "pre-data" }, single_transaction = true,
                            exit_on_error = true, clean = true }
  end,
  undo = function(ctx, out)
    return pgdump.clean { conninfo = ctx.params.target, file = schema_file(ctx), mode = "objects" }
  end,
}

step "post-data" {
  summary = "primary keys, indexes, constraints before the copy: the apply needs the keys",
  idempotent = true,
  run = function(ctx)
    return pgdump.restore { conninfo = ctx.params.target, file = schema_file(ctx),
                            sections = { "post-data" }, jobs = ctx.params.jobs,
                            exit_on_error = true, clean = true }
  end,
}

gate "ready-to-replicate" {
  summary = "the whole preflight again, now that the target has the schema",
  check("preflight found no problem", function(ctx)
    local r = preflight(ctx)
    return r.ok, { problems = r.problems }
  end),
  check("the target has every object of the source", function(ctx)
    local r = sum.inventory { source = ctx.params.source, target = ctx.params.target }
    return r.equal, r
  end),
  on_fail = "halt",
}

------------------------------------------------------------------------------
phase "replication"

step "target-read-only" {
  summary = "applications cannot write to the target until cutover (the apply can)",
  run = function(ctx) return pg.set_read_only { conninfo = ctx.params.target } end,
  undo = function(ctx) return pg.set_read_write { conninfo = ctx.params.target } end,
}

step "publication" {
  summary = "publication of all tables on the source",
  run = function(ctx)
    return logical.create_publication { conninfo = ctx.params.source, name = FWD }
  end,
  undo = function(ctx)
    return logical.drop { publisher = ctx.params.source, publication = FWD }
  end,
}

step "subscription" {
  summary = "subscription on the target with the initial copy; its slot on the source",
  run = function(ctx)
    return logical.create_subscription {
      subscriber = ctx.params.target, publisher = ctx.params.source,
      connect = ctx.params.source_from_target, name = FWD, publication = FWD,
      copy_data = true, binary = ctx.params.binary, streaming = ctx.params.streaming }
  end,
  -- the source never keeps a slot (and its WAL) after a rollback
  undo = function(ctx)
    return logical.drop { subscriber = ctx.params.target, publisher = ctx.params.source,
                          subscription = FWD }
  end,
}

breaker "replication-broken" {
  summary = "the subscription stopped (no worker, slot lost, disabled): page and pause",
  during = { "tables-ready", "caught-up" },
  condition = function(ctx)
    local s = logical.status(forward(ctx))
    return not s.healthy, { problems = s.problems }
  end,
  sustained = "1m",
  action = "pause",
}

wait "tables-ready" {
  summary = "initial copy: every table of the subscription is ready",
  every = params.poll, timeout = params.ready_timeout,
  condition = function(ctx)
    local s = logical.status(forward(ctx))
    return s.all_ready, { ready = s.tables_ready, total = s.tables_total, copy = s.copy,
                          lag_bytes = s.lag_bytes }
  end,
}

wait "caught-up" {
  summary = "seed 001: lag under the thresholds, stable for a period",
  every = params.poll, stable_for = params.stable_for, timeout = params.catchup_timeout,
  condition = function(ctx)
    local s = logical.status(forward(ctx))
    local ok = s.healthy and s.lag_bytes <= ctx.params.max_lag_bytes
               and s.lag_seconds >= 0 and s.lag_seconds <= ctx.params.max_lag_seconds
    return ok, { lag_bytes = s.lag_bytes, lag_seconds = s.lag_seconds,
                 retained_bytes = s.slot.retained_bytes }
  end,
}

wait "checksums-match-live" {
  summary = "seed 001 gate 2 while CDC runs: compare_live finds source and target equal in every compare for verify_live_for",
  every = params.verify_every, stable_for = params.verify_live_for, timeout = params.verify_timeout,
  condition = function(ctx)
    if not live_verify(ctx) then return true, { skipped = true } end
    local r = sum.compare_live { source = ctx.params.source, target = ctx.params.target,
                                 marker = ctx.params.marker, jobs = ctx.params.jobs }
    return r.equal, { differences = r.differences, rows_source = r.rows_source,
                      rechecked = r.live.rechecked, in_flight = r.live.in_flight,
                      unsettled = r.live.unsettled, lock_held_ms = r.live.lock.held_ms_max,
                      mismatches = r.mismatches }
  end,
}

step "analyze" {
  summary = "planner statistics on the target before it takes traffic",
  run = function(ctx) return pg.analyze { conninfo = ctx.params.target } end,
}

------------------------------------------------------------------------------
phase "cutover"

approve "cutover" {
  prompt = "Stop writes on the source, wait for the target to apply everything, and switch?",
}

step "fence" {
  summary = "source read-only, sessions ended, target applied exactly up to the source's LSN, sequences synced",
  run = function(ctx)
    local f = forward(ctx)
    f.terminate = ctx.params.terminate_sessions
    f.timeout = ctx.params.fence_timeout
    return logical.fence(f)
  end,
  -- before the switch, a rollback gives the writes back to the source
  undo = function(ctx) return pg.set_read_write { conninfo = ctx.params.source } end,
}

gate "verified-at-fence" {
  summary = "source frozen, target applied up to its last position: they must be equal",
  check("row counts match", function(ctx)
    if not ctx.params.verify_at_fence then return true, { skipped = true } end
    local r = sum.compare { source = ctx.params.source, target = ctx.params.target,
                            counts_only = true, jobs = ctx.params.jobs }
    return r.equal, { rows_source = r.rows_source, rows_target = r.rows_target,
                      mismatches = r.mismatches }
  end),
  check("content checksums match", function(ctx)
    if not ctx.params.verify_at_fence then return true, { skipped = true } end
    local r = sum.compare { source = ctx.params.source, target = ctx.params.target,
                            jobs = ctx.params.jobs }
    return r.equal, { rows_source = r.rows_source, mismatches = r.mismatches }
  end),
  check("no DDL slipped in: the target has every object of the source", function(ctx)
    local r = sum.inventory { source = ctx.params.source, target = ctx.params.target }
    return r.equal, r
  end),
  check("target sequences at least the source's", function(ctx)
    local r = sum.sequences { source = ctx.params.source, target = ctx.params.target,
                              target_ahead_ok = true }
    return r.equal, r
  end),
  on_fail = "halt",
}

step "reverse" {
  summary = "rollback window: forward replication dropped (no slot left on the source), target -> source set up",
  run = function(ctx)
    local dropped = logical.drop { subscriber = ctx.params.target, publisher = ctx.params.source,
                                   subscription = FWD, publication = FWD }
    local p = logical.create_publication { conninfo = ctx.params.target, name = REV }
    local s = logical.create_subscription {
      subscriber = ctx.params.source, publisher = ctx.params.target,
      connect = ctx.params.target_from_source, name = REV, publication = REV, copy_data = false }
    return { forward_dropped = dropped, publication = p, subscription = s }
  end,
  undo = function(ctx)
    return logical.drop { subscriber = ctx.params.source, publisher = ctx.params.target,
                          subscription = REV, publication = REV }
  end,
}

step "switch" {
  summary = "the target accepts writes: the application moves to it",
  run = function(ctx)
    local r = pg.set_read_write { conninfo = ctx.params.target }
    r.at = os.time()
    return r
  end,
  -- the rollback path: the same fence the other way, then the source writable
  undo = function(ctx)
    local f = reverse(ctx)
    f.terminate = ctx.params.terminate_sessions
    f.timeout = ctx.params.fence_timeout
    local fenced = logical.fence(f)
    pg.set_read_write { conninfo = ctx.params.source }
    return fenced
  end,
}

------------------------------------------------------------------------------
phase "rollback-window"

approve "end-rollback-window" {
  prompt = "The rollback window is over: stop reverse replication (no rollback after this)?",
}

step "decommission" {
  summary = "after the window: reverse subscription, its slot on the target and the publication dropped",
  run = function(ctx)
    local left = seconds(ctx.params.rollback_window) - (os.time() - ctx.outputs.switch.at)
    if left > 0 then
      error(string.format("the rollback window (%s) has %d s left; resume after it",
                          ctx.params.rollback_window, math.ceil(left)))
    end
    return logical.drop { subscriber = ctx.params.source, publisher = ctx.params.target,
                          subscription = REV, publication = REV }
  end,
}
