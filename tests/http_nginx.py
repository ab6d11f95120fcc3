#!/usr/bin/python3
"""http_nginx.py — runs a throw-away nginx on 127.0.0.1 for herald's tests.

  http_nginx.py --dir DIR --port-file FILE [--nginx PATH]
                [--conf TEMPLATE] [--set NAME=VALUE ...]

Fills tests/servers/nginx.conf.in (or --conf TEMPLATE, with each --set
NAME=VALUE put in for @NAME@) into DIR/nginx.conf with a free port
and DIR as the prefix (pid, logs, temp folders: nothing outside DIR), starts
nginx in the foreground as a child, waits until it accepts connections,
then writes the port (and a newline) to FILE.  It stays until SIGTERM or
SIGINT, then stops nginx and exits 0; if nginx dies on its own, it exits 1.
The access log, DIR/access.log, holds one JSON object a line with nginx's
connection serial number ("conn") and the request count on that
connection ("n").  Exit 77 when there is no nginx.  Standard library only.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "servers", "nginx.conf.in")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start(nginx, prefix, port, template, values):
    """Starts nginx on port; returns the process once it accepts, or None
    when it exited (the port may have been taken in between)."""
    with open(template, encoding="utf-8") as f:
        conf = f.read()
    for name, value in values:
        conf = conf.replace(f"@{name}@", value)
    # A master running as root hands the workers to an unprivileged user;
    # nginx's default group "nobody" does not exist on Debian.
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    conf = (conf.replace("@PREFIX@", prefix).replace("@PORT@", str(port))
            .replace("@USER@", user))
    with open(os.path.join(prefix, "nginx.conf"), "w", encoding="utf-8") as f:
        f.write(conf)
    out = open(os.path.join(prefix, "nginx.out"), "ab")
    proc = subprocess.Popen(
        [nginx, "-p", prefix + "/", "-c", os.path.join(prefix, "nginx.conf"),
         "-e", os.path.join(prefix, "error.log")],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        if accepts(port):
            return proc
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return None


def stop(proc):
    if proc.poll() is None:
        proc.terminate()  # nginx: fast shutdown
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--conf", default=TEMPLATE)
    p.add_argument("--set", action="append", default=[],
                   type=lambda v: tuple(v.split("=", 1)))
    args = p.parse_args()
    if not os.access(args.nginx, os.X_OK):
        sys.stderr.write(f"SKIPPED: {args.nginx} not found\n")
        return 77
    prefix = os.path.abspath(args.dir)
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda s, f: stopping.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stopping.append(s))

    proc = None
    for _ in range(5):
        port = free_port()
        proc = start(args.nginx, prefix, port, args.conf, args.set)
        if proc or stopping:
            break
    if not proc:
        sys.stderr.write("nginx did not start; see "
                         f"{prefix}/error.log and {prefix}/nginx.out\n")
        return 1
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)
    while not stopping and proc.poll() is None:
        time.sleep(0.1)
    died = proc.poll() is not None and not stopping
    stop(proc)
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())
