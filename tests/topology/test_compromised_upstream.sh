#!/bin/bash
# A compromised upstream: the origin runs WITHOUT fwguard (anyone may publish
# anything there, untagged), and gw1 (relay mode) bridges from it. The
# gateway alone must keep its devices safe: it accepts an authentic manifest
# and its chunks, and refuses a manifest with a bad signature, one signed by
# an unknown key, one with a lower sequence, a wrong chunk (digest, length,
# sequence); its devices never see them and stay on the authentic image.
# shellcheck source=tests/topology/lib.sh disable=SC2317
. "$(dirname "$0")/lib.sh"

PO=$(free_port) P1=$(free_port)
topo_init "$PO" "gw1:$P1" "gw1:dev1 gw1:dev2"
# replace the origin by a plain broker: no plugin, anonymous publishers
cat > "$T/origin/mosquitto.conf" <<CONF
listener $PO 127.0.0.1
allow_anonymous true
password_file $T/origin/passwd
persistence false
log_dest file $T/origin/data/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
log_type debug
connection_messages true
user $(id -un)
CONF
IMG=$T/image.bin
head -c 5000 /dev/urandom > "$IMG"
M=fw/acme/thermo-x1/manifest
C=fw/acme/thermo-x1/chunk

setup() {
	start_broker origin && start_broker gw1 || return 1
	if grep -q fwguard "$T/origin/data/mosquitto.log"; then fail "the origin loaded fwguard"; return 1; fi
	wait_bridge gw1 || return 1
	capture dev "$P1" acme/thermo-x1/dev2 "$M" "$C/#" fw/acme/thermo-x1/status/dev2
}
run_case "plain origin (no fwguard) and gw1 start, bridge connects" setup

# attacker PUB TOPIC FILE: an anonymous, untagged, retained publish at the origin
attacker() { timeout 20 mosquitto_pub -h 127.0.0.1 -p "$PO" -V 5 -q 1 -r -t "$1" -f "$2"; }
chunk() { dd if="$IMG" of="$2" bs=1024 skip="$1" count=1 2>/dev/null; }

authentic() {
	sign "$T/m5.json" 5 || return 1
	attacker "$M" "$T/m5.json" || return 1
	local i
	for i in 0 1 2 3 4; do chunk "$i" "$T/c$i"; attacker "$C/5/$i" "$T/c$i" || return 1; done
	audit_wait gw1 image.complete || return 1
	device dev1 "$P1"
	[ "$DEV_RC" = 0 ] || fail "dev1: agent exit $DEV_RC: $(cat "$T/dev-dev1.log")" || return 1
	cmp -s "$IMG" "$T/devices/dev1/firmware.bin" || fail "dev1: image differs" || return 1
}
run_case "an authentic manifest and chunks (untagged, via the plain origin) are re-verified and installed" authentic

