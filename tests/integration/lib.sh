# shellcheck shell=bash
# shellcheck disable=SC2034,SC2119,SC2120
# Library of the fwguard integration tests: a real mosquitto with the plugin,
# one temporary directory per test script, TAP-like output.
#
# Environment (set by meson):
#   FWG_PLUGIN    path of mosquitto_fwguard.so (empty: a bare broker, for
#                 self-checks of the shell tools only)
#   FWG_EXAMPLES  the examples/ directory
#   FWG_VECTORS   the protocol vectors directory
#   FWG_KEEP=1    keep the temporary directory even when everything passed
# Broker under a checker (.ci/sanitizers.sh sets these):
#   FWG_BROKER_ENV   words VAR=VALUE put in the broker's environment (env(1)),
#                    e.g. "LD_PRELOAD=/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so"
#   FWG_BROKER_WRAP  a command prefix for the broker, e.g.
#                    "valgrind --log-file={T}/vg.%p.log ..."; in both, {T} is
#                    the test's work directory. Valgrind logs must be named
#                    {T}/vg.*.log to be checked.
#   FWG_PRELOAD_EXTRA  (set by a test) a library appended to LD_PRELOAD
#   FWG_TIME_SCALE   integer factor for broker start/stop and poll timeouts (1)
# After every broker exit the broker's stderr is searched for ASan, LSan and
# UBSan reports (sancheck.py: any ASan/UBSan error, any leak with a frame in
# fwguard) and each new valgrind log is checked (vgcheck.py): a failed case.
set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FWG_EXAMPLES=${FWG_EXAMPLES:-$LIB_DIR/../../examples}
FWG_VECTORS=${FWG_VECTORS:-$LIB_DIR/../vectors}
FWG_PLUGIN=${FWG_PLUGIN:-}
CHECK=$LIB_DIR/fwgcheck.py
PASSWORD=secret-pw
PREFIX=fw

N_CASE=0 N_PASS=0 N_FAIL=0
FAIL_MSG=''
BROKER_PID=''
BG_PIDS=()
T=$(mktemp -d "${TMPDIR:-/tmp}/fwg-it.XXXXXX") || exit 99
AUDIT=$T/fwguard.audit
STATE=$T/fwguard.state
LOG=$T/mosquitto.log
CONF=$T/mosquitto.conf
PORT=''
AUDIT_MARK=0
LAST_ERR=$T/last.err
LAST_RC=0
CID_N=0
BROKER_RC=''
FWG_TIME_SCALE=${FWG_TIME_SCALE:-1}
SRC_ROOT=$(cd "$LIB_DIR/../.." && pwd)
SAN_OFF=0
VG_DONE=' '

