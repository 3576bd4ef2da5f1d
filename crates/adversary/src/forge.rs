//! Making the update an attack sends, from what the attacker can read.

use crate::{Attack, Error, Result};

/// The per-coordinate noise a free-rider sends: an update that is nearly zero.
pub const FREE_RIDER_STD: f64 = 1e-6;

/// Camouflage that replays add: noise of this fraction of the replayed update's norm.
const REPLAY_NOISE: f64 = 0.01;

/// What an attacker can read when it makes its update. Slices of updates are earliest first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The round.
    pub round: u64,
    /// Seeds the attack's noise.
    pub seed: u64,
    /// Parameters per update.
    pub len: usize,
    /// Its own update from the training [`Attack::training`] asked for, if any.
    pub trained: Option<&'a [f32]>,
    /// This round's updates of other workers that it can read before sending (none on the real stack,
    /// which withholds them until the window closes).
    pub visible: &'a [&'a [f32]],
    /// Other workers' updates of the previous round (public once it closed).
    pub previous_updates: &'a [&'a [f32]],
    /// The global model's change in the previous round.
    pub previous_global_change: Option<&'a [f32]>,
    /// Its own update of the previous round.
    pub own_previous: Option<&'a [f32]>,
    /// The honest updates of its colluders this round, its own among them (little-is-enough).
    pub colluders: &'a [&'a [f32]],
}

/// The label a label-flipper trains on instead of `label`, among `classes` classes.
pub fn flip_label(label: u8, classes: u8) -> u8 {
    classes.saturating_sub(1).saturating_sub(label)
}

/// Baruch et al.'s largest undetected shift for `n` workers of which `m` collude: `z` with
/// `Phi(z) = (n - s) / n`, `s = floor(n / 2 + 1) - m` the supporters a colluder needs.
pub fn little_is_enough_z(n: usize, m: usize) -> f64 {
    let s = (n / 2 + 1).saturating_sub(m);
    let p = (n.saturating_sub(s)) as f64 / n.max(1) as f64;
    inverse_normal_cdf(p.clamp(1e-6, 1.0 - 1e-6))
}

