#!/usr/bin/python3
"""http_fault.py — an HTTP/1.1 server that stalls or hangs up at a chosen
point of a request.

Listens on 127.0.0.1 on a free port (written to --port-file) with a small
receive buffer, so that a client with a large body really is held back
when the server stops reading.  --stats is a JSON file rewritten after
every change:

    {"connections": 2, "received": {"<Idempotency-Key>": 1, ...},
     "answered": 1}

"received" counts, per Idempotency-Key, every request whose body arrived
whole, answered or not: a request herald sent twice shows as 2.

The fault:
  --stall STEP   stop at STEP and wait for the client to give up
  --drop STEP    close the connection at STEP
  STEP is accept (read nothing at all), headers (read the request line and
  headers, then no body), body (read half the body), reply (read the whole
  request, then give no reply)
  --after N, --times N   as smtp_fault.py: behave the first N times STEP
                         comes, then fault N times (default: always)
Otherwise every request gets "200 OK" with a short JSON body.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import sys

STEPS = ("accept", "headers", "body", "reply")


class State:
    def __init__(self, args):
        self.args = args
        self.seen = 0
        self.connections = 0
        self.received = {}
        self.answered = 0

    def fault_now(self, step):
        if step != self.args.step:
            return False
        self.seen += 1
        n = self.seen - self.args.after
        return n >= 1 and (self.args.times is None or n <= self.args.times)

    def save(self):
        tmp = self.args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"connections": self.connections,
                       "received": self.received,
                       "answered": self.answered}, f)
        os.replace(tmp, self.args.stats)


async def session(state, reader, writer):
    state.connections += 1
    state.save()

    async def fault(step):
        """True when the request ends here (stalled or dropped)."""
        if not state.fault_now(step):
            return False
        if state.args.mode == "stall":
            # read nothing more: what the client sends stays in the
            # buffers until it gives up
            await asyncio.sleep(3600)
        writer.close()
        return True

    try:
        while True:
            if await fault("accept"):
                return
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for l in lines[1:]:
                if ":" in l:
                    k, v = l.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            if await fault("headers"):
                return
            half = await reader.readexactly(n // 2)
            if await fault("body"):
                return
            rest = await reader.readexactly(n - len(half))
            key = headers.get("idempotency-key", "(none)")
            state.received[key] = state.received.get(key, 0) + 1
            state.save()
            if await fault("reply"):
                return
            body = b'{"ok":true}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                         b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            state.answered += 1
            state.save()
            del rest
    except (ConnectionError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main(args):
    state = State(args)
    state.save()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit it: a client body cannot hide in our buffer
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = await asyncio.start_server(
        lambda r, w: session(state, r, w), sock=sock, limit=1 << 16)
    port = sock.getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--stats", required=True)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--stall", choices=STEPS)
    g.add_argument("--drop", choices=STEPS)
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--times", type=int, default=None)
    a = ap.parse_args()
    a.step = a.stall or a.drop
    a.mode = "drop" if a.drop else "stall"
    try:
        asyncio.run(main(a))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
