#!/usr/bin/env bash
# herald's security promises, each checked with the real binary.  Where
# another integration test already checks a promise in depth, this file
# names it instead of repeating it (README "Security" lists them all):
#
#   header injection from data ............ it_hostile.sh (every header, CR/LF/CRLF,
#                                            raw tags, .http headers, env values)
#                                            + here, on the wire of an SMTP server
#   envelope injection from data ........... here (SMTP server), it_hostile.sh
#   URL path and query injection ........... it_hostile.sh (parsed as a server would)
#   attachment path traversal .............. it_hostile.sh (.., absolute, symlink out)
#   formula injection in CSV reports ....... here (every trigger, every data column)
#   secrets out of argv, logs, reports ..... here (HTTP token: cmdline, -v, report),
#                                            it_smtp.sh (SMTP password: cmdline,
#                                            AUTH blob, -v, reports), it_http.sh
#   TLS verified by default ................ it_smtp.sh, it_http.sh (exit 78)
#   plaintext AUTH refused ................. it_smtp.sh (exit 78, nothing sent)
#   password file others can read .......... here (o+r, o+w, a symlink), it_smtp.sh
#   private files whatever the umask ....... here (umask 000: report 0600,
#                                            outbox folders 0700, messages 0600)
#   resource limits ........................ here (2 GB line through a pipe and a
#                                            FIFO, 100,000-deep JSON and templates,
#                                            a million columns): one line, exit 65,
#                                            bounded memory, nothing sent
set -e
. "$(dirname "$0")/lib/it.sh"
. "$(dirname "$0")/lib/smtp.sh"
cd "$TMP"
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "SKIPPED: $TIME (Debian package 'time') is needed to measure peak memory" >&2
  exit 77
fi

# one_line WHAT: stderr ($err) is exactly one "herald: " line
one_line() {
  expect_eq "$(printf '%s\n' "$err" | grep -c .)" 1 "$1: one line on stderr"
  expect_match "$err" "^herald: " "$1: the line is herald's"
}
# peak_rss_mb FILE: the peak RSS /usr/bin/time -f %M wrote to FILE, in MB
peak_rss_mb() { echo $(($(tail -1 "$1") / 1024)); }

# ---- envelope and header injection, on the wire of an SMTP server -----------
cat >env.eml <<'EOF'
From: {{from_name}} <noreply@acme.example>
To: {{name}} <{{email}}>
Cc: {{cc}}
Subject: Hello {{subject}}

Hello {{name}}
EOF
"$PYTHON" - <<'PY'
import json
good = {"from_name": "Acme", "name": "Ann", "email": "ann@example.com",
        "subject": "s", "cc": "dana@example.net"}
rows = [good, dict(good, email="bob@example.org", name="Bob")]
hostile = [
    {"email": "victim@evil.example>\r\nRCPT TO:<victim2@evil.example"},
    {"email": "carl@example.org>\r\nRCPT TO:<victim@evil.example>"},
    {"email": "carl@example.org\nRCPT TO:<victim@evil.example>"},
    {"email": "carl@example.org>, <victim@evil.example"},
    {"email": "carl@example.org,victim@evil.example"},
    {"email": "<victim@evil.example>"},
    {"email": "victim@evil.example (carl@example.org)"},
    {"name": "Carl <victim@evil.example>, x"},
    {"name": "x\r\nRCPT TO:<victim@evil.example>"},
    {"from_name": "x <victim@evil.example>"},
    {"cc": "victim@evil.example, other@evil.example"},
    {"cc": "victim@evil.example\r\nBcc: other@evil.example"},
    {"subject": "s\r\nBcc: victim@evil.example"},
    {"subject": "s\nRCPT TO:<victim@evil.example>"},
]
for h in hostile:
    rows.append({**good, "email": "carl@example.org", "name": "Carl", **h})
