# tests/lib/unsub.sh — start and stop `herald unsubscribe-server` for the
# integration tests.  Source after it.sh.
#   unsub_start NAME SECRET SUPPRESS   listens on 127.0.0.1, a free port;
#                                      sets UNSUB_URL (http://127.0.0.1:P)
#   unsub_stop NAME                    SIGTERM; sets unsub_rc to its exit
#   unsub_fixture                      writes ./secret (0600) and ./u.eml, a
#                                      template with a one-click link
#   unsub_token ROW                    the token herald render makes for
#                                      row ROW of $UNSUB_ROWS (campaign
#                                      $UNSUB_CAMPAIGN, secret $UNSUB_SECRET)
unsub_start() {
  local name=$1 secret=$2 suppress=$3
  "$HERALD" unsubscribe-server --listen 127.0.0.1:0 --secret-file "$secret" \
    --suppress "$suppress" >"$TMP/$name.out" 2>"$TMP/$name.log" &
  echo $! >"$TMP/$name.pid"
  cleanup_hooks+=("kill $(cat "$TMP/$name.pid") 2>/dev/null")
  UNSUB_URL=
  for _ in $(seq 200); do
    UNSUB_URL=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$TMP/$name.log" | sed 's/listening on //')
    [ -n "$UNSUB_URL" ] && break
    kill -0 "$(cat "$TMP/$name.pid")" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$UNSUB_URL" ] || { echo "unsubscribe-server $name did not start:"; cat "$TMP/$name.log"; exit 1; }
}
unsub_stop() {
  local pid; pid=$(cat "$TMP/$1.pid")
  kill -TERM "$pid" 2>/dev/null || true
  set +e
  wait "$pid"
  unsub_rc=$?
  set -e
}
unsub_token() {
  "$HERALD" render -t "$UNSUB_TEMPLATE" --row "$1" --campaign "$UNSUB_CAMPAIGN" \
    --unsubscribe-secret-file "$UNSUB_SECRET" "$UNSUB_ROWS" 2>/dev/null |
    grep -o 'u1\.[A-Za-z0-9_.-]*' | head -1
}
unsub_fixture() {
  head -c 32 /dev/urandom | base64 >secret
  chmod 600 secret
  cat >u.eml <<'EML'
From: Acme <news@acme.example>
To: {{name}} <{{email}}>
Subject: News
List-Unsubscribe: <https://acme.example/u/{{unsubscribe.token}}>

Hello {{name}}
EML
}
