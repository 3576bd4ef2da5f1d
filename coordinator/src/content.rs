//! Reading a round's content back from IPFS: manifests, checkpoints and updates, checked against what they
//! must be, and the CID and architecture words the chain holds. The engine, the API and `verify` share these.

use crate::{
    manifest::{self, FetchedUpdates, MANIFEST_FORMAT, Manifest, SubmissionRecord},
    sealing::TaskSealing,
    spool::Spool,
    update_files::UpdateFiles,
};
use alloy::primitives::B256;
use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};
use tessera_scoring::{Failure, WorkerId};
use tessera_seal::ContentKey;
use tessera_storage::{Cid, ContentStore};
use tessera_train::{
    ArchitectureId, DecodeLimits, FileKind, InputSpec, MAX_SCRIPT_BYTES, MAX_SCRIPT_PARAMETERS, ScriptId, ScriptLimits,
    WeightsFile, register_script,
};

/// The largest manifest read back.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The bytes32 word the chain holds for `cid`.
pub(crate) fn cid_word(cid: &str) -> eyre::Result<B256> {
    Ok(B256::from(cid.parse::<Cid>()?.to_bytes32()))
}

/// The CID whose digest the chain holds as `word`.
pub(crate) fn cid_text(word: B256) -> eyre::Result<String> {
    Cid::from_bytes32(word.0).map(|c| c.to_string()).ok_or_else(|| eyre::eyre!("{word:#x} is not a CID digest"))
}

/// How long a module that could not be fetched is not asked for again: a task naming a CID nobody serves costs
/// the engine one fetch timeout per period, not one per pass.
const UNAVAILABLE_FOR: Duration = Duration::from_secs(120);

/// How long a refused module is not fetched and checked again. The bytes are fixed by their CID and the check is
/// deterministic, but a refusal for want of room (`MAX_REGISTERED_BYTES`) is not for good.
const REFUSED_FOR: Duration = Duration::from_secs(600);

/// Modules that were refused or could not be fetched, until when, and why.
static UNUSABLE: LazyLock<Mutex<HashMap<ScriptId, (Instant, String)>>> = LazyLock::new(Default::default);

/// The lookups of each module, one at a time.
static IN_FLIGHT: LazyLock<Mutex<HashMap<ScriptId, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

/// How a task's model is looked up: the images and classes a requester's TorchScript module is checked against
/// (this coordinator's, its validation architecture's) and how long fetching the module may take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelLookup {
    /// The images and classes.
    pub input: InputSpec,
    /// The fetch's time limit.
    pub fetch_timeout: Duration,
    /// Whether modules are served at all (`TESSERA_SCRIPT_MODELS`).
    pub scripts: bool,
}

