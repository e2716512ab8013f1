#!/bin/bash
# fwguard performance bench: one command, under 10 minutes, prints the table.
#   bench/run.sh [--rounds N (9)] [--quick] [--only cells,e2e,acl,heap]
# Starts two brokers side by side on loopback — A: bare Mosquitto, B: Mosquitto
# with fwguard — pinned to one core (BENCH_BROKER_CPU, 0), the load generator
# (bench/fwg_load, the device agents, mosquitto_sub) pinned to another
# (BENCH_LOAD_CPU, 1). Every cell runs on both brokers, alternating the order
# each round (ABBA), for N rounds; bench/report.py prints medians, B/A as
# the ratio of the medians and as the median of the paired (per-round)
# ratios (min..max over rounds), writes bench/out/table.md and the plot.
# Also: the ACL READ check cost (bench_acl, real plugin, and its callgrind
# instruction count), the broker's instructions per plain message bare and
# with fwguard (callgrind), the 16 MiB rollout to 50 `fwguard device` agents vs the
# same bytes to 50 mosquitto_sub (and, on tmpfs, to 50 receivers that only
# store and hash them — the floor, F — and to the agents on the bare broker,
# C), and the device agent's peak heap (massif).
# Results: bench/out/results.jsonl (raw), table.md, throughput.png.
# SPDX-License-Identifier: Apache-2.0
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FWG_BUILD_DIR:-$top/build}
rounds=9 quick=0 only=cells,e2e,acl,heap
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--quick) quick=1; rounds=3; shift ;;
	--only) only=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--quick] [--only cells,e2e,acl,heap]" >&2; exit 2 ;;
	esac
done
want() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
bcpu=${BENCH_BROKER_CPU:-0} lcpu=${BENCH_LOAD_CPU:-1}
for p in mosquitto mosquitto_sub taskset python3; do
	command -v $p >/dev/null || { echo "bench: $p is needed" >&2; exit 2; }
done
ninja -C "$build" bench/fwg_load bench/bench_acl plugin/mosquitto_fwguard.so tools/fwguard >/dev/null

work=$(mktemp -d /tmp/fwg-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/fwg-bench.XXXXXX)
out=$top/bench/out
mkdir -p "$out"
res=$out/results.jsonl
: > "$res"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
dev_pids=''
cleanup() {
	for p in $dev_pids; do kill "$p" 2>/dev/null || true; done
	bench_stop_brokers
	[ "${FWG_KEEP:-0}" = 1 ] && echo "bench files kept in $work and $shm" >&2 || rm -rf "$work" "$shm"
}
trap cleanup EXIT INT TERM
ulimit -n 8192 2>/dev/null || true
t_begin=$(date +%s)
deadline=$((t_begin + ${BENCH_BUDGET:-570}))

bench_keys "$work/keys"
bench_passwd "$work/passwd" 60
port_a=$(free_port) port_b=$(free_port)
bench_start_broker A "$port_a" bare "$bcpu"
bench_start_broker B "$port_b" plugin "$bcpu"
declare -A port=([A]=$port_a [B]=$port_b) pid=([A]=$BROKER_PID_A [B]=$BROKER_PID_B) seq=([A]=0 [B]=0)
echo "bench: A = bare mosquitto (pid ${pid[A]}, :$port_a), B = mosquitto + fwguard (pid ${pid[B]}, :$port_b);" \
	"brokers on CPU $bcpu, load on CPU $lcpu; $rounds rounds; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

FW="--fw --sign-key $work/keys/vendor-sign.pem --vendor-ecdh $work/keys/vendor-ecdh.pem --broker-pub $work/keys/broker-ecdh.pem.pub.b64"
LOAD="taskset -c $lcpu $FWG_LOAD run --json --pub-user acme-deploy --sub-user acme/thermo-x1/dev%d --timeout 60"

