# shellcheck shell=bash
# Common part of the fault tests: tests/integration/lib.sh plus the fault
# injection shim (fwg_fault.c) preloaded into the broker.
#   FWG_FAULT_SHIM  path of fwg_fault.so (set by meson)
# shellcheck source=../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
FWG_FAULT_SHIM=${FWG_FAULT_SHIM:-}

# fault_init MATCH: the broker gets the shim, failing calls on paths that
# contain MATCH while $T/fault.on exists
fault_init() {
	[ -f "$FWG_FAULT_SHIM" ] || { echo "no fault shim ($FWG_FAULT_SHIM)" >&2; exit 99; }
	# shellcheck disable=SC2034  # read by lib.sh broker_cmd
	FWG_PRELOAD_EXTRA=$FWG_FAULT_SHIM
	export FWG_FAULT_MATCH=$1 FWG_FAULT_TRIGGER=$T/fault.on FWG_FAULT_LOG=$T/fault.log
}
# fault_on OP:ERRNO...: from now on these calls fail; fault_off: healthy again
fault_on() { echo "$*" > "$T/fault.on.tmp" && mv "$T/fault.on.tmp" "$T/fault.on"; : > "$T/fault.log"; }
fault_off() { rm -f "$T/fault.on"; }
# fault_hit OP: the shim did fail a call of OP since fault_on
fault_hit() { grep -q "^$1" "$T/fault.log" 2>/dev/null || fail "the shim failed no $1 call (fault log: $(head -c 300 "$T/fault.log" 2>/dev/null))"; }

# expect_not_authorized: the PUBACK carried 0x87 (mosquitto_pub prints
# "Publish N failed: Not authorized." for reason code 135, nothing else)
expect_not_authorized() {
	grep -q 'failed: Not authorized' "$LAST_ERR" \
		|| fail "publish not refused with PUBACK 0x87 (rc $LAST_RC, stderr: $(head -c 300 "$LAST_ERR"))"
}
# state_field FIELD [VENDOR/MODEL]: a field of that model's entry in the
# state file, as Python prints it (0: no entry / no file)
state_field() {
	python3 - "$STATE" "$1" "${2:-acme/thermo-x1}" <<'PY'
import json, os, sys
path, field, key = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.exists(path):
    print(0); sys.exit(0)
with open(path) as f:
    doc = json.load(f)
for m in doc["models"]:
    if m["vendor"] + "/" + m["model"] == key:
        print(m[field]); break
else:
    print(0)
PY
}
# state_seq [VENDOR/MODEL]: the sequence the state file holds (0: no entry / no file)
state_seq() { state_field sequence "$@"; }
# retained_manifest: the retained manifest of thermo-x1 as device dev1 gets it
retained_manifest() {
	timeout $((10 * FWG_TIME_SCALE)) mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" \
		-V 5 -t "$(mtopic)" -C 1 -W $((5 * FWG_TIME_SCALE)) -N 2>/dev/null
}
# log_has PATTERN: the broker log (file and stderr) has a line with this fixed string
log_has() {
	cat "$LOG" "$T/broker.out" 2>/dev/null | grep -qF -- "$1" || fail "no broker log line with: $1"
}
# barrier CAP: publish an ordinary message and wait until capture CAP has
# it; everything the broker delivered to CAP before is then in the capture
# (needs plugin_opt_other_topics allow and CAP subscribed to sync/CAP). A
# capture just started may not be subscribed yet: the message is published
# again (up to 10 times) until it arrives.
BARRIER_N=0
barrier() {
	local try=0 hx
	BARRIER_N=$((BARRIER_N + 1))
	printf 'barrier %s' "$BARRIER_N" > "$T/barrier-$BARRIER_N"
	hx=$(hex_of "$T/barrier-$BARRIER_N")
	while [ "$try" -lt 10 ]; do
		try=$((try + 1))
		next_cid bar
		mqtt_pub acme-deploy "$CID" "sync/$1" "$T/barrier-$BARRIER_N" -q 1
		[ "$LAST_RC" -eq 0 ] || fail "barrier publish failed: $(head -c 200 "$LAST_ERR")" || return 1
		poll 1 cap_has_line "$1" "sync/$1" "$hx" && return 0
	done
	fail "barrier message on sync/$1 not delivered to capture $1 in 10 tries"
}
