use crate::{
    Error, Parameters, Result, ScriptId,
    rng::Rng,
    script::{registered, registered_by_name},
};
use std::{fmt, str::FromStr, sync::OnceLock};

/// A model architecture, as a task records it on chain.
///
/// A built-in network's name and number are both stable: a new architecture (or a changed layer) gets a new
/// variant with a new `-vN` name and a new number; existing ones never change, since checkpoints and tasks refer
/// to them. A requester's own TorchScript module is [`Self::Script`], known to a process once
/// [`crate::register_script`] has checked it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArchitectureId {
    /// LeNet-5-style CNN for 28x28 grey images (MNIST, Fashion-MNIST): conv(1→32, 5x5) → relu → maxpool 2 →
    /// conv(32→64, 5x5) → relu → maxpool 2 → fc(1024→512) → relu → fc(512→10).
    Lenet5MnistV1,
    /// The same shape of CNN for 32x32 RGB images (CIFAR-10): conv(3→32, 5x5) → relu → maxpool 2 →
    /// conv(32→64, 5x5) → relu → maxpool 2 → fc(1600→512) → relu → fc(512→10).
    CnnCifar10V1,
    /// ResNet-18 for 32x32 RGB images (CIFAR-10): torchvision's `resnet18` with the CIFAR stem (a 3x3
    /// convolution, stride 1, no max-pool) and group normalisation ([`RESNET_GROUPS`] groups) in place of batch
    /// normalisation. So a model is its parameters alone, with no running statistics to keep local or to
    /// average, evaluation does not depend on the batch, and it holds up under the label skew of federated
    /// shards, where batch statistics do not (Hsieh et al., "The Non-IID Data Quagmire", 2020).
    Resnet18CifarV1,
    /// A small ResNet for 32x32 RGB images: He et al.'s CIFAR ResNet-20 (a 16-channel 3x3 stem, three stages of
    /// three basic blocks at 16, 32 and 64 channels), with a 1x1 projection where a block changes width or
    /// stride and group normalisation ([`RESNET20_GROUPS`] groups) as in [`Self::Resnet18CifarV1`]. 0.27M
    /// parameters: a ResNet a CPU worker can train.
    Resnet20CifarV1,
    /// A requester's TorchScript module, by the digest of its CID: its parameters, input and initial weights
    /// are the module's own (see `script.rs`).
    Script(ScriptId),
}

/// The groups of every group normalisation in [`ArchitectureId::Resnet18CifarV1`].
pub const RESNET_GROUPS: i64 = 32;

/// The groups of every group normalisation in [`ArchitectureId::Resnet20CifarV1`] (its narrowest layer has 16
/// channels).
pub const RESNET20_GROUPS: i64 = 8;

/// The shape of a built-in ResNet: its stem's width, its stages (width, and the stride of the stage's first
/// block), the basic blocks per stage, and the groups of its normalisations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResnetShape {
    pub(crate) stem: i64,
    pub(crate) stages: &'static [(i64, i64)],
    pub(crate) blocks: usize,
    pub(crate) groups: i64,
}

/// ResNet-18: four stages of two blocks.
pub(crate) const RESNET18: ResnetShape =
    ResnetShape { stem: 64, stages: &[(64, 1), (128, 2), (256, 2), (512, 2)], blocks: 2, groups: RESNET_GROUPS };

/// ResNet-20: three stages of three blocks.
pub(crate) const RESNET20: ResnetShape =
    ResnetShape { stem: 16, stages: &[(16, 1), (32, 2), (64, 2)], blocks: 3, groups: RESNET20_GROUPS };

/// How a parameter tensor starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Uniform in ±1/sqrt(fan_in): PyTorch's default for `Conv2d` and `Linear`.
    Uniform,
    /// All ones: a normalisation layer's scale.
    Ones,
    /// All zeros: a normalisation layer's shift.
    Zeros,
}

/// One named parameter tensor of an architecture, in the order the architecture lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// The name a PyTorch `nn.Module` state dict uses (`conv1.weight`).
    pub name: &'static str,
    /// The shape, PyTorch's layout (out, in, kh, kw) for convolutions and (out, in) for linear layers.
    pub shape: &'static [i64],
    /// The layer's fan-in, which sets PyTorch's default initialisation bound.
    pub fan_in: i64,
    /// How it starts.
    pub init: Init,
}

const fn spec(name: &'static str, shape: &'static [i64], fan_in: i64) -> ParamSpec {
    ParamSpec { name, shape, fan_in, init: Init::Uniform }
}

