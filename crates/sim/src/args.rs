use clap::{Parser, ValueEnum};
use std::{fmt, path::PathBuf, str::FromStr};
use tessera_adversary::Attack;
use tessera_scoring::StrategyKind;

/// Simulated federated training on MNIST: honest and adversarial workers train LeNet locally, and
/// tessera-scoring aggregates, scores, rewards and flags them round by round.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  tessera-sim --rounds 5\n  tessera-sim --strategy median --partition dirichlet --alpha 0.5\n  \
                  tessera-sim --adversaries sign-flip,copycat --json rounds.jsonl\n  \
                  tessera-sim --adversaries boost:100,overclaim:1000,partial-work:0.1\n  \
                  tessera-sim --adversaries little-is-enough:0.52,little-is-enough:0.52,little-is-enough:0.52\n  \
                  tessera-sim --adversaries honest --data-weights 1,1,1,2,2,2,4,4,4,4\n  \
                  tessera-sim --adversaries honest --strategy fedavg --clip-multiple 0 --dp-epsilon 8 --dp-clip 1\n\n\
                  Attacks (name or name:parameter): free-rider, sign-flip, noise:STD, label-flip, copycat, \
                  copy-scaled:FACTOR, copy-noisy:NOISE, copy-sparse:KEEP, copy-mix:PEERS, replay-global, replay-own, \
                  overclaim:FACTOR, partial-work:FRACTION, boost:FACTOR, sybil, little-is-enough:Z, intermittent:EVERY.\n\
                  Copycats read worker 0's update of the round (as if its CID leaked); sybils share one shard."
)]
pub struct Args {
    /// Workers in all; the last ones take the adversarial roles.
    #[arg(long, default_value_t = 10)]
    pub workers: usize,
    /// Federated rounds.
    #[arg(long, default_value_t = 10)]
    pub rounds: u64,
    /// How the training set is split among workers.
    #[arg(long, value_enum, default_value_t = PartitionKind::Iid)]
    pub partition: PartitionKind,
    /// Dirichlet concentration for `--partition dirichlet` (smaller is more skewed).
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Roles of the last workers, comma-separated (the others are honest): `honest` or an attack.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "free-rider,sign-flip,noise,label-flip,copycat,copy-noisy,intermittent"
    )]
    pub adversaries: Vec<Role>,
    /// The aggregation strategy: fedavg, reputation, median, trimmed-mean or krum.
    #[arg(long, default_value_t = StrategyKind::TrimmedMean)]
    pub strategy: StrategyKind,
    /// Trimmed-mean fraction cut from each end.
    #[arg(long, default_value_t = 0.2)]
    pub beta: f64,
    /// Multi-Krum's tolerated Byzantine workers.
    #[arg(long, default_value_t = 3)]
    pub krum_f: usize,
    /// Clip updates to this multiple of the round's median norm (0 turns clipping off).
    #[arg(long, default_value_t = 2.0)]
    pub clip_multiple: f64,
    /// Step the global model with the strategy's aggregate of every update received, ignoring the scorer's
    /// exclusions (scores, rewards, flags and slashes are still computed and printed): what the strategy alone
    /// does against the adversaries, e.g. plain FedAvg with `--strategy fedavg --clip-multiple 0`.
    #[arg(long)]
    pub aggregate_all: bool,
    /// Server learning rate of a FedAdam server optimiser around the strategy (0 turns it off).
    #[arg(long, default_value_t = 0.0)]
    pub server_adam: f64,
    /// Seeds the partition, initial weights, training order and adversaries.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Training samples per worker (taken from its shard), to keep CPU rounds short.
    #[arg(long, default_value_t = 1000)]
    pub samples_per_worker: usize,
    /// Per-worker multiples of `--samples-per-worker`, comma-separated, one per worker (e.g.
    /// `1,1,1,2,2,2,4,4,4,4`): worker i trains on up to `samples-per-worker x weight_i` samples of its shard,
    /// so workers can hold different amounts of data. Empty: every weight is 1.
    #[arg(long, value_delimiter = ',')]
    pub data_weights: Vec<f64>,
    /// Samples of the requester's validation set (held out of the training split) used for scoring. The
    /// scorer evaluates a model on it about 11 times a round (the aggregate and each leave-one-out), so it
    /// sets most of the scoring time; detection and fairness pass with 1,000 as with 2,000
    /// (docs/scoring-benchmarks.md).
    #[arg(long, default_value_t = 1000)]
    pub validation_samples: usize,
    /// Local epochs per round.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Round reward in whole tokens (18 decimals).
    #[arg(long, default_value_t = 1000)]
    pub reward_tokens: u64,
    /// libtorch threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The network every worker trains, by name: `lenet5-mnist-v1`, or `resnet18-cifar-v1`, which sees MNIST's
    /// digits as three equal channels centred on a 32x32 black image.
    #[arg(long, default_value = "lenet5-mnist-v1")]
    pub arch: tessera_train::ArchitectureId,
    /// Test-split samples the global model is measured on each round (default: all 10,000).
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// The MNIST IDX folder (default: the cache that `make setup` fills).
    #[arg(long, env = "TESSERA_MNIST_DIR")]
    pub mnist_dir: Option<PathBuf>,
    /// Central differential privacy (DP-FedAvg): the global model steps by the unweighted mean of the updates
    /// the scorer included, each clipped to `--dp-clip`, plus Gaussian noise whose multiplier meets this epsilon
    /// over all `--rounds` at `--dp-delta` (RDP accounting). Off without it.
    #[arg(long)]
    pub dp_epsilon: Option<f64>,
    /// The L2 bound each update is clipped to under `--dp-epsilon`.
    #[arg(long, default_value_t = 1.0)]
    pub dp_clip: f64,
    /// The delta of the `--dp-epsilon` guarantee.
    #[arg(long, default_value_t = 1e-5)]
    pub dp_delta: f64,
    /// Write each round's result (the manifest record) as one JSON line to this file (with `--dp-epsilon`, a
    /// `privacy` field holds the round's guarantee).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// How to partition the training set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PartitionKind {
    /// Uniformly at random.
    Iid,
    /// Label skew drawn from Dirichlet(alpha).
    Dirichlet,
}

/// What a worker does: trains honestly, or runs one of the red team's attacks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role {
    /// Trains and sends its update.
    Honest,
    /// An attack of the red team.
    Attack(Attack),
}

impl Role {
    /// Whether the worker is honest: it does its own work (intermittent workers and sybils included).
    pub fn is_honest(self) -> bool {
        match self {
            Self::Honest => true,
            Self::Attack(attack) => !attack.is_dishonest(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Honest => f.write_str("honest"),
            Self::Attack(attack) => attack.fmt(f),
        }
    }
}

impl FromStr for Role {
    type Err = tessera_adversary::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "honest" { Ok(Self::Honest) } else { text.parse().map(Self::Attack) }
    }
}
