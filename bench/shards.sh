#!/usr/bin/env bash
# shards.sh — N herald processes on N shards of one list (--shard K/N),
# all at once against one local sink (nginx on 127.0.0.1), for each N in
# NS; prints the rate of the whole list against N=1's, and the
# efficiency (speed-up / N; the goal is >= 0.9 until the sink or the
# machine's cores saturate).  Each process sends with -c WORKERS and
# writes its own report; the script checks that the reports together
# have every row sent exactly once (shards disjoint and complete) and that
# nginx answered that many requests, and says FAILED otherwise (exit 1).
#
# Usage: bench/shards.sh [HERALD_BIN] [ROWS] [WORKERS] [DELAY] [NS]
#        (defaults: build/herald 4000 8 0.02 "1 2 4 8")
# DELAY (seconds) is how long nginx waits before each answer
# (libnginx-mod-http-echo, needed either way); DELAY=0 uses an answer at
# once (204), where two cores saturate early.  Prints figures; asserts nothing else.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/..
bin=${1:-$src/build/herald}
rows=${2:-4000}
workers=${3:-8}
delay=${4:-0.02}
ns=${5:-1 2 4 8}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
. "$here/sink.sh"
bench_work shards
if [ "$delay" = 0 ]; then
  path=fast
else
  path=slow
fi

"$py" - "$work/list.csv" "$rows" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(1, int(sys.argv[2]) + 1):
        f.write(f"user{i}@example.com,User {i}\n")
PY

echo "herald --shard K/N: $rows rows, -c $workers per process, sink nginx /$path (delay $delay s), $(nproc) cores"
printf '%3s %9s %10s %9s %11s  %s\n' N wall_s rows/s speedup efficiency check
base=""
failed=0
for n in $ns; do
  nginx_sink "$delay"
  printf 'POST http://127.0.0.1:%s/%s\nContent-Type: application/json\n\n{"to": "{{email}}", "name": "{{name}}"}\n' \
    "$port" "$path" >"$work/shard.http"
  rm -f "$work"/report-*.jsonl
  pids=()
  t0=$(date +%s%N)
  for ((k = 0; k < n; k++)); do
    "$bin" send -q -t "$work/shard.http" --shard "$k/$n" -c "$workers" \
      -o "$work/report-$k.jsonl" "$work/list.csv" 2>"$work/err-$k" &
    pids+=($!)
  done
  rcs=""
  for p in "${pids[@]}"; do
    if wait "$p"; then rcs+=0; else rcs+=x; fi
  done
  t1=$(date +%s%N)
  sink_stop # flushes the access log
  check=$("$py" - "$rows" "$work/nginx/access.log" "$work"/report-*.jsonl <<'PY'
import json, sys
rows, log, reports = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
sent = {}
for path in reports:
    for line in open(path):
        r = json.loads(line)
        if r["status"] == "sent":
            sent[r["key"]] = sent.get(r["key"], 0) + 1
twice = sum(1 for c in sent.values() if c > 1)
served = sum(1 for l in open(log) if l.split()[1] in ("200", "204"))
ok = len(sent) == rows and twice == 0 and served == rows
print(("ok" if ok else "FAILED") +
      f": {len(sent)} keys sent, {twice} twice, {served} served")
PY
)
  [ "$rcs" = "$(printf '0%.0s' $(seq "$n"))" ] || check="FAILED: exit codes $rcs; $check"
  case $check in FAILED*) failed=1 ;; esac
  "$py" - "$n" "$rows" "$(((t1 - t0) / 1000))" "${base:-0}" "$check" <<'PY'
import sys
n, rows, us, base, check = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rate = rows / (us / 1e6)
base = base or rate
print(f"{n:3d} {us / 1e6:9.2f} {rate:10.0f} {rate / base:9.2f} {rate / base / n:11.2f}  {check}")
PY
  if [ -z "$base" ]; then
    base=$("$py" -c "import sys; print($rows / ($(((t1 - t0) / 1000)) / 1e6))")
  fi
done
exit "$failed"
