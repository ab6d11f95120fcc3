#!/usr/bin/env bash
# herald send over SMTP as a user runs it, against a real SMTP server
# (python3-aiosmtpd) on 127.0.0.1: connection reuse, byte-for-byte
# delivery, STARTTLS + AUTH, credentials kept out of sight, and every
# failure mode ending in the report with the documented exit code.
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
export SOURCE_DATE_EPOCH=1795787110   # a fixed Date header: byte comparisons
sh "$SRC/tests/servers/make_certs.sh" certs >/dev/null 2>&1
cat >t.eml <<'EML'
From: Billing <billing@acme.example>
To: {{name}} <{{email}}>
Subject: Invoice {{n}} for {{name}}

Hello {{name}},
.a line starting with a dot must survive dot-stuffing
your invoice {{n}} is ready.
EML
"$PYTHON" - <<'PY'
with open("list.csv", "w") as f:
    f.write("email,name,n\n")
    for i in range(200):
        f.write(f"user{i}@example.com,User {i},{1000 + i}\n")
with open("list20.csv", "w") as f:
    f.write("email,name,n\n")
    for i in range(20):
        f.write(f"p{i}@example.com,Pat {i},{i}\n")
    f.write("bad@reject.example,Bad,99\n")
PY

# --- 200 messages with -c 4: at most 4 connections, bytes as rendered
smtp_start plain
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 4 --campaign c1 -o r.jsonl list.csv
expect_eq "$rc" 0 "200 over SMTP: exit 0"
expect_eq "$(jrows r.jsonl 'sorted(set((r["status"], r["attempts"], r["code"]) for r in rows))')" "[('sent', 1, 250)]" "every row sent in one attempt with 250"
expect_match "$(jrows r.jsonl 'rows[0]["response"]')" "." "the server's reply text is in the report"
conns=$(smtp_stat plain connections)
if [ "$conns" -ge 1 ] && [ "$conns" -le 4 ]; then ok "200 messages over $conns connections (<= 4)"; else bad "connections: $conns (want 1..4)"; fi
expect_eq "$(smtp_stat plain messages)" 200 "the server accepted 200 messages"
run_herald send -t t.eml --outbox ob -c 4 --campaign c1 list.csv
same=$("$PYTHON" - <<'PY'
import glob, json, os
spool = {}
for meta in glob.glob("plain.spool/*.json"):
    m = json.load(open(meta))
    spool[m["rcpt_tos"][0]] = open(meta[:-5] + ".eml", "rb").read()
bad = 0
for i in range(200):
    sent = open(f"ob/{i + 1:06d}.eml", "rb").read()
    if spool.get(f"user{i}@example.com") != sent:
        bad += 1
print(bad)
PY
)
expect_eq "$same" 0 "every received message equals the outbox rendering byte for byte"
smtp_stop plain

# --- rejected recipient, transient failures, slow-down, reconnects
smtp_start faults --reject-rcpt '^bad@:550 5.1.1 No such user here' --fail-first '2:451 4.7.1 Slow down please' --close-after 3
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 2 --backoff 0.05 -o f.jsonl list20.csv
expect_eq "$rc" 1 "a rejected recipient makes the run exit 1"
expect_eq "$(jrows f.jsonl '[(r["status"], r["code"], r.get("failure"), r["attempts"]) for r in rows if r["key"] == "bad@reject.example"]')" "[('failed', 550, 'permanent', 1)]" "550 on RCPT: failed permanent, no retry"
expect_match "$(jrows f.jsonl '[r["response"] + " " + (r["error"] or "") for r in rows if r["key"] == "bad@reject.example"][0]')" "No such user" "the rejecting reply is reported"
expect_eq "$(jrows f.jsonl 'sorted(set((r["status"], r["attempts"]) for r in rows if r["key"] != "bad@reject.example"))')" "[('sent', 3)]" "451 twice then accepted: sent in 3 attempts (reconnects free)"
expect_eq "$("$PYTHON" -c 'import json; d=json.load(open("faults.stats.json"))["recipients"]; print(max(d.values()), len(d))')" "1 20" "no recipient received a message twice"
smtp_stop faults

# --- a reply in UTF-8 stays UTF-8 in the report (JSONL and CSV)
smtp_start utf8 --smtputf8 --reject-rcpt '^p1@:550 5.1.1 Empfänger unbekannt — bitte prüfen'
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -o u.jsonl list20.csv
expect_eq "$(jrows u.jsonl '[r["response"] for r in rows if r["key"] == "p1@example.com"][0]')" "5.1.1 Empfänger unbekannt — bitte prüfen" "a UTF-8 reply stays UTF-8 in the JSONL report"
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -o u.csv list20.csv
expect_match "$(grep '^2,p1@' u.csv)" "Empfänger unbekannt — bitte prüfen" "a UTF-8 reply stays UTF-8 in the CSV report"
smtp_stop utf8

