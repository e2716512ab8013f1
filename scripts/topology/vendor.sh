#!/bin/sh
# vendor.sh ROOT HOST PORT SEQUENCE VERSION [IMAGE] — the vendor's job in a
# topology made by init.sh: sign IMAGE (default: a fresh random sample of
# FWG_IMAGE_KIB KiB [192]) with the vendor key from ROOT/keys, and publish
# the manifest and its chunks, tagged, to the origin at HOST:PORT.
# SEQUENCE "time" uses the current Unix time (always newer on a re-run).
# Writes image.bin and manifest.json to FWG_VENDOR_DIR [ROOT/vendor].
# FWG_VENDOR [acme], FWG_VENDOR_USER [acme-deploy], FWG_MODEL [thermo-x1],
# FWG_CHUNK_SIZE [16384], FWG_VALIDITY seconds [86400].
# Used by scripts/topology.sh and the vendor service of docker/compose.yml.
set -eu
[ $# -ge 5 ] || { echo "usage: $0 ROOT HOST PORT SEQUENCE VERSION [IMAGE]" >&2; exit 2; }
root=$1 host=$2 port=$3 seq=$4 version=$5 image=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
ex=${FWG_EXAMPLES:-$here/../../examples}
vendor=${FWG_VENDOR:-acme} vuser=${FWG_VENDOR_USER:-acme-deploy} model=${FWG_MODEL:-thermo-x1}
out=${FWG_VENDOR_DIR:-$root/vendor}
mkdir -p "$out"
[ "$seq" != time ] || seq=$(date +%s)
if [ -z "$image" ]; then
	image=$out/image.bin
	head -c $((${FWG_IMAGE_KIB:-192} * 1024)) /dev/urandom > "$image.tmp" && mv -f "$image.tmp" "$image"
fi
"$ex/fwg-sign.sh" -o "$out/manifest.json" "$image" "$vendor" "$model" "$version" "$seq" \
	"${FWG_CHUNK_SIZE:-16384}" "${FWG_VALIDITY:-86400}" "$root/keys/vendor-sign.pem"
FWG_PASSWORD=$(cat "$root/secrets/$vuser.pw")
export FWG_PASSWORD
echo "vendor.sh: $vendor/$model $version, sequence $seq, $(wc -c < "$image" | tr -d ' ') bytes -> $host:$port"
exec "$ex/fwg-publish.sh" -h "$host" -p "$port" -u "$vuser" -i "$vuser-$seq" \
	--vendor-key "$root/keys/vendor-ecdh.pem" --broker-pub "$root/keys/broker-ecdh.pub.b64" \
	"$out/manifest.json" "$image"
