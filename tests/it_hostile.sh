#!/usr/bin/env bash
# Hostile recipient data never changes the structure of what is sent.
# Templates are trusted, rows are not: whatever a value holds, it stays data
# in the place the template put it.  Each case renders or sends with the real
# binary and parses the result as a receiver would (tests/mime_check.py):
#   - CR, LF or CRLF in any header value (.eml Subject, To/From/Reply-To
#     names, a custom header; .http headers, env values): the row is invalid,
#     exit 65, nothing sent; with --skip-invalid only the other rows go
#   - RFC 5322 specials in display names: one mailbox, the name kept as text
#   - quotes, backslashes, controls in JSON values: the body parses, the
#     value round-trips; the same for form bodies
#   - & # ? / .. space % in URL parts: the template's path segments and
#     query keys, the value decoded back exactly
#   - <script> and "'& in HTML: escaped, html.unescape gives the text back
#   - invalid UTF-8: refused, exit 65, nothing sent
#   - a body holding the MIME boundary, attachment paths leaving the folder
set -e
. "$(dirname "$0")/lib/it.sh"
cd "$TMP"

# jsonl FILE PYTHON-LIST: writes the rows (a Python expression) as JSON Lines
jsonl() {
  "$PYTHON" -c 'import json, sys
rows = eval(sys.argv[2])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")' "$@"
}
# refused NAME TEMPLATE DATA [ARGS]: the whole run refused, nothing sent
refused() {
  local name=$1 tmpl=$2 data=$3; shift 3
  rm -rf ob rep.jsonl
  run_herald send -t "$tmpl" --outbox ob -o rep.jsonl "$@" "$data"
  expect_eq "$rc" 65 "$name: exit 65"
  expect_eq "$(count_files ob)" 0 "$name: nothing sent"
}

mkdir -p h
cat >h/hdr.eml <<'EOF'
From: {{from_name}} <noreply@acme.example>
To: {{name}} <{{email}}>
Reply-To: {{reply_name}} <support@acme.example>
Subject: Note {{subject}}
X-Customer-Ref: {{ref}}

Hello {{name}}
EOF
GOOD='{"from_name": "Acme", "name": "Ann", "email": "ann@example.com", "reply_name": "Support", "subject": "s", "ref": "r1"}'

# --- CR, LF, CRLF in every .eml header field: row invalid, never a header
for field in subject name from_name reply_name ref; do
  for brk in CRLF LF CR; do
    case $brk in CRLF) b='\r\n' ;; LF) b='\n' ;; CR) b='\r' ;; esac
    jsonl inj.jsonl "[$GOOD, dict($GOOD, email='bob@example.org', $field='x$b' + 'Bcc: victim@evil.example$b' + 'X-Injected: 1')]"
    c="$field with $brk"
    refused "$c" h/hdr.eml inj.jsonl
    expect_match "$err" "inj.jsonl:2: row 2: field '$field'.*\(template .*hdr.eml:[0-9]+\)" "$c: the error names row and field"
    expect_eq "$(jrows rep.jsonl 'sorted((r["row"], r["status"]) for r in rows)')" "[(1, 'not-attempted'), (2, 'invalid')]" "$c: reported invalid"
    rm -rf ob
    run_herald send -t h/hdr.eml --skip-invalid --outbox ob inj.jsonl
    expect_eq "$rc" 1 "$c: --skip-invalid exits 1"
    expect_eq "$(count_files ob)" 1 "$c: --skip-invalid sends the good row only"
    expect_eq "$(cat ob/* | grep -ci -e 'victim@evil' -e 'X-Injected' || true)" 0 "$c: nothing of the value is sent"
  done
done
# the same from CSV (quoted fields may hold line breaks)
for brk in CRLF LF CR; do
  case $brk in CRLF) b='\r\n' ;; LF) b='\n' ;; CR) b='\r' ;; esac
  printf "from_name,name,email,reply_name,subject,ref\nAcme,Ann,ann@example.com,S,s,r\nAcme,\"Bob${b}Bcc: victim@evil.example\",bob@example.org,S,s,r\n" >inj.csv
  refused "CSV name with $brk" h/hdr.eml inj.csv
  expect_match "$err" "row 2: field 'name'" "CSV name with $brk: the error names the field"
