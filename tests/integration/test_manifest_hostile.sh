#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# Hostile manifest publishes against a real broker: each is refused with the
# expected audit reason, the broker survives, and a legitimate manifest
# published afterwards is still delivered while the hostile one never was.
. "$(dirname "$0")/lib.sh"
fwg_init
MAXIMG=65536
if ! std_setup "plugin_opt_max_image_size $MAXIMG" "plugin_opt_other_topics allow" "plugin_opt_deny_log_burst 1000"; then
	not_ok "broker with the plugin starts and takes a first manifest" "$(tail -5 "$LOG" 2>/dev/null)"
	finish
fi
ok "broker with the plugin starts and takes a first manifest"

now() { date +%s; }
MT=$(mtopic)
# new_manifest NAME [fwg-sign options]: a valid manifest for the next sequence
new_manifest() { local f=$T/m-$1.json; shift; sign_manifest "$f" $((SEQ + 1)) "$@" || return 1; echo "$f"; }
pub_raw() { next_cid h; mqtt_pub acme-deploy "$CID" "$MT" "$1" -V 5 -q 1 "${@:2}"; }

c_forged_tag() {
	local f; f=$(new_manifest forged) || return 1
	hostile manifest.rejected tag_mismatch "$f" \
		pub_raw "$f" -D publish user-property fw-ts "$(now)" -D publish user-property fw-tag "$(rand_hex)"
}
c_absent_tag() {
	local f; f=$(new_manifest absent) || return 1
	hostile manifest.rejected tag_missing "$f" pub_raw "$f" -D publish user-property fw-ts "$(now)"
}
c_no_props() {
	local f; f=$(new_manifest noprops) || return 1
	hostile manifest.rejected tag_missing "$f" pub_raw "$f"
}
c_stale() {
	local f; f=$(new_manifest stale) || return 1
	hostile manifest.rejected tag_stale "$f" publish_tagged "$MT" "$f" $(($(now) - 1000))
}
c_future() {
	local f; f=$(new_manifest future) || return 1
	hostile manifest.rejected tag_future "$f" publish_tagged "$MT" "$f" $(($(now) + 1000))
}
c_ts_malformed() {
	local f t ts; f=$(new_manifest tsmal) || return 1
	ts="0$(now)"; t=$(tag_of "$KEY_ACME" "$MT" "$ts" "$f")
	hostile manifest.rejected ts_malformed "$f" \
		pub_raw "$f" -D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$t"
}
c_tag_malformed() {
	local f t ts; f=$(new_manifest tagmal) || return 1
	ts=$(now); t=$(tag_of "$KEY_ACME" "$MT" "$ts" "$f" | tr a-f A-F)
	hostile manifest.rejected tag_malformed "$f" \
		pub_raw "$f" -D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$t"
}
c_replay_other() {
	local f ts tag before after; f=$(new_manifest replay) || return 1
	ts=$(now); tag=$(tag_of "$KEY_ACME" "$MT" "$ts" "$f")
	mqtt_pub acme-deploy replay-A-$$ "$MT" "$f" -V 5 -q 1 -D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$tag"
	expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
	wait_for_payload dev "$MT" "$f" 10 || return 1
	before=$(cap_payload_count dev "$f")
	audit_mark
	mqtt_pub acme-deploy replay-B-$$ "$MT" "$f" -V 5 -q 1 -D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$tag"
	expect_denied || return 1
	audit_has manifest.rejected tag_replayed || return 1
	broker_alive || return 1
	probe || return 1
	after=$(cap_payload_count dev "$f")
	[ "$before" = "$after" ] || fail "replayed manifest was delivered again ($before -> $after)" || return 1
	# the same client re-sending (a QoS retry): acknowledged, no event, no state change
	REPLAY_F=$f REPLAY_TS=$ts REPLAY_TAG=$tag
}
c_replay_same() {
	local f=$REPLAY_F
	# a fresh manifest is current now; the old one re-sent by its own client is acknowledged
	audit_mark
	mqtt_pub acme-deploy replay-A-$$ "$MT" "$f" -V 5 -q 1 -D publish user-property fw-ts "$REPLAY_TS" -D publish user-property fw-tag "$REPLAY_TAG"
	# the write check sees an older sequence first: a content reason, not a replay
	audit_has manifest.rejected sequence_not_newer || return 1
	broker_alive
}
c_replay_same_current() {
	local f ts tag; f=$(new_manifest retry) || return 1
	ts=$(now); tag=$(tag_of "$KEY_ACME" "$MT" "$ts" "$f")
	mqtt_pub acme-deploy retry-A-$$ "$MT" "$f" -V 5 -q 1 -D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$tag"
	expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
	audit_mark
	mqtt_pub acme-deploy retry-A-$$ "$MT" "$f" -V 5 -q 1 -D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$tag"
	expect_accepted || return 1
	local n; n=$(($(audit_count manifest.accepted "") + $(audit_count manifest.republished "") + $(audit_count manifest.rejected "")))
	[ "$n" -eq 0 ] || fail "a QoS retry made $n manifest records" || return 1
	broker_alive && probe
}
c_other_vendor_key() {
	local f; f=$(new_manifest globexkey) || return 1
	hostile manifest.rejected tag_mismatch "$f" publish_tagged "$MT" "$f" "" acme-deploy "" "$KEY_GLOBEX_AS_ACME"
}
c_other_vendor_own_k() {
	local f; f=$(new_manifest globexk2) || return 1
	hostile manifest.rejected tag_mismatch "$f" publish_tagged "$MT" "$f" "" acme-deploy "" "$KEY_GLOBEX"
}
c_rogue_key() {
	local f; f=$(new_manifest rogue) || return 1
	hostile manifest.rejected tag_mismatch "$f" publish_tagged "$MT" "$f" "" acme-deploy "" "$KEY_ROGUE"
}
c_not_vendor() {
	local f; f=$(new_manifest mallory) || return 1
	hostile manifest.rejected not_vendor_identity "$f" publish_tagged "$MT" "$f" "" mallory
}
c_other_vendor_identity() {
	local f; f=$(new_manifest globexid) || return 1
	hostile manifest.rejected not_vendor_identity "$f" publish_tagged "$MT" "$f" "" globex-deploy
}
c_device_identity() {
	local f; f=$(new_manifest devid) || return 1
	hostile manifest.rejected not_vendor_identity "$f" publish_tagged "$MT" "$f" "" acme/thermo-x1/dev1
}
c_v311() {
	local f; f=$(new_manifest v311) || return 1
	audit_mark
	next_cid v3
	mqtt_pub acme-deploy "$CID" "$MT" "$f" -V 311 -q 1
	# MQTT 3.1.1 has no PUBACK reason code: the refusal shows in the audit and by non-delivery
	audit_has manifest.rejected mqtt_v5_required || return 1
	broker_alive || return 1
	probe "$f"
}
c_lower_seq() {
	local f=$T/h-lower.json; sign_manifest "$f" $((SEQ - 1)) || return 1
	hostile manifest.rejected sequence_not_newer "$f" publish_tagged "$MT" "$f"
}
c_equal_seq() {
	local f=$T/h-equal.json; VERSION=9.9.9 sign_manifest "$f" "$SEQ" || return 1
	hostile manifest.rejected sequence_not_newer "$f" publish_tagged "$MT" "$f"
}
c_expired() {
	local f; f=$(new_manifest expired --issued $(($(now) - 7200)) --expires $(($(now) - 3600))) || return 1
	hostile manifest.rejected expired "$f" publish_tagged "$MT" "$f"
}
c_issued_future() {
	local f; f=$(new_manifest issuedfut --issued $(($(now) + 7200)) --expires $(($(now) + 90000))) || return 1
	hostile manifest.rejected issued_in_future "$f" publish_tagged "$MT" "$f"
}
c_unknown_key() {
	local f; f=$(KEY=$K/rogue-sign.pem new_manifest unknownkey) || return 1
	hostile manifest.rejected key_unknown "$f" publish_tagged "$MT" "$f"
}
c_other_vendor_sign_key() {
	local f; f=$(KEY=$K/globex-sign.pem new_manifest globexsign) || return 1
	hostile manifest.rejected key_unknown "$f" publish_tagged "$MT" "$f"
}
c_revoked_key() {
	local f; f=$(KEY=$K/acme-revoked.pem new_manifest revoked) || return 1
	hostile manifest.rejected key_revoked "$f" publish_tagged "$MT" "$f"
}
c_second_key() {
	# positive control: the second registered key is accepted
	audit_mark
	local f; f=$(KEY=$K/acme-sign2.pem new_manifest key2) || return 1
	publish_tagged "$MT" "$f"; expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
	audit_has manifest.accepted - sequence="$SEQ" || return 1
	wait_for_payload dev "$MT" "$f" 10
}
c_edited() {
	local f g=$T/h-edited.json; f=$(new_manifest edit) || return 1
	sed 's/"version":"[^"]*"/"version":"6.6.6"/' "$f" > "$g"
	hostile manifest.rejected signature_invalid "$g" publish_tagged "$MT" "$g"
}
c_edited_size() {
	local f g=$T/h-edited2.json; f=$(new_manifest edit2 --no-chunk-digests) || return 1
	sed 's/"expires":[0-9]*/"expires":4102444800/' "$f" > "$g"
	hostile manifest.rejected signature_invalid "$g" publish_tagged "$MT" "$g"
}
c_bad_signature_b64() {
	local f g=$T/h-badsig.json; f=$(new_manifest badsig) || return 1
	sed 's/"signature":"[^"]*"/"signature":"AAAA"/' "$f" > "$g"
	audit_mark
	publish_tagged "$MT" "$g"
	expect_denied || return 1
	audit_has_q manifest.rejected signature_invalid || audit_has manifest.rejected signature_malformed || return 1
	broker_alive && probe "$g"
}
c_unknown_member() {
	local f g=$T/h-unknown.json; f=$(new_manifest unknown) || return 1
	sed 's/^{"format":1,/{"format":1,"extra":1,/' "$f" > "$g"
	hostile manifest.rejected member_unknown "$g" publish_tagged "$MT" "$g"
}
c_duplicate_member() {
	local f g=$T/h-dup.json; f=$(new_manifest dup) || return 1
	sed 's/^{"format":1,/{"format":1,"format":1,/' "$f" > "$g"
	hostile manifest.rejected member_duplicate "$g" publish_tagged "$MT" "$g"
}
c_wrong_type() {
	local f g=$T/h-type.json; f=$(new_manifest type) || return 1
	sed 's/"size":\([0-9]*\)/"size":"\1"/' "$f" > "$g"
	hostile manifest.rejected member_type "$g" publish_tagged "$MT" "$g"
}
c_missing_member() {
	local f g=$T/h-missing.json; f=$(new_manifest missing) || return 1
	sed 's/^{"format":1,/{/' "$f" > "$g"
	hostile manifest.rejected member_missing "$g" publish_tagged "$MT" "$g"
}
c_oversize_image() {
	local img=$T/big.bin f
	head -c $((MAXIMG + 4096)) /dev/urandom > "$img"
	f=$(IMAGE=$img new_manifest bigimg) || return 1
	hostile manifest.rejected image_too_large "$f" publish_tagged "$MT" "$f"
}
c_oversize_manifest() {
	local f g=$T/h-huge.json; f=$(new_manifest huge) || return 1
	{ head -c -1 "$f"; head -c 82000 /dev/zero | tr '\0' ' '; printf '}'; } > "$g"
	hostile manifest.rejected payload_too_large "$g" publish_tagged "$MT" "$g"
}
c_vendor_mismatch() {
	local f; f=$(VENDOR=globex new_manifest vmis) || return 1
	hostile manifest.rejected vendor_mismatch "$f" publish_tagged "$MT" "$f"
}
c_model_mismatch() {
	local f; f=$(MODEL=thermo-x2 new_manifest mmis) || return 1
	hostile manifest.rejected model_mismatch "$f" publish_tagged "$MT" "$f"
}
c_model_not_allowed() {
	local f; f=$(MODEL=toaster new_manifest toaster) || return 1
	hostile manifest.rejected model_not_allowed "$f" publish_tagged "$(mtopic toaster)" "$f"
}
c_unknown_vendor() {
	local f; f=$(VENDOR=initech new_manifest initech) || return 1
	audit_mark
	publish_tagged "$(mtopic thermo-x1 initech)" "$f"
	expect_denied || return 1
	audit_has manifest.rejected unknown_vendor || return 1
	broker_alive && probe "$f"
}
c_truncated() {
	local f g=$T/h-trunc.json; f=$(new_manifest trunc) || return 1
	head -c -20 "$f" > "$g"
	hostile manifest.rejected json_invalid "$g" publish_tagged "$MT" "$g"
}
c_not_utf8() {
	local f g=$T/h-utf8.json; f=$(new_manifest utf8) || return 1
	LC_ALL=C sed "s/\"version\":\"\([^\"]*\)\"/\"version\":\"\1$(printf '\377')\"/" "$f" > "$g"
	LC_ALL=C grep -q "$(printf '\377')" "$g" || fail "could not build the non-UTF-8 payload" || return 1
	hostile manifest.rejected not_utf8 "$g" publish_tagged "$MT" "$g"
}
c_number_70() {
	local f g=$T/h-num.json; f=$(new_manifest num) || return 1
	sed 's/"sequence":\([0-9]*\),/"sequence":\1.0,/' "$f" > "$g"
	hostile manifest.rejected number_invalid "$g" publish_tagged "$MT" "$g"
}
c_number_exp() {
	local f g=$T/h-num2.json; f=$(new_manifest num2) || return 1
	sed 's/"format":1,/"format":1e0,/' "$f" > "$g"
	hostile manifest.rejected number_invalid "$g" publish_tagged "$MT" "$g"
}
c_not_object() {
	local g=$T/h-array.json
	printf '[1,2,3]' > "$g"
	audit_mark
	publish_tagged "$MT" "$g"
	expect_denied || return 1
	audit_has_q manifest.rejected json_not_object || audit_has manifest.rejected json_invalid || return 1
	broker_alive && probe "$g"
}
c_below_floor() {
	local f; f=$(MODEL=thermo-x2 new_manifest floor) || return 1
	# the floor of thermo-x2 is 1000 (trust store)
	hostile manifest.rejected sequence_below_floor "$f" publish_tagged "$(mtopic thermo-x2)" "$f"
}
c_republish() {
	audit_mark
	# a fresh tag: another fw-ts than the first publish (same payload, topic and
	# second would give the same tag, a replay from another client id)
	publish_tagged "$MT" "$CUR_MANIFEST" $((CUR_TS - 1))
	expect_accepted || return 1
	audit_has manifest.republished "" || return 1
	audit_has_q manifest.accepted "" && fail "a re-publish was recorded as manifest.accepted" && return 1
	wait_for_message "$MT" 1 5
}

