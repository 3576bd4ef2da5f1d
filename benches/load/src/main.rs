//! `tessera-load`: a fleet of simulated workers driving a real coordinator (its binary), anvil and an IPFS node,
//! to measure the coordinator alone, without training.
//!
//! Every worker is its own key: it stakes and joins on chain, and each round it uploads a real encoded update
//! to IPFS and sends the EIP-712 signed submission, all workers at once. The updates are one real update,
//! trained once a round on a small MNIST shard from the round's checkpoint, plus each worker's own seeded
//! noise as large again, so the scorer sees honest-looking work (agreeing beyond chance, no two alike).
//!
//! Measured per round: submissions accepted per second and their latency (p50, p99), refusals and server
//! errors, the time from the window's close (the last receipt) to the round finalized on chain with the
//! engine's phases in between, and the coordinator's peak resident memory. One JSON line per run.

mod attack;
mod fleet;
mod measure;

use attack::{Attack, AttackKind};
use clap::Parser;
use eyre::WrapErr;
use fleet::Fleet;
use measure::{MemoryWatch, RoundReport};
use std::{path::PathBuf, process::Command, time::Duration};
use tessera_chain::{Deployment, roles};
use tessera_harness::{Anvil, IpfsNode, Process, Toolchain, mnist_dir};
use tessera_train::ArchitectureId;

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Drives a real coordinator with a fleet of simulated workers and measures it")]
struct Args {
    /// Workers in the task.
    #[arg(long, default_value_t = 100)]
    workers: usize,
    /// Rounds to run.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// The task's model.
    #[arg(long, default_value = "lenet5-mnist-v1")]
    arch: String,
    /// The submission window in seconds; the round closes earlier, once every worker has submitted.
    #[arg(long, default_value_t = 900)]
    window_secs: u32,
    /// Uploads to IPFS in flight at once.
    #[arg(long, default_value_t = 8)]
    uploads: usize,
    /// Validation examples the coordinator scores with.
    #[arg(long, default_value_t = 2000)]
    validation_samples: usize,
    /// The coordinator binary (a release build, for figures worth reporting).
    #[arg(long, env = "TESSERA_COORDINATOR_BIN")]
    coordinator: PathBuf,
    /// The coordinator's database (default: a SQLite file in the run's folder).
    #[arg(long)]
    database_url: Option<String>,
    /// Appends the run's JSON line to this file as well.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Abuse to run from other loopback addresses while the fleet's rounds run.
    #[arg(long, value_enum, default_value_t = AttackKind::None)]
    attack: AttackKind,
    /// The attacker's connections.
    #[arg(long, default_value_t = 64)]
    attack_connections: usize,
    /// Seconds the abuse runs before the workers submit (longer than the coordinator's header-read timeout, so
    /// slow connections have met it), and on until the last round is finalized.
    #[arg(long, default_value_t = 15)]
    attack_warmup_secs: u64,
    /// The coordinator's per-address limits: `on` (its defaults) or `off`. The fleet sends every worker's
    /// requests from one address, which no real deployment does, so fleets of more than a few workers need `off`.
    #[arg(long, value_enum, default_value_t = Limits::Off)]
    limits: Limits,
}

/// Whether the coordinator's per-address limits are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
enum Limits {
    On,
    Off,
}

