#!/usr/bin/env bash
# it_crash.sh — kill -9 herald at random moments while it sends to a real
# SMTP server, rerun it with the same journal until it finishes: nothing
# is lost, duplicates only among the rows the journal knew as uncertain
# (at most the concurrency per kill), and none with --on-uncertain skip.
#
# CI runs it small; by hand, bigger:
#   HERALD_CRASH_ROWS=500 HERALD_CRASH_TRIALS=50 ctest -R it_crash -V
. "$(dirname "$0")/lib/it.sh"
. "$SRC/tests/lib/smtp.sh"
cd "$TMP"
rows=${HERALD_CRASH_ROWS:-60}
trials=${HERALD_CRASH_TRIALS:-20}

# a little latency per message, so that kills land mid-send
smtp_start crash --slow-ms 15
for mode in resend skip; do
  set +e
  "$PYTHON" "$SRC/tests/crash.py" "$HERALD" "$SMTP_PORT" "$TMP/crash.stats.json" "$TMP/work" \
    --rows "$rows" --trials "$trials" --concurrency 4 --mode $mode >"crash-$mode.out" 2>&1
  prc=$?
  set -e
  cat "crash-$mode.out"
  expect_eq "$prc" 0 "kill -9 trials with --on-uncertain $mode: every check held"
  expect_match "$(tail -1 "crash-$mode.out")" "^$mode: $trials trials of $rows rows" "kill -9 trials ($mode): the figures are printed"
done
expect_match "$(tail -1 crash-skip.out)" " 0 duplicates at the server" "--on-uncertain skip: no duplicate at all"
smtp_stop crash
finish
