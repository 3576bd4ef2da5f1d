//! Who takes part in the demo, with how much data.

use std::fmt;
use tessera_adversary::Attack;

/// How a worker behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role {
    /// Trains on its shard and submits the update.
    Honest,
    /// Runs one of the red team's attacks (`tessera-worker run --red-team`).
    RedTeam(Attack),
}

impl Role {
    /// The worker's `--red-team` value, for the dishonest ones.
    pub fn red_team_flag(self) -> Option<String> {
        match self {
            Self::Honest => None,
            Self::RedTeam(attack) => Some(attack.to_string()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Honest => f.write_str("honest"),
            Self::RedTeam(attack) => attack.fmt(f),
        }
    }
}

/// How the training set is cut into one shard per worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Partition {
    /// A seeded uniform shuffle cut into equal shards.
    Iid,
    /// Per-class Dirichlet(alpha) shares: each worker sees the classes in its own proportions.
    Dirichlet,
}

impl Partition {
    /// The worker's `--partition` value.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Iid => "iid",
            Self::Dirichlet => "dirichlet",
        }
    }
}

/// The demo's dishonest workers by default: a free-rider and a sign-flipper.
pub(crate) const DEFAULT_RED_TEAM: [Attack; 2] = [Attack::FreeRider, Attack::SignFlip];

/// One worker of the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerSpec {
    /// Its name in the output.
    pub name: String,
    /// How it behaves.
    pub role: Role,
    /// Which Dirichlet shard of the training set it reads: every worker has its own, of one shard per worker.
    pub shard: usize,
    /// At most this many samples of the shard.
    pub max_samples: usize,
}

/// The task and its workers.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Rounds.
    pub rounds: u32,
    /// Seconds each round accepts submissions (it closes early once everyone submitted).
    pub window_secs: u32,
    /// The reward pool, whole tokens.
    pub reward_tokens: u128,
    /// Each worker's stake, whole tokens.
    pub stake_tokens: u128,
    /// Validation examples (the first ones of MNIST's test split).
    pub validation_samples: usize,
    /// How the training set is cut into the workers' shards.
    pub partition: Partition,
    /// The Dirichlet concentration the honest workers' shards are drawn with (smaller is more skewed).
    pub alpha: f64,
    /// The workers.
    pub workers: Vec<WorkerSpec>,
    /// Whether every process reaches anvil, IPFS and the coordinator over TLS, through proxies presenting a test
    /// CA's certificates, with the IPFS API behind a bearer token as a pinning service is.
    pub tls: bool,
    /// The built-in network the task trains. The data are MNIST's: a 32x32 RGB network sees each digit as three
    /// equal channels centred on black, normalised with CIFAR-10's statistics, by coordinator and workers alike.
    pub architecture: tessera_train::ArchitectureId,
    /// A requester's TorchScript module (`torch.jit.save`, taking MNIST's 1x28x28 images to 10 logits) that the
    /// task trains instead of `architecture`.
    pub model: Option<std::path::PathBuf>,
    /// Kills of the coordinator and the workers at random moments while the rounds run; each is started again.
    pub chaos: Option<crate::Chaos>,
    /// A confidential task: sealed updates and checkpoints, an auditor, and optionally differential privacy.
    pub confidential: Option<Confidentiality>,
}

/// How the demo's confidential task is set up: the demo names an auditor (a key of its own) and the requester.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Confidentiality {
    /// Publish the content keys when the task ends.
    pub publish_keys: bool,
    /// Central differential privacy at this epsilon for the whole task (delta 1e-5).
    pub dp_epsilon: Option<f64>,
    /// The L2 bound each update is clipped to under differential privacy.
    pub dp_clip: f64,
}

impl Default for Confidentiality {
    fn default() -> Self {
        Self { publish_keys: true, dp_epsilon: None, dp_clip: 1.0 }
    }
}

impl Scenario {
    /// Four honest workers holding 1x, 2x, 4x and 8x `unit` samples of their Dirichlet shards, a
    /// free-rider and a sign-flipper, over `rounds` rounds.
    pub fn with_unit(rounds: u32, unit: usize) -> Self {
        Self::with_red_team(rounds, unit, &DEFAULT_RED_TEAM)
    }

