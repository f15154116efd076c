#!/bin/sh
# tests/notify/http.sh - the http plugin through `pgmove call` against the
# local fake: requests (exact bytes sent, JSON pointer, expected statuses,
# retries on 429 and 5xx, header injection refused), health as a wait reads
# it, Slack-style webhooks, mail through the SMTP sink with AUTH, and feature
# flags with compare-and-set (ETag and version field), a concurrent change,
# a conflict, and an undo that restores what it saw. Secrets (token, header
# credential, SMTP password, webhook URL) never reach stdout or stderr.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/notify/lib.sh"

TOKEN=tok-CANARY-7f3a9c1e55
SMTP_PASS=smtp-CANARY-pw-0b4e
notify_fake_start --token "$TOKEN" --smtp-user mailer --smtp-password "$SMTP_PASS"

# ---- request
pcall http.request url="$FAKE_URL/echo" method=POST json='{"a":[1,2],"b":"x"}' \
	headers='{"X-Trace":"t-1"}' pointer=/json/a/1
expect_eq "request: POST JSON" "$RC/$(jget "$OUT" 'j["status"]')/$(jget "$OUT" 'j["value"]')" 0/200/2
expect_eq "exact body and content type sent" \
	"$(jget "$(ctl requests)" 'j[-1]["body"] + " " + j[-1]["headers"]["Content-Type"] + " " + j[-1]["headers"]["X-Trace"]')" \
	'{"a":[1,2],"b":"x"} application/json t-1'
pcall http.request url="$FAKE_URL/echo" pointer='/nested/a~1b/1/c~0d'
expect_eq "JSON pointer escapes" "$(jget "$OUT" 'j["value"]')" deep
pcall http.request url="$FAKE_URL/echo" pointer=/nope
expect_eq "absent pointer gives null" "$RC/$(jget "$OUT" 'j["value"]')" 0/null
pcall http.request url="$FAKE_URL/echo" method=PUT form='{"name":"a b&c","n":3}'
expect_eq "form body" "$(jget "$(ctl requests)" 'j[-1]["body"] + " " + j[-1]["headers"]["Content-Type"]')" \
	"name=a+b%26c&n=3 application/x-www-form-urlencoded"
pcall http.request url="$FAKE_URL/text"
expect_eq "text body kept as text" "$(jget "$OUT" 'j["body"]')" "plain words"
pcall http.request url="$FAKE_URL/status/404"
expect_eq "unexpected status is http.status" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/http.status
pcall http.request url="$FAKE_URL/status/404" expect='[200,404]'
expect_eq "expected status list" "$RC/$(jget "$OUT" 'j["status"]')" 0/404
ctl inject '{"path": "/echo", "status": 429, "count": 2, "retry_after": 0}' >/dev/null
pcall http.request url="$FAKE_URL/echo" retries=3
expect_eq "429 retried" "$RC/$(jget "$OUT" 'j["attempts"]')" 0/3
ctl inject '{"path": "/echo", "status": 503, "count": 5}' >/dev/null
pcall http.request url="$FAKE_URL/echo" retries=1
expect_eq "5xx retried, then a retryable http.status" \
	"$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" 1/http.status/true
ctl reset >/dev/null
pcall http.request url="$FAKE_URL/echo" headers='{"X-Evil":"a\r\nX-Injected: 1"}'
expect_eq "header injection refused" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall http.request url="ftp://example.com/x"
expect_eq "non-http URL refused" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall http.request url="$FAKE_URL/echo" method=TRACE
expect_eq "unknown method refused" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall http.request url="http://127.0.0.1:1/x"
expect_eq "connection refused: http.connect" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/http.connect
# a hung service: the request ends at its timeout, a health check says not ok in time
t0=$(date +%s%N)
pcall http.request url="$FAKE_URL/slow/5000" timeout=500ms
el=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a hung service: retryable http.timeout" \
	"$RC/$(jget "$OUT" 'j["error"]["code"]')/$(jget "$OUT" 'j["error"]["retryable"]')" 1/http.timeout/true
