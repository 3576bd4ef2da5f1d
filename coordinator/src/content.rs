//! Reading a round's content back from IPFS: manifests, checkpoints and updates, checked against what they
//! must be, and the CID and architecture words the chain holds. The engine, the API and `verify` share these.

use crate::manifest::{self, FetchedUpdate, MANIFEST_FORMAT, Manifest, SubmissionRecord};
use alloy::primitives::B256;
use tessera_scoring::{Failure, WorkerId};
use tessera_storage::{Cid, ContentStore};
use tessera_train::{ArchitectureId, DecodeLimits, FileKind, WeightsFile};

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

/// The architecture a task's bytes32 names.
pub fn architecture_of(hex: &str) -> eyre::Result<ArchitectureId> {
    let word: B256 = hex.parse()?;
    ArchitectureId::from_bytes32(word.0).map_err(|_| eyre::eyre!("unknown model architecture {hex}"))
}

/// Reads and parses a manifest.
pub async fn load_manifest(content: &dyn ContentStore, cid: &str) -> eyre::Result<Manifest> {
    let bytes = content.get(&cid.parse()?, MAX_MANIFEST_BYTES).await?;
    let manifest: Manifest = serde_json::from_slice(&bytes)?;
    eyre::ensure!(manifest.format == MANIFEST_FORMAT, "manifest {cid} is {:?}, not {MANIFEST_FORMAT}", manifest.format);
    Ok(manifest)
}

/// Reads a checkpoint of `arch`.
pub async fn fetch_checkpoint(content: &dyn ContentStore, arch: ArchitectureId, cid: &str) -> eyre::Result<Vec<f32>> {
    let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
    let bytes = content.get(&cid.parse()?, limits.max_bytes as u64).await?;
    Ok(WeightsFile::decode(&bytes, &limits)?.parameters.into_values())
}

/// Fetches and decodes every submitted update; one that cannot be used becomes a failure with the reason.
pub async fn fetch_updates(
    content: &dyn ContentStore,
    arch: ArchitectureId,
    round: u32,
    global_cid: &str,
    records: &[SubmissionRecord],
) -> (Vec<FetchedUpdate>, Vec<Failure>) {
    let max_bytes = DecodeLimits::expecting(arch, FileKind::Update).max_bytes as u64;
    let mut updates = Vec::new();
    let mut failures = Vec::new();
    for record in records {
        let fetched = async {
            let bytes = content.get(&record.update_cid.parse()?, max_bytes).await?;
            manifest::decode_update(arch, &bytes, round, global_cid, record.num_samples)
        };
        match fetched.await {
            Ok(delta) => updates.push(FetchedUpdate { record: record.clone(), delta }),
            Err(error) => {
                failures.push(Failure { worker: WorkerId::new(record.worker.clone()), reason: format!("{error:#}") })
            }
        }
    }
    (updates, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_are_found_by_their_word() {
        let word = format!("{:#x}", B256::from(ArchitectureId::Lenet5MnistV1.to_bytes32()));
        assert_eq!(architecture_of(&word).unwrap(), ArchitectureId::Lenet5MnistV1);
        assert!(architecture_of(&format!("{:#x}", B256::repeat_byte(7))).is_err());
    }
}
