#!/bin/bash
# The retained fleet summary <prefix>/<vendor>/<model>/fleet: 100 simulated
# devices report a mixture of states and sequences; the summary the vendor
# reads (and getModel's) counts exactly what they reported, the latest state
# of each; an invalid status is refused and not counted; the summary is
# published at most once per second; devices and other vendors cannot read it.
. "$(dirname "$0")/lib.sh"
N=100
ops_init "$N"
write_ops_conf
start_broker || exit 99
head -c 3000 /dev/urandom > "$T/img1"
head -c 5000 /dev/urandom > "$T/img2"
FLEET=fw/$VENDOR/$MODEL/fleet
WATCH_PID=''

# status_of I: the final status of dev<I>
status_of() {
	local i=$1
	if [ "$i" -le 40 ]; then echo '{"state":"installed","sequence":2,"version":"1.0.2"}'
	elif [ "$i" -le 60 ]; then echo '{"state":"installed","sequence":1}'
	elif [ "$i" -le 70 ]; then echo '{"state":"idle","sequence":1}'
	elif [ "$i" -le 80 ]; then echo '{"state":"downloading","sequence":2,"progress":40}'
	elif [ "$i" -le 85 ]; then echo '{"state":"verifying","sequence":2,"future_member":true}'
	elif [ "$i" -le 95 ]; then echo '{"state":"failed","sequence":2,"error":"chunk_digest_mismatch"}'
	else echo '{"state":"idle"}'
	fi
}
# what the devices reported, counted here: dev71..80 had reported
# "installed 1" before "downloading 2", so 1 stays their installed sequence
EXPECT='{"devices": 100, "states": {"idle": 15, "downloading": 10, "verifying": 5, "installed": 60, "failed": 10},
 "installed_sequences": {"2": 40, "1": 40}, "installed_unknown": 20}'
# fleet_is FILE: the summary in FILE has the expected counts
fleet_is() {
	python3 - "$1" "$EXPECT" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("no summary: %s" % e); sys.exit(1)
want = json.loads(sys.argv[2])
got = {k: d.get(k) for k in want}
if got != want:
    print("summary %s != expected %s" % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True))); sys.exit(1)
PY
}
# read_fleet USER OUT: the retained summary as USER (one message, 3 s bound)
read_fleet() {
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$1" -P "$PASSWORD" -V 5 -C 1 -W 3 -t "$FLEET" > "$2" 2> /dev/null
}
# PUBACKs of status reports: accepted (< 0x80: 0, or 0x10 no subscribers) / refused
puback_ok() { awk '$1 == "puback" && $3 < 128' "$SIM_OUT" | wc -l; }
puback_ok_ge() { [ "$(puback_ok)" -ge "$1" ]; }

