#!/usr/bin/env bash
# The gauntlet: hostile and broken recipients files and templates, made
# by tests/gauntlet/make.sh (see there for the list), each tried with
#   herald check
#   herald send --outbox DIR
#   herald send to a local server (SMTP for .eml templates; .http ones are
#     --redirect'ed to a local HTTP server, so nothing could leave 127.0.0.1)
# Each must answer with exactly one line on stderr that says what is wrong
# (the case's pattern), the documented exit code (65: bad recipients or
# template, nothing sent) and send nothing: the outbox stays empty, the
# SMTP server's spool and the HTTP server's log stay empty.
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
bash "$SRC/tests/gauntlet/make.sh" g >/dev/null

smtp_start gsmtp
"$PYTHON" "$SRC/tests/servers/http_server.py" --port-file http.port --log http.log >http.err 2>&1 &
echo $! >http.pid
cleanup_hooks+=("kill $(cat http.pid) 2>/dev/null")
for _ in $(seq 100); do [ -s http.port ] && break; sleep 0.05; done
HP=$(tr -d '\n' <http.port)
[ -n "$HP" ] || { echo "http server did not start"; cat http.err; exit 1; }

# answer LABEL CODE REGEX: rc, one line, the pattern
answer() {
  local label=$1 code=$2 regex=$3 lines
  lines=$(printf '%s\n' "$err" | grep -c . || true)
  if [ "$rc" = "$code" ] && [ "$lines" = 1 ] && printf '%s' "$err" | grep -Eq -- "$regex"; then
    ok "$label"
  else
    bad "$label: exit $rc (want $code), $lines lines (want 1), /$regex/: $(printf '%s' "$err" | head -c 400)"
  fi
}

cd g
n=0
while IFS=$'\t' read -r name rec tmpl code regex; do
  n=$((n + 1))
  run_herald check -t "$tmpl" "$rec"
  answer "$name: check" "$code" "$regex"
  rm -rf ob
  run_herald send -t "$tmpl" --outbox ob "$rec"
  answer "$name: send --outbox" "$code" "$regex"
  files=$(count_files ob)
  [ "$files" = 0 ] || bad "$name: send --outbox wrote $files files"
  case $tmpl in
    *.http) run_herald send -t "$tmpl" --redirect "http://127.0.0.1:$HP/hook" "$rec" ;;
    *) run_herald send -t "$tmpl" --smtp "smtp://127.0.0.1:$SMTP_PORT" "$rec" ;;
  esac
  answer "$name: send to a server" "$code" "$regex"
done <MANIFEST
cd ..
smtp_stop gsmtp
expect_eq "$(count_files gsmtp.spool)" 0 "gauntlet: the SMTP server received nothing"
expect_eq "$(smtp_stat gsmtp messages)" 0 "gauntlet: the SMTP server counted no message"
expect_eq "$(count_lines http.log)" 0 "gauntlet: the HTTP server received nothing"
expect_eq "$((n > 100))" 1 "gauntlet: $n cases"
finish
