# shellcheck shell=bash
# Library of the fwguard CLI integration tests: a real mosquitto (with the
# plugin, or bare), the `fwguard` executable, one temporary directory per
# test script, TAP-like output.
#
# Environment (set by meson):
#   FWG_CLI      path of the fwguard executable
#   FWG_PLUGIN   path of mosquitto_fwguard.so
#   FWG_KEEP=1   keep the temporary directory even when everything passed
set -u

FWG=${FWG_CLI:?FWG_CLI is not set}
FWG_PLUGIN=${FWG_PLUGIN:-}
PASSWORD=cli-test-pw
VENDOR=acme MODEL=thermo-x1
N_CASE=0 N_PASS=0 N_FAIL=0
BROKER_PID='' PORT=''
BG_PIDS=()
T=$(mktemp -d "${TMPDIR:-/tmp}/fwg-cli.XXXXXX") || exit 99
LOG=$T/mosquitto.log CONF=$T/mosquitto.conf K=$T/keys

note() { echo "# $*"; }
ok() { N_CASE=$((N_CASE + 1)); N_PASS=$((N_PASS + 1)); echo "ok $N_CASE - $1"; }
not_ok() {
	N_CASE=$((N_CASE + 1)); N_FAIL=$((N_FAIL + 1))
	echo "not ok $N_CASE - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}
FAIL_MSG=''
fail() { FAIL_MSG="$*"; return 1; }
# run_case DESCRIPTION FUNCTION [ARGS...]
run_case() {
	local desc=$1; shift
	FAIL_MSG=''
	if "$@"; then ok "$desc"; else not_ok "$desc" "${FAIL_MSG:-$1 returned non-zero}"; fi
}

cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	stop_broker
	if [ "$N_FAIL" -eq 0 ] && [ "${FWG_KEEP:-0}" != 1 ]; then rm -rf "$T"; else echo "# work directory kept: $T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
	echo "$N_PASS passed, $N_FAIL failed"
	[ "$N_FAIL" -eq 0 ]
	exit $?
}

