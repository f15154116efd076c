-- pg-dump-restore.test.lua - pgmove test for ../pg-dump-restore.lua:
-- the happy path, each gate failing, a failed step rolled back, an explicit
-- rollback, and a crash-resume (pgmove(1), test).

local ALL = { "assess", "tools", "schema-dump", "schema-restore", "source-read-only",
              "data-dump", "data-restore", "post-data", "analyze", "sequences", "summary" }

-- mocks for a migration where everything goes well; each test changes some
local function good(over)
  local m = {
    ["pg.assess"] = { result = { server = "15.4", extensions = {}, c_functions = {},
                                 tables_without_primary_key = {}, large_objects = 0,
                                 replication = {}, warnings = { "wal_level is replica" } } },
    ["pgdump.check"] = { result = { pg_dump = "15.4" } },
    ["pg.query"] = { result = { rows = { { n = 0 } } } },
    ["pgdump.dump"] = { result = { bytes = 4096 } },
    ["pgdump.restore"] = { result = { entries = 12, tables = 3 } },
    ["pgdump.clean"] = { result = { dropped = 3 } },
    ["checksum.inventory"] = { result = { equal = true } },
    ["pg.set_read_only"] = { result = { read_only = true } },
    ["pg.set_read_write"] = { result = { read_only = false } },
    ["pg.analyze"] = { result = { tables = 3 } },
    ["pg.sync_sequences"] = { result = { sequences = 2 } },
    ["checksum.compare"] = { result = { equal = true, rows_source = 10, rows_target = 10,
                                        mismatches = {} } },
    ["checksum.sequences"] = { result = { equal = true } },
  }
  for k, v in pairs(over or {}) do m[k] = v end
  return m
end

local function count(r, fn)
  local n = 0
  for _, c in ipairs(r.calls) do if c.fn == fn then n = n + 1 end end
  return n
end

