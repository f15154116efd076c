-- pg-copy.lua - PostgreSQL -> Aurora PostgreSQL (or any PostgreSQL) with
-- the copy plugin: the same phases and gates as pg-dump-restore.lua, but the
-- data goes straight from the source to the target with COPY on `jobs`
-- connections (no dump files), verified chunk by chunk as it is copied.
--
--   assessment  what the source uses; pg_dump new enough; target empty
--   schema      schema-only dump; pre-data restored in one transaction;
--               tables and columns verified
--   freeze      an approval, then the source is made read-only (writes stop)
--   data        copy.data: the schema dumped again in the data's snapshot (its
--               pre-data must be the one restored: else it stops), then
--               each chunk counted and hashed on both sides,
--               resumable per chunk; each table's indexes and constraints
--               built and the table analyzed as soon as its data is in,
--               in parallel with other tables' copies; foreign keys at
--               the end; sequences set. Then the rest of post-data
--               (triggers, rules, ...) without what copy.data built
--   validation  a gate: row counts, content checksums (copy.data's per-chunk
--               verification, or an independent pass with
--               independent_checksums = true), inventory, sequences
--
-- Rollback undoes newest first: the copied rows (the tables are emptied),
-- the restored objects, and the source's read-only switch.
--
--   pgmove run scripts/runbooks/pg-copy.lua --approve freeze-source
-- with PGMOVE_SOURCE and PGMOVE_TARGET set (scripts/pgmove-sandbox env).

local pg = plugin "pg"
local pgdump = plugin "pgdump"
local copy = plugin "copy"
local sum = plugin "checksum"

