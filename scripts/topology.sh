#!/bin/sh
# fwguard topology demo, native: on this machine's loopback, start an origin
# broker (fwguard, origin mode), two gateway brokers (fwguard, relay mode,
# MQTT v5 bridges to the origin) and N device agents behind the gateways;
# the vendor signs an image and publishes it to the origin; the gateways
# re-verify it and the devices install it. Then a forged manifest published
# locally at a gateway is refused there. Prints the audit summary of every
# broker and stops everything it started, by PID.
#
#   scripts/topology.sh [-n DEVICES] [-k]
#     -n N   device agents (default 4; alternately behind gw1 and gw2)
#     -k     keep the work directory (also FWG_KEEP=1)
# Environment:
#   FWG_PLUGIN        mosquitto_fwguard.so to use (default: build it, $FWG_BUILD_DIR or build/)
#   FWG_DEVICE_AGENT  the device agent command (default examples/fwg-device.sh). It
#                     is run once per device with fwg-device.sh's options:
#                       -h HOST -p PORT -u USER --vendor V --model M --device D
#                       --pin KEY.pub.b64 --target FILE --timeout SECS
#                     and the MQTT password in FWG_PASSWORD; exit 0 = installed.
#   FWG_WORK_DIR      parent of the temporary work directory (default /tmp)
#   FWG_IMAGE_KIB     image size in KiB (default 192, 16 KiB chunks)
#
# Configs come from scripts/topology/*.conf.in via scripts/topology/init.sh,
# the same files the init service of docker/compose.yml renders.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ex=$top/examples
tdir=$top/scripts/topology
ndev=4 keep=${FWG_KEEP:-0}
while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || { echo "usage: $0 [-n DEVICES] [-k]" >&2; exit 2; }; ndev=$2; shift 2 ;;
	-k) keep=1; shift ;;
	*) echo "usage: $0 [-n DEVICES] [-k]" >&2; exit 2 ;;
	esac
done
case $ndev in ''|*[!0-9]*|0) echo "$0: -n needs a number from 1 to 64" >&2; exit 2 ;; esac
[ "$ndev" -le 64 ] || { echo "$0: -n needs a number from 1 to 64" >&2; exit 2; }
agent=${FWG_DEVICE_AGENT:-$ex/fwg-device.sh}
kib=${FWG_IMAGE_KIB:-192}

t0=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - t0) / 1000000 ))" | sed 's/\(...\)$/.\1/; s/^\./0./'; }
step() { printf '\n[%6ss] == %s\n' "$(elapsed)" "$*"; }
say() { printf '[%6ss]    %s\n' "$(elapsed)" "$*"; }

if [ -z "${FWG_PLUGIN:-}" ]; then
	build=${FWG_BUILD_DIR:-$top/build}
	"$top/scripts/deps.sh"
	[ -f "$build/build.ninja" ] || meson setup "$build" "$top" >/dev/null
	ninja -C "$build" >/dev/null
	FWG_PLUGIN=$build/plugin/mosquitto_fwguard.so
fi
[ -f "$FWG_PLUGIN" ] || { echo "$0: no plugin $FWG_PLUGIN" >&2; exit 2; }

