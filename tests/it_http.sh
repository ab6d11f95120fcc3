#!/usr/bin/env bash
# herald send over HTTP as a user runs it, against the fault-injecting
# tests/servers/http_server.py on 127.0.0.1: connection cap and reuse,
# Idempotency-Keys, the bytes on the wire against the outbox rendering,
# retries and their limits, Retry-After, dropped connections, timeouts,
# TLS trust, a dead server, --max-failures, SIGINT once and twice,
# --redirect, --rate, and credentials kept out of the report and logs.
#
# Every run tags its URLs with ?run=NAME, so the server's log (one JSON
# line per request) can be cut per run even when a slow request of an
# earlier run is logged late.  No traffic leaves 127.0.0.1: the one
# foreign host named (--redirect) is under .invalid and never contacted.
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"
# IT_KEEP=DIR keeps a copy of the test's files (logs, reports) for a look
if [ -n "${IT_KEEP:-}" ]; then cleanup_hooks+=("rm -rf '$IT_KEEP'; cp -r '$TMP' '$IT_KEEP'"); fi
SERVER=$SRC/tests/servers/http_server.py
CHECK=$SRC/tests/http_check.py

# ---- helpers ---------------------------------------------------------------

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# start_server NAME [server args]: http_server.py logging to NAME.log and
# NAME.stats; sets PORT_<NAME>.  Stopped at exit.
start_server() {
  local name=$1 pid i
  shift
  "$PYTHON" "$SERVER" --port-file "$name.port" --log "$name.log" \
    --stats "$name.stats" "$@" 2>"$name.err" &
  pid=$!
  cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  for i in $(seq 200); do
    [ -s "$name.port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ ! -s "$name.port" ]; then
    echo "FAIL: test server $name did not start:" >&2
    cat "$name.err" >&2
    exit 1
  fi
  printf -v "PORT_$name" '%s' "$(tr -d '\n' <"$name.port")"
}

# free_port: a port nobody listens on (bound, then closed again)
free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# list FILE N: a CSV of N recipients
list() {
  "$PYTHON" - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(1, int(sys.argv[2]) + 1):
        f.write(f"user{i}@example.com,User {i}\n")
PY
}

# tmpl FILE URL [HEADER...]: a JSON POST to URL
tmpl() {
  local file=$1 url=$2
  shift 2
  {
    echo "POST $url"
    echo "Content-Type: application/json"
    for h in "$@"; do echo "$h"; done
    echo
    echo '{"to": "{{email}}", "text": "Hello {{name}}"}'
  } >"$file"
}

# summary LOG TAG: the server's view of one run, as JSON in TAG.sum
summary() { "$PYTHON" "$CHECK" run "$1" "$2" >"$2.sum"; }
# jobj FILE EXPR: EXPR over d, the JSON object in FILE
jobj() { "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# statuses REPORT: sorted distinct (status, failure, attempts) of a report
statuses() { jrows "$1" 'sorted(set((r["status"], r.get("failure"), r["attempts"]) for r in rows))'; }
# every_row REPORT N: "ok" when the report has rows 1..N, each exactly once
every_row() { jrows "$1" '"ok" if sorted(r["row"] for r in rows) == list(range(1, '"$2"' + 1)) else sorted(r["row"] for r in rows)'; }

# wait_exit PID SECONDS: waits for PID to end; sets rc (124 when it did not
# end in time; it is then killed)
wait_exit() {
  local pid=$1 deadline=$(($(ms_now) + $2 * 1000))
  while kill -0 "$pid" 2>/dev/null && [ "$(ms_now)" -lt "$deadline" ]; do
    sleep 0.02
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rc=124
  else
    set +e
    wait "$pid"
    rc=$?
    set -e
  fi
}

start_server srv
P=$PORT_srv
B=http://127.0.0.1:$P
list l3.csv 3
list l10.csv 10
list l20.csv 20
list l40.csv 40
list l50.csv 50
list l100.csv 100
list l200.csv 200

# ---- 200 rows, 4 workers: at most 4 connections, one key per row ---------

tmpl load.http "$B/ok?run=load"
run_herald send -t load.http -c 4 -o load.jsonl l200.csv
expect_eq "$rc" 0 "load: exit 0"
expect_eq "$(every_row load.jsonl 200)" ok "load: every row reported once"
expect_eq "$(statuses load.jsonl)" "[('sent', None, 1)]" "load: all sent at the first attempt"
summary srv.log load
expect_eq "$(jobj load.sum 'd["requests"]')" 200 "load: the server got 200 requests"
expect_eq "$(jobj load.sum 'd["missing_key"]')" 0 "load: every request has one Idempotency-Key"
expect_eq "$(jobj load.sum 'len(d["keys"])')" 200 "load: 200 distinct keys (none received twice)"
expect_eq "$(jobj load.sum 'd["connections"] <= 4')" True "load: at most 4 connections in the log ($(jobj load.sum 'd["connections"]'))"
# the server's first run: every connection it accepted so far is this run's
expect_eq "$(jobj srv.stats 'd["connections"] <= 4')" True "load: at most 4 connections accepted ($(jobj srv.stats 'd["connections"]'))"
expect_eq "$(jobj srv.stats 'sorted(set(d["ok_by_key"][k] for k in json.load(open("load.sum"))["keys"]))')" "[1]" "load: ok_by_key is 1 for every key"
expect_eq "$(jrows load.jsonl 'sorted(r["message_id"] for r in rows) == sorted(json.load(open("load.sum"))["keys"])')" True "load: report message_ids are the keys the server got"

# ---- worker threads: over HTTP one per core, never more than -c ----------

tmpl threads.http "$B/ok?run=threads"
cores=$(nproc)
run_herald send -v -t threads.http -c 8 -o threads.jsonl l40.csv
expect_match "$err" "herald: up to 8 connections, driven by $((cores < 8 ? cores : 8)) worker thread" "threads: -c 8 on $cores cores"
expect_eq "$rc:$(grep -c 'connections, driven by' <<<"$err")" 0:1 "threads: -v says it once"

# ---- the bytes on the wire are the outbox rendering -----------------------

cat >bytes.csv <<'CSV'
email,name,team,note
ann@example.com,Ann,sales,plain
bob@example.com,"Bob ""the"" Builder",r&d/ops,"tab	and \ backslash"
chloe@example.net,Chloé Żółć,a b?c#d,"line one
line two"
dan@example.org,<script>,x%41y,"{""json"": [1, 2]}"
CSV
cat >bytes.http <<EOF
# a comment line before the request
PUT $B/ok?run=bytes&team={{team}}&to={{email}}&n={{name}}
Content-Type: application/json; charset=utf-8
X-Team: {{team}}
X-Note: static value
Accept: application/json

{"name": "{{name}}", "note": "{{note}}", "raw": "{{{team}}}"}
EOF
run_herald send -t bytes.http --campaign it-bytes -o bytes.jsonl bytes.csv
expect_eq "$rc" 0 "bytes: exit 0"
expect_eq "$(statuses bytes.jsonl)" "[('sent', None, 1)]" "bytes: all sent"
run_herald send -t bytes.http --campaign it-bytes --outbox bytes.outbox -o bytes-outbox.jsonl bytes.csv
expect_eq "$rc" 0 "bytes: outbox run exit 0"
expect_eq "$(count_files bytes.outbox)" 4 "bytes: four outbox files"
set +e
cmp_out=$("$PYTHON" "$CHECK" compare bytes.outbox srv.log "$P" 2>&1)
cmp_rc=$?
set -e
expect_eq "$cmp_rc" 0 "bytes: the server received exactly the outbox requests"
[ "$cmp_rc" = 0 ] || printf '%s\n' "$cmp_out"
expect_eq "$(printf '%s\n' "$cmp_out" | tail -1)" "compared 4" "bytes: four rows compared"
expect_match "$(head -1 bytes.outbox/000002.http)" '^PUT .*&team=r%26d%2Fops&' "bytes: URL tags are percent-encoded"

# ---- transient failures are retried until they succeed -------------------

tmpl flaky.http "$B/flaky?fail=2&code=503&run=flaky"
run_herald send -t flaky.http -c 4 --retries 3 --backoff 0.05 -o flaky.jsonl l20.csv
expect_eq "$rc" 0 "flaky: exit 0"
expect_eq "$(every_row flaky.jsonl 20)" ok "flaky: every row reported once"
expect_eq "$(statuses flaky.jsonl)" "[('sent', None, 3)]" "flaky: all sent with attempts 3"
summary srv.log flaky
expect_eq "$(jobj flaky.sum 'len(d["keys"])')" 20 "flaky: 20 keys"
expect_eq "$(jobj flaky.sum 'sorted(set(str(v) for v in d["keys"].values()))')" "['[503, 503, 200]']" "flaky: each key got 503, 503, then one 200"

# ---- ... and given up after --retries -------------------------------------

tmpl flaky5.http "$B/flaky?fail=5&run=flaky5"
run_herald send -t flaky5.http -c 4 --retries 2 --backoff 0.05 -o flaky5.jsonl l10.csv
expect_eq "$rc" 1 "flaky5: exit 1"
expect_eq "$(every_row flaky5.jsonl 10)" ok "flaky5: every row reported once"
expect_eq "$(statuses flaky5.jsonl)" "[('failed', 'transient', 3)]" "flaky5: failed transient after 3 attempts"
expect_eq "$(jrows flaky5.jsonl 'sorted(set((r["code"], r["error"]) for r in rows))')" "[(503, 'HTTP 503 Service Unavailable')]" "flaky5: code and error of the last attempt"
summary srv.log flaky5
expect_eq "$(jobj flaky5.sum 'sorted(set(str(v) for v in d["keys"].values()))')" "['[503, 503, 503]']" "flaky5: exactly 3 requests per key"

# ---- permanent failures are not retried -----------------------------------

tmpl s404.http "$B/status/404?run=s404"
run_herald send -t s404.http -c 4 --retries 3 --backoff 0.05 -o s404.jsonl l10.csv
expect_eq "$rc" 1 "404: exit 1"
expect_eq "$(statuses s404.jsonl)" "[('failed', 'permanent', 1)]" "404: failed permanent, attempts 1"
expect_eq "$(jrows s404.jsonl 'sorted(set((r["code"], r["error"]) for r in rows))')" "[(404, 'HTTP 404 Not Found')]" "404: code and error"
summary srv.log s404
expect_eq "$(jobj s404.sum 'd["requests"]')" 10 "404: one request per row"

tmpl s302.http "$B/status/302?run=s302"
run_herald send -t s302.http --retries 3 --backoff 0.05 -o s302.jsonl l3.csv
expect_eq "$(statuses s302.jsonl)" "[('failed', 'permanent', 1)]" "302: failed permanent, not followed"
expect_eq "$(grep -c 'redirect-followed' srv.log || true)" 0 "302: the Location was not followed"

# ---- Retry-After is honoured over a shorter backoff ------------------------

tmpl r429.http "$B/429?after=1&run=r429"
t0=$(ms_now)
run_herald send -t r429.http -c 3 --retries 1 --backoff 0.05 -o r429.jsonl l3.csv
t=$(($(ms_now) - t0))
expect_eq "$rc" 1 "429: exit 1"
expect_eq "$(statuses r429.jsonl)" "[('failed', 'transient', 2)]" "429: failed transient after 2 attempts"
expect_eq "$((t >= 950))" 1 "429: the run waited for Retry-After: 1 (${t} ms)"
expect_eq "$(jrows r429.jsonl 'min(r["ms"] for r in rows) >= 950')" True "429: every row took at least the Retry-After"
summary srv.log r429
expect_eq "$(jobj r429.sum 'sorted(set(str(v) for v in d["keys"].values()))')" "['[429, 429]']" "429: 2 requests per key"

# -v tells each retry (row, attempt, reason, wait) and each slow-down (the
# new pace, why) when it is decided, while the row still waits, and
# before the row's outcome
printf 'email,name\nv1@example.com,V1\n' >lv.csv
tmpl v429.http "$B/429?after=2&run=v429"
"$HERALD" send -v -t v429.http -c 1 --retries 1 --backoff 0.05 -o v429.jsonl lv.csv >v429.out 2>v429.err &
vpid=$!
sleep 1.2
expect_match "$(cat v429.err)" "herald: retry: row 1, attempt 1 failed: HTTP 429 Too Many Requests; the next in 2\.00 s" "-v: the retry told at once, with row, attempt, reason and wait"
expect_match "$(cat v429.err)" "herald: slowing down: .*every send waits 2\.0 s first \(row 1, attempt 1: HTTP 429" "-v: the slow-down told at once, with the pause and why"
if kill -0 $vpid 2>/dev/null; then ok "-v: told while the row still waited"; else bad "-v: herald was done before the check"; fi
wait_exit $vpid 20
expect_eq "$rc" 1 "-v 429: exit 1"
expect_eq "$(grep -n -e 'retry: row 1, attempt 1' -e 'failed: row 1 ' v429.err | cut -d: -f3 | tr '\n' ' ')" " retry  failed " "-v: the retry comes before the row's failure"
expect_eq "$(grep -c 'retry: row 1, attempt 2' v429.err)" 0 "-v: no retry told for the last attempt"
run_herald send -t v429.http -c 1 --retries 1 --backoff 0.05 -o v429q.jsonl lv.csv
case "$err" in *"retry:"*|*"slowing down"*) bad "without -v: retries told";; *) ok "without -v: retries and slow-downs not told";; esac

