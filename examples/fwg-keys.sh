#!/bin/sh
# fwg-keys.sh OUTDIR [--force] [NAME...]
#
# Makes the P-256 keys of the fwguard protocol (PROTOCOL.md §1):
#   vendor-sign.pem   vendor ECDSA signing key (private, 0600)
#   vendor-ecdh.pem   vendor ECDH key for the tag key (private, 0600)
#   broker-ecdh.pem   broker ECDH key (private, 0600)
# and for each NAME.pem also NAME.pub.pem (PEM SubjectPublicKeyInfo) and
# NAME.pub.b64 (base64 -w0 of the DER SubjectPublicKeyInfo, no newline),
# the form the trust store uses.
#
# With NAME arguments, only those keys are made (e.g. "acme-sign2").
# Existing private keys are kept unless --force is given.
# Needs: openssl (3.x), base64.
set -eu

usage() { echo "usage: $0 OUTDIR [--force] [NAME...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
[ $# -gt 0 ] || set -- vendor-sign vendor-ecdh broker-ecdh

mkdir -p "$out"
umask 077
for name in "$@"; do
	case $name in
	*/*|''|.*) echo "$0: bad key name '$name'" >&2; exit 2 ;;
	esac
	key="$out/$name.pem"
	if [ -e "$key" ] && [ "$force" -eq 0 ]; then
		echo "$0: $key exists, keeping it (use --force to replace)" >&2
	else
		rm -f "$key"
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-pkeyopt ec_param_enc:named_curve -out "$key" 2>/dev/null
		chmod 600 "$key"
	fi
	(umask 022
	 openssl pkey -in "$key" -pubout -out "$out/$name.pub.pem"
	 openssl pkey -in "$key" -pubout -outform DER | base64 -w0 > "$out/$name.pub.b64")
done
