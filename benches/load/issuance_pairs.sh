#!/usr/bin/env bash
# Issuance rates of two builds compared in pairs: benches/load/pairs.sh in its `issue` mode.
# Usage: benches/load/issuance_pairs.sh BIN_A BIN_B [SEGMENTS] [SECONDS]   (default 12 3)
# For issue 4's log cost: BIN_A built with without_log_appends.py applied, BIN_B without.
exec "$(dirname "$0")/pairs.sh" "$1" "$2" issue "${3:-12}" "${4:-3}"