# a reply's UTF-8 stays UTF-8 in the report
printf 'POST %s\nContent-Type: application/json\n\n{"msg": "Empf\303\244nger unbekannt \342\200\224 {{name}}"}\n' "$B/echo?code=422&run=utf8" >utf8.http
run_herald send -t utf8.http --retries 0 -o utf8.jsonl l3.csv
expect_match "$(jrows utf8.jsonl '[r for r in rows if r["row"] == 1][0]["response"]')" '^\{"msg": "Empfänger unbekannt — User 1"' "HTTP: a UTF-8 reply stays UTF-8 in the report"

# a 429 once, then success: sent at attempt 2, after the wait
tmpl f429.http "$B/flaky?fail=1&code=429&run=f429"
run_herald send -t f429.http -c 2 --retries 2 --backoff 0.05 -o f429.jsonl l3.csv
expect_eq "$rc" 0 "429 then 200: exit 0"
expect_eq "$(statuses f429.jsonl)" "[('sent', None, 2)]" "429 then 200: sent at attempt 2"

tmpl d429.http "$B/429date?run=d429"
t0=$(ms_now)
run_herald send -t d429.http -c 3 --retries 1 --backoff 0.05 -o d429.jsonl l3.csv
t=$(($(ms_now) - t0))
expect_eq "$(statuses d429.jsonl)" "[('failed', 'transient', 2)]" "429 with a date: failed after 2 attempts"
expect_eq "$((t >= 900))" 1 "429 with a date: Retry-After as an HTTP-date honoured (${t} ms)"

