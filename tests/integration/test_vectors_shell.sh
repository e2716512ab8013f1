#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# The shell tools of examples/ against the protocol vectors (no broker).
. "$(dirname "$0")/lib.sh"
V=$FWG_VECTORS
E=$FWG_EXAMPLES
exp() { sed -n "s/^$1=//p" "$V/expected.txt"; }

c_key_id() {
	local kid; kid=$(openssl pkey -pubin -in "$V/vendor-sign.pub.pem" -outform DER | sha256sum | cut -c1-16)
	[ "$kid" = "$(exp vendor_sign_key_id)" ] || fail "key id $kid != $(exp vendor_sign_key_id)"
}
c_tag_key() {
	local k; k=$("$E/fwg-tag.sh" --vendor-key "$V/vendor-ecdh.pem" --broker-pub "$V/broker-ecdh.pub.b64" --vendor acme --print-key) || fail "fwg-tag.sh --print-key failed" || return 1
	[ "$k" = "$(exp tag_key_K)" ] || fail "K $k != $(exp tag_key_K)"
}
c_tag_key_pem() {
	local k; k=$(FWG_VENDOR_ECDH_KEY=$V/vendor-ecdh.pem FWG_BROKER_ECDH_PUB=$V/broker-ecdh.pub.pem FWG_VENDOR=acme "$E/fwg-tag.sh" --print-key) || fail "fwg-tag.sh failed" || return 1
	[ "$k" = "$(exp tag_key_K)" ] || fail "K (PEM broker key, env) $k != $(exp tag_key_K)"
}
c_tag_base() {
	local sha; sha=$(sha256sum < "$V/manifest.json" | cut -c1-64)
	[ "$sha" = "$(exp manifest_sha256)" ] || fail "manifest sha $sha" || return 1
	printf 'fwguard-tag-v1\n%s\n%s\n%s' "$(exp manifest_topic)" "$(exp manifest_tag_ts)" "$sha" > "$T/tb"
	cmp -s "$T/tb" "$V/tag-base-manifest.txt" || fail "tag base differs from tag-base-manifest.txt"
}
c_manifest_tag() {
	local t; t=$("$E/fwg-tag.sh" --vendor-key "$V/vendor-ecdh.pem" --broker-pub "$V/broker-ecdh.pub.pem" --vendor acme \
		"$(exp manifest_topic)" "$(exp manifest_tag_ts)" "$V/manifest.json") || fail "fwg-tag.sh failed" || return 1
	[ "$t" = "$(exp manifest_tag)" ] || fail "manifest tag $t != $(exp manifest_tag)"
}
c_chunk_tag() {
	local t; t=$("$E/fwg-tag.sh" --key "$(exp tag_key_K)" "$(exp chunk1_topic)" "$(exp chunk1_tag_ts)" "$V/chunk-1.bin") || fail "fwg-tag.sh failed" || return 1
	[ "$t" = "$(exp chunk1_tag)" ] || fail "chunk tag $t != $(exp chunk1_tag)"
}
c_tag_stdin() {
	local t; t=$("$E/fwg-tag.sh" --key "$(exp tag_key_K)" "$(exp chunk1_topic)" "$(exp chunk1_tag_ts)" - < "$V/chunk-1.bin")
	[ "$t" = "$(exp chunk1_tag)" ] || fail "chunk tag from stdin $t"
}
sign_vec() { "$E/fwg-sign.sh" --issued 1764115200 --expires 4102444800 "$@" "$V/image.bin" acme thermo-x1 1.4.2 7 1024 100 "$V/vendor-sign.pem"; }
strip_sig() { sed 's/"signature":"[^"]*"//' "$1"; }
c_sign_base() {
	sign_vec --base-out "$T/base" -o "$T/m.json" || fail "fwg-sign.sh failed" || return 1
	cmp -s "$T/base" "$V/signing-base.txt" || fail "signing base differs from signing-base.txt" || return 1
	[ "$(strip_sig "$T/m.json")" = "$(strip_sig "$V/manifest.json")" ] || fail "manifest members differ from manifest.json"
}
c_sign_verifies() {
	local sig; sig=$(sed -n 's/.*"signature":"\([^"]*\)".*/\1/p' "$T/m.json")
	printf '%s' "$sig" | base64 -d > "$T/sig"
	openssl dgst -sha256 -verify "$V/vendor-sign.pub.pem" -signature "$T/sig" "$V/signing-base.txt" > /dev/null \
		|| fail "signature of fwg-sign.sh does not verify"
}
c_sign_nochunks() {
	sign_vec --no-chunk-digests --base-out "$T/base2" -o "$T/m2.json" || fail "fwg-sign.sh failed" || return 1
	cmp -s "$T/base2" "$V/signing-base-nochunks.txt" || fail "signing base differs from signing-base-nochunks.txt" || return 1
	[ "$(strip_sig "$T/m2.json")" = "$(strip_sig "$V/manifest-nochunks.json")" ] || fail "manifest differs from manifest-nochunks.json"
}
c_vector_sig() {
	sed -n 's/.*"signature":"\([^"]*\)".*/\1/p' "$V/manifest.json" | base64 -d > "$T/vsig"
	openssl dgst -sha256 -verify "$V/vendor-sign.pub.pem" -signature "$T/vsig" "$V/signing-base.txt" > /dev/null \
		|| fail "vector signature does not verify"
}
c_tampered() {
	# the signing base of the tampered manifest: version 1.4.3
	sed 's/^1\.4\.2$/1.4.3/' "$V/signing-base.txt" > "$T/tb3"
	printf '%s' "$(cat "$T/tb3")" > "$T/tb3n"
	sed -n 's/.*"signature":"\([^"]*\)".*/\1/p' "$V/manifest-tampered.json" | base64 -d > "$T/tsig"
	! openssl dgst -sha256 -verify "$V/vendor-sign.pub.pem" -signature "$T/tsig" "$T/tb3n" > /dev/null 2>&1 \
		|| fail "tampered manifest verifies"
}
c_keys() {
	"$E/fwg-keys.sh" "$T/k" > /dev/null 2>&1 || fail "fwg-keys.sh failed" || return 1
	local n
	for n in vendor-sign vendor-ecdh broker-ecdh; do
		[ "$(stat -c %a "$T/k/$n.pem")" = 600 ] || fail "$n.pem is not 0600" || return 1
		openssl pkey -in "$T/k/$n.pem" -noout -text 2>/dev/null | grep -q 'prime256v1\|P-256' || fail "$n.pem not P-256" || return 1
		[ "$(base64 -d < "$T/k/$n.pub.b64" | sha256sum)" = "$(openssl pkey -pubin -in "$T/k/$n.pub.pem" -outform DER | sha256sum)" ] \
			|| fail "$n.pub.b64 and $n.pub.pem differ" || return 1
		[ "$(tail -c 1 "$T/k/$n.pub.b64" | od -An -c | tr -d ' ')" != '\n' ] || fail "$n.pub.b64 ends with a newline" || return 1
	done
	local before; before=$(sha256sum < "$T/k/vendor-sign.pem")
	"$E/fwg-keys.sh" "$T/k" > /dev/null 2>&1
	[ "$before" = "$(sha256sum < "$T/k/vendor-sign.pem")" ] || fail "fwg-keys.sh replaced an existing key without --force"
}
c_keys_ecdh() {
	# both directions of ECDH give the same Z (the broker side of §2)
	local a b
	a=$(openssl pkeyutl -derive -inkey "$T/k/vendor-ecdh.pem" -peerkey "$T/k/broker-ecdh.pub.pem" | xxd -p -c 64)
	b=$(openssl pkeyutl -derive -inkey "$T/k/broker-ecdh.pem" -peerkey "$T/k/vendor-ecdh.pub.pem" | xxd -p -c 64)
	if [ -z "$a" ] || [ "$a" != "$b" ]; then fail "ECDH differs: $a / $b"; fi
}
c_trust_store() {
	"$E/fwg-trust-store.sh" acme acme-deploy "$V/vendor-ecdh.pub.b64" "$V/vendor-sign.pub.pem" thermo-x1 > "$T/ts.json" || fail "fwg-trust-store.sh failed" || return 1
	python3 - "$T/ts.json" "$(cat "$V/vendor-ecdh.pub.b64")" "$(cat "$V/vendor-sign.pub.b64")" <<'PY' || fail "trust store content wrong: $(cat "$T/ts.json")"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["vendors"]
assert len(v) == 1 and v[0]["id"] == "acme" and v[0]["usernames"] == ["acme-deploy"]
assert v[0]["ecdh_public_key"] == sys.argv[2]
assert v[0]["signing_keys"] == [{"public_key": sys.argv[3], "revoked": False}]
assert v[0]["models"] == ["thermo-x1"]
PY
}
c_trust_store_long() {
	"$E/fwg-trust-store.sh" --vendor acme --username acme-deploy --username 'we"ird\u' --ecdh "$V/vendor-ecdh.pem" \
		--sign "$V/vendor-sign.pub.b64" --revoked "$V/broker-ecdh.pub.pem" --min-sequence thermo-x1=5 \
		--vendor globex --username g --ecdh "$V/broker-ecdh.pub.b64" --sign "$V/vendor-sign.pem" > "$T/ts2.json" || fail "failed" || return 1
	python3 - "$T/ts2.json" <<'PY' || fail "trust store content wrong: $(cat "$T/ts2.json")"
import json, sys
d = json.load(open(sys.argv[1]))["vendors"]
assert [x["id"] for x in d] == ["acme", "globex"]
assert d[0]["usernames"] == ["acme-deploy", 'we"ird\\u']
assert [k["revoked"] for k in d[0]["signing_keys"]] == [False, True]
assert d[0]["min_sequence"] == {"thermo-x1": 5} and "models" not in d[0]
assert d[1]["signing_keys"][0]["public_key"] == d[0]["signing_keys"][0]["public_key"]
PY
}
c_trust_store_bad() {
	! "$E/fwg-trust-store.sh" acme acme-deploy notakey "$V/vendor-sign.pub.b64" > /dev/null 2>&1 || fail "accepted a bad key" || return 1
	! "$E/fwg-trust-store.sh" 'a/b' u "$V/vendor-ecdh.pub.b64" "$V/vendor-sign.pub.b64" > /dev/null 2>&1 || fail "accepted a bad vendor id"
}
c_sign_refuses() {
	! "$E/fwg-sign.sh" "$V/image.bin" acme thermo-x1 '1 2' 7 1024 100 "$V/vendor-sign.pem" > /dev/null 2>&1 || fail "bad version accepted" || return 1
	! "$E/fwg-sign.sh" "$V/image.bin" acme thermo-x1 1.0 7 100 100 "$V/vendor-sign.pem" > /dev/null 2>&1 || fail "chunk size 100 accepted" || return 1
	! "$E/fwg-sign.sh" "$V/image.bin" acme thermo-x1 1.0 07 1024 100 "$V/vendor-sign.pem" > /dev/null 2>&1 || fail "sequence 07 accepted"
}
c_shellcheck() {
	if ! command -v shellcheck > /dev/null; then note "shellcheck not installed: skipped"; return 0; fi
	local out
	out=$(shellcheck "$E"/*.sh 2>&1 && shellcheck -s bash -x -P "$LIB_DIR" "$LIB_DIR"/*.sh 2>&1) || fail "$out"
}

run_case "key_id of the vector signing key (openssl)" c_key_id
run_case "fwg-tag.sh --print-key = tag_key_K (b64 broker key)" c_tag_key
run_case "fwg-tag.sh --print-key = tag_key_K (PEM broker key, env)" c_tag_key_pem
run_case "printf tag base = tag-base-manifest.txt" c_tag_base
run_case "fwg-tag.sh manifest tag = manifest_tag" c_manifest_tag
run_case "fwg-tag.sh chunk tag = chunk1_tag (--key)" c_chunk_tag
run_case "fwg-tag.sh reads the payload from stdin" c_tag_stdin
run_case "fwg-sign.sh signing base = signing-base.txt, JSON = manifest.json" c_sign_base
run_case "fwg-sign.sh signature verifies (openssl dgst -verify)" c_sign_verifies
run_case "fwg-sign.sh --no-chunk-digests = the nochunks vectors" c_sign_nochunks
run_case "vector manifest.json signature verifies" c_vector_sig
run_case "manifest-tampered.json does not verify" c_tampered
run_case "fwg-keys.sh: P-256, 0600, .pub.b64 = DER of .pub.pem, keeps keys" c_keys
run_case "fwg-keys.sh keys: ECDH agrees both ways" c_keys_ecdh
run_case "fwg-trust-store.sh short form" c_trust_store
run_case "fwg-trust-store.sh long form (2 vendors, revoked, floors, escaping)" c_trust_store_long
run_case "fwg-trust-store.sh refuses bad keys and ids" c_trust_store_bad
run_case "fwg-sign.sh refuses bad version / chunk size / sequence" c_sign_refuses
run_case "shellcheck of examples/ and tests/integration/" c_shellcheck
finish