# poll TIMEOUT_SECONDS COMMAND...: bounded poll (20 tries per second)
poll() {
	local n=$(($1 * 20)) i=0; shift
	while [ "$i" -lt "$n" ]; do
		"$@" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	"$@"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# cli_init: keys (made with `fwguard keygen`), password file, port
cli_init() {
	[ -x "$FWG" ] || { echo "no fwguard executable $FWG" >&2; exit 99; }
	mkdir -p "$K"
	local k
	for k in vendor-sign:--sign vendor-ecdh:--ecdh broker-ecdh:--ecdh rogue-sign:--sign; do
		"$FWG" keygen "${k#*:}" "$K/${k%%:*}.pem" > /dev/null || exit 99
	done
	mosquitto_passwd -c -b "$T/passwd" acme-deploy "$PASSWORD" || exit 99
	PORT=$(free_port)
}
# add_devices N [PREFIX]: users acme/thermo-x1/<PREFIX>1..N
add_devices() {
	local i
	for i in $(seq 1 "$1"); do mosquitto_passwd -b "$T/passwd" "$VENDOR/$MODEL/${2:-dev}$i" "$PASSWORD" || return 1; done
}

write_trust_store() {
	cat > "$T/vendors.json" <<JSON
{"vendors": [
  {"id": "$VENDOR",
   "usernames": ["acme-deploy"],
   "ecdh_public_key": "$(cat "$K/vendor-ecdh.pem.pub.b64")",
   "signing_keys": [{"public_key": "$(cat "$K/vendor-sign.pem.pub.b64")", "revoked": false}],
   "models": ["$MODEL", "thermo-x2"]}
]}
JSON
}

# write_conf plugin|bare [persist]
write_conf() {
	{
		echo "per_listener_settings false"
		echo "listener $PORT 127.0.0.1"
		echo "log_dest file $LOG"
		echo "user root"
		echo "max_queued_messages 2000"
		if [ "${2:-}" = persist ]; then
			echo "persistence true"
			echo "persistence_location $T/"
		else
			echo "persistence false"
		fi
		if [ "$1" = plugin ]; then
			echo "allow_anonymous false"
			echo "password_file $T/passwd"
			echo "plugin $FWG_PLUGIN"
			echo "plugin_opt_trust_store $T/vendors.json"
			echo "plugin_opt_broker_key $K/broker-ecdh.pem"
			echo "plugin_opt_state_file $T/fwguard.state"
			echo "plugin_opt_audit_log $T/fwguard.audit"
			echo "plugin_opt_other_topics deny"
		else
			echo "allow_anonymous true"
		fi
	} > "$CONF"
}

log_running() { grep -q "mosquitto version 2.0.11 running" "$LOG" 2>/dev/null; }
# start_broker: by PID in the background; waits for the "running" log line (10 s)
start_broker() {
	local i=0
	: > "$LOG"
	mosquitto -c "$CONF" >> "$T/broker.out" 2>&1 &
	BROKER_PID=$!
	while [ "$i" -lt 200 ]; do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then
			echo "# broker exited at start:" >&2; tail -20 "$T/broker.out" "$LOG" >&2
			BROKER_PID=''; return 1
		fi
		log_running && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# broker did not log 'running' within 10 s" >&2
	return 1
}
# stop_broker: SIGTERM (clean: persistence is written), bounded wait, then KILL
stop_broker() {
	local i=0
	[ -n "$BROKER_PID" ] || return 0
	kill -TERM "$BROKER_PID" 2>/dev/null
	while kill -0 "$BROKER_PID" 2>/dev/null && [ "$i" -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	kill -0 "$BROKER_PID" 2>/dev/null && kill -KILL "$BROKER_PID" 2>/dev/null
	wait "$BROKER_PID" 2>/dev/null
	BROKER_PID=''
}

# sign IMAGE SEQ OUT [fwguard sign options...]
sign() {
	local img=$1 seq=$2 out=$3; shift 3
	"$FWG" sign --key "$K/vendor-sign.pem" --vendor "$VENDOR" --model "$MODEL" --version "1.0.$seq" \
		--sequence "$seq" -o "$out" "$@" "$img" 2>/dev/null
}
# publish MANIFEST IMAGE [fwguard publish options...]: output in $T/publish.out, rc in PUB_RC
publish() {
	local m=$1 img=$2; shift 2
	timeout 300 "$FWG" publish -h 127.0.0.1 -p "$PORT" -u acme-deploy -P "$PASSWORD" \
		--vendor-key "$K/vendor-ecdh.pem" --broker-pub "$K/broker-ecdh.pem.pub.b64" "$@" "$m" "$img" \
		> "$T/publish.out" 2>&1
	PUB_RC=$?
}
# device NAME [fwguard device options...]: the agent's command line (array DEV)
device_cmd() {
	local name=$1; shift
	mkdir -p "$T/$name"
	DEV=("$FWG" device -h 127.0.0.1 -p "$PORT" -P "$PASSWORD" --vendor "$VENDOR" --model "$MODEL"
		--device "$name" --pin "$K/vendor-sign.pem.pub.b64" --state-dir "$T/$name/state"
		--target "$T/$name/firmware.bin" "$@")
}

# put_retained TOPIC FILE: a retained QoS 1 message on the broker (bare: anonymous)
put_retained() { timeout 20 mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -r -t "$1" -f "$2"; }
# put_chunks SEQ IMAGE [-r]: the image's chunks of $CS bytes as retained
# messages under $BASE (both set by the test); with
# -r the last chunk first (Mosquitto sends retained messages in the order
# they were stored: the agent then gets every chunk but the last out of
# index order)
put_chunks() {
	local seq=$1 img=$2 order=${3:-} f
	rm -rf "$T/chunks"; mkdir -p "$T/chunks"
	split -b "$CS" -d -a 4 "$img" "$T/chunks/c"
	# shellcheck disable=SC2012,SC2086
	for f in $(ls $order "$T"/chunks/c*); do
		put_retained "$BASE/chunk/$seq/$((10#${f##*/c}))" "$f" || return 1
	done
}
# popcount FILE: bits set in a chunk bitmap (0 when absent)
popcount() {
	python3 -c 'import sys
try: print(sum(bin(b).count("1") for b in open(sys.argv[1], "rb").read()))
except FileNotFoundError: print(0)' "$1"
}
bitmap_ge() { [ "$(popcount "$T/$1/state/staging.bitmap")" -ge "$2" ]; }
# statuses_installed SEQ DEVICE...: the broker's audit log has an "installed"
# device.status of SEQ for every DEVICE
statuses_installed() {
	local seq=$1; shift
	python3 - "$T/fwguard.audit" "$seq" "$@" <<'PY'
import json, sys
seq, want = int(sys.argv[2]), set(sys.argv[3:])
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "device.status" and r.get("state") == "installed" and r.get("sequence") == seq:
        want.discard(r.get("device"))
if want:
    print("no 'installed' status from: " + " ".join(sorted(want)))
    sys.exit(1)
PY
}
clients_connected_ge() { [ "$(grep -c "as fwgdev/" "$LOG" 2>/dev/null)" -ge "$1" ]; }
