//! Reductions over flat f32 vectors, accumulated in f64 in a fixed order.
//!
//! Each reduction keeps [`LANES`] independent partial sums (element `k` goes to lane `k % LANES`) and adds
//! the lanes in a fixed tree at the end. The order is part of the definition, so the results are the same
//! bits on every machine (Rust never fuses a multiply and an add on its own), and the compiler can still
//! vectorise the lanes.

use crate::{Error, Result, WorkerId};

/// Partial sums per reduction.
pub const LANES: usize = 8;

#[inline(always)]
fn reduce(lanes: [f64; LANES]) -> f64 {
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// The sum of the values.
pub fn sum(a: &[f32]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let (chunks, rest) = a.as_chunks::<LANES>();
    for chunk in chunks {
        for lane in 0..LANES {
            acc[lane] += f64::from(chunk[lane]);
        }
    }
    for (lane, &v) in rest.iter().enumerate() {
        acc[lane] += f64::from(v);
    }
    reduce(acc)
}

/// The dot product; `a` and `b` must have the same length.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    lane_dot(a, b)
}

/// The dot product of two f64 vectors of the same length, in the same fixed lane order.
pub fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    lane_dot(a, b)
}

/// The dot product accumulated in f64 over [`LANES`] lanes, for either width of input.
#[inline(always)]
fn lane_dot<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    let mut acc = [0.0f64; LANES];
    lane_dot_into(&mut acc, a, b);
    reduce(acc)
}

/// Adds `a . b` into the lanes: element `k` into lane `k % LANES`.
#[inline(always)]
fn lane_dot_into<T: Copy + Into<f64>>(acc: &mut [f64; LANES], a: &[T], b: &[T]) {
    assert_eq!(a.len(), b.len(), "dot of vectors of different lengths");
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for lane in 0..LANES {
            acc[lane] += x[lane].into() * y[lane].into();
        }
    }
    for (lane, (&x, &y)) in ra.iter().zip(rb).enumerate() {
        acc[lane] += x.into() * y.into();
    }
}

/// The partial sums of a dot product carried from one block of coordinates to the next: block after block (each
/// starting at a multiple of [`LANES`], as [`BLOCK`]s do) they give the bits of [`dot`] over the whole vectors.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LaneSum([f64; LANES]);

impl LaneSum {
    /// Adds the next block's `a . b`.
    pub(crate) fn add_dot(&mut self, a: &[f32], b: &[f32]) {
        lane_dot_into(&mut self.0, a, b);
    }

    /// The sum so far.
    pub(crate) fn total(&self) -> f64 {
        reduce(self.0)
    }
}

/// Adds the squared norm of the next block of coordinates to `sum` one [`BLOCK`] at a time, as [`Pairwise`]'s
/// diagonal does: block after block, the bits of that diagonal.
pub(crate) fn add_blocked_norm_sq(sum: &mut f64, block: &[f32]) {
    for part in block.chunks(BLOCK) {
        *sum += norm_sq(part);
    }
}

/// The squared L2 norm.
pub fn norm_sq(a: &[f32]) -> f64 {
    dot(a, a)
}

/// The L2 norm (`sqrt` is correctly rounded, so this is deterministic too).
pub fn norm(a: &[f32]) -> f64 {
    norm_sq(a).sqrt()
}

/// The squared L2 distance; `a` and `b` must have the same length.
pub fn sq_distance(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "distance between vectors of different lengths");
    let mut acc = [0.0f64; LANES];
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for lane in 0..LANES {
            let d = f64::from(x[lane]) - f64::from(y[lane]);
            acc[lane] += d * d;
        }
    }
    for (lane, (&x, &y)) in ra.iter().zip(rb).enumerate() {
        let d = f64::from(x) - f64::from(y);
        acc[lane] += d * d;
    }
    reduce(acc)
}

/// The cosine similarity, or 0 when either vector is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    cosine_from(dot(a, b), norm(a), norm(b))
}

pub(crate) fn cosine_from(dot: f64, norm_a: f64, norm_b: f64) -> f64 {
    if norm_a == 0.0 || norm_b == 0.0 { 0.0 } else { (dot / (norm_a * norm_b)).clamp(-1.0, 1.0) }
}