# --- STARTTLS + AUTH, credentials out of sight
smtp_start tls --tls-cert certs/server.pem --tls-key certs/server.key --require-tls --auth 'mailer:s3cr3t-pw' --slow-ms 200
export HERALD_SMTP_PASSWORD='s3cr3t-pw'
"$HERALD" send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --cacert certs/ca.pem -c 2 -o tls.jsonl list20.csv >tls.out 2>tls.err &
hpid=$!
sleep 0.5
cmdline=$(tr '\0' ' ' </proc/$hpid/cmdline 2>/dev/null || true)
wait $hpid && rc=0 || rc=$?
expect_match "$cmdline" "smtp-user mailer" "read the running herald's command line"
case "$cmdline" in *s3cr3t*) bad "password in /proc/PID/cmdline";; *) ok "password not in /proc/PID/cmdline";; esac
expect_eq "$rc" 0 "STARTTLS + AUTH with the test CA: exit 0"
expect_eq "$(jrows tls.jsonl 'sorted(set(r["status"] for r in rows))')" "['sent']" "STARTTLS + AUTH: every row sent"
expect_eq "$(smtp_stat tls messages)" 21 "the TLS server accepted 21 messages"
for f in tls.jsonl tls.err tls.out; do
  if grep -q 's3cr3t' "$f"; then bad "password appears in $f"; else ok "password not in $f"; fi
  if grep -q "$(printf '\0mailer\0s3cr3t-pw' | base64)" "$f"; then bad "AUTH PLAIN blob in $f"; else ok "AUTH blob not in $f"; fi
done

# the password file must not be readable by others
printf 's3cr3t-pw\n' >pw.txt
chmod 644 pw.txt
unset HERALD_SMTP_PASSWORD
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --smtp-password-file pw.txt --cacert certs/ca.pem list20.csv
expect_eq "$rc" 78 "a password file readable by others: 78"
expect_match "$err" "readable by others" "says why"
chmod 600 pw.txt
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --smtp-password-file pw.txt --cacert certs/ca.pem -o pwf.jsonl list20.csv
expect_eq "$rc" 0 "password from a private file: exit 0"

# wrong password: 78, one clear line, every row in the report
HERALD_SMTP_PASSWORD=wrong run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --cacert certs/ca.pem -o wrong.jsonl list20.csv
expect_eq "$rc" 78 "wrong password: 78"
expect_match "$err" "[Aa]uthentication" "wrong password: says authentication failed"
# (the summary's error groups, indented, count it once more)
expect_eq "$(grep -v '^herald:   ' <<<"$err" | grep -c '^herald: .*uthentication')" 1 "wrong password: one line about it"
expect_eq "$(count_lines wrong.jsonl)" 21 "wrong password: every row in the report"
expect_eq "$(jrows wrong.jsonl 'sorted(set(r["status"] for r in rows) - {"failed", "not-attempted"})')" "[]" "wrong password: rows failed or not-attempted"
if grep -q wrong wrong.jsonl; then bad "wrong password echoed in the report"; else ok "wrong password not in the report"; fi
HERALD_SMTP_PASSWORD=wrong run_herald send -v -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --cacert certs/ca.pem list20.csv
expect_eq "$rc" 78 "wrong password with -v: 78"
case "$err" in *wrong*) bad "wrong password in the -v log";; *) ok "wrong password not in the -v log";; esac

# untrusted certificate: 78
HERALD_SMTP_PASSWORD=s3cr3t-pw run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer -o untrusted.jsonl list20.csv
expect_eq "$rc" 78 "certificate not trusted: 78"
expect_match "$err" "[Cc]ertificate|TLS" "certificate not trusted: says so"
expect_eq "$(count_lines untrusted.jsonl)" 21 "certificate not trusted: every row in the report"
smtp_stop tls

# AUTH over plaintext is refused unless allowed
smtp_start plainauth --auth 'mailer:s3cr3t-pw' --auth-plaintext
HERALD_SMTP_PASSWORD=s3cr3t-pw run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer -o pa.jsonl list20.csv
expect_eq "$rc" 78 "AUTH without TLS: 78"
expect_match "$err" "STARTTLS|plaintext" "AUTH without TLS: says why"
expect_eq "$(smtp_stat plainauth messages)" 0 "AUTH without TLS: nothing sent"
HERALD_SMTP_PASSWORD=s3cr3t-pw run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --smtp-user mailer --allow-plaintext-auth list20.csv
expect_eq "$rc" 0 "--allow-plaintext-auth: sent"
smtp_stop plainauth

