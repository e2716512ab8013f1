#!/bin/sh
# fwguard's whole test suite: install dependencies, build with warnings as
# errors, run every suite (unit; integration, cli and topology against real
# mosquitto brokers with the plugin; compose validation), then the unit
# tests again under valgrind.
#   scripts/test.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-test}
"$top/scripts/deps.sh"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$top" -Dwerror=true -Dtests=enabled >/dev/null
fi
ninja -C "$build"
meson test -C "$build" --print-errorlogs
meson test -C "$build" --suite unit --setup valgrind --print-errorlogs
