#!/usr/bin/env python3
"""Writes the seed corpora, corpus/<target>/seed-*: a few realistic inputs per target, each
behind the target's configuration bytes (see the header comment of fuzz_targets/<target>.rs).
Run from fuzz/: python3 make_corpus.py"""
import base64, hashlib, hmac, json, os, struct

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def jwt(claims, key=b"\x2a" * 32):
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64(json.dumps(claims, separators=(",", ":")).encode())
    s = b64(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
    return (h + "." + p + "." + s).encode()

def ws(op, payload, fin=True, key=b"\x01\x02\x03\x04"):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

def push(ty, body):
    return struct.pack(">I", 1 + len(body)) + bytes([ty]) + body

GET = b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
API = (b"POST /v1/push/user HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n"
       b"Content-Length: 35\r\n\r\n{\"user\":\"u42\",\"payload\":\"hi\",\"qos\":0}")
UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Origin: https://app.example.com\r\nSec-WebSocket-Protocol: loopwire-push.v1\r\n\r\n")

SEEDS = {
    "codec_line": [b"\x00\x40\x00\x07hello\nworld\r\n\n", b"\x00\x08\x03\x01a\r\nlong line over eight\n"],
    "codec_delimiter": [b"\x00\x40\x00\x01\x00\x00a\r\nb\nc", b"\x00\x10\x01\x03\x00\x00xEyENDzEND",
                        b"\x00\x20\x00\x07;|one;two;"],
    "codec_fixed": [b"\x03\x05abcdefgh", b"\x00\x01xyz"],
    "codec_length_field": [b"\x01\x00\x00\x01\x00\x02\x00\x00\x05hello\x00\x02hi",
                           b"\x00\x40\x00\x03\x00\x00\x01\x05\x00\x00\x00world"],
    "addr": [b"tcp://127.0.0.1:9000", b"udp6://[::1]:0", b"unix:///tmp/a.sock", b"tcp4://:80"],
    "http_request": [b"\x08\x00\x20\x10\x00\x05" + GET + POST,
                     b"\x00\x40\x04\x00\x00\x01GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    "resp": [b"\x20\x08\x40\x03*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n",
             b"\x20\x08\x40\x09PING\r\nSET k v\r\n\r\n*0\r\n"],
    "push_frame": [b"\x01\x00\x07" + push(1, b"\x00\x00\x75\x30tok") + push(2, b"room") + push(4, b"p")
                   + push(5, struct.pack(">Q", 7)) + push(7, b"up"),
                   b"\x01\x00\x03" + push(0x81, b"\x00\x00\x75\x30\x00\x10u42")
                   + push(0x83, struct.pack(">Q", 9) + b"\x01\x04chathello") + push(0x84, b"\x00\x0ebye")],
    "push_token": [jwt({"sub": "u42", "exp": 1700003600, "rooms": ["user:u42", "chat:*"], "device": "ios-1"}),
                   jwt({"sub": "alice", "exp": 1700000010, "nbf": 1699999900}),
                   jwt({"sub": "bob", "exp": 1}), b"not.a.token"],
    "push_api": [b"\x10\x00\x20\x05\x00" + API,
                 b"\x10\x00\x20\x02\x05\r\nPOST /v1/online HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"users\":[\"u42\"]}"
                 + b"GET /v1/health HTTP/1.0\r\n\r\n"],
    "ws_decoder": [b"\x10\x00\x08\x05" + ws(2, b"\x00\x00\x00\x05\x04ping") + ws(9, b"hb") + ws(8, b"\x03\xe8bye"),
                   b"\x10\x00\x88\x02" + ws(1, b"hel", fin=False) + ws(9, b"") + ws(0, b"lo") + ws(1, "ü".encode())],
    "ws_handshake": [b"\x20\x00" + UPGRADE + ws(2, b"x"), b"\x10\x00" + UPGRADE.replace(b"loopwire-push.v1", b"chat")],
}

for target, seeds in SEEDS.items():
    os.makedirs(f"corpus/{target}", exist_ok=True)
    for i, seed in enumerate(seeds):
        with open(f"corpus/{target}/seed-{i}", "wb") as f:
            f.write(seed)
