#!/usr/bin/env python3
"""Regenerate the seed corpora of tests/fuzz/corpus/<target>/ from the
known-answer vectors (tests/vectors/) plus hostile variants (PROTOCOL.md §5:
7.0, 7e0, duplicates, unknown members, truncated, non-UTF-8, \\u0000, huge
numbers...). Deterministic; safe to re-run (existing seeds with the same name
are overwritten, other files - e.g. crash reproducers moved into a corpus -
are kept).  SPDX-License-Identifier: Apache-2.0"""
import hashlib, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.environ.get("FWG_VECTORS_DIR", os.path.join(HERE, "..", "vectors"))
OUT = os.path.join(HERE, "corpus")


def vec(name, mode="rb"):
    with open(os.path.join(VEC, name), mode) as f:
        return f.read()


expected = dict(l.split("=", 1) for l in vec("expected.txt", "r").splitlines()
                if l and not l.startswith("#") and "=" in l)


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def sub(b, old, new, count=1):
    assert old in b, old
    return b.replace(old, new, count)


# ---------------------------------------------------------------- manifest
man = vec("manifest.json").rstrip(b"\n")
mnc = vec("manifest-nochunks.json").rstrip(b"\n")
put("manifest", "vector-manifest", man)
put("manifest", "vector-nochunks", mnc)
put("manifest", "vector-tampered", vec("manifest-tampered.json"))
obj = json.loads(man)
put("manifest", "reordered-pretty", json.dumps(dict(reversed(list(obj.items()))), indent=2))
put("manifest", "escaped-names", sub(man, b'"format"', b'"\\u0066ormat"'))
put("manifest", "empty-chunk-list", json.dumps({**json.loads(mnc), "chunk_sha256": []}, separators=(",", ":")))
seq = b'"sequence":7'
for tag, num in [("7.0", b"7.0"), ("7e0", b"7e0"), ("neg", b"-7"), ("lead0", b"07"), ("2p53", b"9007199254740992"),
                 ("2p53m1", b"9007199254740991"), ("huge", b"1" + b"0" * 400), ("1e400", b"1e400"),
                 ("minus0", b"-0"), ("str", b'"7"'), ("null", b"null"), ("true", b"true"), ("frac", b"7.5")]:
    put("manifest", "seq-" + tag, sub(man, seq, b'"sequence":' + num))
