//! The scorer end to end on synthetic rounds: detection, reputation, FedAU, the validation signal, rewards.

mod common;

use common::{Behaviour, Rng, deltas, deltas_toward, ids, submissions};
use tessera_scoring::{
    Evaluator, Evidence, FedAvg, Reason, RoundInput, RoundResult, Scorer, ScoringConfig, Source, Strategy, Submission,
    TrimmedMean, WorkerId, WorkerStatus, mock::MockEvaluator,
};

const REWARD: u128 = 1_000_000_000_000_000_000_000;

fn run(
    behaviours: &[Behaviour],
    rounds: u64,
    len: usize,
    strategy: &mut dyn Strategy,
    mut evaluator: Option<&mut (dyn Evaluator + '_)>,
    expected_all: bool,
) -> Vec<RoundResult> {
    let ids = ids(behaviours.len());
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let mut rng = Rng::new(7);
    let global = vec![0.0f32; len];
    let mut results = Vec::new();
    for round in 1..=rounds {
        let deltas = deltas(round, behaviours, len, &mut rng);
        let (subs, updates) = submissions(&ids, &deltas);
        let expected = if expected_all { ids.clone() } else { Vec::new() };
        let input = RoundInput {
            round,
            global: &global,
            submissions: &subs,
            updates: &updates,
            failures: &[],
            expected: &expected,
            roster: &ids,
            reward: REWARD,
        };
        results.push(scorer.score_round(&input, strategy, evaluator.as_deref_mut()).unwrap().result);
    }
    results
}

fn flags_of(result: &RoundResult, worker: usize) -> Vec<(Reason, &Evidence)> {
    let id = &ids(worker + 1)[worker];
    result.flags.iter().filter(|f| &f.worker == id).map(|f| (f.reason, &f.evidence)).collect()
}

fn assert_rewards_exact(result: &RoundResult) {
    let total: u128 = result.workers.iter().map(|w| w.reward).sum();
    assert_eq!(total + result.unallocated, result.reward);
    assert_eq!(result.unallocated, 0);
}

#[test]
fn flags_copies_free_riders_noise_and_sign_flippers() {
    use Behaviour::*;
    let behaviours = [Honest, Honest, Honest, Honest, Honest, Zero, SignFlip, Copy(0), Noise];
    let results = run(&behaviours, 4, 4096, &mut FedAvg, None, false);
    let r1 = &results[0];

    let copy = flags_of(r1, 7);
    assert_eq!(copy.len(), 1);
    match copy[0] {
        (Reason::Copy, Evidence::Copied { source, cosine, residual, max_residual, .. }) => {
            assert_eq!(source, &Source::Update { worker: ids(1)[0].clone(), round: 1 });
            assert!(*cosine > 0.999 && *residual < 0.01 && residual < max_residual);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(flags_of(r1, 5)[..], [(Reason::FreeRider, Evidence::TinyNorm { norm: 0.0, .. })]));
    // The sign-flipper: RFFL removes it in round 2 and ignores it after.
    assert!(flags_of(r1, 6).is_empty());
    assert!(matches!(flags_of(&results[1], 6)[..], [(Reason::Poisoning, Evidence::LowReputation { .. })]));
    assert_eq!(results[2].workers[6].status, WorkerStatus::Removed);
    assert!(flags_of(&results[2], 6).is_empty());
    // Noise: uncorrelated with the others for three rounds.
    assert!(flags_of(&results[1], 8).is_empty());
    match flags_of(&results[2], 8)[..] {
        [(Reason::FreeRider, Evidence::Uncorrelated { mean_cosine, rounds: 3, .. })] => {
            assert!(mean_cosine.abs() < 0.05)
        }
        ref other => panic!("unexpected {other:?}"),
    }

    for result in &results {
        assert_rewards_exact(result);
        for (i, w) in result.workers.iter().enumerate() {
            assert_eq!(w.worker, ids(9)[i]);
            if i < 5 {
                assert_eq!(w.status, WorkerStatus::Aggregated);
                assert!(w.reward > 0 && w.score > 0.0, "honest worker {i} earned nothing in round {}", result.round);
            } else if i != 8 || result.round >= 3 {
                assert_eq!((w.reward, w.score_units), (0, 0), "worker {i} paid in round {}", result.round);
            }
        }
    }
    let slashes: Vec<(String, Reason, u16)> =
        r1.slashes.iter().map(|s| (s.worker.to_string(), s.reason, s.bps)).collect();
    assert_eq!(slashes, vec![("0x05".into(), Reason::FreeRider, 1_000), ("0x07".into(), Reason::Copy, 5_000)]);
    assert!(
        results[1].slashes.iter().any(|s| s.worker == ids(7)[6] && s.reason == Reason::Poisoning && s.bps == 5_000)
    );
}

#[test]
fn intermittent_worker_gets_fedau_weight_and_no_show_only_when_expected() {
    use Behaviour::*;
    let behaviours = [Honest, Honest, Honest, Honest, Every(3)];
    let results = run(&behaviours, 6, 1024, &mut FedAvg, None, false);
    for result in &results {
        assert!(result.flags.is_empty(), "round {}: {:?}", result.round, result.flags);
        assert_rewards_exact(result);
    }
    let intermittent = |r: &RoundResult| r.workers.iter().find(|w| w.worker == ids(5)[4]).cloned();
    assert!(intermittent(&results[0]).is_none());
    let third = intermittent(&results[2]).unwrap();
    assert_eq!(third.participation_weight, Some(3.0));
    assert_eq!(third.status, WorkerStatus::Aggregated);
    assert!(third.reward > 0);
    assert_eq!(results[2].workers[0].participation_weight, Some(1.0));
    assert_eq!(intermittent(&results[5]).unwrap().participation_weight, Some(3.0));

    // When every worker is due each round, the skipped rounds are no-shows.
    let results = run(&behaviours, 2, 1024, &mut FedAvg, None, true);
    let absent = intermittent(&results[0]).unwrap();
    assert_eq!((absent.status, absent.reward), (WorkerStatus::NoShow, 0));
    assert!(matches!(flags_of(&results[0], 4)[..], [(Reason::NoShow, Evidence::Missing)]));
    assert_eq!(results[0].slashes.len(), 1);
    assert_eq!((results[0].slashes[0].reason, results[0].slashes[0].bps), (Reason::NoShow, 100));
}

#[test]
fn validation_gains_score_helpers_and_flag_recurring_harm() {
    use Behaviour::*;
    let len = 512;
    let behaviours = [Honest, Honest, Honest, Honest, SignFlip];
    // The model is good near round 1's true direction; both rounds' honest updates point there, with fresh noise.
    let mut evaluator = MockEvaluator::new(Rng::new(1001).vector(len, 1.0));
    let ids = ids(behaviours.len());
    let global = vec![0.0f32; len];
    // The cosine test would exclude the flipper in round 3, before its gain is measured: this test is the harm
    // rule's, so that test waits.
    let config = ScoringConfig { noise_min_rounds: 5, ..ScoringConfig::default() };
    let mut scorer = Scorer::new(config).unwrap();
    let mut rng = Rng::new(7);
    let mut results = Vec::new();
    for round in 1..=3 {
        let deltas = deltas_toward(1, round, &behaviours, len, &mut rng);
        let (subs, updates) = submissions(&ids, &deltas);
        let input = RoundInput {
            round,
            global: &global,
            submissions: &subs,
            updates: &updates,
            failures: &[],
            expected: &[],
            roster: &ids,
            reward: REWARD,
        };
        results.push(scorer.score_round(&input, &mut FedAvg, Some(&mut evaluator)).unwrap().result);
    }
    // Harm is only noted until it has lasted three rounds; then it is flagged and the model rebuilt without it.
    for early in &results[..2] {
        assert!(early.flags.iter().all(|f| f.reason != Reason::Poisoning || f.worker == ids[4]), "{:?}", early.flags);
        assert!(!early.flags.iter().any(|f| matches!(f.evidence, Evidence::ValidationHarm { .. })));
    }
    assert_eq!(scorer.state().harm.get(&ids[4]), Some(&3));
    // Each round: the global model, one step per update, and the final model.
    assert_eq!(evaluator.calls(), 3 * (1 + 5 + 1));
    let r = &results[2];
    // By round 3 RFFL's reputation has also fallen below the bar; the harm verdict stands beside it.
    let harm = flags_of(r, 4)
        .into_iter()
        .find_map(|(reason, evidence)| match evidence {
            Evidence::ValidationHarm { loss_gain, median_gain, bar, .. } => {
                Some((reason, *loss_gain, *median_gain, *bar))
            }
            _ => None,
        })
        .expect("a harm flag in round 3");
    let (reason, loss_gain, median_gain, bar) = harm;
    assert!(reason == Reason::Poisoning && loss_gain < bar && bar <= 0.0 && median_gain > 0.0, "{harm:?}");
    assert_eq!(r.workers[4].status, WorkerStatus::Excluded);
    assert_eq!(r.workers[4].reward, 0);
    for w in &r.workers[..4] {
        let v = w.validation.unwrap();
        assert!(v.loss_gain > 0.0 && v.accuracy_gain > 0.0 && v.step_scale <= 0.2 + 1e-12);
        assert_eq!(w.status, WorkerStatus::Aggregated);
        assert!(w.residual.unwrap() > 0.3, "fresh noise is new work: {:?}", w.residual);
    }
    let score_sum: f64 = r.workers.iter().map(|w| w.score).sum();
    assert!((score_sum - 1.0).abs() < 1e-12);
    // The published metrics are the rebuilt model's: better than the global model it started from.
    let metrics = r.metrics.unwrap();
    let base = r.workers[0].validation.unwrap();
    assert!(metrics.loss < base.loss_with + base.loss_gain);
    assert_rewards_exact(r);
}

/// A round of many updates evaluates a bounded number of them: the half of the budget that agrees least with the
/// others (a sign-flipper among them, every round) and a sample of the rest. The flipper's harm is still caught in
/// its third round; the honest updates left unmeasured still earn.
#[test]
fn validation_costs_a_bounded_number_of_evaluations_and_still_catches_recurring_harm() {
    use Behaviour::*;
    let len = 512;
    let mut behaviours = vec![Honest; 12];
    behaviours.push(SignFlip);
    let flipper = behaviours.len() - 1;
    let mut evaluator = MockEvaluator::new(Rng::new(1001).vector(len, 1.0));
    let ids = ids(behaviours.len());
    let global = vec![0.0f32; len];
    // Neither the cosine test nor RFFL removes the flipper first: this test is the sampled harm rule's.
    let config =
        ScoringConfig { noise_min_rounds: 5, removal_fraction: 0.0, max_validated: 8, ..ScoringConfig::default() };
    let mut scorer = Scorer::new(config).unwrap();
    let mut rng = Rng::new(7);
    let mut measured_sets = Vec::new();
    for round in 1..=3 {
        let deltas = deltas_toward(1, round, &behaviours, len, &mut rng);
        let (subs, updates) = submissions(&ids, &deltas);
        let input = RoundInput {
            round,
            global: &global,
            submissions: &subs,
            updates: &updates,
            failures: &[],
            expected: &[],
            roster: &ids,
            reward: REWARD,
        };
        let calls = evaluator.calls();
        let r = scorer.score_round(&input, &mut FedAvg, Some(&mut evaluator)).unwrap().result;
        // The global model, eight updates, and the final model.
        assert_eq!(evaluator.calls() - calls, 1 + 8 + 1, "round {round}");
        let measured: Vec<usize> = (0..ids.len()).filter(|&k| r.workers[k].validation.is_some()).collect();
        assert_eq!(measured.len(), 8, "round {round}: {measured:?}");
        assert!(measured.contains(&flipper), "the least agreeing update is measured: {measured:?}");
        for (k, w) in r.workers.iter().enumerate().filter(|(k, _)| *k != flipper && !measured.contains(k)) {
            assert!(w.reward > 0 && w.status == WorkerStatus::Aggregated, "unmeasured honest worker {k}: {w:?}");
        }
        measured_sets.push(measured);
        if round == 3 {
            let harmed = flags_of(&r, flipper).iter().any(|(reason, evidence)| {
                *reason == Reason::Poisoning && matches!(evidence, Evidence::ValidationHarm { .. })
            });
            assert!(harmed, "{:?}", r.flags);
        }
    }
    assert_eq!(scorer.state().harm.get(&ids[flipper]), Some(&3));
    assert!(measured_sets.windows(2).any(|w| w[0] != w[1]), "the sample changes with the round: {measured_sets:?}");
}

/// One round of five honest workers near a true direction, the last one's update and claim replaced.
fn attacked_round(last: impl Fn(&[f32]) -> Vec<f32>, claim: u64) -> RoundResult {
    let len = 2048;
    let ids = ids(5);
    let mut rng = Rng::new(11);
    let truth = Rng::new(5000).vector(len, 1.0);
    let mut deltas: Vec<Vec<f32>> =
        (0..5).map(|_| truth.iter().zip(rng.vector(len, 0.5)).map(|(t, n)| 0.01 * (t + n)).collect()).collect();
    deltas[4] = last(&deltas[4]);
    let subs: Vec<Submission> = ids
        .iter()
        .zip(&deltas)
        .enumerate()
        .map(|(i, (w, _))| Submission {
            worker: w.clone(),
            num_samples: if i == 4 { claim } else { 600 },
            receipt: i as u64,
        })
        .collect();
    let updates = deltas.clone();
    let input = RoundInput {
        round: 1,
        global: &vec![0.0; len],
        submissions: &subs,
        updates: &updates,
        failures: &[],
        expected: &[],
        roster: &ids,
        reward: REWARD,
    };
    let mut evaluator = MockEvaluator::new(truth);
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let mut strategy =
        tessera_scoring::NormClip::new(TrimmedMean::new(0.2).unwrap(), tessera_scoring::ClipBound::MedianMultiple(2.0))
            .unwrap();
    scorer.score_round(&input, &mut strategy, Some(&mut evaluator)).unwrap().result
}

#[test]
fn claims_never_raise_pay_and_boosting_buys_nothing() {
    let honest = attacked_round(<[f32]>::to_vec, 600);
    let overclaim = attacked_round(<[f32]>::to_vec, 600_000);
    assert_eq!(overclaim.workers[4].reward, honest.workers[4].reward, "pay does not read the claim");
    for boost in [1.5f32, 10.0, 1000.0] {
        let boosted = attacked_round(|d| d.iter().map(|v| v * boost).collect(), 600);
        assert!(boosted.flags.is_empty(), "{:?}", boosted.flags);
        let ratio = boosted.workers[4].reward as f64 / honest.workers[4].reward as f64;
        assert!(ratio <= 1.1, "x{boost} boosted pay {ratio} times the honest pay");
    }
    // Less work (a shorter, noisier step) earns less.
    let lazy = attacked_round(|d| d.iter().map(|v| v * 0.1).collect(), 600);
    assert!(lazy.workers[4].reward < honest.workers[4].reward / 2);
}

#[test]
fn replays_of_earlier_rounds_are_copies() {
    use Behaviour::*;
    let len = 4096;
    let ids = ids(5);
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let mut rng = Rng::new(3);
    let global = vec![0.0f32; len];
    let mut previous: Option<(Vec<f32>, Vec<f32>)> = None;
    for round in 1..=3u64 {
        let mut deltas: Vec<Vec<f32>> =
            deltas(round, &[Honest; 5], len, &mut rng).into_iter().map(Option::unwrap).collect();
        if let Some((own, global_change)) = &previous {
            // Worker 3 replays its own last update, noised; worker 4 the last global change, scaled.
            deltas[3] = own.iter().map(|v| v + 0.05 * rng.symmetric()).collect();
            deltas[4] = global_change.iter().map(|v| 3.0 * v).collect();
        }
        let subs: Vec<Submission> = ids
            .iter()
            .zip(&deltas)
            .enumerate()
            .map(|(i, (w, _))| Submission { worker: w.clone(), num_samples: 100, receipt: i as u64 })
            .collect();
        let updates = deltas.clone();
        let input = RoundInput {
            round,
            global: &global,
            submissions: &subs,
            updates: &updates,
            failures: &[],
            expected: &[],
            roster: &ids,
            reward: REWARD,
        };
        let outcome = scorer.score_round(&input, &mut FedAvg, None).unwrap();
        if round == 1 {
            assert!(outcome.result.flags.is_empty());
        } else if round == 3 {
            // Convicted in round 2, both are out of the task: ignored and unpaid, with no new verdict.
            assert!(outcome.result.flags.is_empty(), "{:?}", outcome.result.flags);
            for w in &outcome.result.workers[3..] {
                assert_eq!((w.status, w.reward), (WorkerStatus::Removed, 0));
            }
        } else {
            let sources: Vec<(WorkerId, Source)> = outcome
                .result
                .flags
                .iter()
                .map(|f| match &f.evidence {
                    Evidence::Copied { source, .. } if f.reason == Reason::Copy => (f.worker.clone(), source.clone()),
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            assert_eq!(
                sources,
                [
                    (ids[3].clone(), Source::Update { worker: ids[3].clone(), round: round - 1 }),
                    (ids[4].clone(), Source::GlobalChange { round: round - 1 })
                ]
            );
            assert_eq!((outcome.result.workers[3].reward, outcome.result.workers[4].reward), (0, 0));
        }
        previous = Some((deltas[3].clone(), outcome.aggregate.unwrap().delta));
    }
}

#[test]
fn nothing_to_aggregate_leaves_the_reward_unallocated() {
    let results = run(&[Behaviour::Zero, Behaviour::Zero], 1, 16, &mut FedAvg, None, false);
    let r = &results[0];
    assert_eq!(r.unallocated, REWARD);
    assert_eq!(r.aggregate_sha256, None);
    assert!(r.workers.iter().all(|w| w.reward == 0 && w.status == WorkerStatus::Excluded));
}

#[test]
fn updates_left_out_by_multi_krum_earn_nothing() {
    use Behaviour::*;
    let len = 512;
    let behaviours = [Honest, Honest, Honest, Honest, SignFlip];
    let mut evaluator = MockEvaluator::new(Rng::new(1001).vector(len, 1.0));
    let mut krum = tessera_scoring::MultiKrum { f: 1, m: None };
    let r = &run(&behaviours, 1, len, &mut krum, Some(&mut evaluator), false)[0];
    // The global model, one step per selected update (the left-out update gets none), the final model.
    assert_eq!(evaluator.calls(), 1 + 4 + 1);
    let flipper = &r.workers[4];
    assert_eq!((flipper.status, flipper.validation, flipper.reward), (WorkerStatus::Excluded, None, 0));
    assert!(r.workers[..4].iter().all(|w| w.status == WorkerStatus::Aggregated && w.reward > 0));
    assert_rewards_exact(r);
}

#[test]
fn reported_failures_are_no_shows() {
    let ids = ids(2);
    let updates = vec![vec![1.0f32, 2.0]];
    let subs = [tessera_scoring::Submission { worker: ids[0].clone(), num_samples: 1, receipt: 0 }];
    let failures = [tessera_scoring::Failure { worker: ids[1].clone(), reason: "out of memory".into() }];
    let input = RoundInput {
        round: 1,
        global: &[],
        submissions: &subs,
        updates: &updates,
        failures: &failures,
        expected: &ids,
        roster: &ids,
        reward: 10,
    };
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let r = scorer.score_round(&input, &mut FedAvg, None).unwrap().result;
    assert_eq!(r.workers[1].status, WorkerStatus::Failed);
    assert!(matches!(&r.flags[..], [f] if f.reason == Reason::NoShow
        && f.evidence == Evidence::Failed { reason: "out of memory".into() }));
    assert_eq!((r.workers[0].reward, r.workers[1].reward), (10, 0));
    assert_eq!(r.slashes.len(), 1);
}