done
# other control characters in a header value: refused too (TAB is a blank)
for ctl in '\u0000x' '\u001b[31m' '\u0007' '\u007f' '\u000b' '\u000c'; do
  jsonl inj.jsonl "[dict($GOOD, subject='a${ctl}b')]"
  refused "Subject with $ctl" h/hdr.eml inj.jsonl
done
# {{{raw}}} never opts out of the CR/LF check
printf 'From: a@acme.example\nTo: {{email}}\nSubject: {{{subject}}}\nX-Raw: {{{ref}}}\n\nbody\n' >h/raw.eml
for field in subject ref; do
  jsonl inj.jsonl "[dict($GOOD, $field='x\r\nBcc: victim@evil.example')]"
  refused "raw {{{$field}}} with CRLF" h/raw.eml inj.jsonl
done
# line separators that are not CR or LF are data: encoded, decoded back
jsonl inj.jsonl "[dict($GOOD, subject='a\u2028b\u2029c\u0085d')]"
set +e; "$HERALD" render -t h/hdr.eml --row 1 inj.jsonl >u.eml 2>/dev/null; rc=$?; set -e
expect_eq "$rc" 0 "U+2028 U+2029 U+0085 in Subject: rendered"
pycheck eml "U+2028 U+2029 U+0085 in Subject" u.eml <<<"$(rowspec inj.jsonl 1 '{"subject": "Note " + r["subject"], "headers": {"X-Customer-Ref": "r1"}, "absent_headers": ["Bcc"]}')"

# --- .http headers and env values
cat >h/hdr.http <<'EOF'
POST https://api.example/v1/notify
Content-Type: application/json
X-Customer-Ref: {{ref}}
X-Raw: {{{raw?}}}
Authorization: Bearer {{env.HOSTILE_TOKEN}}

{"ref": "{{ref}}"}
EOF
export HOSTILE_TOKEN=tok_ok
for field in ref raw; do
  for brk in CRLF LF CR; do
    case $brk in CRLF) b='\r\n' ;; LF) b='\n' ;; CR) b='\r' ;; esac
    jsonl inj.jsonl "[{'ref': 'a'}, {'ref': 'b', '$field': 'x$b' + 'X-Injected: 1'}]"
    refused ".http $field with $brk" h/hdr.http inj.jsonl --env HOSTILE_TOKEN
    expect_match "$err" "row 2: field '$field'" ".http $field with $brk: the error names the field"
  done
done
for brk in CRLF LF CR; do
  case $brk in CRLF) b=$'\r\n' ;; LF) b=$'\n' ;; CR) b=$'\r' ;; esac
  jsonl inj.jsonl "[{'ref': 'a'}]"
  HOSTILE_TOKEN="tok${b}X-Injected: 1" refused "env value with $brk" h/hdr.http inj.jsonl --env HOSTILE_TOKEN
done

# --- display names with RFC 5322 specials: one mailbox, the name as text
cat >h/addr.eml <<'EOF'
From: {{name}} <noreply@acme.example>
To: {{name}} <{{email}}>
Reply-To: {{name}} <support@acme.example>
Subject: hi

