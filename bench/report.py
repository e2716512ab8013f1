#!/usr/bin/env python3
"""Summarise bench/out/results.jsonl: medians per broker (A bare, B fwguard),
B/A ratios (ratio of the medians, min..max of the per-round ratios), the
targets of the performance issue, and the throughput-vs-payload plot.
  report.py RESULTS.jsonl OUTDIR
SPDX-License-Identifier: Apache-2.0"""
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

res, out = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(res) if l.strip()]
by = defaultdict(lambda: defaultdict(dict))     # cell -> broker -> round -> row
for r in rows:
    if "round" in r:
        by[r["cell"]][r["broker"]][r["round"]] = r
med = statistics.median


def rate(cell, b, key="deliveries_per_s"):
    return {k: v[key] for k, v in by[cell][b].items()}


def ratio(cell, key="deliveries_per_s", inverse=False, x="B", y="A"):
    """x against y (B against A unless told), paired by round; the keys of
    the result stay "A" (y) and "B" (x)"""
    a, b = rate(cell, y, key), rate(cell, x, key)
    rounds = sorted(set(a) & set(b))
    if not rounds:
        return None
    per = [(a[k] / b[k]) if inverse else (b[k] / a[k]) for k in rounds]
    ma, mb = med([a[k] for k in rounds]), med([b[k] for k in rounds])
    # the ratio of the medians (the method); the median of the
    # per-round (paired) ratios is kept as well and listed under the table
    return {"A": ma, "B": mb, "ratio": (ma / mb) if inverse else (mb / ma), "paired": med(per),
            "min": min(per), "max": max(per), "n": len(rounds)}


def cpu(cell, b):
    v = [x["broker_cpu"] for x in by[cell][b].values() if "broker_cpu" in x]
    return med(v) if v else float("nan")


def lcpu(cell, b):
    v = [x["loadgen_cpu"] for x in by[cell][b].values() if "loadgen_cpu" in x]
    return med(v) if v else float("nan")


def cost(cell, b):
    """broker CPU microseconds per delivery (robust to time-sharing), median over rounds"""
    v = [x["broker_cpu"] * x["wall_s"] / x["received"] * 1e6 for x in by[cell][b].values()
         if x.get("received") and "broker_cpu" in x]
    return med(v) if v else float("nan")


def lost(cell):
    return sum(x.get("lost", 0) + x.get("refused", 0) for b in "AB" for x in by[cell][b].values())


def limit(cell):
    """What bounds the cell: the side whose CPU is saturated."""
    bb, lb = cpu(cell, "B"), lcpu(cell, "B")
    if bb != bb:
        return "-"
    if bb >= 0.85:
        return "broker CPU (%.0f%%)" % (100 * bb)
    if lb >= 0.85:
        return "load generator CPU (%.0f%%)" % (100 * lb)
    return "neither side saturated (broker %.0f%%, loadgen %.0f%%): cores time-shared with other load, or the flow window" % (100 * bb, 100 * lb)


lines = []
P = lines.append
# Two B/A figures: the ratio of the medians of each side, and the median of
# the per-round ratios. The runs of a pair are back to back (the same moment
# of the machine), so the per-round ratio is what cancels the host's drift;
# its median is what "met" is judged on. Both are printed.
P("| cell | A bare | B fwguard | B/A ratio of medians | B/A median of paired ratios (min..max) | target | met | lost | broker CPU us/delivery A / B (A/B) | B broker CPU | limited by |")
P("|---|---|---|---|---|---|---|---|---|---|---|")


def cellrow(name, cell, target, unit="msg/s", key="deliveries_per_s", fmt="%.0f"):
    r = ratio(cell, key)
    if not r:
        return
    met = "" if target is None else ("yes" if r["paired"] >= target else "**no**")
    ca, cb = cost(cell, "A"), cost(cell, "B")
    P("| %s | %s %s | %s %s | %.3f | %.3f (%.3f..%.3f) | %s | %s | %d | %.2f / %.2f (%.3f) | %.0f%% | %s |" % (
        name, fmt % r["A"], unit, fmt % r["B"], unit, r["ratio"], r["paired"], r["min"], r["max"],
        ">= %.2f" % target if target else "-", met, lost(cell), ca, cb, ca / cb, 100 * cpu(cell, "B"), limit(cell)))


