#!/usr/bin/env bash
# External verification: issue a licence through the real binary (CLI set-up, `serve`, the HTTP API),
# then prove it verifies OUTSIDE our code: openssl checks the x5c chain up to the published root, and
# jwcrypto (.ci/verify_licence.py) checks the ES256 signature, the typ and every disclosure digest, and
# `cryptography` + hashlib (.ci/verify_checkpoint.py) check the transparency-log checkpoint's Ed25519
# signature (C2SP signed-note) and the issuance receipt's RFC 9162 inclusion proof; and every
# certificate tongban wrote (root, intermediate, the licence-signing and the status-list-signing
# certificates, from the key files and the x5c of a licence and of a status list) loads under Python
# `cryptography`'s strict DER parser and verifies up to the root (`verify_directly_issued_by`,
# .ci/verify_certs.py), besides openssl. The transparency log's key is a bare Ed25519 key (the C2SP
# note verifier key), with no certificate.
# Our own offline verifier (`tongban verify`) runs last, for comparison.
#
#   bash .ci/external-verify.sh
#
# Environment: TONGBAN_BIN (a built binary; default: `cargo build --bin tongban`, a no-op when fresh),
# EXTERNAL_VERIFY_PORT (default 18733). Needs python3, openssl, curl; installs jwcrypto, and
# cryptography 40 or later (verify_directly_issued_by), if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TERM_COLOR=never

say() { printf '== %s\n' "$*"; }
die() {
  printf 'external-verify: FAIL: %s\n' "$*" >&2
  exit 1
}
# json_get KEY < JSON: one top-level string or number.
json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

say "prerequisites"
for tool in python3 openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
if ! python3 -c 'import jwcrypto' 2>/dev/null; then
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet jwcrypto
fi
if ! python3 -c 'from cryptography import x509; x509.Certificate.verify_directly_issued_by' 2>/dev/null; then
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --upgrade 'cryptography>=40'
fi
python3 -c 'import jwcrypto, cryptography' || die "jwcrypto is not importable after pip install"

if [[ -n ${TONGBAN_BIN:-} ]]; then
  bin=$(realpath "$TONGBAN_BIN")
else
  cargo build --quiet --bin tongban
  bin=$repo/target/debug/tongban
fi
[[ -x $bin ]] || die "no tongban binary at $bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tongban-external-verify.XXXXXX")
server_pid=
cleanup() {
  local rc=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -s $tmp/serve.log ]]; then
    echo "-- server log" >&2
    tail -n 50 "$tmp/serve.log" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh service in the temp dir: SQLite under ./data and keys under ./keys there, nothing inherited.
cd "$tmp"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^TONGBAN_' || true)
port=${EXTERNAL_VERIFY_PORT:-18733}
base=http://127.0.0.1:$port
export TONGBAN_LISTEN=127.0.0.1:$port TONGBAN_LOG=warn

uscc_dept=91350100M000100Y43
uscc_holder=9144030071526726XG
holder_name=深圳示范科技有限公司
rep_email=lin.faren@example.cn

say "set-up through the CLI"
"$bin" init >/dev/null # admin commands never create a database
"$bin" client add --name "Fuzhou market regulator licence system" \
  --grant-type client_credentials --scope licences:issue >client.json
client_id=$(json_get client_id <client.json)
client_secret=$(json_get client_secret <client.json)

printf '%s\n' 'Licence-CI-2024x' |
  "$bin" account add --name 林法人 --id-number 11010519491231002X --email "$rep_email" --verified >/dev/null
"$bin" enterprise add --uscc "$uscc_holder" --name "$holder_name" \
  --legal-representative "$rep_email" >/dev/null
"$bin" department add --uscc "$uscc_dept" --name-zh 福州市市场监督管理局 \
  --name-en "Fuzhou Administration for Market Regulation" \
  --iss https://scjg.fuzhou.gov.example.cn --client-id "$client_id" >department.json
dept_id=$(json_get id <department.json)

cat >licence-type.json <<EOF
{
  "code": "${uscc_dept}001",
  "name_zh": "营业执照", "name_en": "Business licence",
  "holder_kinds": ["enterprise"],
  "schema": {
    "type": "object",
    "required": ["company_name", "legal_representative", "registered_capital"],
    "additionalProperties": false,
    "properties": {
      "company_name": { "type": "string", "minLength": 1 },
      "legal_representative": { "type": "string" },
      "registered_capital": { "type": "integer", "minimum": 0 },
      "address": { "type": "string" }
    }
  },
  "disclosable": ["address", "legal_representative"],
  "validity_days": 3650,
  "issuers": ["${uscc_dept}"],
  "queriers": [{ "department": "91110000802100433B", "legal_basis": "《住房公积金管理条例》第十三条" }]
}
EOF
type_code=$("$bin" licence-type add licence-type.json | json_get code)

say "serve on $base"
if curl -fsS -o /dev/null --max-time 2 "$base/healthz" 2>/dev/null; then
  die "something already answers on $base (set EXTERNAL_VERIFY_PORT)"
fi
"$bin" serve >serve.log 2>&1 &
server_pid=$!
up=
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || die "the server exited during start-up"
  if curl -fsS -o /dev/null --max-time 2 "$base/healthz" 2>/dev/null; then
    up=1
    break
  fi
  sleep 0.2
done
[[ -n $up ]] || die "no answer from $base/healthz"

say "issue a licence over the API"
curl -fsS --max-time 30 -u "$client_id:$client_secret" -d grant_type=client_credentials \
  "$base/token" >token.json || die "client_credentials token request failed"