# --------------------------------------------------------------- bookkeeping
note() { echo "# $*"; }
fail() { FAIL_MSG="$*"; return 1; }
ok() { N_CASE=$((N_CASE + 1)); N_PASS=$((N_PASS + 1)); echo "ok $N_CASE - $1"; }
not_ok() {
	N_CASE=$((N_CASE + 1)); N_FAIL=$((N_FAIL + 1))
	echo "not ok $N_CASE - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}
# run_case DESCRIPTION FUNCTION [ARGS...]: one numbered check
run_case() {
	local desc=$1; shift
	FAIL_MSG=''
	if "$@"; then ok "$desc"; else not_ok "$desc" "${FAIL_MSG:-$1 returned non-zero}"; fi
}

cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -z "$BROKER_PID" ] || stop_broker
	if [ "$N_FAIL" -eq 0 ] && [ "${FWG_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	else
		echo "# work directory kept: $T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# finish: the audit chain check, the summary line, the exit code
finish() {
	# stop the broker here, not in the EXIT trap, so that its checker
	# reports (sanitizers, valgrind at exit) still count
	[ -z "$BROKER_PID" ] || stop_broker
	if [ -n "$FWG_PLUGIN" ] && [ -f "$AUDIT" ]; then
		run_case "audit hash chain verifies" audit_chain_ok
	fi
	echo "$N_PASS passed, $N_FAIL failed"
	[ "$N_FAIL" -eq 0 ]
	exit $?
}

# bounded poll: poll TIMEOUT_SECONDS COMMAND...  (true when COMMAND succeeds in time)
poll() {
	local limit=$1 i=0; shift
	local n=$((limit * 20 * FWG_TIME_SCALE))
	while [ "$i" -lt "$n" ]; do
		"$@" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	"$@"
}

# next_cid [PREFIX]: a fresh client id in $CID (not in a subshell: the counter must advance)
next_cid() { CID_N=$((CID_N + 1)); CID="${1:-c}$CID_N-$$"; }

# -------------------------------------------------------------------- setup
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# fwg_init: keys, passwords, tag keys, port. Call once per script.
fwg_init() {
	[ -x "$FWG_EXAMPLES/fwg-keys.sh" ] || { echo "no examples in $FWG_EXAMPLES" >&2; exit 99; }
	if [ -n "$FWG_PLUGIN" ] && [ ! -f "$FWG_PLUGIN" ]; then echo "no plugin $FWG_PLUGIN" >&2; exit 99; fi
	K=$T/keys
	"$FWG_EXAMPLES/fwg-keys.sh" "$K" vendor-sign vendor-ecdh broker-ecdh acme-sign2 acme-revoked \
		globex-sign globex-ecdh rogue-sign rogue-ecdh > /dev/null || exit 99
	local u first=1
	for u in acme-deploy globex-deploy mallory acme/thermo-x1/dev1 acme/thermo-x1/dev2 \
		acme/thermo-x2/dev3 acme/thermo-x1/dev4 acme/thermo-x1/dev5; do
		if [ "$first" = 1 ]; then
			mosquitto_passwd -c -b "$T/passwd" "$u" "$PASSWORD" || exit 99; first=0
		else
			mosquitto_passwd -b "$T/passwd" "$u" "$PASSWORD" || exit 99
		fi
	done
	KEY_ACME=$(tagkey "$K/vendor-ecdh.pem" acme)        # the real tag key
	KEY_GLOBEX_AS_ACME=$(tagkey "$K/globex-ecdh.pem" acme)
	KEY_ROGUE=$(tagkey "$K/rogue-ecdh.pem" acme)
	KEY_GLOBEX=$(tagkey "$K/globex-ecdh.pem" globex)
	PORT=$(free_port)
	IMG=$T/image.bin
	head -c 2600 /dev/urandom > "$IMG"
	SEQ=0
}
tagkey() { "$FWG_EXAMPLES/fwg-tag.sh" --vendor-key "$1" --broker-pub "$K/broker-ecdh.pub.b64" --vendor "$2" --print-key; }

# write_trust_store [extra fwg-trust-store.sh args]: acme + globex
write_trust_store() {
	"$FWG_EXAMPLES/fwg-trust-store.sh" \
		--vendor acme --username acme-deploy --ecdh "$K/vendor-ecdh.pub.b64" \
		--sign "$K/vendor-sign.pub.b64" --sign "$K/acme-sign2.pub.b64" --revoked "$K/acme-revoked.pub.b64" \
		--model thermo-x1 --model thermo-x2 --min-sequence thermo-x2=1000 \
		--vendor globex --username globex-deploy --ecdh "$K/globex-ecdh.pub.b64" --sign "$K/globex-sign.pub.b64" \
		"$@" > "$T/vendors.json.tmp" && mv "$T/vendors.json.tmp" "$T/vendors.json"
}

# write_conf [extra config lines...]
write_conf() {
	{
		echo "per_listener_settings false"
		echo "listener $PORT 127.0.0.1"
		echo "allow_anonymous false"
		echo "password_file $T/passwd"
		if [ "${PERSIST:-0}" = 1 ]; then
			echo "persistence true"
			echo "persistence_location $T/"
		else
			echo "persistence false"
		fi
		echo "log_dest file $LOG"
		echo "log_type all"
		echo "user root"
		if [ -n "$FWG_PLUGIN" ]; then
			echo "plugin $FWG_PLUGIN"
			echo "plugin_opt_trust_store $T/vendors.json"
			echo "plugin_opt_broker_key $K/broker-ecdh.pem"
			echo "plugin_opt_state_file $STATE"
			echo "plugin_opt_audit_log $AUDIT"
		fi
		local l
		for l in "$@"; do echo "$l"; done
	} > "$CONF"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
broker_alive() {
	if [ -z "$BROKER_PID" ] || ! kill -0 "$BROKER_PID" 2>/dev/null; then
		fail "broker (pid ${BROKER_PID:-none}) is not running"
	fi
}

# broker_cmd: the broker command line in BROKER_CMD (wrapper, environment)
broker_cmd() {
	local wrap=() envs=()
	read -ra wrap <<< "${FWG_BROKER_WRAP//\{T\}/$T}"
	read -ra envs <<< "${FWG_BROKER_ENV//\{T\}/$T}"
	# a test's own preload (FWG_PRELOAD_EXTRA, e.g. the fault shim) goes
	# after a checker's (the ASan runtime must come first)
	if [ -n "${FWG_PRELOAD_EXTRA:-}" ]; then
		local i found=0
		for i in "${!envs[@]}"; do
			case ${envs[$i]} in LD_PRELOAD=*) envs[i]="${envs[$i]}:$FWG_PRELOAD_EXTRA"; found=1 ;; esac
		done
		[ "$found" = 1 ] || envs+=("LD_PRELOAD=$FWG_PRELOAD_EXTRA")
	fi
	BROKER_CMD=()
	[ "${#envs[@]}" -eq 0 ] || BROKER_CMD=(env "${envs[@]}")
	BROKER_CMD+=("${wrap[@]}" mosquitto -c "$CONF")
}
FWG_BROKER_WRAP=${FWG_BROKER_WRAP:-} FWG_BROKER_ENV=${FWG_BROKER_ENV:-}

# start_broker: start it, wait (bounded) until it accepts connections. When
# it exits instead: return 1 with its exit status in BROKER_RC.
start_broker() {
	broker_cmd
	"${BROKER_CMD[@]}" >> "$T/broker.out" 2>&1 &
	BROKER_PID=$! BROKER_RC=''
	local i=0 n=$((200 * FWG_TIME_SCALE))
	while [ "$i" -lt "$n" ]; do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then
			wait "$BROKER_PID" 2>/dev/null; BROKER_RC=$?
			echo "# broker exited at start (status $BROKER_RC):" >&2; tail -20 "$T/broker.out" "$LOG" >&2
			BROKER_PID=''
			checker_reports
			return 1
		fi
		port_open && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# broker did not accept connections within $((n / 20)) s" >&2
	return 1
}
# stop_broker [SIGNAL]: signal the broker (TERM), wait for it (bounded),
# exit status in BROKER_RC, then the checker reports
stop_broker() {
	local sig=${1:-TERM} i=0 n=$((200 * FWG_TIME_SCALE))
	[ -n "$BROKER_PID" ] || return 0
	kill "-$sig" "$BROKER_PID" 2>/dev/null
	while kill -0 "$BROKER_PID" 2>/dev/null && [ "$i" -lt "$n" ]; do sleep 0.05; i=$((i + 1)); done
	if kill -0 "$BROKER_PID" 2>/dev/null; then
		echo "# broker did not stop on SIG$sig within $((n / 20)) s: SIGKILL" >&2
		kill -KILL "$BROKER_PID" 2>/dev/null
	fi
	{ wait "$BROKER_PID"; } 2>/dev/null
	BROKER_RC=$?
	BROKER_PID=''
	checker_reports
}
# kill9_broker: SIGKILL without the bounded wait for a clean exit
kill9_broker() { stop_broker KILL; }

# checker_reports: after a broker exit, a failed case for every sanitizer
# report in its stderr since the last check and for every new valgrind log
# with errors in fwguard's code
SAN_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)'
checker_reports() {
	local size=0 f out
	[ ! -f "$T/broker.out" ] || size=$(stat -c %s "$T/broker.out")
	[ "$size" -ge "$SAN_OFF" ] || SAN_OFF=0   # truncated meanwhile
	if [ "$size" -gt "$SAN_OFF" ] && tail -c +"$((SAN_OFF + 1))" "$T/broker.out" | grep -qE "$SAN_RE"; then
		if out=$(tail -c +"$((SAN_OFF + 1))" "$T/broker.out" | python3 "$LIB_DIR/sancheck.py" "$SRC_ROOT"); then
			echo "# sanitizer: $out"
		else
			not_ok "broker stderr has no sanitizer report on fwguard" "$(printf '%s\n' "$out" | head -60)"
		fi
	fi
	SAN_OFF=$size
	for f in "$T"/vg.*.log; do
		[ -f "$f" ] || continue
		case $VG_DONE in *" $f "*) continue ;; esac
		VG_DONE="$VG_DONE$f "
		if out=$(python3 "$LIB_DIR/vgcheck.py" "$f" "$SRC_ROOT"); then
			echo "# valgrind $(basename "$f"): $out"
		else
			not_ok "valgrind: no error in fwguard code ($(basename "$f"))" "$out"
		fi
	done
	return 0
}

