#!/bin/sh
# render.sh TEMPLATE OUT NAME=VALUE... — fill a topology config template.
#
# Every @NAME@ in TEMPLATE is replaced by VALUE; a placeholder left without
# a value is an error (nothing half-rendered is written). Used by
# scripts/topology.sh (native, temp directory) and by the init service of
# docker/compose.yml (fixed paths under /fwguard), so both run the same
# configuration. POSIX sh + sed only (runs in busybox too).
# Values may not contain a newline or '|'.
set -eu
die() { echo "render.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: $0 TEMPLATE OUT NAME=VALUE..."
tmpl=$1 out=$2; shift 2
[ -f "$tmpl" ] || die "no template '$tmpl'"
script=''
for kv in "$@"; do
	name=${kv%%=*} value=${kv#*=}
	case $name in ''|*[!A-Z0-9_]*) die "bad placeholder name in '$kv'" ;; esac
	[ "$name" != "$kv" ] || die "'$kv' is not NAME=VALUE"
	case $value in *'|'*) die "value of $name contains '|'" ;; esac
	# escape the sed replacement specials \ and &
	value=$(printf '%s' "$value" | sed 's/[\\&]/\\&/g')
	script="${script}s|@${name}@|${value}|g;"
done
tmp="$out.tmp.$$"
sed "$script" "$tmpl" > "$tmp" || { rm -f "$tmp"; die "sed failed"; }
if left=$(grep -o '@[A-Z0-9_]*@' "$tmp" | sort -u | tr '\n' ' ') && [ -n "$left" ]; then
	rm -f "$tmp"
	die "$tmpl: no value for $left"
fi
mv -f "$tmp" "$out"
