#!/usr/bin/env bash
# The send engine against a real nginx (tests/servers/nginx-engine.conf.in):
#   - -c caps the connections the server sees and the requests in flight at
#     once, counted from nginx's log (connection serial numbers; each
#     request's end and duration), with a few connections a worker (polled)
#     and with hundreds (libcurl's socket interface and epoll);
#   - --streams N multiplexes over HTTP/2 with TLS (the test CA): -c 2
#     --streams 20 keeps many more than 2 requests in flight over at most
#     2 connections; over HTTP/1.1 it has no effect and says so once;
#   - --per-host N caps each host's requests in flight;
#   - one host that never answers, mixed into a list for ten healthy hosts:
#     the healthy rows are all sent, the silent host's rows end failed and
#     transient with the reason, the run is not held for rows x timeout,
#     and the healthy rows do not wait for the silent host's first timeout
#     (its rows set aside for their destination do not fill the workers).
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"
NGINX=${NGINX:-/usr/sbin/nginx}
ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
if [ ! -x "$NGINX" ] || [ ! -f "$ECHO_MODULE" ]; then
  echo "SKIPPED: $NGINX or its echo module not found (Debian: apt-get install nginx-light)" >&2
  exit 77
fi
sh "$SRC/tests/servers/make_certs.sh" certs >/dev/null 2>&1

# eleven free ports for the TLS listener and the ten customers, and one for
# the host that never answers
read -r TLSP H1 H2 H3 H4 H5 H6 H7 H8 H9 H10 SILENT < <("$PYTHON" - <<'PY'
import socket
socks = []
for _ in range(12):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
sets=(--set "TLSPORT=$TLSP")
for i in $(seq 10); do v=H$i; sets+=(--set "H$i=${!v}"); done
nginx_start --conf "$SRC/tests/servers/nginx-engine.conf.in" "${sets[@]}"

# the silent host: accepts connections (the kernel does) and never answers
"$PYTHON" - "$SILENT" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1024)
held = []
while True:
    c, _ = s.accept()
    held.append(c)  # read nothing, answer nothing, close nothing
PY
silent=$!
cleanup_hooks+=("kill $silent 2>/dev/null")

"$PYTHON" - <<'PY'
with open("l200.csv", "w") as f:
    f.write("email,name\n")
    for i in range(1, 201):
        f.write(f"user{i}@example.com,User {i}\n")
PY

# nginx_view RUN EXPR: EXPR over reqs (RUN's access-log lines), per_conn
# (connection serial -> requests) and peak (most requests in flight at once;
# nginx's times are in milliseconds, so each request counts from 10 ms after
# its start: one ending and the next beginning on a connection never overlap)
nginx_view() {
  "$PYTHON" - "$ACCESS" "$1" "$2" <<'PY'
import collections, json, sys
log, run, expr = sys.argv[1:4]
reqs = [r for r in map(json.loads, open(log)) if f"run={run}" in r["uri"]]
per_conn = collections.Counter(r["conn"] for r in reqs)
edges = sorted([(r["end"] - r["took"] + 0.01, 1) for r in reqs] +
               [(r["end"], -1) for r in reqs])
peak = cur = 0
for _, d in edges:
    cur += d
    peak = max(peak, cur)
print(eval(expr))
PY
}
statuses() { jrows "$1" 'sorted(set((r["status"], r["attempts"], r["code"]) for r in rows))'; }

# ---- -c 3 against a server taking 0.2 s: never more than 3 at once ---------
printf 'POST http://127.0.0.1:%s/slow?run=cap\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$P" >cap.http
run_herald send -t cap.http -c 3 --limit 60 -o cap.jsonl l200.csv
expect_eq "$rc" 0 "cap: exit 0"
expect_eq "$(jrows cap.jsonl 'sorted(set((r["status"], r["attempts"], r["code"]) for r in rows if r["row"] <= 60))')" "[('sent', 1, 200)]" "cap: 60 sent at the first attempt"
expect_eq "$(nginx_view cap 'len(reqs)')" 60 "cap: nginx logged 60 requests"
expect_eq "$(nginx_view cap 'len(per_conn) <= 3')" True "cap: at most 3 connections ($(nginx_view cap 'len(per_conn)'))"
expect_eq "$(nginx_view cap 'peak')" 3 "cap: 3 requests in flight at the most, and 3 were"

# ---- -c 300: a worker with a hundred connections and more waits through
# libcurl's socket interface (epoll) instead of polling them all; the same
# cap, and every request answered
"$PYTHON" - <<'PY'
with open("l1200.csv", "w") as f:
    f.write("email,name\n")
    for i in range(1, 1201):
        f.write(f"wide{i}@example.com,Wide {i}\n")
