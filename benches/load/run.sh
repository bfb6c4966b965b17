#!/usr/bin/env bash
# Load test of the OpenID provider on this machine: the server pinned to core 0 (one tokio worker), the
# load generators pinned to core 1, everything on loopback, each run bounded to DURATION seconds.
# Needs wrk (apt-get install -y wrk). Usage: benches/load/run.sh [DURATION]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
PORT=${PORT:-18480}
BASE=http://127.0.0.1:$PORT
cargo build --release --bin tongban --example loadgen >/dev/null
BIN=$PWD/target/release/tongban
GEN=$PWD/target/release/examples/loadgen
WORK=$(mktemp -d)
cd "$WORK"
export TONGBAN_LISTEN=127.0.0.1:$PORT TONGBAN_LOG=warn TONGBAN_ISSUER=$BASE
PASSWORD='Steady-Harbor-47!'
$BIN init >/dev/null # admin commands never create a database
SECRET_JSON=$($BIN client add --name "Department system" --grant-type client_credentials --auth-method client_secret_basic --scope licences:verify --scope licences:query)
CC_ID=$(echo "$SECRET_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
CC_SECRET=$(echo "$SECRET_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
PORTAL_JSON=$($BIN client add --name "Portal" --redirect-uri http://127.0.0.1:9/cb --id-token-alg ES256 --scope openid --scope profile)
P_ID=$(echo "$PORTAL_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
P_SECRET=$(echo "$PORTAL_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
echo "$PASSWORD" | $BIN account add --name "压测用户" --id-number 11010519491231002X --email load@example.cn --verified >/dev/null

TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve >server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

BASIC="Basic $(printf '%s:%s' "$CC_ID" "$CC_SECRET" | base64 -w0)"
LUA=$OLDPWD/benches/load
W="taskset -c 1 wrk -t1 -c64 -d${DURATION}s --latency"

echo "== client_credentials (JWT access token, ES256), POST /token"
BODY="grant_type=client_credentials" AUTH="$BASIC" $W -s "$LUA/post.lua" "$BASE/token" | grep -E '=>'
AT=$(curl -fs -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "$BASE/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
echo "== introspection of a valid access token, POST /introspect"
BODY="token=$AT" AUTH="$BASIC" $W -s "$LUA/post.lua" "$BASE/introspect" | grep -E '=>'
UT=$(taskset -c 1 "$GEN" "$BASE" token 0 1 "$P_ID" "$P_SECRET" http://127.0.0.1:9/cb load@example.cn "$PASSWORD")
echo "== userinfo, GET /userinfo"
AUTH="Bearer $UT" $W -s "$LUA/get.lua" "$BASE/userinfo" | grep -E '=>'
echo "== full code flow (authorize with a session + token exchange), 16 concurrent"
taskset -c 1 "$GEN" "$BASE" codeflow "$DURATION" 16 "$P_ID" "$P_SECRET" http://127.0.0.1:9/cb load@example.cn "$PASSWORD"
echo "== password logins (argon2id m=19456 KiB t=2 p=1), 8 concurrent"
taskset -c 1 "$GEN" "$BASE" login "$DURATION" 8 "$P_ID" "$P_SECRET" http://127.0.0.1:9/cb load@example.cn "$PASSWORD"
