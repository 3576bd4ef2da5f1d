//! Synthetic rounds: a shared "true" direction, honest workers near it, and adversaries.

#![allow(dead_code, unreachable_pub)]

use tessera_scoring::{Submission, WorkerId};

/// SplitMix64: a tiny seeded generator, so the tests need no RNG crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn symmetric(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn vector(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| scale * self.symmetric()).collect()
    }
}

/// What a simulated worker sends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    Honest,
    /// Sends zeros.
    Zero,
    /// Sends the negated honest update.
    SignFlip,
    /// Sends noise uncorrelated with everything.
    Noise,
    /// Sends worker `0`'s update plus tiny noise, after it.
    Copy(usize),
    /// Honest, but only every `k`th round.
    Every(u64),
}

pub fn ids(n: usize) -> Vec<WorkerId> {
    (0..n).map(|i| WorkerId::new(format!("0x{i:02x}"))).collect()
}

/// One round's deltas (index-aligned with `behaviours`; `None` for a worker sitting the round out).
pub fn deltas(round: u64, behaviours: &[Behaviour], len: usize, rng: &mut Rng) -> Vec<Option<Vec<f32>>> {
    deltas_toward(round, round, behaviours, len, rng)
}

/// [`deltas`] around the true direction of round `truth_round`.
pub fn deltas_toward(
    truth_round: u64,
    round: u64,
    behaviours: &[Behaviour],
    len: usize,
    rng: &mut Rng,
) -> Vec<Option<Vec<f32>>> {
    let truth: Vec<f32> = Rng::new(1000 + truth_round).vector(len, 1.0);
    let honest = |rng: &mut Rng| -> Vec<f32> {
        let noise = rng.vector(len, 0.5);
        truth.iter().zip(noise).map(|(t, n)| t + n).collect()
    };
    let mut out: Vec<Option<Vec<f32>>> = Vec::new();
    for b in behaviours {
        let d = match *b {
            Behaviour::Honest => Some(honest(rng)),
            Behaviour::Zero => Some(vec![0.0; len]),
            Behaviour::SignFlip => Some(honest(rng).into_iter().map(|v| -v).collect()),
            Behaviour::Noise => Some(rng.vector(len, 1.0)),
            Behaviour::Copy(of) => {
                let source = out[of].clone().expect("the copied worker took part");
                Some(source.iter().map(|v| v + 1e-4 * rng.symmetric()).collect())
            }
            Behaviour::Every(k) => {
                let update = honest(rng);
                round.is_multiple_of(k).then_some(update)
            }
        };
        out.push(d);
    }
    out
}

/// Submissions for the workers that took part, with their updates by the same index; receipts follow the
/// worker index.
pub fn submissions<'a>(ids: &[WorkerId], deltas: &'a [Option<Vec<f32>>]) -> (Vec<Submission>, Vec<&'a [f32]>) {
    ids.iter()
        .zip(deltas)
        .enumerate()
        .filter_map(|(i, (w, d))| {
            d.as_deref().map(|delta| (Submission { worker: w.clone(), num_samples: 100, receipt: i as u64 }, delta))
        })
        .unzip()
}
