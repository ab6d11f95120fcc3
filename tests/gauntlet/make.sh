#!/usr/bin/env bash
# tests/gauntlet/make.sh OUT: writes the gauntlet into OUT (a folder).
#
# Hostile and broken inputs as an attacker or a clumsy spreadsheet makes
# them: byte order marks, UTF-16, NULs, CR-only line ends, overlong UTF-8,
# surrogates, huge numbers, deep nesting, duplicate keys, quotes
# everywhere, delimiter changes mid-file, templates with unclosed
# sections, ...  Generated each time (nothing big is committed), by
# Python for exact bytes.
#
# OUT/MANIFEST has one line per case, fields separated by TABs:
#   NAME RECIPIENTS TEMPLATE EXIT REGEX
# RECIPIENTS and TEMPLATE are file names in OUT; herald check and herald
# send must each answer with exit EXIT and exactly one line on stderr
# that matches the extended regular expression REGEX, and send nothing.
set -euo pipefail
out=${1:?usage: make.sh OUT}
mkdir -p "$out"
exec python3 - "$out" <<'PY'
import json, os, sys

out = sys.argv[1]
manifest = []


def write(name, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def case(name, data, regex, template="good.eml", code=65):
    """A recipients file that must be refused."""
    write(name, data)
    manifest.append("\t".join([name, name, template, str(code), regex]))


def tcase(name, text, regex, recipients="good.csv", code=65):
    """A template that must be refused, with good recipients."""
    write(name, text)
    manifest.append("\t".join([name, recipients, name, str(code), regex]))


# the good parts the broken ones are tried with
write("good.eml", "From: Acme <noreply@acme.example>\nTo: {{name}} <{{email}}>\n"
      "Subject: Hello {{name}}\n\nHello {{name}}\n")
write("good.http", "POST http://127.0.0.1:9/hook\nContent-Type: application/json\n"
      "\n{\"to\": \"{{email}}\", \"name\": \"{{name}}\"}\n")
write("good.csv", "email,name\nann@example.com,Ann\n")
write("good.jsonl", '{"email": "ann@example.com", "name": "Ann"}\n')
HDR = "email,name\n"
ROW = "ann@example.com,Ann\n"

# ---- CSV: encodings ---------------------------------------------------------
text = HDR + ROW
case("utf16le-bom.csv", b"\xff\xfe" + text.encode("utf-16-le"), "UTF-16")
case("utf16be-bom.csv", b"\xfe\xff" + text.encode("utf-16-be"), "UTF-16")
case("utf16le-nobom.csv", text.encode("utf-16-le"), "NUL byte")
case("utf32.csv", b"\xff\xfe\x00\x00" + text.encode("utf-32-le"), "UTF-32")
case("latin1.csv", (HDR + "ann@example.com,Zo\xeb\n").encode("latin-1"), "UTF-8")
case("overlong.csv", HDR.encode() + b"ann@example.com,\xc0\xaf\n", "UTF-8")
case("overlong-nul.csv", HDR.encode() + b"ann@example.com,a\xc0\x80b\n", "UTF-8")
case("surrogate.csv", HDR.encode() + b"ann@example.com,\xed\xa0\x80\n", "UTF-8")
case("beyond-unicode.csv", HDR.encode() + b"ann@example.com,\xf4\x90\x80\x80\n", "UTF-8")
case("truncated-utf8.csv", HDR.encode() + b"ann@example.com,caf\xc3", "UTF-8")
case("nul-field.csv", HDR.encode() + b"ann@example.com,A\x00nn\n", "NUL")
case("nul-header.csv", b"em\x00ail,name\n" + ROW.encode(), "NUL")
case("binary-gzip.csv", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)), "invalid UTF-8|NUL byte")
case("bom-twice.csv", "\ufeff\ufeff" + HDR + ROW, "byte order mark")
# ---- CSV: line ends and quotes ---------------------------------------------
case("cr-only.csv", "email,name\rann@example.com,Ann\r", "carriage return")
case("cr-mid-field.csv", HDR + "ann@example.com,An\rn\n", "carriage return")
case("quote-in-field.csv", HDR + 'ann@example.com,An"n\n', "quote inside an unquoted field")
case("text-after-quote.csv", HDR + 'ann@example.com,"Ann"x\n', "after the closing quote")
case("unterminated-quote.csv", HDR + 'ann@example.com,"Ann\nbob@example.com,Bob\n', "unterminated quoted field")
case("quotes-everywhere.csv", '"email""","name"\n"""ann@example.com""","Ann"""\n', "no value|invalid|address|quote")
case("quote-storm.csv", HDR + '"' * 4097 + "\n", "quote|field|record")
# ---- CSV: structure ------------------------------------------------------------
case("empty.csv", "", "no recipients")
case("only-bom.csv", b"\xef\xbb\xbf", "no recipients")
case("only-blank-lines.csv", "\n\n   \n\t\n", "no recipients")
case("header-only.csv", HDR, "no recipients")
case("only-delimiters.csv", ",,,\n,,,\n", "no recipients in file")
case("empty-header-name.csv", "email,,name\nann@example.com,x,Ann\n", "empty header name")
case("duplicate-header.csv", "email,name,email\nann@example.com,Ann,b@example.com\n", "duplicate header name")
case("ragged-more.csv", HDR + "ann@example.com,Ann,extra\n", "3 fields, the header has 2")
case("ragged-less.csv", HDR + "ann@example.com\n", "1 field, the header has 2")
case("delimiter-change.csv", HDR + ROW + "bob@example.com;Bob\n", "1 field, the header has 2")
case("semicolon-file.csv", "email;name\nann@example.com;Ann\n", "no value for \\{\\{name\\}\\}|email")
case("excel-sep-line.csv", "sep=;\nemail;name\nann@example.com;Ann\n", "sep=;")
case("huge-field.csv", HDR + "ann@example.com," + "x" * (1 << 21) + "\n", "longer than 1 MiB")
case("many-columns.csv", ",".join("c%d" % i for i in range(5000)) + "\n", "more than 4096 fields")
case("no-newline-huge.csv", "email,name\n" + "a" * (20 << 20), "longer than")
# ---- CSV: hostile values ------------------------------------------------------
case("header-injection.csv", HDR + '"ann@example.com","Ann\r\nBcc: victim@evil.example"\n', "line break in header value")
case("envelope-injection.csv", HDR + '"ann@example.com>, <victim@evil.example",Ann\n', "To|address")
case("escape-sequence.csv", HDR + "ann@example.com,\x1b[2J\x1b]0;pwned\x07\n", "control character")
case("not-an-address.csv", HDR + "not an address,Ann\n", "address")
case("empty-value.csv", HDR + "ann@example.com,\n", "no value for \\{\\{name\\}\\}")

