#!/usr/bin/env bash
# herald check --connect, as swaks and msmtp users expect it: each step of
# the connection on one line, the failing one named, the exit code a send
# would meet, and never DATA.  SMTP servers (tests/servers/smtp_fault.py
# --refuse STEP) refuse at each step; an HTTPS server shows a certificate no
# CA vouches for, then one the test CA signed.
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"

. "$SRC/tests/lib/fault.sh"

printf 'email\nann@example.com\nbob@example.com\ncy@example.com\ndee@example.com\n' >l.csv
printf 'From: news@example.com\nTo: {{email}}\nSubject: hi\n\nHello\n' >m.eml
export HERALD_SMTP_PASSWORD=s3cret-pw

# connect NAME: check --connect against that server, with AUTH
connect() {
  run_herald check --connect -t m.eml --smtp "smtp://127.0.0.1:$PORT" \
    --smtp-user ann --allow-plaintext-auth l.csv
}

# ---- every step answered: exit 0, each step a line, no DATA ---------------
fault_start smtp_fault.py ok --auth
connect
expect_eq "$rc" 0 "all steps: exit 0"
for s in "dns: " "tcp: connected" "smtp: greeting: 220" "smtp: EHLO: 250" "auth: 235" \
         "row 1: MAIL FROM:<news@example.com>: 250" "row 3: RCPT TO:<cy@example.com>: 250"; do
  expect_match "$err" "herald: $s" "all steps: '$s' told"
done
expect_eq "$(grep -c 'row 4:' <<<"$err" || true)" 0 "all steps: the first three rows only"
expect_eq "$(grep -c 'FAILED' <<<"$err" || true)" 0 "all steps: nothing failed"
expect_eq "$(server_stat ok 'd["received"]')" "{}" "all steps: the server got no message (no DATA)"
expect_eq "$(grep -c 's3cret-pw' <<<"$err$out" || true)" 0 "all steps: the password is never shown"
fault_stop ok

# ---- refused at each step: the step named, the exit code of a send --------
# step  exit  what the FAILED line names
while read -r step code name; do
  fault_start smtp_fault.py "$step" --auth --refuse "$step"
  connect
  expect_eq "$rc" "$code" "$step refused: exit $code"
  expect_match "$(grep FAILED <<<"$err" | head -1)" "FAILED: $name" "$step refused: the failing step is named ($(grep FAILED <<<"$err" | head -1))"
  expect_eq "$(server_stat "$step" 'd["received"]')" "{}" "$step refused: no message sent"
  fault_stop "$step"
done <<'EOF'
greeting 75 smtp: greeting: 554
ehlo 78 smtp: EHLO: 550
auth 78 auth: .*535
mail 1 row 1: MAIL FROM:<news@example.com>: 550
rcpt 1 row 1: RCPT TO:<ann@example.com>: 550
EOF

# ---- nothing listens: 75, the TCP step named -----------------------------
PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
connect
expect_eq "$rc" 75 "closed port: exit 75"
expect_match "$err" "FAILED: tcp: cannot connect" "closed port: the TCP step named"

# ---- HTTPS: an untrusted certificate, then one the test CA signed --------
sh "$SRC/tests/servers/make_certs.sh" certs >/dev/null 2>&1
https_start() { # CERT KEY: a TLS server answering 200 to anything
  rm -f https.port
  "$PYTHON" - "$1" "$2" <<'PY' >https.log 2>&1 &
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    do_GET = do_POST
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open("https.port.tmp", "w").write(f"{srv.server_address[1]}\n")
import os; os.replace("https.port.tmp", "https.port")
srv.serve_forever()
PY
  echo $! >https.pid
  cleanup_hooks+=("kill $(cat https.pid) 2>/dev/null")
  for _ in $(seq 200); do [ -s https.port ] && break; sleep 0.05; done
  HPORT=$(head -1 https.port)
}
https_start certs/untrusted.pem certs/untrusted.key
printf 'POST https://127.0.0.1:%s/hook\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$HPORT" >h.http
run_herald check --connect -t h.http l.csv
expect_eq "$rc" 78 "untrusted certificate: exit 78"
expect_match "$(grep FAILED <<<"$err" | head -1)" "FAILED: tls: " "untrusted certificate: the TLS step named ($(grep FAILED <<<"$err" | head -1))"
kill "$(cat https.pid)" 2>/dev/null; wait "$(cat https.pid)" 2>/dev/null || true

https_start certs/server.pem certs/server.key
printf 'POST https://127.0.0.1:%s/hook\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$HPORT" >h.http
run_herald check --connect -t h.http --cacert certs/ca.pem l.csv
expect_eq "$rc" 0 "trusted certificate: exit 0"
expect_match "$err" "herald: tls: " "trusted certificate: the TLS step told"
expect_eq "$(grep -c FAILED <<<"$err" || true)" 0 "trusted certificate: nothing failed"

finish
