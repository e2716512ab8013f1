#!/bin/bash
# fwguard keygen/pubkey/tagkey/sign/verify/audit without a broker: exit
# codes, exact error messages, interoperability with openssl, and (when
# valgrind is installed) no memory errors or leaks on these paths.
. "$(dirname "$0")/lib.sh"

VG=()
if command -v valgrind >/dev/null && [ "${FWG_NO_VALGRIND:-0}" != 1 ]; then
	VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
fi
cd "$T" || exit 99
mkdir -p "$K"
# run EXPECTED_RC CMD...: output in $T/out
run() {
	local want=$1; shift
	"$@" > "$T/out" 2>&1
	local got=$?
	[ "$got" = "$want" ] || fail "exit $got (wanted $want) from: $* -- $(head -c 600 "$T/out")"
}
has() { grep -qF -- "$1" "$T/out" || fail "output lacks '$1': $(head -c 600 "$T/out")"; }

t_keygen() {
	run 0 "${VG[@]}" "$FWG" keygen --sign "$K/vendor-sign.pem" || return 1
	run 0 "$FWG" keygen --ecdh "$K/vendor-ecdh.pem" || return 1
	run 0 "$FWG" keygen --ecdh "$K/broker-ecdh.pem" || return 1
	run 0 "$FWG" keygen --sign "$K/rogue-sign.pem" || return 1
	[ "$(stat -c %a "$K/vendor-sign.pem")" = 600 ] || fail "private key mode $(stat -c %a "$K/vendor-sign.pem")" || return 1
	local before; before=$(sha256sum < "$K/vendor-sign.pem")
	run 2 "$FWG" keygen --sign "$K/vendor-sign.pem" || return 1
	has "fwguard keygen: '$K/vendor-sign.pem' exists: refusing to overwrite a key" || return 1
	[ "$(sha256sum < "$K/vendor-sign.pem")" = "$before" ] || fail "the key was overwritten"
}
t_keygen_usage() {
	run 2 "$FWG" keygen "$K/x.pem" || return 1
	run 2 "$FWG" keygen --sign --bogus "$K/x.pem" || return 1
	has "fwguard keygen: unknown option '--bogus'" || return 1
	run 2 "$FWG" frobnicate || return 1
	has "fwguard: invalid subcommand 'frobnicate'"
}
t_pubkey() {
	run 0 "${VG[@]}" "$FWG" pubkey "$K/vendor-sign.pem" || return 1
	local b64 kid
	b64=$(sed -n 1p "$T/out") kid=$(sed -n 2p "$T/out")
	[ "$b64" = "$(openssl pkey -in "$K/vendor-sign.pem" -pubout -outform DER | base64 -w0)" ] || fail "pubkey differs from openssl" || return 1
	[ "$kid" = "$(openssl pkey -in "$K/vendor-sign.pem" -pubout -outform DER | sha256sum | cut -c1-16)" ] || fail "key id differs" || return 1
	[ "$b64" = "$(cat "$K/vendor-sign.pem.pub.b64")" ] || fail ".pub.b64 differs" || return 1
	run 0 "$FWG" pubkey "$K/vendor-sign.pem.pub.b64" || return 1
	[ "$(sed -n 2p "$T/out")" = "$kid" ] || fail "key id of .pub.b64 differs" || return 1
	echo garbage > "$T/bad.b64"
	run 2 "$FWG" pubkey "$T/bad.b64" || return 1
	has "fwguard pubkey: '$T/bad.b64' is not a P-256 public key (base64 DER SPKI or PEM)"
}
t_tagkey() {
	run 0 "${VG[@]}" "$FWG" tagkey --vendor acme --vendor-key "$K/vendor-ecdh.pem" --broker-pub "$K/broker-ecdh.pem.pub.b64" || return 1
	local a; a=$(cat "$T/out")
	run 0 "$FWG" tagkey --vendor acme --broker-key "$K/broker-ecdh.pem" --vendor-pub "$K/vendor-ecdh.pem.pub.b64" || return 1
	[ "$a" = "$(cat "$T/out")" ] || fail "the two sides differ: $a / $(cat "$T/out")" || return 1
	# the shell equivalent of PROTOCOL §2
	openssl pkey -in "$K/broker-ecdh.pem" -pubout -out "$T/broker.pub.pem"
	local z k
	z=$(openssl pkeyutl -derive -inkey "$K/vendor-ecdh.pem" -peerkey "$T/broker.pub.pem" | xxd -p -c 64)
	k=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:"$z" -kdfopt salt:fwguard/v1 \
		-kdfopt info:acme HKDF | tr -d : | tr A-F a-f)
	[ "$a" = "$(printf '%s' "$k" | xxd -r -p | sha256sum | cut -c1-16)" ] || fail "fingerprint differs from openssl's K" || return 1
	[ "${#a}" = 16 ] && ! grep -q "$k" "$T/out" || fail "the key itself was printed" || return 1
	run 0 "$FWG" tagkey --vendor globex --vendor-key "$K/vendor-ecdh.pem" --broker-pub "$K/broker-ecdh.pem.pub.b64" || return 1
	[ "$a" != "$(cat "$T/out")" ] || fail "vendor id not in the derivation" || return 1
	run 2 "$FWG" tagkey --vendor 'a/b' --vendor-key "$K/vendor-ecdh.pem" --broker-pub "$K/broker-ecdh.pem.pub.b64" || return 1
	has "fwguard tagkey: invalid vendor 'a/b'"
}
t_sign_verify() {
	head -c 300000 /dev/urandom > "$T/img"
	run 0 "${VG[@]}" "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 1.2.3 \
		--sequence 7 --chunk-size 4096 -o "$T/m.json" "$T/img" || return 1
	run 0 "${VG[@]}" "$FWG" verify --pin "$K/vendor-sign.pem.pub.b64" --vendor acme --model thermo-x1 "$T/m.json" "$T/img" || return 1
	has "size and sha256 match" || return 1
	# the signature verifies with openssl over the signing base of §5
	python3 - "$T/m.json" > "$T/base" <<'PY' || return 1
import json, sys
m = json.load(open(sys.argv[1]))
sys.stdout.write("\n".join(["fwguard-manifest-v1", m["vendor"], m["model"], m["version"], str(m["sequence"]),
    str(m["size"]), m["sha256"], str(m["chunk_size"]), str(m["issued"]), str(m["expires"]), m["key_id"],
    ",".join(m.get("chunk_sha256", []))]))
PY
	python3 -c 'import json,sys,base64; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["signature"]))' "$T/m.json" > "$T/sig"
	openssl pkey -in "$K/vendor-sign.pem" -pubout -out "$T/sign.pub.pem"
	openssl dgst -sha256 -verify "$T/sign.pub.pem" -signature "$T/sig" "$T/base" >/dev/null || fail "openssl does not verify the signature"
}
t_verify_failures() {
	run 1 "$FWG" verify --pin "$K/rogue-sign.pem.pub.b64" "$T/m.json" || return 1
	has "FAILED key_unknown" || return 1
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" --model thermo-x2 "$T/m.json" || return 1
	has "FAILED model_mismatch" || return 1
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" --vendor globex "$T/m.json" || return 1
	has "FAILED vendor_mismatch" || return 1
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" --installed 7 "$T/m.json" || return 1
	has "FAILED sequence_not_newer" || return 1
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" --now 99999999999 "$T/m.json" || return 1
	has "FAILED expired" || return 1
	sed 's/"version":"1.2.3"/"version":"1.2.4"/' "$T/m.json" > "$T/m-edit.json"
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" "$T/m-edit.json" || return 1
	has "FAILED signature_invalid" || return 1
	sed 's/"sequence":7/"sequence":7.0/' "$T/m.json" > "$T/m-num.json"
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" "$T/m-num.json" || return 1
	has "FAILED number_invalid" || return 1
	cp "$T/img" "$T/img-t"; printf 'X' | dd of="$T/img-t" bs=1 seek=10000 conv=notrunc 2>/dev/null
	run 1 "${VG[@]}" "$FWG" verify --pin "$K/vendor-sign.pem" "$T/m.json" "$T/img-t" || return 1
	has "FAILED chunk_digest_mismatch: chunk 2" || return 1
	run 0 "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 1.2.3 \
		--sequence 7 --chunk-size 4096 --no-chunk-digests -o "$T/m-nd.json" "$T/img" || return 1
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" "$T/m-nd.json" "$T/img-t" || return 1
	has "FAILED image_digest_mismatch" || return 1
	head -c 299999 "$T/img" > "$T/img-short"
	run 1 "$FWG" verify --pin "$K/vendor-sign.pem" "$T/m.json" "$T/img-short" || return 1
	has "FAILED image_size_mismatch"
}
t_sign_usage() {
	run 2 "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 1 --sequence 01 "$T/img" || return 1
	has "fwguard sign: invalid sequence '01'" || return 1
	run 2 "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 'a b' --sequence 1 "$T/img" || return 1
	has "fwguard sign: invalid version 'a b'" || return 1
	run 2 "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 1 --sequence 1 --chunk-size 100 "$T/img" || return 1
	has "fwguard sign: invalid chunk size '100'" || return 1
	run 2 "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 1 --sequence 1 --chunk-size 256 "$T/img" || return 1
	has "needs 1172 chunks of 256 bytes (at most 1024)" || return 1
	run 2 "$FWG" sign --key "$T/nokey.pem" --vendor acme --model thermo-x1 --version 1 --sequence 1 "$T/img" || return 1
	has "fwguard sign: cannot load private key '$T/nokey.pem'" || return 1
	run 2 "$FWG" sign --key "$K/vendor-sign.pem" --vendor acme --model thermo-x1 --version 1 --sequence "$T/img" || return 1
	run 2 "$FWG" verify "$T/m.json" --pin || return 1
	has "fwguard verify: option '--pin' needs a value"
}
t_audit() {
	python3 - "$T/audit" <<'PY'
import hashlib, json, sys
prev, out = "0" * 64, b""
for i, ev in enumerate(["plugin.started", "manifest.accepted", "device.status", "device.status"]):
    line = json.dumps({"ts": "2026-01-01T00:00:00.000Z", "event": ev, "prev": prev}, separators=(",", ":")).encode()
    out += line + b"\n"; prev = hashlib.sha256(line).hexdigest()
open(sys.argv[1], "wb").write(out)
PY
	run 0 "${VG[@]}" "$FWG" audit verify "$T/audit" || return 1
	has "4 records, hash chain intact" || return 1
	grep -qE '^ +2  device.status$' "$T/out" || fail "no count of device.status: $(cat "$T/out")" || return 1
	sed -i '3s/device.status/device.statuz/' "$T/audit"
	run 1 "$FWG" audit verify "$T/audit" || return 1
	has "hash chain broken at line 4" || return 1
	run 2 "$FWG" audit verify "$T/none" || return 1
	run 2 "$FWG" audit check "$T/audit" || return 1
	has "fwguard audit: invalid audit subcommand 'check'"
}

run_case "keygen writes 0600 keys with O_EXCL and never overwrites" t_keygen
run_case "usage errors exit 2 and quote the bad value" t_keygen_usage
run_case "pubkey prints the base64 SPKI and key id of openssl" t_pubkey
run_case "tagkey: both sides and the openssl recipe of §2 agree; K is not printed" t_tagkey
run_case "sign makes a manifest that verify and openssl accept" t_sign_verify
run_case "verify names the failed check with the reasons of fwguard.h" t_verify_failures
run_case "sign refuses bad values, quoting them" t_sign_usage
run_case "audit verify counts events and names the broken line" t_audit
[ ${#VG[@]} -gt 0 ] && note "keygen/pubkey/tagkey/sign/verify/audit ran under valgrind"
finish
