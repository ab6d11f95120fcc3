#!/usr/bin/env bash
# The config file (--config FILE, env HERALD_CONFIG) and the SMTP password
# from a command (--smtp-password-command), as a crontab user sets them
# up, against a real SMTP server with STARTTLS and AUTH on 127.0.0.1.
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
T=$SRC/templates
sh "$SRC/tests/servers/make_certs.sh" certs >/dev/null 2>&1
printf 'email,name\n' >list.csv
for i in $(seq 1 5); do printf 'u%d@example.com,U %d\n' "$i" "$i" >>list.csv; done
statuses() { jrows "$1" 'sorted(set(r["status"] for r in rows))'; }

# --- the syntax: = : or blanks, # comments, quotes, flags, --names
mkdir "ob x"
cat >basic.conf <<EOF
# a comment, then a blank line

template = $T/welcome.eml
  outbox:"ob x"
concurrency 2
--campaign spring
progress = never
skip-invalid = yes
insecure = no
report	"rep one.jsonl"
EOF
chmod 600 basic.conf
run_herald send --config basic.conf list.csv
expect_eq "$rc" 0 "a config file: exit 0"
expect_eq "$(count_files "ob x")" 5 "outbox:\"ob x\" (a quoted value with a space)"
expect_eq "$(statuses "rep one.jsonl")" "['sent']" "report\t\"rep one.jsonl\" (tab-separated, quoted)"
run_herald send -q -t "$T/welcome.eml" --campaign spring --outbox ob1 list.csv
expect_eq "$(grep '^Message-ID' "ob x/000001.eml")" "$(grep '^Message-ID' ob1/000001.eml)" "--campaign (written with its dashes) is the command line's --campaign"

# the command line wins; HERALD_CONFIG names the file when --config does not
run_herald send --config basic.conf --outbox ob2 -o rep2.jsonl list.csv
expect_eq "$(count_files ob2):$(count_files "ob x")" "5:5" "--outbox on the command line wins over the file's"
HERALD_CONFIG=basic.conf run_herald send --outbox ob3 -q list.csv
expect_eq "$rc:$(count_files ob3)" "0:5" "HERALD_CONFIG: the file is read"
HERALD_CONFIG= run_herald send --outbox ob4 list.csv
expect_match "$rc:$err" "^64:.*-t TEMPLATE is required" "HERALD_CONFIG empty: no file"
# one file serves every command: options a command does not take are passed over
run_herald check --config basic.conf list.csv
expect_eq "$rc" 0 "check with a file holding send-only options (concurrency): exit 0"
run_herald render --config basic.conf --row 2 list.csv
expect_eq "$rc:$(grep -c 'U 2' <<<"$out" | sed 's/^[1-9][0-9]*$/some/')" "0:some" "render with the same file"

# --smtp on the command line hides the file's outbox (one setting)
smtp_start plain
run_herald send --config basic.conf --smtp "smtp://127.0.0.1:$SMTP_PORT" -o rep3.jsonl list.csv
expect_eq "$rc:$(statuses rep3.jsonl):$(smtp_stat plain messages)" "0:['sent']:5" "--smtp on the command line hides the file's outbox"
# and the file's smtp beats HERALD_SMTP_URL; the command line's outbox beats both
printf 'smtp = smtp://127.0.0.1:%s\ntemplate = %s\n' "$SMTP_PORT" "$T/welcome.eml" >smtp.conf
HERALD_SMTP_URL=smtp://127.0.0.1:1 run_herald send --config smtp.conf -o rep4.jsonl list.csv
expect_eq "$rc:$(smtp_stat plain messages)" "0:10" "the file's smtp wins over env HERALD_SMTP_URL"
run_herald send --config smtp.conf --outbox ob5 list.csv
expect_eq "$rc:$(count_files ob5):$(smtp_stat plain messages)" "0:5:10" "--outbox on the command line hides the file's smtp"
smtp_stop plain

