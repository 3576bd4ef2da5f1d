//! What a worker keeps on disk between runs, so a killed worker resumes without training twice:
//!
//! ```text
//! <state-dir>/worker.json                  which task, worker, chain and marketplace the folder belongs to
//! <state-dir>/updates/round-000003.*       an update trained and encoded (kept until acknowledged)
//! <state-dir>/pending/round-000003.json    an update uploaded and signed but not yet acknowledged
//! <state-dir>/receipts/round-000002.json   the coordinator's signed receipt, with the local training metrics
//! <state-dir>/.lock                        held while `run` works in the folder
//! ```
//!
//! Every file is written whole or not at all ([`crate::fs::write_atomic`]).

use crate::{Error, Result, api::Receipt, fs};
use alloy::primitives::Address;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::{Path, PathBuf};

/// Which task, worker, chain and marketplace a state folder belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The task.
    pub task_id: u64,
    /// The worker's address.
    pub worker: Address,
    /// The chain.
    pub chain_id: u64,
    /// The marketplace contract.
    pub marketplace: Address,
}

/// How local training went, kept beside the receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Mean training loss over the last epoch (absent when the update was not trained).
    pub loss: Option<f64>,
    /// Training accuracy over the last epoch.
    pub accuracy: Option<f64>,
    /// Samples claimed for the update.
    pub samples: u64,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Wall time of training, milliseconds.
    pub wall_ms: u64,
    /// Samples trained on per second of the training loop, over all epochs (absent when not trained, and in
    /// records written before it was kept).
    #[serde(default)]
    pub samples_per_s: Option<f64>,
    /// Where it trained (`cpu`, `cuda:0`).
    pub device: String,
    /// `honest`, or the red-team behaviour that made the update.
    pub behaviour: String,
    /// The L2 norm of the update.
    pub update_norm: f64,
}

/// An update uploaded and signed, whose submission the coordinator has not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The round.
    pub round: u32,
    /// The checkpoint it was trained from.
    pub global_model_cid: String,
    /// The update's CID.
    pub update_cid: String,
    /// Samples claimed.
    pub num_samples: u64,
    /// The worker's EIP-712 signature, 0x-hex.
    pub signature: String,
    /// How training went.
    pub training: TrainingSummary,
}

/// An update trained and encoded, kept so that a restart (or a failed upload) does not train again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// The round.
    pub round: u32,
    /// The checkpoint it was trained from.
    pub global_model_cid: String,
    /// How training went.
    pub training: TrainingSummary,
}

/// A submission the coordinator acknowledged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredReceipt {
    /// The coordinator's receipt.
    pub receipt: Receipt,
    /// Whether the receipt's signature was checked against the coordinator's address and held.
    pub receipt_verified: bool,
    /// How training went, when this worker trained the update in this state folder.
    pub training: Option<TrainingSummary>,
}

/// A worker's state folder for one task.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    /// Held while the folder is in use by `run`.
    _lock: Option<std::fs::File>,
}

impl StateDir {
    /// `~/.tessera/worker/<task>/<address>`.
    pub fn default_root(task_id: u64, worker: Address) -> Option<PathBuf> {
        std::env::home_dir()
            .map(|home| home.join(".tessera").join("worker").join(task_id.to_string()).join(format!("{worker:#x}")))
    }

