use crate::{Error, Reason, Result};
use serde::{Deserialize, Serialize};

/// The scorer's knobs. [`Default`] gives the values the design names (a = 0.95, removal below a third of the
/// mean reputation, FedAU cap 50).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoringConfig {
    /// RFFL's `a` in `r <- a r + (1 - a) phi`, in `[0, 1)`.
    pub reputation_decay: f64,
    /// A worker whose normalised reputation falls below `removal_fraction / |R|` is removed (RFFL: 1/3).
    pub removal_fraction: f64,
    /// Copy detection: an update whose part outside the span of what its sender could have seen (this round's
    /// earlier receipts, the remembered rounds), as a fraction of its norm, is at most the round's bar is a copy,
    /// whatever its scale, sign or mixture. Honest updates keep most of their norm outside that span (their own
    /// data). The bar is [`Self::copy_residual_fraction`] of the round's median residual, within
    /// `[copy_min_residual, copy_max_residual]`: it follows the spread of the round's own updates.
    pub copy_max_residual: f64,
    /// The least the copy bar can be.
    pub copy_min_residual: f64,
    /// The copy bar as a fraction of the round's median residual.
    pub copy_residual_fraction: f64,
    /// Copy detection on the copy's own nonzero coordinates: a cosine at least this to an earlier update of
    /// the round makes a sparsified copy.
    pub copy_min_support_cosine: f64,
    /// Copies under noise: an update whose cosine to an earlier update of the round, with the round's common
    /// direction taken out of both, is at least this (on the exact updates; against earlier rounds' sketches,
    /// this plus five times the sketches' error, `5 / sqrt(SKETCH_DIM)`)...
    pub copy_min_partial_cosine: f64,
    /// ...and at least this multiple of the round's median such cosine, is a copy.
    pub copy_partial_median_multiple: f64,
    /// Rounds of updates and global changes remembered (as sketches) to catch replays.
    pub history_rounds: u32,
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
    /// Poisoning by evidence: an update whose validation gain is negative and below the round's median gain
    /// by more than this many robust standard deviations (1.4826 x the median absolute deviation) of the
    /// round's gains, in [`Self::harm_rounds`] consecutive rounds the worker took part in, is flagged. The bar
    /// follows the spread of the round's own updates, so data that differ from the validation set's mix are
    /// not a verdict.
    pub harm_z: f64,
    /// Consecutive harmful rounds before a harm flag.
    pub harm_rounds: u32,
    /// Validation at a bounded cost: a round with more updates than this evaluates this many (the half that
    /// agrees least with the others, where harm is likeliest, and a uniform sample of the rest, whose gains set
    /// the round's harm bar); the others pass the harm test unmeasured that round. Each evaluation is a pass over
    /// the validation set.
    pub max_validated: u32,
    /// A claimed sample count above this multiple of the round's median claim counts as that multiple in
    /// sample-weighted aggregation (FedAvg). Claims never enter pay.
    pub claim_cap_multiple: f64,
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
            copy_max_residual: 0.65,
            copy_min_residual: 0.25,
            copy_residual_fraction: 0.7,
            copy_min_support_cosine: 0.97,
            copy_min_partial_cosine: 0.2,
            copy_partial_median_multiple: 2.5,
            history_rounds: 2,
            min_norm_ratio: 0.1,
            noise_z: 4.0,
            max_noise_bar: 0.2,
            noise_min_rounds: 3,
            cosine_window: 5,
            harm_z: 4.0,
            harm_rounds: 3,
            max_validated: 32,
            claim_cap_multiple: 2.0,
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
        unit("copy_max_residual", self.copy_max_residual, true)?;
        unit("copy_min_residual", self.copy_min_residual, true)?;
        unit("copy_residual_fraction", self.copy_residual_fraction, true)?;
        if self.copy_min_residual > self.copy_max_residual {
            return Err(Error::Config("copy_min_residual must not exceed copy_max_residual".into()));
        }
        unit("copy_min_support_cosine", self.copy_min_support_cosine, true)?;
        unit("copy_min_partial_cosine", self.copy_min_partial_cosine, true)?;
        if self.copy_partial_median_multiple.is_nan() || self.copy_partial_median_multiple < 1.0 {
            return Err(Error::Config("copy_partial_median_multiple must be at least 1".into()));
        }
        unit("min_norm_ratio", self.min_norm_ratio, true)?;
        unit("max_noise_bar", self.max_noise_bar, true)?;
        if self.claim_cap_multiple.is_nan() || self.claim_cap_multiple < 1.0 {
            return Err(Error::Config("claim_cap_multiple must be at least 1".into()));
        }
        if self.noise_z.is_nan() || self.noise_z < 0.0 {
            return Err(Error::Config("noise_z must be non-negative".into()));
        }
        if self.harm_z.is_nan() || self.harm_z < 0.0 {
            return Err(Error::Config("harm_z must be non-negative".into()));
        }
        if self.harm_rounds == 0
            || self.max_validated < 2
            || self.participation_cap == 0
            || self.cosine_window == 0
            || self.noise_min_rounds > self.cosine_window
        {
            return Err(Error::Config(
                "harm_rounds, participation_cap and cosine_window >= 1, max_validated >= 2, noise_min_rounds <= window"
                    .into(),
            ));
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
