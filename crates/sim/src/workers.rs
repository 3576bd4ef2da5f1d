use crate::{Args, Role};
use eyre::Result;
use tessera_train::{ArchitectureId, Dataset, Device, Optimizer, Parameters, Rng, TrainConfig, train_local};

/// The simulated workers: their roles, shards and randomness.
pub(crate) struct Team<'a> {
    arch: ArchitectureId,
    roles: &'a [Role],
    shards: &'a [Dataset],
    /// Label-flipped copies of the label-flippers' shards.
    flipped: Vec<Option<Dataset>>,
    config: TrainConfig,
    noise_std: f64,
    every: u64,
    rng: Rng,
}

impl<'a> Team<'a> {
    pub(crate) fn new(arch: ArchitectureId, roles: &'a [Role], shards: &'a [Dataset], args: &Args) -> Result<Self> {
        let flipped = roles
            .iter()
            .zip(shards)
            .map(|(role, shard)| {
                (*role == Role::LabelFlip)
                    .then(|| {
                        let labels: Vec<u8> = shard.labels().iter().map(|&y| 9 - y).collect();
                        Dataset::new(shard.images(), &labels, shard.num_classes())
                    })
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        let config = TrainConfig {
            epochs: args.epochs,
            batch_size: 64,
            optimizer: Optimizer::adam(1e-3),
            seed: args.seed,
            device: Device::Cpu,
            threads: Some(args.threads),
        };
        let every = args.intermittent_every.max(1);
        Ok(Self {
            arch,
            roles,
            shards,
            flipped,
            config,
            noise_std: args.noise_std,
            every,
            rng: Rng::derive(args.seed, 7),
        })
    }

    /// Every worker's update for `round` (`None` for a worker sitting it out), in worker order.
    pub(crate) fn round(&mut self, round: u64, global: &[f32]) -> Result<Vec<Option<Vec<f32>>>> {
        let start = Parameters::for_architecture(self.arch, global.to_vec())?;
        let mut deltas: Vec<Option<Vec<f32>>> = Vec::with_capacity(self.roles.len());
        for (i, &role) in self.roles.iter().enumerate() {
            let config = TrainConfig { seed: self.config.seed * 1_000_003 + round * 1_009 + i as u64, ..self.config };
            let train = |data: &Dataset| -> Result<Vec<f32>> {
                Ok(train_local(self.arch, &start, data, &config, |_| {})?.delta.into_values())
            };
            let delta = match role {
                Role::Honest => Some(train(&self.shards[i])?),
                Role::Intermittent => round.is_multiple_of(self.every).then(|| train(&self.shards[i])).transpose()?,
                Role::SignFlip => Some(train(&self.shards[i])?.into_iter().map(|v| -v).collect()),
                Role::LabelFlip => Some(train(self.flipped[i].as_ref().expect("made for label-flippers"))?),
                Role::FreeRider => Some(self.noise(global.len(), 1e-6)),
                Role::Noise => Some(self.noise(global.len(), self.noise_std)),
                Role::Copycat => deltas[0].clone(),
                Role::CopycatNoisy => deltas[0].clone().map(|original| {
                    let std = 0.01 * tessera_scoring::vector::norm(&original) / (original.len() as f64).sqrt();
                    let noise = self.noise(original.len(), std);
                    original.iter().zip(noise).map(|(v, n)| v + n).collect()
                }),
            };
            deltas.push(delta);
        }
        Ok(deltas)
    }

    fn noise(&mut self, len: usize, std: f64) -> Vec<f32> {
        (0..len).map(|_| (self.rng.normal() * std) as f32).collect()
    }
}
