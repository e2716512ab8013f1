#!/usr/bin/env python3
"""vgcheck.py LOG SRC_ROOT: check one valgrind memcheck log of a broker run.

Fails (exit 1, the offending records on stdout) when an error record has a
frame in fwguard's code -- mosquitto_fwguard.so, or a source file under
SRC_ROOT/plugin or SRC_ROOT/lib (valgrind --fullpath-after= prints full
paths) or of an unmapped object ("???", an unloaded plugin) -- or when a "definitely lost" leak record was allocated from
fwguard's code. Errors and leaks entirely inside Mosquitto, libc, OpenSSL
or cJSON are counted and reported, not failed. Prints one summary line.
"""
import os
import re
import sys


def records(lines):
    """Valgrind records: runs of '==PID== ' lines separated by empty ones."""
    cur = []
    for line in lines:
        m = re.match(r'^==\d+== ?(.*)$', line.rstrip('\n'))
        if not m:
            continue
        body = m.group(1)
        if body.strip() == '':
            if cur:
                yield cur
            cur = []
        else:
            cur.append(body)
    if cur:
        yield cur


def main():
    log, root = sys.argv[1], sys.argv[2].rstrip('/')
    ours_dirs = tuple(os.path.normpath(os.path.join(root, d)) + '/' for d in ('plugin', 'lib'))

    def frame_ours(x):
        if 'mosquitto_fwguard.so' in x or re.search(r': \?\?\?$', x):
            # "???": an unmapped object (an unloaded plugin?): not excused
            return True
        m = re.search(r'\((/[^():]+):\d+\)$', x)   # (/full/path/file.c:LINE), maybe with ".."
        return bool(m) and os.path.normpath(m.group(1)).startswith(ours_dirs)
    with open(log, errors='replace') as f:
        recs = list(records(f))
    errors = ours_err = definite = ours_leak = 0
    bad = []
    for r in recs:
        head = r[0]
        frames = [x for x in r if re.match(r'\s*(at|by) 0x', x)]
        if not frames:
            continue
        ours = any(frame_ours(x) for x in frames)
        if re.search(r'are (definitely|indirectly|possibly) lost|still reachable', head):
            if 'definitely lost' in head:
                definite += 1
                if ours:
                    ours_leak += 1
                    bad.append(r)
            continue
        errors += 1
        if ours:
            ours_err += 1
            bad.append(r)
    summary = [x for r in recs for x in r if x.startswith('ERROR SUMMARY')]
    print('%d error record(s), %d in fwguard code; %d definite leak record(s), %d from fwguard code%s'
          % (errors, ours_err, definite, ours_leak, ('; ' + summary[-1]) if summary else ' (no exit summary)'))
    for r in bad[:10]:
        print('\n'.join(r[:30]))
        print('--')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
