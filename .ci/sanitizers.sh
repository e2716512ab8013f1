#!/bin/sh
# The integration and fault suites against a broker under a memory checker.
#   .ci/sanitizers.sh asan      plugin built with ASan+UBSan (build-asan), loaded
#                               into the stock /usr/sbin/mosquitto with the ASan
#                               runtime preloaded; LSan at every broker exit
#   .ci/sanitizers.sh valgrind  plugin of a plain build (build-valgrind), broker
#                               under valgrind memcheck
# tests/integration/lib.sh fails a test on any sanitizer report in the
# broker's stderr, or on a valgrind error / definite leak in fwguard's code.
# In asan mode the device agent's tests against bare brokers run as well,
# with the fwguard executable built with ASan+UBSan.
#   .ci/sanitizers.sh MODE [BUILD_DIR] [meson test args...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
absdir() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
[ $# -eq 0 ] || shift
case $mode in
asan)
	build=$(absdir "${1:-$top/build-asan}")
	[ $# -eq 0 ] || shift
	[ -f "$build/build.ninja" ] || meson setup "$build" "$top" -Dwerror=true -Dtests=enabled \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	asan=$(${CC:-cc} -print-file-name=libasan.so)
	[ -f "$asan" ] || { echo "sanitizers.sh: no ASan runtime ($asan)" >&2; exit 2; }
	ninja -C "$build"
	# fast_unwind_on_malloc=0: complete allocation stacks through the stock
	# mosquitto (no frame pointers), so that sancheck.py sees fwguard frames.
	# the ASan runtime first; fwg_nodlclose.so keeps the plugin mapped until
	# LeakSanitizer has symbolized its leaks at exit
	FWG_BROKER_ENV="LD_PRELOAD=$asan:$build/tests/fault/fwg_nodlclose.so"
	FWG_BROKER_ENV="$FWG_BROKER_ENV ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:fast_unwind_on_malloc=0"
	FWG_BROKER_ENV="$FWG_BROKER_ENV LSAN_OPTIONS=suppressions=$top/.ci/lsan.supp:print_suppressions=0"
	FWG_BROKER_ENV="$FWG_BROKER_ENV UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"
	FWG_BROKER_WRAP='' FWG_TIME_SCALE=2 mult=2
	;;
valgrind)
	build=$(absdir "${1:-$top/build-valgrind}")
	[ $# -eq 0 ] || shift
	[ -f "$build/build.ninja" ] || meson setup "$build" "$top" -Dwerror=true -Dtests=enabled >/dev/null
	# --errors-for-leak-kinds=definite: a definite leak counts as an error;
	# lib.sh's vgcheck.py fails only records with a frame in fwguard's code.
	FWG_BROKER_WRAP="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full"
	FWG_BROKER_WRAP="$FWG_BROKER_WRAP --errors-for-leak-kinds=definite --show-leak-kinds=definite"
	FWG_BROKER_WRAP="$FWG_BROKER_WRAP --track-origins=yes --num-callers=40 --fullpath-after="
	FWG_BROKER_WRAP="$FWG_BROKER_WRAP --log-file={T}/vg.%p.log"
	# fwg_nodlclose.so keeps the plugin mapped, so that leaks found at exit
	# have symbolized frames (an unloaded plugin's frames are "???")
	ninja -C "$build"
	FWG_BROKER_ENV="LD_PRELOAD=$build/tests/fault/fwg_nodlclose.so" FWG_TIME_SCALE=6 mult=4
	;;
*)
	echo "usage: $0 asan|valgrind [BUILD_DIR] [meson test args...]" >&2
	exit 2 ;;
esac
export FWG_BROKER_ENV FWG_BROKER_WRAP FWG_TIME_SCALE
ninja -C "$build"
meson test -C "$build" --suite integration --suite fault --timeout-multiplier "$mult" --print-errorlogs "$@"
if [ "$mode" = asan ] && [ $# -eq 0 ]; then
	# The device agent (tools/fwguard, built with ASan+UBSan here) against
	# bare brokers and a fake one: every sanitizer report goes to a file, and
	# any file fails the run (a test that expects the agent to fail would
	# not notice an abort).
	rep=$(mktemp -d)
	ASAN_OPTIONS="log_path=$rep/asan:detect_leaks=1:abort_on_error=1" \
	UBSAN_OPTIONS="log_path=$rep/ubsan:print_stacktrace=1:halt_on_error=1" \
		meson test -C "$build" cli_bare cli_mqtt_hostile cli_tls --timeout-multiplier "$mult" --print-errorlogs
	if [ -n "$(ls -A "$rep")" ]; then
		cat "$rep"/* >&2
		echo "sanitizers.sh: sanitizer reports from the fwguard CLI (above)" >&2
		exit 1
	fi
	rm -rf "$rep"
fi
