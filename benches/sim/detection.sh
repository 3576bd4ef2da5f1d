#!/usr/bin/env bash
# Detection over seeds: the default adversaries (free-rider, sign-flip, noise, label-flip, copycat, copy-noisy,
# and an intermittent honest worker) among 10 workers, 1,000 samples each, one run per seed; then
# detection_summary.py reads each run's --json file and checks that every adversary was flagged within 3 rounds
# and no honest worker ever was.
#
#   benches/sim/detection.sh [extra tessera-sim options]
# Env: SEEDS (default "1 2 3 4 5"), ROUNDS (5), THREADS (2), NICE (19), CARGO_TARGET_DIR,
#      ADVERSARIES (the sim's --adversaries, default its default list; WORKERS, default 10, must match),
#      LOGDIR (default target/detection under CARGO_TARGET_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
adversaries="${ADVERSARIES:-free-rider,sign-flip,noise,label-flip,copycat,copy-noisy,intermittent}"
workers="${WORKERS:-10}"
seeds="${SEEDS:-1 2 3 4 5}" rounds="${ROUNDS:-5}" threads="${THREADS:-2}" nice="${NICE:-19}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/tessera/target}"
logs="${LOGDIR:-$CARGO_TARGET_DIR/detection}"
mkdir -p "$logs"
nice -n "$nice" cargo build --release -q -p tessera-sim
files=()
for seed in $seeds; do
  nice -n "$nice" "$CARGO_TARGET_DIR/release/tessera-sim" --rounds "$rounds" --threads "$threads" --seed "$seed" \
    --workers "$workers" --adversaries "$adversaries" --json "$logs/seed-$seed.jsonl" "$@" >"$logs/seed-$seed.log" 2>&1
  echo "seed $seed: $(grep '^detection:' "$logs/seed-$seed.log"); test accuracy $(grep -E '^round [0-9]+: test' "$logs/seed-$seed.log" | tail -n 1 | sed -E 's/.*accuracy ([0-9.]+%).*/\1/')"
  files+=("$logs/seed-$seed.jsonl")
done
python3 benches/sim/detection_summary.py --workers "$workers" --adversaries "$adversaries" --within 3 "${files[@]}"
