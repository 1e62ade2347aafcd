#!/usr/bin/env python3
"""A Weft peer written from docs/wire-protocol.md alone: plain pyzmq and msgpack, no Weft code.

    python_peer.py publish   --endpoint EP --count N [--timeout S]
        Connects an XPUB to a Weft node's subscriber endpoint, waits for its subscription (the slow-joiner
        cure of section 3.4), then publishes N messages with headers, in batches, with extension elements.
    python_peer.py subscribe --endpoint EP --count N --stream ID [--timeout S]
        Connects a SUB to a Weft publisher, decodes N envelopes (batches included) and verifies every field.
    python_peer.py selftest  --doc docs/wire-protocol.md
        Decodes the annotated hex examples of the document and checks them against the values it states.

Exit status 0 when everything checked out, 1 otherwise. The test contract (which subjects, headers and payloads
message i carries) is described at the top of interop_node.cpp.
"""

import argparse
import re
import secrets
import sys
import time

import msgpack
import zmq

# docs/wire-protocol.md, section 12.
VERSION = 1
MIN_ELEMENTS, MAX_ELEMENTS = 7, 64
MAX_DEPTH = 8
MAX_HEADERS, MAX_KEY_BYTES, MAX_VALUE_BYTES = 64, 256, 8192
MAX_SUBJECT_BYTES = 256
SUBSCRIBE, UNSUBSCRIBE = 0x01, 0x00

NOTE = "ünïcödé ✓"


class WireError(Exception):
    """A receive-side rejection; `kind` names the counter of docs/wire-protocol.md section 8.1."""

    def __init__(self, kind, detail):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


# --- Subjects and patterns (section 4) -------------------------------------------------------------------------

def _token_byte(b):
    return (0x21 <= b <= 0x7E or b >= 0x80) and b not in b".*>"


def subject_problem(subject, pattern=False):
    """None when `subject` (bytes) is a valid subject (or pattern), else what is wrong."""
    if not 1 <= len(subject) <= MAX_SUBJECT_BYTES:
        return f"{len(subject)} bytes"
    tokens = subject.split(b".")
    for n, token in enumerate(tokens, 1):
        if pattern and (token == b"*" or (token == b">" and n == len(tokens))):
            continue
        if not token or not all(_token_byte(b) for b in token):
            return f"token {n} ({token!r}) is not allowed"
    return None


def subject_matches(pattern, subject):
    p, s = pattern.split("."), subject.split(".")
    for n, token in enumerate(p):
        if token == ">":
            return len(s) > n
        if n >= len(s) or (token != "*" and token != s[n]):
            return False
    return len(p) == len(s)


def literal_prefix(pattern):
    """The bytes before the first wildcard token: what a subscriber subscribes to (section 3.2)."""
    kept = []
    for token in pattern.split("."):
        if token in ("*", ">"):
            return "".join(t + "." for t in kept)
        kept.append(token)
    return pattern


# --- The envelope (sections 5 and 6) ---------------------------------------------------------------------------

def encode_envelope(stream, sequence, subject, timestamp_ns, headers, payload, extensions=()):
    """One envelope. msgpack picks minimal integer encodings, which receivers must accept (section 6.1)."""
    return msgpack.packb([VERSION, stream, sequence, subject, timestamp_ns, dict(headers), bytes(payload),
                          *extensions], use_bin_type=True)


def _depth(value):
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((max(_depth(k), _depth(v)) for k, v in value.items()), default=0)
    return 0


def _is_int(value):
    return type(value) is int  # bool is an int subclass in Python, and is not an integer on the wire


def _check_envelope(e, frame_subject):
    if not isinstance(e, list):
        raise WireError("bad_envelope", f"not an array but {type(e).__name__}")
    if not MIN_ELEMENTS <= len(e) <= MAX_ELEMENTS:
        raise WireError("bad_envelope", f"{len(e)} elements")
    if _depth(e) > MAX_DEPTH:
        raise WireError("bad_envelope", "nested too deep")
    version, stream, sequence, subject, timestamp, headers, payload = e[:7]
    if not _is_int(version) or version < 0:
        raise WireError("bad_envelope", "version is not a non-negative integer")
    if not (_is_int(stream) and 0 <= stream < 2**64 and _is_int(sequence) and 0 <= sequence < 2**64):
        raise WireError("bad_envelope", "stream or sequence is not a uint64")
    if not isinstance(subject, str):
        raise WireError("bad_envelope", "subject is not a str")
    if not (_is_int(timestamp) and -2**63 <= timestamp < 2**63):
        raise WireError("bad_envelope", "timestamp is not an int64")
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise WireError("bad_envelope", "headers are not a map of at most 64 entries")
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise WireError("bad_envelope", "a header key or value is not a str")
        if not 1 <= len(key.encode()) <= MAX_KEY_BYTES or len(value.encode()) > MAX_VALUE_BYTES:
            raise WireError("bad_envelope", f"header {key!r} is over a limit")
    if not isinstance(payload, bytes):
        raise WireError("bad_envelope", f"payload is {type(payload).__name__}, not bin")
    if version != VERSION:
        raise WireError("bad_version", f"version {version}")
    if subject.encode() != frame_subject:
        raise WireError("subject_mismatch", f"{subject!r} in a frame for {frame_subject!r}")
    # Elements past the seventh are extensions: skipped (section 6.4).
    return {"version": version, "stream": stream, "sequence": sequence, "subject": subject,
            "timestamp": timestamp, "headers": headers, "payload": payload}


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise WireError("bad_envelope", "a map key appears twice")
    return dict(pairs)  # Python dicts keep insertion order: the headers stay in wire order


