#!/usr/bin/python3
"""mime_check.py — checks what herald rendered, for the integration tests.

    mime_check.py eml  LABEL FILE  < SPEC.json   an RFC 5322 message
    mime_check.py http LABEL FILE  < SPEC.json   a request in .http form
    mime_check.py rowspec DATA N EXPR            prints json.dumps(EXPR)
    mime_check.py rowval  DATA N EXPR            prints EXPR as text

eml and http parse FILE with the standard library (the email package with
policy=email.policy.default; urllib.parse, json, html.parser) and compare
what a receiver would decode with what the SPEC says it must be.  They print
one line per check, "ok: LABEL: what" or "FAIL: LABEL: what: ...", which the
shell tests count, and exit 1 when a check failed, 2 when FILE could not be
checked at all.

rowspec (rowval) evaluates the Python expression EXPR with r bound to row N
(1-based) of DATA (.csv: a dict of strings; .json: an array; .jsonl: one
object a line), so a test can say what a message must hold in terms of the
recipient's own data; rows is the whole list.  The names html, json, os and
Path are available.

SPEC keys (each optional; what is not named is not checked, except that
every message must have CRLF lines of at most 998 octets, 7-bit bytes, no
parser defects, a Date and MIME-Version 1.0; and every request one request
line, well-formed headers without control characters, a URL without blanks
or a fragment):
  eml   subject, from, to, cc, reply_to ([[display name, address], ...]),
        message_id, message_id_re, headers {name: value}, absent_headers,
        raw_absent (strings not in the bytes), structure (content types in
        walk order), cte {content type: encoding}, text, text_lines, html*,
        attachments [{filename, content_type, file | text}],
        min_longest_line
  http  method, url, scheme, host, port, username, path_segments (decoded),
        path_segments_resolved (after RFC 3986 dot-segment removal), query
        [[key, value], ...], header_names, headers, headers_re, body, json,
        form [[key, value], ...], html*
  html* html (exact), html_unescaped, html_absent, html_tags
        [[tag, [[attr, value], ...]], ...], html_cells, html_lines
text_lines and html_lines are whole lines that must appear in this order.

Standard library only.
"""
import base64
import email
import email.header
import email.policy
import email.utils
import html
import html.parser
import json
import os
import re
import sys
import urllib.parse
from pathlib import Path

LABEL = "?"
FAILED = False


def ok(what):
    print("ok: %s: %s" % (LABEL, what))


def fail(what, detail=""):
    global FAILED
    FAILED = True
    detail = detail if len(detail) < 600 else detail[:600] + "..."
    print("FAIL: %s: %s%s" % (LABEL, what, ": " + detail if detail else ""))


def check(cond, what, detail=""):
    if cond:
        ok(what)
    else:
        fail(what, detail)


def eq(got, want, what):
    check(got == want, what, "got %r, want %r" % (got, want))


def lines_in_order(text, want, what):
    """Each line of want is a whole line of text, in this order."""
    have = text.split("\n")
    i = 0
    for line in want:
        while i < len(have) and have[i] != line:
            i += 1
        if i == len(have):
            fail(what, "line %r not found (in order) in %r" % (line, text))
            return
        i += 1
    ok(what)