Hello
EOF
# name_case LABEL MAY_REFUSE: the name in addr.jsonl gives the intended
# envelope and decodes back as the display name (or, for a hostile name
# when MAY_REFUSE is 1, the row is refused: exit 65, nothing sent)
name_case() {
  local label=$1 may_refuse=$2
  rm -rf ob
  run_herald send -t h/addr.eml --outbox ob addr.jsonl
  if [ "$rc" -eq 65 ] && [ "$may_refuse" = 1 ]; then
    expect_eq "$(count_files ob)" 0 "$label: refused, nothing sent"
    return
  fi
  expect_eq "$rc" 0 "$label: sent"
  if [ "$rc" -ne 0 ]; then echo "$err"; return; fi
  set +e; "$HERALD" render -t h/addr.eml --row 1 addr.jsonl >a.eml 2>a.env; set -e
  expect_eq "$(cat a.env)" "$(printf 'MAIL FROM:<noreply@acme.example>\nRCPT TO:<ann@example.com>')" "$label: exactly the intended envelope"
  pycheck eml "$label" a.eml <<<"$(rowspec addr.jsonl 1 '{"from": [[r["name"], "noreply@acme.example"]], "to": [[r["name"], "ann@example.com"]], "reply_to": [[r["name"], "support@acme.example"]]}')"
}
i=0
while IFS= read -r -u 3 name; do
  i=$((i + 1))
  jsonl addr.jsonl "[{'name': $name, 'email': 'ann@example.com'}]"
  name_case "hostile name $i ($name)" 1
done 3<<'NAMES'
'x <victim@evil.example>, y'
'Ann" <victim@evil.example>, "x'
'Ann\\" <victim@evil.example>, \\"x'
'victim@evil.example'
'Ann <victim@evil.example>'
'Ann (x) <victim@evil.example>;'
'undisclosed-recipients:;'
'=?UTF-8?B?dmljdGltQGV2aWwuZXhhbXBsZQ==?= <victim@evil.example>'
'Zoë <victim@evil.example>, 🎉'
'\\'
'"'
NAMES
# names people really have, with the same specials: kept, not refused
i=0
while IFS= read -r -u 3 name; do
  i=$((i + 1))
  jsonl addr.jsonl "[{'name': $name, 'email': 'ann@example.com'}]"
  name_case "real name $i ($name)" 0
done 3<<'NAMES'
'Lee, Ann'
'J. R. "Bob" Dobbs'
"O'Brien (Sales)"
'Support @ Acme'
'@ann_lee'
'Ann <3 Acme'
'Иванов, Иван'
NAMES

# specials in the address itself: the address is invalid, never split
while IFS= read -r -u 3 email; do
  jsonl addr.jsonl "[{'name': 'Ann', 'email': 'ann@example.com'}, {'name': 'Bob', 'email': $email}]"
  refused "address $email" h/addr.eml addr.jsonl
  expect_match "$err" "row 2: field 'To'" "address $email: the error names To"
done 3<<'EMAILS'
'ann@example.com, victim@evil.example'
'ann@example.com>, <victim@evil.example'
'victim@evil.example (ann@example.com)'
'ann@example.com;victim@evil.example'
'"ann@example.com" <victim@evil.example>'
'ann@example.com\tvictim@evil.example'
EMAILS

# --- JSON body values: the body parses, each value round-trips
cat >h/json.http <<'EOF'
POST https://api.example/v1/events
Content-Type: application/json

{"name": "{{name}}", "note": "{{note}}", "nested": {"{{key}}": ["{{item}}", "fixed"]}}
EOF
jsonl json.jsonl "[
  {'name': 'q\"uote', 'note': 'back\\\\slash\\\\', 'key': 'k\"}', 'item': '\"]}, \"admin\": true, \"x\": [\"'},
  {'name': ''.join(map(chr, range(1, 32))) + '\x7f', 'note': '\u2028\u2029 </script><!--', 'key': '\\\\u0041', 'item': 'trail\\\\'},
  {'name': 'Zoë 🎉 𝄞', 'note': '\\\\\"\\\\\"', 'key': ' ', 'item': '{{name}}'}]"
for i in 1 2 3; do
  set +e; "$HERALD" render -t h/json.http --row "$i" json.jsonl >j.http 2>/dev/null; rc=$?; set -e
  expect_eq "$rc" 0 "JSON row $i: rendered"
  pycheck http "JSON row $i" j.http <<<"$(rowspec json.jsonl "$i" '{"json": {"name": r["name"], "note": r["note"], "nested": {r["key"]: [r["item"], "fixed"]}}, "path_segments": ["", "v1", "events"]}')"
