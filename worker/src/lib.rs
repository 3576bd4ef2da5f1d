//! The Tessera worker: a data owner's side of the marketplace.
//!
//! `tessera-worker` stakes in a task ([`cli`]'s `join`), then for every round fetches the global
//! checkpoint from IPFS, trains on local data with libtorch (on a GPU when there is one), uploads
//! the update, signs an EIP-712 `Submission` and sends it to the coordinator, keeping the signed
//! receipt ([`worker::Worker`]); later it claims rewards with the coordinator's Merkle proof.
//!
//! - [`api`]: the coordinator's HTTP API, client side.
//! - [`round`]: the run loop's decisions as pure functions; [`worker`] does their I/O.
//! - [`update`] and [`red_team`]: making an update, honestly or (for tests and demos) not.
//! - [`state`]: what survives a restart, written atomically ([`fs`]).
//! - [`model`]: the task's network, a requester's TorchScript module fetched and checked before staking.
//! - [`keys`], [`chain`], [`data`], [`device`], [`progress`]: keystores, contract calls, local data
//!   and shards, where to train, and progress bars.
//!
//! The binary's `main` only parses [`cli::Cli`] and calls [`cli::execute`].

pub mod api;
pub mod chain;
pub mod cli;
pub mod data;
pub mod device;
mod error;
pub mod fs;
pub mod keys;
pub mod model;
pub mod pins;
pub mod progress;
pub mod red_team;
pub mod round;
pub mod sealing;
pub mod state;
pub mod update;
pub mod worker;

pub use error::{Error, Result};