# cell1 NAME ROUND BROKER [fwg_load options]: one run, one JSON line
cell1() {
	name=$1 round=$2 b=$3
	shift 3
	# BENCH_CELLS="plain_q0 fw64k_1": only these cells
	if [ -n "${BENCH_CELLS:-}" ]; then case " $BENCH_CELLS " in *" $name "*) ;; *) return 0 ;; esac; fi
	extra=()
	case " $* " in *" --fw "*|*" $FW "*) seq[$b]=$((seq[$b] + 1)); extra=(--sequence "${seq[$b]}") ;; esac
	# the broker's CPU share over the measured run comes from fwg_load (--broker-pid)
	j=$($LOAD -p "${port[$b]}" --broker-pid "${pid[$b]}" "$@" "${extra[@]}") \
		|| { echo "bench: cell $name on $b failed: $j" >&2; exit 1; }
	echo "{\"cell\":\"$name\",\"broker\":\"$b\",\"round\":$round,${j#\{}" >> "$res"
	python3 -c "import json,sys; j=json.loads(sys.argv[1]); print('  %-14s %s %8.0f deliveries/s %9.1f MB/s  broker CPU %3.0f%%  loadgen CPU %3.0f%%' % (sys.argv[2], sys.argv[3], j['deliveries_per_s'], j['mb_per_s'], 100*j['broker_cpu'], 100*j['loadgen_cpu']))" "$j" "$name" "$b" >&2
}

# The cells. Counts bound each run to about 1-2 s; --duration caps it.
if [ $quick = 1 ]; then k=4; else k=1; fi
# cell NAME ROUND [fwg_load options]: the run on both brokers, back to back
# in this round's order, so that the pair shares the machine's state of the
# moment (drift between the two runs of a pair is what the ratio would
# otherwise measure)
cell() {
	for b in $order; do cell1 "$1" "$2" "$b" "${@:3}"; done
}
cells() {
	r=$1
	# The plain cells: two pairs of 1.25 s per round, the second one in the
	# opposite order (ABBA), recorded as rounds r and r.5. The plugin costs
	# ~2 % here, about what one pair's noise is; a pair of 1.25 s is as
	# noisy as one of 2.5 s, so twice the pairs in the same time give the
	# median ~1/sqrt(2) of the noise.
	# (Two swaps of "A B": the round's order again afterwards.)
	local sub
	for sub in "$r" "$r.5"; do
		cell plain_q0 "$sub" --topic bench/q0 --size 1024 --qos 0 --count $((100000 / k)) --e2e-window 256 --duration 1.25
		cell plain_q1 "$sub" --topic bench/q1 --size 1024 --qos 1 --count $((30000 / k)) --window 64 --e2e-window 256 --duration 1.25
		order="${order#* } ${order% *}"
	done
	cell fw64k_50 "$r" $FW --subs 50 --chunk-size 65536 --nchunks 256 --count $((768 / k)) --window 16 --e2e-window 16 --duration 3
	cell fw64k_1 "$r" $FW --subs 1 --chunk-size 65536 --nchunks 256 --count $((8192 / k)) --window 32 --e2e-window 32 --duration 2.5
	# payload-size sweep for the plot (firmware chunks, 1 subscriber): in
	# the first 3 rounds only (the time goes to more rounds of the cells
	# with targets)
	[ "$r" -le 3 ] || return 0
	cell fw4k_1 "$r" $FW --subs 1 --chunk-size 4096 --nchunks 1024 --count $((40960 / k)) --window 64 --e2e-window 64 --duration 2
	cell fw16k_1 "$r" $FW --subs 1 --chunk-size 16384 --nchunks 1024 --count $((20480 / k)) --window 64 --e2e-window 64 --duration 2
	cell fw256k_1 "$r" $FW --subs 1 --chunk-size 262144 --nchunks 64 --count $((2048 / k)) --window 16 --e2e-window 16 --duration 2
	cell fw1m_1 "$r" $FW --subs 1 --chunk-size 1048576 --nchunks 16 --count $((512 / k)) --window 8 --e2e-window 8 --duration 2
	cell plain4k_1 "$r" --topic bench/p4k --size 4096 --qos 1 --count $((40960 / k)) --window 64 --e2e-window 64 --duration 2
	cell plain64k_1 "$r" --topic bench/p64k --size 65536 --qos 1 --count $((8192 / k)) --window 32 --e2e-window 32 --duration 2
	cell plain1m_1 "$r" --topic bench/p1m --size 1048576 --qos 1 --count $((512 / k)) --window 8 --e2e-window 8 --duration 2
}

