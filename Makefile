# The two commands a user needs: `make demo` and `make test`. Both run the idempotent setup first.
SHELL := /bin/bash
CARGO ?= cargo
FORGE := $(CURDIR)/.tessera/bin/forge

.PHONY: setup demo test lint fmt contracts

## Install every tool, library and data set from the package registries (skips what is there).
setup:
	@scripts/setup.sh

## Run the demo on the embedded defaults.
demo: setup
	$(CARGO) run -p tessera-demo -- $(ARGS)

## Run every check: formatting, lints, contract tests, Rust tests.
test: setup lint
	cd contracts && $(FORGE) test
	$(CARGO) test --workspace

lint: setup
	$(CARGO) fmt --all --check
	cd contracts && $(FORGE) fmt --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Format Rust and Solidity in place.
fmt: setup
	$(CARGO) fmt --all
	cd contracts && $(FORGE) fmt

contracts: setup
	cd contracts && $(FORGE) build
