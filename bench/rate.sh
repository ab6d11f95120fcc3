#!/usr/bin/env bash
# How close `herald send --rate` comes to the rate asked for: sends ROWS
# rows with --rate RATE -c WORKERS to a local server (nginx through
# tests/http_nginx.py when nginx is installed, else tests/servers/
# http_server.py) and prints the achieved rate three ways, each with its
# deviation from RATE in percent:
#   wall      rows / wall time of the whole herald process
#   report    (rows - 1) / (last - first) of the report's "at" timestamps
#   server    the same over the times nginx logged each request (nginx only)
# Usage: bench/rate.sh [HERALD_BIN] [RATE] [ROWS] [WORKERS]
#        (defaults: build/herald 50 500 8, i.e. 10 s)
#        SERVER=python bench/rate.sh ... uses http_server.py even with nginx
# Prints figures; asserts nothing.  All traffic stays on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/..
bin=${1:-$src/build/herald}
rate=${2:-50}
rows=${3:-500}
workers=${4:-8}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
. "$here/sink.sh"
bench_work rate

if [ "${SERVER:-nginx}" = nginx ] && [ -x /usr/sbin/nginx ]; then
  kind=nginx
  sink_start "$py" "$src/tests/http_nginx.py" --dir "$work/nginx"
else
  kind=http_server.py
  sink_start "$py" "$src/tests/servers/http_server.py"
fi

"$py" - "$work/list.csv" "$rows" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,name\n")
    for i in range(1, int(sys.argv[2]) + 1):
        f.write(f"user{i}@example.com,User {i}\n")
PY
printf 'POST http://127.0.0.1:%s/ok?run=rate\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$port" >"$work/rate.http"

t0=$(date +%s%N)
set +e
"$bin" send -q -t "$work/rate.http" --rate "$rate" -c "$workers" -o "$work/report.jsonl" "$work/list.csv"
rc=$?
set -e
t1=$(date +%s%N)
[ "$rc" = 0 ] || echo "note: herald exited $rc" >&2

"$py" - "$work/report.jsonl" "$rate" "$rows" "$workers" "$(((t1 - t0) / 1000))" "$kind" "${work}/nginx/access.log" <<'PY'
import datetime, json, os, sys
report, rate, rows, workers, wall_us, kind, access = sys.argv[1:8]
rate, rows, wall = float(rate), int(rows), int(wall_us) / 1e6
lines = [json.loads(l) for l in open(report)]
sent = sum(r["status"] == "sent" for r in lines)
at = sorted(datetime.datetime.strptime(r["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
            .replace(tzinfo=datetime.timezone.utc).timestamp() for r in lines)

def line(name, achieved):
    dev = (achieved - rate) / rate * 100
    print(f"{name:8} {achieved:9.2f} rows/s  {dev:+7.2f} %")

print(f"herald send --rate {rate:g} -c {workers}, {rows} rows to {kind}: "
      f"{sent} sent, wall {wall:.3f} s")
print(f"{'':8} {'achieved':>9}         deviation from {rate:g}/s")
line("wall", len(lines) / wall)
if len(at) > 1 and at[-1] > at[0]:
    line("report", (len(at) - 1) / (at[-1] - at[0]))
if kind == "nginx" and os.path.exists(access):
    t = sorted(json.loads(l)["time"] for l in open(access)
               if "run=rate" in l)
    if len(t) > 1 and t[-1] > t[0]:
        line("server", (len(t) - 1) / (t[-1] - t[0]))
        # the most requests nginx saw in any one-second window
        peak, j = 0, 0
        for i in range(len(t)):
            while t[i] - t[j] >= 1.0:
                j += 1
            peak = max(peak, i - j + 1)
        print(f"peak     {peak:9d} requests in any 1 s window")
PY
