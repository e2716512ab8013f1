#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# Who may read and write what under fw/ (PROTOCOL §4, §7).
. "$(dirname "$0")/lib.sh"
fwg_init
if ! std_setup "plugin_opt_other_topics allow" "plugin_opt_deny_log_burst 1000"; then
	not_ok "broker with the plugin starts and takes a first manifest" "$(tail -5 "$LOG" 2>/dev/null)"
	finish
fi
ok "broker with the plugin starts and takes a first manifest"
B=$PREFIX/acme/thermo-x1
N=0
hfile() { N=$((N + 1)); HF=$T/ha-$N.json; printf '%s' "$1" > "$HF"; }

# a second model's manifest, retained: what a nosy device would read
X2=$T/x2.json
MODEL=thermo-x2 sign_manifest "$X2" 1001 && publish_tagged "$(mtopic thermo-x2)" "$X2"

# denied_sub NAME USER DENIED_TOPIC: subscribe to DENIED_TOPIC and to the own
# manifest in one client; the denial is audited, two later manifests arrive,
# nothing from DENIED_TOPIC does.
denied_sub() {
	local name=$1 user=$2 topic=$3
	audit_mark
	start_capture "$name" "$user" "$topic" "$(mtopic)"
	audit_wait 10 subscribe.denied "" topic="$topic" || return 1
	broker_alive || return 1
	if [ "${user#acme/thermo-x1/}" != "$user" ]; then
		wait_for_payload "$name" "$(mtopic)" "$CUR_MANIFEST" 10 || return 1
	fi
	probe || return 1
	probe || return 1
	if [ "${user#acme/thermo-x1/}" != "$user" ]; then
		wait_for_payload "$name" "$(mtopic)" "$CUR_MANIFEST" 10 || return 1
	fi
	! grep -q "^$topic " "$T/cap-$name.txt" || fail "subscriber $user received $topic" || return 1
	local pid; pid=$(eval "echo \$CAP_PID_$name"); stop_pid "$pid"
}
c_dev_other_model() { denied_sub s1 acme/thermo-x1/dev1 "$PREFIX/acme/thermo-x2/manifest"; }
c_dev_events() { denied_sub s2 acme/thermo-x1/dev1 "$B/events"; }
c_dev_other_status() { denied_sub s3 acme/thermo-x1/dev1 "$B/status/dev2"; }
c_dev_other_vendor() { denied_sub s4 acme/thermo-x1/dev1 "$PREFIX/globex/thermo-x1/manifest"; }
c_nobody_reads() { denied_sub s5 mallory "$B/manifest"; }
c_other_vendor_reads() { denied_sub s6 globex-deploy "$B/status/#"; }
c_dev_wildcard() { denied_sub s7 acme/thermo-x1/dev1 "$PREFIX/acme/+/manifest"; }
c_suback_code() {
	local out rc
	out=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" -V 5 \
		-t "$B/events" -C 1 -W 3 2>&1); rc=$?
	note "mosquitto_sub on a denied subscription: rc=$rc, output: $(echo "$out" | head -2 | tr '\n' ' ')"
	case $out in *denied*) ;; *) fail "no denial reported by mosquitto_sub (rc $rc): $out" ;; esac
}
c_dev_write_other_status() {
	hfile '{"state":"installed","sequence":99,"version":"evil"}'
	next_cid d
	hostile publish.denied not_owner "$HF" mqtt_pub acme/thermo-x1/dev1 "$CID" "$B/status/dev2" "$HF" -V 5 -q 1
}
c_dev_write_other_model_status() {
	hfile '{"state":"installed","sequence":98}'
	next_cid d
	hostile publish.denied not_owner "$HF" mqtt_pub acme/thermo-x1/dev1 "$CID" "$PREFIX/acme/thermo-x2/status/dev1" "$HF" -V 5 -q 1
}
c_vendor_write_status() {
	hfile '{"state":"failed","sequence":97}'
	next_cid d
	hostile publish.denied not_owner "$HF" mqtt_pub acme-deploy "$CID" "$B/status/dev1" "$HF" -V 5 -q 1
}
c_invalid_status() {
	hfile '{"state":"pwned","sequence":1}'
	next_cid d
	hostile publish.denied status_invalid "$HF" mqtt_pub acme/thermo-x1/dev1 "$CID" "$B/status/dev1" "$HF" -V 5 -q 1
}
c_status_not_json() {
	hfile '{"state":"idle",'
	next_cid d
	hostile publish.denied status_invalid "$HF" mqtt_pub acme/thermo-x1/dev1 "$CID" "$B/status/dev1" "$HF" -V 5 -q 1
}
c_status_no_state() {
	hfile '{"sequence":1}'
	next_cid d
	hostile publish.denied status_invalid "$HF" mqtt_pub acme/thermo-x1/dev1 "$CID" "$B/status/dev1" "$HF" -V 5 -q 1
}
c_status_ok() {
	hfile '{"state":"downloading","sequence":5,"progress":40,"future_member":true}'
	audit_mark
	next_cid d
	mqtt_pub acme/thermo-x1/dev1 "$CID" "$B/status/dev1" "$HF" -V 5 -q 1
	expect_accepted || return 1
	audit_has device.status "" device=dev1 state=downloading sequence=5 progress=40 || return 1
	wait_for_payload vend "$B/status/dev1" "$HF" 10 || return 1
	# retain is forced by the broker
	local out
	out=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme-deploy -P "$PASSWORD" -V 5 \
		-t "$B/status/dev1" -C 1 -W 5 --retained-only 2>/dev/null)
	[ "$out" = "$(cat "$HF")" ] || fail "status not retained (got '$out')"
}
c_vendor_writes_events() {
	hfile '{"event":"manifest.accepted","sequence":999999}'
	next_cid e
	hostile publish.denied topic_reserved "$HF" mqtt_pub acme-deploy "$CID" "$B/events" "$HF" -V 5 -q 1
}
c_device_writes_events() {
	hfile '{"event":"image.complete","sequence":999998}'
	next_cid e
	hostile publish.denied topic_reserved "$HF" mqtt_pub acme/thermo-x1/dev1 "$CID" "$B/events" "$HF" -V 5 -q 1
}
c_mallory_writes_events() {
	hfile '{"event":"x","sequence":999997}'
	next_cid e
	hostile publish.denied topic_reserved "$HF" mqtt_pub mallory "$CID" "$B/events" "$HF" -V 5 -q 1
}
c_writes_fleet() {
	hfile '{"fleet":"fake"}'
	next_cid e
	hostile publish.denied topic_reserved "$HF" mqtt_pub acme-deploy "$CID" "$B/fleet" "$HF" -V 5 -q 1
}
c_invalid_topic() {
	hfile 'junk-under-prefix'
	next_cid e
	hostile publish.denied topic_invalid "$HF" mqtt_pub acme-deploy "$CID" "$B/bogus" "$HF" -V 5 -q 1
}
c_device_writes_manifest() {
	local f=$T/devm.json
	sign_manifest "$f" $((SEQ + 1)) || return 1
	hostile manifest.rejected not_vendor_identity "$f" publish_tagged "$(mtopic)" "$f" "" acme/thermo-x1/dev1
}
c_ratelimit() {
	# denials are rate limited per client id: with a burst of 1000 nothing is suppressed here;
	# check that the records carry the client id and that no record is marked suppressed yet
	audit_mark
	hfile '{"state":"x"}'
	mqtt_pub acme/thermo-x1/dev1 rl-$$ "$B/status/dev1" "$HF" -V 5 -q 1
	audit_has publish.denied status_invalid client="rl-$$"
}