done
# from CSV: quotes, doubled quotes, a line break inside a quoted field
printf 'name,note,key,item\n"a ""b"" \\\\c","line1\nline2\r\nline3","k,1","x""}"\n' >json.csv
set +e; "$HERALD" render -t h/json.http --row 1 json.csv >j.http 2>/dev/null; rc=$?; set -e
expect_eq "$rc" 0 "JSON from CSV: rendered"
pycheck http "JSON from CSV" j.http <<<"$(rowspec json.csv 1 '{"json": {"name": r["name"], "note": r["note"], "nested": {r["key"]: [r["item"], "fixed"]}}}')"

# --- form bodies: the template's fields, the values decoded back
cat >h/form.http <<'EOF'
POST https://api.example/v1/Messages
Content-Type: application/x-www-form-urlencoded

To={{to}}&Body={{body}}&Tag=fixed
EOF
jsonl form.jsonl "[
  {'to': '+1 555&Tag=evil', 'body': 'a=b&c=d#e?f/g h+i%20j%'},
  {'to': 'Zoë 🎉', 'body': 'line1\nline2\r\n\ttab;semi'}]"
for i in 1 2; do
  set +e; "$HERALD" render -t h/form.http --row "$i" form.jsonl >f.http 2>/dev/null; rc=$?; set -e
  expect_eq "$rc" 0 "form row $i: rendered"
  pycheck http "form row $i" f.http <<<"$(rowspec form.jsonl "$i" '{"form": [["To", r["to"]], ["Body", r["body"]], ["Tag", "fixed"]]}')"
done

# --- URL parts: the template's segments and keys; values decode back
cat >h/url.http <<'EOF'
GET https://api.example/v1/users/{{v}}/notes?q={{v}}&page={{v}}

EOF
while IFS= read -r -u 3 v; do
  jsonl url.jsonl "[{'v': $v}]"
  set +e; "$HERALD" render -t h/url.http --row 1 url.jsonl >u.http 2>/dev/null; rc=$?; set -e
  expect_eq "$rc" 0 "URL value $v: rendered"
  pycheck http "URL value $v" u.http <<<"$(rowspec url.jsonl 1 '{"scheme": "https", "host": "api.example", "port": None, "username": None, "path_segments": ["", "v1", "users", r["v"], "notes"], "path_segments_resolved": ["", "v1", "users", r["v"], "notes"], "query": [["q", r["v"]], ["page", r["v"]]]}')"
done 3<<'VALUES'
'a&b=c'
'x#frag'
'p?q=1&page=2'
'a/b/c'
'../../admin'
'..%2F..%2Fadmin'
'sp ace+plus'
'100%'
'%2F%3F%23'
'a/../b'
'.../x'
'Zoë 🎉'
'\\\\server\\share'
'@evil.example:80'
VALUES
# "." or ".." as a whole path segment: clients and servers resolve dot
# segments (RFC 3986 5.2.4; curl does before it sends), so the request
# would go to another path.  herald must refuse the row, or write a URL
# whose resolved path is still the template's.
for v in '..' '.'; do
  jsonl url.jsonl "[{'v': '$v'}]"
  rm -rf ob
  run_herald send -t h/url.http --outbox ob url.jsonl
  if [ "$rc" -eq 65 ]; then
    expect_eq "$(count_files ob)" 0 "URL path segment '$v': refused, nothing sent"
  else
    expect_eq "$rc" 0 "URL path segment '$v': sent"
    pycheck http "URL path segment '$v'" ob/000001.http <<<"$(rowspec url.jsonl 1 '{"path_segments_resolved": ["", "v1", "users", r["v"], "notes"]}')"
  fi
done
# a value in the host: never userinfo, a port, another path or host
printf 'GET https://{{sub}}.hooks.example/x\n\n' >h/host.http
while IFS= read -r -u 3 v; do
  jsonl host.jsonl "[{'sub': $v}]"
  set +e; "$HERALD" render -t h/host.http --row 1 host.jsonl >u.http 2>/dev/null; rc=$?; set -e
  if [ "$rc" -eq 65 ]; then ok "host value $v: refused"; continue; fi
  expect_eq "$rc" 0 "host value $v: rendered"
  pycheck http "host value $v" u.http <<<"$(rowspec host.jsonl 1 '{"username": None, "port": None, "path_segments": ["", "x"], "query": []}')"
  url=$(head -1 u.http)
  "$PYTHON" -c 'import sys, urllib.parse as u; h = u.unquote(u.urlsplit(sys.argv[1].split(" ", 1)[1]).hostname); sys.exit(0 if h.endswith(".hooks.example") else 1)' "$url" &&
    ok "host value $v: the host still ends in .hooks.example" || bad "host value $v: host of '$url'"
