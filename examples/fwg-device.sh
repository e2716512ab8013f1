#!/bin/sh
# fwg-device.sh — a reference fwguard device in shell (PROTOCOL.md §7, §9).
#
# Takes the current manifest of its model, verifies it end to end with a
# pinned vendor signing key, fetches and checks the chunks, installs the
# image by an atomic rename, records the installed sequence and reports its
# status on its own status topic. One update per run; exits 0 when the new
# image is installed or the device is already up to date, 1 on a failed
# update (the running image is kept), 2 on usage errors.
#
#   fwg-device.sh [options]
#   -h HOST (localhost)  -p PORT (1883)  -P PASS [FWG_PASSWORD]
#   -u USER              MQTT username (default <vendor>/<model>/<device>)
#   --vendor V --model M --device D
#   --pin KEY            pinned vendor signing public key (PEM or .pub.b64);
#                        repeat for several keys
#   --target PATH        where the image is installed
#   --state-dir DIR      installed.seq, staging files (default: dir of --target)
#   --prefix P (fw)      --timeout SECS (30, per wait)   --skew SECS (300)
#   --wait               when the retained manifest is not newer than the
#                        installed image, wait (up to --timeout) for a newer one
#
# Limitation: the manifest is parsed with sed, which only understands the
# compact JSON that fwg-sign.sh writes (no whitespace between tokens, no
# escapes in strings, each member once). A manifest in another layout is
# refused (reason "manifest_unparsable"), never misread: every member used
# goes into the signing base, so a misparse could only fail the signature.
set -eu

die() { echo "fwg-device.sh: $*" >&2; exit 2; }

host=localhost port=1883 user='' pass=${FWG_PASSWORD:-} vendor='' model='' device=''
target='' statedir='' prefix=fw timeout=30 skew=300 npins=0 wait=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
while [ $# -gt 0 ]; do
	case $1 in
	--wait) wait=1; shift; continue ;;
	-*) [ $# -ge 2 ] || die "$1 needs a value" ;;
	*) die "unexpected argument $1" ;;
	esac
	case $1 in
	-h) host=$2 ;; -p) port=$2 ;; -u) user=$2 ;; -P) pass=$2 ;;
	--vendor) vendor=$2 ;; --model) model=$2 ;; --device) device=$2 ;;
	--target) target=$2 ;; --state-dir) statedir=$2 ;; --prefix) prefix=$2 ;;
	--timeout) timeout=$2 ;; --skew) skew=$2 ;;
	--pin)
		[ -f "$2" ] || die "no pinned key file '$2'"
		if grep -q -- '-----BEGIN PUBLIC KEY-----' "$2"; then
			openssl pkey -pubin -in "$2" -out "$work/pin$npins.pem" || die "bad key $2"
		else
			base64 -d < "$2" | openssl pkey -pubin -inform DER -out "$work/pin$npins.pem" || die "bad key $2"
		fi
		npins=$((npins + 1)) ;;
	*) die "unknown option $1" ;;
	esac
	shift 2
done
if [ -z "$vendor" ] || [ -z "$model" ] || [ -z "$device" ]; then die "--vendor, --model and --device are required"; fi
[ -n "$target" ] || die "--target is required"
[ "$npins" -gt 0 ] || die "at least one --pin is required"
[ -n "$user" ] || user="$vendor/$model/$device"
[ -n "$statedir" ] || statedir=$(dirname "$target")
mkdir -p "$statedir"

base="$prefix/$vendor/$model"
status_topic="$base/status/$device"
cid="fwg-dev-$device-$$"
now() { date +%s; }

# status STATE SEQUENCE [PROGRESS] [ERROR]
status() {
	j="{\"state\":\"$1\",\"sequence\":$2"
	[ -z "${version:-}" ] || j="$j,\"version\":\"$version\""
	[ -z "${3:-}" ] || j="$j,\"progress\":$3"
	[ -z "${4:-}" ] || j="$j,\"error\":\"$4\""
	j="$j}"
	if ! mosquitto_pub -h "$host" -p "$port" -u "$user" ${pass:+-P "$pass"} -i "$cid-s" \
		-V 5 -q 1 -r -t "$status_topic" -m "$j" 2> "$work/perr" || grep -q failed "$work/perr"; then
		echo "fwg-device.sh: status publish failed: $(cat "$work/perr")" >&2
	fi
	echo "status $j"
}
# fail REASON: report failed, keep the running image.
fail() {
	echo "fwg-device.sh: update failed: $1" >&2
	status failed "${seq:-0}" '' "$1"
	exit 1
}
# fetch TOPIC OUT: one message (normally the retained one) into OUT.
fetch() {
	mosquitto_sub -h "$host" -p "$port" -u "$user" ${pass:+-P "$pass"} -i "$cid-f" -V 5 \
		-t "$1" -C 1 -W "$timeout" -N > "$2" 2> "$work/serr"
}

installed=0
[ ! -f "$statedir/installed.seq" ] || installed=$(cat "$statedir/installed.seq")
case $installed in ''|*[!0-9]*) installed=0 ;; esac

# 1. the manifest (with --wait: until one newer than the installed image arrives)
m="$work/manifest"
fetch "$base/manifest" "$m" || die "no manifest within ${timeout}s: $(cat "$work/serr")"
if [ "$wait" -eq 1 ]; then
	deadline=$(( $(now) + timeout ))
	while :; do
		s=$(sed -n 's/.*"sequence":\([0-9][0-9]*\)[,}].*/\1/p' "$m")
		[ -z "$s" ] || [ "$s" -le "$installed" ] || break
		left=$(( deadline - $(now) ))
		[ "$left" -gt 0 ] || break
		# the next live manifest (-R: not the retained one); then look again,
		# so that a manifest published in between is not missed
		mosquitto_sub -h "$host" -p "$port" -u "$user" ${pass:+-P "$pass"} -i "$cid-w" -V 5 \
			-t "$base/manifest" -R -C 1 -W "$left" -N > /dev/null 2>&1 || true
		fetch "$base/manifest" "$m" || die "no manifest: $(cat "$work/serr")"
	done