# --- mistakes: one line naming file and line, exit 78
bad_conf() { # WHAT CONTENT REGEX
  printf '%s\n' "$2" >bad.conf
  chmod 600 bad.conf
  run_herald send --config bad.conf -t "$T/welcome.eml" list.csv
  expect_match "$rc:$err" "$3" "$1"
  expect_eq "$(printf '%s\n' "$err" | wc -l | tr -d ' ')" 1 "$1: one line"
}
bad_conf "a misspelt option" $'# x\nrtae = 5' "^78:herald: bad.conf:2: unknown option 'rtae'; did you mean 'rate'\\?$"
bad_conf "a bad value" 'rate = 10/day' "^78:herald: bad.conf:1: --rate takes"
bad_conf "a flag with a value" 'dry-run = maybe' "^78:herald: bad.conf:1: dry-run is a flag"
bad_conf "an open quote" 'report = "r.jsonl' "^78:herald: bad.conf:1: a quoted value is not closed"
bad_conf "an unknown escape" 'report = "r\q.jsonl"' "^78:herald: bad.conf:1: unknown escape"
bad_conf "an option without its value" 'report' "^78:herald: bad.conf:1: report needs FILE"
bad_conf "config in a config" 'config = other.conf' "^78:herald: bad.conf:1: config cannot be set in a config file"
bad_conf "smtp and outbox both in the file" $'smtp = smtp://127.0.0.1:1\noutbox = o' "^78:herald: bad.conf:2: --smtp and --outbox exclude each other"
run_herald send --config missing.conf -t "$T/welcome.eml" list.csv
expect_match "$rc:$err" "^66:herald: missing.conf: cannot open config file" "a missing config file: 66"

# --- secrets: a file others can read may not hold one
printf 'template = %s\nsmtp-password = hunter2\n' "$T/welcome.eml" >secret.conf
chmod 644 secret.conf
run_herald send --config secret.conf --outbox ob6 list.csv
expect_eq "$rc:$err" "78:herald: secret.conf: holds smtp-password but other users can read it; chmod o-r it first" "a readable file with smtp-password: 78, one line"
expect_eq "$(count_files ob6)" 0 "nothing was sent"
printf 'template = %s\nsmtp-password-command = echo x\n' "$T/welcome.eml" >cmd.conf
chmod 644 cmd.conf
run_herald check --config cmd.conf list.csv
expect_match "$rc:$err" "^78:.*holds smtp-password-command" "a readable file with smtp-password-command: 78 (every command)"
printf 'template = %s\n' "$T/welcome.eml" >open.conf
chmod 644 open.conf
run_herald check --config open.conf list.csv
expect_eq "$rc" 0 "a readable file without secrets is fine"
chmod 666 open.conf
run_herald check --config open.conf list.csv
expect_match "$rc:$err" "^78:herald: open.conf: config file is writable by others" "a file others can write: 78"
run_herald send --smtp-password hunter2 -t "$T/welcome.eml" list.csv
expect_match "$rc:$err" "^64:herald: --smtp-password is not taken on the command line" "--smtp-password on the command line: 64"

# --- passwords for real: STARTTLS + AUTH
smtp_start tls --tls-cert certs/server.pem --tls-key certs/server.key --require-tls --auth 'mailer:s3cr3t-pw'
unset HERALD_SMTP_PASSWORD
URL="smtp://127.0.0.1:$SMTP_PORT"
printf 'smtp = %s\nsmtp-user = mailer\nsmtp-password = "s3cr3t-pw"\ncacert = certs/ca.pem\n' "$URL" >auth.conf
chmod 600 auth.conf
run_herald send --config auth.conf -t "$T/welcome.eml" -o a1.jsonl list.csv
expect_eq "$rc:$(statuses a1.jsonl)" "0:['sent']" "smtp-password from a private config file: AUTH works"