done 3<<'VALUES'
'evil.example/'
'user@evil.example'
'evil.example:8080'
'evil.example#'
'evil.example?'
'evil.example\\'
VALUES

# --- HTML: escaped in the HTML part and in text/html bodies
cat >h/html.eml <<'EOF'
From: Acme <noreply@acme.example>
To: {{email}}
Subject: html

--- text ---
Hello {{name}}
--- html ---
<p>Hello {{name}}</p>
<p><a href="https://acme.example/u?x={{attr}}" title='{{attr}}'>link</a></p>
EOF
NASTY="<script>alert(1)</script> \"'&"
jsonl html.jsonl "[{'email': 'ann@example.com', 'name': '''$NASTY''', 'attr': '\" onmouseover=\"alert(1)\\' onclick=\\'x'}, {'email': 'bob@example.org', 'name': '<img src=x onerror=alert(1)><!--', 'attr': '><script>x</script>'}]"
for i in 1 2; do
  set +e; "$HERALD" render -t h/html.eml --row "$i" html.jsonl >h.eml 2>/dev/null; rc=$?; set -e
  expect_eq "$rc" 0 "HTML part row $i: rendered"
  pycheck eml "HTML part row $i" h.eml <<<"$(rowspec html.jsonl "$i" '{
    "text": "Hello %s" % r["name"],
    "html_absent": ["<script", "<img", "<!--"],
    "html_unescaped": "<p>Hello %s</p>\n<p><a href=\"https://acme.example/u?x=%s\" title='"'"'%s'"'"'>link</a></p>" % (r["name"], r["attr"], r["attr"]),
    "html_tags": [["p", []], ["p", []], ["a", [["href", "https://acme.example/u?x=" + r["attr"]], ["title", r["attr"]]]]]}')"
done
pycheck eml "HTML part row 2 exact" h.eml <<'SPEC'
{"html": "<p>Hello &lt;img src=x onerror=alert(1)&gt;&lt;!--</p>\n<p><a href=\"https://acme.example/u?x=&gt;&lt;script&gt;x&lt;/script&gt;\" title='&gt;&lt;script&gt;x&lt;/script&gt;'>link</a></p>"}
SPEC
printf 'POST https://api.example/v1/page\nContent-Type: text/html; charset=utf-8\n\n<div title="{{attr}}">{{name}}</div>\n' >h/html.http
for i in 1 2; do
  set +e; "$HERALD" render -t h/html.http --row "$i" html.jsonl >h.http 2>/dev/null; rc=$?; set -e
  expect_eq "$rc" 0 "HTML body row $i: rendered"
  pycheck http "HTML body row $i" h.http <<<"$(rowspec html.jsonl "$i" '{
    "html_absent": ["<script", "<img"],
    "html_unescaped": "<div title=\"%s\">%s</div>" % (r["attr"], r["name"]),
    "html_tags": [["div", [["title", r["attr"]]]]]}')"
done

# --- invalid UTF-8 in a JSON body value: refused, nothing sent
for bytes in 'B\xffb' '\xc0\xaf' '\xed\xa0\x80' '\xf4\x90\x80\x80' 'end\xe2\x82' '\x80'; do
  printf "name,note,key,item\nAnn,ok,k,i\n\"$bytes\",ok,k,i\n" >bad.csv
  refused "invalid UTF-8 $bytes" h/json.http bad.csv
  expect_match "$err" "bad.csv:3:[0-9]+: .*UTF-8" "invalid UTF-8 $bytes: the error names line 3"
