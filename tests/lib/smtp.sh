# tests/lib/smtp.sh — start and stop tests/servers/smtp_server.py.
# Source after it.sh.  smtp_start NAME [server options...] starts a server
# whose spool is $TMP/NAME.spool, stats $TMP/NAME.stats.json; sets
# SMTP_PORT.  smtp_stop NAME stops it.  Servers are stopped at exit too.
if ! "$PYTHON" -c 'import aiosmtpd' 2>/dev/null; then
  echo "SKIPPED: python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)" >&2
  exit 77
fi
smtp_start() {
  local name=$1; shift
  rm -rf "$TMP/$name.spool" "$TMP/$name.port" "$TMP/$name.stats.json"
  "$PYTHON" "$SRC/tests/servers/smtp_server.py" --port-file "$TMP/$name.port" \
    --spool "$TMP/$name.spool" --stats "$TMP/$name.stats.json" "$@" \
    >"$TMP/$name.log" 2>&1 &
  echo $! >"$TMP/$name.pid"
  cleanup_hooks+=("kill $(cat "$TMP/$name.pid") 2>/dev/null")
  for _ in $(seq 100); do
    [ -s "$TMP/$name.port" ] && break
    sleep 0.05
  done
  SMTP_PORT=$(head -1 "$TMP/$name.port")
  [ -n "$SMTP_PORT" ] || { echo "smtp server $name did not start:"; cat "$TMP/$name.log"; exit 1; }
}
smtp_stop() {
  local pid; pid=$(cat "$TMP/$1.pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# smtp_stat NAME KEY: a top-level number from the stats file (0 if absent)
smtp_stat() {
  "$PYTHON" -c 'import json,sys
try: print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))
except FileNotFoundError: print(0)' "$TMP/$1.stats.json" "$2"
}