expect_eq "within the timeout, not the service's 5 s" "$([ $el -lt 3000 ] && echo yes || echo "no: $el ms")" yes
t0=$(date +%s%N)
pcall http.health url="$FAKE_URL/slow/5000" timeout=500ms
el=$((($(date +%s%N) - t0) / 1000000))
expect_eq "health of a hung service: not ok, not an error" "$RC/$(jget "$OUT" 'j["ok"]')" 0/false
expect_eq "and in time" "$([ $el -lt 3000 ] && echo yes || echo "no: $el ms")" yes
pcall http.health url="$FAKE_URL/slow/10" timeout=5s field=/status equals=healthy
expect_eq "a slow but timely answer is judged" "$RC/$(jget "$OUT" 'j["ok"]')" 0/true
pcall http.request url="$FAKE_URL/secure" token="$TOKEN" headers="{\"X-Api-Key\":\"key-CANARY-91\"}"
expect_eq "bearer token sent" "$RC/$(jget "$(ctl requests)" 'j[-1]["headers"]["Authorization"]')" "0/Bearer $TOKEN"
expect_no_match "token not in the result" "$OUT" "CANARY"
pcall http.request url="$FAKE_URL/status/500" token="$TOKEN" headers="{\"X-Api-Key\":\"key-CANARY-91\"}"
expect_no_match "secrets not in an error" "$OUT$ERR" "CANARY"

# ---- health
pcall http.health url="$FAKE_URL/health" field=/status equals='"healthy"'
expect_eq "healthy" "$RC/$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["value"]')" 0/true/healthy
ctl health '{"status": 200, "body": {"status": "degraded"}}' >/dev/null
pcall http.health url="$FAKE_URL/health" field=/status equals='"healthy"'
expect_eq "degraded is not ok" "$RC/$(jget "$OUT" 'j["ok"]')" 0/false
expect_match "reason names the field" "$(jget "$OUT" 'j["reason"]')" '/status is "degraded", expected "healthy"'
ctl health '{"status": 503, "body": {"status": "healthy"}}' >/dev/null
pcall http.health url="$FAKE_URL/health"
expect_eq "503 is not ok" "$RC/$(jget "$OUT" 'j["ok"]')/$(jget "$OUT" 'j["status"]')" 0/false/503
pcall http.health url="http://127.0.0.1:1/health"
expect_eq "unreachable is not ok, not an error" "$RC/$(jget "$OUT" 'j["ok"]')" 0/false
pcall http.health url="$FAKE_URL/health" field=status
expect_eq "field must be a pointer" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid

# ---- webhook
HOOK="$FAKE_URL/hook/T000-CANARY-B000"
pcall http.webhook url="$HOOK" text="cutover done" payload='{"username":"pgmove"}'
expect_eq "webhook" "$RC/$(jget "$OUT" 'j["status"]')" 0/200
expect_eq "Slack body" "$(jget "$(ctl requests)" 'j[-1]["body"]')" '{"username":"pgmove","text":"cutover done"}'
ctl inject '{"path": "/hook/", "status": 500, "count": 9}' >/dev/null
pcall http.webhook url="$HOOK" text=x retries=1
expect_eq "webhook failure" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/http.status
expect_no_match "webhook URL is a secret" "$OUT$ERR" "CANARY"
ctl reset >/dev/null

# ---- mail
pcall http.mail server="$SMTP_URL" starttls=none username=mailer password="$SMTP_PASS" \
	from=pgmove@example.com to='["dba@example.com","ops@example.com"]' cc=lead@example.com \
	subject="Rollback: café" text="line one
.leading dot
line three"
expect_eq "mail sent" "$RC/$(jget "$OUT" 'len(j["recipients"])')" 0/3
M=$(ctl mails)
expect_eq "envelope" "$(jget "$M" 'j[-1]["from"] + " " + ",".join(j[-1]["rcpt"]) + " " + j[-1]["user"]')" \
	"pgmove@example.com dba@example.com,ops@example.com,lead@example.com mailer"
expect_match "subject encoded (RFC 2047)" "$(jget "$M" 'j[-1]["data"]')" 'Subject: =\?UTF-8\?B\?Um9sbGJhY2s6IGNhZsOp\?='
expect_match "dot-stuffed line arrives intact" "$(jget "$M" 'j[-1]["data"]')" '^\.leading dot'
pcall http.mail server="$SMTP_URL" starttls=none username=mailer password=wrong-CANARY-pass \
	from=pgmove@example.com to=dba@example.com subject=s text=t
expect_eq "bad password: mail.auth" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/mail.auth
pcall http.mail server="$SMTP_URL" starttls=required username=mailer password="$SMTP_PASS" \
	from=pgmove@example.com to=dba@example.com subject=s text=t
