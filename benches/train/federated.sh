#!/usr/bin/env bash
# Federated accuracy of the built-in networks on the data set this machine has (MNIST; ResNet-18 sees each digit as
# three equal channels centred on a 32x32 black image): tessera-sim with four honest workers, IID shards, plain
# FedAvg, the same rounds, samples, seed and threads for each network. Prints each run's rounds and wall time.
#
# Usage: [ARCHS="lenet5-mnist-v1 …"] benches/train/federated.sh [ROUNDS] [SAMPLES_PER_WORKER]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
samples=${2:-500}
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cargo build -q -p tessera-sim
for arch in ${ARCHS:-lenet5-mnist-v1 resnet20-cifar-v1 resnet18-cifar-v1}; do
  echo "== $arch"
  "$target/debug/tessera-sim" --arch "$arch" --workers 4 --adversaries honest --partition iid --strategy fedavg \
    --rounds "$rounds" --samples-per-worker "$samples" --validation-samples 500 --test-samples 2000 --threads 2 \
    | grep -E '^round [0-9]+|test accuracy|^wall time|^[0-9]+ workers'
done
