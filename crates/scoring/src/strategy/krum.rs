use super::{Strategy, canonical, weighted_aggregate};
use crate::{
    Aggregate, Error, Failure, FitResult, Result,
    vector::{PairSum, Pairwise},
};

/// The most multiply-adds Multi-Krum's all-pairs distances may take in one round: about half a minute on two CPU
/// cores. Beyond it a round is refused with the reason rather than left to run for hours: 1,000 LeNet updates
/// would take 2.9e11, 200 ResNet-18 updates 2.2e11.
pub const MAX_KRUM_WORK: f64 = 1e11;

/// Refuses a round Multi-Krum would take too long over: its cost is every pair of `n` updates of `d` parameters.
pub fn check_krum_size(n: usize, d: usize) -> Result<()> {
    let work = (n as f64) * (n.saturating_sub(1) as f64) / 2.0 * d as f64;
    if work > MAX_KRUM_WORK {
        return Err(Error::Config(format!(
            "Multi-Krum compares every pair of updates: {n} updates of {d} parameters is {work:.1e} multiply-adds, \
             over its limit of {MAX_KRUM_WORK:.0e}; use trimmed-mean or median, whose cost grows with the updates, \
             not their pairs"
        )));
    }
    Ok(())
}

/// Multi-Krum (Blanchard et al. 2017): score each update by the summed squared distances to its `n - f - 2`
/// nearest others, keep the `m` lowest scores, and average those (sample-weighted, as Flower does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MultiKrum {
    /// How many Byzantine workers to tolerate.
    pub f: usize,
    /// How many updates to keep; `None` keeps `n - f`. `Some(1)` is plain Krum.
    pub m: Option<usize>,
}

/// Each update's Krum score: the sum of its `n - f - 2` smallest squared distances to the others (at least one
/// neighbour when `n > 1`). Updates must have equal lengths.
pub fn krum_scores(deltas: &[&[f32]], f: usize) -> Vec<f64> {
    scores_from(&Pairwise::compute(deltas, PairSum::SquaredDistance), f)
}

fn scores_from(pairwise: &Pairwise, f: usize) -> Vec<f64> {
    let n = pairwise.n;
    let neighbours = n.saturating_sub(f + 2).clamp(1.min(n.saturating_sub(1)), n.saturating_sub(1));
    let mut row = Vec::with_capacity(n);
    (0..n)
        .map(|i| {
            row.clear();
            row.extend((0..n).filter(|&j| j != i).map(|j| pairwise.sq_dist(i, j)));
            row.sort_by(f64::total_cmp);
            row[..neighbours].iter().sum()
        })
        .collect()
}

impl Strategy for MultiKrum {
    fn name(&self) -> String {
        match self.m {
            Some(m) => format!("multi-krum(f={},m={m})", self.f),
            None => format!("multi-krum(f={})", self.f),
        }
    }

    /// Which updates it keeps depends on their distances over every coordinate.
    fn column_wise(&self) -> bool {
        false
    }

    fn aggregate(&self, _round: u64, results: &[FitResult<'_>], _failures: &[Failure]) -> Result<Option<Aggregate>> {
        let results = canonical(results)?;
        if results.is_empty() {
            return Ok(None);
        }
        let n = results.len();
        check_krum_size(n, results[0].delta.len())?;
        let deltas: Vec<&[f32]> = results.iter().map(|r| r.delta).collect();
        let scores = krum_scores(&deltas, self.f);
        let mut order: Vec<usize> = (0..n).collect();
        // Ties go to the earlier worker, so selection is deterministic.
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        let keep = self.m.unwrap_or(n.saturating_sub(self.f)).clamp(1, n);
        let mut chosen: Vec<usize> = order[..keep].to_vec();
        chosen.sort_unstable();
        let selected: Vec<&FitResult<'_>> = chosen.iter().map(|&i| results[i]).collect();
        weighted_aggregate(&selected, FitResult::sample_weight).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::test_support::*;

    #[test]
    fn rounds_too_large_for_all_pairs_are_refused_with_the_reason() {
        // LeNet has 582,026 parameters.
        assert!(check_krum_size(100, 582_026).is_ok());
        let error = check_krum_size(1000, 582_026).unwrap_err().to_string();
        assert!(error.contains("1000 updates of 582026 parameters is 2.9e11 multiply-adds"), "{error}");
        assert!(check_krum_size(200, 11_173_962).is_err() && check_krum_size(100, 11_173_962).is_ok());
        assert!(check_krum_size(0, 0).is_ok() && check_krum_size(1, usize::MAX).is_ok());
    }

    #[test]
    fn scores_by_nearest_neighbours() {
        // Points on a line: 0, 1, 3, 10. n = 4, f = 1 -> 1 neighbour.
        let deltas = [vec![0.0f32], vec![1.0], vec![3.0], vec![10.0]];
        let refs: Vec<&[f32]> = deltas.iter().map(Vec::as_slice).collect();
        assert_eq!(krum_scores(&refs, 1), vec![1.0, 1.0, 4.0, 49.0]);
        // f = 0 -> 2 neighbours.
        assert_eq!(krum_scores(&refs, 0), vec![1.0 + 9.0, 1.0 + 4.0, 4.0 + 9.0, 49.0 + 81.0]);
    }

    #[test]
    fn drops_the_outlier_and_averages_the_rest() {
        let ids = ids(5);
        let deltas = vec![vec![1.0, 1.0], vec![1.2, 0.8], vec![0.8, 1.2], vec![1.0, 1.1], vec![-50.0, 40.0]];
        let krum = MultiKrum { f: 1, m: None };
        let agg = krum.aggregate(1, &results(&ids, &deltas, &[1; 5]), &[]).unwrap().unwrap();
        assert_eq!(agg.included, ids[..4].to_vec());
        assert_eq!(agg.delta, vec![1.0, 1.025]);
        // Plain Krum keeps the most central update: scores are w0 0.09, w1 0.21, w2 0.13, w3 0.06.
        let agg = MultiKrum { f: 1, m: Some(1) }.aggregate(1, &results(&ids, &deltas, &[1; 5]), &[]).unwrap();
        assert_eq!(agg.unwrap().included, vec![ids[3].clone()]);
    }

    #[test]
    fn tiny_rounds_do_not_panic() {
        let ids = ids(2);
        let deltas = vec![vec![1.0], vec![3.0]];
        let agg = MultiKrum { f: 3, m: None }.aggregate(1, &results(&ids[..1], &deltas[..1], &[1]), &[]).unwrap();
        assert_eq!(agg.unwrap().delta, vec![1.0]);
        let agg = MultiKrum { f: 3, m: None }.aggregate(1, &results(&ids, &deltas, &[1, 1]), &[]).unwrap();
        assert_eq!(agg.unwrap().delta, vec![1.0]);
    }
}
