#!/bin/bash
# End-to-end protection without trusting the broker: a bare mosquitto (no
# plugin, anonymous) carries crafted retained messages, as a compromised
# broker could. The device agent refuses every bad update, keeps its
# current image and reports "failed" with the reason.
. "$(dirname "$0")/lib.sh"
cli_init
write_conf bare
start_broker || exit 99
CS=4096
BASE=fw/$VENDOR/$MODEL

# agent: one --once run of device dev1; rc in AG_RC, output in $T/agent.out
agent() {
	device_cmd dev1 --once --timeout 15 --max-backoff 1 "$@"
	timeout 60 "${DEV[@]}" > "$T/agent.out" 2>&1
	AG_RC=$?
}
last_status() {
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$BASE/status/dev1" -C 1 -W 5 2>/dev/null
}
# expect_refused REASON: exit 1, image unchanged, installed.seq unchanged, status failed/REASON
expect_refused() {
	[ "$AG_RC" = 1 ] || fail "agent exit $AG_RC (wanted 1): $(tail -c 600 "$T/agent.out")" || return 1
	grep -qF "$1" "$T/agent.out" || fail "agent output lacks $1: $(tail -c 600 "$T/agent.out")" || return 1
	cmp -s "$T/good.bin" "$T/dev1/firmware.bin" || fail "the installed image changed" || return 1
	[ "$(cat "$T/dev1/state/installed.seq")" = 5 ] || fail "installed.seq is $(cat "$T/dev1/state/installed.seq")" || return 1
	local st; st=$(last_status)
	python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["state"]=="failed" and s["error"]==sys.argv[2] else 1)' \
		"$st" "$1" || fail "last status is '$st', wanted failed with $1"
}

