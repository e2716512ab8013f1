#!/bin/bash
# Origin (fwguard, origin mode) -> two gateways (fwguard, relay mode, MQTT
# v5 bridges) -> devices: the rollout completes; every gateway re-verifies
# what its bridge brings in (audit route "bridge"); device status travels up
# to the vendor at the origin and does not loop; a forged manifest published
# locally at a gateway is refused there and never reaches its devices.
# shellcheck source=tests/topology/lib.sh disable=SC2317
. "$(dirname "$0")/lib.sh"

PO=$(free_port) P1=$(free_port) P2=$(free_port)
topo_init "$PO" "gw1:$P1 gw2:$P2" "gw1:dev1 gw1:dev3 gw2:dev2"
IMG=$T/image.bin
head -c 5000 /dev/urandom > "$IMG"
M=fw/acme/thermo-x1/manifest

setup() {
	start_broker origin && start_broker gw1 && start_broker gw2 || return 1
	wait_bridge gw1 && wait_bridge gw2 || return 1
	capture vendor "$PO" acme-deploy 'fw/acme/thermo-x1/status/+'
	capture d3 "$P1" acme/thermo-x1/dev3 "$M" 'fw/acme/thermo-x1/chunk/#'
	capture d2 "$P2" acme/thermo-x1/dev2 "$M" 'fw/acme/thermo-x1/status/dev2'
	capture d1status "$P1" acme/thermo-x1/dev1 'fw/acme/thermo-x1/status/dev1'
}
run_case "origin and two gateways start, bridges connect" setup

vendor_publish() { # vendor_publish SEQ [--manifest-only]
	sign "$T/m$1.json" "$1" || return 1
	FWG_PASSWORD=$(pw acme-deploy) timeout 60 "$EX/fwg-publish.sh" -h 127.0.0.1 -p "$PO" -u acme-deploy \
		-i "vendor-$1" --vendor-key "$T/keys/vendor-ecdh.pem" --broker-pub "$T/keys/broker-ecdh.pub.b64" \
		${2:+"$2"} "$T/m$1.json" "$IMG" > "$T/publish-$1.log" 2>&1 || fail "vendor publish $1 failed: $(cat "$T/publish-$1.log")"
}
rollout() {
	vendor_publish 1 || return 1
	local d p
	for d in dev1:$P1 dev3:$P1 dev2:$P2; do
		device "${d%%:*}" "${d#*:}"
		[ "$DEV_RC" = 0 ] || fail "${d%%:*}: agent exit $DEV_RC: $(cat "$T/dev-${d%%:*}.log")" || return 1
		cmp -s "$IMG" "$T/devices/${d%%:*}/firmware.bin" || fail "${d%%:*}: image differs" || return 1
	done
	for p in gw1 gw2; do
		audit_has "$p" manifest.accepted || fail "$p: no manifest.accepted" || return 1
		grep -q '"event":"manifest.accepted".*"route":"bridge"' "$T/$p/data/fwguard.audit" \
			|| fail "$p: manifest.accepted without route bridge" || return 1
		audit_has "$p" image.complete || fail "$p: no image.complete" || return 1
	done
}
run_case "rollout origin -> gw1, gw2 -> dev1, dev3, dev2: installed, identical images" rollout

installed_hex() { hexs "{\"state\":\"installed\",\"sequence\":1,\"version\":\"1.0.1\",\"progress\":100}"; }
status_up() {
	local d
	for d in dev1 dev2 dev3; do
		wait_msg vendor "fw/acme/thermo-x1/status/$d" "$(installed_hex)" 10 || return 1
	done
	audit_has origin device.status || fail "origin: no device.status record" || return 1
}
run_case "the vendor at the origin sees every device's installed status (via the bridges)" status_up

