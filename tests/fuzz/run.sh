#!/bin/sh
# Run libFuzzer targets for a bounded time each.
#   tests/fuzz/run.sh TARGET|all SECONDS
# Targets: manifest status topic tag tag_props trust state audit mqttc.
# Each target fuzzes tests/fuzz/corpus-work/<target>/ (git-ignored; the seeds
# of tests/fuzz/corpus/<target>/ are copied in, what a run finds is kept for
# the next run; FRESH=1 starts from the seeds only) with its dictionary.
# A crash, leak, timeout or OOM keeps its reproducer in tests/fuzz/crashes/
# and makes the script exit 1 (after running the other targets).
# Environment: BUILD_DIR (default build-fuzz, configured with
#   CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled),
#   NICE (default 10), FRESH=1, EXTRA_ARGS (more libFuzzer flags).
# SPDX-License-Identifier: Apache-2.0
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ALL="manifest status topic tag tag_props trust state audit mqttc"

usage() { echo "usage: $0 TARGET|all SECONDS   (targets: $ALL)" >&2; exit 2; }
[ $# -eq 2 ] || usage
case "$2" in ''|*[!0-9]*) usage ;; esac
secs=$2
if [ "$1" = all ]; then targets=$ALL; else
	targets=$1
	case " $ALL " in *" $1 "*) ;; *) usage ;; esac
fi

build=${BUILD_DIR:-$root/build-fuzz}
case "$build" in /*) ;; *) build=$root/$build ;; esac
if [ ! -f "$build/build.ninja" ]; then
	echo "no fuzz build in $build: CC=clang meson setup $build -Dfuzz=true -Dtests=disabled" >&2
	exit 2
fi
ninja_targets=
for t in $targets; do ninja_targets="$ninja_targets tests/fuzz/fuzz_$t"; done
# only the fuzz targets (not the whole project)
nice -n "${NICE:-10}" ninja -C "$build" $ninja_targets >/dev/null || { echo "build failed" >&2; exit 2; }

work=$here/corpus-work
crashes=$here/crashes
mkdir -p "$work" "$crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=
for t in $targets; do
	cw=$work/$t
	[ "${FRESH:-0}" = 1 ] && rm -rf "$cw"
	mkdir -p "$cw"
	cp -p "$here/corpus/$t/"* "$cw/" 2>/dev/null
	log=$work/$t.log
	dict=
	[ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
	before=$(ls "$crashes" | wc -l)
	echo "== fuzz_$t: ${secs}s, corpus $(ls "$cw" | wc -l) inputs, log $log"
	# shellcheck disable=SC2086
	nice -n "${NICE:-10}" "$build/tests/fuzz/fuzz_$t" "$cw" $dict \
		-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$crashes/$t-" ${EXTRA_ARGS:-} >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*ft: \([0-9]*\).*corp: \([0-9]*\).*/cov \1 ft \2 corpus \3/p')
	line=$(printf '%-10s execs %-10s exec/s %-7s %s' "$t" "${execs:-?}" "${rate:-?}" "$cov")
	if [ $rc -ne 0 ]; then
		status=1
		new=$(ls -t "$crashes" | head -n $(( $(ls "$crashes" | wc -l) - before )) | tr '\n' ' ')
		line="$line  FAILED (rc $rc) ${new:+reproducer: $new}"
		grep -E 'ERROR: |invariant failed|runtime error|SUMMARY' "$log" | head -n 5
	fi
	echo "$line"
	summary="$summary$line
"
done
echo "== summary"
printf '%s' "$summary"
exit $status
