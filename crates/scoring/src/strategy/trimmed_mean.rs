use super::{
    Strategy, canonical,
    columns::{map_columns, order_stats, value},
    network::{self, MAX_NETWORK},
};
use crate::{Aggregate, Error, Failure, FitResult, Result};

/// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the `floor(beta * n)` largest and
/// smallest values and average the rest; unweighted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrimmedMean {
    /// The fraction trimmed from each end, in `[0, 0.5)`.
    pub beta: f64,
}

impl TrimmedMean {
    /// A trimmed mean; `beta` must lie in `[0, 0.5)`.
    pub fn new(beta: f64) -> Result<Self> {
        if (0.0..0.5).contains(&beta) {
            Ok(Self { beta })
        } else {
            Err(Error::Config(format!("trimmed-mean beta {beta} is outside [0, 0.5)")))
        }
    }

    /// How many values are dropped from each end of `n`: `floor(beta * n)`, leaving at least one value
    /// (even if `beta` was set out of range by hand).
    pub fn trim_count(&self, n: usize) -> usize {
        ((self.beta.max(0.0) * n as f64).floor() as usize).min(n.saturating_sub(1) / 2)
    }
}

/// The mean of a column of sort keys without its `trim` smallest and `trim` largest values
/// (`2 * trim < column.len()`).
///
/// The kept values are summed in the column's own (worker) order, not in whatever order selection leaves
/// them: the thresholds come from [`order_stats`] on `scratch`, and ties at a threshold are taken first-come.
/// So the bits depend only on the input, never on the selection algorithm.
pub(crate) fn trimmed_mean_of(column: &[i32], trim: usize, scratch: &mut Vec<i32>) -> f32 {
    let n = column.len();
    let kept = n - 2 * trim;
    if trim == 0 {
        return (column.iter().fold(0.0, |sum, &k| sum + f64::from(value(k))) / n as f64) as f32;
    }
    scratch.clear();
    scratch.extend_from_slice(column);
    let (lo, hi) = order_stats(scratch, trim, n - trim - 1);
    let (mut at_most_lo, mut below_hi) = (0usize, 0usize);
    for &k in column {
        at_most_lo += usize::from(k <= lo);
        below_hi += usize::from(k < hi);
    }
    // Kept copies of lo: sorted positions [trim, n - trim) holding lo. Likewise for hi.
    let mut take_lo = at_most_lo.min(n - trim) - trim;
    let mut take_hi = (n - trim) - below_hi.max(trim);
    let mut sum = 0.0f64;
    for &k in column {
        // Branch-free, as in the network path: adding +0.0 to a sum that started at +0.0 changes no bits.
        let at_lo = k == lo;
        let from_lo = at_lo & (take_lo > 0);
        let from_hi = !at_lo & (k == hi) & (take_hi > 0);
        take_lo -= usize::from(from_lo);
        take_hi -= usize::from(from_hi);
        let take = from_lo | from_hi | ((lo < k) & (k < hi));
        sum += if take { f64::from(value(k)) } else { 0.0 };
    }
    (sum / kept as f64) as f32
}

impl Strategy for TrimmedMean {
    fn name(&self) -> String {
        format!("trimmed-mean({})", self.beta)
    }

    /// A trimmed mean per coordinate.
    fn column_wise(&self) -> bool {
        true
    }

    fn aggregate(&self, _round: u64, results: &[FitResult<'_>], _failures: &[Failure]) -> Result<Option<Aggregate>> {
        let results = canonical(results)?;
        if results.is_empty() {
            return Ok(None);
        }
        let trim = self.trim_count(results.len());
        let deltas: Vec<&[f32]> = results.iter().map(|r| r.delta).collect();
        let delta = if deltas.len() <= MAX_NETWORK {
            network::trimmed_mean(&deltas, trim)
        } else {
            let mut scratch = Vec::with_capacity(deltas.len());
            map_columns(&deltas, |column| trimmed_mean_of(column, trim, &mut scratch))
        };
        Ok(Some(Aggregate::new(delta, results.iter().map(|r| r.worker.clone()).collect())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{columns::key, test_support::*};
    use proptest::prelude::{prop, prop_assert_eq, proptest};

    #[test]
    fn trims_both_ends() {
        let ids = ids(5);
        let deltas = vec![vec![1.0, 5.0], vec![-100.0, 5.0], vec![2.0, 5.0], vec![3.0, 1.0], vec![100.0, 9.0]];
        let tm = TrimmedMean::new(0.2).unwrap();
        assert_eq!(tm.trim_count(5), 1);
        let agg = tm.aggregate(1, &results(&ids, &deltas, &[1; 5]), &[]).unwrap().unwrap();
        // [-100, 1, 2, 3, 100] -> (1+2+3)/3 = 2; [1, 5, 5, 5, 9] -> 5
        assert_eq!(agg.delta, vec![2.0, 5.0]);
        let none = TrimmedMean::new(0.0).unwrap().aggregate(1, &results(&ids, &deltas, &[1; 5]), &[]).unwrap();
        assert_eq!(none.unwrap().delta, vec![(6.0f64 / 5.0) as f32, 5.0]);
    }

    #[test]
    fn rejects_beta_out_of_range() {
        assert!(TrimmedMean::new(0.5).is_err());
        assert!(TrimmedMean::new(-0.1).is_err());
        assert_eq!(TrimmedMean { beta: 0.9 }.trim_count(4), 1);
    }

    proptest! {
        #[test]
        fn matches_sort_and_slice(column in prop::collection::vec(prop::sample::select(vec![-2.0f32, -1.0, 0.0, 1.0, 2.5, 7.0]), 1..80), beta in 0.0f64..0.49) {
            let trim = (beta * column.len() as f64).floor() as usize;
            let mut sorted = column.clone();
            sorted.sort_by(f32::total_cmp);
            let kept = &sorted[trim..column.len() - trim];
            let expected = kept.iter().map(|&v| f64::from(v)).sum::<f64>() / kept.len() as f64;
            let keys: Vec<i32> = column.iter().map(|&v| key(v)).collect();
            let got = trimmed_mean_of(&keys, trim, &mut Vec::new());
            prop_assert_eq!(got, expected as f32);
        }
    }
}
