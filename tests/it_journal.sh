#!/usr/bin/env bash
# it_journal.sh — herald as a cron job runs it: the journal and its lock,
# reruns that send only what is left, --only-failed, due times, the
# report's place and the promise that no input is ever written.
. "$(dirname "$0")/lib/it.sh"
. "$SRC/tests/lib/smtp.sh"
cd "$TMP"

cat >t.eml <<'EOF'
From: Acme <noreply@acme.example>
To: {{name}} <{{email}}>
Subject: Invoice {{n}}

Hello {{name}}, invoice {{n}}.
EOF
"$PYTHON" - <<'PY'
with open("list.csv", "w") as f:
    f.write("name,email,n\n")
    for i in range(1, 41):
        f.write(f"Pat {i},p{i}@example.com,{i}\n")
PY

# ---- two overlapping runs on one journal --------------------------------
smtp_start slow --slow-ms 200
"$HERALD" send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 2 --journal j.jsonl -o a.jsonl list.csv >a.out 2>a.err &
apid=$!
for _ in $(seq 100); do [ "$(smtp_stat slow messages)" -ge 1 ] && break; sleep 0.05; done
t0=$(date +%s%N)
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -c 2 --journal j.jsonl -o b.jsonl list.csv
took=$((($(date +%s%N) - t0) / 1000000))
expect_eq "$rc" 75 "overlapping run: exit 75"
expect_eq "$((took < 1000))" 1 "overlapping run: exits at once (${took} ms)"
expect_eq "$(printf '%s\n' "$err" | wc -l | tr -d ' ')" 1 "overlapping run: one line"
expect_match "$err" "^herald: j.jsonl: in use by another herald run \\(pid $apid\\)" "overlapping run: names the journal and the other run's pid"
expect_eq "$(count_lines b.jsonl)" 0 "overlapping run: no report of its own"
wait $apid && arc=0 || arc=$?
expect_eq "$arc" 0 "the first run: exit 0"
expect_eq "$(smtp_stat slow messages)" 40 "exactly one run sent: 40 messages"
expect_eq "$("$PYTHON" -c 'import json; print(max(json.load(open("slow.stats.json"))["recipients"].values()))')" 1 "nobody got two"
smtp_stop slow

# ---- a rerun after a partial failure sends only what failed --------------
smtp_start flaky --reject-rcpt 'p(3|17|29)@example\.com:451'
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --retries 0 --journal j2.jsonl -o r1.jsonl list.csv
expect_eq "$rc" 1 "partial failure: exit 1"
expect_eq "$(jrows r1.jsonl 'sum(r["status"] == "failed" for r in rows)')" 3 "partial failure: 3 failed"
expect_eq "$(smtp_stat flaky messages)" 37 "partial failure: 37 delivered"
smtp_stop flaky
smtp_start ok
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --journal j2.jsonl -o r2.jsonl list.csv
expect_eq "$rc" 0 "rerun: exit 0"
expect_eq "$(smtp_stat ok messages)" 3 "rerun: sends only the 3 that failed"
expect_eq "$(jrows r2.jsonl 'sorted(r["row"] for r in rows if r["status"] == "sent")')" "[3, 17, 29]" "rerun: rows 3, 17, 29 sent, by their original row numbers"
expect_eq "$(jrows r2.jsonl 'sum(r["status"] == "skipped" and r["error"].startswith("sent earlier, ") for r in rows)')" 37 "rerun: the rest skipped, sent earlier"
expect_eq "$(jrows r1.jsonl '{r["row"]: r["message_id"] for r in rows}[3]')" "$(jrows r2.jsonl '{r["row"]: r["message_id"] for r in rows}[3]')" "rerun: the same Message-ID (the journal keeps the campaign)"
size=$(wc -c <j2.jsonl)
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --journal j2.jsonl -o r3.jsonl list.csv
expect_eq "$(smtp_stat ok messages)" 3 "third run: sends nothing"
expect_eq "$(wc -c <j2.jsonl)" "$size" "third run: the journal did not grow"
smtp_stop ok

# ---- --only-failed from a report ------------------------------------------
smtp_start flaky2 --reject-rcpt 'p(5|6)@example\.com:550'
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" -o of1.csv list.csv
expect_eq "$(smtp_stat flaky2 messages)" 38 "--only-failed: the first run delivers 38"
smtp_stop flaky2
smtp_start ok2
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --only-failed of1.csv -o of2.jsonl list.csv
expect_eq "$rc" 0 "--only-failed: exit 0"
expect_eq "$(smtp_stat ok2 messages)" 2 "--only-failed: sends just the 2 failed rows"
expect_eq "$(jrows of2.jsonl 'sorted(r["row"] for r in rows if r["status"] == "sent")')" "[5, 6]" "--only-failed: rows 5 and 6, by their original numbers"
expect_eq "$(count_lines of2.jsonl)" 40 "--only-failed: every row in the report"
smtp_stop ok2

