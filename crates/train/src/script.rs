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
//! A module runs in evaluation mode, in training too: dropout is off, so a round trained twice from the same
//! data gives the same update, and nothing draws from libtorch's global generator.
//!
//! Parameters are exchanged under the module's own names (`features.0.weight`), in the order the module lists
//! them. A task names its module by the digest of the module's CID ([`ScriptId`]); [`register_script`] checks
//! the bytes once per process and makes them [`ArchitectureId::Script`], which every model, codec and scorer
//! path then treats like a built-in network, the module's exported weights being its initial checkpoint.
//!
//! TorchScript is interpreted by libtorch, not by Python, but a module is still code from a stranger: run
//! workers without privileges they do not need.

use crate::{ArchitectureId, Error, Init, InputSpec, MAX_HEADER_BYTES, ParamSpec, Parameters, Result};
use std::{
    collections::HashMap,
    fmt,
    sync::{LazyLock, RwLock},
};
use tch::{CModule, Device, Kind, Tensor, nn::VarStore};

/// The most parameters a requester's module may have unless a task's coordinator allows fewer: 64 Mi, a
/// 256 MiB checkpoint.
pub const MAX_SCRIPT_PARAMETERS: usize = 64 << 20;

/// The largest module file read: [`MAX_SCRIPT_PARAMETERS`] in f32 and room for the module's code.
pub const MAX_SCRIPT_BYTES: u64 = 4 * MAX_SCRIPT_PARAMETERS as u64 + (64 << 20);

/// The most module bytes one process keeps: each module registered keeps its bytes and names for the process's
/// life, so a run of tasks with large modules is refused rather than exhausting memory.
pub const MAX_REGISTERED_BYTES: usize = 2 << 30;

/// A requester's module as a task names it on chain: the sha256 digest of its CID, in the `bytes32` where a
/// built-in network has its number. Built-in numbers fill the low four bytes only; a digest whose first 28 bytes
/// are all zero cannot be told from one and is refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptId(pub [u8; 32]);

impl ScriptId {
    /// The module a task's word names, or `None` when the word is a built-in network's number.
    pub fn from_word(word: [u8; 32]) -> Option<Self> {
        word[..28].iter().any(|&byte| byte != 0).then_some(Self(word))
    }

    fn hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for ScriptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScriptId(0x{})", self.hex())
    }
}

/// The prefix of a module's architecture name: `torchscript-<64 hex digits of its id>`.
const NAME_PREFIX: &str = "torchscript-";

/// A checked module this process knows.
pub(crate) struct Registered {
    pub(crate) name: &'static str,
    pub(crate) specs: Vec<ParamSpec>,
    pub(crate) input: InputSpec,
    pub(crate) bytes: Vec<u8>,
}

static REGISTRY: LazyLock<RwLock<HashMap<ScriptId, &'static Registered>>> = LazyLock::new(Default::default);

