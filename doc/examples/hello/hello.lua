-- hello.lua - the example plugin used from a runbook (doc/plugin-guide.md).
--   PGMOVE_PLUGIN_PATH=. pgmove plan hello.lua -p dir=/tmp
--   PGMOVE_PLUGIN_PATH=. pgmove run  hello.lua -p dir=/tmp
local hello = plugin "hello"

runbook "hello-example" {
  summary = "greet someone, write the greeting to a file, check it",
  params = {
    dir  = { type = "string", required = true, summary = "where greeting.txt goes" },
    name = { type = "string", default = "runbook", summary = "who to greet" },
    url  = { type = "string", summary = "a health URL to check first (optional)" },
  },
}

phase "check"
step "health" {
  -- skipped unless -p url=... is given; a 5xx or a refused connection is a
  -- retryable error, so the engine tries again
  when  = function(ctx) return ctx.params.url ~= nil end,
  retry = { attempts = 3, delay = "2s", backoff = 2 },
  run   = function(ctx) return hello.http_status { url = ctx.params.url, expect = 200 } end,
}

phase "greet"
step "greeting" {
  run = function(ctx) return hello.greet { name = ctx.params.name } end,
}
step "write" {
  run = function(ctx)
    return hello.write_file { path = ctx.params.dir .. "/greeting.txt",
                              content = ctx.outputs.greeting.message .. "\n" }
  end,
  -- undo may call an irreversible function: rollback runs it
  undo = function(ctx, out) hello.delete_file { path = out.path } end,
}
gate "written" {
  check("the file holds the whole greeting", function(ctx)
    return ctx.outputs.write.bytes == ctx.outputs.greeting.length + 1, ctx.outputs.write
  end),
}
