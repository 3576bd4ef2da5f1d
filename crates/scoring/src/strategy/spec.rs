//! The strategy as configuration names it: one spelling for the coordinator's config, the round manifest,
//! `verify` and the simulation, which all build their strategy from it.

use super::{ClipBound, FedAdam, FedAvg, Median, MultiKrum, NormClip, ReputationFedAvg, Strategy, TrimmedMean};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// The base aggregation rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Sample-weighted FedAvg (claims capped by the scorer).
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

impl StrategyKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [Self::Fedavg, Self::Reputation, Self::Median, Self::TrimmedMean, Self::Krum];

    /// Its name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fedavg => "fedavg",
            Self::Reputation => "reputation",
            Self::Median => "median",
            Self::TrimmedMean => "trimmed-mean",
            Self::Krum => "krum",
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StrategyKind {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == text).ok_or_else(|| {
            Error::Config(format!("unknown strategy {text:?} (fedavg, reputation, median, trimmed-mean, krum)"))
        })
    }
}

/// How updates are aggregated: a base strategy, optionally inside a FedAdam server optimiser, optionally
/// inside norm clipping (`NormClip(FedAdam(base))`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// The base rule.
    pub kind: StrategyKind,
    /// Trimmed mean's fraction cut from each end.
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Multi-Krum's tolerated Byzantine workers.
    #[serde(default = "default_krum_f")]
    pub krum_f: usize,
    /// Clip updates to this multiple of the round's median norm; 0 turns clipping off.
    #[serde(default = "default_clip_multiple")]
    pub clip_multiple: f64,
    /// A FedAdam server learning rate (b1 0.9, b2 0.99, tau 1e-3); 0 turns the server optimiser off.
    #[serde(default)]
    pub server_adam: f64,
}

fn default_beta() -> f64 {
    0.2
}

fn default_krum_f() -> usize {
    2
}

fn default_clip_multiple() -> f64 {
    2.0
}

impl Default for StrategySpec {
    /// The trimmed mean inside 2x-median norm clipping: it held every adversary of the simulation off.
    fn default() -> Self {
        Self {
            kind: StrategyKind::TrimmedMean,
            beta: default_beta(),
            krum_f: default_krum_f(),
            clip_multiple: default_clip_multiple(),
            server_adam: 0.0,
        }
    }
}

impl StrategySpec {
    /// The strategy it names.
    pub fn build(&self) -> Result<Box<dyn Strategy>> {
        let base: Box<dyn Strategy> = match self.kind {
            StrategyKind::Fedavg => Box::new(FedAvg),
            StrategyKind::Reputation => Box::new(ReputationFedAvg::default()),
            StrategyKind::Median => Box::new(Median),
            StrategyKind::TrimmedMean => Box::new(TrimmedMean::new(self.beta)?),
            StrategyKind::Krum => Box::new(MultiKrum { f: self.krum_f, m: None }),
        };
        let base: Box<dyn Strategy> = if self.server_adam > 0.0 {
            Box::new(FedAdam::new(base, self.server_adam, 0.9, 0.99, 1e-3)?)
        } else {
            base
        };
        Ok(if self.clip_multiple > 0.0 {
            Box::new(NormClip::new(base, ClipBound::MedianMultiple(self.clip_multiple))?)
        } else {
            base
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_wrappers_nest_clip_outside_the_server_optimiser() {
        for kind in StrategyKind::ALL {
            assert_eq!(kind.name().parse::<StrategyKind>().unwrap(), kind);
        }
        assert!("fedprox".parse::<StrategyKind>().is_err());
        let spec = StrategySpec { kind: StrategyKind::Median, server_adam: 0.1, ..StrategySpec::default() };
        assert_eq!(spec.build().unwrap().name(), "clip(2xmedian,fedadam(eta=0.1,b1=0.9,b2=0.99,tau=0.001,median))");
        let spec = StrategySpec { kind: StrategyKind::Krum, krum_f: 3, clip_multiple: 0.0, ..StrategySpec::default() };
        assert_eq!(spec.build().unwrap().name(), "multi-krum(f=3)");
    }
}
