//! The per-round record that goes into the round manifest: scores, rewards, flags with evidence, slashes.

use crate::{Metrics, Source, WorkerId};
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// The part of its update outside the span of what it could have copied (1: all new), for the copy test.
    pub residual: Option<f64>,
    /// The largest cosine between its update and one received earlier in the round, with the round's common
    /// direction taken out of both (on the exact updates), for the copy test.
    #[serde(default)]
    pub partial_cosine: Option<f64>,
    /// The same against the remembered updates of other workers and global changes of earlier rounds (on
    /// sketches).
    #[serde(default)]
    pub history_partial_cosine: Option<f64>,
    /// The cosine to the others of what is left of its update beyond its closest updates of the round, for the
    /// copy test (the smallest over the sets of closest updates tried).
    #[serde(default)]
    pub beyond_cosine: Option<f64>,
    /// What its update alone does on the validation set, when an evaluator was given.
    pub validation: Option<ValidationGain>,
    /// The contribution score in `[0, 1]`; the scores of the round sum to 1 (up to rounding) unless nobody
    /// earned anything.
    pub score: f64,
    /// The score in fixed-point units ([`crate::SCORE_SCALE`] per 1.0) that the reward split uses.
    pub score_units: u64,
    /// Its reward in token base units.
    #[serde(with = "u128_text")]
    pub reward: u128,
}

/// What one update does for the global model on the requester's validation set: the model is stepped by the
/// update at the weight it has in the round's mean (clipped to the round's median norm, divided by the number
/// of updates aggregated) and evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationGain {
    /// The factor the update was multiplied by: `min(1, median_norm / norm) / aggregated`.
    pub step_scale: f64,
    /// Validation loss of the stepped model.
    pub loss_with: f64,
    /// Validation accuracy of the stepped model.
    pub accuracy_with: f64,
    /// `loss(global) - loss_with`: positive when the update helps.
    pub loss_gain: f64,
    /// `accuracy_with - accuracy(global)`.
    pub accuracy_gain: f64,
}

/// Why a worker is flagged or slashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reason {
    /// Sent nothing useful: a (near) zero update or noise.
    FreeRider,
    /// Sent an update that works against the others or the validation loss.
    Poisoning,
    /// Sent a copy (scaled, noised, sparsified or mixed) of updates received earlier or of earlier rounds'
    /// public updates and global changes.
    Copy,
    /// Was expected and sent nothing, or reported a failure.
    NoShow,
}

/// The numbers behind a flag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Almost all of the update lies in the span of what came before it.
    Copied {
        /// The single earlier vector closest to it.
        source: Source,
        /// Its absolute cosine to that vector.
        cosine: f64,
        /// The part of the update outside the span of everything earlier, as a fraction of its norm.
        residual: f64,
        /// The residual at or below which an update was a copy this round.
        max_residual: f64,
        /// The round's median residual, which the bar follows.
        median_residual: f64,
        /// The copy's receipt.
        receipt: u64,
    },
    /// Beyond the direction every update of the round shares, it matches one earlier vector far more closely
    /// than honest updates match each other: a copy under noise.
    SharedBeyondCommon {
        /// The earlier vector it matches.
        source: Source,
        /// The absolute cosine of the two with the round's common direction taken out of both.
        partial_cosine: f64,
        /// The partial cosine at or above which an update was a copy this round.
        bar: f64,
        /// The round's median partial cosine, which the bar follows.
        median_partial_cosine: f64,
        /// The copy's receipt.
        receipt: u64,
    },
    /// What is left of it beyond another update of the round agrees with the others no better than chance: it
    /// adds nothing of its own to that update, only noise. A copy under noise of any size.
    NothingBeyond {
        /// The update of the round it adds nothing to.
        source: Source,
        /// The cosine of what is left of it beyond that update to the sum of the other updates' unit vectors.
        cosine: f64,
        /// The cosine at or below which an update added nothing this round: chance, or a quarter of the
        /// round's median if lower.
        bar: f64,
        /// The round's median of that cosine, which honest work sets.
        median_cosine: f64,
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
    /// The update made the validation loss worse, far outside the spread of the round's updates, in
    /// consecutive rounds.
    ValidationHarm {
        /// Its validation gain this round (negative: harm).
        loss_gain: f64,
        /// The round's median gain.
        median_gain: f64,
        /// The robust standard deviation of the round's gains (1.4826 x the median absolute deviation).
        spread: f64,
        /// The bar, `median_gain - harm_z x spread` (and below zero).
        bar: f64,
    },
    /// Expected this round, sent nothing.
    Missing,
    /// Reported a failure.
    Failed {
        /// What it reported.
        reason: String,
    },
}

