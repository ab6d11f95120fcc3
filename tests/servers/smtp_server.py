#!/usr/bin/python3
"""smtp_server.py — a real SMTP server for herald's tests (aiosmtpd).

Listens on 127.0.0.1, on a free port chosen by the kernel, and writes that
port (then a newline) to --port-file once it accepts connections.  Every
accepted message lands in --spool as NNNNNN.eml (the DATA bytes exactly as
received, after dot-unstuffing) and NNNNNN.json (mail_from, rcpt_tos,
connection id).  --stats is a JSON file rewritten on every change:

    {"connections": 3, "messages": 20, "rejected": 1,
     "recipients": {"ann@example.com": 2, ...}}

("recipients" counts accepted messages per envelope recipient.)

TLS and AUTH:
  --tls-cert F --tls-key K  offer STARTTLS with this certificate
  --require-tls             refuse MAIL before STARTTLS (530)
  --implicit-tls            TLS from the first byte (SMTPS) instead
  --auth USER:PASS          require AUTH (PLAIN and LOGIN, or --auth-mechs),
                            offered only after TLS unless --auth-plaintext

Faults on demand, so the client's error paths can be tested:
  --reject-rcpt REGEX:REPLY RCPT TO matching REGEX gets REPLY ("550", or a
                            whole reply, multi-line with CRLFs inside)
  --fail-first N:REPLY      the first N DATA attempts per recipient get REPLY
                            ("451" or a whole line "451 4.7.1 Slow down")
  --slow-ms N               wait N ms before the reply to DATA
  --close-after N           close the session right after its Nth message
                            (a server whose idle timeout fires at once)
  --drop-after N            after N messages on a session, drop the
                            connection without a reply at the next command
                            (the idle timeout firing just as the client
                            speaks: the client cannot know beforehand)
  --smtputf8                offer SMTPUTF8, so that replies may hold UTF-8
                            ("550 5.1.1 Empf\u00e4nger unbekannt")
A 421 reply is always followed by closing the connection, as RFC 5321
section 3.8 says.  The server exits cleanly (status 0) on SIGTERM or SIGINT.

Run it with /usr/bin/python3 (Debian's python3-aiosmtpd).
"""

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException

log = logging.getLogger("smtp_server")

DEFAULT_TEXT = {
    "421": "4.7.0 Too many messages, closing connection",
    "450": "4.2.0 Mailbox temporarily unavailable",
    "451": "4.3.0 Temporary local problem, try again later",
    "452": "4.3.1 Insufficient system storage",
    "550": "5.1.1 Recipient address rejected: user unknown",
    "552": "5.3.4 Message too big",
    "554": "5.7.1 Transaction failed",
}


def reply_line(spec):
    """'451' -> '451 4.3.0 ...'; a whole reply line is kept as given."""
    spec = spec.strip()
    # A multi-line reply may be given whole: "550-first\r\n550 last".
    if not re.fullmatch(r"[2-5][0-9][0-9]([ -].*)?", spec, re.S):
        raise argparse.ArgumentTypeError(f"bad SMTP reply: {spec!r}")
    if len(spec) == 3:
        text = DEFAULT_TEXT.get(spec, f"{spec[0]}.0.0 Refused by test server")
        return f"{spec} {text}"
    return spec


def reject_rcpt(value):
    # The regex ends at the first ":" followed by a reply code.
    m = re.fullmatch(r"(.*?):([2-5][0-9][0-9].*)", value, re.S)
    if not m:
        raise argparse.ArgumentTypeError("expected REGEX:REPLY")
    regex, code = m.groups()
    return re.compile(regex), reply_line(code)


def fail_first(value):
    count, sep, reply = value.partition(":")
    if not sep or not count.isdigit():
        raise argparse.ArgumentTypeError("expected N:REPLY")
    return int(count), reply_line(reply)


