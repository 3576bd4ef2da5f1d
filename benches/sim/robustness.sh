#!/usr/bin/env bash
# Robustness table: 3 of 10 workers run one adversarial role, for each role, next to the no-attack run (10 honest
# workers), under each of these set-ups (STRATEGIES picks them, in this order):
#   default        the default strategy, trimmed mean (0.2) inside a 2x-median norm clip, stepping with the
#                  scorer's aggregate (flagged updates left out): Tessera as it runs
#   plain-fedavg   `--strategy fedavg --clip-multiple 0 --aggregate-all`: every update averaged, the scorer's
#                  exclusions ignored (it still scores): plain FedAvg
#   scored-fedavg  `--strategy fedavg --clip-multiple 0`: FedAvg of what the scorer keeps
#   default-all    the default strategy with `--aggregate-all`: trimmed mean and clip alone, no exclusions
# Prints the final test accuracy of every run and its difference from the no-attack run of the same set-up.
#
#   benches/sim/robustness.sh [extra tessera-sim options]
# Env: ROUNDS (5), SAMPLES (--samples-per-worker, default 60000: each worker's whole IID shard of 5,800),
#      SEED (1), THREADS (2), ROLES (default: all six adversary roles), STRATEGIES (default "default plain-fedavg"),
#      NICE (19), CARGO_TARGET_DIR, LOGDIR (default target/robustness under CARGO_TARGET_DIR; each run's log and
#      --json file go there).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
rounds="${ROUNDS:-5}" samples="${SAMPLES:-60000}" seed="${SEED:-1}" threads="${THREADS:-2}" nice="${NICE:-19}"
roles="${ROLES:-free-rider sign-flip noise label-flip copycat copy-noisy}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/tessera/target}"
logs="${LOGDIR:-$CARGO_TARGET_DIR/robustness}"
mkdir -p "$logs"
nice -n "$nice" cargo build --release -q -p tessera-sim
sim="$CARGO_TARGET_DIR/release/tessera-sim"

setups="${STRATEGIES:-default plain-fedavg}"
declare -A strategies=([default]="" [plain-fedavg]="--strategy fedavg --clip-multiple 0 --aggregate-all"
  [scored-fedavg]="--strategy fedavg --clip-multiple 0" [default-all]="--aggregate-all")
accuracy() { grep -E '^round [0-9]+: test accuracy' "$1" | tail -n 1 | sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/'; }

echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "common: --rounds $rounds --samples-per-worker $samples --seed $seed --threads $threads $*"
declare -A acc
for role in none $roles; do
  if [ "$role" = none ]; then adversaries=honest; else adversaries="$role,$role,$role"; fi
  for name in $setups; do
    # shellcheck disable=SC2086 # the strategy options are meant to split
    nice -n "$nice" "$sim" --rounds "$rounds" --samples-per-worker "$samples" --seed "$seed" --threads "$threads" \
      --adversaries "$adversaries" ${strategies[$name]} --json "$logs/$role-$name.jsonl" "$@" >"$logs/$role-$name.log" 2>&1
    acc[$role-$name]="$(accuracy "$logs/$role-$name.log")"
    echo "$role $name: ${acc[$role-$name]}% ($(grep '^detection:' "$logs/$role-$name.log"); $(grep '^wall time' "$logs/$role-$name.log"))"
  done
done

echo
header="| attack (3 of 10 workers) |" rule="| --- |"
for name in $setups; do header+=" $name | vs no attack |"; rule+=" ---: | ---: |"; done
echo "$header"; echo "$rule"
for role in none $roles; do
  row="| $role |"
  for name in $setups; do
    row+="$(awk -v a="${acc[$role-$name]}" -v b="${acc[none-$name]}" 'BEGIN { printf " %.2f%% | %+.2f |", a, a - b }')"
  done
  echo "$row"
done
