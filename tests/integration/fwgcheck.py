#!/usr/bin/env python3
"""Helpers of the integration tests (test code only).

  fwgcheck.py chain AUDIT              verify the hash chain of an audit log (§8)
  fwgcheck.py has AUDIT SKIP EVENT REASON [k=v | k>=N ...]
                                       a record after the first SKIP lines with this
                                       event, reason ("" = any / "-" = none) and members
  fwgcheck.py count AUDIT SKIP EVENT REASON [k=v ...]   number of such records
  fwgcheck.py cap-has CAPFILE TOPIC [k=v ...]
                                       a captured message ("topic hex" lines) on TOPIC
                                       whose JSON payload has these members
  fwgcheck.py lines FILE               number of complete lines
"""
import hashlib
import json
import sys


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def match(rec, kvs):
    for kv in kvs:
        if ">=" in kv:
            k, _, v = kv.partition(">=")
            if not isinstance(rec.get(k), int) or rec[k] < int(v):
                return False
            continue
        k, _, v = kv.partition("=")
        if k not in rec:
            return False
        got = rec[k]
        if isinstance(got, bool):
            got = "true" if got else "false"
        if str(got) != v:
            return False
    return True


def records(path, skip):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # torn (not yet complete) last line
    for line in lines[skip:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"_unparsable": line.decode("utf-8", "replace")})
    return out


def select(path, skip, event, reason, kvs):
    res = []
    for r in records(path, skip):
        if r.get("event") != event:
            continue
        if reason == "-" and "reason" in r:
            continue
        if reason not in ("", "-") and r.get("reason") != reason:
            continue
        if match(r, kvs):
            res.append(r)
    return res


def chain(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        fail("audit log is empty")
    if not data.endswith(b"\n"):
        fail("audit log does not end with a newline")
    prev = "0" * 64
    for n, line in enumerate(data[:-1].split(b"\n"), 1):
        try:
            rec = json.loads(line)
        except ValueError as e:
            fail("line %d is not JSON: %s" % (n, e))
        if not isinstance(rec, dict):
            fail("line %d is not an object" % n)
        for k in ("ts", "event", "prev"):
            if k not in rec:
                fail("line %d has no %r" % (n, k))
        if rec["prev"] != prev:
            fail("line %d: prev %s, expected %s" % (n, rec["prev"], prev))
        prev = hashlib.sha256(line).hexdigest()
    return n


def main(a):
    if len(a) < 2:
        fail(__doc__)
    cmd = a[0]
    if cmd == "chain":
        print(chain(a[1]))
    elif cmd in ("has", "count"):
        res = select(a[1], int(a[2]), a[3], a[4], a[5:])
        if cmd == "count":
            print(len(res))
        elif not res:
            sys.exit(1)
    elif cmd == "cap-has":
        topic, kvs = a[2], a[3:]
        with open(a[1], "rb") as f:
            for line in f.read().decode("ascii", "replace").split("\n"):
                t, _, hx = line.partition(" ")
                if t != topic:
                    continue
                try:
                    rec = json.loads(bytes.fromhex(hx))
                except ValueError:
                    continue
                if isinstance(rec, dict) and match(rec, kvs):
                    return
        sys.exit(1)
    elif cmd == "lines":
        print(len(records(a[1], 0)))
    else:
        fail(__doc__)


main(sys.argv[1:])
