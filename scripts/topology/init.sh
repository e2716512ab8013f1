#!/bin/sh
# init.sh ROOT — keys, passwords, trust store and rendered broker configs of
# an fwguard topology: one origin broker and gateways in relay mode, with
# devices behind the gateways. Run by scripts/topology.sh (native, in a
# temp directory) and by the "init" service of docker/compose.yml (ROOT =
# /fwguard on a named volume): one configuration, two ways to run it.
# Idempotent: existing keys and passwords are kept, configs re-rendered.
#
# Environment (defaults in brackets):
#   FWG_EXAMPLES      directory of fwg-keys.sh, fwg-trust-store.sh [../../examples]
#   FWG_PLUGIN        path of mosquitto_fwguard.so [/usr/lib/mosquitto/mosquitto_fwguard.so]
#   FWG_VENDOR [acme]  FWG_VENDOR_USER [acme-deploy]  FWG_MODEL [thermo-x1]
#   FWG_BIND          listener address [127.0.0.1]
#   FWG_ORIGIN_HOST [127.0.0.1]  FWG_ORIGIN_PORT [1883]   (as gateways reach it)
#   FWG_GATEWAYS      "NAME:PORT ..." [gw1:1884]
#   FWG_DEVICES       "GATEWAY:DEVICE ..." [gw1:dev1]
#   FWG_DATA_DIR      state/audit/log directory in every broker config
#                     [ROOT/<broker>/data, created]; in containers a volume
#   FWG_USER          the brokers' "user" [the current user]
#   FWG_OWNER         UID:GID to chown the broker-readable files and data
#                     directories to (containers: the mosquitto user) [none]
#   FWG_CONSOLE       1: brokers also log to stderr (docker logs) [0]
#
# Layout under ROOT:
#   keys/       vendor-sign.pem, vendor-ecdh.pem (the vendor's), broker-ecdh.pem
#               (the origin's), with .pub.pem / .pub.b64 (fwg-keys.sh)
#   secrets/    NAME.pw: MQTT password of each identity (vendor user, gateway,
#               device; "/" in a name becomes "_"), 0600
#   origin/     mosquitto.conf passwd vendors.json broker-ecdh.pem [data/]
#   <gateway>/  mosquitto.conf passwd vendors.json [data/]
set -eu
die() { echo "init.sh: $*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: $0 ROOT"
root=$1
here=$(cd "$(dirname "$0")" && pwd)
ex=${FWG_EXAMPLES:-$here/../../examples}
plugin=${FWG_PLUGIN:-/usr/lib/mosquitto/mosquitto_fwguard.so}
vendor=${FWG_VENDOR:-acme} vuser=${FWG_VENDOR_USER:-acme-deploy} model=${FWG_MODEL:-thermo-x1}
bind=${FWG_BIND:-127.0.0.1}
ohost=${FWG_ORIGIN_HOST:-127.0.0.1} oport=${FWG_ORIGIN_PORT:-1883}
gateways=${FWG_GATEWAYS:-gw1:1884} devices=${FWG_DEVICES:-gw1:dev1}
user=${FWG_USER:-$(id -un)} owner=${FWG_OWNER:-}
console='#'
[ "${FWG_CONSOLE:-0}" != 1 ] || console=''
[ -x "$ex/fwg-keys.sh" ] || die "no fwg-keys.sh in $ex (set FWG_EXAMPLES)"

mkdir -p "$root/keys" "$root/secrets" "$root/origin"
chmod 700 "$root/secrets"
"$ex/fwg-keys.sh" "$root/keys" vendor-sign vendor-ecdh broker-ecdh 2>/dev/null

# secret NAME: the password of identity NAME (made once)
secret() {
	f="$root/secrets/$(printf '%s' "$1" | tr / _).pw"
	if [ ! -s "$f" ]; then
		(umask 077; openssl rand -hex 16 > "$f.tmp" && mv -f "$f.tmp" "$f")
	fi
	cat "$f"
}
# passwd_file FILE NAME...: a fresh mosquitto password file
passwd_file() {
	f=$1; shift
	rm -f "$f.tmp"
	(umask 077; : > "$f.tmp")
	for n in "$@"; do mosquitto_passwd -b "$f.tmp" "$n" "$(secret "$n")" 2>/dev/null; done
	mv -f "$f.tmp" "$f"
}
own() { [ -z "$owner" ] || chown "$owner" "$@"; }
data_dir() {
	if [ -n "${FWG_DATA_DIR:-}" ]; then
		printf '%s' "$FWG_DATA_DIR"
	else
		mkdir -p "$root/$1/data"; own "$root/$1/data"; printf '%s' "$root/$1/data"
	fi
}

"$ex/fwg-trust-store.sh" "$vendor" "$vuser" "$root/keys/vendor-ecdh.pub.b64" \
	"$root/keys/vendor-sign.pub.b64" "$model" > "$root/origin/vendors.json"
gwnames=''
for g in $gateways; do
	name=${g%%:*}
	case $name in ''|*[!A-Za-z0-9._-]*) die "bad gateway name '$name'" ;; esac
	gwnames="$gwnames${gwnames:+,}$name"
done
[ -n "$gwnames" ] || die "no gateways (FWG_GATEWAYS)"

# origin: the vendor and the gateways' bridges log in here
# shellcheck disable=SC2046
passwd_file "$root/origin/passwd" "$vuser" $(echo "$gwnames" | tr , ' ')
cp "$root/keys/broker-ecdh.pem" "$root/origin/broker-ecdh.pem.tmp"
chmod 600 "$root/origin/broker-ecdh.pem.tmp"
mv -f "$root/origin/broker-ecdh.pem.tmp" "$root/origin/broker-ecdh.pem"
own "$root/origin/broker-ecdh.pem" "$root/origin/passwd" "$root/origin/vendors.json"
"$here/render.sh" "$here/origin.conf.in" "$root/origin/mosquitto.conf" \
	PORT="$oport" BIND="$bind" ETC="$root/origin" DATA="$(data_dir origin)" USER="$user" \
	PLUGIN="$plugin" GATEWAYS="$gwnames" CONSOLE="$console"

# gateways: the devices behind each one log in there
for g in $gateways; do
	name=${g%%:*} port=${g#*:}
	mkdir -p "$root/$name"
	users=''
	for d in $devices; do
		[ "${d%%:*}" != "$name" ] || users="$users $vendor/$model/${d#*:}"
	done
	# shellcheck disable=SC2086
	passwd_file "$root/$name/passwd" $users
	cp "$root/origin/vendors.json" "$root/$name/vendors.json"
	own "$root/$name/passwd" "$root/$name/vendors.json"
	"$here/render.sh" "$here/gateway.conf.in" "$root/$name/mosquitto.conf" \
		PORT="$port" BIND="$bind" ETC="$root/$name" DATA="$(data_dir "$name")" USER="$user" \
		PLUGIN="$plugin" GATEWAY_NAME="$name" GATEWAY_PASSWORD="$(secret "$name")" \
		ORIGIN_HOST="$ohost" ORIGIN_PORT="$oport" CONSOLE="$console"
	chmod 600 "$root/$name/mosquitto.conf"
	own "$root/$name/mosquitto.conf"
done
echo "init.sh: topology in $root: origin ($ohost:$oport), gateways $gateways, devices $devices"
