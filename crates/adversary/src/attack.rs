//! The attacks, their names and parameters as the command lines spell them (`name` or `name:value`).

use crate::{Error, Result};
use std::{fmt, str::FromStr};

/// What a dishonest worker does instead of, or on top of, training honestly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attack {
    /// Sends a near-zero update without training, claiming the whole shard.
    FreeRider,
    /// Trains honestly, then sends the negated update.
    SignFlip,
    /// Sends Gaussian noise with this standard deviation per coordinate, without training.
    Noise {
        /// Per-coordinate standard deviation.
        std: f64,
    },
    /// Trains on labels flipped to `classes - 1 - y`.
    LabelFlip,
    /// Sends the earliest update it can read (this round's, else the previous round's) unchanged.
    Copycat,
    /// Sends that update times `factor`.
    CopyScaled {
        /// The scale.
        factor: f64,
    },
    /// Sends that update plus Gaussian noise whose norm is `noise` times its norm.
    CopyNoisy {
        /// The noise's norm as a fraction of the copied update's.
        noise: f64,
    },
    /// Sends that update with all but its largest `keep` fraction of coordinates zeroed.
    CopySparse {
        /// The fraction of coordinates kept, in `(0, 1]`.
        keep: f64,
    },
    /// Sends the mean of the `peers` earliest updates it can read, plus 1% noise.
    CopyMix {
        /// How many updates it mixes.
        peers: usize,
    },
    /// Sends the previous round's global change plus 1% noise (the delta-weights free-rider).
    ReplayGlobal,
    /// Trains honestly in its first round, then sends its own update of the previous round again, plus 1%
    /// noise (honest first, free-riding later).
    ReplayOwn,
    /// Trains honestly and claims `factor` times its samples.
    Overclaim {
        /// The claimed multiple of the true sample count.
        factor: f64,
    },
    /// Trains on this fraction of its shard and claims all of it.
    PartialWork {
        /// The fraction of the shard trained on, in `(0, 1]`.
        fraction: f64,
    },
    /// Trains honestly and sends its update times `factor` (model replacement's boosting).
    Boost {
        /// The scale.
        factor: f64,
    },
    /// One of several identities of one data owner, whose data set is split among them.
    Sybil,
    /// "A little is enough" (Baruch et al. 2019): with the other colluders, sends the colluders' mean update
    /// minus `z` standard deviations, coordinate by coordinate.
    LittleIsEnough {
        /// How many standard deviations to shift.
        z: f64,
    },
    /// Honest, but takes part only in every `every`-th round (not an attack: FedAU's case).
    Intermittent {
        /// The period in rounds.
        every: u64,
    },
}

/// What an attack trains on before forging its update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Training {
    /// Nothing: the update is made without training.
    Skip,
    /// The whole shard.
    Full,
    /// The shard with flipped labels.
    FlippedLabels,
    /// This leading fraction of the shard.
    Fraction(f64),
}

