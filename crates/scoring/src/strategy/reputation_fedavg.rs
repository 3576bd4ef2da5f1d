use super::{Strategy, canonical, weighted_aggregate};
use crate::{Aggregate, Failure, FitResult, Result};

/// FedAvg weighted by reputation as well (RFFL, Xu & Lyu 2021): each delta counts
/// `reputation x participation x (samples, or 1 when `by_samples` is off)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReputationFedAvg {
    /// Whether the sample count multiplies the weight (RFFL itself weights by reputation only).
    pub by_samples: bool,
}

impl Default for ReputationFedAvg {
    fn default() -> Self {
        Self { by_samples: true }
    }
}

impl Strategy for ReputationFedAvg {
    fn name(&self) -> String {
        if self.by_samples { "reputation-fedavg".into() } else { "reputation-fedavg(unweighted)".into() }
    }

    /// A weighted mean, coordinate by coordinate.
    fn column_wise(&self) -> bool {
        true
    }

    fn aggregate(&self, _round: u64, results: &[FitResult<'_>], _failures: &[Failure]) -> Result<Option<Aggregate>> {
        let results = canonical(results)?;
        if results.is_empty() {
            return Ok(None);
        }
        let by_samples = self.by_samples;
        weighted_aggregate(&results, |r| {
            let base = if by_samples { r.num_samples as f64 } else { 1.0 };
            base * r.participation * r.reputation.max(0.0)
        })
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::test_support::*;

    #[test]
    fn weights_by_reputation_and_samples() {
        let ids = ids(3);
        let deltas = vec![vec![1.0], vec![2.0], vec![100.0]];
        let mut res = results(&ids, &deltas, &[2, 1, 1]);
        res[0].reputation = 0.5;
        res[1].reputation = 0.5;
        res[2].reputation = 0.0;
        // (2*0.5*1 + 1*0.5*2 + 0) / (1 + 0.5) = 4/3
        let agg = ReputationFedAvg::default().aggregate(1, &res, &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![(2.0f64 / 1.5) as f32]);
        // Without samples: (0.5*1 + 0.5*2) / 1 = 1.5
        let agg = ReputationFedAvg { by_samples: false }.aggregate(1, &res, &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![1.5]);
    }
}