head -c 65536 /dev/urandom > "$T/good.bin"
t_install_good() {
	sign "$T/good.bin" 5 "$T/m5.json" --chunk-size $CS || return 1
	put_retained "$BASE/manifest" "$T/m5.json" && put_chunks 5 "$T/good.bin" || fail "mosquitto_pub failed" || return 1
	agent
	[ "$AG_RC" = 0 ] || fail "agent exit $AG_RC: $(tail -c 600 "$T/agent.out")" || return 1
	cmp -s "$T/good.bin" "$T/dev1/firmware.bin" || fail "installed image differs" || return 1
	# the received manifest became the staging one, and both are gone after the install
	local left; left=$(ls "$T/dev1/state" | grep -v '^installed.seq$')
	[ -z "$left" ] || fail "left in the state directory: $left"
}
t_unknown_key() {
	"$FWG" sign --key "$K/rogue-sign.pem" --vendor $VENDOR --model $MODEL --version 6.6.6 --sequence 66 \
		--chunk-size $CS -o "$T/m.json" "$T/good.bin" 2>/dev/null || return 1
	put_retained "$BASE/manifest" "$T/m.json"; agent; expect_refused key_unknown
}
t_bad_signature() {
	sign "$T/good.bin" 67 "$T/m.json" --chunk-size $CS || return 1
	sed -i 's/"version":"1.0.67"/"version":"1.0.68"/' "$T/m.json"
	put_retained "$BASE/manifest" "$T/m.json"; agent; expect_refused signature_invalid
}
t_lower_sequence() {
	sign "$T/good.bin" 3 "$T/m.json" --chunk-size $CS || return 1
	put_retained "$BASE/manifest" "$T/m.json"; agent; expect_refused sequence_not_newer
}
t_expired() {
	local now; now=$(date +%s)
	sign "$T/good.bin" 70 "$T/m.json" --chunk-size $CS --issued $((now - 1000)) --expires $((now - 10)) || return 1
	put_retained "$BASE/manifest" "$T/m.json"; agent; expect_refused expired
}
t_wrong_model() {
	"$FWG" sign --key "$K/vendor-sign.pem" --vendor $VENDOR --model thermo-x2 --version 7 --sequence 71 \
		--chunk-size $CS -o "$T/m.json" "$T/good.bin" 2>/dev/null || return 1
	put_retained "$BASE/manifest" "$T/m.json"; agent; expect_refused model_mismatch
}
# tampered_refused SEQ [-r]: chunk 2 edited after signing: refetched once
# (the broker has only the bad copy), then refused
tampered_refused() {
	head -c 65536 /dev/urandom > "$T/new.bin"
	sign "$T/new.bin" "$1" "$T/m.json" --chunk-size $CS || return 1
	cp "$T/new.bin" "$T/evil.bin"; printf 'EVIL' | dd of="$T/evil.bin" bs=1 seek=9000 conv=notrunc 2>/dev/null
	put_retained "$BASE/manifest" "$T/m.json" && put_chunks "$1" "$T/evil.bin" ${2:-} || return 1
	agent; expect_refused chunk_digest_mismatch || return 1
	grep -q "chunk 2: chunk_digest_mismatch, fetching it again" "$T/agent.out" || fail "no refetch of chunk 2: $(cat "$T/agent.out")"
}
t_tampered_chunk() { tampered_refused 72; }
# A chunk that arrives in order goes into the image digest only; a bad one
# is found when that digest does not match, and fetched again: here the
# broker's copy is corrected meanwhile, so the update installs.
t_bad_chunk_then_good() {
	head -c 65536 /dev/urandom > "$T/new.bin"
	sign "$T/new.bin" 76 "$T/m.json" --chunk-size $CS || return 1
	cp "$T/new.bin" "$T/evil.bin"; printf 'EVIL' | dd of="$T/evil.bin" bs=1 seek=9000 conv=notrunc 2>/dev/null
	put_retained "$BASE/manifest" "$T/m.json" && put_chunks 76 "$T/evil.bin" || return 1
	device_cmd dev1 --once --timeout 30 --max-backoff 1 --max-rate 8192   # 2 chunks/s: 8 s for 16
	timeout 60 "${DEV[@]}" > "$T/agent.out" 2>&1 &
	local pid=$!
	# (the bitmap of the refused sequence 72 is still there until this starts)
	poll 20 grep -q "fetching sequence 76" "$T/agent.out" || { kill $pid; fail "no download: $(cat "$T/agent.out")"; return 1; }
	poll 20 bitmap_ge dev1 3 || { kill $pid; fail "the agent did not store chunks 0-2"; return 1; }
	dd if="$T/new.bin" of="$T/good2" bs=$CS skip=2 count=1 2>/dev/null
	put_retained "$BASE/chunk/76/2" "$T/good2" || { kill $pid; return 1; }
	wait $pid; AG_RC=$?
	[ "$AG_RC" = 0 ] || fail "agent exit $AG_RC: $(tail -c 600 "$T/agent.out")" || return 1
	grep -q "chunk 2: chunk_digest_mismatch, fetching it again" "$T/agent.out" || fail "no refetch of chunk 2: $(cat "$T/agent.out")" || return 1
	cmp -s "$T/new.bin" "$T/dev1/firmware.bin" || fail "installed image differs" || return 1
	[ "$(cat "$T/dev1/state/installed.seq")" = 76 ] || fail "installed.seq $(cat "$T/dev1/state/installed.seq")" || return 1
	# the next case expects sequence 5 installed: put it back
	cp "$T/good.bin" "$T/dev1/firmware.bin"; echo 5 > "$T/dev1/state/installed.seq"
}
# Chunks out of index order are checked one by one against chunk_sha256,
# read from the agent's staging manifest (not kept on its heap).
t_out_of_order() {
	head -c 65536 /dev/urandom > "$T/new.bin"
	sign "$T/new.bin" 80 "$T/m.json" --chunk-size $CS || return 1
	put_retained "$BASE/manifest" "$T/m.json" && put_chunks 80 "$T/new.bin" -r || return 1
	agent
	[ "$AG_RC" = 0 ] || fail "agent exit $AG_RC: $(tail -c 600 "$T/agent.out")" || return 1
	grep -Eq "^1[0-5] chunks came out of order" "$T/agent.out" || fail "not out of order: $(cat "$T/agent.out")" || return 1
	cmp -s "$T/new.bin" "$T/dev1/firmware.bin" || fail "installed image differs" || return 1
	cp "$T/good.bin" "$T/dev1/firmware.bin"; echo 5 > "$T/dev1/state/installed.seq"
}
t_out_of_order_tampered() { tampered_refused 81 -r; }
t_image_digest() {
	head -c 65536 /dev/urandom > "$T/new.bin"
	sign "$T/new.bin" 73 "$T/m.json" --chunk-size $CS --no-chunk-digests || return 1
	cp "$T/new.bin" "$T/evil.bin"; printf 'EVIL' | dd of="$T/evil.bin" bs=1 seek=30000 conv=notrunc 2>/dev/null
	put_retained "$BASE/manifest" "$T/m.json" && put_chunks 73 "$T/evil.bin" || return 1
	agent; expect_refused image_digest_mismatch || return 1
	[ ! -e "$T/dev1/state/staging.bin" ] || fail "the bad staging image was kept"
}
t_short_chunk() {
	head -c 65536 /dev/urandom > "$T/new.bin"
	sign "$T/new.bin" 74 "$T/m.json" --chunk-size $CS --no-chunk-digests || return 1
	put_retained "$BASE/manifest" "$T/m.json" && put_chunks 74 "$T/new.bin" || return 1
	head -c 100 "$T/new.bin" > "$T/short"; put_retained "$BASE/chunk/74/3" "$T/short"
	agent; expect_refused chunk_length
}
t_big_manifest() {
	# above FWG_MANIFEST_MAX (80 KiB): only hashed as it streams, then refused
	python3 -c 'import sys; sys.stdout.write("{\"pad\":\"" + "x" * 90000 + "\"}")' > "$T/big.json"
	put_retained "$BASE/manifest" "$T/big.json"; agent; expect_refused payload_too_large
}
t_then_good() {
	head -c 65536 /dev/urandom > "$T/new.bin"
	sign "$T/new.bin" 80 "$T/m.json" --chunk-size $CS || return 1
	put_retained "$BASE/manifest" "$T/m.json" && put_chunks 80 "$T/new.bin" || return 1
	: > "$T/empty"; put_retained "$BASE/chunk/80/99" "$T/empty"   # a zero-length chunk is ignored
	agent
	[ "$AG_RC" = 0 ] || fail "agent exit $AG_RC: $(tail -c 600 "$T/agent.out")" || return 1
	cmp -s "$T/new.bin" "$T/dev1/firmware.bin" || fail "image differs" || return 1
	[ "$(cat "$T/dev1/state/installed.seq")" = 80 ] || fail "installed.seq $(cat "$T/dev1/state/installed.seq")" || return 1
	[[ "$(last_status)" == *'"state":"installed"'* ]] || fail "status $(last_status)"
}

run_case "a good update (sequence 5) installs" t_install_good
run_case "signature by an unknown key: refused (key_unknown), image kept, failed reported" t_unknown_key
run_case "an edited manifest: refused (signature_invalid)" t_bad_signature
run_case "a lower sequence: refused (sequence_not_newer)" t_lower_sequence
run_case "an expired manifest: refused (expired)" t_expired
run_case "a manifest for another model: refused (model_mismatch)" t_wrong_model
run_case "a tampered chunk: refetched once, then refused (chunk_digest_mismatch)" t_tampered_chunk
run_case "a bad chunk found by the image digest: fetched again, installs when the copy is good" t_bad_chunk_then_good
run_case "chunks out of index order: each checked against chunk_sha256, installs" t_out_of_order
run_case "a tampered chunk out of order: refused on arrival (chunk_digest_mismatch)" t_out_of_order_tampered
run_case "chunks whose whole-image digest differs: refused (image_digest_mismatch)" t_image_digest
run_case "a chunk of the wrong length: refused (chunk_length)" t_short_chunk
run_case "a manifest above 80 KiB: refused (payload_too_large)" t_big_manifest
run_case "afterwards a good update still installs" t_then_good
finish
