//! Making a round's update: local training from the global checkpoint (or, with `--red-team`, the
//! attack the red team forges instead, [`tessera_adversary`]) and its encoding as a [`WeightsFile`].

use crate::{Result, device, state::TrainingSummary};
use std::time::Instant;
use tessera_adversary::{Attack, Context, Training, forge};
use tessera_train::{
    ArchitectureId, Dataset, FileKind, Header, Parameters, Progress, TrainConfig, TrainMetrics, WeightsFile, WireDtype,
    train_local,
};

/// How the worker makes its updates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// Trains on its shard and sends the delta.
    Honest,
    /// Runs one of the red team's attacks, which scoring must catch or make worthless.
    RedTeam(Attack),
}

impl Behaviour {
    /// `honest` or the attack's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Honest => "honest",
            Self::RedTeam(attack) => attack.name(),
        }
    }

    /// What it trains on.
    pub fn training(self) -> Training {
        match self {
            Self::Honest => Training::Full,
            Self::RedTeam(attack) => attack.training(),
        }
    }

    /// Whether the worker trains at all.
    pub fn trains(self) -> bool {
        self.training() != Training::Skip
    }

    /// Whether it needs the previous round's public updates or global change to forge its update.
    pub fn reads_public_updates(self) -> bool {
        matches!(self, Self::RedTeam(a) if a.copies() || matches!(a, Attack::ReplayGlobal | Attack::ReplayOwn))
    }

    /// The sample count it claims for a shard of `samples`.
    pub fn claim(self, samples: u64) -> u64 {
        match self {
            Self::Honest => samples,
            Self::RedTeam(attack) => attack.claim(samples),
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

/// What the red team can read of earlier rounds: the previous round's updates (of other workers, in receipt
/// order, and its own) and the global model's change in it. Empty for honest workers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Public {
    /// Other workers' updates of the previous round, earliest first.
    pub previous_updates: Vec<Vec<f32>>,
    /// Its own update of the previous round.
    pub own_previous: Option<Vec<f32>>,
    /// The global model's change in the previous round.
    pub previous_global_change: Option<Vec<f32>>,
}

/// Everything one round's update depends on.
#[derive(Clone, Copy, Debug)]
pub struct Job<'a> {
    /// The task's model.
    pub arch: ArchitectureId,
    /// The round.
    pub round: u32,
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
    /// What the red team can read.
    pub public: &'a Public,
}

/// Trains (or not, for attacks that do not) and returns the update; `None` when an attack has nothing to
/// forge from yet (a copy in the first round). Blocks for as long as training takes; `progress` hears of
/// every step.
pub fn make(job: &Job<'_>, progress: impl FnMut(Progress)) -> Result<Option<Made>> {
    let started = Instant::now();
    let claim = job.behaviour.claim(job.data.len() as u64);
    let part;
    let data = match job.behaviour.training() {
        Training::Skip => None,
        Training::Full => Some(job.data),
        Training::FlippedLabels => Some(job.flipped.expect("label-flip workers keep a flipped copy of their shard")),
        Training::Fraction(fraction) => {
            let kept = ((job.data.len() as f64 * fraction).ceil() as usize).clamp(1, job.data.len());
            part = job.data.subset(&(0..kept).collect::<Vec<_>>())?;
            Some(&part)
        }
    };
    let trained = data.map(|data| train_local(job.arch, job.global, data, job.config, progress)).transpose()?;
    let metrics = trained.as_ref().map(|t| t.metrics);
    let delta = match (job.behaviour, trained) {
        (Behaviour::Honest, Some(trained)) => trained.delta,
        (Behaviour::RedTeam(attack), trained) => {
            let own = trained.map(|t| t.delta.into_values());
            let previous: Vec<&[f32]> = job.public.previous_updates.iter().map(Vec::as_slice).collect();
            let ctx = Context {
                round: u64::from(job.round),
                seed: job.config.seed,
                len: job.arch.num_parameters(),
                trained: own.as_deref(),
                visible: &[],
                previous_updates: &previous,
                previous_global_change: job.public.previous_global_change.as_deref(),
                own_previous: job.public.own_previous.as_deref(),
                colluders: &[],
            };
            let Some(values) = forge(attack, &ctx)? else { return Ok(None) };
            Parameters::for_architecture(job.arch, values)?
        }
        (Behaviour::Honest, None) => unreachable!("honest workers train"),
    };
    let summary = TrainingSummary {
        loss: metrics.map(|m| m.loss),
        accuracy: metrics.map(|m| m.accuracy),
        samples: claim,
        steps: metrics.map_or(0, |m| m.steps),
        wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        samples_per_s: metrics.map(|m| throughput(m, job.config.epochs)),
        device: device::name(job.config.device),
        behaviour: job.behaviour.name().to_owned(),
        update_norm: delta.l2_norm(),
    };
    Ok(Some(Made { delta, summary }))
}