# ---- due times: a cron job every few minutes sends each row when due ------
"$PYTHON" - <<'PY'
import datetime, json
now = datetime.datetime.now(datetime.timezone.utc)
with open("due.jsonl", "w") as f:
    for i in range(1, 11):
        # odd rows due an hour ago (in +02:00), even ones in an hour (in -05:00)
        if i % 2:
            at = (now - datetime.timedelta(hours=1)).astimezone(datetime.timezone(datetime.timedelta(hours=2)))
        else:
            at = (now + datetime.timedelta(hours=1)).astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
        f.write(json.dumps({"name": f"D{i}", "email": f"d{i}@example.com", "n": i, "send_at": at.isoformat(timespec="seconds")}) + "\n")
PY
smtp_start due
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --journal jd.jsonl -o due.report.jsonl due.jsonl
expect_eq "$rc" 0 "due times: exit 0"
expect_eq "$(jrows due.report.jsonl 'sorted(r["row"] for r in rows if r["status"] == "sent")')" "[1, 3, 5, 7, 9]" "due times: exactly the due rows go"
expect_eq "$(jrows due.report.jsonl 'all(r["error"].startswith("not due until ") for r in rows if r["row"] % 2 == 0)')" True "due times: the others are skipped, not due until ..."
run_herald send -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --journal jd.jsonl -o due2.report.jsonl due.jsonl
expect_eq "$(smtp_stat due messages)" 5 "due times: the next cron run sends nothing twice, nothing early"
smtp_stop due

# ---- the report and the inputs --------------------------------------------
cp list.csv keep.csv
run_herald send -t t.eml -o keep.csv keep.csv
expect_eq "$rc" 64 "-o naming the recipients file: exit 64"
expect_eq "$(cmp -s list.csv keep.csv && echo same)" same "-o naming the recipients file: the file is unchanged"
expect_match "$err" "^herald: keep.csv: the report \\(-o\\) is the recipients file" "-o naming the recipients file: one line says so"
cp t.eml t2.eml
run_herald send -t t2.eml -o t2.eml list.csv
expect_eq "$rc" 64 "-o naming the template: exit 64"
expect_eq "$(cmp -s t.eml t2.eml && echo same)" same "-o naming the template: unchanged"
run_herald send -t t2.eml --journal t2.eml list.csv
expect_eq "$rc" 64 "--journal naming the template: exit 64"
expect_eq "$(cmp -s t.eml t2.eml && echo same)" same "--journal naming the template: unchanged"
mkdir -p sub && cp list.csv sub/list.csv
run_herald send -t t.eml --outbox sub -o sub.jsonl sub/list.csv
expect_eq "$rc" 64 "the recipients inside the outbox: exit 64"
ln -s list.csv alias.csv
run_herald send -t t.eml -o alias.csv list.csv
expect_eq "$rc" 64 "-o a symlink to the recipients file: exit 64"
expect_eq "$(cmp -s list.csv keep.csv && echo same)" same "the recipients file survived"

# a failed start replaces yesterday's report with its own
echo '{"row":1,"status":"sent","note":"yesterday"}' >today.jsonl
printf 'name,email,n\nA,"a@example.com,1\n' >broken.csv
run_herald send -t t.eml -o today.jsonl broken.csv
expect_eq "$rc" 65 "a broken list: exit 65"
expect_eq "$(grep -c yesterday today.jsonl || true)" 0 "a broken list: yesterday's report is gone"
expect_match "$(jrows today.jsonl 'rows[0]["error"]')" "broken.csv:2" "a broken list: the report says why"
run_herald send -t t.eml -o today.jsonl missing.csv
expect_eq "$rc" 66 "a missing list: exit 66"
expect_match "$(jrows today.jsonl 'rows[0]["error"]')" "missing.csv" "a missing list: the report says why"
run_herald send -t t.eml --smtp "smtp://127.0.0.1:1/path?x" -o today.jsonl list.csv
expect_eq "$rc" 78 "a bad SMTP URL: exit 78"
expect_eq "$(jrows today.jsonl 'len(rows), set(r["status"] for r in rows)')" "(40, {'not-attempted'})" "a bad SMTP URL: every row not-attempted"
expect_eq "$(ls -a | grep -c '^\.today' || true)" 0 "no temporary report is left behind"

# without -o, a send still leaves a report, and says where
run_herald send -t t.eml list.csv
expect_eq "$rc" 0 "no -o: exit 0"
expect_eq "$(count_lines herald-report.jsonl)" 40 "no -o: herald-report.jsonl has every row"
expect_match "$err" "herald-report.jsonl" "no -o: the summary names the report"
run_herald send -n -t t.eml -o none.jsonl list.csv
expect_eq "$(stat -c %a none.jsonl)" 600 "the report is created mode 0600"

finish
