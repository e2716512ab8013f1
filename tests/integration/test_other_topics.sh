#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# plugin_opt_other_topics allow | deny | defer (with an acl_file) for topics outside fw/.
. "$(dirname "$0")/lib.sh"
fwg_init
write_trust_store
printf 'hello-%s' "$$" > "$T/hello.txt"

restart_with() {  # config lines...
	stop_broker TERM
	write_conf "$@"
	start_broker || fail "broker did not start: $(tail -5 "$LOG")"
}
# pub_other USER TOPIC: retained QoS 1 v5 publish of hello.txt
pub_other() { next_cid o; mqtt_pub "$1" "$CID" "$2" "$T/hello.txt" -V 5 -q 1 -r; }
# read_other USER TOPIC: the retained message, or what mosquitto_sub says
read_other() {
	timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$1" -P "$PASSWORD" -V 5 -t "$2" -C 1 -W 3 2>&1
}
allowed() {  # USER_PUB USER_SUB TOPIC
	pub_other "$1" "$3"; expect_accepted || return 1
	local out; out=$(read_other "$2" "$3")
	[ "$out" = "$(cat "$T/hello.txt")" ] || fail "$2 did not read $3: $out"
}
denied_pub() {  # USER TOPIC
	pub_other "$1" "$2"; expect_denied
}
denied_sub() {  # USER TOPIC
	local out; out=$(read_other "$1" "$2")
	case $out in *denied*) ;; *) fail "subscription of $1 to $2 not denied: $out" ;; esac
}
fw_still_guarded() {
	audit_mark
	publish_manifest $((SEQ + 1)) || return 1
	local out
	out=$(timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev1 -P "$PASSWORD" -V 5 -t "$(mtopic)" -C 1 -W 5 -N 2>&1)
	[ "$out" = "$(cat "$CUR_MANIFEST")" ] || fail "device could not read its manifest: $out" || return 1
	denied_sub acme/thermo-x1/dev1 "$PREFIX/acme/thermo-x1/events" || return 1
	publish_tagged "$(mtopic)" "$CUR_MANIFEST" "" mallory; expect_denied || return 1
	audit_has manifest.rejected not_vendor_identity
}

c_allow_start() { restart_with "plugin_opt_other_topics allow"; }
c_allow_pub() { allowed mallory acme/thermo-x1/dev1 public/allow; }
c_allow_any() { allowed acme/thermo-x1/dev1 mallory misc/x; }
c_allow_fw() { fw_still_guarded; }
c_deny_start() { restart_with "plugin_opt_other_topics deny"; }
c_deny_pub() { denied_pub mallory public/deny; }
c_deny_sub() { denied_sub acme/thermo-x1/dev1 public/allow; }
c_deny_fw() { fw_still_guarded; }
c_defer_start() {
	cat > "$T/acl" <<ACL
user mallory
topic readwrite public/#
topic write drop/#

user acme/thermo-x1/dev1
topic read public/#
ACL
	restart_with "plugin_opt_other_topics defer" "acl_file $T/acl"
}
c_defer_allowed() { allowed mallory acme/thermo-x1/dev1 public/defer; }
c_defer_denied_pub() { denied_pub mallory private/defer; }
c_defer_denied_write_by_reader() { denied_pub acme/thermo-x1/dev1 public/defer2; }
c_defer_denied_read() {
	# Mosquitto's acl_file does not refuse SUBSCRIBE; it filters deliveries
	pub_other mallory drop/x; expect_accepted || return 1
	local out; out=$(read_other acme/thermo-x1/dev1 drop/x)
	[ "$out" != "$(cat "$T/hello.txt")" ] || fail "device read drop/x outside its ACL"
}
c_defer_fw() { fw_still_guarded; }
c_default_is_defer() {
	restart_with || return 1
	denied_pub mallory public/nodefault
}
c_ratelimit() {
	restart_with "plugin_opt_other_topics allow" "plugin_opt_deny_log_burst 3" "plugin_opt_deny_log_period 2" || return 1
	printf '{"state":"bogus"}' > "$T/bad-status.json"
	audit_mark
	local i=0
	while [ "$i" -lt 8 ]; do
		mqtt_pub acme/thermo-x1/dev1 "flood-$$" "$PREFIX/acme/thermo-x1/status/dev1" "$T/bad-status.json" -V 5 -q 1
		expect_denied || return 1
		i=$((i + 1))
	done
	local n; n=$(audit_count publish.denied status_invalid client="flood-$$")
	[ "$n" -eq 3 ] || fail "$n denial records for a burst of 3" || return 1
	# after the period the next denial carries the suppressed count (bounded retries)
	flood_once() {
		mqtt_pub acme/thermo-x1/dev1 "flood-$$" "$PREFIX/acme/thermo-x1/status/dev1" "$T/bad-status.json" -V 5 -q 1
		audit_has_q publish.denied status_invalid client="flood-$$" "suppressed>=5"
	}
	i=0
	while [ "$i" -lt 12 ] && ! flood_once; do
		poll 1 false; i=$((i + 1))
	done
	audit_has publish.denied status_invalid client="flood-$$" "suppressed>=5" || return 1
	broker_alive
}

run_case "other_topics allow: broker starts" c_allow_start
run_case "other_topics allow: nobody publishes, device reads a non-firmware topic" c_allow_pub
run_case "other_topics allow: device publishes, nobody reads" c_allow_any
run_case "other_topics allow: firmware topics still guarded" c_allow_fw
run_case "other_topics deny: broker starts" c_deny_start
run_case "other_topics deny: publish refused" c_deny_pub
run_case "other_topics deny: subscription refused" c_deny_sub
run_case "other_topics deny: firmware topics still work" c_deny_fw
run_case "other_topics defer + acl_file: broker starts" c_defer_start
run_case "defer + acl_file: allowed topic passes" c_defer_allowed
run_case "defer + acl_file: other topic refused" c_defer_denied_pub
run_case "defer + acl_file: read-only user cannot write" c_defer_denied_write_by_reader
run_case "defer + acl_file: message outside the reader's ACL not delivered" c_defer_denied_read
run_case "defer + acl_file: firmware topics decided by the plugin" c_defer_fw
run_case "default (defer) without acl_file: non-firmware publish refused" c_default_is_defer
run_case "denials rate-limited per client id, suppressed count reported" c_ratelimit
finish