PY
printf 'POST http://127.0.0.1:%s/slow?run=wide\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$P" >wide.http
run_herald send -t wide.http -c 300 -o wide.jsonl l1200.csv
expect_eq "$rc" 0 "wide: exit 0"
expect_eq "$(statuses wide.jsonl)" "[('sent', 1, 200)]" "wide: 1200 sent at the first attempt"
expect_eq "$(nginx_view wide 'len(reqs)')" 1200 "wide: nginx logged 1200 requests"
expect_eq "$(nginx_view wide 'len(per_conn) <= 300')" True "wide: at most 300 connections ($(nginx_view wide 'len(per_conn)'))"
expect_eq "$(nginx_view wide '200 < peak <= 300')" True "wide: more than 200, at most 300 requests in flight (peak $(nginx_view wide 'peak'))"

# ---- HTTP/2 over TLS: -c 2 --streams 20 -------------------------------------
printf 'POST https://127.0.0.1:%s/slow?run=h2\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$TLSP" >h2.http
run_herald send -t h2.http -c 2 --streams 20 --cacert certs/ca.pem -o h2.jsonl l200.csv
expect_eq "$rc" 0 "streams: exit 0"
expect_eq "$(statuses h2.jsonl)" "[('sent', 1, 200)]" "streams: 200 sent at the first attempt"
expect_eq "$(nginx_view h2 'len(reqs)')" 200 "streams: nginx logged 200 requests"
expect_eq "$(nginx_view h2 'sorted(set(r["proto"] for r in reqs))')" "['HTTP/2.0']" "streams: every request over HTTP/2"
expect_eq "$(nginx_view h2 'len(per_conn) <= 2')" True "streams: at most 2 connections ($(nginx_view h2 'len(per_conn)'))"
expect_eq "$(nginx_view h2 '20 < peak <= 40')" True "streams: more than 20, at most 40 requests in flight (peak $(nginx_view h2 'peak'))"

# the same without --streams: HTTP/2 still, one request a connection at once
run_herald send -t h2.http -c 2 --limit 20 --cacert certs/ca.pem -o h2one.jsonl l200.csv
expect_eq "$rc" 0 "no streams: exit 0"
expect_eq "$(nginx_view h2 'len(reqs)')" 220 "no streams: 20 more requests"
expect_eq "$(nginx_view h2 'len(per_conn) <= 4')" True "no streams: at most 2 more connections"

# over HTTP/1.1 --streams has no effect, and says so once
printf 'POST http://127.0.0.1:%s/slow?run=h1\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$P" >h1.http
run_herald send -t h1.http -c 2 --streams 20 --limit 20 -o h1.jsonl l200.csv
expect_eq "$rc" 0 "streams over HTTP/1.1: exit 0"
expect_eq "$(grep -c -- "--streams" "$TMP/.err")" 1 "streams over HTTP/1.1: said once ($(grep -- "--streams" "$TMP/.err" | head -1))"
expect_eq "$(nginx_view h1 'len(per_conn) <= 2 and peak <= 2')" True "streams over HTTP/1.1: 2 connections, 2 in flight at the most"

# ---- --per-host 2: each host at most 2 at once, while -c allows 8 ------------
"$PYTHON" - "$P" "$H1" <<'PY'
import sys
with open("two.csv", "w") as f:
    f.write("email,port\n")
    for i in range(1, 41):
        f.write(f"u{i}@example.com,{sys.argv[1 + i % 2]}\n")
PY
printf 'POST http://127.0.0.1:{{port}}/slow?run=ph\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' >ph.http
run_herald send -t ph.http -c 8 --per-host 2 -o ph.jsonl two.csv
expect_eq "$rc" 0 "per-host: exit 0"
expect_eq "$(statuses ph.jsonl)" "[('sent', 1, 200)]" "per-host: 40 sent"
peaks=$("$PYTHON" - "$ACCESS" <<'PY'
import json, sys
reqs = [r for r in map(json.loads, open(sys.argv[1])) if "run=ph" in r["uri"]]
out = []
for port in sorted(set(r["port"] for r in reqs)):
    edges = sorted([(r["end"] - r["took"] + 0.01, 1) for r in reqs if r["port"] == port] +
                   [(r["end"], -1) for r in reqs if r["port"] == port])
    peak = cur = 0
    for _, d in edges:
        cur += d
        peak = max(peak, cur)
    out.append(peak)
print(out)
PY
)
expect_eq "$peaks" "[2, 2]" "per-host: each host had exactly 2 in flight at the most"

# ---- one silent host among ten healthy ones ---------------------------------
# 1,000 rows, one in ten for the silent host; --timeout 2 with 3 attempts
# each would hold the run for 100 x 3 x 2 s / 20 workers = 30 s if its rows
# took every worker in turn.
"$PYTHON" - "$SILENT" "$H1 $H2 $H3 $H4 $H5 $H6 $H7 $H8 $H9 $H10" <<'PY'
import sys
silent, healthy = sys.argv[1], sys.argv[2].split()
with open("mix.csv", "w") as f:
    f.write("email,port\n")
    for i in range(1, 1001):
        port = silent if i % 10 == 0 else healthy[i % 10 - 1]
        f.write(f"u{i}@example.com,{port}\n")
