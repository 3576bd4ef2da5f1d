//! Contribution scoring and robust aggregation for Tessera, on flat `f32` updates: no I/O, no libtorch.
//!
//! - [`Strategy`] is Flower's strategy trait (`configure`, a pure `aggregate(results, failures)`, `commit`,
//!   `evaluate`), implemented by [`FedAvg`], [`ReputationFedAvg`], [`Median`], [`TrimmedMean`] and
//!   [`MultiKrum`], and wrapped by [`NormClip`] (clipping) and [`FedAdam`] (server optimiser).
//! - [`Scorer::score_round`] runs a round:
//!   1. It screens the updates: copies ([`find_copies`]; the later receipt is the copy), free-riders (tiny
//!      norms), and updates whose cosine to the others stays within chance of zero, or below it, over
//!      rounds.
//!   2. It aggregates the rest with FedAU participation weights ([`ParticipationTracker`]) and reputations.
//!   3. It updates RFFL reputations ([`ReputationBook`]) and asks the caller's [`Evaluator`] for the
//!      leave-one-out validation signal.
//!   4. It aggregates again without anything flagged on the way.
//!   5. It scores each update in the aggregate that agrees with the others: its share of samples times
//!      reputation, blended with its share of the positive leave-one-out loss gain.
//!
//!   It returns a serialisable [`RoundResult`]: scores, exact integer reward shares ([`split_reward`]),
//!   flags with evidence, and slashes.
//!
//! # Determinism
//!
//! Same inputs give the same bits on every machine:
//!
//! - workers are processed in id order;
//! - reductions run in f64 in a fixed order ([`vector`]), and maps are `BTreeMap`s;
//! - order statistics compare integer keys, and their sums follow worker order, never the order a selection
//!   algorithm leaves;
//! - the only maths beyond `+ - * /` is the correctly rounded `sqrt`;
//! - rewards are integer arithmetic on scores quantised to [`SCORE_SCALE`] units.
//!
//! The validation signal is as deterministic as the caller's evaluator.

mod error;
#[cfg(any(test, feature = "test-utils"))]
pub mod mock;
mod result;
mod rewards;
mod scoring;
mod strategy;
mod types;
pub mod vector;

pub use error::{Error, Result};
pub use result::{Evidence, Flag, LeaveOneOut, Reason, RoundResult, Slash, WorkerOutcome, WorkerStatus};
pub use rewards::{SCORE_SCALE, quantise_score, split_reward};
pub use scoring::{
    CopyOf, CosineHistory, Evaluator, Intervals, ParticipationTracker, Removal, ReputationBook, ReputationEntry,
    RoundInput, RoundOutcome, Scorer, ScorerState, ScoringConfig, SlashPolicy, Submission, apply, digest, find_copies,
    is_tiny, leave_one_out,
};
pub use strategy::{
    ClipBound, FedAdam, FedAvg, Median, MultiKrum, NormClip, ReputationFedAvg, Strategy, TrimmedMean, clip_to_norm,
    krum_scores,
};
pub use types::{Aggregate, Failure, FitResult, Metrics, RoundConfig, WorkerId};
