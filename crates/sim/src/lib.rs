//! A federated-training simulation on MNIST: honest and adversarial workers train LeNet (or, with `--arch`, a
//! ResNet, which sees the digits as 3x32x32 images) with `tessera-train`, and `tessera-scoring` aggregates,
//! scores, rewards and flags them round by round.
//!
//! [`run`] is the whole program; `main.rs` only parses [`Args`].

mod args;
mod evaluator;
mod privacy;
mod report;
mod workers;

pub use args::{Args, PartitionKind, Role};

use eyre::{Context, Result, bail};
use std::{fs::File, io::Write, time::Instant};
use tessera_adversary::Attack;
use tessera_scoring::{
    FitResult, RoundInput, Scorer, ScoringConfig, Strategy, StrategySpec, Submission, WorkerId, apply,
};
use tessera_train::{Dataset, Partitioning, Split};

/// Token base units per whole token.
const UNIT: u128 = 1_000_000_000_000_000_000;

/// Runs the simulation and prints every round.
pub fn run(args: &Args) -> Result<()> {
    let arch = args.arch;
    let roles = roles(args)?;
    if args.aggregate_all && args.server_adam > 0.0 {
        // The scorer commits its own aggregate to the server optimiser; a second, different step would not match.
        bail!("--aggregate-all does not combine with --server-adam");
    }
    let dir = args.mnist_dir.clone().unwrap_or_else(tessera_harness::mnist_dir);
    let input = arch.input();
    let train = Dataset::load(&dir, Split::Train, &input).wrap_err_with(|| format!("MNIST in {}", dir.display()))?;
    let test = Dataset::load(&dir, Split::Test, &input).wrap_err("MNIST test split")?;
    let test = match args.test_samples {
        Some(samples) => test.take(samples.min(test.len()))?,
        None => test,
    };

    // The requester's validation set is held out of the training split; workers share the rest.
    let pool_len = train
        .len()
        .checked_sub(args.validation_samples)
        .filter(|&n| n > 0)
        .ok_or_else(|| eyre::eyre!("--validation-samples {} leaves no training data", args.validation_samples))?;
    let validation = train.subset(&(pool_len..train.len()).collect::<Vec<_>>())?;
    let partitioning = match args.partition {
        PartitionKind::Iid => Partitioning::Iid,
        PartitionKind::Dirichlet => Partitioning::Dirichlet { alpha: args.alpha, min_samples: 10 },
    };
    let shards = partitioning.split(&train.labels()[..pool_len], args.workers, args.seed)?;
    let caps = sample_caps(args)?;
    let shards: Vec<Vec<usize>> =
        shards.iter().zip(caps).map(|(shard, cap)| shard[..shard.len().min(cap)].to_vec()).collect();
    let shards: Vec<Dataset> =
        share_among_sybils(&roles, shards).iter().map(|s| train.subset(s)).collect::<Result<_, _>>()?;
    let ids: Vec<WorkerId> = (0..args.workers).map(|i| WorkerId::new(format!("w{i:02}"))).collect();
    let mut team = workers::Team::new(arch, &roles, &shards, args)?;

    let privacy = privacy::Privacy::from_args(args)?;
    let mut strategy = strategy(args)?;
    let mut scorer = Scorer::new(ScoringConfig::default())?;
    let mut global = arch.init_parameters(args.seed).into_values();
    let mut previous_change: Option<Vec<f32>> = None;
    let mut validator = evaluator::TorchEvaluator::new(arch, validation)?;
    let mut tester = evaluator::TorchEvaluator::new(arch, test)?;
    let mut json = args.json.as_ref().map(File::create).transpose().wrap_err("--json file")?;
    let mut totals = report::Totals::new(&ids);

    report::header(args, &roles, &shards, &strategy.name());
    if let Some(privacy) = &privacy {
        privacy.print_header(args.rounds);
    }
    let loop_started = Instant::now();
    let mut times = report::Times::default();
    let initial = tester.metrics(&global)?;
    println!("round 0: test accuracy {:.2}%", 100.0 * initial.accuracy);
    for round in 1..=args.rounds {
        let started = Instant::now();
        let deltas = team.round(round, &global, previous_change.as_deref())?;
        let trained = started.elapsed();
        let receipts = receipt_order(&roles, args.seed, round);
        let (submissions, updates): (Vec<Submission>, Vec<&[f32]>) = ids
            .iter()
            .zip(&deltas)
            .enumerate()
            .filter_map(|(i, (worker, delta))| {
                let delta = delta.as_deref()?;
                let samples = shards[i].len() as u64;
                let claim = match roles[i] {
                    Role::Attack(attack) => attack.claim(samples),
                    Role::Honest => samples,
                };
                Some((Submission { worker: worker.clone(), num_samples: claim, receipt: receipts[i] }, delta))
            })
            .unzip();
        let input = RoundInput {
            round,
            global: &global,
            submissions: &submissions,
            updates: &updates,
            failures: &[],
            expected: &[],
            roster: &ids,
            reward: u128::from(args.reward_tokens) * UNIT,
        };
        let scoring_started = Instant::now();
        let outcome = scorer.score_round(&input, strategy.as_mut(), Some(&mut validator))?;
        let scored = scoring_started.elapsed();
        let step = if args.aggregate_all {
            let results: Vec<FitResult<'_>> =
                submissions.iter().zip(&updates).map(|(s, d)| FitResult::new(&s.worker, d, s.num_samples)).collect();
            strategy.aggregate(round, &results, &[])?
        } else {
            outcome.aggregate
        };
        let included = step.as_ref().map_or(0, |a| a.included.len());
        let step = match (&privacy, step) {
            (Some(privacy), Some(aggregate)) => {
                Some(privacy.step(round, &submissions, &updates, &aggregate.included)?)
            }
            (_, step) => step.map(|a| a.delta),
        };
        if let Some(delta) = &step {
            global = apply(&global, delta);
        }
        previous_change = step;
        let testing_started = Instant::now();
        let test_metrics = tester.metrics(&global)?;
        times.add(trained, scored, testing_started.elapsed());
        report::round(&outcome.result, &roles, &ids, test_metrics, trained, scored);
        let guarantee = privacy.as_ref().map(|p| p.report(round, included));
        totals.add(&outcome.result);
        if let Some(file) = json.as_mut() {
            let mut record = serde_json::to_value(&outcome.result)?;
            if let (Some(guarantee), Some(fields)) = (guarantee, record.as_object_mut()) {
                fields.insert("privacy".into(), guarantee);
            }
            writeln!(file, "{record}")?;
        }
    }
    let looped = loop_started.elapsed();
    totals.print(&roles, scorer.state());
    let samples: Vec<usize> = shards.iter().map(Dataset::len).collect();
    totals.print_detection(&roles);
    totals.print_fairness(&roles, &samples);
    times.print(looped, validator.usage());
    if let Some(privacy) = &privacy {
        privacy.print_summary(args.rounds);
    }
    Ok(())
}

