//! `tessera-worker run`: train and submit every round of a task until it ends.

use super::Context;
use crate::api::Info;
use crate::{
    Error, Result,
    data::{self, DataOptions, DatasetKind, PartitionKind, ShardSpec},
    device::{self, DeviceChoice},
    progress, red_team,
    red_team::Attack,
    state::{Identity, StateDir},
    update::Behaviour,
    worker::{Worker, WorkerConfig},
};
use alloy::primitives::{Address, U256};
use clap::{Args, ValueEnum};
use std::{path::PathBuf, sync::Arc, time::Duration};
use tessera_chain::MarketplaceClient;
use tessera_storage::IpfsStore;
use tessera_train::{Optimizer, TrainConfig, WireDtype};
use tracing::{info, warn};

/// Train and submit every round of a task until it ends.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # All of a local MNIST folder, on the GPU if there is one
  tessera-worker run --task 1 --data ~/.cache/tessera/mnist

  # Worker 2 of 5 sharing one MNIST copy, label-skewed, 2000 samples, 2 epochs on the CPU
  tessera-worker run --task 1 --data ./mnist --shard 2/5 --partition dirichlet --alpha 0.5 \\
      --max-samples 2000 --epochs 2 --device cpu --threads 4

  # A dishonest worker for a demo (prints a warning; the coordinator should slash it)
  tessera-worker run --task 1 --data ./mnist --shard 4/5 --red-team sign-flip

The worker resumes where it stopped: killed at any point and started again with the same key and
--state-dir, it neither trains a round twice nor sends two different updates for one round.")]
pub struct RunArgs {
    /// The task.
    #[arg(long)]
    task: u64,

    /// The folder holding the training data, in a format that is detected: IDX files (train-images-idx3-ubyte,
    /// train-labels-idx1-ubyte), CIFAR-10/100 binary batches, train_images.npy and train_labels.npy, or a folder
    /// of images per class (train/<class>/*.png|jpg).
    #[arg(long, env = "TESSERA_DATA_DIR", value_name = "DIR", help_heading = "Data")]
    data: PathBuf,
    /// What the data shows: sets the image shape (image folders are resized to it) and the normalisation.
    #[arg(long, value_enum, default_value_t = DatasetKind::Mnist, help_heading = "Data")]
    dataset: DatasetKind,
    /// Train on shard i of n (from 0) of the data, split by --partition with --seed; workers sharing one copy
    /// of the data use the same n, --partition and --seed, and distinct i.
    #[arg(long, value_name = "i/n", help_heading = "Data")]
    shard: Option<ShardSpec>,
    /// How --shard splits the data.
    #[arg(long, value_enum, default_value_t = PartitionKind::Iid, help_heading = "Data")]
    partition: PartitionKind,
    /// The Dirichlet concentration for --partition dirichlet (smaller is more skewed).
    #[arg(long, default_value_t = 0.5, value_name = "A", help_heading = "Data")]
    alpha: f64,
    /// The seed of the split (the same for every worker sharing the data).
    #[arg(long, default_value_t = 0, value_name = "S", help_heading = "Data")]
    seed: u64,
    /// Keep at most this many samples of the shard.
    #[arg(long, value_name = "M", help_heading = "Data")]
    max_samples: Option<usize>,

    /// Local epochs per round.
    #[arg(long, default_value_t = 1, help_heading = "Training")]
    epochs: usize,
    /// Samples per optimiser step.
    #[arg(long, default_value_t = 64, help_heading = "Training")]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, help_heading = "Training")]
    lr: f64,
    /// libtorch's CPU threads [default: libtorch's choice].
    #[arg(long, help_heading = "Training")]
    threads: Option<usize>,
    /// Where to train: auto (the first GPU if libtorch sees one, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value_t = DeviceChoice::Auto, help_heading = "Training")]
    device: DeviceChoice,
    /// Train in mixed precision (CUDA autocast: float16 convolutions and products, float32 weights); needs a GPU.
    #[arg(long, help_heading = "Training")]
    mixed_precision: bool,
    /// Fix the training seeds [default: drawn from the worker's address and the round].
    #[arg(long, value_name = "S", help_heading = "Training")]
    train_seed: Option<u64>,
    /// How update values are stored: f32 exact, f16 half the bytes.
    #[arg(long, value_enum, default_value_t = Dtype::F32, help_heading = "Training")]
    dtype: Dtype,

    /// The state folder, for resuming [default: ~/.tessera/worker/<task>/<address>].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Seconds between polls of the coordinator at the longest: its live feed wakes the worker sooner.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    poll_interval: f64,
    /// Stop after submitting to this many rounds [default: run until the task ends].
    #[arg(long, value_name = "N")]
    rounds: Option<u32>,
    /// Seconds to keep trying to reach the coordinator at start (it may be starting too).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    startup_wait: u64,

    /// FOR TESTS AND DEMOS ONLY: run one of the red team's attacks, `name` or `name:parameter`:
    /// free-rider, sign-flip, noise:STD, label-flip, copycat, copy-scaled:FACTOR, copy-noisy:NOISE,
    /// copy-sparse:KEEP, copy-mix:PEERS, replay-global, replay-own, overclaim:FACTOR, partial-work:FRACTION,
    /// boost:FACTOR (copies read the previous round's updates: the current round's are withheld). The
    /// coordinator should flag this worker or pay it no more than its work is worth.
    #[arg(long, value_name = "ATTACK", help_heading = "Red team (tests and demos only)")]
    red_team: Option<Attack>,
}

