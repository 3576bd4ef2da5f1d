//! Dishonest behaviours, for tests and demos only: the worker runs one of the red team's attacks
//! ([`tessera_adversary::Attack`], the same code the simulation runs), which the coordinator's scoring must
//! catch or make worthless.

use crate::{Error, Result, api::SubmissionListing};
use alloy::primitives::Address;
use tessera_storage::Cid;
use tessera_train::{ArchitectureId, Dataset, Parameters, Rng};

pub use tessera_adversary::{Attack, FREE_RIDER_STD};

/// The warning printed when a red-team behaviour is on.
pub fn warning(behaviour: Attack) -> String {
    let bar = "!".repeat(78);
    format!(
        "{bar}\n!! RED TEAM: this worker behaves dishonestly ({behaviour}), for tests and demos only.\n\
         !! The coordinator should flag it and slash its stake. Never use this on a real task.\n{bar}"
    )
}

/// Gaussian noise with `std` per coordinate in `arch`'s layout, drawn from `seed` (a stand-in update in tests).
pub fn noise(arch: ArchitectureId, std: f64, seed: u64) -> Parameters {
    let mut rng = Rng::new(seed);
    let values = (0..arch.num_parameters()).map(|_| (rng.normal() * std) as f32).collect();
    Parameters::for_architecture(arch, values).expect("the values follow the architecture's layout")
}

/// The shard with every label `y` replaced by `classes - 1 - y` (9 - y for ten classes).
pub fn flip_labels(data: &Dataset) -> Result<Dataset> {
    let top = u8::try_from(data.num_classes().saturating_sub(1))
        .map_err(|_| Error::Invalid(format!("{} classes are too many to flip", data.num_classes())))?;
    let labels: Vec<u8> = data.labels().iter().map(|&y| tessera_adversary::flip_label(y, top + 1)).collect();
    Ok(Dataset::new(data.images(), &labels, data.num_classes())?)
}

/// The updates of a closed round's listing that the red team reads: other workers' CIDs in receipt order,
/// and its own, if any. A round still collecting withholds them.
pub fn public_updates(submissions: &[SubmissionListing], me: Address) -> (Vec<Cid>, Option<Cid>) {
    let mut others: Vec<&SubmissionListing> = submissions.iter().filter(|s| s.worker != me).collect();
    others.sort_by_key(|s| s.sequence);
    let own = submissions.iter().find(|s| s.worker == me).and_then(|s| s.update_cid);
    (others.into_iter().filter_map(|s| s.update_cid).collect(), own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(worker: u8) -> Cid {
        Cid::from_digest([worker; 32])
    }

    fn submission(worker: u8, sequence: u64) -> SubmissionListing {
        crate::api::listing(Address::repeat_byte(worker), 1, sequence, Some(cid(worker)))
    }

    #[test]
    fn the_red_team_reads_the_closed_rounds_updates_in_receipt_order() {
        let me = Address::repeat_byte(1);
        let list = [submission(1, 0), submission(3, 2), submission(2, 1)];
        assert_eq!(public_updates(&list, me), (vec![cid(2), cid(3)], Some(cid(1))));
        let sealed = SubmissionListing { update_cid: None, ..submission(4, 3) };
        assert_eq!(public_updates(&[sealed], me), (vec![], None));
    }

    #[test]
    fn noise_has_the_asked_scale() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let free_rider = noise(arch, FREE_RIDER_STD, 1);
        let rms = free_rider.l2_norm() / (arch.num_parameters() as f64).sqrt();
        assert!((rms / FREE_RIDER_STD - 1.0).abs() < 0.01, "{rms}");
        assert_eq!(noise(arch, 0.01, 5), noise(arch, 0.01, 5));
    }

    #[test]
    fn label_flip_maps_y_to_nine_minus_y() {
        let images = tch::Tensor::zeros([3, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu));
        let data = Dataset::new(&images, &[0, 3, 9], 10).unwrap();
        assert_eq!(flip_labels(&data).unwrap().labels(), [9, 6, 0]);
        assert!(warning(Attack::Copycat).contains("RED TEAM"));
    }
}
