#!/usr/bin/env bash
# The web console (console/, docs/console.md), from the outside:
#   1. `dwf console` over a store where `dwf run` waits on a callback of tests/console/hostile.dwf:
#      the pages over HTTP (list, filters, execution, graph, escaping of hostile names and
#      payloads), the checks (Host, CSRF, POST only), the event stream, a form that answers the
#      callback and the execution that then ends;
#   2. `dwf serve` with SigV4 keys: the console asks for the token serve printed, the token
#      becomes a cookie, the API beside it still wants signatures;
#   3. a real browser (node/browser.mjs: puppeteer-core driving Debian's chromium) on `dwf serve` with
#      the approval and fanout examples: the execution waits on its callback, Succeed is pressed,
#      the page turns SUCCEEDED by itself; the hostile page's names are text; screenshots of the
#      list, the execution page and the graph under $BUILD/console-pictures/ for review.
# Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
DWF=${DWF:-$ROOT/$BUILD/dwf}
PICS=$ROOT/$BUILD/console-pictures
T=$(mktemp -d /tmp/dwf-console.XXXXXX)
[ -n "${KEEP:-}" ] && echo "work dir $T"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
# check NAME ARGS... < python: pass when the python exits 0
check() {
  local name=$1
  shift
  if python3 - "$@" >"$T/py.out" 2>&1; then pass "$name"; else fail "$name" "$(tail -c 600 "$T/py.out")"; fi
}
# wait_for FILE PATTERN: until FILE holds a line matching PATTERN (60 s at most)
wait_for() {
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

if [ ! -x "$DWF" ]; then fail console_dwf "no $DWF (build first)"; exit 0; fi

# ---- 1. dwf console over the embedded engine's store ---------------------------------------------
cd "$T"
STORE=$T/store.db
"$DWF" run "$ROOT/tests/console/hostile.dwf" --store "$STORE" >run.out 2>run.err &
RUN_PID=$!
PIDS+=($RUN_PID)
for _ in $(seq 600); do
  "$DWF" callbacks --store "$STORE" --json >cbs.json 2>/dev/null && grep -q CallbackId cbs.json && break
  sleep 0.1
done
"$DWF" console --store "$STORE" --port 0 >con.out 2>con.err &
PIDS+=($!)
if ! wait_for con.out '^dwf console: http://'; then
  fail console_start "dwf console did not start: $(cat con.err)"
  exit 0
fi
URL=$(sed -n 's|^dwf console: \(http://[^ ]*\) .*|\1|p' con.out)
BASE=${URL%/console/}
pass console_start

curl -s -D list.h "$URL" >list.html
check console_list list.html list.h <<'EOF'
import sys, re
html, heads = open(sys.argv[1]).read(), open(sys.argv[2]).read()
assert heads.startswith("HTTP/1.1 200"), heads
assert 'class="status s-run">RUNNING<' in html, html[:2000]
assert "hostile-console" in html, "function name missing"
m = re.findall(r'href="(/console/execution\?arn=[^"]+)"', html)
assert len(m) == 1, m
csp = re.search(r"(?im)^Content-Security-Policy: (.*)$", heads)
assert csp and "script-src 'self'" in csp.group(1) and "frame-ancestors 'none'" in csp.group(1), heads
assert "unsafe-inline" not in csp.group(1)
assert re.search(r"(?im)^X-Content-Type-Options: nosniff", heads)
open("exec.path", "w").write(m[0].replace("&amp;", "&"))
EOF
EXEC="$BASE$(cat exec.path 2>/dev/null)"
curl -s "$EXEC" >exec.html
check console_execution_page exec.html <<'EOF'
import sys, re
html = open(sys.argv[1]).read()
for want in ['id="summary"', 'Waiting callbacks', 'name="action" value="succeed"', 'value="fail"', 'value="heartbeat"',
             'Stop execution', 'id="timeline"', 'id="operations"', 'data-events="/console/events?arn=']:
    assert want in html, want
# the graph: laid out by dot, coloured: the two steps succeeded, the callback waits
if "<svg" not in html.split('id="graph"')[1].split("</section>")[0]:
    raise SystemExit("no graph picture")
nodes = re.findall(r'<li class="g-(\w+)">([^<]*)</li>', html)
kinds = {t.split(" ")[0] + ("" if '"' not in t else ""): c for c, t in nodes}
assert [c for c, t in nodes if t.startswith("step")] == ["ok", "ok"], nodes
assert [c for c, t in nodes if t.startswith("callback")] == ["run"], nodes
assert [c for c, t in nodes if t.startswith("end")] == ["none"], nodes
EOF
check console_escaping exec.html list.html <<'EOF'
import sys, re
for f in sys.argv[1:]:
    html = open(f).read()
    # the console's own scripts are the only ones: one <script src=...> in the head
    scripts = re.findall(r"<script\b[^>]*>", html, re.I)
    assert scripts == ['<script defer src="/console/assets/console.js">'], scripts
    for bad in ["<script>alert", "<img src=x", "<b>bold</b>"]:
        hits = [m.start() for m in re.finditer(re.escape(bad), html)]
        # inside an SVG text node Graphviz escapes too: any raw occurrence is a hole
        assert not hits, (f, bad, html[max(0, hits[0] - 200):hits[0] + 100])
html = open(sys.argv[1]).read()
assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the step's name is not shown as text"
assert "&lt;img src=x onerror=alert(4)&gt;" in html, "the callback's name is not shown as text"
assert "it&#39;s &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
assert "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html, "the step's result is not shown as text"
EOF

# the checks in front of every page and form
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
CSRF=$(grep -o 'name="csrf" value="[0-9a-f]*"' exec.html | head -1 | sed 's/.*value="//;s/"//')
CBID=$(grep -o 'name="id" value="[^"]*"' exec.html | head -1 | sed 's/.*value="//;s/"//')
ARN=$(grep -o 'name="arn" value="[^"]*"' exec.html | head -1 | sed 's/.*value="//;s/"//')
post() { curl -s -o post.out -w '%{http_code}' -X POST "$@"; }
got=$(code -H 'Host: evil.example' "$URL")/$(code -H 'Host: 127.0.0.1.evil.example' "$URL")/$(code -H 'Host: localhost:1' "$URL")
[ "$got" = 403/403/200 ] && pass console_host_check || fail console_host_check "Host evil, rebinding, localhost: $got"
got=$(post --data-urlencode "id=$CBID" --data-urlencode "arn=$ARN" --data-urlencode action=succeed "$BASE/console/callback")
got=$got/$(post --data-urlencode "csrf=0$CSRF" --data-urlencode "id=$CBID" --data-urlencode "arn=$ARN" \
  --data-urlencode action=succeed "$BASE/console/callback")
got=$got/$(code "$BASE/console/callback?csrf=$CSRF&id=$CBID&action=succeed")
got=$got/$(post -H 'Origin: http://evil.example' --data-urlencode "csrf=$CSRF" --data-urlencode "id=$CBID" \
  --data-urlencode "arn=$ARN" --data-urlencode action=succeed "$BASE/console/callback")
got=$got/$(post -H 'Content-Type: text/plain' --data "csrf=$CSRF" "$BASE/console/stop")
still=$("$DWF" callbacks --store "$STORE" --json | grep -c CallbackId)
[ "$got" = 403/403/405/403/415 ] && [ "$still" = 1 ] && pass console_csrf ||
  fail console_csrf "no token, wrong token, GET, foreign Origin, not a form: $got (callbacks left: $still)"

# the event stream of a running execution: the first event says where it stands
timeout 3 curl -sN "$BASE/console/events?arn=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$ARN")" >sse.run
check console_events_running sse.run <<'EOF'
import sys
t = open(sys.argv[1]).read()
assert t.startswith("retry: 2000\n\nevent: update\ndata: {\"fingerprint\":\""), repr(t[:200])
assert '"status":"RUNNING"}\n\n' in t, repr(t[:300])
EOF

