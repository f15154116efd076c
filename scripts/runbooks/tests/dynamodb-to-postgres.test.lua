-- dynamodb-to-postgres.test.lua - pgmove test for ../dynamodb-to-postgres.lua:
-- four virtual days of happy path (24 h of dual writing, three 24 h read
-- stages), the approvals missing and denied, each gate (and check) failing,
-- the app-errors breaker rolling the shift back, an explicit rollback, and
-- crash-resumes (the copy, the backup with an operator's decision, inside
-- the dual-write wait).

local ALL = { "connections", "backup", "schema", "stream", "copy", "catch-up", "dual-write-on",
              "reads-10", "reads-50", "reads-100", "dual-write-off", "final-catch-up" }
local BEFORE_SHIFT = { "connections", "backup", "schema", "stream", "copy", "catch-up",
                       "dual-write-on" }
local H = 3600 * 1000
local FLAGS = "https://flags.test/api/flags"

-- results in the shapes doc/plugins-dynamodb.md and doc/plugins-notify.md give
local TABLE = { name = "orders", status = "ACTIVE", billing_mode = "PAY_PER_REQUEST",
                arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
                keys = { { name = "pk", role = "HASH", type = "S" }, { name = "sk", role = "RANGE", type = "N" } },
                item_count = 1200, size_bytes = 380000, stream = { enabled = false } }
local BACKUP = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/backup/01767225600000-abcd1234",
                 name = "pgmove-orders-test", status = "AVAILABLE", size_bytes = 380000, table = "orders" }
local CAUGHT_UP = { caught_up = true, records = 3, inserts = 2, modifies = 1, removes = 0, shards = 2,
                    closed_shards = 0, expired_iterators = 0, batches = 1, newest_age_s = 2,
                    positions = { ["shardId-00000001767225600000-0001"] = "49650000000000000000000001" },
                    duration_ms = 40 }
local EQUAL = { equal = true, items = 1200, differences = 0, missing_count = 0, changed_count = 0,
                extra_count = 0, unconvertible_count = 0, missing = {}, changed = {}, extra = {},
                unconvertible = {}, duration_ms = 900 }
local DIFFER = { equal = false, items = 1200, differences = 2, missing_count = 1, changed_count = 1,
                 extra_count = 0, unconvertible_count = 0, missing = { { pk = "o#17", sk = 1 } },
                 changed = { { pk = "o#20", sk = 1 } }, extra = {}, unconvertible = {}, duration_ms = 900 }

-- a flag service: flag_set returns what the flag held before (per process)
local function flag_service()
  local flags = {}
  return function(args)
    local prev = flags[args.url]
    flags[args.url] = args.value
    return { url = args.url, value = args.value, previous = prev, changed = prev ~= args.value,
             etag = "\"v1\"" }
  end
end

local function good(over)
  local m = {
    ["pg.query"] = { result = { rows = { { version = "PostgreSQL 15.4" } } } },
    ["pg.exec"] = { result = { status = "CREATE TABLE" } },
    ["dynamodb.describe_table"] = { result = TABLE },
    ["dynamodb.backup"] = { result = BACKUP },
    ["dynamodb.describe_backup"] = { result = BACKUP },
    ["dynamodb.enable_stream"] = { result = { table = "orders", view_type = "NEW_AND_OLD_IMAGES", adopted = false,
                                              arn = TABLE.arn .. "/stream/2026-01-01T00:00:00.000" } },
    ["dynamodb.copy_to_postgres"] = { result = { table = "orders", into = "orders", items = 1200, copied_now = 1200,
                                                 misfits = 0, pages = 2, segments = 4, resumed = false,
                                                 read_capacity_used = 0, duration_ms = 5000 } },
    ["dynamodb.catch_up"] = { result = CAUGHT_UP },
    ["dynamodb.verify"] = { result = EQUAL },
    ["http.health"] = { result = { ok = true, status = 200, reason = "200 OK" } },
    ["http.flag_set"] = flag_service(),
  }
  for k, v in pairs(over or {}) do m[k] = v end
  return m
end

