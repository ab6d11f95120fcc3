#!/usr/bin/python3
"""compare.py — the data and the table of bench/compare.sh.

  compare.py list N FILE             N recipients as JSON Lines
  compare.py curlcfg LIST URL FILE   a curl config: one POST per row, the
                                     body event.http.in renders for it
  compare.py table DIR               the table of DIR/results.tsv

Standard library only.  The recipients are the same for every tool of a
work: herald renders bench/templates/ from them, nodemailer and node fetch
build the same message or body from them, curl gets the bodies herald
would send (built here), smtp-source and the bare libcurl loop send one
fixed message of the same size.
"""

import json
import os
import statistics
import sys

PLANS = ["Pro", "Team", "Business"]


def row(i):
    return {
        "email": f"user{i}@example.com",
        "name": f"User Number {i}",
        "plan": PLANS[i % 3],
        "account_id": f"acc_{i:07d}",
        "renews": f"2026-12-{1 + i % 28:02d}",
        "trial": i % 4 == 0,
        "company": {"name": f"Company {i} & Co", "seats": 1 + i % 50},
    }


def make_list(n, path):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(1, n + 1):
            f.write(json.dumps(row(i)) + "\n")


def body(r):
    """The body bench/templates/event.http.in renders for row r (herald
    writes JSON with the same separators as json.dumps)."""
    return json.dumps({
        "event": "plan.renewing",
        "account": {"id": r["account_id"], "email": r["email"],
                    "name": r["name"], "company": r["company"]["name"]},
        "plan": {"name": r["plan"], "seats": str(r["company"]["seats"]),
                 "renews": r["renews"]},
    })


def curl_config(lst, url, path):
    def quote(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    with open(lst, encoding="utf-8") as f, \
            open(path, "w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            # "next" separates transfers; one after the last would start
            # an empty one, which curl refuses
            if i:
                out.write("next\n")
            out.write(f"url = {quote(url)}\n"
                      f"data-raw = {quote(body(json.loads(line)))}\n"
                      'header = "Content-Type: application/json"\n')


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    head, rows = lines[0], lines[1:]
    return [dict(zip(head, r)) for r in rows]


def num(x, digits=0):
    return f"{x:,.{digits}f}"


def table(d):
    meta = dict(l.rstrip("\n").split("\t", 1)
                for l in open(os.path.join(d, "meta.tsv"), encoding="utf-8")
                if "\t" in l)
    cases = read_tsv(os.path.join(d, "cases.tsv"))
    tools = read_tsv(os.path.join(d, "tools.tsv"))
    runs = read_tsv(os.path.join(d, "results.tsv"))

    med = {}
    failed = []
    ran = set((r["case"], r["tool"]) for r in runs)
    tools = [t for t in tools if (t["case"], t["tool"]) in ran]
    cases = [c for c in cases if any(t["case"] == c["case"] for t in tools)]
    for t in tools:
        key = (t["case"], t["tool"])
        mine = [r for r in runs if (r["case"], r["tool"]) == key]
        ok = [r for r in mine if r["status"] == "ok"]
        failed += [r for r in mine if r["status"] != "ok"]
        if not ok:
            continue
        n = int(ok[0]["n"])
        rate = [n / float(r["wall"]) for r in ok]
        cpu = [float(r["user"]) + float(r["sys"]) for r in ok]
        med[key] = {
            "rate": statistics.median(rate),
            "lo": min(rate), "hi": max(rate),
            "cpu10k": statistics.median(c / n * 10000 for c in cpu),
            "cpupct": statistics.median(
                c / float(r["wall"]) * 100 for c, r in zip(cpu, ok)),
            "rss": statistics.median(
                max(int(r["maxrss_kb"]), int(r["tree_kb"])) / 1024
                for r in ok),
            "conns": statistics.median(int(r["conns"]) for r in ok),
            "rounds": len(ok), "of": len(mine),
        }

    out = []
    out.append("| work | tool | msg/s (median) | range | client CPU "
               "| CPU s / 10k msgs | peak RSS | connections at the sink "
               "| herald ÷ peer (msg/s) |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: "
               "| ---: |")
    for c in cases:
        first = True
        for t in (t for t in tools if t["case"] == c["case"]):
            m = med.get((t["case"], t["tool"]))
            work = c["title"] if first else ""
            first = False
            if not m:
                out.append(f"| {work} | {t['label']} | FAILED | | | | | | |")
                continue
            ratio = "—"
            h = med.get((t["case"], t["pair"])) if t["pair"] else None
            if h:
                ratio = f"{h['rate'] / m['rate']:.2f}×"
            elif t["pair"]:
                ratio = "herald failed"
            rounds = "" if m["rounds"] == m["of"] else \
                f" ({m['rounds']} of {m['of']} rounds)"
            out.append(
                f"| {work} | {t['label']}{rounds} | {num(m['rate'])} "
                f"| {num(m['lo'])}–{num(m['hi'])} "
                f"| {m['cpupct']:.0f}% | {m['cpu10k']:.2f} s "
                f"| {m['rss']:.1f} MB | {num(m['conns'])} | {ratio} |")

    print("\n".join(out))
    print()
    print(f"Rounds: {meta.get('rounds', '?')}, tools interleaved (each "
          "round in a rotated order); every figure is the median over the "
          "rounds, range the slowest and fastest round; every message was "
          "counted at the sink. msg/s is messages over the wall time of the whole process "
          "(start-up, validation and report included); client CPU is "
          "user + sys of the tool's process tree over that wall time "
          "(200% = both cores); peak RSS is the largest resident set of "
          "the tree (the sum over its processes at one moment, sampled "
          "every 20 ms, or its largest process's own peak, whichever is "
          "larger); connections are those the sink saw (SMTP sessions, "
          "nginx connection numbers). herald ÷ peer divides the msg/s of the herald row "
          "named in the work by the peer's.")
    print()
    for k in ("date", "command", "machine", "cpu", "kernel", "load before",
              "during the sitting", "load after", "versions"):
        if k in meta:
            print(f"- {k}: {meta[k]}")
    if failed:
        print()
        print("FAILED runs (left out of the medians):")
        for r in failed:
            print(f"- {r['case']} / {r['tool']}, round {r['round']}: "
                  f"{r['note']}")
    return 1 if failed else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "list":
        make_list(int(argv[2]), argv[3])
        return 0
    if len(argv) == 5 and argv[1] == "curlcfg":
        curl_config(argv[2], argv[3], argv[4])
        return 0
    if len(argv) == 3 and argv[1] == "table":
        return table(argv[2])
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
