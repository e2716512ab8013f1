#!/bin/bash
# fwguard device against a fake MQTT broker (a Python script on loopback)
# that answers CONNECT and SUBSCRIBE, then sends one hostile packet per
# connection: the agent closes the connection with a message naming the
# fault and connects again; it never crashes. The last connection checks the
# good path of the client: a 300 000-byte PUBLISH (QoS 1, streamed, more than
# the read buffer) is acknowledged with its packet id, PINGREQ comes after
# the keepalive, and a DISCONNECT from the broker is reported.
. "$(dirname "$0")/lib.sh"
cli_init

cat > "$T/fake.py" <<'PY'
import socket, struct, sys
port, out = int(sys.argv[1]), sys.argv[2]
res = open(out, "w")

def varint(n):
    b = b""
    while True:
        d, n = n & 0x7f, n >> 7
        b += bytes([d | (0x80 if n else 0)])
        if not n:
            return b

def packet(first, body):
    return bytes([first]) + varint(len(body)) + body

def publish(topic, qos, pid, payload, props=b""):
    t = topic.encode()
    body = struct.pack(">H", len(t)) + t + (struct.pack(">H", pid) if qos else b"") + varint(len(props)) + props + payload
    return packet(0x30 | qos << 1, body)

def read_exact(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise EOFError
        b += x
    return b

def read_packet(c):
    first = read_exact(c, 1)[0]
    n, mul = 0, 1
    for _ in range(4):
        d = read_exact(c, 1)[0]
        n += (d & 0x7f) * mul
        mul *= 128
        if not d & 0x80:
            break
    return first, read_exact(c, n)

def closed_by_client(c):
    # the client closes: recv gives EOF (or a reset) within 10 s
    c.settimeout(10)
    try:
        while c.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

cases = [
    ("qos3", b"\x36\x00"),
    ("varint", b"\x30\xff\xff\xff\xff\x01"),
    ("topic_beyond", b"\x30\x04\x00\x05ab"),
    ("props_beyond", b"\x30\x05\x00\x01a\x05\x00"),
    ("pid0", b"\x32\x06\x00\x01a\x00\x00\x00"),
    ("long_topic", publish("t" * 2000, 0, 0, b"x")),
    ("connect", b"\x10\x00"),
    ("early_publish", publish("fw/acme/thermo-x1/manifest", 1, 9, b"{}")),
    ("good", None),
]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(4)
s.settimeout(20)
for name, hostile in cases:
    try:
        c, _ = s.accept()
        c.settimeout(10)
        first, body = read_packet(c)
        if first != 0x10 or body[:7] != b"\x00\x04MQTT\x05":
            res.write("fail %s: not an MQTT v5 CONNECT\n" % name); continue
        if name == "early_publish":
            # a PUBLISH before CONNACK
            c.sendall(hostile + b"\x20\x03\x00\x00\x00")
            res.write("%s %s\n" % ("ok" if closed_by_client(c) else "fail", name))
            continue
        c.sendall(b"\x20\x03\x00\x00\x00")
        first, body = read_packet(c)
        if first != 0x82 or b"fw/acme/thermo-x1/manifest" not in body:
            res.write("fail %s: no SUBSCRIBE to the manifest\n" % name); continue
        c.sendall(b"\x90\x04" + body[:2] + b"\x00\x01")
        if hostile is not None:
            c.sendall(hostile)
            res.write("%s %s\n" % ("ok" if closed_by_client(c) else "fail", name))
            continue
        # the good path: a payload larger than the client's read buffer, sent in pieces
        big = publish("other/topic", 1, 4242, bytes(range(256)) * 1172, b"\x26\x00\x01k\x00\x01v")
        for i in range(0, len(big), 7000):
            c.sendall(big[i:i + 7000])
        first, body = read_packet(c)
        res.write("%s puback %02x %s\n" % ("ok" if (first, body[:2]) == (0x40, b"\x10\x92") else "fail", first, body.hex()))
        # three QoS 1 PUBLISHes in one write: the agent sends their PUBACKs
        # together at the end of its loop step, every one, in order
        c.sendall(b"".join(publish("other/topic", 1, pid, b"p%d" % pid) for pid in (7, 8, 9)))
        got = [read_packet(c) for _ in range(3)]
        want = [(0x40, bytes([0, pid])) for pid in (7, 8, 9)]
        res.write("%s pubacks in order %s\n" % ("ok" if [(f, b[:2]) for f, b in got] == want else "fail",
                                                 " ".join("%02x:%s" % (f, b.hex()) for f, b in got)))
        c.settimeout(12)
        first, body = read_packet(c)
        res.write("%s pingreq %02x\n" % ("ok" if first == 0xc0 else "fail", first))
        c.sendall(b"\xd0\x00")
        c.sendall(b"\xe0\x01\x8b")
        res.write("%s disconnect\n" % ("ok" if closed_by_client(c) else "fail"))
    except Exception as e:
        res.write("fail %s: %r\n" % (name, e))
    finally:
        res.flush()
        try:
            c.close()
        except Exception:
            pass
res.write("done\n")
PY

# The fake broker's first accept must be the agent, not a probe: start the
# agent first (it retries until the port listens), then the fake broker.
t_run() {
	mkdir -p "$T/dev/state"
	"$FWG" device -h 127.0.0.1 -p "$PORT" -P "$PASSWORD" --vendor acme --model thermo-x1 --device dev1 \
		--pin "$K/vendor-sign.pem.pub.b64" --state-dir "$T/dev/state" --target "$T/dev/fw.bin" \
		--keepalive 5 --max-backoff 1 --timeout 120 > "$T/dev.out" 2>&1 &
	local dev=$!
	BG_PIDS+=("$dev")
	timeout 150 python3 "$T/fake.py" "$PORT" "$T/fake.out"
	kill -0 "$dev" 2>/dev/null || fail "the agent died: $(tail -5 "$T/dev.out")" || return 1
	kill "$dev"
	wait "$dev" 2>/dev/null
	grep -q "^done" "$T/fake.out" || fail "fake broker did not finish: $(cat "$T/fake.out")" || return 1
	! grep -q "^fail" "$T/fake.out" || fail "$(grep "^fail" "$T/fake.out")"
}
has_msg() { grep -qF -- "$1" "$T/dev.out" || fail "agent output lacks '$1': $(head -c 2000 "$T/dev.out")"; }

run_case "the agent closes on each hostile packet and reconnects; the good path works" t_run
run_case "QoS 3 named" has_msg "connection lost (malformed PUBLISH: QoS 3)"
run_case "remaining length of 5 bytes named" has_msg "connection lost (malformed remaining length (more than 4 bytes))"
run_case "topic beyond the packet named" has_msg "connection lost (malformed PUBLISH: topic length 5 beyond the packet)"
run_case "properties beyond the packet named" has_msg "connection lost (malformed PUBLISH: properties length 5 beyond the packet (1 left))"
run_case "packet id 0 named" has_msg "connection lost (malformed PUBLISH: packet id 0 with QoS 1)"
run_case "topic above the bound named" has_msg "connection lost (PUBLISH topic of 2000 bytes (at most 1024))"
run_case "CONNECT from the broker named" has_msg "connection lost (unexpected packet type 1 from the broker)"
run_case "PUBLISH before CONNACK named" has_msg "connection lost (PUBLISH before CONNACK)"
run_case "DISCONNECT from the broker named" has_msg "connection lost (disconnected by the broker (reason 0x8b))"
finish
