-- refused.lua - engine test of issue 16 item 21: a gate whose check
-- connects to a server that refuses connections fails within the gate's
-- timeout, and the retries are visible.
local pg = plugin "pg"

runbook "refused" {
  summary = "engine test: a gate check against a refused port",
  params = { port = { type = "string", required = true } },
}

gate "reachable" {
  timeout = "3s",
  check("server answers", function(ctx)
    local r = pg.query { conninfo = "host=127.0.0.1 port=" .. ctx.params.port .. " dbname=x user=x",
                         sql = "select 1" }
    return true, r
  end),
}
