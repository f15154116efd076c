-- core/engine/prelude.lua - the runbook language: the functions a runbook calls
-- to declare itself (runbook, plugin, phase, step, wait, gate, check,
-- approve, breaker). Compiled into pgmove by a make rule; run once per
-- runbook, before the runbook file, with one argument: a table of the C
-- functions it needs (call, plugin_info, check_config, duration, resolve_params,
-- getinfo and getupvalue: debug.getinfo and debug.getupvalue, which
-- runbook code itself does not get).
--
-- Declaring has no side effects: nothing here talks to a plugin except to
-- read its function table. What the engine needs is left in the table
-- returned by the chunk (decl), which the C side reads.

local C = ...
local json, getinfo, getupvalue = json, C.getinfo, C.getupvalue
C.getinfo, C.getupvalue = nil, nil
-- what effects_of reads after the runbook ran, as they were before it
local G, raw_get, raw_next = _G, rawget, next

local decl = {
  runbook = nil,     -- { name, summary, params, on_failure, loc }
  nodes = {},        -- steps, waits, gates, approvals in order
  byname = {},       -- name -> node
  breakers = {},
  phases = {},       -- phase names in order
  plugins = {},      -- name -> { alias functions }
  plugin_config = {}, -- name -> the table of `plugin "name" { ... }`
}
local current_phase = nil
local pending = nil  -- a `step "x"` whose body table has not come yet

-- where(level) - "file:line" of the code level levels up; the file as
-- given (short_src would cut a long path to "...tail").
local function where(level)
  local info = getinfo(level + 1, "Sl")
  if not info then return "?" end
  local file = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
  return file .. ":" .. (info.currentline or 0)
end

local function fail(loc, fmt, ...)
  error(loc .. ": " .. string.format(fmt, ...), 0)
end

local function check_pending(loc)
  if pending then
    local p = pending
    pending = nil
    fail(p.loc, "%s '%s' has no body: write %s \"%s\" { ... }", p.kind, p.name, p.kind, p.name)
  end
end

local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return table.concat(ks, ", ")
end

-- field checkers: each returns the converted value or raises
local function want(loc, what, field, v, kind, optional)
  if v == nil then
    if optional then return nil end
    fail(loc, "%s: field '%s' is required", what, field)
  end
  if kind == "duration" then
    if type(v) ~= "string" and type(v) ~= "number" then
      fail(loc, "%s: field '%s' must be a duration like \"30s\", \"5m\", \"2h\"", what, field)
    end
    local ok, ms = pcall(C.duration, v)
    if not ok then fail(loc, "%s: field '%s': %s", what, field, ms) end
    return ms
  end
  if type(v) ~= kind then
    fail(loc, "%s: field '%s' must be a %s, not a %s", what, field, kind, type(v))
  end
  return v
end

local function check_fields(loc, what, spec, allowed)
  if type(spec) ~= "table" then
    fail(loc, "%s: expected a table { ... }, got a %s", what, type(spec))
  end
  for k in pairs(spec) do
    if type(k) == "string" and not allowed[k] then
      fail(loc, "%s: unknown field '%s' (fields: %s)", what, k, keys_of(allowed))
    end
  end
end

local function check_name(loc, kind, name)
  if type(name) ~= "string" or not name:match("^[%w][%w%._%-]*$") or #name > 100 then
    fail(loc, "%s name %s: use letters, digits, '.', '_' and '-' (at most 100)", kind,
         type(name) == "string" and ("'" .. name .. "'") or ("of type " .. type(name)))
  end
end

local function add_node(node)
  if not decl.runbook then
    fail(node.loc, "%s '%s' comes before runbook \"name\" { ... }", node.kind, node.name)
  end
  local prev = decl.byname[node.name]
  if prev then
    fail(node.loc, "name '%s' is used twice: %s at %s and %s here", node.name, prev.kind, prev.loc,
         node.kind)
  end
  node.phase = current_phase
  node.index = #decl.nodes + 1
  decl.nodes[node.index] = node
  decl.byname[node.name] = node
end

-- declare(kind, allowed, build) - returns the function a runbook calls as
-- kind "name" { ... }.
local function declare(kind, allowed, build)
  return function(name)
    -- level 3: the runbook line that wrote kind "name", through step(),
    -- wait(), ... which call this function
    local loc = where(3)
    check_pending(loc)
    check_name(loc, kind, name)
    local me = { kind = kind, name = name, loc = loc }
    pending = me
    return function(spec)
      pending = nil
      local what = string.format("%s '%s'", kind, name)
      check_fields(loc, what, spec, allowed)
      local node = build(loc, what, spec, name)
      node.kind, node.name, node.loc = kind, name, loc
      node.summary = want(loc, what, "summary", spec.summary, "string", true)
      return node
    end
  end
end

local ON_FAIL = { halt = true, rollback = true, ["continue"] = true }
local function choice(loc, what, field, v, set, default)
  if v == nil then return default end
  if type(v) ~= "string" or not set[v] then
    fail(loc, "%s: field '%s' must be one of %s", what, field, keys_of(set))
  end
  return v
