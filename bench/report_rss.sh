#!/usr/bin/env bash
# Peak memory and time of `herald report --html` against the number of
# report rows: percentiles, error groups, the slowest rows and the
# timeline are bounded, so 1,000,000 rows should need what 10,000 do.
# Usage: bench/report_rss.sh [HERALD_BIN] [ROWS ...]
#        (default rows: 10000 100000 1000000)
# Prints one line per size: rows, seconds, peak RSS (KiB), the ratio to
# the first size.  The reports are made here: a mix of statuses, latencies
# spread over 1 ms to 30 s, 50,000 recipient domains, a run of 3 hours.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/herald}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-report-rss.XXXXXX")
trap 'rm -rf "$work"' EXIT

printf '%10s %10s %14s %8s\n' rows seconds peak_rss_kib ratio
first=""
for n in "${sizes[@]}"; do
  /usr/bin/python3 - "$work/r-$n.jsonl" "$n" <<'PY'
import json, random, sys, time
path, n = sys.argv[1], int(sys.argv[2])
random.seed(n)
t0 = 1795787110.0
with open(path, "w") as f:
    for i in range(1, n + 1):
        st = random.choices(["sent", "failed", "skipped", "invalid"], [90, 6, 2, 2])[0]
        att = 0 if st in ("skipped", "invalid") else random.choice([1, 1, 1, 2, 4])
        ms = int(random.lognormvariate(4.5, 1.2)) if att else 0
        at = t0 + 10800.0 * i / n
        code = 250 if st == "sent" else (random.choice([550, 451, 421, None]) if st == "failed" else None)
        f.write(json.dumps({"row": i, "key": f"u{i}@d{random.randrange(50000)}.example",
            "status": st, "attempts": att, "code": code, "response": None,
            "error": "boom" if st == "failed" else None, "ms": ms,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z",
            "message_id": None}) + "\n")
PY
  line=$(/usr/bin/python3 - "$bin" "$work/r-$n.jsonl" "$work/r-$n.html" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run([sys.argv[1], "report", sys.argv[2], "--html", sys.argv[3]],
               check=True, stdout=subprocess.DEVNULL)
print(f"{time.monotonic() - t:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
)
  secs=${line% *}
  rss=${line#* }
  [ -n "$first" ] || first=$rss
  printf '%10s %10s %14s %8s\n' "$n" "$secs" "$rss" "$(awk -v a="$rss" -v b="$first" 'BEGIN { printf "%.2f", a / b }')"
  rm -f "$work/r-$n.jsonl"
done
