-- pg-copy.test.lua - pgmove test for ../pg-copy.lua: the happy path, the
-- approval missing and denied, each gate's checks failing, a failed copy
-- rolled back, an explicit rollback (also crashed half-way and resumed), the
-- data gate relying on the copy's per-chunk verification, and
-- crash-resumes of the copy, the read-only switch and the validation gate.

local ALL = { "assess", "tools", "schema-dump", "schema-restore", "source-read-only",
              "copy", "post-data", "summary" }
local BEFORE_FREEZE = { "assess", "tools", "schema-dump", "schema-restore" }

-- copy.data's result as doc/plugins-local.md gives it
local COPIED = {
  tables = {
    { table = "orders", qname = "public.orders", method = "key-range", chunks = 3,
      rows = 250000, bytes = 41000000, verified = true },
    { table = "customers", qname = "public.customers", method = "whole-table", chunks = 1,
      rows = 1200, bytes = 180000, verified = true },
  },
  rows = 251200, bytes = 41180000, chunks_skipped = 0, sequences = 2, verified = true,
  format = "binary", jobs = 2, ms = 5400, rows_per_s = 46518,
  post_data = { "CONSTRAINT public orders orders_pkey", "INDEX public orders_created_idx",
                "CONSTRAINT public customers customers_pkey",
                "FK CONSTRAINT public orders orders_customer_id_fkey" },
}

-- mocks for a migration where everything goes well; each test changes some
local function good(over)
  local m = {
    ["pg.assess"] = { result = { server = "15.4", extensions = { "pgcrypto" }, c_functions = {},
                                 tables_without_primary_key = {}, large_objects = 0,
                                 replication = {}, warnings = {} } },
    ["pgdump.check"] = { result = { pg_dump = "15.4" } },
    ["pg.query"] = { result = { rows = { { n = 0 } } } },
    ["pgdump.dump"] = { result = { bytes = 8192 } },
    ["pgdump.restore"] = { result = { entries = 14 } },
    ["pgdump.clean"] = { result = { dropped = 14 } },
    ["checksum.inventory"] = { result = { equal = true } },
    ["pg.set_read_only"] = { result = { read_only = true } },
    ["pg.set_read_write"] = { result = { read_only = false } },
    ["copy.data"] = { result = COPIED },
    ["pg.exec"] = { result = { status = "TRUNCATE TABLE" } },
    ["pg.analyze"] = { result = { tables = 2 } },
    ["checksum.compare"] = { result = { equal = true, rows_source = 251200,
                                        rows_target = 251200, mismatches = {} } },
    ["checksum.sequences"] = { result = { equal = true } },
  }
  for k, v in pairs(over or {}) do m[k] = v end
  return m
end

local function compare(counts_equal, sums_equal)
  return function(args)
    if args.counts_only then
      return { equal = counts_equal, rows_source = 251200,
               rows_target = counts_equal and 251200 or 251190,
               mismatches = counts_equal and {} or { "public.orders" } }
    end
    return { equal = sums_equal, mismatches = sums_equal and {} or { "public.orders" } }
  end
end

local GATE_OK = { ["row counts match"] = true, ["content checksums match"] = true,
                  ["indexes, constraints and objects match"] = true, ["sequences match"] = true }