expect_eq "STARTTLS required but not offered" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/mail.starttls
pcall http.mail server="$SMTP_URL" from=pgmove@example.com to='not an address' subject=s text=t
expect_eq "bad address" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/args.invalid
pcall http.mail server="http://x" from=a@b to=c@d subject=s text=t starttls=none
expect_eq "bad server URL" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/mail.url

# ---- mail over STARTTLS: a second sink that offers it, with a self-signed certificate
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1 ||
	{ echo "openssl could not make a test certificate" >&2; exit 99; }
"$PY" "$top_srcdir/tests/notify/fake_notify.py" --port-file "$TMP/tls.port" --smtp-user mailer \
	--smtp-password "$SMTP_PASS" --smtp-tls-cert "$TMP/tls.crt" --smtp-tls-key "$TMP/tls.key" \
	>/dev/null 2>"$TMP/tls.err" &
EXTRA_PIDS=$!
for _ in $(seq 1 100); do [ -s "$TMP/tls.port" ] && break; sleep 0.05; done
TLS_HTTP="http://127.0.0.1:$(jget "$(cat "$TMP/tls.port")" 'j["http"]')"
TLS_SMTP="smtp://127.0.0.1:$(jget "$(cat "$TMP/tls.port")" 'j["smtp"]')"
pcall http.mail server="$TLS_SMTP" ca_file="$TMP/tls.crt" username=mailer password="$SMTP_PASS" \
	from=pgmove@example.com to=dba@example.com subject="over TLS" text=t
expect_eq "STARTTLS required: sent encrypted, AUTH after it" \
	"$RC/$("$PY" -c 'import json,sys,urllib.request; m=json.load(urllib.request.urlopen(sys.argv[1]+"/_fake/mails")); print(m[-1]["tls"], m[-1]["user"])' "$TLS_HTTP")" \
	"0/True mailer"
pcall http.mail server="$TLS_SMTP" username=mailer password="$SMTP_PASS" \
	from=pgmove@example.com to=dba@example.com subject=s text=t
expect_eq "an untrusted certificate is refused" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/mail.tls

# ---- feature flags (ETag / If-Match)
ctl flag '{"name": "cutover", "value": "old"}' >/dev/null
F="$FAKE_URL/flags/cutover"
pcall http.flag_get url="$F" token="$TOKEN"
expect_eq "flag_get" "$RC/$(jget "$OUT" 'j["value"]')/$(jget "$OUT" 'j["etag"]')" '0/old/"v1"'
pcall http.flag_get url="$F"
expect_eq "flag service wants the token" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/http.status
pcall http.flag_set url="$F" token="$TOKEN" value='"new"' expect='"old"'
expect_eq "flag_set moves it" "$RC/$(jget "$OUT" 'j["changed"]')/$(jget "$OUT" 'j["previous"]')" 0/true/old
expect_eq "If-Match sent" "$(jget "$(ctl requests)" 'j[-1]["method"] + " " + j[-1]["headers"]["If-Match"]')" 'PUT "v1"'
SAW="$OUT"
pcall http.flag_set url="$F" token="$TOKEN" value='"new"' expect='"old"'
expect_eq "a retried flag_set changes nothing" \
	"$RC/$(jget "$OUT" 'j["changed"]')/$(jget "$OUT" 'j["previous"]')/$(jget "$(ctl flag '{"name":"cutover"}')" 'j["writes"]')" \
	0/false/old/1
pcall http.flag_set url="$F" token="$TOKEN" value="$(jget "$SAW" 'json.dumps(j["previous"])')" \
	expect="$(jget "$SAW" 'json.dumps(j["value"])')"
expect_eq "undo restores what it saw" "$RC/$(jget "$(ctl flag '{"name":"cutover"}')" 'j["value"]')" 0/old
ctl flag '{"name": "cutover", "value": "other"}' >/dev/null
pcall http.flag_set url="$F" token="$TOKEN" value='"new"' expect='"old"'
expect_eq "someone else moved it: flag.conflict" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/flag.conflict
expect_eq "and it was not written" "$(jget "$(ctl flag '{"name":"cutover"}')" 'j["value"]')" other
ctl flag '{"name": "pct", "value": 10}' >/dev/null
ctl race '{"name": "pct", "value": 20}' >/dev/null
pcall http.flag_set url="$FAKE_URL/flags/pct" token="$TOKEN" value=50
expect_eq "a change between read and write: 412, read again, set" \
	"$RC/$(jget "$OUT" 'j["previous"]')/$(jget "$(ctl flag '{"name":"pct"}')" 'j["value"]')" 0/20/50
