#!/bin/bash
# Routes around the message callback that the plugin must close itself:
# (1) an ORIGIN broker with a bridge that imports fw/# from elsewhere
#     (Mosquitto skips ACL checks for bridges): firmware arriving that way is
#     refused (route_not_checked), even authentic, untagged content;
# (2) a RELAY with per_listener_settings true (Mosquitto 2.0 then skips the
#     plugin's message callbacks for bridge traffic and raises no tick
#     events): the plugin notices the missing ticks, says so in the log and
#     withholds firmware from devices.
# shellcheck source=tests/topology/lib.sh disable=SC2317
. "$(dirname "$0")/lib.sh"

PO=$(free_port) P1=$(free_port) PU=$(free_port) PR=$(free_port)
topo_init "$PO" "gw1:$P1" "gw1:dev1"
IMG=$T/image.bin
head -c 3000 /dev/urandom > "$IMG"
M=fw/acme/thermo-x1/manifest
DEVPW=dev-$$
mosquitto_passwd -b "$T/origin/passwd" acme/thermo-x1/devA "$DEVPW"

# the foreign broker: plain, anonymous
mkdir -p "$T/upstream"
cat > "$T/upstream/mosquitto.conf" <<CONF
listener $PU 127.0.0.1
allow_anonymous true
persistence false
log_dest file $T/upstream/mosquitto.log
user $(id -un)
CONF
mosquitto -c "$T/upstream/mosquitto.conf" > "$T/upstream/stderr" 2>&1 &
PIDS+=("$!")
up_running() { grep -q 'mosquitto version .* running' "$T/upstream/mosquitto.log" 2>/dev/null; }

origin_bridged() {
	poll 10 up_running || fail "upstream broker did not start" || return 1
	cat >> "$T/origin/mosquitto.conf" <<CONF

# a bridge that imports firmware topics into an origin: not allowed to
connection foreign
address 127.0.0.1:$PU
bridge_protocol_version mqttv50
cleansession true
topic fw/# in 1
CONF
	start_broker origin || return 1
	bridge_up() { grep -q 'Connecting bridge.* foreign' "$T/origin/data/mosquitto.log"; }
	poll 10 bridge_up || fail "origin did not start its bridge" || return 1
	timeout 20 mosquitto_sub -h 127.0.0.1 -p "$PO" -u acme/thermo-x1/devA -P "$DEVPW" -i devA-$$ -V 5 -q 1 \
		-t "$M" -F '%t %x' > "$T/cap-devA.txt" 2>&1 &
	PIDS+=("$!")
}
run_case "origin with a bridge importing fw/# starts" origin_bridged

bridge_refused() {
	sign "$T/m1.json" 1 || return 1
	# authentic, signed by the vendor's key, but arriving over a bridge, untagged
	bridged_audited() { grep -q '"reason":"route_not_checked"' "$T/origin/data/fwguard.audit" 2>/dev/null; }
	local i=0
	until bridged_audited; do
		i=$((i + 1))
		[ $i -le 20 ] || { fail "origin did not refuse the bridged manifest; audit: $(tail -n 2 "$T/origin/data/fwguard.audit")"; return 1; }
		# re-publish until the bridge, which may still be connecting, carries it (bounded)
		timeout 10 mosquitto_pub -h 127.0.0.1 -p "$PU" -V 5 -q 1 -t "$M" -f "$T/m1.json"
		poll 1 bridged_audited || true
	done
	grep '"reason":"route_not_checked"' "$T/origin/data/fwguard.audit" | head -n 1 | grep -q '"event":"manifest.rejected"' \
		|| fail "route_not_checked is not on a manifest.rejected record" || return 1
	# barrier: the vendor's legitimate publish reaches devA; the bridged copy never did
	FWG_PASSWORD=$(pw acme-deploy) "$EX/fwg-publish.sh" -h 127.0.0.1 -p "$PO" -u acme-deploy -i vendor-$$ \
		--vendor-key "$T/keys/vendor-ecdh.pem" --broker-pub "$T/keys/broker-ecdh.pub.b64" \
		"$T/m1.json" "$IMG" > "$T/publish.log" 2>&1 || fail "vendor publish failed: $(cat "$T/publish.log")" || return 1
	got_legit() { grep -q "^$M " "$T/cap-devA.txt"; }
	poll 10 got_legit || fail "devA did not receive the vendor's manifest" || return 1
	[ "$(grep -c "^$M " "$T/cap-devA.txt")" = 1 ] || fail "devA received the manifest more than once: $(wc -l < "$T/cap-devA.txt")" || return 1
	kill -0 "$PID_origin" || fail "origin died"
}
run_case "firmware imported by a bridge into an origin is refused (route_not_checked); the vendor's own publish is delivered once" bridge_refused

# (2) a relay with per_listener_settings true, bridged from the plain upstream
relay_per_listener() {
	mkdir -p "$T/relay"
	cp "$T/gw1/vendors.json" "$T/relay/vendors.json"
	mosquitto_passwd -c -b "$T/relay/passwd" acme/thermo-x1/devR "$DEVPW" 2>/dev/null
	cat > "$T/relay/mosquitto.conf" <<CONF
per_listener_settings true
persistence false
log_dest file $T/relay/mosquitto.log
user $(id -un)
listener $PR 127.0.0.1
allow_anonymous false
password_file $T/relay/passwd
plugin $FWG_PLUGIN
plugin_opt_mode relay
plugin_opt_trust_store $T/relay/vendors.json
plugin_opt_state_file $T/relay/fwguard.state
plugin_opt_audit_log $T/relay/fwguard.audit
plugin_opt_other_topics deny

connection upstream
address 127.0.0.1:$PU
bridge_protocol_version mqttv50
cleansession true
topic fw/# in 1
CONF
	# a retained, unverified manifest waits upstream
	timeout 10 mosquitto_pub -h 127.0.0.1 -p "$PU" -V 5 -q 1 -r -t "$M" -f "$T/m1.json" || return 1
	mosquitto -c "$T/relay/mosquitto.conf" > "$T/relay/stderr" 2>&1 &
	PIDS+=("$!")
	RELAY_PID=$!
	relay_running() { grep -q 'mosquitto version .* running' "$T/relay/mosquitto.log" 2>/dev/null; }
	poll 10 relay_running || fail "relay did not start: $(tail -3 "$T/relay/mosquitto.log")" || return 1
	# the plugin notices on the first check after 3 s without a tick: keep
	# asking (bounded) until it has said so
	said() { grep -q 'no tick event from the broker' "$T/relay/mosquitto.log"; }
	# from the first moment on, no device gets the unverified manifest
	local i=0 out='' start=$SECONDS
	until said; do
		i=$((i + 1))
		[ $((SECONDS - start)) -le 15 ] && [ $i -le 30 ] || { fail "the relay never reported the missing tick events"; return 1; }
		out=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$PR" -u acme/thermo-x1/devR -P "$DEVPW" -V 5 -t "$M" -C 1 -W 1 -N 2>&1)
		[ "$out" != "$(cat "$T/m1.json")" ] || { fail "the relay delivered an unverified manifest to a device"; return 1; }
	done
	! grep -q 'manifest.accepted' "$T/relay/fwguard.audit" || fail "the relay accepted something" || return 1
	kill -0 "$RELAY_PID" || fail "relay died"
}
run_case "relay with per_listener_settings true: missing ticks logged, firmware withheld from devices" relay_per_listener

finish
