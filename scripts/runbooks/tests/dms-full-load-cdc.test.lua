-- dms-full-load-cdc.test.lua - pgmove test for ../dms-full-load-cdc.lua:
-- the whole migration (24 h of caught-up CDC, three 24 h cutover stages and
-- 24 h of stable writes: five virtual days), each gate failing, the three
-- breakers (lag pauses, DMS errors alert, application errors roll back), a
-- failed task resumed from its checkpoint, and a crash-resume.

local ALL = { "replication-instance", "source-endpoint", "target-endpoint", "task", "assessment",
              "marker-table", "schema-pre-data", "start-task", "post-data", "resume-cdc", "reads-10", "reads-50",
              "reads-100", "source-read-only", "sync-sequences", "writes-to-aurora",
              "final-source-backup", "remove-dms" }
local APPROVALS = { "start-cutover", "writes-cutover", "decommission" }

local function good(over)
  local phase, task_gone = "none", false
  local stats = { count = 2, loaded = 2, loading = 0, ok = true, errored = 0,
                  validation_failed = 0, validation_suspended = 0,
                  tables = { { schema = "public", table = "orders", validation_state = "Validated" } } }
  local pg_query = function(a)
    if a.sql:find("pg_stat_activity", 1, true) then return { rows = { { n = 0 } } } end
    if a.sql:find("to_regclass", 1, true) then return { rows = { { present = false } } } end
    local rows = {}
    for n in a.params[1]:gmatch("[^,]+") do rows[#rows + 1] = { name = n, setting = "same" } end
    return { rows = rows }
  end
  local m = {
    ["dms.create_instance"] = function(a) return { id = a.id, arn = "arn:ri", status = "creating" } end,
    ["dms.describe_instance"] = { result = { status = "available", class = "dms.r5.large" } },
    ["dms.create_endpoint"] = function(a) return { id = a.id, arn = "arn:" .. a.id } end,
    ["dms.create_task"] = function(a) return { id = a.id, arn = "arn:task", status = "creating" } end,
    ["dms.describe_task"] = function(a)
      if task_gone then return { error = { code = "aws.ResourceNotFoundFault", message = "gone" } } end
      return { status = "ready" }
    end,
    ["dms.start_assessment"] = { result = { arn = "arn:assess", name = "a1" } },
    ["dms.assessment_result"] = { result = { done = true, passed = true, status = "passed",
                                             blocking = {}, warnings = {} } },
    ["dms.test_connection"] = { result = { status = "successful" } },
    ["pg.query"] = pg_query,
    ["pgdump.dump"] = { result = { bytes = 1 } },
    ["pgdump.restore"] = { result = { entries = 1 } },
    ["dms.start_task"] = function(a)
      phase = a.type
      return { status = "starting" }
    end,
    ["dms.stop_task"] = { result = { status = "stopping" } },
    ["dms.replication_state"] = function(a)
      if phase == "start-replication" then
        return { state = "FULL_LOAD_COMPLETE", reason = "cached changes applied", status = "stopped" }
      elseif phase == "resume-processing" then
        return { state = "CDC_CAUGHT_UP", reason = "caught up", status = "running" }
      end
      return { state = "NOT_STARTED", reason = "ready", status = "ready" }
    end,
    ["dms.cdc_latency"] = { result = { has_data = true, source = 0, target = 0, incoming_changes = 0 } },
    ["dms.table_statistics"] = { result = stats },
    ["checksum.compare"] = { result = { equal = true } },
    ["checksum.compare_live"] = { result = { equal = true, differences = 0, rows_source = 10,
                                             truncated = false, mismatches = {},
                                             live = { rechecked = 2, in_flight = 2, unsettled = 0 } } },
    ["pg.exec"] = { result = { rows_affected = 0 } },
    ["checksum.sequences"] = { result = { equal = true } },
    ["http.flag_set"] = function(a) return { value = a.value, previous = 0, changed = true } end,
    ["pg.set_read_only"] = { result = {} },
    ["pg.set_read_write"] = { result = {} },
    ["pg.sync_sequences"] = { result = { sequences = 1 } },
    ["dms.delete_task"] = function() task_gone = true; return {} end,
    ["dms.delete_endpoint"] = { result = {} },
    ["dms.delete_instance"] = { result = {} },
    ["http.health"] = { result = { ok = true, status = 200, reason = "ok" } },
  }
  for k, v in pairs(over or {}) do m[k] = v end
  return m
end

local function calls_of(r, fn)
  local out = {}
  for _, c in ipairs(r.calls) do if c.fn == fn then out[#out + 1] = c end end
  return out
end

return {
  runbook = "../dms-full-load-cdc.lua",
  params = { name = "mig", region = "us-east-1", source_host = "src", target_host = "dst",
             db_name = "app", source_user = "repl", source_password = "src-pw-1",
             target_user = "admin", target_password = "dst-pw-2", flags_url = "http://flags",
             app_health = "http://app/health", assessment_bucket = "b", assessment_role = "arn:role",
             poll = "1m" },
  tests = {
    {
      name = "happy path: five virtual days, flags 10/50/100 then writes, DMS removed last",
      approve = APPROVALS,
      mocks = good(),
      expect = { exit = 0, steps = ALL, min_virtual = "5d", max_virtual = "5d2h",
                 not_called = { "pagerduty.trigger" } },
      check = function(r)
        local f = calls_of(r, "http.flag_set")
        local v = {}
        for i, c in ipairs(f) do v[i] = tostring(c.args.value) end
        assert(table.concat(v, ",") == "10,50,100,aurora", "flags: " .. table.concat(v, ","))
        assert(r.calls[#r.calls].fn == "dms.delete_instance", "the instance is deleted last")
        local e = calls_of(r, "pg.exec")
        assert(#e == 1 and e[1].args.sql == 'CREATE TABLE IF NOT EXISTS "public"."pgmove_marker" (id int PRIMARY KEY, n bigint NOT NULL)',
               "the marker table created on the source")
        assert(e[1].args.conninfo:find("host='src'", 1, true) or e[1].args.conninfo:find("host=src", 1, true),
               "on the source: " .. e[1].args.conninfo)
        local l = calls_of(r, "checksum.compare_live")
        assert(#l == 2, "gate 2 runs compare_live twice: " .. #l)
        assert(l[1].args.marker == "public.pgmove_marker" and l[1].args.catch_up_timeout == "60s" and
               l[1].args.schemas[1] == "public", "counts: the migrated schemas, the marker")
        assert(l[2].args.tables[1] == "public.orders", "checksums: the tables DMS validated")
        local t = calls_of(r, "dms.create_task")[1].args.mappings
        assert(#t == 1 and t[1].schema == "public", "the marker's schema is migrated: no extra rule")
      end,
    },
    {
      name = "gate 2 under writes: compare_live proves a row missing: counts and checksums fail",
      approve = APPROVALS,
      mocks = good { ["checksum.compare_live"] = { result = {
        equal = false, differences = 1, rows_source = 10, truncated = false,
        mismatches = { { table = "public.orders", kind = "missing", key = { id = "7" },
                         proof = "source row unchanged between two rounds" } },
        live = { rechecked = 5, in_flight = 4, confirmed = 1, unsettled = 0 } } } },
      expect = { exit = 4, not_called = { "http.flag_set" } },
      check = function(r)
        local g
        for _, e in ipairs(r.events) do
          if e.ev == "gate.check" and e.node == "gate-2-replication-stable" then
            g = g or {}
            g[e.check] = e.ok
          end
        end
        assert(g and g["row counts equal"] == false and g["checksums equal on the tables DMS validated"] == false,
               "both checks failed")
      end,
    },
    {
      name = "gate 2 under writes: a changed row fails the checksums, not the counts",
      approve = APPROVALS,
      params = { schemas = "app", marker = "ops.pgmove_marker" },
      mocks = good { ["checksum.compare_live"] = { result = {
        equal = false, differences = 1, rows_source = 10, truncated = false,
        mismatches = { { table = "public.orders", kind = "changed", key = { id = "7" } } },
        live = { rechecked = 1, in_flight = 0, confirmed = 1, unsettled = 0 } } } },
      expect = { exit = 4, not_called = { "http.flag_set" } },
      check = function(r)
        local g = {}
        for _, e in ipairs(r.events) do
          if e.ev == "gate.check" and e.node == "gate-2-replication-stable" then g[e.check] = e.ok end
        end
        assert(g["row counts equal"] == true and g["checksums equal on the tables DMS validated"] == false,
               "counts pass, checksums fail")
        local t = calls_of(r, "dms.create_task")[1].args.mappings
        assert(#t == 2 and t[2].schema == "ops" and t[2].table == "pgmove_marker",
               "the marker's schema is not migrated: an include rule for the marker")
      end,
    },
    {
      name = "gate 1 fails: the assessment did not pass",
      approve = APPROVALS,
      mocks = good { ["dms.assessment_result"] = { result = { done = true, passed = false,
                                                              status = "failed", blocking = { "x" } } } },
      expect = { exit = 4, not_called = { "dms.start_task", "pgdump.dump" } },
    },
    {
      name = "gate 2 fails: an errored table",
      approve = APPROVALS,
      mocks = good { ["dms.table_statistics"] = { result = { count = 2, loaded = 2, ok = false, errored = 1,
        tables = { { schema = "public", table = "t", validation_state = "Validated" } } } } },
      expect = { exit = 4, not_called = { "http.flag_set" } },
    },
    {
      name = "gate fence-verified fails: rolls back newest first (flags back, source writable, DMS removed)",
      approve = APPROVALS,
      mocks = good { ["checksum.sequences"] = { result = { equal = false } } },
      expect = { exit = 5, called = { "pg.set_read_write" },
                 undone = { "source-read-only", "reads-100", "reads-50", "reads-10", "start-task",
                            "marker-table", "task", "target-endpoint", "source-endpoint", "replication-instance" } },
      check = function(r)
        local f = calls_of(r, "http.flag_set")
        assert(#f == 6 and f[4].args.value == 0, "three stages then three undone")
        assert(#calls_of(r, "pgdump.dump") == 1, "no final backup")
      end,
    },
    {
      name = "gate final-validation fails: sessions left on the source, DMS kept",
      approve = APPROVALS,
      mocks = good { ["pg.query"] = function(a)
        if a.sql:find("pg_stat_activity", 1, true) then return { rows = { { n = 3 } } } end
        local rows = {}
        for n in a.params[1]:gmatch("[^,]+") do rows[#rows + 1] = { name = n, setting = "same" } end
        return { rows = rows }
      end },
      expect = { exit = 4, not_called = { "dms.delete_instance" }, called = { "pgdump.dump" } },
      check = function(r)
        assert(#calls_of(r, "http.flag_set") == 4, "the cutover happened")
      end,
    },
    {
      name = "breaker replication-lag: latency over 60 s for 5 min pauses before the cutover",
      approve = APPROVALS,
      mocks = good { ["dms.cdc_latency"] = { result = { has_data = true, source = 120, target = 5 } } },
      expect = { exit = 3, not_called = { "http.flag_set" }, max_virtual = "2h" },
    },
    {
      name = "breaker app-errors: unhealthy application during the cutover rolls back",
      approve = APPROVALS,
      mocks = good { ["http.health"] = { result = { ok = false, status = 500, reason = "5xx" } } },
      expect = { exit = 5, status = "rolled-back", breakers = { "app-errors" },
                 not_called = { "pg.set_read_only" } },
      check = function(r)
        local trips = 0
        for _, e in ipairs(r.events) do if e.ev == "breaker.trip" then trips = trips + 1 end end
        assert(trips >= 1, "no breaker.trip")
      end,
    },
    {
      name = "a failed task is resumed from its checkpoint, then completes",
      approve = APPROVALS,
      mocks = (function()
        local m = good()
        local real, failed_once = m["dms.replication_state"], false
        m["dms.replication_state"] = function(a, t)
          local s = real(a, t)
          if s.state == "FULL_LOAD_COMPLETE" and not failed_once and a.latency ~= false then
            failed_once = true
            return { state = "REPLICATION_FAILED", reason = "disk full", status = "failed" }
          end
          return s
        end
        -- the recovery's resume-processing continues the full load (FULL_LOAD_COMPLETE next)
        local start, recovered = m["dms.start_task"], false
        m["dms.start_task"] = function(a, t)
          if a.type == "resume-processing" and failed_once and not recovered then
            recovered = true
            return { status = "starting" }
          end
          return start(a, t)
        end
        return m
      end)(),
      expect = { exit = 0, steps = ALL, breakers = {} },
      check = function(r)
        local resumed = 0
        for _, c in ipairs(calls_of(r, "dms.start_task")) do
          if c.args.type == "resume-processing" then resumed = resumed + 1 end
        end
        assert(resumed == 2, "resume-processing: " .. resumed .. " (recovery and resume-cdc)")
        assert(#calls_of(r, "dms.modify_task") == 0, "no reload after one failure")
      end,
    },
    {
      name = "crash after start-task's call: idempotent, resume starts it again and completes",
      approve = APPROVALS,
      crash_after = "start-task",
      mocks = good(),
      check = function(r)
        assert(r.exit == 0, "exit " .. r.exit)
        assert(#calls_of(r, "dms.create_task") == 1, "task created once")
        local starts = 0
        for _, c in ipairs(calls_of(r, "dms.start_task")) do
          if c.args.type == "start-replication" then starts = starts + 1 end
        end
        assert(starts == 2, "start-replication: " .. starts)
      end,
    },
    {
      name = "gate 1 fails: the target endpoint is unreachable from the replication instance",
      approve = APPROVALS,
      mocks = good { ["dms.test_connection"] = function(a)
        if a.endpoint:find("target", 1, true) then
          return { error = { code = "dms.connection_failed", message = "timeout connecting to dst:5432" } }
        end
        return { status = "successful" }
      end },
      expect = { exit = 4, status = "halted",
                 checks = { ["gate-1-infrastructure-ready"] = {
                   ["source endpoint reachable from the replication instance"] = true,
                   ["target endpoint reachable from the replication instance"] = false,
                   ["pg_settings match"] = true, ["premigration assessment passed"] = true } },
                 not_called = { "dms.start_task", "pgdump.dump" } },
    },
    {
      name = "gate 1 fails: a pg_setting differs between source and target",
      approve = APPROVALS,
      mocks = good { ["pg.query"] = function(a)
        if a.sql:find("pg_stat_activity", 1, true) then return { rows = { { n = 0 } } } end
        local rows = {}
        for n in a.params[1]:gmatch("[^,]+") do
          rows[#rows + 1] = { name = n, setting = a.conninfo:find("dst", 1, true) and "other" or "same" }
        end
        return { rows = rows }
      end },
      expect = { exit = 4, checks = { ["gate-1-infrastructure-ready"] = { ["pg_settings match"] = false } },
                 not_called = { "dms.start_task" } },
    },
    {
      name = "gate 2 fails: not every table loaded",
      approve = APPROVALS,
      mocks = good { ["dms.table_statistics"] = { result = { count = 3, loaded = 2, loading = 1, ok = true,
        errored = 0, validation_failed = 0, validation_suspended = 0,
        tables = { { schema = "public", table = "orders", validation_state = "Validated" } } } } },
      expect = { exit = 4, checks = { ["gate-2-replication-stable"] = { ["all tables loaded"] = false } },
                 not_called = { "http.flag_set" } },
    },
    {
      name = "gate 2 fails: row counts differ",
      approve = APPROVALS,
      -- the counts check compares every migrated table (no tables list) under CDC; the
      -- checksums check only the validated tables, which are equal here
      mocks = good { ["checksum.compare_live"] = function(a)
        if a.tables then
          return { equal = true, differences = 0, truncated = false, mismatches = {}, live = {} }
        end
        return { equal = false, differences = 2, truncated = false, rows_source = 10,
                 mismatches = { { table = "public.items", kind = "missing", key = { id = "9" } },
                                { table = "public.items", kind = "missing", key = { id = "10" } } },
                 live = { rechecked = 2, confirmed = 2 } }
      end },
      expect = { exit = 4, checks = { ["gate-2-replication-stable"] = { ["row counts equal"] = false,
                                                                       ["checksums equal on the tables DMS validated"] = true } },
                 not_called = { "http.flag_set" } },
    },
    {
      name = "gate 2 fails: DMS validated no table, so no checksum can be trusted",
      approve = APPROVALS,
      mocks = good { ["dms.table_statistics"] = { result = { count = 2, loaded = 2, loading = 0, ok = true,
        errored = 0, validation_failed = 0, validation_suspended = 0,
        tables = { { schema = "public", table = "orders", validation_state = "Pending records" } } } } },
      expect = { exit = 4, checks = { ["gate-2-replication-stable"] = {
                   ["checksums equal on the tables DMS validated"] = false } } },
    },
    {
      name = "gate 2 fails: CDC latency over the threshold at the gate (after caught-up)",
      approve = APPROVALS,
      mocks = good { ["dms.cdc_latency"] = function(a, t, n, node)
        if node == "gate-2-replication-stable" then return { has_data = true, source = 45, target = 2 } end
        return { has_data = true, source = 0, target = 0, incoming_changes = 0 }
      end },
      expect = { exit = 4, checks = { ["gate-2-replication-stable"] = { ["CDC latency under the threshold"] = false } },
                 breakers = {} },
    },
    {
      name = "gate fence-verified fails on the final checksums: rolled back",
      approve = APPROVALS,
      mocks = good { ["checksum.compare"] = function(a, t, n, node)
        return { equal = node ~= "fence-verified", mismatches = node == "fence-verified" and { "public.orders" } or {} }
      end },
      expect = { exit = 5, status = "rolled-back",
                 checks = { ["fence-verified"] = { ["final checksums equal"] = false, ["sequences equal"] = true } },
                 called = { "pg.set_read_write" }, call_count = { ["pgdump.dump"] = 1 } },
    },
    {
      name = "gate final-validation fails on checksums: halt, DMS kept",
      approve = APPROVALS,
      mocks = good { ["checksum.compare"] = function(a, t, n, node)
        return { equal = node ~= "final-validation" }
      end },
      expect = { exit = 4, status = "halted",
                 checks = { ["final-validation"] = { ["checksums match"] = false,
                                                     ["no application connections on the source"] = true } },
                 not_called = { "dms.delete_instance" } },
    },
    {
      name = "start-cutover denied: the run fails, no flag moves, on_failure pages nobody unconfigured",
      mocks = good(),
      script = { { deny = "start-cutover", by = "cab", comment = "quarter-end freeze" }, "resume" },
      expect = { exit = 1, status = "failed", nodes = { ["start-cutover"] = "denied" },
                 not_called = { "http.flag_set", "pagerduty.trigger" } },
    },
    {
      name = "breakers asserted: replication-lag trips alone and pauses",
      approve = APPROVALS,
      mocks = good { ["dms.cdc_latency"] = { result = { has_data = true, source = 120, target = 5 } } },
      expect = { exit = 3, status = "paused", breakers = { "replication-lag" } },
    },
    {
      name = "crash between gate 2's checks: the resumed run evaluates gate 2 again and completes",
      approve = APPROVALS,
      crash = { in_gate = "gate-2-replication-stable", nth = 3 },
      -- a mock's own state starts afresh in the resumed process: answer by the calling node
      mocks = good { ["dms.replication_state"] = function(a, t, n, node)
        if node == "full-load-complete" then
          return { state = "FULL_LOAD_COMPLETE", reason = "cached changes applied", status = "stopped" }
        end
        return { state = "CDC_CAUGHT_UP", reason = "caught up", status = "running" }
      end },
      expect = { exit = 0, steps = ALL, gates = { ["gate-2-replication-stable"] = true },
                 call_count = { ["dms.create_task"] = 1 } },
    },
    {
      name = "crash during the fence-verified rollback: resume finishes it newest first",
      approve = APPROVALS,
      crash = { in_rollback = "reads-50" },
      mocks = good { ["checksum.sequences"] = { result = { equal = false } } },
      expect = { exit = 5, status = "rolled-back",
                 undone = { "source-read-only", "reads-100", "reads-50", "reads-10", "start-task",
                            "marker-table", "task", "target-endpoint", "source-endpoint", "replication-instance" } },
    },
    {
      name = "breaker dms-errors: a failed task seen by the breaker pages (PagerDuty mocked) and the run goes on",
      approve = APPROVALS,
      params = { pd_routing_key = "R0UTINGKEY0123456789" },
      mocks = (function()
        local m = good()
        local real = m["dms.replication_state"]
        m["dms.replication_state"] = function(a, t, n, node)
          -- the breaker's look (latency = false) sees a failure for 10 minutes at hour 6
          if a.latency == false and t >= 6 * 3600000 and t < 6 * 3600000 + 600000 then
            return { state = "REPLICATION_FAILED", reason = "table public.orders: disk full", status = "running" }
          end
          return real(a, t, n, node)
        end
        m["pagerduty.trigger"] = function(a) return { status = "success", dedup_key = a.dedup_key } end
        m["pagerduty.change"] = function(a) return { status = "success", message = "Change event processed" } end
        return m
      end)(),
      expect = { exit = 0, steps = ALL, breakers = { "dms-errors" },
                 called_with = { { fn = "pagerduty.trigger", args = { class = "dms-errors",
                                   summary = "DMS error: table public.orders: disk full" } } } },
      check = function(r)
        local changes = {}
        for _, c in ipairs(r.calls) do
          if c.fn == "pagerduty.trigger" then
            assert(c.t >= 6 * 3600000 and c.t < 6 * 3600000 + 600000, "paged at " .. c.t)
          elseif c.fn == "pagerduty.change" then
            changes[#changes + 1] = c.args.summary:gsub("^pgmove dms%-full%-load%-cdc: ", "")
          end
        end
        -- the migration's start, fence, cutover, decommission and end on the service's timeline
        local want = { "run test of runbook dms-full-load-cdc started", "step source-read-only succeeded",
                       "step writes-to-aurora succeeded", "step remove-dms succeeded",
                       "run test of runbook dms-full-load-cdc completed" }
        assert(table.concat(changes, "|") == table.concat(want, "|"),
               "change events: " .. table.concat(changes, "|"))
      end,
    },
  },
}