# e2e ROUND BROKER STORE: a 16 MiB image (256 x 64 KiB) to 50 receivers,
# the publisher (fwg_load as the vendor) starting once all 50 are connected.
# A: 50 mosquitto_sub processes writing the chunks to a file (running on,
# like the agents, so that their CPU time can be read), until each has
# 256. B: 50 `fwguard device` agents (manifest signature, every chunk's
# digest, staging file, whole-image digest, durable install), until each
# has recorded the new sequence as installed. The agents start with the
# previous sequence installed, so the retained manifest of the previous run
# is not newer for them. Time from the first publish to the last receiver done.
# STORE is where the receivers write: "disk" ($work, on the root file
# system: 50 devices sharing one disk) or "tmpfs" (/dev/shm: each device's
# storage costs only its page-cache copy, as if each had its own flash).
# Also recorded: the busy time of the load core and of the broker core
# (/proc/stat: user+nice+system+irq+softirq) and the load core's iowait.
# RB (optional): the agents' --read-buffer in KiB; the cell is then
# e2e16m_50_<store>_rb<RB>k (A runs the same mosquitto_sub as ever).
# F: the floor of any compliant receiver, on A's bare broker: 50
# `fwg_load sink --hash` (bench/sink.c: the agent's MQTT receive path with
# the agent's whole heap allowance as its read buffer, every byte written
# and hashed once, nothing else), done like A when its file is full.
# F0: the same sinks without the hash (F/F0: what the hash costs here).
# BENCH_FLOOR_RB=48: the sinks' read buffer in KiB (default 128).
# C: B's 50 agents on A's bare broker (B/C: what the plugin costs end to
# end; C/F: what the agent does beyond storing and hashing).
e2e() {
	r=$1 b=$2 store=$3 rb=${4:-} n=50
	name=e2e16m_50_$store${rb:+_rb${rb}k}
	case $b in F|F0|C) br=A ;; *) br=$b ;; esac    # the broker it runs on
	hash_opt=''; [ "$b" = F ] && hash_opt=--hash
	sink_rb=''; case $b in F|F0) sink_rb=$((${BENCH_FLOOR_RB:-128} * 1024)) ;; esac
	seq[$br]=$((seq[$br] + 1))
	s=${seq[$br]}
	if [ "$store" = tmpfs ]; then d=$shm/e2e-$b-$r; else d=$work/e2e-$b-$r; fi
	mkdir -p "$d"
	before=$(grep -c "New client connected" "$work/$br/mosquitto.log" || true)
	dev_pids=''
	for i in $(seq 1 $n); do
		if [ "$b" = A ]; then
			taskset -c "$lcpu" mosquitto_sub -h 127.0.0.1 -p "${port[$b]}" -u "acme/thermo-x1/dev$i" -P "$FWG_PASSWORD" \
				-V mqttv5 -q 1 -W 90 -N -t "fw/acme/thermo-x1/chunk/$s/#" > "$d/dev$i.bin" 2>"$d/dev$i.err" &
		elif [ "$b" = F ] || [ "$b" = F0 ]; then
			taskset -c "$lcpu" "$FWG_LOAD" sink -p "${port[$br]}" -u "acme/thermo-x1/dev$i" -P "$FWG_PASSWORD" \
				-t "fw/acme/thermo-x1/chunk/$s/#" --out "$d/dev$i.bin" --bytes $((256 * 65536)) \
				--rbuf "$sink_rb" ${hash_opt:+"$hash_opt"} --timeout 90 > "$d/dev$i.json" 2>"$d/dev$i.err" &
		else
			mkdir -p "$d/dev$i"
			echo $((s - 1)) > "$d/dev$i/installed.seq"
			taskset -c "$lcpu" "$FWG_CLI" device -h 127.0.0.1 -p "${port[$br]}" --vendor acme --model thermo-x1 \
				--device "dev$i" --pin "$work/keys/vendor-sign.pem.pub.b64" --state-dir "$d/dev$i" \
				--target "$d/dev$i/fw.bin" --timeout 90 ${rb:+--read-buffer $((rb * 1024))} > "$d/dev$i.log" 2>&1 &
		fi
		dev_pids="$dev_pids $!"
	done
	i=0
	until [ $(($(grep -c "New client connected" "$work/$br/mosquitto.log" || true) - before)) -ge $n ]; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "bench: e2e receivers did not connect" >&2; exit 1; }
		sleep 0.05 # bounded: 15 s
	done
	sleep 0.3 # let the SUBSCRIBEs that follow each CONNACK land
	sync   # nothing of the previous run left to write back
	# the receivers' own CPU time (/proc/PID/schedstat: ns on a CPU) so far
	rx0=0
	for p in $dev_pids; do read -r t _ < "/proc/$p/schedstat"; rx0=$((rx0 + t)); done
	read -r br0 _ < "/proc/${pid[$br]}/schedstat"   # and the broker's
	st0=$(grep -E "^cpu($lcpu|$bcpu) " /proc/stat | tr '\n' ';')
	t0=$(date +%s%N)
	$LOAD -p "${port[$br]}" $FW --subs 0 --chunk-size 65536 --nchunks 256 --count 256 --window 16 --sequence "$s" > "$d/pub.json" &
	lpid=$!
	# wait (bounded, 90 s) until every receiver is done; prints seconds since
	# t0, receivers done, and the per-core busy/iowait seconds since st0
	secs=$(python3 - "$d" "$b" $n "$s" "$t0" $((256 * 65536)) "$st0" "$lcpu" "$bcpu" "$rx0" "${pid[$br]}" "$br0" $dev_pids <<'PY'
import os, sys, time
d, b, n, s, t0, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
st0, lcpu, bcpu, rx0, bpid, br0, pids = sys.argv[7], sys.argv[8], sys.argv[9], int(sys.argv[10]), sys.argv[11], int(sys.argv[12]), sys.argv[13:]
# The same check on every side, one stat per receiver still running, every
# 10 ms (this loop shares the cores with the run): A's (F's, F0's) file has
# all the bytes; B's (C's) target exists with all of them (the agent renames
# the checked image into place: the install). That B also recorded the
# sequence is checked after the timed window.
def done(i):
    try:
        return os.path.getsize(("%s/dev%d/fw.bin" if b in ("B", "C") else "%s/dev%d.bin") % (d, i)) >= size
    except OSError:
        return False
left = set(range(1, n + 1))
end = time.time() + 90
while left and time.time() < end:
    left = {i for i in left if not done(i)}
    if left: time.sleep(0.01)
wall = (time.time_ns() - t0) / 1e9
if b in ("B", "C"):
    def recorded(i):
        try:
            return open("%s/dev%d/installed.seq" % (d, i)).read().strip() == s
        except OSError:
            return False
    end = time.time() + 10
    while time.time() < end and not all(recorded(i) for i in range(1, n + 1) if i not in left):
        time.sleep(0.01)
    left |= {i for i in range(1, n + 1) if not recorded(i)}
def cpus(text):
    out = {}
    for line in text.split(";"):
        f = line.split()
        if f: out[f[0][3:]] = [int(x) for x in f[1:]]
    return out
a, z = cpus(st0), cpus(";".join(l for l in open("/proc/stat").read().splitlines() if l.startswith("cpu")))
hz = os.sysconf("SC_CLK_TCK")
def busy(c): return sum(z[c][i] - a[c][i] for i in (0, 1, 2, 5, 6)) / hz
def iowait(c): return (z[c][4] - a[c][4]) / hz
def kernel(c): return sum(z[c][i] - a[c][i] for i in (2, 5, 6)) / hz
def ran(p):   # a receiver that has exited is a zombie until the shell waits for it
    try:
        return int(open("/proc/%s/schedstat" % p).read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
rx = (sum(ran(p) for p in pids) - rx0) / 1e9
print("%.3f %d %.2f %.2f %.2f %.2f %.3f %.3f" % (wall, n - len(left), busy(lcpu), busy(bcpu), iowait(lcpu), kernel(lcpu), rx,
      (ran(bpid) - br0) / 1e9))
PY
)
	wait $lpid || true
	for p in $dev_pids; do kill "$p" 2>/dev/null || true; done
	for p in $dev_pids; do wait "$p" 2>/dev/null || true; done
	dev_pids=''
	read -r secs ok lbusy bbusy liow lkern rxcpu brcpu <<< "$secs"
	echo "{\"cell\":\"$name\",\"broker\":\"$b\",\"round\":$r,\"wall_s\":$secs,\"receivers_ok\":$ok,\"load_cpu_busy_s\":$lbusy,\"broker_cpu_busy_s\":$bbusy,\"load_cpu_iowait_s\":$liow,\"load_cpu_kernel_s\":$lkern,\"receivers_cpu_s\":$rxcpu,\"broker_cpu_s\":$brcpu${sink_rb:+,\"sink_read_buffer\":$sink_rb}}" >> "$res"
	printf '  %-20s %s %8.3f s, %d/%d receivers complete; busy s: load core %.2f (kernel %.2f), broker core %.2f; iowait %.2f; receivers CPU %.3f s, broker %.3f s\n' \
		"$name" "$b" "$secs" "$ok" $n "$lbusy" "$lkern" "$bbusy" "$liow" "$rxcpu" "$brcpu" >&2
	[ "$ok" -eq $n ] || { echo "bench: e2e on $b: only $ok of $n receivers complete (files in $d)" >&2; FWG_KEEP=1; exit 1; }
	# F's sinks hashed what they stored: the image's digest, in every report
	if [ "$b" = F ] && ! python3 - "$d" $n <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
want = json.load(open(d + "/pub.json"))["image_sha256"]
bad = [i for i in range(1, n + 1) if json.load(open("%s/dev%d.json" % (d, i)))["sha256"] != want]
sys.exit("bench: e2e on F: sinks %s did not hash the image (sha256 %s)" % (bad, want) if bad else 0)
PY
	then FWG_KEEP=1; exit 1; fi
	rm -rf "$d"
}