runbook "pg-copy" {
  summary = "Migrate a PostgreSQL database: schema by pg_dump, data by parallel verified COPY",
  params = {
    source = { type = "conninfo", env = "PGMOVE_SOURCE", secret = true, required = true,
               summary = "the database to migrate (RDS / self-managed PostgreSQL)" },
    target = { type = "conninfo", env = "PGMOVE_TARGET", secret = true, required = true,
               summary = "the empty database to migrate into (Aurora PostgreSQL)" },
    jobs = { type = "integer", default = 4,
             summary = "connections to each server for the copy, post-data and checksums" },
    index_jobs = { type = "integer",
                   summary = "connections to each server that verify tables and build indexes "
                          .. "while the copy goes on (default: jobs)" },
    index_workers = { type = "integer", default = 0,
                      summary = "parallel workers of the target helping each index build "
                             .. "(max_parallel_maintenance_workers)" },
    chunk_rows = { type = "integer", default = 100000,
                   summary = "rows per copy chunk of a split table (the unit of resume)" },
    split_larger_than = { type = "string", default = "4GB",
                          summary = "split tables larger than this (or than twice their share "
                                 .. "of the data) into chunks; others go whole by COPY FREEZE; "
                                 .. "0: split every table" },
    maintenance_work_mem = { type = "string", default = "1GB",
                             summary = "maintenance_work_mem of each index build (index_jobs run at once)" },
    independent_checksums = { type = "boolean", default = false,
                              summary = "the gate hashes every table again instead of relying on "
                                     .. "the copy's per-chunk verification" },
    workdir = { type = "string",
                summary = "where the schema dump goes (default: the run's directory)" },
    terminate_sessions = { type = "boolean", default = false,
                           summary = "end the source's sessions when making it read-only" },
    allow_non_empty_target = { type = "boolean", default = false,
                               summary = "skip the check that the target has no tables" },
    rollback_on_failure = { type = "boolean", default = false,
                            summary = "roll back instead of halting when a step fails" },
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
  on_failure = function(ctx, err)
    if ctx.params.rollback_on_failure then return "rollback" end
    return "halt"
  end,
}

-- Seed 001 section 6.2: failures page, the team channel hears everything,
-- rollbacks and failures also go by mail. Nothing is sent until configured.
notify {
  on = { "run.started", "run.failed", "step.failed", "gate.failed", "breaker.tripped",
         "wait.timeout", "rollback.started", "rollback.finished", "step.succeeded",
         "run.completed" },
  steps = { "source-read-only", "copy" }, -- milestones on the service's timeline
  pagerduty = params.pagerduty_key and { routing_key = params.pagerduty_key,
                                         source = "pgmove/pg-copy", component = "database-migration" },
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

local function dir(ctx)
  return ctx.params.workdir or (ctx.run.dir .. "/dump")
end
local function schema_file(ctx) return dir(ctx) .. "/schema.dump" end
-- the schema dumped again by copy.data in the data's snapshot (for post-data)
local function snapshot_schema_file(ctx) return dir(ctx) .. "/schema-snapshot.dump" end

-- Tables in user schemas (for the "target is empty" check).
local USER_TABLES = [[
  SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_%']]

------------------------------------------------------------------------------
phase "assessment"

step "assess" {
  summary = "checklist 000 section 3: versions, size, extensions, C functions, tables without keys",
  run = function(ctx)
    local a = pg.assess { conninfo = ctx.params.source }
    for _, w in ipairs(a.warnings) do ctx.log("source: " .. w) end
    return {
      server = a.server,
      extensions = a.extensions,
      c_functions = a.c_functions,
      tables_without_primary_key = a.tables_without_primary_key,
      large_objects = a.large_objects,
      replication = a.replication,
      warnings = a.warnings,
    }
  end,
}

step "tools" {
  summary = "the pg_dump that will run is at least the source's version",
  run = function(ctx) return pgdump.check { conninfo = ctx.params.source } end,
}

gate "ready-to-migrate" {
  summary = "nothing that pg_dump/pg_restore into Aurora cannot carry",
  check("no C-language functions outside extensions", function(ctx)
    local fns = ctx.outputs.assess.c_functions
    return #fns == 0, { c_functions = fns }
  end),
  check("target has no tables", function(ctx)
    if ctx.params.allow_non_empty_target then return true, { skipped = true } end
    local r = pg.query { conninfo = ctx.params.target, sql = USER_TABLES }
    return r.rows[1].n == 0, { tables = r.rows[1].n }
  end),
  on_fail = "halt",
}

------------------------------------------------------------------------------
phase "schema"

step "schema-dump" {
  summary = "checklist 000 section 5: pg_dump --schema-only (custom format)",
  run = function(ctx)
    return pgdump.dump { conninfo = ctx.params.source, file = schema_file(ctx),
                         content = "schema", format = "custom" }
  end,
}

step "schema-restore" {
  summary = "tables, types, functions, sequences (pre-data) in one transaction",
  -- clean = true drops what a previous attempt created, so a re-run is safe
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

gate "schema-verified" {
  summary = "checklist 000: verify all objects created successfully (before indexes exist)",
  check("tables, columns, types and functions exist on the target", function(ctx)
    local r = sum.inventory { source = ctx.params.source, target = ctx.params.target,
                              ignore = { "index", "constraint", "trigger" } }
    return r.equal, r
  end),
  on_fail = "halt",
}

------------------------------------------------------------------------------
phase "freeze"

approve "freeze-source" {
  prompt = "Stop application writes: make the source read-only and copy the data?",
}

step "source-read-only" {
  summary = "checklist 000 section 8: stop application writes to the source",
  run = function(ctx)
    return pg.set_read_only { conninfo = ctx.params.source,
                              terminate = ctx.params.terminate_sessions }
  end,
  undo = function(ctx, out)
    return pg.set_read_write { conninfo = ctx.params.source }
  end,
}

------------------------------------------------------------------------------
phase "data"

step "copy" {
  summary = "table data streamed source -> target with COPY on jobs connections, each chunk "
         .. "counted and hashed on both sides; resumes per chunk after a crash; each table's "
         .. "indexes, constraints and ANALYZE (checklist 000 section 10) as soon as its data "
         .. "is in; foreign keys; sequences set",
  -- chunks committed are skipped on a re-run (checkpoints), a chunk in flight is redone
  idempotent = true,
  timeout = "12h",
  run = function(ctx)
    return copy.data { source = ctx.params.source, target = ctx.params.target,
                       jobs = ctx.params.jobs, index_jobs = ctx.params.index_jobs,
                       chunk_rows = ctx.params.chunk_rows, indexes = true, analyze = true,
                       split_larger_than = ctx.params.split_larger_than,
                       maintenance_work_mem = ctx.params.maintenance_work_mem,
                       index_workers = ctx.params.index_workers,
                       schema_file = snapshot_schema_file(ctx), schema_check = schema_file(ctx) }
  end,
  undo = function(ctx, out)
    -- one statement: tables that reference each other are emptied together
    local names = {}
    for _, t in ipairs(out.tables) do names[#names + 1] = t.qname end
    if #names == 0 then return { tables = 0 } end
    return pg.exec { conninfo = ctx.params.target,
                     sql = "TRUNCATE ONLY " .. table.concat(names, ", ") }
  end,
}

step "post-data" {
  summary = "the rest of post-data (triggers, rules, policies, ...): what copy.data built is left out",
  idempotent = true,
  timeout = "12h",
  run = function(ctx)
    -- the schema of the data's snapshot (the copy checked its pre-data is what is on the target)
    local built = ctx.outputs["copy"].post_data or {}
    return pgdump.restore { conninfo = ctx.params.target, file = snapshot_schema_file(ctx),
                            sections = { "post-data" }, jobs = ctx.params.jobs,
                            exit_on_error = true, clean = true,
                            -- an empty Lua table would reach the plugin as {}, not []
                            exclude_entries = #built > 0 and built or nil }
  end,
}

------------------------------------------------------------------------------
phase "validation"

gate "data-verified" {
  summary = "checklist 000 section 7 and seed 001's checksum validation, on every table",
  check("row counts match", function(ctx)
    local r = sum.compare { source = ctx.params.source, target = ctx.params.target,
                            counts_only = true, jobs = ctx.params.jobs }
    return r.equal, { rows_source = r.rows_source, rows_target = r.rows_target,
                      mismatches = r.mismatches }
  end),
  check("content checksums match", function(ctx)
    if not ctx.params.independent_checksums then
      -- copy.data hashed every chunk on both sides (the checksum plugin's hash) and
      -- fails on a difference: it succeeded, so every table it copied is equal
      local c = ctx.outputs["copy"]
      return c.verified == true, { verified_by = "copy.data, per chunk", tables = #c.tables,
                                   rows = c.rows }
    end
    local r = sum.compare { source = ctx.params.source, target = ctx.params.target,
                            jobs = ctx.params.jobs }
    return r.equal, r
  end),
  check("indexes, constraints and objects match", function(ctx)
    local r = sum.inventory { source = ctx.params.source, target = ctx.params.target }
    return r.equal, r
  end),
  check("sequences match", function(ctx)
    local r = sum.sequences { source = ctx.params.source, target = ctx.params.target,
                              target_ahead_ok = true }
    return r.equal, r
  end),
  on_fail = "halt",
}

step "summary" {
  summary = "what was migrated; switch the application's connection string to the target next",
  run = function(ctx)
    local d = ctx.outputs["copy"]
    return { tables = #d.tables, rows = d.rows, bytes = d.bytes, copy_ms = d.ms,
             schema_entries = ctx.outputs["schema-restore"].entries,
             sequences = d.sequences, source_read_only = true }
  end,
}