# -------------------------------------------------------------- publishing
# mqtt_pub USER CLIENTID TOPIC FILE [mosquitto_pub args...]: stderr in $LAST_ERR, rc in $LAST_RC
mqtt_pub() {
	local user=$1 cid=$2 topic=$3 file=$4; shift 4
	timeout $((20 * FWG_TIME_SCALE)) mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$user" -P "$PASSWORD" -i "$cid" \
		-t "$topic" -f "$file" "$@" 2> "$LAST_ERR"
	LAST_RC=$?
	return 0
}
# tag_of KEYHEX TOPIC TS FILE
tag_of() { "$FWG_EXAMPLES/fwg-tag.sh" --key "$1" "$2" "$3" "$4"; }

# publish_tagged TOPIC FILE [ts] [user] [clientid] [keyhex]
publish_tagged() {
	local topic=$1 file=$2 ts=${3:-} user=${4:-acme-deploy} cid=${5:-} key=${6:-$KEY_ACME}
	[ -n "$ts" ] || ts=$(date +%s)
	if [ -z "$cid" ]; then next_cid pub; cid=$CID; fi
	LAST_TS=$ts
	LAST_TAG=$(tag_of "$key" "$topic" "$ts" "$file")
	mqtt_pub "$user" "$cid" "$topic" "$file" -V 5 -q 1 \
		-D publish user-property fw-ts "$ts" -D publish user-property fw-tag "$LAST_TAG"
}
expect_denied() {
	grep -q failed "$LAST_ERR" || fail "publish was not refused (rc $LAST_RC, stderr: $(head -c 300 "$LAST_ERR"))"
}
expect_accepted() {
	if [ "$LAST_RC" -ne 0 ] || grep -q failed "$LAST_ERR"; then
		fail "publish was refused (rc $LAST_RC, stderr: $(head -c 300 "$LAST_ERR")); audit tail: $(tail -n 2 "$AUDIT" 2>/dev/null)"
	fi
}