/// The order the round's updates arrive in, as receipt numbers by worker: first come first served, in a seeded
/// order that changes every round, as a coordinator sees them arrive; the workers that build their update from
/// the others' (copies, colluders) come after them.
fn receipt_order(roles: &[Role], seed: u64, round: u64) -> Vec<u64> {
    let waits =
        |role: Role| matches!(role, Role::Attack(a) if a.copies() || matches!(a, Attack::LittleIsEnough { .. }));
    let mut first: Vec<usize> = (0..roles.len()).filter(|&i| !waits(roles[i])).collect();
    tessera_train::Rng::derive(seed, 0x7265_6365_6970_7400 ^ round).shuffle(&mut first);
    let later = (0..roles.len()).filter(|&i| waits(roles[i]));
    let mut receipts = vec![0; roles.len()];
    for (receipt, i) in first.into_iter().chain(later).enumerate() {
        receipts[i] = receipt as u64;
    }
    receipts
}

/// Each worker's sample cap: `--samples-per-worker` times its `--data-weights` entry (1 without weights).
fn sample_caps(args: &Args) -> Result<Vec<usize>> {
    if args.data_weights.is_empty() {
        return Ok(vec![args.samples_per_worker; args.workers]);
    }
    if args.data_weights.len() != args.workers {
        bail!("--data-weights has {} entries for {} workers", args.data_weights.len(), args.workers);
    }
    args.data_weights
        .iter()
        .map(|&w| {
            if !(w > 0.0 && w.is_finite()) {
                bail!("--data-weights must be positive and finite, got {w}");
            }
            Ok((args.samples_per_worker as f64 * w).round() as usize)
        })
        .collect()
}

