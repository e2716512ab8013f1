#!/usr/bin/env python3
"""sancheck.py SRC_ROOT < broker-stderr: check a broker's stderr (ASan, LSan,
UBSan reports) after it exited.

Fails (exit 1, the offending reports on stdout):
  - any AddressSanitizer error and any UBSan "runtime error:" (only fwguard
    is instrumented, so these are fwguard's or a bad buffer it handed over);
  - any LeakSanitizer leak record with a frame in fwguard -- a source file of
    plugin/ or lib/ (as ../plugin/x.c or a path under SRC_ROOT), the module
    mosquitto_fwguard.so -- or a frame of an unknown module (an unloaded
    plugin), or with no frame at all.
A leak record whose frames are all Mosquitto's (and libc's) is Mosquitto's
own (e.g. the plugin identifier it allocates in plugin__load_v5 and does not
free when a plugin refuses to start): counted on the summary line, not
failed. Stacks must be complete for this: run with
ASAN_OPTIONS=fast_unwind_on_malloc=0 (the stock mosquitto has no frame
pointers). Known Mosquitto-only leaks are also named in .ci/lsan.supp.
"""
import os
import re
import sys


def main():
    root = os.path.normpath(sys.argv[1])
    text = sys.stdin.read()
    ours_path = re.compile(r'(^|[ (/])\.\./(plugin|lib)/[^ :]+\.c:|mosquitto_fwguard\.so|<unknown module>|'
                           + re.escape(root) + r'/(plugin|lib)/')
    bad = []
    for m in re.finditer(r'^.*(ERROR: AddressSanitizer|runtime error:).*$', text, re.M):
        bad.append(text[m.start():m.start() + 3000])
    leaks = re.split(r'\n(?=(?:Direct|Indirect) leak of )', text)
    mosq_only = ours = 0
    for b in leaks:
        if not re.match(r'(Direct|Indirect) leak of ', b):
            continue
        block = b.split('\n\n')[0]
        frames = [x for x in block.split('\n') if re.match(r'\s*#\d+ ', x)]
        # frame #0 is the allocator interceptor (libasan)
        if len(frames) < 2 or any(ours_path.search(x) for x in frames[1:]):
            ours += 1
            bad.append(block)
        else:
            mosq_only += 1
    summaries = len(re.findall(r'ERROR: LeakSanitizer', text))
    print('%d LeakSanitizer report(s): %d leak record(s) in fwguard code, %d Mosquitto-only (not failed); '
          '%d other sanitizer error(s)' % (summaries, ours, mosq_only, len(bad) - ours))
    for b in bad[:8]:
        print(b[:2500])
        print('--')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
