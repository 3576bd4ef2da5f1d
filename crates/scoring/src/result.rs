//! The per-round record that goes into the round manifest: scores, rewards, flags with evidence, slashes.

use crate::{Metrics, WorkerId};
use serde::{Deserialize, Serialize};

/// Everything the scorer decided about one round, in worker order. Serialised into the round manifest, so
/// token amounts are decimal strings (JSON numbers lose precision past 2^53).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundResult {
    /// The round.
    pub round: u64,
    /// The strategy's name.
    pub strategy: String,
    /// The round's reward in token base units.
    #[serde(with = "u128_text")]
    pub reward: u128,
    /// The part of the reward nobody earned (all scores zero); it stays in the pool. Otherwise 0, and the
    /// workers' rewards sum to exactly [`Self::reward`].
    #[serde(with = "u128_text")]
    pub unallocated: u128,
    /// SHA-256 of the aggregate step's little-endian f32 bytes, hex; `None` when nothing was aggregated.
    pub aggregate_sha256: Option<String>,
    /// Validation metrics of the new global model, when an evaluator was given.
    pub metrics: Option<Metrics>,
    /// One entry per worker that submitted, failed or was expected, in worker order.
    pub workers: Vec<WorkerOutcome>,
    /// Everything suspicious, in worker order.
    pub flags: Vec<Flag>,
    /// Stake to take, at most one per worker, in worker order.
    pub slashes: Vec<Slash>,
}

/// What happened to one worker's contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerStatus {
    /// The update went into the aggregate.
    Aggregated,
    /// The update was left out: flagged before aggregation, or not selected by the strategy (Multi-Krum).
    Excluded,
    /// The worker's reputation fell below the bar in an earlier round; its update was ignored.
    Removed,
    /// The worker reported a failure instead of an update.
    Failed,
    /// The worker was expected and sent nothing.
    NoShow,
}

/// One worker's numbers for the round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerOutcome {
    /// The worker.
    pub worker: WorkerId,
    /// What happened to its update.
    pub status: WorkerStatus,
    /// Training samples it reported (0 without an update).
    pub num_samples: u64,
    /// Its receipt sequence number, if it submitted.
    pub receipt: Option<u64>,
    /// The L2 norm of its update.
    pub norm: Option<f64>,
    /// RFFL's `phi`: the cosine between its update and the aggregate.
    pub cosine: Option<f64>,
    /// The cosine between its update and the sum of the round's other candidate updates as unit vectors:
    /// agreement with the others, for the noise test and the score.
    pub cosine_to_others: Option<f64>,
    /// Its reputation after this round (normalised over the active workers).
    pub reputation: Option<f64>,
    /// Its FedAU participation weight this round.
    pub participation_weight: Option<f64>,
    /// The leave-one-out validation signal, when an evaluator was given.
    pub validation: Option<LeaveOneOut>,
    /// The contribution score in `[0, 1]`; the scores of the round sum to 1 (up to rounding) unless nobody
    /// earned anything.
    pub score: f64,
    /// The score in fixed-point units ([`crate::SCORE_SCALE`] per 1.0) that the reward split uses.
    pub score_units: u64,
    /// Its reward in token base units.
    #[serde(with = "u128_text")]
    pub reward: u128,
}

/// The validation loss and accuracy of the aggregate without one worker's update.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaveOneOut {
    /// Loss of the aggregate built without this update.
    pub loss_without: f64,
    /// Accuracy of the aggregate built without this update.
    pub accuracy_without: f64,
    /// `loss_without - loss_with`: positive when the update helped.
    pub loss_gain: f64,
    /// `accuracy_with - accuracy_without`: positive when the update helped.
    pub accuracy_gain: f64,
}

/// Why a worker is flagged or slashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reason {
    /// Sent nothing useful: a (near) zero update or noise.
    FreeRider,
    /// Sent an update that works against the others or the validation loss.
    Poisoning,
    /// Sent a (near) copy of another worker's update of the same round, received later.
    Copy,
    /// Was expected and sent nothing, or reported a failure.
    NoShow,
}

/// The numbers behind a flag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Nearly identical to an update received earlier.
    NearCopy {
        /// The worker whose update it copies.
        original: WorkerId,
        /// Cosine similarity of the two updates.
        cosine: f64,
        /// `|a - b| / max(|a|, |b|)`.
        relative_distance: f64,
        /// The original's receipt.
        original_receipt: u64,
        /// The copy's receipt.
        receipt: u64,
    },
    /// Norm far below the round's median.
    TinyNorm {
        /// The update's norm.
        norm: f64,
        /// The round's median norm.
        median_norm: f64,
        /// The configured bar, as a fraction of the median.
        min_ratio: f64,
    },
    /// Cosine to the other workers' updates near zero or negative on average over recent rounds.
    Uncorrelated {
        /// Mean cosine over the window.
        mean_cosine: f64,
        /// Rounds in the window.
        rounds: u32,
        /// The bar, `min(noise_z / sqrt(d), max_noise_bar)`.
        max_cosine: f64,
    },
    /// RFFL reputation below `fraction / |R|`; the worker is removed from later rounds.
    LowReputation {
        /// The reputation that fell below the bar.
        reputation: f64,
        /// The bar.
        threshold: f64,
        /// The `phi` of this round's update (0 for an update excluded before aggregating).
        cosine: f64,
    },
    /// Including the update made the aggregate's validation loss markedly worse.
    ValidationHarm {
        /// Loss with the update.
        loss_with: f64,
        /// Loss without it.
        loss_without: f64,
        /// `(loss_with - loss_without) / loss_without`.
        relative_increase: f64,
        /// The configured bar.
        threshold: f64,
    },
    /// Expected this round, sent nothing.
    Missing,
    /// Reported a failure.
    Failed {
        /// What it reported.
        reason: String,
    },
}

/// A worker flagged in a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// The worker.
    pub worker: WorkerId,
    /// The category.
    pub reason: Reason,
    /// The numbers.
    pub evidence: Evidence,
}

/// Stake to take from a worker, as a fraction of its stake; the caller converts it to tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slash {
    /// The worker.
    pub worker: WorkerId,
    /// The reason (the one with the largest penalty among its flags).
    pub reason: Reason,
    /// The fraction of stake in basis points (1/10,000).
    pub bps: u16,
}

/// Serde for `u128` as a decimal string.
pub(crate) mod u128_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}
