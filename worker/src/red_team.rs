//! Dishonest behaviours, for tests and demos only: each makes the worker act like one of the
//! adversaries the coordinator's scoring must catch (free-riders, poisoners, copycats), as the
//! simulator's adversaries do.

use crate::{Error, Result, api::SubmissionView};
use alloy::primitives::Address;
use std::fmt;
use tessera_train::{ArchitectureId, Dataset, Parameters, Rng};

/// The per-coordinate noise a free-rider sends: an update that is nearly zero.
pub const FREE_RIDER_STD: f64 = 1e-6;

/// A dishonest behaviour (`--red-team`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RedTeam {
    /// Sends a near-zero update without training, claiming the whole shard.
    FreeRider,
    /// Trains honestly, then sends the negated update.
    SignFlip,
    /// Sends Gaussian noise without training (`--noise-std` per coordinate).
    Noise,
    /// Trains on labels flipped to `9 - y`.
    LabelFlip,
    /// Resubmits another worker's update of the same round, taken from the coordinator's list.
    Copycat,
}

impl RedTeam {
    /// The name `--red-team` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::FreeRider => "free-rider",
            Self::SignFlip => "sign-flip",
            Self::Noise => "noise",
            Self::LabelFlip => "label-flip",
            Self::Copycat => "copycat",
        }
    }

    /// Whether the behaviour trains on the shard at all.
    pub fn trains(self) -> bool {
        matches!(self, Self::SignFlip | Self::LabelFlip)
    }
}

impl fmt::Display for RedTeam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The warning printed when a red-team behaviour is on.
pub fn warning(behaviour: RedTeam) -> String {
    let bar = "!".repeat(78);
    format!(
        "{bar}\n!! RED TEAM: this worker behaves dishonestly ({behaviour}), for tests and demos only.\n\
         !! The coordinator should flag it and slash its stake. Never use this on a real task.\n{bar}"
    )
}

/// Gaussian noise with `std` per coordinate in `arch`'s layout, drawn from `seed`.
pub fn noise(arch: ArchitectureId, std: f64, seed: u64) -> Parameters {
    let mut rng = Rng::new(seed);
    let values = (0..arch.num_parameters()).map(|_| (rng.normal() * std) as f32).collect();
    Parameters::for_architecture(arch, values).expect("the values follow the architecture's layout")
}

/// The update negated.
pub fn sign_flip(mut delta: Parameters) -> Parameters {
    delta.values_mut().iter_mut().for_each(|value| *value = -*value);
    delta
}

/// The shard with every label `y` replaced by `classes - 1 - y` (9 - y for ten classes).
pub fn flip_labels(data: &Dataset) -> Result<Dataset> {
    let top = u8::try_from(data.num_classes().saturating_sub(1))
        .map_err(|_| Error::Invalid(format!("{} classes are too many to flip", data.num_classes())))?;
    let labels: Vec<u8> = data.labels().iter().map(|&y| top - y).collect();
    Ok(Dataset::new(data.images(), &labels, data.num_classes())?)
}

/// The submission a copycat copies: the earliest one of another worker.
pub fn copy_source(submissions: &[SubmissionView], me: Address) -> Option<&SubmissionView> {
    submissions.iter().filter(|s| s.worker != me).min_by_key(|s| s.sequence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(worker: u8, sequence: u64) -> SubmissionView {
        SubmissionView {
            round: 1,
            worker: Address::repeat_byte(worker),
            sequence,
            update_cid: format!("Qm{worker}"),
            num_samples: 10,
            received_at_ms: 0,
            receipt_signature: None,
        }
    }

    #[test]
    fn a_copycat_copies_the_earliest_other_worker() {
        let me = Address::repeat_byte(1);
        let list = [submission(1, 0), submission(3, 2), submission(2, 1)];
        assert_eq!(copy_source(&list, me).unwrap().worker, Address::repeat_byte(2));
        assert!(copy_source(&list[..1], me).is_none());
    }

    #[test]
    fn noise_has_the_asked_scale_and_sign_flip_negates() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let free_rider = noise(arch, FREE_RIDER_STD, 1);
        let rms = free_rider.l2_norm() / (arch.num_parameters() as f64).sqrt();
        assert!((rms / FREE_RIDER_STD - 1.0).abs() < 0.01, "{rms}");
        assert_eq!(noise(arch, 0.01, 5), noise(arch, 0.01, 5));
        let flipped = sign_flip(free_rider.clone());
        assert!(flipped.values().iter().zip(free_rider.values()).all(|(a, b)| *a == -*b));
    }

    #[test]
    fn label_flip_maps_y_to_nine_minus_y() {
        let images = tch::Tensor::zeros([3, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu));
        let data = Dataset::new(&images, &[0, 3, 9], 10).unwrap();
        assert_eq!(flip_labels(&data).unwrap().labels(), [9, 6, 0]);
        assert!(warning(RedTeam::Copycat).contains("RED TEAM"));
    }
}