end

function runbook(name)
  local loc = where(2)
  check_pending(loc)
  if decl.runbook then
    fail(loc, "runbook is declared twice (first at %s)", decl.runbook.loc)
  end
  check_name(loc, "runbook", name)
  return function(spec)
    local what = string.format("runbook '%s'", name)
    check_fields(loc, what, spec, { summary = 1, params = 1, on_failure = 1, description = 1 })
    local rb = { name = name, loc = loc }
    rb.summary = want(loc, what, "summary", spec.summary, "string", true)
    rb.description = want(loc, what, "description", spec.description, "string", true)
    rb.params = want(loc, what, "params", spec.params, "table", true) or {}
    for pname, p in pairs(rb.params) do
      if type(pname) ~= "string" or type(p) ~= "table" then
        fail(loc, "%s: params must be name = { type = ..., ... }", what)
      end
    end
    local of = spec.on_failure
    if of ~= nil and type(of) ~= "function" then
      of = choice(loc, what, "on_failure", of, { halt = true, rollback = true })
    end
    rb.on_failure = of or "halt"
    decl.runbook = rb
    -- the values as the run will see them, so declarations can use them
    -- (every = params.poll); while a required one is missing (plan), the
    -- defaults
    local ok, values = pcall(C.resolve_params, rb.params)
    if not ok then fail(loc, "%s", values) end
    if values == nil then
      values = {}
      for k, p in pairs(rb.params) do values[k] = p.default end
    end
    params = setmetatable({}, {
      __index = values,
      __newindex = function() error("params is read-only", 2) end,
      __pairs = function() return next, values, nil end,
    })
  end
end

