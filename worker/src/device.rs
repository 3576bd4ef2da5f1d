//! `--device auto|cpu|cuda|cuda:N`: where to train.

use crate::{Error, Result};
use std::{fmt, str::FromStr};
use tessera_train::Device;

/// Where the user asked to train.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The first GPU when libtorch sees one, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The GPU with this index.
    Cuda(usize),
}

impl DeviceChoice {
    /// The device to train on, given how many GPUs libtorch sees.
    pub fn resolve_with(self, gpus: usize) -> Result<Device> {
        match self {
            Self::Auto if gpus > 0 => Ok(Device::Cuda(0)),
            Self::Auto | Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(index) if index < gpus => Ok(Device::Cuda(index)),
            Self::Cuda(index) => Err(Error::Invalid(format!(
                "--device cuda:{index} asked for, but libtorch sees {gpus} GPU(s) (a CPU-only libtorch sees none)"
            ))),
        }
    }

    /// The device to train on, on this machine: libtorch's CUDA library is loaded unless the CPU was asked for.
    pub fn resolve(self) -> Result<Device> {
        if self == Self::Cpu {
            return Ok(Device::Cpu);
        }
        let gpus = tessera_train::cuda_devices();
        if gpus == 0
            && let Err(reason) = tessera_train::load_cuda()
        {
            tracing::debug!(%reason, "no CUDA: libtorch's CUDA library could not be loaded");
            if let Self::Cuda(index) = self {
                return Err(Error::Invalid(format!(
                    "--device cuda:{index} asked for, but CUDA cannot be loaded: {reason}"
                )));
            }
        }
        self.resolve_with(gpus)
    }
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|index| index.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("{text:?} is not auto, cpu, cuda or cuda:N")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

/// A device's name as `--device` spells it.
pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(index) => format!("cuda:{index}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_print_back() {
        for (text, choice) in [
            ("auto", DeviceChoice::Auto),
            ("CPU", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:2", DeviceChoice::Cuda(2)),
        ] {
            assert_eq!(text.parse::<DeviceChoice>().unwrap(), choice);
        }
        assert_eq!(DeviceChoice::Cuda(1).to_string(), "cuda:1");
        assert!("tpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn auto_takes_the_first_gpu_when_there_is_one_and_cuda_needs_one() {
        assert_eq!(DeviceChoice::Auto.resolve_with(0).unwrap(), Device::Cpu);
        assert_eq!(DeviceChoice::Auto.resolve_with(2).unwrap(), Device::Cuda(0));
        assert_eq!(DeviceChoice::Cpu.resolve_with(2).unwrap(), Device::Cpu);
        assert_eq!(DeviceChoice::Cuda(1).resolve_with(2).unwrap(), Device::Cuda(1));
        assert!(DeviceChoice::Cuda(0).resolve_with(0).is_err());
        assert_eq!(name(Device::Cuda(3)), "cuda:3");
    }
}