    /// Opens (creating) the folder for `identity`, and locks it so that no second worker works in it.
    /// Refuses a folder that belongs to another task, worker, chain or marketplace.
    pub fn open(root: &Path, identity: &Identity) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("creating folder", root, e))?;
        let lock_path = root.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("opening", &lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(Error::State {
                path: lock_path,
                reason: "another worker is running in this state folder".into(),
            });
        }
        let state = Self { root: root.to_owned(), _lock: Some(lock) };
        let path = state.identity_path();
        match read_json::<Identity>(&path)? {
            Some(found) if found != *identity => Err(Error::State {
                path,
                reason: format!("it belongs to {found:?}, not {identity:?}; pass another --state-dir"),
            }),
            Some(_) => Ok(state),
            None => {
                write_json(&path, identity)?;
                Ok(state)
            }
        }
    }

    /// Opens the folder to read, without locking or creating it.
    pub fn read_only(root: &Path) -> Self {
        Self { root: root.to_owned(), _lock: None }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The receipt of `round`, if the coordinator acknowledged it.
    pub fn receipt(&self, round: u32) -> Result<Option<StoredReceipt>> {
        read_json(&self.receipt_path(round))
    }

    /// Stores a receipt and forgets the round's prepared update and pending submission.
    pub fn save_receipt(&self, receipt: &StoredReceipt) -> Result<()> {
        write_json(&self.receipt_path(receipt.receipt.round), receipt)?;
        self.forget_round(receipt.receipt.round)
    }

    /// The update of `round` trained before, with its encoded bytes, if both were written.
    pub fn prepared(&self, round: u32) -> Result<Option<(Prepared, Vec<u8>)>> {
        let Some(prepared) = read_json::<Prepared>(&self.prepared_path(round, "json"))? else { return Ok(None) };
        Ok(fs::read_optional(&self.prepared_path(round, "safetensors"))?.map(|bytes| (prepared, bytes)))
    }

    /// Keeps a trained update: the bytes first, then the record that points at them.
    pub fn save_prepared(&self, prepared: &Prepared, bytes: &[u8]) -> Result<()> {
        fs::write_atomic(&self.prepared_path(prepared.round, "safetensors"), bytes)?;
        write_json(&self.prepared_path(prepared.round, "json"), prepared)
    }

    /// Forgets everything kept for an unfinished `round` (once it is acknowledged or missed).
    pub fn forget_round(&self, round: u32) -> Result<()> {
        remove(&self.prepared_path(round, "json"))?;
        remove(&self.prepared_path(round, "safetensors"))?;
        self.remove_pending(round)
    }

    /// Every stored receipt, by round.
    pub fn receipts(&self) -> Result<Vec<StoredReceipt>> {
        let mut out = Vec::new();
        for round in self.rounds_in("receipts")? {
            out.extend(self.receipt(round)?);
        }
        Ok(out)
    }

    /// The submission of `round` that was signed but not acknowledged, if any.
    pub fn pending(&self, round: u32) -> Result<Option<Pending>> {
        read_json(&self.pending_path(round))
    }

    /// Every unacknowledged submission, by round.
    pub fn pendings(&self) -> Result<Vec<Pending>> {
        let mut out = Vec::new();
        for round in self.rounds_in("pending")? {
            out.extend(self.pending(round)?);
        }
        Ok(out)
    }

    /// Records a submission before it is sent.
    pub fn save_pending(&self, pending: &Pending) -> Result<()> {
        write_json(&self.pending_path(pending.round), pending)
    }

    /// Forgets a round's pending submission.
    pub fn remove_pending(&self, round: u32) -> Result<()> {
        remove(&self.pending_path(round))
    }

    fn identity_path(&self) -> PathBuf {
        self.root.join("worker.json")
    }

    fn receipt_path(&self, round: u32) -> PathBuf {
        self.root.join("receipts").join(round_file(round))
    }

    fn pending_path(&self, round: u32) -> PathBuf {
        self.root.join("pending").join(round_file(round))
    }

    fn prepared_path(&self, round: u32, extension: &str) -> PathBuf {
        self.root.join("updates").join(round_file(round)).with_extension(extension)
    }

    /// The rounds with a file in `sub`, ascending; other files are ignored.
    fn rounds_in(&self, sub: &str) -> Result<Vec<u32>> {
        let dir = self.root.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io("listing", dir, error)),
        };
        let mut rounds = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
            if let Some(round) = parse_round_file(&entry.file_name().to_string_lossy()) {
                rounds.push(round);
            }
        }
        rounds.sort_unstable();
        Ok(rounds)
    }
}

fn round_file(round: u32) -> String {
    format!("round-{round:06}.json")
}