/// The coordinator's settings for a run, as environment variables.
fn coordinator_env(args: &Args, stack: &Stack, dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let accounts = stack.anvil.accounts();
    let database = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("coordinator.db").display()));
    let mut env = vec![
        ("TESSERA_CHAIN_RPC_URL", stack.anvil.url().to_owned()),
        ("TESSERA_PRIVATE_KEY", accounts[roles::COORDINATOR].private_key.clone()),
        ("TESSERA_REQUESTER_PRIVATE_KEY", accounts[roles::REQUESTER].private_key.clone()),
        ("TESSERA_MARKETPLACE", format!("{:#x}", stack.chain.marketplace)),
        ("TESSERA_IPFS_API_URL", stack.ipfs.api_url().to_owned()),
        ("TESSERA_DATABASE_URL", database),
        ("TESSERA_SPOOL_DIR", dir.join("spool").display().to_string()),
        ("TESSERA_VALIDATION_DIR", mnist_dir().display().to_string()),
        ("TESSERA_VALIDATION_SAMPLES", args.validation_samples.to_string()),
        ("TESSERA_VALIDATION_ARCHITECTURE", args.arch.clone()),
        ("TESSERA_MIN_WORKERS", args.workers.to_string()),
        ("TESSERA_TICK_MS", "200".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    if args.limits == Limits::Off {
        let unlimited = "1000000".to_owned();
        env.extend([
            ("TESSERA_RATE_LIMIT_PER_IP", "0".to_owned()),
            ("TESSERA_SUBMISSIONS_PER_WORKER_PER_SEC", "0".to_owned()),
            ("TESSERA_MAX_CONNECTIONS", unlimited.clone()),
            ("TESSERA_MAX_CONNECTIONS_PER_IP", unlimited.clone()),
            ("TESSERA_MAX_EVENT_STREAMS", unlimited.clone()),
            ("TESSERA_MAX_QUEUED_FETCHES", unlimited.clone()),
            ("TESSERA_MAX_TASK_DRAFTS", unlimited),
            ("TESSERA_HEADER_READ_TIMEOUT_SECS", "86400".to_owned()),
            ("TESSERA_READ_CACHE_MS", "0".to_owned()),
        ]);
    }
    env
}

/// Anvil, IPFS and the contracts.
struct Stack {
    anvil: Anvil,
    ipfs: IpfsNode,
    chain: Deployment,
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let args = Args::parse();
    let arch: ArchitectureId = args.arch.parse().map_err(|_| eyre::eyre!("unknown architecture {}", args.arch))?;
    let dir = tempfile::Builder::new().prefix("tessera-load-").tempdir()?;
    let toolchain = Toolchain::discover().wrap_err("run `make setup` first")?;
    let started = std::time::Instant::now();
    let anvil = Anvil::builder().accounts(roles::FIRST_WORKER as u32 + args.workers as u32).spawn(&toolchain)?;
    let ipfs = IpfsNode::start(&toolchain)?;
    let chain = Deployment::deploy(anvil.url(), &anvil.accounts()[roles::ADMIN].private_key, "Load").await?;
    let stack = Stack { anvil, ipfs, chain };
    let env = coordinator_env(&args, &stack, dir.path());

    let requester = stack.anvil.accounts()[roles::REQUESTER].address;
    stack.chain.fund([requester], alloy::primitives::U256::from(10u128.pow(24))).await?;
    let task = create_task(&args, &env, stack.chain.token)?;
    let fleet = Fleet::join(&stack.chain, &stack.anvil.accounts()[roles::FIRST_WORKER..], task, args.workers).await?;
    eprintln!("[load] {} workers joined task {task} in {:.1} s", args.workers, started.elapsed().as_secs_f64());

    let mut serve = Command::new(&args.coordinator);
    serve.arg("serve").envs(env.iter().cloned());
    let port = free_port()?;
    serve.env("TESSERA_LISTEN", format!("127.0.0.1:{port}"));
    let coordinator = Process::spawn("coordinator", serve, &dir.path().join("coordinator.log"))?;
    let url = format!("http://127.0.0.1:{port}");
    let memory = MemoryWatch::start(coordinator.id());
    let client = fleet::Client::new(&url, stack.ipfs.api_url(), arch)?;
    client.wait_until_up(Duration::from_secs(60)).await?;

    let attack = Attack::start(args.attack, args.attack_connections, ([127, 0, 0, 1], port).into(), task)?;
    if args.attack != AttackKind::None {
        tokio::time::sleep(Duration::from_secs(args.attack_warmup_secs)).await;
    }
    let mut rounds: Vec<RoundReport> = Vec::new();
    for round in 1..=args.rounds {
        let mut report = fleet.run_round(&client, task, round, args.uploads).await.wrap_err_with(|| {
            format!("round {round}; the coordinator's log is {}", coordinator.log_path().display())
        })?;
        let log = std::fs::read_to_string(coordinator.log_path()).unwrap_or_default();
        report.scoring_steps = measure::scoring_steps(&log, round);
        eprintln!("[load] {report} {:?}", report.scoring_steps);
        rounds.push(report);
    }
    let attack = attack.stop().await;
    let peak_rss_mb = memory.stop().await;
    let line = serde_json::json!({
        "workers": args.workers,
        "limits": args.limits,
        "attack": attack,
        "architecture": arch.name(),
        "parameters": arch.num_parameters(),
        "validation_samples": args.validation_samples,
        "peak_rss_mb": peak_rss_mb,
        "rounds": rounds,
    });
    println!("{line}");
    if let Some(out) = &args.out {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(out)?;
        writeln!(file, "{line}")?;
    }
    drop(coordinator);
    Ok(())
}

/// Creates the task with the coordinator's `create-task`; its id.
fn create_task(args: &Args, env: &[(&'static str, String)], token: alloy::primitives::Address) -> eyre::Result<u64> {
    let output = Command::new(&args.coordinator)
        .args(["create-task", "--token", &format!("{token:#x}"), "--reward", "1000", "--stake", "1", "--rounds"])
        .arg(args.rounds.to_string())
        .arg("--max-workers")
        .arg(args.workers.to_string())
        .arg("--window-secs")
        .arg(args.window_secs.to_string())
        .args(["--architecture", &args.arch])
        .envs(env.iter().cloned())
        .output()?;
    eyre::ensure!(output.status.success(), "create-task failed: {}", String::from_utf8_lossy(&output.stderr));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    created["task_id"].as_u64().ok_or_else(|| eyre::eyre!("create-task printed no task id: {created}"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
