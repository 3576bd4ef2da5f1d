use crate::{Metrics, Result};

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