/// Each worker's role: honest first, then `--adversaries` in order.
fn roles(args: &Args) -> Result<Vec<Role>> {
    let Some(honest) = args.workers.checked_sub(args.adversaries.len()) else {
        bail!("{} adversaries need more than {} workers", args.adversaries.len(), args.workers);
    };
    let copies = args.adversaries.iter().any(|r| matches!(r, Role::Attack(a) if a.copies()));
    if honest == 0 && copies {
        bail!("copycats copy worker 0, which must be honest");
    }
    Ok(std::iter::repeat_n(Role::Honest, honest).chain(args.adversaries.iter().copied()).collect())
}

/// The strategy from the options, built by the same [`StrategySpec`] the coordinator uses.
fn strategy(args: &Args) -> Result<Box<dyn Strategy>> {
    let spec = StrategySpec {
        kind: args.strategy,
        beta: args.beta,
        krum_f: args.krum_f,
        clip_multiple: args.clip_multiple,
        server_adam: args.server_adam,
    };
    Ok(spec.build()?)
}

/// The shards with each run of consecutive sybils sharing the first one's shard: one data owner's data split
/// evenly over several identities.
fn share_among_sybils(roles: &[Role], mut shards: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    let sybil = |i: usize| roles[i] == Role::Attack(Attack::Sybil);
    let mut i = 0;
    while i < roles.len() {
        if !sybil(i) {
            i += 1;
            continue;
        }
        let end = (i..roles.len()).find(|&j| !sybil(j)).unwrap_or(roles.len());
        let data = shards[i].clone();
        let k = end - i;
        for (part, j) in (i..end).enumerate() {
            shards[j] = data[data.len() * part / k..data.len() * (part + 1) / k].to_vec();
        }
        i = end;
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn adversaries_take_the_last_workers() {
        let args = Args::parse_from(["tessera-sim", "--workers", "4", "--adversaries", "sign-flip,copycat"]);
        let attack = |a: Attack| Role::Attack(a);
        assert_eq!(
            roles(&args).unwrap(),
            vec![Role::Honest, Role::Honest, attack(Attack::SignFlip), attack(Attack::Copycat)]
        );
        let args = Args::parse_from(["tessera-sim", "--workers", "1", "--adversaries", "copycat"]);
        assert!(roles(&args).is_err());
        let defaults = Args::parse_from(["tessera-sim"]);
        assert_eq!(roles(&defaults).unwrap().iter().filter(|r| **r == Role::Honest).count(), 3);
    }

    #[test]
    fn data_weights_scale_the_sample_cap() {
        let args = Args::parse_from(["tessera-sim", "--workers", "3", "--samples-per-worker", "100"]);
        assert_eq!(sample_caps(&args).unwrap(), [100, 100, 100]);
        let args = Args::parse_from([
            "tessera-sim",
            "--workers",
            "3",
            "--samples-per-worker",
            "100",
            "--data-weights",
            "1,2,4",
        ]);
        assert_eq!(sample_caps(&args).unwrap(), [100, 200, 400]);
        let args = Args::parse_from(["tessera-sim", "--workers", "3", "--data-weights", "1,2"]);
        assert!(sample_caps(&args).is_err());
        let args = Args::parse_from(["tessera-sim", "--workers", "2", "--data-weights", "1,0"]);
        assert!(sample_caps(&args).is_err());
    }

    #[test]
    fn sybils_split_one_shard() {
        let args = Args::parse_from(["tessera-sim", "--workers", "4", "--adversaries", "sybil,sybil"]);
        let shards = share_among_sybils(&roles(&args).unwrap(), vec![vec![0, 1], vec![2], vec![3, 4, 5, 6], vec![7]]);
        assert_eq!(shards, [vec![0, 1], vec![2], vec![3, 4], vec![5, 6]]);
    }

    #[test]
    fn the_strategy_is_the_coordinators() {
        let args = Args::parse_from(["tessera-sim", "--strategy", "median", "--server-adam", "0.1"]);
        assert_eq!(strategy(&args).unwrap().name(), "clip(2xmedian,fedadam(eta=0.1,b1=0.9,b2=0.99,tau=0.001,median))");
    }
}
