#!/bin/sh
# tests/engine/test_report_html.sh - pgmove report --html in a real browser:
# a run with a retried step, a breaker trip, a failed gate, an approval and
# a step output holding <script> is written as HTML; headless Chromium
# renders it (DOM dump and screenshot) with every host name unresolvable; the
# DOM must hold the run's content, the output as text, no script errors and
# no console errors; the screenshot must be a PNG of the window's size
# showing the timeline's colours; the page must reference nothing outside.
# SKIP (77) only when chromium is not installed (.ci/run installs it).
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
	echo "SKIP: chromium is not installed (scripts/install-deps installs it)"
	exit 77
fi
D="$T/d"
mkdir -p "$D"
SECRET=s3cr3t-Html-T0ken
export TEST_TOKEN="$SECRET"
cat >"$T/change.lua" <<'LUA'
local t = plugin "testplug"
runbook "change" {
  summary = "report --html test",
  params = {
    dir = { type = "string", required = true },
    token = { type = "string", env = "TEST_TOKEN", secret = true },
  },
}
phase "copy"
step "copy-data" {
  retry = { attempts = 3, delay = "50ms" },
  run = function(ctx)
    t.count { file = ctx.params.dir .. "/copy", fail_until = 1 }
    if ctx.params.token then t.secret { password = ctx.params.token } end
    return t.echo { value = { note = "<script>document.title='pwned'</script>", rows = 42 } }
  end,
  undo = function(ctx, out) t.count { file = ctx.params.dir .. "/copy.undo" } end,
}
wait "caught-up" { every = "50ms", timeout = "30s",
  condition = function(ctx) return t.read { file = ctx.params.dir .. "/caught" }.value == "yes" end }
breaker "lag" { sustained = "200ms", action = "pause", during = { "copy" },
  condition = function(ctx) local r = t.read { file = ctx.params.dir .. "/lag" } return r.number > 60, r end }
phase "verify"
gate "data-verified" {
  check("row counts match", function(ctx) local r = t.read { file = ctx.params.dir .. "/rows" } return r.value == "equal", r end),
  check("copy output kept", function(ctx) return ctx.outputs["copy-data"].value.rows == 42, ctx.outputs["copy-data"] end),
}
approve "cutover" { prompt = "Stop writes and switch?" }
step "switch" { run = function(ctx) return t.echo { value = "switched" } end }
LUA
echo no >"$D/caught"
echo 90 >"$D/lag"
echo differ >"$D/rows"
expect 3 "run: the breaker pauses it" pgmove run "$T/change.lua" -p dir="$D"
echo 5 >"$D/lag"
echo yes >"$D/caught"
expect 4 "resume: the gate fails" pgmove resume last
echo equal >"$D/rows"
expect 3 "resume: the gate passes, the approval pauses" pgmove resume last
expect 0 "approve with a comment" pgmove approve last cutover --by alice -m "writes stopped <b>at 07:00</b>"
expect 0 "resume completes" pgmove resume last

# usage errors
expect 2 "-o without --html is refused" pgmove report last -o "$T/x.html"
has "$T/err" "goes with --html" "the message says why"
expect 2 "--html with --json is refused" pgmove report last --html --json
expect 8 "an output file that cannot be written: exit 8" pgmove report last --html -o "$T/no/such/dir/r.html"
has "$T/err" "cannot write $T/no/such/dir/r.html" "the message names the file"
expect 2 "an unknown run" pgmove report no-such-run --html

H="$T/report.html"
expect 0 "report --html -o FILE" pgmove report last --html -o "$H"
expect 0 "report --html to stdout" pgmove report last --html
cmp -s "$T/out" "$H" && ok "stdout and -o give the same page" || bad "stdout and -o differ"
lacks "$H" "$SECRET" "the secret is not in the page"
has "$H" "&lt;script&gt;document\.title=&#39;pwned&#39;&lt;/script&gt;" "the step output's <script> is escaped"
has "$H" "writes stopped &lt;b&gt;at 07:00&lt;/b&gt;" "the approval comment is escaped"
has "$H" "$(sed -n 's/.*"hash":"\([0-9a-f]*\)".*/\1/p' "$(run_dir change)/journal.jsonl" | head -1)" "the runbook's sha256"
"$PY" - "$H" >"$T/static" <<'PYEOF'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
refs = re.findall(r'''(?:src|href|action|srcset|poster|data)\s*=\s*["']?([^"'\s>]+)''', html, re.I)
external = [r for r in refs if not r.startswith("#")]
print("refs", len(refs), "external", " ".join(external) or "-")
print("css-urls", len(re.findall(r"url\(|@import", html)))
print("scripts", len(re.findall(r"<script", html, re.I)))
print("links", len(re.findall(r"<(?:link|iframe|img|object|embed)\b", html, re.I)))
PYEOF
has "$T/static" "^refs [1-9][0-9]* external -$" "every src/href is an in-page anchor (#...)"
has "$T/static" "^css-urls 0$" "no url() or @import in the CSS"
has "$T/static" "^scripts 1$" "one script: the page's own"
has "$T/static" "^links 0$" "no link, iframe, img, object, embed"

