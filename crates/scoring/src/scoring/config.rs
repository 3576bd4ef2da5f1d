use crate::{Error, Reason, Result};
use serde::{Deserialize, Serialize};

/// The scorer's knobs. [`Default`] gives the values the design names (a = 0.95, removal below a third of the
/// mean reputation, FedAU cap 50).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoringConfig {
    /// RFFL's `a` in `r <- a r + (1 - a) phi`, in `[0, 1)`.
    pub reputation_decay: f64,
    /// A worker whose normalised reputation falls below `removal_fraction / |R|` is removed (RFFL: 1/3).
    pub removal_fraction: f64,
    /// Copy detection: cosine above this...
    pub copy_min_cosine: f64,
    /// ...and relative L2 distance `|a - b| / max(|a|, |b|)` below this make the later update a copy.
    pub copy_max_relative_distance: f64,
    /// An update whose norm is below this fraction of the round's median norm is a free-rider's.
    pub min_norm_ratio: f64,
    /// The noise test: a worker whose mean cosine to the other workers' updates (their unit vectors summed,
    /// its own left out) over [`Self::cosine_window`] rounds stays at or below `noise_z / sqrt(d)` is flagged,
    /// `d` being the number of parameters: as a free-rider when the mean lies within that bound of zero, else
    /// (below minus the bound) for poisoning. A vector drawn independently of the others has a cosine of
    /// about `N(0, 1/d)`, so this is a z-score bar that adapts to the model size; honest updates stay well
    /// above it even late in training, when they agree with each other only weakly.
    pub noise_z: f64,
    /// The most that bar can be, for small models where `noise_z / sqrt(d)` would exceed any real agreement.
    pub max_noise_bar: f64,
    /// Rounds of cosine history needed before that test applies.
    pub noise_min_rounds: u32,
    /// Rounds of cosine history kept per worker.
    pub cosine_window: u32,
    /// Flag poisoning when including an update raises the aggregate's validation loss by more than this
    /// fraction (leave-one-out); `None` turns the test off.
    pub harm_threshold: Option<f64>,
    /// The harm test applies only to aggregates of at least this many updates: in smaller ones, one
    /// update against another is noise.
    pub harm_min_included: usize,
    /// Weight of the validation signal in the score, in `[0, 1]`; the rest is samples times reputation, for
    /// updates that agree with the others. A quarter: one round's leave-one-out gain is noisy (a robust
    /// aggregate hardly moves without any single update), so it tilts rewards rather than setting them.
    pub validation_weight: f64,
    /// FedAU's cap `K` on a participation interval, in rounds.
    pub participation_cap: u32,
    /// Penalties per reason.
    pub slash: SlashPolicy,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            reputation_decay: 0.95,
            removal_fraction: 1.0 / 3.0,
            copy_min_cosine: 0.99,
            copy_max_relative_distance: 0.1,
            min_norm_ratio: 0.1,
            noise_z: 4.0,
            max_noise_bar: 0.2,
            noise_min_rounds: 3,
            cosine_window: 5,
            harm_threshold: Some(0.05),
            harm_min_included: 3,
            validation_weight: 0.25,
            participation_cap: 50,
            slash: SlashPolicy::default(),
        }
    }
}

impl ScoringConfig {
    /// Checks every value's range.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f64, closed: bool| {
            let ok = if closed { (0.0..=1.0).contains(&v) } else { (0.0..1.0).contains(&v) };
            if ok { Ok(()) } else { Err(Error::Config(format!("{name} = {v} is out of range"))) }
        };
        unit("reputation_decay", self.reputation_decay, false)?;
        unit("removal_fraction", self.removal_fraction, true)?;
        unit("copy_min_cosine", self.copy_min_cosine, true)?;
        unit("min_norm_ratio", self.min_norm_ratio, true)?;
        unit("validation_weight", self.validation_weight, true)?;
        unit("max_noise_bar", self.max_noise_bar, true)?;
        if self.copy_max_relative_distance.is_nan() || self.copy_max_relative_distance < 0.0 {
            return Err(Error::Config("copy_max_relative_distance must be non-negative".into()));
        }
        if self.noise_z.is_nan() || self.noise_z < 0.0 {
            return Err(Error::Config("noise_z must be non-negative".into()));
        }
        if self.harm_threshold.is_some_and(|t| t.is_nan() || t < 0.0) {
            return Err(Error::Config("harm_threshold must be non-negative".into()));
        }
        if self.participation_cap == 0 || self.cosine_window == 0 || self.noise_min_rounds > self.cosine_window {
            return Err(Error::Config("participation_cap and cosine_window >= 1, noise_min_rounds <= window".into()));
        }
        self.slash.validate()
    }
}

/// Stake taken per reason, in basis points of the worker's stake (0 takes nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashPolicy {
    /// For free-riding.
    pub free_rider_bps: u16,
    /// For poisoning.
    pub poisoning_bps: u16,
    /// For copying.
    pub copy_bps: u16,
    /// For not delivering an update the worker was due to send.
    pub no_show_bps: u16,
}

impl Default for SlashPolicy {
    fn default() -> Self {
        Self { free_rider_bps: 1_000, poisoning_bps: 5_000, copy_bps: 5_000, no_show_bps: 100 }
    }
}

impl SlashPolicy {
    /// The penalty for `reason`.
    pub fn bps(&self, reason: Reason) -> u16 {
        match reason {
            Reason::FreeRider => self.free_rider_bps,
            Reason::Poisoning => self.poisoning_bps,
            Reason::Copy => self.copy_bps,
            Reason::NoShow => self.no_show_bps,
        }
    }

    fn validate(&self) -> Result<()> {
        let max = [self.free_rider_bps, self.poisoning_bps, self.copy_bps, self.no_show_bps].into_iter().max();
        if max.unwrap_or(0) > 10_000 {
            return Err(Error::Config("a slash cannot exceed 10000 bps".into()));
        }
        Ok(())
    }
}
