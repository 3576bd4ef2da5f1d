//! The requester's validation set, which gives each round its accuracy and loss and the scorer its
//! leave-one-out signal.

use std::path::Path;
use tessera_scoring::{Error as ScoringError, Evaluator, Metrics};
use tessera_train::{ArchitectureId, Dataset, Device, Model, Parameters, Split, evaluate};

/// Evaluates flat parameter vectors on a dataset with libtorch, on the CPU (deterministic).
pub struct Validator {
    arch: ArchitectureId,
    data: Dataset,
    model: Model,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").field("arch", &self.arch).field("samples", &self.data.len()).finish()
    }
}

impl Validator {
    /// The first `samples` examples of an MNIST-format split in `dir`.
    pub fn mnist(arch: ArchitectureId, dir: &Path, split: Split, samples: usize) -> tessera_train::Result<Self> {
        let data = Dataset::mnist(dir, split)?;
        let data = data.take(samples.min(data.len()))?;
        Self::new(arch, data)
    }

    /// A validator over `data`.
    pub fn new(arch: ArchitectureId, data: Dataset) -> tessera_train::Result<Self> {
        let model = Model::new(arch, &Parameters::zeros(arch), Device::Cpu)?;
        Ok(Self { arch, data, model })
    }

    /// The architecture it evaluates.
    pub fn architecture(&self) -> ArchitectureId {
        self.arch
    }

    /// Loss and accuracy of `params`.
    pub fn metrics(&mut self, params: &[f32]) -> tessera_train::Result<Metrics> {
        self.model.load(&Parameters::for_architecture(self.arch, params.to_vec())?)?;
        let evaluation = evaluate(&self.model, &self.data, 1000)?;
        Ok(Metrics { loss: evaluation.loss, accuracy: evaluation.accuracy })
    }
}

impl Evaluator for Validator {
    fn evaluate(&mut self, params: &[f32]) -> tessera_scoring::Result<Metrics> {
        self.metrics(params).map_err(ScoringError::evaluator)
    }
}