/// Samples per second of the training loop: what a GPU, or more threads, changes.
fn throughput(metrics: TrainMetrics, epochs: usize) -> f64 {
    metrics.samples as f64 * epochs as f64 / metrics.wall_time.as_secs_f64().max(1e-9)
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
    use crate::red_team;
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
            mixed_precision: false,
        }
    }

    fn job<'a>(
        global: &'a Parameters,
        data: &'a Dataset,
        flipped: Option<&'a Dataset>,
        config: &'a TrainConfig,
        behaviour: Behaviour,
        public: &'a Public,
    ) -> Job<'a> {
        Job { arch: ArchitectureId::Lenet5MnistV1, round: 2, global, data, flipped, config, behaviour, public }
    }

    #[test]
    fn honest_and_dishonest_updates_differ_as_the_adversaries_should() {
        let arch = ArchitectureId::Lenet5MnistV1;
        let global = arch.init_parameters(1);
        let data = tiny_shard();
        let flipped = red_team::flip_labels(&data).unwrap();
        let config = config();
        let earlier = noise(arch, 0.01, 5).into_values();
        let public = Public { previous_updates: vec![earlier.clone()], ..Public::default() };
        let make_as = |behaviour| {
            let mut steps = 0;
            let made = make(&job(&global, &data, Some(&flipped), &config, behaviour, &public), |_| steps += 1);
            (made.unwrap().unwrap(), steps)
        };
        let attack = |text: &str| Behaviour::RedTeam(text.parse().unwrap());

        let (honest, steps) = make_as(Behaviour::Honest);
        assert_eq!((steps, honest.summary.steps, honest.summary.samples), (2, 2, 8));
        assert!(honest.summary.loss.is_some() && honest.delta.l2_norm() > 0.0);
        assert!(honest.summary.samples_per_s.is_some_and(|rate| rate > 0.0 && rate.is_finite()));

        let (flipped_sign, _) = make_as(attack("sign-flip"));
        let negated: Vec<f32> = honest.delta.values().iter().map(|v| -v).collect();
        assert_eq!(flipped_sign.delta.values(), &negated[..], "same seed, negated");
        assert_eq!(flipped_sign.summary.behaviour, "sign-flip");

        let (free_rider, steps) = make_as(attack("free-rider"));
        assert_eq!((steps, free_rider.summary.samples), (0, 8), "no training, the whole shard claimed");
        assert_eq!(free_rider.summary.samples_per_s, None);
        assert!(free_rider.delta.l2_norm() < 1e-3);

        let (noisy, _) = make_as(attack("noise:0.01"));
        assert!(noisy.delta.l2_norm() > free_rider.delta.l2_norm() * 1000.0);

        let (label_flip, steps) = make_as(attack("label-flip"));
        assert_eq!(steps, 2);
        assert_ne!(label_flip.delta, honest.delta);

        let (overclaim, _) = make_as(attack("overclaim:100"));
        assert_eq!((overclaim.summary.samples, &overclaim.delta), (800, &honest.delta));
        let (partial, steps) = make_as(attack("partial-work:0.5"));
        assert_eq!((steps, partial.summary.samples), (1, 8), "half the steps, the whole shard claimed");
        let (copy, _) = make_as(attack("copycat"));
        assert_eq!(copy.delta.values(), &earlier[..], "the previous round's update, the current ones being withheld");
        let nothing = Public::default();
        assert!(
            make(&job(&global, &data, None, &config, attack("replay-global"), &nothing), |_| {}).unwrap().is_none()
        );
    }

    fn noise(arch: ArchitectureId, std: f64, seed: u64) -> Parameters {
        red_team::noise(arch, std, seed)
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
