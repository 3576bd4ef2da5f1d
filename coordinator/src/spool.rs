//! Updates kept on this replica's disk from the moment they are receipted until their round is finalized.
//!
//! The API fetches every update before it signs a receipt; it writes the bytes here (and pins them on the IPFS
//! node) in the same request, so the round's aggregation reads them from disk, not from the network: a worker that
//! goes offline, an IPFS node that collects garbage or a slow gateway can never turn a receipted update into a
//! no-show, and aggregation does not wait on a thousand downloads. Reads are checked against the CID again, so a
//! damaged file is fetched afresh instead of trusted. Another replica's receipts are not here; the engine fetches
//! those from IPFS, where the receipting replica pinned them.

use bytes::Bytes;
use std::path::{Path, PathBuf};
use tessera_storage::{Cid, DagBuilder};

/// A folder of receipted updates: `<dir>/task-<id>/round-<n>/<cid>`.
#[derive(Clone, Debug)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The spool in `dir`, created if missing.
    pub async fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir).await?;
        Ok(Self { dir })
    }

    /// Where it keeps its files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn round_dir(&self, task_id: u64, round: u32) -> PathBuf {
        self.dir.join(format!("task-{task_id}")).join(format!("round-{round}"))
    }

    /// Keeps `bytes`, which hash to `cid`, for round `round` of task `task_id`: written to a temporary file and
    /// renamed. Not synced: every read is checked against the CID, and the durable copy is the one pinned on IPFS,
    /// which a file lost or cut short in a crash falls back to.
    pub async fn keep(&self, task_id: u64, round: u32, cid: &Cid, bytes: Bytes) -> std::io::Result<()> {
        let (dir, cid) = (self.round_dir(task_id, round), *cid);
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(cid.to_string());
            let partial = dir.join(format!(".{cid}.{}.partial", std::process::id()));
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(&bytes)?;
            std::fs::rename(&partial, &path)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The update `cid` of the round if it is kept here, whole and no larger than `limit`; `None` otherwise (never
    /// kept, kept by another replica, or damaged since, which is logged).
    pub async fn read(&self, task_id: u64, round: u32, cid: &Cid, limit: u64) -> Option<Bytes> {
        let path = self.round_dir(task_id, round).join(cid.to_string());
        let size = tokio::fs::metadata(&path).await.ok()?.len();
        if size > limit {
            tracing::warn!(path = %path.display(), size, limit, "a spooled update is larger than its limit; fetching it");
            return None;
        }
        let bytes = Bytes::from(tokio::fs::read(&path).await.ok()?);
        let (checked, bytes) = tokio::task::spawn_blocking(move || (DagBuilder::cid_of(&bytes), bytes)).await.ok()?;
        if checked != *cid {
            tracing::warn!(path = %path.display(), "a spooled update does not hash to its CID; fetching it");
            return None;
        }
        Some(bytes)
    }

    /// Drops what the spool keeps for a finalized round.
    pub async fn forget_round(&self, task_id: u64, round: u32) -> std::io::Result<()> {
        match tokio::fs::remove_dir_all(self.round_dir(task_id, round)).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kept_updates_read_back_checked_and_go_with_their_round() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path().join("spool")).await.unwrap();
        let bytes = Bytes::from_static(b"an update");
        let cid = DagBuilder::cid_of(&bytes);
        spool.keep(3, 1, &cid, bytes.clone()).await.unwrap();
        assert_eq!(spool.read(3, 1, &cid, 1 << 20).await, Some(bytes.clone()));
        assert_eq!(spool.read(3, 2, &cid, 1 << 20).await, None, "another round");
        assert_eq!(spool.read(3, 1, &cid, 4).await, None, "over the limit");
        // Damaged on disk: not trusted.
        let path = spool.round_dir(3, 1).join(cid.to_string());
        std::fs::write(&path, b"an updatE").unwrap();
        assert_eq!(spool.read(3, 1, &cid, 1 << 20).await, None);
        spool.forget_round(3, 1).await.unwrap();
        assert!(!spool.round_dir(3, 1).exists());
        spool.forget_round(3, 1).await.unwrap();
    }
}
