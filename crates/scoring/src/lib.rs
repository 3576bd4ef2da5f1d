//! Contribution scoring and robust aggregation for Tessera, on flat `f32` updates: no I/O, no libtorch.
//!
//! - [`Strategy`] is Flower's strategy trait (`configure`, a pure `aggregate(results, failures)`, `commit`,
//!   `evaluate`), implemented by [`FedAvg`], [`ReputationFedAvg`], [`Median`], [`TrimmedMean`] and
//!   [`MultiKrum`], and wrapped by [`NormClip`] (clipping) and [`FedAdam`] (server optimiser).
//! - [`Scorer::score_round`] runs a round:
//!   1. It screens the updates: copies and replays in any disguise ([`find_copies`]: an update almost wholly
//!      in the span of the round's earlier receipts and the remembered earlier rounds, [`UpdateHistory`], or
//!      matching one of them far beyond the round's common direction, as a copy under noise does), free-riders (tiny norms), and updates whose cosine to the others stays within chance of zero, or below
//!      it, over rounds.
//!   2. It aggregates the rest with FedAU participation weights ([`ParticipationTracker`]), reputations and
//!      sample claims capped at a multiple of the round's median claim.
//!   3. It updates RFFL reputations ([`ReputationBook`]) and asks the caller's [`Evaluator`] for each
//!      update's validation gain (the global model stepped by that update alone, at its weight in the mean,
//!      clipped to the round's median norm); a gain far below the round's spread, three rounds running, is poisoning.
//!   4. It aggregates again without anything flagged on the way.
//!   5. It scores each update in the aggregate that agrees with the others from evidence alone: its length
//!      along the others' direction (clipped to the median norm) times reputation times participation
//!      frequency, and nothing for an update whose validation gain falls below the round's harm bar. No claim
//!      a worker makes enters its pay.
//!
//!   It returns a serialisable [`RoundResult`]: scores, exact integer reward shares ([`split_reward`]),
//!   flags with evidence, and slashes.
//! - [`privacy`] makes a round's aggregate differentially private, DP-FedAvg style: [`privacy::private_mean`] clips,
//!   averages and adds seeded Gaussian noise, and [`privacy::epsilon`] accounts for the rounds.
//!
//! # Memory
//!
//! The scorer never holds a round's updates at once. It reads them through [`Updates`] (in memory for tests and
//! simulations, files for the coordinator) a block of coordinates at a time, every update's block together, at
//! most [`BLOCK_BYTES`] a block, and whole only one at a time for a validation pass. Its own memory per update
//! is a sketch and a few numbers; the pairs of a round too large for every pair's dot product come from
//! sketches and are confirmed exactly on candidates.
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
//! - rewards are integer arithmetic on scores quantised to [`SCORE_SCALE`] units;
//! - sums over coordinates carry their partial sums from one block of coordinates to the next, so the block
//!   size never shows in a result.
//!
//! The validation signal is as deterministic as the caller's evaluator.

mod error;
#[cfg(any(test, feature = "test-utils"))]
pub mod mock;
pub mod privacy;
mod result;
mod rewards;
mod scoring;
mod strategy;
mod types;
mod updates;
pub mod vector;

pub use error::{Error, Result};
pub use result::{Evidence, Flag, Reason, RoundResult, Slash, ValidationGain, WorkerOutcome, WorkerStatus};
pub use rewards::{SCORE_SCALE, quantise_score, split_reward};
pub use scoring::{
    CopyBars, CopyCheck, CosineHistory, Evaluator, HistoryEntry, Intervals, ParticipationTracker, Removal,
    ReputationBook, ReputationEntry, RoundInput, RoundOutcome, SKETCH_DIM, Scorer, ScorerState, ScoringConfig, Sketch,
    SlashPolicy, Source, StepTimings, Submission, UpdateHistory, apply, digest, is_tiny,
};
pub use strategy::{
    ClipBound, FedAdam, FedAvg, MAX_KRUM_WORK, Median, MultiKrum, NormClip, ReputationFedAvg, Strategy, StrategyKind,
    StrategySpec, TrimmedMean, check_krum_size, clip_to_norm, krum_scores,
};
pub use types::{Aggregate, Failure, FitResult, Metrics, RoundConfig, WorkerId};
pub use updates::{BLOCK_BYTES, Updates};
