#!/usr/bin/env bash
# Accuracy against epsilon for central DP (DP-FedAvg, `tessera-sim --dp-epsilon`): honest workers only, IID,
# FedAvg without median clipping, the same run at each target epsilon and once without DP. Prints a markdown
# table and writes it, with the settings, to benches/privacy/results.md.
#
#   benches/privacy/run.sh
# Env: WORKERS (default 100), ROUNDS (5), SAMPLES (training samples per worker, 150), EPSILONS ("1 3 8"),
#      CLIP (--dp-clip, 1), DELTA (--dp-delta, 1e-5), VALIDATION (--validation-samples, 200), SEED (1),
#      CARGO_TARGET_DIR. Logs and JSON records go to LOGDIR (default privacy-bench under CARGO_TARGET_DIR).
# About 19 minutes on 2 shared CPU cores with the defaults (a round of 100 workers takes about a minute there).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
workers="${WORKERS:-100}" rounds="${ROUNDS:-5}" samples="${SAMPLES:-150}" epsilons="${EPSILONS:-1 3 8}"
clip="${CLIP:-1}" delta="${DELTA:-1e-5}" validation="${VALIDATION:-200}" seed="${SEED:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera/target}"
logs="${LOGDIR:-$CARGO_TARGET_DIR/privacy-bench}"
mkdir -p "$logs"

cargo build --release -q -p tessera-sim
sim=("$CARGO_TARGET_DIR/release/tessera-sim" --workers "$workers" --rounds "$rounds" --adversaries honest
  --partition iid --strategy fedavg --clip-multiple 0 --samples-per-worker "$samples"
  --validation-samples "$validation" --seed "$seed")

rows=()
started=$(date +%s)
for target in none $epsilons; do
  log="$logs/eps-$target.log"
  dp=()
  [ "$target" = none ] || dp=(--dp-epsilon "$target" --dp-clip "$clip" --dp-delta "$delta")
  run_started=$(date +%s)
  "${sim[@]}" "${dp[@]}" --json "$logs/eps-$target.jsonl" >"$log" 2>&1 || { echo "run $target failed: $log" >&2; exit 1; }
  seconds=$(($(date +%s) - run_started))
  accuracy=$(grep -E '^round [0-9]+: test accuracy' "$log" | tail -n 1 | sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/')
  if [ "$target" = none ]; then
    rows+=("| no DP | 0 | - | - | $accuracy% | $seconds s |")
  else
    line=$(grep -E '^privacy: target_epsilon=' "$log")
    field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }
    rows+=("| $target | $(printf '%.4f' "$(field noise_multiplier)") | $(printf '%.4f' "$(field epsilon)") | $(field order) | $accuracy% | $seconds s |")
  fi
  echo "done: epsilon $target, ${seconds} s" >&2
done
total=$(($(date +%s) - started))

{
  echo "# Accuracy against epsilon: central DP (DP-FedAvg) in tessera-sim"
  echo
  echo "$workers honest workers, IID, $samples training samples each, $rounds rounds of 1 local epoch, LeNet-5 on MNIST,"
  echo "FedAvg without median clipping, seed $seed; under DP every update the scorer includes is clipped to L2 norm $clip,"
  echo "averaged without weights, and noised with std sigma * $clip / n per coordinate; sigma is the smallest noise"
  echo "multiplier whose RDP epsilon over all $rounds rounds at delta $delta meets the target (no subsampling: every"
  echo "worker in every round). Test accuracy on the 10,000 MNIST test images after the last round."
  echo
  echo '```'
  echo "benches/privacy/run.sh   # WORKERS=$workers ROUNDS=$rounds SAMPLES=$samples EPSILONS=\"$epsilons\" CLIP=$clip DELTA=$delta VALIDATION=$validation"
  echo '```'
  echo
  echo "| target epsilon | sigma | accountant epsilon | RDP order | final test accuracy | wall time |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Whole bench: $total s on $(nproc) CPU cores ($(date -u +%Y-%m-%d)); a run's wall time follows whatever else"
  echo "the machine runs (libtorch's threads slow down many times when the cores are shared), not its epsilon."
} | tee benches/privacy/results.md
python3 benches/privacy/plot.py "$logs" docs/privacy.svg