impl Attack {
    /// Every attack with its default parameters, in the order the docs list them.
    pub const ALL: [Self; 17] = [
        Self::FreeRider,
        Self::SignFlip,
        Self::Noise { std: 0.01 },
        Self::LabelFlip,
        Self::Copycat,
        Self::CopyScaled { factor: 3.0 },
        Self::CopyNoisy { noise: 0.1 },
        Self::CopySparse { keep: 0.1 },
        Self::CopyMix { peers: 2 },
        Self::ReplayGlobal,
        Self::ReplayOwn,
        Self::Overclaim { factor: 10.0 },
        Self::PartialWork { fraction: 0.1 },
        Self::Boost { factor: 10.0 },
        Self::Sybil,
        Self::LittleIsEnough { z: 0.5 },
        Self::Intermittent { every: 3 },
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::FreeRider => "free-rider",
            Self::SignFlip => "sign-flip",
            Self::Noise { .. } => "noise",
            Self::LabelFlip => "label-flip",
            Self::Copycat => "copycat",
            Self::CopyScaled { .. } => "copy-scaled",
            Self::CopyNoisy { .. } => "copy-noisy",
            Self::CopySparse { .. } => "copy-sparse",
            Self::CopyMix { .. } => "copy-mix",
            Self::ReplayGlobal => "replay-global",
            Self::ReplayOwn => "replay-own",
            Self::Overclaim { .. } => "overclaim",
            Self::PartialWork { .. } => "partial-work",
            Self::Boost { .. } => "boost",
            Self::Sybil => "sybil",
            Self::LittleIsEnough { .. } => "little-is-enough",
            Self::Intermittent { .. } => "intermittent",
        }
    }

    /// The parameter, if the attack has one.
    pub fn parameter(self) -> Option<f64> {
        match self {
            Self::Noise { std } => Some(std),
            Self::CopyScaled { factor } | Self::Overclaim { factor } | Self::Boost { factor } => Some(factor),
            Self::CopyNoisy { noise } => Some(noise),
            Self::CopySparse { keep } => Some(keep),
            Self::CopyMix { peers } => Some(peers as f64),
            Self::PartialWork { fraction } => Some(fraction),
            Self::LittleIsEnough { z } => Some(z),
            Self::Intermittent { every } => Some(every as f64),
            _ => None,
        }
    }

    /// What it trains on.
    pub fn training(self) -> Training {
        match self {
            Self::FreeRider
            | Self::Noise { .. }
            | Self::Copycat
            | Self::CopyScaled { .. }
            | Self::CopyNoisy { .. }
            | Self::CopySparse { .. }
            | Self::CopyMix { .. }
            | Self::ReplayGlobal => Training::Skip,
            Self::LabelFlip => Training::FlippedLabels,
            Self::PartialWork { fraction } => Training::Fraction(fraction),
            Self::SignFlip
            | Self::ReplayOwn
            | Self::Overclaim { .. }
            | Self::Boost { .. }
            | Self::Sybil
            | Self::LittleIsEnough { .. }
            | Self::Intermittent { .. } => Training::Full,
        }
    }

    /// Whether it copies another update of the round (and so needs one to read).
    pub fn copies(self) -> bool {
        matches!(
            self,
            Self::Copycat
                | Self::CopyScaled { .. }
                | Self::CopyNoisy { .. }
                | Self::CopySparse { .. }
                | Self::CopyMix { .. }
        )
    }

    /// Whether the worker is dishonest: everything but [`Self::Intermittent`] and [`Self::Sybil`] (whose
    /// identities each do honest work on their part of the data).
    pub fn is_dishonest(self) -> bool {
        !matches!(self, Self::Intermittent { .. } | Self::Sybil)
    }

    /// Whether it takes part in `round`.
    pub fn takes_part(self, round: u64) -> bool {
        match self {
            Self::Intermittent { every } => round.is_multiple_of(every.max(1)),
            _ => true,
        }
    }

    /// The sample count it claims for a shard of `samples`.
    pub fn claim(self, samples: u64) -> u64 {
        match self {
            Self::Overclaim { factor } => (samples as f64 * factor).round() as u64,
            _ => samples,
        }
    }
}

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parameter() {
            Some(value) => write!(f, "{}:{value}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl FromStr for Attack {
    type Err = Error;

    /// `name` (the default parameter) or `name:value`, e.g. `boost:100`, `partial-work:0.5`.
    fn from_str(text: &str) -> Result<Self> {
        let (name, value) = match text.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        let default = Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| Error::UnknownAttack { name: name.into(), known: Self::ALL.map(Self::name).join(", ") })?;
        let Some(value) = value else { return Ok(default) };
        let bad =
            |reason: &str| Error::BadParameter { attack: name.into(), value: value.into(), reason: reason.into() };
        let number: f64 = value.parse().map_err(|_| bad("not a number"))?;
        if !number.is_finite() {
            return Err(bad("not finite"));
        }
        let fraction = |v: f64| if v > 0.0 && v <= 1.0 { Ok(v) } else { Err(bad("must be in (0, 1]")) };
        let count =
            |v: f64| if v >= 1.0 && v.fract() == 0.0 { Ok(v as u64) } else { Err(bad("must be a whole number >= 1")) };
        Ok(match default {
            Self::Noise { .. } if number > 0.0 => Self::Noise { std: number },
            Self::CopyScaled { .. } if number != 0.0 => Self::CopyScaled { factor: number },
            Self::CopyNoisy { .. } if number >= 0.0 => Self::CopyNoisy { noise: number },
            Self::CopySparse { .. } => Self::CopySparse { keep: fraction(number)? },
            Self::CopyMix { .. } => Self::CopyMix { peers: count(number)? as usize },
            Self::Overclaim { .. } if number > 0.0 => Self::Overclaim { factor: number },
            Self::PartialWork { .. } => Self::PartialWork { fraction: fraction(number)? },
            Self::Boost { .. } if number > 0.0 => Self::Boost { factor: number },
            Self::LittleIsEnough { .. } => Self::LittleIsEnough { z: number },
            Self::Intermittent { .. } => Self::Intermittent { every: count(number)? },
            other if other.parameter().is_none() => return Err(bad("this attack takes no parameter")),
            _ => return Err(bad("out of range")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parameters_round_trip() {
        for attack in Attack::ALL {
            assert_eq!(attack.to_string().parse::<Attack>().unwrap(), attack);
            assert_eq!(attack.name().parse::<Attack>().unwrap(), attack);
        }
        assert_eq!("boost:100".parse::<Attack>().unwrap(), Attack::Boost { factor: 100.0 });
        assert_eq!("partial-work:0.5".parse::<Attack>().unwrap(), Attack::PartialWork { fraction: 0.5 });
        for bad in ["boost:-1", "partial-work:2", "copy-mix:1.5", "sign-flip:3", "nope", "noise:nan", "boost:x"] {
            assert!(bad.parse::<Attack>().is_err(), "{bad}");
        }
    }

    #[test]
    fn claims_and_participation() {
        assert_eq!(Attack::Overclaim { factor: 10.0 }.claim(600), 6000);
        assert_eq!(Attack::PartialWork { fraction: 0.1 }.claim(600), 600);
        let every = Attack::Intermittent { every: 3 };
        assert_eq!((1..=6).filter(|&r| every.takes_part(r)).collect::<Vec<_>>(), [3, 6]);
        assert!(!Attack::Sybil.is_dishonest() && Attack::Copycat.copies() && !Attack::Boost { factor: 2.0 }.copies());
    }
}
