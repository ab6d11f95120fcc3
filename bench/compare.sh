#!/usr/bin/env bash
# compare.sh — herald against its peers, on the same work, in one sitting.
#
#   bench/compare.sh                       the full run (~15 minutes on 2 cores)
#   QUICK=1 bench/compare.sh               small sizes, 1 round (~1 minute)
#   HERALD=/path/to/herald bench/compare.sh   measure another herald
#
# Three works, each sent by every tool in turn to a sink on 127.0.0.1:
#   smtp  SMTP_N messages of ~1 KB over 10 connections to postfix's
#         smtp-sink: smtp-source (C load generator, one fixed message),
#         nodemailer's pool, our bare libcurl loop (1 and 2 threads), and
#         herald send -c 10 with bench/templates/notice.eml
#   http  HTTP_N JSON POSTs over 32 connections to nginx answering 204:
#         wrk (the sink's ceiling), the bare libcurl multi loop (1 and 2
#         threads), herald send -c 32 with bench/templates/event.http.in,
#         curl --parallel --parallel-max 32, node fetch with 32 lanes
#   slow  SLOW_N POSTs to nginx answering after 50 ms (echo_sleep):
#         wrk -c 1000 (the sink's ceiling), herald -c 300 and -c 1000,
#         the bare libcurl loop with 1000 connections, curl
#         --parallel-max 300 (its maximum)
# herald and the node peers read the same recipients and render a message
# per row; herald writes its report.  Every run gets a fresh sink, which
# counts what arrived: a run with a message missing (or one too many) or
# a tool that exits non-zero is FAILED, loudly, and left out of the
# medians, and the script then exits 1.  Rounds repeat every tool, each
# round in a rotated order; the table gives medians.
#
# Each run is measured by runstat (built from bench/runstat.c): wall time,
# user+sys CPU of the whole process tree, peak RSS.  The table goes to
# stdout and OUT/table.md, the raw runs to OUT/results.tsv.
#
# Settings (environment):
#   SMTP_N HTTP_N SLOW_N   messages per work (20000 50000 20000; QUICK=1:
#                          2000 5000 4000)
#   ROUNDS                 rounds (3; QUICK=1: 1)
#   CASES                  works to run, in order ("smtp http slow")
#   ONLY                   run only the tools whose id matches this
#                          extended regex; ids: smtp: herald smtp-source
#                          libcurl-1t libcurl-2t nodemailer; http: herald
#                          wrk libcurl-1t libcurl-2t curl node-fetch; slow:
#                          herald-300 herald-1000 wrk libcurl-1000 curl
#   HERALD                 herald binary (default BUILD/herald, built here)
#   BUILD                  build folder for herald, curl_loop, runstat
#                          (default build-bench/ in the source tree)
#   OUT                    results folder (default a new one under /tmp)
#   INSTALL=0              install nothing; stop if something is missing
#   NICE                   niceness of everything started (19)
#   RUN_TIMEOUT            seconds before one run is killed (600)
# Installs with apt-get what is missing (postfix preseeded to "No
# configuration", so that no mail daemon is set up; the script checks that
# none runs), and nodemailer with npm into bench/node/ only.
# All traffic stays on 127.0.0.1.  Asserts nothing about speed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
[ $# -eq 0 ] || { echo "compare.sh: settings go in the environment; see --help" >&2; exit 64; }

if [ "${QUICK:-0}" = 1 ]; then
  SMTP_N=${SMTP_N:-2000} HTTP_N=${HTTP_N:-5000} SLOW_N=${SLOW_N:-4000} ROUNDS=${ROUNDS:-1}
fi
SMTP_N=${SMTP_N:-20000}
HTTP_N=${HTTP_N:-50000}
SLOW_N=${SLOW_N:-20000}
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-smtp http slow}
ONLY=${ONLY:-}
BUILD=${BUILD:-$src/build-bench}
NICE=${NICE:-19}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
py=/usr/bin/python3

