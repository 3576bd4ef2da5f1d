#!/usr/bin/env bash
# Training throughput, tessera-train (Rust, tch) against PyTorch on the same LeNet/MNIST loop and the same
# libtorch. Alternates the runs ROUNDS times and prints each run, the medians and the ratios.
#
#   benches/train/throughput.sh [--steps 300] [--warmup 30] [--batch 64] [--threads 2]
# Env: ROUNDS (default 5), TESSERA_PYTHON (default .venv/bin/python), CARGO_TARGET_DIR.
# On a shared machine the runs vary a lot with other load; the ratio of runs next to each other in time (the
# median of per-round ratios) is steadier than the ratio of the medians.
#
# tessera-train raises glibc's malloc trim threshold in-process (crates/train/src/heap.rs). "pytorch" is stock
# PyTorch; "pytorch+heap" is PyTorch given the same glibc setting through the environment, for a like-for-like
# comparison of the training loops themselves.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
python="${TESSERA_PYTHON:-$root/.venv/bin/python}"
rounds="${ROUNDS:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera/target}"
# Where scripts/setup.sh puts MNIST; both programs read it from here.
export TESSERA_MNIST_DIR="${TESSERA_MNIST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/mnist}"

cargo build --release -q -p tessera-train-bench
rust_bin="$CARGO_TARGET_DIR/release/tessera-train-bench"
rate() { sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$1"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
rust=() torch=() tuned=() ratio=() ratio_heap=()
for _ in $(seq "$rounds"); do
  line="$("$rust_bin" "$@")"; echo "$line"; r="$(rate "$line")"; rust+=("$r")
  line="$("$python" crates/train/python/throughput.py "$@")"; echo "$line"; t="$(rate "$line")"; torch+=("$t")
  line="$(MALLOC_MMAP_THRESHOLD_=33546240 MALLOC_TRIM_THRESHOLD_=67092480 "$python" crates/train/python/throughput.py "$@")"
  echo "${line/pytorch:/pytorch+heap:}"; h="$(rate "$line")"; tuned+=("$h")
  ratio+=("$(awk -v a="$r" -v b="$t" 'BEGIN { print a / b }')") ratio_heap+=("$(awk -v a="$r" -v b="$h" 'BEGIN { print a / b }')")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r="$(median "${rust[@]}")" t="$(median "${torch[@]}")" h="$(median "${tuned[@]}")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median samples/s: rust $r, pytorch $t, pytorch+heap $h"
awk -v r="$r" -v t="$t" -v h="$h" 'BEGIN { printf "ratio of medians: rust/pytorch %.3f, rust/(pytorch+heap) %.3f\n", r / t, r / h }'
echo "median of per-round ratios: rust/pytorch $(median "${ratio[@]}"), rust/(pytorch+heap) $(median "${ratio_heap[@]}")"