class Tags(html.parser.HTMLParser):
    """Collects the start tags with their attributes, and table cells."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.rows = []
        self.cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.append([tag, [list(a) for a in attrs]])
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.rows:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def check_html(doc, spec, prefix):
    """The html_* keys of spec, applied to the decoded HTML doc."""
    if "html" in spec:
        eq(doc, spec["html"], prefix + " exact")
    if "html_unescaped" in spec:
        eq(html.unescape(doc), spec["html_unescaped"],
           prefix + " unescapes to the data")
    for s in spec.get("html_absent", []):
        check(s.lower() not in doc.lower(), prefix + " has no %r" % s,
              repr(doc))
    if "html_tags" in spec or "html_cells" in spec:
        p = Tags()
        p.feed(doc)
        p.close()
        if "html_tags" in spec:
            eq(p.tags, spec["html_tags"], prefix + " tags and attributes")
        if "html_cells" in spec:
            eq(p.rows, spec["html_cells"], prefix + " table cells")
    if "html_lines" in spec:
        lines_in_order(doc, spec["html_lines"], prefix + " lines")


def raw_lines(raw):
    """Every line ends in CRLF, none is over 998 octets, all is 7-bit."""
    bad_eol = 0
    longest = 0
    pieces = raw.split(b"\r\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    else:
        bad_eol += 1  # the last line has no CRLF
    for p in pieces:
        if b"\n" in p or b"\r" in p:
            bad_eol += 1
        longest = max(longest, len(p))
    check(bad_eol == 0, "every line ends in CRLF",
          "%d lines with a bare CR or LF" % bad_eol)
    check(longest <= 998, "no line over 998 octets (longest %d)" % longest,
          "longest line %d octets" % longest)
    high = [b for b in raw if b >= 0x80]
    check(not high, "7-bit only", "%d bytes above 0x7F" % len(high))
    return longest


ENCODED_WORD = r"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?="


def join_encoded_words(value):
    """RFC 2047 6.2: white space between adjacent encoded-words is not
    text.  CPython's address parser keeps it inside a display name (its
    unstructured parser does not), so runs of adjacent encoded-words are
    joined here into one before the email package sees them."""
    def merge(m):
        words = re.findall(ENCODED_WORD, m.group(0))
        text = "".join(str(email.header.make_header(
            email.header.decode_header(w))) for w in words)
        return "=?UTF-8?B?%s?=" % base64.b64encode(
            text.encode("utf-8")).decode("ascii")
    return re.sub(r"%s(?:\s+%s)+" % (ENCODED_WORD, ENCODED_WORD), merge,
                  value)


def raw_header(raw, name):
    """The unfolded value of the one header field name, from the bytes."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    head = re.sub(r"\r\n(?=[ \t])", "", head)
    got = [line.split(":", 1)[1].lstrip(" \t") for line in
           head.split("\r\n") if line.lower().startswith(name.lower() + ":")]
    return got[0] if len(got) == 1 else None


def addresses(raw, name):
    value = raw_header(raw, name)
    if value is None:
        return None
    h = email.policy.default.header_factory(name, join_encoded_words(value))
    if h.defects:
        fail("%s parses without defects" % name, repr(h.defects))
    return [[a.display_name, a.addr_spec] for a in h.addresses]


def text_of(part):
    s = part.get_content()
    return s.replace("\r\n", "\n")