# ---- JSON arrays ----------------------------------------------------------------
J = '{"email": "ann@example.com", "name": "Ann"}'
case("not-an-array.json", J, "expected '\\['")
case("array-of-arrays.json", "[[1, 2]]", "not an object")
case("array-of-strings.json", '["ann@example.com"]', "not an object")
case("trailing-comma.json", "[" + J + ",]", "a ',' too many|expected an object")
case("missing-comma.json", "[" + J + "\n" + J + "]", "missing ','")
case("single-quotes.json", "[{'email': 'ann@example.com'}]", "string or '\\}' expected")
case("comments.json", "[// the list\n" + J + "]", "invalid token")
case("nan.json", '[{"email": "ann@example.com", "name": NaN}]', "invalid token near 'NaN'")
case("huge-number.json", '[{"email": "ann@example.com", "name": 1e99999}]', "overflow|number")
case("huge-integer.json", '[{"email": "ann@example.com", "name": 123456789012345678901234567890}]', "overflow|number|too big")
case("duplicate-keys.json", '[{"email": "ann@example.com", "email": "victim@evil.example", "name": "Ann"}]', "duplicate")
case("lone-surrogate.json", '[{"email": "ann@example.com", "name": "\\ud800"}]', "surrogate|UTF-8|invalid")
case("reversed-surrogates.json", '[{"email": "ann@example.com", "name": "\\udc00\\ud800"}]', "surrogate|UTF-8|invalid")
case("escaped-nul.json", '[{"email": "ann@example.com", "name": "A\\u0000nn"}]', "NUL")
case("raw-nul.json", b'[{"email": "ann@example.com", "name": "A\x00nn"}]', "NUL|control")
case("overlong-utf8.json", b'[{"email": "ann@example.com", "name": "\xc0\xaf"}]', "invalid UTF-8")
case("utf16-bom.json", b"\xff\xfe" + ("[" + J + "]").encode("utf-16-le"), "UTF-16")
case("bom-then-garbage.json", "\ufeff\ufeff[" + J + "]", "expected '\\['")
case("deep-nesting.json", "[" + '{"a": ' * 3000 + "1" + "}" * 3000 + "]", "nested deeper than 2048")
case("unterminated-string.json", '[{"email": "ann@example.com, "name": "Ann"}]', "missing ','")
case("truncated.json", "[" + J + ', {"email": "bob@exa', "premature end of input")
case("garbage-after.json", "[" + J + "] trailing", "after the closing")
case("two-arrays.json", "[" + J + "][" + J + "]", "after the closing")
case("empty-array.json", "[]", "no recipients")
case("null.json", "null", "expected '\\['")
case("empty.json", "", "no recipients")
case("control-in-string.json", '[{"email": "ann@example.com", "name": "A\tnn\x01"}]', "control")
case("big-element.json", '[{"email": "ann@example.com", "name": "' + "x" * (17 << 20) + '"}]', "longer than 16 MiB")
case("many-keys.json", "[{" + ",".join('"k%d": 1' % i for i in range(5000)) + "}]", "more than 4096 fields")
case("nested-value-as-name.json", '[{"email": "ann@example.com", "name": {"first": "Ann"}}]', "is an object, not a value")
case("quotes-in-email.json", '[{"email": "\\"ann\\"@example.com", "name": "Ann"}]', "quoted local part")