work=$(mktemp -d "${FWG_WORK_DIR:-/tmp}/fwguard-topology.XXXXXX")
# Every process this script starts is recorded here; cleanup stops exactly
# these. Device agents run in their own session (setsid), so their group
# (the agent and its mosquitto_sub/pub children) is stopped as a whole.
brokers='' groups='' others=''
stop_pid() { # stop_pid PID [GROUP]: TERM, bounded wait, KILL
	target=$1
	[ "${2:-}" != group ] || target=-$1
	kill -TERM "$target" 2>/dev/null || return 0
	i=0
	while kill -0 "$target" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	kill -KILL "$target" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	for p in $others; do stop_pid "$p"; done
	for p in $groups; do stop_pid "$p" group; done
	for p in $brokers; do stop_pid "$p"; done # gateways first, then the origin
	left=''
	for p in $others $brokers; do ! kill -0 "$p" 2>/dev/null || left="$left $p"; done
	for p in $groups; do ! kill -0 "-$p" 2>/dev/null || left="$left group:$p"; done
	if [ -n "$left" ]; then echo "topology.sh: processes still running:$left" >&2; rc=1; fi
	# shellcheck disable=SC2086
	[ -n "$left" ] || echo "stopped every process it started (pids:$(echo "" $brokers $groups $others | tr -s ' '))"
	if [ "$keep" = 1 ] || [ "$rc" != 0 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_broker NAME PORT: start it, wait (bounded) until it runs
start_broker() {
	mosquitto -c "$work/$1/mosquitto.conf" > "$work/$1/data/stderr" 2>&1 &
	pid=$!
	brokers="$pid $brokers"
	eval "pid_$1=$pid"
	i=0
	until grep -q 'mosquitto version .* running' "$work/$1/data/mosquitto.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "topology.sh: broker $1 did not start:" >&2
			tail -n 20 "$work/$1/data/mosquitto.log" "$work/$1/data/stderr" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.05 # polling the log for the start event, bounded to 10 s
	done
	say "$1: pid $pid, 127.0.0.1:$2 — $(grep -o 'fwguard: .*' "$work/$1/data/mosquitto.log" | head -n 1)"
}
# wait_log FILE PATTERN SECONDS: bounded poll of a log for an event
wait_log() {
	i=0 n=$(($3 * 20))
	until grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -le $n ] || return 1
		sleep 0.05
	done
}
pw() { cat "$work/secrets/$(printf '%s' "$1" | tr / _).pw"; }

po=$(free_port) p1=$(free_port) p2=$(free_port)
devices='' i=1
while [ $i -le "$ndev" ]; do
	g=gw$(( (i - 1) % 2 + 1 ))
	devices="$devices $g:dev$i"
	i=$((i + 1))
done

step "keys, passwords, trust store and configs (scripts/topology/init.sh, in $work)"
FWG_EXAMPLES=$ex FWG_PLUGIN=$FWG_PLUGIN FWG_ORIGIN_PORT=$po FWG_GATEWAYS="gw1:$p1 gw2:$p2" \
	FWG_DEVICES="$devices" FWG_USER=$(id -un) "$tdir/init.sh" "$work" > "$work/init.log" 2>&1 \
	|| { cat "$work/init.log" >&2; exit 1; }
sed 's/^/           /' "$work/init.log"

step "origin broker and two gateways (relay mode, MQTT v5 bridges fw/# in, status out)"
start_broker origin "$po"
start_broker gw1 "$p1"
start_broker gw2 "$p2"
for g in gw1 gw2; do
	wait_log "$work/origin/data/mosquitto.log" "connected from .* as $g " 15 \
		|| { echo "topology.sh: bridge $g did not connect to the origin" >&2; exit 1; }
done
say "bridges gw1 and gw2 connected to the origin"

step "vendor's view: status of all devices at the origin (user acme-deploy)"
mosquitto_sub -h 127.0.0.1 -p "$po" -u acme-deploy -P "$(pw acme-deploy)" -i vendor-view -V 5 \
	-t 'fw/acme/thermo-x1/status/+' -F '%t %p' > "$work/vendor-view.txt" 2> "$work/vendor-view.err" &
others="$! $others"
say "subscribed (pid $!)"

step "$ndev device agents wait for firmware ($(basename "$agent"))"
for d in $devices; do
	g=${d%%:*} dev=${d#*:}
	case $g in gw1) gp=$p1 ;; *) gp=$p2 ;; esac
	mkdir -p "$work/devices/$dev"
	FWG_EXAMPLES=$ex FWG_DEVICE_AGENT=$agent setsid "$tdir/device.sh" "$work" 127.0.0.1 "$gp" "$dev" \
		"$work/devices/$dev" 30 > "$work/devices/$dev/log" 2>&1 < /dev/null &
	groups="$groups $!"
	eval "agent_$dev=$!"
	say "$dev behind $g (127.0.0.1:$gp), pid $!"
done

step "vendor signs a $kib KiB image (sequence 1, 16 KiB chunks) and publishes it to the origin"
FWG_EXAMPLES=$ex FWG_IMAGE_KIB=$kib FWG_VENDOR_DIR=$work/vendor \
	"$tdir/vendor.sh" "$work" 127.0.0.1 "$po" 1 1.0.0 > "$work/publish.log"
cp "$work/vendor/image.bin" "$work/image-v1.bin"
say "published: $(grep -c '^published' "$work/publish.log") messages (manifest + chunks), all acknowledged"

