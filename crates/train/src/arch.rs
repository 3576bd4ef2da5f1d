use crate::{Error, Parameters, Result, rng::Rng};
use std::{fmt, str::FromStr};

/// A model architecture, as a task records it on chain.
///
/// The name and the number are both stable: a new architecture (or a changed layer) gets a new variant with a
/// new `-vN` name and a new number; existing ones never change, since checkpoints and tasks refer to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ArchitectureId {
    /// LeNet-5-style CNN for 28x28 grey images (MNIST, Fashion-MNIST): conv(1→32, 5x5) → relu → maxpool 2 →
    /// conv(32→64, 5x5) → relu → maxpool 2 → fc(1024→512) → relu → fc(512→10).
    Lenet5MnistV1 = 1,
    /// The same shape of CNN for 32x32 RGB images (CIFAR-10): conv(3→32, 5x5) → relu → maxpool 2 →
    /// conv(32→64, 5x5) → relu → maxpool 2 → fc(1600→512) → relu → fc(512→10).
    CnnCifar10V1 = 2,
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
}

const fn spec(name: &'static str, shape: &'static [i64], fan_in: i64) -> ParamSpec {
    ParamSpec { name, shape, fan_in }
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
    /// Every architecture, in id order.
    pub const ALL: [Self; 2] = [Self::Lenet5MnistV1, Self::CnnCifar10V1];

    /// The stable name (`lenet5-mnist-v1`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Lenet5MnistV1 => "lenet5-mnist-v1",
            Self::CnnCifar10V1 => "cnn-cifar10-v1",
        }
    }

    /// The stable number, for a `uint` on chain.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The id as a big-endian 32-byte word, as Solidity encodes a `uint256` or a `bytes32`.
    pub fn to_bytes32(self) -> [u8; 32] {
        let mut word = [0; 32];
        word[28..].copy_from_slice(&self.id().to_be_bytes());
        word
    }

    /// The architecture with this number.
    pub fn from_id(id: u32) -> Result<Self> {
        Self::ALL.into_iter().find(|arch| arch.id() == id).ok_or_else(|| Error::UnknownArchitecture(id.to_string()))
    }

    /// The architecture a contract's `bytes32` names ([`Self::to_bytes32`] read back).
    pub fn from_bytes32(word: [u8; 32]) -> Result<Self> {
        Self::ALL.into_iter().find(|arch| arch.to_bytes32() == word).ok_or_else(|| {
            Error::UnknownArchitecture(format!("0x{}", word.iter().map(|b| format!("{b:02x}")).collect::<String>()))
        })
    }

    /// The parameter tensors, in the stable order every flat vector and encoding uses.
    pub const fn parameter_specs(self) -> &'static [ParamSpec] {
        match self {
            Self::Lenet5MnistV1 => LENET5_MNIST_V1,
            Self::CnnCifar10V1 => CNN_CIFAR10_V1,
        }
    }

    /// The input image shape: channels, height, width.
    pub const fn input_shape(self) -> [i64; 3] {
        match self {
            Self::Lenet5MnistV1 => [1, 28, 28],
            Self::CnnCifar10V1 => [3, 32, 32],
        }
    }

    /// The number of output classes.
    pub const fn num_classes(self) -> usize {
        10
    }

    /// What the model takes, with the normalisation of the data set it was made for (MNIST's, CIFAR-10's): what
    /// [`crate::Dataset::load`] shapes a data set to.
    pub const fn input(self) -> crate::InputSpec {
        let [channels, height, width] = self.input_shape();
        let norm = match self {
            Self::Lenet5MnistV1 => crate::Normalisation::MNIST,
            Self::CnnCifar10V1 => crate::Normalisation::CIFAR10,
        };
        crate::InputSpec { channels, height, width, classes: self.num_classes(), norm }
    }

    /// The number of scalar parameters.
    pub fn num_parameters(self) -> usize {
        self.parameter_specs().iter().map(|spec| numel(spec.shape)).sum()
    }

    /// Fresh weights, deterministic from `seed` on every machine.
    ///
    /// Each tensor is uniform in ±1/sqrt(fan_in), PyTorch's default for `Conv2d` and `Linear`. The values come
    /// from this crate's own generator rather than libtorch's, so they do not depend on the libtorch build, and
    /// concurrent callers cannot disturb each other through libtorch's global seed.
    pub fn init_parameters(self, seed: u64) -> Parameters {
        let mut rng = Rng::new(seed);
        let mut values = Vec::with_capacity(self.num_parameters());
        for spec in self.parameter_specs() {
            let bound = 1.0 / (spec.fan_in as f64).sqrt();
            values.extend((0..numel(spec.shape)).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32));
        }
        Parameters::for_architecture(self, values).expect("the values follow the architecture's own layout")
    }
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
        Self::ALL.into_iter().find(|arch| arch.name() == name).ok_or_else(|| Error::UnknownArchitecture(name.into()))
    }
}

impl TryFrom<u32> for ArchitectureId {
    type Error = Error;

    fn try_from(id: u32) -> Result<Self> {
        Self::from_id(id)
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
    }
}
