#!/bin/sh
# tests/notify/pagerduty.sh - the pagerduty plugin through `pgmove call`
# against the fake Events API v2: the exact JSON sent, dedup keys across
# trigger / acknowledge / resolve, change events, validation before sending
# (and the fake's own validation, as PagerDuty documents it, on what is
# sent), 429 and 5xx retried, 400 carrying PagerDuty's errors, the endpoint
# from $PAGERDUTY_EVENTS_URL or url=, and the routing key never printed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/notify/lib.sh"

RK=CANARYrk0123456789abcdef01234567
notify_fake_start
export PAGERDUTY_EVENTS_URL="$FAKE_URL"

pcall pagerduty.trigger routing_key="$RK" dedup_key=pgmove/run-1 summary="replication lag over 60s" \
	source=aurora-1 severity=critical component=replication group=aurora-migration class=lag \
	timestamp=2026-11-30T03:00:00.000Z custom_details='{"lag_s":75}' \
	links='[{"href":"https://runbooks.example.com/lag","text":"runbook"}]' \
	images='[{"src":"https://img.example.com/lag.png","alt":"lag"}]'
expect_eq "trigger accepted" "$RC/$(jget "$OUT" 'j["status"]')/$(jget "$OUT" 'j["dedup_key"]')" 0/success/pgmove/run-1
expect_eq "exact JSON sent" "$(jget "$(ctl requests)" 'json.dumps(j[-1]["json"], sort_keys=True)')" \
	"$(printf '%s' '{"dedup_key": "pgmove/run-1", "event_action": "trigger", "images": [{"alt": "lag", "src": "https://img.example.com/lag.png"}], "links": [{"href": "https://runbooks.example.com/lag", "text": "runbook"}], "payload": {"class": "lag", "component": "replication", "custom_details": {"lag_s": 75}, "group": "aurora-migration", "severity": "critical", "source": "aurora-1", "summary": "replication lag over 60s", "timestamp": "2026-11-30T03:00:00.000Z"}, "routing_key": "'$RK'"}')"
expect_eq "to /v2/enqueue as JSON" "$(jget "$(ctl requests)" 'j[-1]["path"] + " " + j[-1]["headers"]["Content-Type"]')" \
	"/v2/enqueue application/json"
pcall pagerduty.acknowledge routing_key="$RK" dedup_key=pgmove/run-1
expect_eq "acknowledge" "$RC/$(jget "$(ctl alerts)" 'j["pgmove/run-1"]["status"]')" 0/acknowledged
pcall pagerduty.resolve routing_key="$RK" dedup_key=pgmove/run-1
expect_eq "resolve with the same key" "$RC/$(jget "$(ctl alerts)" 'j["pgmove/run-1"]["status"]')" 0/resolved
pcall pagerduty.trigger routing_key="$RK" summary=s source=h
expect_eq "no dedup key: PagerDuty's is returned" "$RC/$(jget "$OUT" 'len(j["dedup_key"])')" 0/32
expect_match "timestamp defaults to now, ISO 8601" "$(jget "$(ctl requests)" 'j[-1]["json"]["payload"]["timestamp"]')" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$'
expect_eq "severity defaults to error" "$(jget "$(ctl requests)" 'j[-1]["json"]["payload"]["severity"]')" error

# validation before sending
N=$(jget "$(ctl requests)" 'len(j)')
pcall pagerduty.trigger routing_key=short summary=s source=h
expect_eq "routing key of 32" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall pagerduty.trigger routing_key="$RK" summary=s source=h severity=fatal
expect_eq "severity checked by the host (allowed values: a usage error)" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 2/args.invalid
expect_match "names the allowed values" "$(jget "$OUT" 'j["error"]["message"]')" "argument 'severity' must be one of critical, error, warning, info"
pcall pagerduty.trigger routing_key="$RK" summary="$("$PY" -c 'print("x"*1025)')" source=h
expect_eq "summary at most 1024" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall pagerduty.trigger routing_key="$RK" summary=s source=h dedup_key="$("$PY" -c 'print("k"*256)')"
expect_eq "dedup key at most 255" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall pagerduty.trigger routing_key="$RK" summary=s
expect_eq "source required (in the call or the configuration)" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
expect_match "names it" "$(jget "$OUT" 'j["error"]["message"]')" "source is required \(in the call or the plugin's configuration\)"
pcall pagerduty.trigger summary=s source=h
expect_eq "routing key required (in the call or the configuration)" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
expect_match "names it" "$(jget "$OUT" 'j["error"]["message"]')" "routing_key is required \(in the call or the plugin's configuration\)"
pcall pagerduty.trigger routing_key="$RK" summary=s source=h timestamp=yesterday
expect_eq "timestamp ISO 8601" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall pagerduty.trigger routing_key="$RK" summary=s source=h images='[{"src":"http://x/y.png"}]'
expect_eq "images over https" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall pagerduty.trigger routing_key="$RK" summary=s source=h links='[{"text":"no href"}]'
expect_eq "links need href" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
expect_eq "nothing invalid was sent" "$(jget "$(ctl requests)" 'len(j)')" "$N"
# PagerDuty's limits count characters, not bytes: 1024 two-byte characters are a valid
# summary (the fake checks the event as PagerDuty does), 1025 are not
pcall pagerduty.trigger routing_key="$RK" summary="$("$PY" -c 'print("é"*1024)')" source=h \
	dedup_key="$("$PY" -c 'print("ü"*255)')"