# ---- a connection dropped mid-response -------------------------------------

# The status line (200) came before the reply body broke off: the server
# took the request, so the row is sent, once.
tmpl drop.http "$B/drop?run=drop"
run_herald send -t drop.http -c 2 --retries 2 --backoff 0.05 -o drop.jsonl l3.csv
expect_eq "$rc" 0 "drop mid-reply: exit 0"
expect_eq "$(statuses drop.jsonl)" "[('sent', None, 1)]" "drop mid-reply: sent after its 200, 1 attempt"
summary srv.log drop
expect_eq "$(jobj drop.sum 'sorted(set(len(v) for v in d["keys"].values()))')" "[1]" "drop mid-reply: 1 request per key"

# The whole request went out and the server hung up without a word: it may
# have acted on it, so herald does not send it again (uncertain).
tmpl dropb.http "$B/drop-before?run=dropb"
run_herald send -t dropb.http -c 2 --retries 1 --backoff 0.05 -o dropb.jsonl l3.csv
expect_eq "$rc" 1 "drop-before: exit 1"
expect_eq "$(statuses dropb.jsonl)" "[('uncertain', None, 1)]" "drop-before: uncertain after 1 attempt, not retried"
expect_match "$(jrows dropb.jsonl 'rows[0]["error"]')" "^sent, the connection was lost before the reply" "drop-before: the error says the request left and no reply came"
expect_eq "$(jrows dropb.jsonl 'all(r["code"] is None for r in rows)')" True "drop-before: no code (no reply)"
expect_match "$err" "1 uncertain|uncertain 3|3 uncertain" "drop-before: the summary counts them"

