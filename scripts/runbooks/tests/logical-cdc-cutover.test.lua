-- logical-cdc-cutover.test.lua - pgmove test for ../logical-cdc-cutover.lua:
-- the happy path (one hour of stable lag in virtual time), each gate
-- failing, the replication-broken breaker, a catch-up timeout, the rollback
-- through the reverse fence, a crash-resume, and the checksums compared under
-- writes (compare_live) before the fence.

local ALL = { "preflight", "tools", "schema-dump", "schema-restore", "post-data",
              "target-read-only", "publication", "subscription", "analyze", "fence", "reverse",
              "switch", "decommission" }

local function status(over)
  local s = { healthy = true, all_ready = true, tables_ready = 3, tables_total = 3,
              lag_bytes = 100, lag_seconds = 1, slot = { retained_bytes = 1000 }, problems = {} }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end

local function good(over)
  local m = {
    ["logical.preflight"] = { result = { ok = true, warnings = {}, problems = {} } },
    ["pgdump.check"] = { result = { pg_dump = "15.4" } },
    ["pgdump.dump"] = { result = { bytes = 100 } },
    ["pgdump.restore"] = { result = { entries = 5 } },
    ["pgdump.clean"] = { result = {} },
    ["checksum.inventory"] = { result = { equal = true } },
    ["checksum.compare"] = { result = { equal = true, rows_source = 10, rows_target = 10 } },
    ["checksum.sequences"] = { result = { equal = true } },
    ["pg.set_read_only"] = { result = { read_only = true } },
    ["pg.set_read_write"] = { result = { read_only = false } },
    ["pg.analyze"] = { result = {} },
    ["logical.create_publication"] = function(args) return { name = args.name } end,
    ["logical.create_subscription"] = function(args) return { name = args.name } end,
    ["logical.status"] = { result = status() },
    ["logical.fence"] = { result = { lsn = "0/3000000" } },
    ["logical.drop"] = { result = { dropped = true } },
    ["pg.exec"] = { result = { rows_affected = 0 } },
    ["pg.query"] = { result = { rows = { { present = false } } } },
    ["checksum.compare_live"] = { result = { equal = true, differences = 0, rows_source = 10,
                                             mismatches = {},
                                             live = { rechecked = 4, in_flight = 4, unsettled = 0,
                                                      lock = { held_ms_max = 12 } } } },
  }
  for k, v in pairs(over or {}) do m[k] = v end
  return m
end

local LIVE = { "preflight", "tools", "marker-table", "schema-dump", "schema-restore", "post-data",
               "target-read-only", "publication", "subscription", "analyze", "fence", "reverse",
               "switch", "decommission" }

