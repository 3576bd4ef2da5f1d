//! Central, user-level differential privacy for a round's aggregate (DP-FedAvg, McMahan et al. 2018): every
//! included update is clipped to an L2 bound, the clipped updates are averaged without weights, and Gaussian
//! noise calibrated to the bound is added; [`epsilon`] accounts for the rounds with Rényi DP.
//!
//! Deterministic like the rest of the crate, so `verify` recomputes the same bits: norms are f64 lane sums carried
//! from block to block, the mean sums in index order, and the noise comes from SHA-256 of the caller's seed and a
//! counter, turned Gaussian with `libm`'s `log`, `cos`, `sin` and `sqrt` (std's defer to the platform's C library,
//! whose last bits differ), one counter per four coordinates, whatever the block size updates are read in.

use crate::{
    Error, Result,
    updates::{BLOCK_BYTES, ColumnBlocks, Updates},
    vector::LaneSum,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The DP-FedAvg parameters of a round's aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacySpec {
    /// The L2 bound each update is clipped to: one worker's largest possible influence on the sum.
    pub clip: f64,
    /// The noise's standard deviation as a multiple of `clip` (on the sum; `sigma` of the accountant).
    pub noise_multiplier: f64,
    /// The delta of the (epsilon, delta) guarantee reported.
    pub delta: f64,
}

impl PrivacySpec {
    /// Checks that every value is positive and finite and that `delta < 1`.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() { Ok(()) } else { Err(Error::Config(format!("{name} {v} must be positive"))) }
        };
        positive("clip", self.clip)?;
        positive("noise multiplier", self.noise_multiplier)?;
        positive("delta", self.delta)?;
        if self.delta >= 1.0 {
            return Err(Error::Config(format!("delta {} must be below 1", self.delta)));
        }
        Ok(())
    }
}

/// The mean of updates `included` (indices into `updates`, all of one length), each clipped to L2 norm
/// `spec.clip`, plus Gaussian noise of standard deviation `noise_multiplier * clip / n` on every coordinate,
/// drawn from `seed`. Empty (no step, no noise) when nothing is included.
///
/// The mean is unweighted on purpose: each worker can then move it by at most `clip / n`, which is what the
/// noise is calibrated to. Weights by sample claims or reputation would let one worker move it further (by its
/// weight's share), and the noise, hence the guarantee, would have to follow the largest weight.
///
/// The guarantee of [`epsilon`] holds with `n` taken as public, as in DP-FedAvg with every worker in every
/// round; it covers the model only, not the scorer's own use of the updates (who is included, scores, rewards).
/// It also holds only against those who do not know `seed`: with it, the noise can be drawn again and
/// subtracted. A verifier that recomputes the round needs the seed, so it must be a secret (of the coordinator,
/// say, committed to by its hash), never derived from public round data alone.
///
/// Updates are read a block of coordinates at a time, twice: once for their norms, once for the mean.
pub fn private_mean(updates: &dyn Updates, included: &[usize], spec: &PrivacySpec, seed: [u8; 32]) -> Result<Vec<f32>> {
    private_mean_in_blocks(updates, included, spec, seed, BLOCK_BYTES)
}

