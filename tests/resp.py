#!/usr/bin/python3
"""resp.py — a few lines of Redis protocol (RESP2) for herald's tests, so
that they need no Python Redis package.

As a module:   r = resp.Redis(port); r.cmd("XLEN", "jobs")
As a program:  resp.py PORT stream STREAM      the entries as JSON lines:
                                               {"id": ..., "fields": {...}}
               resp.py PORT pending STREAM GROUP   entries pending (a number)
               resp.py PORT cmd ARGS...       one command, the reply as JSON
HERALD_TEST_REDIS_PASSWORD, when set, is sent with AUTH first.
"""

import json
import os
import socket
import sys


class RedisError(Exception):
    pass


class Redis:
    def __init__(self, port, host="127.0.0.1", password=None):
        self.s = socket.create_connection((host, port), timeout=30)
        self.f = self.s.makefile("rb")
        password = password or os.environ.get("HERALD_TEST_REDIS_PASSWORD")
        if password:
            self.cmd("AUTH", password)

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.s.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise RedisError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise RedisError(f"bad reply {line!r}")

    def entries(self, stream):
        """[(id, {field: value})] of the whole stream."""
        out = []
        for e in self.cmd("XRANGE", stream, "-", "+") or []:
            fields = e[1] or []
            out.append((e[0], dict(zip(fields[::2], fields[1::2]))))
        return out

    def pending(self, stream, group):
        try:
            return self.cmd("XPENDING", stream, group)[0]
        except RedisError:
            return 0


def main():
    port = int(sys.argv[1])
    what = sys.argv[2]
    r = Redis(port)
    if what == "stream":
        for eid, fields in r.entries(sys.argv[3]):
            print(json.dumps({"id": eid, "fields": fields}))
    elif what == "pending":
        print(r.pending(sys.argv[3], sys.argv[4]))
    elif what == "cmd":
        print(json.dumps(r.cmd(*sys.argv[3:])))
    else:
        raise SystemExit(f"unknown: {what}")


if __name__ == "__main__":
    main()
