#!/bin/bash
# The device agent over TLS (its own MQTT client, tools/mqttc.c): a bare
# mosquitto with a TLS listener on loopback, a CA and a server certificate
# for the name "localhost" only, made here with openssl. The agent installs
# when it trusts the CA and reaches the broker by that name; it refuses a
# certificate from another CA and a name the certificate does not carry
# (unless --insecure), and fails cleanly against a TLS port spoken to in
# plain TCP.
. "$(dirname "$0")/lib.sh"
cli_init
command -v openssl >/dev/null || { echo "1..0 # openssl is needed" ; exit 99; }
CS=4096
BASE=fw/$VENDOR/$MODEL
P=$T/pki
mkdir -p "$P"

# mkca NAME: a self-signed P-256 CA
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=fwguard test $1" \
		-keyout "$P/$1.key" -out "$P/$1.crt" 2>/dev/null
}
mkca ca || exit 99
mkca other-ca || exit 99
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	-keyout "$P/server.key" -out "$P/server.csr" 2>/dev/null || exit 99
printf 'subjectAltName=DNS:localhost\n' > "$P/ext.cnf"
openssl x509 -req -in "$P/server.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
	-extfile "$P/ext.cnf" -out "$P/server.crt" 2>/dev/null || exit 99
chmod 644 "$P"/*.key

{
	echo "per_listener_settings false"
	echo "listener $PORT 127.0.0.1"
	echo "cafile $P/ca.crt"
	echo "certfile $P/server.crt"
	echo "keyfile $P/server.key"
	echo "log_dest file $LOG"
	echo "user root"
	echo "persistence false"
	echo "allow_anonymous true"
} > "$CONF"
start_broker || exit 99

# (lib.sh's put_chunks publishes with this one)
put_retained() {
	timeout 20 mosquitto_pub -h localhost -p "$PORT" --cafile "$P/ca.crt" -q 1 -r -t "$1" -f "$2"
}
head -c 16384 /dev/urandom > "$T/img.bin"
sign "$T/img.bin" 3 "$T/m.json" --chunk-size $CS || exit 99
put_retained "$BASE/manifest" "$T/m.json" || { echo "# mosquitto_pub over TLS failed"; exit 99; }
put_chunks 3 "$T/img.bin" || exit 99

# agent HOST [options]: one --once run of dev1; rc in AG_RC, output in $T/agent.out
agent() {
	local host=$1; shift
	device_cmd dev1 --once --timeout 8 --max-backoff 1 "$@"
	DEV[3]=$host   # -h HOST
	timeout 60 "${DEV[@]}" > "$T/agent.out" 2>&1
	AG_RC=$?
}

t_install() {
	agent localhost --cafile "$P/ca.crt"
	[ "$AG_RC" = 0 ] || fail "agent exit $AG_RC: $(tail -c 600 "$T/agent.out")" || return 1
	cmp -s "$T/img.bin" "$T/dev1/firmware.bin" || fail "installed image differs" || return 1
	grep -q "installed sequence 3" "$T/agent.out" || fail "no install line: $(cat "$T/agent.out")"
}
t_other_ca() {
	agent localhost --cafile "$P/other-ca.crt"
	[ "$AG_RC" != 0 ] || fail "agent trusted a certificate from another CA" || return 1
	grep -q "TLS handshake failed" "$T/agent.out" || fail "no TLS error named: $(tail -c 600 "$T/agent.out")"
}
t_wrong_name() {
	agent 127.0.0.1 --cafile "$P/ca.crt"
	[ "$AG_RC" != 0 ] || fail "agent accepted a certificate for another name" || return 1
	grep -q "TLS handshake failed" "$T/agent.out" || fail "no TLS error named: $(tail -c 600 "$T/agent.out")"
}
t_insecure() {
	# --insecure skips the name check only: the CA still has to sign it
	agent 127.0.0.1 --cafile "$P/ca.crt" --insecure
	[ "$AG_RC" = 0 ] || fail "agent exit $AG_RC: $(tail -c 600 "$T/agent.out")" || return 1
	grep -q "up to date" "$T/agent.out" || fail "not up to date: $(cat "$T/agent.out")"
}
t_plain_tcp() {
	agent localhost
	[ "$AG_RC" != 0 ] || fail "agent got through a TLS port in plain TCP" || return 1
	kill -0 "$BROKER_PID" 2>/dev/null || fail "broker died"
}

run_case "trusted CA, name in the certificate: installs over TLS" t_install
run_case "certificate from another CA: refused (TLS handshake failed)" t_other_ca
run_case "a name the certificate does not carry: refused (TLS handshake failed)" t_wrong_name
run_case "--insecure: the name is not checked, the CA still is" t_insecure
run_case "plain TCP to the TLS port: fails cleanly, broker unharmed" t_plain_tcp
finish
