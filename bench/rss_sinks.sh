#!/usr/bin/env bash
# rss_sinks.sh — peak memory of real sends against the number of rows:
# herald sends SIZES messages over SMTP (10 connections, postfix's
# smtp-sink) and as JSON POSTs (32 connections, nginx answering 204),
# through compare.sh (its sinks count that every message arrived, its
# runstat measures the peak RSS of the process tree), one run each.
# Usage: bench/rss_sinks.sh [SIZES]   (default "100000 1000000")
#        HERALD=/path/to/herald bench/rss_sinks.sh
# Prints one line per work and size: rows, msg/s, peak RSS (KiB), the
# ratio to the first size of that work, and ok or FAILED.  The memory
# goal: under 30 MB at a million, within 20% of the 100,000 run.
# Prints figures; exits 1 only when a run failed (a message missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sizes=${1:-100000 1000000}
out=$(mktemp -d "${TMPDIR:-/tmp}/herald-rss-sinks.XXXXXX")
trap 'rm -rf "$out"' EXIT

failed=0
for n in $sizes; do
  if ! SMTP_N=$n HTTP_N=$n CASES="smtp http" ONLY='^herald$' ROUNDS=1 \
    OUT="$out/$n" bash "$here/compare.sh" >"$out/$n.log" 2>&1; then
    failed=1
  fi
  [ -f "$out/$n/results.tsv" ] || { tail -5 "$out/$n.log" >&2; exit 1; }
done
printf '%6s %10s %10s %14s %7s  %s\n' work rows msg/s peak_rss_kib ratio check
for work in smtp http; do
  first=""
  for n in $sizes; do
    # case tool round n status wall user sys maxrss_kb tree_kb ...
    read -r status wall rss < <(awk -F'\t' -v w="$work" \
      '$1 == w && $2 == "herald" { m = $9 > $10 ? $9 : $10; print $5, $6, m }' \
      "$out/$n/results.tsv")
    [ -n "$first" ] || first=$rss
    rate=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
    ratio=$(awk -v a="$rss" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
    check=ok
    [ "$status" = ok ] || { check="FAILED ($status)"; failed=1; }
    printf '%6s %10s %10s %14s %7s  %s\n' "$work" "$n" "$rate" "$rss" "$ratio" "$check"
  done
done
exit $failed