# ---- a server slower than --timeout ----------------------------------------

tmpl slow.http "$B/slow?ms=3000&run=slow"
t0=$(ms_now)
run_herald send -t slow.http -c 3 --retries 1 --backoff 0.05 --timeout 1 -o slow.jsonl l3.csv
t=$(($(ms_now) - t0))
expect_eq "$rc" 1 "timeout: exit 1"
expect_eq "$(statuses slow.jsonl)" "[('uncertain', None, 1)]" "timeout after the request left: uncertain, 1 attempt"
expect_eq "$(jrows slow.jsonl 'all(r["error"] == "sent, no reply within 1 s" for r in rows)')" True "timeout: the error says sent, no reply within 1 s"
expect_eq "$((t >= 900 && t < 3000))" 1 "timeout: one 1 s attempt bounds the run (${t} ms)"

# ---- --redirect sends every request to one URL -----------------------------

cat >redir.http <<'EOF'
POST http://hooks.example.invalid/services/{{name}}?to={{email}}
Content-Type: application/json

{"to": "{{email}}"}
EOF
run_herald send -t redir.http --campaign it-redir --redirect "$B/ok?run=redir" -o redir.jsonl l3.csv
expect_eq "$rc" 0 "redirect: exit 0"
expect_eq "$(statuses redir.jsonl)" "[('sent', None, 1)]" "redirect: all sent"
summary srv.log redir
expect_eq "$(jobj redir.sum 'd["paths"]')" "['/ok?run=redir']" "redirect: every request went to the redirect URL"
expect_eq "$(jobj redir.sum 'd["requests"]')" 3 "redirect: one request per row"
for k in 1 2 3; do
  key=$(jrows redir.jsonl "[r['message_id'] for r in rows if r['row'] == $k][0]")
  url=$("$HERALD" render -t redir.http --campaign it-redir --row "$k" l3.csv 2>/dev/null | head -1 | cut -d' ' -f2-)
  got=$(jobj redir.sum "d['original_urls'].get('$key')")
  expect_eq "$got" "$url" "redirect: row $k X-Original-URL is the intended URL"
