#!/usr/bin/env bash
# herald send --trace FILE as a user runs it: the SMTP (python3-aiosmtpd)
# or HTTP (tests/servers/http_server.py) conversation of every attempt,
# retries included, with AUTH and every secret masked; the file private
# and never an input.  Servers on 127.0.0.1 only.
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
cat >t.eml <<'EML'
From: Billing <billing@acme.example>
To: {{name}} <{{email}}>
Subject: Invoice {{n}} for {{name}}

Hello {{name}}, your invoice {{n}} is ready.
EML
printf 'email,name,n\n' >list.csv
for i in 1 2 3 4 5; do printf 'p%s@example.com,Pat %s,%s\n' "$i" "$i" "$i" >>list.csv; done
PW='tr4ce-s3cret-pw'
B64=$(printf '\0mailer\0%s' "$PW" | base64)
PWB64=$(printf '%s' "$PW" | base64)
# no_secret FILE WHAT: neither the password nor its base64 forms in FILE
no_secret() {
  if grep -qF -e "$PW" -e "$B64" -e "$PWB64" "$1"; then bad "$2: a secret is in the trace"; else ok "$2: no secret in the trace"; fi
}

# ---- SMTP, AUTH PLAIN, one 451 per recipient: every attempt traced -----------
smtp_start plain --auth "mailer:$PW" --auth-plaintext --auth-mechs PLAIN --fail-first '1:451 4.7.1 try later'
HERALD_SMTP_PASSWORD=$PW run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --allow-plaintext-auth -c 2 --backoff 0.05 --trace plain.trace -o plain.jsonl list.csv
expect_eq "$rc" 0 "SMTP with --trace: exit 0"
expect_eq "$(jrows plain.jsonl 'sorted(set((r["status"], r["attempts"]) for r in rows))')" "[('sent', 2)]" "SMTP: each row sent at its second attempt"
expect_eq "$(stat -c %a plain.trace)" 600 "the trace is readable by its owner only"
expect_match "$(head -1 plain.trace)" "^[0-9T:.-]+Z #0 \\* herald .*: send list.csv with t.eml$" "the first line says what the run is"
for i in 1 2 3 4 5; do
  expect_eq "$(grep -c "row $i > RCPT TO:<p$i@example.com>" plain.trace)" 2 "SMTP: row $i's two attempts traced (RCPT TO)"
done
expect_eq "$(grep -c ' < 451 4.7.1 try later' plain.trace)" 5 "SMTP: the server's 451 replies traced"
expect_match "$(grep ' > MAIL FROM:' plain.trace | head -1)" "row [0-9] > MAIL FROM:<billing@acme.example>" "SMTP: MAIL FROM traced with its row"
expect_match "$(cat plain.trace)" " row 3 > Subject: Invoice 3 for Pat 3" "SMTP: the message itself traced"
expect_match "$(cat plain.trace)" " < 250[ -]" "SMTP: replies traced"
expect_match "$(grep ' > AUTH ' plain.trace | head -1)" "> AUTH PLAIN( \\*\\*\\*)?$" "SMTP: AUTH PLAIN traced, its argument masked"
# what the same connection says next after a 334 (two workers' lines interleave)
after_334() {
  awk '!tag && / < 334/ { tag = $2 " " $3 " " $4; next }
       tag && index($0, " " tag " > ") { print; exit }' "$1"
}
expect_match "$(after_334 plain.trace)" "> \\*\\*\\*$" "SMTP: the credentials answering 334 masked"
no_secret plain.trace "AUTH PLAIN"
smtp_stop plain

# ---- AUTH LOGIN: the lines after each 334 are credentials ------------------
smtp_start login --auth "mailer:$PW" --auth-plaintext --auth-mechs LOGIN
HERALD_SMTP_PASSWORD=$PW run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --allow-plaintext-auth -c 1 --limit 2 --trace login.trace -o login.jsonl list.csv
expect_eq "$rc" 0 "AUTH LOGIN with --trace: exit 0"
expect_match "$(after_334 login.trace)" "> \\*\\*\\*$" "AUTH LOGIN: the answer to 334 masked"
expect_eq "$(grep -c "$(printf mailer | base64)" login.trace || true)" 0 "AUTH LOGIN: the user name's base64 not traced"
no_secret login.trace "AUTH LOGIN"
smtp_stop login

# ---- HTTP: headers, bodies and replies; a token from --env masked ----------
"$PYTHON" "$SRC/tests/servers/http_server.py" --port-file h.port --log h.log --stats h.stats 2>h.err &
hpid=$!
cleanup_hooks+=("kill $hpid 2>/dev/null")
for _ in $(seq 100); do [ -s h.port ] && break; sleep 0.05; done
P=$(tr -d '\n' <h.port)
cat >hook.http <<EOF
POST http://127.0.0.1:$P/flaky?fail=1&code=503
Content-Type: application/json
Authorization: Bearer {{env.TOKEN}}

{"to": "{{email}}", "n": {{n}}}
EOF
TOKEN=tok-$PW run_herald send -t hook.http --env TOKEN -c 2 --backoff 0.05 --trace http.trace -o http.jsonl list.csv
expect_eq "$rc" 0 "HTTP with --trace: exit 0"
for i in 1 2 3 4 5; do
  expect_eq "$(grep -c "row $i > POST /flaky" http.trace)" 2 "HTTP: row $i's two attempts traced"
done
expect_eq "$(grep -c ' < HTTP/1.1 503' http.trace)" 5 "HTTP: the 503 replies traced"
expect_eq "$(grep -c ' < HTTP/1.1 200' http.trace)" 5 "HTTP: the 200 replies traced"
expect_match "$(cat http.trace)" "row 4 > \\{\"to\": \"p4@example.com\", \"n\": 4\\}" "HTTP: the request body traced"
expect_match "$(grep ' > Authorization:' http.trace | head -1)" "> Authorization: \\*\\*\\*$" "HTTP: the Authorization header masked"
if grep -q "tok-" http.trace; then bad "HTTP: the --env token is in the trace"; else ok "HTTP: the --env token is not in the trace"; fi

# ---- without --trace nothing is written; the trace is never an input --------
run_herald send -t hook.http --env TOKEN -c 1 --limit 1 -o none.jsonl list.csv
expect_eq "$(ls *.trace | tr '\n' ' ')" "http.trace login.trace plain.trace " "without --trace no trace file is made"
cp list.csv keep.csv
run_herald send -t hook.http --env TOKEN --trace list.csv -o same.jsonl list.csv
expect_eq "$rc" 64 "--trace naming the recipients file: 64"
expect_eq "$(cmp -s list.csv keep.csv && echo same)" same "the recipients file is untouched"
finish