# hostile NAME EVENT REASON TOPIC FILE: published at the origin; gw1 refuses
# it with REASON; a later authentic marker reaches the device, the hostile
# payload never does.
MARK=0
reason_count_gt() { [ "$(grep -c "\"reason\":\"$1\"" "$T/gw1/data/fwguard.audit")" -gt "$2" ]; }
hostile() {
	local name=$1 ev=$2 reason=$3 topic=$4 file=$5
	local before; before=$(grep -c "\"reason\":\"$reason\"" "$T/gw1/data/fwguard.audit")
	attacker "$topic" "$file" || fail "publish at the origin failed" || return 1
	poll 5 reason_count_gt "$reason" "$before" \
		|| fail "gw1 did not audit $ev/$reason; tail: $(tail -n 2 "$T/gw1/data/fwguard.audit")" || return 1
	grep "\"reason\":\"$reason\"" "$T/gw1/data/fwguard.audit" | tail -n 1 | grep -q "\"event\":\"$ev\"" \
		|| fail "reason $reason not on a $ev record" || return 1
	# barrier: a later message on the same path reaches the device
	MARK=$((MARK + 1))
	printf '{"state":"idle","sequence":5,"marker":%s}' "$MARK" > "$T/marker"
	attacker fw/acme/thermo-x1/status/dev2 "$T/marker" || return 1
	capture_status_seen || return 1
	! cap_has_payload dev "$(hex_of "$file")" || fail "the hostile $name reached the device" || return 1
	kill -0 "$PID_gw1" 2>/dev/null || fail "gw1 died" || return 1
}
# the marker: a status message for dev2 that the origin passes to gw1 and
# gw1 to dev2, after the hostile message on the same bridge connection
capture_status_seen() { wait_msg dev "fw/acme/thermo-x1/status/dev2" "$(hex_of "$T/marker")" 10; }

badsig() {
	sign "$T/m6.json" 6 || return 1
	sed 's/"version":"1.0.6"/"version":"9.9.9"/' "$T/m6.json" > "$T/m6-bad.json"
	! cmp -s "$T/m6.json" "$T/m6-bad.json" || fail "test bug: tamper did nothing" || return 1
	hostile "bad signature" manifest.rejected signature_invalid "$M" "$T/m6-bad.json"
}
unknown_key() {
	"$EX/fwg-keys.sh" "$T/evil" vendor-sign > /dev/null 2>&1
	KEY=$T/evil/vendor-sign.pem sign "$T/m7-evil.json" 7 || return 1
	hostile "unknown key" manifest.rejected key_unknown "$M" "$T/m7-evil.json"
}
lower_seq() {
	sign "$T/m3.json" 3 || return 1
	hostile "lower sequence" manifest.rejected sequence_not_newer "$M" "$T/m3.json"
}
bad_digest() {
	head -c 1024 /dev/urandom > "$T/c-bad"
	hostile "wrong chunk" chunk.rejected chunk_digest_mismatch "$C/5/1" "$T/c-bad"
}
bad_length() {
	head -c 1000 /dev/urandom > "$T/c-short"
	hostile "short chunk" chunk.rejected chunk_length "$C/5/2" "$T/c-short"
}
bad_chunk_seq() {
	head -c 1024 /dev/urandom > "$T/c-old"
	hostile "chunk of sequence 4" chunk.rejected chunk_sequence_mismatch "$C/4/0" "$T/c-old"
}
run_case "bad signature (tampered manifest): refused at gw1 (signature_invalid), not delivered" badsig
run_case "manifest signed by an unknown key: refused at gw1 (key_unknown), not delivered" unknown_key
run_case "lower sequence (authentic but old): refused at gw1 (sequence_not_newer), not delivered" lower_seq
run_case "wrong chunk content: refused at gw1 (chunk_digest_mismatch), not delivered" bad_digest
run_case "wrong chunk length: refused at gw1 (chunk_length), not delivered" bad_length
run_case "chunk of another sequence: refused at gw1 (chunk_sequence_mismatch), not delivered" bad_chunk_seq

still_safe() {
	# the gateway still holds the authentic image; a new device installs it
	device dev2 "$P1"
	[ "$DEV_RC" = 0 ] || fail "dev2: agent exit $DEV_RC: $(cat "$T/dev-dev2.log")" || return 1
	cmp -s "$IMG" "$T/devices/dev2/firmware.bin" || fail "dev2: image differs" || return 1
	grep -q 'installed acme/thermo-x1 1.0.5 (sequence 5)' "$T/dev-dev2.log" || fail "dev2 did not install 1.0.5: $(cat "$T/dev-dev2.log")" || return 1
	grep -q '"sequence":5' "$T/gw1/data/fwguard.state" || fail "gw1 state is not at sequence 5" || return 1
	grep -q 'Received PUBACK from gw1 .*RC:135' "$T/origin/data/mosquitto.log" \
		|| fail "the origin did not see gw1 refuse (PUBACK 0x87)" || return 1
}
run_case "after the attacks gw1 still serves the authentic image (sequence 5); dev2 installs it" still_safe
run_case "audit hash chain of gw1 verifies" audit_chain_ok gw1
finish
