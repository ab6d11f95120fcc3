#!/usr/bin/env bash
# herald unsubscribe-server as a mail provider and a recipient use it,
# with curl as the client: the RFC 8058 one-click POST (urlencoded and
# multipart) suppresses exactly that recipient, synced to the file; a GET
# shows a confirm page and suppresses nobody; forged, altered and foreign
# tokens get 400 and change nothing; wrong bodies, methods and sizes are
# refused; the same through the README's TLS reverse proxy (a real nginx);
# the server refuses a secret others can read and stops cleanly on SIGTERM
# and SIGINT.
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/unsub.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl is not installed" >&2; exit 77; }
cd "$TMP"

unsub_fixture
head -c 32 /dev/urandom | base64 >other.secret
chmod 600 other.secret
printf 'email,name\nann@example.com,Ann\nbob@example.com,Bob\ncarol@example.com,Carol\n"dave@example.com",Dave <script>\n' >list.csv
UNSUB_TEMPLATE=u.eml UNSUB_ROWS=list.csv UNSUB_CAMPAIGN=spring UNSUB_SECRET=secret
ann=$(unsub_token 1); bob=$(unsub_token 2); carol=$(unsub_token 3)
expect_match "$ann" '^u1\.' "herald render gives the token"
foreign=$(UNSUB_SECRET=other.secret unsub_token 1)
: >supp.txt
unsub_start srv secret supp.txt
expect_match "$(cat srv.log)" "listening on http://127.0.0.1:[0-9]+/" "the server says where it listens"

# code METHOD URL [curl args...]: prints the HTTP status, the body in body.html
code() { local m=$1 u=$2; shift 2; curl -s -o body.html -w '%{http_code}' -X "$m" "$@" "$u"; }

# --- a GET shows the confirm page and changes nothing
expect_eq "$(code GET "$UNSUB_URL/u/$ann")" 200 "GET with a valid token: 200"
expect_match "$(cat body.html)" '<form method="post">' "the page has a POST form"
expect_match "$(cat body.html)" 'name="List-Unsubscribe" value="One-Click"' "whose field is the one-click one"
expect_match "$(cat body.html)" 'ann@example.com' "the page names the recipient"
expect_eq "$(code HEAD "$UNSUB_URL/u/$ann" -I)" 200 "HEAD: 200"
expect_eq "$(cat supp.txt)" "" "GET and HEAD suppress nobody"
headers=$(curl -s -D - -o /dev/null "$UNSUB_URL/u/$ann")
expect_match "$headers" "Cache-Control: no-store" "the page is not cached"
expect_match "$headers" "Content-Security-Policy: default-src 'none'" "and has a strict CSP"

# --- the RFC 8058 one-click POST, as providers send it
expect_eq "$(code POST "$UNSUB_URL/u/$ann" -H 'Content-Type: application/x-www-form-urlencoded' --data 'List-Unsubscribe=One-Click')" 200 "one-click POST: 200"
expect_eq "$(cat supp.txt)" "ann@example.com" "exactly that recipient is appended"
expect_match "$(cat srv.log)" "unsubscribed ann@example.com \(campaign spring\)" "the server logs it"
# multipart/form-data is allowed too; a proxy prefix does not matter
expect_eq "$(code POST "$UNSUB_URL/lists/x/$bob" -F 'List-Unsubscribe=One-Click')" 200 "multipart POST under another prefix: 200"
expect_eq "$(cat supp.txt)" "ann@example.com"$'\n'"bob@example.com" "bob appended, ann kept"
# a second click appends again, harmlessly
expect_eq "$(code POST "$UNSUB_URL/u/$ann" --data 'List-Unsubscribe=One-Click')" 200 "a repeated POST: 200"