cellrow("plain 1 KiB, QoS 0, 1 sub", "plain_q0", 0.97)
cellrow("plain 1 KiB, QoS 1, 1 sub", "plain_q1", 0.97)
cellrow("firmware 64 KiB chunks, tagged+verified, 50 subs (deliveries)", "fw64k_50", 0.92)
cellrow("firmware 64 KiB chunks, 1 sub", "fw64k_1", None)

# single-SHA-256-pass bound for fw64k_1: 1 / (t_bare + t_sha) per round
sha = {k: v["ns_per_hash"] for k, v in by["sha256_64k"]["-"].items()}
a, b = rate("fw64k_1", "A"), rate("fw64k_1", "B")
rounds = sorted(set(a) & set(b) & set(sha))
bound_txt = ""
if rounds:
    bounds = {k: 1.0 / (1.0 / a[k] + sha[k] / 1e9) for k in rounds}
    per = [b[k] / bounds[k] for k in rounds]
    mbound, mb = med(list(bounds.values())), med([b[k] for k in rounds])
    P("| firmware 64 KiB, 1 sub, vs single-SHA-pass bound (SHA-256 64 KiB = %.1f us) | bound %.0f msg/s | %.0f msg/s | %.3f | %.3f (%.3f..%.3f) | >= 0.90 | %s | %d | - | %.0f%% | %s |" % (
        med(list(sha.values())) / 1e3, mbound, mb, mb / mbound, med(per), min(per), max(per),
        "yes" if med(per) >= 0.90 else "**no**", lost("fw64k_1"), 100 * cpu("fw64k_1", "B"), limit("fw64k_1")))
    bound_txt = "bound = 1 / (1/rate_A + t_sha256(64 KiB)), per round"

# End to end: 16 MiB to 50 receivers, on disk and on tmpfs. The receivers
# share the load core, and in A (mosquitto_sub) they already keep it busy for
# the whole run. A device agent must do everything a plain subscriber does
# (read every byte from its socket, write it to its storage, PUBACK it) and
# hash every byte once (PROTOCOL §9: the image's sha256). So, per round:
#   A + hash = busy_load_core(A) + 50 x 16 MiB / SHA-256 rate on the load core
# is what a receiver that works like mosquitto_sub plus the hash would need
# (a leaner receiver can do better: it is a reference, not a floor); the
# floor is A's kernel time on the load core plus the hash (below).
sha_load = {k: v["ns_per_hash"] for k, v in by["sha256_64k_load"]["-"].items()}
e2e_notes = []
def rb_label(store):
    """tmpfs_rb16k: the agents ran with --read-buffer 16384"""
    kib = store.partition("_rb")[2].rstrip("k")
    return " --read-buffer %d" % (int(kib) * 1024) if kib else ""