fi

# 2. parse (compact JSON only) and verify
unparsable() { seq=0; version=''; fail manifest_unparsable; }
[ "$(wc -l < "$m")" -eq 0 ] || unparsable
! grep -q -F "\\" "$m" || unparsable
for k in format vendor model version sequence size sha256 chunk_size issued expires key_id signature; do
	[ "$(grep -o "\"$k\":" "$m" | wc -l)" -eq 1 ] || unparsable
done
[ "$(grep -o '"chunk_sha256":' "$m" | wc -l)" -le 1 ] || unparsable
jstr() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$m"; }
jnum() { sed -n "s/.*\"$1\":\(0\|[1-9][0-9]*\)[,}].*/\1/p" "$m"; }
fmt=$(jnum format) mvendor=$(jstr vendor) mmodel=$(jstr model) version=$(jstr version)
seq=$(jnum sequence) size=$(jnum size) sha=$(jstr sha256) csize=$(jnum chunk_size)
issued=$(jnum issued) expires=$(jnum expires) kid=$(jstr key_id) sig=$(jstr signature)
chunks_line=$(sed -n 's/.*"chunk_sha256":\[\([^]]*\)\].*/\1/p' "$m" | tr -d '"')
for v in "$fmt" "$mvendor" "$mmodel" "$version" "$seq" "$size" "$sha" "$csize" "$issued" "$expires" "$kid" "$sig"; do
	[ -n "$v" ] || unparsable
done
[ "$fmt" = 1 ] || fail format_unsupported

pin=''
i=0
while [ "$i" -lt "$npins" ]; do
	pk="$work/pin$i.pem"
	[ "$(openssl pkey -pubin -in "$pk" -outform DER | sha256sum | cut -c1-16)" != "$kid" ] || pin=$pk
	i=$((i + 1))
done
[ -n "$pin" ] || fail key_unknown
printf 'fwguard-manifest-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s' \
	"$mvendor" "$mmodel" "$version" "$seq" "$size" "$sha" "$csize" "$issued" "$expires" "$kid" "$chunks_line" > "$work/base"
printf '%s' "$sig" | base64 -d > "$work/sig" 2>/dev/null || fail signature_invalid
openssl dgst -sha256 -verify "$pin" -signature "$work/sig" "$work/base" > /dev/null 2>&1 || fail signature_invalid
[ "$mvendor" = "$vendor" ] || fail vendor_mismatch
[ "$mmodel" = "$model" ] || fail model_mismatch
if [ "$seq" -le "$installed" ]; then
	echo "up to date (installed sequence $installed, offered $seq)"
	status idle "$installed"
	exit 0
fi
t=$(now)
[ "$expires" -gt "$t" ] || fail expired
[ "$issued" -le $((t + skew)) ] || fail issued_in_future
if [ "$csize" -lt 1 ] || [ "$size" -lt 1 ]; then fail size_invalid; fi
n=$(( (size + csize - 1) / csize ))
if [ -n "$chunks_line" ]; then
	[ "$(printf '%s' "$chunks_line" | tr ',' '\n' | wc -l)" -eq $((n - 1)) ] || fail chunk_digest_count
fi

# 3. chunks, streamed into a staging file
status downloading "$seq" 0
staging="$statedir/.staging.$$"
: > "$staging"
i=0
while [ "$i" -lt "$n" ]; do
	want=$csize
	[ "$i" -lt $((n - 1)) ] || want=$((size - csize * (n - 1)))
	tries=0
	while :; do
		tries=$((tries + 1))
		fetch "$base/chunk/$seq/$i" "$work/chunk" || { rm -f "$staging"; fail chunk_missing; }
		# a zero-length message is the broker clearing an old image: ignore it
		[ -s "$work/chunk" ] && break
		[ "$tries" -lt 3 ] || { rm -f "$staging"; fail chunk_missing; }
	done
	[ "$(wc -c < "$work/chunk" | tr -d ' ')" -eq "$want" ] || { rm -f "$staging"; fail chunk_length; }
	if [ -n "$chunks_line" ]; then
		d=$(printf '%s' "$chunks_line" | cut -d, -f$((i + 1)))
		[ "$(sha256sum < "$work/chunk" | cut -c1-64)" = "$d" ] || { rm -f "$staging"; fail chunk_digest_mismatch; }
	fi
	cat "$work/chunk" >> "$staging"
	i=$((i + 1))
	status downloading "$seq" $((i * 100 / n)) > /dev/null
done

# 4. whole image, then install
status verifying "$seq"
[ "$(wc -c < "$staging" | tr -d ' ')" -eq "$size" ] || { rm -f "$staging"; fail image_size_mismatch; }
[ "$(sha256sum < "$staging" | cut -c1-64)" = "$sha" ] || { rm -f "$staging"; fail image_digest_mismatch; }
mv -f "$staging" "$target"
printf '%s\n' "$seq" > "$statedir/installed.seq.tmp"
mv -f "$statedir/installed.seq.tmp" "$statedir/installed.seq"
cp "$m" "$statedir/installed-manifest.json"
status installed "$seq" 100
echo "installed $vendor/$model $version (sequence $seq) at $target"
