#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# kill -9 and restart never lower a sequence (PROTOCOL §6).
. "$(dirname "$0")/lib.sh"
fwg_init
PERSIST=1
write_trust_store
write_conf "plugin_opt_other_topics allow"
MT=$(mtopic)
pubm() { local f=$T/r-$1-$2.json; VERSION=${3:-1.0.$1} sign_manifest "$f" "$1" || return 1; publish_tagged "$MT" "$f"; RF=$f; }

c_start() { start_broker || fail "broker did not start: $(tail -5 "$LOG")"; }
c_seq5() {
	audit_mark
	pubm 5 a; expect_accepted || return 1
	M5=$RF
	audit_has manifest.accepted - sequence=5 route=publish || return 1
	[ -s "$STATE" ] || fail "no state file after an accepted manifest"
}
c_kill9() {
	local old=$BROKER_PID
	stop_broker KILL
	! kill -0 "$old" 2>/dev/null || fail "broker survived kill -9" || return 1
	start_broker || fail "broker did not restart: $(tail -5 "$LOG")"
}
c_seq4() {
	audit_mark
	pubm 4 b; expect_denied || return 1
	audit_has manifest.rejected sequence_not_newer sequence=4 || audit_has manifest.rejected sequence_not_newer
}
c_seq5_other() {
	audit_mark
	pubm 5 c 5.0.0-other; expect_denied || return 1
	audit_has manifest.rejected sequence_not_newer
}
c_seq5_same() {
	audit_mark
	publish_tagged "$MT" "$M5" $(($(date +%s) - 3)); expect_accepted || return 1
	audit_has manifest.republished "" || return 1
	local out
	out=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" -V 5 -t "$MT" -C 1 -W 5 -N 2>/dev/null)
	[ "$out" = "$(cat "$M5")" ] || fail "retained manifest after the re-publish is not sequence 5"
}
c_seq6() {
	audit_mark
	pubm 6 d; expect_accepted || return 1
	audit_has manifest.accepted - sequence=6
}
c_chunks_after_restart() {
	# the accepted manifest itself is kept: chunks are checked after a restart
	stop_broker KILL
	start_broker || fail "broker did not restart" || return 1
	audit_mark
	chunk_file 6 0 "$T/c0.bin"
	publish_tagged "$(ctopic 6 0)" "$T/c0.bin"; expect_accepted || return 1
	head -c 1024 /dev/urandom > "$T/cbad.bin"
	publish_tagged "$(ctopic 6 1)" "$T/cbad.bin"; expect_denied || return 1
	audit_has chunk.rejected chunk_digest_mismatch
}
c_term_restart_nopersist() {
	stop_broker TERM
	PERSIST=0 write_conf "plugin_opt_other_topics allow"
	start_broker || fail "broker did not restart" || return 1
	audit_mark
	pubm 6 e 6.0.0-again; expect_denied || return 1
	audit_has manifest.rejected sequence_not_newer || return 1
	pubm 7 f; expect_accepted
}
c_torn_audit() {
	# a torn last audit line is cut off at start, with an audit.repaired record
	stop_broker KILL
	printf '{"ts":"2026-01-01T00:00:00.000Z","event":"torn' >> "$AUDIT"
	start_broker || fail "broker did not restart" || return 1
	audit_mark
	poll 10 audit_chain_ok || return 1
	grep -q '"event":"audit.repaired"' "$AUDIT" || fail "no audit.repaired record"
}

run_case "broker starts with persistence" c_start
run_case "sequence 5 accepted and stored" c_seq5
run_case "kill -9 and restart" c_kill9
run_case "after restart: sequence 4 -> sequence_not_newer" c_seq4
run_case "after restart: other content with sequence 5 -> sequence_not_newer" c_seq5_other
run_case "after restart: identical sequence 5 -> manifest.republished, retained again" c_seq5_same
run_case "after restart: sequence 6 accepted" c_seq6
run_case "after kill -9: chunks still checked against the stored manifest" c_chunks_after_restart
run_case "clean restart without persistence: sequence 6 refused, 7 accepted" c_term_restart_nopersist
run_case "torn audit line repaired at start, chain intact" c_torn_audit
finish
