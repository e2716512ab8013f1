#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# Hostile chunk publishes; image.complete; clearing of superseded chunks.
. "$(dirname "$0")/lib.sh"
fwg_init
if ! std_setup "plugin_opt_other_topics allow" "plugin_opt_deny_log_burst 1000"; then
	not_ok "broker with the plugin starts and takes a first manifest" "$(tail -5 "$LOG" 2>/dev/null)"
	finish
fi
ok "broker with the plugin starts and takes a first manifest"
# $IMG is 2600 bytes: chunks of 1024, 1024, 552
N=0
hfile() { N=$((N + 1)); HF=$T/hc-$N.bin; }

c_old_sequence() {
	local old=$SEQ
	publish_manifest $((SEQ + 1)) || return 1
	# a valid chunk 0 of the old image, never published before
	hfile; chunk_file "$old" 0 "$HF"
	hostile chunk.rejected chunk_sequence_mismatch "$HF" publish_tagged "$(ctopic "$old" 0)" "$HF"
}
c_index_range() {
	hfile; head -c 552 /dev/urandom > "$HF"
	hostile chunk.rejected chunk_index_out_of_range "$HF" publish_tagged "$(ctopic "$SEQ" 3)" "$HF"
}
c_wrong_length() {
	hfile; head -c 1000 /dev/urandom > "$HF"
	hostile chunk.rejected chunk_length "$HF" publish_tagged "$(ctopic "$SEQ" 0)" "$HF"
}
c_wrong_last_length() {
	hfile; head -c 1024 /dev/urandom > "$HF"
	hostile chunk.rejected chunk_length "$HF" publish_tagged "$(ctopic "$SEQ" 2)" "$HF"
}
c_wrong_digest() {
	hfile; head -c 1024 /dev/urandom > "$HF"
	hostile chunk.rejected chunk_digest_mismatch "$HF" publish_tagged "$(ctopic "$SEQ" 1)" "$HF"
}
c_no_manifest() {
	hfile; head -c 1024 /dev/urandom > "$HF"
	hostile chunk.rejected no_manifest "$HF" publish_tagged "$PREFIX/acme/thermo-x2/chunk/1000/0" "$HF"
}
c_forged_tag() {
	hfile; chunk_file "$SEQ" 0 "$HF"
	local ts; ts=$(date +%s)
	next_cid h
	hostile chunk.rejected tag_mismatch "$HF" mqtt_pub acme-deploy "$CID" "$(ctopic "$SEQ" 0)" "$HF" -V 5 -q 1 \
		-D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$(rand_hex)"
}
c_absent_tag() {
	hfile; chunk_file "$SEQ" 1 "$HF"
	next_cid h
	hostile chunk.rejected tag_missing "$HF" mqtt_pub acme-deploy "$CID" "$(ctopic "$SEQ" 1)" "$HF" -V 5 -q 1
}
c_not_vendor() {
	hfile; chunk_file "$SEQ" 0 "$HF"
	hostile chunk.rejected not_vendor_identity "$HF" publish_tagged "$(ctopic "$SEQ" 0)" "$HF" "" mallory
}
c_bad_index_topic() {
	hfile; chunk_file "$SEQ" 0 "$HF"
	audit_mark
	publish_tagged "$PREFIX/acme/thermo-x1/chunk/$SEQ/00" "$HF"
	expect_denied || return 1
	audit_has_q publish.denied topic_invalid || audit_has chunk.rejected topic_invalid || return 1
	broker_alive || return 1
	probe "$HF"
}
c_complete() {
	local i
	audit_mark
	for i in 0 1 2; do
		chunk_file "$SEQ" "$i" "$T/good-$i.bin"
		publish_tagged "$(ctopic "$SEQ" "$i")" "$T/good-$i.bin"
		expect_accepted || return 1
		wait_for_payload dev "$(ctopic "$SEQ" "$i")" "$T/good-$i.bin" 10 || return 1
	done
	audit_has image.complete "" sequence="$SEQ" nchunks=3 || return 1
	[ "$(audit_count chunk.accepted "")" -eq 0 ] || fail "chunk.accepted is logged" || return 1
	# retained: a late device gets chunk 2 without the vendor publishing again
	timeout 15 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev4 -P "$PASSWORD" -V 5 \
		-t "$(ctopic "$SEQ" 2)" -C 1 -W 10 -N > "$T/late.bin" 2>/dev/null
	cmp -s "$T/late.bin" "$T/good-2.bin" || fail "chunk 2 is not retained"
}
c_complete_once() {
	audit_mark
	# fresh tag (another fw-ts than the first publish of this chunk)
	publish_tagged "$(ctopic "$SEQ" 1)" "$T/good-1.bin" $(($(date +%s) - 5))
	expect_accepted || return 1
	[ "$(audit_count image.complete "")" -eq 0 ] || fail "image.complete recorded twice"
}
c_cleared() {
	local old=$SEQ i
	publish_manifest $((SEQ + 1)) || return 1
	for i in 0 1 2; do
		poll 10 cap_has_line dev "$(ctopic "$old" "$i")" "" || fail "chunk $old/$i not cleared (no zero-length publish)" || return 1
	done
	local out
	out=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$PORT" -u acme/thermo-x1/dev4 -P "$PASSWORD" -V 5 \
		-t "$PREFIX/acme/thermo-x1/chunk/$old/#" --retained-only -W 2 -F '%t' 2>/dev/null)
	[ -z "$out" ] || fail "old chunks still retained: $out"
}
c_no_digest_manifest() {
	# without chunk_sha256 only the length is checked
	local f=$T/nod.json
	sign_manifest "$f" $((SEQ + 1)) --no-chunk-digests || return 1
	publish_tagged "$(mtopic)" "$f"; expect_accepted || return 1
	SEQ=$((SEQ + 1)) CUR_MANIFEST=$f
	hfile; head -c 1000 /dev/urandom > "$HF"
	hostile chunk.rejected chunk_length "$HF" publish_tagged "$(ctopic "$SEQ" 0)" "$HF"
}

run_case "chunk for an old sequence -> chunk_sequence_mismatch" c_old_sequence
run_case "chunk index out of range -> chunk_index_out_of_range" c_index_range
run_case "chunk of wrong length -> chunk_length" c_wrong_length
run_case "last chunk of wrong length -> chunk_length" c_wrong_last_length
run_case "chunk with wrong digest -> chunk_digest_mismatch" c_wrong_digest
run_case "chunk for a model without a manifest -> no_manifest" c_no_manifest
run_case "chunk with a forged tag -> tag_mismatch" c_forged_tag
run_case "chunk without tag -> tag_missing" c_absent_tag
run_case "chunk from a non-vendor identity -> not_vendor_identity" c_not_vendor
run_case "chunk index with a leading zero -> topic_invalid" c_bad_index_topic
run_case "all chunks accepted -> image.complete, chunks retained" c_complete
run_case "a chunk re-sent after completion: no second image.complete" c_complete_once
run_case "newer manifest clears the retained chunks of the old image" c_cleared
run_case "manifest without chunk digests: wrong length still refused" c_no_digest_manifest
finish
