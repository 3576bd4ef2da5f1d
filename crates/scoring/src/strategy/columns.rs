//! Coordinate-wise statistics over many updates through a blocked transpose into integer sort keys.

/// Coordinates per transposed block: `COLUMN_BLOCK x n` keys stay in L2 for a hundred updates.
const COLUMN_BLOCK: usize = 256;

/// Up to this many values, order statistics sort (a sorting network in std) instead of selecting.
const SMALL: usize = 32;

/// The sort key of `v`: integers ordered exactly as [`f32::total_cmp`] orders floats.
#[inline(always)]
pub(crate) fn key(v: f32) -> i32 {
    let bits = v.to_bits() as i32;
    bits ^ ((((bits >> 31) as u32) >> 1) as i32)
}

/// The float whose [`key`] is `k`.
#[inline(always)]
pub(crate) fn value(k: i32) -> f32 {
    f32::from_bits((k ^ ((((k >> 31) as u32) >> 1) as i32)) as u32)
}

/// For each coordinate, calls `stat` with that coordinate's values across `updates` as [`key`]s (in update
/// order, in a buffer `stat` may reorder) and collects the results.
///
/// Updates are copied block by block into one reused buffer, transposed, so every update is read once and
/// contiguously, every column is contiguous, and comparisons are plain integer ones: no allocation per
/// coordinate.
pub(crate) fn map_columns(updates: &[&[f32]], mut stat: impl FnMut(&mut [i32]) -> f32) -> Vec<f32> {
    let n = updates.len();
    let len = updates.first().map_or(0, |u| u.len());
    let mut out = vec![0.0f32; len];
    let mut buffer = vec![0i32; COLUMN_BLOCK * n];
    for (start, out_block) in (0..len).step_by(COLUMN_BLOCK).zip(out.chunks_mut(COLUMN_BLOCK)) {
        let width = out_block.len();
        for (i, update) in updates.iter().enumerate() {
            for (b, &v) in update[start..start + width].iter().enumerate() {
                buffer[b * n + i] = key(v);
            }
        }
        for (o, column) in out_block.iter_mut().zip(buffer.chunks_exact_mut(n)) {
            *o = stat(column);
        }
    }
    out
}

/// The `a`-th and `b`-th smallest keys (0-based, `a <= b < keys.len()`), reordering `keys`. The values are
/// unique, whatever the algorithm, so the choice between sorting and selecting cannot change results.
pub(crate) fn order_stats(keys: &mut [i32], a: usize, b: usize) -> (i32, i32) {
    debug_assert!(a <= b && b < keys.len());
    if keys.len() <= SMALL {
        keys.sort_unstable();
        return (keys[a], keys[b]);
    }
    let (_, &mut lo, upper) = keys.select_nth_unstable(a);
    let hi = match b - a {
        0 => lo,
        1 => *upper.iter().min().expect("b is in range"),
        gap => *upper.select_nth_unstable(gap - 1).1,
    };
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_total_cmp_and_round_trip() {
        let values = [f32::NEG_INFINITY, -3.5, -1e-30, -0.0, 0.0, 1e-40, 2.0, f32::MAX, f32::INFINITY];
        for pair in values.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(value(key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn order_stats_sort_and_select_agree() {
        let keys: Vec<i32> = (0..100).map(|i| (i * 37) % 101 - 50).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        for (a, b) in [(0, 0), (10, 89), (49, 50), (99, 99)] {
            assert_eq!(order_stats(&mut keys.clone(), a, b), (sorted[a], sorted[b]));
            let small = &keys[..20];
            let mut small_sorted = small.to_vec();
            small_sorted.sort_unstable();
            let (a, b) = (a % 20, (b % 20).max(a % 20));
            assert_eq!(order_stats(&mut small.to_vec(), a, b), (small_sorted[a], small_sorted[b]));
        }
    }

    #[test]
    fn columns_hold_each_coordinate_in_update_order() {
        let len = COLUMN_BLOCK + 3;
        let a: Vec<f32> = (0..len).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..len).map(|i| 1000.0 + i as f32).collect();
        let mut seen = Vec::new();
        let out = map_columns(&[&a, &b], |col| {
            seen.push(col.iter().map(|&k| value(k)).collect::<Vec<_>>());
            value(col[1]) - value(col[0])
        });
        assert_eq!(out, vec![1000.0; len]);
        assert_eq!(seen[len - 1], vec![(len - 1) as f32, 1000.0 + (len - 1) as f32]);
    }
}
