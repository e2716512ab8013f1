#!/bin/bash
# Resume: a device agent killed (SIGKILL) mid-download and restarted fetches
# only the chunks it lacked, and installs. Also measures the publish
# throughput of a 16 MiB image in 64 KiB chunks.
. "$(dirname "$0")/lib.sh"
cli_init
add_devices 1
write_trust_store
write_conf plugin
start_broker || exit 99
MIB=${FWG_RESUME_MIB:-16}
head -c $((MIB * 1048576)) /dev/urandom > "$T/img"
NCH=$((MIB * 16))

t_publish() {
	sign "$T/img" 1 "$T/m1.json" --chunk-size 65536 || fail "sign failed" || return 1
	publish "$T/m1.json" "$T/img" --window 32
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")" || return 1
	note "$(grep '^published acme' "$T/publish.out")"
}
t_kill_resume() {
	device_cmd dev1 --max-rate 2000000 --window 8
	"${DEV[@]}" > "$T/agent1.out" 2>&1 &
	local pid=$!
	BG_PIDS+=("$pid")
	poll 60 bitmap_ge dev1 40 || fail "the agent did not fetch 40 chunks in 60 s: $(cat "$T/agent1.out")" || return 1
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	local have; have=$(popcount "$T/dev1/state/staging.bitmap")
	note "killed with $have of $NCH chunks in the bitmap"
	[ "$have" -lt "$NCH" ] || fail "the download was complete before the kill" || return 1
	[ ! -e "$T/dev1/firmware.bin" ] || fail "installed before the kill" || return 1
	device_cmd dev1 --once --timeout 120
	timeout 180 "${DEV[@]}" > "$T/agent2.out" 2>&1
	local rc=$?
	[ "$rc" = 0 ] || fail "restarted agent exit $rc: $(tail -c 800 "$T/agent2.out")" || return 1
	note "$(grep -E '^(resuming|installed)' "$T/agent2.out" | tr '\n' ' ')"
	grep -qx "resuming sequence 1: $have of $NCH chunks present, fetching $((NCH - have))" "$T/agent2.out" \
		|| fail "no resume line for $have chunks: $(cat "$T/agent2.out")" || return 1
	grep -qx "installed sequence 1 (version 1.0.1): fetched $((NCH - have)) of $NCH chunks ($have were already present)" \
		"$T/agent2.out" || fail "fetched count is not $((NCH - have)): $(cat "$T/agent2.out")" || return 1
	cmp -s "$T/img" "$T/dev1/firmware.bin" || fail "the installed image differs"
}
t_status() { poll 10 statuses_installed 1 dev1 > /dev/null || fail "$(statuses_installed 1 dev1)"; }

run_case "publish a ${MIB} MiB image in 64 KiB chunks" t_publish
run_case "an agent killed mid-download resumes and fetches only the missing chunks" t_kill_resume
run_case "the agent reported installed" t_status
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
