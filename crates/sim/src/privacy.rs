//! `--dp-epsilon`: the global step becomes DP-FedAvg's private mean of the updates the scorer included, with the
//! noise multiplier that meets the target over all `--rounds`.

use crate::Args;
use eyre::{Result, bail};
use serde_json::{Value, json};
use tessera_scoring::{
    Submission, Updates, WorkerId,
    privacy::{self, Accounting, PrivacySpec},
};

/// The label a round's noise seed is derived from, with the run's `--seed` and the round number.
const LABEL: &[u8] = b"tessera-sim dp";

/// The run's privacy settings.
pub(crate) struct Privacy {
    target: f64,
    spec: PrivacySpec,
    label: Vec<u8>,
}

impl Privacy {
    /// The settings from `--dp-*`, or `None` without `--dp-epsilon`.
    pub(crate) fn from_args(args: &Args) -> Result<Option<Self>> {
        let Some(target) = args.dp_epsilon else { return Ok(None) };
        if !(target > 0.0 && target.is_finite()) {
            bail!("--dp-epsilon must be positive and finite, got {target}");
        }
        if args.server_adam > 0.0 {
            // The server optimiser commits the scorer's aggregate, not the private step.
            bail!("--dp-epsilon does not combine with --server-adam");
        }
        let noise_multiplier = privacy::noise_for_epsilon(target, args.rounds, args.dp_delta);
        let spec = PrivacySpec { clip: args.dp_clip, noise_multiplier, delta: args.dp_delta };
        spec.validate()?;
        let label = [LABEL, &args.seed.to_le_bytes()].concat();
        Ok(Some(Self { target, spec, label }))
    }

    pub(crate) fn print_header(&self, rounds: u64) {
        println!(
            "  DP-FedAvg: target epsilon {} over {rounds} rounds at delta {:e}: clip {}, noise multiplier {:.4}; \
             the global model steps by the private mean (validation figures are the scorer's own aggregate's)",
            self.target, self.spec.delta, self.spec.clip, self.spec.noise_multiplier
        );
    }

    /// The private step of `round`: the noisy clipped mean of the updates of the `included` workers.
    pub(crate) fn step(
        &self,
        round: u64,
        submissions: &[Submission],
        updates: &dyn Updates,
        included: &[WorkerId],
    ) -> Result<Vec<f32>> {
        let indices: Vec<usize> =
            submissions.iter().enumerate().filter(|(_, s)| included.contains(&s.worker)).map(|(i, _)| i).collect();
        let seed = privacy::round_seed(&self.label, round);
        Ok(privacy::private_mean(updates, &indices, &self.spec, seed)?)
    }

    /// The guarantee of one round and of rounds `1..=round`.
    fn accounting(&self, round: u64) -> (Accounting, Accounting) {
        let sigma = self.spec.noise_multiplier;
        (privacy::epsilon(sigma, 1, self.spec.delta), privacy::epsilon(sigma, round, self.spec.delta))
    }

    /// Prints the round's guarantee and returns it for the JSON record.
    pub(crate) fn report(&self, round: u64, included: usize) -> Value {
        let (one, so_far) = self.accounting(round);
        let std = self.spec.noise_multiplier * self.spec.clip / included.max(1) as f64;
        println!(
            "  privacy: noise multiplier {:.4} (std {std:.3e} per coordinate over {included} updates), epsilon {:.4} \
             a round (order {}), {:.4} over {round} rounds (order {}) at delta {:e}",
            self.spec.noise_multiplier, one.epsilon, one.order, so_far.epsilon, so_far.order, self.spec.delta
        );
        json!({
            "target_epsilon": self.target,
            "clip": self.spec.clip,
            "noise_multiplier": self.spec.noise_multiplier,
            "delta": self.spec.delta,
            "included": included,
            "round": one,
            "cumulative": so_far,
        })
    }

    /// The run's guarantee, on one line for scripts.
    pub(crate) fn print_summary(&self, rounds: u64) {
        let (_, total) = self.accounting(rounds);
        println!(
            "privacy: target_epsilon={} noise_multiplier={:.6} epsilon={:.6} order={} delta={:e} clip={}",
            self.target, self.spec.noise_multiplier, total.epsilon, total.order, self.spec.delta, self.spec.clip
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn off_without_an_epsilon_and_calibrated_with_one() {
        assert!(Privacy::from_args(&Args::parse_from(["tessera-sim"])).unwrap().is_none());
        let args = Args::parse_from(["tessera-sim", "--rounds", "10", "--dp-epsilon", "3", "--dp-clip", "0.5"]);
        let privacy = Privacy::from_args(&args).unwrap().unwrap();
        assert_eq!(privacy.spec.noise_multiplier, privacy::noise_for_epsilon(3.0, 10, 1e-5));
        assert!(privacy.accounting(10).1.epsilon <= 3.0);
        let refused = |extra: &[&str]| {
            let args = Args::parse_from(["tessera-sim", "--dp-epsilon", "3"].iter().chain(extra));
            Privacy::from_args(&args).is_err()
        };
        assert!(refused(&["--server-adam", "0.1"]));
        assert!(refused(&["--dp-clip", "0"]));
        assert!(refused(&["--dp-delta", "1"]));
    }

    #[test]
    fn steps_by_the_included_updates_only() {
        let args = Args::parse_from(["tessera-sim", "--rounds", "2", "--dp-epsilon", "100000"]);
        let privacy = Privacy::from_args(&args).unwrap().unwrap();
        let ids: Vec<WorkerId> = (0..3).map(|i| WorkerId::new(format!("w{i:02}"))).collect();
        let submissions: Vec<Submission> =
            ids.iter().map(|w| Submission { worker: w.clone(), num_samples: 1, receipt: 0 }).collect();
        let (a, b, c) = ([0.1f32, 0.0], [0.0f32, 0.3], [50.0f32, 50.0]);
        let updates: Vec<&[f32]> = vec![&a, &b, &c];
        let updates: &dyn Updates = &updates;
        let step = privacy.step(1, &submissions, updates, &ids[..2]).unwrap();
        assert!((step[0] - 0.05).abs() < 0.01 && (step[1] - 0.15).abs() < 0.01, "{step:?}");
        assert_eq!(step, privacy.step(1, &submissions, updates, &ids[..2]).unwrap());
        assert_ne!(step, privacy.step(2, &submissions, updates, &ids[..2]).unwrap());
    }
}
