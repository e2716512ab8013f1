# shellcheck shell=bash disable=SC2034
# Library of the topology tests: brokers made by scripts/topology/init.sh
# (origin + gateways in relay mode, MQTT v5 bridges) on free loopback ports,
# one temporary directory per test script, TAP-like output.
# Environment (set by meson): FWG_PLUGIN, FWG_SOURCE_ROOT; FWG_KEEP=1 keeps
# the temporary directory.
set -u
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${FWG_SOURCE_ROOT:-$(cd "$LIB_DIR/../.." && pwd)}
EX=$SRC/examples
TOPO=$SRC/scripts/topology
FWG_PLUGIN=${FWG_PLUGIN:-$SRC/build/plugin/mosquitto_fwguard.so}
[ -f "$FWG_PLUGIN" ] || { echo "no plugin $FWG_PLUGIN" >&2; exit 99; }
N_CASE=0 N_PASS=0 N_FAIL=0 FAIL_MSG=''
PID_origin='' PID_gw1='' PID_gw2=''  # set by start_broker
PIDS=()      # every process started: stopped by PID at exit
GROUPS_=()   # device agents: own session (setsid), stopped by process group
T=$(mktemp -d "${TMPDIR:-/tmp}/fwg-topo.XXXXXX") || exit 99

fail() { FAIL_MSG="$*"; return 1; }
run_case() {
	local desc=$1; shift
	FAIL_MSG=''
	N_CASE=$((N_CASE + 1))
	if "$@"; then N_PASS=$((N_PASS + 1)); echo "ok $N_CASE - $desc"
	else N_FAIL=$((N_FAIL + 1)); echo "not ok $N_CASE - $desc"; printf '%s\n' "${FAIL_MSG:-$1 failed}" | sed 's/^/#   /'; fi
}
stop_one() { # stop_one PID|-PGID
	local i=0
	kill -TERM "$1" 2>/dev/null || return 0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "${1#-}" 2>/dev/null
	return 0
}
cleanup() {
	local p
	for p in "${GROUPS_[@]}"; do stop_one "-$p"; done
	for p in "${PIDS[@]}"; do stop_one "$p"; done
	if [ "$N_FAIL" -eq 0 ] && [ "${FWG_KEEP:-0}" != 1 ]; then rm -rf "$T"; else echo "# work directory kept: $T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
finish() { echo "$N_PASS passed, $N_FAIL failed"; [ "$N_FAIL" -eq 0 ]; exit $?; }

# poll SECONDS CMD...: bounded polling for an event
poll() {
	local n=$(($1 * 20)) i=0; shift
	while [ $i -lt "$n" ]; do "$@" && return 0; sleep 0.05; i=$((i + 1)); done
	"$@"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pw() { cat "$T/secrets/$(printf '%s' "$1" | tr / _).pw"; }

# topo_init ORIGIN_PORT "gw1:PORT ..." "gw1:dev1 ...": keys, secrets, configs in $T
topo_init() {
	FWG_EXAMPLES=$EX FWG_PLUGIN=$FWG_PLUGIN FWG_ORIGIN_PORT=$1 FWG_GATEWAYS=$2 FWG_DEVICES=$3 \
		FWG_USER=$(id -un) "$TOPO/init.sh" "$T" > "$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 99; }
}
# start_broker NAME: mosquitto -c $T/NAME/mosquitto.conf, wait until it runs
start_broker() {
	local name=$1 i=0
	mosquitto -c "$T/$name/mosquitto.conf" > "$T/$name/stderr" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	eval "PID_$name=$pid"
	until grep -q 'mosquitto version .* running' "$T/$name/data/mosquitto.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "# broker $name did not start" >&2; tail -n 20 "$T/$name/data/mosquitto.log" "$T/$name/stderr" >&2
			return 1
		fi
		sleep 0.05
	done
}
# wait_bridge GATEWAY: the gateway's bridge is connected to the origin
origin_saw_connect() { grep -q "connected from .* as $1 " "$T/origin/data/mosquitto.log" 2>/dev/null; }
wait_bridge() { poll 15 origin_saw_connect "$1" || fail "bridge $1 did not connect"; }

# capture NAME PORT USER TOPIC...: background mosquitto_sub, "topic hexpayload" lines
capture() {
	local name=$1 port=$2 user=$3; shift 3
	local args=() t
	for t in "$@"; do args+=(-t "$t"); done
	mosquitto_sub -h 127.0.0.1 -p "$port" -u "$user" -P "$(pw "$user")" -i "cap-$name-$$" -V 5 -q 1 \
		-F '%t %x' "${args[@]}" > "$T/cap-$name.txt" 2> "$T/cap-$name.err" &
	PIDS+=("$!")
}
hex_of() { od -An -v -tx1 "$1" | tr -d ' \n'; }
hexs() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# cap_count NAME TOPIC HEX: how many times that exact message was captured
cap_count() { grep -cxF "$2 $3" "$T/cap-$1.txt"; }
cap_seen() { [ "$(cap_count "$@")" -ge 1 ]; }
# cap_has_payload NAME HEX: captured on any topic
cap_has_payload() { grep -q " $2\$" "$T/cap-$1.txt"; }
wait_msg() { poll "$4" cap_seen "$1" "$2" "$3" || fail "message on $2 not seen by capture $1 within $4 s"; }

# audit_has BROKER EVENT [REASON]
audit_has() {
	local pat="\"event\":\"$2\""
	[ -z "${3:-}" ] || pat="$pat.*\"reason\":\"$3\""
	grep -q "$pat" "$T/$1/data/fwguard.audit" 2>/dev/null
}
audit_wait() { poll 5 audit_has "$@" || fail "no audit record $2 ${3:-} at $1; tail: $(tail -n 3 "$T/$1/data/fwguard.audit" 2>/dev/null)"; }
audit_chain_ok() {
	python3 - "$T/$1/data/fwguard.audit" <<'PY' || fail "audit chain of $1 broken"
import hashlib, json, sys
prev = "0" * 64
for raw in open(sys.argv[1], "rb").read().split(b"\n")[:-1]:
    if json.loads(raw)["prev"] != prev: sys.exit(1)
    prev = hashlib.sha256(raw).hexdigest()
PY
}

# sign OUT SEQ [fwg-sign.sh options] (image $IMG, real vendor key unless KEY=...)
sign() {
	local out=$1 seq=$2; shift 2
	"$EX/fwg-sign.sh" -o "$out" "$@" "$IMG" acme thermo-x1 "1.0.$seq" "$seq" 1024 86400 "${KEY:-$T/keys/vendor-sign.pem}"
}
# device NAME GW_PORT: run the device agent once (scripts/topology/device.sh), rc in DEV_RC
device() {
	DEV_RC=0
	timeout 60 "$TOPO/device.sh" "$T" 127.0.0.1 "$2" "$1" "$T/devices/$1" 10 > "$T/dev-$1.log" 2>&1 || DEV_RC=$?
}