say() { printf '%s\n' "compare.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# --- what the run needs --------------------------------------------------

# Debian packages and why: the build; the peers (postfix brings smtp-sink
# and smtp-source, wrk, curl); the sinks (nginx-light with the echo module
# for the 50 ms answer); iproute2 for ss, which waits for the sinks without
# connecting to them.
packages=(build-essential cmake pkg-config libcurl4-openssl-dev
          libjansson-dev libcmocka-dev python3 iproute2 curl wrk postfix
          nginx-light libnginx-mod-http-echo)
install_deps() {
  local missing=() p
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "${INSTALL:-1}" = 1 ] || die "missing packages: ${missing[*]} (INSTALL=0)"
    [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]}; run as root to install them"
    say "installing ${missing[*]}"
    # postfix asks what kind of mail system this is: "No configuration"
    # installs the programs and sets up no daemon
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  # smtp-sink and smtp-source need no postfix daemon: make sure none runs
  # (an install on a machine that starts services may have started one)
  if postfix status >/dev/null 2>&1; then
    say "stopping the postfix daemon the install started"
    postfix stop >&2 || true
  fi
  if postfix status >/dev/null 2>&1; then
    die "a postfix daemon is running; stop it (postfix stop) and run again"
  fi
  if [ ! -d "$here/node/node_modules/nodemailer" ]; then
    [ "${INSTALL:-1}" = 1 ] || die "nodemailer not installed in bench/node (INSTALL=0)"
    say "installing nodemailer into bench/node (npm ci)"
    (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}
install_deps
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
[ -f "$echo_module" ] || die "$echo_module not found (libnginx-mod-http-echo)"

say "building in $BUILD"
targets=(curl_loop runstat)
[ -n "${HERALD:-}" ] || targets+=(herald)
cmake -S "$src" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}" >/dev/null
HERALD=${HERALD:-$BUILD/herald}
[ -x "$HERALD" ] || die "$HERALD is not an executable"
HERALD=$(cd "$(dirname "$HERALD")" && pwd)/$(basename "$HERALD")
curl_loop=$BUILD/bench/curl_loop
runstat=$BUILD/bench/runstat

# 1000 connections on both sides, and nginx's own files
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || die "open files limit $(ulimit -n): the 1000-connection runs need 4096"
renice -n "$NICE" $$ >/dev/null

# --- the work folder ------------------------------------------------------

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  work=$(cd "$OUT" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/herald-compare.XXXXXX")
fi
mkdir -p "$work/runs" "$work/nginx/tmp" "$work/nginx/logs"
sink_pid=""
cleanup() {
  if [ -n "$sink_pid" ]; then
    kill "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
  fi
  # the inputs are large and made again by every run; results stay
  rm -f "$work"/list-*.jsonl "$work"/curl-*.cfg
}
trap cleanup EXIT

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
smtp_port=$(free_port)
http_port=$(free_port)
while [ "$http_port" = "$smtp_port" ]; do http_port=$(free_port); done
hook_url=http://127.0.0.1:$http_port/hook
slow_url=http://127.0.0.1:$http_port/slow

say "work folder $work; making the inputs"
for c in $CASES; do
  case $c in
    smtp) n=$SMTP_N ;;
    http) n=$HTTP_N ;;
    slow) n=$SLOW_N ;;
    *) die "unknown work '$c' in CASES (smtp, http, slow)" ;;
  esac
  "$py" "$here/compare.py" list "$n" "$work/list-$c.jsonl"
done
"$py" "$here/compare.py" list 1 "$work/list-one.jsonl"
sed "s#@URL@#$hook_url#" "$here/templates/event.http.in" >"$work/http.http"
sed "s#@URL@#$slow_url#" "$here/templates/event.http.in" >"$work/slow.http"
# the fixed message and body of smtp-source, curl_loop and wrk: exactly
# what herald renders for row 1 (smtp-source adds the CRs itself)
"$HERALD" render -t "$here/templates/notice.eml" --row 1 "$work/list-one.jsonl" >"$work/msg.eml" 2>/dev/null
tr -d '\r' <"$work/msg.eml" >"$work/msg-lf.eml"
"$HERALD" render -t "$work/http.http" --row 1 "$work/list-one.jsonl" | sed '1,/^$/d' >"$work/body.json"
case " $CASES " in *" http "*) "$py" "$here/compare.py" curlcfg "$work/list-http.jsonl" "$hook_url" "$work/curl-http.cfg" ;; esac
case " $CASES " in *" slow "*) "$py" "$here/compare.py" curlcfg "$work/list-slow.jsonl" "$slow_url" "$work/curl-slow.cfg" ;; esac