/// Checks that an update has `expected` values, all finite.
pub fn validate(worker: &WorkerId, delta: &[f32], expected: usize) -> Result<()> {
    if delta.len() != expected {
        return Err(Error::LengthMismatch { worker: worker.to_string(), expected, got: delta.len() });
    }
    match delta.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { worker: worker.to_string(), index }),
        None => Ok(()),
    }
}

/// Coordinates per block in the blocked kernels: a block of a hundred updates stays in L2.
pub(crate) const BLOCK: usize = 2048;

/// `sum_i weights[i] * updates[i] / sum_i weights[i]`, element-wise, accumulated in f64 in update order.
///
/// Blocked over coordinates so the f64 accumulator stays in L1 while each update is read once, contiguously.
pub(crate) fn weighted_mean(updates: &[&[f32]], weights: &[f64]) -> Result<Vec<f32>> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return Err(Error::ZeroTotalWeight);
    }
    let len = updates.first().map_or(0, |u| u.len());
    let mut out = vec![0.0f32; len];
    let mut acc = vec![0.0f64; BLOCK];
    for (start, out_block) in (0..len).step_by(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let end = start + out_block.len();
        let acc = &mut acc[..out_block.len()];
        acc.fill(0.0);
        // Four updates per pass over the accumulator: `((a + w0 x0) + w1 x1) + ...` is the same sum, in the
        // same order, as one update per pass, with a quarter of the accumulator traffic.
        let mut pairs = updates.iter().zip(weights);
        let mut quads = pairs.by_ref().take(updates.len() / 4 * 4);
        while let (Some((u0, &w0)), Some((u1, &w1)), Some((u2, &w2)), Some((u3, &w3))) =
            (quads.next(), quads.next(), quads.next(), quads.next())
        {
            let (x0, x1, x2, x3) = (&u0[start..end], &u1[start..end], &u2[start..end], &u3[start..end]);
            for ((((a, &v0), &v1), &v2), &v3) in acc.iter_mut().zip(x0).zip(x1).zip(x2).zip(x3) {
                *a = (((*a + w0 * f64::from(v0)) + w1 * f64::from(v1)) + w2 * f64::from(v2)) + w3 * f64::from(v3);
            }
        }
        for (update, &w) in pairs {
            for (a, &x) in acc.iter_mut().zip(&update[start..end]) {
                *a += w * f64::from(x);
            }
        }
        for (o, &a) in out_block.iter_mut().zip(acc.iter()) {
            *o = (a / total) as f32;
        }
    }
    Ok(out)
}

/// Which sum over every pair of updates [`Pairwise::compute`] makes: the screens need dot products, Krum
/// squared distances, and neither needs the other's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PairSum {
    /// `a . b`, with each update's squared norm on the diagonal.
    Dot,
    /// `|a - b|^2`, zero on the diagonal.
    SquaredDistance,
}

/// One sum between every pair of updates, row-major `n x n`.
#[derive(Clone, Debug)]
pub(crate) struct Pairwise {
    pub(crate) n: usize,
    sum: PairSum,
    values: Vec<f64>,
}

impl Pairwise {
    /// Computes every pair, as [`Self::accumulate`] over the whole updates.
    pub(crate) fn compute(updates: &[&[f32]], sum: PairSum) -> Self {
        let mut pairs = Self::zeros(updates.len(), sum);
        pairs.accumulate(updates);
        pairs.finish()
    }

    /// No pairs summed yet.
    pub(crate) fn zeros(n: usize, sum: PairSum) -> Self {
        Self { n, sum, values: vec![0.0; n * n] }
    }

