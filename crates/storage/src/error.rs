use crate::Cid;
use std::{io, path::PathBuf, time::Duration};

/// A `Result` whose error is the storage [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a storage operation failed. Each variant leaves stored state as it was.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A string or byte string is not a CID this store can name.
    #[error("invalid CID {input:?}: {reason}")]
    InvalidCid {
        /// What was parsed.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The node could not be reached, after every retry.
    #[error("IPFS node at {url} is unreachable: {reason}")]
    Unreachable {
        /// The API base URL.
        url: String,
        /// The last connection error.
        reason: String,
    },
    /// The node did not answer in time; an unknown CID ends here, since nodes search for it.
    #[error("IPFS {operation} of {target} timed out after {after:?}")]
    Timeout {
        /// The API operation.
        operation: &'static str,
        /// The CID or object involved.
        target: String,
        /// The time limit.
        after: Duration,
    },
    /// The node answered with an error.
    #[error("IPFS {operation} failed with HTTP {status}: {message}")]
    Node {
        /// The API operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The node's message.
        message: String,
    },
    /// The connection broke while bytes were moving.
    #[error("IPFS {operation} of {target} broke off: {reason}")]
    Transfer {
        /// The API operation.
        operation: &'static str,
        /// The CID or object involved.
        target: String,
        /// The transport error.
        reason: String,
    },
    /// The node's answer could not be understood.
    #[error("unexpected answer to IPFS {operation}: {reason}")]
    Protocol {
        /// The API operation.
        operation: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Fetched bytes do not hash to the CID they were fetched by.
    #[error("content of {expected} hashes to {actual}: refusing it")]
    ContentMismatch {
        /// The CID asked for.
        expected: Cid,
        /// The CID of what arrived.
        actual: Cid,
    },
    /// The node stored bytes under another CID than computed here (a node with other add options).
    #[error("the node stored the object as {node}, but it hashes to {local} here")]
    CidMismatch {
        /// The CID computed locally.
        local: Cid,
        /// The CID the node returned.
        node: Cid,
    },
    /// An object is larger than the caller allows.
    #[error("object {cid} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The object.
        cid: Cid,
        /// The limit in bytes.
        limit: u64,
    },
    /// The object is not in the store (in-memory store and cache only; nodes time out instead).
    #[error("object {0} not found")]
    NotFound(Cid),
    /// A cached file no longer matches its CID; it has been removed.
    #[error("cached copy of {cid} at {path} was corrupted and has been removed")]
    CacheCorrupted {
        /// The object.
        cid: Cid,
        /// The removed file.
        path: PathBuf,
    },
    /// The disk cache could not be read or written.
    #[error("disk cache: {context}: {source}")]
    Cache {
        /// What the cache was doing.
        context: String,
        /// The OS error.
        source: io::Error,
    },
}
