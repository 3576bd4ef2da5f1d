use super::{Strategy, canonical, weighted_aggregate};
use crate::{Aggregate, Failure, FitResult, Result};

/// Federated averaging (McMahan et al. 2017): the mean of the deltas weighted by each worker's sample count
/// times its FedAU participation weight ([`FitResult::sample_weight`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FedAvg;

impl Strategy for FedAvg {
    fn name(&self) -> String {
        "fedavg".into()
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
        weighted_aggregate(&results, FitResult::sample_weight).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, strategy::test_support::*};

    #[test]
    fn weights_by_samples() {
        let ids = ids(2);
        let deltas = vec![vec![1.0, 2.0], vec![4.0, -2.0]];
        let agg = FedAvg.aggregate(1, &results(&ids, &deltas, &[1, 3]), &[]).unwrap().unwrap();
        // (1*1 + 3*4)/4 = 3.25, (1*2 + 3*-2)/4 = -1
        assert_eq!(agg.delta, vec![3.25, -1.0]);
        assert_eq!(agg.included, ids);
        assert_eq!(agg.pseudo_gradient, None);
    }

    #[test]
    fn participation_weight_multiplies_samples() {
        let ids = ids(2);
        let deltas = vec![vec![0.0], vec![6.0]];
        let mut res = results(&ids, &deltas, &[10, 10]);
        res[1].participation = 2.0;
        let agg = FedAvg.aggregate(1, &res, &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![4.0]);
    }

    #[test]
    fn order_of_results_does_not_matter() {
        let ids = ids(3);
        let deltas = vec![vec![0.1, 0.7], vec![0.3, -0.2], vec![1e-3, 5.0]];
        let mut res = results(&ids, &deltas, &[3, 5, 7]);
        let a = FedAvg.aggregate(1, &res, &[]).unwrap().unwrap();
        res.reverse();
        let b = FedAvg.aggregate(1, &res, &[]).unwrap().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn empty_is_none_and_bad_input_is_an_error() {
        assert_eq!(FedAvg.aggregate(1, &[], &[]).unwrap(), None);
        let ids = ids(2);
        let deltas = vec![vec![1.0], vec![1.0, 2.0]];
        let err = FedAvg.aggregate(1, &results(&ids, &deltas, &[1, 1]), &[]).unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { .. }));
        let deltas = vec![vec![1.0], vec![2.0]];
        let err = FedAvg.aggregate(1, &results(&ids, &deltas, &[0, 0]), &[]).unwrap_err();
        assert!(matches!(err, Error::ZeroTotalWeight));
        let same = [ids[0].clone(), ids[0].clone()];
        let err = FedAvg.aggregate(1, &results(&same, &deltas, &[1, 1]), &[]).unwrap_err();
        assert!(matches!(err, Error::DuplicateWorker(_)));
    }
}