done

# ---- --rate is a ceiling for the whole pool --------------------------------

tmpl rate.http "$B/ok?run=rate"
t0=$(ms_now)
run_herald send -t rate.http --rate 20 -c 8 -o rate.jsonl l40.csv
t=$(($(ms_now) - t0))
expect_eq "$rc" 0 "rate: exit 0"
expect_eq "$(statuses rate.jsonl)" "[('sent', None, 1)]" "rate: all sent"
expect_eq "$((t >= 1900))" 1 "rate: 40 rows at 20/s take at least 1.9 s (${t} ms)"
expect_eq "$((t < 6000))" 1 "rate: ... and not far longer (${t} ms)"
# a row's ms starts at its first attempt: the wait for the pacer is not in it
# (8 rows hold a slot at 10/s, so each would count about 0.8 s of waiting)
head -21 l40.csv >l20.csv
run_herald send -t rate.http --rate 10 -c 8 -o rate10.jsonl l20.csv
expect_eq "$(statuses rate10.jsonl)" "[('sent', None, 1)]" "rate 10/s: all sent"
expect_eq "$(jrows rate10.jsonl 'sorted(r["ms"] for r in rows)[len(rows) // 2] < 400')" True "rate 10/s: ms leaves out the pacer's wait ($(jrows rate10.jsonl 'sorted(r["ms"] for r in rows)') ms)"

