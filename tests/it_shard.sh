#!/usr/bin/env bash
# it_shard.sh — --shard K/N: for several lists (duplicates, rows with no
# key, invalid rows; email and HTTP keys; CSV, JSON Lines, JSON) and
# several N, the shards are disjoint, together cover the list, end each
# row as the whole run does, and put it where README's formula says
# (tests/shard_check.py).  JOB_COMPLETION_INDEX and the SLURM_ARRAY_*
# variables choose the same shards as --shard.  Three processes on three
# shards at once, against one SMTP server, deliver each recipient once.
. "$(dirname "$0")/lib/it.sh"
. "$SRC/tests/lib/smtp.sh"
cd "$TMP"

"$PYTHON" - <<'EOF'
import json
# A: email, envelope key (case folded): repeats in other case, rows with
# no address, bad addresses, a missing name
with open("a.csv", "w") as f:
    f.write("email,name\n")
    for i in range(1, 201):
        if i % 17 == 0:
            f.write(f",Nobody {i}\n")
        elif i % 23 == 0:
            f.write(f"not an address {i},Bad {i}\n")
        elif i % 10 == 0:
            f.write(f"User{i // 2}@Example.COM,Again {i}\n")
        elif i % 29 == 0:
            f.write(f"user{i}@example.com,\n")
        else:
            f.write(f"user{i}@example.com,Name {i}\n")
# B: HTTP, an id field (exact): repeated ids, rows with no id, rows the
# template cannot render
with open("b.jsonl", "w") as f:
    for i in range(1, 151):
        r = {"id": i % 40 if i % 3 == 0 else i, "msg": f"hello {i}"}
        if i % 13 == 0:
            del r["id"]
        if i % 19 == 0:
            del r["msg"]
        f.write(json.dumps(r) + "\n")
# C: HTTP, no email or id field: the whole record is the key
rows = [{"name": f"n{i % 50}", "city": "Oslo" if i % 2 else "Lima"}
        for i in range(1, 121)]
with open("c.json", "w") as f:
    json.dump(rows, f)
EOF
cat >a.eml <<'EOF'
From: Shards <shards@example.com>
To: {{name}} <{{email}}>
Subject: shard test

Hello {{name}}.
EOF
cat >b.http <<'EOF'
POST http://127.0.0.1:9/hook
Content-Type: application/json

{"text": "{{msg}}"}
EOF
cat >c.http <<'EOF'
POST http://127.0.0.1:9/hook
Content-Type: application/json

{"text": "{{name}} in {{city}}"}
EOF

# check_shards TMPL LIST FOLD N: the whole run, then N shards, compared
check_shards() {
  local tmpl=$1 list=$2 fold=$3 n=$4 k reports=()
  run_herald send -q -n --skip-invalid -t "$tmpl" -o "whole-$list.jsonl" "$list"
  expect_match "$rc" '^(0|1)$' "$list: the whole run ends (exit $rc)"
  for k in $(seq 0 $((n - 1))); do
    run_herald send -q -n --skip-invalid --shard "$k/$n" -t "$tmpl" -o "$list-$k-of-$n.jsonl" "$list"
    expect_match "$rc" "^(0|1)$" "$list: shard $k/$n ends (exit $rc)"
    reports+=("$list-$k-of-$n.jsonl")
  done
  local res
  set +e
  res=$("$PYTHON" "$SRC/tests/shard_check.py" $fold "whole-$list.jsonl" "${reports[@]}" 2>&1)
  set -e
  while IFS= read -r line; do
    case $line in
      "ok: "*) ok "$list, $n shards: ${line#ok: }" ;;
      "FAIL: "*) bad "$list, $n shards: ${line#FAIL: }" ;;
      *) bad "$list, $n shards: $line" ;;
    esac
  done <<<"$res"
}
for n in 1 2 3 5 8; do check_shards a.eml a.csv --fold $n; done
for n in 2 3 7; do check_shards b.http b.jsonl "" $n; done
for n in 2 4; do check_shards c.http c.json "" $n; done

# the checker can fail: a shard report with one row moved elsewhere
"$PYTHON" - <<'EOF'
import json
rows = [json.loads(l) for l in open("a.csv-0-of-2.jsonl")]
for r in rows:
    if r["status"] == "dry-run":
        r["status"], r["error"] = "skipped", "shard 1/2"
        break
