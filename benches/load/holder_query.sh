#!/usr/bin/env bash
# Holder query latency with a million licences in PostgreSQL: GET /api/v1/licences by holder and type
# under a registered legal basis (each answer also writes its access-log rows). The server is pinned to
# core 0, wrk to core 1. One million filler licences for 200,000 other holders are inserted with SQL;
# the queried holder's 10 licences are issued through the API. Usage: benches/load/holder_query.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
PORT=${PORT:-18482}
BASE=http://127.0.0.1:$PORT
cargo build --release --bin tongban >/dev/null
BIN=$PWD/target/release/tongban
LUA=$PWD/benches/load
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
DB=tongban_holders_$$
PSQL="psql -h 127.0.0.1 -U postgres -qAt"
$PSQL -d test -c "CREATE DATABASE $DB"
WORK=$(mktemp -d)
cd "$WORK"
unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
export TONGBAN_LISTEN=127.0.0.1:$PORT TONGBAN_LOG=warn TONGBAN_ISSUER=$BASE TONGBAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; cd /; rm -rf "$WORK"; $PSQL -d test -c "DROP DATABASE IF EXISTS $DB"' EXIT
SERVER=0
$BIN init >/dev/null # admin commands never create a database
I=$($BIN client add --name issuer --grant-type client_credentials --scope licences:issue)
Q=$($BIN client add --name querier --grant-type client_credentials --scope licences:query)
echo 'Bench-Rep-Pass-2026' | $BIN account add --name 林法人 --id-number 11010519491231002X --email rep@example.cn --verified >/dev/null
$BIN enterprise add --uscc 9144030071526726XG --name 深圳示范科技有限公司 --legal-representative rep@example.cn >/dev/null
$BIN department add --uscc 91350100M000100Y43 --name-zh 福州市市场监督管理局 --name-en regulator --iss https://scjg.example.cn --client-id "$(echo "$I" | json '["client_id"]')" >/dev/null
$BIN department add --uscc 91110000802100433B --name-zh 北京市住房公积金管理中心 --name-en fund --iss https://gjj.example.cn --client-id "$(echo "$Q" | json '["client_id"]')" >/dev/null
cat > type.json <<'JSON'
{"code":"91350100M000100Y43001","name_zh":"营业执照","name_en":"Business licence","holder_kinds":["enterprise"],
 "schema":{"type":"object","additionalProperties":false,"properties":{"company_name":{"type":"string"},"address":{"type":"string"}}},"disclosable":["address"],
 "issuers":["91350100M000100Y43"],"queriers":[{"department":"91110000802100433B","legal_basis":"住房公积金管理条例 第十三条"}]}
JSON
$BIN licence-type add type.json >/dev/null
TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve >server.log 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
token() { curl -fs -u "$(echo "$1" | json '["client_id"]'):$(echo "$1" | json '["client_secret"]')" -d grant_type=client_credentials "$BASE/token" | json '["access_token"]'; }
IT=$(token "$I"); QT=$(token "$Q")
for _ in $(seq 1 10); do
  curl -fs -o /dev/null -H "Authorization: Bearer $IT" -H 'Content-Type: application/json' \
    -d '{"type_code":"91350100M000100Y43001","holders":[{"kind":"enterprise","id":"9144030071526726XG","name":"深圳示范科技有限公司"}],"fields":{"company_name":"x","address":"y"}}' "$BASE/api/v1/licences"
done
echo "== seeding 1,000,000 licences for 200,000 other holders"
S=$(date +%s)
$PSQL -d $DB <<'SQL'
INSERT INTO licences (id, type_code, issuer_id, status_idx, status, cert_serial, sd_jwt_sealed, issued_at, expires_at)
SELECT 'filler-' || g, l.type_code, l.issuer_id, 2000000 + g, 0, l.cert_serial, '\x00'::bytea, 1700000000 + g, NULL
FROM generate_series(1, 1000000) g, (SELECT type_code, issuer_id, cert_serial FROM licences LIMIT 1) l;
INSERT INTO licence_holders (licence_id, holder_index) SELECT 'filler-' || g, decode(md5((g % 200000)::text), 'hex') FROM generate_series(1, 1000000) g;
SQL
# Vacuumed as well as analysed: autovacuum would otherwise work through the million new rows during
# the first runs (their p99 was 2-3 times the later runs').
$PSQL -d $DB -c 'VACUUM ANALYZE'
echo "   seeded in $(( $(date +%s) - S )) s; licences: $($PSQL -d $DB -c 'SELECT COUNT(*) FROM licences')"
echo "== holder query (10 licences returned), GET /api/v1/licences, 16 connections"
AUTH="Bearer $QT" taskset -c 1 wrk -t1 -c16 -d${DURATION}s --latency -s "$LUA/get.lua" \
  "$BASE/api/v1/licences?holder_kind=enterprise&holder_id=9144030071526726XG&type_code=91350100M000100Y43001&purpose=bench" | grep -E '=>'
echo "== the same, 1 connection, closed loop (no queueing, the most one client can draw)"
AUTH="Bearer $QT" taskset -c 1 wrk -t1 -c1 -d${DURATION}s --latency -s "$LUA/get.lua" \
  "$BASE/api/v1/licences?holder_kind=enterprise&holder_id=9144030071526726XG&type_code=91350100M000100Y43001&purpose=bench" | grep -E '=>'
echo "== the same, paced: 4 connections each pausing 20 ms after an answer (~190 queries/s)"
DELAY_MS=20 AUTH="Bearer $QT" taskset -c 1 wrk -t1 -c4 -d${DURATION}s --latency -s "$LUA/get.lua" \
  "$BASE/api/v1/licences?holder_kind=enterprise&holder_id=9144030071526726XG&type_code=91350100M000100Y43001&purpose=bench" | grep -E '=>'
