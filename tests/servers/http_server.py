#!/usr/bin/python3
"""http_server.py — an HTTP/1.1 test server for herald, with faults on demand.

Listens on 127.0.0.1, on a free port chosen by the kernel, and writes that
port (then a newline) to --port-file once it accepts connections.  With
--tls-cert and --tls-key it speaks HTTPS (HTTP/1.1 only, via ALPN).
Connections are kept alive between requests unless a path says otherwise.

What a request gets depends only on its path, so one server serves every
test case:

  /ok                     200 {"ok":true}
  /status/NNN?after=S     status NNN with a small JSON body (none for 204
                          and 304; a 3xx also gets a Location), and
                          "Retry-After: S" when ?after= is given
  /429?after=S            429 with "Retry-After: S" (S as given, any text);
                          without ?after= no Retry-After at all
  /429date                429 with Retry-After as an HTTP-date 2 s ahead
  /flaky?fail=N&code=C    the first N requests per Idempotency-Key (or per
                          body when there is none) get C (default 503),
                          later ones 200
  /drop                   headers with Content-Length: 100, 10 body bytes,
                          then the socket closes (dropped mid-response)
  /drop-before            reads the request, closes without answering
  /garbage                answers with an SMTP greeting, not HTTP
  /slow?ms=N              sleeps N ms, then 200
  /close                  200 with "Connection: close", then closes
  /echo?code=C            status C (default 200); the body is the request
                          body, a newline, then the request headers, one
                          "Name: value" a line
  /big?n=N                200 with N bytes of mixed binary and text
  anything else           404

Every request is appended to --log as one JSON line, before any byte of
its answer is sent (a client holding its answer finds its request logged):
  {"conn": 1, "method": "POST", "path": "/ok?x=1",
   "headers": [["Host", "127.0.0.1:4242"], ...], "body": "<base64>",
   "status": 200}
("conn" numbers the connections from 1; "status" is the code sent, or
"drop", "drop-before", "garbage".)  --stats is rewritten atomically after
every request:
  {"connections": 2, "requests": 7, "ok_by_key": {"key-1": 1, ...}}
("ok_by_key" counts per Idempotency-Key the requests that got a 2xx.)

The server exits cleanly (status 0) on SIGTERM or SIGINT.  Python 3
standard library only; run it with /usr/bin/python3.
"""

import argparse
import base64
import email.utils
import hashlib
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 16 * 1024 * 1024


class State:
    """What every connection shares: counters and the two output files."""

    def __init__(self, log_path, stats_path):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.stats_path = stats_path
        self.connections = 0
        self.requests = 0
        self.ok_by_key = {}
        self.seen_by_key = {}

    def new_connection(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def seen(self, key):
        """Counts one more request for key; returns the new count."""
        with self.lock:
            self.seen_by_key[key] = self.seen_by_key.get(key, 0) + 1
            return self.seen_by_key[key]

    def record(self, entry, key, status):
        with self.lock:
            self.requests += 1
            if key is not None and status in range(200, 300):
                self.ok_by_key[key] = self.ok_by_key.get(key, 0) + 1
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            if self.stats_path:
                tmp = self.stats_path + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump({"connections": self.connections,
                               "requests": self.requests,
                               "ok_by_key": self.ok_by_key}, f)
                os.replace(tmp, self.stats_path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle the second waits
    # for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def version_string(self):
        return "herald-test"

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, on the connection's own thread, so
            # a client that rejects the certificate cannot stall accept().
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                self.handshake_failed = True
                return
        self.handshake_failed = False
        self.conn_id = self.server.state.new_connection()

    def handle(self):
        if not self.handshake_failed:
            try:
                super().handle()
            except (ConnectionError, ssl.SSLError, TimeoutError):
                pass

    def log_message(self, format, *args):
        pass  # the JSON log is the record; stderr stays quiet

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
                if len(body) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n)

    def dispatch(self):
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        key = self.headers.get("Idempotency-Key")
        if key is None and body:
            key = "body-" + hashlib.sha256(body).hexdigest()[:16]
        status, payload, extra = self.choose(url.path, query, key, body)
        # Logged before any byte of the answer leaves, so a client that
        # has its answer always finds its request in the log.
        self.server.state.record({
            "conn": self.conn_id,
            "method": self.command,
            "path": self.path,
            # Header bytes arrive as latin-1 text; turn them back into
            # bytes so that a UTF-8 value is logged as the same UTF-8.
            "headers": [[n, v.encode("latin-1").decode("utf-8", "replace")]
                        for n, v in self.headers.items()],
            "body": base64.b64encode(body).decode("ascii"),
            "status": status,
        }, key, status)
        if status == "drop":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                             b"Content-Type: text/plain\r\n\r\n0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        if status == "garbage":
            self.wfile.write(b"220 mail.example ESMTP ready\r\n")
            self.close_connection = True
            return
        if status == "drop-before":
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
            if name == "Connection" and value == "close":
                self.close_connection = True
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def choose(self, path, query, key, body):
        """The answer to path: (status or action, body, extra headers)."""
        js = [("Content-Type", "application/json")]
        if path == "/ok":
            return 200, b'{"ok":true}', js
        if path.startswith("/status/"):
            code = int(path[len("/status/"):])
            if 300 <= code < 400:
                js.append(("Location", "/ok?redirect-followed"))
            if "after" in query:
                js.append(("Retry-After", query["after"]))
            if code in (204, 304):  # no body allowed (RFC 9110 6.4.1)
                return code, b"", []
            return code, b'{"status":%d}' % code, js
        if path == "/429":
            if "after" in query:
                js.append(("Retry-After", query["after"]))
            return 429, b'{"error":"slow down"}', js
        if path == "/429date":
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return 429, b'{"error":"slow down"}', js + [("Retry-After", when)]
        if path == "/flaky":
            fail = int(query.get("fail", "1"))
            code = int(query.get("code", "503"))
            n = self.server.state.seen(key or "")
            return (code if n <= fail else 200), b'{"attempt":%d}' % n, js
        if path in ("/drop", "/drop-before", "/garbage"):
            return path[1:], b"", []
        if path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000.0)
            return 200, b'{"ok":true}', js
        if path == "/close":
            return 200, b'{"ok":true}', js + [("Connection", "close")]
        if path == "/echo":
            text = "".join(f"{n}: {v}\n" for n, v in self.headers.items())
            return (int(query.get("code", "200")),
                    body + b"\n" + text.encode("latin-1"),
                    [("Content-Type", "text/plain")])
        if path == "/big":
            n = int(query.get("n", "1000"))
            unit = b"text \x00\x01\xff\xfe\r\n\t" + "é".encode() + b" "
            return (200, (unit * (n // len(unit) + 1))[:n],
                    [("Content-Type", "application/octet-stream")])
        return 404, b'{"error":"not found"}', js

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = dispatch
    do_OPTIONS = dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--stats")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    args = p.parse_args()

    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(args.log, args.stats)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return: not from here.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, args.port_file)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
