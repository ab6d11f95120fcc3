#!/usr/bin/env bash
# What a person sees: the progress line on a terminal only (or with
# --progress always), cut to the terminal's width, counting taken rows;
# NO_COLOR, -q and -v; the command-line conventions (help, version,
# bundled flags, did you mean, rate units, check's options and summary,
# render's last line, bash completion), all from the one option table.
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

# --- help, version
for v in "version" "-V" "--version" "send -V" "report --version"; do
  run_herald $v
  expect_eq "$rc:$out" "0:herald $(sed -n 's/.*HD_VERSION "\(.*\)"/\1/p' "$SRC/lib/herald.h")" "herald $v prints the version"
done
run_herald help
expect_eq "$rc" 0 "herald help: exit 0"
for c in send check render report help version completion; do
  expect_match "$out" "^  $c " "herald help lists $c"
done
run_herald help send; a=$out
run_herald send --help; b=$out
run_herald --help send; c=$out
expect_eq "$a" "$b" "herald help send = herald send --help"
expect_eq "$c" "$b" "herald --help send = herald send --help"
run_herald help sned
expect_match "$rc:$err" "^64:herald: unknown command 'sned'; did you mean 'send'\?$" "help of a misspelt command: did you mean"
# every help page: at most 79 columns, option help aligned in one column
for c in "" send check render report version completion; do
  run_herald help $c
  long=$(printf '%s\n' "$out" | awk 'length > 79' | head -1)
  expect_eq "$long" "" "help $c: no line over 79 columns"
  cols=$(printf '%s\n' "$out" | "$PYTHON" -c '
import re, sys
cols = set()
for l in sys.stdin:
    l = l.rstrip("\n")
    if l.startswith("  -") or l.startswith("      --"):
        m = re.match(r"^( +\S.*?)( {2,})(\S)", l)
        if m: cols.add(m.start(3))
    elif re.match(r"^ {8,}\S", l):
        cols.add(len(l) - len(l.lstrip()))
print(len(cols))')
  case $c in ""|version|completion) ;; *) expect_eq "$cols" 1 "help $c: the option help starts in one column";; esac
done
run_herald check --help
case "$out" in *"--rate"*|*"--concurrency"*|*"--dry-run"*) bad "check --help lists send-only options";; *) ok "check --help lists only check's options";; esac
case "$out" in *"--smtp "*) ok "check --help lists --smtp";; *) bad "check --help lacks --smtp";; esac

# --- bundled short flags, rate units
run_herald send -nq -t "$T/welcome.eml" list.csv
expect_eq "$rc:$err" "0:" "-nq: a quiet dry run"
run_herald send -nqc2 -t "$T/welcome.eml" -o b1.jsonl list.csv
expect_eq "$rc:$(jrows b1.jsonl 'sorted(set(r["status"] for r in rows))')" "0:['dry-run']" "-nqc2: flags bundle, the last takes the rest as its value"
run_herald send -nqc 2 -t "$T/welcome.eml" list.csv
expect_eq "$rc" 0 "-nqc 2: the value in the next word"
run_herald send -nx -t "$T/welcome.eml" list.csv
expect_match "$rc:$err" "^64:herald: unknown option '-x'" "an unknown flag in a bundle: 64, named"
for r in 10 10/s 10/sec 600/m 600/min 600/minute 36000/h 36000/hour; do
  run_herald send -n -q -r "$r" -t "$T/welcome.eml" list.csv
  expect_eq "$rc" 0 "--rate $r"
done
run_herald send -n -r 10/day -t "$T/welcome.eml" list.csv
expect_match "$rc:$err" "^64:herald: --rate takes .*/min.*/hour" "--rate 10/day: 64, naming the units"

# --- did you mean
run_herald send --rtae 5 -t "$T/welcome.eml" list.csv
expect_eq "$rc:$err" "64:herald: unknown option '--rtae'; did you mean '--rate'?" "a transposition: did you mean --rate"
run_herald send --tempalte "$T/welcome.eml" list.csv
expect_eq "$err" "herald: unknown option '--tempalte'; did you mean '--template'?" "a typo: did you mean --template"
run_herald send --concurency 2 -t "$T/welcome.eml" list.csv
expect_eq "$err" "herald: unknown option '--concurency'; did you mean '--concurrency'?" "a missing letter: did you mean --concurrency"
run_herald sedn -t "$T/welcome.eml" list.csv
expect_eq "$rc:$err" "64:herald: unknown command 'sedn'; did you mean 'send'?" "a misspelt command: did you mean send"
run_herald send --format cvs -t "$T/welcome.eml" - </dev/null
expect_eq "$err" "herald: --format takes csv|json|jsonl, not 'cvs'; did you mean 'csv'?" "a misspelt choice: did you mean csv"
run_herald send --zzzzzz -t "$T/welcome.eml" list.csv
case "$err" in *"did you mean"*) bad "a far-off option gets a suggestion: $err";; *) ok "nothing near: no suggestion";; esac
expect_eq "$(printf '%s\n' "$err" | wc -l | tr -d ' ')" 1 "an unknown option is one line"