rb_cells = sorted({r["cell"][len("e2e16m_50_"):] for r in rows if r.get("cell", "").startswith("e2e16m_50_tmpfs_rb")})
for store in ["disk", "tmpfs"] + rb_cells:
    cell = "e2e16m_50_" + store
    e = ratio(cell, "wall_s")
    if not e:
        continue
    fl, fr, f2, fk, rx, br = [], [], [], [], [], []
    for k in sorted(set(by[cell]["A"]) & set(by[cell]["B"]) & set(sha_load)):
        a, b = by[cell]["A"][k], by[cell]["B"][k]
        if "load_cpu_busy_s" not in a:
            continue
        t_sha = 50 * 256 * sha_load[k] / 1e9
        floor = a["load_cpu_busy_s"] + t_sha
        fl.append(floor)
        fr.append(floor / a["wall_s"])
        # even if everything could use both cores: the work of A plus the hash
        f2.append(1 + t_sha / (a["load_cpu_busy_s"] + a["broker_cpu_busy_s"]))
        # the strictest: only the receivers' kernel time in A (socket reads,
        # file writes, acks: any receiver that stores the image pays it), plus
        # the hash; none of A's user-space work counted
        if "load_cpu_kernel_s" in a:
            fk.append((a["load_cpu_kernel_s"] + t_sha) / a["wall_s"])
        # the receivers' own CPU time (schedstat), and B's without the hash
        if "receivers_cpu_s" in a and "receivers_cpu_s" in b:
            rx.append((a["receivers_cpu_s"], b["receivers_cpu_s"], (b["receivers_cpu_s"] - t_sha) / a["receivers_cpu_s"]))
        # the broker process's own CPU time
        if "broker_cpu_s" in a and "broker_cpu_s" in b:
            br.append((a["broker_cpu_s"], b["broker_cpu_s"]))
    floor_txt = ("A + hash %.2f s = %.2f x A" % (med(fl), med(fr))) if fl else "-"
    busy = lambda b, key: med([x[key] for x in by[cell][b].values() if key in x] or [float("nan")])
    P("| 16 MiB image to 50 receivers on %s, end to end (s; A: mosquitto_sub, B: fwguard device%s) | %.2f s | %.2f s | %.3f | %.3f (%.3f..%.3f) | <= 1.15 | %s | - | - | - | load core busy A %.2f s / B %.2f s (%.0f%% / %.0f%% of the run); %s |" % (
        store.split("_rb")[0], rb_label(store), e["A"], e["B"], e["ratio"], e["paired"], e["min"], e["max"], "yes" if e["paired"] <= 1.15 else "**no**",
        busy("A", "load_cpu_busy_s"), busy("B", "load_cpu_busy_s"),
        100 * busy("A", "load_cpu_busy_s") / e["A"], 100 * busy("B", "load_cpu_busy_s") / e["B"], floor_txt))
    # F: the floor, 50 sinks that store and hash (bench/sink.c) on the bare
    # broker; F0: the same without the hash
    f, f0, bf = ratio(cell, "wall_s", x="F"), ratio(cell, "wall_s", x="F0"), ratio(cell, "wall_s", x="B", y="F")
    if f:
        fw, aw = rate(cell, "F", "wall_s"), rate(cell, "A", "wall_s")
        over = sum(1 for k in fw if k in aw and fw[k] / aw[k] > 1.15)
        srb = sorted({v.get("sink_read_buffer", 131072) >> 10 for v in by[cell]["F"].values()})
        P("| ... F, the floor: 50 receivers that only store and hash (bench/sink.c, %s KiB reads, QoS 1) on the bare broker | %.2f s | %.2f s | %.3f | %.3f (%.3f..%.3f) | - | over 1.15 in %d of %d rounds | - | - | - | load core busy F %.2f s (%.0f%%); %s%s |" % (
            "/".join(str(x) for x in srb), f["A"], f["B"], f["ratio"], f["paired"], f["min"], f["max"], over, f["n"],
            busy("F", "load_cpu_busy_s"), 100 * busy("F", "load_cpu_busy_s") / f["B"],
            ("the same without the hash (F0) %.3f x A (%.3f..%.3f); " % (f0["paired"], f0["min"], f0["max"])) if f0 else "",
            ("B / F %.3f (%.3f..%.3f)" % (bf["paired"], bf["min"], bf["max"])) if bf else ""))
    sides = [x for x in ("A", "F0", "F", "C", "B") if by[cell][x]]
    if len(sides) > 2:
        e2e_notes.append("e2e on %s, every side (medians): the receivers' CPU %s; the broker process's CPU %s (s)" % (
            store, ", ".join("%s %.2f" % (x, busy(x, "receivers_cpu_s")) for x in sides),
            ", ".join("%s %.2f" % (x, busy(x, "broker_cpu_s")) for x in sides)))
    # C: the agents on the bare broker
    c, bc, cf = ratio(cell, "wall_s", x="C"), ratio(cell, "wall_s", x="B", y="C"), ratio(cell, "wall_s", x="C", y="F")
    if c:
        P("| ... C: B's 50 agents on the bare broker | %.2f s | %.2f s | %.3f | %.3f (%.3f..%.3f) | - |  | - | - | - | B / C (the plugin, end to end) %s; C / F (the agent's work beyond storing and hashing) %s |" % (
            c["A"], c["B"], c["ratio"], c["paired"], c["min"], c["max"],
            ("%.3f (%.3f..%.3f)" % (bc["paired"], bc["min"], bc["max"])) if bc else "-",
            ("%.3f (%.3f..%.3f)" % (cf["paired"], cf["min"], cf["max"])) if cf else "-"))
    if fl:
        e2e_notes.append("e2e on %s: one SHA-256 pass of 800 MiB on the load core = %.2f s (%.0f MB/s); A + hash = busy(A) + that = %.2f s, "
                         "i.e. %.2f x A; B minus that: %+.2f s. Unpinned, with both cores for everyone, A + hash would be "
                         "1 + t_sha / (busy load core + busy broker core in A) = %.2f x A" % (
                             store, 50 * 256 * med(list(sha_load.values())) / 1e9, 65536 / med(list(sha_load.values())) * 1e3,
                             med(fl), med(fr), e["B"] - med(fl), med(f2)))
        if fk:
            e2e_notes[-1] += ("; A's kernel time on the load core plus the hash (a receiver with "
                              "mosquitto_sub's kernel work and no user-space work but the hash): %.2f x A" % med(fk))
        if rx:
            e2e_notes[-1] += ("; the receivers' own CPU time (/proc/PID/schedstat, the 50 together): A %.2f s, B %.2f s "
                              "(B/A paired %.2f); B's without the hash = %.2f x A's" % (
                                  med([x[0] for x in rx]), med([x[1] for x in rx]), med([x[1] / x[0] for x in rx]),
                                  med([x[2] for x in rx])))
        if br:
            e2e_notes[-1] += ("; the broker process's own CPU time: A %.2f s, B %.2f s (the rest of the broker core's "
                              "busy time is the kernel's loopback TCP work and the bench's own processes)" % (
                                  med([x[0] for x in br]), med([x[1] for x in br])))
        dw = {r["round"]: r["secs"] for r in rows if r.get("cell") == "durable_write_800m"}
        if store == "disk" and dw:
            per = [dw[k] / by[cell]["A"][k]["wall_s"] for k in sorted(set(dw) & set(by[cell]["A"]))]
            e2e_notes[-1] += ("; the disk alone: 800 MiB written and fsync'd in %.2f s (%.2f..%.2f s), i.e. %.2f x A "
                              "(%.2f..%.2f per round): B cannot end before the disk has them all" % (
                                  med(list(dw.values())), min(dw.values()), max(dw.values()), med(per), min(per), max(per)))

