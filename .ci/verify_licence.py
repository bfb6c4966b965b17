#!/usr/bin/env python3
"""Verify a tongban licence (SD-JWT VC) with third-party code only: jwcrypto for the JWS and
`cryptography` (a jwcrypto dependency) for the certificate. Nothing here comes from tongban.

    python3 .ci/verify_licence.py LICENCE_FILE LEAF_PEM

LEAF_PEM is the department certificate taken from the licence's `x5c` header, whose chain to the
published root the caller has already checked (openssl verify). Checks:

  1. the issuer-signed JWT verifies (ES256) under the certificate's public key;
  2. the header has typ "dc+sd-jwt", alg "ES256", and x5c[0] is that certificate;
  3. every disclosure's digest, base64url(sha256(ascii(disclosure))) without padding, is in `_sd`;
  4. a copy with one payload character flipped is rejected by jwcrypto;
  5. a forged disclosure (not signed by the issuer) is not in `_sd`.

Prints the disclosed claims and, last, `disclosure digests OK: N`. Exits non-zero on any failure.
"""

import base64
import hashlib
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk, jws
from jwcrypto.common import JWException


def fail(msg):
    print(f"verify_licence: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_nopad(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def disclosure_digest(disclosure):
    return b64url_nopad(hashlib.sha256(disclosure.encode("ascii")).digest())


def verify_jws(compact, key):
    """The verified (header, payload bytes); raises JWException if the signature is bad."""
    token = jws.JWS()
    token.deserialize(compact)
    token.verify(key, alg="ES256")
    return token.jose_header, token.payload


def main():
    if len(sys.argv) != 3:
        fail("usage: verify_licence.py LICENCE_FILE LEAF_PEM")
    try:
        sys.stdout.reconfigure(encoding="utf-8")
    except AttributeError:
        pass
    with open(sys.argv[1], encoding="ascii") as f:
        sd_jwt = f.read().strip()
    with open(sys.argv[2], "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())

    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        fail(f"the certificate's key is not P-256: {public!r}")
    key = jwk.JWK.from_pem(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    # <issuer-signed JWT>~<disclosure>~...~ (no key binding JWT after the last tilde).
    parts = sd_jwt.split("~")
    if len(parts) < 2:
        fail("not an SD-JWT: no '~'")
    jwt, disclosures, kb = parts[0], parts[1:-1], parts[-1]
    if kb != "":
        fail("the SD-JWT does not end with '~' (unexpected key binding JWT)")
    if any(d == "" for d in disclosures):
        fail("empty disclosure")
    if jwt.count(".") != 2:
        fail("the issuer-signed JWT is not a compact JWS")

    # 1. Signature, with jwcrypto.
    try:
        header, payload_bytes = verify_jws(jwt, key)
    except JWException as e:
        fail(f"jwcrypto rejected the issuer signature: {e!r}")
    print("jwcrypto: ES256 signature OK under the certificate's key")

    # 2. Header.
    if header.get("typ") != "dc+sd-jwt":
        fail(f"header typ is {header.get('typ')!r}, not 'dc+sd-jwt'")
    if header.get("alg") != "ES256":
        fail(f"header alg is {header.get('alg')!r}")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c:
        fail("no x5c in the header")
    if base64.b64decode(x5c[0], validate=True) != cert.public_bytes(serialization.Encoding.DER):
        fail("x5c[0] is not the certificate given on the command line")
    print(f"header: typ {header['typ']}, alg {header['alg']}, x5c of {len(x5c)} certificates")

    payload = json.loads(payload_bytes)
    if payload.get("_sd_alg") != "sha-256":
        fail(f"_sd_alg is {payload.get('_sd_alg')!r}, not 'sha-256'")
    sd = payload.get("_sd")
    if not isinstance(sd, list) or not all(isinstance(d, str) for d in sd):
        fail("_sd is missing or not a list of strings")
    print(
        "payload: iss=%s jti=%s vct=%s iat=%s nbf=%s exp=%s"
        % tuple(payload.get(k) for k in ("iss", "jti", "vct", "iat", "nbf", "exp"))
    )

    # 3. Disclosures.
    if not disclosures:
        fail("the licence carries no disclosures")
    seen = set()
    disclosed = {}
    for d in disclosures:
        digest = disclosure_digest(d)
        if digest not in sd:
            fail(f"disclosure digest {digest} is not in _sd")
        if digest in seen:
            fail(f"disclosure {digest} appears twice")
        seen.add(digest)
        try:
            salt, name, value = json.loads(b64url_decode(d))
        except (ValueError, TypeError) as e:
            fail(f"disclosure {digest} is not a [salt, name, value] array: {e}")
        if not isinstance(salt, str) or not isinstance(name, str):
            fail(f"disclosure {digest}: salt and name must be strings")
        if name in ("_sd", "_sd_alg", "...") or name in payload or name in disclosed:
            fail(f"disclosure {digest}: claim name {name!r} is reserved or repeated")
        disclosed[name] = value
    print("disclosed claims:")
    for name, value in disclosed.items():
        print(f"  {name}: {json.dumps(value, ensure_ascii=False)}")

    # 4. A tampered payload: flip one character in the middle of it.
    h, p, s = jwt.split(".")
    i = len(p) // 2
    flipped = "B" if p[i] == "A" else "A"
    tampered = ".".join((h, p[:i] + flipped + p[i + 1 :], s))
    try:
        verify_jws(tampered, key)
    except jws.InvalidJWSSignature:
        print("tampered copy (one payload character flipped): rejected by jwcrypto")
    except JWException as e:
        fail(f"the tampered copy failed for another reason than its signature: {e!r}")
    else:
        fail("jwcrypto ACCEPTED a tampered payload")

    # 5. A disclosure the issuer never signed is not covered by _sd.
    forged = b64url_nopad(json.dumps(["c2FsdA", "address", "forged"]).encode())
    if disclosure_digest(forged) in sd:
        fail("a forged disclosure's digest is in _sd")
    print("forged disclosure: digest not in _sd")

    print(f"disclosure digests OK: {len(disclosures)}")


if __name__ == "__main__":
    main()
