# shellcheck shell=bash
# Library of the operations tests (suite 'ops'): the CLI tests' library
# (broker by PID, keys, signing, publishing, TAP output) plus an admin
# identity, a second vendor, `fwguard ctl`, the device simulator (devsim:
# N devices in one process) with a barrier, and rollout buckets computed
# independently of the plugin (python3 hashlib).
#
# Environment (set by meson): FWG_CLI, FWG_PLUGIN, FWG_DEVSIM.
. "$(dirname "$0")/../cli/lib.sh"

DEVSIM=${FWG_DEVSIM:?FWG_DEVSIM is not set}
ADMIN=ops-admin
PING_TOPIC=ops/ping
SIM_PID='' SIM_OUT='' BARRIER_N=0

# ops_init N: keys, password file (vendor, admin, other vendor, N devices)
ops_init() {
	cli_init
	"$FWG" keygen --ecdh "$K/globex-ecdh.pem" > /dev/null || exit 99
	"$FWG" keygen --sign "$K/globex-sign.pem" > /dev/null || exit 99
	mosquitto_passwd -b "$T/passwd" "$ADMIN" "$PASSWORD" || exit 99
	mosquitto_passwd -b "$T/passwd" globex-deploy "$PASSWORD" || exit 99
	add_devices "$1" || exit 99
	write_ops_trust_store
}

write_ops_trust_store() {
	cat > "$T/vendors.json" <<JSON
{"vendors": [
  {"id": "$VENDOR",
   "usernames": ["acme-deploy"],
   "ecdh_public_key": "$(cat "$K/vendor-ecdh.pem.pub.b64")",
   "signing_keys": [{"public_key": "$(cat "$K/vendor-sign.pem.pub.b64")", "revoked": false},
                    {"public_key": "$(cat "$K/rogue-sign.pem.pub.b64")", "revoked": false}],
   "models": ["$MODEL", "thermo-x2"]},
  {"id": "globex",
   "usernames": ["globex-deploy"],
   "ecdh_public_key": "$(cat "$K/globex-ecdh.pem.pub.b64")",
   "signing_keys": [{"public_key": "$(cat "$K/globex-sign.pem.pub.b64")", "revoked": false}]}
]}
JSON
}

# write_ops_conf [persist]: the CLI tests' plugin config + the admin
# identity; ordinary topics open (the barrier topic of devsim).
write_ops_conf() {
	write_conf plugin "${1:-}"
	sed -i 's/^plugin_opt_other_topics deny$/plugin_opt_other_topics allow/' "$CONF"
	echo "plugin_opt_admin_usernames $ADMIN,ops-admin2" >> "$CONF"
	grep -q '^plugin_opt_other_topics allow$' "$CONF" || exit 99
}

# ctl [-u USER] ARGS...: fwguard ctl against the test broker (admin by
# default); stdout+stderr in $T/ctl.out, exit code in CTL_RC.
ctl() {
	local user=$ADMIN
	if [ "${1:-}" = -u ]; then user=$2; shift 2; fi
	timeout 30 "$FWG" ctl -h 127.0.0.1 -p "$PORT" -u "$user" -P "$PASSWORD" "$@" > "$T/ctl.out" 2> "$T/ctl.err"
	CTL_RC=$?
	cat "$T/ctl.err" >> "$T/ctl.out"
}
# ctl_ok ARGS...: ctl as the admin must exit 0
ctl_ok() {
	ctl "$@"
	[ "$CTL_RC" = 0 ] || fail "fwguard ctl $* exited $CTL_RC: $(cat "$T/ctl.out")"
}
# json_get EXPR < json: python expression over the parsed object `d`
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# buckets PERCENT FIRST LAST: the devices dev<FIRST>..dev<LAST> inside a
# PERCENT rollout, one per line, computed here (not by the plugin):
# first 8 bytes of SHA-256("<vendor>/<model>/<device>"), big endian, mod 10000.
inside() {
	python3 - "$VENDOR" "$MODEL" "$@" <<'PY'
import hashlib, sys
v, m, pct, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
for i in range(a, b + 1):
    d = "dev%d" % i
    x = int.from_bytes(hashlib.sha256(("%s/%s/%s" % (v, m, d)).encode()).digest()[:8], "big") % 10000
    if x < pct * 100:
        print(d)
PY
}

# sim_start N [devsim options]: N simulated devices dev1..devN; waits for
# "ready" (every device connected and subscribed), 30 s at most.
sim_start() {
	local n=$1; shift
	SIM_OUT=$T/sim.out
	: > "$SIM_OUT"
	rm -f "$T/sim.in"; mkfifo "$T/sim.in" || return 1
	"$DEVSIM" -p "$PORT" -P "$PASSWORD" -v "$VENDOR" -m "$MODEL" -n "$n" --ping "$PING_TOPIC" \
		--timeout 280 "$@" < "$T/sim.in" > "$SIM_OUT" 2> "$T/sim.err" &
	SIM_PID=$!; BG_PIDS+=("$SIM_PID")
	exec 3> "$T/sim.in"
	poll 30 grep -q "^ready $n\$" "$SIM_OUT" || fail "devsim not ready: $(grep -v '^ping' "$SIM_OUT" | tail -5; cat "$T/sim.err")"
}
# sim_stop: "quit" on its stdin, bounded wait
sim_stop() {
	[ -n "$SIM_PID" ] || return 0
	echo quit >&3; exec 3>&-
	local i=0
	while kill -0 "$SIM_PID" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_PID=''
}
# sim_cmd LINE: a command to devsim
sim_cmd() { printf '%s\n' "$*" >&3; }
ping_count() { grep -c "^ping .* $1\$" "$SIM_OUT"; }
ping_count_is() { [ "$(ping_count "$1")" -eq "$2" ]; }
# barrier N: a message on the barrier topic reaches all N simulated devices;
# whatever the broker queued for a device before it has been delivered then
# (Mosquitto delivers to one client in order).
barrier() {
	BARRIER_N=$((BARRIER_N + 1))
	local tok="b$BARRIER_N"
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$ADMIN" -P "$PASSWORD" -q 1 -t "$PING_TOPIC" -m "$tok" ||
		fail "cannot publish the barrier" || return 1
	poll 20 ping_count_is "$tok" "$1" ||
		fail "barrier $tok reached $(ping_count "$tok") of $1 devices"
}
# got SEQ: devices that received manifest SEQ, sorted, unique
got() { awk -v s="$1" '$1 == "manifest" && $3 == s { print $2 }' "$SIM_OUT" | sort -u; }
got_chunk() { awk -v s="$1" '$1 == "chunk" && $3 == s { print $2 }' "$SIM_OUT" | sort -u; }
# sim_clean: no disconnects and no errors so far
sim_clean() {
	local bad
	bad=$(grep -E '^(disconnect|error) ' "$SIM_OUT" | head -5)
	[ -z "$bad" ] || fail "devsim: $bad"
}
# same_set A B: two files of names, compared sorted
same_set() {
	diff <(sort -u "$1") <(sort -u "$2") > "$T/diff.out" || fail "sets differ (< $1, > $2): $(head -20 "$T/diff.out" | tr '\n' ' ')"
}