for r in $(seq 1 "$rounds"); do
	if [ $(($(date +%s) + 60)) -gt $deadline ]; then echo "bench: time budget reached, stopping after $((r - 1)) rounds" >&2; break; fi
	echo "round $r/$rounds" >&2
	if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
	# the hash speed on the broker's core, for the single-pass bound
	h=$(taskset -c "$bcpu" "$FWG_LOAD" hash --size 65536 --reps 1000)
	echo "{\"cell\":\"sha256_64k\",\"broker\":\"-\",\"round\":$r,${h#\{}" >> "$res"
	# and on the load core, where the device agents hash (the e2e floor)
	h=$(taskset -c "$lcpu" "$FWG_LOAD" hash --size 65536 --reps 1000)
	echo "{\"cell\":\"sha256_64k_load\",\"broker\":\"-\",\"round\":$r,${h#\{}" >> "$res"
	if want cells; then cells "$r"; fi
	if want e2e; then
		# what the disk itself takes to store the 50 images durably: 800 MiB
		# written and fsync'd by one process on the load core (the disk cell's
		# agents must have all of it on disk before the last one is done)
		case " ${BENCH_STORES:-disk tmpfs} " in *" disk "*)
			sync
			t=$(taskset -c "$lcpu" python3 - "$work/durable.bin" <<'PY'
import os, sys, time
buf = b"\x5a" * (1 << 20)
t0 = time.monotonic()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
for _ in range(800):
    os.write(fd, buf)
os.fsync(fd)
os.close(fd)
print("%.3f" % (time.monotonic() - t0))
os.unlink(sys.argv[1])
PY
)
			echo "{\"cell\":\"durable_write_800m\",\"broker\":\"-\",\"round\":$r,\"secs\":$t}" >> "$res"
			echo "  durable write of 800 MiB on the disk: $t s" >&2
			sync ;;
		esac
		for store in ${BENCH_STORES:-disk tmpfs}; do
			# on tmpfs also F0, F and C, F next to A and C next to B (F0 F
			# A B C or C B A F F0): F/A and B/C are paired as B/A is
			o=$order
			if [ "$store" = tmpfs ]; then if [ "$order" = "A B" ]; then o="F0 F A B C"; else o="C B A F F0"; fi; fi
			for b in $o; do e2e "$r" "$b" $store; done
		done
		# BENCH_E2E_RB=16: the agents with another --read-buffer (KiB) as well
		if [ -n "${BENCH_E2E_RB:-}" ]; then for b in $order; do e2e "$r" "$b" tmpfs "$BENCH_E2E_RB"; done; fi
	fi
