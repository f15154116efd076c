-- tests/dynamodb/copy.lua - one step copying a DynamoDB table into
-- PostgreSQL (dynamodb.copy_to_postgres), for killing pgmove in the middle
-- and resuming from the segments' checkpoints (3 segments, scanned by
-- `workers` threads at once), then verifying.
local ddb = plugin "dynamodb"

runbook "ddb-copy" {
  params = {
    target = { type = "conninfo", env = "PGMOVE_TARGET", secret = true },
    table = { type = "string", default = "orders" },
    page_size = { type = "integer", default = 5 },
    workers = { type = "integer", default = 3 },
  },
}

step "copy" {
  run = function(ctx)
    return ddb.copy_to_postgres { table = ctx.params.table, target = ctx.params.target,
                                  into = "orders_doc", segments = 3,
                                  workers = ctx.params.workers,
                                  page_size = ctx.params.page_size }
  end,
}

step "verify" {
  run = function(ctx)
    return ddb.verify { table = ctx.params.table, target = ctx.params.target, into = "orders_doc" }
  end,
}
