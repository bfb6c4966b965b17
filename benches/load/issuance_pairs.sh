#!/usr/bin/env bash
# Two builds' issuance rates compared in pairs, for a host whose speed drifts by ±20% within seconds
# (whole alternated runs, as in issuance_ab.sh, then swamp a 5% change). Both servers run at once on
# core 0 with one tokio worker each, each on its own SQLite world (licence_world.sh); wrk on core 1
# loads one, then the other, SECONDS each, SEGMENTS times. Prints each pair, the medians and the
# median of the per-pair ratios B/A.
# Usage: benches/load/issuance_pairs.sh BIN_A BIN_B [SEGMENTS] [SECONDS]   (default 12 3)
# For issue 4's log cost: BIN_A built with without_log_appends.py applied, BIN_B without.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd); A=$1; B=$2; N=${3:-12}; S=${4:-3}
source "$REPO/benches/load/licence_world.sh"
unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
declare -A TOK SRV PORTS=([a]=18493 [b]=18494) BINS=([a]=$A [b]=$B)
load() { # $1 = a|b, $2 = seconds; prints requests/s
  BODY="$ISSUE" AUTH="Bearer ${TOK[$1]}" CT=application/json taskset -c 1 wrk -t1 -c32 -d"$2s" \
    -s "$REPO/benches/load/post.lua" "http://127.0.0.1:${PORTS[$1]}/api/v1/licences" |
    grep -o '=> [0-9]*' | grep -o '[0-9]*'
}
for v in a b; do
  cd "$(mktemp -d)"
  export TONGBAN_LISTEN=127.0.0.1:${PORTS[$v]} TONGBAN_LOG=warn TONGBAN_ISSUER=http://127.0.0.1:${PORTS[$v]}
  licence_world "${BINS[$v]}" "http://127.0.0.1:${PORTS[$v]}" || exit 1
  TOK[$v]=$TOKEN; SRV[$v]=$SERVER
  load "$v" 2 >/dev/null # warm-up
done
for _ in $(seq 1 "$N"); do echo "$(load a "$S") $(load b "$S")"; done | python3 -c "
import statistics, sys
rows = [list(map(int, l.split())) for l in sys.stdin if len(l.split()) == 2]
for a, b in rows: print(f'A {a}/s  B {b}/s  B/A {b / a:.3f}')
print(f'medians: A {statistics.median(r[0] for r in rows):.0f}/s, B {statistics.median(r[1] for r in rows):.0f}/s;',
      f'B/A, median of the pairs: {statistics.median(r[1] / r[0] for r in rows):.3f}')
"
kill "${SRV[a]}" "${SRV[b]}"; wait 2>/dev/null
