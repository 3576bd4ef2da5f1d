//! The ML core of Tessera: the model zoo, datasets, partitioning, local training, evaluation, and the
//! checkpoint/update format. No network or chain code.
//!
//! - [`ArchitectureId`] names each model by a stable string and number that a task records on chain; its
//!   [`ParamSpec`]s list the tensors with PyTorch state-dict names (`conv1.weight`, ...).
//! - [`Dataset`] holds images and labels in memory as tensors, loaded ([`Dataset::load`]) from IDX files (MNIST,
//!   Fashion-MNIST), CIFAR-10/100 binary batches, NumPy `.npy` arrays or a folder of images per class
//!   ([`DataFormat`]), by readers that turn truncated or corrupt files into errors naming them.
//! - [`Partitioning`] splits sample indices among simulated clients: IID, Dirichlet label skew, power-law sizes.
//! - [`train_local`] trains from a global checkpoint and returns the delta as [`Parameters`], one flat f32
//!   vector in a stable order, which scoring and aggregation use without libtorch; [`evaluate`] measures a model.
//! - [`WeightsFile`] encodes checkpoints and updates as safetensors with metadata and decodes untrusted bytes.
//! - [`ScriptModel`] loads and checks a requester's TorchScript module (shape, size, no hidden state);
//!   [`register_script`] makes a checked module an [`ArchitectureId::Script`] that trains, encodes and evaluates
//!   like a built-in network.
//! - [`cuda_devices`] loads libtorch's CUDA library where it can be loaded and counts the GPUs.
//!
//! # Determinism
//!
//! Deterministic on every machine, being pure Rust with the `libm` crate for logarithms and powers:
//! partitions, initial weights ([`ArchitectureId::init_parameters`]), the per-epoch sample order, and the
//! encoding (equal weights give equal bytes).
//!
//! Bit-identical from run to run on the CPU, given the same seed, data, thread count ([`TrainConfig::threads`])
//! and libtorch build: the update from [`train_local`]. Nothing here draws from libtorch's global random
//! generator, so concurrent callers do not disturb each other.
//!
//! Not bit-identical: training on a GPU (cuDNN chooses algorithms and accumulates in orders of its own), on the
//! CPU with a different thread count (reductions split differently), or with another libtorch build or CPU
//! instruction set (oneDNN picks different kernels). Those differ in the last bits, which training amplifies,
//! though not in any direction that matters for accuracy.
//!
//! # Process-wide settings
//!
//! [`Trainer::new`] (and so [`train_local`]) sets libtorch's thread count when [`TrainConfig::threads`] is given,
//! and once per process raises glibc's malloc trim threshold so that training steps reuse freed memory instead
//! of faulting it back in from the OS (see `heap.rs`; it made CPU training 25-35% faster here).

mod arch;
mod codec;
mod cuda;
mod dataset;
mod error;
mod eval;
mod formats;
mod header;
mod heap;
mod idx;
mod model;
mod params;
mod partition;
mod rng;
mod script;
mod train;

pub use arch::{ArchitectureId, Init, ParamSpec, RESNET_GROUPS, RESNET20_GROUPS};
pub use codec::{DecodeLimits, MAX_HEADER_BYTES, WeightsFile};
pub use cuda::{cuda_devices, cuda_if_available, load_cuda};
pub use dataset::{Dataset, Normalisation, Split};
pub use error::{Error, Result};
pub use eval::{EVAL_BATCH, Evaluation, evaluate, evaluate_parameters};
pub use formats::{DataFormat, InputSpec};
pub use header::{FORMAT, FileKind, Header, WireDtype};
pub use idx::{IdxArray, parse_idx};
pub use model::Model;
pub use params::Parameters;
pub use partition::Partitioning;
pub use rng::Rng;
pub use script::{
    MAX_REGISTERED_BYTES, MAX_SCRIPT_BYTES, MAX_SCRIPT_PARAMETERS, ScriptId, ScriptLimits, ScriptModel, register_script,
};
pub use tch::Device;
pub use train::{EpochMetrics, LocalUpdate, Optimizer, Progress, TrainConfig, TrainMetrics, Trainer, train_local};