PY
printf 'POST http://127.0.0.1:{{port}}/hook?run=mix\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' >mix.http
start=$(date +%s.%N)
run_herald send -t mix.http -c 20 --timeout 2 --retries 2 -o mix.jsonl mix.csv
took=$("$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)")
expect_eq "$rc" 1 "mix: exit 1 (some rows failed)"
expect_eq "$(jrows mix.jsonl 'len(rows)')" 1000 "mix: every row reported"
expect_eq "$(jrows mix.jsonl 'sorted(set(r["status"] for r in rows if r["row"] % 10))')" "['sent']" "mix: the 900 healthy rows all sent"
expect_eq "$(nginx_view mix 'len(reqs)')" 900 "mix: the ten healthy hosts got 900 requests"
# a request sent and never answered may have arrived: uncertain, never
# sent again; the rows not tried while the host was paused: failed, transient
silent_view() { jrows mix.jsonl "$1"; }
expect_eq "$(silent_view 'sorted(set(r["status"] for r in rows if r["row"] % 10 == 0))')" "['failed', 'uncertain']" "mix: the silent host's 100 rows failed or uncertain"
expect_eq "$(silent_view 'all(r["attempts"] == 1 and "no reply" in r["error"] for r in rows if r["row"] % 10 == 0 and r["status"] == "uncertain")')" True \
  "mix: uncertain rows were sent once and say so ($(silent_view 'sorted(set(r["error"] for r in rows if r["status"] == "uncertain"))[:1]'))"
expect_eq "$(silent_view 'all(r["failure"] == "transient" and "paused" in r["error"] for r in rows if r["row"] % 10 == 0 and r["status"] == "failed")')" True \
  "mix: failed rows are transient, with the pause as the reason ($(silent_view 'sorted(set(r["error"] for r in rows if r["status"] == "failed"))[:1]'))"
expect_eq "$(silent_view 'all("paused for 10 s" in r["error"] or "paused for 9 s" in r["error"] or "paused for 8 s" in r["error"] or "paused for 7 s" in r["error"] or "paused for 6 s" in r["error"] for r in rows if r["status"] == "failed")')" True \
  "mix: the pause did not grow with the sends begun before it"
expect_eq "$(jrows mix.jsonl 'sum(r["attempts"] for r in rows if r["row"] % 10 == 0) < 100')" True \
  "mix: the silent host's rows did not each spend their attempts ($(jrows mix.jsonl 'sum(r["attempts"] for r in rows if r["row"] % 10 == 0)') in all)"
expect_eq "$("$PYTHON" -c "print(float('$took') < 15)")" True "mix: the run was not held for rows x timeout ($took s)"
healthy_end=$(jrows mix.jsonl 'max(r["at"] for r in rows if r["row"] % 10)')
first_at=$(jrows mix.jsonl 'min(r["at"] for r in rows)')
first_timeout=$(jrows mix.jsonl 'min(r["at"] for r in rows if r["status"] == "uncertain")')
echo "mix: run $took s; first row done at $first_at, last healthy row at $healthy_end, first timeout at $first_timeout"
# the silent host's rows waiting for its share must not fill the workers
# while its first sends wait out --timeout: every healthy row was done
# before the first of those timed out
expect_eq "$(jrows mix.jsonl 'max(r["at"] for r in rows if r["row"] % 10) < min(r["at"] for r in rows if r["status"] == "uncertain")')" True \
  "mix: the healthy rows did not wait for the silent host's timeout (last healthy $healthy_end, first timeout $first_timeout)"

# ---- Ctrl-C while the silent host's rows are set aside ----------------------
# The first SIGINT lets the sends in flight finish; the rows taken and set
# aside for the silent host were never tried, so they end not-attempted at
# once instead of going out after it (and then failing as paused).
set +e
"$HERALD" send -t mix.http -c 20 --timeout 4 -o int.jsonl mix.csv >"$TMP/.out" 2>"$TMP/.err" &
hpid=$!
sleep 1
kill -INT "$hpid"
wait "$hpid"
rc=$?
set -e
expect_eq "$rc" 75 "interrupted: exit 75"
expect_eq "$(jrows int.jsonl 'len(rows)')" 1000 "interrupted: every row reported"
expect_eq "$(jrows int.jsonl 'sorted(set(r["status"] for r in rows if r["row"] % 10 == 0))')" "['not-attempted', 'uncertain']" \
  "interrupted: the silent host's rows were in flight (uncertain) or never tried ($(jrows int.jsonl 'sorted((k, [r["status"] for r in rows].count(k)) for k in set(r["status"] for r in rows))'))"
expect_eq "$(jrows int.jsonl 'sum(1 for r in rows if r["status"] == "uncertain") <= 10')" True \
  "interrupted: no more silent sends than its share (10) went out ($(jrows int.jsonl 'sum(1 for r in rows if r["status"] == "uncertain")'))"
expect_eq "$(jrows int.jsonl 'all(r["attempts"] == 0 for r in rows if r["status"] == "not-attempted")')" True \
  "interrupted: the rows not attempted were not attempted"

finish
