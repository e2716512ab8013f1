#!/bin/sh
# fwg-trust-store.sh — print a fwguard trust store (PROTOCOL.md §10) on stdout.
#
# Short form, one vendor:
#   fwg-trust-store.sh VENDOR USERNAME ECDH_PUB SIGN_PUB [MODEL...]
# Long form, any number of vendors (each --vendor starts a new entry):
#   fwg-trust-store.sh --vendor ID --username NAME [--username NAME...]
#                      --ecdh PUB --sign PUB [--sign PUB...] [--revoked PUB...]
#                      [--model MODEL...] [--min-sequence MODEL=N...]
#                      [--vendor ID ...]
# PUB is either the base64 DER SubjectPublicKeyInfo itself, or a file:
# NAME.pub.b64, a PEM public key, or a PEM private key (its public half is used).
# --revoked adds a signing key with "revoked": true.
# Needs: openssl, base64, sed.
set -eu

die() { echo "fwg-trust-store.sh: $*" >&2; exit 2; }

# pub_b64 VALUE: print the base64 DER SPKI of VALUE (see above).
pub_b64() {
	if [ -f "$1" ]; then
		if grep -q -- '-----BEGIN PUBLIC KEY-----' "$1"; then
			openssl pkey -pubin -in "$1" -pubout -outform DER | base64 -w0
		elif grep -q -- '-----BEGIN' "$1"; then
			openssl pkey -in "$1" -pubout -outform DER | base64 -w0
		else
			tr -d ' \n\r\t' < "$1"
		fi
	else
		printf '%s' "$1"
	fi
}

check_b64() {
	case $1 in
	''|*[!A-Za-z0-9+/=]*) die "not a base64 public key: '$1'" ;;
	esac
	printf '%s' "$1" | base64 -d 2>/dev/null | openssl pkey -pubin -inform DER -noout 2>/dev/null \
		|| die "not a DER SubjectPublicKeyInfo: '$1'"
}

# JSON string escape for the characters that may appear in usernames.
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

check_id() {
	case $1 in
	''|.|..|*[!A-Za-z0-9._-]*) die "bad $2 '$1' (1-64 of [A-Za-z0-9._-])" ;;
	esac
	[ "${#1}" -le 64 ] || die "bad $2 '$1' (longer than 64)"
}

if [ $# -ge 4 ] && [ "${1#--}" = "$1" ]; then
	v=$1; u=$2; e=$3; s=$4; shift 4
	n=$#
	while [ "$n" -gt 0 ]; do m=$1; shift; set -- "$@" --model "$m"; n=$((n - 1)); done
	set -- --vendor "$v" --username "$u" --ecdh "$e" --sign "$s" "$@"
fi
[ $# -gt 0 ] || die "usage: see the header of $0"

nv=0 vendor='' users='' ecdh='' signs='' models='' floors=''
out='{"vendors": ['
flush() {
	[ -n "$vendor" ] || return 0
	[ -n "$users" ] || die "vendor $vendor: no --username"
	[ -n "$ecdh" ] || die "vendor $vendor: no --ecdh"
	[ -n "$signs" ] || die "vendor $vendor: no --sign"
	[ "$nv" -eq 0 ] || out="$out,"
	out="$out
  {\"id\": $(jstr "$vendor"),
   \"usernames\": [$users],
   \"ecdh_public_key\": \"$ecdh\",
   \"signing_keys\": [$signs]"
	[ -z "$models" ] || out="$out,
   \"models\": [$models]"
	[ -z "$floors" ] || out="$out,
   \"min_sequence\": {$floors}"
	out="$out}"
	nv=$((nv + 1))
	vendor='' users='' ecdh='' signs='' models='' floors=''
}
addl() { if [ -z "$1" ]; then printf '%s' "$2"; else printf '%s, %s' "$1" "$2"; fi; }

while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || die "option $1 needs a value"
	case $1 in
	--vendor) flush; check_id "$2" vendor; vendor=$2 ;;
	--username) [ -n "$vendor" ] || die "--username before --vendor"; users=$(addl "$users" "$(jstr "$2")") ;;
	--ecdh) [ -n "$vendor" ] || die "--ecdh before --vendor"; k=$(pub_b64 "$2"); check_b64 "$k"; ecdh=$k ;;
	--sign|--revoked)
		[ -n "$vendor" ] || die "$1 before --vendor"
		k=$(pub_b64 "$2"); check_b64 "$k"
		r=false; [ "$1" = --revoked ] && r=true
		signs=$(addl "$signs" "{\"public_key\": \"$k\", \"revoked\": $r}") ;;
	--model) [ -n "$vendor" ] || die "--model before --vendor"; check_id "$2" model; models=$(addl "$models" "\"$2\"") ;;
	--min-sequence)
		[ -n "$vendor" ] || die "--min-sequence before --vendor"
		m=${2%%=*}; n=${2#*=}; check_id "$m" model
		case $n in ''|*[!0-9]*|0?*) die "bad floor '$2' (MODEL=N)" ;; esac
		floors=$(addl "$floors" "\"$m\": $n") ;;
	*) die "unknown option $1" ;;
	esac
	shift 2
done
flush
[ "$nv" -gt 0 ] || die "no vendor given"
printf '%s\n]}\n' "$out"