/// Checks a requester's module against `limits` and makes it an architecture of this process, named by `id`
/// (whose CID the caller fetched the bytes by, so the bytes are the ones the task committed to). A module
/// registered before is checked again only against other images or a smaller limit than it passed.
pub fn register_script(id: ScriptId, bytes: &[u8], limits: &ScriptLimits) -> Result<ArchitectureId> {
    if ScriptId::from_word(id.0).is_none() {
        return Err(script_error("its id reads as a built-in network's number".into()));
    }
    if let Some(known) = registered(id) {
        let count: usize = known.specs.iter().map(|spec| crate::arch::numel(spec.shape)).sum();
        let same_images = |a: &InputSpec, b: &InputSpec| {
            (a.channels, a.height, a.width, a.classes) == (b.channels, b.height, b.width, b.classes)
        };
        if !same_images(&known.input, &limits.input) || count > limits.max_parameters {
            let _checked = ScriptModel::load(&known.bytes, limits, Device::Cpu)?;
        }
        return Ok(ArchitectureId::Script(id));
    }
    let model = ScriptModel::load(bytes, limits, Device::Cpu)?;
    let header: usize = model.parameters.iter().map(|(name, tensor)| name.len() + 16 * tensor.dim() + 64).sum();
    if header > MAX_HEADER_BYTES as usize / 2 {
        return Err(script_error(format!(
            "{} parameter tensors: their names and shapes would not fit an update's {MAX_HEADER_BYTES}-byte header",
            model.parameters.len()
        )));
    }
    let mut registry = REGISTRY.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if registry.contains_key(&id) {
        return Ok(ArchitectureId::Script(id));
    }
    let held: usize = registry.values().map(|module| module.bytes.len()).sum();
    if held + bytes.len() > MAX_REGISTERED_BYTES {
        return Err(script_error(format!(
            "this process already holds {held} bytes of modules, and {MAX_REGISTERED_BYTES} at most"
        )));
    }
    // Names and shapes live as long as the process, as the built-in networks' do; made only for a module that
    // is kept.
    let specs = model
        .parameters
        .iter()
        .map(|(name, tensor)| {
            let name: &'static str = Box::leak(name.clone().into_boxed_str());
            let shape: &'static [i64] = Box::leak(tensor.size().into_boxed_slice());
            ParamSpec { name, shape, fan_in: 0, init: Init::Uniform }
        })
        .collect();
    let name = Box::leak(format!("{NAME_PREFIX}{}", id.hex()).into_boxed_str());
    // Only the bytes are kept: the initial weights are read from them again when asked for.
    let entry = Registered { name, specs, input: limits.input, bytes: bytes.to_vec() };
    registry.insert(id, Box::leak(Box::new(entry)));
    Ok(ArchitectureId::Script(id))
}

/// The weights module `id` was exported with, in its order.
pub(crate) fn exported_parameters(arch: ArchitectureId, registered: &Registered) -> Result<Parameters> {
    let model = ScriptModel::open(&registered.bytes, Device::Cpu)?;
    let values = model
        .parameters
        .iter()
        .map(|(_, tensor)| Ok(Vec::<f32>::try_from(tensor.f_detach()?.f_flatten(0, -1)?.f_contiguous()?)?))
        .collect::<Result<Vec<_>>>()?;
    Parameters::for_architecture(arch, values.concat())
}

/// The registered module `id`, if this process has checked it.
pub(crate) fn registered(id: ScriptId) -> Option<&'static Registered> {
    REGISTRY.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).copied()
}

