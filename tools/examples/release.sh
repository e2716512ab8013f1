#!/bin/sh
# release.sh — a vendor's release step with the fwguard CLI: sign an image,
# check the manifest offline as a device would, then publish it.
#   release.sh IMAGE VERSION SEQUENCE
# Environment: FWG_KEYS (directory with vendor-sign.pem, vendor-ecdh.pem and
# broker-ecdh.pub.b64), FWG_VENDOR, FWG_MODEL, FWG_HOST, FWG_PORT,
# FWG_USERNAME, FWG_PASSWORD, FWG_CAFILE (optional: TLS).
set -eu
[ $# -eq 3 ] || { echo "usage: $0 IMAGE VERSION SEQUENCE" >&2; exit 2; }
image=$1 version=$2 seq=$3
keys=${FWG_KEYS:?set FWG_KEYS} vendor=${FWG_VENDOR:?} model=${FWG_MODEL:?}
manifest=${image%.*}-$seq.manifest.json
fwguard sign --key "$keys/vendor-sign.pem" --vendor "$vendor" --model "$model" \
	--version "$version" --sequence "$seq" -o "$manifest" "$image"
fwguard verify --pin "$keys/vendor-sign.pem.pub.b64" --vendor "$vendor" --model "$model" "$manifest" "$image"
set -- -h "${FWG_HOST:-localhost}" -u "${FWG_USERNAME:?}"
[ -z "${FWG_PORT:-}" ] || set -- "$@" -p "$FWG_PORT"
[ -z "${FWG_CAFILE:-}" ] || set -- "$@" --cafile "$FWG_CAFILE"
fwguard publish "$@" --vendor-key "$keys/vendor-ecdh.pem" --broker-pub "$keys/broker-ecdh.pub.b64" \
	"$manifest" "$image"
