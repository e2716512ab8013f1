#!/bin/bash
# The device agent when writes to its staging file fail (disk full), with
# the fault shim (FWG_FAULT_SHIM) on staging.bin: the failure is reported,
# no chunk whose bytes were not written stays marked (nor in the running
# image digest), and once the disk has room again the missing chunks are
# fetched again (after the agent's 10 s stall) and the image installs,
# byte for byte. A bare broker carries the retained manifest and chunks.
. "$(dirname "$0")/../cli/lib.sh"
: "${FWG_FAULT_SHIM:?FWG_FAULT_SHIM is not set}"
cli_init
write_conf bare
start_broker || exit 99
CS=4096
BASE=fw/$VENDOR/$MODEL
TRIG=$T/fault.trigger FLOG=$T/fault.log
# an fwguard built with ASan (.ci/sanitizers.sh asan) needs its runtime
# first in the preload list
PRE=$(ldd "$FWG" 2>/dev/null | awk '/libasan/ { print $3 }')
PRE=${PRE:+$PRE:}$FWG_FAULT_SHIM

# release SEQ: a 64 KiB image in 16 chunks, manifest and chunks retained
release() {
	head -c 65536 /dev/urandom > "$T/img$1.bin"
	sign "$T/img$1.bin" "$1" "$T/m$1.json" --chunk-size $CS || return 1
	put_retained "$BASE/manifest" "$T/m$1.json" && put_chunks "$1" "$T/img$1.bin"
}
# agent_bg [options]: device dev1 --once under the shim, in the background (AG_PID)
agent_bg() {
	device_cmd dev1 --once --timeout 60 --max-backoff 1 "$@"
	LD_PRELOAD=$PRE FWG_FAULT_MATCH=staging.bin FWG_FAULT_TRIGGER=$TRIG FWG_FAULT_LOG=$FLOG \
		timeout 90 "${DEV[@]}" > "$T/agent.out" 2>&1 &
	AG_PID=$!
}
write_failed() { grep -q "cannot write '.*staging.bin': No space left on device" "$T/agent.out"; }
# installs SEQ: the agent exits 0 with the image in place and the sequence recorded
installs() {
	wait "$AG_PID"; local rc=$?
	[ "$rc" = 0 ] || fail "agent exit $rc: $(tail -c 600 "$T/agent.out")" || return 1
	cmp -s "$T/img$1.bin" "$T/dev1/firmware.bin" || fail "the installed image differs" || return 1
	[ "$(cat "$T/dev1/state/installed.seq")" = "$1" ] || fail "installed.seq is $(cat "$T/dev1/state/installed.seq")"
}

# Every write fails from the start: nothing is marked; the disk frees up
# and the whole image comes again.
t_full_from_start() {
	release 5 || return 1
	echo "write:ENOSPC" > "$TRIG"; : > "$FLOG"
	agent_bg
	poll 20 write_failed || { kill "$AG_PID"; fail "no write error reported: $(cat "$T/agent.out")"; return 1; }
	grep -q "^write fd" "$FLOG" || { kill "$AG_PID"; fail "the shim failed no write"; return 1; }
	local n; n=$(popcount "$T/dev1/state/staging.bitmap")
	[ "$n" = 0 ] || { kill "$AG_PID"; fail "$n chunks marked though no write succeeded"; return 1; }
	: > "$TRIG"
	installs 5
}
# The disk fills up in the middle of a download (2 chunks/s): the chunks
# stored before stay, the ones whose bytes were lost are unmarked and taken
# out of the running image digest (the image is checked from the file).
t_full_midway() {
	release 6 || return 1
	: > "$TRIG"; : > "$FLOG"
	agent_bg --max-rate 8192
	poll 20 bitmap_ge dev1 3 || { kill "$AG_PID"; fail "the agent did not store 3 chunks: $(cat "$T/agent.out")"; return 1; }
	echo "write:ENOSPC" > "$TRIG"
	poll 20 write_failed || { kill "$AG_PID"; fail "no write error reported: $(cat "$T/agent.out")"; return 1; }
	local n; n=$(popcount "$T/dev1/state/staging.bitmap")
	[ "$n" -ge 3 ] && [ "$n" -lt 16 ] || { kill "$AG_PID"; fail "$n chunks marked (wanted 3..15)"; return 1; }
	: > "$TRIG"
	installs 6
}

run_case "staging writes fail from the start: reported, nothing marked; installs once there is room" t_full_from_start
run_case "the disk fills up midway: lost chunks unmarked, fetched again; the image installs intact" t_full_midway
finish
