-- logical-cdc-cutover.test.lua - pgmove test for ../logical-cdc-cutover.lua:
-- the happy path (one hour of stable lag in virtual time), each gate
-- failing, the replication-broken breaker, a catch-up timeout, the rollback
-- through the reverse fence, and a crash-resume.

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
  runbook = "../logical-cdc-cutover.lua",
  params = { source = "host=src dbname=app", target = "host=dst dbname=app",
             poll = "10s", stable_for = "1h", rollback_window = "0s" },
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
      name = "crash after the fence's call: idempotent, resume fences again and completes",
      approve = { "cutover", "end-rollback-window" },
      crash_after = "fence",
      mocks = good(),
      expect = { exit = 0, steps = ALL },
      check = function(r)
        assert(#calls_of(r, "logical.fence") == 2, "fence twice")
      end,
    },
  },
}