local function flag_values(r, flag)
  local v = {}
  for _, c in ipairs(r.calls) do
    if c.fn == "http.flag_set" and c.args.url == FLAGS .. "/" .. flag then v[#v + 1] = tostring(c.args.value) end
  end
  return table.concat(v, ",")
end

local BOTH = { "start-traffic-shift", "cleanup" }

return {
  runbook = "../dynamodb-to-postgres.lua",
  params = { table = "orders", region = "eu-west-1", target = "host=aurora dbname=app user=app",
             flags_url = FLAGS, app_health = "https://app.test/health", poll = "5m" },
  tests = {
    {
      name = "happy path: 24 h of dual writing, reads 10 -> 50 -> 100 % for 24 h each, cleanup",
      approve = BOTH,
      mocks = good(),
      expect = { exit = 0, status = "completed", steps = ALL, breakers = {},
                 gates = { ["copy-verified"] = true, ["dual-write-verified"] = true,
                           ["final-verification"] = true },
                 checks = { ["final-verification"] = { ["every item equal (final)"] = true,
                                                       ["the DynamoDB backup is AVAILABLE"] = true } },
                 call_count = { ["dynamodb.copy_to_postgres"] = 1, ["dynamodb.backup"] = 1,
                                ["dynamodb.verify"] = 3 },
                 called_with = {
                   { fn = "dynamodb.backup", args = { table = "orders", name = "pgmove-orders-test" } },
                   { fn = "dynamodb.describe_backup", args = { arn = BACKUP.arn } },
                   { fn = "dynamodb.copy_to_postgres", args = { table = "orders", into = "orders",
                                                                schema = "public", segments = 4 } },
                   { fn = "dynamodb.catch_up", args = { from = CAUGHT_UP.positions }, node = "final-catch-up" },
                 },
                 min_virtual = "96h", max_virtual = "97h" },
      check = function(r)
        assert(flag_values(r, "dual-write") == "true,false", "dual-write: " .. flag_values(r, "dual-write"))
        assert(flag_values(r, "postgres-read-pct") == "10,50,100", "reads: " .. flag_values(r, "postgres-read-pct"))
        -- the stream is enabled before the copy starts
        local stream, copy
        for i, c in ipairs(r.calls) do
          if c.fn == "dynamodb.enable_stream" then stream = i end
          if c.fn == "dynamodb.copy_to_postgres" then copy = i end
        end
        assert(stream < copy, "stream enabled before the copy")
        for _, c in ipairs(r.calls) do
          if c.fn == "pg.exec" then
            assert(c.args.sql[1]:find('"pk" text NOT NULL, "sk" numeric NOT NULL, "item" jsonb NOT NULL, PRIMARY KEY ("pk", "sk")', 1, true),
                   "table: " .. c.args.sql[1])
          end
        end
      end,
    },
    {
      name = "no approval: the run pauses after 24 h of stable dual writing",
      mocks = good(),
      expect = { exit = 3, status = "paused", steps = BEFORE_SHIFT,
                 nodes = { ["dual-write-stable"] = "succeeded", ["start-traffic-shift"] = "waiting" },
                 min_virtual = "24h", max_virtual = "25h" },
      check = function(r) assert(flag_values(r, "postgres-read-pct") == "", "no read flag moved") end,
    },
    {
      name = "start-traffic-shift denied: the run fails, reads stay on DynamoDB",
      mocks = good(),
      script = { { deny = "start-traffic-shift", by = "sre-oncall", comment = "error budget spent" }, "resume" },
      expect = { exit = 1, status = "failed", steps = BEFORE_SHIFT,
                 nodes = { ["start-traffic-shift"] = "denied" } },
      check = function(r)
        assert(flag_values(r, "postgres-read-pct") == "", "no read flag moved")
        for _, e in ipairs(r.events) do
          if e.ev == "approve.denied" then
            assert(e.by == "sre-oncall" and e.comment == "error budget spent", "denial recorded")
            return
          end
        end
        error("no approve.denied")
      end,
    },
    {
      name = "cleanup denied: dual writing stays on, the stream is still read",
      approve = { "start-traffic-shift" },
      mocks = good(),
      script = { { deny = "cleanup", by = "app-owner" }, "resume" },
      expect = { exit = 1, nodes = { cleanup = "denied", ["dual-write-off"] = "pending" } },
      check = function(r) assert(flag_values(r, "dual-write") == "true", "dual-write: " .. flag_values(r, "dual-write")) end,
    },
    {
      name = "gate copy-verified fails: halt before dual writing",
      approve = BOTH,
      mocks = good { ["dynamodb.verify"] = { result = DIFFER } },
      expect = { exit = 4, status = "halted", steps = { "connections", "backup", "schema", "stream", "copy", "catch-up" },
                 gates = { ["copy-verified"] = false }, not_called = { "http.flag_set" } },
    },
    {
      name = "gate dual-write-verified fails after the dual-write period: halt before the shift",
      approve = BOTH,
      mocks = good { ["dynamodb.verify"] = { sequence = { { result = EQUAL }, { result = DIFFER } } } },
      expect = { exit = 4, steps = BEFORE_SHIFT, gates = { ["copy-verified"] = true, ["dual-write-verified"] = false },
                 min_virtual = "24h" },
      check = function(r) assert(flag_values(r, "postgres-read-pct") == "", "no read flag moved") end,
    },
    {
      name = "gate final-verification fails on items: halt after cleanup",
      approve = BOTH,
      mocks = good { ["dynamodb.verify"] = { sequence = { { result = EQUAL }, { result = EQUAL }, { result = DIFFER } } } },
      expect = { exit = 4, steps = ALL,
                 checks = { ["final-verification"] = { ["every item equal (final)"] = false,
                                                       ["the DynamoDB backup is AVAILABLE"] = true } } },
    },
    {
      name = "gate final-verification fails on the backup (deleted meanwhile)",
      approve = BOTH,
      mocks = good { ["dynamodb.describe_backup"] = { result = { arn = BACKUP.arn, name = BACKUP.name,
                                                                 status = "DELETED", table = "orders" } } },
      expect = { exit = 4, checks = { ["final-verification"] = { ["every item equal (final)"] = true,
                                                                 ["the DynamoDB backup is AVAILABLE"] = false } } },
    },
    {
      name = "breaker app-errors: unhealthy for 5 minutes at 50 % reads rolls the flags back, newest first",
      approve = BOTH,
      mocks = good { ["http.health"] = function(args, t)
        if t > 49 * H then return { ok = false, status = 503, reason = "503 Service Unavailable" } end
        return { ok = true, status = 200, reason = "200 OK" }
      end },
      expect = { exit = 5, status = "rolled-back", breakers = { "app-errors" },
                 undone = { "reads-50", "reads-10", "dual-write-on" },
                 nodes = { ["reads-100"] = "pending", ["dual-write-off"] = "pending" },
                 called_with = { { fn = "http.flag_set", args = { value = 10, expect = 50 }, node = "reads-50" },
                                 { fn = "http.flag_set", args = { value = false, expect = true }, node = "dual-write-on" } },
                 min_virtual = "49h5m", max_virtual = "49h15m" },
      check = function(r)
        assert(flag_values(r, "postgres-read-pct") == "10,50,10,0", "reads: " .. flag_values(r, "postgres-read-pct"))
      end,
    },
    {
      name = "pgmove rollback after a completed run: every flag put back, newest first",
      approve = BOTH,
      rollback = true,
      mocks = good(),
      expect = { exit = 5, undone = { "dual-write-off", "reads-100", "reads-50", "reads-10", "dual-write-on" } },
      check = function(r)
        assert(flag_values(r, "dual-write") == "true,false,true,false", "dual-write: " .. flag_values(r, "dual-write"))
        assert(flag_values(r, "postgres-read-pct") == "10,50,100,50,10,0", "reads: " .. flag_values(r, "postgres-read-pct"))
      end,
    },
    {
      name = "crash after copy's call: the copy (idempotent, per page) runs again and the run completes",
      approve = BOTH,
      crash_after = "copy",
      mocks = good(),
      expect = { exit = 0, steps = ALL, call_count = { ["dynamodb.copy_to_postgres"] = 2 } },
    },
    {
      name = "crash after backup's call: not idempotent, the operator retries it, the run completes",
      approve = BOTH,
      crash_after = "backup",
      mocks = good(),
      script = { { resolve = "backup", decision = "retry", by = "dba", comment = "first backup never finished" },
                 "resume" },
      expect = { exit = 0, steps = ALL, call_count = { ["dynamodb.backup"] = 2 } },
      check = function(r)
        assert(r.phases[2].action == "resume" and r.phases[2].exit == 3, "paused for a decision")
      end,
    },
    {
      name = "crash after backup's call, resolved as succeeded: the final gate passes on the operator's word, describe_backup not called",
      approve = BOTH,
      crash_after = "backup",
      mocks = good(),
      script = { { resolve = "backup", decision = "succeeded", by = "dba", comment = "backup seen in the console" },
                 "resume" },
      -- the resolved step does not count as run
      expect = { exit = 0, call_count = { ["dynamodb.backup"] = 1, ["dynamodb.describe_backup"] = 0 },
                 steps = { "connections", "schema", "stream", "copy", "catch-up", "dual-write-on", "reads-10",
                           "reads-50", "reads-100", "dual-write-off", "final-catch-up" },
                 checks = { ["final-verification"] = { ["the DynamoDB backup is AVAILABLE"] = true } } },
    },
    {
      name = "crash inside dual-write-stable (poll 100): the resumed wait keeps its stable time",
      approve = BOTH,
      crash = { in_wait = "dual-write-stable", nth = 100 },
      mocks = good(),
      expect = { exit = 0, steps = ALL, min_virtual = "96h", max_virtual = "97h" },
    },
  },
}
