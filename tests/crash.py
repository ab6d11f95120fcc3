#!/usr/bin/python3
"""crash.py — kill -9 herald at random moments while it sends, rerun it with
the same journal until it finishes, and check what the SMTP server got.

    crash.py HERALD SMTP_PORT STATS_FILE WORKDIR [--rows N] [--trials T]
             [--concurrency C] [--mode resend|skip] [--seed S]

Each trial sends a list of its own (addresses t<trial>-<i>@crash.example)
with a journal of its own.  The first run is killed with SIGKILL after a
random delay; later runs are killed too, with a falling chance, until one
ends by itself.  After every kill the journal is read: the rows whose start
is recorded without an outcome are the uncertain ones of that kill.  At the
end of a trial, at the server:

  every row arrived at least once (resend), or arrived once or is reported
  uncertain (skip);
  resend: a row that arrived twice is one of the uncertain rows of a kill,
  and no kill left more uncertain rows than the concurrency;
  skip: no row arrived twice.

It prints one line per trial and the totals; exit 0 when every check held.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time


def read_journal(path):
    """{key: "start" (uncertain), "retry", "end" or "sent"} from a journal
    (a torn last line is ignored)."""
    state = {}
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return state
    for line in lines[1:-1]:  # the header, and whatever follows the last \n
        r = json.loads(line)
        for kind in ("start", "retry", "end"):
            if kind in r and state.get(r["key"]) != "sent":
                if kind == "end" and r["status"] in ("sent", "uncertain"):
                    # an outcome of "uncertain" is as unknown as a start
                    kind = "sent" if r["status"] == "sent" else "start"
                state[r["key"]] = kind
    return state


def stats(path):
    with open(path) as f:
        return json.load(f).get("recipients", {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("herald")
    ap.add_argument("port", type=int)
    ap.add_argument("stats")
    ap.add_argument("work")
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--mode", choices=("resend", "skip"), default="resend")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--window", type=float, default=0.4,
                    help="kills fall within this many seconds of a start")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.work, exist_ok=True)
    tmpl = os.path.join(a.work, "crash.eml")
    with open(tmpl, "w") as f:
        f.write("From: Crash <crash@crash.example>\nTo: <{{email}}>\n"
                "Subject: crash test {{n}}\n\nRow {{n}}.\n")
    bad = 0
    kills_total = dup_total = unc_total = 0
    max_unc = 0
    for trial in range(1, a.trials + 1):
        tag = f"{a.mode}{trial}"
        lst = os.path.join(a.work, f"{tag}.csv")
        jpath = os.path.join(a.work, f"{tag}.journal")
        report = os.path.join(a.work, f"{tag}.report.jsonl")
        keys = [f"t{tag}-{i}@crash.example" for i in range(1, a.rows + 1)]
        with open(lst, "w") as f:
            f.write("email,n\n")
            for i, k in enumerate(keys, 1):
                f.write(f"{k},{i}\n")
        uncertain = set()  # rows a kill left uncertain
        kills = runs = 0
        chance = 1.0
        while True:
            runs += 1
            p = subprocess.Popen(
                [a.herald, "send", "-q", "-t", tmpl, "--smtp",
                 f"smtp://127.0.0.1:{a.port}", "-c", str(a.concurrency),
                 "--journal", jpath, "--on-uncertain", a.mode,
                 "-o", report, lst],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            kill = rnd.random() < chance
            if kill:
                time.sleep(rnd.uniform(0.0, a.window))
            if kill and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
                j = read_journal(jpath)
                now = {k for k, v in j.items() if v == "start"}
                # this kill's: held-back rows of earlier kills stay
                left = now - uncertain
                if len(left) > a.concurrency:
                    print(f"FAIL: trial {trial}: a kill left {len(left)} "
                          f"rows uncertain, more than -c {a.concurrency}")
                    bad += 1
                max_unc = max(max_unc, len(left))
                uncertain |= left
                chance *= 0.6
                continue
            err = p.stderr.read().decode()
            p.wait()
            if p.returncode not in (0, 1):
                print(f"FAIL: trial {trial}: run {runs} exited "
                      f"{p.returncode}: {err.strip()}")
                bad += 1
            if p.returncode in (0, 1):
                break
            if runs > 50:
                break
        got = stats(a.stats)
        counts = {k: got.get(k, 0) for k in keys}
        missing = [k for k, c in counts.items() if c == 0]
        dups = [k for k, c in counts.items() if c > 1]
        with open(report) as f:
            final = {r["key"]: r["status"] for r in map(json.loads, f)}
        if a.mode == "resend":
            if missing:
                print(f"FAIL: trial {trial}: {len(missing)} rows never "
                      f"arrived: {missing[:5]}")
                bad += 1
            stray = [k for k in dups if k not in uncertain]
            if stray:
                print(f"FAIL: trial {trial}: rows arrived twice that no "
                      f"journal marked uncertain: {stray[:5]}")
                bad += 1
        else:
            if dups:
                print(f"FAIL: trial {trial}: rows arrived twice with "
                      f"--on-uncertain skip: {dups[:5]}")
                bad += 1
            lost = [k for k in missing if final.get(k) != "uncertain"]
            if lost:
                print(f"FAIL: trial {trial}: rows neither arrived nor "
                      f"reported uncertain: {lost[:5]}")
                bad += 1
        held = sorted(k for k, s in final.items() if s == "uncertain")
        kills_total += kills
        dup_total += len(dups)
        unc_total += len(uncertain)
        print(f"trial {trial:2d} ({a.mode}): {kills} kill(s), {runs} runs, "
              f"{len(uncertain)} uncertain after kills, {len(dups)} "
              f"duplicate(s), {len(missing)} missing"
              + (f"; held back: {', '.join(held)}" if held else ""))
    print(f"{a.mode}: {a.trials} trials of {a.rows} rows, -c "
          f"{a.concurrency}: {kills_total} kills, {unc_total} rows left "
          f"uncertain (at most {max_unc} by one kill), {dup_total} "
          f"duplicates at the server, {bad} failed checks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