def decode_message(frames):
    """Section 8.1: returns (envelopes, error). Envelopes before an error in frame 1 are kept."""
    if len(frames) != 2:
        return [], WireError("bad_framing", f"{len(frames)} frames")
    frame_subject, body = frames
    if (problem := subject_problem(frame_subject)) is not None:
        return [], WireError("bad_subject", problem)
    if not body:
        return [], WireError("bad_envelope", "frame 1 is empty")
    unpacker = msgpack.Unpacker(raw=False, object_pairs_hook=_no_duplicate_keys, strict_map_key=False,
                                max_buffer_size=len(body))
    unpacker.feed(body)
    envelopes = []
    while unpacker.tell() < len(body):
        try:
            envelopes.append(_check_envelope(unpacker.unpack(), frame_subject))
        except msgpack.OutOfData:
            return envelopes, WireError("bad_envelope", "the frame ends inside an envelope")
        except WireError as error:
            return envelopes, error
        except Exception as error:  # msgpack's FormatError, StackError, UnicodeDecodeError, ...
            return envelopes, WireError("bad_envelope", f"not msgpack: {error!r}")
    return envelopes, None


# --- The test contract (see interop_node.cpp) ------------------------------------------------------------------

def payload_for(i):
    size = 70000 if i % 97 == 0 else i % 300
    return bytes((i * 31 + k) & 0xFF for k in range(size))


def w2p_subject(i):
    return f"interop.w2p.s{(i - 1) // 10 % 3}"


def w2p_headers(i):
    if i % 5 == 0:
        return {}
    return {"index": str(i), "content-type": "application/octet-stream", "note": NOTE}


def p2w_subject(i):
    return f"interop.p2w.s{(i - 1) // 8 % 3}"


def p2w_headers(i):
    headers = {"index": str(i), "origin": "python"}
    if i % 3 == 0:
        headers["note"] = NOTE
    return headers


# --- Publish: python -> Weft -----------------------------------------------------------------------------------

def wait_for_subscription(sock, subject, deadline):
    """Reads subscription messages until one lets `subject` through (section 3.4)."""
    while time.monotonic() < deadline:
        if not sock.poll(max(1, int((deadline - time.monotonic()) * 1000)), zmq.POLLIN):
            break
        message = sock.recv()
        if message[:1] == bytes([SUBSCRIBE]) and subject.encode().startswith(message[1:]):
            return True
    return False


def publish(args):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.XPUB_NODROP, 1)          # a full high-water mark blocks the send instead of dropping
    sock.setsockopt(zmq.SNDTIMEO, int(args.timeout * 1000))
    sock.setsockopt(zmq.LINGER, int(args.timeout * 1000))
    sock.connect(args.endpoint)
    deadline = time.monotonic() + args.timeout
    if not wait_for_subscription(sock, p2w_subject(1), deadline):
        print(f"publish: no subscription arrived within {args.timeout} s", file=sys.stderr)
        return 1
    stream = secrets.randbits(64) or 1
    batch_sizes = (1, 2, 3, 5)  # batches of varying size; a batch never mixes subjects (section 5.2)
    frames = 0
    i = 1
    try:
        while i <= args.count:
            subject = p2w_subject(i)
            limit = batch_sizes[frames % len(batch_sizes)]
            body = []
            while i <= args.count and len(body) < limit and p2w_subject(i) == subject:
                extensions = [{"future": [1, 2.5, None, True]}, "more"] if i % 2 == 0 else []
                body.append(encode_envelope(stream, i, subject, time.time_ns(), p2w_headers(i), payload_for(i),
                                            extensions))
                i += 1
            sock.send_multipart([subject.encode(), b"".join(body)])
            frames += 1
    except zmq.Again:
        print(f"publish: sending blocked for {args.timeout} s at message {i}", file=sys.stderr)
        return 1
    finally:
        sock.close()   # waits up to LINGER for the last messages to leave
        ctx.term()
    print(f"publish: sent {args.count} envelopes in {frames} frames, stream {stream}")
    return 0


# --- Subscribe: Weft -> python ---------------------------------------------------------------------------------

