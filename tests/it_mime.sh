#!/usr/bin/env bash
# Email for non-ASCII data, as a receiver decodes it.  Cyrillic, CJK and
# 4-byte emoji in From and To display names, Subject, the text and HTML
# parts and attachment file names; each message rendered by herald is
# parsed with Python's email package (policy=email.policy.default, in
# tests/mime_check.py) and the decoded values must equal exactly what the
# template and the row say.  Every message: CRLF line ends, no line over
# 998 octets (long single-line values go out as quoted-printable), 7-bit,
# no parser defects.  Bcc is in the envelope only; Message-ID is stable for
# a campaign and key.
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"


# --- the template, two attachments (UTF-8 text, all 256 byte values)
mkdir -p mime/files
cat >mime/mime.eml <<'EOF'
From: {{sender}} <noreply@acme.example>
To: {{name}} <{{email}}>
Bcc: Audit <audit@acme.example>
Subject: {{subject}}
Herald-Attach: files/note.txt; filename={{note_name}}
Herald-Attach: files/blob.bin; filename={{blob_name}}

--- text ---
{{greeting}}, {{name}}!
{{body}}
--- html ---
<p>{{greeting}}, <b>{{name}}</b>!</p>
<p>{{body}}</p>
EOF
printf 'Примечание: оплата до 1 декабря. 注意 🧾\n' >mime/files/note.txt
"$PYTHON" -c 'import sys; open(sys.argv[1], "wb").write(bytes(range(256)) * 3)' mime/files/blob.bin

# the rows: one script per row, long values made here so the file is exact
"$PYTHON" - <<'EOF'
import json
rows = [
    {"sender": "Команда Acme", "name": "Иван Петров", "email": "ivan@example.com",
     "subject": "Ваш счёт №42 готов",
     "greeting": "Здравствуйте", "body": "Сумма к оплате: 1 500 ₽. Спасибо, что вы с нами!",
     "note_name": "Счёт №42.txt", "blob_name": "данные.bin"},
    {"sender": "Acme 株式会社", "name": "山田 太郎", "email": "taro@example.jp",
     "subject": "ご注文ありがとうございます 注文番号 12345 のお知らせ（発送済み）— 订单已发货 — 주문이 발송되었습니다",
     "greeting": "您好", "body": "订单已发货。 한국어 텍스트도 있습니다。",
     "note_name": "請求書 2026年11月.txt", "blob_name": "データ.bin"},
    {"sender": "Acme 🚀", "name": "Zoë 🎉 Ünïcødé", "email": "zoe@example.org",
     "subject": "🎉🚀 Launch day! 👩‍💻 and 👨‍👩‍👧‍👦 🇯🇵🇺🇦 — ready",
     "greeting": "Hi 👋", "body": "Party 🥳 time: 𝄞 𠜎 😀",
     "note_name": "🎁 gift 📎.txt", "blob_name": "🗜 data.bin"},
    # specials in a non-ASCII display name: still one mailbox
    {"sender": "Acme, Inc. (billing)", "name": "Петров, Иван (CEO)", "email": "ivan.petrov@example.com",
     "subject": "Price =?UTF-8?B?SGFjaw==?= today; trailing   ",
     "greeting": "Hello", "body": "a line with = and trailing blanks   ",
     "note_name": "a;b\"c\\d=?x?=.txt", "blob_name": "plain.bin"},
    # long single-line values: ASCII only (too long for 7bit), and mixed
    {"sender": "Acme", "name": "Long ASCII", "email": "long1@example.com",
     "subject": "Long " + " ".join(["word%03d" % i for i in range(150)]),
     "greeting": "Hello", "body": "A" * 3000,
     "note_name": "n" * 200 + ".txt", "blob_name": "b.bin"},
    {"sender": "Acme", "name": "Длинный 😀", "email": "long2@example.com",
     "subject": " ".join(["очень"] * 60) + " длинная тема 🎉",
     "greeting": "Привет", "body": "жё😀 a=b " * 700,
     "note_name": "Отчёт.txt", "blob_name": "b.bin"},
    # a long non-ASCII file name: RFC 2231 continuations, folded
    {"sender": "Acme", "name": "Name", "email": "long3@example.com",
     "subject": "Long file name", "greeting": "Hello", "body": "see the attachment",
     "note_name": "Отчёт " * 40 + "📎.txt", "blob_name": "b.bin"},
]
with open("mime/rows.jsonl", "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
EOF

NROWS=7
# A part's last line break belongs to the boundary that follows it (RFC 2046
# 5.1.1), so the decoded text ends where the template's part text does.
EXPR='{
  "subject": r["subject"].strip(),
  "from": [[r["sender"], "noreply@acme.example"]],
  "to": [[r["name"], r["email"]]],
  "absent_headers": ["Bcc", "Herald-Attach"],
  "raw_absent": ["audit@acme.example"],
  "structure": ["multipart/mixed", "multipart/alternative", "text/plain",
    "text/html", "text/plain", "application/octet-stream"],
  "message_id_re": "<[0-9a-f]{32}@acme\\.example>",
  "text": "%s, %s!\n%s" % (r["greeting"], r["name"], r["body"]),
  "html": "<p>%s, <b>%s</b>!</p>\n<p>%s</p>" % (r["greeting"],
    html.escape(r["name"]), html.escape(r["body"])),
  "attachments": [
    {"filename": r["note_name"], "content_type": "text/plain",
     "file": "mime/files/note.txt"},
    {"filename": r["blob_name"], "content_type": "application/octet-stream",
     "file": "mime/files/blob.bin"}]}'
