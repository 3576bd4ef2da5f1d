use super::Strategy;
use crate::{Aggregate, Error, Evaluator, Failure, FitResult, Metrics, Result, RoundConfig};
use std::borrow::Cow;

/// The L2 bound that [`NormClip`] clips to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClipBound {
    /// A fixed bound.
    Fixed(f64),
    /// This multiple of the round's median update norm (adapts as updates shrink during training).
    MedianMultiple(f64),
}

/// `delta` scaled down to L2 norm `max_norm` if its norm `norm` exceeds it, else `delta` itself.
pub fn clip_to_norm(delta: &[f32], norm: f64, max_norm: f64) -> Cow<'_, [f32]> {
    if norm <= max_norm {
        return Cow::Borrowed(delta);
    }
    let scale = max_norm / norm;
    Cow::Owned(delta.iter().map(|&v| (f64::from(v) * scale) as f32).collect())
}

/// Clips every update to an L2 bound before the inner strategy aggregates (as Flower's DP wrappers wrap any
/// strategy), which caps how far one update can pull the aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct NormClip<S> {
    /// The wrapped strategy.
    pub inner: S,
    /// The bound.
    pub bound: ClipBound,
}

impl<S> NormClip<S> {
    /// Wraps `inner`; the bound or multiple must be positive and finite.
    pub fn new(inner: S, bound: ClipBound) -> Result<Self> {
        let (ClipBound::Fixed(value) | ClipBound::MedianMultiple(value)) = bound;
        if value > 0.0 && value.is_finite() {
            Ok(Self { inner, bound })
        } else {
            Err(Error::Config(format!("clip bound {value} must be positive and finite")))
        }
    }

    /// The bound for a round whose updates have these norms.
    pub fn bound_for(&self, norms: &[f64]) -> f64 {
        match self.bound {
            ClipBound::Fixed(bound) => bound,
            ClipBound::MedianMultiple(multiple) => multiple * crate::scoring::median(norms),
        }
    }
}

impl<S: Strategy> NormClip<S> {
    /// Runs `inner` on the results clipped to the round's bound, by their whole updates' norms (so a block of
    /// coordinates is scaled as the whole update is).
    fn clipped<T>(&self, results: &[FitResult<'_>], inner: impl FnOnce(&[FitResult<'_>]) -> T) -> T {
        let norms: Vec<f64> = results.iter().map(|r| r.norm).collect();
        let bound = self.bound_for(&norms);
        let clipped: Vec<Cow<'_, [f32]>> =
            results.iter().zip(&norms).map(|(r, &norm)| clip_to_norm(r.delta, norm, bound)).collect();
        let results: Vec<FitResult<'_>> = results.iter().zip(&clipped).map(|(r, d)| r.with_delta(d)).collect();
        inner(&results)
    }
}

impl<S: Strategy> Strategy for NormClip<S> {
    fn name(&self) -> String {
        match self.bound {
            ClipBound::Fixed(bound) => format!("clip({bound},{})", self.inner.name()),
            ClipBound::MedianMultiple(multiple) => format!("clip({multiple}xmedian,{})", self.inner.name()),
        }
    }

    fn configure(&self, round: u64) -> RoundConfig {
        let mut config = self.inner.configure(round);
        if let ClipBound::Fixed(bound) = self.bound {
            config.clip_norm = Some(config.clip_norm.map_or(bound, |inner| inner.min(bound)));
        }
        config
    }

    fn aggregate(&self, round: u64, results: &[FitResult<'_>], failures: &[Failure]) -> Result<Option<Aggregate>> {
        self.clipped(results, |clipped| self.inner.aggregate(round, clipped, failures))
    }

    fn column_wise(&self) -> bool {
        self.inner.column_wise()
    }

    fn aggregate_columns(
        &self,
        round: u64,
        results: &[FitResult<'_>],
        failures: &[Failure],
        start: usize,
    ) -> Result<Option<Aggregate>> {
        self.clipped(results, |clipped| self.inner.aggregate_columns(round, clipped, failures, start))
    }

    fn commit(&mut self, round: u64, aggregate: &Aggregate) {
        self.inner.commit(round, aggregate);
    }

    fn evaluate(&mut self, round: u64, params: &[f32], evaluator: &mut dyn Evaluator) -> Result<Option<Metrics>> {
        self.inner.evaluate(round, params, evaluator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{FedAvg, test_support::*};

    #[test]
    fn clips_only_long_updates() {
        let long = [3.0f32, 4.0];
        assert_eq!(clip_to_norm(&long, 5.0, 1.0).as_ref(), &[0.6f32, 0.8]);
        assert!(matches!(clip_to_norm(&long, 5.0, 5.0), Cow::Borrowed(_)));
    }

    #[test]
    fn wraps_any_strategy() {
        let ids = ids(2);
        let deltas = vec![vec![0.0, 1.0], vec![300.0, 400.0]];
        let clip = NormClip::new(FedAvg, ClipBound::Fixed(1.0)).unwrap();
        // w1 becomes (0.6, 0.8); mean (0.3, 0.9).
        let agg = clip.aggregate(1, &results(&ids, &deltas, &[1, 1]), &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![0.3, 0.9]);
        assert_eq!(clip.configure(4).clip_norm, Some(1.0));
        assert_eq!(clip.name(), "clip(1,fedavg)");
    }

    #[test]
    fn median_multiple_adapts_to_the_round() {
        let ids = ids(3);
        let deltas = vec![vec![1.0], vec![2.0], vec![1000.0]];
        let clip = NormClip::new(FedAvg, ClipBound::MedianMultiple(2.0)).unwrap();
        // median norm 2 -> bound 4: (1 + 2 + 4) / 3.
        let agg = clip.aggregate(1, &results(&ids, &deltas, &[1; 3]), &[]).unwrap().unwrap();
        assert_eq!(agg.delta, vec![(7.0f64 / 3.0) as f32]);
        assert!(NormClip::new(FedAvg, ClipBound::Fixed(0.0)).is_err());
    }
}
