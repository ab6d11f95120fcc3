#!/usr/bin/env python3
"""Generates the fuzz harnesses' seed corpora at run time.

    fuzz/seeds.py OUT_DIR            (HERALD_TESTDATA: the shared corpora)

Writes OUT_DIR/<harness>/<n> for every harness in fuzz/CMakeLists.txt,
in each harness's input format (see the comment at the top of each
fuzz/fuzz_*.c), from what the project and the conformance corpora hold:
the example templates and recipients in templates/, the templates the
integration tests write (heredocs in tests/it_*.sh), csv-spectrum,
JSONTestSuite, the Mustache spec and isemail.  Nothing is copied into the
repository: the seeds are made fresh for each run and live in OUT_DIR.
A corpus folder that is missing is reported and skipped, never fatal.
"""
import glob
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.environ.get("HERALD_TESTDATA",
                          os.path.join(ROOT, "..", "shared", "testdata"))
OUT = sys.argv[1] if len(sys.argv) > 1 else "fuzz-seeds"
counts = {}


def put(harness, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    counts[harness] = counts.get(harness, 0) + 1


def read(path):
    with open(path, "rb") as f:
        return f.read()


def corpus(*parts):
    p = os.path.join(TESTDATA, *parts)
    if not os.path.exists(p if "*" not in p else os.path.dirname(p)):
        print("seeds: %s not found: skipped" % p, file=sys.stderr)
        return []
    if os.path.isfile(p):
        return [p]
    return sorted(glob.glob(p if "*" in p else os.path.join(p, "*")))


def first_record(path):
    """The first record of a recipients file, as a JSON object."""
    try:
        text = read(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return {}
    if path.endswith(".csv"):
        lines = text.splitlines()
        if len(lines) < 2:
            return {}
        return dict(zip(lines[0].split(","), lines[1].split(",")))
    for line in text.splitlines():
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                return {}
    return {}


def heredocs():
    """(file name, text) of the templates the integration tests write."""
    pat = re.compile(r"cat >\s*(\S+\.(?:eml|http)) <<'?(\w+)'?\n(.*?)\n\2\n",
                     re.S)
    for sh in sorted(glob.glob(os.path.join(ROOT, "tests", "it_*.sh"))):
        for m in pat.finditer(read(sh).decode("utf-8")):
            yield m.group(1), m.group(3) + "\n"


# ---- the readers -----------------------------------------------------------
csvs = corpus("csv-spectrum", "csvs", "*.csv")
csvs += sorted(glob.glob(os.path.join(ROOT, "templates", "**", "*.csv"),
                         recursive=True))
for path in csvs:
    data = read(path)
    put("csv", b"," + data)
    put("csv", b";" + data.replace(b",", b";"))
    put("csv", b"\t" + data.replace(b",", b"\t"))
for extra in [b",\xef\xbb\xbfemail,name\r\na@b.example,\"x\"\"y\"\r\n",
              b",email,note\na@b.example,\"multi\nline\"\n\n \n",
              b"|a|b\n1|2\n", b",a,,b\n", b",\"a\nb\",\"a\nb\"\n"]:
    put("csv", extra)

suite = corpus("json-test-suite", "test_parsing", "*.json")
for path in suite:
    data = read(path)
    put("json", data)
    put("json", b"[" + data + b"]")
    put("json_check", data)
    put("jsonl", data)
    put("jsonl", data + b"\n" + data)
for path in corpus("csv-spectrum", "json", "*.json"):
    data = read(path)
    put("json", data)
    try:
        put("jsonl", "\n".join(json.dumps(r) for r in json.loads(data)))
    except (ValueError, TypeError):
        pass
for path in sorted(glob.glob(os.path.join(ROOT, "templates", "**", "*.jsonl"),
                             recursive=True)):
    lines = [l for l in read(path).splitlines() if l.strip()]
    put("jsonl", read(path))
    put("json", b"[\n" + b",\n".join(lines) + b"\n]\n")

# ---- templates ------------------------------------------------------------
def partial_names(tmpl, names):
    for i, name in enumerate(names):
        tmpl = re.sub(r"(\{\{[<>]\s*)" + re.escape(name) + r"(\s*\}\})",
                      lambda m: m.group(1) + "p%d" % i + m.group(2), tmpl)
    return tmpl


for path in corpus("mustache-spec", "specs", "*.json"):
    try:
        spec = json.loads(read(path))
    except ValueError:
        continue
    for test in spec.get("tests", []):
        names = list(test.get("partials", {}).keys())[:10]
        parts = [partial_names(test.get("template", ""), names),
                 json.dumps(test.get("data"))]
        parts += [partial_names(test["partials"][n], names) for n in names]
        body = "\0".join(parts)
        put("template", "\x01" + body)  # lenient, as the spec
        put("template", "\x00" + body)  # strict, herald's default
        put("template", "\x0b" + body)  # lenient, JSON escaping
for path in sorted(glob.glob(os.path.join(ROOT, "templates", "**", "*.*"),
                             recursive=True)):
    if path.endswith((".eml", ".http")):
        rec = first_record(os.path.join(os.path.dirname(path),
                                        "recipients.jsonl")) or \
            first_record(os.path.join(os.path.dirname(path),
                                      "recipients.csv"))
        put("template", b"\x00" + read(path) + b"\0" +
            json.dumps(rec).encode())

# ---- message templates ----------------------------------------------------
HOSTILE = {"name": "Ann <victim@evil.example>, x", "email": "ann@example.com",
           "subject": "s\r\nBcc: victim@evil.example", "v": "../admin",
           "doc": "../../secret.txt", "ref": "r1"}
for path in sorted(glob.glob(os.path.join(ROOT, "templates", "**", "*.*"),
                             recursive=True)):
    if not path.endswith((".eml", ".http")):
        continue
    flag = b"\x00" if path.endswith(".eml") else b"\x01"
    d = os.path.dirname(path)
    rec = first_record(os.path.join(d, "recipients.jsonl")) or \
        first_record(os.path.join(d, "recipients.csv")) or \
        first_record(os.path.join(ROOT, "templates", "recipients.jsonl"))
    put("message", flag + read(path) + b"\0" + json.dumps(rec).encode())
    put("message", flag + read(path) + b"\0" + json.dumps(
        dict(rec, **HOSTILE)).encode())
for name, text in heredocs():
    flag = b"\x00" if name.endswith(".eml") else b"\x01"
    put("message", flag + text.encode() + b"\0" + json.dumps(HOSTILE).encode())
    put("message", flag + text.encode())

# ---- addresses ------------------------------------------------------------
addrs = []
for path in corpus("isemail", "derived", "tests.json"):
    try:
        addrs = [t["address_ctrl"] for t in json.loads(read(path))["tests"]]
    except (ValueError, KeyError):
        addrs = []
for a in addrs:
    put("address", a)
names = ["Ann", "Lee, Ann", "J. R. \"Bob\" Dobbs", "Zoë", "=?UTF-8?B?eA==?=",
         "x <victim@evil.example>, y", "undisclosed-recipients:;"]
for i, n in enumerate(names):
    a = addrs[i * 7 % len(addrs)] if addrs else "ann@example.com"
    put("address", "%s <%s>" % (n, a))
    put("address", "\"%s\" <ann@example.com>, bob@example.org" % n)

# ---- Retry-After and SMTP replies ------------------------------------------
for v in ["120", "0", "3601", "99999999999999999999", "120abc", "-5", " 5",
          "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
          "Sun Nov  6 08:49:37 1994", "Thu, 01 Jan 2099 00:00:00 GMT",
          "Fri, 31 Dec 9999 23:59:59 GMT", ""]:
    put("retry_after", v)
for pw, lines in [
        ("s3cr3t-pw", ["220 mx.example ESMTP", "250-mx.example",
                       "250-AUTH PLAIN LOGIN", "250 STARTTLS",
                       "334 VXNlcm5hbWU6", "535 5.7.8 bad s3cr3t-pw"]),
        ("pw", ["250 2.0.0 Ok: queued as 4F1A2", "221 Bye"]),
        ("*", ["451-4.7.1 slow", "451-4.7.1 down", "451 4.7.1 please"]),
        ("AAAA", ["550 5.1.1 <x@y> AHMzY3IzdC1wdw== unknown"])]:
    put("smtp_reply", pw + "\n" + "\r\n".join(lines) + "\r\n")

# ---- URL parts --------------------------------------------------------------
values = []
for sh in sorted(glob.glob(os.path.join(ROOT, "tests", "it_*.sh"))):
    for block in re.findall(r"<<'VALUES'\n(.*?)\nVALUES", read(sh).decode(),
                            re.S):
        for line in block.splitlines():
            try:
                values.append(eval(line, {}))  # the tests' Python literals
            except Exception:
                pass
values += ["..", ".", "a/../b", "%2e%2e", "Zoë 🎉", "x y", "", "?#&=",
           "evil.example/", "user@evil.example:8080"]
for i, v in enumerate(values):
    for shape in range(6):
        put("url", bytes([shape]) + str(v).encode("utf-8", "surrogatepass"))

# ---- journals and reports, in the shapes herald writes them ---------------
AT = '"at":"2026-12-03T16:19:43.923Z"'
HEAD = '{"herald_journal":1,"campaign":"run-b2eaf2af39235ff9",' \
       '"created":"2026-12-03T16:19:43.000Z"}'
STATUSES = ["sent", "failed", "invalid", "skipped", "dry-run",
            "not-attempted", "uncertain"]
jlines = [HEAD]
for i, st in enumerate(STATUSES, 1):
    key = "u%d@example.com" % i
    jlines.append('{"start":%d,"key":"%s","attempt":1,%s}' % (i, key, AT))
    if i % 2:
        jlines.append('{"retry":%d,"key":"%s","attempt":2,%s}' % (i, key, AT))
    if i != 4:  # one left started only: uncertain
        jlines.append('{"end":%d,"key":"%s","status":"%s","code":250,'
                      '"message_id":"<%d@example.com>","error":%s,%s}'
                      % (i, key, st, i, "null" if st == "sent"
                         else '"4.2.0 try later"', AT))
journal = "\n".join(jlines) + "\n"
put("journal", journal)
put("journal", journal[:-20])  # a torn last line
put("journal", HEAD + "\n")
put("journal", "")
put("journal", journal.replace('"herald_journal":1', '"herald_journal":9'))
put("journal", HEAD + "\n" + '{"end":1,"key":"Zo\u00eb@example.com",'
    '"status":"sent",' + AT + "}\n")

rlines = []
for i, st in enumerate(STATUSES, 1):
    rlines.append('{"row":%d,"key":"u%d@example.com","status":"%s",'
                  '"attempts":%d,"code":%s,"response":"250 ok","error":%s,'
                  '"ms":%d,%s,"message_id":"<%d@example.com>"}'
                  % (i, i, st, i % 3, "250" if i % 2 else "null",
                     "null" if st == "sent" else '"refused"', 10 * i, AT, i))
put("report", b"\x00" + ("\n".join(rlines) + "\n").encode())
put("report", b"\x00" + rlines[0].encode())  # no final line break
csv = ["row,key,status,attempts,code,response,error,failure,ms,at,"
       "message_id"]
for i, st in enumerate(STATUSES, 1):
    csv.append("%d,u%d@example.com,%s,1,550,\"'=HYPERLINK(\"\"x\"\")\","
               "'+refused,transient,%d,2026-12-03T16:19:43.923Z,<%d@x>"
               % (i, i, st, i, i))
put("report", b"\x01" + ("\r\n".join(csv) + "\r\n").encode())
put("report", b"\x01" + (csv[0] + "\n").encode())
put("report", b"\x00" + ("\n".join(csv) + "\n").encode())

for h in sorted(counts):
    print("seeds: %-12s %5d" % (h, counts[h]))
