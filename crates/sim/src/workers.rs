use crate::{Args, Role};
use eyre::Result;
use tessera_adversary::{Attack, Context, Training, flip_label, forge};
use tessera_train::{ArchitectureId, Dataset, Device, Optimizer, Parameters, TrainConfig, train_local};

/// The simulated workers: their roles, shards, and what the red team remembers between rounds.
pub(crate) struct Team<'a> {
    arch: ArchitectureId,
    roles: &'a [Role],
    shards: &'a [Dataset],
    /// Label-flipped copies of the label-flippers' shards.
    flipped: Vec<Option<Dataset>>,
    config: TrainConfig,
    seed: u64,
    /// What each worker sent last round.
    previous: Vec<Option<Vec<f32>>>,
}

impl<'a> Team<'a> {
    pub(crate) fn new(arch: ArchitectureId, roles: &'a [Role], shards: &'a [Dataset], args: &Args) -> Result<Self> {
        let flipped = roles
            .iter()
            .zip(shards)
            .map(|(role, shard)| {
                (*role == Role::Attack(Attack::LabelFlip))
                    .then(|| {
                        let classes = u8::try_from(shard.num_classes()).unwrap_or(u8::MAX);
                        let labels: Vec<u8> = shard.labels().iter().map(|&y| flip_label(y, classes)).collect();
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
            mixed_precision: false,
        };
        Ok(Self { arch, roles, shards, flipped, config, seed: args.seed, previous: vec![None; roles.len()] })
    }

    /// Every worker's update for `round` (`None` for a worker sitting it out), in worker order (the receipt
    /// order), given the previous round's global change.
    pub(crate) fn round(
        &mut self,
        round: u64,
        global: &[f32],
        previous_change: Option<&[f32]>,
    ) -> Result<Vec<Option<Vec<f32>>>> {
        let start = Parameters::for_architecture(self.arch, global.to_vec())?;
        let train = |i: usize, training: Training| -> Result<Option<Vec<f32>>> {
            let config = TrainConfig { seed: self.config.seed * 1_000_003 + round * 1_009 + i as u64, ..self.config };
            let shard = &self.shards[i];
            let part;
            let data = match training {
                Training::Skip => return Ok(None),
                Training::Full => shard,
                Training::FlippedLabels => self.flipped[i].as_ref().expect("made for label-flippers"),
                Training::Fraction(fraction) => {
                    let kept = ((shard.len() as f64 * fraction).ceil() as usize).clamp(1, shard.len());
                    part = shard.subset(&(0..kept).collect::<Vec<_>>())?;
                    &part
                }
            };
            Ok(Some(train_local(self.arch, &start, data, &config, |_| {})?.delta.into_values()))
        };
        // Training first: colluders forge from each other's honest updates.
        let trained: Vec<Option<Vec<f32>>> = self
            .roles
            .iter()
            .enumerate()
            .map(|(i, role)| match role {
                Role::Honest => train(i, Training::Full),
                Role::Attack(attack) if attack.takes_part(round) => train(i, attack.training()),
                Role::Attack(_) => Ok(None),
            })
            .collect::<Result<_>>()?;
        let colluders: Vec<&[f32]> = self
            .roles
            .iter()
            .zip(&trained)
            .filter(|(role, _)| matches!(role, Role::Attack(Attack::LittleIsEnough { .. })))
            .filter_map(|(_, t)| t.as_deref())
            .collect();

        let mut sent: Vec<Option<Vec<f32>>> = Vec::with_capacity(self.roles.len());
        for (i, role) in self.roles.iter().enumerate() {
            let update = match role {
                Role::Honest => trained[i].clone(),
                Role::Attack(attack) => {
                    // Copycats read worker 0's update of this round, as if its CID had leaked.
                    let visible: Vec<&[f32]> = sent.first().and_then(|d| d.as_deref()).into_iter().collect();
                    let previous_updates: Vec<&[f32]> = self
                        .previous
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .filter_map(|(_, d)| d.as_deref())
                        .collect();
                    let ctx = Context {
                        round,
                        seed: self.seed * 7_919 + i as u64,
                        len: global.len(),
                        trained: trained[i].as_deref(),
                        visible: if attack.copies() && i > 0 { &visible } else { &[] },
                        previous_updates: &previous_updates,
                        previous_global_change: previous_change,
                        own_previous: self.previous[i].as_deref(),
                        colluders: &colluders,
                    };
                    forge(*attack, &ctx)?
                }
            };
            sent.push(update);
        }
        self.previous.clone_from(&sent);
        Ok(sent)
    }
}
