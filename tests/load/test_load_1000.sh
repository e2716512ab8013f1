#!/bin/bash
# Load test (hardening issue): 1000 device connections (device usernames,
# password_file) subscribed to one model's manifest and chunk/<seq>/#; the
# vendor publishes a signed manifest and a 4 MiB image as 64 x 64 KiB chunks,
# tagged, at QoS 1, through a broker with fwguard. Every device checks the
# manifest signature, every chunk's length and SHA-256 against the manifest,
# and reassembles the image as a streaming SHA-256 compared with the
# manifest's sha256 (bench/fwg_load --verify, one process polling 1000
# connections). Asserts 0 lost chunks, 0 corrupt chunks, 0 corrupt or
# incomplete installs, no refusal, no dropped outgoing message, the audit
# log's image.complete; reports wall time and the broker's RSS before,
# with the devices connected, after, and its peak (VmHWM). Loopback only,
# bounded in time (the generator gives up after FWG_LOAD_TIMEOUT s).
#   tests/load/test_load_1000.sh      (FWG_BUILD_DIR, FWG_LOAD_DEVICES=1000)
# Broker settings, and why: max_queued_messages 2000 (>= 64 chunks + manifest
# per device: nothing may be dropped for a device that reads slower than the
# vendor publishes), max_inflight_messages 20 (the default), persistence off.
# SPDX-License-Identifier: Apache-2.0
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${FWG_BUILD_DIR:-$top/build}
n=${FWG_LOAD_DEVICES:-1000}
timeout=${FWG_LOAD_TIMEOUT:-300}
nchunks=64 csize=65536
work=$(mktemp -d /tmp/fwg-load.XXXXXX)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
sub_pid=''
cleanup() {
	[ -z "$sub_pid" ] || kill "$sub_pid" 2>/dev/null || true
	bench_stop_brokers
	[ "${FWG_KEEP:-0}" = 1 ] && echo "# files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT INT TERM
fail() { echo "not ok - $*"; FWG_KEEP=1; exit 1; }

need=$((n + 64))
if [ "$(ulimit -n)" -lt $need ] && ! ulimit -n $((need + 1024)) 2>/dev/null; then
	echo "# SKIP: cannot raise the open file limit to $need (ulimit -n $(ulimit -n))"
	exit 77
fi
for f in "$FWG_CLI" "$FWG_LOAD" "$FWG_PLUGIN"; do [ -e "$f" ] || fail "missing $f (build first)"; done

bench_keys "$work/keys"
bench_passwd "$work/passwd" "$n"
port=$(free_port)
bench_start_broker B "$port" plugin "0-$(($(nproc) - 1))" "max_inflight_messages 20"
bpid=$BROKER_PID_B
rss_start=$(proc_kb "$bpid" VmRSS)

FW=(--fw --sign-key "$work/keys/vendor-sign.pem" --vendor-ecdh "$work/keys/vendor-ecdh.pem"
	--broker-pub "$work/keys/broker-ecdh.pem.pub.b64" --sequence 1 --chunk-size $csize --nchunks $nchunks)

# 1. the devices: connect, subscribe, then wait for the rollout
t_conn=$(date +%s%N)
"$FWG_LOAD" run -p "$port" --json --no-pub --subs "$n" --sub-user 'acme/thermo-x1/dev%d' --verify --timeout "$timeout" \
	"${FW[@]}" > "$work/devices.json" 2> "$work/devices.err" &
sub_pid=$!
i=0
until [ "$(grep -c "New client connected" "$work/B/mosquitto.log" || true)" -ge "$n" ]; do
	i=$((i + 1))
	kill -0 "$sub_pid" 2>/dev/null || fail "the device process exited: $(cat "$work/devices.err")"
	[ $i -lt 1200 ] || fail "$n devices did not connect within 120 s"
	sleep 0.1 # bounded: 120 s
done
sleep 1 # their SUBSCRIBEs follow the CONNACKs
t_connected=$(date +%s%N)
rss_connected=$(proc_kb "$bpid" VmRSS)

# 2. the vendor: manifest, then 64 chunks, tagged, QoS 1, 16 in flight
t0=$(date +%s%N)
"$FWG_LOAD" run -p "$port" --json --subs 0 --pub-user acme-deploy --window 16 --count $nchunks --timeout "$timeout" \
	"${FW[@]}" > "$work/vendor.json" 2> "$work/vendor.err" || fail "the vendor's publish failed: $(cat "$work/vendor.err" "$work/vendor.json")"
t_pub=$(date +%s%N)
rc=0
wait "$sub_pid" || rc=$?
sub_pid=''
t1=$(date +%s%N)
rss_after=$(proc_kb "$bpid" VmRSS)
hwm=$(proc_kb "$bpid" VmHWM)

echo "# devices: $(cat "$work/devices.json")"
echo "# vendor:  $(cat "$work/vendor.json")"
dj=$work/devices.json
get() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
[ -s "$dj" ] || fail "no result from the devices (rc $rc): $(cat "$work/devices.err")"
ok=0 bad=0
check() {
	if [ "$2" = "$3" ]; then echo "ok - $1 ($2)"; ok=$((ok + 1)); else echo "not ok - $1: $2, expected $3"; bad=$((bad + 1)); fi
}
check "lost chunks" "$(get "$dj" lost)" 0
check "missing chunks" "$(get "$dj" missing_chunks)" 0
check "corrupt chunks" "$(get "$dj" corrupt_chunks)" 0
check "corrupt installs" "$(get "$dj" installs_corrupt)" 0
check "incomplete installs" "$(get "$dj" installs_incomplete)" 0
check "good installs" "$(get "$dj" installs_good)" "$n"
check "chunk deliveries" "$(get "$dj" received)" $((n * nchunks))
check "vendor publishes refused" "$(get "$work/vendor.json" refused)" 0
check "device process exit status" "$rc" 0
check "dropped outgoing messages (broker log)" "$(grep -c "dropped" "$work/B/mosquitto.log" || true)" 0
check "image.complete in the audit log" "$(grep -c '"event":"image.complete"' "$work/B/fwguard.audit" || true)" 1
check "chunk.rejected in the audit log" "$(grep -c '"event":"chunk.rejected"' "$work/B/fwguard.audit" || true)" 0
kill -0 "$bpid" 2>/dev/null && check "broker alive" yes yes || check "broker alive" no yes

python3 - "$n" "$t_conn" "$t_connected" "$t0" "$t_pub" "$t1" "$rss_start" "$rss_connected" "$rss_after" "$hwm" <<'PY'
import sys
n, tc, tcd, t0, tp, t1 = (int(x) for x in sys.argv[1:7])
rs, rc, ra, hwm = (int(x) for x in sys.argv[7:11])
img = 64 * 65536
print("# %d devices connected and subscribed in %.2f s" % (n, (tcd - tc) / 1e9))
print("# rollout: vendor done in %.2f s; all %d devices verified and installed in %.2f s (%.0f MB/s delivered)"
      % ((tp - t0) / 1e9, n, (t1 - t0) / 1e9, n * img / ((t1 - t0) / 1e9) / 1e6))
print("# broker RSS: %.1f MiB at start, %.1f MiB with %d devices connected, %.1f MiB after the rollout; peak (VmHWM) %.1f MiB"
      % (rs / 1024, rc / 1024, n, ra / 1024, hwm / 1024))
PY
echo "$ok passed, $bad failed"
[ $bad -eq 0 ]