/// `--dtype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Dtype {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
}

pub(super) async fn execute(context: &Context, args: RunArgs) -> Result<()> {
    check_args(&args)?;
    // Local mistakes (the data, the device, the key) fail before any service is contacted.
    let device = args.device.resolve()?;
    if args.mixed_precision && !device.is_cuda() {
        return Err(Error::Invalid(format!(
            "--mixed-precision needs a CUDA device; this worker trains on {}",
            device::name(device)
        )));
    }
    let options = DataOptions {
        dir: args.data.clone(),
        kind: args.dataset,
        shard: args.shard,
        partition: args.partition,
        alpha: args.alpha,
        seed: args.seed,
        max_samples: args.max_samples,
    };
    let shard = data::load(&options)?;
    let signer = context.signer()?;
    let me = signer.address();
    let api = context.api()?;
    let info = context.info(&api, Duration::from_secs(args.startup_wait)).await?;

    let chain_reader = check_joined(context, &info, args.task, me).await?;

    let root = match &args.state_dir {
        Some(dir) => dir.clone(),
        None => StateDir::default_root(args.task, me)
            .ok_or_else(|| Error::Invalid("no home folder for the state: pass --state-dir".into()))?,
    };
    let identity = Identity { task_id: args.task, worker: me, chain_id: info.chain_id, marketplace: info.marketplace };
    let state = StateDir::open(&root, &identity)?;

    info!(
        "worker {me:#x} on task {}: {} samples{} from {}, training on {}, state in {}",
        args.task,
        shard.len(),
        args.shard.map(|s| format!(" (shard {s}, {:?})", args.partition)).unwrap_or_default(),
        args.data.display(),
        device::name(device),
        root.display()
    );

    let store = IpfsStore::new(&context.global.ipfs_api, context.ipfs_config()?)?;
    let config = worker_config(&args, device, progress::bars_enabled(context.global.quiet));
    let mut worker = Worker::new(api, Arc::new(store), signer, info, state, shard, config)?;
    if let Some(reader) = chain_reader {
        worker = worker.with_round_records(Arc::new(reader));
    }

    // Every file is written atomically, so stopping at any point is safe; say how to resume.
    let resume_hint = root.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nInterrupted. Run the same command again to resume (state in {}).", resume_hint.display());
            std::process::exit(130);
        }
    });

    let summary = worker.run().await?;
    let rounds = |list: &[u32]| list.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    println!(
        "Task {}{}: submitted to {} round(s) [{}], missed {} [{}].",
        args.task,
        summary.finished.map(|status| format!(" is {status:?}")).unwrap_or_default(),
        summary.submitted.len(),
        rounds(&summary.submitted),
        summary.missed.len(),
        rounds(&summary.missed)
    );
    Ok(())
}

/// Refuses settings that cannot work, before anything is loaded or contacted.
fn check_args(args: &RunArgs) -> Result<()> {
    if !(args.poll_interval > 0.0 && args.poll_interval.is_finite()) {
        return Err(Error::Invalid("--poll-interval must be a positive number of seconds".into()));
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return Err(Error::Invalid("--lr must be positive".into()));
    }
    if let Some(red_team) = args.red_team {
        if matches!(red_team, Attack::LittleIsEnough { .. } | Attack::Sybil) {
            return Err(Error::Invalid(format!(
                "--red-team {red_team} needs several identities acting together: run it in tessera-sim"
            )));
        }
        eprintln!("{}", red_team::warning(red_team));
    }
    Ok(())
}

/// The run loop's settings from the command line.
fn worker_config(args: &RunArgs, device: tch::Device, progress_bars: bool) -> WorkerConfig {
    WorkerConfig {
        task_id: args.task,
        poll_interval: Duration::from_secs_f64(args.poll_interval),
        max_rounds: args.rounds,
        train: TrainConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            optimizer: Optimizer::adam(args.lr),
            seed: 0,
            device,
            threads: args.threads,
            mixed_precision: args.mixed_precision,
        },
        train_seed: args.train_seed,
        behaviour: args.red_team.map_or(Behaviour::Honest, Behaviour::RedTeam),
        dtype: match args.dtype {
            Dtype::F32 => WireDtype::F32,
            Dtype::F16 => WireDtype::F16,
        },
        progress_bars,
    }
}

/// Refuses to start training for a task the worker has not joined on chain; an unreachable chain
/// only warns, since the coordinator checks membership too. The chain's reader, when it answered.
async fn check_joined(context: &Context, info: &Info, task: u64, me: Address) -> Result<Option<MarketplaceClient>> {
    let joined = async {
        let client = context.reading_client(me, info.marketplace, Some(info.chain_id)).await?;
        let joined = client.is_worker(U256::from(task), me).await.map_err(Error::from)?;
        Ok::<_, Error>((joined, client))
    };
    match joined.await {
        Ok((true, client)) => Ok(Some(client)),
        Ok((false, _)) => Err(Error::Task(format!(
            "{me:#x} has not joined task {task}: stake first with `tessera-worker join --task {task}`"
        ))),
        Err(error @ Error::Invalid(_)) => Err(error),
        Err(error) => {
            warn!("could not check on chain that {me:#x} joined task {task}: {}", error.report());
            Ok(None)
        }
    }
}
