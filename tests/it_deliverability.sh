#!/usr/bin/env bash
# Mail that arrives, as a receiver checks it: messages of many shapes sent
# over SMTP to a real server (python3-aiosmtpd) with --dkim rsa, ed25519
# and both, each received message verified by an independent verifier
# (dkimpy, tests/dkim_check.py; public keys through its dnsfunc, no DNS),
# also after what a relay does and never after tampering; the signed bytes
# are what the outbox and herald render show; --dkim-omit; keys readable
# by others refused; --envelope-from sets MAIL FROM (VERP) apart from From:;
# List-Unsubscribe unfolded with List-Unsubscribe-Post, both signed.
set -e
. "$(dirname "$0")/lib/it.sh"
if ! "$PYTHON" -c 'import dkim, nacl' 2>/dev/null; then
  echo "SKIPPED: python3-dkim and python3-nacl are needed (apt-get install python3-dkim python3-nacl)" >&2
  exit 77
fi
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
export SOURCE_DATE_EPOCH=1767225600 # fixed Date and t=: byte comparisons
CHECK=$SRC/tests/dkim_check.py

# --- keys, made now (never committed), and their DNS records
umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
openssl genpkey -algorithm ED25519 -out ed.pem 2>/dev/null
"$PYTHON" "$CHECK" keys dns.json s2026._domainkey.acme.example=rsa.pem e2026._domainkey.acme.example=ed.pem
umask 022
RSA=rsa:s2026:acme.example:rsa.pem
ED=ed25519:e2026:acme.example:ed.pem

# --- messages of many shapes
mkdir -p t/files
cat >t/plain.eml <<'EOF'
From: Acme <news@acme.example>
To: {{name}} <{{email}}>
Subject: {{subject}}
List-Unsubscribe: <https://acme.example/u/{{unsubscribe.token}}>, <mailto:unsubscribe@acme.example?subject=unsubscribe%20{{email}}>
Feedback-ID: spring:newsletter:acme

Hello {{name}},
.a line starting with a dot
..two dots
trailing blanks here   	
{{body}}

  indented, then blank lines at the end


EOF
cat >t/alt.eml <<'EOF'
From: Acme <news@acme.example>
To: {{name}} <{{email}}>
Reply-To: help@acme.example
Subject: {{subject}}

--- text ---
Hello {{name}}, {{body}}
--- html ---
<p>Hello <b>{{name}}</b>,</p>
<p>{{body}}</p>
EOF
cat >t/attach.eml <<'EOF'
From: Acme <billing@acme.example>
To: {{name}} <{{email}}>
Cc: archive@acme.example
Subject: {{subject}}
Herald-Attach: files/blob.bin; filename=données {{name}}.bin
Herald-Attach: files/note.txt

--- text ---
Your documents, {{name}}.
--- html ---
<p>Your documents, {{name}}.</p>
EOF
"$PYTHON" -c 'import sys; open(sys.argv[1], "wb").write(bytes(range(256)) * 40)' t/files/blob.bin
printf 'Примечание: оплата до 1 декабря. 注意 🧾\n.dot\n' >t/files/note.txt
"$PYTHON" - <<'EOF'
import json
rows = [
    {"email": "ann@example.com", "name": "Ann", "subject": "Plain news",
     "body": "short"},
    {"email": "ivan@example.com", "name": "Иван Петров",
     "subject": "Ваш счёт №42 готов — спасибо, что вы с нами, это длинная тема",
     "body": "Сумма к оплате: 1 500 ₽. " * 60},
    {"email": "zoe@example.org", "name": "Zoë 🎉",
     "subject": "🎉 " + "a long subject " * 12,
     "body": "x" * 3000},
    {"email": "taro@example.jp", "name": "山田 太郎", "subject": "ご注文",
     "body": "   leading blanks and\ttabs\t\tinside   and trailing   "},
]
with open("rows.jsonl", "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
EOF
head -c 32 /dev/urandom | base64 >unsub.secret
chmod 600 unsub.secret
COMMON=(--unsubscribe-secret-file unsub.secret --campaign spring)

# --- every shape, every key choice, through a real SMTP server
smtp_start dkim
n=0
for shape in plain alt attach; do
  for keys in rsa ed both; do
    case $keys in
      rsa) args=(--dkim "$RSA"); nsig=1 ;;
      ed) args=(--dkim "$ED"); nsig=1 ;;
      both) args=(--dkim "$RSA" --dkim "$ED"); nsig=2 ;;
    esac
    before=$(smtp_stat dkim messages)
    run_herald send -t "t/$shape.eml" --smtp "smtp://127.0.0.1:$SMTP_PORT" "${args[@]}" "${COMMON[@]}" -o "r-$shape-$keys.jsonl" rows.jsonl
    expect_eq "$rc" 0 "$shape/$keys: sent, exit 0"
    after=$(smtp_stat dkim messages)
    expect_eq "$((after - before))" 4 "$shape/$keys: the server received 4 messages"
    files=()
    for i in $(seq $((before + 1)) "$after"); do files+=("$(printf 'dkim.spool/%06d.eml' "$i")"); done
    pyrun "$CHECK" verify "$shape/$keys" dns.json "$nsig" "${files[@]}"
    pyrun "$CHECK" relay "$shape/$keys" dns.json "${files[@]}"
    pyrun "$CHECK" tamper "$shape/$keys" dns.json "${files[@]}"
    n=$after
  done