expect_eq "1024 characters of two bytes each, a 255-character dedup key: accepted" \
	"$RC/$(jget "$OUT" 'j["status"]')/$(jget "$(ctl requests)" 'len(j[-1]["json"]["payload"]["summary"])')" 0/success/1024
pcall pagerduty.trigger routing_key="$RK" summary="$("$PY" -c 'print("é"*1025)')" source=h
expect_eq "1025 characters: refused before sending" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
expect_match "counted in characters" "$(jget "$OUT" 'j["error"]["message"]')" "summary is 1025 characters long; PagerDuty allows 1024"

# PagerDuty's 400 carries its errors (the fake refuses a key of the right length it does not like)
ctl inject '{"path": "/v2/enqueue", "status": 400, "count": 1, "body": {"status": "invalid event", "message": "Event object is invalid", "errors": ["'"'"'payload.summary'"'"' is missing or blank"]}}' >/dev/null
pcall pagerduty.trigger routing_key="$RK" summary=s source=h
expect_eq "400: pagerduty.invalid_event, not retried" \
	"$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" 1/pagerduty.invalid_event/false
expect_match "with PagerDuty's errors" "$(jget "$OUT" 'j["error"]["message"]')" "Event object is invalid: \[.*payload.summary"

# 429 and 5xx retried with backoff
ctl inject '{"path": "/v2/enqueue", "status": 429, "count": 2}' >/dev/null
pcall pagerduty.trigger routing_key="$RK" dedup_key=k429 summary=s source=h
expect_eq "429 retried" "$RC/$(jget "$OUT" 'j["attempts"]')" 0/3
ctl inject '{"path": "/v2/enqueue", "status": 502, "count": 9}' >/dev/null
pcall pagerduty.resolve routing_key="$RK" dedup_key=k429 attempts=3
expect_eq "5xx: retryable error after the attempts" \
	"$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" 1/pagerduty.http/true
ctl reset >/dev/null
# retries stop at the call's deadline: backoff 300, 600 ms... inside --timeout 1s
ctl inject '{"path": "/v2/enqueue", "status": 429, "count": 1000}' >/dev/null
t0=$(date +%s%N)
PGMOVE_PAGERDUTY_RETRY_BASE_MS=300 pcall pagerduty.trigger routing_key="$RK" summary=s source=h attempts=20 --timeout 1s
el=$((($(date +%s%N) - t0) / 1000000))
expect_eq "429 until the deadline: a retryable pagerduty.throttled" \
	"$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" 1/pagerduty.throttled/true
sent=$(jget "$(ctl requests)" 'len(j)')
expect_eq "2 or 3 attempts fit in the deadline, not 20" "$([ "$sent" -ge 2 ] && [ "$sent" -le 3 ] && echo yes || echo "no: $sent")" yes
expect_eq "the call returns at its deadline" "$([ $el -lt 2500 ] && echo yes || echo "no: $el ms")" yes
ctl reset >/dev/null

# change events
pcall pagerduty.change routing_key="$RK" summary="pgmove: cutover to aurora-1 started" source=pgmove \
	custom_details='{"run":"r1"}' links='[{"href":"https://example.com/r1"}]'
expect_eq "change event" "$RC/$(jget "$OUT" 'j["message"]')" "0/Change event processed"
expect_eq "to /v2/change/enqueue" "$(jget "$(ctl requests)" 'j[-1]["path"] + " " + ",".join(sorted(j[-1]["json"]))')" \
	"/v2/change/enqueue links,payload,routing_key"
pcall pagerduty.change routing_key="$RK" summary=s images='[{"src":"https://x/y.png"}]'
expect_eq "change events take no images" "$RC" 2
expect_match "names it" "$ERR" "unknown argument 'images'"

# the endpoint: url= wins over the environment, a full /v2/enqueue URL is fine
PAGERDUTY_EVENTS_URL=http://127.0.0.1:1 pcall pagerduty.trigger routing_key="$RK" summary=s source=h \
	url="$FAKE_URL/v2/enqueue" dedup_key=url-arg
expect_eq "url argument" "$RC/$(jget "$(ctl requests)" 'j[-1]["json"]["dedup_key"]')" 0/url-arg
PAGERDUTY_EVENTS_URL=http://127.0.0.1:1 pcall pagerduty.trigger routing_key="$RK" summary=s source=h attempts=2
expect_eq "unreachable endpoint: retryable http.connect" \
	"$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" 1/http.connect/true

