#!/usr/bin/env bash
# it_stall.sh — servers that stall or hang up at every step of SMTP and
# HTTP: each row ends with the outcome herald promises, and no row reaches
# the server twice by herald's doing.
#
#   before the message has left (SMTP: greeting, EHLO, MAIL, RCPT, DATA;
#   HTTP: a body the server stops reading)   transient: retried, then sent
#   after it left (SMTP: the final "."; HTTP: the whole request)
#                                            uncertain: never sent again
#
# The fault hits the second time its step comes (--after 1 --times 1), so
# the first row shows the server works and the others show the recovery.
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"

cat >t.eml <<'EOF'
From: Acme <noreply@acme.example>
To: {{name}} <{{email}}>
Subject: Hello {{name}}

Hello {{name}}.
EOF
printf 'name,email\nAnn,ann@example.com\nBob,bob@example.com\nCy,cy@example.com\nDi,di@example.com\n' >l4.csv

. "$SRC/tests/lib/fault.sh"
# outcome REPORT: [(status, attempts)] of rows 1..4, in row order
outcome() { jrows "$1" '[(r["status"], r["attempts"]) for r in sorted(rows, key=lambda r: r["row"])]'; }

# ---- SMTP ---------------------------------------------------------------

for mode in stall drop; do
  for step in greeting ehlo mail rcpt data; do
    n=smtp-$mode-$step
    fault_start smtp_fault.py "$n" --$mode $step --after 1 --times 1
    # one connection per message, so every step comes once per row
    run_herald send -t t.eml --smtp "smtp://127.0.0.1:$PORT" -c 1 --max-per-connection 1 \
      --timeout 1 --retries 2 --backoff 0.05 -o "$n.jsonl" l4.csv
    fault_stop "$n"
    expect_eq "$rc" 0 "SMTP $mode at $step: exit 0"
    expect_eq "$(outcome "$n.jsonl")" "[('sent', 1), ('sent', 2), ('sent', 1), ('sent', 1)]" "SMTP $mode at $step: transient, retried, sent"
    expect_eq "$(jrows "$n.jsonl" 'all(r["code"] == 250 and r["error"] is None for r in rows)')" True "SMTP $mode at $step: every row's code is its own 250"
    expect_eq "$(server_stat "$n" 'sorted(set(d["received"].values()))')" "[1]" "SMTP $mode at $step: the server got each message once"
    expect_eq "$(server_stat "$n" 'len(d["received"])')" 4 "SMTP $mode at $step: all 4 messages arrived"
  done
  # after the final ".": the message may be delivered; never again
  n=smtp-$mode-dot
  fault_start smtp_fault.py "$n" --$mode dot --after 1 --times 1
  run_herald send -t t.eml --smtp "smtp://127.0.0.1:$PORT" -c 1 --max-per-connection 1 \
    --timeout 1 --retries 2 --backoff 0.05 -o "$n.jsonl" l4.csv
  fault_stop "$n"
  expect_eq "$rc" 1 "SMTP $mode after the final dot: exit 1"
  expect_eq "$(outcome "$n.jsonl")" "[('sent', 1), ('uncertain', 1), ('sent', 1), ('sent', 1)]" "SMTP $mode after the dot: uncertain, not retried"
  if [ $mode = stall ]; then want="sent, no reply within 1 s"; else want="sent, the connection was lost before the reply"; fi
  expect_match "$(jrows "$n.jsonl" '[r["error"] for r in rows if r["row"] == 2][0]')" "^$want" "SMTP $mode after the dot: the error says why"
  expect_eq "$(jrows "$n.jsonl" '[r["code"] for r in rows if r["row"] == 2][0]')" None "SMTP $mode after the dot: no code (no reply came)"
  expect_eq "$(server_stat "$n" 'sorted(set(d["received"].values()))')" "[1]" "SMTP $mode after the dot: the server got each message once"
  expect_match "$err" "1 row uncertain" "SMTP $mode after the dot: the summary says so"
done

# Every verdict withheld, on kept connections: libcurl keeps a session
# whose reply to "." timed out, and the next row must not pay for it
# (QUIT on it waited libcurl's 120 s, the next row failed "timed out"
# unsent, was retried and the run took minutes, not seconds).
n=smtp-stall-dot-kept
fault_start smtp_fault.py "$n" --stall dot --after 1
set +e
timeout 60 "$HERALD" send -t t.eml --smtp "smtp://127.0.0.1:$PORT" -c 1 --timeout 1 \
  --retries 2 --backoff 0.05 -o "$n.jsonl" l4.csv >"$n.out" 2>"$n.err"
