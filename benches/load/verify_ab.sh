#!/usr/bin/env bash
# Issue 3's verification target, measured A/B in one run: POST /api/v1/verify on a valid licence with
# all its disclosures (server pinned to core 0 with one tokio worker, wrk with 32 connections on
# core 1, SQLite), as a share of the raw ring ES256 rate of core 0 measured just before each run, for
#   base — the commit REF (default HEAD), built in a temporary worktree;
#   new  — this checkout, uncommitted changes included.
# Rounds alternate (base, new) ROUNDS times, DURATION seconds of load each; each run sets up its own
# world and presents one licence again and again (what the memo of decoded licences is for: a stream
# of distinct licences costs what `verify (nothing remembered)` in benches/verify.rs does). Prints
# each run and the medians. Builds two release binaries (~15 minutes on two cores from nothing).
# Usage: benches/load/verify_ab.sh [DURATION] [ROUNDS] [REF]   (default 10 5 HEAD)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}; ROUNDS=${2:-5}; REF=${3:-HEAD}
REPO=$PWD; OUT=$(mktemp -d); export CARGO_TARGET_DIR=$REPO/target
# Both builds share one target dir, where cargo judges freshness by modification times: touch the
# sources before each build, or the previous variant's binary passes for this one.
touch_sources() { find "$1/src" -name '*.rs' -exec touch {} +; }
WT=$OUT/wt-base
git worktree add -f -q "$WT" "$REF"
touch_sources "$WT"
(cd "$WT" && cargo build --release --bin tongban >/dev/null) && cp target/release/tongban "$OUT/base"
git worktree remove --force "$WT"
touch_sources "$REPO"
cargo build --release --bin tongban --example raw_verify >/dev/null && cp target/release/tongban "$OUT/new"
RAW_BIN=$REPO/target/release/examples/raw_verify
md5sum "$OUT"/{base,new}

source "$REPO/benches/load/licence_world.sh"
run() { # $1 = binary; prints "API_RATE RAW_RATE"
  local BIN=$1 PORT=18494 WORK LICENCE RAW API; WORK=$(mktemp -d); pushd "$WORK" >/dev/null
  unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
  export TONGBAN_LISTEN=127.0.0.1:$PORT TONGBAN_LOG=warn TONGBAN_ISSUER=http://127.0.0.1:$PORT \
    TONGBAN_VERIFY_RATE_PER_ADDRESS=100000000
  licence_world "$BIN" "http://127.0.0.1:$PORT"
  LICENCE=$(curl -fs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$ISSUE" \
    "http://127.0.0.1:$PORT/api/v1/licences" | json '["licence"]')
  RAW=$(taskset -c 0 "$RAW_BIN" 3 | grep -o '[0-9]*$')
  API=$(BODY="{\"licence\":\"$LICENCE\"}" CT=application/json taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" \
    -s "$REPO/benches/load/post.lua" "http://127.0.0.1:$PORT/api/v1/verify" | grep -o '=> [0-9]* requests/s' | grep -o '[0-9]*')
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  popd >/dev/null; rm -rf "$WORK"
  echo "$API $RAW"
}
declare -A api=() ratio=()
for round in $(seq 1 "$ROUNDS"); do
  for v in base new; do
    read -r A R < <(run "$OUT/$v")
    echo "round $round $v: $A verifications/s, raw $R/s, $(python3 -c "print(f'{100*$A/$R:.1f}%')")"
    api[$v]="${api[$v]:-} $A"; ratio[$v]="${ratio[$v]:-} $(python3 -c "print($A/$R)")"
  done
done
python3 - "${api[base]}" "${api[new]}" "${ratio[base]}" "${ratio[new]}" <<'PY'
import statistics as s, sys
ab, an, rb, rn = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f"medians: base {s.median(ab):.0f}/s ({100*s.median(rb):.1f}% of raw), new {s.median(an):.0f}/s ({100*s.median(rn):.1f}% of raw)")
print(f"new/base, median of the per-round ratios: {s.median(n/b for n, b in zip(an, ab)):.3f}")
PY
rm -rf "$OUT"
