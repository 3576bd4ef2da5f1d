/// Why a sealed artefact, a wrapped key or a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes that are not a sealed artefact of this format.
    #[error("not a sealed artefact: {0}")]
    Malformed(String),
    /// A key that is not a valid secp256k1 key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The ciphertext does not open with this key and context: the wrong key, the wrong task, round or kind, or
    /// altered bytes.
    #[error("the artefact does not open with this key for {0}")]
    Tampered(String),
    /// A wrapped key for another reader.
    #[error("this key is wrapped for {to}, not for {reader}")]
    NotForReader {
        /// Whom it is for.
        to: String,
        /// Who tried.
        reader: String,
    },
    /// An access policy or key release that does not hold together.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The document.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;
