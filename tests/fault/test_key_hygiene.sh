#!/bin/bash
# shellcheck disable=SC2317  # case functions are called through run_case
# Key hygiene: a broker key readable by others stops the broker ("too
# open"); no secret -- the broker private key (PEM body, private scalar), a
# vendor tag key K, an ECDH shared secret -- appears in the broker log, its
# stderr or the audit log of a full run (accept, chunks, status, denials,
# reload).
. "$(dirname "$0")/fault_lib.sh"
fwg_init

c_too_open() {
	write_trust_store || return 1
	write_conf
	chmod 0644 "$K/broker-ecdh.pem"
	if start_broker 2>/dev/null; then stop_broker; fail "the broker started with a 0644 broker key"; return 1; fi
	[ -n "$BROKER_RC" ] && [ "$BROKER_RC" -ne 0 ] || fail "broker exit status '$BROKER_RC', not non-zero" || return 1
	grep -q "fwguard: plugin_opt_broker_key: .*permissions 0644 are too open" "$LOG" "$T/broker.out" \
		|| fail "no 'too open' line: $(grep fwguard: "$LOG" | tail -3)"
}
c_group_readable() {
	chmod 0640 "$K/broker-ecdh.pem"
	if start_broker 2>/dev/null; then stop_broker; fail "the broker started with a 0640 broker key"; return 1; fi
	grep -q "permissions 0640 are too open" "$LOG" "$T/broker.out" || fail "no 'too open' line for 0640"
}
c_full_run() {
	chmod 0600 "$K/broker-ecdh.pem"
	rm -f "$AUDIT"
	std_setup "plugin_opt_other_topics allow" || fail "setup failed: $FAIL_MSG" || return 1
	local i
	for i in 0 1 2; do
		chunk_file 1 "$i" "$T/c$i.bin"
		publish_tagged "$(ctopic 1 "$i")" "$T/c$i.bin"; expect_accepted || return 1
	done
	audit_mark
	publish_tagged "$(ctopic 1 0)" "$T/c0.bin" "" acme-deploy "" "$KEY_GLOBEX_AS_ACME"; expect_denied || return 1
	publish_tagged "$(mtopic)" "$CUR_MANIFEST" "" globex-deploy "" "$KEY_GLOBEX"; expect_denied || return 1
	audit_has chunk.rejected tag_mismatch || return 1
	kill -HUP "$BROKER_PID"
	audit_wait 10 config.reloaded "" || return 1
	publish_manifest 2 || return 1
	stop_broker TERM
	[ -s "$LOG" ] && [ -s "$AUDIT" ] || fail "no broker log or audit log to search"
}

# the secrets, as lower-case hex, upper-case hex and base64 strings
SECRETS=$T/secrets.txt
add_bin() {   # add_bin FILE: a binary secret in every spelling
	od -An -v -tx1 "$1" | tr -d ' \n' >> "$SECRETS"; echo >> "$SECRETS"
	od -An -v -tx1 "$1" | tr -d ' \n' | tr a-f A-F >> "$SECRETS"; echo >> "$SECRETS"
	base64 -w0 "$1" >> "$SECRETS"; echo >> "$SECRETS"
}
add_hex() { printf '%s' "$1" | xxd -r -p > "$T/sec.bin" && add_bin "$T/sec.bin"; }
derive() {   # derive OUR_PRIV_PEM PEER_PUB_PEM: the ECDH shared secret, raw
	openssl pkeyutl -derive -inkey "$1" -peerkey "$2" -out "$T/sec.bin"
}
c_collect() {
	: > "$SECRETS"
	# the PEM body of the broker key, line by line and whole
	sed '/-----/d' "$K/broker-ecdh.pem" > "$T/pem.body"
	grep -E '.{16,}' "$T/pem.body" >> "$SECRETS"
	tr -d '\n' < "$T/pem.body" >> "$SECRETS"; echo >> "$SECRETS"
	# its private scalar
	openssl pkey -in "$K/broker-ecdh.pem" -text -noout \
		| awk '/^priv:/ { p = 1; next } /^pub:/ { p = 0 } p' | tr -d ' :\n' > "$T/priv.hex"
	[ "$(wc -c < "$T/priv.hex")" -ge 60 ] || fail "could not read the private scalar" || return 1
	add_hex "$(cat "$T/priv.hex")"
	# tag keys K (acme, globex) and the ECDH secrets behind them
	add_hex "$KEY_ACME"; add_hex "$KEY_GLOBEX"
	derive "$K/broker-ecdh.pem" "$K/vendor-ecdh.pub.pem" || fail "ECDH derive failed" || return 1
	add_bin "$T/sec.bin"
	derive "$K/vendor-ecdh.pem" "$K/broker-ecdh.pub.pem" && add_bin "$T/sec.bin"
	derive "$K/broker-ecdh.pem" "$K/globex-ecdh.pub.pem" && add_bin "$T/sec.bin"
	[ "$(grep -c . "$SECRETS")" -ge 20 ] || fail "too few secret strings: $(grep -c . "$SECRETS")"
}
# hits FILE...: secret strings found in the files
hits() { grep -F -o -f "$SECRETS" "$@" 2>/dev/null | sort -u; }
c_self_check() {
	# the search finds a planted secret (so an empty result means something)
	{ echo "noise"; echo "x $KEY_ACME y"; } > "$T/planted.log"
	[ -n "$(hits "$T/planted.log")" ] || fail "the search does not find the tag key in a planted log" || return 1
	sed -n 2p "$T/pem.body" > "$T/planted.log"
	[ -n "$(hits "$T/planted.log")" ] || fail "the search does not find a PEM line in a planted log"
}
c_no_secret() {
	local out
	out=$(hits "$LOG" "$T/broker.out" "$AUDIT")
	[ -z "$out" ] || fail "secret material in the logs: $(printf '%s' "$out" | head -c 200)"
}

run_case "(f) broker key 0644 -> broker refuses to start: too open" c_too_open
run_case "(f) broker key 0640 -> refused too" c_group_readable
run_case "(f) a full run with a 0600 key (accept, chunks, denials, reload)" c_full_run
run_case "(f) secrets collected: PEM body, private scalar, K, ECDH secrets" c_collect
run_case "(f) the secret search finds planted secrets" c_self_check
run_case "(f) no secret in the broker log, its stderr or the audit log" c_no_secret
finish
