#!/usr/bin/env bash
# The examples in templates/ work as shipped: every template renders for
# every sample row, and what it renders holds that row's data exactly, as a
# receiver decodes it (tests/mime_check.py: the email package, json,
# urllib.parse, html.parser).  Also: send --outbox writes one file per row,
# the bytes render prints; Idempotency-Key and Message-ID are stable for a
# campaign and key; {{env.NAME}} is readable only with --env.
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"
T=$SRC/templates
export T

# rowval DATA N EXPR: the value of EXPR for row N, printed as text
rowval() { "$PYTHON" "$MIME_CHECK" rowval "$@"; }
# nrows DATA
nrows() { rowval "$1" 1 'len(rows)'; }
# render_ok LABEL ARGS...: herald render into $TMP/r.out, envelope in r.err
render_ok() {
  local label=$1; shift
  set +e
  "$HERALD" render "$@" >r.out 2>r.err
  rc=$?
  set -e
  expect_eq "$rc" 0 "$label: render exits 0"
  [ "$rc" -eq 0 ] || cat r.err
}

# --- every example passes herald check as shipped (the webhook needs --env)
export WEBHOOK_TOKEN=whk_test_7Rq2
for pair in welcome.eml:recipients.csv welcome.eml:recipients.jsonl \
    invoice/invoice.eml:invoice/recipients.jsonl \
    password-reset/reset.eml:password-reset/recipients.csv \
    chat-webhook/slack.http:chat-webhook/recipients.jsonl \
    push-ntfy/ntfy.http:push-ntfy/recipients.csv \
    sms/sms.http:sms/recipients.csv \
    webhook/webhook.http:webhook/recipients.jsonl; do
  run_herald check -t "$T/${pair%%:*}" --env WEBHOOK_TOKEN "$T/${pair#*:}"
  expect_eq "$rc" 0 "check ${pair%%:*} with ${pair#*:}: exit 0"
  [ "$rc" -eq 0 ] || echo "$err"
done

# --- welcome.eml: plain text, the optional company section
for list in recipients.csv recipients.jsonl; do
  n=$(nrows "$T/$list")
  expect_eq "$n" 3 "welcome $list: three sample rows"
  for i in $(seq 1 "$n"); do
    render_ok "welcome $list row $i" -t "$T/welcome.eml" --row "$i" "$T/$list"
    spec=$(rowspec "$T/$list" "$i" '{
      "subject": "Welcome to Acme, %s!" % r["name"],
      "from": [["Acme Team", "hello@acme.example"]],
      "to": [[r["name"], r["email"]]],
      "reply_to": [["Acme Support", "support@acme.example"]],
      "structure": ["text/plain"],
      "text_lines": ["Hello %s," % r["name"],
        "welcome aboard! Your account %s is ready." % r["email"],
        ("You are on the %s plan." % r["plan"]) if r["plan"]
          else "You are on the free plan; upgrade any time."]
        + (["We have set up the workspace for %s (%d seats)." % (
            r["company"]["name"], r["company"]["seats"])]
           if "company" in r else [])
        + ["Sign in at https://app.acme.example/login"]}')
    pycheck eml "welcome $list row $i" r.out <<<"$spec"
    expect_eq "$(cat r.err)" "$(printf 'MAIL FROM:<hello@acme.example>\nRCPT TO:<%s>' "$(rowval "$T/$list" "$i" 'r["email"]')")" "welcome $list row $i: envelope"
  done
done

