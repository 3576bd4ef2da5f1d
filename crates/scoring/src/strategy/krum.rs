use super::{Strategy, canonical, weighted_aggregate};
use crate::{Aggregate, Failure, FitResult, Result, vector::Pairwise};

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
    scores_from(&Pairwise::compute(deltas, false), f)
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

    fn aggregate(&self, _round: u64, results: &[FitResult<'_>], _failures: &[Failure]) -> Result<Option<Aggregate>> {
        let results = canonical(results)?;
        if results.is_empty() {
            return Ok(None);
        }
        let n = results.len();
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
