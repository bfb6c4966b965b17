#!/usr/bin/env bash
# Contract test: schemathesis (from PyPI) fuzzes a live tongban against the OpenAPI document it serves
# (/openapi.yaml, the file openapi/tongban.yaml) and fails on any 5xx or on any response whose status,
# content type, headers or body the document does not describe.
#
#   bash .ci/schemathesis.sh [PATH/TO/tongban]
#
# Without an argument the release binary is used if it exists, else the debug one (under
# $CARGO_TARGET_DIR, default target/). Build it first (`cargo build`). For investigating:
# SCHEMATHESIS_MAX_EXAMPLES=N, SCHEMATHESIS_EXTRA_ARGS=--continue-on-failure (report every failure,
# not only the first per operation), SCHEMATHESIS_KEEP=1 (keep the server log, the config and the
# reports, as a failed run always does).
#
# The server runs on a free port with a fresh SQLite database and fresh keys in a temporary directory,
# seeded with the CLI as the document's examples assume: the market regulator 91350100M000100Y43 (a
# department whose system client holds every API scope), a second department 91110000802100433B
# (whose certificate the fuzzer may revoke, so that the first keeps issuing), the business licence
# type 91350100M000100Y43001, a citizen and the enterprise 9144030071526726XG they represent, one
# issued licence and two shares of it. Schemathesis sends the system client's token to every OAuth-secured
# operation and the citizen's session cookie to the session-secured ones, and binds path parameters
# (licence id, department, USCC, certificate serial, share) and a few body fields (type code, holder,
# a fresh USCC or type code to register) to real values half of the time, so that every operation
# also reaches its 2xx answers, not only its 404s and 422s.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SEED=20251123
# Test cases per operation and phase (examples, coverage, fuzzing, stateful). With 100 every
# operation is called with valid and invalid input and reaches a 2xx; about 70 s on 2 cores.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}

# --- schemathesis, pinned, in a venv of its own ------------------------------------------------------
venv="${XDG_CACHE_HOME:-$HOME/.cache}/tongban-schemathesis-$SCHEMATHESIS_VERSION"
st="$venv/bin/schemathesis"
if ! "$st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
py="$venv/bin/python"

# --- the binary --------------------------------------------------------------------------------------
target="${CARGO_TARGET_DIR:-target}"
if (($#)); then
  bin=$1
elif [[ -x $target/release/tongban ]]; then
  bin=$target/release/tongban
else
  bin=$target/debug/tongban
fi
[[ -x $bin ]] || {
  echo "schemathesis: no binary at $bin (cargo build first, or pass its path)" >&2
  exit 2
}
bin=$(realpath "$bin")

# --- a fresh world -----------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/tongban-schemathesis.XXXXXX")
server_pid=
keep=1 # until the run passes: a failed one keeps the server log, the config and the reports
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n $keep ]]; then
    echo "schemathesis: server log, report and config kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export TONGBAN_DATABASE_URL="sqlite://$work/t.db?mode=rwc"
export TONGBAN_KEY_DIR="$work/keys"
export TONGBAN_LISTEN=127.0.0.1:0
# The public verification's per-address limit would otherwise answer most fuzzed verifications 429.
export TONGBAN_VERIFY_RATE_PER_ADDRESS=1000000
export TONGBAN_LOG=${TONGBAN_LOG:-warn}
unset TONGBAN_CONFIG

json() { "$py" -c "import json, sys; print(json.load(sys.stdin)$1)"; }
tb() { "$bin" "$@" 2>>"$work/cli.log"; }

REGULATOR=91350100M000100Y43
QUERIER=91110000802100433B
ENTERPRISE=9144030071526726XG
ENTERPRISE_NAME=深圳示范科技有限公司
REP_ID=110101195001010017
REP_EMAIL=rep@example.cn
PASSWORD=Correct-Horse-9-Battery
TYPE_CODE=${REGULATOR}001