t_setup() {
	sign "$T/img1" 1 "$T/m1.json" --chunk-size 1024 || fail "sign failed" || return 1
	publish "$T/m1.json" "$T/img1"
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")" || return 1
	sign "$T/img2" 2 "$T/m2.json" --chunk-size 1024 || fail "sign failed" || return 1
	publish "$T/m2.json" "$T/img2"
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")" || return 1
	sim_start "$N" || return 1
	# a vendor subscriber watching every summary published from now on
	timeout 120 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme-deploy -P "$PASSWORD" -i ops-watch -V 5 -R -t "$FLEET" \
		> "$T/watch.out" 2> "$T/watch.err" &
	WATCH_PID=$!; BG_PIDS+=("$WATCH_PID")
	poll 10 grep -q " as ops-watch " "$LOG" || fail "watcher did not connect"
}
t_report() {
	local i
	for i in $(seq 71 80); do sim_cmd "status dev$i {\"state\":\"installed\",\"sequence\":1}"; done
	poll 20 puback_ok_ge 10 || fail "first statuses: $(puback_ok) accepted of 10" || return 1
	# the watcher sees a summary of these 10 first (so the rate check below
	# has at least two summaries to compare)
	poll 10 grep -q '"devices":10,' "$T/watch.out" || fail "no summary of the first 10 reports: $(cat "$T/watch.out")" || return 1
	# in waves of 10, each acknowledged before the next (many broker loop
	# passes, so a summary per pass would show in t_rate)
	for i in $(seq 1 "$N"); do
		sim_cmd "status dev$i $(status_of "$i")"
		[ $((i % 10)) != 0 ] || poll 10 puback_ok_ge $((i + 10)) || fail "wave $i: $(puback_ok) accepted" || return 1
	done
	poll 30 puback_ok_ge $((N + 10)) || fail "$(puback_ok) accepted of $((N + 10)): $(awk '$1 == "puback" && $3 >= 128' "$SIM_OUT" | head -3)" || return 1
	[ "$(grep -c '^puback ' "$SIM_OUT")" = $((N + 10)) ] || fail "refused statuses: $(awk '$1 == "puback" && $3 >= 128' "$SIM_OUT" | head -3)" || return 1
	sim_clean
}
t_invalid_status() {
	sim_cmd 'status dev1 {"state":"exploded","sequence":2}'
	poll 10 grep -q '^puback dev1 135$' "$SIM_OUT" || fail "an invalid status was not refused with 0x87: $(grep '^puback dev1' "$SIM_OUT")"
}
# the vendor's retained summary, until its counts match (bounded, 15 s)
t_vendor_reads() {
	local end=$((SECONDS + 15))
	while [ "$SECONDS" -lt "$end" ]; do
		read_fleet acme-deploy "$T/fleet.json"
		fleet_is "$T/fleet.json" > "$T/fleet.chk" && break
	done
	fleet_is "$T/fleet.json" > "$T/fleet.chk" || fail "$(cat "$T/fleet.chk")" || return 1
	local other
	other=$(json_get '(d["vendor"], d["model"], d["accepted_sequence"], d["version"], d["image_complete"], d["chunks_received"] == d["nchunks"] == 5, d["rollout"], "ts" in d)' < "$T/fleet.json")
	[ "$other" = "('acme', 'thermo-x1', 2, '1.0.2', True, True, {'percent': 100, 'paused': False}, True)" ] ||
		fail "summary: $other"
}
t_getmodel_fleet() {
	ctl_ok getModel "$VENDOR" "$MODEL" || return 1
	json_get 'json.dumps(d["fleet"])' < "$T/ctl.out" > "$T/gm.json"
	fleet_is "$T/gm.json" > "$T/gm.chk" || fail "getModel: $(cat "$T/gm.chk")"
}
t_rate() {
	# the watcher has seen every summary since before the reports: at least
	# two (see t_report), each with a later second in "ts" than the one
	# before (one per status would be 111 summaries in about a second)
	kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null
	python3 - "$T/watch.out" <<'PY' > "$T/rate.chk" || { fail "$(cat "$T/rate.chk")"; return 1; }
import json, sys
ts = [json.loads(l)["ts"][:19] for l in open(sys.argv[1]) if l.strip()]
if len(ts) < 2:
    print("fewer than 2 summaries: %s" % ts); sys.exit(1)
for a, b in zip(ts, ts[1:]):
    if not a < b:
        print("two summaries in one second: %s, %s (all: %s)" % (a, b, ts)); sys.exit(1)
print(len(ts))
PY
	note "$(cat "$T/rate.chk") summaries published while $((N + 11)) statuses arrived"
}
t_device_cannot_read() {
	# Retained messages are queued filter by filter at SUBSCRIBE; the
	# retained ops/sentinel (an ordinary topic) comes last. Between: what
	# dev1 may read under its model (the manifest), never the summary.
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$ADMIN" -P "$PASSWORD" -q 1 -r -t ops/sentinel -m s || fail "sentinel" || return 1
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$VENDOR/$MODEL/dev1" -P "$PASSWORD" -V 5 -F %t -C 2 -W 5 \
		-t "$FLEET" -t "fw/$VENDOR/$MODEL/+" -t ops/sentinel > "$T/dev.sub" 2> "$T/dev.err"
	[ "$(tr '\n' ' ' < "$T/dev.sub")" = "fw/$VENDOR/$MODEL/manifest ops/sentinel " ] ||
		fail "device read: $(cat "$T/dev.sub" "$T/dev.err")" || return 1
	grep '"event":"subscribe.denied"' "$T/fwguard.audit" | grep -q "\"topic\":\"$FLEET\"" ||
		fail "no subscribe.denied for the fleet topic"
}
t_other_vendor_cannot_read() {
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$ADMIN" -P "$PASSWORD" -q 1 -r -t ops/end -m e || fail "sentinel" || return 1
	# '#': every retained message globex may read (ops/sentinel, ops/end), then
	# ops/end again for the last filter; the 3 first messages are exactly those
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u globex-deploy -P "$PASSWORD" -V 5 -F %t -C 3 -W 5 \
		-t "$FLEET" -t '#' -t ops/end > "$T/gx.sub" 2> "$T/gx.err"
	[ "$(sort < "$T/gx.sub" | tr '\n' ' ')" = "ops/end ops/end ops/sentinel " ] && [ "$(tail -1 "$T/gx.sub")" = ops/end ] ||
		fail "globex read: $(cat "$T/gx.sub" "$T/gx.err")" || return 1
	read_fleet acme-deploy "$T/f2.json"
	[ -s "$T/f2.json" ] || fail "the vendor itself cannot read it any more"
}

run_case "publish sequences 1 and 2; $N devices connect" t_setup
run_case "$N devices report their status (110 reports, all accepted)" t_report
run_case "an invalid status is refused (0x87) and not counted" t_invalid_status
run_case "the vendor's retained summary counts exactly what the devices reported" t_vendor_reads
run_case "getModel's fleet has the same counts" t_getmodel_fleet
run_case "at most one summary per second" t_rate
run_case "a device cannot read the fleet summary" t_device_cannot_read
run_case "another vendor cannot read it" t_other_vendor_cannot_read
sim_stop
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
