//! The requester's validation set, which gives each round its accuracy and loss and the scorer its
//! leave-one-out signal.

use std::{
    path::Path,
    sync::{Mutex, PoisonError},
};
use tessera_scoring::{Error as ScoringError, Evaluator, Metrics};
use tessera_train::{ArchitectureId, Dataset, Device, Model, Parameters, Split, evaluate, evaluate_parameters};

/// Samples per forward pass of a requester's module: what its requester reproduces the round's metrics with.
const SCRIPT_EVAL_BATCH: usize = 1000;

/// Evaluates flat parameter vectors on a dataset with libtorch, on the CPU (deterministic).
pub struct Validator {
    arch: ArchitectureId,
    data: Dataset,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").field("arch", &self.arch).field("samples", &self.data.len()).finish()
    }
}

impl Validator {
    /// The first `samples` examples of a split of the data set in `dir`, in any format `tessera-train` reads,
    /// shaped for `arch`.
    pub fn load(arch: ArchitectureId, dir: &Path, split: Split, samples: usize) -> tessera_train::Result<Self> {
        let data = Dataset::load(dir, split, &arch.input())?;
        let data = data.take(samples.min(data.len()))?;
        Self::new(arch, data)
    }

    /// A validator over `data`.
    pub fn new(arch: ArchitectureId, data: Dataset) -> tessera_train::Result<Self> {
        Ok(Self { arch, data })
    }

    /// The architecture it evaluates.
    pub fn architecture(&self) -> ArchitectureId {
        self.arch
    }

    /// Evaluates `arch` from now on if it takes this set's images and classes (a requester's module checked
    /// against them, or a built-in network of the same input); false, and unchanged, if it does not.
    pub fn evaluate_as(&mut self, arch: ArchitectureId) -> tessera_train::Result<bool> {
        if arch == self.arch {
            return Ok(true);
        }
        let input = arch.input();
        let shape = self.data.images().size();
        if shape[1..] != [input.channels, input.height, input.width] || input.classes != self.data.num_classes() {
            return Ok(false);
        }
        self.arch = arch;
        Ok(true)
    }

    /// Loss and accuracy of `params`, always finite. A model whose outputs overflow has an infinite or NaN
    /// loss; it counts as [`WORST_LOSS`] and accuracy 0, so the scorer ranks it last and the manifest, whose JSON
    /// has no NaN, stays readable.
    pub fn metrics(&mut self, params: &[f32]) -> tessera_train::Result<Metrics> {
        let evaluation = if self.arch.script_id().is_some() {
            // A requester's module afresh from its bytes for every evaluation: whatever state its code keeps
            // cannot make one evaluation depend on the ones before, which `verify` would not repeat.
            let params = Parameters::for_architecture(self.arch, params.to_vec())?;
            evaluate(&Model::new(self.arch, &params, Device::Cpu)?, &self.data, SCRIPT_EVAL_BATCH)?
        } else {
            // A built-in network: batches that stay in cache, and LeNet's fast pass (the same logits).
            evaluate_parameters(self.arch, params, &self.data)?
        };
        Ok(finite(Metrics { loss: evaluation.loss, accuracy: evaluation.accuracy }))
    }
}

/// Validators over one validation set, one per round being scored at a time: tasks aggregate in parallel, and one
/// task's long evaluation never waits on another's. A validator taken is given back when its [`Lease`] drops, so
/// the pool holds as many copies of the set as rounds were ever scored at once.
#[derive(Debug)]
pub struct ValidatorPool {
    idle: Mutex<Vec<Validator>>,
}

impl ValidatorPool {
    /// A pool starting from `validator`.
    pub fn new(validator: Validator) -> Self {
        Self { idle: Mutex::new(vec![validator]) }
    }

    /// An idle validator, or a new copy of the set when every one is busy.
    pub fn take(&self) -> tessera_train::Result<ValidatorLease<'_>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // The last idle validator is never lent, only copied: the pool always has a set to copy from.
        let validator = match idle.len() {
            2.. => idle.pop().expect("more than one"),
            _ => {
                let last = &idle[0];
                Validator::new(last.arch, last.data.take(last.data.len())?)?
            }
        };
        Ok(ValidatorLease { pool: self, validator: Some(validator) })
    }
}

/// A validator lent by a [`ValidatorPool`], returned to it on drop.
#[derive(Debug)]
pub struct ValidatorLease<'p> {
    pool: &'p ValidatorPool,
    validator: Option<Validator>,
}

impl std::ops::Deref for ValidatorLease<'_> {
    type Target = Validator;
    fn deref(&self) -> &Validator {
        self.validator.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for ValidatorLease<'_> {
    fn deref_mut(&mut self) -> &mut Validator {
        self.validator.as_mut().expect("held until dropped")
    }
}

impl Drop for ValidatorLease<'_> {
    fn drop(&mut self) {
        if let Some(validator) = self.validator.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(validator);
        }
    }
}

/// The loss a model whose loss is not a finite number is given: far above any real cross-entropy, yet small
/// enough that sums and differences of a round's losses stay finite.
pub const WORST_LOSS: f64 = 1e9;

fn finite(metrics: Metrics) -> Metrics {
    let loss = if metrics.loss.is_finite() { metrics.loss.clamp(0.0, WORST_LOSS) } else { WORST_LOSS };
    let accuracy = if metrics.accuracy.is_finite() { metrics.accuracy.clamp(0.0, 1.0) } else { 0.0 };
    Metrics { loss, accuracy }
}

impl Evaluator for Validator {
    fn evaluate(&mut self, params: &[f32]) -> tessera_scoring::Result<Metrics> {
        self.metrics(params).map_err(ScoringError::evaluator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflowing_model_gets_the_worst_finite_metrics() {
        for loss in [f64::NAN, f64::INFINITY, 2e9] {
            assert_eq!(finite(Metrics { loss, accuracy: f64::NAN }), Metrics { loss: WORST_LOSS, accuracy: 0.0 });
        }
        let fine = Metrics { loss: 0.25, accuracy: 0.9 };
        assert_eq!(finite(fine), fine);
        let manifest_json = serde_json::to_string(&finite(Metrics { loss: f64::NAN, accuracy: 0.5 })).unwrap();
        assert!(!manifest_json.contains("null"), "{manifest_json}");
    }
}