# the form: the callback completes, `dwf run` (waiting on it) carries the execution to its end
got=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -X POST --data-urlencode "csrf=$CSRF" \
  --data-urlencode "id=$CBID" --data-urlencode "arn=$ARN" --data-urlencode action=succeed \
  --data-urlencode 'result={"approved":"<script>alert(5)</script>"}' "$BASE/console/callback")
case "$got" in
  "303 "*"/console/execution?arn="*"&done=succeed") pass console_callback_form ;;
  *) fail console_callback_form "$got" ;;
esac
rc=0
for _ in $(seq 600); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
wait "$RUN_PID" || rc=$?
curl -s "$EXEC&done=succeed" >done.html
check console_execution_done done.html <<'EOF'
import sys, re
html = open(sys.argv[1]).read()
assert 'class="status s-ok">SUCCEEDED<' in html.split('id="summary"')[1][:600], html[:3000]
assert "Callback completed" in html
assert "No callback is waiting." in html
assert "&lt;script&gt;alert(5)&lt;/script&gt;" in html and "<script>alert(5)" not in html
nodes = re.findall(r'<li class="g-(\w+)">([^<]*)</li>', html)
assert all(c == "ok" for c, t in nodes), nodes
EOF
[ $rc -eq 0 ] && grep -q 'alert(5)' run.out && pass console_run_resumed || fail console_run_resumed "dwf run exit $rc: $(tail -5 run.err)"
timeout 5 curl -sN "$BASE/console/events?arn=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$ARN")" >sse.end
check console_events_end sse.end <<'EOF'
import sys
t = open(sys.argv[1]).read()
assert t.startswith("retry: 2000\n\nevent: end\ndata: {") and t.endswith('"status":"SUCCEEDED"}\n\n'), repr(t)
EOF