step "rollout: origin -> gateways -> devices"
count_installed() {
	n=0
	for d in $devices; do
		! grep -q "^fw/acme/thermo-x1/status/${d#*:} .*\"state\":\"installed\"" "$work/vendor-view.txt" || n=$((n + 1))
	done
	echo $n
}
agents_running() { for p in $groups; do ! kill -0 "$p" 2>/dev/null || return 0; done; return 1; }
shown=-1 i=0 done_at=''
while [ $i -lt 1200 ]; do # bounded: 60 s
	n=$(count_installed)
	if [ "$n" != "$shown" ]; then say "vendor sees $n/$ndev devices installed"; shown=$n; fi
	[ "$n" -lt "$ndev" ] || break
	# every agent has exited: their last status gets 5 s to reach the origin
	if [ -z "$done_at" ] && ! agents_running; then done_at=$i; fi
	if [ -n "$done_at" ] && [ $((i - done_at)) -ge 100 ]; then break; fi
	sleep 0.05
	i=$((i + 1))
done
fail=0
for d in $devices; do
	dev=${d#*:}
	ap=''; eval "ap=\$agent_$dev"
	rc=0; wait "$ap" || rc=$?
	if [ $rc = 0 ] && cmp -s "$work/image-v1.bin" "$work/devices/$dev/firmware.bin"; then
		say "$dev (${d%%:*}): installed sequence $(cat "$work/devices/$dev/installed.seq"), image identical"
	else
		say "$dev (${d%%:*}): NOT installed (agent exit $rc)"; sed 's/^/             /' "$work/devices/$dev/log"; fail=1
	fi
done
groups=''
[ "$(count_installed)" = "$ndev" ] || { say "the vendor did not see every device's installed status at the origin"; fail=1; }
[ $fail = 0 ] || exit 1
for g in gw1 gw2; do
	grep -q '"event":"manifest.accepted".*"route":"bridge"' "$work/$g/data/fwguard.audit" \
		|| { say "$g has no manifest.accepted (route bridge)"; exit 1; }
	grep -q '"event":"image.complete"' "$work/$g/data/fwguard.audit" \
		|| { say "$g has no image.complete"; exit 1; }
done
say "both gateways re-verified the manifest (route \"bridge\") and every chunk (image.complete)"

step "attack: a forged manifest (attacker's key, sequence 99) published locally at gw1 by device dev1"
"$ex/fwg-keys.sh" "$work/evil" vendor-sign > /dev/null 2>&1
"$ex/fwg-sign.sh" -o "$work/manifest-evil.json" "$work/image-v1.bin" acme thermo-x1 6.6.6 99 16384 86400 \
	"$work/evil/vendor-sign.pem"
if timeout 20 mosquitto_pub -h 127.0.0.1 -p "$p1" -u acme/thermo-x1/dev1 -P "$(pw acme/thermo-x1/dev1)" \
	-i evil-dev1 -V 5 -q 1 -t fw/acme/thermo-x1/manifest -f "$work/manifest-evil.json" 2> "$work/evil.err" \
	&& ! grep -q failed "$work/evil.err"; then
	say "the forged manifest was NOT refused"; exit 1
fi
say "refused by gw1: $(head -n 1 "$work/evil.err")"
wait_log "$work/gw1/data/fwguard.audit" '"event":"manifest.rejected".*"reason":"not_vendor_identity"' 5 \
	|| { say "no manifest.rejected/not_vendor_identity in gw1's audit"; exit 1; }
say "gw1 audit: $(grep -o '"event":"manifest.rejected"[^}]*"reason":"[a-z_]*"' "$work/gw1/data/fwguard.audit" | tail -n 1)"

step "audit summary"
for b in origin gw1 gw2; do
	python3 - "$b" "$work/$b/data/fwguard.audit" <<'PY'
import hashlib, json, sys, collections
name, path = sys.argv[1], sys.argv[2]
prev, counts, n, routes = "0" * 64, collections.Counter(), 0, collections.Counter()
for raw in open(path, "rb").read().split(b"\n")[:-1]:
    rec = json.loads(raw); n += 1
    if rec["prev"] != prev: sys.exit(f"{name}: audit chain broken at line {n}")
    prev = hashlib.sha256(raw).hexdigest()
    key = rec["event"] + (f" ({rec['reason']})" if "reason" in rec else "")
    counts[key] += 1
    if rec["event"] == "manifest.accepted": routes[rec.get("route", "?")] += 1
print(f"           {name}: {n} records, hash chain intact; manifests accepted by route: {dict(routes)}")
for ev, c in sorted(counts.items()):
    print(f"           {c:6d}  {ev}")
PY
done

step "stopping"