fn private_mean_in_blocks(
    updates: &dyn Updates,
    included: &[usize],
    spec: &PrivacySpec,
    seed: [u8; 32],
    block_bytes: usize,
) -> Result<Vec<f32>> {
    spec.validate()?;
    let mut indices = included.to_vec();
    indices.sort_unstable();
    if let Some(pair) = indices.windows(2).find(|p| p[0] == p[1]) {
        return Err(Error::Config(format!("update {} is included twice", pair[0])));
    }
    let Some(&first) = indices.first() else { return Ok(Vec::new()) };
    let dimension = updates.length(first);
    if let Some(&index) = indices.iter().find(|&&i| updates.length(i) != dimension) {
        let got = updates.length(index);
        return Err(Error::LengthMismatch { worker: format!("update {index}"), expected: dimension, got });
    }
    let blocks = ColumnBlocks::new(updates, indices.clone(), dimension, block_bytes);

    let mut norms = vec![LaneSum::default(); indices.len()];
    blocks.for_each(|block| {
        for (r, norm) in norms.iter_mut().enumerate() {
            let row = block.row(r);
            if let Some(at) = row.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    worker: format!("update {}", indices[r]),
                    index: block.range.start + at,
                });
            }
            norm.add_dot(row, row);
        }
        Ok(())
    })?;
    let scales: Vec<f64> = norms
        .iter()
        .map(|n| n.total().sqrt())
        .map(|norm| if norm > spec.clip { spec.clip / norm } else { 1.0 })
        .collect();

    let n = indices.len() as f64;
    let std = spec.noise_multiplier * spec.clip / n;
    let mut noise = Gaussian::new(seed);
    let mut mean = Vec::with_capacity(dimension);
    blocks.for_each(|block| {
        for (k, j) in block.range.clone().enumerate() {
            let sum: f64 = scales.iter().enumerate().map(|(r, &scale)| f64::from(block.row(r)[k]) * scale).sum();
            mean.push((sum / n + std * noise.at(j)) as f32);
        }
        Ok(())
    })?;
    Ok(mean)
}

/// A round's noise seed: SHA-256 of `label` and the round number, little-endian. The label must be secret for
/// the noise to protect anything (see [`private_mean`]); a simulation can use a public one.
pub fn round_seed(label: &[u8], round: u64) -> [u8; 32] {
    Sha256::new().chain_update(label).chain_update(round.to_le_bytes()).finalize().into()
}

/// Standard normal draws addressed by coordinate: draw `j` is one of the four Box–Muller values made from the
/// four 64-bit words of `SHA-256(seed || (j / 4) as u64 LE)`.
struct Gaussian {
    seed: [u8; 32],
    counter: Option<u64>,
    values: [f64; 4],
}

impl Gaussian {
    fn new(seed: [u8; 32]) -> Self {
        Self { seed, counter: None, values: [0.0; 4] }
    }

    /// Draw `j`.
    fn at(&mut self, j: usize) -> f64 {
        let counter = (j / 4) as u64;
        if self.counter != Some(counter) {
            let digest = Sha256::new().chain_update(self.seed).chain_update(counter.to_le_bytes()).finalize();
            let word = |w: usize| u64::from_le_bytes(digest[8 * w..8 * w + 8].try_into().expect("8 bytes"));
            let (a, b) = box_muller(word(0), word(1));
            let (c, d) = box_muller(word(2), word(3));
            self.values = [a, b, c, d];
            self.counter = Some(counter);
        }
        self.values[j % 4]
    }
}

/// Two independent standard normals from two uniform words: the first, as a 53-bit uniform in `(0, 1]`, gives
/// the radius, the second the angle.
fn box_muller(x: u64, y: u64) -> (f64, f64) {
    const UNIT: f64 = 1.0 / (1u64 << 53) as f64;
    let u = ((x >> 11) + 1) as f64 * UNIT;
    let angle = std::f64::consts::TAU * ((y >> 11) as f64 * UNIT);
    let radius = libm::sqrt(-2.0 * libm::log(u));
    (radius * libm::cos(angle), radius * libm::sin(angle))
}

/// The Rényi orders the accountant minimises over.
fn orders() -> impl Iterator<Item = f64> {
    let low = [1.25, 1.5, 1.75].into_iter();
    let grid = (4..=128).map(|half| f64::from(half) / 2.0);
    low.chain(grid).chain([80.0, 96.0, 128.0, 192.0, 256.0])
}

/// The RDP of `rounds` Gaussian mechanisms of noise multiplier `sigma` (every worker in every round, no
/// subsampling) at order `order`.
fn rdp(sigma: f64, rounds: u64, order: f64) -> f64 {
    rounds as f64 * order / (2.0 * sigma * sigma)
}

