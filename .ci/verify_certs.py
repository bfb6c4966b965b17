#!/usr/bin/env python3
"""Check every certificate tongban wrote with Python `cryptography`, whose parser is strict DER (it
refuses, for instance, a basicConstraints that spells out the default `cA FALSE`), and each
signature up to the root with `verify_directly_issued_by`. Nothing here comes from tongban.

    python3 .ci/verify_certs.py ROOT_PEM SERVED_ROOT_PEM INTERMEDIATE_PEM LICENCE_FILE STATUS_LIST_JWT

ROOT_PEM and INTERMEDIATE_PEM are the files in keys/ca/, SERVED_ROOT_PEM is /pki/root.pem;
LICENCE_FILE is an issued licence (SD-JWT VC), STATUS_LIST_JWT the department's signed status list.
Checks:

  1. each certificate loads and every field and extension parses (strict DER): the root, the
     intermediate (file and both x5c copies), the licence-signing certificate (x5c[0] of the
     licence) and the status-list-signing certificate (x5c[0] of the status list);
  2. the served root is the root file; x5c[1] of both tokens is the intermediate file;
  3. signatures: root by itself, intermediate by the root, both department certificates by the
     intermediate (`verify_directly_issued_by`, which also compares the names);
  4. the profile: CA certificates have cA true and keyCertSign, department certificates cA false,
     digitalSignature only, each its own extended key usage; the two are different certificates;
  5. the status list's ES256 signature verifies under its certificate (jwcrypto), typ
     `statuslist+jwt`.

Prints one line per certificate and `certificates OK: N`. Exits non-zero on any failure.
"""

import base64
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID
from jwcrypto import jwk, jws

LICENCE_SIGNING = "2.25.202463427818834604478037536810656947083.1"
STATUS_LIST_SIGNING = "2.25.202463427818834604478037536810656947083.2"


def fail(msg):
    print(f"verify_certs: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def strict(name, der):
    """Load `der` and touch every field, so that nothing is left to lazy parsing."""
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.version, cert.serial_number, cert.subject, cert.issuer)
        _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature_hash_algorithm)
        cert.public_key()
        exts = {e.oid.dotted_string: e for e in cert.extensions}
    except (ValueError, TypeError) as e:
        fail(f"{name}: refused by cryptography's DER parser: {e}")
    if cert.public_bytes(serialization.Encoding.DER) != der:
        fail(f"{name}: does not re-encode to the same bytes")
    return cert, exts


def pem_der(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)


def x5c(compact, typ):
    header = json.loads(b64url_decode(compact.split(".")[0]))
    if header.get("typ") != typ or header.get("alg") != "ES256":
        fail(f"header is {header.get('typ')!r}/{header.get('alg')!r}, expected {typ}/ES256")
    chain = header.get("x5c")
    if not isinstance(chain, list) or len(chain) != 2:
        fail(f"{typ}: expected x5c of 2 certificates (department, intermediate)")
    return [base64.b64decode(c, validate=True) for c in chain]


def value(exts, oid, name):
    e = exts.get(oid.dotted_string)
    if e is None:
        fail(f"{name}: no {oid._name}")
    return e


def check_ca(name, exts, path_length):
    bc = value(exts, ExtensionOID.BASIC_CONSTRAINTS, name)
    if not (bc.critical and bc.value.ca and bc.value.path_length == path_length):
        fail(f"{name}: basicConstraints {bc.value} (critical {bc.critical})")
    ku = value(exts, ExtensionOID.KEY_USAGE, name).value
    if not ku.key_cert_sign or ku.digital_signature:
        fail(f"{name}: keyUsage {ku}")


def check_department(name, exts, eku):
    bc = value(exts, ExtensionOID.BASIC_CONSTRAINTS, name)
    if not bc.critical or bc.value.ca or bc.value.path_length is not None:
        fail(f"{name}: basicConstraints {bc.value} (critical {bc.critical})")
    ku = value(exts, ExtensionOID.KEY_USAGE, name)
    if not (ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign):
        fail(f"{name}: keyUsage {ku.value}")
    usages = [u.dotted_string for u in value(exts, ExtensionOID.EXTENDED_KEY_USAGE, name).value]
    if usages != [eku]:
        fail(f"{name}: extendedKeyUsage {usages}, expected [{eku}]")
    value(exts, ExtensionOID.SUBJECT_ALTERNATIVE_NAME, name)
    value(exts, ExtensionOID.SUBJECT_KEY_IDENTIFIER, name)
    value(exts, ExtensionOID.AUTHORITY_KEY_IDENTIFIER, name)


def signed_by(name, cert, issuer_name, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception as e:  # InvalidSignature, ValueError (names), TypeError (key type)
        fail(f"{name} is not signed by {issuer_name}: {e!r}")


def main():
    if len(sys.argv) != 6:
        fail("usage: verify_certs.py ROOT_PEM SERVED_ROOT_PEM INTERMEDIATE_PEM LICENCE STATUS_LIST")
    root_der = pem_der(sys.argv[1])
    if pem_der(sys.argv[2]) != root_der:
        fail("the served /pki/root.pem is not keys/ca/root.pem")
    inter_der = pem_der(sys.argv[3])
    with open(sys.argv[4], encoding="ascii") as f:
        licence_jwt = f.read().strip().split("~")[0]
    with open(sys.argv[5], encoding="ascii") as f:
        status_jwt = f.read().strip()
    lic_leaf, lic_inter = x5c(licence_jwt, "dc+sd-jwt")
    st_leaf, st_inter = x5c(status_jwt, "statuslist+jwt")
    if lic_inter != inter_der or st_inter != inter_der:
        fail("x5c[1] is not keys/ca/intermediate.pem")
    if lic_leaf == st_leaf:
        fail("the licence and the status list are signed with the same certificate")

    root, root_exts = strict("root", root_der)
    inter, inter_exts = strict("intermediate", inter_der)
    lic, lic_exts = strict("licence-signing certificate", lic_leaf)
    st, st_exts = strict("status-list-signing certificate", st_leaf)

    check_ca("root", root_exts, 1)
    check_ca("intermediate", inter_exts, 0)
    check_department("licence-signing certificate", lic_exts, LICENCE_SIGNING)
    check_department("status-list-signing certificate", st_exts, STATUS_LIST_SIGNING)

    signed_by("root", root, "itself", root)
    signed_by("intermediate", inter, "the root", root)
    signed_by("licence-signing certificate", lic, "the intermediate", inter)
    signed_by("status-list-signing certificate", st, "the intermediate", inter)
    for name, cert in (
        ("root", root),
        ("intermediate", inter),
        ("licence-signing", lic),
        ("status-list-signing", st),
    ):
        subject = cert.subject.rfc4514_string()
        print(f"cryptography: {name} certificate parses (strict DER) and verifies: {subject}")

    key = jwk.JWK.from_pem(
        st.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    token = jws.JWS()
    token.deserialize(status_jwt)
    try:
        token.verify(key, alg="ES256")
    except jws.InvalidJWSSignature as e:
        fail(f"jwcrypto rejected the status list's signature: {e!r}")
    print("jwcrypto: the status list's ES256 signature verifies under its certificate")
    print("certificates OK: 4")


if __name__ == "__main__":
    main()