# sign_manifest OUT SEQ [fwg-sign.sh options...] (image $IMG, model thermo-x1, key vendor-sign)
# Options after SEQ go to fwg-sign.sh; MODEL/VENDOR/VERSION/KEY/IMAGE/CSIZE variables override.
sign_manifest() {
	local out=$1 seq=$2; shift 2
	"$FWG_EXAMPLES/fwg-sign.sh" -o "$out" "$@" "${IMAGE:-$IMG}" "${VENDOR:-acme}" "${MODEL:-thermo-x1}" \
		"${VERSION:-1.0.$seq}" "$seq" "${CSIZE:-1024}" "${VALIDITY:-86400}" "${KEY:-$K/vendor-sign.pem}"
}
mtopic() { echo "$PREFIX/${2:-acme}/${1:-thermo-x1}/manifest"; }
ctopic() { echo "$PREFIX/acme/${3:-thermo-x1}/chunk/$1/$2"; }

# publish_manifest SEQ: a legitimate new manifest for thermo-x1; sets SEQ, CUR_MANIFEST
publish_manifest() {
	local seq=$1 f=$T/manifest-$1.json
	sign_manifest "$f" "$seq" || fail "fwg-sign.sh failed" || return 1
	publish_tagged "$(mtopic)" "$f"
	expect_accepted || return 1
	SEQ=$seq CUR_MANIFEST=$f CUR_TS=$LAST_TS
}
# chunk_file SEQ IDX OUT: the IDX-th chunk of $IMG
chunk_file() { dd if="$IMG" of="$3" bs=1024 skip="$2" count=1 2>/dev/null; }