nginx_user=""
sink_user=()
if [ "$(id -u)" = 0 ]; then
  nginx_user="user nobody nogroup;"
  sink_user=(-u nobody)
fi
# One worker: the client gets the other core.  The access log is buffered
# (a write per request would slow the sink) and flushed when nginx stops.
cat >"$work/nginx/nginx.conf" <<EOF
load_module $echo_module;
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
$nginx_user
events {
    worker_connections 8192;
}
http {
    log_format count '\$connection \$status \$request_method \$uri';
    access_log $work/nginx/access.log count buffer=256k flush=60s;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$http_port backlog=4096;
        location = /hook {
            return 204;
        }
        location = /slow {
            echo_read_request_body;
            echo_sleep 0.05;
            echo ok;
        }
    }
}
EOF

# --- the sinks: one fresh sink per run, which counts what arrived ------------

listening() {
  local i
  for i in $(seq 400); do
    ss -ltnH "sport = :$1" | grep -q . && return 0
    kill -0 "$sink_pid" 2>/dev/null || return 1
    sleep 0.025
  done
  return 1
}

start_sink() { # smtp|http RUNDIR
  if [ "$1" = smtp ]; then
    smtp-sink -c "${sink_user[@]}" -h sink.example "127.0.0.1:$smtp_port" 1024 \
      >"$2/sink.out" 2>"$2/sink.err" &
    sink_pid=$!
    listening "$smtp_port" || die "smtp-sink did not start on port $smtp_port: $(cat "$2/sink.err")"
  else
    rm -f "$work/nginx/access.log"
    nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
      >"$2/sink.out" 2>&1 &
    sink_pid=$!
    listening "$http_port" || die "nginx did not start on port $http_port: $(tail -3 "$work/nginx/error.log")"
  fi
}