# --- check: refuses send-only options in one line; says valid
for o in "--rate 5" "--concurrency 2" "-n" "--retries 1" "--max-runtime 5" "--backoff 1"; do
  run_herald check $o -t "$T/welcome.eml" list.csv
  expect_match "$rc:$err" "^64:herald: --[a-z-]+ applies to send( and consume)?, not check$" "check $o: 64 in one line"
done
run_herald check -t "$T/welcome.eml" list.csv
expect_eq "$rc:$(grep -v '^herald: recipient key: ' <<<"$err")" "0:herald: check: all 300 rows valid; nothing was sent" "check: the summary says valid"
expect_eq "$(grep -c '^herald: recipient key: the envelope recipients' <<<"$err")" 1 "check: says once which key it uses"
printf 'email,name\nok@example.com,Ok\nbad,Bad\n' >mixed2.csv
run_herald check --skip-invalid -t "$T/welcome.eml" mixed2.csv
expect_match "$err" "check: 1 of 2 rows valid, 1 invalid; nothing was sent" "check --skip-invalid: valid and invalid counted"

# --- render: a last line break on a terminal only; exact bytes into a pipe
N=$SRC/templates/push-ntfy
run_herald render -t "$N/ntfy.http" --row 1 "$N/recipients.csv"
expect_eq "$(tail -c 4 "$TMP/.out")" "day." "render into a pipe: the exact bytes, no line break added"
if command -v script >/dev/null; then
  script -qec "$HERALD render -t $N/ntfy.http --row 1 $N/recipients.csv 2>/dev/null" /dev/null >rtty.txt
  expect_eq "$(tail -c 6 rtty.txt | od -An -c | tr -s ' ')" " d a y . \r \n" "render on a terminal: the body ends with a line break"
fi

# --- bash completion, generated from the table
run_herald completion bash
expect_eq "$rc" 0 "completion bash: exit 0"
printf '%s\n' "$out" >herald.bash
bash -n herald.bash && ok "the completion script is valid bash" || bad "the completion script does not parse"
complete_words() { bash -c '. ./herald.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _herald; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"; }
expect_eq "$(complete_words herald se)" "send" "completes the command"
expect_eq "$(complete_words herald send --ra)" "--rate" "completes an option of send"
expect_eq "$(complete_words herald check --ra)" "" "does not offer send-only options to check"
expect_eq "$(complete_words herald send --format j | tr '\n' ' ')" "json jsonl " "completes the choices of --format"
expect_eq "$(complete_words herald report --h | tr '\n' ' ')" "--html --help " "completes report's options"
run_herald completion zsh
expect_eq "$rc" 64 "completion for another shell: 64"
n_opts=$("$HERALD" completion options | wc -l)
if [ "$n_opts" -gt 30 ]; then ok "completion options lists $n_opts options"; else bad "completion options lists $n_opts"; fi

# --- the summary's rate: rows that went out, not the rows left out
run_herald send -t "$T/welcome.eml" --outbox rate1 --skip 290 -r 20 list.csv
line=$(grep -E ' in [0-9.]+ s \([0-9.]+ rows/s\)' <<<"$err" | head -1)
expect_match "$line" "^herald: 300 rows: 10 sent, " "--skip 290: the summary counts 10 sent"
rate_ok=$("$PYTHON" -c 'import re,sys; m=re.search(r" in ([0-9.]+) s \(([0-9.]+) rows/s\)", sys.argv[1]); s, r = float(m[1]), float(m[2]); print("ok" if s > 0 and abs(r - 10 / s) <= 0.15 * (10 / s) + 0.1 else f"{r} rows/s over {s} s")' "$line")
expect_eq "$rate_ok" ok "--skip 290: the rate is of the 10 rows sent ($line)"
expect_eq "$(grep -c 'rows/s' <<<"$err")" 1 "send's summary gives one rate, not a second over the report's times"
expect_match "$(grep 'time: ' <<<"$err")" "^herald: time: .* UTC \\([0-9.]+ s\\)$" "send's time line gives the span alone"

# --- the progress line: cut to the terminal, taken rows, one interrupt notice
if command -v script >/dev/null; then
  # strip: the segments between carriage returns and line ends, without
  # colour codes, that are a progress line
  progress_lines() { "$PYTHON" -c '
import re, sys
t = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
for s in re.split(r"[\r\n]", t):
    s = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", s)
    if "ETA" in s: print(s)' "$1"; }
  for w in 40 60 100; do
    script -qec "stty cols $w; $HERALD send -t $T/welcome.eml --outbox w$w -r 400 list.csv" /dev/null >w$w.txt
    widest=$(progress_lines w$w.txt | awk '{ if (length > m) m = length } END { print m + 0 }')
    if [ "$widest" -gt 0 ] && [ "$widest" -lt "$w" ]; then ok "a $w-column terminal: progress lines at most $widest columns"; else bad "a $w-column terminal: a progress line of $widest columns"; fi
  done
  script -qec "stty cols 100; $HERALD send -t $T/welcome.eml --outbox lim --limit 100 -r 300 list.csv" /dev/null >lim.txt
  over=$(progress_lines lim.txt | grep -E '(^|[] ])(10[1-9]|1[1-9][0-9]|[2-9][0-9][0-9])/100' | head -1)
  expect_eq "$over" "" "--limit 100 of 300: the progress line never counts past 100"
  expect_match "$(progress_lines lim.txt | tail -1)" " 100/100 " "--limit 100: the progress line ends at 100/100"
  script -qec "stty cols 100; $HERALD send -t $T/welcome.eml --outbox skp --skip 200 --limit 50 -r 40 list.csv" /dev/null >skp.txt
  expect_eq "$(progress_lines skp.txt | grep -E ' ([5-9][1-9]|[6-9][0-9]|[1-9][0-9][0-9])/50 ' | head -1)" "" "--skip 200 --limit 50: never past 50"
  case "$(progress_lines skp.txt | head -1)" in *" 50/50 "*) bad "--skip 200: the skipped rows counted as progress at once";; *) ok "--skip 200: the rows left out are not counted as progress";; esac
  script -qec "$HERALD send -t $T/welcome.eml --outbox int -r 20 list.csv & p=\$!; sleep 1; kill -INT \$p; wait \$p" /dev/null >int.txt || true
  expect_eq "$(grep -c 'interrupted: finishing' int.txt)" 1 "the interrupt notice is printed once"
