#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# Will messages on firmware and status topics (PROTOCOL §6).
. "$(dirname "$0")/lib.sh"
fwg_init
if ! std_setup "plugin_opt_other_topics allow" "plugin_opt_deny_log_burst 1000"; then
	not_ok "broker with the plugin starts and takes a first manifest" "$(tail -5 "$LOG" 2>/dev/null)"
	finish
fi
ok "broker with the plugin starts and takes a first manifest"
B=$PREFIX/acme/thermo-x1
printf 'here' > "$T/here.txt"
mqtt_pub mallory will-setup-$$ "probe/will" "$T/here.txt" -V 5 -q 1 -r

# will_client USER WILL_TOPIC PAYLOAD_FILE: connect with a Will (QoS 1), wait
# until connected (it reads the retained probe/will), then SIGKILL it (its PID).
# Sets WILL_CONNECTED=1 when it was connected, 0 when the broker refused it.
will_client() {
	local user=$1 topic=$2 file=$3 out=$T/will-$RANDOM.out pid
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$user" -P "$PASSWORD" -i "will-$RANDOM-$$" -V 5 \
		-t probe/will --will-topic "$topic" --will-payload "$(cat "$file")" --will-qos 1 > "$out" 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	wait_connected() { [ -s "$out" ] || ! kill -0 "$pid" 2>/dev/null; }
	poll 10 wait_connected || { stop_pid "$pid"; fail "will client neither connected nor exited"; return 1; }
	if grep -q '^here$' "$out"; then
		WILL_CONNECTED=1
		kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	else
		WILL_CONNECTED=0
		note "will client refused at connect: $(head -c 200 "$out")"
		wait "$pid" 2>/dev/null
	fi
	stop_pid "$pid"
}
# hostile_will EVENT REASON USER TOPIC PAYLOAD
hostile_will() {
	local ev=$1 reason=$2 user=$3 topic=$4 file=$5
	audit_mark
	will_client "$user" "$topic" "$file" || return 1
	audit_wait 10 "$ev" "$reason" || return 1
	broker_alive || return 1
	probe "$file"
}
c_intruder_manifest() {
	local f=$T/w1.json; sign_manifest "$f" $((SEQ + 1)) || return 1
	hostile_will manifest.rejected not_vendor_identity mallory "$(mtopic)" "$f"
}
c_intruder_chunk() {
	head -c 1024 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 1024 > "$T/w2.bin"
	hostile_will chunk.rejected not_vendor_identity mallory "$(ctopic "$SEQ" 0)" "$T/w2.bin"
}
c_device_manifest() {
	local f=$T/w3.json; sign_manifest "$f" $((SEQ + 1)) || return 1
	hostile_will manifest.rejected not_vendor_identity acme/thermo-x1/dev1 "$(mtopic)" "$f"
}
c_vendor_old() {
	local f=$T/w4.json; sign_manifest "$f" $((SEQ - 1)) || return 1
	hostile_will manifest.rejected sequence_not_newer acme-deploy "$(mtopic)" "$f"
}
c_vendor_unsigned() {
	local f g=$T/w5.json; f=$T/w5src.json; sign_manifest "$f" $((SEQ + 1)) || return 1
	sed 's/"version":"[^"]*"/"version":"6.6.6"/' "$f" > "$g"
	hostile_will manifest.rejected signature_invalid acme-deploy "$(mtopic)" "$g"
}
c_status_will() {
	printf '{"state":"failed","sequence":1,"error":"gone"}' > "$T/w6.json"
	hostile_will publish.denied will_refused acme/thermo-x1/dev1 "$B/status/dev1" "$T/w6.json"
}
c_events_will() {
	printf '{"event":"fake-will"}' > "$T/w7.json"
	hostile_will publish.denied topic_reserved acme-deploy "$B/events" "$T/w7.json"
}
c_vendor_valid_will() {
	# the vendor's own authentic, policy-passing manifest as its Will is accepted
	# without a tag (PROTOCOL §6: authentic content), recorded with route "will"
	local f=$T/w8.json; sign_manifest "$f" $((SEQ + 1)) || return 1
	audit_mark
	will_client acme-deploy "$(mtopic)" "$f" || return 1
	[ "$WILL_CONNECTED" = 1 ] || fail "vendor with a valid manifest Will was refused at connect" || return 1
	audit_wait 10 manifest.accepted - sequence=$((SEQ + 1)) route=will || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
	wait_for_payload dev "$(mtopic)" "$f" 10 || return 1
	probe
}

run_case "intruder's Will on a manifest topic -> not_vendor_identity, not delivered" c_intruder_manifest
run_case "intruder's Will on a chunk topic -> not_vendor_identity, not delivered" c_intruder_chunk
run_case "device's Will on its manifest topic -> not_vendor_identity" c_device_manifest
run_case "vendor's own Will with an old sequence -> sequence_not_newer" c_vendor_old
run_case "vendor's own Will with an edited manifest -> signature_invalid" c_vendor_unsigned
run_case "Will on a status topic -> will_refused" c_status_will
run_case "Will on the events topic -> topic_reserved" c_events_will
run_case "vendor's own valid manifest as Will: accepted, route will" c_vendor_valid_will
finish