run_case "device subscribes to another model's manifest -> subscribe.denied" c_dev_other_model
run_case "device subscribes to events -> subscribe.denied" c_dev_events
run_case "device subscribes to another device's status -> subscribe.denied" c_dev_other_status
run_case "device subscribes to another vendor's topic -> subscribe.denied" c_dev_other_vendor
run_case "nobody (mallory) subscribes to a manifest -> subscribe.denied" c_nobody_reads
run_case "another vendor subscribes to acme status -> subscribe.denied" c_other_vendor_reads
run_case "device subscribes with a model wildcard -> subscribe.denied" c_dev_wildcard
run_case "mosquitto_sub reports the denied subscription (SUBACK 0x87)" c_suback_code
run_case "device writes another device's status -> not_owner" c_dev_write_other_status
run_case "device writes a status of another model -> not_owner" c_dev_write_other_model_status
run_case "vendor writes a device status -> not_owner" c_vendor_write_status
run_case "device publishes an invalid state -> status_invalid" c_invalid_status
run_case "device publishes truncated status JSON -> status_invalid" c_status_not_json
run_case "device publishes status without state -> status_invalid" c_status_no_state
run_case "valid status: delivered to the vendor, retained, device.status audited" c_status_ok
run_case "vendor writes to events -> topic_reserved" c_vendor_writes_events
run_case "device writes to events -> topic_reserved" c_device_writes_events
run_case "nobody writes to events -> topic_reserved" c_mallory_writes_events
run_case "vendor writes to fleet -> topic_reserved" c_writes_fleet
run_case "publish to an invalid topic under fw/ -> topic_invalid" c_invalid_topic
run_case "device publishes a manifest -> not_vendor_identity" c_device_writes_manifest
run_case "denial records carry the client id" c_ratelimit
finish
