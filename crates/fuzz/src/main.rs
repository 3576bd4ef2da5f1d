//! `tessera-fuzz`: runs every target for a while and prints, per target, the inputs tried and the distinct panics
//! found (with the input that caused each, hex). Exits non-zero when anything was found.

use clap::Parser;
use std::time::Duration;
use tessera_fuzz::{Budget, fuzz, targets};

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Mutation-fuzzes the update decoder, manifests, API requests, CIDs and EIP-712 decoding")]
struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// At most this many inputs per target.
    #[arg(long, default_value_t = u64::MAX)]
    inputs: u64,
    /// The mutations' seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only the targets whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

fn main() {
    let args = Args::parse();
    let budget = Budget { inputs: args.inputs, time: Duration::from_secs(args.seconds) };
    let mut found = 0;
    println!("| target | inputs | mean input bytes | seconds | inputs/s | distinct panics |");
    println!("|---|---:|---:|---:|---:|---:|");
    for mut target in targets::all() {
        if args.only.as_ref().is_some_and(|only| !target.name().contains(only.as_str())) {
            continue;
        }
        let report = fuzz(target.as_mut(), budget, args.seed);
        let seconds = report.elapsed.as_secs_f64();
        println!(
            "| {} | {} | {:.0} | {seconds:.0} | {:.0} | {} |",
            report.target,
            report.inputs,
            report.mean_bytes,
            report.inputs as f64 / seconds.max(1e-9),
            report.findings.len()
        );
        for finding in &report.findings {
            let hex: String = finding.input.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!("{}: {}\n  input: {hex}", report.target, finding.message);
        }
        found += report.findings.len();
    }
    if found > 0 {
        std::process::exit(1);
    }
}
