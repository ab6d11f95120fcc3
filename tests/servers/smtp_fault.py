#!/usr/bin/python3
"""smtp_fault.py — an SMTP server that stalls or hangs up at a chosen step.

A small SMTP server of our own (no aiosmtpd: the faults must fall exactly
where asked) for herald's outcome tests.  It listens on 127.0.0.1 on a free
port and writes the port to --port-file.  --stats is a JSON file rewritten
after every change:

    {"connections": 3, "received": {"<id@x>": 1, ...}, "accepted": 2}

"received" counts, per Message-ID, every message whose data arrived whole
(up to the final "."), whether or not it was then answered: a message that
herald sent twice shows as 2.  "accepted" counts the 250s given to data.

The fault:
  --stall STEP   do not answer at STEP (the client waits, then times out)
  --drop STEP    close the connection at STEP instead of answering
  --refuse STEP  answer STEP with a permanent error (554 greeting, 550
                 EHLO/HELO, 535 AUTH, 550 MAIL, 550 RCPT, 554 DATA or dot)
  STEP is greeting, ehlo, auth, mail, rcpt, data (the DATA command) or dot
  (the message's final ".", after the data arrived whole)
  --auth         offer AUTH PLAIN (any credentials are taken, unless
                 --refuse auth)
  --after N      the first N times STEP comes, behave (default 0)
  --times N      then fault N times, then behave again (default: always)

Exits cleanly on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import sys

STEPS = ("greeting", "ehlo", "auth", "mail", "rcpt", "data", "dot")
REFUSALS = {
    "greeting": "554 5.3.2 fault.test refuses you",
    "ehlo": "550 5.7.1 not you",
    "auth": "535 5.7.8 Authentication credentials invalid",
    "mail": "550 5.7.1 sender refused",
    "rcpt": "550 5.1.1 no such user",
    "data": "554 5.5.1 no valid recipients",
    "dot": "554 5.6.0 message refused",
}


class State:
    def __init__(self, args):
        self.args = args
        self.seen = 0  # times the faulty step came
        self.connections = 0
        self.received = {}
        self.accepted = 0

    def fault_now(self, step):
        """True when this occurrence of step is to fail."""
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
                       "accepted": self.accepted}, f)
        os.replace(tmp, self.args.stats)


async def session(state, reader, writer):
    state.connections += 1
    state.save()

    async def reply(step, text):
        """Answers, unless this is where the fault falls; False: stop."""
        if state.fault_now(step):
            if state.args.mode == "refuse":
                writer.write(REFUSALS[step].encode() + b"\r\n")
                await writer.drain()
                return step != "greeting"
            if state.args.mode == "drop":
                writer.close()
                return False
            await reader.read()  # stall until the client gives up
            writer.close()
            return False
        writer.write(text.encode() + b"\r\n")
        await writer.drain()
        return True

    try:
        if not await reply("greeting", "220 fault.test ESMTP"):
            return
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                offer = "250-AUTH PLAIN\r\n" if state.args.auth else ""
                if not await reply("ehlo",
                                   "250-fault.test\r\n" + offer +
                                   "250 8BITMIME"):
                    return
            elif verb == "AUTH":
                if len(cmd.split()) < 3:  # no initial response
                    writer.write(b"334 \r\n")
                    await writer.drain()
                    if not await reader.readline():
                        return
                if not await reply("auth", "235 2.7.0 Authentication "
                                   "successful"):
                    return
            elif verb == "MAIL":
                if not await reply("mail", "250 2.1.0 Ok"):
                    return
            elif verb == "RCPT":
                if not await reply("rcpt", "250 2.1.5 Ok"):
                    return
            elif verb == "DATA":
                if not await reply("data", "354 End data with <CR><LF>.<CR><LF>"):
                    return
                data = []
                while True:
                    l = await reader.readline()
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    data.append(l)
                m = re.search(rb"^Message-ID:\s*(\S+)", b"".join(data),
                              re.M | re.I)
                mid = m.group(1).decode() if m else "(none)"
                state.received[mid] = state.received.get(mid, 0) + 1
                state.save()
                if not await reply("dot", "250 2.0.0 Ok: queued"):
                    return
                state.accepted += 1
                state.save()
            elif verb == "RSET" or verb == "NOOP":
                writer.write(b"250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 5.5.2 Not implemented\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main(args):
    state = State(args)
    state.save()
    server = await asyncio.start_server(
        lambda r, w: session(state, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
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
    g.add_argument("--refuse", choices=STEPS)
    ap.add_argument("--auth", action="store_true")
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--times", type=int, default=None)
    a = ap.parse_args()
    a.step = a.stall or a.drop or a.refuse
    a.mode = "refuse" if a.refuse else "drop" if a.drop else "stall"
    try:
        asyncio.run(main(a))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
