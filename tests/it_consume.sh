#!/usr/bin/env bash
# it_consume.sh — herald enqueue and herald consume against a real
# redis-server and a real SMTP server, both on 127.0.0.1:
#   N entries: N deliveries, N results, nothing pending;
#   the reading is held back by the pool's queue (pending <= its size);
#   a server that always answers 451: the entry goes to the dead-letter
#   stream after --max-deliveries, once per delivery tried;
#   550: failed, acknowledged once, never delivered again;
#   two consumers on one stream split the work, each entry once;
#   a live consumer whose sends outlast --claim-idle keeps its entries;
#   an entry with no record, or one the template cannot render;
#   SIGTERM: what is in flight ends, the rest stays pending, a rerun
#   finishes it;
#   the password from the environment or a private file, never argv;
#   enqueue validates as check does.
# The kill -9 and take-over test is it_consume_crash.sh.
. "$(dirname "$0")/lib/it.sh"
. "$SRC/tests/lib/smtp.sh"
. "$SRC/tests/lib/redis.sh"
cd "$TMP"
RESP="$SRC/tests/resp.py"

cat >t.eml <<'EOF'
From: Queue <queue@example.com>
To: {{name}} <{{email}}>
Subject: from the stream

Hello {{name}}.
EOF
# mklist FILE N PREFIX: a CSV of N recipients
mklist() { "$PYTHON" - "$@" <<'EOF'
import sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write("email,name\n")
    for i in range(1, n + 1):
        f.write(f"{prefix}{i}@example.com,Name {i}\n")
EOF
}
pending() { "$PYTHON" "$RESP" "$REDIS_PORT" pending "$1" "$2"; }
xlen() { "$PYTHON" "$RESP" "$REDIS_PORT" cmd XLEN "$1"; }
# field STREAM EXPR: EXPR over the list e of {"id", "fields"} (Python)
field() { "$PYTHON" "$RESP" "$REDIS_PORT" stream "$1" | "$PYTHON" -c 'import json,sys
e = [json.loads(l) for l in sys.stdin]
print(eval(sys.argv[1]))' "$2"; }

redis_start q
smtp_start mail --slow-ms 5
URL=redis://127.0.0.1:$REDIS_PORT/jobs
SMTP=smtp://127.0.0.1:$SMTP_PORT

# ---- enqueue validates as check does -------------------------------------
mklist list.csv 40 u
printf 'email,name\nok@example.com,Ok\nnoname@example.com,\n' >bad.csv
run_herald enqueue -t t.eml "$URL" bad.csv
expect_eq "$rc" 65 "enqueue of a list with an invalid row: exit 65"
expect_match "$err" "bad.csv:3: row 2: field 'name'" "... naming the row and field"
expect_eq "$(xlen jobs)" 0 "... and nothing is added"
run_herald enqueue -t t.eml --skip-invalid "$URL" bad.csv
expect_eq "$rc:$(xlen jobs)" "0:1" "--skip-invalid adds the valid row only"
rcli DEL jobs >/dev/null
run_herald enqueue -t t.eml "$URL" list.csv
expect_eq "$rc" 0 "enqueue of 40 rows: exit 0"
expect_match "$err" "40 entries added" "enqueue says how many it added"
expect_eq "$(xlen jobs)" 40 "the stream holds 40 entries"
expect_eq "$(field jobs 'json.loads(e[0]["fields"]["record"])')" "{'email': 'u1@example.com', 'name': 'Name 1'}" "an entry holds its row as JSON in 'record'"

# ---- N entries: N deliveries, N results, nothing pending -----------------
run_herald consume "$URL" --group mailers --consumer c1 -t t.eml --smtp "$SMTP" \
  --journal-dir jd --results jobs:results --exit-when-idle 1s -c 2 -o c1.jsonl
expect_eq "$rc" 0 "consume: exit 0 once idle"
expect_eq "$(smtp_stat mail messages)" 40 "40 messages arrived"
expect_eq "$(xlen jobs:results)" 40 "40 outcomes in the results stream"
expect_eq "$(field jobs:results 'sorted(set(json.loads(x["fields"]["result"])["status"] for x in e))')" "['sent']" "... every one sent"
expect_eq "$(field jobs:results 'len(set(x["fields"]["entry"] for x in e))')" 40 "... one per entry"
expect_eq "$(pending jobs mailers)" 0 "nothing pending in the group"
expect_eq "$(grep -c '"status":"start"\|"start":' jd/c1.journal)" 40 "the journal recorded each send"
# a rerun finds nothing to do; the same keys enqueued again are skipped
run_herald enqueue -t t.eml "$URL" list.csv
run_herald consume "$URL" --group mailers --consumer c1 -t t.eml --smtp "$SMTP" \
  --journal-dir jd --results jobs:results --exit-when-idle 1s
expect_eq "$rc:$(smtp_stat mail messages)" "0:40" "keys sent before are not sent again"
expect_eq "$(field jobs:results 'sum(1 for x in e if "sent earlier" in (json.loads(x["fields"]["result"])["error"] or ""))')" 40 "... they are skipped \"sent earlier\""
expect_eq "$(pending jobs mailers)" 0 "... and acknowledged"
# the same consumer twice at once: the journal's lock
"$HERALD" consume "$URL" --group mailers --consumer c1 -t t.eml --smtp "$SMTP" --journal-dir jd --exit-when-idle 3s -q >hold.out 2>&1 &
hold=$!
sleep 0.5
run_herald consume "$URL" --group mailers --consumer c1 -t t.eml --smtp "$SMTP" --journal-dir jd --exit-when-idle 1s
expect_eq "$rc" 75 "a second process as the same consumer: exit 75"
expect_match "$err" "in use by another herald run" "... the journal is locked"
wait "$hold" || true

# ---- backpressure: entries taken only as the workers have room ----------
rcli DEL jobs >/dev/null
mklist slow.csv 30 s
smtp_start slowmail --slow-ms 150
run_herald enqueue "$URL" slow.csv
"$HERALD" consume "$URL" --group bp --consumer b1 -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
  --journal-dir jd --exit-when-idle 1s -c 2 -q >bp.out 2>&1 &
bp=$!
most=0
for _ in $(seq 40); do
  n=$(pending jobs bp)
  [ "$n" -gt "$most" ] && most=$n
  sleep 0.1
done
wait "$bp" || true
if [ "$most" -ge 1 ] && [ "$most" -le 4 ]; then ok "at most 4 entries held at once with -c 2 (saw $most)"; else bad "entries held at once with -c 2: $most, want 1..4"; fi
expect_eq "$(smtp_stat slowmail messages)" 30 "... and every one delivered"
smtp_stop slowmail

# ---- 451 always: dead-lettered after --max-deliveries --------------------
rcli DEL jobs >/dev/null
printf 'email,name\nstuck@example.com,Stuck\n' >stuck.csv
run_herald enqueue "$URL" stuck.csv
smtp_start busy --fail-first 1000000:451
run_herald consume "$URL" --group dl --consumer d1 -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
  --journal-dir jd --results jobs:results2 --retries 0 --max-deliveries 3 --claim-idle 0.3s \
  --exit-when-idle 2s -o dl.jsonl
expect_eq "$(smtp_stat busy rejected)" 3 "451: tried once per delivery, three deliveries"
expect_eq "$(xlen jobs:dead)" 1 "the entry is in the dead-letter stream jobs:dead"
expect_eq "$(field jobs:dead 'e[0]["fields"]["deliveries"]')" 3 "... after 3 deliveries"
expect_eq "$(field jobs:dead 'json.loads(e[0]["fields"]["record"])["email"]')" stuck@example.com "... with its record"
expect_eq "$(pending jobs dl)" 0 "... and nothing pending"
expect_eq "$(field jobs:results2 '[json.loads(x["fields"]["result"])["status"] + ":" + x["fields"].get("dead_letter", "") for x in e]')" "['failed:jobs:dead']" "one result: failed, dead-lettered"
expect_eq "$(grep -c '"status":"failed"' dl.jsonl)" 3 "the report has each delivery's failure"
smtp_stop busy

# ---- 550: failed, acknowledged once, never again ---------------------------
rcli DEL jobs >/dev/null
printf 'email,name\ngone@example.com,Gone\nhere@example.com,Here\n' >gone.csv
run_herald enqueue "$URL" gone.csv
smtp_start picky --reject-rcpt 'gone@.*:550'
for round in 1 2; do
  run_herald consume "$URL" --group perm --consumer p1 -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
    --journal-dir jd --results jobs:results3 --claim-idle 0.2s --exit-when-idle 1s -o perm$round.jsonl
done
expect_eq "$(grep -c '"status":"failed"' perm1.jsonl)" 1 "550: the row failed"
expect_match "$(grep failed perm1.jsonl)" '"failure":"permanent"' "... permanently"
expect_eq "$(field jobs:results3 'sorted(json.loads(x["fields"]["result"])["status"] for x in e)')" "['failed', 'sent']" "one result each: failed, sent"
expect_eq "$(pending jobs perm)" 0 "the failed entry is acknowledged"
expect_eq "$(count_lines perm2.jsonl)" 0 "a second run gets nothing back"
expect_eq "$(smtp_stat picky rejected)" 1 "the refused address was tried once"
smtp_stop picky

# ---- two consumers on one stream split the work ----------------------------
rcli DEL jobs >/dev/null
mklist two.csv 200 t
smtp_start split --slow-ms 10
run_herald enqueue "$URL" two.csv
for c in a b; do
  "$HERALD" consume "$URL" --group split --consumer "$c" -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
    --journal-dir jd --results jobs:split --exit-when-idle 2s -c 2 -q -o "split-$c.jsonl" >"split-$c.out" 2>&1 &
  eval "pid_$c=$!"
done
wait "$pid_a"; ra=$?
wait "$pid_b"; rb=$?
expect_eq "$ra:$rb" "0:0" "both consumers end with exit 0"
na=$(grep -c '"status":"sent"' split-a.jsonl)
nb=$(grep -c '"status":"sent"' split-b.jsonl)
expect_eq "$((na + nb))" 200 "together they sent 200 ($na + $nb)"
if [ "$na" -gt 20 ] && [ "$nb" -gt 20 ]; then ok "each took a share"; else bad "one consumer did almost everything: $na and $nb"; fi
expect_eq "$(smtp_stat split messages)" 200 "200 messages at the server"
expect_eq "$("$PYTHON" -c 'import json,sys; print(sum(1 for c in json.load(open(sys.argv[1]))["recipients"].values() if c != 1))' "$TMP/split.stats.json")" 0 "no recipient got two"
expect_eq "$(field jobs:split 'sorted(set(x["fields"]["consumer"] for x in e))')" "['a', 'b']" "the results name the consumer"
expect_eq "$(pending jobs split)" 0 "nothing pending"
smtp_stop split

# ---- a live consumer's entries are never taken over ----------------------
# Sends slower than --claim-idle: A keeps touching what it holds, so B
# (started later, same --claim-idle) takes none of it.
rcli DEL jobs >/dev/null
mklist live.csv 8 live
smtp_start livemail --slow-ms 700
run_herald enqueue "$URL" live.csv
for c in a b; do
  "$HERALD" consume "$URL" --group live --consumer "l$c" -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
    --journal-dir jd --claim-idle 0.5s --exit-when-idle 1.5s -c 1 -q -o "live-$c.jsonl" >"live-$c.out" 2>&1 &
  eval "pid_$c=$!"
  sleep 0.3
done
wait "$pid_a"; ra=$?
wait "$pid_b"; rb=$?
expect_eq "$ra:$rb" "0:0" "sends slower than --claim-idle: both consumers exit 0"
expect_eq "$(smtp_stat livemail messages)" 8 "... 8 messages, each once"
expect_eq "$("$PYTHON" -c 'import json,sys; print(sum(1 for c in json.load(open(sys.argv[1]))["recipients"].values() if c != 1))' "$TMP/livemail.stats.json")" 0 "... no recipient got two"
expect_eq "$(pending jobs live)" 0 "... nothing pending"
smtp_stop livemail

# ---- entries the workers never see, or cannot render --------------------
rcli DEL jobs >/dev/null
rcli XADD jobs '*' record 'not json' >/dev/null
rcli XADD jobs '*' other '{}' >/dev/null
rcli XADD jobs '*' record '{"email":"x@example.com"}' >/dev/null
rcli XADD jobs '*' record '{"email":"y@example.com","name":"Y"}' >/dev/null
run_herald consume "$URL" --group bad --consumer x1 -t t.eml --smtp "$SMTP" \
  --journal-dir jd --results jobs:results4 --dead-letter jobs:bad --exit-when-idle 1s -o bad.jsonl
expect_eq "$(xlen jobs:bad)" 2 "an entry with no JSON record goes to --dead-letter at once"
expect_eq "$(grep -c '"status":"invalid"' bad.jsonl)" 1 "a record the template cannot render is invalid"
expect_match "$(grep invalid bad.jsonl)" "field 'name'" "... naming the field"
expect_eq "$(field jobs:results4 'sorted(json.loads(x["fields"]["result"])["status"] for x in e)')" "['invalid', 'invalid', 'invalid', 'sent']" "results: three invalid, one sent"
expect_eq "$(pending jobs bad)" 0 "nothing pending"

# ---- SIGTERM: in flight ends, the rest waits, a rerun finishes ----------
rcli DEL jobs >/dev/null
mklist term.csv 40 term
smtp_start slow2 --slow-ms 200
run_herald enqueue "$URL" term.csv
"$HERALD" consume "$URL" --group term --consumer t1 -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
  --journal-dir jd -c 2 -q -o term1.jsonl >term1.out 2>&1 &
tp=$!
sleep 1.2
kill -TERM "$tp"
set +e
wait "$tp"
trc=$?
set -e
expect_match "$trc" '^(0|75)$' "SIGTERM: exit 0 or 75 (got $trc)"
sent1=$(grep -c '"status":"sent"' term1.jsonl)
if [ "$sent1" -gt 0 ] && [ "$sent1" -lt 40 ]; then ok "part was sent before the stop ($sent1)"; else bad "sent before the stop: $sent1"; fi
expect_eq "$(grep -c '"status":"uncertain"' term1.jsonl)" 0 "what was in flight ended, nothing uncertain"
run_herald consume "$URL" --group term --consumer t1 -t t.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" \
  --journal-dir jd -c 4 --exit-when-idle 1s -q -o term2.jsonl
expect_eq "$(smtp_stat slow2 messages)" 40 "the rerun delivers the rest: 40 in all"
expect_eq "$(grep -c '"status":"sent"' term2.jsonl)" "$((40 - sent1))" "... exactly what was left"
expect_eq "$(pending jobs term)" 0 "nothing pending"
smtp_stop slow2
redis_stop q

# ---- the password ----------------------------------------------------------
redis_start locked --requirepass s3cret-pw
URL=redis://127.0.0.1:$REDIS_PORT/jobs
run_herald enqueue "$URL" list.csv
expect_eq "$rc" 78 "no password: exit 78"
HERALD_REDIS_PASSWORD=wrong run_herald enqueue "$URL" list.csv
expect_eq "$rc" 78 "a wrong password: exit 78"
expect_eq "$(printf '%s' "$err" | grep -c s3cret-pw)" 0 "... never printed"
HERALD_REDIS_PASSWORD=s3cret-pw run_herald enqueue "$URL" list.csv
expect_eq "$rc" 0 "HERALD_REDIS_PASSWORD"
printf 's3cret-pw\n' >pw
chmod 644 pw
run_herald enqueue --redis-password-file pw "$URL" list.csv
expect_eq "$rc" 78 "a password file others can read is refused"
chmod 600 pw
run_herald enqueue --redis-password-file pw "$URL" list.csv
expect_eq "$rc" 0 "a private password file"
run_herald enqueue "redis://u:s3cret-pw@127.0.0.1:$REDIS_PORT/jobs" list.csv
expect_eq "$rc" 78 "a password in the URL is refused"
expect_match "$err" "HERALD_REDIS_PASSWORD" "... saying where it goes"
HERALD_TEST_REDIS_PASSWORD=s3cret-pw HERALD_REDIS_PASSWORD=s3cret-pw run_herald consume "$URL" \
  --group pw --consumer w1 -t t.eml --smtp "$SMTP" --journal-dir jd --exit-when-idle 1s -q
expect_eq "$rc" 0 "consume with the password"
redis_stop locked

# ---- usage ---------------------------------------------------------------
run_herald consume "$URL" -t t.eml --journal-dir jd
expect_eq "$rc" 64 "consume without --group: exit 64"
run_herald consume "$URL" --group g -t t.eml
expect_eq "$rc" 64 "consume without --journal-dir: exit 64"
run_herald consume http://example.com/x --group g -t t.eml --journal-dir jd
expect_eq "$rc" 78 "not a redis:// URL: exit 78"
run_herald consume "redis://127.0.0.1:1/jobs" --group g -t t.eml --journal-dir jd --smtp "$SMTP"
expect_eq "$rc" 75 "a server that is not there: exit 75"
smtp_stop mail
finish
