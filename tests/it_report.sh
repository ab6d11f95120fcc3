#!/usr/bin/env bash
# herald report: the summary of real reports (JSONL and CSV) from a run
# against a real SMTP server that rejects some recipients, checked against
# figures computed here; the HTML page opened in headless Chromium, and
# what the browser shows compared with the JSONL report.
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
T=$SRC/templates
"$PYTHON" - <<'PY'
with open("list.csv", "w") as f:
    f.write("email,name\n")
    for i in range(1, 241):
        dom = ("alpha.example", "beta.example", "gamma.example")[i % 3]
        user = f"bad{i}" if i % 7 == 0 else f"u{i}"
        f.write(f"{user}@{dom},User {i}\n")
    f.write("not-an-address,Broken\n")          # invalid
    f.write("u1@beta.example,Again\n")          # a duplicate: skipped
    f.write("<script>x@evil.example,Evil\n")    # invalid, hostile
PY
smtp_start rej --reject-rcpt '^bad[0-9]*@:550 5.1.1 No such user here' --slow-ms 20
URL="smtp://127.0.0.1:$SMTP_PORT"
run_herald send -t "$T/welcome.eml" --smtp "$URL" -c 4 -r 120 --skip-invalid -o run.jsonl list.csv
expect_eq "$rc" 1 "the run: some rows failed (exit 1)"
run_herald send -t "$T/welcome.eml" --smtp "$URL" -c 4 --skip-invalid -o run.csv list.csv
smtp_stop rej

# figures computed here from a report, in the summary's own words
figures() { "$PYTHON" - "$1" <<'PY'
import csv, collections, json, math, sys
p = sys.argv[1]
if p.endswith(".csv"):
    rows = list(csv.DictReader(open(p, newline="", encoding="utf-8")))
    for r in rows:
        r["attempts"] = int(r["attempts"]); r["ms"] = int(r["ms"])
else:
    rows = [json.loads(l) for l in open(p, encoding="utf-8")]
c = collections.Counter(r["status"] for r in rows)
att = sum(r["attempts"] for r in rows)
print(f"{len(rows)} rows: {c['sent']} sent, {c['failed']} failed, "
      f"{c['invalid']} invalid, {c['skipped']} skipped, "
      f"{c['not-attempted']} not-attempted; {att} attempts")
ms = sorted(r["ms"] for r in rows if r["attempts"] > 0)
q = lambda x: ms[max(1, math.ceil(x * len(ms))) - 1]
print(f"latency: p50 {q(.5)} ms, p95 {q(.95)} ms, p99 {q(.99)} ms, "
      f"max {ms[-1]} ms over {len(ms)} attempted rows")
PY
}
for rep in run.jsonl run.csv; do
  run_herald report "$rep"
  expect_eq "$rc" 0 "report $rep: exit 0"
  want=$(figures "$rep")
  expect_eq "$(printf '%s\n' "$out" | head -1)" "$rep: $(printf '%s\n' "$want" | head -1)" "report $rep: the counts line"
  expect_eq "$(printf '%s\n' "$out" | sed -n 2p | sed 's/ (.*//')" "$(printf '%s\n' "$want" | sed -n 2p)" "report $rep: p50/p95/p99/max"
  expect_match "$out" "^errors by code:" "report $rep: errors grouped by code"
  expect_match "$out" "^ +34  550 +.*No such user here" "report $rep: 34 rows failed with 550 and the reply"
  expect_match "$out" "^errors by domain:" "report $rep: errors grouped by domain"
  for d in alpha beta gamma; do
    n=$(grep -c "^bad.*@$d\\.example" list.csv)
    expect_match "$out" "^ +$n  $d\\.example" "report $rep: $n failures at $d.example"
  done
  expect_match "$out" "^slowest rows:" "report $rep: the slowest rows"
  expect_eq "$(printf '%s\n' "$out" | sed -n '/^slowest rows:/,$p' | tail -n +2 | wc -l | tr -d ' ')" 10 "report $rep: ten slowest by default"
  if printf '%s' "$out" | grep -q $'\033'; then bad "report $rep: an escape character reached the terminal"; else ok "report $rep: no escape characters from data"; fi
done
run_herald report --slowest 3 run.jsonl
expect_eq "$(printf '%s\n' "$out" | sed -n '/^slowest rows:/,$p' | tail -n +2 | wc -l | tr -d ' ')" 3 "--slowest 3"
expect_eq "$("$PYTHON" -c '
import json
rows = [json.loads(l) for l in open("run.jsonl")]
print(max(r["ms"] for r in rows))')" "$(printf '%s\n' "$out" | sed -n '/^slowest rows:/{n;p}' | awk '{print $1}')" "the slowest row first"

