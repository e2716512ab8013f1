#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# fwguard first, Mosquitto's dynamic-security plugin second, other_topics
# defer: dynsec authenticates every client and decides ordinary topics,
# fwguard decides everything under fw/ (docs/configuration.md).
. "$(dirname "$0")/lib.sh"
fwg_init
write_trust_store
DYNSEC=${FWG_DYNSEC:-}
for d in "$DYNSEC" /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
		"$(dpkg -L mosquitto 2>/dev/null | grep 'mosquitto_dynamic_security.so$' | head -1)"; do
	[ -n "$d" ] && [ -f "$d" ] && { DYNSEC=$d; break; }
done
[ -f "$DYNSEC" ] || { echo "mosquitto_dynamic_security.so not found" >&2; exit 99; }
ADMIN_PW=admin-$$
printf 'hello-%s' "$$" > "$T/hello.txt"

ctrl() { timeout 20 mosquitto_ctrl -h 127.0.0.1 -p "$PORT" -u admin -P "$ADMIN_PW" dynsec "$@"; }

c_start() {
	mosquitto_ctrl dynsec init "$T/dynsec.json" admin "$ADMIN_PW" > "$T/dynsec-init.out" 2>&1 \
		|| fail "dynsec init: $(cat "$T/dynsec-init.out")" || return 1
	{
		echo "per_listener_settings false"
		echo "listener $PORT 127.0.0.1"
		echo "allow_anonymous false"
		echo "persistence false"
		echo "log_dest file $LOG"
		echo "log_type all"
		echo "user root"
		echo "plugin $FWG_PLUGIN"
		echo "plugin_opt_trust_store $T/vendors.json"
		echo "plugin_opt_broker_key $K/broker-ecdh.pem"
		echo "plugin_opt_state_file $STATE"
		echo "plugin_opt_audit_log $AUDIT"
		echo "plugin_opt_other_topics defer"
		echo "plugin $DYNSEC"
		echo "plugin_opt_config_file $T/dynsec.json"
	} > "$CONF"
	start_broker || fail "broker did not start: $(tail -5 "$LOG")"
}
# The admin's $CONTROL traffic is an ordinary topic: fwguard defers, dynsec allows it.
c_admin_through_defer() {
	local u
	for u in acme-deploy mallory acme/thermo-x1/dev1; do
		ctrl createClient "$u" -p "$PASSWORD" > "$T/ctrl.out" 2>&1 || fail "createClient $u: $(cat "$T/ctrl.out")" || return 1
	done
	ctrl createRole app > "$T/ctrl.out" 2>&1 || fail "createRole: $(cat "$T/ctrl.out")" || return 1
	ctrl addRoleACL app publishClientSend 'app/#' allow > "$T/ctrl.out" 2>&1 || fail "$(cat "$T/ctrl.out")" || return 1
	ctrl addRoleACL app subscribePattern 'app/#' allow > "$T/ctrl.out" 2>&1 || fail "$(cat "$T/ctrl.out")" || return 1
	ctrl addClientRole acme/thermo-x1/dev1 app > "$T/ctrl.out" 2>&1 || fail "$(cat "$T/ctrl.out")" || return 1
}
c_dynsec_allows() {
	next_cid d; mqtt_pub acme/thermo-x1/dev1 "$CID" app/x "$T/hello.txt" -V 5 -q 1 -r
	expect_accepted || return 1
	local out
	out=$(timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" -V 5 -t app/x -C 1 -W 5 2>&1)
	[ "$out" = "$(cat "$T/hello.txt")" ] || fail "device did not read app/x: $out"
}
c_dynsec_denies() {
	next_cid d; mqtt_pub acme/thermo-x1/dev1 "$CID" other/x "$T/hello.txt" -V 5 -q 1
	expect_denied || return 1
	next_cid m; mqtt_pub mallory "$CID" app/x "$T/hello.txt" -V 5 -q 1
	expect_denied
}
c_dynsec_auth() {
	local out
	out=$(timeout 15 mosquitto_pub -h 127.0.0.1 -p "$PORT" -u nobody -P wrong -V 5 -t app/x -m x 2>&1)
	case $out in *"not authorised"*|*"Not authorized"*|*"bad user name or password"*|*"Connection Refused"*) ;;
		*) fail "unknown user was not refused: $out" ;; esac
}
# dynsec grants nothing under fw/: fwguard alone decides there.
c_fw_accepted() {
	audit_mark
	publish_manifest 1 || return 1
	audit_has manifest.accepted "" || return 1
	local out
	out=$(timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" -V 5 -t "$(mtopic)" -C 1 -W 5 -N 2>&1)
	[ "$out" = "$(cat "$CUR_MANIFEST")" ] || fail "device could not read its manifest: $out"
}
c_fw_refused() {
	audit_mark
	publish_tagged "$(mtopic)" "$CUR_MANIFEST" "" mallory; expect_denied || return 1
	audit_has manifest.rejected not_vendor_identity || return 1
	local out
	out=$(timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" -V 5 -t "$PREFIX/acme/thermo-x1/events" -C 1 -W 3 2>&1)
	case $out in *denied*) ;; *) fail "device subscription to events not denied: $out" ;; esac
	audit_has subscribe.denied read_denied
}

run_case "fwguard + dynamic security: broker starts" c_start
run_case "dynsec admin commands pass fwguard (other_topics defer)" c_admin_through_defer
run_case "dynsec role allows an ordinary topic" c_dynsec_allows
run_case "dynsec denies ordinary topics outside the role" c_dynsec_denies
run_case "dynsec authenticates (unknown user refused)" c_dynsec_auth
run_case "firmware accepted and readable although dynsec grants nothing under fw/" c_fw_accepted
run_case "firmware refused for a dynsec client that is not the vendor" c_fw_refused
finish
