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

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