# Stops the sink; sets arrived (messages) and conns (connections) it saw.
stop_sink() { # smtp|http RUNDIR EXPECTED
  local i last
  if [ "$1" = smtp ]; then
    # smtp-sink prints "sess=S quit=Q mesg=M" as each counter moves; the
    # client may be gone before the last session's end is counted
    for i in $(seq 100); do
      last=$(tr '\r' '\n' <"$2/sink.out" | grep mesg= | tail -1 || true)
      [ "${last##*mesg=}" = "$3" ] && break
      sleep 0.02
    done
    sleep 0.1
    kill "$sink_pid"
    wait "$sink_pid" 2>/dev/null || true
    last=$(tr '\r' '\n' <"$2/sink.out" | grep mesg= | tail -1 || true)
    arrived=${last##*mesg=}
    conns=${last#sess=}
    conns=${conns%% *}
    [ -n "$arrived" ] || arrived=0 conns=0
  else
    kill -QUIT "$sink_pid" # graceful: writes out the buffered log
    wait "$sink_pid" 2>/dev/null || true
    mv "$work/nginx/access.log" "$2/access.log" 2>/dev/null || : >"$2/access.log"
    arrived=$(awk '$2 >= 200 && $2 < 300' "$2/access.log" | wc -l)
    conns=$(awk '{ print $1 }' "$2/access.log" | sort -u | wc -l)
    bad=$(awk '$2 < 200 || $2 >= 300' "$2/access.log" | wc -l)
    [ "$bad" = 0 ] || note="sink answered $bad requests with an error; "
  fi
  sink_pid=""
}

# --- the tools ----------------------------------------------------------------
# id, label, the herald row its ratio is taken against; one table per work

commas() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
cat >"$work/cases.tsv" <<EOF
case	title
smtp	SMTP, $(commas "$SMTP_N") × ~1 KB, 10 connections, postfix smtp-sink
http	HTTP, $(commas "$HTTP_N") JSON POSTs, 32 connections, nginx 204
slow	HTTP, $(commas "$SLOW_N") POSTs, nginx answering after 50 ms
EOF
cat >"$work/tools.tsv" <<EOF
case	tool	label	pair
smtp	herald	herald send -c 10 (template rendered per row, report written)	
smtp	smtp-source	smtp-source -s 10 -d (C load generator, fixed message)	herald
smtp	libcurl-1t	bare libcurl multi loop, 1 thread, 10 connections	herald
smtp	libcurl-2t	bare libcurl multi loop, 2 threads, 10 connections	herald
smtp	nodemailer	nodemailer pool, 10 connections	herald
http	herald	herald send -c 32 (.http template, report written)	
http	wrk	wrk -t 2 -c 32 (the sink's ceiling)	herald
http	libcurl-1t	bare libcurl multi loop, 1 thread, 32 connections	herald
http	libcurl-2t	bare libcurl multi loop, 2 threads, 32 connections	herald
http	curl	curl --parallel --parallel-max 32	herald
http	node-fetch	node $(node --version) fetch, 32 lanes	herald
slow	herald-300	herald send -c 300 (ideal 6,000/s)	
slow	herald-1000	herald send -c 1000 (ideal 20,000/s)	
slow	wrk	wrk -t 2 -c 1000 (the sink's ceiling)	herald-1000
slow	libcurl-1000	bare libcurl multi loop, 1 thread, 1000 connections	herald-1000
slow	curl	curl --parallel --parallel-max 300 (its maximum)	herald-300
EOF

# Builders of cmd, one per kind of tool, for work $c, run folder $run.
herald_smtp() { # CONNECTIONS
  cmd=("$HERALD" send -q -c "$1" --smtp "smtp://127.0.0.1:$smtp_port"
       -t "$here/templates/notice.eml" --campaign bench
       -o "$run/report.jsonl" "$work/list-$c.jsonl")
}
herald_http() { # CONNECTIONS
  cmd=("$HERALD" send -q -c "$1" -t "$work/$c.http" --campaign bench
       -o "$run/report.jsonl" "$work/list-$c.jsonl")
}
bare_loop() { # THREADS CONNECTIONS: the message or body of row 1, fixed
  local data=$work/body.json
  [ "$c" = smtp ] && data=$work/msg.eml
  cmd=("$curl_loop" -t "$1" -c "$2" -n "$n" -d "$data" "$url")
}
wrk_post() { # CONNECTIONS
  mkdir -p "$run/wrk"
  cmd=(env WRK_BODY="$work/body.json" WRK_COUNT="$n" WRK_THREADS=2 WRK_DONE="$run/wrk"
       wrk -t 2 -c "$1" -d 3600s -s "$here/wrk_post.lua" "$url")
}
curl_parallel() { # MAX
  cmd=(curl --no-progress-meter --fail --parallel --parallel-max "$1" -K "$work/curl-$c.cfg")
}

# Sets n, url, conn (connections asked for) and cmd (the command line).
tool_cmd() { # CASE TOOL RUNDIR
  c=$1 run=$3
  case $c in
    smtp) n=$SMTP_N url=smtp://127.0.0.1:$smtp_port ;;
    http) n=$HTTP_N url=$hook_url ;;
    slow) n=$SLOW_N url=$slow_url ;;
  esac
  case $c/$2 in
    smtp/herald)       conn=10; herald_smtp 10 ;;
    smtp/smtp-source)  conn=10
      cmd=(smtp-source -s 10 -d -m "$n" -F "$work/msg-lf.eml" -M localhost
           -f billing@acme.example -t user@example.com "127.0.0.1:$smtp_port") ;;
    smtp/libcurl-1t)   conn=10; bare_loop 1 10 ;;
    smtp/libcurl-2t)   conn=10; bare_loop 2 10 ;;
    smtp/nodemailer)   conn=10
      cmd=(node "$here/node/nodemailer.mjs" 127.0.0.1 "$smtp_port" "$work/list-$c.jsonl" 10) ;;
    http/herald)       conn=32; herald_http 32 ;;
    http/wrk)          conn=32; wrk_post 32 ;;
    http/libcurl-1t)   conn=32; bare_loop 1 32 ;;
    http/libcurl-2t)   conn=32; bare_loop 2 32 ;;
    http/curl)         conn=32; curl_parallel 32 ;;
    http/node-fetch)   conn=32
      cmd=(node "$here/node/fetch.mjs" "$url" "$work/list-$c.jsonl" 32) ;;
    slow/herald-300)   conn=300; herald_http 300 ;;
    slow/herald-1000)  conn=1000; herald_http 1000 ;;
    slow/wrk)          conn=1000; wrk_post 1000 ;;
    slow/libcurl-1000) conn=1000; bare_loop 1 1000 ;;
    slow/curl)         conn=300; curl_parallel 300 ;;
    *) die "no command for $c/$2" ;;
  esac
}

