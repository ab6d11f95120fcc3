# tests/lib/fault.sh — our fault-injecting servers (tests/servers/*.py),
# for the integration tests that need one.  Source after lib/it.sh.
#
#   fault_start SCRIPT NAME ARGS...  starts tests/servers/SCRIPT on a free
#                                    port of 127.0.0.1 with --port-file
#                                    NAME.port --stats NAME.stats ARGS; sets
#                                    PORT; the server is stopped at exit
#   fault_stop NAME                  stops it now, by pid
#   server_stat NAME EXPR            EXPR over the server's stats, as d

fault_start() {
  local script=$1 name=$2; shift 2
  rm -f "$name.port" "$name.stats"
  "$PYTHON" "$SRC/tests/servers/$script" --port-file "$name.port" --stats "$name.stats" "$@" >"$name.log" 2>&1 &
  echo $! >"$name.pid"
  cleanup_hooks+=("kill $(cat "$name.pid") 2>/dev/null")
  for _ in $(seq 200); do [ -s "$name.port" ] && break; sleep 0.05; done
  PORT=$(head -1 "$name.port")
  [ -n "$PORT" ] || { echo "$script did not start:"; cat "$name.log"; exit 1; }
}
fault_stop() { kill "$(cat "$1.pid")" 2>/dev/null || true; wait "$(cat "$1.pid")" 2>/dev/null || true; }
server_stat() { "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1.stats" "$2"; }