/// The (epsilon, delta) guarantee a run gives and the Rényi order it was read at.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    /// The epsilon at the run's delta.
    pub epsilon: f64,
    /// The Rényi order that gave the smallest epsilon.
    pub order: f64,
}

/// The epsilon of `rounds` rounds of noise multiplier `noise_multiplier` at `delta`, by Rényi DP and the
/// conversion of Balle et al. 2020 (Canonne, Kamath and Steinke 2020), tighter than Mironov's
/// `rdp + ln(1/delta)/(order - 1)`: `rdp + ln((order-1)/order) - (ln(delta) + ln(order))/(order-1)`, minimised
/// over orders 1.25 to 256. Zero rounds give epsilon 0.
pub fn epsilon(noise_multiplier: f64, rounds: u64, delta: f64) -> Accounting {
    if rounds == 0 {
        return Accounting { epsilon: 0.0, order: f64::INFINITY };
    }
    let ln_delta = libm::log(delta);
    orders()
        .map(|order| {
            let epsilon = rdp(noise_multiplier, rounds, order) + libm::log((order - 1.0) / order)
                - (ln_delta + libm::log(order)) / (order - 1.0);
            Accounting { epsilon: epsilon.max(0.0), order }
        })
        .fold(
            Accounting { epsilon: f64::INFINITY, order: f64::NAN },
            |best, a| {
                if a.epsilon < best.epsilon { a } else { best }
            },
        )
}

