#!/usr/bin/env bash
# suppress_rss.sh — peak memory of a real `herald send` with a suppression
# list as long as the recipients list: for each size N, N recipients and
# --suppress with N entries (every other recipient, and as many addresses
# that are in no row), sent as JSON POSTs over 32 connections to nginx on
# 127.0.0.1 answering 204, the report written.  The same list without
# --suppress is run first, so the list's own cost shows.
#
# Usage: bench/suppress_rss.sh [HERALD_BIN] [SIZES]
#        (defaults: build/herald "100000 1000000")
# Prints one line per run: rows, suppression entries, rows sent, rows
# suppressed, seconds, peak RSS (KiB) and the ratio to the first run.
# Checks that exactly the suppressed rows were skipped and that nginx got
# one request for every row sent, and says FAILED otherwise (exit 1).
# The memory goal for a million recipients is 30 MB.  Prints figures;
# asserts nothing else.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/..
bin=${1:-$src/build/herald}
sizes=${2:-100000 1000000}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
. "$here/sink.sh"
bench_work suppress-rss

echo "herald send with --suppress: JSON POSTs to nginx 204, -c 32, report written, $(nproc) cores"
printf '%10s %10s %10s %10s %9s %14s %7s  %s\n' rows entries sent suppressed seconds peak_rss_kib ratio check
first=""
failed=0
for n in $sizes; do
  "$py" - "$work" "$n" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/list.csv", "w") as f:
    f.write("email,name,plan\n")
    for i in range(n):
        f.write(f"user{i}@example.com,User Number {i},{('Pro', 'Team')[i % 2]}\n")
with open(f"{work}/suppress.txt", "w") as f:
    f.write("# every other recipient, and as many strangers\n")
    for i in range(0, n, 2):
        f.write(f"User{i}@Example.com\n")
        f.write(f"stranger{i}@example.net\n")
PY
  entries=$(grep -vc '^#' "$work/suppress.txt")
  for with in no yes; do
    nginx_sink 0
    printf 'POST http://127.0.0.1:%s/fast\nContent-Type: application/json\n\n{"to":"{{email}}","name":"{{name}}","plan":"{{plan}}"}\n' \
      "$port" >"$work/event.http"
    extra=()
    want_skipped=0
    shown=0
    if [ "$with" = yes ]; then
      extra=(--suppress "$work/suppress.txt")
      want_skipped=$(( (n + 1) / 2 ))
      shown=$entries
    fi
    rm -f "$work/report.jsonl"
    line=$("$py" - "$bin" "$work" "${extra[@]}" <<'PY'
import resource, subprocess, sys, time
bin, work, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
t0 = time.monotonic()
rc = subprocess.call([bin, "send", "-q", "-c", "32", "-t", f"{work}/event.http",
                      "-o", f"{work}/report.jsonl", *extra, f"{work}/list.csv"])
secs = time.monotonic() - t0
print(rc, f"{secs:.1f}", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
    sink_stop
    read -r rc secs rss <<<"$line"
    read -r sent skipped suppressed <<<"$("$py" - "$work/report.jsonl" <<'PY'
import json, sys
sent = skipped = suppressed = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["status"] == "sent":
        sent += 1
    elif r["status"] == "skipped":
        skipped += 1
        suppressed += "suppressed" in (r["error"] or "")
print(sent, skipped, suppressed)
PY
)"
    served=$(wc -l <"$work/nginx/access.log")
    check=ok
    if [ "$rc" != 0 ] || [ "$skipped" != "$want_skipped" ] || [ "$suppressed" != "$want_skipped" ] ||
      [ $((sent + skipped)) != "$n" ] || [ "$served" != "$sent" ]; then
      check="FAILED (exit $rc, $sent sent, $skipped skipped, $suppressed suppressed, nginx $served)"
      failed=1
    fi
    [ -n "$first" ] || first=$rss
    ratio=$(awk -v a="$rss" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
    printf '%10s %10s %10s %10s %9s %14s %7s  %s\n' "$n" "$shown" "$sent" "$suppressed" "$secs" "$rss" "$ratio" "$check"
  done
done
exit $failed