rc=$?
set -e
fault_stop "$n"
expect_eq "$rc" 1 "SMTP every verdict withheld, kept sessions: exit 1, not held up"
expect_eq "$(outcome "$n.jsonl")" "[('sent', 1), ('uncertain', 1), ('uncertain', 1), ('uncertain', 1)]" "SMTP every verdict withheld: each row uncertain after one attempt"
expect_eq "$(jrows "$n.jsonl" 'max(r["ms"] for r in rows) < 10000')" True "SMTP every verdict withheld: no row waits on the last one's session"
expect_eq "$(server_stat "$n" 'sorted(set(d["received"].values()))')" "[1]" "SMTP every verdict withheld: the server got each message once"

# A second Ctrl-C while the server sits on its verdict: uncertain, not
# failed; the rows it had not reached are not-attempted.
n=smtp-sig
fault_start smtp_fault.py "$n" --stall dot --after 1
"$HERALD" send -t t.eml --smtp "smtp://127.0.0.1:$PORT" -c 1 -o "$n.jsonl" l4.csv >"$n.out" 2>"$n.err" &
hpid=$!
for _ in $(seq 100); do [ "$(server_stat "$n" 'len(d["received"])')" -ge 2 ] && break; sleep 0.05; done
kill -INT $hpid; sleep 0.2; kill -INT $hpid
wait $hpid && rc=0 || rc=$?
fault_stop "$n"
expect_eq "$rc" 75 "SMTP second Ctrl-C: exit 75"
expect_eq "$(outcome "$n.jsonl")" "[('sent', 1), ('uncertain', 1), ('not-attempted', 0), ('not-attempted', 0)]" "SMTP second Ctrl-C: the row in flight uncertain, the rest not-attempted"

# ---- HTTP ---------------------------------------------------------------

cat >small.http <<'EOF'
POST http://127.0.0.1:{{port}}/hook
Content-Type: application/json

{"name": "{{name}}"}
EOF
cat >big.http <<'EOF'
POST http://127.0.0.1:{{port}}/hook
Content-Type: text/plain

{{{big}}}
EOF
# rows with a body far larger than the socket buffers (8 MiB)
mklist() {
  "$PYTHON" - "$1" >"$2" <<'PY'
import json, sys
big = "x" * (8 << 20)
for i, n in enumerate(["Ann", "Bob", "Cy", "Di"]):
    print(json.dumps({"id": i + 1, "name": n, "port": int(sys.argv[1]), "big": big}))
PY
}

# http_case MODE STEP TEMPLATE WANT EXTRA...
http_case() {
  local mode=$1 step=$2 tmpl=$3 want=$4; shift 4
  local n=http-$mode-$step-${tmpl%.http}
  fault_start http_fault.py "$n" --$mode "$step" --after 1 --times 1
  mklist "$PORT" "$n.list.jsonl"
  run_herald send -t "$tmpl" -c 1 --timeout 2 --retries 2 --backoff 0.05 -o "$n.jsonl" "$@" "$n.list.jsonl"
  fault_stop "$n"
  rm -f "$n.list.jsonl"
  expect_eq "$(outcome "$n.jsonl")" "$want" "HTTP $mode at $step ($tmpl): outcome"
  expect_eq "$(server_stat "$n" 'max(d["received"].values())')" 1 "HTTP $mode at $step ($tmpl): the server got no request twice"
}
RETRIED="[('sent', 1), ('sent', 2), ('sent', 1), ('sent', 1)]"
UNCERTAIN="[('sent', 1), ('uncertain', 1), ('sent', 1), ('sent', 1)]"
# before the server reads anything: the request left whole into the
# network, so herald cannot know (it may be read later): uncertain
http_case stall accept small.http "$UNCERTAIN"
# closed before it read: libcurl finds the kept connection dead and sends
# on a fresh one; the server got it once
http_case drop accept small.http "[('sent', 1), ('sent', 1), ('sent', 1), ('sent', 1)]"
# the server stops reading mid-request: the body never left whole
http_case stall headers big.http "$RETRIED"
http_case drop headers big.http "$RETRIED" --max-per-connection 1
http_case stall body big.http "$RETRIED"
# one connection per request: a kept one would let libcurl resend by itself
http_case drop body big.http "$RETRIED" --max-per-connection 1
# the whole request arrived, no reply: uncertain
http_case stall reply small.http "$UNCERTAIN"
expect_eq "$(jrows http-stall-reply-small.jsonl '[r["error"] for r in rows if r["row"] == 2][0]')" "sent, no reply within 2 s" "HTTP no reply: the error says so"
# one connection per request, so libcurl has no kept connection to resend on
http_case drop reply small.http "$UNCERTAIN" --max-per-connection 1
expect_match "$(jrows http-drop-reply-small.jsonl '[r["error"] for r in rows if r["row"] == 2][0]')" "^sent, the connection was lost before the reply" "HTTP hang-up after the request: the error says so"

finish