/// The update `attack` sends in this context; `Ok(None)` when it sends nothing this round (it sits the round
/// out, or has nothing to copy yet).
pub fn forge(attack: Attack, ctx: &Context<'_>) -> Result<Option<Vec<f32>>> {
    if !attack.takes_part(ctx.round) {
        return Ok(None);
    }
    let mut rng = Rng::new(ctx.seed ^ ctx.round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let trained = || ctx.trained.ok_or(Error::Missing { attack: attack.name(), what: "its trained update" });
    let source = || ctx.visible.first().or(ctx.previous_updates.first()).copied();
    let forged = match attack {
        Attack::FreeRider => Some(rng.noise(ctx.len, FREE_RIDER_STD)),
        Attack::Noise { std } => Some(rng.noise(ctx.len, std)),
        Attack::SignFlip => Some(trained()?.iter().map(|v| -v).collect()),
        Attack::LabelFlip
        | Attack::Overclaim { .. }
        | Attack::PartialWork { .. }
        | Attack::Sybil
        | Attack::Intermittent { .. } => Some(trained()?.to_vec()),
        Attack::Boost { factor } => Some(scaled(trained()?, factor)),
        Attack::Copycat => source().map(<[f32]>::to_vec),
        Attack::CopyScaled { factor } => source().map(|s| scaled(s, factor)),
        Attack::CopyNoisy { noise } => source().map(|s| rng.noised(s, noise)),
        Attack::CopySparse { keep } => source().map(|s| sparsified(s, keep)),
        Attack::CopyMix { peers } => {
            let pool = if ctx.visible.is_empty() { ctx.previous_updates } else { ctx.visible };
            (!pool.is_empty()).then(|| rng.noised(&mean(&pool[..peers.min(pool.len())]), REPLAY_NOISE))
        }
        Attack::ReplayGlobal => ctx.previous_global_change.map(|g| rng.noised(g, REPLAY_NOISE)),
        Attack::ReplayOwn => match ctx.own_previous {
            Some(own) => Some(rng.noised(own, REPLAY_NOISE)),
            None => Some(trained()?.to_vec()),
        },
        Attack::LittleIsEnough { z } => {
            let colluders = if ctx.colluders.is_empty() { &[trained()?][..] } else { ctx.colluders };
            Some(shifted(colluders, z))
        }
    };
    Ok(forged)
}

fn scaled(update: &[f32], factor: f64) -> Vec<f32> {
    update.iter().map(|&v| (f64::from(v) * factor) as f32).collect()
}

fn mean(updates: &[&[f32]]) -> Vec<f32> {
    let n = updates.len() as f64;
    (0..updates[0].len()).map(|j| (updates.iter().map(|u| f64::from(u[j])).sum::<f64>() / n) as f32).collect()
}

/// The coordinate-wise mean minus `z` standard deviations.
fn shifted(updates: &[&[f32]], z: f64) -> Vec<f32> {
    let n = updates.len() as f64;
    (0..updates[0].len())
        .map(|j| {
            let mean = updates.iter().map(|u| f64::from(u[j])).sum::<f64>() / n;
            let var = updates.iter().map(|u| (f64::from(u[j]) - mean).powi(2)).sum::<f64>() / n;
            (mean - z * var.sqrt()) as f32
        })
        .collect()
}

/// `update` with all but its `keep` fraction of largest-magnitude coordinates set to zero.
fn sparsified(update: &[f32], keep: f64) -> Vec<f32> {
    let kept = ((update.len() as f64 * keep).ceil() as usize).clamp(1, update.len().max(1));
    let mut magnitudes: Vec<f32> = update.iter().map(|v| v.abs()).collect();
    magnitudes.sort_by(|a, b| b.total_cmp(a));
    let cut = magnitudes.get(kept - 1).copied().unwrap_or(0.0);
    update.iter().map(|&v| if v.abs() >= cut { v } else { 0.0 }).collect()
}

/// Acklam's rational approximation of the standard normal quantile (relative error below 1.2e-9).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_968_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -54.476_098_798_224_06,
        161.585_836_858_040_9,
        -155.698_979_859_886_6,
        66.801_311_887_719_72,
        -13.280_681_552_885_72,
    ];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [0.007_784_695_709_041_462, 0.322_467_129_070_039_8, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// SplitMix64 with Box-Muller normals: seeded noise without an RNG crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn noise(&mut self, len: usize, std: f64) -> Vec<f32> {
        (0..len).map(|_| (self.normal() * std) as f32).collect()
    }

    /// `update` plus Gaussian noise whose expected norm is `fraction` of the update's.
    fn noised(&mut self, update: &[f32], fraction: f64) -> Vec<f32> {
        let norm = update.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        let std = fraction * norm / (update.len().max(1) as f64).sqrt();
        update.iter().map(|&v| (f64::from(v) + self.normal() * std) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
    }

    #[test]
    fn each_attack_forges_from_what_it_can_read() {
        let honest: Vec<f32> = (0..1000).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect();
        let other: Vec<f32> = (0..1000).map(|i| ((i % 5) as f32 - 2.0) * 0.02).collect();
        let visible: [&[f32]; 1] = [&other];
        let ctx =
            Context { round: 2, seed: 1, len: 1000, trained: Some(&honest), visible: &visible, ..Context::default() };
        let forge = |attack: Attack| forge(attack, &ctx).unwrap().unwrap();
        assert_eq!(forge(Attack::SignFlip)[3], -honest[3]);
        assert_eq!(forge(Attack::Boost { factor: 10.0 })[1], honest[1] * 10.0);
        assert_eq!(forge(Attack::Copycat), other);
        assert_eq!(forge(Attack::CopyScaled { factor: -2.0 })[1], -2.0 * other[1]);
        let noisy = forge(Attack::CopyNoisy { noise: 0.1 });
        let diff: Vec<f32> = noisy.iter().zip(&other).map(|(a, b)| a - b).collect();
        assert!((norm(&diff) / norm(&other) - 0.1).abs() < 0.02);
        let sparse = forge(Attack::CopySparse { keep: 0.1 });
        assert!(sparse.iter().filter(|v| **v != 0.0).count() >= 100);
        assert!(norm(&forge(Attack::FreeRider)) < 1e-3);
        // Nothing to replay or copy yet: it sends nothing.
        let alone = Context { visible: &[], ..ctx };
        assert_eq!(super::forge(Attack::Copycat, &alone).unwrap(), None);
        assert_eq!(super::forge(Attack::ReplayGlobal, &alone).unwrap(), None);
        assert_eq!(super::forge(Attack::Intermittent { every: 3 }, &alone).unwrap(), None);
        assert!(super::forge(Attack::SignFlip, &Context { trained: None, ..ctx }).is_err());
    }

    #[test]
    fn colluders_shift_their_mean_by_z_deviations() {
        let a = vec![1.0f32, 0.0];
        let b = vec![3.0f32, 0.0];
        let colluders: [&[f32]; 2] = [&a, &b];
        let ctx = Context { len: 2, trained: Some(&a), colluders: &colluders, ..Context::default() };
        assert_eq!(forge(Attack::LittleIsEnough { z: 1.0 }, &ctx).unwrap().unwrap(), [1.0, 0.0]);
        // Ten workers, three colluding: s = 3, Phi(z) = 0.7.
        assert!((little_is_enough_z(10, 3) - 0.5244).abs() < 1e-3);
        assert_eq!(flip_label(2, 10), 7);
    }
}