done

if want acl; then
echo "ACL READ check (real plugin, bench_acl on CPU $bcpu)" >&2
taskset -c "$bcpu" "$build/bench/bench_acl" "$FWG_PLUGIN" "$work" 2000000 | sed 's/^{/{"cell":"acl_read",/' >> "$res"
if command -v valgrind >/dev/null; then
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$build/bench/bench_acl" "$FWG_PLUGIN" "$work" 20000 \
		chunk_to_device >/dev/null 2>&1
	python3 - "$work/cg.out" >> "$res" <<'PY'
import re, subprocess, sys
txt = subprocess.run(["callgrind_annotate", "--inclusive=yes", sys.argv[1]], capture_output=True, text=True).stdout
def ir(fn):
    for line in txt.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*:%s(\s|$)" % re.escape(fn), line)
        if m: return int(m.group(1).replace(",", ""))
    return 0
calls = 7 * 20000 + 1
print('{"cell":"acl_read_callgrind","case":"chunk_to_device","calls":%d,"ir_per_call":%.0f,"topic_parse":%.0f,"identify":%.0f,"rollout":%.0f}'
      % (calls, ir("fwg_acl__check") / calls, ir("fwg_topic_parse") / calls, ir("fwg_acl__identify") / calls,
         ir("fwg_fleet__rollout_allows") / calls))
