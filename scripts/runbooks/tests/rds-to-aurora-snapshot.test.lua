-- rds-to-aurora-snapshot.test.lua - pgmove test for ../rds-to-aurora-snapshot.lua:
-- the happy path (the old instance deleted last, after both approvals), the
-- gate failing, the snapshot wait timing out, a throttled snapshot retried, a
-- rollback, and a crash-resume.

local ALL = { "source-instance", "final-snapshot", "restore-cluster", "add-writer", "alarms",
              "decommission-rds" }

-- mocks: an AWS account where everything goes well; deleted is per process
local function good(over)
  local deleted = false
  local m = {
    ["rds_snapshot.describe_instance"] = function(args)
      if args.id == "app-db" then
        if deleted then
          return { error = { code = "aws.DBInstanceNotFound", message = "gone" } }
        end
        return { id = "app-db", engine = "postgres", status = "available",
                 endpoint = "app-db.rds", port = 5432, engine_version = "15.4", arn = "arn:db" }
      end
      return { id = args.id, status = "available" }
    end,
    ["rds_snapshot.create_snapshot"] = { result = { id = "snap-1", arn = "arn:snap-1",
                                                    status = "creating" } },
    ["rds_snapshot.describe_snapshot"] = { sequence = {
      { result = { id = "snap-1", status = "creating", progress = 40 } },
      { result = { id = "snap-1", status = "available", progress = 100 } } } },
    ["rds_snapshot.restore_cluster"] = { result = { id = "aurora-1", status = "creating",
                                                    serverless = true } },
    ["rds_snapshot.add_instance"] = { result = { id = "aurora-1-writer", status = "creating" } },
    ["rds_snapshot.describe_cluster"] = { result = { id = "aurora-1", status = "available",
                                                     endpoint = "aurora-1.cluster", port = 5432 } },
    ["rds_snapshot.delete_instance"] = function(args)
      if args.id == "app-db" then deleted = true end
      return { id = args.id, status = "deleting" }
    end,
    ["rds_snapshot.delete_cluster"] = { result = { id = "aurora-1", status = "deleting" } },
    ["cloudwatch.put_metric_filter"] = { result = {} },
    ["cloudwatch.put_alarm"] = function(args) return { name = args.name } end,
    ["cloudwatch.alarm_state"] = { result = { ok = true, insufficient_data = {}, unevaluated = {},
                                              missing = {}, in_alarm = {}, states = {} } },
    ["cloudwatch.describe_metric_filters"] = function(args)
      return { filters = { { name = args.prefix, metric = "FailedConnectionAttempts",
                             namespace = "LogMetrics/PostgreSQL/aurora-1" } } }
    end,
    ["cloudwatch.delete_alarms"] = { result = {} },
    ["cloudwatch.delete_metric_filter"] = { result = {} },
    ["checksum.compare"] = { result = { equal = true } },
    ["checksum.sequences"] = { result = { equal = true } },
    ["checksum.inventory"] = { result = { equal = true } },
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
  runbook = "../rds-to-aurora-snapshot.lua",
  params = { instance = "app-db", cluster = "aurora-1", region = "us-east-1", db_name = "app",
             db_user = "admin", db_password = "s3cret-pw", poll = "30s" },
  tests = {
    {
      name = "happy path: snapshot, restore, alarms, verified, old instance deleted last",
      approve = { "writes-stopped", "decommission" },
      mocks = good(),
      expect = { exit = 0, steps = ALL, not_called = { "rds_snapshot.delete_cluster" },
                 max_virtual = "1h" },
      check = function(r)
        local d = calls_of(r, "rds_snapshot.delete_instance")
        assert(#d == 1 and d[1].args.id == "app-db", "one delete of app-db")
        assert(d[1].args.final_snapshot:match("^app%-db%-decommission%-"), "final snapshot named")
        assert(r.calls[#r.calls].fn == "rds_snapshot.describe_snapshot", "ends checking the snapshot")
        local a = calls_of(r, "cloudwatch.put_alarm")
        assert(#a == 4, "alarms: " .. #a)
        local function clean(v, where)
          if type(v) == "table" then
            for k, x in pairs(v) do clean(x, where .. "." .. tostring(k)) end
          else
            assert(not tostring(v):find("s3cret-pw", 1, true), "password in the journal at " .. where)
          end
        end
        clean(r.events, "events")
        local seen = false -- the password did reach the plugin (so the check above can fail)
        for _, c in ipairs(calls_of(r, "checksum.compare")) do
          seen = seen or c.args.source:find("s3cret-pw", 1, true) ~= nil
        end
        assert(seen, "the password never reached checksum.compare")
      end,
    },
    {
      name = "no decommission approval: paused, delete_instance never called",
      approve = { "writes-stopped" },
      mocks = good(),
      expect = { exit = 3, not_called = { "rds_snapshot.delete_instance" },
                 steps = { "source-instance", "final-snapshot", "restore-cluster", "add-writer",
                           "alarms" } },
    },
    {
      name = "gate aurora-verified fails on checksums: halt, nothing deleted",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["checksum.compare"] = { result = { equal = false, mismatches = { "t" } } } },
      expect = { exit = 4, not_called = { "rds_snapshot.delete_instance" } },
    },
    {
      name = "gate aurora-verified fails on an alarm firing",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["cloudwatch.alarm_state"] = function(args, t)
        return { ok = false, insufficient_data = {}, unevaluated = {}, missing = {},
                 in_alarm = { args.names[1] }, states = {} }
      end },
      expect = { exit = 4, not_called = { "rds_snapshot.delete_instance" } },
    },
    {
      name = "the snapshot never becomes available: the wait times out after 3 hours",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["rds_snapshot.describe_snapshot"] = { result = { id = "snap-1",
                                                                       status = "creating" } } },
      expect = { exit = 1, steps = { "source-instance", "final-snapshot" }, min_virtual = "3h",
                 max_virtual = "3h5m", not_called = { "rds_snapshot.restore_cluster" } },
    },
    {
      name = "a throttled create_snapshot is retried after 30s of virtual time",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["rds_snapshot.create_snapshot"] = { sequence = {
        { error = { code = "aws.ThrottlingException", retryable = true, message = "Rate exceeded" } },
        { result = { id = "snap-1", arn = "arn:snap-1", status = "creating" } } } } },
      expect = { exit = 0, steps = ALL },
      check = function(r)
        local c = calls_of(r, "rds_snapshot.create_snapshot")
        assert(#c == 2 and c[2].t - c[1].t >= 30000, "second attempt 30s later")
      end,
    },
    {
      name = "rollback before the decommission: alarms, writer, cluster undone newest first",
      approve = { "writes-stopped" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, undone = { "alarms", "add-writer", "restore-cluster" },
                 called = { "rds_snapshot.delete_cluster", "cloudwatch.delete_alarms" } },
      check = function(r)
        local d = calls_of(r, "rds_snapshot.delete_instance")
        assert(#d == 1 and d[1].args.id == "aurora-1-writer", "only the writer is deleted")
      end,
    },
    {
      name = "crash after restore-cluster's call: idempotent, resume restores again and completes",
      approve = { "writes-stopped", "decommission" },
      crash_after = "restore-cluster",
      mocks = good(),
      expect = { exit = 0, steps = ALL },
      check = function(r)
        assert(#calls_of(r, "rds_snapshot.restore_cluster") == 2, "restore_cluster twice")
        assert(#calls_of(r, "rds_snapshot.create_snapshot") == 1, "one snapshot")
      end,
    },
    {
      name = "gate aurora-verified fails on sequences: halt, the other checks still recorded",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["checksum.sequences"] = { result = { equal = false, behind = { "public.orders_id_seq" } } } },
      expect = { exit = 4, status = "halted", gates = { ["aurora-verified"] = false },
                 checks = { ["aurora-verified"] = {
                   ["row counts and checksums match"] = true, ["sequences match"] = false,
                   ["schema inventory equal"] = true, ["failed-connections metric filter in place"] = true,
                   ["every alarm evaluated, none firing"] = true } },
                 not_called = { "rds_snapshot.delete_instance" } },
    },
    {
      name = "gate aurora-verified fails on the schema inventory",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["checksum.inventory"] = { result = { equal = false, missing = { "index public.i" } } } },
      expect = { exit = 4, checks = { ["aurora-verified"] = { ["schema inventory equal"] = false } },
                 not_called = { "rds_snapshot.delete_instance" } },
    },
    {
      name = "gate aurora-verified fails when the metric filter is missing",
      approve = { "writes-stopped", "decommission" },
      mocks = good { ["cloudwatch.describe_metric_filters"] = { result = { filters = {} } } },
      expect = { exit = 4, checks = { ["aurora-verified"] = { ["failed-connections metric filter in place"] = false } },
                 not_called = { "rds_snapshot.delete_instance" } },
    },
    {
      name = "decommission denied: the old instance is kept, the run fails at the approval",
      approve = { "writes-stopped" },
      mocks = good(),
      script = { { deny = "decommission", by = "dba-lead", comment = "keep it a week" }, "resume" },
      expect = { exit = 1, status = "failed", nodes = { decommission = "denied", ["decommission-rds"] = "pending" },
                 gates = { ["aurora-verified"] = true }, not_called = { "rds_snapshot.delete_instance" } },
    },
    {
      name = "crash inside snapshot-available: the resumed wait polls on and the run completes",
      approve = { "writes-stopped", "decommission" },
      crash = { in_wait = "snapshot-available", nth = 1 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, call_count = { ["rds_snapshot.create_snapshot"] = 1 } },
    },
    {
      name = "crash between aurora-verified's checks: the resumed run checks again, nothing deleted twice",
      approve = { "writes-stopped", "decommission" },
      crash = { in_gate = "aurora-verified", nth = 3 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, gates = { ["aurora-verified"] = true },
                 call_count = { ["checksum.compare"] = 2, ["rds_snapshot.delete_instance"] = 1 } },
    },
    {
      name = "crash during the rollback after the alarms' undo: resume finishes it newest first",
      approve = { "writes-stopped" },
      crash = { in_rollback = "alarms" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, status = "rolled-back", undone = { "alarms", "add-writer", "restore-cluster" } },
    },
  },
}