for i in $(seq 1 $NROWS); do
  set +e
  "$HERALD" render -t mime/mime.eml --row "$i" mime/rows.jsonl >m$i.eml 2>m$i.env
  rc=$?
  set -e
  expect_eq "$rc" 0 "row $i: render exits 0"
  if [ "$rc" -ne 0 ]; then cat m$i.env; continue; fi
  pycheck eml "row $i" m$i.eml <<<"$(rowspec mime/rows.jsonl "$i" "$EXPR")"
  # Bcc: in the envelope, after To
  expect_eq "$(cat m$i.env)" "$(printf 'MAIL FROM:<noreply@acme.example>\nRCPT TO:<%s>\nRCPT TO:<audit@acme.example>' \
    "$(sed -n "${i}p" mime/rows.jsonl | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["email"])')")" \
    "row $i: envelope has To and Bcc"
done

# the encoded forms: non-ASCII never goes out raw, long values are cut up
expect_match "$(grep -c '^Subject: =?UTF-8?' m1.eml)" '^1$' "row 1: Subject is an encoded-word"
expect_match "$(sed -n '/^Subject:/,/^[A-Z]/p' m6.eml | grep -c '^ =?UTF-8?')" '^[1-9]' "row 6: long Subject folded into several encoded-words"
expect_match "$(grep -c 'filename\*[0-9]*\*=' m7.eml)" '^[1-9]' "row 7: long file name as RFC 2231 continuations"
pycheck eml "row 5 (3000 octets on one line)" m5.eml <<'SPEC'
{"cte": {"text/plain": "quoted-printable", "text/html": "quoted-printable"}}
SPEC
pycheck eml "row 6 (one long mixed line)" m6.eml <<'SPEC'
{"cte": {"text/plain": "quoted-printable", "text/html": "quoted-printable"}}
SPEC
pycheck eml "row 4 (=? and trailing blanks)" m4.eml <<'SPEC'
{"subject": "Price =?UTF-8?B?SGFjaw==?= today; trailing",
 "to": [["Петров, Иван (CEO)", "ivan.petrov@example.com"]],
 "from": [["Acme, Inc. (billing)", "noreply@acme.example"]],
 "cte": {"text/plain": "quoted-printable"}}
SPEC
expect_eq "$(grep -c '^RCPT TO:' m4.env)" 2 "row 4: a comma in a display name adds no recipient"

