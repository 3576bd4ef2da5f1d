//! Contribution scoring: each update's validation gain, RFFL reputation, FedAU participation, and copy,
//! replay and free-rider detection, combined round by round in [`Scorer`].

mod config;
mod copies;
mod free_rider;
mod history;
mod judge;
mod outcome;
mod participation;
mod reputation;
mod round;
mod scorer;
mod screen;
mod sketch;
mod validation;

pub use config::{ScoringConfig, SlashPolicy};
pub(crate) use copies::find_copies;
pub use copies::{CopyBars, CopyCheck};
pub use free_rider::{CosineHistory, is_tiny};
pub use history::{HistoryEntry, Source, UpdateHistory};
pub use outcome::digest;
pub use participation::{Intervals, ParticipationTracker};
pub use reputation::{Removal, ReputationBook, ReputationEntry};
pub use scorer::{RoundInput, RoundOutcome, Scorer, ScorerState, StepTimings, Submission};
pub use sketch::{SKETCH_DIM, Sketch};
pub use validation::{Evaluator, apply};

/// The median of `values` (mean of the middle two for an even count; 0 when empty).
pub(crate) fn median(values: &[f64]) -> f64 {
    median_in_place(&mut values.to_vec())
}

/// [`median`] of a scratch buffer, which it reorders: for medians taken once per coordinate. Selects the
/// middle values rather than sorting, which picks the same values as a sort would.
pub(crate) fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    let lower = below.iter().copied().max_by(f64::total_cmp).expect("an even count has values below the middle");
    (lower + upper) / 2.0
}

/// The median of `values` and its robust standard deviation, 1.4826 times the median absolute deviation
/// (the standard deviation for normal data, unmoved by a minority of outliers).
pub(crate) fn median_and_spread(values: &[f64]) -> (f64, f64) {
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    (center, 1.4826 * median(&deviations))
}
