#!/usr/bin/env bash
# The coordinator under a fleet of simulated workers (tessera-load): for each fleet size, the time from the
# submission window's close to the round finalized on chain, the coordinator's peak resident memory, and
# submissions accepted per second with every worker submitting at once. Release builds.
#
# Usage: benches/load/load.sh [WORKERS...]         default: 10 100 1000
#   ARCH=resnet18-cifar-v1 VALIDATION=200 benches/load/load.sh 100  another model, a smaller validation set
#   OUT=runs.jsonl (default benches/load/results.jsonl, appended), PLOT=docs/load.svg, ROUNDS=1
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tessera/target}
cargo build --release -p tessera-coordinator -p tessera-load
bin="$CARGO_TARGET_DIR/release"
out=${OUT:-benches/load/results.jsonl}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000)
for workers in "${sizes[@]}"; do
  echo "== $workers workers, ${ARCH:-lenet5-mnist-v1}" >&2
  "$bin/tessera-load" --workers "$workers" --rounds "${ROUNDS:-1}" --arch "${ARCH:-lenet5-mnist-v1}" \
    --validation-samples "${VALIDATION:-2000}" --coordinator "$bin/tessera-coordinator" --out "$out"
done
python3 benches/load/plot.py "$out" "${PLOT:-docs/load.svg}"
