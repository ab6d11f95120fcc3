# tests/lib/it.sh — shared by the integration tests (tests/it_*.sh).
# Source it; it sets HERALD, SRC, TMP (removed at exit) and gives
# assertion helpers that count and print, and finish() for the summary.
set -u
SRC=${HERALD_SRC:?run through ctest, or set HERALD_SRC}
HERALD=${HERALD_BIN:?run through ctest, or set HERALD_BIN}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-it.XXXXXX")
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
passed=0
failed=0
cleanup_hooks=()
on_exit() {
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  rm -rf "$TMP"
}
trap on_exit EXIT

ok()   { passed=$((passed + 1)); echo "ok: $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: got '$1', want '$2'"; fi
}
# expect_match TEXT REGEX WHAT
expect_match() {
  if printf '%s' "$1" | grep -Eq -- "$2"; then ok "$3"; else bad "$3: '$1' does not match /$2/"; fi
}
# run_herald ARGS...: sets rc, out, err
run_herald() {
  set +e
  "$HERALD" "$@" >"$TMP/.out" 2>"$TMP/.err"
  rc=$?
  set -e
  out=$(cat "$TMP/.out")
  err=$(cat "$TMP/.err")
}
# count_lines FILE
count_lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# count_files DIR
count_files() { if [ -d "$1" ]; then find "$1" -type f | wc -l | tr -d ' '; else echo 0; fi; }
# jq-free JSON field extraction with python: jget FILE EXPR (EXPR over rows=list of dicts)
jrows() { "$PYTHON" -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; print(eval(sys.argv[2]))' "$@"; }

# pycheck eml|http LABEL FILE <SPEC: runs tests/mime_check.py (which parses
# a rendered message or request and compares it with SPEC) and counts its
# ok:/FAIL: lines; rowspec builds a SPEC from a recipients row.
MIME_CHECK=$SRC/tests/mime_check.py
pycheck() { pyrun "$MIME_CHECK" "$@"; }
# pyrun SCRIPT MODE LABEL ...: runs a checker that prints ok:/FAIL: lines
# (mime_check.py, dkim_check.py) and counts them
pyrun() {
  local res prc line script=$1
  shift
  set +e
  res=$("$PYTHON" "$script" "$@" 2>&1)
  prc=$?
  set -e
  while IFS= read -r line; do
    case $line in
      "ok: "*) ok "${line#ok: }" ;;
      "FAIL: "*) bad "${line#FAIL: }" ;;
      ?*) echo "$line" ;;
    esac
  done <<<"$res"
  if [ "$prc" -ne 0 ] && ! grep -q '^FAIL: ' <<<"$res"; then
    bad "$2: $(basename "$script") exited $prc"
  fi
}
# rowspec DATA N EXPR: the spec for row N, EXPR over the row r (Python)
rowspec() { "$PYTHON" "$MIME_CHECK" rowspec "$@"; }

# nginx_start [ARGS...]: starts nginx through tests/http_nginx.py in
# $TMP/nginx (ARGS: --conf, --set ...), stopped at exit (or by
# nginx_stop), by pid; sets P (its port) and ACCESS (its access log).
# Fails the test when it does not start.
nginx_start() {
  mkdir -p "$TMP/nginx"
  "$PYTHON" "$SRC/tests/http_nginx.py" --nginx "$NGINX" --dir "$TMP/nginx" \
    "$@" --port-file "$TMP/nginx.port" 2>"$TMP/nginx.err" &
  local launcher=$!
  NGINX_LAUNCHER=$launcher
  cleanup_hooks+=("kill $launcher 2>/dev/null; wait $launcher 2>/dev/null")
  # should the launcher be gone, its nginx must not outlive the test
  cleanup_hooks+=("[ -s '$TMP/nginx/nginx.pid' ] && kill \$(cat '$TMP/nginx/nginx.pid') 2>/dev/null")
  for _ in $(seq 300); do
    [ -s "$TMP/nginx.port" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.05
  done
  if [ ! -s "$TMP/nginx.port" ]; then
    echo "FAIL: nginx did not start:" >&2
    cat "$TMP/nginx.err" "$TMP/nginx/error.log" >&2 2>/dev/null || true
    exit 1
  fi
  P=$(tr -d '\n' <"$TMP/nginx.port")
  ACCESS=$TMP/nginx/access.log
}
nginx_stop() { kill "$NGINX_LAUNCHER" 2>/dev/null || true; wait "$NGINX_LAUNCHER" 2>/dev/null || true; }

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
