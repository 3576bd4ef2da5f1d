use std::time::{Duration, Instant};
use tessera_scoring::{Error as ScoringError, Evaluator, Metrics};
use tessera_train::{ArchitectureId, Dataset};

/// Evaluates flat parameter vectors on a dataset with libtorch, on the CPU, by
/// [`tessera_train::evaluate_parameters`] (LeNet's fast pass), counting the evaluations and their time.
pub(crate) struct TorchEvaluator {
    arch: ArchitectureId,
    data: Dataset,
    /// Evaluations so far, and the wall time they took.
    calls: usize,
    spent: Duration,
}

impl TorchEvaluator {
    pub(crate) fn new(arch: ArchitectureId, data: Dataset) -> tessera_train::Result<Self> {
        if data.is_empty() {
            return Err(tessera_train::Error::Config("cannot evaluate on an empty dataset".into()));
        }
        Ok(Self { arch, data, calls: 0, spent: Duration::ZERO })
    }

    /// How many evaluations ran so far, and their total wall time.
    pub(crate) fn usage(&self) -> (usize, Duration) {
        (self.calls, self.spent)
    }

    /// Loss and accuracy of `params` on the dataset.
    pub(crate) fn metrics(&mut self, params: &[f32]) -> tessera_train::Result<Metrics> {
        let started = Instant::now();
        let evaluation = tessera_train::evaluate_parameters(self.arch, params, &self.data)?;
        self.calls += 1;
        self.spent += started.elapsed();
        Ok(Metrics { loss: evaluation.loss, accuracy: evaluation.accuracy })
    }
}

impl Evaluator for TorchEvaluator {
    fn evaluate(&mut self, params: &[f32]) -> tessera_scoring::Result<Metrics> {
        self.metrics(params).map_err(ScoringError::evaluator)
    }
}
