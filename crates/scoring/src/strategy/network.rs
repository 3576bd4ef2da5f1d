//! Coordinate-wise order statistics for small rounds (up to [`MAX_NETWORK`] updates): a sorting network
//! applied to a block of coordinates at once, as element-wise min/max over whole rows. No branches depend on
//! the data, so random updates cost no mispredictions, and the compiler vectorises every comparator.
//!
//! The results are bit-identical to the per-column path in `columns.rs` (same order statistics, same
//! summation order), so which path runs never shows in the output.

use super::columns::{key, value};

/// The most updates the network path handles; larger rounds select per column.
pub(crate) const MAX_NETWORK: usize = 32;

/// Coordinates per block: `n x NETWORK_BLOCK` keys stay in L1/L2.
const NETWORK_BLOCK: usize = 256;

/// Batcher's odd-even merge sort for `n` inputs, as comparators `(i, j)` with `i < j`.
pub(crate) fn batcher(n: usize) -> Vec<(usize, usize)> {
    let mut comparators = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        comparators.push((i + j, i + j + k));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    comparators
}

/// For each block of coordinates, fills `rows` (row `r` holds the `r`-th smallest key of every coordinate in
/// the block, stride [`NETWORK_BLOCK`]) and calls `stat(start, width, rows)`.
fn for_each_sorted_block(updates: &[&[f32]], mut stat: impl FnMut(usize, usize, &[i32])) {
    let n = updates.len();
    let len = updates.first().map_or(0, |u| u.len());
    let network = batcher(n);
    let mut rows = vec![0i32; n * NETWORK_BLOCK];
    for start in (0..len).step_by(NETWORK_BLOCK) {
        let width = NETWORK_BLOCK.min(len - start);
        for (row, update) in rows.chunks_exact_mut(NETWORK_BLOCK).zip(updates) {
            for (k, &v) in row.iter_mut().zip(&update[start..start + width]) {
                *k = key(v);
            }
        }
        for &(i, j) in &network {
            let (low, high) = rows.split_at_mut(j * NETWORK_BLOCK);
            let (a, b) = (&mut low[i * NETWORK_BLOCK..][..width], &mut high[..width]);
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                let (small, large) = ((*x).min(*y), (*x).max(*y));
                *x = small;
                *y = large;
            }
        }
        stat(start, width, &rows);
    }
}

/// The coordinate-wise median of up to [`MAX_NETWORK`] updates.
pub(crate) fn median(updates: &[&[f32]]) -> Vec<f32> {
    let n = updates.len();
    let len = updates.first().map_or(0, |u| u.len());
    let (lower, upper) = ((n - 1) / 2, n / 2);
    let mut out = vec![0.0f32; len];
    for_each_sorted_block(updates, |start, width, rows| {
        let lo = &rows[lower * NETWORK_BLOCK..][..width];
        let hi = &rows[upper * NETWORK_BLOCK..][..width];
        for ((o, &l), &h) in out[start..start + width].iter_mut().zip(lo).zip(hi) {
            *o = if l == h { value(h) } else { ((f64::from(value(l)) + f64::from(value(h))) / 2.0) as f32 };
        }
    });
    out
}

