#!/usr/bin/env python3
"""Verify a tongban transparency-log receipt with third-party code only: `cryptography` for Ed25519
and hashlib for RFC 9162 hashing. Nothing here comes from tongban.

    python3 .ci/verify_checkpoint.py LICENCE_FILE RECEIPT_JSON VERIFIER_KEY

VERIFIER_KEY is the log's key in the Go `note` format, `<name>+<hex key hash>+<base64(0x01 || key)>`
(as served at /api/v1/log/key). Checks:

  1. the key hash is SHA-256(name || "\\n" || 0x01 || key)[:4] (C2SP signed-note);
  2. the receipt's checkpoint note carries a signature line `— <name> base64(key hash || sig)` whose
     Ed25519 signature verifies over the note body (everything up to and including the blank line's
     preceding newline);
  3. the checkpoint body is `<origin>\\n<size>\\n<base64 root>\\n` plus extension lines;
  4. the licence's issuance leaf, recomputed here from the licence itself, is in the tree: the
     inclusion proof leads from SHA-256(0x00 || leaf) to the root (RFC 9162 section 2.1.3.2);
  5. a proof for a different leaf, and a note with one body byte changed, are rejected.

Prints `checkpoint signature OK`, `inclusion OK: leaf N of M`, and exits non-zero on any failure.
"""

import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(msg):
    print(f"verify_checkpoint: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def b64url_nopad(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parse_vkey(vkey):
    name, khash, key = vkey.strip().split("+", 2)
    raw = base64.b64decode(key)
    if raw[0] != 1 or len(raw) != 33:
        fail("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    expect = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if expect.hex() != khash:
        fail(f"the verifier key's hash {khash} is not {expect.hex()}")
    return name, expect, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_note(note, name, khash, pub):
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        fail("the note has no blank line before its signatures")
    body += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            fail(f"not a signature line: {line!r}")
        sname, b64 = line[2:].split(" ", 1)
        sig = base64.b64decode(b64)
        if sname != name or sig[:4] != khash:
            continue
        try:
            pub.verify(sig[4:], body.encode())
        except InvalidSignature:
            fail("the checkpoint signature does not verify")
        return body
    fail("no signature by the log key")


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def verify_inclusion(h, index, size, proof, root):
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def main():
    licence_file, receipt_file, vkey = sys.argv[1:4]
    licence = open(licence_file).read().strip()
    receipt = json.load(open(receipt_file))
    name, khash, pub = parse_vkey(vkey)

    body = open_note(receipt["checkpoint"], name, khash, pub)
    print("checkpoint signature OK")
    lines = body.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    if origin != name or len(root) != 32:
        fail("the checkpoint's origin or root is malformed")
    tampered = receipt["checkpoint"].replace(lines[1], str(size + 1), 1)
    try:
        pub.verify(base64.b64decode(tampered.split("\n\n")[1].split(" ", 2)[2])[4:],
                   (tampered.split("\n\n")[0] + "\n").encode())
        fail("a note with a changed size still verified")
    except InvalidSignature:
        pass

    # The issuance leaf, recomputed from the licence: never taken from the receipt.
    jwt = licence.split("~")[0]
    payload = json.loads(b64url_decode(jwt.split(".")[1]))
    leaf = json.dumps(
        {"v": 1, "event": "issued", "licence": payload["jti"],
         "digest": b64url_nopad(hashlib.sha256(jwt.encode()).digest()),
         "status": 0, "at": payload["iat"]},
        separators=(",", ":"), ensure_ascii=False).encode()
    if leaf != receipt["leaf"].encode():
        fail(f"the recomputed leaf {leaf!r} is not the receipt's {receipt['leaf']!r}")
    proof = [base64.b64decode(p) for p in receipt["inclusion_proof"]]
    index = receipt["log_index"]
    if not verify_inclusion(leaf_hash(leaf), index, size, proof, root):
        fail("the inclusion proof does not lead to the checkpoint's root")
    if verify_inclusion(leaf_hash(leaf + b" "), index, size, proof, root):
        fail("a proof for a different leaf was accepted")
    print(f"inclusion OK: leaf {index} of {size}")


if __name__ == "__main__":
    main()
