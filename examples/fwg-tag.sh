#!/bin/sh
# fwg-tag.sh — the fw-tag user property of a vendor publish (PROTOCOL.md §2, §3).
#
#   fwg-tag.sh [key options] TOPIC TS PAYLOAD_FILE     prints the 64-hex fw-tag
#   fwg-tag.sh [key options] --print-key               prints the tag key K (hex)
#
# key options (or the environment variables in brackets):
#   --vendor-key FILE   vendor ECDH private key, PEM        [FWG_VENDOR_ECDH_KEY]
#   --broker-pub FILE   broker ECDH public key: PEM, or the .pub.b64 form
#                                                           [FWG_BROKER_ECDH_PUB]
#   --vendor ID         vendor id (the HKDF info)           [FWG_VENDOR]
#   --key HEX           use this tag key K directly (skips ECDH + HKDF)
#                                                           [FWG_TAG_KEY]
# TS is Unix seconds ("now" for the current time). PAYLOAD_FILE is the exact
# payload ("-" reads stdin).
#
#   Z = ECDH(vendor_ecdh_private, broker_ecdh_public)
#   K = HKDF-SHA256(IKM=Z, salt="fwguard/v1", info=<vendor id>, L=32)
#   tag = HMAC-SHA256(K, "fwguard-tag-v1" LF topic LF ts LF hex(sha256(payload)))
# Needs: openssl 3 (pkeyutl, kdf, dgst), xxd, sha256sum.
set -eu

die() { echo "fwg-tag.sh: $*" >&2; exit 2; }

vkey=${FWG_VENDOR_ECDH_KEY:-} bpub=${FWG_BROKER_ECDH_PUB:-} vid=${FWG_VENDOR:-} key=${FWG_TAG_KEY:-}
printkey=0
while [ $# -gt 0 ]; do
	case $1 in
	--vendor-key) [ $# -ge 2 ] || die "$1 needs a value"; vkey=$2; shift 2 ;;
	--broker-pub) [ $# -ge 2 ] || die "$1 needs a value"; bpub=$2; shift 2 ;;
	--vendor) [ $# -ge 2 ] || die "$1 needs a value"; vid=$2; shift 2 ;;
	--key) [ $# -ge 2 ] || die "$1 needs a value"; key=$2; shift 2 ;;
	--print-key) printkey=1; shift ;;
	--) shift; break ;;
	-?*) die "unknown option $1" ;;
	*) break ;;
	esac
done

derive_key() {
	[ -f "$vkey" ] || die "no vendor ECDH key (--vendor-key)"
	[ -f "$bpub" ] || die "no broker ECDH public key (--broker-pub)"
	[ -n "$vid" ] || die "no vendor id (--vendor)"
	tmp=$(mktemp)
	if grep -q -- '-----BEGIN' "$bpub"; then
		openssl pkey -pubin -in "$bpub" -outform DER -out "$tmp" 2>/dev/null || { rm -f "$tmp"; die "bad broker public key"; }
	else
		base64 -d < "$bpub" > "$tmp" 2>/dev/null || { rm -f "$tmp"; die "bad broker public key"; }
	fi
	z=$(openssl pkeyutl -derive -inkey "$vkey" -peerkey "$tmp" -peerform DER | xxd -p -c 64) \
		|| { rm -f "$tmp"; die "ECDH failed"; }
	rm -f "$tmp"
	[ "${#z}" -eq 64 ] || die "ECDH gave no 32-byte secret"
	openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$z" \
		-kdfopt salt:fwguard/v1 -kdfopt "info:$vid" HKDF | tr -d ':\n' | tr A-F a-f
}

if [ -z "$key" ]; then key=$(derive_key); fi
case $key in *[!0-9a-f]*) die "bad tag key" ;; esac
[ "${#key}" -eq 64 ] || die "bad tag key length"

if [ "$printkey" -eq 1 ]; then
	printf '%s\n' "$key"
	exit 0
fi

[ $# -eq 3 ] || die "usage: $0 [key options] TOPIC TS PAYLOAD_FILE | --print-key"
topic=$1 ts=$2 file=$3
[ "$ts" = now ] && ts=$(date +%s)
if [ "$file" = - ]; then
	sha=$(sha256sum | cut -c1-64)
else
	[ -f "$file" ] || die "no payload file '$file'"
	sha=$(sha256sum < "$file" | cut -c1-64)
fi
printf 'fwguard-tag-v1\n%s\n%s\n%s' "$topic" "$ts" "$sha" \
	| openssl dgst -sha256 -mac hmac -macopt "hexkey:$key" | sed 's/^.*= *//'
