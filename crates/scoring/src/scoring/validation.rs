use crate::{Failure, FitResult, Metrics, Result, Strategy};

/// Runs a model on the requester's validation set. The scoring library cannot run a model, so the caller
/// (coordinator or simulation, with libtorch) implements this for its architecture.
pub trait Evaluator {
    /// Validation loss and accuracy of the model with these parameters (flat, in the model's order).
    fn evaluate(&mut self, params: &[f32]) -> Result<Metrics>;
}

impl<F: FnMut(&[f32]) -> Result<Metrics>> Evaluator for F {
    fn evaluate(&mut self, params: &[f32]) -> Result<Metrics> {
        self(params)
    }
}

/// `global + delta`, element-wise in f32 (how a step is applied to the global model).
pub fn apply(global: &[f32], delta: &[f32]) -> Vec<f32> {
    assert_eq!(global.len(), delta.len(), "a step must match the model");
    global.iter().zip(delta).map(|(g, d)| g + d).collect()
}

/// For each index in `which`, the metrics of the model that the strategy would build from `results`
/// without that result, in the order of `which`. Without any result the model stays at `global`.
pub fn leave_one_out(
    strategy: &dyn Strategy,
    round: u64,
    results: &[FitResult<'_>],
    which: &[usize],
    failures: &[Failure],
    global: &[f32],
    evaluator: &mut dyn Evaluator,
) -> Result<Vec<Metrics>> {
    Ok(leave_each_out(strategy, round, results, which, failures, global, evaluator)?
        .into_iter()
        .map(|(metrics, _)| metrics)
        .collect())
}

/// [`leave_one_out`], each entry also saying whether the strategy built a model (`false`: it stayed at
/// `global`), so that the caller can reuse an evaluation instead of repeating it.
pub(super) fn leave_each_out(
    strategy: &dyn Strategy,
    round: u64,
    results: &[FitResult<'_>],
    which: &[usize],
    failures: &[Failure],
    global: &[f32],
    evaluator: &mut dyn Evaluator,
) -> Result<Vec<(Metrics, bool)>> {
    let mut unchanged = None;
    which
        .iter()
        .map(|&left_out| {
            let rest: Vec<FitResult<'_>> =
                results.iter().enumerate().filter(|&(i, _)| i != left_out).map(|(_, r)| *r).collect();
            match strategy.aggregate(round, &rest, failures)? {
                Some(aggregate) => Ok((evaluator.evaluate(&apply(global, &aggregate.delta))?, true)),
                None => match unchanged {
                    Some(metrics) => Ok((metrics, false)),
                    None => {
                        let metrics = evaluator.evaluate(global)?;
                        unchanged = Some(metrics);
                        Ok((metrics, false))
                    }
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FedAvg, WorkerId, mock::MockEvaluator};

    #[test]
    fn leaves_each_update_out_in_turn() {
        let ids: Vec<WorkerId> = ["a", "b"].into_iter().map(WorkerId::from).collect();
        let deltas = [vec![1.0f32, 0.0], vec![3.0, 0.0]];
        let results: Vec<FitResult<'_>> = ids.iter().zip(&deltas).map(|(w, d)| FitResult::new(w, d, 1)).collect();
        let mut evaluator = MockEvaluator::new(vec![2.0, 0.0]);
        let loo = leave_one_out(&FedAvg, 1, &results, &[0, 1], &[], &[0.0, 0.0], &mut evaluator).unwrap();
        // Without a: model (3, 0), loss (1^2 + 0)/2 = 0.5; without b: model (1, 0), loss 0.5.
        assert_eq!(loo[0].loss, 0.5);
        assert_eq!(loo[1].loss, 0.5);
        assert_eq!(evaluator.calls(), 2);
        let loo = leave_one_out(&FedAvg, 1, &results[..1], &[0], &[], &[0.0, 0.0], &mut evaluator).unwrap();
        // Alone, leaving it out keeps the global model: loss (4 + 0)/2.
        assert_eq!(loo[0].loss, 2.0);
    }
}
