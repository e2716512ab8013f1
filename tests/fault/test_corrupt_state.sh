#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# A damaged state file (garbage, truncated, empty, a sequence that disagrees
# with its manifest) stops the broker at start with a `fwguard:` line naming
# the file; it is never silently reset (the file is left as it was).
. "$(dirname "$0")/fault_lib.sh"
fwg_init
write_trust_store
write_conf

c_good_state() {
	start_broker || fail "broker did not start: $(tail -5 "$LOG")" || return 1
	publish_manifest 1 || return 1
	publish_manifest 2 || return 1
	chunk_file 2 0 "$T/c0.bin"
	publish_tagged "$(ctopic 2 0)" "$T/c0.bin"; expect_accepted || return 1
	stop_broker TERM
	[ "$(state_seq)" = 2 ] || fail "state holds sequence $(state_seq), not 2" || return 1
	cp "$STATE" "$T/good.state"
}
# refused NAME: the broker must refuse $STATE as it is now
refused() {
	local before after n0
	before=$(sha256sum < "$STATE")
	n0=$(audit_lines)
	if start_broker 2>/dev/null; then
		stop_broker TERM
		fail "the broker started with the $1 state file"
		return 1
	fi
	[ -n "$BROKER_RC" ] && [ "$BROKER_RC" -ne 0 ] || fail "broker exit status '$BROKER_RC', not non-zero" || return 1
	grep -E "fwguard: state file \"$STATE\" is corrupt: .+ \(refusing to start with a reset state\)" "$LOG" "$T/broker.out" \
		| tail -1 > "$T/why.txt"
	[ -s "$T/why.txt" ] || fail "no fwguard: line naming $STATE: $(grep fwguard: "$LOG" | tail -3)" || return 1
	note "$1: $(cut -d: -f2- "$T/why.txt" | cut -c1-200)"
	after=$(sha256sum < "$STATE")
	[ "$before" = "$after" ] || fail "the $1 state file was rewritten at start" || return 1
	[ ! -e "$STATE.tmp" ] || fail "a temporary state file was written" || return 1
	[ "$(audit_lines)" = "$n0" ] || fail "the refused start wrote audit records"
}
c_garbage() { head -c 700 /dev/urandom > "$STATE"; refused garbage; }
c_garbage_json() { printf '{"hello": "world"}\n' > "$STATE"; refused "foreign JSON"; }
c_truncated() {
	local n; n=$(stat -c %s "$T/good.state")
	head -c $((n / 2)) "$T/good.state" > "$STATE"
	refused truncated
}
c_empty() { : > "$STATE"; refused empty; }
edit_seq() {
	python3 - "$T/good.state" "$STATE" "$1" <<'PY'
import json, sys
src, dst, delta = sys.argv[1], sys.argv[2], int(sys.argv[3])
doc = json.load(open(src))
doc["models"][0]["sequence"] += delta
open(dst, "w").write(json.dumps(doc, separators=(",", ":")) + "\n")
PY
}
c_seq_up() { edit_seq 1 && refused "sequence edited up"; }
c_seq_down() { edit_seq -1 && refused "sequence edited down"; }
c_good_again() {
	# the harness can tell a good file from a bad one: the original starts
	cp "$T/good.state" "$STATE"
	audit_mark
	start_broker || fail "broker did not start with the good state: $(tail -5 "$LOG")" || return 1
	audit_has plugin.started "" || return 1
	[ "$(state_seq)" = 2 ] || fail "state holds sequence $(state_seq), not 2"
}
c_missing_is_empty() {
	# a missing file is a first start (documented), not an error
	stop_broker TERM
	mv "$STATE" "$T/moved.state"
	start_broker || fail "broker did not start without a state file" || return 1
	stop_broker TERM
	mv "$T/moved.state" "$STATE"
}

run_case "a good state (sequence 2, one chunk seen)" c_good_state
run_case "(d) garbage state file -> broker refuses to start, names the file" c_garbage
run_case "(d) JSON that is not a state file -> refused" c_garbage_json
run_case "(d) truncated state file (half) -> refused" c_truncated
run_case "(d) empty state file -> refused" c_empty
run_case "(d) sequence edited up (disagrees with the manifest) -> refused" c_seq_up
run_case "(d) sequence edited down -> refused" c_seq_down
run_case "the untouched file still starts the broker" c_good_again
run_case "a missing state file is an empty state" c_missing_is_empty
finish