# --- invoice: nested JSON, a section over the lines, text + HTML, two PDFs
L=$T/invoice/recipients.jsonl
n=$(nrows "$L")
expect_eq "$n" 3 "invoice: three sample rows"
for i in $(seq 1 "$n"); do
  render_ok "invoice row $i" -t "$T/invoice/invoice.eml" --row "$i" "$L"
  spec=$(rowspec "$L" "$i" '{
    "subject": "Your Acme invoice %s (%s %s)" % (r["invoice"]["id"],
        r["invoice"]["currency"], r["invoice"]["total"]),
    "from": [["Acme Billing", "billing@acme.example"]],
    "to": [[r["name"], r["email"]]],
    "structure": ["multipart/mixed", "multipart/alternative", "text/plain",
        "text/html", "application/pdf", "application/pdf"],
    "absent_headers": ["Herald-Attach"],
    "text_lines": ["Hello %s," % r["name"],
        "your invoice %s of %s is attached." % (r["invoice"]["id"],
            r["invoice"]["date"])]
      + ["  %d x %s at %s: %s" % (l["qty"], l["description"], l["unit"],
            l["amount"]) for l in r["invoice"]["lines"]]
      + ["Total due by %s: %s %s" % (r["invoice"]["due"],
            r["invoice"]["currency"], r["invoice"]["total"]),
         "Pay online at https://billing.acme.example/pay/%s" %
            r["invoice"]["id"]],
    "html_cells": [["Item", "Qty", "Unit", "Amount"]]
      + [[l["description"], str(l["qty"]), l["unit"], l["amount"]]
         for l in r["invoice"]["lines"]],
    "html_lines": ["<p>Hello %s,</p>" % html.escape(r["name"]),
        "<p>Total due by %s: <b>%s %s</b></p>" % (r["invoice"]["due"],
            r["invoice"]["currency"], r["invoice"]["total"])],
    "html_absent": ["{{", "}}"],
    "attachments": [
      {"filename": "Acme invoice %s.pdf" % r["invoice"]["id"],
       "content_type": "application/pdf",
       "file": "%s/invoice/files/invoice-%s.pdf" % (os.environ["T"],
           r["invoice"]["id"])},
      {"filename": "terms.pdf", "content_type": "application/pdf",
       "file": os.environ["T"] + "/invoice/files/terms.pdf"}]}')
  pycheck eml "invoice row $i" r.out <<<"$spec"
done
expect_match "$(head -c 8 "$T/invoice/files/terms.pdf")" '^%PDF-1\.' "the attached files are PDFs"
# the HTML part escapes the data ("Priority support & SLA" in row 3)
render_ok "invoice row 3 raw" -t "$T/invoice/invoice.eml" --row 3 "$L"
pycheck eml "invoice row 3 escaping" r.out <<'SPEC'
{"html_lines": ["<tr><td>Priority support &amp; SLA</td><td>1</td><td>30.00</td><td>30.00</td></tr>"],
 "text_lines": ["  1 x Priority support & SLA at 30.00: 30.00"]}
SPEC

# --- password reset: the token lands in the link exactly, {{ip?...}}
L=$T/password-reset/recipients.csv
n=$(nrows "$L")
expect_eq "$n" 3 "password-reset: three sample rows"
for i in $(seq 1 "$n"); do
  render_ok "reset row $i" -t "$T/password-reset/reset.eml" --row "$i" "$L"
  spec=$(rowspec "$L" "$i" '{
    "subject": "Reset your Acme password",
    "from": [["Acme Security", "security@acme.example"]],
    "to": [[r["name"], r["email"]]],
    "structure": ["text/plain"],
    "text_lines": ["Hello %s," % r["name"],
        "https://app.acme.example/reset?token=%s" % r["token"],
        "is. The request came from %s." % (r["ip"] or "an unknown address")]}')
  pycheck eml "reset row $i" r.out <<<"$spec"
done

# --- the HTTP examples, every row: URL structure, headers, parsed body
http_case() { # NAME TEMPLATE DATA EXPR
  local name=$1 tmpl=$2 data=$3 expr=$4 n i
  n=$(nrows "$data")
  expect_match "$n" '^[2-9]' "$name: at least two sample rows"
  for i in $(seq 1 "$n"); do
    render_ok "$name row $i" -t "$tmpl" --env WEBHOOK_TOKEN --row "$i" "$data"
    pycheck http "$name row $i" r.out <<<"$(rowspec "$data" "$i" "$expr")"
  done
}
UUID='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
http_case slack "$T/chat-webhook/slack.http" "$T/chat-webhook/recipients.jsonl" '{
  "method": "POST", "scheme": "https", "host": "hooks.chat.example",
  "port": None, "username": None,
  "path_segments": ["", "services", r["team"], r["channel_id"], r["secret"]],
  "header_names": ["Content-Type", "Idempotency-Key"],
  "headers": {"Content-Type": "application/json"},
  "headers_re": {"Idempotency-Key": "'"$UUID"'"},
  "json": {"text": "Deploy of *%s* %s to %s: %s" % (r["service"],
      r["version"], r["environment"], r["status"]),
    "username": "herald", "icon_emoji": ":rocket:"}}'