    /// Four honest workers as [`Self::with_unit`] and one dishonest worker per attack, each on `2 x unit`
    /// samples of its own shard.
    pub fn with_red_team(rounds: u32, unit: usize, attacks: &[Attack]) -> Self {
        Self::with_honest(rounds, (0..4).map(|i| unit << i), unit * 2, attacks)
    }

    /// `honest` workers of `samples` each and one dishonest worker per attack on as many, every worker with a
    /// shard of its own: the shape of a benchmark, where every worker does the same work.
    pub fn equal(rounds: u32, honest: usize, samples: usize, attacks: &[Attack]) -> Self {
        Self::with_honest(rounds, std::iter::repeat_n(samples, honest), samples, attacks)
    }

    /// One honest worker per entry of `honest` (its most samples), then one dishonest worker per attack, on
    /// `dishonest_samples` each.
    fn with_honest(
        rounds: u32,
        honest: impl Iterator<Item = usize>,
        dishonest_samples: usize,
        attacks: &[Attack],
    ) -> Self {
        let honest: Vec<WorkerSpec> = honest
            .enumerate()
            .map(|(i, max_samples)| WorkerSpec {
                name: format!("honest-{}", i + 1),
                role: Role::Honest,
                shard: i,
                max_samples,
            })
            .collect();
        let first_dishonest = honest.len();
        let dishonest = attacks.iter().enumerate().map(|(i, &attack)| WorkerSpec {
            name: attack.name().into(),
            role: Role::RedTeam(attack),
            // Its own data: a cheat that trained on an honest worker's shard would send that worker's update
            // (negated, noised, ...), and whichever of the two came first would own it.
            shard: first_dishonest + i,
            max_samples: dishonest_samples,
        });
        Self {
            rounds,
            window_secs: 300,
            reward_tokens: 1000,
            stake_tokens: 100,
            validation_samples: 2000,
            partition: Partition::Dirichlet,
            alpha: 1.0,
            workers: honest.into_iter().chain(dishonest).collect(),
            tls: false,
            architecture: tessera_train::ArchitectureId::Lenet5MnistV1,
            model: None,
            chaos: None,
            confidential: None,
        }
    }

    /// The README's demo: 5 rounds, honest workers with 600 to 4,800 samples.
    pub fn full() -> Self {
        Self::with_unit(5, 600)
    }

    /// The end-to-end tests' size: 3 rounds, honest workers with 300 to 2,400 samples.
    pub fn small() -> Self {
        Self::with_unit(3, 300)
    }

    /// What the workers' data show (`tessera-worker run --dataset`): MNIST, or for a 32x32 RGB network MNIST
    /// loaded as `cifar10` loads, three channels of 32x32 with CIFAR-10's normalisation.
    pub fn worker_dataset(&self) -> &'static str {
        if self.model.is_none() && self.architecture.input_shape() == [3, 32, 32] { "cifar10" } else { "mnist" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_workers_double_their_data_and_two_cheat() {
        let scenario = Scenario::full();
        let honest: Vec<usize> =
            scenario.workers.iter().filter(|w| w.role == Role::Honest).map(|w| w.max_samples).collect();
        assert_eq!(honest, vec![600, 1200, 2400, 4800]);
        let roles: Vec<Option<String>> = scenario.workers.iter().map(|w| w.role.red_team_flag()).collect();
        assert_eq!(roles[4..], [Some("free-rider".into()), Some("sign-flip".into())]);
        let boosted = Scenario::with_red_team(2, 300, &["boost:10".parse().unwrap()]);
        assert_eq!(boosted.workers[4].role.red_team_flag().as_deref(), Some("boost:10"));
    }

    #[test]
    fn an_equal_scenario_gives_every_worker_its_own_shard_of_the_same_size() {
        let scenario = Scenario::equal(5, 10, 5900, &[Attack::FreeRider]);
        assert_eq!(scenario.workers.len(), 11);
        assert!(scenario.workers.iter().all(|w| w.max_samples == 5900));
        let shards: Vec<usize> = scenario.workers.iter().map(|w| w.shard).collect();
        assert_eq!(shards, (0..11).collect::<Vec<_>>());
        assert_eq!(scenario.workers[10].role.red_team_flag().as_deref(), Some("free-rider"));
    }
}
