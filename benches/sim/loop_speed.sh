#!/usr/bin/env bash
# Whole-loop speed: `tessera-sim` (scoring, trimmed mean and clipping, leave-one-out validation, test accuracy
# every round) against plain FedAvg written directly in PyTorch (benches/sim/fedavg_reference.py), on the same
# model, data (the same training samples: both hold the last VALIDATION out), partition idea, optimiser, batch,
# rounds and thread count. No adversaries: 10 honest workers, IID, 1 local epoch a round.
# Runs the two alternately PAIRS times and prints each run's wall time (the whole process, data loading
# included), final test accuracy, the per-pair ratios and the medians.
#
#   benches/sim/loop_speed.sh [extra tessera-sim options, e.g. --strategy fedavg --clip-multiple 0]
# Env: PAIRS (default 2), ROUNDS (5), THREADS (2), VALIDATION (the sim's --validation-samples and the reference's
#      --holdout, default 1000 as in the sim), TESSERA_PYTHON (default .venv/bin/python), CARGO_TARGET_DIR,
#      NICE (default 19: the runs yield to other work on a shared machine; set 0 on a quiet one).
# Logs go to LOGDIR (default target/loop-speed under CARGO_TARGET_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
python="${TESSERA_PYTHON:-$root/.venv/bin/python}"
pairs="${PAIRS:-2}" rounds="${ROUNDS:-5}" threads="${THREADS:-2}" nice="${NICE:-19}" validation="${VALIDATION:-1000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/tessera/target}"
logs="${LOGDIR:-$CARGO_TARGET_DIR/loop-speed}"
mkdir -p "$logs"

nice -n "$nice" cargo build --release -q -p tessera-sim
sim=(nice -n "$nice" "$CARGO_TARGET_DIR/release/tessera-sim" --rounds "$rounds" --threads "$threads"
  --adversaries honest --samples-per-worker 60000 --validation-samples "$validation" "$@")
ref=(nice -n "$nice" "$python" benches/sim/fedavg_reference.py --rounds "$rounds" --threads "$threads"
  --holdout "$validation")

# Runs a command, logs it, and prints "<wall seconds> <final test accuracy>".
timed() {
  local log="$1"; shift
  local start end
  start="$(date +%s.%N)"
  "$@" >"$log" 2>&1
  end="$(date +%s.%N)"
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f ", e - s }'
  grep -E '^round [0-9]+: test accuracy' "$log" | tail -n 1 | sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sim:       ${sim[*]}"
echo "reference: ${ref[*]}"
sims=() refs=() ratios=()
for pair in $(seq "$pairs"); do
  read -r s sacc < <(timed "$logs/sim-$pair.log" "${sim[@]}")
  echo "pair $pair: tessera-sim $s s, test accuracy $sacc% ($(grep '^wall time' "$logs/sim-$pair.log"))"
  read -r r racc < <(timed "$logs/ref-$pair.log" "${ref[@]}")
  echo "pair $pair: pytorch     $r s, test accuracy $racc% ($(grep '^wall time' "$logs/ref-$pair.log")); load $(cut -d' ' -f1-3 /proc/loadavg)"
  sims+=("$s") refs+=("$r") ratios+=("$(awk -v a="$s" -v b="$r" 'BEGIN { printf "%.3f", a / b }')")
done
s="$(median "${sims[@]}")" r="$(median "${refs[@]}")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median wall time: tessera-sim $s s, pytorch $r s; ratio of medians $(awk -v a="$s" -v b="$r" 'BEGIN { printf "%.3f", a / b }')"
echo "per-pair ratios: ${ratios[*]}; median $(median "${ratios[@]}") (target <= 1.1)"
