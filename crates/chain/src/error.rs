use crate::Marketplace::MarketplaceErrors;
use alloy::primitives::TxHash;

/// A `Result` whose error is the chain [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The contract reverted with one of its custom errors.
    #[error("the marketplace reverted: {0:?}")]
    Reverted(Box<MarketplaceErrors>),
    /// A transaction was mined but failed, with no decodable reason.
    #[error("transaction {0} failed on-chain")]
    Failed(TxHash),
    /// The node refused or failed a call, or the contract's answer could not be decoded.
    #[error("contract call failed: {0}")]
    Contract(Box<alloy::contract::Error>),
    /// The node could not be reached or answered with an error.
    #[error("RPC failed: {0}")]
    Rpc(String),
    /// A transaction was sent but its receipt could not be obtained.
    #[error("waiting for transaction {tx}: {reason}")]
    Pending {
        /// The transaction.
        tx: TxHash,
        /// Why waiting failed.
        reason: String,
    },
    /// A receipt lacked an event the call always emits.
    #[error("transaction {tx} did not emit {event}")]
    MissingEvent {
        /// The transaction.
        tx: TxHash,
        /// The expected event.
        event: &'static str,
    },
    /// A URL, key or argument was not valid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A Merkle tree was given two leaves for one account.
    #[error("account {0} appears twice in the rewards")]
    DuplicateAccount(alloy::primitives::Address),
}

impl From<alloy::contract::Error> for Error {
    fn from(error: alloy::contract::Error) -> Self {
        match error.as_decoded_interface_error::<MarketplaceErrors>() {
            Some(reverted) => Self::Reverted(Box::new(reverted)),
            None => Self::Contract(Box::new(error)),
        }
    }
}

impl Error {
    /// The contract's custom error, when the call reverted with one.
    pub fn revert_reason(&self) -> Option<&MarketplaceErrors> {
        match self {
            Self::Reverted(reason) => Some(reason),
            _ => None,
        }
    }
}

impl From<alloy::transports::TransportError> for Error {
    fn from(error: alloy::transports::TransportError) -> Self {
        Self::Rpc(error.to_string())
    }
}