# ---- a credential never reaches the report or the logs ---------------------

SECRET=tok-$RANDOM$RANDOM-Zq7
export TOKEN=$SECRET
tmpl echo.http "$B/echo?code=500&run=echo" "Authorization: Bearer {{env.TOKEN}}" "X-Api-Token: {{env.TOKEN}}"
run_herald send -v -t echo.http --env TOKEN -c 2 --retries 1 --backoff 0.05 -o echo.jsonl l3.csv
expect_eq "$rc" 1 "secret: exit 1 (HTTP 500)"
summary srv.log echo
expect_eq "$(grep -c "Bearer $SECRET" srv.log)" 6 "secret: the server got (and echoed) the token"
expect_match "$(jrows echo.jsonl 'rows[0]["response"]')" "Authorization: \*\*\*" "secret: the echoed header is redacted in the response"
expect_eq "$(grep -c "$SECRET" echo.jsonl || true)" 0 "secret: not in the JSONL report"
expect_eq "$(printf '%s\n%s' "$out" "$err" | grep -c "$SECRET" || true)" 0 "secret: not on stdout/stderr (-v)"
run_herald send -v -t echo.http --env TOKEN -c 2 --retries 0 -o echo.csv l3.csv
expect_eq "$(grep -c "$SECRET" echo.csv || true)" 0 "secret: not in the CSV report"
expect_eq "$(printf '%s\n%s' "$out" "$err" | grep -c "$SECRET" || true)" 0 "secret: not on stdout/stderr (CSV run)"
# the password of a URL goes as Basic auth; the echo holds it base64-encoded
cat >echou.http <<EOF
POST http://hook:{{env.TOKEN}}@127.0.0.1:$P/echo?code=500&run=echou
Content-Type: text/plain

hello
EOF
run_herald send -v -t echou.http --env TOKEN --retries 0 -o echou.jsonl l3.csv
b64=$(printf 'hook:%s' "$SECRET" | base64)
expect_eq "$(grep -c "$b64" srv.log)" 3 "secret in URL: the server got Basic auth"
expect_eq "$(grep -c -e "$SECRET" -e "$b64" echou.jsonl || true)" 0 "secret in URL: not in the report"
expect_eq "$(printf '%s\n%s' "$out" "$err" | grep -c -e "$SECRET" -e "$b64" || true)" 0 "secret in URL: not on stderr"
unset TOKEN

# ---- a server that is not there ---------------------------------------------