ctl flag '{"name": "pct", "value": 10}' >/dev/null
ctl race '{"name": "pct", "value": 20}' >/dev/null
pcall http.flag_set url="$FAKE_URL/flags/pct" token="$TOKEN" value=50 expect=10
expect_eq "a race that breaks expect is a conflict" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/flag.conflict
pcall http.flag_get url="$FAKE_URL/flags/none" token="$TOKEN"
expect_eq "unknown flag" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/flag.not_found
# version field instead of ETag
ctl flag '{"name": "pct", "value": 10}' >/dev/null
pcall http.flag_set url="$FAKE_URL/vflags/pct" token="$TOKEN" value=25 expect=10
expect_eq "version field CAS" "$RC/$(jget "$(ctl requests)" 'j[-1]["body"]')" '0/{"value":25,"version":1}'
ctl race '{"name": "pct", "value": 30}' >/dev/null
pcall http.flag_set url="$FAKE_URL/vflags/pct" token="$TOKEN" value=40
expect_eq "409 on a stale version, read again" "$RC/$(jget "$OUT" 'j["previous"]')" 0/30
pcall http.flag_set url="$FAKE_URL/echo" value=1
expect_eq "no ETag, no version: flag.bad_answer or no_cas" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/flag.bad_answer

# ---- the run's configuration: plugin "http" { base_url, allowed_hosts, timeout, headers, token }
export PGMOVE_STATE_DIR="$TMP/state" FLAGS_TOKEN="$TOKEN"
cat >"$TMP/cfg.lua" <<LUA
runbook "httpcfg" { params = { token = { type = "string", env = "FLAGS_TOKEN", secret = true } } }
local http = plugin "http" { base_url = "$FAKE_URL/", allowed_hosts = { "127.0.0.1" },
                             timeout = "5s", headers = { ["X-Team"] = "db" }, token = params.token }
step "relative" { run = function(ctx) return http.request { url = "echo", headers = { ["X-Trace"] = "t-9" } } end }
step "elsewhere" { run = function(ctx)
  local ok, err = pcall(http.request, { url = "http://localhost:1/x" })
  return { ok = ok, code = err.code, message = err.message } end }
LUA
$PGMOVE run "$TMP/cfg.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
cat "$TMP/err" >>"$TMP/all.err"
expect_eq "a run with the configured http plugin completes" "$RC" 0
expect_eq "the relative URL went to base_url with the configured and the call's headers, and the token" \
	"$(jget "$(ctl requests)" 'j[-1]["path"] + " " + j[-1]["headers"]["X-Team"] + " " + j[-1]["headers"]["X-Trace"] + " " + str(j[-1]["headers"]["Authorization"] == "Bearer '"$TOKEN"'")')" \
	"/echo db t-9 True"
$PGMOVE status --json >"$TMP/out" 2>>"$TMP/all.err"
expect_eq "a host outside allowed_hosts is refused before sending" \
	"$(jget "$(cat "$TMP/out")" '[n for n in j["nodes"] if n["name"] == "elsewhere"][0]["output"]["code"]')" http.host_not_allowed
if grep -rq CANARY "$TMP/state" "$TMP/out"; then fail "the configured token reached the run directory or status"; else pass "the configured token is in no journal, state or status"; fi
printf 'runbook "httpbad" {}\nlocal h = plugin "http" { base_url = "http://x/", timout = "5s" }\n' >"$TMP/bad.lua"
$PGMOVE plan "$TMP/bad.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "plan refuses an unknown configuration key by name (exit 6)" \
	"$RC/$(grep -c "bad.lua:2: plugin http { ... }: unknown key 'timout' (keys: base_url, allowed_hosts, timeout" "$TMP/err")" 6/1
printf 'runbook "httpbad" {}\nlocal h = plugin "http" { allowed_hosts = "127.0.0.1" }\n' >"$TMP/bad.lua"
$PGMOVE plan "$TMP/bad.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "plan refuses a configuration value of the wrong type" \
	"$RC/$(grep -c "key 'allowed_hosts' must be an array" "$TMP/err")" 6/1

# ---- no secret anywhere in what pgmove printed
if grep -q CANARY "$TMP/all.err"; then fail "a secret reached stderr: $(grep CANARY "$TMP/all.err" | head -3)"; else pass "no secret on stderr"; fi
finish
