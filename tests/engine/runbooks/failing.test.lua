-- failing.test.lua - tests that must fail: pgmove test reports each
-- (tests/engine/test_pgmove_test.sh checks the messages).
return {
  runbook = "virtual.lua",
  tests = {
    {
      name = "unmocked",
      mocks = { ["testplug.count"] = { result = { count = 1 } } },
      expect = { exit = 0 },
    },
    {
      name = "wrong exit",
      mocks = { ["testplug.count"] = { error = { code = "x.y", message = "no" } } },
      expect = { exit = 0 },
    },
    {
      name = "called when it must not be",
      mocks = { ["testplug.count"] = { result = { count = 1 } },
                ["testplug.read"] = { result = { value = "1", number = 1 } },
                ["testplug.echo"] = { result = { value = "x" } } },
      expect = { not_called = { "testplug.echo" } },
    },
    {
      name = "check raises",
      mocks = { ["testplug.count"] = { error = { code = "x.y", message = "no" } } },
      check = function(r) assert(r.exit == 0, "exit was " .. r.exit) end,
    },
  },
}