# chromium: every host name unresolvable, no proxy; its own profile in $T
# (tests run side by side)
chrome() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$T/chrome" --host-resolver-rules="MAP * ~NOTFOUND" \
		--no-proxy-server --disable-background-networking --disable-extensions \
		--disable-component-update --disable-sync --disable-default-apps \
		--enable-logging=stderr --v=0 "$@"
}
chrome --dump-dom "file://$H" >"$T/dom" 2>"$T/chrome.err"
equals "$?" 0 "chromium --dump-dom"
has "$T/dom" 'data-js="ok"' "the page's script ran"
has "$T/dom" '<pre id="js-errors" hidden=""></pre>' "no script error was caught"
has "$T/dom" "<title>pgmove run [^<]* \(change\)</title>" "the title was not changed by the output's script"
lacks "$T/dom" "pwned</title>" "the output's script did not run"
for s in copy-data caught-up data-verified cutover switch "row counts match" "copy output kept" alice \
	"Stop writes and switch\?" "attempt 1 failed: testplug\.flaky" "evaluation 1 of 2" "evaluation 2 of 2"; do
	has "$T/dom" "$s" "the DOM shows $s"
done
has "$T/dom" 'class="trip"><td>[^<]*</td><td>lag</td><td>caught-up</td><td>pause</td>' "the breaker trip is listed"
has "$T/dom" 'class="marker marker-breaker"' "the breaker trip is on the timeline"
equals "$(grep -o 'class="bar bar-failed"' "$T/dom" | wc -l | tr -d ' ')" 2 "two failed bars: the first copy attempt and the first gate evaluation"
has "$T/dom" 'class="bar bar-stopped"' "the wait stopped by the breaker is on the timeline"
has "$T/dom" "&lt;script&gt;document.title='pwned'&lt;/script&gt;" "the output shows as text in the DOM"
has "$T/dom" '<code>\*\*\*\*\*\*\*\*</code>' "the secret param is shown masked"
lacks "$T/chrome.err" "CONSOLE|Uncaught|Refused to|Content Security Policy|ERR_NAME_NOT_RESOLVED|net::ERR" "no console error, CSP violation or network attempt"

# the console check can fail: a page with a script error and an outside
# image makes chromium say so on stderr
cat >"$T/broken.html" <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>b</title></head>
<body><img src="http://pgmove-test.invalid/x.png"><script>undefinedFunction();</script></body></html>
HTML
chrome --dump-dom "file://$T/broken.html" >/dev/null 2>"$T/broken.err"
has "$T/broken.err" "CONSOLE|Uncaught" "control: a broken page's console error is seen on stderr"

# after a rollback: the undo is on the timeline and the run says rolled-back
expect 5 "rollback of the completed run" pgmove rollback last
expect 0 "report --html after the rollback" pgmove report last --html -o "$T/rolled.html"
has "$T/rolled.html" 'class="bar bar-undo" data-node="copy-data"' "the undo of copy-data is on the timeline"
has "$T/rolled.html" '<span class="st st-rolled-back">rolled-back</span>' "the run is shown rolled back"
has "$T/rolled.html" 'class="marker marker-rollback"' "the rollback is marked on the timeline"

W=1200
HT=1600
chrome --screenshot="$T/shot.png" --window-size=$W,$HT --hide-scrollbars "file://$H" >/dev/null 2>"$T/shot.err"
equals "$?" 0 "chromium --screenshot"
"$PY" - "$T/shot.png" "$W" "$HT" >"$T/png" <<'PYEOF'
import struct, sys, zlib
path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = open(path, "rb").read()
if d[:8] != b"\x89PNG\r\n\x1a\n":
    print("signature bad")
    sys.exit(0)
print("signature ok")
pos, idat, ihdr = 8, b"", None
while pos < len(d):
    ln, = struct.unpack(">I", d[pos:pos + 4])
    typ, body = d[pos + 4:pos + 8], d[pos + 8:pos + 8 + ln]
    if zlib.crc32(typ + body) != struct.unpack(">I", d[pos + 8 + ln:pos + 12 + ln])[0]:
        print("crc bad", typ)
    if typ == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif typ == b"IDAT":
        idat += body
    pos += 12 + ln
w, h, depth, ctype, _, _, interlace = ihdr
print("size %dx%d" % (w, h), "ok" if (w, h) == (want_w, want_h) else "want %dx%d" % (want_w, want_h))
bpp = {2: 3, 6: 4}.get(ctype)
if depth != 8 or not bpp or interlace:
    print("format unexpected", depth, ctype, interlace)
    sys.exit(0)
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours = {}
i = 0
for y in range(h):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        colours[px] = colours.get(px, 0) + 1
    prev = line
print("colours", len(colours))
white = colours.get(b"\xff\xff\xff", 0)
print("white-share %.2f" % (white / float(w * h)))
for name, rgb in (("green", "2e7d32"), ("red", "c62828"), ("orange", "b26a00")):
    print("bar-" + name, colours.get(bytes.fromhex(rgb), 0))
PYEOF
has "$T/png" "^signature ok$" "the screenshot is a PNG"
lacks "$T/png" "crc bad|format unexpected" "its chunks are sound"
has "$T/png" "^size ${W}x${HT} ok$" "of the window's size"
n=$(sed -n 's/^colours //p' "$T/png")
if [ "${n:-0}" -gt 50 ]; then ok "not blank: $n colours"; else bad "blank screenshot? ${n:-?} colours"; fi
share=$(sed -n 's/^white-share //p' "$T/png")
if "$PY" -c "import sys; sys.exit(0 if float('${share:-1}') < 0.97 else 1)"; then ok "not mostly white ($share)"; else bad "mostly white ($share)"; fi
for c in green red orange; do
	px=$(sed -n "s/^bar-$c //p" "$T/png")
	if [ "${px:-0}" -gt 40 ]; then ok "the timeline's $c bars are on the screenshot ($px px)"; else bad "no $c bar pixels (${px:-?})"; fi
done
finish