put("manifest", "format-1.0", sub(man, b'"format":1', b'"format":1.0'))
put("manifest", "format-2", sub(man, b'"format":1', b'"format":2'))
put("manifest", "dup-version", sub(man, b'"version":', b'"version":"9.9.9","version":'))
put("manifest", "dup-format-last", man[:-1] + b',"format":1}')
put("manifest", "unknown-member", man[:-1] + b',"comment":"x"}')
put("manifest", "unknown-nested", man[:-1] + b',"x":{"a":[1,2,{"b":null}]}}')
put("manifest", "truncated-half", man[: len(man) // 2])
put("manifest", "truncated-1", man[:-1])
put("manifest", "trailing-garbage", man + b"x")
put("manifest", "trailing-ws", man + b" \r\n\t")
put("manifest", "bom", b"\xef\xbb\xbf" + man)
put("manifest", "non-utf8", sub(man, b'"version":"', b'"version":"\xff'))
put("manifest", "overlong-utf8", sub(man, b'"version":"', b'"version":"\xc0\xaf'))
put("manifest", "surrogate-utf8", sub(man, b'"version":"', b'"version":"\xed\xa0\x80'))
put("manifest", "esc-u0000", sub(man, b'"version":"', b'"version":"\\u0000'))
put("manifest", "esc-surrogate", sub(man, b'"version":"', b'"version":"\\ud800'))
put("manifest", "esc-pair", sub(man, b'"version":"', b'"version":"\\ud83d\\ude00'))
put("manifest", "raw-nul", sub(man, b'"version":"', b'"version":"\x00'))
put("manifest", "raw-ctl", sub(man, b'"version":"', b'"version":"\x01'))
put("manifest", "ctl-outside", sub(man, b"{", b"{\x0b"))
put("manifest", "vendor-dotdot", sub(man, b'"vendor":"acme"', b'"vendor":".."'))
put("manifest", "vendor-other", sub(man, b'"vendor":"acme"', b'"vendor":"other"'))
put("manifest", "model-other", sub(man, b'"model":"thermo-x1"', b'"model":"thermo-x2"'))
put("manifest", "vendor-65", sub(man, b'"vendor":"acme"', b'"vendor":"' + b"a" * 65 + b'"'))
put("manifest", "version-64", sub(man, b'"version":"', b'"version":"' + b"v" * 40))
put("manifest", "keyid-upper", sub(man, expected["vendor_sign_key_id"].encode(), expected["vendor_sign_key_id"].upper().encode()))
put("manifest", "sha-short", sub(man, expected["image_sha256"].encode(), expected["image_sha256"][:-2].encode()))
put("manifest", "chunk-size-255", sub(man, b'"chunk_size":1024', b'"chunk_size":255'))
put("manifest", "chunk-size-1m1", sub(man, b'"chunk_size":1024', b'"chunk_size":1048577'))
put("manifest", "size-2p53", sub(mnc, b'"size":2600', b'"size":9007199254740991'))
put("manifest", "size-1025-chunks", sub(mnc, b'"size":2600', b'"size":262401').replace(b'"chunk_size":1024', b'"chunk_size":256'))
put("manifest", "size-1024-chunks", sub(mnc, b'"size":2600', b'"size":262144').replace(b'"chunk_size":1024', b'"chunk_size":256'))
o = json.loads(mnc)
o["chunk_sha256"] = [expected["chunk0_sha256"]] * 1025
put("manifest", "chunk-list-1025", json.dumps(o, separators=(",", ":")))
o["chunk_sha256"] = ["0" * 64] * 2
put("manifest", "chunk-list-2", json.dumps(o, separators=(",", ":")))
o["chunk_sha256"] = [1, 2, 3]
put("manifest", "chunk-list-ints", json.dumps(o, separators=(",", ":")))
put("manifest", "expires-eq-issued", json.dumps({**json.loads(mnc), "expires": json.loads(mnc)["issued"]}, separators=(",", ":")))
sig = json.loads(man)["signature"]
put("manifest", "sig-nopad", sub(man, sig.encode(), sig.rstrip("=").encode()))
put("manifest", "sig-space", sub(man, sig.encode(), (sig[:8] + " " + sig[8:]).encode()))
put("manifest", "sig-long", sub(man, sig.encode(), (sig[:-4] * 2 + sig[-4:]).encode()))
put("manifest", "sig-short", sub(man, sig.encode(), b"AAAA"))
put("manifest", "not-object", b"[" + man + b"]")
put("manifest", "empty", b"")
put("manifest", "deep", b"[" * 2000 + b"]" * 2000)
put("manifest", "too-large", man[:-1] + b',"x":"' + b"a" * 81920 + b'"}')

# ---------------------------------------------------------------- status
st = {"state": "downloading", "sequence": 7, "version": "1.4.2", "progress": 40, "error": "none"}
put("status", "full", json.dumps(st))
put("status", "idle", b'{"state":"idle"}')
for s in ["verifying", "installed", "failed"]:
    put("status", "state-" + s, json.dumps({"state": s, "sequence": 7}))
put("status", "failed-error", b'{"state":"failed","sequence":7,"error":"image_digest_mismatch"}')
for tag, v in [("101", b"101"), ("neg", b"-1"), ("frac", b"1.5"), ("exp", b"1e2"), ("minus0", b"-0"),
               ("huge", b"1e400"), ("str", b'"40"')]:
    put("status", "progress-" + tag, b'{"state":"downloading","progress":' + v + b"}")
put("status", "seq-2p53", b'{"state":"idle","sequence":9007199254740992}')
put("status", "seq-2p53m1", b'{"state":"idle","sequence":9007199254740991}')
put("status", "dup-state", b'{"state":"idle","state":"failed"}')
put("status", "dup-unknown", b'{"state":"idle","x":1,"x":2}')
put("status", "unknown", b'{"state":"idle","uptime":12,"extra":{"a":[1,2]}}')
put("status", "bad-state", b'{"state":"IDLE"}')
put("status", "no-state", b'{"sequence":7}')
put("status", "not-object", b'["idle"]')
put("status", "truncated", b'{"state":"idl')
put("status", "non-utf8", b'{"state":"idle","version":"\xff"}')
put("status", "esc-u0000", b'{"state":"idle","version":"a\\u0000b"}')
put("status", "esc-pair", b'{"state":"idle","error":"\\ud83d\\ude00"}')
put("status", "long-version-utf8", b'{"state":"idle","version":"' + b"a" * 255 + "é".encode() * 3 + b'"}')
put("status", "long-escapes", b'{"state":"failed","error":"' + b"\\u0001" * 300 + b'","version":"' + b'\\"' * 300 + b'"}')
put("status", "too-large", b'{"state":"idle","x":"' + b"a" * 4096 + b'"}')
put("status", "empty", b"")

# ---------------------------------------------------------------- topic
for name, t in [("manifest", "fw/acme/thermo-x1/manifest"), ("chunk", "fw/acme/thermo-x1/chunk/7/1"),
                ("status", "fw/acme/thermo-x1/status/dev1"), ("events", "fw/acme/thermo-x1/events"),
                ("fleet", "fw/acme/thermo-x1/fleet"), ("bare", "fw"), ("slash", "fw/"),
                ("chunk-lead0", "fw/acme/thermo-x1/chunk/07/1"), ("chunk-seq0", "fw/acme/thermo-x1/chunk/0/1"),
                ("chunk-idx-2p32", "fw/acme/thermo-x1/chunk/7/4294967296"),
                ("chunk-seq-2p53", "fw/acme/thermo-x1/chunk/9007199254740992/0"),
                ("dot-vendor", "fw/./thermo-x1/manifest"), ("long-id", "fw/" + "a" * 65 + "/m/manifest"),
                ("outside", "fwx/acme/m/manifest"), ("empty-level", "fw//m/manifest"),
                ("wild-in-name", "fw/acme/+/manifest"), ("dollar", "$SYS/broker/uptime")]:
    put("topic", "t-" + name, t)
for name, f in [("all", "#"), ("plus", "+/acme/#"), ("fw-all", "fw/#"), ("fw-plus", "fw/+/thermo-x1/chunk/7/+"),
                ("share", "$share/g/fw/acme/+/status/#"), ("share-bad", "$share//fw/#"), ("vendor", "fw/acme"),
                ("mixed-level", "fw/ac+me/x"), ("prefix-wild", "f+/acme/#"), ("model-hash", "fw/acme/#"),
                ("hash-mid", "fw/#/x")]:
    put("topic", "f-" + name, f)
put("topic", "p-multi", b"a/b\0a/b/acme/thermo-x1/status/dev-1")
put("topic", "p-multi-filter", b"a/b\0a/+/acme/#")
put("topic", "p-dollar", b"$fw\0+/acme/#")
put("topic", "m-vendor-wild", b"fw\0fw/+/thermo-x1/#\0fw/acme/thermo-x1/manifest")
put("topic", "m-hash", b"fw\0#\0fw/acme/thermo-x1/chunk/7/1")
put("topic", "m-model", b"fw\0fw/acme/+/status/+\0fw/acme/thermo-x1/status/dev1")
put("topic", "m-prefix", b"fw\0fw\0fw")
put("topic", "m-multi", b"a/b\0a/+/acme/thermo-x1/manifest\0a/b/acme/thermo-x1/manifest")

# ---------------------------------------------------------------- tag
mtopic, ctopic = expected["manifest_topic"].encode(), expected["chunk1_topic"].encode()
ts, mtag, ctag = expected["manifest_tag_ts"].encode(), expected["manifest_tag"].encode(), expected["chunk1_tag"].encode()
man_raw = vec("manifest.json")
assert hashlib.sha256(man_raw).hexdigest() == expected["manifest_sha256"]
chunk1 = vec("chunk-1.bin")
put("tag", "vector-manifest", b"\0".join([mtopic, ts, mtag, man_raw]))
put("tag", "vector-chunk1", b"\0".join([ctopic, expected["chunk1_tag_ts"].encode(), ctag, chunk1]))
for name, (t2, tg) in {"ts-lead0": (b"0" + ts, mtag), "ts-neg": (b"-1", mtag), "ts-max": (b"9223372036854775807", mtag),
                       "ts-over": (b"9223372036854775808", mtag), "ts-space": (ts + b" ", mtag), "ts-empty": (b"", mtag),
                       "ts-zero": (b"0", mtag), "tag-upper": (ts, mtag.upper()), "tag-63": (ts, mtag[:-1]),
                       "tag-65": (ts, mtag + b"0"), "tag-other": (ts, ctag)}.items():
    put("tag", name, b"\0".join([mtopic, t2, tg, man_raw]))

# ---------------------------------------------------------------- tag_props
def rec(t, *strs):
    return bytes([t]) + b"".join(s + b"\0" for s in strs)
put("tag_props", "vector", rec(1, ts) + rec(2, mtag))
put("tag_props", "vector-pairs", rec(0, b"fw-ts", ts) + rec(3, b"application/json") + rec(0, b"fw-tag", mtag))
put("tag_props", "vector-others", rec(0, b"x", b"y") + rec(5, b"\x10\x00\x00") + rec(2, mtag) + rec(4, b"re/ply") + rec(1, ts))
put("tag_props", "dup-ts", rec(1, ts) + rec(2, mtag) + rec(1, ts))
put("tag_props", "dup-tag", rec(2, mtag) + rec(1, ts) + rec(2, mtag))
put("tag_props", "missing-tag", rec(1, ts))
put("tag_props", "case", rec(0, b"FW-TS", ts) + rec(0, b"fw-tag", mtag))
put("tag_props", "bad-utf8", rec(1, b"\xff") + rec(2, mtag))
put("tag_props", "stale", rec(1, b"1764114000") + rec(2, mtag))

# ---------------------------------------------------------------- trust
sign_b64 = vec("vendor-sign.pub.b64", "r").strip()
ecdh_b64 = vec("vendor-ecdh.pub.b64", "r").strip()
broker_b64 = vec("broker-ecdh.pub.b64", "r").strip()
acme = {"id": "acme", "usernames": ["acme-deploy"], "ecdh_public_key": ecdh_b64,
        "signing_keys": [{"public_key": sign_b64, "revoked": False}],
        "models": ["thermo-x1"], "min_sequence": {"thermo-x1": 5}}
other = {"id": "other", "usernames": ["other-ci", "other-ops"], "ecdh_public_key": broker_b64,
         "signing_keys": [{"public_key": ecdh_b64, "revoked": True}, {"public_key": sign_b64}]}
put("trust", "vector", json.dumps({"vendors": [acme]}, indent=2))
put("trust", "two-vendors", json.dumps({"vendors": [acme, other]}))
put("trust", "minimal", json.dumps({"vendors": [{k: acme[k] for k in ("id", "usernames", "ecdh_public_key", "signing_keys")}]}))
put("trust", "empty", b'{"vendors":[]}')
put("trust", "dup-vendor", json.dumps({"vendors": [acme, acme]}))
put("trust", "dup-username", json.dumps({"vendors": [acme, {**other, "usernames": ["acme-deploy"]}]}))
put("trust", "dup-key", json.dumps({"vendors": [{**acme, "signing_keys": acme["signing_keys"] * 2}]}))
put("trust", "unknown-member", json.dumps({"vendors": [{**acme, "comment": "x"}]}))
put("trust", "unknown-top", json.dumps({"vendors": [acme], "x": 1}))
put("trust", "revoked-str", json.dumps({"vendors": [{**acme, "signing_keys": [{"public_key": sign_b64, "revoked": "no"}]}]}))
put("trust", "bad-b64", json.dumps({"vendors": [{**acme, "ecdh_public_key": ecdh_b64[:-4]}]}))
put("trust", "models-empty", json.dumps({"vendors": [{**acme, "models": []}]}))
put("trust", "models-bad", json.dumps({"vendors": [{**acme, "models": ["a/b", ".."]}]}))
put("trust", "user-wild", json.dumps({"vendors": [{**acme, "usernames": ["a+b"]}]}))
put("trust", "user-nonutf8", json.dumps({"vendors": [acme]}).encode().replace(b"acme-deploy", b"acme-\xff"))
for tag, v in [("frac", "5.5"), ("neg", "-1"), ("2p53", "9007199254740992"), ("exp", "5e0"), ("str", '"5"')]:
    put("trust", "floor-" + tag, json.dumps({"vendors": [acme]}).replace('"thermo-x1": 5', '"thermo-x1": ' + v))
put("trust", "truncated", json.dumps({"vendors": [acme]})[:200])
put("trust", "esc-u0000", json.dumps({"vendors": [acme]}).replace("acme-deploy", "acme\\u0000deploy"))

# ---------------------------------------------------------------- state
def state_of(*entries):
    return json.dumps({"format": 1, "models": list(entries)}, separators=(",", ":"))
ent = {"vendor": "acme", "model": "thermo-x1", "sequence": 7, "manifest": man_raw.decode(),
       "seen": "00" * 128, "complete": False}
put("state", "vector", state_of(ent))
put("state", "vector-nochunks", state_of({**ent, "manifest": mnc.decode(), "seen": "07" + "00" * 127, "complete": True}))
put("state", "empty-models", b'{"format":1,"models":[]}')
put("state", "seen-beyond", state_of({**ent, "seen": "0f" + "00" * 127}))
put("state", "seen-short", state_of({**ent, "seen": "00"}))
put("state", "seen-upper", state_of({**ent, "seen": "0A" + "00" * 127}))
put("state", "seq-mismatch", state_of({**ent, "sequence": 8}))
put("state", "seq-frac", state_of(ent).replace('"sequence":7', '"sequence":7.0'))
put("state", "dup-entry", state_of(ent, ent))
put("state", "dup-member", state_of(ent).replace('"complete":false', '"complete":false,"complete":true'))
put("state", "unknown-member", state_of({**ent, "x": 1}))
put("state", "format-2", state_of(ent).replace('"format":1', '"format":2'))
put("state", "extra-top", json.dumps({"format": 1, "models": [], "x": 1}))
put("state", "vendor-mismatch", state_of({**ent, "vendor": "other"}))
put("state", "bad-manifest", state_of({**ent, "manifest": man_raw.decode()[:-5]}))
put("state", "truncated", state_of(ent)[:300])
put("state", "empty", b"")

# ---------------------------------------------------------------- audit
def chain(events, prev="0" * 64):
    lines = []
    for i, e in enumerate(events):
        line = json.dumps({"ts": "2026-11-26T18:53:09.%03dZ" % i, "event": e, "vendor": "acme",
                           "model": "thermo-x1", "client": "acme-deploy", "prev": prev}, separators=(",", ":"))
        prev = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line.encode())
    return lines
good = chain(["config.reloaded", "manifest.accepted", "device.status", "image.complete"])
put("audit", "good", b"\n".join(good) + b"\n")
put("audit", "good-one", good[0] + b"\n")
put("audit", "torn", b"\n".join(good) + b"\n" + good[0][:20])
put("audit", "edited", b"\n".join([good[0], good[1].replace(b"acme", b"acmf"), *good[2:]]) + b"\n")
put("audit", "removed", b"\n".join([good[0], *good[2:]]) + b"\n")
put("audit", "crlf", b"\r\n".join(good) + b"\r\n")
put("audit", "blank-line", b"\n".join([good[0], b"", *good[1:]]) + b"\n")
put("audit", "nul-in-line", good[0] + b"\n" + good[1][:10] + b"\0" + good[1][10:] + b"\n")
put("audit", "prev-not-string", b'{"event":"x","prev":0}\n')
put("audit", "empty", b"")
print("corpora written to", OUT)