/// The coordinate-wise trimmed mean of up to [`MAX_NETWORK`] updates, dropping `trim` from each end: the
/// kept values are summed in update order with ties at a threshold taken first-come, as in the column path.
pub(crate) fn trimmed_mean(updates: &[&[f32]], trim: usize) -> Vec<f32> {
    let n = updates.len();
    let len = updates.first().map_or(0, |u| u.len());
    let kept = (n - 2 * trim) as f64;
    let mut out = vec![0.0f32; len];
    let (mut take_lo, mut take_hi) = ([0u32; NETWORK_BLOCK], [0u32; NETWORK_BLOCK]);
    let mut sum = [0.0f64; NETWORK_BLOCK];
    for_each_sorted_block(updates, |start, width, rows| {
        let lo = &rows[trim * NETWORK_BLOCK..][..width];
        let hi = &rows[(n - trim - 1) * NETWORK_BLOCK..][..width];
        // take_lo counts values <= lo, take_hi values < hi; turned into the kept copies of each below.
        take_lo[..width].fill(0);
        take_hi[..width].fill(0);
        for update in updates {
            for (c, &v) in update[start..start + width].iter().enumerate() {
                let k = key(v);
                take_lo[c] += u32::from(k <= lo[c]);
                take_hi[c] += u32::from(k < hi[c]);
            }
        }
        let (trim, n) = (trim as u32, n as u32);
        for c in 0..width {
            take_lo[c] = take_lo[c].min(n - trim) - trim;
            take_hi[c] = (n - trim) - take_hi[c].max(trim);
        }
        sum[..width].fill(0.0);
        for update in updates {
            for (c, &v) in update[start..start + width].iter().enumerate() {
                // Branch-free: `&` and `|` on bools, and adding +0.0 to a sum that started at +0.0 (so is
                // never -0.0) leaves its bits unchanged.
                let k = key(v);
                let at_lo = k == lo[c];
                let from_lo = at_lo & (take_lo[c] > 0);
                let from_hi = !at_lo & (k == hi[c]) & (take_hi[c] > 0);
                take_lo[c] -= u32::from(from_lo);
                take_hi[c] -= u32::from(from_hi);
                let take = from_lo | from_hi | ((lo[c] < k) & (k < hi[c]));
                sum[c] += if take { f64::from(v) } else { 0.0 };
            }
        }
        for (o, &s) in out[start..start + width].iter_mut().zip(&sum[..width]) {
            *o = (s / kept) as f32;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{columns::map_columns, median::median_of, trimmed_mean::trimmed_mean_of};
    use proptest::prelude::{prop, prop_assert_eq, proptest};

    proptest! {
        #[test]
        fn matches_the_column_path_bit_for_bit(
            n in 1usize..=MAX_NETWORK,
            len in 1usize..600,
            seed in prop::collection::vec(prop::sample::select(vec![-3.0f32, -0.0, 0.0, 0.25, 1.0, 1e-3, 7.5]), 64),
        ) {
            let updates: Vec<Vec<f32>> =
                (0..n).map(|i| (0..len).map(|c| seed[(i * 31 + c * 7 + c / 5) % seed.len()]).collect()).collect();
            let refs: Vec<&[f32]> = updates.iter().map(Vec::as_slice).collect();
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            prop_assert_eq!(bits(median(&refs)), bits(map_columns(&refs, median_of)));
            for trim in 0..n.div_ceil(2) {
                let mut scratch = Vec::new();
                let by_column = map_columns(&refs, |column| trimmed_mean_of(column, trim, &mut scratch));
                prop_assert_eq!(bits(trimmed_mean(&refs, trim)), bits(by_column));
            }
        }
    }

    #[test]
    fn batcher_sorts_every_zero_one_input() {
        // By the 0-1 principle a comparator network that sorts all 0/1 inputs sorts everything.
        for n in 1..=16usize {
            let network = batcher(n);
            for bits in 0u32..(1 << n) {
                let mut v: Vec<u32> = (0..n).map(|i| (bits >> i) & 1).collect();
                for &(i, j) in &network {
                    if v[i] > v[j] {
                        v.swap(i, j);
                    }
                }
                assert!(v.windows(2).all(|w| w[0] <= w[1]), "n = {n}, input {bits:b}");
            }
        }
    }

    #[test]
    fn batcher_sorts_up_to_the_limit() {
        let mut state = 12345u64;
        for n in 17..=MAX_NETWORK {
            let network = batcher(n);
            for _ in 0..200 {
                let mut v: Vec<u64> = (0..n)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        state >> 59
                    })
                    .collect();
                for &(i, j) in &network {
                    if v[i] > v[j] {
                        v.swap(i, j);
                    }
                }
                assert!(v.windows(2).all(|w| w[0] <= w[1]), "n = {n}");
            }
        }
    }
}
