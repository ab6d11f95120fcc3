#!/usr/bin/env bash
# What a person sees: the progress line on a terminal only (or with
# --progress always), NO_COLOR, -q and -v, help generated from the table.
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"
T=$SRC/templates
printf 'email,name\n' >list.csv
for i in $(seq 1 300); do printf 'u%d@example.com,U %d\n' "$i" "$i" >>list.csv; done

# not a terminal: no progress line by default
run_herald send -t "$T/welcome.eml" --outbox ob1 list.csv
expect_eq "$rc" 0 "plain run: exit 0"
case "$err" in *ETA*) bad "progress drawn on a non-terminal";; *) ok "no progress line on a non-terminal";; esac
expect_match "$err" "300 rows: 300 sent" "summary on stderr"

# --progress always draws it anyway: done/total, rate, ETA, failures
run_herald send -t "$T/welcome.eml" --outbox ob2 --progress always list.csv
expect_match "$err" "300/300 .*/s +ETA .*failed 0" "--progress always: done/total, rate, ETA, failures"

# a terminal gets the line by default; NO_COLOR keeps colour codes out
if command -v script >/dev/null; then
  printf 'email,name\nok@example.com,Ok\nbad,Bad\n' >mixed.csv
  script -qec "$HERALD send -t $T/welcome.eml --outbox ob3 --skip-invalid list.csv" /dev/null >tty.txt 2>&1 || true
  expect_match "$(cat tty.txt)" "ETA" "a terminal gets the progress line"
  NO_COLOR=1 script -qec "$HERALD send -t $T/welcome.eml --outbox ob4 list.csv" /dev/null >nocolor.txt 2>&1 || true
  if grep -q $'\033\\[31m' nocolor.txt; then bad "NO_COLOR: colour codes present"; else ok "NO_COLOR: no colour codes"; fi
else
  echo "SKIPPED part: 'script' (util-linux) not found, terminal checks not run" >&2
fi

# -q prints only errors; -v logs failed rows
run_herald send -q -t "$T/welcome.eml" --outbox ob5 list.csv
expect_eq "$err" "" "-q: nothing on stderr for a clean run"
printf 'email,name\nok@example.com,Ok\n' >one.csv
run_herald send -q -t "$T/welcome.eml" --outbox ob6/ob6 --outbox /proc/no one.csv
expect_eq "$rc" 73 "-q still reports errors (exit 73)"
expect_match "$err" "^herald: " "-q: the error line is printed"

# help comes from the option table: every option of send is listed
run_herald send --help
for o in template smtp smtp-user smtp-password-file outbox dry-run concurrency rate retries timeout report key skip-invalid limit skip redirect max-failures max-per-connection max-runtime campaign env cacert insecure quiet verbose progress; do
  case "$out" in *"--$o"*) ;; *) bad "send --help lacks --$o";; esac
done
ok "send --help lists every option"
run_herald render --help
case "$out" in *"--concurrency"*) bad "render --help lists send-only options";; *) ok "render --help lists only what applies";; esac
run_herald render -t "$T/welcome.eml" --concurrency 2 --row 1 "$T/recipients.csv"
expect_eq "$rc" 64 "an option that does not apply: 64"
run_herald send -t "$T/welcome.eml" --rate 10/x "$T/recipients.csv"
expect_eq "$rc" 64 "a bad --rate: 64"
run_herald frobnicate
expect_eq "$rc" 64 "unknown command: 64"
finish