# the password command: its first line is the password
cat >pw.sh <<'EOF'
#!/bin/sh
# what the command sees: stdin, its environment
env >pw.env
cat >pw.stdin
printf 's3cr3t-pw\nsecond line\n'
EOF
chmod +x pw.sh
HERALD_SMTP_PASSWORD=wrong run_herald send --smtp "$URL" --smtp-user mailer --cacert certs/ca.pem --smtp-password-command ./pw.sh -t "$T/welcome.eml" -o a2.jsonl list.csv
expect_eq "$rc:$(statuses a2.jsonl)" "0:['sent']" "--smtp-password-command: the first line is the password (and wins over env)"
if grep -q HERALD_SMTP_PASSWORD pw.env; then bad "the command's environment holds HERALD_SMTP_PASSWORD"; else ok "the command's environment lacks HERALD_SMTP_PASSWORD"; fi
expect_eq "$(wc -c <pw.stdin | tr -d ' ')" 0 "the command's standard input is empty (/dev/null)"
# recipients from stdin survive a command that reads its stdin
run_herald send --smtp "$URL" --smtp-user mailer --cacert certs/ca.pem --smtp-password-command ./pw.sh -t "$T/welcome.eml" --format csv -o a3.jsonl - <list.csv
expect_eq "$rc:$(count_lines a3.jsonl)" "0:5" "recipients on stdin are not eaten by the command"
# from a config file too, with a crontab-short command line
printf 'smtp = %s\nsmtp-user = mailer\nsmtp-password-command = "./pw.sh"\ncacert = certs/ca.pem\ntemplate = %s\n' "$URL" "$T/welcome.eml" >cron.conf
chmod 600 cron.conf
run_herald send --config cron.conf -o a4.jsonl list.csv
expect_eq "$rc:$(statuses a4.jsonl)" "0:['sent']" "smtp-password-command from a config file"
# the password is in no argv and no environment while herald runs
cat >slowpw.sh <<'EOF'
#!/bin/sh
printf 's3cr3t-pw\n'
EOF
chmod +x slowpw.sh
"$HERALD" send --smtp "$URL" --smtp-user mailer --cacert certs/ca.pem --smtp-password-command ./slowpw.sh -t "$T/welcome.eml" -r 2 -o a5.jsonl list.csv >a5.out 2>a5.err &
hp=$!
sleep 1.2
leak=0
for p in $hp $(pgrep -P $hp 2>/dev/null); do
  for f in /proc/$p/cmdline /proc/$p/environ; do
    if [ -r "$f" ] && tr '\0' '\n' <"$f" | grep -q s3cr3t; then leak=1; echo "leak in $f"; fi
  done
done
wait $hp || true
expect_eq "$leak" 0 "the password is in no argv or environment of herald while it sends"
expect_eq "$(statuses a5.jsonl)" "['sent']" "and the run sent"
if grep -q s3cr3t a5.err a5.out a5.jsonl; then bad "the password appears in the output or report"; else ok "the password is in no output and not in the report"; fi

# failing commands: one line, exit 78, nothing sent
pwfail() { # WHAT CMD REGEX
  run_herald send --smtp "$URL" --smtp-user mailer --cacert certs/ca.pem --smtp-password-command "$2" -t "$T/welcome.eml" -o f.jsonl list.csv
  expect_eq "$rc" 78 "$1: 78"
  expect_match "$rc:$err" "$3" "$1: the line says why"
  expect_eq "$(printf '%s\n' "$err" | grep -c '^herald:')" 1 "$1: one line of herald's"
  expect_eq "$(count_lines f.jsonl)" 0 "$1: nothing sent, no report"
  rm -f f.jsonl
}
before=$(smtp_stat tls messages)
pwfail "a command that fails" "exit 3" "^78:herald: --smtp-password-command failed \\(exit status 3\\)$"
pwfail "a command that prints nothing" "true" "^78:herald: --smtp-password-command printed no password"
pwfail "a command whose first line is empty" "printf '\\nlater\\n'" "^78:herald: --smtp-password-command printed no password"
pwfail "a command not found" "/nonexistent/pw-tool" "^herald: --smtp-password-command failed \\(exit status 127\\)$"
pwfail "a command killed" 'kill -9 $$' "^78:herald: --smtp-password-command was killed by signal 9$"
expect_eq "$(smtp_stat tls messages)" "$before" "the failing commands sent nothing"
run_herald send --smtp "$URL" --smtp-user mailer --smtp-password-file /dev/null --smtp-password-command true -t "$T/welcome.eml" list.csv
expect_match "$rc:$err" "^64:herald: --smtp-password-file and --smtp-password-command exclude each other$" "two password sources on the command line: 64"
smtp_stop tls
finish