/// The registered module named `torchscript-<hex>`.
pub(crate) fn registered_by_name(name: &str) -> Option<ScriptId> {
    let hex = name.strip_prefix(NAME_PREFIX)?;
    if hex.len() != 64 {
        return None;
    }
    let mut word = [0; 32];
    for (byte, pair) in word.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    registered(ScriptId(word)).map(|_| ScriptId(word))
}

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
        let mut model = Self::open(bytes, device)?;
        model.check(limits)?;
        model.module.f_set_eval()?;
        Ok(model)
    }

    /// Loads a module checked before, in evaluation mode.
    pub(crate) fn open(bytes: &[u8], device: Device) -> Result<Self> {
        let vs = VarStore::new(device);
        let mut module = CModule::load_data_on_device(&mut std::io::Cursor::new(bytes), device)
            .map_err(|error| script_error(format!("not a TorchScript module: {}", first_line(&error.to_string()))))?;
        module.f_set_eval()?;
        let parameters = module.named_parameters()?;
        // The tensors are the module's own: an optimiser over the VarStore trains the module. A VarStore name
        // cannot hold a `.`; the names that travel are the module's own, kept beside.
        for (index, (_, tensor)) in parameters.iter().enumerate() {
            let _registered = vs.root().add(&format!("p{index}"), tensor.shallow_clone(), true);
        }
        Ok(Self { module, vs, parameters })
    }

    /// The module, its variables and its parameter tensors in the module's order.
    pub(crate) fn into_parts(self) -> (CModule, VarStore, Vec<Tensor>) {
        (self.module, self.vs, self.parameters.into_iter().map(|(_, tensor)| tensor).collect())
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

    /// The logits for a batch of images, in evaluation mode (see the module docs).
    pub fn forward(&self, images: &Tensor) -> Result<Tensor> {
        Ok(self.module.forward_ts(&[images])?)
    }

    fn forward_in_mode(&mut self, images: &Tensor, train: bool) -> Result<Tensor> {
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
        self.check_parameters()?;
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
        let before = tch::no_grad(|| self.forward_in_mode(&probe, false)).map_err(|error| {
            script_error(format!("the module fails on a batch of [2, {channels}, {height}, {width}] images: {error}"))
        })?;
        if before.size() != [2, classes as i64] || before.kind() != Kind::Float {
            return Err(script_error(format!(
                "the module's output for 2 images is {:?} {:?}, not float32 [2, {classes}] (one logit per class)",
                before.kind(),
                before.size()
            )));
        }
        // Passes over other images, in training and in evaluation mode, must leave evaluation unchanged: only
        // parameters may hold state. (Modules run in evaluation mode, but running statistics that a
        // training-mode pass would move are refused too: they would be a second, silent model.)
        // Images that vary, without drawing from libtorch's global generator.
        let other = Tensor::f_arange(4 * channels * height * width, (Kind::Float, device))?
            .f_sin()?
            .f_view([4, channels, height, width])?;
        let _trained_once = tch::no_grad(|| self.forward_in_mode(&other, true))?;
        // Trained as it will be: in evaluation mode, on another batch size, with every parameter given a gradient.
        let logits = self.forward_in_mode(&other, false)?;
        if logits.size() != [4, classes as i64] || logits.kind() != Kind::Float || !logits.requires_grad() {
            return Err(script_error(format!(
                "the module's output for 4 images is {:?} {:?}{}, not float32 [4, {classes}] that gradients flow through",
                logits.kind(),
                logits.size(),
                if logits.requires_grad() { "" } else { " without gradients" }
            )));
        }
        logits.f_sum(Kind::Float)?.f_backward()?;
        for (name, tensor) in &self.parameters {
            let mut grad = tensor.grad();
            if !grad.defined() {
                return Err(script_error(format!("parameter {name} gets no gradient: it would never train")));
            }
            let _ = grad.f_zero_()?;
        }
        let after = tch::no_grad(|| self.forward_in_mode(&probe, false))?;
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

impl ScriptModel {
    /// Names that travel as safetensors keys, unique, not the header's own `__metadata__`; values that are
    /// float32, non-empty, contiguous, and in storage of their own (tied weights would be stepped twice, and
    /// only one copy of them read back).
    fn check_parameters(&self) -> Result<()> {
        let mut names = std::collections::HashSet::new();
        let mut spans = Vec::with_capacity(self.parameters.len());
        for (name, tensor) in &self.parameters {
            let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            if !plain || name.is_empty() || name.len() > 200 || name == "__metadata__" {
                return Err(script_error(format!(
                    "parameter name {name:?}: names must be 1 to 200 letters, digits, `_` and `.`, not __metadata__"
                )));
            }
            if !names.insert(name.as_str()) {
                return Err(script_error(format!("two parameters are named {name}")));
            }
            if tensor.kind() != Kind::Float {
                return Err(script_error(format!("parameter {name} is {:?}, not float32", tensor.kind())));
            }
            if tensor.numel() == 0 || !tensor.is_contiguous() {
                return Err(script_error(format!("parameter {name} is empty or not contiguous")));
            }
            let start = tensor.data_ptr() as usize;
            spans.push((start, start + 4 * tensor.numel(), name));
        }
        spans.sort();
        if let Some(pair) = spans.windows(2).find(|pair| pair[1].0 < pair[0].1) {
            return Err(script_error(format!("parameters {} and {} share storage", pair[0].2, pair[1].2)));
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
