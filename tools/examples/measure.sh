#!/bin/bash
# measure.sh — publish throughput and the device agent's peak heap.
# Starts a broker with the plugin (tests/cli/lib.sh), publishes a 1 MiB and
# a 16 MiB random image in 64 KiB chunks, and runs one device agent under
# valgrind massif for each; prints MB/s and the peak heap (bytes).
#   FWG_CLI=build/tools/fwguard FWG_PLUGIN=$PWD/build/plugin/mosquitto_fwguard.so \
#     tools/examples/measure.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
FWG_CLI=$(realpath "${FWG_CLI:?set FWG_CLI}")
export FWG_CLI
. "$here/../../tests/cli/lib.sh"
cli_init
add_devices 2 m
write_trust_store
write_conf plugin
start_broker || exit 1
seq=0
for mib in 1 16; do
	seq=$((seq + 1))
	head -c $((mib * 1048576)) /dev/urandom > "$T/img$mib"
	sign "$T/img$mib" $seq "$T/m$mib.json" --chunk-size 65536 || exit 1
	publish "$T/m$mib.json" "$T/img$mib" --window 32
	echo "publish ${mib} MiB: $(grep '^published acme' "$T/publish.out")"
	device_cmd "m$seq" --once --timeout 120
	valgrind --tool=massif --massif-out-file="$T/massif.$mib" "${DEV[@]}" > "$T/dev$mib.out" 2>&1 \
		|| { cat "$T/dev$mib.out"; exit 1; }
	cmp -s "$T/img$mib" "$T/m$seq/firmware.bin" || { echo "image differs"; exit 1; }
	peak=$(grep -E '^mem_heap_B=' "$T/massif.$mib" | cut -d= -f2 | sort -n | tail -1)
	extra=$(grep -E '^mem_heap_extra_B=' "$T/massif.$mib" | cut -d= -f2 | sort -n | tail -1)
	echo "device agent, ${mib} MiB image: peak heap ${peak} B (+${extra} B allocator overhead); $(grep '^installed' "$T/dev$mib.out")"
done
