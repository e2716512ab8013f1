#!/bin/sh
# device.sh ROOT HOST PORT DEVICE STATE_DIR [TIMEOUT] — run the device agent
# of one device of a topology made by init.sh, against its gateway at
# HOST:PORT; its password and the pinned vendor key come from ROOT.
# Used by scripts/topology.sh and by the device services of docker/compose.yml.
#
# FWG_DEVICE_AGENT chooses the agent (default: fwg-device.sh of FWG_EXAMPLES,
# one update per run). It is called with fwg-device.sh's options:
#   -h HOST -p PORT -u V/M/D --vendor V --model M --device D
#   --pin ROOT/keys/vendor-sign.pub.b64 --target STATE_DIR/firmware.bin --timeout SECS
# and the MQTT password in the environment variable FWG_PASSWORD; exit 0
# means installed or already up to date. An agent with other options (e.g.
# the C `fwguard device`) is plugged in with a small wrapper script.
# FWG_VENDOR [acme], FWG_MODEL [thermo-x1] as for init.sh.
set -eu
[ $# -ge 5 ] || { echo "usage: $0 ROOT HOST PORT DEVICE STATE_DIR [TIMEOUT]" >&2; exit 2; }
root=$1 host=$2 port=$3 device=$4 state=$5 timeout=${6:-30}
here=$(cd "$(dirname "$0")" && pwd)
ex=${FWG_EXAMPLES:-$here/../../examples}
agent=${FWG_DEVICE_AGENT:-$ex/fwg-device.sh}
vendor=${FWG_VENDOR:-acme} model=${FWG_MODEL:-thermo-x1}
user=$vendor/$model/$device
pwfile="$root/secrets/$(printf '%s' "$user" | tr / _).pw"
[ -s "$pwfile" ] || { echo "device.sh: no password for $user in $root/secrets (run init.sh)" >&2; exit 2; }
mkdir -p "$state"
FWG_PASSWORD=$(cat "$pwfile")
export FWG_PASSWORD
exec "$agent" -h "$host" -p "$port" -u "$user" --vendor "$vendor" --model "$model" --device "$device" \
	--pin "$root/keys/vendor-sign.pub.b64" --target "$state/firmware.bin" --timeout "$timeout"
