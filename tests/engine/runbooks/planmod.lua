-- planmod.lua - a module of plan.lua: its plugin calls are not shown by plan.
local t = plugin "testplug"
local M = {}
function M.work(ctx) return t.destroy { file = "module" } end
return M