/// A ResNet's tensors in its state dict's order: the stem's convolution and normalisation, then per block
/// `conv1`, `bn1`, `conv2`, `bn2`, and `downsample` (a 1x1 convolution and its normalisation) where the block
/// changes width or stride, then the classifier. Built once per network; the names and shapes live for the whole
/// process.
fn resnet_specs(shape: ResnetShape, built: &'static OnceLock<Vec<ParamSpec>>) -> &'static [ParamSpec] {
    built.get_or_init(|| {
        let mut specs = Vec::new();
        conv(&mut specs, "conv1", shape.stem, 3, 3);
        norm(&mut specs, "bn1", shape.stem);
        let mut inputs = shape.stem;
        for (stage, &(width, stride)) in shape.stages.iter().enumerate() {
            for block in 0..shape.blocks {
                let prefix = format!("layer{}.{block}", stage + 1);
                conv(&mut specs, &format!("{prefix}.conv1"), width, inputs, 3);
                norm(&mut specs, &format!("{prefix}.bn1"), width);
                conv(&mut specs, &format!("{prefix}.conv2"), width, width, 3);
                norm(&mut specs, &format!("{prefix}.bn2"), width);
                if block == 0 && (stride != 1 || inputs != width) {
                    conv(&mut specs, &format!("{prefix}.downsample.0"), width, inputs, 1);
                    norm(&mut specs, &format!("{prefix}.downsample.1"), width);
                }
                inputs = width;
            }
        }
        leak(&mut specs, "fc.weight".into(), vec![10, inputs], inputs, Init::Uniform);
        leak(&mut specs, "fc.bias".into(), vec![10], inputs, Init::Uniform);
        specs
    })
}

fn conv(specs: &mut Vec<ParamSpec>, prefix: &str, out: i64, inputs: i64, kernel: i64) {
    let shape = vec![out, inputs, kernel, kernel];
    leak(specs, format!("{prefix}.weight"), shape, inputs * kernel * kernel, Init::Uniform);
}

fn norm(specs: &mut Vec<ParamSpec>, prefix: &str, width: i64) {
    leak(specs, format!("{prefix}.weight"), vec![width], width, Init::Ones);
    leak(specs, format!("{prefix}.bias"), vec![width], width, Init::Zeros);
}

fn leak(specs: &mut Vec<ParamSpec>, name: String, shape: Vec<i64>, fan_in: i64, init: Init) {
    let name: &'static str = Box::leak(name.into_boxed_str());
    let shape: &'static [i64] = Box::leak(shape.into_boxed_slice());
    specs.push(ParamSpec { name, shape, fan_in, init });
}

const LENET5_MNIST_V1: &[ParamSpec] = &[
    spec("conv1.weight", &[32, 1, 5, 5], 25),
    spec("conv1.bias", &[32], 25),
    spec("conv2.weight", &[64, 32, 5, 5], 800),
    spec("conv2.bias", &[64], 800),
    spec("fc1.weight", &[512, 1024], 1024),
    spec("fc1.bias", &[512], 1024),
    spec("fc2.weight", &[10, 512], 512),
    spec("fc2.bias", &[10], 512),
];

const CNN_CIFAR10_V1: &[ParamSpec] = &[
    spec("conv1.weight", &[32, 3, 5, 5], 75),
    spec("conv1.bias", &[32], 75),
    spec("conv2.weight", &[64, 32, 5, 5], 800),
    spec("conv2.bias", &[64], 800),
    spec("fc1.weight", &[512, 1600], 1600),
    spec("fc1.bias", &[512], 1600),
    spec("fc2.weight", &[10, 512], 512),
    spec("fc2.bias", &[10], 512),
];

impl ArchitectureId {
    /// Every built-in architecture, in number order.
    pub const ALL: [Self; 4] = [Self::Lenet5MnistV1, Self::CnnCifar10V1, Self::Resnet18CifarV1, Self::Resnet20CifarV1];

    /// The stable name (`lenet5-mnist-v1`; `torchscript-<hex digest>` for a requester's module).
    pub fn name(self) -> &'static str {
        match self {
            Self::Lenet5MnistV1 => "lenet5-mnist-v1",
            Self::CnnCifar10V1 => "cnn-cifar10-v1",
            Self::Resnet18CifarV1 => "resnet18-cifar-v1",
            Self::Resnet20CifarV1 => "resnet20-cifar-v1",
            Self::Script(id) => script(id).name,
        }
    }

    /// The word a task records on chain: a built-in network's number big-endian, as Solidity encodes a
    /// `uint256`, or a module's CID digest.
    pub fn to_bytes32(self) -> [u8; 32] {
        let number: u32 = match self {
            Self::Lenet5MnistV1 => 1,
            Self::CnnCifar10V1 => 2,
            Self::Resnet18CifarV1 => 3,
            Self::Resnet20CifarV1 => 4,
            Self::Script(id) => return id.0,
        };
        let mut word = [0; 32];
        word[28..].copy_from_slice(&number.to_be_bytes());
        word
    }

    /// The architecture a contract's `bytes32` names ([`Self::to_bytes32`] read back); a module's digest only
    /// once this process has registered it.
    pub fn from_bytes32(word: [u8; 32]) -> Result<Self> {
        let unknown =
            || Error::UnknownArchitecture(format!("0x{}", word.iter().map(|b| format!("{b:02x}")).collect::<String>()));
        match ScriptId::from_word(word) {
            Some(id) => registered(id).map(|_| Self::Script(id)).ok_or_else(unknown),
            None => Self::ALL.into_iter().find(|arch| arch.to_bytes32() == word).ok_or_else(unknown),
        }
    }

    /// The requester's module this is, if it is one.
    pub fn script_id(self) -> Option<ScriptId> {
        match self {
            Self::Script(id) => Some(id),
            _ => None,
        }
    }

    /// The parameter tensors, in the stable order every flat vector and encoding uses.
    pub fn parameter_specs(self) -> &'static [ParamSpec] {
        match self {
            Self::Lenet5MnistV1 => LENET5_MNIST_V1,
            Self::CnnCifar10V1 => CNN_CIFAR10_V1,
            Self::Resnet18CifarV1 => {
                static SPECS: OnceLock<Vec<ParamSpec>> = OnceLock::new();
                resnet_specs(RESNET18, &SPECS)
            }
            Self::Resnet20CifarV1 => {
                static SPECS: OnceLock<Vec<ParamSpec>> = OnceLock::new();
                resnet_specs(RESNET20, &SPECS)
            }
            Self::Script(id) => &script(id).specs,
        }
    }

    /// The input image shape: channels, height, width.
    pub fn input_shape(self) -> [i64; 3] {
        let input = self.input();
        [input.channels, input.height, input.width]
    }

    /// The number of output classes.
    pub fn num_classes(self) -> usize {
        self.input().classes
    }

    /// What the model takes, with the normalisation of the data set it was made for (MNIST's, CIFAR-10's): what
    /// [`crate::Dataset::load`] shapes a data set to. A module takes what it was checked against.
    pub fn input(self) -> crate::InputSpec {
        let (shape, norm) = match self {
            Self::Lenet5MnistV1 => ([1, 28, 28], crate::Normalisation::MNIST),
            Self::CnnCifar10V1 | Self::Resnet18CifarV1 | Self::Resnet20CifarV1 => {
                ([3, 32, 32], crate::Normalisation::CIFAR10)
            }
            Self::Script(id) => return script(id).input,
        };
        let [channels, height, width] = shape;
        crate::InputSpec { channels, height, width, classes: 10, norm }
    }

    /// The number of scalar parameters.
    pub fn num_parameters(self) -> usize {
        self.parameter_specs().iter().map(|spec| numel(spec.shape)).sum()
    }

    /// Fresh weights, deterministic from `seed` on every machine; a requester's module starts from the weights
    /// it was exported with, whatever the seed.
    ///
    /// Each tensor starts as its [`Init`] says: uniform in ±1/sqrt(fan_in), PyTorch's default for `Conv2d` and
    /// `Linear`, or normalisation scales at one and shifts at zero (which draw nothing). The values come
    /// from this crate's own generator rather than libtorch's, so they do not depend on the libtorch build, and
    /// concurrent callers cannot disturb each other through libtorch's global seed.
    pub fn init_parameters(self, seed: u64) -> Parameters {
        if let Self::Script(id) = self {
            return crate::script::exported_parameters(self, script(id))
                .expect("a registered module loads, and its tensors follow its own layout");
        }
        let mut rng = Rng::new(seed);
        let mut values = Vec::with_capacity(self.num_parameters());
        for spec in self.parameter_specs() {
            let count = numel(spec.shape);
            match spec.init {
                Init::Uniform => {
                    let bound = 1.0 / (spec.fan_in as f64).sqrt();
                    values.extend((0..count).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32));
                }
                Init::Ones => values.extend(std::iter::repeat_n(1.0, count)),
                Init::Zeros => values.extend(std::iter::repeat_n(0.0, count)),
            }
        }
        Parameters::for_architecture(self, values).expect("the values follow the architecture's own layout")
    }
}

/// A module every `Script` value names: one is made only by [`crate::register_script`] or read back from the
/// registry, which never forgets.
pub(crate) fn script(id: ScriptId) -> &'static crate::script::Registered {
    registered(id).expect("a Script architecture is registered before it exists")
}

pub(crate) fn numel(shape: &[i64]) -> usize {
    shape.iter().map(|&dim| dim as usize).product()
}

impl fmt::Display for ArchitectureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ArchitectureId {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|arch| arch.name() == name)
            .or_else(|| registered_by_name(name).map(Self::Script))
            .ok_or_else(|| Error::UnknownArchitecture(name.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes32_round_trips_and_unknown_words_are_named() {
        for arch in ArchitectureId::ALL {
            assert_eq!(ArchitectureId::from_bytes32(arch.to_bytes32()).unwrap(), arch);
        }
        let error = ArchitectureId::from_bytes32([0xab; 32]).unwrap_err();
        assert!(error.to_string().contains("abababab"), "{error}");
        let mut four = [0; 32];
        four[31] = 5;
        assert!(ArchitectureId::from_bytes32(four).is_err());
        assert!(ScriptId::from_word(four).is_none() && ScriptId::from_word([0xab; 32]).is_some());
    }
}
