#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# The state file cannot be written (directory unwritable, disk full, I/O
# error): the manifest is refused with state_write_failed (audit record,
# PUBACK 0x87), nothing is delivered, and after a restart the sequence is
# the old one; once the fault is gone the same manifest is accepted.
. "$(dirname "$0")/fault_lib.sh"
fwg_init
fault_init fwguard.state
write_trust_store
write_conf "plugin_opt_other_topics allow"
MT=$(mtopic)

c_start() {
	start_broker || fail "broker did not start: $(tail -5 "$LOG")" || return 1
	publish_manifest 1 || return 1
	[ "$(state_seq)" = 1 ] || fail "state holds sequence $(state_seq), not 1"
}
# one_fault SPEC OP: the whole story for one kind of failure
one_fault() {
	local spec=$1 op=$2 old new f
	old=$(state_seq) new=$((SEQ + 1))
	f=$T/m-$new.json
	sign_manifest "$f" "$new" || fail "fwg-sign.sh failed" || return 1
	start_capture "all$new" acme-deploy "$PREFIX/acme/thermo-x1/#" "sync/all$new"
	barrier "all$new" || return 1
	fault_on "$spec"
	audit_mark
	publish_tagged "$MT" "$f"
	expect_not_authorized || return 1
	fault_hit "$op" || return 1
	audit_has manifest.rejected state_write_failed || return 1
	log_has "cannot write state file \"$STATE\"" || return 1
	barrier "all$new" || return 1
	payload_absent "all$new" "$f" || return 1
	[ ! -e "$STATE.tmp" ] || fail "$STATE.tmp left behind" || return 1
	[ "$(state_seq)" = "$old" ] || fail "state sequence $(state_seq) after the refusal, was $old" || return 1
	# restart with the fault still on: the old state, the old retained manifest
	stop_broker TERM
	start_broker || fail "broker did not restart: $(tail -5 "$LOG")" || return 1
	[ "$(state_seq)" = "$old" ] || fail "state sequence $(state_seq) after restart, was $old" || return 1
	[ "$(retained_manifest)" = "$(cat "$CUR_MANIFEST")" ] || fail "retained manifest after restart is not sequence $old" || return 1
	# healthy again: the same manifest is new to fwguard
	fault_off
	audit_mark
	publish_tagged "$MT" "$f"
	expect_accepted || return 1
	audit_has manifest.accepted - sequence="$new" previous_sequence="$old" || return 1
	[ "$(state_seq)" = "$new" ] || fail "state sequence $(state_seq) after the accepted retry, not $new" || return 1
	[ "$(retained_manifest)" = "$(cat "$f")" ] || fail "sequence $new is not the retained manifest" || return 1
	SEQ=$new CUR_MANIFEST=$f
}

# (c) The chunk that completes an image does not wait for the disk: with
# every fsync of the state file failing, the image still completes (the
# audit record, no warning) and the shim sees no fsync; the completion is
# written with the next save (here the clean shutdown, once healthy). A
# manifest under the same fault is refused: the shim was armed.
c_complete_no_fsync() {
	local i f
	publish_manifest $((SEQ + 1)) || return 1
	fault_on "fsync:EIO"
	audit_mark
	for i in 0 1 2; do
		f=$T/chunk-$SEQ-$i.bin
		chunk_file "$SEQ" "$i" "$f"
		publish_tagged "$(ctopic "$SEQ" "$i")" "$f"
		expect_accepted || return 1
	done
	audit_has image.complete "" sequence="$SEQ" nchunks=3 || return 1
	if grep -q "^fsync" "$T/fault.log" 2>/dev/null; then
		fail "completing the image called fsync on the state file: $(head -c 300 "$T/fault.log")" || return 1
	fi
	if cat "$LOG" "$T/broker.out" 2>/dev/null | grep -qF "cannot record image completion"; then
		fail "completion logged a state write failure" || return 1
	fi
	[ "$(state_complete)" = False ] || fail "the state file already says complete (written on the chunk path)" || return 1
	local f2=$T/m-$((SEQ + 1)).json
	sign_manifest "$f2" $((SEQ + 1)) || fail "fwg-sign.sh failed" || return 1
	publish_tagged "$(mtopic)" "$f2"
	expect_not_authorized || return 1
	fault_hit fsync || return 1
	fault_off
	stop_broker TERM
	[ "$(state_complete)" = True ] || fail "the clean shutdown did not record the completion" || return 1
	start_broker || fail "broker did not restart: $(tail -5 "$LOG")" || return 1
}
# state_complete: the "complete" flag of thermo-x1 in the state file
state_complete() { state_field complete; }

run_case "broker with the fault shim starts, sequence 1 accepted" c_start
run_case "(c) the chunk completing an image calls no fsync; the completion is saved at shutdown" c_complete_no_fsync
run_case "(a) directory unwritable (open EACCES) -> state_write_failed, 0x87, nothing delivered, restart keeps the sequence" one_fault "open:EACCES rename:EACCES" open
run_case "(a) rename refused (EACCES) -> state_write_failed, no temp file left" one_fault "rename:EACCES" rename
run_case "(b) disk full on write (ENOSPC) -> state_write_failed" one_fault "write:ENOSPC" write
run_case "(b) disk full on fsync (ENOSPC) -> state_write_failed" one_fault "fsync:ENOSPC" fsync
run_case "(b) I/O error on fsync (EIO) -> state_write_failed" one_fault "fsync:EIO" fsync
finish