DEAD=$(free_port)
tmpl dead.http "http://127.0.0.1:$DEAD/ok"
t0=$(ms_now)
run_herald send -t dead.http -c 2 --retries 3 --backoff 1 -o dead.jsonl l3.csv
t=$(($(ms_now) - t0))
expect_eq "$rc" 75 "refused: exit 75 (try again later)"
expect_eq "$(statuses dead.jsonl)" "[('failed', 'transient', 1)]" "refused: every row failed transient after 1 attempt (no retries before any got through)"
expect_match "$(jrows dead.jsonl 'rows[0]["error"]')" "^cannot connect" "refused: the error says cannot connect"
expect_eq "$((t < 3000))" 1 "refused: the run ends within seconds (${t} ms)"
expect_match "$(grep -v '^herald: recipient key' <<<"$err" | head -1)" "^herald: 127.0.0.1:$DEAD: 3 rows tried, none got through \\(cannot connect.*\\): stopping, try again later$" "refused: one line names the server and says try again later"
run_herald send -t dead.http -c 4 --retries 1 --backoff 0.05 -o dead50.jsonl l50.csv
expect_eq "$rc" 75 "refused, 50 rows: exit 75"
expect_eq "$(every_row dead50.jsonl 50)" ok "refused: all 50 rows in the report, once each"
expect_eq "$(jrows dead50.jsonl 'sorted(set(r["status"] for r in rows))')" "['failed', 'not-attempted']" "refused: rows failed or not-attempted"
expect_eq "$(jrows dead50.jsonl 'sum(r["status"] == "failed" for r in rows) <= 3 + 4')" True "refused: a few rows tried, the rest not ($(jrows dead50.jsonl 'sum(r["status"] == "failed" for r in rows)') failed)"
# --max-failures: a server that answers 503 to everything
tmpl f503.http "$B/status/503?run=f503"
run_herald send -t f503.http -c 1 --retries 0 --max-failures 3 -o f503.jsonl l50.csv
expect_eq "$rc" 75 "--max-failures 3: exit 75"
expect_eq "$(every_row f503.jsonl 50)" ok "--max-failures: all 50 rows in the report, once each"
expect_eq "$(jrows f503.jsonl 'sum(r["status"] == "failed" for r in rows)')" 3 "--max-failures 3 with -c 1: exactly 3 failed"
expect_match "$err" "3 failures in a row \\(--max-failures 3\\).*HTTP 503" "--max-failures: stderr says why and what the failures were"
run_herald send -t f503.http -c 1 --retries 0 -o f503d.jsonl l50.csv
expect_eq "$(jrows f503d.jsonl 'sum(r["status"] == "failed" for r in rows)')" 20 "--max-failures defaults to 20"
run_herald send -t f503.http -c 1 --retries 0 --max-failures 0 -o f503o.jsonl l50.csv
expect_eq "$(jrows f503o.jsonl 'sum(r["status"] == "failed" for r in rows)')" 50 "--max-failures 0 turns it off"

# ---- SIGINT: finish what is in flight, report every row --------------------

tmpl sig1.http "$B/slow?ms=300&run=sig1"
"$HERALD" send -t sig1.http -c 2 -o sig1.jsonl l100.csv >sig1.out 2>sig1.err &
pid=$!
# about 1 s in, once sends are surely under way: the server logs a /slow
# request as it answers, so two logged means the next ones are in flight
for i in $(seq 200); do
  [ "$(grep -c 'run=sig1' srv.log || true)" -ge 2 ] && break
  sleep 0.05
done
sleep 0.4
kill -INT "$pid"
t0=$(ms_now)
wait_exit "$pid" 10
t=$(($(ms_now) - t0))
expect_eq "$rc" 75 "SIGINT: exit 75"
expect_eq "$((t < 3000))" 1 "SIGINT: exits within a few seconds (${t} ms)"
expect_eq "$(every_row sig1.jsonl 100)" ok "SIGINT: all 100 rows in the report, once each"
expect_eq "$(jrows sig1.jsonl 'sorted(set(r["status"] for r in rows))')" "['not-attempted', 'sent']" "SIGINT: rows sent or not-attempted"
nsent=$(jrows sig1.jsonl 'sum(r["status"] == "sent" for r in rows)')
expect_eq "$((nsent >= 2 && nsent <= 16))" 1 "SIGINT: only rows begun before the signal were sent ($nsent)"
summary srv.log sig1
expect_eq "$(jrows sig1.jsonl 'sorted(r["message_id"] for r in rows if r["status"] == "sent") == sorted(json.load(open("sig1.sum"))["keys"])')" True "SIGINT: every request the server got is reported sent, no other"
expect_match "$(cat sig1.err)" "interrupted" "SIGINT: stderr says interrupted"

