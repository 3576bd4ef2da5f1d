//! Training throughput of one of tessera-train's networks, to set beside `crates/train/python/throughput.py`,
//! which runs the same loop in PyTorch. `benches/train/throughput.sh` runs both on the CPU, and
//! `benches/train/device.sh` on a GPU.
//!
//! throughput [--arch lenet|cifar-cnn|resnet18|resnet20] [--device cpu|cuda] [--steps 300] [--warmup 30] [--batch 64] [--threads 2]
//!            [--random] [--mixed-precision]
//!
//! LeNet trains on MNIST (`TESSERA_MNIST_DIR`); the CIFAR-sized networks, and LeNet with
//! `--random`, on seeded random images, since throughput does not depend on what the pixels show.
//! `--mixed-precision` trains under CUDA autocast (on a GPU only).

use std::{path::PathBuf, str::FromStr, time::Instant};
use tch::{Tensor, kind::FLOAT_CPU};
use tessera_train::{ArchitectureId, Dataset, Device, Optimizer, Split, TrainConfig, Trainer};

fn arg<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    let value = args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    value.map(|v| v.parse().unwrap_or_else(|_| panic!("bad value for {name}: {v}"))).unwrap_or(default)
}

/// The MNIST folder: `TESSERA_MNIST_DIR`, which `throughput.sh` sets to where `scripts/setup.sh` put the files.
fn mnist_dir() -> PathBuf {
    std::env::var_os("TESSERA_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("set TESSERA_MNIST_DIR to the MNIST folder, or pass --random"))
}

/// `samples` seeded random images of `arch`'s shape with random labels.
fn random_images(arch: ArchitectureId, samples: usize) -> tessera_train::Result<Dataset> {
    let [channels, height, width] = arch.input_shape();
    tch::manual_seed(0);
    let images = Tensor::randn([samples as i64, channels, height, width], FLOAT_CPU);
    let labels: Vec<u8> = (0..samples).map(|i| (i * 7 % 10) as u8).collect();
    Dataset::new(&images, &labels, 10)
}

fn main() -> tessera_train::Result<()> {
    let (steps, warmup, batch, threads): (usize, usize, usize, usize) =
        (arg("--steps", 300), arg("--warmup", 30), arg("--batch", 64), arg("--threads", 2));
    let arch = match arg("--arch", "lenet".to_owned()).as_str() {
        "lenet" => ArchitectureId::Lenet5MnistV1,
        "cifar-cnn" => ArchitectureId::CnnCifar10V1,
        "resnet18" => ArchitectureId::Resnet18CifarV1,
        "resnet20" => ArchitectureId::Resnet20CifarV1,
        other => panic!("--arch {other}: expected lenet, cifar-cnn, resnet18 or resnet20"),
    };
    let device = match arg("--device", "cpu".to_owned()).as_str() {
        "cpu" => Device::Cpu,
        "cuda" if tessera_train::cuda_devices() > 0 => Device::Cuda(0),
        "cuda" => panic!("--device cuda, but libtorch sees no GPU: {:?}", tessera_train::load_cuda()),
        other => panic!("--device {other}: expected cpu or cuda"),
    };
    let samples = (warmup + steps) * batch;
    let random = std::env::args().any(|a| a == "--random");
    let mixed_precision = std::env::args().any(|a| a == "--mixed-precision");
    let data = match arch {
        ArchitectureId::Lenet5MnistV1 if !random => Dataset::mnist(&mnist_dir(), Split::Train)?,
        _ => random_images(arch, samples)?,
    };
    // Disjoint slices: warm-up (allocator, kernel selection) first, then the timed epoch.
    let warm = data.subset(&(0..warmup * batch).collect::<Vec<_>>())?;
    let timed = data.subset(&(warmup * batch..samples).collect::<Vec<_>>())?;
    let config = TrainConfig {
        epochs: 2,
        batch_size: batch,
        optimizer: Optimizer::adam(1e-3),
        seed: 0,
        device,
        threads: Some(threads),
        mixed_precision,
    };
    let mut trainer = Trainer::new(arch, &arch.init_parameters(0), config)?;
    trainer.train_epoch(&warm, |_| {})?;
    let started = Instant::now();
    let metrics = trainer.train_epoch(&timed, |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rust: arch={arch} device={device:?} steps={} samples={} threads={threads} seconds={seconds:.3} \
         samples_per_s={:.1} loss={:.4}",
        metrics.steps,
        metrics.samples,
        metrics.samples as f64 / seconds,
        metrics.loss
    );
    Ok(())
}
