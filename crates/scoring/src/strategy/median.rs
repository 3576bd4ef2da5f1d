use super::{
    Strategy, canonical,
    columns::{map_columns, order_stats, value},
    network::{self, MAX_NETWORK},
};
use crate::{Aggregate, Failure, FitResult, Result};

/// Coordinate-wise median (Yin et al. 2018); unweighted. With an even count, the mean of the two middle values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Median;

/// The median of a column of sort keys, which it reorders; the column must not be empty.
pub(crate) fn median_of(keys: &mut [i32]) -> f32 {
    let n = keys.len();
    let (lower, upper) = order_stats(keys, (n - 1) / 2, n / 2);
    if lower == upper {
        return value(upper);
    }
    ((f64::from(value(lower)) + f64::from(value(upper))) / 2.0) as f32
}

impl Strategy for Median {
    fn name(&self) -> String {
        "median".into()
    }

    /// A median per coordinate.
    fn column_wise(&self) -> bool {
        true
    }

    fn aggregate(&self, _round: u64, results: &[FitResult<'_>], _failures: &[Failure]) -> Result<Option<Aggregate>> {
        let results = canonical(results)?;
        if results.is_empty() {
            return Ok(None);
        }
        let deltas: Vec<&[f32]> = results.iter().map(|r| r.delta).collect();
        let delta =
            if deltas.len() <= MAX_NETWORK { network::median(&deltas) } else { map_columns(&deltas, median_of) };
        Ok(Some(Aggregate::new(delta, results.iter().map(|r| r.worker.clone()).collect())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::test_support::*;

    #[test]
    fn odd_and_even_counts() {
        let ids = ids(4);
        let deltas = vec![vec![1.0, -5.0], vec![100.0, 0.0], vec![3.0, 2.0], vec![2.0, 7.0]];
        let agg = Median.aggregate(1, &results(&ids[..3], &deltas[..3], &[1, 1, 1]), &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![3.0, 0.0]);
        let agg = Median.aggregate(1, &results(&ids, &deltas, &[1, 1, 1, 100]), &[]).unwrap().unwrap();
        // sorted: [1, 2, 3, 100] -> 2.5; [-5, 0, 2, 7] -> 1
        assert_eq!(agg.delta, vec![2.5, 1.0]);
    }

    #[test]
    fn one_outlier_cannot_move_the_median_far() {
        let ids = ids(5);
        let deltas = vec![vec![1.0], vec![1.1], vec![0.9], vec![1.0], vec![1e30]];
        let agg = Median.aggregate(1, &results(&ids, &deltas, &[1; 5]), &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![1.0]);
    }
}
