#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# A full rollout with the example tools: fwg-sign.sh, fwg-publish.sh, fwg-device.sh.
. "$(dirname "$0")/lib.sh"
fwg_init
E=$FWG_EXAMPLES
if ! std_setup "plugin_opt_other_topics allow"; then
	not_ok "broker with the plugin starts and takes a first manifest" "$(tail -5 "$LOG" 2>/dev/null)"
	finish
fi
ok "broker with the plugin starts and takes a first manifest"
B=$PREFIX/acme/thermo-x1
FW=$T/fw-2.0.bin
head -c 5000 /dev/urandom > "$FW"       # 5 chunks of 1024 (the last 904)
mkdir -p "$T/dev4" "$T/dev5"

vendor_publish() {  # MANIFEST IMAGE
	"$E/fwg-publish.sh" -h 127.0.0.1 -p "$PORT" -u acme-deploy -P "$PASSWORD" -i "rollout-$RANDOM" \
		--vendor-key "$K/vendor-ecdh.pem" --broker-pub "$K/broker-ecdh.pub.pem" "$1" "$2" > "$T/publish.out" 2>&1
}
device() {  # DEVICE [extra args]
	local d=$1; shift
	timeout 120 "$E/fwg-device.sh" -h 127.0.0.1 -p "$PORT" -P "$PASSWORD" --vendor acme --model thermo-x1 \
		--device "$d" --pin "$K/vendor-sign.pub.b64" --pin "$K/acme-sign2.pub.pem" \
		--target "$T/$d/firmware.bin" --timeout 20 "$@"
}

c_rollout() {
	local seq=$((SEQ + 1)) dpid rc
	"$E/fwg-sign.sh" -o "$T/m-roll.json" "$FW" acme thermo-x1 2.0.0 "$seq" 1024 86400 "$K/vendor-sign.pem" || fail "fwg-sign.sh failed" || return 1
	audit_mark
	# the device runs sequence $SEQ and waits for a newer one from the vendor
	echo "$SEQ" > "$T/dev4/installed.seq"
	device dev4 --wait > "$T/dev4.out" 2>&1 &
	dpid=$!
	BG_PIDS+=("$dpid")
	vendor_publish "$T/m-roll.json" "$FW" || fail "fwg-publish.sh failed: $(cat "$T/publish.out")" || return 1
	wait "$dpid"; rc=$?
	stop_pid "$dpid"
	[ "$rc" -eq 0 ] || fail "fwg-device.sh exited $rc: $(tail -5 "$T/dev4.out")" || return 1
	SEQ=$seq CUR_MANIFEST=$T/m-roll.json
	cmp -s "$FW" "$T/dev4/firmware.bin" || fail "installed image differs" || return 1
	[ "$(cat "$T/dev4/installed.seq")" = "$seq" ] || fail "installed.seq is not $seq"
}
c_complete() { audit_has image.complete "" sequence="$SEQ" nchunks=5; }
c_status_installed() {
	poll 10 cap_json_has vend "$B/status/dev4" state=installed sequence="$SEQ" || fail "no installed status seen by the vendor" || return 1
	audit_has device.status "" device=dev4 state=installed sequence="$SEQ" || return 1
	audit_has device.status "" device=dev4 state=downloading
}
c_late_device() {
	# a device that comes later gets everything from the retained store
	device dev5 > "$T/dev5.out" 2>&1 || fail "late device failed: $(tail -5 "$T/dev5.out")" || return 1
	cmp -s "$FW" "$T/dev5/firmware.bin" || fail "late device installed a different image"
}
c_up_to_date() {
	audit_mark
	device dev4 > "$T/dev4b.out" 2>&1 || fail "fwg-device.sh failed when up to date: $(tail -3 "$T/dev4b.out")" || return 1
	grep -q 'up to date' "$T/dev4b.out" || fail "device did not report up to date" || return 1
	audit_wait 10 device.status "" device=dev4 state=idle
}
c_nodigests() {
	local seq=$((SEQ + 1))
	head -c 3000 /dev/urandom > "$T/fw3.bin"
	"$E/fwg-sign.sh" --no-chunk-digests -o "$T/m3.json" "$T/fw3.bin" acme thermo-x1 3.0.0 "$seq" 512 86400 "$K/acme-sign2.pem" || return 1
	vendor_publish "$T/m3.json" "$T/fw3.bin" || fail "fwg-publish.sh failed: $(cat "$T/publish.out")" || return 1
	SEQ=$seq CUR_MANIFEST=$T/m3.json
	device dev4 > "$T/dev4c.out" 2>&1 || fail "device failed: $(tail -3 "$T/dev4c.out")" || return 1
	cmp -s "$T/fw3.bin" "$T/dev4/firmware.bin" || fail "image without chunk digests not installed"
}
c_publish_refused() {
	# fwg-publish.sh exits non-zero when the broker refuses (old sequence)
	! vendor_publish "$T/m-roll.json" "$FW" || fail "fwg-publish.sh exited 0 for a refused manifest" || return 1
	grep -q failed "$T/publish.out" || fail "no 'failed' in fwg-publish.sh output"
}
c_unpinned_key() {
	# a device pinned to another key refuses the update and keeps its image
	local seq=$((SEQ + 1)) before
	head -c 2000 /dev/urandom > "$T/fw4.bin"
	"$E/fwg-sign.sh" -o "$T/m4.json" "$T/fw4.bin" acme thermo-x1 4.0.0 "$seq" 1024 86400 "$K/acme-sign2.pem" || return 1
	vendor_publish "$T/m4.json" "$T/fw4.bin" || fail "fwg-publish.sh failed: $(cat "$T/publish.out")" || return 1
	SEQ=$seq CUR_MANIFEST=$T/m4.json
	before=$(sha256sum < "$T/dev5/firmware.bin")
	! timeout 60 "$E/fwg-device.sh" -h 127.0.0.1 -p "$PORT" -P "$PASSWORD" --vendor acme --model thermo-x1 \
		--device dev5 --pin "$K/vendor-sign.pub.pem" --target "$T/dev5/firmware.bin" --timeout 10 > "$T/dev5b.out" 2>&1 \
		|| fail "device accepted a manifest signed by an unpinned key" || return 1
	[ "$before" = "$(sha256sum < "$T/dev5/firmware.bin")" ] || fail "running image replaced" || return 1
	poll 10 cap_json_has vend "$B/status/dev5" state=failed error=key_unknown || fail "no failed status"
}

run_case "fwg-publish.sh + fwg-device.sh: byte-identical image installed" c_rollout
run_case "image.complete recorded (sequence, 5 chunks)" c_complete
run_case "device reported downloading and installed (vendor sees it)" c_status_installed
run_case "a late device installs from the retained store" c_late_device
run_case "device already up to date reports idle" c_up_to_date
run_case "rollout without chunk digests, chunk size 512, second key" c_nodigests
run_case "fwg-publish.sh fails on a refused publish" c_publish_refused
run_case "device pinned to another key reports failed, keeps its image" c_unpinned_key
finish
