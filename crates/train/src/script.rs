//! Requester-supplied models: a TorchScript module (`torch.jit.script` or `torch.jit.trace`, saved with
//! `torch.jit.save`) checked before anyone stakes on it, and trained with libtorch like the built-in networks.
//!
//! [`ScriptModel::load`] refuses, each with its own error: bytes that are not a TorchScript module; a module
//! with no parameters, a parameter that is not `float32`, or more parameters than the task allows; one whose
//! output for a batch of the task's images is not `[batch, classes]`; and one with state that training changes
//! outside its parameters (batch-norm running statistics). Such buffers would differ from worker to worker and
//! be neither averaged nor verifiable, so they are refused rather than kept local: a requester uses
//! `track_running_stats=False`, or GroupNorm as the built-in ResNet does.
//!
//! Parameters are exchanged under the module's own names (`features.0.weight`), in the order the module lists
//! them. TorchScript is interpreted by libtorch, not by Python, but a module is still code from a stranger: run
//! workers without privileges they do not need.

use crate::{Error, InputSpec, Result};
use tch::{CModule, Device, Kind, Tensor, nn::VarStore};

/// What a task allows of a requester's module.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScriptLimits {
    /// The task's images and classes.
    pub input: InputSpec,
    /// The most scalar parameters the module may have.
    pub max_parameters: usize,
}

/// A checked TorchScript module, its parameters registered in a `VarStore` for an optimiser.
#[derive(Debug)]
pub struct ScriptModel {
    module: CModule,
    vs: VarStore,
    /// The module's parameters under its own names, sharing storage with the module's.
    parameters: Vec<(String, Tensor)>,
}

impl ScriptModel {
    /// Loads and checks a module's bytes on `device`.
    pub fn load(bytes: &[u8], limits: &ScriptLimits, device: Device) -> Result<Self> {
        let vs = VarStore::new(device);
        let module = CModule::load_data_on_device(&mut std::io::Cursor::new(bytes), device)
            .map_err(|error| script_error(format!("not a TorchScript module: {}", first_line(&error.to_string()))))?;
        let parameters = module.named_parameters()?;
        // The tensors are the module's own: an optimiser over the VarStore trains the module. A VarStore name
        // cannot hold a `.`; the names that travel are the module's own, kept beside.
        for (index, (_, tensor)) in parameters.iter().enumerate() {
            let _registered = vs.root().add(&format!("p{index}"), tensor.shallow_clone(), true);
        }
        let mut model = Self { module, vs, parameters };
        model.check(limits)?;
        Ok(model)
    }

    /// The parameters, in the module's order, under its names.
    pub fn parameters(&self) -> &[(String, Tensor)] {
        &self.parameters
    }

    /// How many scalar parameters.
    pub fn num_parameters(&self) -> usize {
        self.parameters.iter().map(|(_, tensor)| tensor.numel()).sum()
    }

    /// The variables an optimiser updates.
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The logits for a batch of images, in training or evaluation mode.
    pub fn forward(&mut self, images: &Tensor, train: bool) -> Result<Tensor> {
        if train {
            self.module.f_set_train()?;
        } else {
            self.module.f_set_eval()?;
        }
        Ok(self.module.forward_ts(&[images])?)
    }

    fn check(&mut self, limits: &ScriptLimits) -> Result<()> {
        if self.parameters.is_empty() {
            return Err(script_error("the module has no parameters to train".into()));
        }
        if let Some((name, tensor)) = self.parameters.iter().find(|(_, tensor)| tensor.kind() != Kind::Float) {
            return Err(script_error(format!("parameter {name} is {:?}, not float32", tensor.kind())));
        }
        let count = self.num_parameters();
        if count > limits.max_parameters {
            return Err(script_error(format!(
                "{count} parameters, over the task's limit of {}",
                limits.max_parameters
            )));
        }
        let InputSpec { channels, height, width, classes, .. } = limits.input;
        let device = self.vs.device();
        let probe = Tensor::f_ones([2, channels, height, width], (Kind::Float, device))?.f_mul_scalar(0.5)?;
        let before = tch::no_grad(|| self.forward(&probe, false)).map_err(|error| {
            script_error(format!("the module fails on a batch of [2, {channels}, {height}, {width}] images: {error}"))
        })?;
        if before.size() != [2, classes as i64] {
            return Err(script_error(format!(
                "the module's output for 2 images is {:?}, not [2, {classes}] (one logit per class)",
                before.size()
            )));
        }
        // A training-mode pass with other images must leave evaluation unchanged: only parameters may hold state.
        // Images that vary, without drawing from libtorch's global generator.
        let other = Tensor::f_arange(4 * channels * height * width, (Kind::Float, device))?
            .f_sin()?
            .f_view([4, channels, height, width])?;
        let _trained_once = tch::no_grad(|| self.forward(&other, true))?;
        let after = tch::no_grad(|| self.forward(&probe, false))?;
        if !before.equal(&after) {
            return Err(script_error(
                "training changes the module's state outside its parameters (batch-norm running statistics?); \
                 use track_running_stats=False or GroupNorm"
                    .into(),
            ));
        }
        Ok(())
    }
}

fn script_error(reason: String) -> Error {
    Error::Format { file: "<TorchScript module>".into(), reason }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or(text)
}