with open("env.jsonl", "w") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps(dict(r, id=i + 1)) + "\n")
PY
smtp_start env
run_herald send -t env.eml --smtp "smtp://127.0.0.1:$SMTP_PORT" --skip-invalid --key id -o env.report.jsonl env.jsonl
smtp_stop env
expect_eq "$rc" 1 "hostile envelope rows: exit 1 (the rest invalid)"
expect_eq "$(smtp_stat env messages)" 4 "hostile envelope rows: the good rows and the harmless ones were sent"
recips=$("$PYTHON" -c 'import json; print(sorted(json.load(open("env.stats.json"))["recipients"]))')
expect_eq "$recips" "['ann@example.com', 'bob@example.org', 'carl@example.org', 'dana@example.net']" "hostile envelope rows: the server saw only intended recipients"
# what arrived, parsed as a mail client would: the evil addresses may
# only be text inside a display name, never an address or a header
res=$("$PYTHON" - env.spool <<'PY'
import email, email.policy, email.utils, glob, os, sys
out = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.eml"))):
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.compat32)
    names = sorted(set(k.lower() for k in m.keys()))
    addrs = [a for h in ("From", "To", "Cc", "Reply-To", "Bcc")
             for _, a in email.utils.getaddresses(m.get_all(h, []))]
    bad = [a for a in addrs if "evil" in a]
    out.append("%s %s" % (names == ["cc", "content-transfer-encoding",
        "content-type", "date", "from", "message-id", "mime-version",
        "subject", "to"], bad))
print(sorted(set(out)))
PY
)
expect_eq "$res" "['True []']" "hostile rows: what arrived has only the template's headers and intended addresses"
expect_eq "$(jrows env.report.jsonl 'sum(r["status"] == "invalid" for r in rows)')" 12 "hostile rows: 12 reported invalid"

# ---- formula injection in CSV reports -----------------------------------------
# A spreadsheet runs a cell that starts with = + - @ (and TAB or CR before
# them): the key, the error and the response text all come from outside.
"$PYTHON" - <<'PY'
import csv
triggers = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2",
            '=HYPERLINK("http://evil.example","x")', "=cmd|' /C calc'!A0"]
with open("formula.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "note", "email"])
    for i, t in enumerate(triggers):
        w.writerow([t, t, "user%d@example.com" % i])
    w.writerow(["=1+3", "x", "not an address"])
PY
cat >formula.eml <<'EOF'
From: a@acme.example
To: {{email}}
Subject: notes

{{note}}
EOF
printf 'From: a@acme.example\nTo: {{email}}\nSubject: hi\n\nhello\n' >plain.eml
sh "$SRC/tests/servers/make_certs.sh" certs >/dev/null 2>&1
"$PYTHON" "$SRC/tests/servers/http_server.py" --port-file http.port --log http.log >http.err 2>&1 &
echo $! >http.pid
cleanup_hooks+=("kill $(cat http.pid) 2>/dev/null")
for _ in $(seq 100); do [ -s http.port ] && break; sleep 0.05; done
HP=$(tr -d '\n' <http.port)
# the echo server returns the request body first: a response that starts
# with the row's text
printf 'POST http://127.0.0.1:%s/echo?code=500\nContent-Type: text/plain\n\n{{{note}}}\n' "$HP" >formula.http
printf 'POST http://127.0.0.1:%s/ok\nContent-Type: application/json\n\n{"to": "{{email}}"}\n' "$HP" >plain.http
run_herald send -t formula.eml --key id --outbox fob --skip-invalid -o formula.report.csv formula.csv
expect_eq "$rc" 1 "formula rows (outbox): exit 1 (one invalid)"
run_herald send -t formula.http --key id --retries 0 -o formula.http.csv formula.csv
expect_eq "$rc" 1 "formula rows (HTTP 500): exit 1"
for f in formula.report.csv formula.http.csv; do
  res=$("$PYTHON" - "$f" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
bad = [(r[0], i, c) for r in rows[1:] for i, c in enumerate(r)
       if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
keys = sorted(r[1] for r in rows[1:])
print("rows=%d bad=%r keys=%s" % (len(rows) - 1, bad, "ok" if all(k.startswith("'") for k in keys) else keys))
PY
)
  expect_eq "$res" "rows=9 bad=[] keys=ok" "$f: no cell a spreadsheet would run; every key neutralised"
done
expect_match "$(cat formula.http.csv)" "\"'=HYPERLINK" "the echoed response is neutralised too"

# ---- secrets never in argv, -v logs or the report (HTTP) ----------------------
SECRET=tok-$RANDOM$RANDOM-Sec7
export SEC_TOKEN=$SECRET
# the first row waits on the server (time to read the command line); the
# others get a 500 whose body echoes the request headers, token included
printf 'POST http://127.0.0.1:%s/{{{path}}}\nContent-Type: application/json\nAuthorization: Bearer {{env.SEC_TOKEN}}\n\n{"to": "{{email}}"}\n' "$HP" >secret.http
printf 'email,path\na@example.com,slow?ms=600\nb@example.com,echo?code=500\nc@example.com,echo?code=500\n' >three.csv
"$HERALD" send -v -t secret.http --env SEC_TOKEN -c 1 --retries 0 -o secret.jsonl three.csv >secret.out 2>secret.err &
hpid=$!
sleep 0.4
cmdline=$(tr '\0' ' ' </proc/$hpid/cmdline 2>/dev/null || true)
wait $hpid && rc=0 || rc=$?
expect_eq "$rc" 1 "token run: exit 1 (two rows got HTTP 500)"
expect_match "$cmdline" "--env SEC_TOKEN" "read the running herald's command line"
case "$cmdline" in *"$SECRET"*) bad "token in /proc/PID/cmdline" ;; *) ok "token not in /proc/PID/cmdline" ;; esac
expect_eq "$(grep -c "Bearer $SECRET" http.log)" 3 "the server got the token"
expect_match "$(jrows secret.jsonl '[r["response"] for r in rows if r["code"] == 500][0]')" "Authorization: \*\*\*" "the echoed token is in the report, redacted"
for f in secret.jsonl secret.out secret.err; do
  expect_eq "$(grep -c "$SECRET" "$f" || true)" 0 "token not in $f"
