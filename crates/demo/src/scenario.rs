//! Who takes part in the demo, with how much data.

use std::fmt;

/// How a worker behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Trains on its shard and submits the update.
    Honest,
    /// Sends a near-zero update without training.
    FreeRider,
    /// Trains, then sends the negated update.
    SignFlip,
}

impl Role {
    /// The worker's `--red-team` value, for the dishonest ones.
    pub fn red_team_flag(self) -> Option<&'static str> {
        match self {
            Self::Honest => None,
            Self::FreeRider => Some("free-rider"),
            Self::SignFlip => Some("sign-flip"),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Honest => "honest",
            Self::FreeRider => "free-rider",
            Self::SignFlip => "sign-flip",
        })
    }
}

/// One worker of the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerSpec {
    /// Its name in the output.
    pub name: String,
    /// How it behaves.
    pub role: Role,
    /// Which Dirichlet shard of the training set it reads (honest workers each have their own).
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
    /// The Dirichlet concentration the honest workers' shards are drawn with (smaller is more skewed).
    pub alpha: f64,
    /// The workers.
    pub workers: Vec<WorkerSpec>,
}

impl Scenario {
    /// Four honest workers holding 1x, 2x, 4x and 8x `unit` samples of their Dirichlet shards, a
    /// free-rider and a sign-flipper, over `rounds` rounds.
    pub fn with_unit(rounds: u32, unit: usize) -> Self {
        let honest = (0..4).map(|i| WorkerSpec {
            name: format!("honest-{}", i + 1),
            role: Role::Honest,
            shard: i,
            max_samples: unit << i,
        });
        let dishonest = [(Role::FreeRider, "free-rider"), (Role::SignFlip, "sign-flipper")]
            .into_iter()
            .enumerate()
            .map(|(i, (role, name))| WorkerSpec { name: name.into(), role, shard: i, max_samples: unit * 2 });
        Self {
            rounds,
            window_secs: 300,
            reward_tokens: 1000,
            stake_tokens: 100,
            validation_samples: 2000,
            alpha: 1.0,
            workers: honest.chain(dishonest).collect(),
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
        let roles: Vec<Option<&str>> = scenario.workers.iter().map(|w| w.role.red_team_flag()).collect();
        assert_eq!(roles[4..], [Some("free-rider"), Some("sign-flip")]);
    }
}