else
  echo "SKIPPED part: 'script' (util-linux) not found, terminal width checks not run" >&2
fi
# no terminal: COLUMNS decides, else 80
COLUMNS=50 run_herald send -t "$T/welcome.eml" --outbox c50 --progress always -r 600 list.csv
widest=$(printf '%s' "$err" | tr '\r' '\n' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | grep ETA | awk '{ if (length > m) m = length } END { print m + 0 }')
if [ "$widest" -gt 0 ] && [ "$widest" -lt 50 ]; then ok "COLUMNS=50 without a terminal: lines of at most $widest"; else bad "COLUMNS=50: a line of $widest columns"; fi
# a dry run opens no connection: -c 300 does not start 300 threads (it
# once did, 150 ms for a single row); the most seen while it runs
"$PYTHON" -c '
import sys
with open("dry.csv", "w") as f:
    f.write("email,name\n")
    for i in range(60000):
        f.write("d%d@example.com,D %d\n" % (i, i))
'
"$HERALD" send -n -q -c 300 -t "$T/welcome.eml" -o dry.jsonl dry.csv &
p=$!
most=0
while kill -0 "$p" 2>/dev/null; do
  n=$(awk '/^Threads:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
  if [ -n "$n" ] && [ "$n" -gt "$most" ]; then most=$n; fi
done
wait "$p" && drc=0 || drc=$?
expect_eq "$drc:$(count_lines dry.jsonl)" "0:60000" "dry run -c 300: every row reported"
cores=$(getconf _NPROCESSORS_ONLN)
if [ "$most" -gt 0 ] && [ "$most" -le $((cores + 4)) ]; then
  ok "dry run -c 300: at most $most threads ($cores cores)"
else
  bad "dry run -c 300: $most threads seen ($cores cores)"
fi
# and it asks for the open files the run would need, no more: over SMTP
# -c 1000 needs about 1,040 (a thread a core), the outbox about 3,000 (a
# thread a connection)
printf 'email,name\na@example.com,A\n' >fd1.csv
(ulimit -n 1500; exec "$HERALD" send -n -q -c 1000 --smtp smtp://127.0.0.1:1 -t "$T/welcome.eml" -o fd1.jsonl fd1.csv) 2>fd1.err && frc=0 || frc=$?
expect_eq "$frc:$(cat fd1.err)" "0:" "dry run over SMTP, -c 1000, 1,500 open files: runs, as the real run would"
(ulimit -n 1500; exec "$HERALD" send -n -q -c 1000 -t "$T/welcome.eml" -o fd2.jsonl fd1.csv) 2>fd2.err && frc=0 || frc=$?
expect_eq "$frc" 78 "dry run to the outbox, -c 1000, 1,500 open files: refused, as the real run would be"
expect_match "$(cat fd2.err)" "1000 connections need about 3032 open files" "the refusal says why"
finish