fn parse_round_file(name: &str) -> Option<u32> {
    name.strip_prefix("round-")?.strip_suffix(".json")?.parse().ok()
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::io("removing", path, error)),
        _ => Ok(()),
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let Some(bytes) = fs::read_optional(path)? else { return Ok(None) };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::State { path: path.into(), reason: e.to_string() })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("state types serialise");
    bytes.push(b'\n');
    fs::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity { task_id: 1, worker: Address::repeat_byte(1), chain_id: 31337, marketplace: Address::repeat_byte(2) }
    }

    fn training() -> TrainingSummary {
        TrainingSummary {
            loss: Some(0.5),
            accuracy: Some(0.9),
            samples: 100,
            steps: 2,
            wall_ms: 10,
            samples_per_s: Some(20_000.0),
            device: "cpu".into(),
            behaviour: "honest".into(),
            update_norm: 1.0,
        }
    }

    fn receipt(round: u32) -> StoredReceipt {
        StoredReceipt {
            receipt: Receipt {
                task_id: 1,
                round,
                worker: Address::repeat_byte(1),
                update_cid: tessera_storage::Cid::from_digest([7; 32]),
                num_samples: 100,
                sequence: 0,
                received_at_ms: 5,
                coordinator: Address::repeat_byte(3),
                receipt_signature: "0x00".into(),
            },
            receipt_verified: true,
            training: Some(training()),
        }
    }

    #[test]
    fn receipts_replace_pending_submissions_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let state = StateDir::open(dir.path(), &identity()).unwrap();
            let pending = Pending {
                round: 2,
                global_model_cid: "QmG".into(),
                update_cid: "QmU".into(),
                num_samples: 100,
                signature: "0x11".into(),
                training: training(),
            };
            state.save_pending(&pending).unwrap();
            assert_eq!(state.pending(2).unwrap(), Some(pending));
            state.save_receipt(&receipt(10)).unwrap();
            state.save_receipt(&receipt(2)).unwrap();
            assert_eq!(state.pending(2).unwrap(), None);
        }
        let state = StateDir::open(dir.path(), &identity()).unwrap();
        let rounds: Vec<u32> = state.receipts().unwrap().iter().map(|r| r.receipt.round).collect();
        assert_eq!(rounds, [2, 10]);
        assert!(state.pendings().unwrap().is_empty());
    }

    #[test]
    fn prepared_updates_are_kept_until_the_round_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), &identity()).unwrap();
        let prepared = Prepared { round: 3, global_model_cid: "QmG".into(), training: training() };
        assert_eq!(state.prepared(3).unwrap(), None);
        state.save_prepared(&prepared, b"weights").unwrap();
        assert_eq!(state.prepared(3).unwrap(), Some((prepared, b"weights".to_vec())));
        // Bytes without their record (a kill between the two writes) are not an update.
        std::fs::remove_file(dir.path().join("updates/round-000003.json")).unwrap();
        assert_eq!(state.prepared(3).unwrap(), None);
        state.save_receipt(&receipt(3)).unwrap();
        assert!(!dir.path().join("updates/round-000003.safetensors").exists());
    }

    #[test]
    fn a_folder_of_another_worker_or_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), &identity()).unwrap();
        let busy = StateDir::open(dir.path(), &identity()).unwrap_err();
        assert!(busy.to_string().contains("another worker"), "{busy}");
        drop(state);
        let other = Identity { task_id: 2, ..identity() };
        assert!(StateDir::open(dir.path(), &other).is_err());
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_not_a_silent_reset() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), &identity()).unwrap();
        std::fs::create_dir_all(dir.path().join("receipts")).unwrap();
        std::fs::write(dir.path().join("receipts/round-000001.json"), "{").unwrap();
        std::fs::write(dir.path().join("receipts/notes.txt"), "ignored").unwrap();
        assert!(matches!(state.receipt(1), Err(Error::State { .. })));
        assert_eq!(state.rounds_in("receipts").unwrap(), [1]);
    }
}