done
expect_eq "$n" 36 "36 signed messages received in all"

# the received bytes are what the outbox and herald render show
run_herald send -t t/attach.eml --outbox ob --dkim "$RSA" --dkim "$ED" "${COMMON[@]}" rows.jsonl
expect_eq "$rc" 0 "outbox with both keys: exit 0"
same=0
for i in 1 2 3 4; do
  # attach/both were messages 33..36, in row order per recipient
  want=$(grep -l "^To: .*$(jrows rows.jsonl "rows[$((i - 1))]['email']")" dkim.spool/0000{33,34,35,36}.eml | head -1)
  cmp -s "ob/$(printf '%06d' "$i").eml" "$want" && same=$((same + 1))
done
expect_eq "$same" 4 "the outbox holds the bytes the server received, signatures included"
run_herald render -t t/attach.eml --row 2 --dkim "$RSA" --dkim "$ED" "${COMMON[@]}" rows.jsonl
printf '%s' "$out" >render.eml
if cmp -s <(head -c "$(stat -c %s render.eml)" ob/000002.eml) render.eml; then ok "herald render prints the signed message"; else bad "render differs from the outbox"; fi
expect_match "$out" "^DKIM-Signature: v=1; a=rsa-sha256;" "render starts with the signatures"
run_herald send -n -t t/attach.eml --dkim "$RSA" "${COMMON[@]}" -o dry.jsonl rows.jsonl
expect_eq "$rc" 0 "a dry run signs too (exit 0)"

# List-Unsubscribe: one unfolded line, one-click, both signed
m=dkim.spool/000001.eml
expect_eq "$(grep -c '^List-Unsubscribe: <https://acme.example/u/u1\.[A-Za-z0-9_.-]*>, <mailto:unsubscribe@acme.example?subject=unsubscribe%20[a-z]*%40example\.[a-z]*>.$' "$m")" 1 "List-Unsubscribe is one unfolded line"
expect_eq "$(grep -c '^List-Unsubscribe-Post: List-Unsubscribe=One-Click.$' "$m")" 1 "List-Unsubscribe-Post is added for the https URI"
expect_match "$(tr -d '\r\n\t ' <"$m" | grep -o 'h=[^;]*' | head -1)" "list-unsubscribe:list-unsubscribe-post:feedback-id:from:subject$" "h= covers both, Feedback-ID, and oversigns From and Subject"

