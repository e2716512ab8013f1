#!/bin/sh
# fwg-sign.sh — make a signed fwguard manifest (PROTOCOL.md §5) for an image.
#
#   fwg-sign.sh [options] IMAGE VENDOR MODEL VERSION SEQUENCE CHUNK_SIZE VALIDITY SIGNING_KEY
#
#   IMAGE        the firmware image file
#   VALIDITY     seconds from "issued" to "expires"
#   SIGNING_KEY  the vendor's ECDSA P-256 private key (PEM)
# options:
#   -o FILE              write the manifest to FILE (default: stdout)
#   --no-chunk-digests   leave out "chunk_sha256"
#   --issued N           "issued" (default: now)
#   --expires N          "expires" (default: issued + VALIDITY)
#   --base-out FILE      also write the exact signing base bytes to FILE
#   --no-check           skip the local sanity checks (for negative tests)
#
# The manifest is compact JSON, members in the order of §5, no trailing
# newline. Needs: openssl, sha256sum, dd, base64, printf.
set -eu

die() { echo "fwg-sign.sh: $*" >&2; exit 2; }

out='' digests=1 issued='' expires='' baseout='' check=1
while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || die "-o needs a file"; out=$2; shift 2 ;;
	--no-chunk-digests) digests=0; shift ;;
	--issued) [ $# -ge 2 ] || die "--issued needs N"; issued=$2; shift 2 ;;
	--expires) [ $# -ge 2 ] || die "--expires needs N"; expires=$2; shift 2 ;;
	--base-out) [ $# -ge 2 ] || die "--base-out needs a file"; baseout=$2; shift 2 ;;
	--no-check) check=0; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -eq 8 ] || die "usage: $0 [options] IMAGE VENDOR MODEL VERSION SEQUENCE CHUNK_SIZE VALIDITY SIGNING_KEY"
image=$1 vendor=$2 model=$3 version=$4 seq=$5 csize=$6 validity=$7 key=$8

isint() { case $1 in 0|[1-9]|[1-9]*[0-9]) case $1 in *[!0-9]*) return 1 ;; esac; return 0 ;; *) return 1 ;; esac; }
[ -f "$image" ] || die "no image file '$image'"
[ -f "$key" ] || die "no signing key '$key'"
for n in "$seq" "$csize" "$validity"; do isint "$n" || die "not an integer: '$n'"; done
[ -n "$issued" ] || issued=$(date +%s)
isint "$issued" || die "not an integer: '$issued'"
[ -n "$expires" ] || expires=$((issued + validity))
isint "$expires" || die "not an integer: '$expires'"

size=$(wc -c < "$image" | tr -d ' ')
if [ "$check" -eq 1 ]; then
	for id in "$vendor" "$model"; do
		case $id in ''|.|..|*[!A-Za-z0-9._-]*) die "bad id '$id'" ;; esac
		[ "${#id}" -le 64 ] || die "id longer than 64: '$id'"
	done
	case $version in ''|*[!A-Za-z0-9.+_~-]*) die "bad version '$version'" ;; esac
	[ "${#version}" -le 64 ] || die "version longer than 64"
	[ "$seq" -ge 1 ] || die "sequence must be >= 1"
	[ "$size" -ge 1 ] || die "empty image"
	if [ "$csize" -lt 256 ] || [ "$csize" -gt 1048576 ]; then die "chunk size must be 256..1048576"; fi
	[ "$expires" -gt "$issued" ] || die "expires must be > issued"
fi
[ "$csize" -ge 1 ] || die "chunk size must be >= 1"
nchunks=$(( (size + csize - 1) / csize ))
[ "$check" -eq 0 ] || [ "$nchunks" -le 1024 ] || die "$nchunks chunks (> 1024): use a larger chunk size"

sha=$(sha256sum < "$image" | cut -c1-64)
kid=$(openssl pkey -in "$key" -pubout -outform DER | sha256sum | cut -c1-16)

chunks_line='' chunks_json=''
if [ "$digests" -eq 1 ]; then
	i=0
	while [ "$i" -lt "$nchunks" ]; do
		d=$(dd if="$image" bs="$csize" skip="$i" count=1 2>/dev/null | sha256sum | cut -c1-64)
		if [ "$i" -eq 0 ]; then
			chunks_line=$d; chunks_json="\"$d\""
		else
			chunks_line="$chunks_line,$d"; chunks_json="$chunks_json,\"$d\""
		fi
		i=$((i + 1))
	done
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf 'fwguard-manifest-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s' \
	"$vendor" "$model" "$version" "$seq" "$size" "$sha" "$csize" "$issued" "$expires" "$kid" "$chunks_line" > "$tmp"
[ -z "$baseout" ] || cp "$tmp" "$baseout"
sig=$(openssl dgst -sha256 -sign "$key" "$tmp" | base64 -w0)
[ -n "$sig" ] || die "signing failed"

json=$(printf '{"format":1,"vendor":"%s","model":"%s","version":"%s","sequence":%s,"size":%s,"sha256":"%s","chunk_size":%s,"issued":%s,"expires":%s,"key_id":"%s"' \
	"$vendor" "$model" "$version" "$seq" "$size" "$sha" "$csize" "$issued" "$expires" "$kid")
[ "$digests" -eq 0 ] || json="$json,\"chunk_sha256\":[$chunks_json]"
json="$json,\"signature\":\"$sig\"}"
if [ -n "$out" ]; then
	printf '%s' "$json" > "$out"
else
	printf '%s' "$json"
fi
