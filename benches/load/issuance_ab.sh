#!/usr/bin/env bash
# Issue 4's speed target, measured A/B in one run: issuances per second (POST /api/v1/licences, 32
# connections, server pinned to core 0 with one tokio worker, wrk on core 1) for
#   new   — this checkout (each answer carries its transparency-log receipt);
#   nolog — this checkout without the transparency-log appends (benches/load/without_log_appends.py
#           applied to a temporary worktree: no leaf, no receipt; audit events stay);
#   base  — commit 49487fd, before the audit and transparency logs (with this checkout's SQLite
#           wal_autocheckpoint pragma, so that only the logs differ).
# Runs alternate (base, nolog, new) ROUNDS times, DURATION seconds each, on SQLite and, when
# 127.0.0.1:5432 answers, PostgreSQL; compare medians. Builds three release binaries (~10 minutes on
# two cores). Usage: benches/load/issuance_ab.sh [DURATION] [ROUNDS]   (default 10 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}; ROUNDS=${2:-3}
REPO=$PWD; OUT=$(mktemp -d); export CARGO_TARGET_DIR=$REPO/target
# The three builds share one target dir, where cargo judges freshness by modification times: touch
# the sources before each build, or the previous variant's binary passes for this one.
touch_sources() { find "$1/src" -name '*.rs' -exec touch {} +; }
touch_sources "$REPO"; cargo build --release --bin tongban >/dev/null && cp target/release/tongban "$OUT/new"
for v in nolog base; do
  WT=$OUT/wt-$v
  git worktree add -f -q "$WT" "$([ $v = base ] && echo 49487fd || echo HEAD)"
  if [ $v = nolog ]; then
    git diff HEAD | (cd "$WT" && git apply --allow-empty) # uncommitted changes too
    python3 benches/load/without_log_appends.py "$WT"
  else
    python3 - "$WT/src/storage/mod.rs" <<'PY'
import sys; p=sys.argv[1]; s=open(p).read()
s=s.replace('sqlx::query("PRAGMA busy_timeout = 5000")', 'sqlx::query("PRAGMA wal_autocheckpoint = 20000").execute(&mut *conn).await?;\n                        sqlx::query("PRAGMA busy_timeout = 5000")', 1)
open(p,'w').write(s)
PY
  fi
  touch_sources "$WT"
  (cd "$WT" && cargo build --release --bin tongban >/dev/null) && cp target/release/tongban "$OUT/$v"
  git worktree remove --force "$WT"
done
touch_sources "$REPO"; cargo build --release --bin tongban >/dev/null   # leave this checkout's binary
md5sum "$OUT"/{base,nolog,new} target/release/tongban   # three different binaries; new = target's

source "$REPO/benches/load/licence_world.sh"
run() { # $1 = binary, $2 = database URL or empty for SQLite; prints requests/s
  local BIN=$1 PORT=18493 WORK; WORK=$(mktemp -d); pushd "$WORK" >/dev/null
  unset $(env | grep -o '^TONGBAN_[A-Z_]*') 2>/dev/null || true
  export TONGBAN_LISTEN=127.0.0.1:$PORT TONGBAN_LOG=warn TONGBAN_ISSUER=http://127.0.0.1:$PORT
  [ -n "$2" ] && export TONGBAN_DATABASE_URL=$2
  licence_world "$BIN" "http://127.0.0.1:$PORT"
  BODY="$ISSUE" \
    AUTH="Bearer $TOKEN" CT=application/json taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -s "$REPO/benches/load/post.lua" \
    "http://127.0.0.1:$PORT/api/v1/licences" | grep -o '=> [0-9]* requests/s' | grep -o '[0-9]*'
  kill $SERVER; wait $SERVER 2>/dev/null || true
  popd >/dev/null; rm -rf "$WORK"
}
backend() { # $1 = label, $2 = database URL or empty
  declare -A all=()
  for _ in $(seq 1 "$ROUNDS"); do
    for v in base nolog new; do
      local url=$2
      if [ -n "$url" ]; then url="${2}_$v$RANDOM"; psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE ${url##*/}"; fi
      all[$v]="${all[$v]:-} $(run "$OUT/$v" "$url")"
      [ -n "$url" ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE ${url##*/}"
    done
  done
  python3 - "$1" "${all[base]}" "${all[nolog]}" "${all[new]}" <<'PY'
import statistics, sys
label, *runs = sys.argv[1:]
base, nolog, new = (statistics.median(map(int, r.split())) for r in runs)
print(f"[{label}] issuances/s, medians: base {base:.0f}, without log appends {nolog:.0f}, with {new:.0f}")
print(f"[{label}] with/without log appends {new/nolog:.2f}; with/base (before audit and log) {new/base:.2f}")
PY
}
backend sqlite ""
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  backend postgres "postgres://postgres@127.0.0.1:5432/tongban_ab"
fi
rm -rf "$OUT"
