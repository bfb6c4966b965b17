#!/usr/bin/env bash
# Issue 3's verification target, measured A/B in one run: POST /api/v1/verify on a valid licence with
# all its disclosures (server pinned to core 0 with one tokio worker, wrk with 32 connections on
# core 1, SQLite), as a share of the raw ring ES256 rate of core 0 measured around the load, for
#   base — the commit REF (default HEAD), built in a temporary worktree;
#   new  — this checkout, uncommitted changes included.
# Rounds alternate (base, new) ROUNDS times; each run sets up its own
# world and presents one licence again and again (what the memo of decoded licences is for: a stream
# of distinct licences costs what `verify (nothing remembered)` in benches/verify.rs does). Prints
# each run and the medians. Builds two release binaries (~15 minutes on two cores from nothing);
# BASE_BIN=path uses that binary as the base instead of building REF.
# The host's load moves the core's speed by ±20% within minutes (the raw rate with it; the server's
# CPU time tracks wall time, so it is the core that slows, not the server that waits): each run
# alternates 2 s of load with 1 s of raw checks, and each load segment is compared with the mean
# of the raw rates just before and after it; a run's figure is the median of its segments.
# NEW_BIN=path skips building this checkout.
# Needs wrk (Debian package wrk).
# Usage: benches/load/verify_ab.sh [SEGMENTS] [ROUNDS] [REF]   (default 4 5 HEAD)
set -euo pipefail
cd "$(dirname "$0")/../.."
SEGMENTS=${1:-4}; ROUNDS=${2:-5}; REF=${3:-HEAD}
REPO=$PWD; OUT=$(mktemp -d); export CARGO_TARGET_DIR=$REPO/target
# Both builds share one target dir, where cargo judges freshness by modification times: touch the
# sources before each build, or the previous variant's binary passes for this one.
touch_sources() { find "$1/src" -name '*.rs' -exec touch {} +; }
if [ -n "${BASE_BIN:-}" ]; then
  cp "$BASE_BIN" "$OUT/base"
else
  WT=$OUT/wt-base
  git worktree add -f -q "$WT" "$REF"
  touch_sources "$WT"
  (cd "$WT" && cargo build --release --bin tongban >/dev/null) && cp target/release/tongban "$OUT/base"
  git worktree remove --force "$WT"
fi
if [ -n "${NEW_BIN:-}" ]; then
  cp "$NEW_BIN" "$OUT/new"
else
  touch_sources "$REPO"
  cargo build --release --bin tongban --example raw_verify >/dev/null && cp target/release/tongban "$OUT/new"
fi
RAW_BIN=$REPO/target/release/examples/raw_verify
md5sum "$OUT"/{base,new}

source "$REPO/benches/load/licence_world.sh"
run() { # $1 = binary; prints "API_RATE RAW_RATE RATIO" (medians over the run's segments)
  local BIN=$1 PORT=18494 WORK LICENCE RAWS="" APIS="" A; WORK=$(mktemp -d); pushd "$WORK" >/dev/null
  unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
  export TONGBAN_LISTEN=127.0.0.1:$PORT TONGBAN_LOG=warn TONGBAN_ISSUER=http://127.0.0.1:$PORT \
    TONGBAN_VERIFY_RATE_PER_ADDRESS=100000000
  licence_world "$BIN" "http://127.0.0.1:$PORT"
  LICENCE=$(curl -fs -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$ISSUE" \
    "http://127.0.0.1:$PORT/api/v1/licences" | json '["licence"]')
  # Segments of 1 s of raw checks and 2 s of load, ending with raw checks: each segment's load is
  # compared with the raw rate just before and just after it.
  for _ in $(seq 1 "$SEGMENTS"); do
    RAWS="$RAWS $(taskset -c 0 "$RAW_BIN" 1 | grep -o '[0-9]*$')"
    A=$(BODY="{\"licence\":\"$LICENCE\"}" CT=application/json taskset -c 1 wrk -t1 -c32 -d2s \
      -s "$REPO/benches/load/post.lua" "http://127.0.0.1:$PORT/api/v1/verify" | grep -o '=> [0-9]* requests/s' | grep -o '[0-9]*')
    APIS="$APIS $A"
  done
  RAWS="$RAWS $(taskset -c 0 "$RAW_BIN" 1 | grep -o '[0-9]*$')"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  popd >/dev/null; rm -rf "$WORK"
  python3 - "$APIS" "$RAWS" <<'PY'
import statistics as s, sys
api = [float(x) for x in sys.argv[1].split()]; raw = [float(x) for x in sys.argv[2].split()]
ratios = [a / ((raw[i] + raw[i + 1]) / 2) for i, a in enumerate(api)]
print(f"{s.median(api):.0f} {s.median(raw):.0f} {s.median(ratios):.4f}")
PY
}
declare -A api=() ratio=()
for round in $(seq 1 "$ROUNDS"); do
  for v in base new; do
    read -r A R Q < <(run "$OUT/$v")
    echo "round $round $v: $A verifications/s, raw $R/s, $(python3 -c "print(f'{100*$Q:.1f}% of raw')")"
    api[$v]="${api[$v]:-} $A"; ratio[$v]="${ratio[$v]:-} $Q"
  done
done
python3 - "${api[base]}" "${api[new]}" "${ratio[base]}" "${ratio[new]}" <<'PY'
import statistics as s, sys
ab, an, rb, rn = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f"medians: base {s.median(ab):.0f}/s ({100*s.median(rb):.1f}% of raw), new {s.median(an):.0f}/s ({100*s.median(rn):.1f}% of raw)")
print(f"new/base, median of the per-round ratios: {s.median(n/b for n, b in zip(an, ab)):.3f} (requests/s), {s.median(n/b for n, b in zip(rn, rb)):.3f} (share of raw)")
PY
rm -rf "$OUT"