# --- --dkim-omit Message-ID: a relay that rewrites it (Amazon SES does)
before=$(smtp_stat dkim messages)
run_herald send -t t/plain.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --dkim "$ED" --dkim-omit Message-ID "${COMMON[@]}" rows.jsonl
expect_eq "$rc" 0 "--dkim-omit Message-ID: exit 0"
f=$(printf 'dkim.spool/%06d.eml' $((before + 1)))
sed 's/^Message-ID: <[^@]*@/Message-ID: <rewritten-by-ses@/' "$f" >ses.eml
expect_match "$(grep -c '^Message-ID: <rewritten-by-ses@' ses.eml)" "^1$" "the relay's Message-ID is in place"
pyrun "$CHECK" verify "omit Message-ID" dns.json 1 ses.eml
pyrun "$CHECK" verify "signed Message-ID" dns.json 2 "$(printf 'dkim.spool/%06d.eml' 36)"
sed 's/^Message-ID: <[^@]*@/Message-ID: <rewritten-by-ses@/' "$(printf 'dkim.spool/%06d.eml' 36)" >ses2.eml
if "$PYTHON" "$CHECK" verify "x" dns.json 2 ses2.eml >/dev/null 2>&1; then bad "a rewritten signed Message-ID still verified"; else ok "without --dkim-omit a rewritten Message-ID breaks the signature"; fi

# --- refusals: nothing sent
chmod 644 rsa.pem
before=$(smtp_stat dkim messages)
run_herald send -t t/plain.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --dkim "$RSA" "${COMMON[@]}" -o refused.jsonl rows.jsonl
expect_eq "$rc" 78 "a key readable by others: exit 78"
expect_match "$err" "rsa.pem.*readable or writable by others" "says which file and why"
case "$err" in *PRIVATE*|*MII*) bad "key material in the error";; *) ok "no key material in the error";; esac
expect_eq "$(smtp_stat dkim messages)" "$before" "nothing was sent"
chmod 600 rsa.pem
run_herald send -t t/plain.eml --dkim "rsa:s2026:acme.example" "${COMMON[@]}" rows.jsonl
expect_eq "$rc" 64 "a malformed --dkim: exit 64"
run_herald send -t t/plain.eml --dkim "$RSA" --dkim-omit From "${COMMON[@]}" rows.jsonl
expect_eq "$rc" 64 "--dkim-omit From: exit 64"
run_herald send -t t/plain.eml --dkim "$ED" rows.jsonl
expect_eq "$rc" 64 "{{unsubscribe.token}} without a secret: exit 64"
expect_eq "$(grep -c 'unsubscribe-secret-file' <<<"$err")" 1 "one line says so"
smtp_stop dkim

# --- --envelope-from: MAIL FROM apart from From:, VERP-encoded key
smtp_start verp
run_herald send -t t/plain.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --envelope-from 'bounces+{{key}}@bounce.acme.example' --dkim "$ED" "${COMMON[@]}" -o verp.jsonl rows.jsonl
expect_eq "$rc" 0 "--envelope-from: exit 0"
expect_eq "$("$PYTHON" -c 'import glob, json; print(sorted(json.load(open(f))["mail_from"] for f in glob.glob("verp.spool/*.json")))')" \
  "['bounces+ann=example.com@bounce.acme.example', 'bounces+ivan=example.com@bounce.acme.example', 'bounces+taro=example.jp@bounce.acme.example', 'bounces+zoe=example.org@bounce.acme.example']" \
  "MAIL FROM is the VERP address of each recipient"
expect_eq "$(grep -h '^From:' verp.spool/*.eml | sort -u)" "From: Acme <news@acme.example>"$'\r' "From: is unchanged"
pyrun "$CHECK" verify "envelope-from" dns.json 1 verp.spool/*.eml
# data cannot break the address
printf '{"email":"x@example.com","name":"X","subject":"s","body":"b","id":"a>b, <evil@evil.example"}\n' >evil.jsonl
run_herald render -t t/plain.eml --row 1 --key-field id --envelope-from 'b+{{key}}@acme.example' "${COMMON[@]}" evil.jsonl
expect_eq "$rc" 0 "a hostile key renders"
expect_match "$err" "^MAIL FROM:<b\+a\+3Eb\+2C\+20\+3Cevil=evil\.example@acme\.example>" "and stays one address in MAIL FROM"
run_herald render -t t/plain.eml --row 1 --envelope-from '{{email}}@acme.example' "${COMMON[@]}" rows.jsonl
expect_eq "$rc" 64 "--envelope-from with a record field: exit 64"
expect_match "$err" "\{\{key\}\} and \{\{id\}\}" "says what it may use"
smtp_stop verp

finish