function phase(name)
  local loc = where(2)
  check_pending(loc)
  check_name(loc, "phase", name)
  for _, p in ipairs(decl.phases) do
    if p == name then fail(loc, "phase '%s' is declared twice", name) end
  end
  decl.phases[#decl.phases + 1] = name
  current_phase = name
end

local step_decl = declare("step", {
  run = 1, undo = 1, retry = 1, timeout = 1, idempotent = 1, irreversible = 1,
  recovery = 1, when = 1, summary = 1,
}, function(loc, what, spec)
  local n = {}
  n.run = want(loc, what, "run", spec.run, "function")
  n.undo = want(loc, what, "undo", spec.undo, "function", true)
  n.when = want(loc, what, "when", spec.when, "function", true)
  n.timeout_ms = want(loc, what, "timeout", spec.timeout, "duration", true)
  n.idempotent = want(loc, what, "idempotent", spec.idempotent, "boolean", true)
  n.irreversible = want(loc, what, "irreversible", spec.irreversible, "boolean", true) or false
  n.recovery = want(loc, what, "recovery", spec.recovery, "string", true)
  if n.irreversible and not n.recovery then
    fail(loc, "%s is irreversible but names no recovery step: add recovery = \"<an earlier step>\"",
         what)
  end
  if n.recovery and not n.irreversible then
    fail(loc, "%s names a recovery step but is not irreversible = true", what)
  end
  local r = spec.retry
  n.retry = { attempts = 1, delay_ms = 0, backoff = 1.0, max_delay_ms = nil, all_errors = false }
  if r ~= nil then
    if type(r) == "number" then r = { attempts = r } end
    check_fields(loc, what .. " retry", r,
                 { attempts = 1, delay = 1, backoff = 1, max_delay = 1, all_errors = 1 })
    local a = want(loc, what, "retry.attempts", r.attempts, "number", true) or 1
    if math.type(a) ~= "integer" or a < 1 or a > 1000 then
      fail(loc, "%s: retry.attempts must be a whole number from 1 to 1000", what)
    end
    n.retry.attempts = a
    n.retry.delay_ms = want(loc, what, "retry.delay", r.delay, "duration", true) or 0
    n.retry.backoff = want(loc, what, "retry.backoff", r.backoff, "number", true) or 1.0
    if not (n.retry.backoff >= 1 and n.retry.backoff <= 100) then
      fail(loc, "%s: retry.backoff must be a number from 1 to 100", what)
    end
    n.retry.max_delay_ms = want(loc, what, "retry.max_delay", r.max_delay, "duration", true)
    n.retry.all_errors = want(loc, what, "retry.all_errors", r.all_errors, "boolean", true) or false
  end
  return n
end)

function step(name)
  local body = step_decl(name)
  return function(spec) add_node(body(spec)) end
end

local wait_decl = declare("wait", {
  every = 1, timeout = 1, stable_for = 1, condition = 1, on_timeout = 1, summary = 1,
}, function(loc, what, spec)
  local n = {}
  n.condition = want(loc, what, "condition", spec.condition, "function")
  n.every_ms = want(loc, what, "every", spec.every, "duration", true) or 30000
  if n.every_ms < 10 then fail(loc, "%s: every must be at least 10ms", what) end
  n.timeout_ms = want(loc, what, "timeout", spec.timeout, "duration", true)
  n.stable_for_ms = want(loc, what, "stable_for", spec.stable_for, "duration", true) or 0
  if n.timeout_ms and n.stable_for_ms > n.timeout_ms then
    fail(loc, "%s: stable_for (%s) is longer than timeout (%s): the wait could never succeed",
         what, tostring(spec.stable_for), tostring(spec.timeout))
  end
  n.on_timeout = choice(loc, what, "on_timeout", spec.on_timeout,
                        { fail = true, halt = true, rollback = true }, "fail")
  return n
end)

function wait(name)
  local body = wait_decl(name)
  return function(spec) add_node(body(spec)) end
end

function check(name, fn)
  local loc = where(2)
  if type(name) ~= "string" or name == "" then
    fail(loc, "check: the first argument is the check's name, a non-empty string")
  end
  if type(fn) ~= "function" then
    fail(loc, "check '%s': the second argument must be a function(ctx) returning ok, detail", name)
  end
  return setmetatable({ name = name, fn = fn, loc = loc }, { __name = "pgmove.check" })
end

local gate_decl = declare("gate", { on_fail = 1, summary = 1, timeout = 1 }, function(loc, what, spec)
  local n = { checks = {} }
  n.timeout_ms = want(loc, what, "timeout", spec.timeout, "duration", true)
  local seen = {}
  for i, c in ipairs(spec) do
    if getmetatable(c) == nil or getmetatable(c).__name ~= "pgmove.check" then
      fail(loc, "%s: item %d is not a check(\"name\", function(ctx) ... end)", what, i)
    end
    if seen[c.name] then fail(c.loc, "%s: check '%s' appears twice", what, c.name) end
    seen[c.name] = true
    n.checks[i] = c
  end
  for k in pairs(spec) do
    if type(k) ~= "string" and (math.type(k) ~= "integer" or k < 1 or k > #spec) then
      fail(loc, "%s: unexpected item %s", what, tostring(k))
    end
  end
  if #n.checks == 0 then fail(loc, "%s has no check(...)", what) end
  n.on_fail = choice(loc, what, "on_fail", spec.on_fail, ON_FAIL, "halt")
  return n
end)

function gate(name)
  local body = gate_decl(name)
  return function(spec) add_node(body(spec)) end
end

local approve_decl = declare("approve", { prompt = 1, approvers = 1, summary = 1 },
function(loc, what, spec)
  local n = {}
  n.prompt = want(loc, what, "prompt", spec.prompt, "string", true) or ("Approve " .. what .. "?")
  n.approvers = want(loc, what, "approvers", spec.approvers, "table", true)
  if n.approvers then
    if next(n.approvers) == nil then
      fail(loc, "%s: approvers is empty: nobody could approve (leave it out to let anyone approve)",
           what)
    end
    for k in pairs(n.approvers) do
      if math.type(k) ~= "integer" or k < 1 or k > #n.approvers then
        fail(loc, "%s: approvers must be a list of names { \"alice\", \"bob\" }", what)
      end
    end
    for i, a in ipairs(n.approvers) do
      if type(a) ~= "string" then fail(loc, "%s: approvers[%d] must be a string", what, i) end
    end
  end
  return n
end)

function approve(name)
  local body = approve_decl(name)
  return function(spec) add_node(body(spec)) end
end

local breaker_decl = declare("breaker", {
  condition = 1, sustained = 1, every = 1, action = 1, on_trip = 1, during = 1, summary = 1,
}, function(loc, what, spec)
  local n = {}
  n.condition = want(loc, what, "condition", spec.condition, "function")
  n.sustained_ms = want(loc, what, "sustained", spec.sustained, "duration", true) or 0
  n.every_ms = want(loc, what, "every", spec.every, "duration", true)
  n.action = choice(loc, what, "action", spec.action,
                    { pause = true, rollback = true, fail = true, alert = true }, "pause")
  n.on_trip = want(loc, what, "on_trip", spec.on_trip, "function", true)
  local d = want(loc, what, "during", spec.during, "table", true)
  if d then
    n.during = {}
    for i, x in ipairs(d) do
      if type(x) ~= "string" then fail(loc, "%s: during[%d] must be a phase or wait name", what, i) end
      n.during[#n.during + 1] = x
    end
  end
  return n
end)

function breaker(name)
  local body = breaker_decl(name)
  return function(spec)
    local b = body(spec)
    for _, o in ipairs(decl.breakers) do
      if o.name == b.name then fail(b.loc, "breaker '%s' is declared twice", b.name) end
    end
    decl.breakers[#decl.breakers + 1] = b
  end
end

-- notify { on = {...}, pagerduty = {...}, slack = {...}, webhook = {...},
-- mail = {...}, log = true } - where run events go. May be given several
-- times (one rule per call). A target that is nil or false is off, so a
-- runbook writes pagerduty = params.pd_key and { routing_key = params.pd_key }.
-- The targets (with their secrets) stay in decl.notify for core/engine/
-- notify.c; the plan (journaled) only names the events and target kinds.
local NOTIFY_EVENTS = {
  ["run.started"] = 1, ["run.completed"] = 1, ["run.failed"] = 1, ["run.paused"] = 1,
  ["step.failed"] = 1, ["gate.failed"] = 1, ["approval.needed"] = 1, ["breaker.tripped"] = 1,
  ["rollback.started"] = 1, ["rollback.finished"] = 1, ["wait.timeout"] = 1,
  ["step.succeeded"] = 1,
}
local NOTIFY_DEFAULT = { "run.failed", "step.failed", "gate.failed", "approval.needed",
                         "breaker.tripped", "rollback.started", "rollback.finished", "wait.timeout" }
local NOTIFY_TARGETS = {
  pagerduty = { fields = { routing_key = "string", severity = "string", source = "string",
                           url = "string", component = "string", group = "string",
                           class = "string" }, required = { "routing_key" } },
  slack = { fields = { url = "string", channel = "string", username = "string" },
            required = { "url" } },
  webhook = { fields = { url = "string", headers = "table", token = "string" },
              required = { "url" } },
  mail = { fields = { server = "string", from = "string", to = "any", cc = "any",
                      username = "string", password = "string", starttls = "string",
                      ca_file = "string" },
           required = { "server", "from", "to" } },
}
decl.notify = {}
function notify(spec)
  local loc = where(2)
  check_pending(loc)
  if not decl.runbook then fail(loc, "notify comes before runbook \"name\" { ... }") end
  check_fields(loc, "notify", spec, { on = 1, pagerduty = 1, slack = 1, webhook = 1, mail = 1,
                                      log = 1, timeout = 1, steps = 1 })
  local rule = { on = {}, targets = {}, loc = loc }
  local on = want(loc, "notify", "on", spec.on, "table", true) or NOTIFY_DEFAULT
  for i, ev in ipairs(on) do
    if type(ev) ~= "string" or not NOTIFY_EVENTS[ev] then
      fail(loc, "notify: on[%d] '%s' is not an event (events: %s)", i, tostring(ev),
           keys_of(NOTIFY_EVENTS))
    end
    rule.on[#rule.on + 1] = ev
  end
  -- steps = {...}: the steps whose step.succeeded this rule announces (a
  -- migration's milestones, e.g. the cutover); without it, every step's
  local steps = want(loc, "notify", "steps", spec.steps, "table", true)
  if steps then
    local listed = false
    for _, ev in ipairs(rule.on) do listed = listed or ev == "step.succeeded" end
    if not listed then
      fail(loc, "notify: steps names the steps whose step.succeeded is sent, but on does not list step.succeeded")
    end
    rule.steps = {}
    for i, name in ipairs(steps) do
      if type(name) ~= "string" or name == "" then
        fail(loc, "notify: steps[%d] must be a step name", i)
      end
      rule.steps[i] = name
    end
    if #rule.steps == 0 then fail(loc, "notify: steps is empty (leave it out to announce every step)") end
  end
  rule.timeout_ms = want(loc, "notify", "timeout", spec.timeout, "duration", true) or 30000
  for kind, t in pairs(NOTIFY_TARGETS) do
    local cfg = spec[kind]
    if cfg ~= nil and cfg ~= false then
      local what = "notify " .. kind
      check_fields(loc, what, cfg, t.fields)
      for f, ty in pairs(t.fields) do
        if cfg[f] ~= nil and ty ~= "any" and type(cfg[f]) ~= ty then
          fail(loc, "%s: field '%s' must be a %s, not a %s", what, f, ty, type(cfg[f]))
        end
      end
      for _, f in ipairs(t.required) do
        if cfg[f] == nil then fail(loc, "%s: field '%s' is required", what, f) end
      end
      local copy = {}
      for k, v in pairs(cfg) do copy[k] = v end
      rule.targets[#rule.targets + 1] = { kind = kind, config = copy }
    end
  end
  if spec.log ~= nil and spec.log ~= false then
    want(loc, "notify", "log", spec.log, "boolean")
    rule.targets[#rule.targets + 1] = { kind = "log", config = {} }
  end
  table.sort(rule.targets, function(a, b) return a.kind < b.kind end)
  decl.notify[#decl.notify + 1] = rule
end

-- plugin "name" - a proxy whose fields are the plugin's functions.
local proxies = {}
local proxy_fns = setmetatable({}, { __mode = "k" }) -- proxy function -> { plugin, fname }
function plugin(name)
  local loc = where(2)
  if type(name) ~= "string" then fail(loc, "plugin: expected a plugin name") end
  if proxies[name] then return proxies[name] end
  local ok, info = pcall(C.plugin_info, name)
  if not ok then fail(loc, "%s", info) end
  decl.plugins[name] = info
  local cache = {}
  local proxy = setmetatable({}, {
    __name = "pgmove.plugin",
    __index = function(_, fname)
      local f = cache[fname]
      if f then return f end
      if not info.functions[fname] then
        error(string.format("plugin %s has no function '%s' (functions: %s)", name,
                            tostring(fname), keys_of(info.functions)), 2)
      end
      f = function(args)
        if args == nil then args = {} end
        return C.call(name, fname, args)
      end
      cache[fname] = f
      proxy_fns[f] = { name, fname }
      return f
    end,
    __newindex = function() error("plugin " .. name .. " is read-only", 2) end,
    __tostring = function() return "plugin " .. name end,
    -- plugin "name" { key = value, ... }: the plugin's configuration for the
    -- run, given to its configure function once per process
    __call = function(self, cfg)
      local cloc = where(2)
      if type(cfg) ~= "table" then
        fail(cloc, "plugin %s { ... }: the configuration must be a table", name)
      end
      if not info.configurable then
        fail(cloc, "plugin %s takes no configuration (it has no configure function)", name)
      end
      if decl.plugin_config[name] ~= nil then
        fail(cloc, "plugin %s is configured twice", name)
      end
      local problem = C.check_config(name, cfg)
      if problem then fail(cloc, "%s", problem) end
      decl.plugin_config[name] = cfg
      return self
    end,
  })
  proxies[name] = proxy
  return proxy
end

-- code_only(source) - the source with the contents of every comment and
-- string literal blanked (newlines kept, so line numbers stay), for the
-- load-time scans: `error { code = "dms.task_failed" }` is not a call.
local function code_only(src)
  local out, i, n = {}, 1, #src
  local function blank(s) return (s:gsub("[^\n]", " ")) end
  while i <= n do
    local c = src:sub(i, i)
    local open = src:match("^%-%-%[=*%[", i) or src:match("^%[=*%[", i)
    if open then -- a long comment or long string: blanked whole
      local close = "]" .. open:match("%[(=*)%[$") .. "]"
      local _, e = src:find(close, i + #open, true)
      e = e or n
      out[#out + 1] = blank(src:sub(i, e))
      i = e + 1
    elseif src:sub(i, i + 1) == "--" then
      local e = src:find("\n", i, true) or (n + 1)
      out[#out + 1] = blank(src:sub(i, e - 1))
      i = e
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "\n" then break
        else j = j + 1 end
      end
      out[#out + 1] = c .. blank(src:sub(i + 1, j - 1)) .. src:sub(j, j)
      i = j + 1
    else
      local j = src:find("[%-\"'%[]", i) or (n + 1)
      if j == i then j = i + 1 end
      out[#out + 1] = src:sub(i, j - 1)
      i = j
    end
  end
  return table.concat(out)
end

-- plugin_aliases(source) - alias -> plugin name for every `local alias =
-- plugin "name"` of the source.
local function plugin_aliases(source)
  local aliases = {}
  for alias, pname in source:gmatch("local%s+([%a_][%w_]*)%s*=%s*plugin%s*%(?%s*[\"']([%w_]+)[\"']") do
    aliases[alias] = pname
  end
  return aliases
end

-- find_calls(code, aliases, s, e) - the calls written alias.function(...) or
-- alias.function { ... } between byte s and e of code (code_only's text):
-- { { pos, alias, plugin, fname } } in the order they are written.
local function find_calls(code, aliases, s, e)
  local found = {}
  for alias, pname in pairs(aliases) do
    local pos = s
    while true do
      local a, b, fname = code:find("%f[%w_]" .. alias .. "%.([%a_][%w_]*)%s*[%({\"']", pos)
      if not a or a > e then break end
      found[#found + 1] = { pos = a, alias = alias, plugin = pname, fname = fname }
      pos = b + 1
    end
  end
  table.sort(found, function(x, y) return x.pos < y.pos end)
  return found
end

-- line_starts(code) / line_at(starts, pos) - the line of a byte position.
local function line_starts(code)
  local starts = { 1 }
  for p in code:gmatch("\n()") do starts[#starts + 1] = p end
  return starts
end
local function line_at(starts, pos)
  local lo, hi = 1, #starts
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if starts[mid] <= pos then lo = mid else hi = mid - 1 end
  end
  return lo
end

-- check_calls(source, chunkname) - finds calls written alias.function(...)
-- or alias.function { ... } on aliases bound with `local alias = plugin
-- "name"`, and refuses unknown functions at load time, with the line.
-- Comments and the contents of strings are not looked at.
local function check_calls(source, chunkname)
  local code = code_only(source)
  local starts
  for _, c in ipairs(find_calls(code, plugin_aliases(source), 1, #code)) do
    local info = decl.plugins[c.plugin]
    if info and not info.functions[c.fname] then
      starts = starts or line_starts(code)
      error(string.format("%s:%d: plugin %s has no function '%s' (functions: %s)",
                          chunkname, line_at(starts, c.pos), c.plugin, c.fname,
                          keys_of(info.functions)), 0)
    end
  end
end

-- function_spans(code, starts) - where each `function ... end` of the
-- source is: { { s, e, l1, l2 } } (bytes and lines), found by matching the
-- keywords that open a block (function, if, do, repeat) with end / until.
local BLOCK_OPEN = { ["function"] = true, ["if"] = true, ["do"] = true, ["repeat"] = true }
local function function_spans(code, starts)
  local spans, stack = {}, {}
  for pos, word in code:gmatch("()([%a_][%w_]*)") do
    local prev = pos > 1 and code:sub(pos - 1, pos - 1) or " "
    if not prev:match("[%w_%.:]") then
      if BLOCK_OPEN[word] then
        stack[#stack + 1] = word == "function" and pos or false
      elseif word == "end" or word == "until" then
        local s = table.remove(stack)
        if s then
          spans[#spans + 1] = { s = s, e = pos + #word - 1, l1 = line_at(starts, s),
                                l2 = line_at(starts, pos) }
        end
      end
    end
  end
  return spans
end

-- declared_param_order(code, source, line) - the names of the params
-- table written inline in `runbook "name" { params = { a = ..., b = ... } }`
-- (declared on line), in the order they are written; nil when the table is
-- not written there (params = some_variable).
local function declared_param_order(code, source, starts, line)
  local i = code:find("{", starts[line] or 1, true)
  local depth, n = 0, #code
  local body
  while i and i <= n do
    local c = code:sub(i, i)
    if c == "{" or c == "(" or c == "[" then
      depth = depth + 1
    elseif c == "}" or c == ")" or c == "]" then
      depth = depth - 1
      if depth == 0 then return nil end
    elseif depth == 1 then
      local _, b = code:find("^%f[%w_]params%s*=%s*{", i)
      if b then body = b break end
    end
    i = i + 1
  end
  if not body then return nil end
  local names, last = {}, "{"
  depth, i = 0, body + 1
  while i <= n do
    local c = code:sub(i, i)
    if depth == 0 and (last == "{" or last == "," or last == ";") then
      local _, b, key = code:find("^([%a_][%w_]*)%s*=[^=]", i)
      if not key then _, b, key = source:find("^%[%s*[\"']([^\"']*)[\"']%s*%]%s*=[^=]", i) end
      if key then
        names[#names + 1] = key
        last, i = "=", b
        c = ""
      end
    end
    if c == "{" or c == "(" or c == "[" then
      depth = depth + 1
    elseif c == "}" or c == ")" or c == "]" then
      if depth == 0 then break end
      depth = depth - 1
    end
    if depth == 0 and c ~= "" and not c:match("%s") then last = c end
    i = i + 1
  end
  return names
end

-- effects_of(d, source, chunkname) - for `pgmove plan`: the plugin calls
-- each node, breaker and on_failure may make, found in the runbook's text
-- (the aliases of `local alias = plugin "name"`, as check_calls finds
-- them): in the functions themselves and in the functions they reach
-- (local functions they capture, global functions they name, functions of
-- the runbook file only; `local f = alias.fn` counts as a call of fn).
-- Calls through other names (a plugin passed as an argument, alias[name])
-- are not seen; functions of other files (require) are listed as unresolved.
local function effects_of(d, source, chunkname)
  local code = code_only(source)
  local starts = line_starts(code)
  local spans = function_spans(code, starts)
  local by_line = {} -- first line -> spans starting there
  for _, sp in ipairs(spans) do
    local l = by_line[sp.l1]
    if not l then l = {} by_line[sp.l1] = l end
    l[#l + 1] = sp
  end
  local aliases = plugin_aliases(source)
  local chunk_source = "@" .. chunkname

  -- spans_of(f, field) - the spans of function f (several only when
  -- functions share their first and last line and the field name before
  -- them does not tell them apart: then all of them, to be safe)
  local function spans_of(f, field)
    local info = getinfo(f, "S")
    local cand = {}
    for _, sp in ipairs(by_line[info.linedefined] or {}) do
      if sp.l2 == info.lastlinedefined then
        cand[#cand + 1] = sp
      end
    end
    local outer = {}
    for _, sp in ipairs(cand) do
      local inside = false
      for _, o in ipairs(cand) do
        if o ~= sp and o.s < sp.s and o.e >= sp.e then inside = true end
      end
      if not inside then outer[#outer + 1] = sp end
    end
    if #outer > 1 and field then
      local named = {}
      for _, sp in ipairs(outer) do
        if source:sub(math.max(1, sp.s - 200), sp.s - 1):find(field .. "$") then
          named[#named + 1] = sp
        end
      end
      if #named > 0 then outer = named end
    end
    return outer
  end

  local function loc_of(f)
    local info = getinfo(f, "S")
    local file = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
    return file .. ":" .. info.linedefined
  end

  -- walk(f, field, via, out, seen) - adds f's calls to out.calls
  local function walk(f, field, via, out, seen)
    if seen[f] then return end
    seen[f] = true
    local info = getinfo(f, "S")
    if info.what ~= "Lua" then return end
    if info.source ~= chunk_source then
      if info.source ~= "=prelude" then
        out.unresolved[#out.unresolved + 1] = { name = via or "?", loc = loc_of(f) }
      end
      return
    end
    local helpers = {}
    local fspans = spans_of(f, field)
    for _, sp in ipairs(fspans) do
      for _, c in ipairs(find_calls(code, aliases, sp.s, sp.e)) do
        out.calls[#out.calls + 1] = { plugin = c.plugin, ["function"] = c.fname, via = via,
                                      loc = chunkname .. ":" .. line_at(starts, c.pos) }
      end
      -- global functions it names
      for pos, word in code:sub(sp.s, sp.e):gmatch("()([%a_][%w_]*)") do
        local prev = pos > 1 and code:sub(sp.s + pos - 2, sp.s + pos - 2) or " "
        if not prev:match("[%w_%.:]") and not aliases[word] then
          local v = raw_get(G, word)
          if type(v) == "function" then helpers[#helpers + 1] = { word, v, sp.s + pos - 1 } end
        end
      end
    end
    -- local functions it captures
    for i = 1, 255 do
      local name, v = getupvalue(f, i)
      if not name then break end
      if type(v) == "function" then
        local at
        for _, sp in ipairs(fspans) do
          at = at or code:find("%f[%w_]" .. name .. "%f[^%w_]", sp.s)
          if at and at > sp.e then at = nil end
        end
        helpers[#helpers + 1] = { name, v, at }
      elseif type(v) == "table" then
        -- a module (require): its functions are in another file
        local k, x, budget = raw_next(v), nil, 1000
        while k ~= nil and budget > 0 do
          x = raw_get(v, k)
          if type(x) == "function" then
            local xi = getinfo(x, "S")
            if xi.what == "Lua" and xi.source ~= chunk_source and xi.source ~= "=prelude" then
              out.unresolved[#out.unresolved + 1] = { name = name, loc = loc_of(x) }
              break
            end
          end
          k, budget = raw_next(v, k), budget - 1
        end
      end
    end
    for _, h in ipairs(helpers) do
      local pf = proxy_fns[h[2]]
      if pf then
        -- local snap = rds.create_snapshot: a call of that function
        out.calls[#out.calls + 1] = {
          plugin = pf[1], ["function"] = pf[2], via = via,
          loc = h[3] and (chunkname .. ":" .. line_at(starts, h[3])) or loc_of(f) }
      else
        local name = via and (via .. " > " .. h[1]) or h[1]
        if not out.via_loc[name] then out.via_loc[name] = loc_of(h[2]) end
        walk(h[2], nil, name, out, seen)
      end
    end
  end

  -- calls_of(list) - list: { { fn, field, in, check } }
  local function calls_of(list)
    local out = { calls = {}, unresolved = {}, via_loc = {} }
    local all = json.array{}
    for _, item in ipairs(list) do
      out.calls = {}
      walk(item[1], item[2], nil, out, {})
      for _, c in ipairs(out.calls) do
        c["in"], c.check = item[3], item[4]
        if c.via then c.via_loc = out.via_loc[c.via] end
        all[#all + 1] = c
      end
    end
    local unresolved, seen = json.array{}, {}
    for _, u in ipairs(out.unresolved) do
      if not seen[u.name .. "@" .. u.loc] then
        seen[u.name .. "@" .. u.loc] = true
        unresolved[#unresolved + 1] = u
      end
    end
    return all, unresolved
  end

  local nodes = json.array{}
  for i, n in ipairs(d.nodes) do
    local list = {}
    if n.kind == "step" then
      if n.when then list[#list + 1] = { n.when, "when%s*=%s*", "when" } end
      list[#list + 1] = { n.run, "run%s*=%s*", "run" }
      if n.undo then list[#list + 1] = { n.undo, "undo%s*=%s*", "undo" } end
    elseif n.kind == "wait" then
      list[#list + 1] = { n.condition, "condition%s*=%s*", "condition" }
    elseif n.kind == "gate" then
      for _, c in ipairs(n.checks) do
        local quoted = c.name:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
        list[#list + 1] = { c.fn, "check%s*%(?%s*[\"']" .. quoted .. "[\"']%s*,%s*", "check",
                            c.name }
      end
    end
    local calls, unresolved = calls_of(list)
    local e = { name = n.name, calls = calls, unresolved = unresolved }
    if n.kind == "gate" then
      e.check_locs = json.array{}
      for j, c in ipairs(n.checks) do e.check_locs[j] = c.loc end
    end
    nodes[i] = e
  end
  local breakers = json.array{}
  for i, b in ipairs(d.breakers) do
    local list = { { b.condition, "condition%s*=%s*", "condition" } }
    if b.on_trip then list[#list + 1] = { b.on_trip, "on_trip%s*=%s*", "on_trip" } end
    local calls, unresolved = calls_of(list)
    breakers[i] = { name = b.name, calls = calls, unresolved = unresolved }
  end
  local on_failure = json.array{}
  local of_unresolved = json.array{}
  if type(d.runbook.on_failure) == "function" then
    on_failure, of_unresolved = calls_of({ { d.runbook.on_failure, "on_failure%s*=%s*",
                                             "on_failure" } })
  end
  local rbline = tonumber(d.runbook.loc:match(":(%d+)$"))
  local order = d.runbook.loc:sub(1, #chunkname + 1) == chunkname .. ":" and rbline and
                declared_param_order(code, source, starts, rbline) or nil
  local names, seen = json.array{}, {}
  for _, k in ipairs(order or {}) do
    if d.runbook.params[k] ~= nil and not seen[k] then
      names[#names + 1] = k
      seen[k] = true
    end
  end
  local rest = {}
  for k in pairs(d.runbook.params) do if not seen[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do names[#names + 1] = k end
  return {
    nodes = nodes, breakers = breakers, on_failure = on_failure,
    on_failure_unresolved = of_unresolved, runbook_loc = d.runbook.loc,
    param_order = names, param_order_declared = #rest == 0,
  }
end

-- plan_of(decl) - the runbook as plain data (no functions): what `plan`
-- prints and what the journal records at the start of a run.
local function plan_of(d)
  local nodes = {}
  for i, n in ipairs(d.nodes) do
    local p = { name = n.name, kind = n.kind, phase = n.phase, loc = n.loc, summary = n.summary }
    if n.kind == "step" then
      p.undo, p.when = n.undo ~= nil, n.when ~= nil
      p.timeout_ms, p.idempotent = n.timeout_ms, n.idempotent
      p.irreversible, p.recovery = n.irreversible, n.recovery
      p.retry = { attempts = n.retry.attempts, delay_ms = n.retry.delay_ms, backoff = n.retry.backoff + 0.0,
                  max_delay_ms = n.retry.max_delay_ms, all_errors = n.retry.all_errors }
    elseif n.kind == "wait" then
      p.every_ms, p.timeout_ms, p.stable_for_ms, p.on_timeout =
        n.every_ms, n.timeout_ms, n.stable_for_ms, n.on_timeout
    elseif n.kind == "gate" then
      p.checks = json.array{}
      for j, c in ipairs(n.checks) do p.checks[j] = c.name end
      p.on_fail, p.timeout_ms = n.on_fail, n.timeout_ms
    elseif n.kind == "approve" then
      p.prompt = n.prompt
      p.approvers = n.approvers and json.array(n.approvers) or nil
    end
    nodes[i] = p
  end
  local breakers = json.array{}
  for i, b in ipairs(d.breakers) do
    breakers[i] = { name = b.name, loc = b.loc, summary = b.summary, sustained_ms = b.sustained_ms,
                    every_ms = b.every_ms, action = b.action,
                    during = b.during and json.array(b.during) or nil }
  end
  local notifies = json.array{}
  for i, r in ipairs(d.notify) do
    local kinds = json.array{}
    for j, t in ipairs(r.targets) do kinds[j] = t.kind end
    notifies[i] = { on = json.array(r.on), targets = kinds, loc = r.loc,
                    steps = r.steps and json.array(r.steps) or nil }
  end
  local phases = json.array{}
  for i, p in ipairs(d.phases) do phases[i] = p end
  return {
    runbook = d.runbook.name, summary = d.runbook.summary, description = d.runbook.description,
    on_failure = type(d.runbook.on_failure) == "function" and "function" or d.runbook.on_failure,
    nodes = json.array(nodes), breakers = breakers, phases = phases, params = d.runbook.params,
    notify = #notifies > 0 and notifies or nil,
  }
end

-- finish(source, chunkname) - called by the C side after the runbook ran.
local function finish(source, chunkname)
  check_pending(chunkname)
  if not decl.runbook then
    error(chunkname .. ": no runbook \"name\" { ... } declaration", 0)
  end
  if #decl.nodes == 0 then
    error(chunkname .. ": runbook '" .. decl.runbook.name .. "' declares no step", 0)
  end
  -- irreversible steps: the recovery must be an earlier step
  for _, n in ipairs(decl.nodes) do
    if n.kind == "step" and n.irreversible then
      local r = decl.byname[n.recovery]
      if not r then
        fail(n.loc, "step '%s' is irreversible and names recovery '%s', which is not declared",
             n.name, n.recovery)
      end
      if r == n then
        fail(n.loc, "step '%s' is irreversible and names itself as its recovery: name an earlier step",
             n.name)
      end
      if r.kind ~= "step" or r.index > n.index then
        fail(n.loc, "step '%s' is irreversible: its recovery '%s' must be a step declared before it",
             n.name, n.recovery)
      end
    end
  end
  for _, b in ipairs(decl.breakers) do
    for _, d in ipairs(b.during or {}) do
      local known = decl.byname[d] and decl.byname[d].kind == "wait"
      for _, p in ipairs(decl.phases) do known = known or p == d end
      if not known then
        fail(b.loc, "breaker '%s': during names '%s', which is neither a wait nor a phase", b.name, d)
      end
    end
  end
  for _, r in ipairs(decl.notify) do
    for _, name in ipairs(r.steps or {}) do
      if not (decl.byname[name] and decl.byname[name].kind == "step") then
        fail(r.loc, "notify: steps names '%s', which is not a step of this runbook", name)
      end
    end
  end
  check_calls(source, chunkname)
  decl.plan = plan_of(decl)
  decl.effects = function() return effects_of(decl, source, chunkname) end
  return decl
end

return finish