local function calls_of(r, fn)
  local out = {}
  for _, c in ipairs(r.calls) do if c.fn == fn then out[#out + 1] = c end end
  return out
end

return {
  runbook = "../logical-cdc-cutover.lua",
  params = { source = "host=src dbname=app", target = "host=dst dbname=app",
             poll = "10s", stable_for = "1h", rollback_window = "0s", verify_live_for = "0s" },
  tests = {
    {
      name = "happy path: lag stable for an hour of virtual time, fence, switch",
      approve = { "cutover", "end-rollback-window" },
      mocks = good(),
      expect = { exit = 0, steps = ALL, min_virtual = "1h", max_virtual = "1h2m" },
      check = function(r)
        local f = calls_of(r, "logical.fence")
        assert(#f == 1 and f[1].args.publisher == "host=src dbname=app", "one forward fence")
        local ro = calls_of(r, "pg.set_read_only")
        assert(#ro == 1 and ro[1].args.conninfo == "host=dst dbname=app", "target read-only")
      end,
    },
    {
      name = "gate replication-possible fails: halt before any dump",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["logical.preflight"] = { result = { ok = false, warnings = {},
                                                          problems = { "wal_level" } } } },
      expect = { exit = 4, steps = { "preflight" }, not_called = { "pgdump.dump" } },
    },
    {
      name = "gate ready-to-replicate fails on a missing object",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["checksum.inventory"] = { result = { equal = false } } },
      expect = { exit = 4, not_called = { "logical.create_subscription" } },
    },
    {
      name = "gate verified-at-fence fails on checksums: halt, target not switched",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["checksum.compare"] = function(args)
        return { equal = args.counts_only == true, rows_source = 10, rows_target = 10 }
      end },
      expect = { exit = 4, not_called = { "pg.set_read_write" } },
      check = function(r)
        assert(r.steps[#r.steps] == "fence", "last step " .. tostring(r.steps[#r.steps]))
      end,
    },
    {
      name = "breaker replication-broken trips after a minute and pauses",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["logical.status"] = function(args, t)
        if t > 0 then return status { healthy = false, problems = { "no apply worker" } } end
        return status()
      end },
      expect = { exit = 3, not_called = { "logical.fence" }, max_virtual = "5m" },
      check = function(r)
        for _, e in ipairs(r.events) do if e.ev == "breaker.trip" then return end end
        error("no breaker.trip")
      end,
    },
    {
      name = "lag never stable: caught-up times out after 7 days",
      approve = { "cutover", "end-rollback-window" },
      params = { poll = "10m" },
      mocks = good { ["logical.status"] = { result = status { lag_seconds = 60 } } },
      expect = { exit = 1, min_virtual = "7d", max_virtual = "7d1h",
                 not_called = { "logical.fence" } },
    },
    {
      name = "rollback after the switch: reverse fence, source writable, newest first",
      approve = { "cutover" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, undone = { "switch", "reverse", "fence", "subscription", "publication",
                                      "target-read-only", "schema-restore" } },
      check = function(r)
        local f = calls_of(r, "logical.fence")
        assert(#f == 2 and f[2].args.publisher == "host=dst dbname=app", "reverse fence")
      end,
    },
    {
      name = "checksums under writes: the marker table first, compare_live equal for an hour, then the fence",
      approve = { "cutover", "end-rollback-window" },
      params = { verify_live_for = "1h", verify_every = "10m" },
      mocks = good(),
      expect = { exit = 0, steps = LIVE, min_virtual = "2h", max_virtual = "2h15m" },
      check = function(r)
        local m = calls_of(r, "pg.exec")
        assert(#m == 1 and m[1].args.conninfo == "host=src dbname=app" and
               m[1].args.sql == 'CREATE TABLE IF NOT EXISTS "public"."pgmove_marker" (id int PRIMARY KEY, n bigint NOT NULL)',
               "the marker table created on the source: " .. tostring(m[1] and m[1].args.sql))
        local c = calls_of(r, "checksum.compare_live")
        assert(#c >= 7, "compare_live every 10 minutes for an hour: " .. #c)
        assert(c[1].args.marker == "public.pgmove_marker" and c[1].args.target == "host=dst dbname=app",
               "compare_live gets the marker and both servers")
        local order = {}
        for _, x in ipairs(r.calls) do
          if x.fn == "checksum.compare_live" and not order.live then order.live = #order + 1; order[#order + 1] = x.fn end
          if x.fn == "logical.fence" and not order.fence then order.fence = #order + 1; order[#order + 1] = x.fn end
        end
        assert(order.live and order.fence and order.live < order.fence, "compared before the fence")
      end,
    },
    {
      name = "checksums differ under writes: the live wait times out, no fence",
      approve = { "cutover", "end-rollback-window" },
      params = { verify_live_for = "1h", verify_every = "10m", verify_timeout = "3h" },
      mocks = good { ["checksum.compare_live"] = { result = {
        equal = false, differences = 1, rows_source = 10,
        mismatches = { { table = "public.orders", kind = "missing", key = { id = "7" } } },
        live = { rechecked = 1, in_flight = 0, unsettled = 0, lock = { held_ms_max = 0 } } } } },
      expect = { exit = 1, min_virtual = "4h", max_virtual = "4h15m",
                 not_called = { "logical.fence" } },
    },
    {
      name = "a marker that is not schema.table is refused before anything is created",
      approve = { "cutover", "end-rollback-window" },
      params = { verify_live_for = "1h", marker = "public.m; DROP TABLE x" },
      mocks = good(),
      expect = { exit = 1, not_called = { "pg.exec", "pgdump.dump" } },
    },
    {
      name = "rollback with live verification: the marker table is dropped last",
      approve = { "cutover" },
      rollback = true,
      params = { verify_live_for = "1h" },
      mocks = good(),
      expect = { exit = 5, undone = { "switch", "reverse", "fence", "subscription", "publication",
                                      "target-read-only", "schema-restore", "marker-table" } },
      check = function(r)
        local m = calls_of(r, "pg.exec")
        assert(#m == 2 and m[2].args.sql == 'DROP TABLE IF EXISTS "public"."pgmove_marker"', "dropped")
      end,
    },
    {
      name = "a marker table that exists already is used, and kept by a rollback",
      approve = { "cutover" },
      rollback = true,
      params = { verify_live_for = "1h" },
      mocks = good { ["pg.query"] = { result = { rows = { { present = true } } } } },
      expect = { exit = 5, not_called = { "pg.exec" } },
      check = function(r)
        local q = calls_of(r, "pg.query")
        assert(#q == 1 and q[1].args.params[1] == '"public"."pgmove_marker"', "looked it up")
      end,
    },
    {
      name = "crash after the fence's call: idempotent, resume fences again and completes",
      approve = { "cutover", "end-rollback-window" },
      crash_after = "fence",
      mocks = good(),
      expect = { exit = 0, steps = ALL },
      check = function(r)
        assert(#calls_of(r, "logical.fence") == 2, "fence twice")
      end,
    },
    {
      name = "gate ready-to-replicate fails on the second preflight (with the schema in place)",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["logical.preflight"] = { sequence = {
        { result = { ok = true, warnings = {}, problems = {} } },
        { result = { ok = false, warnings = {}, problems = { { check = "replica_identity", side = "publisher",
                                                              detail = "public.log has no key", fix = "add a key" } } } } } } },
      expect = { exit = 4, status = "halted", gates = { ["replication-possible"] = true, ["ready-to-replicate"] = false },
                 checks = { ["ready-to-replicate"] = { ["preflight found no problem"] = false,
                                                       ["the target has every object of the source"] = true } },
                 not_called = { "logical.create_publication" } },
    },
    {
      name = "gate verified-at-fence fails on row counts",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["checksum.compare"] = function(args)
        return { equal = not args.counts_only, rows_source = 10, rows_target = 9, mismatches = {} }
      end },
      expect = { exit = 4, checks = { ["verified-at-fence"] = { ["row counts match"] = false,
                                                               ["content checksums match"] = true } },
                 not_called = { "pg.set_read_write" } },
    },
    {
      name = "gate verified-at-fence fails when DDL slipped in after the first inventory",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["checksum.inventory"] = { sequence = {
        { result = { equal = true } }, { result = { equal = false, missing = { "column public.t.c" } } } } } },
      expect = { exit = 4, checks = { ["verified-at-fence"] = {
                   ["no DDL slipped in: the target has every object of the source"] = false } },
                 not_called = { "pg.set_read_write" } },
    },
    {
      name = "gate verified-at-fence fails on sequences",
      approve = { "cutover", "end-rollback-window" },
      mocks = good { ["checksum.sequences"] = { result = { equal = false, behind = { "public.t_id_seq" } } } },
      expect = { exit = 4, checks = { ["verified-at-fence"] = { ["target sequences at least the source's"] = false } },
                 called_with = { { fn = "checksum.sequences", args = { target_ahead_ok = true } } },
                 not_called = { "pg.set_read_write" } },
    },
    {
      name = "cutover denied: no fence, the target never takes writes",
      mocks = good(),
      script = { { deny = "cutover", by = "cab", comment = "change freeze" }, "resume" },
      expect = { exit = 1, status = "failed", nodes = { cutover = "denied", fence = "pending" },
                 not_called = { "logical.fence", "pg.set_read_write" } },
    },
    {
      name = "the 90-day rollback window is enforced: decommission refused until 90 virtual days passed",
      approve = { "cutover", "end-rollback-window" },
      params = { rollback_window = "90d" },
      mocks = good(),
      script = { { advance = "89d" }, { resume = true, exit = 1 }, { advance = "1d" }, "resume" },
      expect = { exit = 0, status = "completed", steps = ALL, min_virtual = "90d", max_virtual = "90d2h" },
      check = function(r)
        assert(r.phases[1].exit == 1, "the first run stops at decommission")
        local refusals = 0
        for _, e in ipairs(r.events) do
          if e.ev == "step.failed" and e.node == "decommission" then
            assert(e.error.message:find("rollback window (90d)", 1, true), e.error.message)
            refusals = refusals + 1
          end
        end
        assert(refusals == 2, "refused twice: " .. refusals)
        assert(#calls_of(r, "logical.drop") == 2, "forward drop, then the reverse one once")
      end,
    },
    {
      name = "crash inside caught-up (poll 5): the resumed wait goes on, the run completes",
      approve = { "cutover", "end-rollback-window" },
      crash = { in_wait = "caught-up", nth = 5 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, call_count = { ["logical.create_subscription"] = 2 } },
    },
    {
      name = "crash between verified-at-fence's checks: the gate runs again, the fence once",
      approve = { "cutover", "end-rollback-window" },
      crash = { in_gate = "verified-at-fence", nth = 2 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, gates = { ["verified-at-fence"] = true },
                 call_count = { ["logical.fence"] = 1 } },
    },
    {
      name = "crash during the rollback after switch's reverse fence: resume fences again, source writable",
      approve = { "cutover" },
      crash = { in_rollback = "switch" },
      rollback = true,
      mocks = good(),
      expect = { exit = 5, status = "rolled-back",
                 undone = { "switch", "reverse", "fence", "subscription", "publication",
                            "target-read-only", "schema-restore" },
                 call_count = { ["logical.fence"] = 3 },
                 called_with = { { fn = "pg.set_read_write", args = { conninfo = "host=src dbname=app" }, node = "switch" } } },
    },
  },
}
