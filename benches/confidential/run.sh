#!/usr/bin/env bash
# What confidentiality costs a whole round: the demo's scenario run twice in one go on the real stack (anvil, an IPFS
# node, the coordinator on SQLite, six worker processes), once public and once confidential (updates sealed for the
# coordinator and an auditor, checkpoints sealed and their keys wrapped, keys published at the end), with the same
# seeds; each run's report goes to benches/confidential/<mode>.json and table.py prints the round times side by side.
#
# Usage: benches/confidential/run.sh   ROUNDS=4 UNIT=400 VALIDATION=1000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tessera/target}
cargo build --release -p tessera-coordinator -p tessera-worker -p tessera-demo
demo="$CARGO_TARGET_DIR/release/tessera-demo"
args=(--exit --rounds "${ROUNDS:-4}" --unit "${UNIT:-400}" --validation-samples "${VALIDATION:-1000}")
for mode in public confidential; do
  echo "== $mode" >&2
  extra=()
  [ "$mode" = confidential ] && extra=(--confidential)
  "$demo" "${args[@]}" "${extra[@]}" --report "benches/confidential/$mode.json" >/dev/null
done
python3 benches/confidential/table.py benches/confidential/public.json benches/confidential/confidential.json
