#!/usr/bin/env bash
# Builds the contracts and writes the ABI and creation bytecode of each contract the Rust side
# deploys or calls to crates/chain/abi/, where `sol!` reads them at compile time. Committing them
# lets `cargo build` work without forge; a test in tessera-chain fails when they drift.
#
#   scripts/export-abi.sh [OUT_DIR]   (default: crates/chain/abi)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${1:-$root/crates/chain/abi}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

if ! (cd "$root/contracts" && "$root/.tessera/bin/forge" build --skip test --skip script \
  --out "$build/out" --cache-path "$build/cache" >"$build/log" 2>&1); then
  cat "$build/log" >&2
  exit 1
fi
mkdir -p "$target"
for contract in Marketplace TestToken; do
  node -e '
    const fs = require("fs");
    const artifact = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const trimmed = { abi: artifact.abi, bytecode: artifact.bytecode.object };
    fs.writeFileSync(process.argv[2], JSON.stringify(trimmed, null, 2) + "\n");
  ' "$build/out/$contract.sol/$contract.json" "$target/$contract.json"
done