token=$(json_get access_token <token.json)

cat >request.json <<EOF
{
  "type_code": "$type_code",
  "holders": [{ "kind": "enterprise", "id": "$uscc_holder", "name": "$holder_name" }],
  "fields": { "company_name": "$holder_name", "legal_representative": "林法人",
              "registered_capital": 1000000, "address": "深圳市南山区" }
}
EOF
status=$(curl -sS --max-time 30 -o issued.json -w '%{http_code}' -H "authorization: Bearer $token" \
  -H 'content-type: application/json' --data-binary @request.json "$base/api/v1/licences")
[[ $status == 201 ]] || die "issuance answered $status: $(cat issued.json)"
json_get licence <issued.json >licence.txt
echo "issued $(json_get id <issued.json)"
curl -fsS --max-time 30 -o root.pem "$base/pki/root.pem" || die "fetching /pki/root.pem failed"
curl -fsS --max-time 30 -o log-key.txt "$base/api/v1/log/key" || die "fetching /api/v1/log/key failed"
# Two more licences, so that the first one's receipt (fetched now, against the newest checkpoint) has
# a real inclusion proof rather than the empty proof of a one-leaf tree.
for n in 2 3; do
  status=$(curl -sS --max-time 30 -o "issued-$n.json" -w '%{http_code}' -H "authorization: Bearer $token" \
    -H 'content-type: application/json' --data-binary @request.json "$base/api/v1/licences")
  [[ $status == 201 ]] || die "issuance $n answered $status"
done
curl -fsS --max-time 30 -o receipt.json "$base/api/v1/log/receipts/$(json_get id <issued.json)" ||
  die "fetching the receipt failed"
curl -fsS --max-time 30 -o status-list.jwt "$base/status-lists/$dept_id" ||
  die "fetching the status list failed"

# Everything below is offline: the server is no longer needed.
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

say "openssl: the x5c chain up to the published root"
python3 - licence.txt <<'EOF'
import base64, json, sys, textwrap
jwt = open(sys.argv[1]).read().strip().split("~")[0]
h = jwt.split(".")[0]
header = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
x5c = header["x5c"]
if len(x5c) != 2:
    sys.exit(f"expected x5c of 2 certificates (department, intermediate), got {len(x5c)}")
for name, b64 in zip(("leaf.pem", "intermediate.pem"), x5c):
    base64.b64decode(b64, validate=True)  # standard base64 DER (RFC 7515 4.1.6)
    with open(name, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(b64, 64))
                + "\n-----END CERTIFICATE-----\n")
EOF
openssl x509 -in leaf.pem -noout -subject -issuer -nameopt utf8,sep_comma_plus_space
openssl_out=$(openssl verify -CAfile root.pem -untrusted intermediate.pem -purpose any leaf.pem 2>&1) ||
  die "openssl verify: $openssl_out"
echo "$openssl_out"
[[ $openssl_out == "leaf.pem: OK" ]] || die "openssl verify did not say OK: $openssl_out"

say "openssl: the status list's certificate up to the published root"
python3 - status-list.jwt <<'EOF'
import base64, json, sys, textwrap
h = open(sys.argv[1]).read().strip().split(".")[0]
header = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
with open("status-leaf.pem", "w") as f:
    f.write("-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(header["x5c"][0], 64))
            + "\n-----END CERTIFICATE-----\n")
EOF
openssl_out=$(openssl verify -CAfile root.pem -untrusted intermediate.pem -purpose any status-leaf.pem 2>&1) ||
  die "openssl verify: $openssl_out"
echo "$openssl_out"
[[ $openssl_out == "status-leaf.pem: OK" ]] || die "openssl verify did not say OK: $openssl_out"

say "cryptography (strict DER): every certificate, and each signature up to the root"
certs_out=$(python3 "$repo/.ci/verify_certs.py" keys/ca/root.pem root.pem keys/ca/intermediate.pem \
  licence.txt status-list.jwt) || {
  printf '%s\n' "$certs_out"
  die "verify_certs.py failed"
}
printf '%s\n' "$certs_out"

say "jwcrypto: signature, typ and disclosure digests"
py_out=$(python3 "$repo/.ci/verify_licence.py" licence.txt leaf.pem) || {
  printf '%s\n' "$py_out"
  die "verify_licence.py failed"
}
printf '%s\n' "$py_out"
digests=$(sed -n 's/^disclosure digests OK: \([0-9][0-9]*\)$/\1/p' <<<"$py_out")
[[ -n $digests && $digests -gt 0 ]] || die "verify_licence.py reported no disclosure digests"

say "cryptography + hashlib: the checkpoint's Ed25519 signature (C2SP signed-note) and the receipt's RFC 9162 inclusion proof"
log_out=$(python3 "$repo/.ci/verify_checkpoint.py" licence.txt receipt.json "$(cat log-key.txt)") || {
  printf '%s\n' "$log_out"
  die "verify_checkpoint.py failed"
}
printf '%s\n' "$log_out"

say "tongban verify (our offline verifier, for comparison)"
"$bin" verify licence.txt --root root.pem --receipt receipt.json --log-key "$(cat log-key.txt)" >tongban-verify.json ||
  die "tongban verify failed: $(cat tongban-verify.json)"
python3 -c 'import json, sys; r = json.load(sys.stdin); print("tongban verify: verdict", r.get("verdict"))' \
  <tongban-verify.json

echo "external verification: openssl OK, cryptography (strict DER) OK for 4 certificates, jwcrypto OK, $digests disclosure digests OK, checkpoint signature and inclusion proof OK"