tb init >/dev/null # admin commands never create a database
client=$(tb client add --name "Contract test system" --grant-type client_credentials \
  --scope licences:issue --scope licences:revoke --scope licences:query --scope licences:verify \
  --scope admin --scope auditor)
client_id=$(json '["client_id"]' <<<"$client")
client_secret=$(json '["client_secret"]' <<<"$client")
dept_id=$(tb department add --uscc "$REGULATOR" --name-zh 福州市市场监督管理局 --name-en "Fuzhou market regulator" \
  --iss https://scjg.fuzhou.gov.example.cn --client-id "$client_id" | json '["id"]')
tb department add --uscc "$QUERIER" --name-zh 北京市住房公积金管理中心 --name-en "Beijing housing fund" \
  --iss https://gjj.beijing.gov.example.cn >/dev/null
cat >"$work/type.json" <<EOF
{
  "code": "$TYPE_CODE", "name_zh": "营业执照", "name_en": "Business licence",
  "holder_kinds": ["enterprise"],
  "schema": {
    "type": "object",
    "required": ["company_name", "legal_representative", "registered_capital"],
    "additionalProperties": false,
    "properties": {
      "company_name": { "type": "string", "minLength": 1, "title": "名称" },
      "legal_representative": { "type": "string", "title": "法定代表人" },
      "registered_capital": { "type": "integer", "minimum": 0 },
      "address": { "type": "string", "title": "住所" }
    }
  },
  "disclosable": ["address", "legal_representative"],
  "validity_days": 3650,
  "issuers": ["$REGULATOR"],
  "queriers": [
    { "department": "$REGULATOR", "legal_basis": "《中华人民共和国市场主体登记管理条例》第三十五条" },
    { "department": "$QUERIER", "legal_basis": "《住房公积金管理条例》第十三条" }
  ]
}
EOF
tb licence-type add "$work/type.json" >/dev/null
echo "$PASSWORD" | tb account add --name 林法人 --id-number "$REP_ID" --email "$REP_EMAIL" --verified >/dev/null
tb enterprise add --uscc "$ENTERPRISE" --name "$ENTERPRISE_NAME" --legal-representative "$REP_EMAIL" >/dev/null

# --- the server --------------------------------------------------------------------------------------
"$bin" serve >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
base=
for _ in $(seq 100); do
  base=$(sed -n 's/^tongban is listening on \(http:[^ ]*\) .*/\1/p' "$work/server.out")
  [[ -n $base ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $base ]] || {
  echo "schemathesis: the server did not start" >&2
  exit 1
}

token=$(curl -sf -u "$client_id:$client_secret" -d grant_type=client_credentials "$base/token" |
  json '["access_token"]')
issued=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"type_code\":\"$TYPE_CODE\",\"holders\":[{\"kind\":\"enterprise\",\"id\":\"$ENTERPRISE\",\"name\":\"$ENTERPRISE_NAME\"}],
       \"fields\":{\"company_name\":\"$ENTERPRISE_NAME\",\"legal_representative\":\"林法人\",\"registered_capital\":1000000,\"address\":\"深圳市南山区\"}}" \
  "$base/api/v1/licences")
licence_id=$(json '["id"]' <<<"$issued")
querier_serial=$(curl -sf -H "authorization: Bearer $token" "$base/api/v1/admin/departments/$QUERIER" |
  json '["certificates"][0]["serial"]')

