#!/usr/bin/python3
"""shard_check.py — the reports of N shards of one list, against the report
of the whole list sent at once.

    shard_check.py [--fold] WHOLE SHARD0 SHARD1 ... SHARD{N-1}

Prints ok:/FAIL: lines and exits 1 on a failure.  What must hold:

  every report has every row of the whole list, once;
  each row is taken (not skipped "shard K/N") by exactly one shard:
  the shards are disjoint and together cover the list;
  the shard that took a row ends it as the whole run did (sent, dry-run,
  invalid, skipped as a duplicate...): splitting changes nothing else;
  the other shards name the taker in their reason, "shard K/N";
  K is what README's formula gives: FNV-1a 64 of the key's identity,
  then the fmix64 finalizer, mod N; (row - 1) mod N for a row with no
  key.  --fold: the identity is the key with A-Z lower-cased.
"""

import json
import sys

M = (1 << 64) - 1


def herald_hash(identity):
    """README, "Shards": the hash, as any language can write it."""
    h = 0xCBF29CE484222325
    for b in identity.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & M
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & M
    h ^= h >> 33
    return h or 1


def ascii_lower(s):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def read(path):
    rows = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["row"] in rows:
                raise SystemExit(f"FAIL: {path}: row {r['row']} twice")
            rows[r["row"]] = r
    return rows


def main():
    args = sys.argv[1:]
    fold = False
    if args and args[0] == "--fold":
        fold = True
        args = args[1:]
    whole = read(args[0])
    shards = [read(p) for p in args[1:]]
    n = len(shards)
    bad = 0

    def fail(msg):
        nonlocal bad
        bad += 1
        if bad <= 20:
            print(f"FAIL: {msg}")

    for k, rep in enumerate(shards):
        if set(rep) != set(whole):
            fail(f"shard {k}/{n}: rows {sorted(set(whole) ^ set(rep))[:10]} "
                 "differ from the whole list's")
    taken_total = 0
    for row, w in sorted(whole.items()):
        takers = []
        for k, rep in enumerate(shards):
            r = rep.get(row)
            if r is None:
                continue
            err = r.get("error") or ""
            if r["status"] == "skipped" and err.startswith("shard "):
                continue
            takers.append(k)
        if len(takers) != 1:
            fail(f"row {row}: taken by shards {takers}, not by one")
            continue
        k = takers[0]
        taken_total += 1
        r = shards[k][row]
        if r["status"] != w["status"]:
            fail(f"row {row}: {r['status']} in shard {k}/{n}, "
                 f"{w['status']} in the whole run")
        key = w.get("key")
        if key is None:
            want = (row - 1) % n
        else:
            want = herald_hash(ascii_lower(key) if fold else key) % n
        if n > 1 and k != want:
            fail(f"row {row} (key {key!r}): in shard {k}, the formula "
                 f"says {want}")
        for j, rep in enumerate(shards):
            if j != k and n > 1:
                err = rep[row].get("error") or ""
                if err != f"shard {k}/{n}":
                    fail(f"row {row}: shard {j} says {err!r}, not "
                         f"'shard {k}/{n}'")
    if bad == 0:
        sizes = []
        for k, rep in enumerate(shards):
            sizes.append(sum(1 for r in rep.values()
                             if not (r["status"] == "skipped" and
                                     (r.get("error") or "").startswith(
                                         "shard "))))
        print(f"ok: {len(whole)} rows in {n} shards of sizes {sizes}: "
              f"disjoint, complete, each row as the whole run ended it, "
              f"in the shard README's formula gives")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
