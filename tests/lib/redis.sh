# tests/lib/redis.sh — start and stop a real redis-server for a test.
# Source after it.sh.  redis_start NAME [redis-server options...] starts
# one on 127.0.0.1 with a free port (its data in $TMP/NAME.redis, nothing
# saved to disk) and sets REDIS_PORT; redis_stop NAME stops it by pid.
# rcli ARGS... runs redis-cli against the last one started.  Servers are
# stopped at exit too.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "SKIPPED: redis-server is not installed (apt-get install redis-server)" >&2
  exit 77
fi
redis_start() {
  local name=$1 i; shift
  rm -rf "$TMP/$name.redis"
  mkdir -p "$TMP/$name.redis"
  for _ in 1 2 3; do
    # a free port: bound by the kernel, released, taken by the server
    REDIS_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$TMP/$name.redis" --daemonize no "$@" >"$TMP/$name.redis.log" 2>&1 &
    echo $! >"$TMP/$name.redis.pid"
    cleanup_hooks+=("kill $(cat "$TMP/$name.redis.pid") 2>/dev/null")
    for i in $(seq 100); do
      grep -q "Ready to accept connections" "$TMP/$name.redis.log" && return 0
      kill -0 "$(cat "$TMP/$name.redis.pid")" 2>/dev/null || break
      sleep 0.05
    done
  done
  echo "redis-server $name did not start:"; cat "$TMP/$name.redis.log"; exit 1
}
redis_stop() {
  local pid; pid=$(cat "$TMP/$1.redis.pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ${REDIS_AUTH:+-a "$REDIS_AUTH" --no-auth-warning} "$@"; }
