//! Aggregation strategies in the shape of Flower's `Strategy`: the maths are plain functions, each strategy is
//! a small struct implementing [`Strategy`], and wrappers ([`NormClip`], [`FedAdam`]) add behaviour to any of
//! them.

mod clip;
mod columns;
mod fedadam;
mod fedavg;
mod krum;
mod median;
mod network;
mod reputation_fedavg;
mod spec;
mod trimmed_mean;

pub use clip::{ClipBound, NormClip, clip_to_norm};
pub use fedadam::FedAdam;
pub use fedavg::FedAvg;
pub use krum::{MAX_KRUM_WORK, MultiKrum, check_krum_size, krum_scores};
pub use median::Median;
pub use reputation_fedavg::ReputationFedAvg;
pub use spec::{StrategyKind, StrategySpec};
pub use trimmed_mean::TrimmedMean;

use crate::{Aggregate, Error, Evaluator, Failure, FitResult, Metrics, Result, RoundConfig};

/// A federated aggregation strategy (after Flower's `Strategy`).
///
/// [`Self::aggregate`] is pure: it takes `&self` and may be called many times per round (the scorer calls it
/// once more per worker, leaving that worker out). State that a round changes, such as a server optimiser's
/// moments, moves on only in [`Self::commit`], which the caller runs once with the aggregate it adopts.
pub trait Strategy {
    /// A short name for manifests and logs, e.g. `"trimmed-mean(0.1)"`.
    fn name(&self) -> String;

    /// What to ask of workers in `round`.
    fn configure(&self, round: u64) -> RoundConfig {
        RoundConfig { round, min_results: 1, ..RoundConfig::default() }
    }

