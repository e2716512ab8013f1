#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# The audit log cannot be written (disk full): with plugin_opt_audit_failure
# closed (the default) a new manifest is refused with audit_write_failed and
# the vendor's byte-identical re-publish goes through once the log is
# writable again; with open it is accepted and the broker logs the error.
. "$(dirname "$0")/fault_lib.sh"
fwg_init
fault_init fwguard.audit
write_trust_store
MT=$(mtopic)

c_start_closed() {
	write_conf "plugin_opt_other_topics allow"
	start_broker || fail "broker did not start: $(tail -5 "$LOG")" || return 1
	publish_manifest 1 || return 1
	start_capture all acme/thermo-x1/dev1 "$MT" "sync/all"
	wait_for_payload all "$MT" "$CUR_MANIFEST" 10
}
c_closed_refused() {
	M2=$T/m-2.json
	sign_manifest "$M2" 2 || fail "fwg-sign.sh failed" || return 1
	fault_on "write:ENOSPC"
	publish_tagged "$MT" "$M2"
	expect_not_authorized || return 1
	fault_hit write || return 1
	log_has "cannot append manifest.accepted to audit log \"$AUDIT\"" || return 1
	barrier all || return 1
	payload_absent all "$M2"
}
c_closed_republish() {
	fault_off
	audit_mark
	publish_tagged "$MT" "$M2"
	expect_accepted || return 1
	audit_has manifest.republished "" || return 1
	wait_for_payload all "$MT" "$M2" 10 || return 1
	[ "$(state_seq)" = 2 ] || fail "state holds sequence $(state_seq), not 2" || return 1
	publish_manifest 3 || return 1
	audit_has manifest.accepted - sequence=3 previous_sequence=2
}
c_open_accepted() {
	stop_broker TERM
	write_conf "plugin_opt_other_topics allow" "plugin_opt_audit_failure open"
	start_broker || fail "broker did not start: $(tail -5 "$LOG")" || return 1
	# shellcheck disable=SC2154  # set by start_capture
	stop_pid "$CAP_PID_all"
	start_capture all2 acme/thermo-x1/dev1 "$MT" "sync/all2"
	wait_for_payload all2 "$MT" "$CUR_MANIFEST" 10 || return 1
	M4=$T/m-4.json
	sign_manifest "$M4" 4 || fail "fwg-sign.sh failed" || return 1
	fault_on "write:ENOSPC"
	publish_tagged "$MT" "$M4"
	expect_accepted || return 1
	fault_hit write || return 1
	log_has "cannot append manifest.accepted to audit log \"$AUDIT\": No space left on device (audit_failure open: going on)" || return 1
	wait_for_payload all2 "$MT" "$M4" 10 || return 1
	[ "$(state_seq)" = 4 ] || fail "state holds sequence $(state_seq), not 4"
}
c_open_recovers() {
	fault_off
	audit_mark
	publish_manifest 5 || return 1
	audit_has manifest.accepted - sequence=5 previous_sequence=4
}
c_eio_denials() {
	# denials are refused whether or not their record can be written
	fault_on "write:EIO"
	publish_tagged "$MT" "$M4" "" acme-deploy "" "$KEY_ROGUE"
	expect_not_authorized || return 1
	fault_hit write || return 1
	fault_off
}

run_case "audit_failure closed (default): broker starts, sequence 1 accepted" c_start_closed
run_case "(c) closed: audit log full -> new manifest refused (0x87), error logged, nothing delivered" c_closed_refused
run_case "(c) closed: log writable again -> byte-identical re-publish goes through (manifest.republished)" c_closed_republish
run_case "(c) open: audit log full -> manifest accepted, delivered, error logged" c_open_accepted
run_case "(c) open: log writable again -> next manifest accepted, chain continues" c_open_recovers
run_case "(c) audit log I/O error: a forged tag is still refused" c_eio_denials
finish
