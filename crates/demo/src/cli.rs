//! `tessera-demo`'s options and its run from start to table.

use crate::{Binaries, Demo, Partition, Scenario};
use clap::Parser;
use eyre::WrapErr;
use std::{path::PathBuf, time::Duration};
use tessera_adversary::Attack;
use tessera_train::ArchitectureId;

/// The whole Tessera marketplace on this machine: anvil, IPFS, the contracts, a coordinator and six workers
/// (four honest, a free-rider and a sign-flipper) training LeNet on MNIST for a reward pool.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  tessera-demo\n  tessera-demo --exit --report report.json\n  tessera-demo --rounds 3 --unit 300\n  \
                  tessera-demo --exit --honest 10 --samples-per-worker 5900 --partition iid --red-team none\n  \
                  tessera-demo --red-team free-rider,copy-scaled:3,replay-global,boost:10\n  \
                  tessera-demo --model my_cnn.pt\n  tessera-demo --model resnet20-cifar-v1 --rounds 3 --unit 300\n  tessera-demo --exit --chaos 30"
)]
pub struct Args {
    /// Run to completion and exit, instead of serving the API and dashboard until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
    /// Rounds to run.
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// The smallest honest worker's samples; the others hold 2x, 4x and 8x.
    #[arg(long, default_value_t = 600)]
    pub unit: usize,
    /// Honest workers. With `--samples-per-worker` each holds that many samples; otherwise there must be four,
    /// holding `--unit` times 1, 2, 4 and 8.
    #[arg(long, default_value_t = 4)]
    pub honest: usize,
    /// Every worker's samples, the same for all (a benchmark's shape), instead of `--unit`'s doubling.
    #[arg(long, value_name = "N")]
    pub samples_per_worker: Option<usize>,
    /// How the training set is cut into the workers' shards.
    #[arg(long, value_enum, default_value_t = Partition::Dirichlet)]
    pub partition: Partition,
    /// The Dirichlet concentration of the honest workers' shards (smaller is more skewed).
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Images of MNIST's test split the coordinator scores and validates on (its first ones).
    #[arg(long, default_value_t = 2000)]
    pub validation_samples: usize,
    /// The dishonest workers, one per attack of the red team, comma-separated (`name` or `name:parameter`,
    /// as `tessera-worker run --red-team` takes them); `none` for none.
    #[arg(long, value_delimiter = ',', default_value = "free-rider,sign-flip", value_parser = red_team)]
    pub red_team: Vec<Option<Attack>>,
    /// Reach anvil, IPFS and the coordinator over TLS, through proxies presenting a test CA's certificates, with
    /// the IPFS API behind a bearer token as a pinning service is.
    #[arg(long)]
    pub tls: bool,
    /// The network: a built-in one by name (lenet5-mnist-v1, resnet20-cifar-v1, resnet18-cifar-v1, which see
    /// MNIST as 3x32x32), or a TorchScript module file (`torch.jit.save`; MNIST's 1x28x28 images in, 10 logits
    /// out), the requester's own model, checked, published and named on chain by its CID.
    #[arg(long, value_name = "NAME|FILE.pt", default_value = "lenet5-mnist-v1")]
    pub model: String,
    /// Keep the logs, the database and the workers' state after the run (their folder is printed at the start).
    #[arg(long)]
    pub keep_logs: bool,
    /// Write the final report as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Kill the coordinator and the workers (SIGKILL) at random moments while the rounds run, this many times in
    /// all, one to four seconds apart; the demo starts each again, and the rounds carry on and are finalized once.
    #[arg(long, value_name = "KILLS", num_args = 0..=1, default_missing_value = "20")]
    pub chaos: Option<u32>,
    /// A confidential task: workers seal their updates for the coordinator and an auditor, each round's checkpoint
    /// is sealed for the round's workers, the requester and the auditor, and the keys are published at the end.
    #[arg(long)]
    pub confidential: bool,
    /// With `--confidential`: central differential privacy at this epsilon for the whole task (delta 1e-5).
    #[arg(long, requires = "confidential")]
    pub dp_epsilon: Option<f64>,
    /// With `--dp-epsilon`: the L2 bound each update is clipped to.
    #[arg(long, default_value_t = 1.0)]
    pub dp_clip: f64,
    /// Give up if the task has not ended after this many seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout_secs: u64,
}

/// Runs the demo.
pub async fn run(args: Args) -> eyre::Result<()> {
    let binaries = Binaries::beside_current_exe()?;
    let attacks: Vec<Attack> = args.red_team.iter().flatten().copied().collect();
    let base = match args.samples_per_worker {
        Some(samples) => Scenario::equal(args.rounds, args.honest, samples, &attacks),
        None if args.honest == 4 => Scenario::with_red_team(args.rounds, args.unit, &attacks),
        None => eyre::bail!("--honest {} needs --samples-per-worker: --unit's doubling is for four", args.honest),
    };
    let scenario = Scenario {
        partition: args.partition,
        alpha: args.alpha,
        validation_samples: args.validation_samples,
        tls: args.tls,
        architecture: args.model.parse().unwrap_or(ArchitectureId::Lenet5MnistV1),
        model: args.model.parse::<ArchitectureId>().is_err().then(|| PathBuf::from(&args.model)),
        chaos: args.chaos.map(|kills| crate::Chaos::kills(kills, rand_seed())),
        confidential: args.confidential.then_some(crate::Confidentiality {
            publish_keys: true,
            dp_epsilon: args.dp_epsilon,
            dp_clip: args.dp_clip,
        }),
        ..base
    };
    let started = std::time::Instant::now();
    let mut demo = Demo::start(binaries, scenario, false).await?;
    demo.dir.disable_cleanup(args.keep_logs);
    println!("Logs and state: {}", demo.dir.path().display());
    println!("Dashboard, live while the rounds run: {}/tasks/{}", demo.url, demo.task);
    // Ctrl-C or a termination request mid-run stops every process the demo started (dropping it does), rather
    // than leaving the coordinator, anvil and IPFS behind.
    tokio::select! {
        ran = demo.run_to_end(Duration::from_secs(args.timeout_secs)) => ran?,
        () = stopped() => eyre::bail!("stopped before the task ended"),
    }
    let report = demo.report().await?;
    println!();
    print!("{report}");
    println!();
    println!("Finished in {:.0} s.", started.elapsed().as_secs_f64());
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    if !args.exit {
        println!("Dashboard:       {}/tasks/{}", demo.url, demo.task);
        println!("Coordinator API: {}/api/v1/tasks/{}", demo.url, demo.task);
        println!("Live events:     {}/api/v1/events", demo.url);
        println!("Serving until Ctrl-C.");
        stopped().await;
    }
    Ok(())
}

/// A seed for the chaos plan: each run kills differently.
fn rand_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Ctrl-C, or a termination request: either way the processes and the stack are stopped on the way out.
async fn stopped() {
    #[cfg(unix)]
    if let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// One `--red-team` entry: an attack, or `none`.
fn red_team(text: &str) -> Result<Option<Attack>, tessera_adversary::Error> {
    if text == "none" { Ok(None) } else { text.parse().map(Some) }
}
