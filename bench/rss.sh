#!/usr/bin/env bash
# Peak memory of `herald send` to the outbox against the number of rows:
# the reader streams, so 1,000,000 rows should need about what 100,000 do.
# Usage: bench/rss.sh [HERALD_BIN] [ROWS ...]   (default rows: 100000 1000000)
# Prints one line per size: rows, seconds, peak RSS (KiB), and the ratio to
# the first size.  Needs ~1 GB of free disk for the 1,000,000 outbox files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/herald}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-rss.XXXXXX")
trap 'rm -rf "$work"' EXIT
tmpl=$here/../templates/welcome.eml

first=""
printf '%10s %10s %14s %8s\n' rows seconds peak_rss_kib ratio
for n in "${sizes[@]}"; do
  /usr/bin/python3 - "$work/list-$n.csv" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
plans = ["Pro", "", "Team"]
with open(path, "w") as f:
    f.write("email,name,plan\n")
    for i in range(n):
        f.write(f"user{i}@example.com,User Number {i},{plans[i % 3]}\n")
PY
  rm -rf "$work/outbox"
  line=$(/usr/bin/python3 - "$bin" "$tmpl" "$work/list-$n.csv" "$work/outbox" <<'PY'
import resource, subprocess, sys, time
bin, tmpl, lst, outbox = sys.argv[1:5]
t0 = time.monotonic()
rc = subprocess.call([bin, "send", "-q", "-c", "4", "-t", tmpl, "--outbox", outbox,
                      "--report", outbox + ".report.jsonl", lst])
secs = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(rc, f"{secs:.1f}", rss)
PY
)
  read -r rc secs rss <<<"$line"
  [ "$rc" = 0 ] || { echo "herald exited $rc for $n rows" >&2; exit 1; }
  files=$(find "$work/outbox" -type f | wc -l)
  [ "$files" = "$n" ] || { echo "expected $n outbox files, found $files" >&2; exit 1; }
  [ -n "$first" ] || first=$rss
  ratio=$(awk -v a="$rss" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
  printf '%10s %10s %14s %8s\n' "$n" "$secs" "$rss" "$ratio"
  rm -rf "$work/outbox" "$work/outbox.report.jsonl" "$work/list-$n.csv"
done
