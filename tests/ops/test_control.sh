#!/bin/bash
# The $CONTROL/fwguard/v1 admin API through `fwguard ctl`: usage and
# connection errors (exit 2); non-admins get "not authorized" for every one
# of the 8 commands and change nothing; the sequence floor is enforced; a key
# revoked through $CONTROL is refused (key_revoked) at once, after a restart
# (SIGKILL), after SIGHUP and after reloadTrustStore; rollout settings are
# durable when answered; every command reaching the broker is audited.
. "$(dirname "$0")/lib.sh"
ops_init 2
write_ops_conf
start_broker || exit 99
head -c 2048 /dev/urandom > "$T/img"
SENT=0   # commands that reached the broker (must each be audited)
ALL8=(listVendors "getModel $VENDOR $MODEL" "setRollout $VENDOR $MODEL 5" "pauseModel $VENDOR $MODEL"
	"resumeModel $VENDOR $MODEL" "setSequenceFloor $VENDOR $MODEL 99" "revokeKey $VENDOR 0123456789abcdef"
	reloadTrustStore)
KID_ROGUE=$("$FWG" pubkey "$K/rogue-sign.pem" | tail -1)
KID_VENDOR=$("$FWG" pubkey "$K/vendor-sign.pem" | tail -1)

# sign_with KEY IMAGE SEQ OUT
sign_with() {
	"$FWG" sign --key "$K/$1.pem" --vendor "$VENDOR" --model "$MODEL" --version "1.0.$3" \
		--sequence "$3" --chunk-size 1024 -o "$4" "$2" 2>/dev/null
}
# refused REASON: the last publish was refused with REASON
refused() {
	[ "$PUB_RC" = 1 ] && grep -q ": $1\$" "$T/publish.out" ||
		fail "expected refusal '$1', got exit $PUB_RC: $(cat "$T/publish.out")"
}

