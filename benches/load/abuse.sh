#!/usr/bin/env bash
# A running coordinator under abuse while 10 simulated workers (tessera-load) run a round from 127.0.0.1: a flood of
# unauthenticated requests from 127.0.0.2, then slow-header connections from 127.0.0.3, each with the coordinator's
# per-address limits on (its defaults) and off, beside the baseline without abuse. One JSON line per run, appended
# to benches/load/abuse.jsonl (OUT=...); benches/load/abuse_table.py prints the table BENCHMARKS.md shows.
#
# Usage: benches/load/abuse.sh   FLOOD_CONNECTIONS=128, SLOW_CONNECTIONS=3000 (the attacker's), VALIDATION=1000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tessera/target}
cargo build --release -p tessera-coordinator -p tessera-load
bin="$CARGO_TARGET_DIR/release"
out=${OUT:-benches/load/abuse.jsonl}
for limits in on off; do
  for attack in none flood slow-headers; do
    connections=${FLOOD_CONNECTIONS:-128}
    [ "$attack" = slow-headers ] && connections=${SLOW_CONNECTIONS:-3000}
    echo "== limits $limits, attack $attack ($connections connections)" >&2
    "$bin/tessera-load" --workers 10 --rounds 1 --validation-samples "${VALIDATION:-1000}" \
      --coordinator "$bin/tessera-coordinator" --limits "$limits" --attack "$attack" \
      --attack-connections "$connections" --out "$out"
  done
done
python3 benches/load/abuse_table.py "$out"
