#!/usr/bin/env python3
"""report_page_check.py DOM REPORT.jsonl — compares what a browser made of
herald's HTML report page (the DOM Chromium dumps after loading it) with
the figures of the JSONL report, computed here independently.

Prints one "ok: ..." or "FAIL: ..." line per check; exits 1 on a failure.
"""
import collections
import datetime
import html.parser
import json
import math
import sys


class Page(html.parser.HTMLParser):
    """Collects the elements the checks read, and every tag seen."""

    def __init__(self):
        super().__init__()
        self.tags = collections.Counter()
        self.external = []
        self.stack = []          # (tag, attrs) of open elements
        self.status = {}         # data-status -> text of its td.n
        self.quantiles = {}      # data-q -> text
        self.attempts = None
        self.rects = collections.defaultdict(int)  # class -> sum of data-n
        self.ncols = collections.Counter()
        self.text = []
        self._capture = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        for k in ("src", "href", "srcset", "action", "data", "poster"):
            if k in a:
                self.external.append(f"{tag} {k}={a[k]}")
        if "style" in a and "url(" in a["style"]:
            self.external.append(f"{tag} style url()")
        if tag == "rect" and "data-n" in a:
            self.rects[a.get("class", "")] += int(a["data-n"])
            self.ncols[a.get("class", "")] += 1
        parent = dict(self.stack[-1][1]) if self.stack else {}
        row = next((dict(x) for t, x in reversed(self.stack) if t == "tr"), {})
        if tag == "td" and a.get("class") == "n" and "data-status" in row \
                and row["data-status"] not in self.status:
            self._capture = ("status", row["data-status"])
        if tag == "span" and "data-q" in a:
            self._capture = ("q", a["data-q"])
        if tag == "span" and a.get("class") == "n" and \
                parent.get("id") == "attempts":
            self._capture = ("attempts", None)
        if tag not in ("meta", "br", "img", "input", "link", "rect", "line"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._capture and data.strip():
            kind, key = self._capture
            if kind == "status":
                self.status[key] = data.strip()
            elif kind == "q":
                self.quantiles[key] = data.strip()
            else:
                self.attempts = data.strip()
            self._capture = None


def nearest_rank(values, q):
    values = sorted(values)
    rank = max(1, math.ceil(q * len(values)))
    return values[rank - 1]


def main():
    dom, report = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(report, encoding="utf-8")
            if line.strip()]
    page = Page()
    page.feed(open(dom, encoding="utf-8").read())
    failures = 0

    def check(what, got, want):
        nonlocal failures
        if got == want:
            print(f"ok: page: {what}")
        else:
            failures += 1
            print(f"FAIL: page: {what}: the page shows {got!r}, the report "
                  f"has {want!r}")

    counts = collections.Counter(r["status"] for r in rows)
    for st in ("sent", "failed", "invalid", "skipped", "not-attempted",
               "uncertain", "dry-run"):
        check(f"rows {st}", page.status.get(st), str(counts.get(st, 0)))
    check("rows in all", page.status.get("total"), str(len(rows)))
    check("attempts", page.attempts, str(sum(r["attempts"] for r in rows)))
    ms = [r["ms"] for r in rows if r["attempts"] > 0]
    for label, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        want = nearest_rank(ms, q)
        if want >= 1024:  # above 1024 ms the page gives the bucket's edge
            got = int(page.quantiles.get(label, "-1"))
            check(f"latency {label} within 1/64",
                  want * (1 - 1 / 64) - 1 <= got <= want, True)
        else:
            check(f"latency {label}", page.quantiles.get(label), str(want))
    check("latency max", page.quantiles.get("max"), str(max(ms)))

    def when(r):
        return datetime.datetime.strptime(
            r["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()

    timed = [r for r in rows if r.get("at")]
    check("timeline: sent rows", page.rects.get("sent", 0),
          sum(r["status"] == "sent" for r in timed))
    check("timeline: failed rows", page.rects.get("failed", 0),
          sum(r["status"] == "failed" for r in timed))
    seconds = {int(when(r)) for r in timed
               if r["status"] in ("sent", "failed")}
    check("timeline: one column per second with rows",
          page.ncols.get("sent", 0), len(seconds))
    check("nothing fetched from elsewhere", page.external, [])
    check("no script, no frame, no stylesheet link",
          [t for t in ("script", "iframe", "link", "object", "embed")
           if page.tags[t]], [])
    check("the chart is inline SVG", page.tags["svg"] >= 1, True)
    text = "".join(page.text)
    for r in rows:
        if r["status"] == "failed" and r.get("code"):
            check(f"errors by code lists {r['code']}",
                  str(r["code"]) in text, True)
            break
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