# A runbook configures the plugin once for the run: the endpoint, the key (a
# secret param), a default source and component; calls give only what differs.
unset PAGERDUTY_EVENTS_URL
export PGMOVE_STATE_DIR="$TMP/state" PD_KEY="$RK"
cat >"$TMP/cfg.lua" <<LUA
runbook "pdcfg" { params = { key = { type = "string", env = "PD_KEY", secret = true },
                             url = { type = "string", default = "$FAKE_URL" },
                             plain = { type = "string", default = "" } } }
local pd = plugin "pagerduty" { url = params.url, routing_key = params.key ~= "" and params.key or nil,
                                source = "aurora-1", component = "replication" }
step "page" { run = function(ctx) return pd.trigger { summary = "lag over 60s", dedup_key = "cfg-1" } end }
step "change" { run = function(ctx) return pd.change { summary = "cutover", source = "pgmove" } end }
LUA
$PGMOVE run "$TMP/cfg.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
cat "$TMP/err" >>"$TMP/all.err"
expect_eq "a run with the configured plugin completes" "$RC" 0
expect_eq "the trigger took source, component and key from the configuration" \
	"$(jget "$(ctl requests)" 'j[-2]["json"]["payload"]["source"] + " " + j[-2]["json"]["payload"]["component"] + " " + j[-2]["json"]["routing_key"]')" \
	"aurora-1 replication $RK"
expect_eq "the change event kept its own source, and no component" \
	"$(jget "$(ctl requests)" 'j[-1]["path"] + " " + j[-1]["json"]["payload"]["source"] + " " + str("component" in j[-1]["json"]["payload"])')" \
	"/v2/change/enqueue pgmove False"
if grep -rq CANARY "$TMP/state"; then fail "the configured key reached the run directory"; else pass "the configured key is in no journal or state file"; fi

# checked when the runbook loads: unknown keys, wrong types, allowed values, by name and line
cat >"$TMP/bad.lua" <<'LUA'
runbook "pdbad" {}
local pd = plugin "pagerduty" { url = "http://x", colour = "red" }
LUA
$PGMOVE plan "$TMP/bad.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "plan refuses an unknown configuration key (exit 6)" "$RC" 6
expect_match "naming the key, the known ones and the line" "$(cat "$TMP/err")" \
	"bad.lua:2: plugin pagerduty \{ ... \}: unknown key 'colour' \(keys: url, routing_key, source"
printf 'runbook "pdbad" {}\nlocal pd = plugin "pagerduty" { attempts = "many" }\n' >"$TMP/bad.lua"
$PGMOVE plan "$TMP/bad.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "plan refuses a configuration value of the wrong type" "$RC/$(grep -c "key 'attempts' must be an integer" "$TMP/err")" 6/1
printf 'runbook "pdbad" {}\nlocal pd = plugin "pagerduty" { severity = "fatal" }\n' >"$TMP/bad.lua"
$PGMOVE plan "$TMP/bad.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "plan refuses a value outside the allowed ones" "$RC/$(grep -c "key 'severity' must be one of critical, error, warning, info" "$TMP/err")" 6/1
# the plugin's own check, when the run starts: nothing is created
printf 'runbook "pdbad" {}\nlocal pd = plugin "pagerduty" { routing_key = "short-CANARY-key" }\nstep "s" { run = function() end }\n' >"$TMP/bad.lua"
$PGMOVE run "$TMP/bad.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
cat "$TMP/err" >>"$TMP/all.err"
expect_eq "a configuration the plugin refuses stops the run before it starts" "$RC/$([ -d "$TMP/state/pdbad" ] && echo created || echo none)" 6/none
expect_match "with the plugin's reason" "$(cat "$TMP/err")" "plugin pagerduty: its configuration was refused: args.invalid: routing_key must be the 32-character"
# a plain param reaching the secret key: refused before anything is journaled
cat >"$TMP/leak.lua" <<'LUA'
runbook "pdleak" { params = { k = { type = "string" } } }
local pd = plugin "pagerduty" { routing_key = params.k }
step "s" { run = function() end }
LUA
$PGMOVE run "$TMP/leak.lua" -p k="$RK" >"$TMP/out" 2>"$TMP/err"; RC=$?
cat "$TMP/err" >>"$TMP/all.err"
expect_eq "a plain param in a secret configuration key is refused (exit 6), no run created" \
	"$RC/$([ -d "$TMP/state/pdleak" ] && echo created || echo none)" 6/none
expect_match "naming the param and the key" "$(cat "$TMP/err")" \
	"param k reaches secret key routing_key of plugin pagerduty's configuration but is not declared secret"
$PGMOVE plugins pagerduty >"$TMP/out" 2>"$TMP/err"
expect_match "pgmove plugins shows the configuration keys" "$(cat "$TMP/out")" 'configuration: plugin "pagerduty"'
expect_match "with the key marked secret" "$(cat "$TMP/out")" "routing_key +string +secret"

if grep -q CANARY "$TMP/all.err" "$TMP/out"; then fail "the routing key was printed"; else pass "routing key never printed"; fi
finish