# The citizen signs in on the login page (CSRF cookie and field), then shares the licence.
jar="$work/cookies"
csrf=$(curl -sf -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
  --data-urlencode "username=$REP_EMAIL" --data-urlencode "password=$PASSWORD" "$base/login"
session=$(awk '$6 == "tongban_session" { print $7 }' "$jar")
[[ -n $session ]] || {
  echo "schemathesis: signing in failed" >&2
  exit 1
}
# Two shares: one to open, one to withdraw (whichever the fuzzer reaches first).
new_share() {
  curl -sf -b "tongban_session=$session" -H 'content-type: application/json' \
    -d "{\"disclose\":[\"address\"],\"purpose\":\"开户\",\"expires_in\":3600,\"as\":\"$ENTERPRISE\"}" \
    "$base/api/v1/me/licences/$licence_id/shares"
}
share_token=$(new_share | json '["url"].rsplit("/", 1)[1]')
share_id=$(new_share | json '["id"]')

# --- schemathesis ------------------------------------------------------------------------------------
cat >"$work/schemathesis.toml" <<EOF
seed = $SEED
workers = 2
# Generate from the seed alone: no example database, no per-project cache between runs.
cache = { enabled = false }

[generation]
max-examples = $MAX_EXAMPLES
database = "none"

# Every check is on: no 5xx (not_a_server_error); status code, content type, headers and body
# schema as documented (the *_conformance checks); schema-violating requests refused
# (negative_data_rejection); other methods answered 405 (unsupported_method); authentication
# enforced (ignored_auth); and the rest. Two are adjusted:
[checks]
enabled = true

# Off: a request that satisfies the schemas may still be refused with a documented problem,
# because the API checks more than JSON Schema can say: check characters of USCCs and ID numbers,
# ranges relative to the log's size, a period of at most five years, registered clients and
# holders, used Idempotency-Keys, expired shares. Those answers are still held to the document by
# the conformance checks above.
[checks.positive_data_acceptance]
enabled = false

# 413 (a batch over maxItems is larger than the body limit) and 410 are refusals too.
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 410, 413, 415, 422, 428, 429]

# The system client's token for every OAuth scheme (the portal scheme answers it 403
# insufficient-scope: it is not a person's token), the citizen's session for the cookie scheme.
[auth.openapi]
departmentSystem = { bearer = "$token" }
administration = { bearer = "$token" }
auditing = { bearer = "$token" }
portal = { bearer = "$token" }
ssoSession = { api_key = "$session" }

# Real values, each used for about half of the generated cases.
[dictionaries]
licence = { values = ["$licence_id"] }
department = { values = ["$dept_id"] }
uscc = { values = ["$REGULATOR", "$QUERIER"] }
new_uscc = { values = ["12350000MB0000001R", "12350000MB0000002W", "12350000MB00000030", "12350000MB00000043"] }
new_iss = { values = ["https://a.gov.example.cn", "https://b.gov.example.cn", "https://c.gov.example.cn"] }
new_type = { values = ["${REGULATOR}002", "${REGULATOR}003"] }
serial = { values = ["$querier_serial"] }
type_code = { values = ["$TYPE_CODE"] }
share_id = { values = ["$share_id"] }
share_token = { values = ["$share_token"] }
enterprise = { values = ["$ENTERPRISE"] }

[[operations]]
include-operation-id = ["changeStatus", "getReceipt"]
parameters = { "path.id" = { dictionary = "licence", probability = 0.5 } }

[[operations]]
include-operation-id = "createShare"
parameters = { "path.id" = { dictionary = "licence", probability = 0.5 }, "body.as" = { dictionary = "enterprise", probability = 0.5 } }

[[operations]]
include-operation-id = "withdrawShare"
parameters = { "path.id" = { dictionary = "share_id", probability = 0.5 } }

[[operations]]
include-operation-id = "openShare"
parameters = { "path.token" = { dictionary = "share_token", probability = 0.5 } }

[[operations]]
include-operation-id = "statusList"
parameters = { "path.department" = { dictionary = "department", probability = 0.5 } }

[[operations]]
include-operation-id = ["getDepartment", "renewDepartment"]
parameters = { "path.uscc" = { dictionary = "uscc", probability = 0.5 } }

[[operations]]
include-operation-id = "addDepartment"
parameters = { "body.uscc" = { dictionary = "new_uscc", probability = 0.5 }, "body.iss" = { dictionary = "new_iss", probability = 0.5 } }