# A status of dev1 goes out over gw1's bridge once and comes back nowhere:
# not to gw1 (v5 no-local bridge subscription), not from gw2 back to the
# origin (the bridge does not forward what it brought in). Barriers: a new
# manifest from the origin (same bridge connections, in order) and a status
# sent up from gw2 afterwards.
no_loop() {
	local a='{"state":"idle","sequence":1,"loopcheck":"a"}' b='{"state":"idle","sequence":1,"loopcheck":"b"}'
	local ta=fw/acme/thermo-x1/status/dev1 tb=fw/acme/thermo-x1/status/dev2
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$P1" -u acme/thermo-x1/dev1 -P "$(pw acme/thermo-x1/dev1)" \
		-V 5 -q 1 -t "$ta" -m "$a" || fail "status publish failed" || return 1
	wait_msg vendor "$ta" "$(hexs "$a")" 10 || return 1
	vendor_publish 2 --manifest-only || return 1
	wait_msg d3 "$M" "$(hex_of "$T/m2.json")" 10 || return 1
	wait_msg d2 "$M" "$(hex_of "$T/m2.json")" 10 || return 1
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$P2" -u acme/thermo-x1/dev2 -P "$(pw acme/thermo-x1/dev2)" \
		-V 5 -q 1 -t "$tb" -m "$b" || fail "status publish failed" || return 1
	wait_msg vendor "$tb" "$(hexs "$b")" 10 || return 1
	local n1 n2
	n1=$(cap_count d1status "$ta" "$(hexs "$a")") n2=$(cap_count vendor "$ta" "$(hexs "$a")")
	[ "$n1" = 1 ] || fail "dev1 received its own status $n1 times at gw1 (a loop)" || return 1
	[ "$n2" = 1 ] || fail "the vendor received dev1's status $n2 times at the origin (a loop)" || return 1
	[ "$(grep -c '"loopcheck"\|"device":"dev1","state":"idle"' "$T/gw1/data/fwguard.audit")" = 1 ] \
		|| fail "gw1 audited dev1's idle status more than once" || return 1
}
run_case "a status goes up once: no bridge loop (origin <-> gw1, gw2)" no_loop

forged_local() {
	local k=$T/evil
	"$EX/fwg-keys.sh" "$k" vendor-sign > /dev/null 2>&1
	KEY=$k/vendor-sign.pem sign "$T/evil.json" 99 || return 1
	# a compromised device at gw1 publishes a forged manifest ...
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$P1" -u acme/thermo-x1/dev1 -P "$(pw acme/thermo-x1/dev1)" \
		-i evil1 -V 5 -q 1 -t "$M" -f "$T/evil.json" 2> "$T/evil.err"
	grep -q failed "$T/evil.err" || fail "forged manifest not refused: $(cat "$T/evil.err")" || return 1
	audit_wait gw1 manifest.rejected not_vendor_identity || return 1
	# ... and even an authentic manifest is refused when published locally
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$P1" -u acme/thermo-x1/dev1 -P "$(pw acme/thermo-x1/dev1)" \
		-i evil2 -V 5 -q 1 -t "$M" -f "$T/m2.json" 2> "$T/evil2.err"
	grep -q failed "$T/evil2.err" || fail "local manifest publish not refused" || return 1
	# a chunk as well
	head -c 1024 /dev/urandom > "$T/evil-chunk"
	timeout 20 mosquitto_pub -h 127.0.0.1 -p "$P1" -u acme/thermo-x1/dev1 -P "$(pw acme/thermo-x1/dev1)" \
		-i evil3 -V 5 -q 1 -t fw/acme/thermo-x1/chunk/2/0 -f "$T/evil-chunk" 2> "$T/evil3.err"
	grep -q failed "$T/evil3.err" || fail "local chunk publish not refused" || return 1
	# barrier: a later manifest from the origin reaches the devices; the forged one never did
	vendor_publish 3 --manifest-only || return 1
	wait_msg d3 "$M" "$(hex_of "$T/m3.json")" 10 || return 1
	! cap_has_payload d3 "$(hex_of "$T/evil.json")" || fail "the forged manifest reached dev3" || return 1
	! cap_has_payload d3 "$(hex_of "$T/evil-chunk")" || fail "the forged chunk reached dev3" || return 1
	! cap_has_payload vendor "$(hex_of "$T/evil.json")" || fail "the forged manifest reached the origin" || return 1
	kill -0 "$PID_gw1" 2>/dev/null || fail "gw1 died" || return 1
}
run_case "forged manifest and chunk published locally at gw1: refused there (not_vendor_identity), never delivered" forged_local

for b in origin gw1 gw2; do run_case "audit hash chain of $b verifies" audit_chain_ok "$b"; done
finish
