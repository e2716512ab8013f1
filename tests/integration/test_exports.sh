#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# The plugin exports exactly the three Mosquitto plugin entry points.
. "$(dirname "$0")/lib.sh"

c_exports() {
	[ -f "$FWG_PLUGIN" ] || fail "no plugin at '$FWG_PLUGIN'" || return 1
	local syms
	syms=$(nm -D --defined-only "$FWG_PLUGIN" | awk '{print $NF}' | sort | tr '\n' ' ')
	[ "$syms" = "mosquitto_plugin_cleanup mosquitto_plugin_init mosquitto_plugin_version " ] \
		|| fail "exported: $syms"
}
c_version() {
	# mosquitto_plugin_version is a function (T), as are the others
	local n; n=$(nm -D --defined-only "$FWG_PLUGIN" | awk '$2 == "T"' | wc -l)
	[ "$n" -eq 3 ] || fail "$n text symbols"
}
run_case "nm -D --defined-only shows exactly the three plugin symbols" c_exports
run_case "the three symbols are functions" c_version
echo "$N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" -eq 0 ]