# ---------------------------------------------------------------- captures
# start_capture NAME USER TOPIC...: background mosquitto_sub writing "topic hex" lines
start_capture() {
	local name=$1 user=$2; shift 2
	local args=() t
	for t in "$@"; do args+=(-t "$t"); done
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$user" -P "$PASSWORD" -i "cap-$name-$$" -V 5 -q 1 \
		-F '%t %x' "${args[@]}" > "$T/cap-$name.txt" 2> "$T/cap-$name.err" &
	local pid=$!
	BG_PIDS+=("$pid")
	eval "CAP_PID_${name}=$pid"
}
stop_pid() {
	local p=$1 q=() x
	kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
	for x in "${BG_PIDS[@]}"; do [ "$x" = "$p" ] || q+=("$x"); done
	BG_PIDS=("${q[@]}")
}
hex_of() { od -An -v -tx1 "$1" | tr -d ' \n'; }
cap_has_line() { grep -qxF "$2 $3" "$T/cap-$1.txt"; }
# cap_has_payload CAP TOPIC FILE: the exact message was captured
cap_has_payload() { cap_has_line "$1" "$2" "$(hex_of "$3")"; }
# wait_for_payload CAP TOPIC FILE TIMEOUT
wait_for_payload() {
	local hx; hx=$(hex_of "$3")
	poll "$4" cap_has_line "$1" "$2" "$hx" || fail "message on $2 not delivered to capture $1 within $4 s"
}
# wait_for_message TOPIC COUNT TIMEOUT [CAP]: at least COUNT messages on TOPIC
cap_count() { grep -c "^$2 " "$T/cap-$1.txt"; }
cap_count_ge() { [ "$(cap_count "$1" "$2")" -ge "$3" ]; }
wait_for_message() {
	local cap=${4:-dev}
	poll "$3" cap_count_ge "$cap" "$1" "$2" || fail "fewer than $2 messages on $1 in capture $cap within $3 s"
}
# cap_payload_count CAP FILE: how many captured messages (any topic) carry this payload
cap_payload_count() {
	hex_of "$2" > "$T/pattern.hex"; echo >> "$T/pattern.hex"
	awk 'NR == FNR { h = $0; next } { i = index($0, " "); if (substr($0, i + 1) == h) n++ } END { print n + 0 }' \
		"$T/pattern.hex" "$T/cap-$1.txt"
}
# payload_absent CAP FILE: no captured message carries this (non-empty) payload
payload_absent() {
	[ -s "$2" ] || fail "test bug: hostile payload $2 is empty" || return 1
	[ "$(cap_payload_count "$1" "$2")" -eq 0 ] || fail "hostile payload $(basename "$2") was delivered to capture $1"
}

