use std::path::PathBuf;

/// A `Result` whose error is the worker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a worker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The coordinator answered with an error body (`{"error": {"code", "message"}}`) or an unexpected status.
    #[error("the coordinator refused {method} {path} ({status}, {code}): {message}")]
    Api {
        /// The request's method.
        method: &'static str,
        /// The request's path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The API's stable error code (`replay`, `window_closed`, …), or `http_<status>` without one.
        code: String,
        /// The API's message.
        message: String,
    },
    /// The coordinator could not be reached, or its answer could not be read.
    #[error("request to the coordinator failed: {url}")]
    Http {
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The chain refused or failed a call.
    #[error(transparent)]
    Chain(#[from] tessera_chain::Error),
    /// IPFS failed to store or return an object, or returned one that does not match its CID.
    #[error(transparent)]
    Storage(#[from] tessera_storage::Error),
    /// Loading data, training or encoding weights failed.
    #[error(transparent)]
    Train(#[from] tessera_train::Error),
    /// A red-team attack could not be forged.
    #[error(transparent)]
    Attack(#[from] tessera_adversary::Error),
    /// A keystore could not be created, read or decrypted.
    #[error("keystore {path}: {reason}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No key was configured, or the one configured is not a valid private key.
    #[error("{0}")]
    Key(String),
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`reading`, `writing`, …).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A state file exists but is not what this worker wrote.
    #[error("state file {path} is not valid: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An option, or a value the coordinator or chain reported, is not usable.
    #[error("{0}")]
    Invalid(String),
    /// The task cannot be worked on (not found, cancelled, not joined, …).
    #[error("{0}")]
    Task(String),
}

impl Error {
    /// The coordinator's error code, when the coordinator answered with one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when the coordinator answered.
    pub fn api_status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: the coordinator or IPFS was unreachable, slow or
    /// failing on its side, as when it restarts.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { source, .. } => !source.is_decode() && !source.is_builder(),
            Self::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Storage(error) => match error {
                tessera_storage::Error::Unreachable { .. }
                | tessera_storage::Error::Timeout { .. }
                | tessera_storage::Error::Transfer { .. } => true,
                tessera_storage::Error::Node { status, .. } => *status >= 500,
                _ => false,
            },
            _ => false,
        }
    }

    /// The error and its causes, outermost first, leaving out a cause whose text the one before
    /// already shows.
    pub fn causes(&self) -> Vec<String> {
        let mut out = vec![self.to_string()];
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !out.last().is_some_and(|last| last.contains(&text)) {
                out.push(text);
            }
            source = cause.source();
        }
        out
    }

    /// The error and its causes on one line.
    pub fn report(&self) -> String {
        self.causes().join(": ")
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }
}