run_case "forged tag (random HMAC) -> tag_mismatch" c_forged_tag
run_case "absent fw-tag -> tag_missing" c_absent_tag
run_case "no user properties at all -> tag_missing" c_no_props
run_case "stale fw-ts (now-1000) -> tag_stale" c_stale
run_case "future fw-ts (now+1000) -> tag_future" c_future
run_case "fw-ts with a leading zero -> ts_malformed" c_ts_malformed
run_case "fw-tag in upper case -> tag_malformed" c_tag_malformed
run_case "tag replayed from another client id -> tag_replayed" c_replay_other
run_case "old tag re-sent by its own client after a newer manifest -> sequence_not_newer" c_replay_same
run_case "QoS retry of the current manifest by the same client: acknowledged, no event" c_replay_same_current
run_case "tag made with another vendor's ECDH key -> tag_mismatch" c_other_vendor_key
run_case "tag with the other vendor's own tag key -> tag_mismatch" c_other_vendor_own_k
run_case "tag from an unregistered ECDH key -> tag_mismatch" c_rogue_key
run_case "non-vendor identity with a valid tag -> not_vendor_identity" c_not_vendor
run_case "another vendor's identity with a valid tag -> not_vendor_identity" c_other_vendor_identity
run_case "a device identity publishing a manifest -> not_vendor_identity" c_device_identity
run_case "MQTT 3.1.1 publish by the vendor -> mqtt_v5_required" c_v311
run_case "lower sequence -> sequence_not_newer" c_lower_seq
run_case "equal sequence, different content -> sequence_not_newer" c_equal_seq
run_case "expired manifest -> expired" c_expired
run_case "issued in the future -> issued_in_future" c_issued_future
run_case "unknown signing key -> key_unknown" c_unknown_key
run_case "another vendor's signing key -> key_unknown" c_other_vendor_sign_key
run_case "revoked signing key -> key_revoked" c_revoked_key
run_case "second registered signing key is accepted" c_second_key
run_case "version edited after signing -> signature_invalid" c_edited
run_case "expires edited after signing -> signature_invalid" c_edited_size
run_case "signature not a DER ECDSA signature -> signature_invalid|signature_malformed" c_bad_signature_b64
run_case "unknown member -> member_unknown" c_unknown_member
run_case "duplicate member -> member_duplicate" c_duplicate_member
run_case "wrongly typed member (size as string) -> member_type" c_wrong_type
run_case "missing member (format) -> member_missing" c_missing_member
run_case "image larger than max_image_size -> image_too_large" c_oversize_image
run_case "manifest larger than 80 KiB -> payload_too_large" c_oversize_manifest
run_case "vendor in the manifest differs from the topic -> vendor_mismatch" c_vendor_mismatch
run_case "model in the manifest differs from the topic -> model_mismatch" c_model_mismatch
run_case "model not registered for the vendor -> model_not_allowed" c_model_not_allowed
run_case "unregistered vendor topic -> unknown_vendor" c_unknown_vendor
run_case "truncated JSON -> json_invalid" c_truncated
run_case "non-UTF-8 byte in a string -> not_utf8" c_not_utf8
run_case "number 7.0 -> number_invalid" c_number_70
run_case "number 1e0 -> number_invalid" c_number_exp
run_case "JSON array instead of an object -> json_not_object|json_invalid" c_not_object
run_case "sequence below the trust store floor -> sequence_below_floor" c_below_floor
run_case "byte-identical re-publish with a fresh tag -> manifest.republished" c_republish
finish
