#!/usr/bin/env bash
# fuzz/run.sh — runs the libFuzzer harnesses one after the other.
#
#   fuzz/run.sh [-t SECONDS] [-b BUILD] [-w WORK] [HARNESS ...]
#
#   -t SECONDS  time per harness (default 30)
#   -b BUILD    a build made with CC=clang cmake -DHERALD_FUZZ=ON
#               (default build-fuzz); the harnesses are BUILD/fuzz/fuzz_NAME
#   -w WORK     where corpora, crashers and logs go (default BUILD/fuzz-work):
#                 WORK/seeds/NAME     seeds made now by fuzz/seeds.py (and
#                                     fuzz/regressions/NAME is read too)
#                 WORK/corpus/NAME    what libFuzzer found; kept between runs
#                 WORK/crashers/NAME  crash-*, leak-*, timeout-*, oom-* inputs
#                 WORK/logs/NAME.log  the whole libFuzzer output
#   HARNESS     csv json json_check jsonl template message address
#               retry_after smtp_reply url journal report (default: all)
#
# Prints one line per harness (executions, coverage, features) and exits 1
# when any harness found something: a crash, a sanitizer report, a broken
# promise (fuzz_fail), a leak, a unit slower than 10 s or over 2 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=30 build=build-fuzz work=
while getopts t:b:w: o; do
  case $o in
    t) secs=$OPTARG ;;
    b) build=$OPTARG ;;
    w) work=$OPTARG ;;
    *) exit 64 ;;
  esac
done
shift $((OPTIND - 1))
work=${work:-$build/fuzz-work}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] ||
  harnesses=(csv json json_check jsonl template message address retry_after
             smtp_reply url journal report)

rm -rf "$work/seeds"
python3 fuzz/seeds.py "$work/seeds" >"$work.seeds.log" 2>&1 || {
  cat "$work.seeds.log"; exit 1; }
mkdir -p "$work/logs"
mv "$work.seeds.log" "$work/logs/seeds.log"
status=0
for h in "${harnesses[@]}"; do
  bin=$build/fuzz/fuzz_$h
  [ -x "$bin" ] || { echo "fuzz: $bin not built (cmake --build $build --target fuzzers)" >&2; exit 1; }
  mkdir -p "$work/corpus/$h" "$work/crashers/$h" "$work/seeds/$h"
  dict=() kept=()
  [ -f "fuzz/$h.dict" ] && dict=(-dict="fuzz/$h.dict")
  # the kept crashers run first too: under clang's UBSan, which finds
  # more than gcc's (a zero offset applied to a null pointer)
  [ -d "fuzz/regressions/$h" ] && kept=("fuzz/regressions/$h")
  set +e
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$work/crashers/$h/" \
    "$work/corpus/$h" "$work/seeds/$h" "${kept[@]}" >"$work/logs/$h.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/logs/$h.log" | tail -1 || true)
  cov=$({ grep -E '^#[0-9]+' "$work/logs/$h.log" || true; } | tail -1 | sed -n 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/p')
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz: %-12s ok      %10s execs in %ss  %s\n' "$h" "${execs:-?}" "$secs" "$cov"
  else
    status=1
    printf 'fuzz: %-12s FINDING (exit %s) after %s execs; input in %s, log %s\n' \
      "$h" "$rc" "${execs:-?}" "$work/crashers/$h/" "$work/logs/$h.log"
    { grep -E 'ERROR|BROKEN|runtime error|SUMMARY' "$work/logs/$h.log" || true; } |
      head -5 | cut -c1-300 | sed 's/^/fuzz:   /'
  fi
done
exit $status
