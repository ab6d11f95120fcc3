#!/usr/bin/env bash
# it_consume_crash.sh — kill -9 a herald consumer mid-run against a real
# redis-server and SMTP server; a second consumer (--claim-idle 1s) takes
# its entries over: nothing is lost, nothing stays pending, each entry has
# one outcome in the results stream, and an entry arrives twice only when
# the killed consumer's journal left it uncertain (tests/consume_crash.py).
#
# CI runs it small; by hand, bigger:
#   HERALD_TAKEOVER_ENTRIES=400 HERALD_TAKEOVER_TRIALS=30 ctest -R it_consume_crash -V
. "$(dirname "$0")/lib/it.sh"
. "$SRC/tests/lib/smtp.sh"
. "$SRC/tests/lib/redis.sh"
cd "$TMP"
entries=${HERALD_TAKEOVER_ENTRIES:-80}
trials=${HERALD_TAKEOVER_TRIALS:-5}

redis_start q
# latency per message, so that the kill lands mid-send
smtp_start crash --slow-ms 15
set +e
"$PYTHON" "$SRC/tests/consume_crash.py" "$HERALD" "$SMTP_PORT" "$TMP/crash.stats.json" \
  "$REDIS_PORT" "$TMP/work" --entries "$entries" --trials "$trials" --concurrency 4 >takeover.out 2>&1
prc=$?
set -e
cat takeover.out
expect_eq "$prc" 0 "kill -9 and take-over: every check held"
expect_match "$(tail -1 takeover.out)" "^take-over: $trials trials of $entries entries.* 0 lost, 0 failed checks" "the figures are printed"
smtp_stop crash
redis_stop q
finish
