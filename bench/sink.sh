# sink.sh — sourced by the bench scripts: a scratch folder removed at exit,
# and one local server at a time, started and stopped by pid.
#   bench_work NAME          sets work (a fresh folder under TMPDIR) and
#                            the exit trap that stops the server and
#                            removes the folder
#   sink_start CMD [ARG...]  starts CMD in the background, given
#                            --port-file $work/port (stderr to
#                            $work/server.err); waits for the port and
#                            sets port, or exits 1 saying why
#   sink_stop                stops it (by pid) and waits for it
server=""
sink_stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  server=""
}
bench_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/herald-$1.XXXXXX")
  trap 'sink_stop; rm -rf "$work"' EXIT
}
sink_start() {
  rm -f "$work/port"
  "$@" --port-file "$work/port" 2>"$work/server.err" &
  server=$!
  for _ in $(seq 300); do
    [ -s "$work/port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
  done
  [ -s "$work/port" ] || { cat "$work/server.err" >&2; echo "the server did not start" >&2; exit 1; }
  port=$(tr -d '\n' <"$work/port")
}
#   nginx_sink DELAY         sink_start of nginx with shards-nginx.conf.in
#                            (in a fresh $work/nginx): /fast answers 204
#                            at once, /slow after DELAY seconds; its
#                            access log, $work/nginx/access.log, has a
#                            line a request once it is stopped
nginx_sink() {
  local echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
  # the configuration has both locations, so nginx needs the module even
  # when only /fast is used
  [ -f "$echo_module" ] || { echo "$echo_module not found (apt-get install libnginx-mod-http-echo)" >&2; exit 1; }
  rm -rf "$work/nginx"
  mkdir -p "$work/nginx/tmp"
  sink_start "${py:-/usr/bin/python3}" "$here/../tests/http_nginx.py" --dir "$work/nginx" \
    --conf "$here/shards-nginx.conf.in" --set "ECHO=load_module $echo_module;" --set "DELAY=$1"
}