http_case ntfy "$T/push-ntfy/ntfy.http" "$T/push-ntfy/recipients.csv" '{
  "method": "POST", "url": "https://ntfy.example/" + r["topic"],
  "path_segments": ["", r["topic"]],
  "header_names": ["Content-Type", "Title", "Priority", "Tags",
      "Idempotency-Key"],
  "headers": {"Title": r["title"], "Priority": r["priority"] or "default",
      "Tags": r["tags"], "Content-Type": "text/plain; charset=utf-8"},
  "body": r["message"]}'
http_case sms "$T/sms/sms.http" "$T/sms/recipients.csv" '{
  "method": "POST", "url": "https://api.sms.example/v1/Messages",
  "headers": {"Content-Type": "application/x-www-form-urlencoded"},
  "headers_re": {"Idempotency-Key": "'"$UUID"'"},
  "form": [["To", r["phone"]], ["From", "Acme"],
    ["Body", "Hi %s, your Acme code is %s. It expires in %s minutes." % (
      r["name"], r["code"], r["minutes"])]]}'
http_case webhook "$T/webhook/webhook.http" "$T/webhook/recipients.jsonl" '{
  "method": "POST", "host": "api.partner.example",
  "path_segments": ["", "v1", "accounts", r["account_id"], "events"],
  "header_names": ["Content-Type", "Authorization", "Idempotency-Key"],
  "headers": {"Authorization": "Bearer " + os.environ["WEBHOOK_TOKEN"]},
  "json": {"event": "plan.changed",
    "account": {"id": r["account_id"], "email": r["email"],
      "company": r["company"]["name"]},
    "plan": {"from": r["old_plan"], "to": r["new_plan"]},
    "note": r.get("note", "")}}'

