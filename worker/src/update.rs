//! Making a round's update: local training from the global checkpoint (or, with `--red-team`, the
//! dishonest stand-in for it) and its encoding as a [`WeightsFile`].

use crate::{Error, Result, device, red_team, red_team::RedTeam, state::TrainingSummary};
use std::time::Instant;
use tessera_train::{
    ArchitectureId, Dataset, FileKind, Header, Parameters, Progress, TrainConfig, WeightsFile, WireDtype, train_local,
};

/// How the worker makes its updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Trains on its shard and sends the delta.
    Honest,
    /// Behaves like one of the adversaries scoring must catch.
    RedTeam(RedTeam),
}

impl Behaviour {
    /// `honest` or the red-team name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Honest => "honest",
            Self::RedTeam(red_team) => red_team.name(),
        }
    }

    /// Whether the worker trains on its shard.
    pub fn trains(self) -> bool {
        match self {
            Self::Honest => true,
            Self::RedTeam(red_team) => red_team.trains(),
        }
    }
}

/// An update and how it was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Made {
    /// Local weights minus global weights (or what the behaviour sends instead).
    pub delta: Parameters,
    /// How it went.
    pub summary: TrainingSummary,
}

/// Everything one round's update depends on.
#[derive(Clone, Copy, Debug)]
pub struct Job<'a> {
    /// The task's model.
    pub arch: ArchitectureId,
    /// The round's global weights.
    pub global: &'a Parameters,
    /// The worker's shard.
    pub data: &'a Dataset,
    /// The shard with flipped labels, for `label-flip`.
    pub flipped: Option<&'a Dataset>,
    /// How to train.
    pub config: &'a TrainConfig,
    /// Honest or not.
    pub behaviour: Behaviour,
    /// Per-coordinate standard deviation of `noise` updates.
    pub noise_std: f64,
}

/// Trains (or not, for red-team behaviours that do not) and returns the update. Blocks for as long
/// as training takes; `progress` hears of every step.
pub fn make(job: &Job<'_>, progress: impl FnMut(Progress)) -> Result<Made> {
    let started = Instant::now();
    let samples = job.data.len() as u64;
    let untrained = |delta: Parameters| Made { summary: summary(job, &delta, None, samples, 0, started), delta };
    let train = |data: &Dataset, progress| -> Result<Made> {
        let update = train_local(job.arch, job.global, data, job.config, progress)?;
        let metrics = update.metrics;
        Ok(Made {
            summary: summary(
                job,
                &update.delta,
                Some((metrics.loss, metrics.accuracy)),
                samples,
                metrics.steps,
                started,
            ),
            delta: update.delta,
        })
    };
    match job.behaviour {
        Behaviour::Honest => train(job.data, progress),
        Behaviour::RedTeam(RedTeam::SignFlip) => {
            let made = train(job.data, progress)?;
            let delta = red_team::sign_flip(made.delta);
            Ok(Made { summary: TrainingSummary { update_norm: delta.l2_norm(), ..made.summary }, delta })
        }
        Behaviour::RedTeam(RedTeam::LabelFlip) => {
            let flipped = job.flipped.expect("label-flip workers keep a flipped copy of their shard");
            train(flipped, progress)
        }
        Behaviour::RedTeam(RedTeam::FreeRider) => {
            Ok(untrained(red_team::noise(job.arch, red_team::FREE_RIDER_STD, job.config.seed)))
        }
        Behaviour::RedTeam(RedTeam::Noise) => Ok(untrained(red_team::noise(job.arch, job.noise_std, job.config.seed))),
        Behaviour::RedTeam(RedTeam::Copycat) => {
            Err(Error::Invalid("a copycat copies another worker's update instead of making one".into()))
        }
    }
}

/// The summary of an update made without local training (a copy).
pub fn copied_summary(delta: &Parameters, samples: u64, device: &str) -> TrainingSummary {
    TrainingSummary {
        loss: None,
        accuracy: None,
        samples,
        steps: 0,
        wall_ms: 0,
        device: device.to_owned(),
        behaviour: RedTeam::Copycat.name().to_owned(),
        update_norm: delta.l2_norm(),
    }
}

