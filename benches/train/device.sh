#!/usr/bin/env bash
# Training throughput on a GPU: tessera-train (Rust, tch) on CUDA, against the same program on the machine's CPU
# threads and against PyTorch on the same GPU and threads, with the same networks, batches and loop as
# benches/train/throughput.sh. Each configuration alternates the runs ROUNDS times; every line is printed and
# benches/train/summary.py turns the log into medians and ratios.
#
#   benches/train/device.sh BIN [--steps 300]
# BIN is `tessera-train-bench` built against the libtorch of the machine's PyTorch (docs/train-benchmarks.md says
# how); its libraries are found through that PyTorch. Env: ROUNDS (default 3), TESSERA_PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1
shift
python=${TESSERA_PYTHON:-python3}
rounds=${ROUNDS:-3}
site=$("$python" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
libs="$site/torch/lib$(printf ':%s' "$site"/nvidia/*/lib)"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$python" -c 'import torch; print("pytorch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
threads=$(nproc)
echo "cpu: $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
run() {
  local label=$1
  shift
  for _ in $(seq "$rounds"); do
    echo "config: $label"
    "$bin" "$@"
    "$python" crates/train/python/throughput.py "$@"
  done
}
for arch in lenet cifar-cnn resnet18; do
  for batch in 64 512; do
    for device in cuda cpu; do
      args=(--arch "$arch" --device "$device" --batch "$batch" --threads "$threads" --random "$@")
      run "arch=$arch device=$device batch=$batch" "${args[@]}"
    done
    args=(--arch "$arch" --device cuda --batch "$batch" --threads "$threads" --random --mixed-precision "$@")
    run "arch=$arch device=cuda-mixed batch=$batch" "${args[@]}"
  done
done
