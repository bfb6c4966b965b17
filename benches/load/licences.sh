#!/usr/bin/env bash
# Licence load test on this machine: the server pinned to core 0 (one tokio worker), wrk on core 1, on
# loopback, each run bounded to DURATION seconds. Measures POST /api/v1/verify on a valid licence with all
# its disclosures (with the raw ES256 rate of the same core, measured in the same run, and the ratio), and
# issuances per second (POST /api/v1/licences, each answered with its transparency-log receipt) on
# SQLite, then on PostgreSQL when 127.0.0.1:5432 answers. Usage: benches/load/licences.sh [DURATION]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
PORT=${PORT:-18481}
BASE=http://127.0.0.1:$PORT
cargo build --release --bin tongban --example raw_verify >/dev/null
BIN=$PWD/target/release/tongban
REPO=$PWD
LUA=$PWD/benches/load
W="taskset -c 1 wrk -t1 -c32 -d${DURATION}s --latency"
source "$LUA/licence_world.sh"

run_backend() { # $1 = label, $2 = database URL or empty for SQLite
  local WORK; WORK=$(mktemp -d); pushd "$WORK" >/dev/null
  unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
  export TONGBAN_LISTEN=127.0.0.1:$PORT TONGBAN_LOG=warn TONGBAN_ISSUER=$BASE TONGBAN_VERIFY_RATE_PER_ADDRESS=100000000
  [ -n "$2" ] && export TONGBAN_DATABASE_URL=$2
  licence_world "$BIN" "$BASE"
  echo "== [$1] issuance, POST /api/v1/licences"
  BODY="$ISSUE" AUTH="Bearer $TOKEN" CT=application/json $W -s "$LUA/post.lua" "$BASE/api/v1/licences" | grep -E '=>'
  if [ "$1" = sqlite ]; then
    local LICENCE; LICENCE=$(curl -fs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$ISSUE" "$BASE/api/v1/licences" | json '["licence"]')
    echo "== [$1] verification of a valid licence with all its disclosures, POST /api/v1/verify"
    # The raw ES256 rate of the server's core, measured in the same run (the ratio is the figure).
    RAW=$(taskset -c 0 "$REPO/target/release/examples/raw_verify" 5)
    echo "  $RAW (core 0, while the server idles)"
    OUT=$(BODY="{\"licence\":\"$LICENCE\"}" CT=application/json $W -s "$LUA/post.lua" "$BASE/api/v1/verify" | grep -E '=>')
    echo "$OUT"
    python3 -c "import re,sys; a=float(re.search(r'(\d+) requests/s', sys.argv[1]).group(1)); b=float(sys.argv[2].split(':')[1]); print(f'  => the API verifies at {100*a/b:.0f}% of the raw rate')" "$OUT" "$RAW"
  fi
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  popd >/dev/null; rm -rf "$WORK"
}

run_backend sqlite ""
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  DB=tongban_bench_$$
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $DB"
  run_backend postgres "postgres://postgres@127.0.0.1:5432/$DB"
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE $DB"
fi