def verify(e, expected_sequence, stream):
    i = e["sequence"]
    if i != expected_sequence:
        return f"sequence {i}, expected {expected_sequence}"
    if e["stream"] != stream:
        return f"stream {e['stream']}, expected {stream}"
    if e["version"] != VERSION:
        return f"version {e['version']}"
    if e["subject"] != w2p_subject(i):
        return f"subject {e['subject']!r}, expected {w2p_subject(i)!r}"
    if abs(e["timestamp"] - time.time_ns()) > 300 * 10**9:
        return f"timestamp {e['timestamp']} is more than 5 minutes off"
    if list(e["headers"].items()) != list(w2p_headers(i).items()):
        return f"headers {e['headers']!r}"
    if e["payload"] != payload_for(i):
        return f"payload of {len(e['payload'])} bytes differs"
    return None


def subscribe(args):
    pattern = "interop.w2p.>"
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, literal_prefix(pattern).encode())
    sock.connect(args.endpoint)
    deadline = time.monotonic() + args.timeout
    received, frames, largest = 0, 0, 0
    try:
        while received < args.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(int(remaining * 1000) + 1, zmq.POLLIN):
                print(f"subscribe: timed out with {received} of {args.count}", file=sys.stderr)
                return 1
            message = sock.recv_multipart()
            envelopes, error = decode_message(message)
            if error is not None:
                print(f"subscribe: rejected a message: {error}", file=sys.stderr)
                return 1
            if not subject_matches(pattern, message[0].decode()):
                continue
            frames += 1
            largest = max(largest, len(envelopes))
            for e in envelopes:
                received += 1
                if (problem := verify(e, received, args.stream)) is not None:
                    print(f"subscribe: envelope {received}: {problem}", file=sys.stderr)
                    return 1
    finally:
        sock.close()
        ctx.term()
    print(f"subscribe: verified {received} envelopes in {frames} frames (largest batch {largest})")
    return 0


# --- Selftest: the document's examples -------------------------------------------------------------------------

def dump_in_document(text, name):
    """The bytes of the annotated dump after `<!-- wire-example: NAME -->` (a 4-digit offset, byte pairs, notes)."""
    block = re.search(r"<!-- wire-example: " + re.escape(name) + r" -->\s*```[^\n]*\n(.*?)\n```", text, re.S)
    if block is None:
        raise ValueError(f"no dump named {name}")
    data = bytearray()
    for line in block.group(1).splitlines():
        tokens = line.split()
        if not tokens or not re.fullmatch(r"[0-9a-f]{4}", tokens[0]):
            continue
        if int(tokens[0], 16) != len(data):
            raise ValueError(f"{name}: offset {tokens[0]} after {len(data)} bytes")
        for token in tokens[1:]:
            if not re.fullmatch(r"[0-9a-f]{2}", token):
                break
            data.append(int(token, 16))
    return bytes(data)


def selftest(args):
    with open(args.doc, encoding="utf-8") as f:
        text = f.read()
    subject = dump_in_document(text, "frame0")
    stream = 0x7F3A9C1E5B2D4806
    checks = []
    envelopes, error = decode_message([subject, dump_in_document(text, "envelope")])
    checks.append(("example envelope", error is None and envelopes == [{
        "version": 1, "stream": stream, "sequence": 1, "subject": "telemetry.host1.cpu",
        "timestamp": 1700000000123456789, "headers": {"unit": "percent"}, "payload": b"42.5"}]))
    batch, error = decode_message([subject, dump_in_document(text, "batch")])
    checks.append(("example batch", error is None and [(e["sequence"], e["payload"]) for e in batch] ==
                   [(2, b"43.1"), (3, b"44.0")] and all(e["stream"] == stream and not e["headers"] for e in batch)))
    ours = encode_envelope(stream, 1, "telemetry.host1.cpu", 1700000000123456789, {"unit": "percent"}, b"42.5")
    checks.append(("python's encoding decodes the same", decode_message([subject, ours]) == (envelopes, None)))
    kept, error = decode_message([subject, dump_in_document(text, "envelope") + b"\x97\x01"])
    checks.append(("damage after a good envelope keeps the good one", kept == envelopes and error is not None))
    failed = [name for name, ok in checks if not ok]
    for name in failed:
        print(f"selftest: FAILED {name}", file=sys.stderr)
    print(f"selftest: {len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    pub = modes.add_parser("publish")
    pub.add_argument("--endpoint", required=True)
    pub.add_argument("--count", type=int, required=True)
    pub.add_argument("--timeout", type=float, default=30.0)
    sub = modes.add_parser("subscribe")
    sub.add_argument("--endpoint", required=True)
    sub.add_argument("--count", type=int, required=True)
    sub.add_argument("--stream", type=int, required=True)
    sub.add_argument("--timeout", type=float, default=30.0)
    test = modes.add_parser("selftest")
    test.add_argument("--doc", required=True)
    args = parser.parse_args()
    return {"publish": publish, "subscribe": subscribe, "selftest": selftest}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
