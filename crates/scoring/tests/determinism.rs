//! Bit-for-bit determinism: the same inputs give the same bytes, in any submission order, and golden values
//! pin the numbers so that another machine or compiler that computes differently fails here.

mod common;

use common::{Behaviour, Rng, deltas_toward, ids, submissions};
use tessera_scoring::{
    ClipBound, FedAdam, FedAvg, NormClip, RoundInput, Scorer, ScoringConfig, Submission, TrimmedMean, WorkerId,
    mock::MockEvaluator,
};

const REWARD: u128 = 1_000_000_000_000_000_000_000;

/// Runs the mixed scenario and returns every round's result as JSON, then the scorer state.
fn scenario(reverse_submissions: bool) -> Vec<String> {
    scenario_with(reverse_submissions, 2048, tessera_scoring::BLOCK_BYTES)
}

/// [`scenario`] with updates of `len` parameters, read in blocks of at most `block_bytes`.
fn scenario_with(reverse_submissions: bool, len: usize, block_bytes: usize) -> Vec<String> {
    use Behaviour::*;
    let behaviours = [Honest, Honest, Honest, Honest, Zero, SignFlip, Copy(0), Noise, Every(2)];
    let ids = ids(behaviours.len());
    let mut strategy = NormClip::new(
        FedAdam::new(TrimmedMean::new(0.2).unwrap(), 0.1, 0.9, 0.99, 1e-3).unwrap(),
        ClipBound::MedianMultiple(2.0),
    )
    .unwrap();
    let mut evaluator = MockEvaluator::new(Rng::new(1001).vector(len, 1.0));
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap().with_block_bytes(block_bytes);
    let mut rng = Rng::new(7);
    let mut global = vec![0.0f32; len];
    let mut out = Vec::new();
    for round in 1..=4 {
        // One true direction for all rounds (the evaluator's target), fresh noise each round.
        let deltas = deltas_toward(1, round, &behaviours, len, &mut rng);
        let (mut subs, mut updates) = submissions(&ids, &deltas);
        if reverse_submissions {
            subs.reverse();
            updates.reverse();
        }
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
fn the_block_size_never_shows_in_a_result() {
    // Three and a bit blocks of coordinates per update, read one block at a time or all at once.
    let len = 3 * 2048 + 5;
    let whole = scenario_with(false, len, usize::MAX / 2);
    assert_eq!(whole, scenario_with(false, len, 1));
}

#[test]
fn golden_mixed_scenario() {
    let last: tessera_scoring::RoundResult = serde_json::from_str(&scenario(false)[3]).unwrap();
    let rewards: Vec<(String, u128)> = last.workers.iter().map(|w| (w.worker.to_string(), w.reward)).collect();
    assert_eq!(rewards.iter().map(|(_, r)| r).sum::<u128>(), REWARD);
    let expected: [(&str, u128); 9] = [
        ("0x00", 227_109_440_681_328_322_044),
        ("0x01", 225_533_599_676_600_799_030),
        ("0x02", 222_825_472_668_476_418_005),
        ("0x03", 225_321_284_675_963_854_028),
        ("0x04", 0),
        ("0x05", 0),
        ("0x06", 0),
        ("0x07", 0),
        // Intermittent (every second round): its length along the others' times its participation frequency, 1/2.
        ("0x08", 99_210_202_297_630_606_893),
    ];
    assert_eq!(rewards, expected.map(|(w, r)| (w.to_owned(), r)).to_vec());
    assert_eq!(
        last.aggregate_sha256.as_deref(),
        Some("6c1ebf820ee81a9c432136251424dda59bd2132cd6bacffe4bb5590e3f23bcde")
    );
}

/// Three workers, FedAvg, no evaluator: small enough to recompute by hand. The aggregate is (2/3, 2/3), so
/// phi = (1/sqrt 2, 1/sqrt 2, 1); reputations start at 1/3 and become 0.3287741617974071 (twice) and
/// 0.34245167640518587. Without an evaluator the evidence is each update's length along the others' direction,
/// clipped to the median norm 1: cos(67.5 deg) = 0.38268 twice and 1 (the third has norm sqrt 2, clipped to
/// 1); times reputation, the shares are 0.2117820264, 0.2117820264, 0.5764359473. The reward splits by largest
/// remainder. An independent recomputation (Python floats, big integers) gives the same units and rewards.
#[test]
fn golden_hand_checked_round() {
    let ids: Vec<WorkerId> = ["0xa", "0xb", "0xc"].into_iter().map(WorkerId::from).collect();
    let deltas = [vec![1.0f32, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
    let subs: Vec<Submission> = ids
        .iter()
        .zip(&deltas)
        .enumerate()
        .map(|(i, (w, _))| Submission { worker: w.clone(), num_samples: 100, receipt: i as u64 })
        .collect();
    let updates = deltas.to_vec();
    let input = RoundInput {
        round: 1,
        global: &[],
        submissions: &subs,
        updates: &updates,
        failures: &[],
        expected: &[],
        roster: &ids,
        reward: REWARD,
    };
    let mut scorer = Scorer::new(ScoringConfig::default()).unwrap();
    let result = scorer.score_round(&input, &mut FedAvg, None).unwrap().result;
    let units: Vec<u64> = result.workers.iter().map(|w| w.score_units).collect();
    let rewards: Vec<u128> = result.workers.iter().map(|w| w.reward).collect();
    assert_eq!(units, vec![211_782_026, 211_782_026, 576_435_947]);
    assert_eq!(rewards, vec![211_782_026_211_782_026_212, 211_782_026_211_782_026_212, 576_435_947_576_435_947_576]);
    assert_eq!(result.workers[2].reputation, Some(0.34245167640518587));
    assert!(result.flags.is_empty() && result.slashes.is_empty());
}
