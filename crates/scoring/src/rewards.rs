//! Reward shares in token base units: integer arithmetic only, so every machine splits a reward identically.

/// Fixed-point scale of score units: a score of 1.0 is `SCORE_SCALE` units.
pub const SCORE_SCALE: u64 = 1_000_000_000;

/// A score in `[0, 1]` as integer units, rounded down (non-finite or non-positive scores give 0). This is the
/// last floating-point step before rewards: one multiply and a floor, both exact in IEEE arithmetic.
pub fn quantise_score(score: f64) -> u64 {
    if score > 0.0 { (score.min(1.0) * SCORE_SCALE as f64).floor() as u64 } else { 0 }
}

/// `(a * b / c, a * b % c)` without overflow, for `a < c`: shift-and-add over the bits of `b`, keeping the
/// running remainder below `c`.
fn mul_div_rem(a: u128, b: u128, c: u128) -> (u128, u128) {
    debug_assert!(a < c);
    let (mut q, mut r) = (0u128, 0u128);
    for bit in (0..128).rev() {
        // (q, r) <- 2 (q, r), reduced.
        q <<= 1;
        if r >= c - r {
            r -= c - r;
            q += 1;
        } else {
            r <<= 1;
        }
        if (b >> bit) & 1 == 1 {
            if r >= c - a {
                r -= c - a;
                q += 1;
            } else {
                r += a;
            }
        }
    }
    (q, r)
}

/// Splits `reward` in proportion to `weights` by the largest-remainder method: everyone gets
/// `floor(reward * w / W)`, and the few units left over go one each to the largest remainders, ties to the
/// lower index. Pass weights in worker order, so ties go to the lower worker id.
///
/// The shares sum to exactly `reward`. `None` when all weights are zero (nobody earned anything).
pub fn split_reward(reward: u128, weights: &[u64]) -> Option<Vec<u128>> {
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if total == 0 {
        return None;
    }
    let (per_unit, rest) = (reward / total, reward % total);
    let mut remainders = Vec::with_capacity(weights.len());
    let mut shares: Vec<u128> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let (extra, remainder) = mul_div_rem(rest, u128::from(w), total);
            remainders.push((remainder, i));
            per_unit * u128::from(w) + extra
        })
        .collect();
    let left = reward - shares.iter().sum::<u128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(usize::try_from(left).expect("fewer units left than workers")) {
        shares[i] += 1;
    }
    Some(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_split() {
        // 10 * (1, 1, 1) / 3 = 3.33 each: the one unit left goes to the lowest index.
        assert_eq!(split_reward(10, &[1, 1, 1]), Some(vec![4, 3, 3]));
        // 100 * (1, 2, 3) / 6 = 16.67, 33.33, 50: remainders 4, 2, 0 (of 6) -> index 0 gets the unit.
        assert_eq!(split_reward(100, &[1, 2, 3]), Some(vec![17, 33, 50]));
        assert_eq!(split_reward(7, &[0, 5, 0]), Some(vec![0, 7, 0]));
        assert_eq!(split_reward(7, &[0, 0]), None);
        assert_eq!(split_reward(0, &[3, 4]), Some(vec![0, 0]));
    }

    #[test]
    fn quantises_scores() {
        assert_eq!(quantise_score(0.5), 500_000_000);
        assert_eq!(quantise_score(1.5), SCORE_SCALE);
        assert_eq!(quantise_score(-0.1), 0);
        assert_eq!(quantise_score(f64::NAN), 0);
        assert_eq!(quantise_score(1e-10), 0);
    }

    #[test]
    fn mul_div_rem_matches_small_arithmetic_and_survives_huge_values() {
        assert_eq!(mul_div_rem(7, 9, 10), (6, 3));
        let c = u128::MAX - 5;
        let (q, r) = mul_div_rem(c - 1, u128::MAX, c);
        // (c - 1) * (c + 5) = c^2 + 4c - 5 = (c + 3) c + (c - 5)
        assert_eq!((q, r), (c + 3, c - 5));
    }

    proptest! {
        #[test]
        fn shares_sum_exactly_and_follow_the_weights(
            reward in 0u128..=1_000_000_000_000_000_000_000_000_000_000u128,
            scores in prop::collection::vec(0.0f64..=1.0, 1..40),
        ) {
            let weights: Vec<u64> = scores.iter().map(|&s| quantise_score(s)).collect();
            let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
            match split_reward(reward, &weights) {
                None => prop_assert_eq!(total, 0),
                Some(shares) => {
                    prop_assert_eq!(shares.iter().sum::<u128>(), reward);
                    for (i, (&s, &w)) in shares.iter().zip(&weights).enumerate() {
                        // Each share is the exact proportion rounded down or up by one unit.
                        let (floor, _) = mul_div_rem(reward % total, u128::from(w), total);
                        let floor = reward / total * u128::from(w) + floor;
                        prop_assert!(s == floor || s == floor + 1, "share {} of worker {} vs floor {}", s, i, floor);
                        if w == 0 { prop_assert_eq!(s, 0); }
                    }
                    for i in 0..weights.len() {
                        for j in 0..weights.len() {
                            if weights[i] > weights[j] { prop_assert!(shares[i] >= shares[j]); }
                        }
                    }
                }
            }
        }

        #[test]
        fn arbitrary_u64_weights_never_overflow(reward in any::<u128>(), weights in prop::collection::vec(any::<u64>(), 1..20)) {
            if let Some(shares) = split_reward(reward, &weights) {
                prop_assert_eq!(shares.iter().sum::<u128>(), reward);
            }
        }
    }
}