done
unset SEC_TOKEN

# ---- password files others can read or write are refused ----------------------
printf 'email\na@example.com\n' >one.csv
printf 's3cr3t-pw\n' >pw.txt
for mode in 604 602 606 644 666; do
  chmod "$mode" pw.txt
  run_herald send -t plain.eml --smtp smtp://127.0.0.1:9 --smtp-user u --smtp-password-file pw.txt one.csv
  expect_eq "$rc" 78 "password file mode $mode: refused (78)"
  one_line "password file mode $mode"
done
chmod 644 pw.txt
ln -s pw.txt pw-link
run_herald send -t plain.eml --smtp smtp://127.0.0.1:9 --smtp-user u --smtp-password-file pw-link one.csv
expect_eq "$rc" 78 "a symlink to a readable password file: refused (78)"
chmod 600 pw.txt
run_herald check -t plain.eml --smtp smtp://127.0.0.1:9 --smtp-user u --smtp-password-file pw-link one.csv
expect_eq "$rc" 0 "a private password file: accepted"

# ---- what herald writes is private, whatever the umask ------------------------
(
  umask 000
  "$HERALD" send -t plain.eml --outbox priv/new/box -o priv.jsonl one.csv
  "$HERALD" send -t plain.eml --outbox priv2 -o priv.csv one.csv
  "$HERALD" send -t plain.http --outbox priv3 one.csv
) >/dev/null 2>&1 || true
expect_eq "$(stat -c %a priv.jsonl priv.csv | tr '\n' ' ')" "600 600 " "umask 000: JSONL and CSV reports are 0600"
expect_eq "$(stat -c %a priv priv/new priv/new/box priv2 priv3 | tr '\n' ' ')" "700 700 700 700 700 " "umask 000: every outbox folder made is 0700"
expect_eq "$(stat -c %a priv/new/box/* priv2/* priv3/* | sort -u | tr '\n' ' ')" "600 " "umask 000: every message file is 0600"

# ---- resource limits -------------------------------------------------------------
# Each input is generated into a pipe or a FIFO (never a big file on disk)
# and must be refused with one line and exit 65, within a generous memory
# bound, with nothing sent.
# generous bounds: herald itself stays near 10 MB here (25 with a 16 MiB
# record, 150 with a million-key JSON object); sanitizers multiply it
RSS_MB=300
[ -z "${HERALD_SANITIZE:-}" ] || RSS_MB=2000
# gen.py PREFIX MIB: PREFIX (a Python bytes literal), then MIB MiB of 'a';
# says on stderr how many MiB the reader took before it closed the pipe
cat >gen.py <<'PY'
import ast, sys
out = sys.stdout.buffer
out.write(ast.literal_eval(sys.argv[1]))
chunk = b"a" * (1 << 20)
sent = 0
try:
    for _ in range(int(sys.argv[2])):
        out.write(chunk)
        sent += 1
except BrokenPipeError:
    pass
