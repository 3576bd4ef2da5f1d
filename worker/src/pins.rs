//! The marketplace this worker trusts on each chain, pinned the first time a coordinator named it.
//!
//! A worker approves its stake to the marketplace and signs its submissions for it, so a coordinator that later
//! names another contract (compromised, or a copy set up to collect stakes) must not be followed silently: a
//! pinned chain's marketplace only changes when the worker says so with `--marketplace`.

use crate::{Error, Result, fs};
use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// The pinned marketplaces, by chain id, as the pin file holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pins {
    /// Each chain's marketplace.
    pub marketplaces: BTreeMap<u64, Address>,
}

/// What [`check`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinned {
    /// The marketplace this chain was pinned to.
    Known,
    /// The chain had no pin; this marketplace is now its pin.
    New,
}

/// `~/.tessera/worker/pins.json`.
pub fn default_path() -> Option<std::path::PathBuf> {
    std::env::home_dir().map(|home| home.join(".tessera").join("worker").join("pins.json"))
}

/// Reads the pins at `path`; none when the file does not exist.
pub fn load(path: &Path) -> Result<Pins> {
    match fs::read_optional(path)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("{} is not a pin file: {e}", path.display()))),
        None => Ok(Pins::default()),
    }
}

/// Checks that `marketplace`, which a coordinator named, is the one pinned for `chain_id`; pins it when the chain
/// has no pin yet. Refuses any other: the error says how to trust it explicitly.
pub fn check(path: &Path, chain_id: u64, marketplace: Address, named_by: &str) -> Result<Pinned> {
    let mut pins = load(path)?;
    match pins.marketplaces.get(&chain_id) {
        Some(&pinned) if pinned == marketplace => Ok(Pinned::Known),
        Some(&pinned) => Err(Error::Invalid(format!(
            "the coordinator at {named_by} names marketplace {marketplace:#x} on chain {chain_id}, but this worker \
             trusts {pinned:#x} there (pinned in {}); refusing to approve or sign for another contract. If the \
             requester really moved, pass --marketplace {marketplace:#x}",
            path.display()
        ))),
        None => {
            pins.marketplaces.insert(chain_id, marketplace);
            let text = serde_json::to_vec_pretty(&pins).expect("pins serialise");
            fs::write_atomic(path, &text)?;
            Ok(Pinned::New)
        }
    }
}
