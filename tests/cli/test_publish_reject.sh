#!/bin/bash
# fwguard publish against the broker with the plugin: an accepted rollout
# exits 0; a refused manifest or chunk exits 1 and prints the broker's reason
# (read from the model's events topic).
. "$(dirname "$0")/lib.sh"
cli_init
"$FWG" keygen --ecdh "$K/rogue-ecdh.pem" > /dev/null || exit 99
write_trust_store
write_conf plugin
start_broker || exit 99
head -c 200000 /dev/urandom > "$T/img"
has() { grep -qF -- "$1" "$T/publish.out" || fail "publish output lacks '$1': $(head -c 800 "$T/publish.out")"; }

t_accepted() {
	sign "$T/img" 2 "$T/m2.json" --chunk-size 16384 || fail "sign failed" || return 1
	publish "$T/m2.json" "$T/img"
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")" || return 1
	has "manifest and 13 chunks" && has "0 refused"
}
t_rollback() {
	sign "$T/img" 1 "$T/m1.json" --chunk-size 16384 || return 1
	publish "$T/m1.json" "$T/img"
	[ "$PUB_RC" = 1 ] || fail "exit $PUB_RC, wanted 1: $(cat "$T/publish.out")" || return 1
	has "PUBACK 0x87" && has "manifest.rejected fw/acme/thermo-x1/manifest: sequence_not_newer" && ! has "published fw/acme/thermo-x1/chunk" 2>/dev/null
}
t_unknown_key() {
	"$FWG" sign --key "$K/rogue-sign.pem" --vendor acme --model thermo-x1 --version 6.6.6 --sequence 3 \
		-o "$T/m-rogue.json" "$T/img" 2>/dev/null || return 1
	publish "$T/m-rogue.json" "$T/img"
	[ "$PUB_RC" = 1 ] || fail "exit $PUB_RC, wanted 1" || return 1
	has "key_unknown"
}
t_wrong_tag_key() {
	sign "$T/img" 4 "$T/m4.json" || return 1
	timeout 60 "$FWG" publish -h 127.0.0.1 -p "$PORT" -u acme-deploy -P "$PASSWORD" \
		--vendor-key "$K/rogue-ecdh.pem" --broker-pub "$K/broker-ecdh.pem.pub.b64" "$T/m4.json" "$T/img" \
		> "$T/publish.out" 2>&1
	PUB_RC=$?
	[ "$PUB_RC" = 1 ] || fail "exit $PUB_RC, wanted 1" || return 1
	has "tag_mismatch"
}
t_chunk_refused() {
	# chunks of a sequence that is not the accepted one
	sign "$T/img" 9 "$T/m9.json" --chunk-size 16384 || return 1
	publish "$T/m9.json" "$T/img" --chunks-only
	[ "$PUB_RC" = 1 ] || fail "exit $PUB_RC, wanted 1: $(cat "$T/publish.out")" || return 1
	has "chunk.rejected" && has "chunk_sequence_mismatch" && has "13 refused"
}
t_mismatched_image() {
	head -c 200000 /dev/urandom > "$T/img2"
	publish "$T/m2.json" "$T/img2"
	[ "$PUB_RC" = 1 ] || fail "exit $PUB_RC, wanted 1" || return 1
	has "fwguard publish: image '$T/img2' does not match manifest '$T/m2.json': chunk_digest_mismatch"
}
t_usage() {
	"$FWG" publish -p 0 x y > "$T/publish.out" 2>&1; PUB_RC=$?
	[ "$PUB_RC" = 2 ] || fail "exit $PUB_RC, wanted 2" || return 1
	has "fwguard publish: invalid port '0'"
}

run_case "publish of an accepted manifest and its chunks exits 0" t_accepted
run_case "a rolled-back manifest: exit 1, PUBACK 0x87 and the reason sequence_not_newer" t_rollback
run_case "a manifest signed by an unregistered key: exit 1, key_unknown" t_unknown_key
run_case "a tag made with the wrong ECDH key: exit 1, tag_mismatch" t_wrong_tag_key
run_case "refused chunks: exit 1, chunk.rejected with its reason" t_chunk_refused
run_case "an image that does not match the manifest is not published" t_mismatched_image
run_case "usage errors exit 2 and quote the value" t_usage
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
