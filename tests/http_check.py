#!/usr/bin/python3
"""http_check.py — reads what herald's HTTP integration tests leave behind.

  http_check.py compare OUTBOX LOG PORT
      For every OUTBOX/NNNNNN.http that `herald send --outbox` wrote, finds
      the request http_server.py logged (LOG, JSON lines) with the same
      Idempotency-Key and checks that the server received exactly what the
      outbox shows: method, URL (http://127.0.0.1:PORT + path), the
      template's headers in order with the same values, and the body bytes.
      The server may see only these headers besides: Host (127.0.0.1:PORT),
      User-Agent (herald/...) and Content-Length (the body's length).
      Prints one line per difference, then "compared N"; exit 1 on any
      difference or when a row has no request or more than one.

  http_check.py run LOG TAG
      The requests of one run: the log entries whose path has run=TAG.
      Prints a JSON object: requests, connections (distinct "conn"),
      keys (Idempotency-Key -> [statuses]), missing_key (requests without
      exactly one Idempotency-Key), paths (distinct), original_urls
      (Idempotency-Key -> X-Original-URL).

Standard library only.
"""

import base64
import glob
import json
import os
import sys
from urllib.parse import parse_qs, urlsplit


def load_log(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def header_values(entry, name):
    return [v for n, v in entry["headers"] if n.lower() == name.lower()]


def parse_http_file(path):
    """An outbox .http file: (method, url, [(name, value)], body bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        raise ValueError(f"{path}: no blank line after the headers")
    lines = head.decode("utf-8").split("\n")
    method, _, url = lines[0].partition(" ")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(": ")
        if not sep:
            raise ValueError(f"{path}: malformed header line {line!r}")
        headers.append((name, value))
    return method, url, headers, body


def compare(outbox, log_path, port):
    log = load_log(log_path)
    by_key = {}
    for e in log:
        for k in header_values(e, "Idempotency-Key"):
            by_key.setdefault(k, []).append(e)
    base = f"http://127.0.0.1:{port}"
    added = {"host", "user-agent", "content-length"}
    problems = []
    files = sorted(glob.glob(os.path.join(outbox, "*.http")))
    for path in files:
        name = os.path.basename(path)
        method, url, headers, body = parse_http_file(path)
        keys = [v for n, v in headers if n.lower() == "idempotency-key"]
        if len(keys) != 1:
            problems.append(f"{name}: {len(keys)} Idempotency-Key headers")
            continue
        got = by_key.get(keys[0], [])
        if len(got) != 1:
            problems.append(f"{name}: the server got {len(got)} requests "
                            f"with key {keys[0]}, want 1")
            continue
        e = got[0]
        if e["method"] != method:
            problems.append(f"{name}: method {e['method']!r}, want "
                            f"{method!r}")
        if base + e["path"] != url:
            problems.append(f"{name}: URL {base + e['path']!r}, want "
                            f"{url!r}")
        sent = [(n, v) for n, v in e["headers"] if n.lower() not in added]
        if sent != headers:
            problems.append(f"{name}: headers {sent!r}, want {headers!r}")
        rbody = base64.b64decode(e["body"])
        if rbody != body:
            problems.append(f"{name}: body {rbody!r}, want {body!r}")
        if header_values(e, "Host") != [f"127.0.0.1:{port}"]:
            problems.append(f"{name}: Host {header_values(e, 'Host')!r}")
        ua = header_values(e, "User-Agent")
        if len(ua) != 1 or not ua[0].startswith("herald/"):
            problems.append(f"{name}: User-Agent {ua!r}")
        if header_values(e, "Content-Length") != [str(len(body))]:
            problems.append(f"{name}: Content-Length "
                            f"{header_values(e, 'Content-Length')!r}, "
                            f"want {len(body)}")
    for p in problems:
        print(p)
    print(f"compared {len(files)}")
    return 1 if problems or not files else 0


def run_summary(log_path, tag):
    entries = []
    if os.path.exists(log_path):
        for e in load_log(log_path):
            q = parse_qs(urlsplit(e["path"]).query)
            if tag in q.get("run", []):
                entries.append(e)
    keys, originals = {}, {}
    missing = 0
    for e in entries:
        k = header_values(e, "Idempotency-Key")
        if len(k) != 1:
            missing += 1
            continue
        keys.setdefault(k[0], []).append(e["status"])
        for o in header_values(e, "X-Original-URL"):
            originals[k[0]] = o
    print(json.dumps({
        "requests": len(entries),
        "connections": len({e["conn"] for e in entries}),
        "keys": keys,
        "missing_key": missing,
        "paths": sorted({e["path"] for e in entries}),
        "original_urls": originals,
    }))
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "compare":
        return compare(argv[2], argv[3], argv[4])
    if len(argv) == 4 and argv[1] == "run":
        return run_summary(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