    /// Aggregates the round's results into a step for the global model, or `None` when there is nothing to
    /// aggregate. Results may come in any order: implementations work in worker order, so the output does not
    /// depend on it. All deltas must have the same length and be finite ([`crate::vector::validate`]).
    fn aggregate(&self, round: u64, results: &[FitResult<'_>], failures: &[Failure]) -> Result<Option<Aggregate>>;

    /// Whether every coordinate of the aggregate depends on that coordinate of the updates alone (and on what
    /// the results carry besides, such as their weights and whole norms), so that a round can be aggregated a
    /// block of coordinates at a time without holding every update ([`Self::aggregate_columns`]). A strategy that
    /// does not say so is given whole updates.
    fn column_wise(&self) -> bool {
        false
    }

    /// For a [`Self::column_wise`] strategy: coordinates `start..start + len` of [`Self::aggregate`], where each
    /// result's delta holds just those `len` coordinates of its update (its norm is still the whole update's).
    /// Joined in order, the blocks are the bits of [`Self::aggregate`].
    fn aggregate_columns(
        &self,
        round: u64,
        results: &[FitResult<'_>],
        failures: &[Failure],
        start: usize,
    ) -> Result<Option<Aggregate>> {
        let _ = start;
        self.aggregate(round, results, failures)
    }

    /// Adopts `aggregate` as the outcome of `round` (a server optimiser updates its moments here).
    fn commit(&mut self, round: u64, aggregate: &Aggregate) {
        let _ = (round, aggregate);
    }

    /// Evaluates the global model `params` after `round` on the server side; by default with `evaluator`.
    fn evaluate(&mut self, round: u64, params: &[f32], evaluator: &mut dyn Evaluator) -> Result<Option<Metrics>> {
        let _ = round;
        evaluator.evaluate(params).map(Some)
    }
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn configure(&self, round: u64) -> RoundConfig {
        (**self).configure(round)
    }
    fn aggregate(&self, round: u64, results: &[FitResult<'_>], failures: &[Failure]) -> Result<Option<Aggregate>> {
        (**self).aggregate(round, results, failures)
    }
    fn column_wise(&self) -> bool {
        (**self).column_wise()
    }
    fn aggregate_columns(
        &self,
        round: u64,
        results: &[FitResult<'_>],
        failures: &[Failure],
        start: usize,
    ) -> Result<Option<Aggregate>> {
        (**self).aggregate_columns(round, results, failures, start)
    }
    fn commit(&mut self, round: u64, aggregate: &Aggregate) {
        (**self).commit(round, aggregate)
    }
    fn evaluate(&mut self, round: u64, params: &[f32], evaluator: &mut dyn Evaluator) -> Result<Option<Metrics>> {
        (**self).evaluate(round, params, evaluator)
    }
}

/// The results in worker order, checked for equal lengths and unique workers.
pub(crate) fn canonical<'r, 'a>(results: &'r [FitResult<'a>]) -> Result<Vec<&'r FitResult<'a>>> {
    let mut sorted: Vec<&FitResult<'a>> = results.iter().collect();
    sorted.sort_by(|a, b| a.worker.cmp(b.worker));
    for pair in sorted.windows(2) {
        if pair[0].worker == pair[1].worker {
            return Err(Error::DuplicateWorker(pair[0].worker.to_string()));
        }
    }
    if let Some(first) = sorted.first() {
        let expected = first.delta.len();
        if let Some(bad) = sorted.iter().find(|r| r.delta.len() != expected) {
            return Err(Error::LengthMismatch { worker: bad.worker.to_string(), expected, got: bad.delta.len() });
        }
    }
    Ok(sorted)
}

/// Weighted mean of `results` (already in worker order) with `weight` per result.
pub(crate) fn weighted_aggregate<'a>(
    results: &[&FitResult<'a>],
    weight: impl Fn(&FitResult<'a>) -> f64,
) -> Result<Aggregate> {
    let deltas: Vec<&[f32]> = results.iter().map(|r| r.delta).collect();
    let weights: Vec<f64> = results.iter().map(|r| weight(r)).collect();
    let delta = crate::vector::weighted_mean(&deltas, &weights)?;
    Ok(Aggregate::new(delta, results.iter().map(|r| r.worker.clone()).collect()))
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::{FitResult, WorkerId};

    /// Worker ids `w0, w1, ...`.
    pub(crate) fn ids(n: usize) -> Vec<WorkerId> {
        (0..n).map(|i| WorkerId::new(format!("w{i}"))).collect()
    }

    /// Results with `samples[i]` samples each.
    pub(crate) fn results<'a>(ids: &'a [WorkerId], deltas: &'a [Vec<f32>], samples: &[u64]) -> Vec<FitResult<'a>> {
        ids.iter().zip(deltas).zip(samples).map(|((id, d), &n)| FitResult::new(id, d, n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{test_support::*, *};
    use crate::vector::BLOCK;

    /// Every column-wise strategy, aggregated a block of coordinates at a time and joined, gives the bits of its
    /// aggregate over the whole updates, its server step included (after a committed round, so its moments
    /// are read at the right offsets).
    #[test]
    fn column_blocks_join_to_the_whole_aggregate() {
        let len = 2 * BLOCK + 37;
        for n in [5, 40] {
            let ids = ids(n);
            let deltas: Vec<Vec<f32>> = (0..n)
                .map(|k| (0..len).map(|i| (((i * 31 + k * 17) % 101) as f32 - 50.0) * (1.0 + k as f32 / 7.0)).collect())
                .collect();
            let samples: Vec<u64> = (0..n as u64).map(|k| 10 + k).collect();
            let results = results(&ids, &deltas, &samples);
            let mut strategies: Vec<Box<dyn Strategy>> = vec![
                Box::new(FedAvg),
                Box::new(ReputationFedAvg::default()),
                Box::new(Median),
                Box::new(TrimmedMean::new(0.2).unwrap()),
                Box::new(
                    NormClip::new(
                        FedAdam::new(TrimmedMean::new(0.1).unwrap(), 0.1, 0.9, 0.99, 1e-3).unwrap(),
                        ClipBound::MedianMultiple(1.5),
                    )
                    .unwrap(),
                ),
            ];
            for strategy in &mut strategies {
                let first = strategy.aggregate(1, &results, &[]).unwrap().unwrap();
                strategy.commit(1, &first);
                let whole = strategy.aggregate(2, &results, &[]).unwrap().unwrap();
                assert!(strategy.column_wise(), "{}", strategy.name());
                let mut joined = Aggregate::new(Vec::new(), Vec::new());
                for start in (0..len).step_by(BLOCK) {
                    let end = (start + BLOCK).min(len);
                    let block: Vec<FitResult<'_>> =
                        results.iter().map(|r| r.with_delta(&r.delta[start..end])).collect();
                    let part = strategy.aggregate_columns(2, &block, &[], start).unwrap().unwrap();
                    joined.delta.extend(part.delta);
                    joined.included = part.included;
                    if let Some(more) = part.pseudo_gradient {
                        joined.pseudo_gradient.get_or_insert_with(Vec::new).extend(more);
                    }
                }
                assert_eq!(joined, whole, "{} over {n} updates", strategy.name());
            }
            assert!(!MultiKrum::default().column_wise());
        }
    }
}
