//! Trains LeNet on all 60,000 MNIST training images and reports test accuracy after each epoch.
//!
//! cargo run --release -p tessera-train --example centralised_mnist -- --epochs 4 --threads 2
//! Options (defaults): --epochs 4, --batch 64, --lr 1e-3 (Adam), --lr-decay 1 (the factor applied to the
//! learning rate after each epoch), --seed 0, --threads 2, --cpu (else CUDA if there is a GPU).

use std::{str::FromStr, time::Instant};
use tessera_train::{ArchitectureId, Dataset, Device, Optimizer, Split, TrainConfig, Trainer, evaluate};

fn arg<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    let value = args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    value.map(|v| v.parse().unwrap_or_else(|_| panic!("bad value for {name}: {v}"))).unwrap_or(default)
}

fn main() -> tessera_train::Result<()> {
    let dir = tessera_harness::mnist_dir();
    let (train, test) = (Dataset::mnist(&dir, Split::Train)?, Dataset::mnist(&dir, Split::Test)?);
    let cpu = std::env::args().any(|a| a == "--cpu");
    let (mut lr, decay) = (arg("--lr", 1e-3), arg("--lr-decay", 1.0));
    let config = TrainConfig {
        epochs: arg("--epochs", 4),
        batch_size: arg("--batch", 64),
        optimizer: Optimizer::adam(lr),
        seed: arg("--seed", 0),
        device: if cpu { Device::Cpu } else { tessera_train::cuda_if_available() },
        threads: Some(arg("--threads", 2)),
        mixed_precision: false,
    };
    println!("centralised MNIST: {config:?}, {} train / {} test samples", train.len(), test.len());
    let arch = ArchitectureId::Lenet5MnistV1;
    let mut trainer = Trainer::new(arch, &arch.init_parameters(config.seed), config)?;
    let started = Instant::now();
    let mut accuracies = Vec::new();
    for epoch in 1..=config.epochs {
        let epoch_started = Instant::now();
        let metrics = trainer.train_epoch(&train, |p| {
            if p.step % 200 == 0 {
                eprintln!("  step {}/{} loss {:.4}", p.step, p.total_steps, p.loss);
            }
        })?;
        let train_seconds = epoch_started.elapsed().as_secs_f64();
        let eval = evaluate(trainer.model(), &test, 1000)?;
        println!(
            "epoch {epoch}: lr {lr:.2e} | train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | train {train_seconds:.1} s, eval {:.1} s, total {:.1} s",
            metrics.loss,
            100.0 * metrics.accuracy,
            eval.loss,
            100.0 * eval.accuracy,
            epoch_started.elapsed().as_secs_f64() - train_seconds,
            started.elapsed().as_secs_f64()
        );
        accuracies.push(eval.accuracy);
        lr *= decay;
        trainer.set_learning_rate(lr);
    }
    let first = accuracies.iter().position(|&a| a >= 0.99).map_or("none".into(), |i| format!("epoch {}", i + 1));
    let best = accuracies.iter().copied().fold(0.0, f64::max);
    println!("best test accuracy {:.2}%; first epoch at or above 99.00%: {first}", 100.0 * best);
    Ok(())
}