def check_eml(raw, spec):
    longest = raw_lines(raw)
    if "min_longest_line" in spec:
        check(longest >= spec["min_longest_line"],
              "the message was folded/encoded (longest line %d)" % longest)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [(p.get_content_type(), d) for p in msg.walk()
               for d in p.defects]
    for name in msg.keys():
        try:
            defects += [(name, d) for d in msg[name].defects]
        except AttributeError:
            pass
    check(not defects, "parses without defects", repr(defects))
    try:
        email.utils.parsedate_to_datetime(str(msg["Date"]))
        ok("Date parses")
    except (TypeError, ValueError) as e:
        fail("Date parses", repr(e))
    eq(str(msg["MIME-Version"]), "1.0", "MIME-Version")
    for name in ("Date", "Message-ID", "MIME-Version", "From", "Subject",
                 "To", "Content-Type"):
        n = len(msg.get_all(name) or [])
        if n > 1:
            fail("one %s header" % name, "%d of them" % n)
    if "subject" in spec:
        eq(str(msg["Subject"]), spec["subject"], "Subject decodes to the data")
    for key, name in (("from", "From"), ("to", "To"), ("cc", "Cc"),
                      ("reply_to", "Reply-To")):
        if key in spec:
            eq(addresses(raw, name), spec[key],
               "%s: display names and addresses" % name)
    if "message_id" in spec:
        eq(str(msg["Message-ID"]), spec["message_id"], "Message-ID")
    if "message_id_re" in spec:
        mid = str(msg["Message-ID"])
        check(re.fullmatch(spec["message_id_re"], mid),
              "Message-ID looks like %s" % spec["message_id_re"], mid)
    for name, want in spec.get("headers", {}).items():
        got = msg[name]
        eq(None if got is None else str(got), want, "header %s" % name)
    for name in spec.get("absent_headers", []):
        check(msg[name] is None, "no %s header" % name, str(msg[name]))
    for s in spec.get("raw_absent", []):
        check(s.encode() not in raw, "%r is nowhere in the message" % s)
    if "structure" in spec:
        eq([p.get_content_type() for p in msg.walk()], spec["structure"],
           "MIME structure")
    body_parts = [p for p in msg.walk()
                  if not p.is_multipart() and not p.is_attachment()]
    texts = [p for p in body_parts if p.get_content_type() == "text/plain"]
    htmls = [p for p in body_parts if p.get_content_type() == "text/html"]
    for p in body_parts:
        if p.get_content_maintype() == "text":
            eq(p.get_content_charset(), "utf-8",
               "%s charset" % p.get_content_type())
    for ctype, cte in spec.get("cte", {}).items():
        got = [str(p["Content-Transfer-Encoding"]) for p in body_parts
               if p.get_content_type() == ctype]
        eq(got, [cte], "%s Content-Transfer-Encoding" % ctype)
    if "text" in spec or "text_lines" in spec:
        if len(texts) != 1:
            fail("one text/plain body part", "%d of them" % len(texts))
        else:
            t = text_of(texts[0])
            if "text" in spec:
                eq(t, spec["text"], "text part decodes to the data")
            if "text_lines" in spec:
                lines_in_order(t, spec["text_lines"], "text part lines")
    if any(k.startswith("html") for k in spec):
        if len(htmls) != 1:
            fail("one text/html body part", "%d of them" % len(htmls))
        else:
            check_html(text_of(htmls[0]), spec, "HTML part")
    if "attachments" in spec:
        atts = list(msg.iter_attachments()) if msg.is_multipart() else []
        eq(len(atts), len(spec["attachments"]), "number of attachments")
        for i, (a, want) in enumerate(zip(atts, spec["attachments"]), 1):
            eq(a.get_filename(), want["filename"],
               "attachment %d file name" % i)
            eq(a.get_content_disposition(), "attachment",
               "attachment %d disposition" % i)
            if "content_type" in want:
                eq(a.get_content_type(), want["content_type"],
                   "attachment %d type" % i)
            data = a.get_payload(decode=True)
            if "file" in want:
                check(data == Path(want["file"]).read_bytes(),
                      "attachment %d bytes equal %s" %
                      (i, os.path.basename(want["file"])),
                      "%d bytes decoded" % len(data))
            if "text" in want:
                eq(data.decode("utf-8"), want["text"],
                   "attachment %d content" % i)