[[operations]]
include-operation-id = "revokeCertificate"
parameters = { "path.serial" = { dictionary = "serial", probability = 0.5 } }

[[operations]]
include-operation-id = "getLicenceType"
parameters = { "path.code" = { dictionary = "type_code", probability = 0.5 } }

[[operations]]
include-operation-id = "addLicenceType"
parameters = { "body.code" = { dictionary = "new_type", probability = 0.5 }, "body.issuers[*]" = { dictionary = "uscc", probability = 0.5 }, "body.queriers[*].department" = { dictionary = "uscc", probability = 0.5 } }

[[operations]]
include-operation-id = ["issueLicence", "queryLicences"]
parameters = { "body.type_code" = { dictionary = "type_code", probability = 0.5 }, "query.type_code" = { dictionary = "type_code", probability = 0.5 }, "query.holder_id" = { dictionary = "enterprise", probability = 0.5 }, "body.holders[*].id" = { dictionary = "enterprise", probability = 0.5 } }

[[operations]]
include-operation-id = "issueBatch"
parameters = { "body.licences[*].type_code" = { dictionary = "type_code", probability = 0.5 } }
EOF

echo "schemathesis $SCHEMATHESIS_VERSION: seed $SEED, $MAX_EXAMPLES examples per operation, against $base ($bin)"
curl -sf "$base/openapi.yaml" >"$work/openapi.yaml"
start=$SECONDS
status=0
# `--include-path-regex '^/'` selects every operation: without a filter naming it, schemathesis leaves
# out the operation that served the document (GET /openapi.yaml). The extra arguments are split.
# shellcheck disable=SC2086
"$st" --config-file "$work/schemathesis.toml" run "$base/openapi.yaml" --url "$base" \
  --include-path-regex '^/' --no-color ${SCHEMATHESIS_EXTRA_ARGS:-} \
  --report junit,ndjson --report-dir "$work/report" || status=$?

# The short summary: per operation of the document, the answers it got. An operation never called
# fails the run; one that never got a 2xx is named (its success was not checked against the document).
"$py" - "$work/openapi.yaml" "$work"/report/ndjson-*.ndjson <<'PY' || status=1
import collections, json, sys

import yaml

document = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
operations = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item if m in methods}
seen = collections.defaultdict(collections.Counter)
for line in open(sys.argv[2], encoding="utf-8"):
    event = json.loads(line).get("ScenarioFinished")
    if not event:
        continue
    recorder = event["recorder"]
    for interaction in (recorder.get("interactions") or {}).values():
        response = interaction.get("response") or {}
        seen[recorder["label"]][response.get("status_code", "no answer")] += 1
print("answers per operation (405s: other methods on its path; 401s: requests sent without credentials):")
for label in sorted(seen, key=lambda l: l.split(" ", 1)[::-1]):
    codes = " ".join(f"{code}x{n}" for code, n in sorted(seen[label].items(), key=str))
    print(f"  {label:52} {codes}")
no_2xx = [o for o in operations & seen.keys() if not any(200 <= c < 300 for c in seen[o] if isinstance(c, int))]
if no_2xx:
    print("never answered 2xx:", ", ".join(sorted(no_2xx)))
missing = operations - seen.keys()
if missing:
    print("NOT TESTED:", ", ".join(sorted(missing)))
    sys.exit(1)
print(f"all {len(operations)} operations tested")
PY
if grep -qE '(panicked|ERROR)' "$work/server.log"; then
  echo "schemathesis: the server logged errors:" >&2
  grep -E '(panicked|ERROR)' "$work/server.log" | head -20 >&2
  status=1
fi
echo "schemathesis: exit $status after $((SECONDS - start)) s"
((status != 0)) || keep=${SCHEMATHESIS_KEEP:-}
exit "$status"
