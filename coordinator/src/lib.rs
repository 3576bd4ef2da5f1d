//! The Tessera coordinator: it accepts workers' signed submissions, scores and aggregates each
//! round, and writes the results on chain. This crate holds the service; `main.rs` only parses
//! arguments.
//!
//! [`api::app`] builds the HTTP router over an [`AppState`], whose dependencies are traits
//! ([`Membership`], [`tessera_storage::ContentStore`]) so tests drive it without a chain or IPFS.

pub mod api;
pub mod cli;
mod config;
pub mod content;
pub mod engine;
pub mod fault;
pub mod indexer;
pub mod limits;
mod live;
pub mod manifest;
pub mod sealing;
pub mod server;
pub mod spool;
pub mod task_draft;
pub mod update_files;
pub mod validation;
pub mod verify;
pub mod writer;

pub use config::{Config, ConfigError, default_confirmations};
pub use live::{Counters, Live, LiveEvent};

use alloy::{primitives::Address, signers::local::PrivateKeySigner, sol_types::Eip712Domain};
use std::sync::Arc;
use tessera_chain::MarketplaceClient;
use tessera_db::Store;
use tessera_storage::ContentStore;

/// Whether an account has joined a task: the chain is the authority.
#[async_trait::async_trait]
pub trait Membership: Send + Sync {
    /// Whether `worker` is an active worker of `task`.
    async fn is_worker(&self, task: u64, worker: Address) -> eyre::Result<bool>;
}

#[async_trait::async_trait]
impl Membership for MarketplaceClient {
    async fn is_worker(&self, task: u64, worker: Address) -> eyre::Result<bool> {
        Ok(MarketplaceClient::is_worker(self, alloy::primitives::U256::from(task), worker).await?)
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The coordinator's database.
    pub db: Store,
    /// Where updates and checkpoints are fetched from.
    pub content: Arc<dyn ContentStore>,
    /// Who has joined which task.
    pub membership: Arc<dyn Membership>,
    /// The coordinator's key, which signs receipts.
    pub signer: Arc<PrivateKeySigner>,
    /// The EIP-712 domain submissions are signed in.
    pub domain: Arc<Eip712Domain>,
    /// The settings.
    pub config: Arc<Config>,
    /// Live events and counters.
    pub live: Live,
    /// Where receipted updates are kept until their round is finalized.
    pub spool: spool::Spool,
    /// Turns to fetch and check a submitted update, [`Config::max_concurrent_fetches`] of them.
    pub fetches: Arc<tokio::sync::Semaphore>,
    /// The coordinator's keys for confidential tasks, and the access policies it has read.
    pub sealer: Arc<sealing::Sealer>,
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}