# SMTPS (implicit TLS)
smtp_start smtps --tls-cert certs/server.pem --tls-key certs/server.key --implicit-tls
run_herald send -t t.eml --smtp "smtps://127.0.0.1:$SMTP_PORT" --cacert certs/ca.pem list20.csv
expect_eq "$rc" 0 "smtps:// with the test CA: exit 0"
expect_eq "$(smtp_stat smtps messages)" 21 "smtps: 21 messages"
smtp_stop smtps

# --max-per-connection recycles connections
smtp_start mpc
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 2 --max-per-connection 10 list.csv
expect_eq "$rc" 0 "--max-per-connection: exit 0"
conns=$(smtp_stat mpc connections)
if [ "$conns" -ge 20 ] && [ "$conns" -le 22 ]; then ok "200 messages, 10 per connection: $conns connections"; else bad "--max-per-connection 10: $conns connections (want 20..22)"; fi
smtp_stop mpc

# --redirect: everything to one test address, the intended one kept
smtp_start redir
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --redirect qa@test.example list20.csv
expect_eq "$rc" 0 "--redirect: exit 0"
expect_eq "$("$PYTHON" -c 'import json; print(json.load(open("redir.stats.json"))["recipients"])')" "{'qa@test.example': 21}" "--redirect: every message to the test address"
expect_match "$(cat redir.spool/*.eml)" "X-Original-To: p0@example.com" "--redirect: X-Original-To keeps the intended recipient"
smtp_stop redir

# unreachable server: before any row got through, a few rows are tried
# once each and the run stops: every row reported, exit 75, one line
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
t0=$(date +%s.%N)
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$port" --retries 3 -c 1 -o down.jsonl list20.csv
took=$("$PYTHON" -c "print($(date +%s.%N) - $t0)")
expect_eq "$rc" 75 "unreachable server: exit 75 (try again later)"
expect_eq "$(count_lines down.jsonl)" 21 "unreachable: every row in the report"
expect_eq "$(jrows down.jsonl 'sorted(set((r["status"], r["attempts"], r.get("failure")) for r in rows))')" "[('failed', 1, 'transient'), ('not-attempted', 0, None)]" "unreachable: a few rows failed after 1 attempt, the rest not attempted"
expect_eq "$(jrows down.jsonl 'sum(r["status"] == "failed" for r in rows)')" 3 "unreachable, -c 1: exactly 3 rows tried"
expect_match "$("$PYTHON" -c "print(int($took < 3))")" "^1$" "unreachable: the run ends within seconds"
expect_match "$(grep -v '^herald: recipient key' <<<"$err" | head -1)" "^herald: 127.0.0.1:$port: 3 rows tried, none got through \(cannot connect.*\): stopping, try again later$" "unreachable: one clear line says why"
# a host that does not resolve, TLS spoken to a plain port: configuration
run_herald send -t t.eml --smtp "smtp://no-such-host.invalid:2525" -o dns.jsonl list20.csv
expect_eq "$rc" 78 "a host that does not resolve: exit 78"
expect_eq "$(count_lines dns.jsonl)" 21 "no such host: every row in the report"
expect_match "$err" "no-such-host.invalid:2525: .*none got through.*check the host name" "no such host: one line says so"
smtp_start plainport
run_herald send -t t.eml --smtp "smtps://127.0.0.1:$SMTP_PORT" --timeout 5 -o tls.jsonl list20.csv
expect_eq "$rc" 78 "smtps:// on a plain port: exit 78"
expect_eq "$(count_lines tls.jsonl)" 21 "smtps:// on a plain port: every row in the report"
expect_match "$err" "none got through \(TLS handshake failed.*check the URL" "smtps:// on a plain port: one line says so"
expect_eq "$(smtp_stat plainport messages)" 0 "smtps:// on a plain port: nothing delivered"
smtp_stop plainport
# --max-failures counts failures in a row once rows got through
smtp_start flaky --reject-rcpt 'p[0-9]*@example.com:451'
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --retries 0 --max-failures 3 -c 1 -o down2.jsonl list20.csv
expect_eq "$rc" 75 "--max-failures 3: exit 75"
expect_eq "$(count_lines down2.jsonl)" 21 "--max-failures: every row in the report"
expect_eq "$(jrows down2.jsonl 'sum(r["status"] == "failed" for r in rows)')" 3 "--max-failures 3 with -c 1: exactly 3 failed"
expect_match "$err" "3 failures in a row \(--max-failures 3\): stopping; the last: row [0-9]+: temporarily refused: 451" "--max-failures: the line says what the failures were"
smtp_stop flaky