/// The architecture a task's bytes32 names: a built-in network, or a requester's TorchScript module, which is
/// fetched by its CID and checked against `lookup`'s input the first time.
pub async fn architecture_of(
    content: &dyn ContentStore,
    hex: &str,
    lookup: ModelLookup,
) -> eyre::Result<ArchitectureId> {
    let ModelLookup { input, fetch_timeout: timeout, scripts } = lookup;
    let word: B256 = hex.parse()?;
    let Some(id) = ScriptId::from_word(word.0) else {
        return ArchitectureId::from_bytes32(word.0).map_err(|_| eyre::eyre!("unknown model architecture {hex}"));
    };
    if let Ok(known) = ArchitectureId::from_bytes32(word.0) {
        return Ok(known);
    }
    let cid = Cid::from_digest(id.0);
    if !scripts {
        eyre::bail!(
            "the task's model architecture is the TorchScript module {cid}, and this coordinator does not run \
             requesters' modules (TESSERA_SCRIPT_MODELS)"
        );
    }
    let unusable =
        |reason: &str| eyre::eyre!("the task's model architecture is the TorchScript module {cid}, which {reason}");
    // One fetch and check of a module at a time: lookups that arrive together (submissions after a restart)
    // wait for the first and use what it found, instead of each holding a copy of the module.
    let gate = lock(&IN_FLIGHT).entry(id).or_default().clone();
    let _turn = gate.lock().await;
    if let Ok(known) = ArchitectureId::from_bytes32(word.0) {
        return Ok(known);
    }
    if let Some((until, reason)) = lock(&UNUSABLE).get(&id)
        && Instant::now() < *until
    {
        return Err(unusable(reason));
    }
    let fetched = match tokio::time::timeout(timeout, content.get(&cid, MAX_SCRIPT_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => Err(format!("could not be fetched: {error}")),
        Err(_) => Err(format!("could not be fetched within {timeout:?}")),
    };
    let bytes = match fetched {
        Ok(bytes) => bytes,
        Err(reason) => {
            lock(&UNUSABLE).insert(id, (Instant::now() + UNAVAILABLE_FOR, reason.clone()));
            return Err(unusable(&reason));
        }
    };
    let limits = ScriptLimits { input, max_parameters: MAX_SCRIPT_PARAMETERS };
    match tokio::task::spawn_blocking(move || register_script(id, &bytes, &limits)).await? {
        Ok(arch) => Ok(arch),
        Err(error) => {
            let reason = format!("is refused: {error}");
            lock(&UNUSABLE).insert(id, (Instant::now() + REFUSED_FOR, reason.clone()));
            Err(unusable(&reason))
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads and parses round `round`'s manifest, opening it with `sealing` when the task is confidential (whose
/// manifests must be sealed).
pub async fn load_manifest(
    content: &dyn ContentStore,
    cid: &str,
    sealing: Option<(&TaskSealing, u32)>,
) -> eyre::Result<Manifest> {
    let bytes = content.get(&cid.parse()?, MAX_MANIFEST_BYTES).await?;
    let bytes = match sealing {
        Some((sealing, round)) => {
            eyre::ensure!(
                tessera_seal::is_sealed(&bytes),
                "task {}'s manifest {cid} is not sealed",
                sealing.place.task_id
            );
            bytes::Bytes::from(sealing.open_manifest(round, cid, &bytes)?)
        }
        None => bytes,
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)?;
    eyre::ensure!(manifest.format == MANIFEST_FORMAT, "manifest {cid} is {:?}, not {MANIFEST_FORMAT}", manifest.format);
    Ok(manifest)
}

/// How to open a sealed checkpoint: the task's sealing, the round that produced it, and its key.
pub type CheckpointKey<'a> = (&'a TaskSealing, u32, &'a ContentKey);

/// Reads a checkpoint of `arch`, opening it with `key` when it is sealed.
pub async fn fetch_checkpoint(
    content: &dyn ContentStore,
    arch: ArchitectureId,
    cid: &str,
    key: Option<CheckpointKey<'_>>,
) -> eyre::Result<Vec<f32>> {
    let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
    let bytes = content.get(&cid.parse()?, limits.max_bytes as u64 + tessera_seal::MAX_OVERHEAD).await?;
    let plaintext = match key {
        Some((sealing, round, key)) => sealing.open_checkpoint(round, key, &bytes)?,
        None => bytes.to_vec(),
    };
    Ok(WeightsFile::decode(&plaintext, &limits)?.parameters.into_values())
}

/// Fetches and decodes every submitted update, reading those `spooled` for the task from disk, into files in a
/// new temporary folder under `scratch` (so a round's updates never sit in memory together); one that cannot be
/// used becomes a failure with the reason. In a confidential task (`sealing`) each update is opened first, and its
/// record in the result carries the plaintext's hash.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_updates(
    content: &dyn ContentStore,
    spooled: Option<(&Spool, u64)>,
    scratch: &Path,
    arch: ArchitectureId,
    round: u32,
    global_cid: &str,
    records: &[SubmissionRecord],
    sealing: Option<&TaskSealing>,
) -> eyre::Result<(FetchedUpdates, Vec<Failure>)> {
    let max_bytes = DecodeLimits::expecting(arch, FileKind::Update).max_bytes as u64 + tessera_seal::MAX_OVERHEAD;
    let mut fetched = FetchedUpdates { records: Vec::new(), updates: UpdateFiles::new_in(scratch)? };
    let mut failures = Vec::new();
    for record in records {
        let decoded = async {
            let cid: Cid = record.update_cid.parse()?;
            let kept = match spooled {
                Some((spool, task_id)) => spool.read(task_id, round, &cid, max_bytes).await,
                None => None,
            };
            let bytes = match kept {
                Some(bytes) => bytes,
                None => content.get(&cid, max_bytes).await?,
            };
            let (plaintext, hash) = match sealing {
                Some(sealing) => {
                    let plaintext = sealing.open_update(round, &record.worker, &record.update_cid, &bytes)?;
                    let hash = tessera_seal::plaintext_sha256(&plaintext);
                    (std::borrow::Cow::Owned(plaintext), Some(hash))
                }
                None => (std::borrow::Cow::Borrowed(&bytes[..]), None),
            };
            let delta = manifest::decode_update(arch, &plaintext, round, global_cid, record.num_samples)?;
            eyre::Ok((delta, hash))
        };
        match decoded.await {
            Ok((delta, plaintext_sha256)) => {
                fetched.updates.push(&delta)?;
                fetched.records.push(SubmissionRecord { plaintext_sha256, ..record.clone() });
            }
            Err(error) => {
                failures.push(Failure { worker: WorkerId::new(record.worker.clone()), reason: format!("{error:#}") })
            }
        }
    }
    Ok((fetched, failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn architectures_are_found_by_their_word() {
        let word = format!("{:#x}", B256::from(ArchitectureId::Lenet5MnistV1.to_bytes32()));
        let content = tessera_storage::MemoryStore::new();
        let off = ModelLookup {
            input: ArchitectureId::Lenet5MnistV1.input(),
            fetch_timeout: Duration::from_secs(5),
            scripts: false,
        };
        let wait = ModelLookup { scripts: true, ..off };
        assert_eq!(architecture_of(&content, &word, wait).await.unwrap(), ArchitectureId::Lenet5MnistV1);
        let missing = format!("{:#x}", B256::repeat_byte(7));
        let error = architecture_of(&content, &missing, off).await.unwrap_err().to_string();
        assert!(error.contains("does not run requesters' modules"), "{error}");
        let error = architecture_of(&content, &missing, wait).await.unwrap_err().to_string();
        assert!(error.contains("could not be fetched"), "{error}");
        let junk = content.put(bytes::Bytes::from_static(b"not a module")).await.unwrap();
        let junk = format!("{:#x}", B256::from(junk.to_bytes32()));
        let error = architecture_of(&content, &junk, wait).await.unwrap_err().to_string();
        assert!(error.contains("model architecture") && error.contains("is refused: "), "{error}");
        // Remembered: asked again, the same answer without a second fetch, even once the bytes are there.
        let again = architecture_of(&content, &missing, wait).await.unwrap_err().to_string();
        assert!(again.contains("could not be fetched"), "{again}");
    }
}