/// Why a flag was raised, in a sentence with the numbers and the round's bar it was measured against.
impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Copied { source, cosine, residual, max_residual, median_residual, receipt } => write!(
                f,
                "copy of {source}: only {residual:.3} of it lies outside what was received before it (receipt \
                 #{receipt}), at or below the round's bar {max_residual:.3} (median {median_residual:.3}); \
                 cosine {cosine:.4} to that source"
            ),
            Self::SharedBeyondCommon { source, partial_cosine, bar, median_partial_cosine, receipt } => write!(
                f,
                "noised copy of {source}: beyond the round's common direction it matches it with cosine \
                 {partial_cosine:.3} (receipt #{receipt}), at or above the round's bar {bar:.3} (median \
                 {median_partial_cosine:.3})"
            ),
            Self::NothingBeyond { source, cosine, bar, median_cosine, receipt } => write!(
                f,
                "noised copy of {source}: what is left of it beyond that update agrees with the other updates with \
                 cosine {cosine:.4} (receipt #{receipt}), at or below the round's bar {bar:.4} (chance, or a \
                 quarter of the round's median {median_cosine:.4}): it adds only noise to it"
            ),
            Self::TinyNorm { norm, median_norm, min_ratio } => {
                write!(f, "an update of norm {norm:.3e}, below {min_ratio} of the round's median norm {median_norm:.3}")
            }
            Self::Uncorrelated { mean_cosine, rounds, max_cosine } if *mean_cosine < -max_cosine => write!(
                f,
                "it opposes the other workers' updates: its mean cosine to them over {rounds} rounds is \
                 {mean_cosine:.4}, beyond the chance level {max_cosine:.4} below zero"
            ),
            Self::Uncorrelated { mean_cosine, rounds, max_cosine } => write!(
                f,
                "its mean cosine to the other workers' updates over {rounds} rounds is {mean_cosine:.4}, within \
                 the chance level {max_cosine:.4} of zero"
            ),
            Self::LowReputation { reputation, threshold, cosine } => write!(
                f,
                "reputation {reputation:.4} fell below {threshold:.4} (cosine to the aggregate this round \
                 {cosine:.4})"
            ),
            Self::ValidationHarm { loss_gain, median_gain, spread, bar } => write!(
                f,
                "its update changed the validation loss by {:.4} (a gain of {loss_gain:.4}), below the round's \
                 bar {bar:.4} (median gain {median_gain:.4}, spread {spread:.4}), in consecutive rounds",
                -loss_gain
            ),
            Self::Missing => f.write_str("expected this round, sent nothing"),
            Self::Failed { reason } => write!(f, "reported a failure: {reason}"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_says_why_against_the_rounds_bar_and_reads_back_from_the_manifest() {
        let evidence = Evidence::Copied {
            source: Source::Update { worker: WorkerId::new("0xab"), round: 3 },
            cosine: 0.99991,
            residual: 0.0123,
            max_residual: 0.4512,
            median_residual: 0.6446,
            receipt: 7,
        };
        let text = serde_json::to_value(&evidence).unwrap();
        assert_eq!(text["kind"], "copied");
        let back: Evidence = serde_json::from_value(text).unwrap();
        assert_eq!(
            back.to_string(),
            "copy of 0xab's update of round 3: only 0.012 of it lies outside what was received before it \
             (receipt #7), at or below the round's bar 0.451 (median 0.645); cosine 0.9999 to that source"
        );
        let harm = Evidence::ValidationHarm { loss_gain: -0.02, median_gain: 0.01, spread: 0.002, bar: -0.008 };
        assert!(harm.to_string().contains("by 0.0200 (a gain of -0.0200), below the round's bar -0.0080"));
        let opposed = Evidence::Uncorrelated { mean_cosine: -0.4, rounds: 3, max_cosine: 0.005 };
        assert!(opposed.to_string().starts_with("it opposes the other workers' updates"), "{opposed}");
        let noise = Evidence::Uncorrelated { mean_cosine: 0.001, rounds: 3, max_cosine: 0.005 };
        assert!(noise.to_string().ends_with("within the chance level 0.0050 of zero"), "{noise}");
    }
}