/// The smallest noise multiplier whose [`epsilon`] over `rounds` rounds at `delta` is at most `target_epsilon`,
/// by bisection to 1e-6 relative (the value returned always meets the target). Zero rounds need no noise (0);
/// a target that is not positive and finite, or below what any noise gives at the orders used (about 0.02 at
/// delta 1e-5), cannot be met (infinity).
pub fn noise_for_epsilon(target_epsilon: f64, rounds: u64, delta: f64) -> f64 {
    if rounds == 0 {
        return 0.0;
    }
    if !(target_epsilon > 0.0 && target_epsilon.is_finite()) {
        return f64::INFINITY;
    }
    let meets = |sigma: f64| epsilon(sigma, rounds, delta).epsilon <= target_epsilon;
    let (mut low, mut high) = (1.0, 1.0);
    while !meets(high) {
        if high > 1e12 {
            return f64::INFINITY;
        }
        high *= 2.0;
    }
    while meets(low) && low > 1e-9 {
        low /= 2.0;
    }
    while high - low > 1e-6 * high {
        let mid = low + (high - low) / 2.0;
        if meets(mid) { high = mid } else { low = mid }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::BLOCK;

    fn spec(clip: f64, noise_multiplier: f64) -> PrivacySpec {
        PrivacySpec { clip, noise_multiplier, delta: 1e-5 }
    }

    /// The standard normal CDF.
    fn phi(x: f64) -> f64 {
        0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
    }

    /// The exact delta of the Gaussian mechanism of sensitivity 1 and noise `sigma` at `epsilon` (Balle and
    /// Wang 2018): the tight curve every sound accountant lies above.
    fn exact_delta(epsilon: f64, sigma: f64) -> f64 {
        phi(-epsilon * sigma + 0.5 / sigma) - libm::exp(epsilon) * phi(-epsilon * sigma - 0.5 / sigma)
    }

    #[test]
    fn spec_validation() {
        assert!(spec(1.0, 1.0).validate().is_ok());
        for bad in [spec(0.0, 1.0), spec(1.0, -1.0), spec(f64::INFINITY, 1.0), spec(1.0, f64::NAN)] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
        assert!(PrivacySpec { delta: 1.0, ..spec(1.0, 1.0) }.validate().is_err());
        assert!(PrivacySpec { delta: 0.0, ..spec(1.0, 1.0) }.validate().is_err());
    }

    #[test]
    fn one_round_at_sigma_one() {
        let a = epsilon(1.0, 1, 1e-5);
        // Worked by hand: 5.5/2 + ln(4.5/5.5) - (ln 1e-5 + ln 5.5)/4.5 = 4.7289.
        assert!((a.epsilon - 4.728_924).abs() < 1e-5, "{a:?}");
        assert_eq!(a.order, 5.5);
        // Mironov's conversion, on the grid and at its continuous optimum 1/2 + sqrt(2 ln(1/delta)).
        let classical = orders().map(|o| rdp(1.0, 1, o) + libm::log(1e5) / (o - 1.0)).fold(f64::INFINITY, f64::min);
        let closed_form = 0.5 + libm::sqrt(2.0 * libm::log(1e5));
        assert!(classical >= closed_form && classical - closed_form < 0.01, "{classical} {closed_form}");
        assert!(a.epsilon < classical);
        // Sound: the exact curve (about 4.38 here) is below it.
        assert!(exact_delta(a.epsilon, 1.0) <= 1e-5);
        assert!(exact_delta(4.3, 1.0) > 1e-5);
    }

    #[test]
    fn improved_conversion_never_exceeds_mironovs() {
        for (sigma, rounds, delta) in [(0.5, 1, 1e-5), (1.0, 10, 1e-6), (4.0, 100, 1e-5), (20.0, 3, 1e-3)] {
            let improved = epsilon(sigma, rounds, delta).epsilon;
            for order in orders() {
                let mironov = rdp(sigma, rounds, order) + libm::log(1.0 / delta) / (order - 1.0);
                assert!(improved <= mironov, "{sigma} {rounds} {delta} {order}");
            }
            // Rounds of the Gaussian mechanism compose to one of noise sigma / sqrt(rounds).
            let sigma_one = sigma / (rounds as f64).sqrt();
            assert!(exact_delta(improved, sigma_one) <= delta, "{sigma} {rounds} {delta}");
        }
    }

    #[test]
    fn epsilon_falls_with_noise_and_grows_with_rounds() {
        assert!(epsilon(100.0, 1, 1e-5).epsilon < 0.1);
        let by_sigma: Vec<f64> = [0.5, 1.0, 2.0, 5.0, 10.0].iter().map(|&s| epsilon(s, 10, 1e-5).epsilon).collect();
        assert!(by_sigma.windows(2).all(|w| w[0] > w[1]), "{by_sigma:?}");
        let by_rounds: Vec<f64> = [1, 2, 10, 100, 1000].iter().map(|&t| epsilon(2.0, t, 1e-5).epsilon).collect();
        assert!(by_rounds.windows(2).all(|w| w[0] < w[1]), "{by_rounds:?}");
        assert_eq!(epsilon(1.0, 0, 1e-5).epsilon, 0.0);
    }

    #[test]
    fn noise_for_epsilon_is_the_smallest_that_meets_the_target() {
        for (target, rounds) in [(1.0, 1), (1.0, 10), (3.0, 10), (8.0, 10), (0.5, 500), (20.0, 1)] {
            let sigma = noise_for_epsilon(target, rounds, 1e-5);
            assert!(epsilon(sigma, rounds, 1e-5).epsilon <= target, "{target} {rounds}");
            assert!(epsilon(sigma * (1.0 - 2e-6), rounds, 1e-5).epsilon > target, "{target} {rounds}");
        }
        assert_eq!(noise_for_epsilon(1.0, 0, 1e-5), 0.0);
        assert_eq!(noise_for_epsilon(0.0, 10, 1e-5), f64::INFINITY);
        assert_eq!(noise_for_epsilon(0.01, 10, 1e-5), f64::INFINITY);
    }

    #[test]
    fn noise_is_standard_normal() {
        let mut noise = Gaussian::new([7; 32]);
        let draws: Vec<f64> = (0..100_000).map(|j| noise.at(j)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var.sqrt() - 1.0).abs() < 0.01, "{var}");
        let tail = draws.iter().filter(|x| x.abs() > 1.959_964).count() as f64 / draws.len() as f64;
        assert!((tail - 0.05).abs() < 0.003, "{tail}");
        // Addressed by coordinate: any order of reading gives the same draws.
        let mut again = Gaussian::new([7; 32]);
        assert_eq!(again.at(99_999).to_bits(), draws[99_999].to_bits());
        assert_eq!(again.at(5).to_bits(), draws[5].to_bits());
    }

    #[test]
    fn noise_is_pinned() {
        // The first two draws of seed zero, worked independently (Python's hashlib and math): a change to the
        // generator would change every private round, and `verify` of every earlier one.
        let mut noise = Gaussian::new([0; 32]);
        assert_eq!(noise.at(0).to_bits(), 0xbfe6_5ec5_1f0e_8086);
        assert!((noise.at(1) + 0.843_245_617_014_193_5).abs() < 1e-15);
    }

    #[test]
    fn noise_has_the_calibrated_spread() {
        let updates = vec![vec![0.0f32; 50_000]; 4];
        let mean = private_mean(&updates, &[0, 1, 2, 3], &spec(2.0, 3.0), [1; 32]).unwrap();
        let std = (mean.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / mean.len() as f64).sqrt();
        // 3 * 2 / 4.
        assert!((std - 1.5).abs() < 0.02, "{std}");
    }

    #[test]
    fn clips_then_averages_without_weights() {
        let long = vec![60.0f32, 80.0, 0.0];
        let short = vec![0.0f32, 0.0, 0.5];
        let updates = vec![long, short, vec![9.0; 3]];
        let mean = private_mean(&updates, &[1, 0], &spec(1.0, 1e-12), [0; 32]).unwrap();
        // (0.6, 0.8, 0) and (0, 0, 0.5) averaged.
        let expected = [0.3f32, 0.4, 0.25];
        assert!(mean.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6), "{mean:?}");
        // The update of norm 100 moves the mean of the others by at most clip / n.
        let without = private_mean(&updates, &[1], &spec(1.0, 1e-12), [0; 32]).unwrap();
        let with_half: Vec<f32> = without.iter().map(|v| v / 2.0).collect();
        let moved = crate::vector::sq_distance(&mean, &with_half).sqrt();
        assert!(moved <= 0.5 + 1e-6, "{moved}");
        assert_eq!(private_mean(&updates, &[], &spec(1.0, 1.0), [0; 32]).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn refuses_bad_inputs() {
        let updates = vec![vec![1.0f32; 3], vec![1.0; 4], vec![f32::NAN, 0.0, 0.0]];
        let spec = spec(1.0, 1.0);
        assert!(matches!(private_mean(&updates, &[0, 1], &spec, [0; 32]), Err(Error::LengthMismatch { .. })));
        assert!(matches!(private_mean(&updates, &[0, 2], &spec, [0; 32]), Err(Error::NonFinite { index: 0, .. })));
        assert!(matches!(private_mean(&updates, &[0, 0], &spec, [0; 32]), Err(Error::Config(_))));
        assert!(private_mean(&updates, &[0], &PrivacySpec { clip: 0.0, ..spec }, [0; 32]).is_err());
    }

    #[test]
    fn same_bits_whatever_the_seed_order_or_block_size() {
        let len = 3 * BLOCK + 5;
        let updates: Vec<Vec<f32>> =
            (0..5).map(|k| (0..len).map(|i| ((i * 7 + k * 13) % 17) as f32 * 0.01 - 0.08).collect()).collect();
        let spec = spec(0.5, 1.1);
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let whole = bits(private_mean(&updates, &[0, 2, 3, 4], &spec, [3; 32]).unwrap());
        let narrow = private_mean_in_blocks(&updates, &[4, 3, 2, 0], &spec, [3; 32], 4 * BLOCK * 4).unwrap();
        assert_eq!(bits(narrow), whole);
        let other = bits(private_mean(&updates, &[0, 2, 3, 4], &spec, round_seed(b"label", 2)).unwrap());
        assert_ne!(other, whole);
        assert_ne!(round_seed(b"label", 2), round_seed(b"label", 3));
    }
}