# --- Idempotency-Key: same campaign and row -> same key; else different
idem() { # TEMPLATE DATA ROW CAMPAIGN -> the Idempotency-Key header value
  "$HERALD" render -t "$1" --env WEBHOOK_TOKEN --campaign "$4" --row "$3" "$2" 2>/dev/null |
    sed -n 's/^Idempotency-Key: //p'
}
for pair in chat-webhook/slack.http:chat-webhook/recipients.jsonl \
    push-ntfy/ntfy.http:push-ntfy/recipients.csv sms/sms.http:sms/recipients.csv \
    webhook/webhook.http:webhook/recipients.jsonl; do
  tm=$T/${pair%%:*} dl=$T/${pair#*:} name=${pair%%/*}
  k1=$(idem "$tm" "$dl" 1 spring)
  expect_match "$k1" "^$UUID\$" "$name: Idempotency-Key is UUID-shaped"
  expect_eq "$(idem "$tm" "$dl" 1 spring)" "$k1" "$name: same key for the same campaign and row"
  k2=$(idem "$tm" "$dl" 2 spring)
  expect_match "$k2" "^$UUID\$" "$name: row 2 has a key"
  [ "$k1" != "$k2" ] && ok "$name: different recipients, different keys" || bad "$name: rows 1 and 2 share key $k1"
  k3=$(idem "$tm" "$dl" 1 autumn)
  [ "$k1" != "$k3" ] && ok "$name: another campaign, another key" || bad "$name: campaigns share key $k1"
done

# --- send --outbox: one file per row, exactly what render prints
outbox_case() { # NAME TEMPLATE DATA EXT
  local name=$1 tmpl=$2 data=$3 ext=$4 n i f
  n=$(nrows "$data")
  rm -rf ob rep.jsonl
  run_herald send -t "$tmpl" --env WEBHOOK_TOKEN --campaign c1 --outbox ob -o rep.jsonl "$data"
  expect_eq "$rc" 0 "$name: send --outbox exits 0"
  expect_eq "$(count_files ob)" "$n" "$name: one outbox file per row"
  expect_eq "$(jrows rep.jsonl 'sorted((r["row"], r["status"]) for r in rows)')" \
    "$("$PYTHON" -c 'import sys; print(sorted((i, "sent") for i in range(1, int(sys.argv[1]) + 1)))' "$n")" \
    "$name: every row reported sent"
  for i in $(seq 1 "$n"); do
    f=$(printf 'ob/%06d.%s' "$i" "$ext")
    "$HERALD" render -t "$tmpl" --env WEBHOOK_TOKEN --campaign c1 --row "$i" "$data" >r.out 2>/dev/null
    if [ "$ext" = eml ]; then # the Date line aside
      expect_eq "$(sed 1d "$f" | md5sum)" "$(sed 1d r.out | md5sum)" "$name: $f is what render prints"
      pycheck eml "$name $f" "$f" <<<'{}'
    else
      expect_eq "$(md5sum <"$f")" "$(md5sum <r.out)" "$name: $f is what render prints"
    fi
    # the report's message_id is the id in the file
    id=$(jrows rep.jsonl "[r['message_id'] for r in rows if r['row'] == $i][0]")
    if [ "$ext" = eml ]; then
      expect_eq "$(sed -n 's/^Message-ID: \(.*\)\r$/\1/p' "$f")" "$id" "$name: row $i report names its Message-ID"
    else
      expect_eq "$(sed -n 's/^Idempotency-Key: //p' "$f")" "$id" "$name: row $i report names its Idempotency-Key"
    fi
  done
}
outbox_case invoice "$T/invoice/invoice.eml" "$T/invoice/recipients.jsonl" eml
outbox_case reset "$T/password-reset/reset.eml" "$T/password-reset/recipients.csv" eml
outbox_case slack "$T/chat-webhook/slack.http" "$T/chat-webhook/recipients.jsonl" http
outbox_case ntfy "$T/push-ntfy/ntfy.http" "$T/push-ntfy/recipients.csv" http
outbox_case sms "$T/sms/sms.http" "$T/sms/recipients.csv" http
outbox_case webhook "$T/webhook/webhook.http" "$T/webhook/recipients.jsonl" http

# --- {{env.NAME}} only with --env
unset WEBHOOK_TOKEN
rm -rf ob
run_herald send -t "$T/webhook/webhook.http" --outbox ob -o noenv.jsonl "$T/webhook/recipients.jsonl"
expect_eq "$rc" 65 "webhook without --env: exit 65"
expect_eq "$(count_files ob)" 0 "webhook without --env: nothing sent"
expect_match "$err" "recipients.jsonl:1: row 1: field 'env.WEBHOOK_TOKEN'.*\(template .*webhook.http:[0-9]+\)" "webhook without --env: the error names the tag"
expect_eq "$(jrows noenv.jsonl 'sorted(set(r["status"] for r in rows))')" "['invalid']" "webhook without --env: every row invalid"
# the variable set but not allowed: still unreadable
export WEBHOOK_TOKEN=whk_test_7Rq2
run_herald send -t "$T/webhook/webhook.http" --outbox ob "$T/webhook/recipients.jsonl"
expect_eq "$rc" 65 "webhook with the variable set but no --env: exit 65"
expect_eq "$(count_files ob)" 0 "webhook with the variable set but no --env: nothing sent"
run_herald render -t "$T/webhook/webhook.http" --env OTHER_NAME --row 1 "$T/webhook/recipients.jsonl"
expect_eq "$rc" 65 "webhook with another --env name: exit 65"
expect_eq "$out" "" "webhook with another --env name: nothing printed"
run_herald send -t "$T/webhook/webhook.http" --env WEBHOOK_TOKEN --outbox ob "$T/webhook/recipients.jsonl"
expect_eq "$rc" 0 "webhook with --env: exit 0"
expect_eq "$(grep -l '^Authorization: Bearer whk_test_7Rq2$' ob/*.http | wc -l | tr -d ' ')" 3 "webhook with --env: the token in every request"
# the token never leaks into the report or the summary
expect_eq "$(grep -c whk_test_7Rq2 <<<"$err$out" || true)" 0 "the token is not printed"

finish
