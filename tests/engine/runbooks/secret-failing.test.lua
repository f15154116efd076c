-- secret-failing.test.lua - failures of pgmove test whose messages show
-- arguments: the password in a conninfo is masked in them
-- (tests/engine/test_runbook_tests.sh).
return {
  runbook = "../../../scripts/runbooks/pg-copy.lua",
  params = { source = "host=src password=hunter2 dbname=app",
             target = "host=dst password=hunter3 dbname=app" },
  tests = {
    { name = "unmocked call with a password", mocks = {} },
    { name = "wrong arguments with a password",
      mocks = { ["pg.assess"] = { result = { c_functions = {}, warnings = {} } },
                ["pgdump.check"] = { result = {} }, ["pg.query"] = { result = { rows = { { n = 1 } } } } },
      expect = { called_with = { { fn = "pg.query", args = { sql = "SELECT 1" } } } } },
  },
}
