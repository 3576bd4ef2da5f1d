//! Training throughput of LeNet on MNIST (Adam 1e-3), to compare with `python/throughput.py`, which runs the
//! same loop in PyTorch. `benches/train/throughput.sh` runs both.
//!
//! cargo run --release -p tessera-train --example throughput -- --steps 300 --threads 2
//! Options (defaults): --steps 300, --warmup 30, --batch 64, --threads 2.

use std::{str::FromStr, time::Instant};
use tessera_train::{ArchitectureId, Dataset, Device, Optimizer, Split, TrainConfig, Trainer};

fn arg<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    let value = args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    value.map(|v| v.parse().unwrap_or_else(|_| panic!("bad value for {name}: {v}"))).unwrap_or(default)
}

fn main() -> tessera_train::Result<()> {
    let (steps, warmup, batch, threads): (usize, usize, usize, usize) =
        (arg("--steps", 300), arg("--warmup", 30), arg("--batch", 64), arg("--threads", 2));
    let train = Dataset::mnist(&tessera_harness::mnist_dir(), Split::Train)?;
    // Disjoint slices: warm-up (allocator, oneDNN kernel selection) first, then the timed epoch.
    let warm = train.subset(&(0..warmup * batch).collect::<Vec<_>>())?;
    let timed = train.subset(&(warmup * batch..(warmup + steps) * batch).collect::<Vec<_>>())?;
    let config = TrainConfig {
        epochs: 2,
        batch_size: batch,
        optimizer: Optimizer::adam(1e-3),
        seed: 0,
        device: Device::Cpu,
        threads: Some(threads),
    };
    let arch = ArchitectureId::Lenet5MnistV1;
    let mut trainer = Trainer::new(arch, &arch.init_parameters(0), config)?;
    trainer.train_epoch(&warm, |_| {})?;
    let started = Instant::now();
    let metrics = trainer.train_epoch(&timed, |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rust: steps={} samples={} threads={threads} seconds={seconds:.3} samples_per_s={:.1} loss={:.4}",
        metrics.steps,
        metrics.samples,
        metrics.samples as f64 / seconds,
        metrics.loss
    );
    Ok(())
}