sys.stderr.write("%d\n" % sent)
PY
# limit NAME FORMAT TEMPLATE COMMAND...: COMMAND's output piped into
# herald send --format FORMAT -
limit() {
  local name=$1 format=$2 tmpl=$3 mb
  shift 3
  rm -rf lob
  set +e
  "$@" 2>"$name.gen" | "$TIME" -f %M -o "$name.rss" \
    "$HERALD" send -t "$tmpl" --outbox lob --format "$format" - >/dev/null 2>"$name.err"
  rc=${PIPESTATUS[1]}
  set -e
  err=$(cat "$name.err")
  expect_eq "$rc" 65 "$name: exit 65"
  one_line "$name"
  expect_eq "$(count_files lob)" 0 "$name: nothing sent"
  mb=$(peak_rss_mb "$name.rss")
  expect_eq "$((mb < RSS_MB))" 1 "$name: peak RSS ${mb} MB < $RSS_MB MB"
}
# read_at_most NAME MIB: herald stopped reading the pipe early (the rest
# of the 2 GB never reached memory or the disk)
read_at_most() {
  local got; got=$(tail -1 "$1.gen")
  expect_eq "$((got <= $2))" 1 "$1: herald read ${got} MiB of it, at most $2"
}
limit "2 GB CSV line" csv plain.eml "$PYTHON" gen.py 'b"email,note\n"' 2048
expect_match "$err" "stdin>:2:.*longer than" "2 GB CSV line: says where and why"
read_at_most "2 GB CSV line" 40
limit "2 GB CSV line, quoted" csv plain.eml "$PYTHON" gen.py 'b"email,note\na@example.com,\""' 2048
read_at_most "2 GB CSV line, quoted" 40
limit "2 GB JSON Lines line" jsonl plain.eml "$PYTHON" gen.py 'b"{\"email\": \""' 2048
expect_match "$err" "stdin>:1:.*longer than 16 MiB" "2 GB JSON Lines line: says where and why"
read_at_most "2 GB JSON Lines line" 40
# a JSON array may be one long line and valid: its spool holds the whole
# input, so this one is 64 MiB (one element far over 16 MiB), not 2 GB
limit "64 MiB JSON element" json plain.eml "$PYTHON" gen.py 'b"[{\"email\": \""' 64
expect_match "$err" "longer than 16 MiB" "64 MiB JSON element: says why"
# the same 2 GB through a FIFO named on the command line
rm -rf lob
mkfifo big.csv
"$PYTHON" gen.py 'b"email,note\n"' 2048 >big.csv 2>fifo.gen &
gpid=$!
set +e
"$TIME" -f %M -o fifo.rss "$HERALD" send -t plain.eml --outbox lob big.csv >/dev/null 2>fifo.err
rc=$?
set -e
wait $gpid 2>/dev/null || true
err=$(cat fifo.err)
expect_eq "$rc" 65 "2 GB line through a FIFO: exit 65"
one_line "2 GB line through a FIFO"
expect_eq "$(count_files lob)" 0 "2 GB line through a FIFO: nothing sent"
read_at_most fifo 40
expect_eq "$(($(peak_rss_mb fifo.rss) < RSS_MB))" 1 "2 GB line through a FIFO: peak RSS $(peak_rss_mb fifo.rss) MB < $RSS_MB MB"
rm -f big.csv
# nesting
limit "JSON nested 100,000 deep" json plain.eml "$PYTHON" -c 'import sys; sys.stdout.write("[" + "{\"a\": " * 100000 + "1" + "}" * 100000 + "]")'
expect_match "$err" "nested deeper than 2048" "JSON nested 100,000 deep: says why"
limit "JSON Lines nested 100,000 deep" jsonl plain.eml "$PYTHON" -c 'import sys; sys.stdout.write("[" * 100000 + "]" * 100000 + "\n")'
"$PYTHON" -c 'import sys
sys.stdout.write("From: a@acme.example\nTo: {{email}}\n\n{{=( )=}}" + "(#a)" * 100000 + "x" + "(/a)" * 100000 + "\n")' >deep.eml
limit "template nested 100,000 deep" csv deep.eml printf 'email\na@example.com\n'
expect_match "$err" "deep.eml:4:.*nested deeper than 64" "template nested 100,000 deep: says where and why"
# a million columns
limit "CSV with a million columns" csv plain.eml "$PYTHON" -c 'import sys; sys.stdout.write(",".join("c%d" % i for i in range(1000000)) + "\n")'
expect_match "$err" "more than 4096 fields" "a million CSV columns: says why"
limit "JSON record with a million keys" jsonl plain.eml "$PYTHON" -c 'import sys; sys.stdout.write("{" + ",".join("\"c%d\": 1" % i for i in range(1000000)) + "}\n")'
expect_match "$err" "more than 4096 fields" "a million JSON keys: says why"

finish
