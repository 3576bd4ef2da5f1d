use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// Simulated federated training on MNIST: honest and adversarial workers train LeNet locally, and
/// tessera-scoring aggregates, scores, rewards and flags them round by round.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  tessera-sim --rounds 5\n  tessera-sim --strategy median --partition dirichlet --alpha 0.5\n  \
                  tessera-sim --adversaries sign-flip,copycat --json rounds.jsonl\n  \
                  tessera-sim --adversaries honest --data-weights 1,1,1,2,2,2,4,4,4,4"
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
    /// Roles of the last workers, comma-separated (the others are honest).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "free-rider,sign-flip,noise,label-flip,copycat,copycat-noisy,intermittent"
    )]
    pub adversaries: Vec<Role>,
    /// The aggregation strategy.
    #[arg(long, value_enum, default_value_t = StrategyKind::TrimmedMean)]
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
    /// Standard deviation per coordinate of the noise worker's update.
    #[arg(long, default_value_t = 0.01)]
    pub noise_std: f64,
    /// The intermittent worker takes part every this many rounds.
    #[arg(long, default_value_t = 3)]
    pub intermittent_every: u64,
    /// Round reward in whole tokens (18 decimals).
    #[arg(long, default_value_t = 1000)]
    pub reward_tokens: u64,
    /// libtorch threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The MNIST IDX folder (default: the cache that `make setup` fills).
    #[arg(long, env = "TESSERA_MNIST_DIR")]
    pub mnist_dir: Option<PathBuf>,
    /// Write each round's result (the manifest record) as one JSON line to this file.
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

/// What a worker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Trains and sends its update.
    Honest,
    /// Sends a (near) zero update without training.
    FreeRider,
    /// Trains and sends the negated update.
    SignFlip,
    /// Sends Gaussian noise.
    Noise,
    /// Trains on labels mapped y -> 9 - y.
    LabelFlip,
    /// Sends a copy of worker 0's update, after it.
    Copycat,
    /// Sends worker 0's update plus noise of 1% of its norm, after it.
    CopycatNoisy,
    /// Honest, but takes part only every `--intermittent-every` rounds.
    Intermittent,
}

/// The aggregation strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StrategyKind {
    /// Sample-weighted FedAvg.
    Fedavg,
    /// Reputation-weighted FedAvg (RFFL).
    Reputation,
    /// Coordinate-wise median.
    Median,
    /// Coordinate-wise trimmed mean.
    TrimmedMean,
    /// Multi-Krum.
    Krum,
}
