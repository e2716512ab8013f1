#!/bin/bash
# A broker restarted cleanly (SIGTERM, persistence on) in the middle of a
# rollout: the agents reconnect with backoff, get the retained manifest and
# chunks from the restored store, fetch only what they lack, and install.
. "$(dirname "$0")/lib.sh"
N=${FWG_RESTART_DEVICES:-5}
MIB=${FWG_RESTART_MIB:-16}
cli_init
add_devices "$N"
write_trust_store
write_conf plugin persist
start_broker || exit 99
head -c $((MIB * 1048576)) /dev/urandom > "$T/img"
NCH=$((MIB * 16))
PIDS=()

t_publish() {
	sign "$T/img" 1 "$T/m1.json" --chunk-size 65536 || fail "sign failed" || return 1
	publish "$T/m1.json" "$T/img" --window 32
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")"
}
all_started() { local i; for i in $(seq 1 "$N"); do bitmap_ge "dev$i" 16 || return 1; done; }
t_restart_mid_rollout() {
	local i
	for i in $(seq 1 "$N"); do
		device_cmd "dev$i" --once --timeout 300 --max-backoff 1 --max-rate 3000000 --window 8
		"${DEV[@]}" > "$T/dev$i.out" 2>&1 &
		PIDS+=($!); BG_PIDS+=($!)
	done
	poll 60 all_started || fail "agents did not start downloading" || return 1
	local before=0
	for i in $(seq 1 "$N"); do before=$((before + $(popcount "$T/dev$i/state/staging.bitmap"))); done
	stop_broker
	note "broker stopped with $before of $((N * NCH)) chunks fetched in total"
	[ "$before" -lt $((N * NCH)) ] || fail "the rollout was over before the restart" || return 1
	start_broker || fail "broker did not restart" || return 1
	local rc bad=''
	for i in $(seq 1 "$N"); do
		wait "${PIDS[$((i - 1))]}"; rc=$?
		[ "$rc" = 0 ] || bad="$bad dev$i(exit $rc: $(tail -n 3 "$T/dev$i.out" | tr '\n' ' '))"
	done
	BG_PIDS=()
	[ -z "$bad" ] || fail "agents failed:$bad" || return 1
	grep -q "connection lost" "$T/dev1.out" || fail "dev1 did not notice the restart: $(cat "$T/dev1.out")"
}
t_identical() {
	local i bad=''
	for i in $(seq 1 "$N"); do cmp -s "$T/img" "$T/dev$i/firmware.bin" || bad="$bad dev$i"; done
	[ -z "$bad" ] || fail "images differ:$bad"
}
t_status() {
	local devs=() i
	for i in $(seq 1 "$N"); do devs+=("dev$i"); done
	poll 10 statuses_installed 1 "${devs[@]}" > /dev/null || fail "$(statuses_installed 1 "${devs[@]}")"
}

run_case "publish a ${MIB} MiB image (persistence on)" t_publish
run_case "broker restarted mid-rollout: all $N agents finish" t_restart_mid_rollout
run_case "every installed image is byte-identical" t_identical
run_case "every agent reported installed" t_status
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
