#!/bin/sh
# fwguard demo: on this machine, with the Debian mosquitto and fresh keys,
# start a broker with the plugin on a free loopback port, roll a signed,
# chunked firmware image out to three devices, show that a rollback and a
# forged manifest are refused, print the audit summary, and stop everything
# it started (by PID). Then the gateway tier: scripts/topology.sh (an origin
# broker, two gateway brokers in relay mode, devices behind each).
#   scripts/demo.sh            (as root the first time: it installs packages)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ex=$top/examples
build=${FWG_BUILD_DIR:-$top/build}
"$top/scripts/deps.sh"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$top" >/dev/null
fi
ninja -C "$build" >/dev/null
plugin=$build/plugin/mosquitto_fwguard.so

work=$(mktemp -d /tmp/fwguard-demo.XXXXXX)
broker_pid='' pids=''
cleanup() {
	for p in $pids $broker_pid; do kill "$p" 2>/dev/null || true; done
	for p in $pids $broker_pid; do wait "$p" 2>/dev/null || true; done
	[ "${FWG_KEEP:-0}" = 1 ] && echo "demo files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT INT TERM
step() { printf '\n== %s\n' "$*"; }

step "keys and trust store (in $work)"
"$ex/fwg-keys.sh" "$work" >/dev/null
"$ex/fwg-trust-store.sh" acme acme-deploy "$work/vendor-ecdh.pub.b64" "$work/vendor-sign.pub.b64" thermo-x1 \
	> "$work/vendors.json"
pass=demo-$$
mosquitto_passwd -c -b "$work/passwd" acme-deploy "$pass" 2>/dev/null
for d in dev1 dev2 dev3; do mosquitto_passwd -b "$work/passwd" "acme/thermo-x1/$d" "$pass"; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
per_listener_settings false
listener $port 127.0.0.1
allow_anonymous false
password_file $work/passwd
persistence false
log_dest file $work/mosquitto.log
user $(id -un)
plugin $plugin
plugin_opt_trust_store $work/vendors.json
plugin_opt_broker_key $work/broker-ecdh.pem
plugin_opt_state_file $work/fwguard.state
plugin_opt_audit_log $work/fwguard.audit
plugin_opt_other_topics deny
CONF
echo "vendor acme (user acme-deploy), devices acme/thermo-x1/dev1..3, broker on 127.0.0.1:$port"

step "broker with the fwguard plugin"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.stderr" 2>&1 &
broker_pid=$!
i=0
until grep -q "mosquitto version .* running" "$work/mosquitto.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$broker_pid" 2>/dev/null; then
		echo "broker did not start:" >&2
		cat "$work/mosquitto.log" "$work/mosquitto.stderr" >&2 2>/dev/null || true
		exit 1
	fi
	sleep 0.1 # polling the log for the start event, bounded to 10 s
done
grep "fwguard:" "$work/mosquitto.log" | sed 's/^[0-9]*: /  /'

step "vendor signs a 192 KiB image (sequence 1, 16 KiB chunks) and publishes it"
head -c 196608 /dev/urandom > "$work/image-v1.bin"
"$ex/fwg-sign.sh" -o "$work/manifest-v1.json" "$work/image-v1.bin" acme thermo-x1 1.0.0 1 16384 86400 "$work/vendor-sign.pem"
export FWG_PASSWORD="$pass"
"$ex/fwg-publish.sh" -h 127.0.0.1 -p "$port" -u acme-deploy -i acme-deploy-1 \
	--vendor-key "$work/vendor-ecdh.pem" --broker-pub "$work/broker-ecdh.pub.b64" \
	"$work/manifest-v1.json" "$work/image-v1.bin"

step "three devices fetch, verify end to end and install"
for d in dev1 dev2 dev3; do
	mkdir -p "$work/$d"
	"$ex/fwg-device.sh" -h 127.0.0.1 -p "$port" --vendor acme --model thermo-x1 --device "$d" \
		--pin "$work/vendor-sign.pub.b64" --target "$work/$d/firmware.bin" --timeout 20 \
		>"$work/$d/log" 2>&1 &
	pids="$pids $!"
done
fail=0
for p in $pids; do wait "$p" || fail=1; done
pids=''
for d in dev1 dev2 dev3; do
	if cmp -s "$work/image-v1.bin" "$work/$d/firmware.bin"; then
		echo "  $d: installed sequence $(cat "$work/$d/installed.seq" 2>/dev/null || echo '?'), image identical"
	else
		echo "  $d: NOT installed"; sed 's/^/    /' "$work/$d/log"; fail=1
	fi
done
[ $fail = 0 ] || exit 1

step "attacks: a rollback to sequence 1 with a new signature, and a forged manifest"
"$ex/fwg-sign.sh" -o "$work/manifest-old.json" "$work/image-v1.bin" acme thermo-x1 0.9.0 1 16384 86400 "$work/vendor-sign.pem"
if "$ex/fwg-publish.sh" -h 127.0.0.1 -p "$port" -u acme-deploy -i acme-deploy-2 --manifest-only \
	--vendor-key "$work/vendor-ecdh.pem" --broker-pub "$work/broker-ecdh.pub.b64" \
	"$work/manifest-old.json" "$work/image-v1.bin" 2>/dev/null; then
	echo "  rollback was NOT refused"; exit 1
fi
"$ex/fwg-keys.sh" "$work/evil" >/dev/null
"$ex/fwg-sign.sh" -o "$work/manifest-evil.json" "$work/image-v1.bin" acme thermo-x1 6.6.6 99 16384 86400 "$work/evil/vendor-sign.pem"
if "$ex/fwg-publish.sh" -h 127.0.0.1 -p "$port" -u acme-deploy -i acme-deploy-3 --manifest-only \
	--vendor-key "$work/vendor-ecdh.pem" --broker-pub "$work/broker-ecdh.pub.b64" \
	"$work/manifest-evil.json" "$work/image-v1.bin" 2>/dev/null; then
	echo "  forged manifest was NOT refused"; exit 1
fi
grep -o '"event":"manifest.rejected"[^}]*"reason":"[a-z_]*"' "$work/fwguard.audit" | sed 's/^/  /'

step "audit log summary ($work/fwguard.audit)"
python3 - "$work/fwguard.audit" <<'PY'
import hashlib, json, sys, collections
prev, counts, n = "0" * 64, collections.Counter(), 0
for raw in open(sys.argv[1], "rb").read().split(b"\n")[:-1]:
    rec = json.loads(raw); n += 1
    assert rec["prev"] == prev, f"chain broken at line {n}"
    prev = hashlib.sha256(raw).hexdigest(); counts[rec["event"]] += 1
print(f"  {n} records, hash chain intact")
for ev, c in sorted(counts.items()):
    print(f"  {c:5d}  {ev}")
PY
echo
echo "single-broker demo finished: broker stopped, devices installed 1.0.0, attacks refused"
trap - EXIT INT TERM
cleanup
printf '\n\n######## the gateway tier (scripts/topology.sh)\n'
FWG_BUILD_DIR=$build exec "$top/scripts/topology.sh"