# ---- JSON Lines -------------------------------------------------------------------
case("array-line.jsonl", J + "\n[1, 2]\n", "not an object")
case("two-objects-a-line.jsonl", J + " " + J + "\n", "end of file expected")
case("pretty-printed.jsonl", json.dumps(json.loads(J), indent=2) + "\n", "expected near end of file")
case("json-array-as-jsonl.jsonl", "[" + J + "]\n", "not an object")
case("nul-line.jsonl", J.encode() + b"\n\x00\n", "NUL|control|invalid")
case("cr-only.jsonl", J + "\r" + J + "\r", "end of file expected")
case("lone-surrogate.jsonl", '{"email": "ann@example.com", "name": "\\udfff"}\n', "surrogate|UTF-8|invalid")
case("deep-nesting.jsonl", "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 2048")
case("utf16.jsonl", b"\xff\xfe" + (J + "\n").encode("utf-16-le"), "UTF-16")
case("empty-lines-only.jsonl", "\n\n \n", "no recipients")
case("huge-line.jsonl", '{"email": "ann@example.com", "name": "' + "x" * (17 << 20) + '"}\n', "longer than 16 MiB")

# ---- templates (with good recipients) -------------------------------------------------
E = "From: Acme <noreply@acme.example>\nTo: {{name}} <{{email}}>\nSubject: hi\n\n"
tcase("unclosed-section.eml", E + "{{#items}}\nHello\n", "unclosed section")
tcase("unclosed-tag.eml", E + "Hello {{name\n", "unclosed tag")
tcase("mismatched-section.eml", E + "{{#a}}{{#b}}x{{/a}}{{/b}}\n", "does not close")
tcase("stray-close.eml", E + "x{{/a}}\n", "closes no section")
tcase("empty-tag.eml", E + "Hello {{}}\n", "empty")
tcase("bad-delimiters.eml", E + "{{=<% %> x=}}\n", "bad delimiter change")
tcase("space-in-name.eml", E + "{{first name}}\n", "white space in the name")
tcase("question-on-section.eml", E + "{{#a?}}x{{/a?}}\n", "optional variables only")
tcase("deep-sections.eml", E + "{{#a}}" * 100 + "x" + "{{/a}}" * 100 + "\n", "nested deeper than 64")
tcase("no-from.eml", "To: {{email}}\nSubject: hi\n\nbody\n", "no From")
tcase("no-recipient.eml", "From: a@acme.example\nSubject: hi\n\nbody\n", "no To")
tcase("sets-message-id.eml", E.replace("Subject: hi\n", "Message-ID: <x@y>\n") + "b\n", "writes Message-ID itself")
tcase("not-a-header.eml", "From: a@acme.example\nTo: {{email}}\nthis is not a header\n\nbody\n", "expected 'Name: value'")
tcase("continuation-first.eml", " folded\nFrom: a@acme.example\n\nbody\n", "continuation line")
tcase("bad-content-type.eml", E.replace("Subject: hi\n", "Content-Type: application/pdf\n") + "b\n", "Content-Type must be")
tcase("two-text-parts.eml", E + "--- text ---\na\n--- text ---\nb\n", "a second text part")
tcase("text-before-parts.eml", E + "hello\n--- html ---\n<p>x</p>\n", "text before the first")
tcase("partial-escape.eml", E + "{{>../../etc/passwd}}\n", "leave the template's folder")
tcase("cr-only.eml", E.replace("\n", "\r") + "body\r", "carriage return")
tcase("utf16.eml", b"\xff\xfe" + (E + "body\n").encode("utf-16-le"), "UTF-16")
tcase("latin1.eml", (E + "h\xe9llo\n").encode("latin-1"), "not valid UTF-8")
tcase("nul.eml", (E + "a\x00b\n").encode(), "NUL")
tcase("too-big.eml", E + "x" * (1 << 21) + "\n", "larger than 1 MiB")
tcase("attach-escape.eml", E.replace("Subject: hi\n", "Subject: hi\nHerald-Attach: ../../../etc/passwd\n") + "b\n", "leaves the template's folder")
tcase("no-request-line.http", "# only a comment\n\n", "no request line")
tcase("ftp-url.http", "POST ftp://example.com/x\n\nbody\n", "http:// or https://")
tcase("space-in-url.http", "POST https://example.com/a b\n\nbody\n", "white space")
tcase("lowercase-method.http", "post https://example.com/x\n\nbody\n", "METHOD URL")
tcase("bad-header.http", "POST https://example.com/x\nnot a header\n\nbody\n", "expected 'Name: value'")
tcase("header-name-space.http", "POST https://example.com/x\nX Bad: 1\n\nbody\n", "bad character in header name")
tcase("unclosed-in-body.http", "POST https://example.com/x\nContent-Type: application/json\n\n{\"a\": \"{{#x}}\"}\n", "unclosed section")
tcase("cr-in-header.http", "POST https://example.com/x\nX-A: 1\rX-Injected: 2\n\nb\n", "carriage return")

with open(os.path.join(out, "MANIFEST"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print("gauntlet: %d cases in %s" % (len(manifest), out))
PY