PY
	# what the plugin adds to an ordinary message, free of the host's noise:
	# the broker's user-space instructions per plain 1 KiB QoS 0 message to
	# one subscriber (callgrind, 10000 messages after 2000 to warm up), bare
	# and with fwguard; the kernel's share (socket I/O) is not counted
	for b in A B; do
		p_cg=$(free_port)
		BENCH_BROKER_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$work/cgmsg.$b" \
			bench_start_broker "cg$b" "$p_cg" "$([ $b = A ] && echo bare || echo plugin)" "$bcpu"
		cpid=$(eval echo "\$BROKER_PID_cg$b")
		$LOAD -p "$p_cg" --topic bench/q0 --size 1024 --qos 0 --count 2000 --e2e-window 256 > /dev/null
		callgrind_control -z "$cpid" > /dev/null
		j=$($LOAD -p "$p_cg" --topic bench/q0 --size 1024 --qos 0 --count 10000 --e2e-window 256)
		callgrind_control -d "$cpid" > /dev/null
		bench_stop_broker "$cpid"
		python3 - "$work/cgmsg.$b.1" "$b" "$j" >> "$res" <<'PY'
import json, sys
ir = next(int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith(("summary:", "totals:")))
j = json.loads(sys.argv[3])
print('{"cell":"plain_q0_callgrind","broker":"%s","messages":%d,"lost":%d,"ir_per_message":%.0f}'
      % (sys.argv[2], j["received"], j["lost"], ir / j["received"]))
PY
	done
fi
fi
# heap N RB: the agent's peak heap (massif) fetching a retained image of N
# 64 KiB chunks, with --read-buffer RB bytes
heap() {
	n=$1 rb=$2
	seq[B]=$((seq[B] + 1))
	d=$work/heap-$n-$rb
	mkdir -p "$d/state"
	$LOAD -p "$port_b" $FW --subs 0 --chunk-size 65536 --nchunks "$n" --count "$n" --window 16 --sequence "${seq[B]}" > /dev/null
	# the image is now retained on the broker: the agent fetches all of it
	valgrind --tool=massif --massif-out-file="$d/massif.out" "$FWG_CLI" device -h 127.0.0.1 -p "$port_b" \
		--vendor acme --model thermo-x1 --device dev60 --pin "$work/keys/vendor-sign.pem.pub.b64" \
		--state-dir "$d/state" --target "$d/fw.bin" --once --timeout 120 --read-buffer "$rb" > "$d/log" 2>&1 \
		|| { echo "bench: device under massif failed:" >&2; cat "$d/log" >&2; exit 1; }
	python3 - "$d/massif.out" "$n" "$rb" >> "$res" <<'PY'
import sys
peak = 0
for line in open(sys.argv[1]):
    if line.startswith("mem_heap_B="): heap = int(line.split("=")[1])
    if line.startswith("mem_heap_extra_B="): peak = max(peak, heap + int(line.split("=")[1]))
print('{"cell":"device_heap","image_bytes":%d,"chunk_size":65536,"read_buffer":%d,"peak_heap_bytes":%d}'
      % (int(sys.argv[2]) * 65536, int(sys.argv[3]), peak))
PY
}
if want heap && command -v valgrind >/dev/null; then
	# a 64 KiB, a 1 MiB, a 16 MiB and a 64 MiB image (1024 chunks, the most a
	# manifest may list) with the agent's default read buffer (its --help
	# says which), and the 64 MiB one again with BENCH_E2E_RB's, if set
	rb_default=$("$FWG_CLI" device --help 2>&1 | sed -n 's/.*--read-buffer BYTES (\([0-9]*\)).*/\1/p')
	for n in 1 16 256 1024; do heap "$n" "$rb_default"; done
	if [ -n "${BENCH_E2E_RB:-}" ]; then heap 1024 $((BENCH_E2E_RB * 1024)); fi
fi
grep -h "fwguard:" "$work/B/mosquitto.log" | grep -iv "started\|mode" | head -5 >&2 || true
echo "bench: $(($(date +%s) - t_begin)) s" >&2
python3 "$top/bench/report.py" "$res" "$out"