acl = {r["case"]: r for r in rows if r.get("cell") == "acl_read"}
cg = [r for r in rows if r.get("cell") == "acl_read_callgrind"]
if acl:
    c = acl.get("chunk_to_device")
    P("| ACL READ check, chunk to a device (real plugin, best of 7 x 2M calls) | - | %.0f ns | - | - | <= 150 ns | %s | - | - | - | %s |" % (
        c["ns_per_read_check"], "yes" if c["ns_per_read_check"] <= 150 else "**no**",
        ("%d instructions/call (callgrind)" % cg[0]["ir_per_call"]) if cg else ""))
pcg = {r["broker"]: r for r in rows if r.get("cell") == "plain_q0_callgrind"}
if "A" in pcg and "B" in pcg:
    # a bare-to-fwguard ratio of instructions: the user-space share of the
    # plain QoS 0 cell's cost, without the host's noise
    P("| plain 1 KiB, QoS 0, 1 sub: the broker's user-space instructions per message (callgrind, %d messages; ratio A/B, as for a throughput) | %d | %d | %.3f | - | - |  | %d / %d | - | - | the plugin adds %+d instructions per message |" % (
        pcg["B"]["messages"], pcg["A"]["ir_per_message"], pcg["B"]["ir_per_message"],
        pcg["A"]["ir_per_message"] / pcg["B"]["ir_per_message"], pcg["A"]["lost"], pcg["B"]["lost"],
        pcg["B"]["ir_per_message"] - pcg["A"]["ir_per_message"]))
heap = [r for r in rows if r.get("cell") == "device_heap"]
for h in heap:
    lim = h["chunk_size"] + 65536
    size = ("%d MiB" % (h["image_bytes"] >> 20)) if h["image_bytes"] >= 1 << 20 else ("%d KiB" % (h["image_bytes"] >> 10))
    P("| device agent peak heap, %s image, %d KiB chunks, %d KiB read buffer (massif, heap + allocator overhead) | - | %d KiB | - | - | <= %d KiB | %s | - | - | - | - |" % (
        size, h["chunk_size"] >> 10, h.get("read_buffer", 16384) >> 10, h["peak_heap_bytes"] >> 10, lim >> 10,
        "yes" if h["peak_heap_bytes"] <= lim else "**no**"))