# a CSV report with spreadsheet-guarded cells reads back as written
printf 'row,key,status,attempts,code,response,error,failure,ms,at,message_id\n1,'"'"'=cmd@x.example,failed,1,550,'"'"'-no,'"'"'@bad,permanent,5,2026-11-27T13:45:10.123Z,\n' >guard.csv
run_herald report guard.csv
expect_match "$out" "^ +1  550 +@bad " "CSV: the apostrophe before @bad is taken off"
expect_match "$out" "row 1 +failed +=cmd@x.example" "CSV: the apostrophe before =cmd is taken off"

# mistakes: one line, the documented code
printf '{"row":1,"status":"sent","attempts":1,"ms":3}\n{"row":2,"status":"sent"\n' >broken.jsonl
run_herald report broken.jsonl
expect_match "$rc:$err" "^65:herald: broken.jsonl:2:" "a malformed line: 65, file:line"
expect_eq "$(printf '%s\n' "$err" | wc -l | tr -d ' ')" 1 "a malformed line: one line"
run_herald report missing.jsonl
expect_match "$rc:$err" "^66:herald: missing.jsonl: " "a missing report: 66"
run_herald report run.jsonl --html run.jsonl
expect_match "$rc:$err" "^64:.*never writes over an input" "--html onto the report itself: refused"
expect_eq "$(figures run.jsonl | head -1 | cut -d: -f1)" "$(wc -l <run.jsonl | tr -d ' ') rows" "and the report is intact"
run_herald report
expect_match "$rc:$err" "^64:herald: a REPORT file is required" "no report named: 64"
: >empty.jsonl
run_herald report empty.jsonl
expect_eq "$rc:$out" "0:empty.jsonl: 0 rows: 0 sent, 0 failed, 0 invalid, 0 skipped, 0 not-attempted; 0 attempts" "an empty report: 0 rows"
run_herald report --html empty.html empty.jsonl
expect_eq "$rc" 0 "an empty report makes a page too"

# the page, in a real browser
run_herald report run.jsonl --html page.html
expect_eq "$rc:$(test -s page.html && echo yes)" "0:yes" "--html writes the page"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "SKIPPED part: chromium not installed (apt-get install chromium): the page was not opened in a browser" >&2
else
  sandbox=()
  [ "$(id -u)" -ne 0 ] || sandbox=(--no-sandbox)
  browse() { # ARGS... : headless Chromium, a fresh profile, no network chatter
    rm -rf "$TMP/profile"
    timeout 120 "$CHROMIUM" --headless "${sandbox[@]}" --disable-gpu \
      --disable-background-networking --disable-component-update \
      --disable-sync --no-first-run --disable-default-apps \
      --user-data-dir="$TMP/profile" "$@" 2>"$TMP/chromium.log"
  }
  browse --dump-dom "file://$TMP/page.html" >dom.html || true
  if [ -s dom.html ]; then
    ok "Chromium loaded the page"
    res=$("$PYTHON" "$SRC/tests/report_page_check.py" dom.html run.jsonl 2>&1) || true
    while IFS= read -r line; do
      case $line in "ok: "*) ok "${line#ok: }" ;; "FAIL: "*) bad "${line#FAIL: }" ;; *) echo "$line" ;; esac
    done <<<"$res"
    browse --window-size=1000,2400 --screenshot="$TMP/page.png" "file://$TMP/page.html" >/dev/null || true
    size=$(stat -c %s page.png 2>/dev/null || echo 0)
    if [ "$size" -gt 20000 ]; then ok "Chromium drew the page ($size bytes of PNG)"; else bad "the screenshot is $size bytes"; fi
    # hostile data stays text: keys and replies with markup
    printf '%s\n' '{"row":1,"key":"<script>alert(1)</script>@x.example","status":"failed","attempts":1,"code":550,"response":null,"error":"<img src=x onerror=alert(2)>","failure":"permanent","ms":5,"at":"2026-11-27T13:45:10.123Z","message_id":null}' \
      '{"row":2,"key":"a@b.example","status":"sent","attempts":1,"code":250,"response":"</td></tr></table><iframe src=//x>","error":null,"ms":7,"at":"2026-11-27T13:45:11.500Z","message_id":null}' >hostile.jsonl
    run_herald report hostile.jsonl --html hostile.html
    browse --dump-dom "file://$TMP/hostile.html" >hdom.html || true
    res=$("$PYTHON" "$SRC/tests/report_page_check.py" hdom.html hostile.jsonl 2>&1) || true
    while IFS= read -r line; do
      case $line in "ok: "*) ok "hostile ${line#ok: }" ;; "FAIL: "*) bad "hostile ${line#FAIL: }" ;; *) echo "$line" ;; esac
    done <<<"$res"
    if grep -q 'alert(1)</script>@x.example' hdom.html || ! grep -q '&lt;script&gt;alert(1)' hdom.html; then bad "hostile: the key is not shown as text"; else ok "hostile: the key is shown as text"; fi
  else
    bad "Chromium produced no DOM: $(tail -3 "$TMP/chromium.log")"
  fi
fi
finish