def parse_http(raw):
    """Splits a request in .http form: (method, url, [(name, value)], body)."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        raise ValueError("no blank line after the headers")
    lines = head.decode("utf-8").split("\n")
    method, sp, url = lines[0].partition(" ")
    if not sp or not re.fullmatch(r"[A-Z]+", method) or " " in url:
        raise ValueError("bad request line %r" % lines[0])
    headers = []
    for line in lines[1:]:
        m = re.fullmatch(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+): (.*)", line)
        if not m:
            raise ValueError("bad header line %r" % line)
        headers.append((m.group(1), m.group(2)))
    return method, url, headers, body


def remove_dot_segments(path):
    """RFC 3986 5.2.4, after decoding %2E (6.2.2.2: it is unreserved)."""
    path = re.sub("%2[eE]", ".", path)
    out = []
    segs = path.split("/")
    for i, s in enumerate(segs):
        if s == "..":
            if len(out) > 1:
                out.pop()
            if i == len(segs) - 1:
                out.append("")
        elif s == ".":
            if i == len(segs) - 1:
                out.append("")
        else:
            out.append(s)
    return out


def check_http(raw, spec):
    method, url, headers, body = parse_http(raw)
    ok("parses as one request")
    check(all(not re.search(r"[\x00-\x1f\x7f]", v) for _, v in headers),
          "no control characters in header values")
    u = urllib.parse.urlsplit(url)
    for key, got in (("method", method), ("url", url), ("scheme", u.scheme),
                     ("host", u.hostname), ("port", u.port),
                     ("username", u.username)):
        if key in spec:
            eq(got, spec[key], key)
    check(not re.search(r"[\s\x00-\x1f\x7f]", url), "URL has no blanks",
          repr(url))
    eq(u.fragment, "", "URL has no fragment")
    if "path_segments" in spec:
        eq([urllib.parse.unquote(s, errors="strict")
            for s in u.path.split("/")],
           spec["path_segments"], "URL path segments")
    if "path_segments_resolved" in spec:
        eq([urllib.parse.unquote(s, errors="strict")
            for s in remove_dot_segments(u.path)],
           spec["path_segments_resolved"],
           "URL path segments after dot-segment removal (RFC 3986 5.2.4)")
    if "query" in spec:
        got = urllib.parse.parse_qsl(u.query, keep_blank_values=True,
                                     strict_parsing=bool(u.query),
                                     errors="strict")
        eq([list(p) for p in got], spec["query"], "URL query pairs")
    names = [n for n, _ in headers]
    if "header_names" in spec:
        eq(names, spec["header_names"], "header names, in order")
    for name, want in spec.get("headers", {}).items():
        got = [v for n, v in headers if n.lower() == name.lower()]
        eq(got, [want], "header %s" % name)
    for name, pattern in spec.get("headers_re", {}).items():
        got = [v for n, v in headers if n.lower() == name.lower()]
        check(len(got) == 1 and re.fullmatch(pattern, got[0]),
              "header %s matches %s" % (name, pattern), repr(got))
    if "body" in spec:
        eq(body.decode("utf-8"), spec["body"], "body")
    if "json" in spec:
        def no_dups(pairs):
            keys = [k for k, _ in pairs]
            if len(set(keys)) != len(keys):
                raise ValueError("duplicate key in %r" % keys)
            return dict(pairs)
        try:
            got = json.loads(body.decode("utf-8"), object_pairs_hook=no_dups)
            ok("body parses as JSON")
            eq(got, spec["json"], "JSON body holds the data exactly")
        except ValueError as e:
            fail("body parses as JSON", "%s in %r" % (e, body))
    if "form" in spec:
        try:
            got = urllib.parse.parse_qsl(body.decode("ascii"),
                                         keep_blank_values=True,
                                         strict_parsing=True,
                                         errors="strict")
            eq([list(p) for p in got], spec["form"],
               "form body decodes to the data")
        except (ValueError, UnicodeError) as e:
            fail("form body parses", "%s in %r" % (e, body))
    if any(k.startswith("html") for k in spec):
        check_html(body.decode("utf-8"), spec, "HTML body")


def load_rows(path):
    if path.endswith(".csv"):
        import csv
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    with open(path, encoding="utf-8") as f:
        if path.endswith(".json"):
            return json.load(f)
        return [json.loads(line) for line in f if line.strip()]


def main(argv):
    global LABEL
    if len(argv) == 4 and argv[0] in ("rowspec", "rowval"):
        rows = load_rows(argv[1])
        r = rows[int(argv[2]) - 1]
        env = {"r": r, "rows": rows, "html": html, "json": json, "os": os,
               "Path": Path}
        v = eval(argv[3], env)
        print(json.dumps(v) if argv[0] == "rowspec" else v)
        return 0
    if len(argv) != 3 or argv[0] not in ("eml", "http"):
        print(__doc__, file=sys.stderr)
        return 64
    LABEL = argv[1]
    try:
        spec = json.load(sys.stdin)
        raw = Path(argv[2]).read_bytes()
        if argv[0] == "eml":
            check_eml(raw, spec)
        else:
            check_http(raw, spec)
    except Exception as e:  # a broken file is a failed test, not a crash
        fail("checked at all", "%s: %s" % (type(e).__name__, e))
        return 2
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