return {
  runbook = "../pg-copy.lua",
  params = { source = "host=src dbname=app", target = "host=dst dbname=app", jobs = 2 },
  tests = {
    {
      name = "happy path: every step in order, the data copied once on 2 jobs",
      approve = { "freeze-source" },
      mocks = good(),
      expect = { exit = 0, status = "completed", steps = ALL,
                 gates = { ["ready-to-migrate"] = true, ["schema-verified"] = true,
                           ["data-verified"] = true },
                 checks = { ["data-verified"] = GATE_OK },
                 call_count = { ["copy.data"] = 1, ["pg.set_read_only"] = 1 },
                 called_with = {
                   { fn = "copy.data", args = { jobs = 2, chunk_rows = 100000, indexes = true,
                                                analyze = true, maintenance_work_mem = "1GB",
                                                split_larger_than = "4GB" },
                     node = "copy" },
                   { fn = "pgdump.restore", args = { sections = { "pre-data" },
                                                      single_transaction = true } },
                   { fn = "pgdump.restore", args = { sections = { "post-data" }, jobs = 2,
                                                      exclude_entries = COPIED.post_data } },
                 },
                 -- the copy verified every chunk and analyzed every table: no second pass
                 not_called = { "pg.set_read_write", "pg.exec", "pgdump.clean", "pg.analyze" },
                 call_count = { ["checksum.compare"] = 1 } },
      check = function(r)
        for _, e in ipairs(r.events) do
          if e.ev == "step.succeeded" and e.node == "summary" then
            assert(e.output.rows == 251200 and e.output.tables == 2, "summary output")
            return
          end
        end
        error("no summary output")
      end,
    },
    {
      name = "no approval: the run pauses before the source is made read-only",
      mocks = good(),
      expect = { exit = 3, status = "paused", steps = BEFORE_FREEZE,
                 nodes = { ["freeze-source"] = "waiting" }, not_called = { "pg.set_read_only", "copy.data" } },
    },
    {
      name = "freeze-source denied: the run fails there, the source stays writable",
      mocks = good(),
      script = { { deny = "freeze-source", by = "dba-lead", comment = "peak traffic, not now" },
                 "resume" },
      expect = { exit = 1, status = "failed", steps = BEFORE_FREEZE,
                 nodes = { ["freeze-source"] = "denied" },
                 not_called = { "pg.set_read_only", "copy.data" } },
      check = function(r)
        for _, e in ipairs(r.events) do
          if e.ev == "run.failed" then
            assert(e.reason:find("denied by dba-lead", 1, true), e.reason)
            return
          end
        end
        error("no run.failed")
      end,
    },
    {
      name = "gate ready-to-migrate fails on a C function: halt, nothing dumped",
      approve = { "freeze-source" },
      mocks = good { ["pg.assess"] = { result = { server = "15.4", c_functions = { "public.f" },
                                                   warnings = {} } } },
      expect = { exit = 4, status = "halted", steps = { "assess", "tools" },
                 checks = { ["ready-to-migrate"] = { ["no C-language functions outside extensions"] = false,
                                                     ["target has no tables"] = true } },
                 not_called = { "pgdump.dump" } },
    },
    {
      name = "gate ready-to-migrate fails on a non-empty target",
      approve = { "freeze-source" },
      mocks = good { ["pg.query"] = { result = { rows = { { n = 7 } } } } },
      expect = { exit = 4, steps = { "assess", "tools" },
                 checks = { ["ready-to-migrate"] = { ["target has no tables"] = false } },
                 not_called = { "pgdump.dump" } },
    },
    {
      name = "allow_non_empty_target skips the empty-target check",
      approve = { "freeze-source" },
      params = { allow_non_empty_target = "true" },
      mocks = good { ["pg.query"] = { result = { rows = { { n = 7 } } } } },
      expect = { exit = 0, steps = ALL, not_called = { "pg.query" } },
    },
    {
      name = "gate schema-verified fails: halt before the approval",
      approve = { "freeze-source" },
      mocks = good { ["checksum.inventory"] = { result = { equal = false, missing = { "public.t" } } } },
      expect = { exit = 4, steps = BEFORE_FREEZE, gates = { ["schema-verified"] = false },
                 not_called = { "pg.set_read_only" } },
    },
    {
      name = "gate data-verified fails on row counts: halt, summary not run",
      approve = { "freeze-source" },
      mocks = good { ["checksum.compare"] = compare(false, true) },
      expect = { exit = 4, status = "halted", nodes = { summary = "pending" },
                 checks = { ["data-verified"] = { ["row counts match"] = false,
                                                  ["content checksums match"] = true } } },
    },
    {
      name = "gate data-verified relies on the copy's verification: a copy that did not verify fails it",
      approve = { "freeze-source" },
      mocks = good { ["copy.data"] = { result = { tables = COPIED.tables, rows = 251200,
                                                  post_data = {}, verified = false } } },
      expect = { exit = 4, checks = { ["data-verified"] = { ["row counts match"] = true,
                                                           ["content checksums match"] = false } } },
    },
    {
      name = "gate data-verified fails on content checksums (independent_checksums)",
      approve = { "freeze-source" },
      params = { independent_checksums = "true" },
      mocks = good { ["checksum.compare"] = compare(true, false) },
      expect = { exit = 4, checks = { ["data-verified"] = { ["row counts match"] = true,
                                                           ["content checksums match"] = false } } },
    },
    {
      name = "gate data-verified fails on the inventory (an index missing)",
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
      expect = { exit = 4, checks = { ["data-verified"] = { ["sequences match"] = false } },
                 called_with = { { fn = "checksum.sequences", args = { target_ahead_ok = true } } } },
    },
    {
      name = "copy fails on a chunk mismatch with rollback_on_failure: undone newest first",
      approve = { "freeze-source" },
      params = { rollback_on_failure = "true" },
      mocks = good { ["copy.data"] = { error = { code = "copy.mismatch", retryable = false,
        message = "table public.orders: chunk 2 [100001, 200000]: 3 rows differ" } } },
      expect = { exit = 5, status = "rolled-back", undone = { "source-read-only", "schema-restore" },
                 called = { "pg.set_read_write", "pgdump.clean" }, not_called = { "pg.exec" } },
    },
    {
      name = "pgmove rollback after a completed run: copied rows truncated, then schema, then read-write",
      approve = { "freeze-source" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, undone = { "copy", "source-read-only", "schema-restore" },
                 called_with = {
                   { fn = "pg.exec", args = { sql = "TRUNCATE ONLY public.orders, public.customers" } },
                   { fn = "pgdump.clean", args = { mode = "objects" } } } },
    },
    {
      name = "crash during rollback after the copy's undo: resume finishes the rollback",
      approve = { "freeze-source" },
      crash = { in_rollback = "copy" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, status = "rolled-back", undone = { "copy", "source-read-only", "schema-restore" },
                 call_count = { ["pg.exec"] = 2, ["pg.set_read_write"] = 1 } },
    },
    {
      name = "crash after copy's call: resume copies again (checkpoints skip done chunks), completes",
      approve = { "freeze-source" },
      crash_after = "copy",
      mocks = good { ["copy.data"] = { sequence = {
        { result = COPIED },
        { result = { tables = COPIED.tables, rows = 0, bytes = 0, chunks_skipped = 4, sequences = 2,
                     verified = true, format = "binary", jobs = 2, ms = 30, rows_per_s = 0,
                     post_data = COPIED.post_data } } } } },
      expect = { exit = 0, steps = ALL, call_count = { ["copy.data"] = 2 } },
    },
    {
      name = "crash before source-read-only's call: idempotent, resume runs it and completes",
      approve = { "freeze-source" },
      crash = { before_call = "source-read-only" },
      mocks = good(),
      expect = { exit = 0, steps = ALL, call_count = { ["pg.set_read_only"] = 1 } },
    },
    {
      name = "crash between data-verified's checks: resume evaluates the whole gate again",
      approve = { "freeze-source" },
      crash = { in_gate = "data-verified", nth = 2 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, gates = { ["data-verified"] = true },
                 checks = { ["data-verified"] = GATE_OK },
                 call_count = { ["copy.data"] = 1, ["checksum.sequences"] = 1 } },
    },
  },
}