t_usage() {
	local a bad=''
	for a in "setRollout $VENDOR $MODEL 101" "getModel $VENDOR" "revokeKey $VENDOR 0123" "bogus" \
			"getModel $VENDOR bad/model" "setSequenceFloor $VENDOR $MODEL -1" ""; do
		# shellcheck disable=SC2086
		"$FWG" ctl -p "$PORT" $a > /dev/null 2>&1
		[ $? = 2 ] || bad="$bad [$a]"
	done
	"$FWG" ctl -p "$PORT" --json '[1]' > /dev/null 2>&1; [ $? = 2 ] || bad="$bad [--json array]"
	"$FWG" ctl -p "$PORT" --json '{"command":"listVendors"}' listVendors > /dev/null 2>&1; [ $? = 2 ] || bad="$bad [--json + COMMAND]"
	[ -z "$bad" ] || fail "not exit 2:$bad"
}
t_conn_errors() {
	local dead; dead=$(free_port)
	"$FWG" ctl -h 127.0.0.1 -p "$dead" listVendors > "$T/c.out" 2>&1
	[ $? = 2 ] || fail "no broker: $(cat "$T/c.out")" || return 1
	"$FWG" ctl -h 127.0.0.1 -p "$PORT" -u "$ADMIN" -P wrong listVendors > "$T/c.out" 2>&1
	[ $? = 2 ] && grep -q "cannot connect" "$T/c.out" || fail "bad password: $(cat "$T/c.out")"
}
t_list() {
	ctl_ok listVendors || return 1; SENT=$((SENT + 1))
	[ "$(json_get '[v["id"] for v in d["vendors"]]' < "$T/ctl.out")" = "['acme', 'globex']" ] || fail "$(cat "$T/ctl.out")" || return 1
	[ "$(json_get '[(k["keyId"], k["revoked"], k["revokedByOperator"]) for k in d["vendors"][0]["signingKeys"]]' < "$T/ctl.out")" = \
		"[('$KID_VENDOR', False, False), ('$KID_ROGUE', False, False)]" ] || fail "keys: $(cat "$T/ctl.out")"
}
t_publish1() {
	sign_with vendor-sign "$T/img" 1 "$T/m1.json" || fail "sign" || return 1
	publish "$T/m1.json" "$T/img"
	[ "$PUB_RC" = 0 ] || fail "exit $PUB_RC: $(cat "$T/publish.out")"
}
model_snapshot() { ctl getModel "$VENDOR" "$MODEL"; json_get '{k: d[k] for k in ("sequence", "floor", "rollout")}' < "$T/ctl.out"; }
t_non_admin() {
	local before after u c bad=''
	before=$(model_snapshot); SENT=$((SENT + 1))
	for u in acme-deploy globex-deploy "$VENDOR/$MODEL/dev1"; do
		for c in "${ALL8[@]}"; do
			# shellcheck disable=SC2086
			ctl -u "$u" $c; SENT=$((SENT + 1))
			[ "$CTL_RC" = 1 ] && grep -q "^fwguard ctl: ${c%% *}: not authorized\$" "$T/ctl.out" ||
				bad="$bad [$u: $c -> exit $CTL_RC $(head -c 200 "$T/ctl.out")]"
		done
		ctl -u "$u" --json "{\"command\":\"setRollout\",\"vendor\":\"$VENDOR\",\"model\":\"$MODEL\",\"percent\":0}"
		SENT=$((SENT + 1))
		[ "$CTL_RC" = 1 ] && grep -q "not authorized" "$T/ctl.out" || bad="$bad [$u: --json setRollout -> exit $CTL_RC]"
	done
	[ -z "$bad" ] || fail "not refused:$bad" || return 1
	after=$(model_snapshot); SENT=$((SENT + 1))
	[ "$before" = "$after" ] && [ "$after" = "{'sequence': 1, 'floor': 0, 'rollout': {'percent': 100, 'paused': False}}" ] ||
		fail "the model changed: $before -> $after" || return 1
	ctl_ok listVendors || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'sum(k["revokedByOperator"] for v in d["vendors"] for k in v["signingKeys"])' < "$T/ctl.out")" = 0 ] ||
		fail "a key got revoked: $(cat "$T/ctl.out")"
}
t_admin_errors() {
	local bad=''
	ctl getModel nosuch "$MODEL"; SENT=$((SENT + 1))
	[ "$CTL_RC" = 1 ] && grep -q 'unknown vendor "nosuch"' "$T/ctl.out" || bad="$bad [unknown vendor: $(cat "$T/ctl.out")]"
	ctl getModel globex-x "$MODEL"; SENT=$((SENT + 1))
	[ "$CTL_RC" = 1 ] || bad="$bad [unknown vendor 2]"
	ctl --json '{"command":"nope"}'; SENT=$((SENT + 1))
	[ "$CTL_RC" = 1 ] && grep -q "nope: unknown command" "$T/ctl.out" || bad="$bad [unknown command: $(cat "$T/ctl.out")]"
	ctl --json "{\"command\":\"setRollout\",\"vendor\":\"$VENDOR\",\"model\":\"$MODEL\",\"percent\":101}"; SENT=$((SENT + 1))
	[ "$CTL_RC" = 1 ] && grep -q "percent" "$T/ctl.out" || bad="$bad [percent 101: $(cat "$T/ctl.out")]"
	ctl --json "{\"command\":\"getModel\",\"vendor\":\"$VENDOR\",\"model\":\"$MODEL\",\"correlationData\":\"mine-42\"}"; SENT=$((SENT + 1))
	[ "$CTL_RC" = 0 ] && [ "$(json_get 'd["sequence"]' < "$T/ctl.out")" = 1 ] || bad="$bad [--json with correlationData: $(cat "$T/ctl.out")]"
	[ -z "$bad" ] || fail "$bad"
}
t_floor() {
	ctl_ok setSequenceFloor "$VENDOR" "$MODEL" 5 || return 1; SENT=$((SENT + 1))
	ctl_ok getModel "$VENDOR" "$MODEL" || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'd["floor"]' < "$T/ctl.out")" = 5 ] || fail "floor: $(cat "$T/ctl.out")" || return 1
	sign_with vendor-sign "$T/img" 3 "$T/m3.json" || fail "sign" || return 1
	publish "$T/m3.json" "$T/img"
	refused sequence_below_floor || return 1
	sign_with vendor-sign "$T/img" 5 "$T/m5.json" || fail "sign" || return 1
	publish "$T/m5.json" "$T/img"
	[ "$PUB_RC" = 0 ] || fail "sequence 5 (= floor): exit $PUB_RC: $(cat "$T/publish.out")"
}
t_revoke() {
	sign_with rogue-sign "$T/img" 6 "$T/m6.json" || fail "sign" || return 1
	publish "$T/m6.json" "$T/img"
	[ "$PUB_RC" = 0 ] || fail "sequence 6 with the second key before revocation: $(cat "$T/publish.out")" || return 1
	ctl_ok revokeKey "$VENDOR" "$KID_ROGUE" || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'd["keyId"], d["registered"]' < "$T/ctl.out")" = "('$KID_ROGUE', True)" ] || fail "$(cat "$T/ctl.out")" || return 1
	# by public key file, again: idempotent
	ctl_ok revokeKey "$VENDOR" "$K/rogue-sign.pem.pub.b64" || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'd["keyId"]' < "$T/ctl.out")" = "$KID_ROGUE" ] || fail "$(cat "$T/ctl.out")" || return 1
	# effective at once: even the byte-identical re-publish of the accepted manifest
	FWG_NOW=$(($(date +%s) + 2)) publish "$T/m6.json" "$T/img" --manifest-only
	refused key_revoked
}
t_settings_before_restart() {
	ctl_ok setRollout "$VENDOR" "$MODEL" 30 || return 1; SENT=$((SENT + 1))
	ctl_ok pauseModel "$VENDOR" "$MODEL" || return 1; SENT=$((SENT + 1))
}
crash_restart() {
	kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=''
	start_broker
}
t_restart() {
	# SIGKILL: nothing is saved at shutdown, so what persists was written
	# when the command was answered
	crash_restart || fail "broker did not restart" || return 1
	ctl_ok listVendors || return 1; SENT=$((SENT + 1))
	[ "$(json_get '[(k["keyId"], k["revokedByOperator"]) for k in d["vendors"][0]["signingKeys"]]' < "$T/ctl.out")" = \
		"[('$KID_VENDOR', False), ('$KID_ROGUE', True)]" ] || fail "after restart: $(cat "$T/ctl.out")" || return 1
	ctl_ok getModel "$VENDOR" "$MODEL" || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'd["sequence"], d["floor"], d["rollout"]["percent"], d["rollout"]["paused"]' < "$T/ctl.out")" = "(6, 5, 30, True)" ] ||
		fail "after restart: $(cat "$T/ctl.out")"
}
t_revoked_after_restart() {
	sign_with rogue-sign "$T/img" 7 "$T/m7.json" || fail "sign" || return 1
	publish "$T/m7.json" "$T/img"
	refused key_revoked
}
t_settings_durable() {
	# the last change before the crash is a rollout command
	ctl_ok setRollout "$VENDOR" "$MODEL" 40 || return 1; SENT=$((SENT + 1))
	ctl_ok resumeModel "$VENDOR" "$MODEL" || return 1; SENT=$((SENT + 1))
	crash_restart || fail "broker did not restart" || return 1
	ctl_ok getModel "$VENDOR" "$MODEL" || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'd["rollout"]["percent"], d["rollout"]["paused"]' < "$T/ctl.out")" = "(40, False)" ] ||
		fail "after SIGKILL: $(cat "$T/ctl.out")"
}
audit_count() { grep -c "\"event\":\"$1\"" "$T/fwguard.audit"; }
audit_count_gt() { [ "$(audit_count "$1")" -gt "$2" ]; }
t_revoked_after_reload() {
	local n; n=$(audit_count config.reloaded)
	kill -HUP "$BROKER_PID" || fail "SIGHUP" || return 1
	poll 10 audit_count_gt config.reloaded "$n" || fail "no config.reloaded after SIGHUP" || return 1
	FWG_NOW=$(($(date +%s) + 1)) publish "$T/m7.json" "$T/img"
	refused key_revoked || return 1
	ctl_ok reloadTrustStore || return 1; SENT=$((SENT + 1))
	[ "$(json_get 'd["vendors"]' < "$T/ctl.out")" = 2 ] || fail "reloadTrustStore: $(cat "$T/ctl.out")" || return 1
	FWG_NOW=$(($(date +%s) + 2)) publish "$T/m7.json" "$T/img"
	refused key_revoked || return 1
	sign_with vendor-sign "$T/img" 7 "$T/m7v.json" || fail "sign" || return 1
	publish "$T/m7v.json" "$T/img"
	[ "$PUB_RC" = 0 ] || fail "the other key is refused too: $(cat "$T/publish.out")"
}
t_audited() {
	local n; n=$(audit_count control.command)
	[ "$n" = "$SENT" ] || fail "$n control.command records for $SENT commands" || return 1
	python3 - "$T/fwguard.audit" "$ADMIN" "$KID_ROGUE" <<'PY' > "$T/audit.chk" || fail "$(cat "$T/audit.chk")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
cc = [r for r in recs if r.get("event") == "control.command"]
na = [r for r in cc if r["result"] == "not authorized"]
# 3 non-admins x (8 commands + 1 --json)
assert len(na) == 27, len(na)
assert {r["username"] for r in na} == {"acme-deploy", "globex-deploy", "acme/thermo-x1/dev1"}, na
assert {r["command"] for r in na} == {"listVendors", "getModel", "setRollout", "pauseModel", "resumeModel",
    "setSequenceFloor", "revokeKey", "reloadTrustStore"}, na
rv = [r for r in cc if r["command"] == "revokeKey" and r["result"] == "ok"]
assert len(rv) == 2 and all(r["username"] == sys.argv[2] and r["args"] == {"vendor": "acme", "keyId": sys.argv[3]} for r in rv), rv
sr = [r for r in cc if r["command"] == "setRollout" and r["result"] == "ok"]
assert [r["args"].get("percent") for r in sr] == [30, 40], sr
PY
}

run_case "usage errors exit 2" t_usage
run_case "connection errors exit 2" t_conn_errors
run_case "listVendors: vendors, key ids, nothing revoked" t_list
run_case "publish sequence 1" t_publish1
run_case "non-admins get 'not authorized' for all 8 commands, nothing changes" t_non_admin
run_case "admin errors exit 1 with the broker's reason; --json keeps correlationData" t_admin_errors
run_case "setSequenceFloor 5: sequence 3 refused, 5 accepted" t_floor
run_case "setRollout 30 + pauseModel" t_settings_before_restart
run_case "revokeKey: the key is refused at once (even the accepted manifest)" t_revoke
run_case "restart after SIGKILL: revocation, floor and rollout persist" t_restart
run_case "revoked key refused after restart (key_revoked)" t_revoked_after_restart
run_case "still refused after SIGHUP and reloadTrustStore; the other key works" t_revoked_after_reload
run_case "setRollout 40 + resumeModel, SIGKILL: the settings persist" t_settings_durable
run_case "every command that reached the broker is audited" t_audited
"$FWG" audit verify "$T/fwguard.audit" > "$T/audit.out" 2>&1 && ok "audit hash chain verifies" || not_ok "audit chain" "$(cat "$T/audit.out")"
finish
