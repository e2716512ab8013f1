#!/bin/bash
# A 16 MiB random image in 64 KiB chunks reaches 20 concurrent device
# agents through the broker with the plugin: every installed image is
# byte-identical and every agent reported "installed".
. "$(dirname "$0")/lib.sh"
N=${FWG_ROLLOUT_DEVICES:-20}
MIB=${FWG_ROLLOUT_MIB:-16}
cli_init
add_devices "$N"
write_trust_store
write_conf plugin
start_broker || exit 99
head -c $((MIB * 1048576)) /dev/urandom > "$T/img"
PIDS=()

t_agents_up() {
	local i
	for i in $(seq 1 "$N"); do
		device_cmd "dev$i" --once --timeout 400 --window 16
		"${DEV[@]}" > "$T/dev$i.out" 2>&1 &
		PIDS+=($!); BG_PIDS+=($!)
	done
	poll 30 clients_connected_ge "$N" || fail "only $(grep -c 'as fwgdev/' "$LOG") of $N agents connected"
}
t_publish() {
	sign "$T/img" 1 "$T/m1.json" --chunk-size 65536 || fail "sign failed" || return 1
	publish "$T/m1.json" "$T/img" --window 32
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")" || return 1
	note "$(grep '^published acme' "$T/publish.out") (while $N agents download)"
}
t_all_installed() {
	local i rc bad=''
	for i in $(seq 1 "$N"); do
		wait "${PIDS[$((i - 1))]}"; rc=$?
		[ "$rc" = 0 ] || bad="$bad dev$i(exit $rc: $(tail -n 2 "$T/dev$i.out" | tr '\n' ' '))"
	done
	BG_PIDS=()
	[ -z "$bad" ] || fail "agents failed:$bad"
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

T0=$(date +%s.%N)
run_case "$N device agents connect and wait" t_agents_up
run_case "publish a ${MIB} MiB image in 64 KiB chunks" t_publish
run_case "all $N agents install (exit 0)" t_all_installed
note "rollout took $(python3 -c "import sys; print(round($(date +%s.%N) - $T0, 2))") s"
run_case "every installed image is byte-identical to the published one" t_identical
run_case "every agent reported installed (seen in the broker's audit log)" t_status
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
