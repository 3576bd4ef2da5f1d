use std::{io, path::PathBuf};

/// A `Result` whose error is the training [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading data, training, or encoding and decoding weights.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// An IDX file's header is not one this parser accepts.
    #[error("{file}: bad IDX header: {reason}")]
    IdxHeader {
        /// Which file (a path, or a name the caller gave in-memory bytes).
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// An IDX file is truncated or has bytes after the data its header declares.
    #[error("{file}: IDX header declares {expected} bytes in all but the file has {actual}")]
    IdxLength {
        /// Which file.
        file: String,
        /// The size the header implies.
        expected: u64,
        /// The size found.
        actual: u64,
    },
    /// IDX images and labels do not describe one dataset (wrong rank, image size or counts).
    #[error("{file}: {reason}")]
    IdxShape {
        /// Which file.
        file: String,
        /// What did not match.
        reason: String,
    },
    /// A data file is not what its format says: a truncated CIFAR batch, a `.npy` header this reader does not
    /// take, an image that does not decode, a folder with no data set in a known format.
    #[error("{file}: {reason}")]
    Format {
        /// The file or folder.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// A label is not below the number of classes.
    #[error("{file}: label {label} at index {index} is not below {classes} classes")]
    LabelOutOfRange {
        /// Which file.
        file: String,
        /// The sample's position.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// A partitioning request cannot be met (too few samples, a bad alpha, and so on).
    #[error("cannot partition: {0}")]
    Partition(String),
    /// A training or evaluation setting is out of range, or the data is empty.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A tensor's name, shape or count disagrees with the layout it must have.
    #[error("parameter layout mismatch: {0}")]
    Layout(String),
    /// A string or number names no known architecture.
    #[error("unknown architecture {0:?}")]
    UnknownArchitecture(String),
    /// libtorch reported an error (a shape it cannot handle, a device it cannot use).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An encoded file is larger than the configured limit; nothing in it was parsed.
    #[error("encoded weights are {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The input's size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The safetensors header length prefix declares more than a header can need.
    #[error("safetensors header declares {declared} bytes, over the limit of {limit}")]
    HeaderTooLarge {
        /// The length the prefix declares.
        declared: u64,
        /// The largest header accepted.
        limit: u64,
    },
    /// The bytes are not a well-formed safetensors file.
    #[error("malformed safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// A metadata entry is missing or has a value that does not parse.
    #[error("metadata {key:?}: {reason}")]
    Metadata {
        /// The metadata key.
        key: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The file is for another architecture than the caller expects.
    #[error("expected architecture {expected}, found {found}")]
    WrongArchitecture {
        /// The architecture asked for.
        expected: crate::ArchitectureId,
        /// The architecture in the file.
        found: crate::ArchitectureId,
    },
    /// The file is a checkpoint where an update was expected, or the other way round.
    #[error("expected a {expected}, found a {found}")]
    WrongKind {
        /// The kind asked for.
        expected: crate::FileKind,
        /// The kind in the file.
        found: crate::FileKind,
    },
    /// A tensor the architecture needs is not in the file.
    #[error("tensor {0:?} is missing")]
    MissingTensor(String),
    /// The file has a tensor the architecture does not.
    #[error("unexpected tensor {0:?}")]
    UnexpectedTensor(String),
    /// A tensor's shape differs from the architecture's.
    #[error("tensor {name:?} has shape {found:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor.
        name: String,
        /// The architecture's shape.
        expected: Vec<i64>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor's dtype differs from the one the metadata declares.
    #[error("tensor {name:?} has dtype {found}, expected {expected}")]
    TensorDtype {
        /// The tensor.
        name: String,
        /// The declared dtype.
        expected: String,
        /// The dtype in the file.
        found: String,
    },
    /// A value is NaN or infinite.
    #[error("tensor {name:?} has a non-finite value at flat index {index}")]
    NonFinite {
        /// The tensor.
        name: String,
        /// The element's position within the tensor.
        index: usize,
    },
    /// A finite f32 value does not fit in f16, so an fp16 encoding would hold infinity.
    #[error("tensor {name:?} value {value} at flat index {index} overflows f16")]
    Fp16Overflow {
        /// The tensor.
        name: String,
        /// The element's position within the tensor.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The L2 norm of all values exceeds the configured maximum.
    #[error("L2 norm {norm} exceeds the limit of {limit}")]
    NormTooLarge {
        /// The norm found.
        norm: f64,
        /// The configured limit.
        limit: f64,
    },
}
