//! How fast the strategies aggregate, against a memory-bandwidth bound measured in the same run.
//!
//! The bound is the time to read every update once (a lane-wise f64 sum over each slice, the same kernel
//! the library uses); a ratio of 1.0 would mean the strategy runs at memory speed.
//!
//! Run: `cargo run --release -p tessera-scoring --example aggregation_speed`

use std::{hint::black_box, time::Instant};
use tessera_scoring::{FedAvg, FitResult, Median, MultiKrum, Strategy, TrimmedMean, WorkerId, vector};

/// LeNet as used by tessera-train: conv1 1->32 5x5, conv2 32->64 5x5, fc1 1024->512, fc2 512->10.
const LENET: usize = (32 * 25 + 32) + (64 * 32 * 25 + 64) + (1024 * 512 + 512) + (512 * 10 + 10);
const REPEATS: usize = 3;

fn updates(n: usize, len: usize) -> Vec<Vec<f32>> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1e-2
                })
                .collect()
        })
        .collect()
}

/// The fastest of a few runs, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn case(label: &str, n: usize, len: usize, f: usize) {
    let data = updates(n, len);
    let ids: Vec<WorkerId> = (0..n).map(|i| WorkerId::new(format!("0x{i:04x}"))).collect();
    let results: Vec<FitResult<'_>> = ids.iter().zip(&data).map(|(w, d)| FitResult::new(w, d, 100)).collect();
    let bytes = (n * len * 4) as f64;
    let bound = best(|| {
        black_box(data.iter().map(|u| vector::sum(u)).sum::<f64>());
    });
    println!("\n{label}: {n} updates x {len} parameters = {:.0} MB", bytes / 1e6);
    println!("{:<24} {:>10} {:>10} {:>12}", "", "time (ms)", "GB/s", "x bound");
    println!("{:<24} {:>10.1} {:>10.2} {:>12.2}", "read once (bound)", bound * 1e3, bytes / bound / 1e9, 1.0);
    let strategies: Vec<Box<dyn Strategy>> = vec![
        Box::new(FedAvg),
        Box::new(Median),
        Box::new(TrimmedMean::new(0.1).expect("valid beta")),
        Box::new(MultiKrum { f, m: None }),
    ];
    for strategy in &strategies {
        let seconds = best(|| {
            black_box(strategy.aggregate(1, &results, &[]).expect("aggregates"));
        });
        println!(
            "{:<24} {:>10.1} {:>10.2} {:>12.2}",
            strategy.name(),
            seconds * 1e3,
            bytes / seconds / 1e9,
            seconds / bound
        );
    }
}

fn main() {
    println!("best of {REPEATS} runs each, single thread");
    case("(a) LeNet", 100, LENET, 10);
    case("(b) 10M-parameter model", 10, 10_000_000, 2);
}