return {
  runbook = "../pg-dump-restore.lua",
  params = { source = "host=src dbname=app", target = "host=dst dbname=app", jobs = 2 },
  tests = {
    {
      name = "happy path: every step in order, the source made read-only once",
      approve = { "freeze-source" },
      mocks = good(),
      expect = { exit = 0, steps = ALL, called = { "pg.set_read_only", "checksum.sequences" },
                 not_called = { "pg.set_read_write" } },
      check = function(r)
        assert(count(r, "pg.set_read_only") == 1, "set_read_only calls: " .. count(r, "pg.set_read_only"))
        for _, c in ipairs(r.calls) do
          if c.fn == "pgdump.dump" and c.args.content == "data" then
            assert(c.args.jobs == 2, "data dump jobs")
            return
          end
        end
        error("no data dump")
      end,
    },
    {
      name = "no approval: the run pauses before freezing the source",
      mocks = good(),
      expect = { exit = 3, steps = { "assess", "tools", "schema-dump", "schema-restore" },
                 not_called = { "pg.set_read_only" } },
    },
    {
      name = "gate ready-to-migrate fails on a C function: halt, nothing dumped",
      approve = { "freeze-source" },
      mocks = good { ["pg.assess"] = { result = { server = "15.4", c_functions = { "public.f" },
                                                   warnings = {} } } },
      expect = { exit = 4, steps = { "assess", "tools" }, not_called = { "pgdump.dump" } },
    },
    {
      name = "gate ready-to-migrate fails on a non-empty target",
      approve = { "freeze-source" },
      mocks = good { ["pg.query"] = { result = { rows = { { n = 7 } } } } },
      expect = { exit = 4, steps = { "assess", "tools" }, not_called = { "pgdump.dump" } },
    },
    {
      name = "gate schema-verified fails: halt before the approval",
      approve = { "freeze-source" },
      mocks = good { ["checksum.inventory"] = { result = { equal = false, missing = { "t" } } } },
      expect = { exit = 4, steps = { "assess", "tools", "schema-dump", "schema-restore" },
                 not_called = { "pg.set_read_only" } },
    },
    {
      name = "gate data-verified fails on checksums: halt, summary not run",
      approve = { "freeze-source" },
      mocks = good { ["checksum.compare"] = function(args)
        if args.counts_only then return { equal = true, rows_source = 1, rows_target = 1 } end
        return { equal = false, mismatches = { "public.orders" } }
      end },
      expect = { exit = 4, not_called = {} },
      check = function(r)
        assert(r.steps[#r.steps] == "sequences", "last step " .. tostring(r.steps[#r.steps]))
      end,
    },
    {
      name = "data-restore fails with rollback_on_failure: undone newest first",
      approve = { "freeze-source" },
      params = { rollback_on_failure = "true" },
      mocks = good { ["pgdump.restore"] = function(args)
        if args.content == "data" then
          return { error = { code = "pg.53100", message = "disk full", retryable = false } }
        end
        return { entries = 12 }
      end },
      expect = { exit = 5, undone = { "source-read-only", "schema-restore" },
                 called = { "pg.set_read_write" } },
    },
    {
      name = "pgmove rollback after a completed run undoes every step with an undo",
      approve = { "freeze-source" },
      rollback = true,
      mocks = good(),
      -- data-restore is irreversible: rollback skips its undo (recovery is data-dump)
      expect = { exit = 5, undone = { "source-read-only", "schema-restore" },
                 called = { "pg.set_read_write" } },
    },
    {
      name = "crash after data-dump's call: resume runs data-dump again, the run completes",
      approve = { "freeze-source" },
      crash_after = "data-dump",
      mocks = good(),
      expect = { exit = 0, steps = ALL },
      check = function(r)
        local dumps = 0
        for _, c in ipairs(r.calls) do
          if c.fn == "pgdump.dump" and c.args.content == "data" then dumps = dumps + 1 end
        end
        assert(dumps == 2, "data dumps: " .. dumps)
      end,
    },
    {
      name = "a retryable error in a step without retries fails it (a sequence of mocks)",
      approve = { "freeze-source" },
      mocks = good { ["pg.analyze"] = { sequence = {
        { error = { code = "pg.57P03", retryable = true, message = "starting up" } },
        { result = { tables = 3 } } } } },
      expect = { exit = 1, not_called = { "pg.sync_sequences" } },
      check = function(r)
        assert(r.steps[#r.steps] == "post-data", "last step " .. tostring(r.steps[#r.steps]))
      end,
    },
    {
      name = "gate data-verified fails on row counts: the content check still runs and is recorded",
      approve = { "freeze-source" },
      mocks = good { ["checksum.compare"] = function(args)
        if args.counts_only then return { equal = false, rows_source = 10, rows_target = 9,
                                          mismatches = { "public.orders" } } end
        return { equal = true, mismatches = {} }
      end },
      expect = { exit = 4, status = "halted", nodes = { summary = "pending" },
                 checks = { ["data-verified"] = { ["row counts match"] = false,
                                                  ["content checksums match"] = true,
                                                  ["indexes, constraints and objects match"] = true,
                                                  ["sequences match"] = true } } },
    },
    {
      name = "gate data-verified fails on the inventory (an index missing after post-data)",
      approve = { "freeze-source" },
      mocks = good { ["checksum.inventory"] = function(args)
        if args.ignore then return { equal = true } end
        return { equal = false, missing = { "index public.orders_created_idx" } }
      end },
      expect = { exit = 4, gates = { ["schema-verified"] = true, ["data-verified"] = false },
                 checks = { ["data-verified"] = { ["indexes, constraints and objects match"] = false } } },
    },
    {
      name = "gate data-verified fails on sequences",
      approve = { "freeze-source" },
      mocks = good { ["checksum.sequences"] = { result = { equal = false, behind = { "public.orders_id_seq" } } } },
      expect = { exit = 4, checks = { ["data-verified"] = { ["sequences match"] = false } } },
    },
    {
      name = "freeze-source denied: the run fails, the source is never made read-only",
      mocks = good(),
      script = { { deny = "freeze-source", by = "app-owner", comment = "release in progress" }, "resume" },
      expect = { exit = 1, status = "failed", nodes = { ["freeze-source"] = "denied" },
                 steps = { "assess", "tools", "schema-dump", "schema-restore" },
                 not_called = { "pg.set_read_only", "pg.analyze" } },
      check = function(r)
        for _, e in ipairs(r.events) do
          if e.ev == "approve.denied" then
            assert(e.by == "app-owner" and e.comment == "release in progress", "denial recorded")
            return
          end
        end
        error("no approve.denied")
      end,
    },
    {
      name = "crash after data-restore's first call (tables emptied): declared idempotent, emptied again, restored once",
      approve = { "freeze-source" },
      crash_after = "data-restore",
      mocks = good(),
      expect = { exit = 0, status = "completed", steps = ALL, gates = { ["data-verified"] = true } },
      check = function(r)
        assert(r.phases[1].exit == 86 and r.phases[2].exit == 0, "crash, then the resume completed")
        local cleans, restores = 0, 0
        for _, c in ipairs(r.calls) do
          if c.fn == "pgdump.clean" and c.args.mode == "data" then cleans = cleans + 1 end
          if c.fn == "pgdump.restore" and c.args.content == "data" then restores = restores + 1 end
        end
        assert(cleans == 2 and restores == 1, "cleans " .. cleans .. ", restores " .. restores)
      end,
    },
    {
      name = "crash between data-verified's checks: the resumed run checks again and completes",
      approve = { "freeze-source" },
      crash = { in_gate = "data-verified", nth = 2 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, gates = { ["data-verified"] = true } },
    },
    {
      name = "crash during the rollback after source-read-only's undo: resume finishes it",
      approve = { "freeze-source" },
      crash = { in_rollback = "source-read-only" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, status = "rolled-back", undone = { "source-read-only", "schema-restore" },
                 call_count = { ["pg.set_read_write"] = 2 },
                 called_with = { { fn = "pgdump.clean", args = { mode = "objects" }, node = "schema-restore" } } },
    },
  },
}