def write_atomic(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class State:
    """Everything shared by all sessions (one event loop: no locking)."""

    def __init__(self, opts):
        self.opts = opts
        self.connections = 0
        self.messages = 0
        self.rejected = 0
        self.recipients = {}   # accepted messages per recipient
        self.data_tries = {}   # DATA attempts per recipient (--fail-first)

    def save_stats(self):
        if not self.opts.stats:
            return
        stats = {"connections": self.connections, "messages": self.messages,
                 "rejected": self.rejected, "recipients": self.recipients}
        write_atomic(self.opts.stats, json.dumps(stats, indent=1).encode())


class Handler:
    def __init__(self, state):
        self.state = state

    def close_soon(self, server):
        # After the reply now being written has gone out: the transport
        # flushes its buffer before it closes.
        transport = server.transport
        asyncio.get_running_loop().call_soon(transport.close)

    async def handle_exception(self, error):
        # A client refusing our certificate is a test case, not a bug.
        if isinstance(error, TLSSetupException):
            log.info("TLS handshake failed: %r", error.__cause__)
        else:
            log.error("session error", exc_info=error)
        return f"500 Error: ({error.__class__.__name__}) {error}"

    async def handle_MAIL(self, server, session, envelope, address, options):
        opts = self.state.opts
        if opts.drop_after and server.messages >= opts.drop_after:
            server.transport.close()
            await asyncio.sleep(3600)  # cancelled by connection_lost
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        for regex, reply in self.state.opts.reject_rcpt:
            if regex.search(address):
                self.state.rejected += 1
                self.state.save_stats()
                if reply.startswith("421"):
                    self.close_soon(server)
                return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        state, opts = self.state, self.state.opts
        if opts.slow_ms:
            await asyncio.sleep(opts.slow_ms / 1000.0)
        if opts.fail_first:
            limit, reply = opts.fail_first
            tries = [state.data_tries.get(r, 0) for r in envelope.rcpt_tos]
            for r in envelope.rcpt_tos:
                state.data_tries[r] = state.data_tries.get(r, 0) + 1
            if min(tries) < limit:
                state.rejected += 1
                state.save_stats()
                if reply.startswith("421"):
                    self.close_soon(server)
                return reply
        state.messages += 1
        server.messages += 1
        name = os.path.join(opts.spool, f"{state.messages:06d}")
        meta = {"mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "connection": server.conn_id,
                "tls": session.ssl is not None or opts.implicit_tls,
                "authenticated": bool(session.authenticated)}
        write_atomic(name + ".json", json.dumps(meta).encode())
        write_atomic(name + ".eml", envelope.original_content)
        for r in envelope.rcpt_tos:
            state.recipients[r] = state.recipients.get(r, 0) + 1
        state.save_stats()
        if opts.close_after and server.messages >= opts.close_after:
            self.close_soon(server)
        return f"250 2.0.0 Ok: queued as T{state.messages:06d}"


class CountingSMTP(SMTP):
    """SMTP that numbers its connections (not counting the STARTTLS
    restart, which calls connection_made a second time)."""

    def __init__(self, state, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state = state
        self.conn_id = 0
        self.messages = 0

    def connection_made(self, transport):
        if self._original_transport is None:
            self.state.connections += 1
            self.conn_id = self.state.connections
            self.state.save_stats()
        super().connection_made(transport)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--stats")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--auth", metavar="USER:PASS")
    ap.add_argument("--auth-plaintext", action="store_true")
    ap.add_argument("--auth-mechs", default="PLAIN,LOGIN",
                    help="mechanisms offered, out of PLAIN and LOGIN")
    ap.add_argument("--reject-rcpt", type=reject_rcpt, action="append",
                    default=[])
    ap.add_argument("--fail-first", type=fail_first)
    ap.add_argument("--slow-ms", type=int, default=0)
    ap.add_argument("--close-after", type=int, default=0)
    ap.add_argument("--drop-after", type=int, default=0)
    ap.add_argument("--smtputf8", action="store_true",
                    help="offer SMTPUTF8: replies may hold UTF-8")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    # aiosmtpd logs to "mail.log"; tests want a quiet stderr.
    logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.ERROR)
    logging.captureWarnings(True)

    os.makedirs(opts.spool, exist_ok=True)
    state = State(opts)
    state.save_stats()

    ctx = None
    if opts.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    elif opts.implicit_tls or opts.require_tls:
        ap.error("--implicit-tls and --require-tls need --tls-cert")

    kwargs = {"hostname": "herald-test.localhost", "ident": "herald test",
              "enable_SMTPUTF8": opts.smtputf8}
    if opts.implicit_tls:
        # The socket is TLS from the first byte: no STARTTLS to offer, and
        # AUTH is over TLS already.
        kwargs["auth_require_tls"] = False
    else:
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = opts.require_tls
        kwargs["auth_require_tls"] = not opts.auth_plaintext
    if opts.auth:
        user, _, password = opts.auth.partition(":")
        good = LoginPassword(user.encode(), password.encode())

        def authenticator(server, session, envelope, mechanism, data):
            return AuthResult(success=(data == good), handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        offered = opts.auth_mechs.upper().split(",")
        kwargs["auth_exclude_mechanism"] = [
            m for m in ("PLAIN", "LOGIN") if m not in offered]
    else:
        kwargs["auth_exclude_mechanism"] = ["LOGIN", "PLAIN"]

    async def serve():
        loop = asyncio.get_running_loop()
        handler = Handler(state)
        server = await loop.create_server(
            lambda: CountingSMTP(state, handler, **kwargs),
            host="127.0.0.1", port=0,
            ssl=ctx if opts.implicit_tls else None)
        port = server.sockets[0].getsockname()[1]
        stop = loop.create_future()
        # handlers before the port file: a test may stop us the moment it
        # sees the port, and that must still be a clean exit
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                sig, lambda: stop.done() or stop.set_result(None))
        write_atomic(opts.port_file, f"{port}\n".encode())
        await stop
        server.close()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