failures=0
printf 'case\ttool\tround\tn\tstatus\twall\tuser\tsys\tmaxrss_kb\ttree_kb\tarrived\tconns\tnote\n' >"$work/results.tsv"

run_one() { # CASE TOOL ROUND
  local c=$1 t=$2 r=$3 run="$work/runs/$1-$2-$3" kind=http stat status ok=1
  local wall user sys maxrss tree
  [ "$c" = smtp ] && kind=smtp
  mkdir -p "$run"
  tool_cmd "$c" "$t" "$run"
  printf '%s\n' "${cmd[*]}" >"$run/command"
  note=""
  start_sink "$kind" "$run"
  set +e
  # in the run's folder: whatever a tool leaves behind stays with its run
  (cd "$run" && exec "$runstat" -T "$RUN_TIMEOUT" -o "$run/stat" -- "${cmd[@]}" \
    >"$run/stdout" 2>"$run/stderr" </dev/null)
  status=$?
  set -e
  stop_sink "$kind" "$run" "$n"
  stat=$(cat "$run/stat" 2>/dev/null || true)
  wall=$(sed -n 's/.*wall=\([^ ]*\).*/\1/p' <<<"$stat")
  user=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$stat")
  sys=$(sed -n 's/.*sys=\([^ ]*\).*/\1/p' <<<"$stat")
  maxrss=$(sed -n 's/.*maxrss_kb=\([^ ]*\).*/\1/p' <<<"$stat")
  tree=$(sed -n 's/.*tree_rss_kb=\([^ ]*\).*/\1/p' <<<"$stat")
  if [ "$status" != 0 ]; then
    ok=0
    note+="exit $status$( [ "$status" = 124 ] && echo " (timed out)"): $(tail -c 300 "$run/stderr" | tr '\n\t' '  '); "
  fi
  # wrk stops each thread at its share; requests already on the other
  # connections still arrive (fewer than one per connection)
  if [ "$t" = wrk ]; then
    if [ "$arrived" -lt "$n" ] || [ "$arrived" -ge $((n + conn)) ]; then
      ok=0
      note+="the sink counted $arrived of $n (wrk may add up to $((conn - 1))); "
    fi
  elif [ "$arrived" != "$n" ]; then
    ok=0
    note+="the sink counted $arrived of $n; "
  fi
  if [ -f "$run/report.jsonl" ]; then
    local sent
    sent=$(grep -c '"status":"sent"' "$run/report.jsonl" || true)
    if [ "$sent" != "$n" ]; then
      ok=0
      note+="the report says $sent of $n sent; "
    fi
  fi
  [ -n "$note" ] && [ "$ok" = 1 ] && ok=0
  if [ "$ok" = 1 ]; then
    printf '%s\t%s\t%s\t%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' \
      "$c" "$t" "$r" "$n" "$wall" "$user" "$sys" "$maxrss" "$tree" "$arrived" "$conns" >>"$work/results.tsv"
    say "$(printf '%-5s %-13s round %s: %8.0f msg/s, CPU %5.2f s, RSS %6.1f MB, %s connections' \
      "$c" "$t" "$r" "$(awk -v n="$n" -v w="$wall" 'BEGIN { print n / w }')" \
      "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
      "$(awk -v a="$maxrss" -v b="$tree" 'BEGIN { print (a > b ? a : b) / 1024 }')" "$conns")"
    rm -f "$run/report.jsonl" "$run/access.log"
  else
    failures=$((failures + 1))
    printf '%s\t%s\t%s\t%s\tFAILED\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
      "$c" "$t" "$r" "$n" "${wall:-0}" "${user:-0}" "${sys:-0}" "${maxrss:-0}" "${tree:-0}" \
      "$arrived" "$conns" "$note" >>"$work/results.tsv"
    say "FAILED: $c $t round $r: $note(kept in $run)"
  fi
}

