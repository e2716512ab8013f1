#!/bin/bash
# scripts/topology.sh, the native topology demo, end to end: it succeeds
# (rollout origin -> gw1, gw2 -> devices, forged manifest refused at gw1,
# audit chains intact), in under a minute, and leaves no process behind.
# shellcheck source=tests/topology/lib.sh disable=SC2317
. "$(dirname "$0")/lib.sh"

run() {
	local t0 t1
	t0=$(date +%s%N)
	FWG_PLUGIN=$FWG_PLUGIN FWG_WORK_DIR=$T FWG_KEEP=1 timeout 120 "$SRC/scripts/topology.sh" -n 4 > "$T/out" 2>&1
	RC=$?
	t1=$(date +%s%N)
	MS=$(( (t1 - t0) / 1000000 ))
	echo "# runner exit $RC after $MS ms"
	[ "$RC" = 0 ] || fail "topology.sh exit $RC: $(tail -n 30 "$T/out")"
}
run_case "scripts/topology.sh completes the demo" run
fast() { [ "$MS" -lt 60000 ] || fail "took $MS ms"; }
run_case "in under a minute" fast
installed() {
	[ "$(grep -c 'installed sequence 1, image identical' "$T/out")" = 4 ] || fail "not 4 devices installed"
	grep -q 'vendor sees 4/4 devices installed' "$T/out" || fail "the vendor did not see 4/4"
	grep -q 'refused by gw1' "$T/out" || fail "no refusal at gw1"
	[ "$(grep -c 'hash chain intact' "$T/out")" = 3 ] || fail "not 3 intact audit chains"
}
run_case "4 devices installed, vendor saw them, forged manifest refused, 3 audit chains intact" installed
no_leftovers() {
	local pids p work left=''
	pids=$(sed -n 's/^stopped every process it started (pids: \(.*\))$/\1/p' "$T/out")
	[ -n "$pids" ] || fail "no pid list in the output" || return 1
	for p in $pids; do ! kill -0 "$p" 2>/dev/null || left="$left $p"; done
	[ -z "$left" ] || fail "still running:$left" || return 1
	work=$(sed -n 's/^work directory kept: //p' "$T/out")
	[ -d "$work" ] || fail "no work directory" || return 1
	# nothing anywhere still runs with the work directory in its arguments
	left=$(ps -eo pid=,args= | grep -F "$work" | grep -v grep || true)
	[ -z "$left" ] || fail "processes left: $left" || return 1
	# and the three brokers' ports are closed
	for p in $(grep -o '127\.0\.0\.1:[0-9]*' "$T/out" | sort -u | cut -d: -f2); do
		! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || fail "port $p still open" || return 1
	done
}
run_case "no process left behind (PIDs, work dir, ports)" no_leftovers
finish
