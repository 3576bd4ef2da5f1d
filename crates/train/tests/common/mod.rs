//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use tessera_train::{Dataset, Device, Optimizer, Split, TrainConfig};

/// Every test trains with the same thread count, since libtorch's setting is process-wide and the
/// determinism test compares runs.
pub const THREADS: usize = 2;

/// The Python the interop tests run: `TESSERA_PYTHON`, else the project venv's.
pub fn python() -> std::path::PathBuf {
    std::env::var_os("TESSERA_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

pub fn mnist(split: Split) -> Dataset {
    let dir = tessera_harness::mnist_dir();
    Dataset::mnist(&dir, split).unwrap_or_else(|e| panic!("MNIST in {} (run `make setup`): {e}", dir.display()))
}

pub fn cpu_config(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        optimizer: Optimizer::adam(1e-3),
        seed,
        device: Device::Cpu,
        threads: Some(THREADS),
        mixed_precision: false,
    }
}