# filters and pages: 27 more executions of a workflow without waits
cat >quick.dwf <<'EOF'
workflow quick_console {
  step "one" { return input.n }
  return { n: input.n }
}
EOF
for i in $(seq 27); do "$DWF" run quick.dwf --store "$STORE" --input "{\"n\":$i}" >/dev/null 2>&1; done
curl -s "$URL?status=SUCCEEDED&function=quick-console" >p1.html
NEXT=$(grep -o 'rel="next" href="[^"]*"' p1.html | sed 's/.*href="//;s/"$//;s/&amp;/\&/g')
curl -s "$BASE$NEXT" >p2.html
curl -s "$URL?status=RUNNING" >running.html
curl -s -o bad.html -w '%{http_code}' "$URL?status=%3Cscript%3E" >bad.code
check console_filters_paging p1.html p2.html running.html bad.html bad.code <<'EOF'
import sys, re
p1, p2, run, bad, code = (open(f).read() for f in sys.argv[1:])
rows = lambda h: re.findall(r'<tr><td><span class="status s-(\w+)">(\w+)</span></td><td><a class="exec"[^>]*>[^<]*</a></td><td>([^<]*)</td>', h)
r1, r2 = rows(p1), rows(p2)
assert len(r1) == 25 and len(r2) == 2, (len(r1), len(r2))
assert all(s == "SUCCEEDED" and f == "quick-console" for _, s, f in r1 + r2), r1 + r2
assert "First page" in p2 and 'rel="next"' not in p2
assert '<option selected>SUCCEEDED</option>' in p1 and 'value="quick-console"' in p1
assert rows(run) == [] and "No executions match these filters." in run
assert code == "400" and "<script>" not in bad.replace('<script defer src="/console/assets/console.js">', "")
EOF

# ---- 2. dwf serve with keys: the console wants its token -------------------------------------
cd "$ROOT"
. tests/deploy/serve_lib.sh
ZIPS=$ROOT/$BUILD/console/zips
if ! serve_zips approval fanout; then
  fail console_build_zips "$(cat "$ZIPS"/*/build.log | tail -20)"
  exit 0