# ------------------------------------------------------------------- audit
audit_lines() { if [ -f "$AUDIT" ]; then python3 "$CHECK" lines "$AUDIT"; else echo 0; fi; }
audit_mark() { AUDIT_MARK=$(audit_lines); }
# audit_has EVENT REASON [k=v...]: a record since the mark ("" reason = any)
audit_has_q() { python3 "$CHECK" has "$AUDIT" "$AUDIT_MARK" "$@"; }
audit_has() {
	audit_has_q "$@" || fail "no audit record event=$1 reason=$2 ${*:3} since line $AUDIT_MARK; new records:
$(tail -n +"$((AUDIT_MARK + 1))" "$AUDIT" 2>/dev/null | cut -c1-400)"
}
# audit_wait TIMEOUT EVENT REASON [k=v...]
audit_wait() {
	local to=$1; shift
	poll "$to" audit_has_q "$@" || audit_has "$@"
}
audit_count() { python3 "$CHECK" count "$AUDIT" "$AUDIT_MARK" "$@"; }
audit_chain_ok() {
	local out
	out=$(python3 "$CHECK" chain "$AUDIT" 2>&1) || fail "audit chain broken: $out"
}

# ------------------------------------------------------ the shared scenario
# std_setup [config lines...]: trust store, broker, manifest 1 of thermo-x1,
# and two running captures: "dev" (device dev1: its manifest and chunks) and
# "vend" (the vendor: thermo-x1 status and events, thermo-x2 events).
std_setup() {
	write_trust_store || return 1
	write_conf "$@"
	start_broker || return 1
	publish_manifest 1 || { echo "# the first manifest was refused: $FAIL_MSG" >&2; return 1; }
	printf '{"state":"idle","sequence":0}' > "$T/status-idle.json"
	next_cid dev2
	mqtt_pub acme/thermo-x1/dev2 "$CID" "$PREFIX/acme/thermo-x1/status/dev2" "$T/status-idle.json" -V 5 -q 1 -r
	expect_accepted || { echo "# status of dev2 refused: $FAIL_MSG" >&2; return 1; }
	start_capture dev acme/thermo-x1/dev1 "$(mtopic)" "$PREFIX/acme/thermo-x1/chunk/#"
	start_capture vend acme-deploy "$PREFIX/acme/thermo-x1/status/#" "$PREFIX/acme/thermo-x1/events" \
		"$PREFIX/acme/thermo-x2/events"
	wait_for_payload dev "$(mtopic)" "$CUR_MANIFEST" 10 || { echo "# $FAIL_MSG" >&2; return 1; }
	wait_for_payload vend "$PREFIX/acme/thermo-x1/status/dev2" "$T/status-idle.json" 10 || { echo "# $FAIL_MSG" >&2; return 1; }
}
cap_json_has() { python3 "$CHECK" cap-has "$T/cap-$1.txt" "${@:2}"; }
# probe [HOSTILE_PAYLOAD_FILE...]: (d) a legitimate manifest published after
# the hostile attempt reaches the device (and its event the vendor), and no
# hostile payload was delivered before it.
probe() {
	local f
	publish_manifest $((SEQ + 1)) || return 1
	wait_for_payload dev "$(mtopic)" "$CUR_MANIFEST" 10 || return 1
	poll 10 cap_json_has vend "$PREFIX/acme/thermo-x1/events" event=manifest.accepted sequence="$SEQ" \
		|| fail "manifest.accepted of sequence $SEQ not seen on the events topic" || return 1
	for f in "$@"; do
		payload_absent dev "$f" || return 1
		payload_absent vend "$f" || return 1
	done
}
# hostile EVENT REASON PAYLOAD COMMAND...: (a) refused, (b) audited, (c) broker alive, (d) probe
hostile() {
	local ev=$1 reason=$2 payload=$3; shift 3
	audit_mark
	"$@"
	expect_denied || return 1
	audit_has "$ev" "$reason" || return 1
	broker_alive || return 1
	probe "$payload"
}
rand_hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