# A second SIGINT aborts the sends in flight.  They take 6 s here (4.5 s
# more after the second signal), so an exit within 3 s of it shows they
# were aborted, not awaited.
tmpl sig2.http "$B/slow?ms=6000&run=sig2"
"$HERALD" send -t sig2.http -c 2 -o sig2.jsonl l20.csv >sig2.out 2>sig2.err &
pid=$!
sleep 1.2
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
t0=$(ms_now)
wait_exit "$pid" 10
t=$(($(ms_now) - t0))
expect_eq "$rc" 75 "second SIGINT: exit 75"
expect_eq "$((t < 3000))" 1 "second SIGINT: in-flight sends aborted, exit soon (${t} ms)"
expect_eq "$(every_row sig2.jsonl 20)" ok "second SIGINT: all 20 rows in the report, once each"
expect_eq "$(jrows sig2.jsonl 'sum(r["status"] == "sent" for r in rows)')" 0 "second SIGINT: nothing reported sent"
expect_eq "$(jrows sig2.jsonl 'sorted(set((r["status"], r.get("failure")) for r in rows))')" "[('not-attempted', None), ('uncertain', None)]" "second SIGINT: in-flight rows (their requests had left) uncertain, the rest not-attempted"
expect_eq "$(jrows sig2.jsonl 'sum(r["status"] == "uncertain" for r in rows)')" 2 "second SIGINT: exactly the 2 in flight are uncertain"
expect_eq "$(jrows sig2.jsonl 'all(r["error"] == "sent, the run was interrupted before the reply" for r in rows if r["status"] == "uncertain")')" True "second SIGINT: the uncertain rows say why"
expect_match "$(cat sig2.err)" "interrupted again" "second SIGINT: stderr says so"

# ---- TLS -------------------------------------------------------------------

sh "$SRC/tests/servers/make_certs.sh" certs
start_server tls --tls-cert certs/server.pem --tls-key certs/server.key
TB=https://127.0.0.1:$PORT_tls
tmpl tls.http "$TB/ok?run=tls"
run_herald send -t tls.http --cacert certs/ca.pem -o tls.jsonl l10.csv
expect_eq "$rc" 0 "TLS with --cacert: exit 0"
expect_eq "$(statuses tls.jsonl)" "[('sent', None, 1)]" "TLS with --cacert: all sent"
tmpl tlsu.http "$TB/ok?run=tlsu"
run_herald send -t tlsu.http -c 2 -o tlsu.jsonl l20.csv
expect_eq "$rc" 78 "TLS untrusted: exit 78"
# (the summary's error groups, indented, count it once more)
expect_eq "$(printf '%s\n' "$err" | grep -v '^herald:   ' | grep -ci 'certificate')" 1 "TLS untrusted: one line about the certificate"
expect_match "$err" "certificate.*not trusted|not trusted.*certificate" "TLS untrusted: it says not trusted"
expect_eq "$(every_row tlsu.jsonl 20)" ok "TLS untrusted: every row in the report, once each"
expect_eq "$(jrows tlsu.jsonl 'sorted(set((r["status"], r.get("failure")) for r in rows))')" "[('failed', 'permanent'), ('not-attempted', None)]" "TLS untrusted: failed or not-attempted, nothing sent"
summary tls.log tlsu
expect_eq "$(jobj tlsu.sum 'd["requests"]')" 0 "TLS untrusted: no request reached the server"
run_herald send -t tlsu.http --insecure -o tlsi.jsonl l3.csv
expect_eq "$rc" 0 "TLS --insecure: exit 0"
start_server self --tls-cert certs/untrusted.pem --tls-key certs/untrusted.key
tmpl self.http "https://127.0.0.1:$PORT_self/ok?run=self"
run_herald send -t self.http --cacert certs/ca.pem -o self.jsonl l3.csv
expect_eq "$rc" 78 "TLS self-signed, other CA given: exit 78"
expect_eq "$(jrows self.jsonl 'sum(r["status"] == "sent" for r in rows)')" 0 "TLS self-signed: nothing sent"

# ---- herald never delivered a row twice ------------------------------------

# A request that timed out after it left is uncertain and never sent again,
# so no key may have two 2xx, the timeout runs included.
summary srv.log slow
expect_eq "$(jobj srv.stats 'max(d["ok_by_key"].values()) <= 1')" True "no key got a 2xx twice across all runs ($(jobj srv.stats 'len(d["ok_by_key"])') keys)"
expect_eq "$(jobj slow.sum 'sorted(set(len(v) for v in d["keys"].values()))')" "[1]" "timeout: the server saw exactly 1 request per key"
expect_eq "$(jobj tls.stats 'max(d["ok_by_key"].values()) <= 1')" True "TLS: no key got a 2xx twice"

finish
