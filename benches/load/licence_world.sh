# Sourced by the licence load scripts (licences.sh, issuance_ab.sh): one department, one enterprise
# holder and a business-licence type, set up through the CLI in the current directory (its SQLite
# file, or TONGBAN_DATABASE_URL); then the server pinned to core 0 with one tokio worker.
# `licence_world BIN BASE` sets SERVER (its pid) and TOKEN (a department token with licences:issue and
# licences:revoke) and BASIC (that client's `Authorization: Basic` credentials); ISSUE is an issuance
# request body for that world.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
ISSUE='{"type_code":"91350100M000100Y43001","holders":[{"kind":"enterprise","id":"9144030071526726XG","name":"深圳示范科技有限公司"}],"fields":{"company_name":"深圳示范科技有限公司","legal_representative":"林法人","address":"深圳市南山区"}}'

licence_world() { # $1 = tongban binary, $2 = the server's base URL
  local BIN=$1 BASE=$2 C ID SECRET
  # A server left over from an interrupted run would answer in this one's place (with 401s).
  if curl -fs "$BASE/healthz" >/dev/null; then echo "licence_world: $BASE is taken by another server" >&2; return 1; fi
  $BIN init >/dev/null # admin commands never create a database
  C=$($BIN client add --name "市场监管局系统" --grant-type client_credentials --scope licences:issue --scope licences:revoke)
  ID=$(echo "$C" | json '["client_id"]'); SECRET=$(echo "$C" | json '["client_secret"]')
  echo 'Bench-Rep-Pass-2026' | $BIN account add --name 林法人 --id-number 11010519491231002X --email rep@example.cn --verified >/dev/null
  $BIN enterprise add --uscc 9144030071526726XG --name 深圳示范科技有限公司 --legal-representative rep@example.cn >/dev/null
  $BIN department add --uscc 91350100M000100Y43 --name-zh 福州市市场监督管理局 --name-en "Fuzhou market regulator" --iss https://scjg.fuzhou.gov.example.cn --client-id "$ID" >/dev/null
  cat > type.json <<'JSON'
{"code":"91350100M000100Y43001","name_zh":"营业执照","name_en":"Business licence","holder_kinds":["enterprise"],
 "schema":{"type":"object","required":["company_name"],"additionalProperties":false,"properties":{"company_name":{"type":"string"},"legal_representative":{"type":"string"},"address":{"type":"string"}}},
 "disclosable":["address","legal_representative"],"validity_days":3650,"issuers":["91350100M000100Y43"]}
JSON
  $BIN licence-type add type.json >/dev/null
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve >server.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
  TOKEN=$(curl -fs -u "$ID:$SECRET" -d grant_type=client_credentials "$BASE/token" | json '["access_token"]')
  BASIC=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)
}
