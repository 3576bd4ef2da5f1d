use crate::{Error, Marketplace::MarketplaceEvents, Result};
use alloy::{
    primitives::{B256, TxHash},
    rpc::types::Log,
    sol_types::SolEventInterface,
};

/// A decoded marketplace event with where it happened, for the coordinator's indexer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainEvent {
    /// The block.
    pub block_number: u64,
    /// The block's hash: which chain the event is on, so a reorganisation that drops the block is seen.
    pub block_hash: B256,
    /// The transaction.
    pub tx_hash: TxHash,
    /// The log's index in its block, which with the block orders events.
    pub log_index: u64,
    /// The event.
    pub event: MarketplaceEvents,
}

impl ChainEvent {
    /// Decodes one of the marketplace's logs.
    pub fn decode(log: &Log) -> Result<Self> {
        let pending =
            |field: &'static str| Error::Invalid { what: "log", reason: format!("{field} missing (pending log?)") };
        let event = MarketplaceEvents::decode_raw_log(log.topics(), &log.data().data)
            .map_err(|e| Error::Invalid { what: "log", reason: e.to_string() })?;
        Ok(Self {
            block_number: log.block_number.ok_or_else(|| pending("block number"))?,
            block_hash: log.block_hash.ok_or_else(|| pending("block hash"))?,
            tx_hash: log.transaction_hash.ok_or_else(|| pending("transaction hash"))?,
            log_index: log.log_index.ok_or_else(|| pending("log index"))?,
            event,
        })
    }
}
