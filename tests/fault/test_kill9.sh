#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# kill -9 at random moments of a rollout, repeatedly: the vendor publishes
# ever higher sequences and their chunks in the background; the broker is
# SIGKILLed after a random delay and restarted. After each kill the state
# must hold a sequence >= every sequence whose PUBACK said success, never
# lower than before; the broker must start again (no corrupt state) and the
# audit chain must verify (a torn last line is cut: audit.repaired, counted).
# Bounded: KILL9_ITER iterations (25) or KILL9_BUDGET seconds (100),
# whichever comes first; at least 20 iterations are required.
. "$(dirname "$0")/fault_lib.sh"
fwg_init
write_trust_store
write_conf "plugin_opt_other_topics allow"
MT=$(mtopic)
ITER_MAX=${KILL9_ITER:-25} BUDGET=${KILL9_BUDGET:-100} ITER_MIN=20
mkdir -p "$T/k"
for i in 0 1 2; do chunk_file 0 "$i" "$T/k/c$i.bin"; done   # $IMG is 2600 bytes: 3 chunks of 1024
echo 1 > "$T/next_seq"
: > "$T/acked"; : > "$T/chunks_acked"

# the vendor, in a background subshell, until $T/stop exists
publisher() {
	trap - EXIT INT TERM
	local seq f i
	while [ ! -e "$T/stop" ]; do
		seq=$(cat "$T/next_seq"); echo $((seq + 1)) > "$T/next_seq"
		f=$T/k/m-$seq.json
		sign_manifest "$f" "$seq" 2>/dev/null || exit 1
		[ ! -e "$T/stop" ] || break
		publish_tagged "$MT" "$f"
		if [ "$LAST_RC" -ne 0 ] || grep -q failed "$LAST_ERR"; then
			sleep 0.05; continue   # broker gone or restarting
		fi
		echo "$seq" >> "$T/acked"
		for i in 0 1 2; do
			[ ! -e "$T/stop" ] || break
			publish_tagged "$(ctopic "$seq" "$i")" "$T/k/c$i.bin"
			if [ "$LAST_RC" -eq 0 ] && ! grep -q failed "$LAST_ERR"; then echo "$seq/$i" >> "$T/chunks_acked"; fi
		done
	done
}
# stop_publisher: ask it to stop, wait (bounded), then end it and its children
stop_publisher() {
	touch "$T/stop"
	poll 30 eval '! kill -0 "$PUB_PID" 2>/dev/null' && { wait "$PUB_PID" 2>/dev/null; stop_pid "$PUB_PID"; return 0; }
	local c
	for c in $(ps -o pid= --ppid "$PUB_PID"); do kill "$c" 2>/dev/null; done
	stop_pid "$PUB_PID"
}
max_of() { sort -n "$1" | tail -n 1; }
audit_repairs() { grep -c '"event":"audit.repaired"' "$AUDIT" 2>/dev/null || true; }

ITER=0 REPAIRS=0 PREV=0 ABOVE=0
E_ACK='' E_LOWER='' E_START='' E_CHAIN='' E_PARSE=''
loop() {
	local t0=$SECONDS s s2 acked r0 r1 delay
	start_broker || fail "broker did not start" || return 1
	while [ "$ITER" -lt "$ITER_MAX" ] && [ $((SECONDS - t0)) -lt "$BUDGET" ]; do
		ITER=$((ITER + 1))
		rm -f "$T/stop"
		publisher &
		PUB_PID=$!; BG_PIDS+=("$PUB_PID")
		delay=$((RANDOM % 180 + 20))   # 0.20 .. 1.99 s: the point of the test
		sleep "$((delay / 100)).$(printf '%02d' $((delay % 100)))"
		stop_broker KILL
		stop_publisher
		if ! s=$(state_seq 2>"$T/parse.err"); then
			E_PARSE=${E_PARSE:-"iteration $ITER: state file unreadable after kill -9: $(head -c 300 "$T/parse.err")"}
			s=0
		fi
		acked=$(max_of "$T/acked"); acked=${acked:-0}
		[ "$s" -ge "$acked" ] || E_ACK=${E_ACK:-"iteration $ITER: state sequence $s < acknowledged $acked"}
		[ "$s" -ge "$PREV" ] || E_LOWER=${E_LOWER:-"iteration $ITER: state sequence $s < $PREV before"}
		[ "$s" -le "$acked" ] || ABOVE=$((ABOVE + 1))   # committed, PUBACK lost in the kill
		r0=$(audit_repairs)
		if ! start_broker 2>"$T/start.err"; then
			E_START=${E_START:-"iteration $ITER: broker did not restart: $(tail -3 "$LOG")"}
			break
		fi
		r1=$(audit_repairs)
		[ "$r1" -le "$r0" ] || REPAIRS=$((REPAIRS + r1 - r0))
		s2=$(state_seq)
		[ "$s2" = "$s" ] || E_LOWER=${E_LOWER:-"iteration $ITER: restart changed the state sequence $s -> $s2"}
		audit_chain_ok || E_CHAIN=${E_CHAIN:-"iteration $ITER: $FAIL_MSG"}
		PREV=$s
	done
	note "kill -9 loop: $ITER iteration(s) in $((SECONDS - t0)) s; manifests acknowledged: $(wc -l < "$T/acked"),"\
" chunks acknowledged: $(wc -l < "$T/chunks_acked"); highest acknowledged sequence $(max_of "$T/acked"),"\
" state sequence $PREV; kills after commit before PUBACK: $ABOVE; audit.repaired: $REPAIRS"
}
c_iterations() {
	[ "$ITER" -ge "$ITER_MIN" ] || fail "only $ITER iteration(s) within ${BUDGET} s" || return 1
	[ "$(wc -l < "$T/acked")" -ge "$ITER_MIN" ] || fail "only $(wc -l < "$T/acked") manifest(s) acknowledged: the rollout did not run"
}
c_none() { [ -z "$1" ] || fail "$1"; }
c_after() {
	# the broker still works: the next sequence is accepted on top
	local s; s=$(state_seq)
	audit_mark
	publish_manifest $((s + 1)) || return 1
	audit_has manifest.accepted - sequence=$((s + 1)) previous_sequence="$s"
}

run_case "rollout with kill -9 at random delays, restarted each time" loop
run_case "(e) at least $ITER_MIN kills, manifests acknowledged in between" c_iterations
run_case "(e) state file readable after every kill" c_none "$E_PARSE"
run_case "(e) state sequence >= every acknowledged sequence after every kill" c_none "$E_ACK"
run_case "(e) state sequence never lower than before" c_none "$E_LOWER"
run_case "(e) broker restarts after every kill (no corrupt state)" c_none "$E_START"
run_case "(e) audit chain verifies after every restart" c_none "$E_CHAIN"
run_case "after the loop: the next sequence is accepted" c_after
finish
