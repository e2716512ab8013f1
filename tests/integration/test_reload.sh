#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# SIGHUP re-reads the trust store; a broken one keeps the old (PROTOCOL §10).
. "$(dirname "$0")/lib.sh"
fwg_init
if ! std_setup "plugin_opt_other_topics allow"; then
	not_ok "broker with the plugin starts and takes a first manifest" "$(tail -5 "$LOG" 2>/dev/null)"
	finish
fi
ok "broker with the plugin starts and takes a first manifest"
MT=$(mtopic)
hup() { kill -HUP "$BROKER_PID"; }

c_key2_ok() {
	local f=$T/k2a.json; KEY=$K/acme-sign2.pem sign_manifest "$f" $((SEQ + 1)) || return 1
	publish_tagged "$MT" "$f"; expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
}
c_broken_store() {
	audit_mark
	printf '{"vendors": [ {"id": "acme", ' > "$T/vendors.json"
	hup
	audit_wait 10 config.reload_failed "" || return 1
	broker_alive || return 1
	local f=$T/k2b.json; KEY=$K/acme-sign2.pem sign_manifest "$f" $((SEQ + 1)) || return 1
	publish_tagged "$MT" "$f"; expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
}
c_revoke() {
	audit_mark
	"$FWG_EXAMPLES/fwg-trust-store.sh" \
		--vendor acme --username acme-deploy --ecdh "$K/vendor-ecdh.pub.b64" \
		--sign "$K/vendor-sign.pub.b64" --revoked "$K/acme-sign2.pub.b64" --revoked "$K/acme-revoked.pub.b64" \
		--model thermo-x1 --model thermo-x2 \
		--vendor globex --username globex-deploy --ecdh "$K/globex-ecdh.pub.b64" --sign "$K/globex-sign.pub.b64" \
		> "$T/vendors.json.new" && mv "$T/vendors.json.new" "$T/vendors.json"
	hup
	audit_wait 10 config.reloaded "" || return 1
	local f=$T/k2c.json; KEY=$K/acme-sign2.pem sign_manifest "$f" $((SEQ + 1)) || return 1
	hostile manifest.rejected key_revoked "$f" publish_tagged "$MT" "$f"
}
c_other_key_ok() {
	local f=$T/k1.json; sign_manifest "$f" $((SEQ + 1)) || return 1
	publish_tagged "$MT" "$f"; expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
}
c_remove_vendor_model() {
	# drop thermo-x2 from the models: its manifests become model_not_allowed
	audit_mark
	"$FWG_EXAMPLES/fwg-trust-store.sh" \
		--vendor acme --username acme-deploy --ecdh "$K/vendor-ecdh.pub.b64" --sign "$K/vendor-sign.pub.b64" \
		--model thermo-x1 > "$T/vendors.json.new" && mv "$T/vendors.json.new" "$T/vendors.json"
	hup
	audit_wait 10 config.reloaded "" || return 1
	local f=$T/x2.json; MODEL=thermo-x2 sign_manifest "$f" 2000 || return 1
	hostile manifest.rejected model_not_allowed "$f" publish_tagged "$(mtopic thermo-x2)" "$f"
}
c_globex_gone() {
	audit_mark
	local f=$T/gx.json; VENDOR=globex KEY=$K/globex-sign.pem sign_manifest "$f" 1 || return 1
	publish_tagged "$PREFIX/globex/thermo-x1/manifest" "$f" "" globex-deploy "" "$KEY_GLOBEX"
	expect_denied || return 1
	audit_has manifest.rejected unknown_vendor
}

run_case "second signing key accepted before the reload" c_key2_ok
run_case "broken trust store + SIGHUP -> config.reload_failed, old store in force" c_broken_store
run_case "key revoked + SIGHUP -> config.reloaded, key_revoked" c_revoke
run_case "the other signing key still accepted" c_other_key_ok
run_case "model removed + SIGHUP -> model_not_allowed" c_remove_vendor_model
run_case "vendor removed + SIGHUP -> unknown_vendor" c_globex_gone
finish
