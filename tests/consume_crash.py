#!/usr/bin/python3
"""consume_crash.py — kill -9 a herald consumer mid-run, let a second one
take its entries over, and check what the SMTP server got.

    consume_crash.py HERALD SMTP_PORT STATS_FILE REDIS_PORT WORKDIR
                     [--entries N] [--trials T] [--concurrency C]
                     [--seed S]

Each trial enqueues N entries (addresses k<trial>-<i>@crash.example) on a
stream of its own.  Consumer A (-c C) is killed with SIGKILL after a random
delay; its journal is read then (as tests/crash.py reads one): the keys
whose last record is a start are the uncertain ones (read_journal, from
tests/crash.py).  Consumer B
(--claim-idle 1s) then runs until idle.  At the end:

  every entry arrived at least once: nothing lost;
  an entry that arrived twice is one of A's uncertain ones, and the kill
  left no more uncertain entries than A's connections;
  nothing is pending in the group, and the results stream has exactly one
  outcome per entry;
  every entry A acknowledged (its outcome in the results stream) has that
  outcome in A's journal as it was left by the kill.

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resp  # noqa: E402
from crash import read_journal  # noqa: E402  (tests/crash.py's reading)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("herald")
    ap.add_argument("smtp_port", type=int)
    ap.add_argument("stats")
    ap.add_argument("redis_port", type=int)
    ap.add_argument("work")
    ap.add_argument("--entries", type=int, default=80)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--window", type=float, default=0.6,
                    help="A is killed within this many seconds")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    r = resp.Redis(a.redis_port)
    os.makedirs(a.work, exist_ok=True)
    tmpl = os.path.join(a.work, "crash.eml")
    with open(tmpl, "w") as f:
        f.write("From: Crash <crash@crash.example>\nTo: <{{email}}>\n"
                "Subject: take-over test {{n}}\n\nEntry {{n}}.\n")
    smtp = f"smtp://127.0.0.1:{a.smtp_port}"
    bad = 0
    tot = {"unc": 0, "dup": 0, "over": 0, "lost": 0, "max_unc": 0,
           "earlier": 0, "by_a": 0}

    def fail(msg):
        nonlocal bad
        bad += 1
        print(f"FAIL: {msg}")

    for trial in range(1, a.trials + 1):
        stream = f"crash{trial}"
        url = f"redis://127.0.0.1:{a.redis_port}/{stream}"
        jd = os.path.join(a.work, f"jd{trial}")
        keys = [f"k{trial}-{i}@crash.example" for i in range(1, a.entries + 1)]
        lst = os.path.join(a.work, f"list{trial}.csv")
        with open(lst, "w") as f:
            f.write("email,n\n")
            for i, k in enumerate(keys, 1):
                f.write(f"{k},{i}\n")
        subprocess.run([a.herald, "enqueue", "-q", "-t", tmpl, url, lst],
                       check=True)
        common = [a.herald, "consume", url, "--group", "g", "-t", tmpl,
                  "--smtp", smtp, "--journal-dir", jd,
                  "--results", f"{stream}:results", "-q"]
        pa = subprocess.Popen(
            common + ["--consumer", "A", "-c", str(a.concurrency)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.05, a.window))
        killed = pa.poll() is None
        if killed:
            pa.send_signal(signal.SIGKILL)
        pa.wait()
        ja = read_journal(os.path.join(jd, "A.journal"))
        uncertain = {k for k, v in ja.items() if v == "start"}
        if len(uncertain) > a.concurrency:
            fail(f"trial {trial}: the kill left {len(uncertain)} entries "
                 f"uncertain, more than -c {a.concurrency}")
        held_by_a = r.pending(stream, "g")
        # what A acknowledged (its results) has its outcome in A's journal
        early = [json.loads(fl["result"])
                 for _, fl in r.entries(f"{stream}:results")
                 if fl.get("consumer") == "A" and "result" in fl]
        unrecorded = [x.get("key") for x in early
                      if x.get("key") not in ja
                      or (x.get("status") == "sent"
                          and ja[x["key"]] != "sent")]
        if unrecorded:
            fail(f"trial {trial}: A acknowledged entries whose outcome is "
                 f"not in its journal: {unrecorded[:5]}")
        pb = subprocess.run(
            common + ["--consumer", "B", "-c", str(a.concurrency),
                      "--claim-idle", "1s", "--exit-when-idle", "3s",
                      "-o", os.path.join(a.work, f"b{trial}.jsonl")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if pb.returncode not in (0, 1):
            fail(f"trial {trial}: consumer B exited {pb.returncode}: "
                 f"{pb.stderr.decode().strip()}")
        with open(a.stats) as f:
            got = json.load(f).get("recipients", {})
        counts = {k: got.get(k, 0) for k in keys}
        missing = [k for k, c in counts.items() if c == 0]
        dups = [k for k, c in counts.items() if c > 1]
        stray = [k for k in dups if k not in uncertain]
        if missing:
            fail(f"trial {trial}: {len(missing)} entries never arrived: "
                 f"{missing[:5]}")
        if stray:
            fail(f"trial {trial}: entries arrived twice that A's journal "
                 f"did not leave uncertain: {stray[:5]}")
        left = r.pending(stream, "g")
        if left:
            fail(f"trial {trial}: {left} entries still pending")
        results = r.entries(f"{stream}:results")
        ids = {fields.get("entry") for _, fields in results}
        if len(results) != a.entries or len(ids) != a.entries:
            fail(f"trial {trial}: {len(results)} results for {len(ids)} "
                 f"entries, want one each of {a.entries}")
        earlier = 0
        with open(os.path.join(a.work, f"b{trial}.jsonl")) as f:
            for line in f:
                row = json.loads(line)
                earlier += "by consumer A" in (row.get("error") or "")
        by_a = sum(1 for _, fl in results if fl.get("consumer") == "A")
        tot["unc"] += len(uncertain)
        tot["dup"] += len(dups)
        tot["over"] += held_by_a
        tot["lost"] += len(missing)
        tot["earlier"] += earlier
        tot["by_a"] += by_a
        tot["max_unc"] = max(tot["max_unc"], len(uncertain))
        print(f"trial {trial}: A {'killed' if killed else 'finished'} "
              f"with {by_a} acknowledged, {held_by_a} left pending, "
              f"{len(uncertain)} uncertain; B took over, {earlier} found "
              f"sent in A's journal; {len(dups)} duplicate(s), "
              f"{len(missing)} missing")
    print(f"take-over: {a.trials} trials of {a.entries} entries, -c "
          f"{a.concurrency}: {tot['by_a']} acknowledged by A, "
          f"{tot['over']} left pending and taken over by B "
          f"({tot['earlier']} of them found sent in A's journal), "
          f"{tot['unc']} uncertain (at most {tot['max_unc']} by one kill), "
          f"{tot['dup']} duplicates at the server, {tot['lost']} lost, "
          f"{bad} failed checks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
