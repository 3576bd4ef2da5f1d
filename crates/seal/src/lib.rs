//! Confidential artefacts. Every sealed artefact (a worker's update, a round's checkpoint) is encrypted once with
//! a content key of its own (ChaCha20-Poly1305), and that key is wrapped for each reader with ECIES on secp256k1
//! ([`wrap`]), so adding a reader adds a wrapped key and never re-encrypts the artefact. Readers are named by
//! their secp256k1 public keys: the same keys the parties hold their Ethereum accounts with, so a reader's key
//! is checked against the address the chain names ([`ReaderId::address`]).
//!
//! Everything is deterministic given the content key, so a holder of the key can recompute a sealed artefact
//! bit for bit (and its CID), and check that every wrapped key in it opens to the same key for its reader
//! ([`WrappedKey::is_honest`]). The nonce is synthetic (derived from the key, the context and the plaintext), so a
//! key that ever sealed two different plaintexts would still never repeat a nonce.

mod error;
mod key;
mod policy;
mod sealed;
mod wrap;

pub use error::{Error, Result};
pub use key::{ContentKey, KeyDerivation, ReaderId, ReaderKey};
pub use policy::{ACCESS_FORMAT, AccessPolicy, KEYS_FORMAT, KeyRelease, ReleasedKey, ReleasedSeed};
pub use sealed::{MAX_OVERHEAD, Sealed, is_sealed, open, plaintext_sha256, seal};
pub use wrap::{WrappedKey, unwrap, unwrap_own, wrap};

/// What an artefact is and where it belongs: bound into every key wrap and every seal, so a sealed artefact or
/// a wrapped key cannot be passed off as another task's, round's or kind's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Context(String);

impl Context {
    /// Worker `worker`'s (0x-hex) update for `round` of `task` on the marketplace `marketplace` (0x-hex) of chain
    /// `chain_id`: another worker's sealed update does not open as one's own.
    pub fn update(chain_id: u64, marketplace: &str, task: u64, round: u32, worker: &str) -> Self {
        Self(format!(
            "tessera update {chain_id}:{} task {task} round {round} worker {}",
            marketplace.to_ascii_lowercase(),
            worker.to_ascii_lowercase()
        ))
    }

    /// The checkpoint `round` produced (the global model of round `round + 1`).
    pub fn checkpoint(chain_id: u64, marketplace: &str, task: u64, round: u32) -> Self {
        Self(format!("tessera checkpoint {chain_id}:{} task {task} round {round}", marketplace.to_ascii_lowercase()))
    }

    /// The seed of the differential-privacy noise added to round `round`'s step: secret (anyone who knows it
    /// could subtract the noise from the model), so it is derived like a key and wrapped for the auditors only.
    pub fn noise(chain_id: u64, marketplace: &str, task: u64, round: u32) -> Self {
        Self(format!("tessera dp noise {chain_id}:{} task {task} round {round}", marketplace.to_ascii_lowercase()))
    }

    /// Round `round`'s manifest: in a confidential task it holds the scorer's evidence (sketches of every update,
    /// the aggregate's metrics before any noise), so it is sealed for the requester and the auditors too.
    pub fn manifest(chain_id: u64, marketplace: &str, task: u64, round: u32) -> Self {
        Self(format!("tessera manifest {chain_id}:{} task {task} round {round}", marketplace.to_ascii_lowercase()))
    }

    /// The context's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
