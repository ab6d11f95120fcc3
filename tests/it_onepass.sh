#!/usr/bin/env bash
# it_onepass.sh — --one-pass: a list read once, as it comes.  The rows end
# as a two-pass --skip-invalid run ends them; standard input is read as it
# arrives (rows go before the producer has finished); a repeat key is
# skipped; a journal makes a rerun skip what was sent; a record broken in
# the middle stops the run there, the rows before it sent.
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"

"$PYTHON" - <<'EOF'
with open("list.csv", "w") as f:
    f.write("email,name\n")
    for i in range(1, 121):
        if i % 11 == 0:
            f.write(f",Nobody {i}\n")            # no key
        elif i % 13 == 0:
            f.write(f"user{i}@example.com,\n")   # invalid: no name
        elif i % 7 == 0:
            f.write(f"User{i - 1}@Example.com,Again {i}\n")  # repeat
        else:
            f.write(f"user{i}@example.com,Name {i}\n")
EOF
cat >t.eml <<'EOF'
From: One <one@example.com>
To: {{name}} <{{email}}>
Subject: one pass

Hello {{name}}.
EOF
# status per row, sorted: "row status"
statuses() { "$PYTHON" -c 'import json,sys
for r in sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["row"] or 0):
    print(r["row"], r["status"])' "$1"; }

run_herald send -q --skip-invalid -t t.eml --outbox ob2 -o two.jsonl list.csv
expect_eq "$rc" 1 "two passes, --skip-invalid: exit 1 (invalid rows)"
set +e
"$HERALD" send -q --one-pass --format csv -t t.eml --outbox ob1 -o one.jsonl - <list.csv >one.out 2>&1
rc=$?
set -e
expect_eq "$rc" 1 "--one-pass from standard input: exit 1 (invalid rows)"
expect_eq "$(statuses one.jsonl)" "$(statuses two.jsonl)" "every row ends as in a two-pass run"
expect_eq "$(count_files ob1)" "$(count_files ob2)" "the same messages are written"
expect_eq "$(grep -c '"duplicate key: a recent row has it"' one.jsonl)" "$(grep -c '"status":"skipped"' two.jsonl)" "repeats are skipped as duplicates"
expect_eq "$(grep -c '"status":"invalid"' one.jsonl)" "$(grep -c '"status":"invalid"' two.jsonl)" "invalid rows are reported, not sent"
expect_match "$(cat one.out)" "invalid: <stdin>:" "each invalid row is named as it is found"

# a regular file, and check
run_herald check -q --one-pass -t t.eml -o chk.jsonl list.csv
expect_eq "$rc" 1 "check --one-pass: exit 1 (invalid rows)"
expect_eq "$(grep -c '"status":"dry-run"' chk.jsonl)" "$(grep -c '"status":"sent"' two.jsonl)" "check --one-pass renders what would go"

# standard input is read as it comes: the first rows are written while
# the producer still holds the pipe open
mkfifo feed
"$HERALD" send -q --one-pass --format csv -t t.eml --outbox obs -o stream.jsonl - <feed >stream.out 2>&1 &
hpid=$!
exec 7>feed
printf 'email,name\n' >&7
for i in 1 2 3 4 5; do printf 'live%d@example.com,Live %d\n' "$i" "$i" >&7; done
for _ in $(seq 100); do
  [ "$(count_files obs)" -ge 5 ] && break
  sleep 0.1
done
expect_eq "$(count_files obs)" 5 "five rows sent while the pipe is still open"
for i in 6 7 8; do printf 'live%d@example.com,Live %d\n' "$i" "$i" >&7; done
exec 7>&-
set +e
wait "$hpid"
rc=$?
set -e
expect_eq "$rc" 0 "the stream ends when the pipe closes: exit 0"
expect_eq "$(count_files obs)" 8 "every row of the stream sent"

# with a journal, a rerun skips what was sent
run_herald send -q --one-pass --journal j.journal -t t.eml --outbox obj -o j1.jsonl list.csv
expect_eq "$rc" 1 "a first run with a journal"
run_herald send -q --one-pass --journal j.journal -t t.eml --outbox obj -o j2.jsonl list.csv
expect_eq "$(grep -c '"status":"sent"' j2.jsonl)" 0 "the rerun sends nothing"
expect_eq "$(grep -c '"error":"sent earlier, ' j2.jsonl)" "$(grep -cE '"status":"sent"|"duplicate key' j1.jsonl)" "... and says the rows (and their repeats) were sent earlier"

# a record broken in the middle: the rows before it go, the report says
# where the input broke, exit 65
{ printf '{"email":"a@example.com","name":"A"}\n{"email":"b@example.com","name":"B"}\n'
  printf '{"email": "c@example.com", "name": }\n{"email":"d@example.com","name":"D"}\n'; } >broken.jsonl
run_herald send -q --one-pass -t t.eml --outbox obb -o broken-report.jsonl broken.jsonl
expect_eq "$rc" 65 "a broken record: exit 65"
expect_eq "$(count_files obb)" 2 "the two rows before it were sent"
expect_match "$(grep '"row":null' broken-report.jsonl)" "broken.jsonl:3" "the report's last word names the broken line"
expect_match "$err" "broken.jsonl:3" "so does the error"
# without --one-pass nothing of it goes
run_herald send -q -t t.eml --outbox obb2 -o broken2.jsonl broken.jsonl
expect_eq "$rc:$(count_files obb2)" "65:0" "two passes: nothing sent"
finish