with open("broken-0-of-2.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
EOF
set +e
"$PYTHON" "$SRC/tests/shard_check.py" --fold whole-a.csv.jsonl broken-0-of-2.jsonl a.csv-1-of-2.jsonl >broken.out 2>&1
brc=$?
set -e
expect_eq "$brc" 1 "shard_check.py finds a row no shard took"
expect_match "$(cat broken.out)" "taken by shards \[\]" "shard_check.py names the row"

# the report's key and its reason
first_skip=$("$PYTHON" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["status"] == "skipped" and (r["error"] or "").startswith("shard "):
        print(r["error"]); break' a.csv-0-of-3.jsonl)
expect_match "$first_skip" '^shard [12]/3$' "a row of another shard is skipped \"shard K/N\""

# the environment chooses as --shard does; decisions compares two reports
decisions() { "$PYTHON" -c 'import json,sys
for r in sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["row"]):
    print(r["row"], r["key"], r["status"], r["error"])' "$1"; }
JOB_COMPLETION_INDEX=1 HERALD_SHARD_COUNT=3 run_herald send -q -n --skip-invalid -t a.eml -o k8s.jsonl a.csv
expect_eq "$(decisions k8s.jsonl)" "$(decisions a.csv-1-of-3.jsonl)" "JOB_COMPLETION_INDEX=1 with HERALD_SHARD_COUNT=3 is shard 1/3"
JOB_COMPLETION_INDEX=2 run_herald send -q -n --skip-invalid --shard-count 3 -t a.eml -o k8s2.jsonl a.csv
expect_eq "$(decisions k8s2.jsonl)" "$(decisions a.csv-2-of-3.jsonl)" "JOB_COMPLETION_INDEX=2 with --shard-count 3 is shard 2/3"
JOB_COMPLETION_INDEX=1 run_herald send -q -n --skip-invalid -t a.eml -o k8s3.jsonl a.csv
expect_eq "$rc" 64 "JOB_COMPLETION_INDEX without a count: usage error"
expect_match "$err" "shard-count" "... which says how to give the count"
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=3 \
  run_herald send -q -n --skip-invalid -t a.eml -o slurm.jsonl a.csv
expect_eq "$(decisions slurm.jsonl)" "$(decisions a.csv-2-of-3.jsonl)" "Slurm --array=1-3, task 3, is shard 2/3"
run_herald send -q -n --skip-invalid --shard 2/4 -t a.eml -o a-2-of-4.jsonl a.csv
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=6 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=4 \
  run_herald send -q -n --skip-invalid -t a.eml -o slurm2.jsonl a.csv
expect_eq "$(decisions slurm2.jsonl)" "$(decisions a-2-of-4.jsonl)" "Slurm --array=0-6:2, task 4, is shard 2/4"
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=7 SLURM_ARRAY_TASK_COUNT=3 \
  run_herald send -q -n --skip-invalid -t a.eml -o slurm3.jsonl a.csv
expect_eq "$rc" 64 "a Slurm array with gaps is refused"
JOB_COMPLETION_INDEX=1 run_herald send -q -n --skip-invalid --shard 0/1 -t a.eml -o all.jsonl a.csv
expect_eq "$(decisions all.jsonl)" "$(decisions whole-a.csv.jsonl)" "--shard 0/1 takes every row, whatever the environment says"

# usage errors, one line each
for bad_spec in 3/3 4 a/b 1/0 -1/2; do
  run_herald send -q -n --shard "$bad_spec" -t a.eml a.csv
  expect_eq "$rc:$(printf '%s\n' "$err" | wc -l | tr -d ' ')" "64:1" "--shard $bad_spec: exit 64, one line"
done
run_herald send -q -n --shard 1/4 --shard-count 3 -t a.eml a.csv
expect_match "$rc $err" "^64 .*disagree" "--shard and --shard-count that disagree"

# N processes on N shards at once, one SMTP server: each recipient once
smtp_start sink
pids=()
for k in 0 1 2; do
  "$HERALD" send -q --skip-invalid --shard "$k/3" -t a.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
    -c 2 -o "sent-$k.jsonl" a.csv >"sent-$k.out" 2>&1 &
  pids+=($!)
done
codes=""
for p in "${pids[@]}"; do
  set +e
  wait "$p"
  codes="$codes$?"
  set -e
done
expect_eq "$codes" "111" "three shards sent at once, each exit 1 (its invalid rows)"
want=$(grep -c '"status":"dry-run"' whole-a.csv.jsonl)
got=$(cat sent-0.jsonl sent-1.jsonl sent-2.jsonl | grep -c '"status":"sent"')
expect_eq "$got" "$want" "the shards together sent what the whole list would"
expect_eq "$(smtp_stat sink messages)" "$want" "the server got $want messages"
dups=$("$PYTHON" -c 'import json,sys
r = json.load(open(sys.argv[1]))["recipients"]
print(sum(1 for c in r.values() if c != 1))' "$TMP/sink.stats.json")
expect_eq "$dups" 0 "no recipient got two"
smtp_stop sink
finish
