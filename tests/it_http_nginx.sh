#!/usr/bin/env bash
# herald send against a real nginx (tests/servers/nginx.conf.in, started by
# tests/http_nginx.py on 127.0.0.1): the worker count caps the connections,
# connections are kept for the whole run, and --max-per-connection opens a
# fresh one after N messages and never puts more on one.  nginx logs each
# request with its connection's serial number ($connection) and the
# request's place on it ($connection_requests).
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"
NGINX=${NGINX:-/usr/sbin/nginx}
if [ ! -x "$NGINX" ]; then
  echo "SKIPPED: $NGINX not found (Debian: apt-get install nginx-light)" >&2
  exit 77
fi

nginx_start

"$PYTHON" - l500.csv 500 <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(1, int(sys.argv[2]) + 1):
        f.write(f"user{i}@example.com,User {i}\n")
PY

# tmpl RUN: a JSON POST tagged ?run=RUN
tmpl() {
  printf 'POST http://127.0.0.1:%s/hook?run=%s\nContent-Type: application/json\n\n{"to": "{{email}}", "name": "{{name}}"}\n' "$P" "$1" >"$1.http"
}
# nginx_view RUN EXPR: EXPR over reqs (the access-log lines of RUN) and
# per_conn (connection serial -> requests on it)
nginx_view() {
  "$PYTHON" - "$ACCESS" "$1" "$2" <<'PY'
import collections, json, sys
log, run, expr = sys.argv[1:4]
reqs = [r for r in map(json.loads, open(log)) if f"run={run}" in r["uri"]]
per_conn = collections.Counter(r["conn"] for r in reqs)
print(eval(expr))
PY
}
statuses() { jrows "$1" 'sorted(set((r["status"], r["attempts"], r["code"]) for r in rows))'; }
every_row() { jrows "$1" '"ok" if sorted(r["row"] for r in rows) == list(range(1, '"$2"' + 1)) else "rows differ"'; }
same_keys() { # REPORT RUN: the report's message_ids are the keys nginx got
  "$PYTHON" - "$1" "$ACCESS" "$2" <<'PY'
import json, sys
report, log, run = sys.argv[1:4]
ids = sorted(json.loads(l)["message_id"] for l in open(report))
keys = sorted(r["key"] for r in map(json.loads, open(log)) if f"run={run}" in r["uri"])
print(ids == keys and len(set(keys)) == len(keys))
PY
}

# ---- 500 rows, 4 workers: 4 connections at most, each kept -----------------
tmpl keep
run_herald send -t keep.http -c 4 -o keep.jsonl l500.csv
expect_eq "$rc" 0 "keep: exit 0"
expect_eq "$(every_row keep.jsonl 500)" ok "keep: every row reported once"
expect_eq "$(statuses keep.jsonl)" "[('sent', 1, 200)]" "keep: all sent at the first attempt, HTTP 200"
expect_eq "$(nginx_view keep 'len(reqs)')" 500 "keep: nginx logged 500 requests"
expect_eq "$(nginx_view keep 'sorted(set((r["method"], r["status"]) for r in reqs))')" "[('POST', 200)]" "keep: all POST, all 200"
expect_eq "$(nginx_view keep 'all(int(r["length"] or 0) > 20 for r in reqs)')" True "keep: every request had its body"
expect_eq "$(same_keys keep.jsonl keep)" True "keep: one distinct Idempotency-Key per row, as reported"
expect_eq "$(nginx_view keep '1 <= len(per_conn) <= 4')" True "keep: at most 4 connections ($(nginx_view keep 'len(per_conn)'))"

# ---- --max-per-connection 50: a fresh connection every 50 messages ---------
tmpl cap
run_herald send -t cap.http -c 4 --max-per-connection 50 -o cap.jsonl l500.csv
expect_eq "$rc" 0 "cap: exit 0"
expect_eq "$(every_row cap.jsonl 500)" ok "cap: every row reported once"
expect_eq "$(statuses cap.jsonl)" "[('sent', 1, 200)]" "cap: all sent at the first attempt"
expect_eq "$(same_keys cap.jsonl cap)" True "cap: one distinct key per row"
expect_eq "$(nginx_view cap 'max(per_conn.values())')" 50 "cap: never more than 50 requests on a connection"
expect_eq "$(nginx_view cap 'max(r["n"] for r in reqs)')" 50 "cap: no connection reached a 51st request"
expect_eq "$(nginx_view cap '10 <= len(per_conn) <= 14')" True "cap: about 500/50 connections ($(nginx_view cap 'len(per_conn)'): $(nginx_view cap 'sorted(per_conn.values())'))"
expect_eq "$(nginx_view cap 'sum(v < 50 for v in per_conn.values()) <= 4')" True "cap: only each worker's last connection is short"

# one worker, 100 a connection: exactly 5 connections of 100
tmpl one
run_herald send -t one.http -c 1 --max-per-connection 100 -o one.jsonl l500.csv
expect_eq "$rc" 0 "one worker: exit 0"
expect_eq "$(nginx_view one 'sorted(per_conn.values())')" "[100, 100, 100, 100, 100]" "one worker: 5 connections of exactly 100"

finish
