#!/bin/bash
# Broker-enforced staged rollout with 100 simulated devices that stay
# connected throughout: at 10 % exactly the devices whose bucket is inside
# receive the manifest (and chunks); raising to 100 % delivers it to the rest
# without reconnecting; a paused model delivers a new sequence to nobody,
# not even after its percentage is raised; resuming delivers it to exactly
# the devices inside the bucket. Buckets are computed here with python's
# hashlib, not taken from the plugin.
. "$(dirname "$0")/lib.sh"
N=100
ops_init "$N"
write_ops_conf
start_broker || exit 99
head -c 4096 /dev/urandom > "$T/img1"
head -c 4096 /dev/urandom > "$T/img2"
seq 1 "$N" | sed 's/^/dev/' | sort > "$T/all"

t_set10() {
	inside 10 1 "$N" | sort > "$T/in10"
	local n; n=$(wc -l < "$T/in10")
	note "$n of $N devices are inside a 10 % rollout"
	[ "$n" -ge 1 ] && [ "$n" -le 25 ] || fail "$n devices inside 10 %: the test would prove nothing" || return 1
	ctl_ok setRollout "$VENDOR" "$MODEL" 10 || return 1
	[ "$(json_get 'd["percent"], d["paused"]' < "$T/ctl.out")" = "(10, False)" ] || fail "setRollout answered $(cat "$T/ctl.out")"
}
t_publish1() {
	sign "$T/img1" 1 "$T/m1.json" --chunk-size 1024 || fail "sign failed" || return 1
	publish "$T/m1.json" "$T/img1"
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")"
}
t_at10() {
	sim_start "$N" --chunks || return 1
	barrier "$N" || return 1
	got 1 > "$T/got1"
	local n; n=$(wc -l < "$T/got1")
	note "$n devices received manifest 1 at 10 %"
	[ "$n" -ge 1 ] && [ "$n" -le 25 ] || fail "$n devices received the manifest at 10 %" || return 1
	same_set "$T/got1" "$T/in10" || return 1
	got_chunk 1 > "$T/gotc1"
	same_set "$T/gotc1" "$T/in10" || { FAIL_MSG="chunks: $FAIL_MSG"; return 1; }
	sim_clean
}
t_to100() {
	ctl_ok setRollout "$VENDOR" "$MODEL" 100 || return 1
	barrier "$N" || return 1
	got 1 > "$T/got1"
	same_set "$T/got1" "$T/all" || return 1
	note "$(comm -23 "$T/all" "$T/in10" | wc -l) devices received it without resubscribing"
	sim_clean
}
t_pause() {
	ctl_ok setRollout "$VENDOR" "$MODEL" 50 || return 1
	ctl_ok pauseModel "$VENDOR" "$MODEL" || return 1
	[ "$(json_get 'd["percent"], d["paused"]' < "$T/ctl.out")" = "(50, True)" ] || fail "pauseModel answered $(cat "$T/ctl.out")" || return 1
	sign "$T/img2" 2 "$T/m2.json" --chunk-size 1024 || fail "sign failed" || return 1
	publish "$T/m2.json" "$T/img2"
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")" || return 1
	barrier "$N" || return 1
	[ -z "$(got 2)" ] || fail "paused, yet manifest 2 went to: $(got 2 | tr '\n' ' ')" || return 1
	[ -z "$(got_chunk 2)" ] || fail "paused, yet chunk 2/0 went to: $(got_chunk 2 | tr '\n' ' ')" || return 1
	ctl_ok getModel "$VENDOR" "$MODEL" || return 1
	[ "$(json_get 'd["sequence"], d["rollout"]["percent"], d["rollout"]["paused"]' < "$T/ctl.out")" = "(2, 50, True)" ] ||
		fail "getModel: $(cat "$T/ctl.out")"
}
t_raise_while_paused() {
	ctl_ok setRollout "$VENDOR" "$MODEL" 80 || return 1
	[ "$(json_get 'd["percent"], d["paused"]' < "$T/ctl.out")" = "(80, True)" ] || fail "setRollout answered $(cat "$T/ctl.out")" || return 1
	barrier "$N" || return 1
	[ -z "$(got 2)" ] || fail "paused at 80 %, yet manifest 2 went to: $(got 2 | tr '\n' ' ')"
}
t_resume() {
	inside 80 1 "$N" | sort > "$T/in80"
	ctl_ok resumeModel "$VENDOR" "$MODEL" || return 1
	[ "$(json_get 'd["percent"], d["paused"]' < "$T/ctl.out")" = "(80, False)" ] || fail "resumeModel answered $(cat "$T/ctl.out")" || return 1
	barrier "$N" || return 1
	got 2 > "$T/got2"
	note "$(wc -l < "$T/got2") devices received manifest 2 on resume ($(wc -l < "$T/in80") inside 80 %)"
	same_set "$T/got2" "$T/in80" || return 1
	sim_clean
}
t_outside_cannot_fetch() {
	# A device outside the bucket that subscribes afresh gets neither the
	# manifest nor a chunk of sequence 2; one inside gets both. Retained
	# messages are queued filter by filter, in order, at SUBSCRIBE: the last
	# filter (a retained message on an ordinary topic) is the sentinel, so
	# the outside device's first message must be that one.
	local out in f=(-t "fw/$VENDOR/$MODEL/manifest" -t "fw/$VENDOR/$MODEL/chunk/2/3" -t ops/sentinel)
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$ADMIN" -P "$PASSWORD" -q 1 -r -t ops/sentinel -m s ||
		fail "cannot publish the sentinel" || return 1
	out=$(comm -23 "$T/all" "$T/in80" | head -1) in=$(head -1 "$T/in80")
	[ -n "$out" ] && [ -n "$in" ] || fail "no device outside or inside 80 %" || return 1
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$VENDOR/$MODEL/$in" -P "$PASSWORD" -V 5 -F %t -C 3 -W 5 \
		"${f[@]}" > "$T/in.sub" 2>&1
	[ "$(tr '\n' ' ' < "$T/in.sub")" = "fw/$VENDOR/$MODEL/manifest fw/$VENDOR/$MODEL/chunk/2/3 ops/sentinel " ] ||
		fail "inside device $in got: $(cat "$T/in.sub")" || return 1
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$VENDOR/$MODEL/$out" -P "$PASSWORD" -V 5 -F %t -C 1 -W 5 \
		"${f[@]}" > "$T/out.sub" 2>&1
	[ "$(cat "$T/out.sub")" = ops/sentinel ] || fail "outside device $out got: $(cat "$T/out.sub")"
}

run_case "10 %: between 1 and 25 of $N devices are inside (python hashlib)" t_set10
run_case "publish sequence 1" t_publish1
run_case "10 %: exactly the devices inside the bucket receive manifest and chunks" t_at10
run_case "100 %: the rest receive it without reconnecting" t_to100
run_case "paused (50 %): sequence 2 reaches nobody" t_pause
run_case "raised to 80 % while paused: still nobody" t_raise_while_paused
run_case "resume: exactly the devices inside 80 % receive sequence 2" t_resume
run_case "a device outside the bucket cannot fetch sequence 2 by subscribing" t_outside_cannot_fetch
sim_stop
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