fn summary(
    job: &Job<'_>,
    delta: &Parameters,
    metrics: Option<(f64, f64)>,
    samples: u64,
    steps: u64,
    started: Instant,
) -> TrainingSummary {
    TrainingSummary {
        loss: metrics.map(|(loss, _)| loss),
        accuracy: metrics.map(|(_, accuracy)| accuracy),
        samples,
        steps,
        wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        device: device::name(job.config.device),
        behaviour: job.behaviour.name().to_owned(),
        update_norm: delta.l2_norm(),
    }
}

/// The update file of `round`, derived from the checkpoint `parent_cid`.
pub fn encode(
    arch: ArchitectureId,
    round: u32,
    parent_cid: &str,
    num_samples: u64,
    dtype: WireDtype,
    delta: Parameters,
) -> Result<Vec<u8>> {
    let header = Header {
        architecture: arch,
        kind: FileKind::Update,
        round: u64::from(round),
        parent_cid: parent_cid.to_owned(),
        num_samples,
        dtype,
    };
    Ok(WeightsFile { header, parameters: delta }.encode()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_train::{DecodeLimits, Device, Optimizer};

    fn tiny_shard() -> Dataset {
        let images = tch::Tensor::randn([8, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu));
        Dataset::new(&images, &[0, 1, 2, 3, 4, 5, 6, 7], 10).unwrap()
    }

    fn config() -> TrainConfig {
        TrainConfig {
            epochs: 1,
            batch_size: 4,
            optimizer: Optimizer::adam(1e-3),
            seed: 3,
            device: Device::Cpu,
            threads: Some(1),
        }
    }

    fn job<'a>(
        global: &'a Parameters,
        data: &'a Dataset,
        flipped: Option<&'a Dataset>,
        config: &'a TrainConfig,
        behaviour: Behaviour,
    ) -> Job<'a> {
        Job { arch: ArchitectureId::Lenet5MnistV1, global, data, flipped, config, behaviour, noise_std: 0.01 }
    }

    #[test]
    fn honest_and_dishonest_updates_differ_as_the_adversaries_should() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let global = arch.init_parameters(1);
        let data = tiny_shard();
        let flipped = red_team::flip_labels(&data).unwrap();
        let config = config();
        let make_as = |behaviour| {
            let mut steps = 0;
            let made = make(&job(&global, &data, Some(&flipped), &config, behaviour), |_| steps += 1).unwrap();
            (made, steps)
        };

        let (honest, steps) = make_as(Behaviour::Honest);
        assert_eq!((steps, honest.summary.steps, honest.summary.samples), (2, 2, 8));
        assert!(honest.summary.loss.is_some() && honest.delta.l2_norm() > 0.0);

        let (flipped_sign, _) = make_as(Behaviour::RedTeam(RedTeam::SignFlip));
        assert_eq!(flipped_sign.delta, red_team::sign_flip(honest.delta.clone()), "same seed, negated");
        assert_eq!(flipped_sign.summary.behaviour, "sign-flip");

        let (free_rider, steps) = make_as(Behaviour::RedTeam(RedTeam::FreeRider));
        assert_eq!((steps, free_rider.summary.samples), (0, 8), "no training, the whole shard claimed");
        assert!(free_rider.delta.l2_norm() < 1e-3);

        let (noise, _) = make_as(Behaviour::RedTeam(RedTeam::Noise));
        assert!(noise.delta.l2_norm() > free_rider.delta.l2_norm() * 1000.0);

        let (label_flip, steps) = make_as(Behaviour::RedTeam(RedTeam::LabelFlip));
        assert_eq!(steps, 2);
        assert_ne!(label_flip.delta, honest.delta);
    }

    #[test]
    fn updates_encode_with_the_header_the_coordinator_checks() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let delta = red_team::noise(arch, 0.01, 1);
        let bytes = encode(arch, 3, "QmParent", 77, WireDtype::F32, delta.clone()).unwrap();
        let file = WeightsFile::decode(&bytes, &DecodeLimits::expecting(arch, FileKind::Update)).unwrap();
        assert_eq!((file.header.round, file.header.num_samples, file.header.parent_cid.as_str()), (3, 77, "QmParent"));
        assert_eq!(file.parameters, delta);
    }
}
