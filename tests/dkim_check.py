#!/usr/bin/python3
"""dkim_check.py — verifies herald's DKIM signatures with an independent
verifier (dkimpy, Debian's python3-dkim; python3-nacl for ed25519), for
the integration tests.

    dkim_check.py keys   DNSFILE NAME=PEM ...   writes the DNS records
    dkim_check.py verify LABEL DNSFILE NSIG FILE ...
    dkim_check.py relay  LABEL DNSFILE FILE ...
    dkim_check.py tamper LABEL DNSFILE FILE ...

keys: for each NAME (selector._domainkey.domain) the TXT record of the
public half of the private key in PEM ("v=DKIM1; k=rsa; p=..." with the
SubjectPublicKeyInfo for RSA, "k=ed25519; p=" and the raw 32-byte key
for Ed25519, RFC 8463 section 4.2), as JSON into DNSFILE.  Nothing is
looked up in DNS: dkimpy gets the records through its dnsfunc.

verify: each FILE holds exactly NSIG DKIM-Signature fields and every one
of them verifies.  relay: each still verifies after what relays do to
mail in transit: a Received and an unsigned X- field added, the blanks of
a signed field re-folded, blanks added at body line ends.  tamper: each
fails after a changed body byte, a changed Subject, a From or Subject
added on top (oversigning).

Prints one line per check, "ok: LABEL: ..." or "FAIL: LABEL: ...", and
exits 1 when a check failed.
"""
import base64
import json
import re
import subprocess
import sys

import dkim

failed = False


def report(ok, label, what):
    global failed
    print(("ok: " if ok else "FAIL: ") + label + ": " + what)
    failed = failed or not ok


def public_record(pem):
    der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    text = subprocess.run(["openssl", "pkey", "-in", pem, "-noout",
                           "-text"], check=True, capture_output=True,
                          text=True).stdout
    if text.startswith("ED25519"):
        # the SubjectPublicKeyInfo ends with the raw 32-byte key
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def load_dns(path):
    records = {k.lower().rstrip(".") + ".": v.encode()
               for k, v in json.load(open(path)).items()}

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return records.get(name.lower().rstrip(".") + ".", b"")
    return dnsfunc


def signatures(msg):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return len(re.findall(rb"(?mi)^DKIM-Signature:", head))


def verifies(msg, dnsfunc):
    """[True, or why not, per signature]"""
    out = []
    for i in range(signatures(msg)):
        try:
            out.append(bool(dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)))
        except Exception as e:  # dkimpy raises on some failures
            out.append(f"{type(e).__name__}: {e}")
    return out


def passed(res):
    return bool(res) and all(r is True for r in res)


def all_failed(res):
    return bool(res) and not any(r is True for r in res)


def split(msg):
    head, body = msg.split(b"\r\n\r\n", 1)
    return head, body


def relayed(msg):
    head, body = split(msg)
    # an unsigned field in the middle, a Received on top
    lines = head.split(b"\r\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"Date:"))
    lines.insert(at, b"X-Spam-Score: 0.1")
    head = b"Received: from relay.example by mx.example; Thu, 1 Jan 2026 "
    head += b"00:00:00 +0000\r\n" + b"\r\n".join(lines)
    # re-fold: blanks after a signed field's colon, a fold in Subject
    head = re.sub(rb"(?m)^(From|To):", rb"\1:   ", head)
    head = re.sub(rb"(?m)^(Subject: \S+) ", rb"\1\r\n\t ", head, count=1)
    # blanks at the end of body lines (a relay's re-wrapping tool)
    body = body.replace(b"\r\n", b"  \r\n")
    return head + b"\r\n\r\n" + body


def tampered(msg):
    head, body = split(msg)
    i = len(body) // 2
    while body[i:i + 1] in (b"\r", b"\n", b" ", b"\t", b"="):
        i += 1
    changed = bytes([body[i] ^ 1])
    yield "a body byte changed", head + b"\r\n\r\n" + body[:i] + changed + \
        body[i + 1:]
    yield "Subject changed", re.sub(rb"(?m)^Subject: ", b"Subject: Re: ",
                                    head, count=1) + b"\r\n\r\n" + body
    yield "a From added on top", b"From: Mallory <m@evil.example>\r\n" + msg
    yield "a Subject added on top", b"Subject: Urgent\r\n" + msg


def main():
    mode = sys.argv[1]
    if mode == "keys":
        records = {}
        for arg in sys.argv[3:]:
            name, pem = arg.split("=", 1)
            records[name] = public_record(pem)
        json.dump(records, open(sys.argv[2], "w"), indent=1)
        return 0
    label, dnsfunc = sys.argv[2], load_dns(sys.argv[3])
    if mode == "verify":
        want, files = int(sys.argv[4]), sys.argv[5:]
    else:
        want, files = None, sys.argv[4:]
    if not files:
        report(False, label, "no messages to check")
    for f in files:
        msg = open(f, "rb").read()
        name = f.rsplit("/", 1)[-1]
        if mode == "verify":
            n = signatures(msg)
            res = verifies(msg, dnsfunc)
            report(n == want and passed(res), label,
                   f"{name}: {want} signature(s) verify (got {res})")
        elif mode == "relay":
            res = verifies(relayed(msg), dnsfunc)
            report(passed(res), label,
                   f"{name}: still verifies after a relay (got {res})")
        elif mode == "tamper":
            for what, bad in tampered(msg):
                res = verifies(bad, dnsfunc)
                report(all_failed(res), label, f"{name}: {what}: fails")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
