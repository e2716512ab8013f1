#!/bin/sh
# fwg-publish.sh — publish a signed manifest, then the image's chunks, each
# tagged (PROTOCOL.md §3, §4), with mosquitto_pub -V 5 -q 1.
#
#   fwg-publish.sh [options] MANIFEST IMAGE
#
# options (environment variables in brackets):
#   -h HOST  (localhost) [FWG_HOST]        -p PORT (1883) [FWG_PORT]
#   -u USER              [FWG_USERNAME]    -P PASS        [FWG_PASSWORD]
#   -i CLIENT_ID         [FWG_CLIENT_ID]   (default: fwg-publish-<pid>)
#   --prefix P (fw)      [FWG_PREFIX]
#   --vendor-key FILE    vendor ECDH private key        [FWG_VENDOR_ECDH_KEY]
#   --broker-pub FILE    broker ECDH public key (PEM or .pub.b64) [FWG_BROKER_ECDH_PUB]
#   --key HEX            the tag key K instead of the two keys above [FWG_TAG_KEY]
#   --manifest-only | --chunks-only
#   -- ARGS...           further arguments for mosquitto_pub (e.g. --cafile ...)
# Vendor id, model, sequence and chunk size are read from the manifest, which
# must be the compact JSON fwg-sign.sh writes.
# Exits non-zero as soon as one publish fails (mosquitto_pub reports
# "failed", e.g. "Publish 1 failed: Not authorized." for a PUBACK 0x87).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "fwg-publish.sh: $*" >&2; exit 2; }

host=${FWG_HOST:-localhost} port=${FWG_PORT:-1883} user=${FWG_USERNAME:-} pass=${FWG_PASSWORD:-}
cid=${FWG_CLIENT_ID:-fwg-publish-$$} prefix=${FWG_PREFIX:-fw}
vkey=${FWG_VENDOR_ECDH_KEY:-} bpub=${FWG_BROKER_ECDH_PUB:-} key=${FWG_TAG_KEY:-}
do_manifest=1 do_chunks=1
while [ $# -gt 0 ]; do
	case $1 in
	-h|-p|-u|-P|-i|--prefix|--vendor-key|--broker-pub|--key)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		-h) host=$2 ;; -p) port=$2 ;; -u) user=$2 ;; -P) pass=$2 ;; -i) cid=$2 ;;
		--prefix) prefix=$2 ;; --vendor-key) vkey=$2 ;; --broker-pub) bpub=$2 ;; --key) key=$2 ;;
		esac
		shift 2 ;;
	--manifest-only) do_chunks=0; shift ;;
	--chunks-only) do_manifest=0; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || die "usage: $0 [options] MANIFEST IMAGE [-- mosquitto_pub args]"
manifest=$1 image=$2; shift 2
[ "${1:-}" != -- ] || shift
[ -f "$manifest" ] || die "no manifest '$manifest'"
[ -f "$image" ] || die "no image '$image'"

# Members of the compact manifest JSON (see the limitation in README.md).
jstr() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$manifest"; }
jnum() { sed -n "s/.*\"$1\":\([0-9][0-9]*\)[,}].*/\1/p" "$manifest"; }
vendor=$(jstr vendor) model=$(jstr model) seq=$(jnum sequence) csize=$(jnum chunk_size) size=$(jnum size)
if [ -z "$vendor" ] || [ -z "$model" ] || [ -z "$seq" ] || [ -z "$csize" ] || [ -z "$size" ]; then
	die "cannot read vendor/model/sequence/chunk_size/size from $manifest"
fi
[ "$(wc -c < "$image" | tr -d ' ')" = "$size" ] || die "image size differs from the manifest's size"

if [ -z "$key" ]; then
	key=$("$here/fwg-tag.sh" --vendor-key "$vkey" --broker-pub "$bpub" --vendor "$vendor" --print-key)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pub TOPIC FILE [ARGS...]: one tagged QoS 1 publish; fails when
# mosquitto_pub fails or reports a refused publish.
pub() {
	topic=$1 file=$2; shift 2
	ts=$(date +%s)
	tag=$("$here/fwg-tag.sh" --key "$key" "$topic" "$ts" "$file")
	if ! mosquitto_pub -h "$host" -p "$port" ${user:+-u "$user"} ${pass:+-P "$pass"} -i "$cid" \
		-V 5 -q 1 -t "$topic" -D publish user-property fw-ts "$ts" \
		-D publish user-property fw-tag "$tag" -f "$file" "$@" 2> "$work/err"; then
		cat "$work/err" >&2
		echo "fwg-publish.sh: publish to $topic failed" >&2
		return 1
	fi
	cat "$work/err" >&2
	if grep -q failed "$work/err"; then
		echo "fwg-publish.sh: publish to $topic refused" >&2
		return 1
	fi
	echo "published $topic ($(wc -c < "$file" | tr -d ' ') bytes)"
}

base="$prefix/$vendor/$model"
if [ "$do_manifest" -eq 1 ]; then
	pub "$base/manifest" "$manifest" "$@" || exit 1
fi
if [ "$do_chunks" -eq 1 ]; then
	n=$(( (size + csize - 1) / csize )) i=0
	while [ "$i" -lt "$n" ]; do
		dd if="$image" of="$work/chunk" bs="$csize" skip="$i" count=1 2>/dev/null
		pub "$base/chunk/$seq/$i" "$work/chunk" "$@" || exit 1
		i=$((i + 1))
	done
fi