done
# from JSON: a lone surrogate escape
printf '{"name": "Ann", "note": "ok", "key": "k", "item": "i"}\n{"name": "\\ud800", "note": "ok", "key": "k", "item": "i"}\n' >bad.jsonl
refused "lone surrogate in JSON" h/json.http bad.jsonl
# an env value that is not UTF-8 never reaches a body
printf 'POST https://api.example/v1/x\nContent-Type: application/json\n\n{"t": "{{env.HOSTILE_TOKEN}}"}\n' >h/envjson.http
jsonl inj.jsonl "[{'a': 'b'}]"
rm -rf ob
HOSTILE_TOKEN=$(printf 'a\xffb') run_herald send -t h/envjson.http --env HOSTILE_TOKEN --outbox ob inj.jsonl
[ "$rc" -ne 0 ] && ok "env value not UTF-8: exit $rc" || bad "env value not UTF-8: exit 0"
expect_eq "$(count_files ob)" 0 "env value not UTF-8: nothing sent"

# --- a body that holds the MIME boundaries: the structure stays
mkdir -p h/files
printf 'attached\n' >h/files/a.txt
cat >h/mime.eml <<'EOF'
From: Acme <noreply@acme.example>
To: {{email}}
Subject: parts
Herald-Attach: files/a.txt

--- text ---
{{body}}
--- html ---
<p>{{body}}</p>
EOF
jsonl b.jsonl "[{'email': 'ann@example.com', 'body': 'x'}]"
"$HERALD" render -t h/mime.eml --campaign c --row 1 b.jsonl >b.eml 2>/dev/null
mixed=$(sed -n 's/^Content-Type: multipart\/mixed; boundary="\(.*\)"\r$/\1/p' b.eml)
alt=$(sed -n 's/^Content-Type: multipart\/alternative; boundary="\(.*\)"\r$/\1/p' b.eml)
expect_match "$mixed/$alt" '^=_hd_.+/=_hd_.+$' "the boundaries of this key"
# the same key (so the same boundaries), the boundary lines in the data
jsonl b.jsonl "[{'email': 'ann@example.com', 'body': 'a\n--$alt\nContent-Type: text/html\n\n<script>x</script>\n--$alt--\n--$mixed\nContent-Type: application/x-evil\n\nevil\n--$mixed--\nb'}]"
set +e; "$HERALD" render -t h/mime.eml --campaign c --row 1 b.jsonl >b.eml 2>/dev/null; rc=$?; set -e
expect_eq "$rc" 0 "boundary lines in the body: rendered"
pycheck eml "boundary lines in the body" b.eml <<<"$(rowspec b.jsonl 1 '{
  "structure": ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/plain"],
  "text": r["body"],
  "html_unescaped": "<p>%s</p>" % r["body"],
  "html_absent": ["<script"],
  "attachments": [{"filename": "a.txt", "text": "attached\n"}]}')"

# --- attachment paths from data never leave the template's folder
printf 'top secret\n' >secret.txt
printf 'h secret\n' >h/hsecret.txt
ln -s ../../secret.txt h/files/link-out
cat >h/att.eml <<'EOF'
From: Acme <noreply@acme.example>
To: {{email}}
Subject: att
Herald-Attach: files/{{doc}}

see attached
EOF
while IFS= read -r -u 3 doc; do
  jsonl att.jsonl "[{'email': 'ann@example.com', 'doc': 'a.txt'}, {'email': 'bob@example.org', 'doc': $doc}]"
  refused "attachment $doc" h/att.eml att.jsonl
  rm -rf ob
  run_herald send -t h/att.eml --skip-invalid --outbox ob att.jsonl
  expect_eq "$(count_files ob)" 1 "attachment $doc: --skip-invalid sends the good row only"
  expect_eq "$(cat ob/* | grep -c -e 'dG9wIHNlY3JldA' -e 'aCBzZWNyZXQ' || true)" 0 "attachment $doc: no secret in what is sent"
done 3<<'DOCS'
'../../secret.txt'
'../hsecret.txt'
'/etc/passwd'
'sub/../../hsecret.txt'
'link-out'
'..'
''
DOCS

finish