# --- refused: nothing changes
before=$(cat supp.txt)
altered=${carol%?}A; [ "$altered" = "$carol" ] && altered=${carol%?}B
forged_key=$(printf 'u1.%s.%s.%s' "$(printf spring | base64 | tr '+/' '-_' | tr -d '=')" "$(printf 'mallory@example.com' | base64 | tr '+/' '-_' | tr -d '=')" "${carol##*.}")
for t in "$altered" "$forged_key" "$foreign" "u1.x.y.z" "garbage" ""; do
  expect_eq "$(code POST "$UNSUB_URL/u/$t" --data 'List-Unsubscribe=One-Click')" 400 "POST with a bad token '${t:0:20}': 400"
  expect_eq "$(code GET "$UNSUB_URL/u/$t")" 400 "GET with a bad token '${t:0:20}': 400"
done
expect_match "$(cat body.html)" "not valid" "the 400 page says the link is not valid"
expect_eq "$(code POST "$UNSUB_URL/u/$carol")" 400 "POST without the one-click body: 400"
expect_eq "$(code POST "$UNSUB_URL/u/$carol" --data 'List-Unsubscribe=Two-Clicks')" 400 "POST with another body: 400"
expect_eq "$(code PUT "$UNSUB_URL/u/$carol" --data 'List-Unsubscribe=One-Click')" 405 "PUT: 405"
head -c 10000 /dev/zero | tr '\0' 'a' >big.txt
expect_eq "$(code POST "$UNSUB_URL/u/$carol" --data-binary @big.txt)" 413 "a 10 kB body: 413"
expect_eq "$(cat supp.txt)" "$before" "no refused request changed the file"

# --- recipient data is escaped on the page
dave=$("$HERALD" render -t u.eml --row 4 --key-field name --campaign spring --unsubscribe-secret-file secret list.csv 2>/dev/null | grep -o 'u1\.[A-Za-z0-9_.-]*' | head -1)
expect_eq "$(code GET "$UNSUB_URL/u/$dave")" 200 "GET for the key 'Dave <script>': 200"
case "$(cat body.html)" in *"<script>"*) bad "markup from a key reached the page";; *) ok "the page does not hold the markup";; esac
expect_match "$(cat body.html)" "Dave &lt;script&gt;" "it shows the key escaped"

# --- the file is what the send side reads
expect_eq "$(sort -u supp.txt)" "ann@example.com"$'\n'"bob@example.com" "the suppression list holds ann and bob"

# --- behind the README's TLS reverse proxy (nginx), as deployed
NGINX=${NGINX:-/usr/sbin/nginx}
if [ -x "$NGINX" ]; then
  sh "$SRC/tests/servers/make_certs.sh" certs >/dev/null 2>&1
  nginx_start --conf "$SRC/tests/servers/nginx-unsubscribe.conf.in" \
    --set "CERTS=$TMP/certs" --set "UPSTREAM=${UNSUB_URL#http://}"
  PROXY="https://localhost:$P"
  pcode() { local m=$1 u=$2; shift 2; curl -s --cacert certs/ca.pem -o body.html -w '%{http_code}' -X "$m" "$@" "$u"; }
  expect_eq "$(pcode GET "$PROXY/u/$carol")" 200 "through the TLS proxy: GET 200"
  expect_eq "$(grep -c carol supp.txt)" 0 "and carol is not suppressed by it"
  expect_eq "$(pcode POST "$PROXY/u/$carol" --data 'List-Unsubscribe=One-Click')" 200 "through the TLS proxy: one-click POST 200"
  expect_eq "$(tail -1 supp.txt)" "carol@example.com" "carol appended"
  expect_eq "$(pcode POST "$PROXY/u/$altered" --data 'List-Unsubscribe=One-Click')" 400 "a bad token through the proxy: 400"
  expect_eq "$(pcode DELETE "$PROXY/u/$carol")" 403 "other methods stop at the proxy"
  nginx_stop
else
  echo "SKIPPED (part): $NGINX not found, the TLS proxy is not tried" >&2
fi