P("")
P("Payload-size sweep (1 subscriber, QoS 1; deliveries/s and MB/s delivered; medians):")
P("")
P("| payload | A bare MB/s | B fwguard MB/s | B/A (min..max) | broker CPU us/delivery A / B | B broker CPU | limited by |")
P("|---|---|---|---|---|---|---|")
sweep_fw = [(4096, "fw4k_1"), (16384, "fw16k_1"), (65536, "fw64k_1"), (262144, "fw256k_1"), (1048576, "fw1m_1")]
sweep_plain = [(1024, "plain_q1"), (4096, "plain4k_1"), (65536, "plain64k_1"), (1048576, "plain1m_1")]
dat = []
for kind, sw in (("firmware chunk", sweep_fw), ("plain", sweep_plain)):
    for size, cell in sw:
        r = ratio(cell, "mb_per_s")
        if not r:
            continue
        P("| %s %d KiB | %.1f | %.1f | %.3f (%.3f..%.3f) | %.2f / %.2f | %.0f%% | %s |" % (
            kind, size >> 10, r["A"], r["B"], r["ratio"], r["min"], r["max"], cost(cell, "A"), cost(cell, "B"),
            100 * cpu(cell, "B"), limit(cell)))
        dat.append((kind, size, r["A"], r["B"]))
if acl:
    P("")
    P("ACL READ check per case (ns/call, best of 7 runs of 2M calls):")
    P("")
    for k, v in acl.items():
        P("- %s: %.1f ns" % (k, v["ns_per_read_check"]))
    if cg:
        c = cg[0]
        part = lambda v: ("%d" % v) if v else "inlined"
        P("- callgrind, chunk_to_device: %d instructions per call: fwg_topic_parse %s, fwg_acl__identify %s, "
          "fwg_fleet__rollout_allows %s" % (c["ir_per_call"], part(c["topic_parse"]), part(c["identify"]), part(c["rollout"])))
if bound_txt:
    P("")
    P(bound_txt)
for t in e2e_notes:
    P("")
    P(t)
paired = []
for cell in ["plain_q0", "plain_q1", "fw64k_50", "fw64k_1", "e2e16m_50_disk", "e2e16m_50_tmpfs"] + ["e2e16m_50_" + c for c in rb_cells]:
    r = ratio(cell, "wall_s" if cell.startswith("e2e") else "deliveries_per_s")
    if r:
        paired.append("%s %.3f" % (cell, r["paired"]))
if paired:
    P("")
    P("B/A as the median of the per-round (paired) ratios instead of the ratio of the medians: " + ", ".join(paired))

table = "\n".join(lines) + "\n"
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "table.md"), "w").write(table)
print(table)

with open(os.path.join(out, "throughput.dat"), "w") as f:
    for kind in ("firmware chunk", "plain"):
        f.write("# %s: payload_bytes bare_MBps fwguard_MBps\n" % kind)
        for k, s, a_, b_ in dat:
            if k == kind:
                f.write("%d %.2f %.2f\n" % (s, a_, b_))
        f.write("\n\n")
if shutil.which("gnuplot") and dat:
    gp = """set terminal png size 900,560
set output '%s'
set title 'Delivered throughput vs payload size (1 subscriber, QoS 1, loopback; medians)'
set termoption noenhanced
set logscale x 2
set xtics ("1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set xrange [800:1400000]
set xlabel 'payload size (bytes)'
set ylabel 'MB/s delivered'
set key top left
set grid
plot '%s' index 0 using 1:2 with linespoints title 'firmware chunks, bare mosquitto', \\
     '' index 0 using 1:3 with linespoints title 'firmware chunks, fwguard (tag + digest verified)', \\
     '' index 1 using 1:2 with linespoints dt 2 title 'plain topic, bare mosquitto', \\
     '' index 1 using 1:3 with linespoints dt 2 title 'plain topic, fwguard (other_topics allow)'
""" % (os.path.join(out, "throughput.png"), os.path.join(out, "throughput.dat"))
    subprocess.run(["gnuplot"], input=gp, text=True, check=False)
    print("plot: %s" % os.path.join(out, "throughput.png"))
