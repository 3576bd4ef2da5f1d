//! The coordinator's state in SQL: SQLite (a file, the embedded default) or PostgreSQL (production, several
//! replicas), chosen by the URL given to [`Store::connect`], with one schema (`migrations/`) and the same queries.
//!
//! [`Store`] holds tasks and rounds for the round engine, submissions for the API, scores and reputations, the
//! workers and claims the chain event indexer derives, the indexer's events and cursor, and the chain writer's
//! transaction outbox ([`ChainTx`]). Crash safety rests on three habits: each multi-statement operation is one
//! transaction; state that replicas race on moves by compare-and-set ([`Store::advance_round_phase`],
//! [`Store::mark_sent`], [`Store::try_lease`]); and every write a step may repeat is idempotent ([`Store::enqueue`] by key,
//! [`Store::record_events`] by log position, [`Store::replace_scores`]).
//!
//! Token amounts are [`Amount`]s (exact decimal TEXT), addresses and hashes lowercase 0x-hex strings, times unix
//! milliseconds. With the `test-utils` feature, `test_utils::TestDb` gives each test a fresh database.

mod amount;
mod codec;
mod drafts;
mod error;
mod faults;
mod indexer;
mod leases;
mod outbox;
mod reputations;
mod rounds;
mod scores;
mod store;
mod submissions;
mod tasks;
#[cfg(feature = "test-utils")]
pub mod test_utils;
mod workers;

pub use amount::Amount;
pub use drafts::DraftedModel;
pub use error::{Error, Result};
pub use faults::TaskFault;
pub use indexer::{Derived, EventRecord, KEPT_BLOCK_HASHES, RolledBack};
pub use leases::Lease;
pub use outbox::{ChainTx, NewChainTx, TxState};
pub use reputations::Reputation;
pub use rounds::{NewRound, Round, RoundMetrics, RoundPatch, RoundPhase};
pub use scores::{NewScore, Score};
pub use store::{Backend, Store};
pub use submissions::{NewSubmission, Submission};
pub use tasks::{NewTask, Task, TaskStatus};
pub use workers::{Claim, Membership, Worker};