# --- a body line longer than 998 octets also goes out quoted-printable
#     in a single-part message (no --- text --- marker)
printf 'From: a@acme.example\nTo: {{email}}\nSubject: long\n\n{{body}}\n' >single.eml
"$PYTHON" -c 'import json; print(json.dumps({"email": "x@example.com", "body": "B" * 5000}))' >single.jsonl
set +e; "$HERALD" render -t single.eml --row 1 single.jsonl >single.out 2>/dev/null; rc=$?; set -e
expect_eq "$rc" 0 "single part, 5000-octet line: render exits 0"
pycheck eml "single part long line" single.out <<<"$("$PYTHON" -c 'import json; print(json.dumps({"structure": ["text/plain"], "text": "B" * 5000 + "\n", "cte": {"text/plain": "quoted-printable"}, "min_longest_line": 70}))')"

# --- a word that cannot be folded to fit (1200 octets, no blank): encoded
#     so that every line fits, or refused with a message that says why
"$PYTHON" -c 'import json; print(json.dumps({"email": "x@example.com", "body": "b", "subject": "x" * 1200}))' >word.jsonl
printf 'From: a@acme.example\nTo: {{email}}\nSubject: {{subject}}\n\n{{body}}\n' >word.eml
rm -rf ob
run_herald send -t word.eml --outbox ob word.jsonl
if [ "$rc" -eq 0 ]; then
  ok "1200-octet word in Subject: sent"
  pycheck eml "1200-octet word" ob/000001.eml <<<"$("$PYTHON" -c 'import json; print(json.dumps({"subject": "x" * 1200}))')"
else
  expect_eq "$rc" 65 "1200-octet word in Subject: refused with exit 65"
  expect_eq "$(count_files ob)" 0 "1200-octet word in Subject: nothing sent"
  expect_match "$err" "word.jsonl:1: row 1: field 'Subject'.*\(template .*word.eml:3\)" "1200-octet word: the error names template line and field"
  # herald must say what is wrong, not "success" (see the report)
  if grep -q ': success' <<<"$err"; then bad "1200-octet word: the error says '$err'"; else ok "1200-octet word: the error says why"; fi
fi

# --- Message-ID: stable for a campaign and key, different otherwise
mid() { # ROW CAMPAIGN
  "$HERALD" render -t mime/mime.eml --campaign "$2" --row "$1" mime/rows.jsonl 2>/dev/null |
    tr -d '\r' | sed -n 's/^Message-ID: //p'
}
m1=$(mid 1 spring)
expect_match "$m1" '^<[0-9a-f]{32}@acme\.example>$' "Message-ID: <32 hex digits @ the From domain>"
expect_eq "$(mid 1 spring)" "$m1" "Message-ID: same campaign and key, same id"
m2=$(mid 2 spring)
[ -n "$m2" ] && [ "$m1" != "$m2" ] && ok "Message-ID: another key, another id" || bad "Message-ID: rows 1 and 2: '$m1' '$m2'"
m3=$(mid 1 autumn)
[ -n "$m3" ] && [ "$m1" != "$m3" ] && ok "Message-ID: another campaign, another id" || bad "Message-ID: campaigns: '$m1' '$m3'"
# the key, not the row position, decides: the same recipient moved to row 2
{ sed -n 2p mime/rows.jsonl; sed -n 1p mime/rows.jsonl; } >swapped.jsonl
m1b=$("$HERALD" render -t mime/mime.eml --campaign spring --row 2 swapped.jsonl 2>/dev/null | tr -d '\r' | sed -n 's/^Message-ID: //p')
expect_eq "$m1b" "$m1" "Message-ID: follows the recipient key, not the row number"
# send with the campaign writes the same id, and reports it
rm -rf ob
head -6 mime/rows.jsonl >six.jsonl
run_herald send -t mime/mime.eml --campaign spring --outbox ob -o rep.jsonl six.jsonl
expect_eq "$rc" 0 "send --outbox: exit 0"
expect_eq "$(count_files ob)" 6 "send --outbox: one file per row"
expect_eq "$(tr -d '\r' <ob/000001.eml | sed -n 's/^Message-ID: //p')" "$m1" "send: the outbox has render's Message-ID"
expect_eq "$(jrows rep.jsonl '[r["message_id"] for r in rows if r["row"] == 1][0]')" "$m1" "send: the report has the Message-ID"
for f in ob/*.eml; do
  if grep -q 'audit@acme.example' "$f"; then bad "$f: Bcc written into the message"; else ok "$f: Bcc not in the message"; fi
done

finish
