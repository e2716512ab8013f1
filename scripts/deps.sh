#!/bin/sh
# Install what fwguard needs on Debian 12 (run as root; a no-op when present).
set -eu
pkgs="mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev libcjson-dev check meson ninja-build
pkg-config gcc libc6-dev libssl-dev openssl valgrind xxd python3 ca-certificates"
[ "${FWG_WITH_DOCKER_COMPOSE:-0}" = 1 ] && pkgs="$pkgs docker-compose"
[ "${FWG_WITH_CLANG:-0}" = 1 ] && pkgs="$pkgs clang libclang-rt-14-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing — run as root (or: sudo $0)" >&2
	exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The Debian package starts a system broker on port 1883; fwguard's demo and
# tests start their own brokers on free loopback ports and do not need it.
