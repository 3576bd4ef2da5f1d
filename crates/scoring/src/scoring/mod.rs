//! Contribution scoring: RFFL reputation, the leave-one-out validation signal, copy and free-rider
//! detection and FedAU participation weights, combined round by round in [`Scorer`].

mod config;
mod copies;
mod free_rider;
mod judge;
mod outcome;
mod participation;
mod reputation;
mod round;
mod scorer;
mod screen;
mod validation;

pub use config::{ScoringConfig, SlashPolicy};
pub use copies::{CopyOf, find_copies};
pub use free_rider::{CosineHistory, is_tiny};
pub use outcome::digest;
pub use participation::{Intervals, ParticipationTracker};
pub use reputation::{Removal, ReputationBook, ReputationEntry};
pub use scorer::{RoundInput, RoundOutcome, Scorer, ScorerState, Submission};
pub use validation::{Evaluator, apply, leave_one_out};

/// The median of `values` (mean of the middle two for an even count; 0 when empty).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
