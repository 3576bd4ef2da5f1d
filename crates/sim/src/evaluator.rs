use tessera_scoring::{Error as ScoringError, Evaluator, Metrics};
use tessera_train::{ArchitectureId, Dataset, Device, Model, Parameters, evaluate};

/// Evaluates flat parameter vectors on a dataset with libtorch, on the CPU.
pub(crate) struct TorchEvaluator {
    arch: ArchitectureId,
    data: Dataset,
    model: Model,
}

impl TorchEvaluator {
    pub(crate) fn new(arch: ArchitectureId, data: Dataset) -> tessera_train::Result<Self> {
        let model = Model::new(arch, &Parameters::zeros(arch), Device::Cpu)?;
        Ok(Self { arch, data, model })
    }

    /// Loss and accuracy of `params` on the dataset.
    pub(crate) fn metrics(&mut self, params: &[f32]) -> tessera_train::Result<Metrics> {
        self.model.load(&Parameters::for_architecture(self.arch, params.to_vec())?)?;
        let evaluation = evaluate(&self.model, &self.data, 1000)?;
        Ok(Metrics { loss: evaluation.loss, accuracy: evaluation.accuracy })
    }
}

impl Evaluator for TorchEvaluator {
    fn evaluate(&mut self, params: &[f32]) -> tessera_scoring::Result<Metrics> {
        self.metrics(params).map_err(ScoringError::evaluator)
    }
}