# --- the sitting -----------------------------------------------------------

cpu_times() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6, $9 }' /proc/stat; }
# "B% busy, S% stolen" of both cores between two cpu_times readings
busy_between() { # ALL0 IDLE0 STEAL0 ALL1 IDLE1 STEAL1
  awk -v a="$(($4 - $1))" -v i="$(($5 - $2))" -v s="$(($6 - $3))" \
    'BEGIN { if (a > 0) printf "%.0f%% busy, %.0f%% stolen by the hypervisor", (a - i - s) * 100 / a, s * 100 / a }'
}
# what the rest of the machine is doing, while we do nothing: 3 s
quiet_sample() {
  local a0 i0 s0 a1 i1 s1
  read -r a0 i0 s0 <<<"$(cpu_times)"
  sleep 3
  read -r a1 i1 s1 <<<"$(cpu_times)"
  busy_between "$a0" "$i0" "$s0" "$a1" "$i1" "$s1"
}
load_before="$(uptime | sed 's/.*load average: *//') (load average); $(quiet_sample) over 3 s with nothing of ours running"
read -r cpu_all0 cpu_idle0 cpu_steal0 <<<"$(cpu_times)"
started=$(date -u '+%Y-%m-%d %H:%M UTC')

for r in $(seq "$ROUNDS"); do
  for c in $CASES; do
    mapfile -t ids < <(awk -F'\t' -v c="$c" '$1 == c { print $2 }' "$work/tools.tsv")
    k=${#ids[@]}
    for i in $(seq 0 $((k - 1))); do
      t=${ids[$(((i + r - 1) % k))]}
      if [ -n "$ONLY" ] && ! [[ $t =~ $ONLY ]]; then continue; fi
      run_one "$c" "$t" "$r"
    done
  done
done

read -r cpu_all1 cpu_idle1 cpu_steal1 <<<"$(cpu_times)"
busy=$(busy_between "$cpu_all0" "$cpu_idle0" "$cpu_steal0" "$cpu_all1" "$cpu_idle1" "$cpu_steal1")
load_after="$(uptime | sed 's/.*load average: *//') (load average); $(quiet_sample) over 3 s with nothing of ours running"
versions="$("$HERALD" --version | head -1); $("$curl_loop" -V | cut -d' ' -f1);"
versions+=" $(curl --version | head -1 | cut -d' ' -f1-2); $(nginx -v 2>&1 | sed 's/.*: //')"
versions+=" + echo module $(dpkg-query -W -f='${Version}' libnginx-mod-http-echo);"
versions+=" $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); postfix $(dpkg-query -W -f='${Version}' postfix) (smtp-sink, smtp-source);"
versions+=" node $(node --version); nodemailer $(node -p "require('$here/node/node_modules/nodemailer/package.json').version")"
command="SMTP_N=$SMTP_N HTTP_N=$HTTP_N SLOW_N=$SLOW_N ROUNDS=$ROUNDS bench/compare.sh"
{
  printf 'rounds\t%s\n' "$ROUNDS"
  printf 'date\t%s\n' "$started"
  printf 'command\t`%s` (herald: %s)\n' "$command" "$HERALD"
  printf 'machine\t%s cores, %s GiB\n' "$(nproc)" "$(free -g | awk '/^Mem:/ { print $2 }')"
  printf 'cpu\t%s\n' "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'load before\t%s\n' "$load_before"
  printf 'load after\t%s\n' "$load_after"
  printf 'during the sitting\t%s (both cores; our tools and sinks included)\n' "$busy"
  printf 'versions\t%s\n' "$versions"
} >"$work/meta.tsv"

set +e
"$py" "$here/compare.py" table "$work" | tee "$work/table.md"
table_status=${PIPESTATUS[0]}
set -e
say "results in $work (results.tsv: every run; table.md: the table above)"
[ "$failures" = 0 ] && [ "$table_status" = 0 ] || die "$failures run(s) FAILED"