    /// Adds the next block of coordinates of every update (`updates[i]` is update `i`'s block), [`BLOCK`] by
    /// [`BLOCK`], so each block of every update is read from cache once per row, with the rows dealt out
    /// round-robin (row `i` has `n - i - 1` pairs) over the machine's cores. Each pair is summed by one thread,
    /// block after block in order: the same bits whatever the number of threads, and whatever the blocks the
    /// caller reads the updates in, as long as they start at multiples of [`BLOCK`].
    pub(crate) fn accumulate(&mut self, updates: &[&[f32]]) {
        let n = self.n;
        assert_eq!(updates.len(), n, "one block per update");
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).clamp(1, n.max(1));
        let mut stripes: Vec<Vec<(usize, &mut [f64])>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, row) in self.values.chunks_mut(n.max(1)).enumerate() {
            stripes[i % threads].push((i, row));
        }
        let sum = self.sum;
        std::thread::scope(|scope| {
            for mut stripe in stripes {
                scope.spawn(move || pair_rows(updates, sum, &mut stripe));
            }
        });
    }

    /// Fills in the lower triangle once every block is summed.
    pub(crate) fn finish(mut self) -> Self {
        let n = self.n;
        for i in 0..n {
            for j in 0..i {
                self.values[i * n + j] = self.values[j * n + i];
            }
        }
        self
    }

    pub(crate) fn sq_dist(&self, i: usize, j: usize) -> f64 {
        debug_assert_eq!(self.sum, PairSum::SquaredDistance);
        self.values[i * self.n + j]
    }

    pub(crate) fn dot(&self, i: usize, j: usize) -> f64 {
        debug_assert_eq!(self.sum, PairSum::Dot);
        self.values[i * self.n + j]
    }
}

/// Adds the sums of `rows` with every later update (and, for dots, its own squared norm) over this block.
fn pair_rows(updates: &[&[f32]], sum: PairSum, rows: &mut [(usize, &mut [f64])]) {
    let len = updates.first().map_or(0, |u| u.len());
    for start in (0..len).step_by(BLOCK) {
        let end = (start + BLOCK).min(len);
        for (i, row) in rows.iter_mut() {
            let a = &updates[*i][start..end];
            if sum == PairSum::Dot {
                row[*i] += norm_sq(a);
            }
            for (j, update) in updates.iter().enumerate().skip(*i + 1) {
                let b = &update[start..end];
                row[j] += match sum {
                    PairSum::Dot => dot(a, b),
                    PairSum::SquaredDistance => sq_distance(a, b),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_match_hand_values() {
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let b = [1.0f32; 10];
        assert_eq!(sum(&a), 55.0);
        assert_eq!(dot(&a, &b), 55.0);
        assert_eq!(norm_sq(&a), 385.0);
        assert_eq!(sq_distance(&a, &b), 285.0);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[2.0, 0.0], &[3.0, 0.0]), 1.0);
        assert_eq!(cosine(&[0.0, 0.0], &[3.0, 0.0]), 0.0);
    }

    #[test]
    fn weighted_mean_is_blocked_correctly() {
        let len = BLOCK * 2 + 5;
        let a: Vec<f32> = (0..len).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..len).map(|i| -(i as f32) + 3.0).collect();
        let mean = weighted_mean(&[&a, &b], &[1.0, 3.0]).unwrap();
        for (i, m) in mean.iter().enumerate() {
            assert_eq!(*m, ((i as f64 + 3.0 * (3.0 - i as f64)) / 4.0) as f32);
        }
        assert!(matches!(weighted_mean(&[&a], &[0.0]), Err(Error::ZeroTotalWeight)));
    }

    #[test]
    fn pairwise_matches_direct_kernels() {
        let len = BLOCK + 17;
        let u: Vec<Vec<f32>> = (0..3).map(|k| (0..len).map(|i| ((i * (k + 1)) % 7) as f32 - 3.0).collect()).collect();
        let refs: Vec<&[f32]> = u.iter().map(Vec::as_slice).collect();
        let (dots, distances) =
            (Pairwise::compute(&refs, PairSum::Dot), Pairwise::compute(&refs, PairSum::SquaredDistance));
        for i in 0..3 {
            for j in 0..3 {
                let direct = sq_distance(&u[i], &u[j]);
                assert!((distances.sq_dist(i, j) - direct).abs() <= 1e-9 * direct.max(1.0));
                assert!((dots.dot(i, j) - dot(&u[i], &u[j])).abs() <= 1e-9 * dot(&u[i], &u[i]));
            }
        }
    }

    #[test]
    fn validate_rejects_bad_updates() {
        let w = WorkerId::new("a");
        assert!(validate(&w, &[1.0, 2.0], 2).is_ok());
        assert!(matches!(validate(&w, &[1.0], 2), Err(Error::LengthMismatch { .. })));
        assert!(matches!(validate(&w, &[1.0, f32::NAN], 2), Err(Error::NonFinite { index: 1, .. })));
    }
}
