#!/usr/bin/env bash
# Two builds compared in pairs, for a host whose speed drifts by ±20% within seconds (whole alternated
# runs swamp a 5% change). Both servers run at once on core 0 with one tokio worker each, each on its
# own SQLite world (licence_world.sh); wrk (32 connections) on core 1 loads one, then the other,
# SECONDS each, SEGMENTS times. Prints each pair, the medians and the median of the per-pair ratios B/A.
# MODE:
#   issue   POST /api/v1/licences (each answer with its transparency-log receipt);
#   verify  POST /api/v1/verify of one licence issued in that world, all disclosures, anonymous;
#   token   POST /token, grant_type=client_credentials with client_secret_basic.
# Usage: benches/load/pairs.sh BIN_A BIN_B [MODE] [SEGMENTS] [SECONDS]   (default issue 12 3)
# Needs wrk (Debian package wrk).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd); A=$1; B=$2; MODE=${3:-issue}; N=${4:-12}; S=${5:-3}
command -v wrk >/dev/null || { echo "pairs.sh: needs wrk (apt-get install -y wrk)" >&2; exit 2; }
source "$REPO/benches/load/licence_world.sh"
unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
declare -A TOK SRV BODIES AUTHS PORTS=([a]=18493 [b]=18494) BINS=([a]=$A [b]=$B)
case $MODE in
  issue) PATH_=/api/v1/licences; CT=application/json ;;
  verify) PATH_=/api/v1/verify; CT=application/json ;;
  token) PATH_=/token; CT=application/x-www-form-urlencoded ;;
  *) echo "pairs.sh: MODE is issue, verify or token" >&2; exit 2 ;;
esac
load() { # $1 = a|b, $2 = seconds; prints requests/s
  BODY="${BODIES[$1]}" AUTH="${AUTHS[$1]}" CT=$CT taskset -c 1 wrk -t1 -c32 -d"$2s" \
    -s "$REPO/benches/load/post.lua" "http://127.0.0.1:${PORTS[$1]}$PATH_" |
    grep -o '=> [0-9]*' | grep -o '[0-9]*'
}
for v in a b; do
  cd "$(mktemp -d)"
  BASE=http://127.0.0.1:${PORTS[$v]}
  export TONGBAN_LISTEN=127.0.0.1:${PORTS[$v]} TONGBAN_LOG=warn TONGBAN_ISSUER=$BASE
  licence_world "${BINS[$v]}" "$BASE" || exit 1
  TOK[$v]=$TOKEN; SRV[$v]=$SERVER
  case $MODE in
    issue) BODIES[$v]=$ISSUE; AUTHS[$v]="Bearer $TOKEN" ;;
    verify)
      LIC=$(curl -fs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$ISSUE" "$BASE/api/v1/licences" | json '["licence"]')
      BODIES[$v]=$(python3 -c 'import json,sys; print(json.dumps({"licence": sys.argv[1]}))' "$LIC"); AUTHS[$v]="" ;;
    token) BODIES[$v]=grant_type=client_credentials; AUTHS[$v]="Basic $BASIC" ;;
  esac
  load "$v" 2 >/dev/null # warm-up
done
for _ in $(seq 1 "$N"); do echo "$(load a "$S") $(load b "$S")"; done | python3 -c "
import statistics, sys
rows = [list(map(int, l.split())) for l in sys.stdin if len(l.split()) == 2]
for a, b in rows: print(f'A {a}/s  B {b}/s  B/A {b / a:.3f}')
print(f'$MODE medians: A {statistics.median(r[0] for r in rows):.0f}/s, B {statistics.median(r[1] for r in rows):.0f}/s;',
      f'B/A, median of the pairs: {statistics.median(r[1] / r[0] for r in rows):.3f}',
      f'({min(r[1] / r[0] for r in rows):.3f} to {max(r[1] / r[0] for r in rows):.3f})')
"
kill "${SRV[a]}" "${SRV[b]}"; wait 2>/dev/null