# --- the next send skips whom the server suppressed
cp supp.txt supp-now.txt
run_herald send -t u.eml --unsubscribe-secret-file secret --campaign spring --suppress supp-now.txt --outbox ob -o next.jsonl list.csv
expect_eq "$rc" 0 "the next send: exit 0"
# (ann and bob, and carol when the proxy part ran)
want=$(sort -u supp-now.txt | "$PYTHON" -c 'import sys; print([(k.strip(), "skipped", "suppressed (supp-now.txt)") for k in sys.stdin])')
nsupp=$(sort -u supp-now.txt | wc -l | tr -d ' ')
expect_eq "$(jrows next.jsonl 'sorted((r["key"], r["status"], r["error"]) for r in rows if r["status"] == "skipped")')" "$want" "the next send skips exactly the suppressed ($nsupp)"
expect_eq "$(jrows next.jsonl 'sum(r["status"] == "sent" for r in rows)')" $((4 - nsupp)) "and sends the others"
expect_eq "$(ls ob | wc -l | tr -d ' ')" $((4 - nsupp)) "their messages in the outbox"
# an address in another case is the same person
printf 'email,name\nANN@Example.COM,Ann\n' >ann-upper.csv
run_herald send -t u.eml --unsubscribe-secret-file secret --campaign spring --suppress supp-now.txt --outbox ob2 -o up.jsonl ann-upper.csv
expect_eq "$(jrows up.jsonl 'rows[0]["status"]')" skipped "ANN@Example.COM is suppressed too"
run_herald send -t u.eml --unsubscribe-secret-file secret --suppress no-such-list.txt --outbox ob3 -o none.jsonl list.csv
expect_eq "$rc" 66 "a missing suppression list: exit 66, nobody written to"
expect_eq "$(ls ob3 2>/dev/null | wc -l | tr -d ' ')" 0 "a missing suppression list: nothing sent"

# --- --suppress-add: an address the server says does not exist goes on it
. "$SRC/tests/lib/smtp.sh"
smtp_start gone --reject-rcpt '^carol@:550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown' --reject-rcpt '^dave@:550 5.7.1 Rejected for policy reasons'
: >bounced.txt
run_herald send -t u.eml --unsubscribe-secret-file secret --smtp "smtp://127.0.0.1:$SMTP_PORT" --suppress-add bounced.txt -o gone.jsonl list.csv
expect_eq "$rc" 1 "--suppress-add: exit 1 (two failed)"
expect_eq "$(cat bounced.txt)" "carol@example.com" "--suppress-add: the unknown user is added, the policy refusal is not"
run_herald send -t u.eml --unsubscribe-secret-file secret --smtp "smtp://127.0.0.1:$SMTP_PORT" --suppress bounced.txt -o gone2.jsonl list.csv
expect_eq "$(jrows gone2.jsonl '[r["status"] for r in rows if r["key"] == "carol@example.com"][0]')" skipped "the next run does not try carol again"
smtp_stop gone

# --- stops cleanly on SIGTERM and SIGINT
unsub_stop srv
expect_eq "$unsub_rc" 0 "SIGTERM: exit 0"
expect_match "$(tail -1 srv.log)" "stopped" "says it stopped"
unsub_start srv2 secret supp.txt
kill -INT "$(cat srv2.pid)"
set +e; wait "$(cat srv2.pid)"; rc=$?; set -e
expect_eq "$rc" 0 "SIGINT: exit 0"
if curl -s -o /dev/null "$UNSUB_URL/u/$ann"; then bad "still answering after SIGINT"; else ok "no longer listening"; fi

# --- refusals at start
chmod 644 secret
run_herald unsubscribe-server --listen 127.0.0.1:0 --secret-file secret --suppress supp.txt
expect_eq "$rc" 78 "a secret readable by others: exit 78"
expect_match "$err" "readable or writable by others" "says why"
chmod 600 secret
run_herald unsubscribe-server --listen 127.0.0.1:0 --secret-file nope --suppress supp.txt
expect_eq "$rc" 66 "a missing secret: exit 66"
run_herald unsubscribe-server --listen nowhere --secret-file secret --suppress supp.txt
expect_eq "$rc" 64 "a malformed --listen: exit 64"
run_herald unsubscribe-server --listen 127.0.0.1:0 --secret-file secret --suppress /nonexistent/dir/supp.txt
expect_eq "$rc" 73 "a suppression list that cannot be created: exit 73"
run_herald unsubscribe-server --listen 127.0.0.1:0 --secret-file secret
expect_eq "$rc" 64 "--suppress missing: exit 64"

finish
