use super::Strategy;
use crate::{Aggregate, Error, Evaluator, Failure, FitResult, Metrics, Result, RoundConfig};

/// A server optimiser (FedAdam, Reddi et al. 2021) around any strategy: the inner aggregate is a
/// pseudo-gradient `g`, and the step is `eta * m / (sqrt(v) + tau)` with `m <- beta1 m + (1 - beta1) g` and
/// `v <- beta2 v + (1 - beta2) g^2`, per coordinate, without bias correction (no `pow`, so deterministic).
///
/// [`Strategy::aggregate`] computes the step from the current moments without changing them;
/// [`Strategy::commit`] moves the moments on from the adopted aggregate's pseudo-gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct FedAdam<S> {
    /// The wrapped strategy.
    pub inner: S,
    eta: f64,
    beta1: f64,
    beta2: f64,
    tau: f64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl<S> FedAdam<S> {
    /// Wraps `inner`: `eta > 0`, `beta1` and `beta2` in `[0, 1)`, `tau > 0` (Flower's defaults are 0.1, 0.9,
    /// 0.99, 1e-9).
    pub fn new(inner: S, eta: f64, beta1: f64, beta2: f64, tau: f64) -> Result<Self> {
        let ok = eta > 0.0 && (0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && tau > 0.0;
        if !ok || !eta.is_finite() || !tau.is_finite() {
            return Err(Error::Config(format!("FedAdam eta={eta} beta1={beta1} beta2={beta2} tau={tau}")));
        }
        Ok(Self { inner, eta, beta1, beta2, tau, m: Vec::new(), v: Vec::new() })
    }

    /// The first and second moments (empty before the first commit).
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.m, &self.v)
    }

    /// Moments after `g`, coordinate `j`, from the stored ones (zero before the first commit).
    #[inline]
    fn moments_at(&self, j: usize, g: f32) -> (f64, f64) {
        let g = f64::from(g);
        let m = self.m.get(j).map_or(0.0, |&m| f64::from(m));
        let v = self.v.get(j).map_or(0.0, |&v| f64::from(v));
        (self.beta1 * m + (1.0 - self.beta1) * g, self.beta2 * v + (1.0 - self.beta2) * g * g)
    }

    /// The step for pseudo-gradient coordinates `start..start + g.len()`.
    fn step(&self, g: &[f32], start: usize) -> Vec<f32> {
        g.iter()
            .enumerate()
            .map(|(j, &gj)| {
                let (m, v) = self.moments_at(start + j, gj);
                (self.eta * m / (v.sqrt() + self.tau)) as f32
            })
            .collect()
    }

    /// The server step on the inner strategy's aggregate of coordinates from `start`, whose moments must
    /// exist (after the first round) up to its end.
    fn stepped(&self, inner: Option<Aggregate>, start: usize) -> Result<Option<Aggregate>> {
        let Some(inner) = inner else {
            return Ok(None);
        };
        if !self.m.is_empty() && self.m.len() < start + inner.delta.len() {
            return Err(Error::LengthMismatch {
                worker: "<aggregate>".into(),
                expected: self.m.len(),
                got: start + inner.delta.len(),
            });
        }
        let delta = self.step(&inner.delta, start);
        Ok(Some(Aggregate { delta, included: inner.included, pseudo_gradient: Some(inner.delta) }))
    }
}

impl<S: Strategy> Strategy for FedAdam<S> {
    fn name(&self) -> String {
        format!("fedadam(eta={},b1={},b2={},tau={},{})", self.eta, self.beta1, self.beta2, self.tau, self.inner.name())
    }

    fn configure(&self, round: u64) -> RoundConfig {
        self.inner.configure(round)
    }

    fn aggregate(&self, round: u64, results: &[FitResult<'_>], failures: &[Failure]) -> Result<Option<Aggregate>> {
        let inner = self.inner.aggregate(round, results, failures)?;
        if let Some(inner) = &inner
            && !self.m.is_empty()
            && self.m.len() != inner.delta.len()
        {
            return Err(Error::LengthMismatch {
                worker: "<aggregate>".into(),
                expected: self.m.len(),
                got: inner.delta.len(),
            });
        }
        self.stepped(inner, 0)
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
        self.stepped(self.inner.aggregate_columns(round, results, failures, start)?, start)
    }

    fn commit(&mut self, round: u64, aggregate: &Aggregate) {
        if let Some(g) = &aggregate.pseudo_gradient {
            let (m, v): (Vec<f32>, Vec<f32>) = g
                .iter()
                .enumerate()
                .map(|(j, &gj)| {
                    let (m, v) = self.moments_at(j, gj);
                    (m as f32, v as f32)
                })
                .unzip();
            self.m = m;
            self.v = v;
        }
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
    fn steps_and_commits() {
        let ids = ids(1);
        let deltas = vec![vec![2.0, -0.5]];
        let res = results(&ids, &deltas, &[1]);
        let mut adam = FedAdam::new(FedAvg, 0.1, 0.9, 0.99, 1e-9).unwrap();
        // Round 1: m = 0.1 g, v = 0.01 g^2, so the step is eta * sign(g) (up to tau).
        let first = adam.aggregate(1, &res, &[]).unwrap().unwrap();
        assert_eq!(first.pseudo_gradient.as_deref(), Some(&[2.0f32, -0.5][..]));
        for (s, e) in first.delta.iter().zip([0.1, -0.1]) {
            assert!((f64::from(*s) - e).abs() < 1e-7, "{s} vs {e}");
        }
        // Aggregate is pure: asking again gives the same step.
        assert_eq!(adam.aggregate(1, &res, &[]).unwrap().unwrap(), first);
        adam.commit(1, &first);
        // Round 2: m = 0.9*0.2 + 0.1*2 = 0.38, v = 0.99*0.04 + 0.01*4 = 0.0796.
        let second = adam.aggregate(2, &res, &[]).unwrap().unwrap();
        let expected = 0.1 * 0.38 / 0.0796f64.sqrt();
        assert!((f64::from(second.delta[0]) - expected).abs() < 1e-6);
        assert!(FedAdam::new(FedAvg, 0.1, 1.0, 0.99, 1e-9).is_err());
    }
}
