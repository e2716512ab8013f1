# Shell helpers shared by bench/run.sh and tests/load/: keys, trust store,
# a password file made in one go, brokers started and stopped by PID.
# Source it with $build (meson build dir) and $work (a scratch dir) set.
# SPDX-License-Identifier: Apache-2.0

: "${build:?}" "${work:?}"
FWG_CLI=$build/tools/fwguard
FWG_LOAD=$build/bench/fwg_load
FWG_PLUGIN=${FWG_PLUGIN:-$build/plugin/mosquitto_fwguard.so}
FWG_PASSWORD=${FWG_PASSWORD:-bench-$$}
export FWG_PASSWORD
_bench_pids=''

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# keys DIR: vendor signing key, vendor and broker ECDH keys (+ .pub.b64)
bench_keys() {
	mkdir -p "$1"
	for k in vendor-sign vendor-ecdh broker-ecdh; do
		[ -f "$1/$k.pem" ] && continue
		case $k in vendor-sign) t=--sign ;; *) t=--ecdh ;; esac
		"$FWG_CLI" keygen $t "$1/$k.pem" >/dev/null
	done
	cat > "$1/vendors.json" <<JSON
{"vendors": [
  {"id": "acme", "usernames": ["acme-deploy"],
   "ecdh_public_key": "$(cat "$1/vendor-ecdh.pem.pub.b64")",
   "signing_keys": [{"public_key": "$(cat "$1/vendor-sign.pem.pub.b64")", "revoked": false}],
   "models": ["thermo-x1"]}
]}
JSON
}

# passwd FILE NDEV: acme-deploy, bench-user and acme/thermo-x1/dev1..NDEV,
# all with $FWG_PASSWORD, in Mosquitto's $7$ (PBKDF2-SHA512, 101 rounds)
# format. One python run instead of NDEV mosquitto_passwd runs.
bench_passwd() {
	python3 - "$1" "$2" <<'PY'
import base64, hashlib, os, sys
path, n, pw = sys.argv[1], int(sys.argv[2]), os.environ["FWG_PASSWORD"].encode()
salt = os.urandom(12)
h = "$7$101$%s$%s" % (base64.b64encode(salt).decode(),
                      base64.b64encode(hashlib.pbkdf2_hmac("sha512", pw, salt, 101, 64)).decode())
users = ["acme-deploy", "bench-user"] + ["acme/thermo-x1/dev%d" % i for i in range(1, n + 1)]
with open(path, "w") as f:
    for u in users:
        f.write("%s:%s\n" % (u, h))
PY
	chmod 600 "$1"
}

# start_broker NAME PORT (plugin|bare) CPULIST [extra conf lines...]
# Sets BROKER_PID_<NAME>. The broker runs pinned with taskset.
bench_start_broker() {
	name=$1 port=$2 kind=$3 cpus=$4
	shift 4
	d=$work/$name
	mkdir -p "$d"
	{
		echo "per_listener_settings false"
		echo "listener $port 127.0.0.1"
		echo "allow_anonymous false"
		echo "password_file $work/passwd"
		echo "persistence false"
		echo "log_dest file $d/mosquitto.log"
		echo "log_type error"
		echo "log_type warning"
		echo "log_type notice"
		echo "log_type information"
		echo "user $(id -un)"
		echo "max_queued_messages 2000"
		for l in "$@"; do echo "$l"; done
		if [ "$kind" = plugin ]; then
			echo "plugin $FWG_PLUGIN"
			echo "plugin_opt_trust_store $work/keys/vendors.json"
			echo "plugin_opt_broker_key $work/keys/broker-ecdh.pem"
			echo "plugin_opt_state_file $d/fwguard.state"
			echo "plugin_opt_audit_log $d/fwguard.audit"
			echo "plugin_opt_other_topics allow"
		fi
	} > "$d/mosquitto.conf"
	: > "$d/mosquitto.log"
	taskset -c "$cpus" ${BENCH_BROKER_WRAPPER:-} mosquitto -c "$d/mosquitto.conf" >"$d/stderr" 2>&1 &
	pid=$!
	eval "BROKER_PID_$name=$pid"
	_bench_pids="$_bench_pids $pid"
	i=0
	until grep -q "mosquitto version .* running" "$d/mosquitto.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "broker $name did not start:" >&2
			cat "$d/mosquitto.log" "$d/stderr" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.1 # polling the log for the start line, bounded to 60 s
	done
}

bench_stop_brokers() {
	for p in $_bench_pids; do kill "$p" 2>/dev/null || true; done
	for p in $_bench_pids; do wait "$p" 2>/dev/null || true; done
	_bench_pids=''
}
# bench_stop_broker PID: one of them, dropped from the list once gone (by
# whole word: a substring edit would also cut a longer PID that starts
# with this one)
bench_stop_broker() {
	local p rest=''
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in $_bench_pids; do [ "$p" = "$1" ] || rest="$rest $p"; done
	_bench_pids=$rest
}

# proc_kb PID FIELD: VmRSS / VmHWM in kB
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# cpu_ticks PID: utime + stime
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