# --max-runtime: stop taking rows in time for the next cron run, exit 75
smtp_start slow --slow-ms 300
t0=$(date +%s.%N)
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 1 --max-runtime 1 -o mr.jsonl list20.csv
took=$("$PYTHON" -c "print($(date +%s.%N) - $t0)")
expect_eq "$rc" 75 "--max-runtime reached: exit 75"
expect_eq "$(count_lines mr.jsonl)" 21 "--max-runtime: every row in the report"
expect_match "$(jrows mr.jsonl 'sum(r["status"] == "not-attempted" for r in rows)')" "^1[0-9]$" "--max-runtime: most rows not attempted"
expect_match "$(jrows mr.jsonl 'sum(r["status"] == "sent" for r in rows)')" "^[2-5]$" "--max-runtime: the rows sent in time"
expect_match "$("$PYTHON" -c "print(int($took < 4))")" "^1$" "--max-runtime 1 ends within a few seconds"
smtp_stop slow

# a second SIGINT aborts sends in flight, even while the server sits on
# its reply; every row is still reported and the exit code is 75
smtp_start stuck --slow-ms 6000
"$HERALD" send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 2 -o sig.jsonl list20.csv >sig.out 2>sig.err &
hpid=$!
sleep 1.2
kill -INT $hpid
sleep 0.3
kill -INT $hpid
t0=$(date +%s.%N)
wait $hpid && rc=0 || rc=$?
took=$("$PYTHON" -c "print($(date +%s.%N) - $t0)")
expect_eq "$rc" 75 "two SIGINTs: exit 75"
expect_match "$("$PYTHON" -c "print(int($took < 2.5))")" "^1$" "the second SIGINT does not wait for the slow server"
expect_eq "$(count_lines sig.jsonl)" 21 "two SIGINTs: every row in the report"
# the server sits on its verdict after the final ".": the two in flight
# may have been delivered, so they are uncertain, never "failed"
expect_eq "$(jrows sig.jsonl 'sorted(set(r["status"] for r in rows))')" "['not-attempted', 'uncertain']" "in flight: uncertain; the rest: not attempted"
expect_eq "$(jrows sig.jsonl 'sum(r["status"] == "uncertain" for r in rows)')" 2 "the 2 in flight are uncertain"
expect_eq "$(jrows sig.jsonl '[r["error"] for r in rows if r["status"] == "uncertain"][0]')" "sent, the run was interrupted before the reply" "the uncertain rows say why"
expect_match "$(cat sig.err)" "interrupted" "the first SIGINT is acknowledged"
expect_eq "$(grep -c 'interrupted: finishing the sends in flight' sig.err)" 1 "the interrupt notice is printed once, not again at the end"
expect_eq "$(jrows sig.jsonl 'sorted(set(r["ms"] for r in rows if r["attempts"] == 0))')" "[0]" "rows never attempted have ms 0"
smtp_stop stuck

# worker threads: over SMTP one more than the cores (libcurl waits for the
# reply to the final "." without tending the thread's other connections),
# never more than the connections; -v says how many
smtp_start threads
cores=$(nproc)
want=$((cores + 1 < 10 ? cores + 1 : 10))
run_herald send -v -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 10 -o th.jsonl list20.csv
expect_eq "$rc:$(grep -c 'connections, driven by' <<<"$err")" 0:1 "threads: -v says it once"
expect_match "$err" "herald: up to 10 connections, driven by $want worker threads" "threads: -c 10 on $cores cores: $want worker threads"
run_herald send -v -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 1 -o th1.jsonl list20.csv
expect_match "$err" "herald: up to 1 connection, driven by 1 worker thread$" "threads: -c 1: one worker thread"
expect_eq "$(smtp_stat threads messages)" 42 "threads: the server got both runs' 21 messages"
smtp_stop threads

# bad configuration
run_herald send -t t.eml --smtp "http://127.0.0.1:$port" list20.csv
expect_eq "$rc" 78 "an http:// SMTP URL: 78"
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$port" --smtp-user someone list20.csv
expect_eq "$rc" 78 "a user without a password: 78"

finish