fi
for f in approval fanout; do
  [ -s "$ZIPS/$f/workflow-graph.json" ] || fail console_build_graph_file "no workflow-graph.json beside $f's zip"
done
check console_build_graph_file "$ZIPS/approval/workflow-graph.json" <<'EOF'
import sys, json
d = json.load(open(sys.argv[1]))
assert d["workflow"] == "approval_test" and d["dot"].startswith("// dwf graph of")
ids = [(n["id"], n.get("subtype"), n.get("name")) for n in d["nodes"]]
assert ("callback_L15", "Callback", "approval") in ids and ("step_L10", "Step", "prepare-document") in ids, ids
EOF
cd "$T"
if serve_start keyed --store "$T/keyed.db" --access-key AKIDCONSOLE --secret-key s3cr3t "$ZIPS/approval/function.zip" &&
   wait_for keyed.out 'web console at'; then
  PIDS+=($SERVE_PID)
  KURL=$(sed -n 's|^dwf serve: web console at \(http://[^ ]*\)$|\1|p' keyed.out)
  KBASE=${KURL%%/console/*}
  TOKEN=${KURL##*token=}
  a=$(code "$KBASE/console/")/$(code "$KBASE/console/?token=00$TOKEN")
  curl -s -D tok.h -o /dev/null "$KBASE/console/?token=$TOKEN&status=RUNNING"
  COOKIE=$(sed -n 's/^Set-Cookie: \([^;]*\);.*/\1/p' tok.h | tr -d '\r')
  b=$(code -b "$COOKIE" "$KBASE/console/")/$(code -b "${COOKIE%?}x" "$KBASE/console/")
  c=$(code -X POST "$KBASE/2015-03-31/functions/durable-callback-test/invocations")
  loc=$(sed -n 's/^Location: //p' tok.h | tr -d '\r')
  if [ "$a" = 401/401 ] && [ "$b" = 200/401 ] && [ "$c" = 403 ] && [ "$loc" = "/console/?status=RUNNING" ] &&
     grep -q '^Set-Cookie: dwf_console_[0-9a-f]*=[0-9a-f]\{64\}; Path=/console; HttpOnly; SameSite=Strict' tok.h; then
    pass console_serve_token
  else
    fail console_serve_token "no token, wrong token: $a; cookie, wrong cookie: $b; unsigned API: $c; redirect: $loc; $(grep Set-Cookie tok.h)"
  fi
  serve_stop
else
  fail console_serve_token "dwf serve with keys did not start: $(tail -5 keyed.err)"
fi

# ---- 3. in a real browser ---------------------------------------------------------------------
NODE_DIR=$ROOT/tests/console/node
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$CHROMIUM" ]; then fail console_browser "no chromium (make deps installs Debian's chromium)"; exit 0; fi
if [ ! -d "$NODE_DIR/node_modules/puppeteer-core" ]; then
  fail console_browser "no puppeteer-core in $NODE_DIR/node_modules (make deps installs it)"
  exit 0
fi
mkdir -p "$PICS"
if serve_start open --store "$T/open.db" "$ZIPS/approval/function.zip" "$ZIPS/fanout/function.zip" &&
   wait_for open.out 'web console at'; then
  PIDS+=($SERVE_PID)
  OURL=$(sed -n 's|^dwf serve: web console at \(http://[^ ]*\)$|\1|p' open.out)
  CHROMIUM=$CHROMIUM PICS=$PICS CONSOLE_URL=$OURL API_URL=${OURL%/console/} HOSTILE_URL=$EXEC \
    node "$ROOT/tests/console/node/browser.mjs" 2>browser.err
  [ -s browser.err ] && echo "browser.mjs stderr: $(tail -c 1500 browser.err)"
  serve_stop
else
  fail console_browser "dwf serve did not start: $(tail -5 open.err)"
fi
