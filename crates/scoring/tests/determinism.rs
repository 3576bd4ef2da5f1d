//! Bit-for-bit determinism: the same inputs give the same bytes, in any submission order, and golden values
//! pin the numbers so that another machine or compiler that computes differently fails here.

mod common;

use common::{Behaviour, Rng, deltas, ids, submissions};
use tessera_scoring::{
    ClipBound, FedAdam, FedAvg, NormClip, RoundInput, Scorer, ScoringConfig, Submission, TrimmedMean, WorkerId,
    mock::MockEvaluator,
};

const REWARD: u128 = 1_000_000_000_000_000_000_000;

/// Runs the mixed scenario and returns every round's result as JSON, then the scorer state.
fn scenario(reverse_submissions: bool) -> Vec<String> {
    use Behaviour::*;
    let behaviours = [Honest, Honest, Honest, Honest, Zero, SignFlip, Copy(0), Noise, Every(2)];
    let len = 2048;
    let ids = ids(behaviours.len());
    let mut strategy = NormClip::new(
        FedAdam::new(TrimmedMean::new(0.2).unwrap(), 0.1, 0.9, 0.99, 1e-3).unwrap(),
        ClipBound::MedianMultiple(2.0),
    )
    .unwrap();
    let mut evaluator = MockEvaluator::new(Rng::new(1001).vector(len, 1.0));
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let mut rng = Rng::new(7);
    let mut global = vec![0.0f32; len];
    let mut out = Vec::new();
    for round in 1..=4 {
        let deltas = deltas(round, &behaviours, len, &mut rng);
        let mut subs: Vec<Submission<'_>> = submissions(&ids, &deltas);
        if reverse_submissions {
            subs.reverse();
        }
        let input = RoundInput {
            round,
            global: &global,
            submissions: &subs,
            failures: &[],
            expected: &[],
            roster: &ids,
            reward: REWARD,
        };
        let outcome = scorer.score_round(&input, &mut strategy, Some(&mut evaluator)).unwrap();
        if let Some(aggregate) = &outcome.aggregate {
            global = tessera_scoring::apply(&global, &aggregate.delta);
        }
        out.push(serde_json::to_string(&outcome.result).unwrap());
    }
    out.push(serde_json::to_string(scorer.state()).unwrap());
    out
}

#[test]
fn same_inputs_give_identical_bytes_in_any_order() {
    let first = scenario(false);
    assert_eq!(first, scenario(false));
    assert_eq!(first, scenario(true));
}

#[test]
fn golden_mixed_scenario() {
    let last: tessera_scoring::RoundResult = serde_json::from_str(&scenario(false)[3]).unwrap();
    let rewards: Vec<(String, u128)> = last.workers.iter().map(|w| (w.worker.to_string(), w.reward)).collect();
    assert_eq!(rewards.iter().map(|(_, r)| r).sum::<u128>(), REWARD);
    let expected: [(&str, u128); 9] = [
        ("0x00", 205_536_689_616_610_068_850),
        ("0x01", 197_514_488_592_543_465_778),
        ("0x02", 154_470_667_463_412_002_390),
        ("0x03", 309_619_285_928_857_857_786),
        ("0x04", 0),
        ("0x05", 0),
        ("0x06", 0),
        ("0x07", 0),
        ("0x08", 132_858_868_398_576_605_196),
    ];
    assert_eq!(rewards, expected.map(|(w, r)| (w.to_owned(), r)).to_vec());
    assert_eq!(
        last.aggregate_sha256.as_deref(),
        Some("1f2d854b5205517a7d244be512a966f6f73658238ed1d828e3475a5a03f1cb43")
    );
}

/// Three workers, FedAvg, no evaluator: small enough to recompute by hand. The aggregate is (2/3, 2/3), so
/// phi = (1/sqrt 2, 1/sqrt 2, 1); reputations start at 1/3 and become 0.3287741617974071 (twice) and
/// 0.34245167640518587; every update agrees with the others (cos(67.5 deg) = 0.38268 twice, and 1), and all
/// report 100 samples, so the scores are the shares of r; the reward splits by largest remainder. An independent recomputation (Python floats, big
/// integers) gives the same units and rewards.
#[test]
fn golden_hand_checked_round() {
    let ids: Vec<WorkerId> = ["0xa", "0xb", "0xc"].into_iter().map(WorkerId::from).collect();
    let deltas = [vec![1.0f32, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
    let subs: Vec<Submission<'_>> = ids
        .iter()
        .zip(&deltas)
        .enumerate()
        .map(|(i, (w, d))| Submission { worker: w.clone(), delta: d, num_samples: 100, receipt: i as u64 })
        .collect();
    let input = RoundInput {
        round: 1,
        global: &[],
        submissions: &subs,
        failures: &[],
        expected: &[],
        roster: &ids,
        reward: REWARD,
    };
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let result = scorer.score_round(&input, &mut FedAvg, None).unwrap().result;
    let units: Vec<u64> = result.workers.iter().map(|w| w.score_units).collect();
    let rewards: Vec<u128> = result.workers.iter().map(|w| w.reward).collect();
    assert_eq!(units, vec![328_774_161, 328_774_161, 342_451_676]);
    assert_eq!(rewards, vec![328_774_161_657_548_323_315, 328_774_161_657_548_323_315, 342_451_676_684_903_353_370]);
    assert_eq!(result.workers[2].reputation, Some(0.34245167640518587));
    assert!(result.flags.is_empty() && result.slashes.is_empty());
}
