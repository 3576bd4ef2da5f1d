//! A deterministic [`Evaluator`] for tests: the "model" is good when its parameters are near a target.

use crate::{Evaluator, Metrics, Result};

/// Loss is the mean squared distance of the parameters to `target`; accuracy is `1 / (1 + loss)`.
#[derive(Clone, Debug, PartialEq)]
pub struct MockEvaluator {
    target: Vec<f32>,
    calls: usize,
}

impl MockEvaluator {
    /// An evaluator whose best model is `target`.
    pub fn new(target: Vec<f32>) -> Self {
        Self { target, calls: 0 }
    }

    /// How many models it has evaluated.
    pub fn calls(&self) -> usize {
        self.calls
    }
}

impl Evaluator for MockEvaluator {
    fn evaluate(&mut self, params: &[f32]) -> Result<Metrics> {
        self.calls += 1;
        let loss = crate::vector::sq_distance(params, &self.target) / params.len().max(1) as f64;
        Ok(Metrics { loss, accuracy: 1.0 / (1.0 + loss) })
    }
}
