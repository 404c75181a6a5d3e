#!/usr/bin/env python3
"""In-process request/reply round trips to rsd's control endpoint, with and
without CURVE, for bench/curve.py. Needs pyzmq (Debian: python3-zmq, which
goes into /usr/bin/python3, not into a pyenv/venv python).

Speaks rs's wire format by hand (proto/rs.proto: one Envelope per frame,
version 1, sender_version = field 4, body Request = field 20, Reply = field
21); only ping and status LABEL, nothing else is needed here. rsd since
0.2.0 refuses a request whose sender_version is outside its skew policy
(code 14), so --sender-version must be the rs version under test (curve.py
passes rsctl --version's); an older rsd skips the field.

  reuse    one DEALER per mode, connected (and for CURVE, handshaken) before
           the clock starts; a sample = send Request -> whole Reply received:
           the per-message cost (encrypt, ZAP's user id check, decrypt).
  connect  a new DEALER per sample: connect, CURVE handshake + ZAP, request,
           reply, close: what one rsctl pays less its process start, its
           credential file and its libzmq context.

The two modes alternate sample by sample, the order flipping every round.
Prints {"secure": [ns, ...], "insecure": [ns, ...]} on stdout. Exit 1 if a
reply did not come within --timeout or said code != 0.
"""
import argparse
import json
import sys
import time

import zmq

V_STATUS, V_PING = 3, 7


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def request(rid, verb, label, sender_version, page_size=0, page_after=""):
    rq = field(1, 0, rid) + field(2, 0, verb)
    if label:
        rq += field(3, 2, label.encode())
    if page_after:
        rq += field(28, 2, page_after.encode())
    if page_size:
        rq += field(29, 0, page_size)
    env = field(1, 0, 1)
    if sender_version:
        env += field(4, 2, sender_version.encode())
    return env + field(20, 2, rq)


def fields(buf):
    """(number, value) of each field: ints for varints, bytes otherwise."""
    i, out = 0, []
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.append((num, v))
    return out


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def reply_code(buf, rid):
    """The Reply's code (0 = ok); raises if buf is no reply to rid."""
    body = dict(fields(buf)).get(21)
    if body is None:
        raise ValueError("not a Reply")
    rep = dict(fields(body))
    if rep.get(1, 0) != rid:
        raise ValueError(f"reply to {rep.get(1)}, not {rid}")
    return rep.get(2, 0)


def read_cred(path):
    kv = {}
    with open(path) as f:
        for ln in f:
            if "=" in ln and not ln.lstrip().startswith("#"):
                k, v = ln.split("=", 1)
                kv[k.strip()] = v.strip()
    return kv


class Client:
    def __init__(self, ctx, ep, cred, timeout_ms, sender_version):
        self.ctx, self.ep, self.cred, self.timeout_ms = ctx, ep, cred, timeout_ms
        self.sender_version = sender_version
        self.sock = None
        self.rid = 0

    def open(self):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        if self.cred:
            s.curve_serverkey = self.cred["server-key"].encode()
            s.curve_publickey = self.cred["public-key"].encode()
            s.curve_secretkey = self.cred["secret-key"].encode()
        s.connect(self.ep)
        self.sock = s

    def close(self):
        self.sock.close(0)
        self.sock = None

    def call(self, verb, label):
        """One round trip on the open socket, in ns."""
        self.rid += 1
        req = request(self.rid, verb, label, self.sender_version)
        t0 = time.perf_counter_ns()
        self.sock.send(req)
        if not self.sock.poll(self.timeout_ms, zmq.POLLIN):
            raise TimeoutError(f"{self.ep}: no reply within {self.timeout_ms} ms")
        rep = self.sock.recv()
        t1 = time.perf_counter_ns()
        code = reply_code(rep, self.rid)
        if code != 0:
            raise RuntimeError(f"{self.ep}: reply code {code}")
        return t1 - t0

    def connect_call(self, verb, label):
        """connect + handshake + one round trip + close, in ns."""
        t0 = time.perf_counter_ns()
        self.open()
        self.call(verb, label)
        self.close()
        return time.perf_counter_ns() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secure", nargs=2, metavar=("EP", "CRED"), required=True)
    ap.add_argument("--insecure", metavar="EP", required=True)
    ap.add_argument("--verb", choices=("ping", "status"), default="ping")
    ap.add_argument("--label", default="")
    ap.add_argument("--mode", choices=("reuse", "connect"), default="reuse")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=5.0, help="per reply, s")
    ap.add_argument("--sender-version", default="",
                    help="the rs version to announce (rsctl --version's)")
    a = ap.parse_args()
    verb = V_PING if a.verb == "ping" else V_STATUS
    ctx = zmq.Context()
    tmo = int(a.timeout * 1000)
    sv = a.sender_version
    cl = {"secure": Client(ctx, a.secure[0], read_cred(a.secure[1]), tmo, sv),
          "insecure": Client(ctx, a.insecure, None, tmo, sv)}
    out = {k: [] for k in cl}
    rc = 0
    try:
        if a.mode == "reuse":
            for c in cl.values():
                c.open()
        for i in range(-a.warmup, a.n):
            order = ("secure", "insecure") if i % 2 == 0 else ("insecure", "secure")
            for k in order:
                c = cl[k]
                ns = c.call(verb, a.label) if a.mode == "reuse" else \
                    c.connect_call(verb, a.label)
                if i >= 0:
                    out[k].append(ns)
    except (TimeoutError, RuntimeError, ValueError) as e:
        print(f"zreq: {e}", file=sys.stderr)
        rc = 1
    finally:
        for c in cl.values():
            if c.sock is not None:
                c.close()
        ctx.term()
    json.dump(out, sys.stdout)
    print()
    return rc


if __name__ == "__main__":
    sys.exit(main())
