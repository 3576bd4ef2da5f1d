/// A `Result` whose error is the scoring [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a round could not be scored or aggregated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Updates in one round have different lengths (parameter layouts).
    #[error("update from {worker} has {got} parameters, expected {expected}")]
    LengthMismatch {
        /// The worker whose update differs.
        worker: String,
        /// The length of the other updates (or of the global model).
        expected: usize,
        /// The length of this update.
        got: usize,
    },
    /// An update holds a NaN or an infinity.
    #[error("update from {worker} has a non-finite value at index {index}")]
    NonFinite {
        /// The worker.
        worker: String,
        /// The first offending parameter.
        index: usize,
    },
    /// The same worker appears twice among a round's results.
    #[error("worker {0} submitted twice in one round")]
    DuplicateWorker(String),
    /// A weighted average was asked for with weights that sum to zero.
    #[error("the aggregation weights sum to zero")]
    ZeroTotalWeight,
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An update could not be read from where the round keeps it.
    #[error("update {index} could not be read: {reason}")]
    Read {
        /// Its index among the round's submissions.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The caller's evaluator failed.
    #[error("evaluator failed: {0}")]
    Evaluator(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// An [`Error::Evaluator`] from any error the caller's evaluator produces.
    pub fn evaluator(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Evaluator(source.into())
    }
}
