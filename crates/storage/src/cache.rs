use crate::{Cid, DagBuilder, Error, Result};
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// Verified copies of objects on local disk, one file per CID.
///
/// A copy is re-hashed on every read, so a file changed on disk is caught, removed and reported
/// instead of being used. Files are written under a temporary name and renamed, so a crash never
/// leaves a partial copy under a CID's name.
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// A cache in `dir`, created if missing.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir).await.map_err(|e| cache_error(format!("creating {}", dir.display()), e))?;
        Ok(Self { dir })
    }

    /// Where the copy of `cid` lives.
    pub fn path_of(&self, cid: &Cid) -> PathBuf {
        self.dir.join(cid.to_string())
    }

    /// The verified copy of `cid`, `None` when there is none.
    pub async fn get(&self, cid: &Cid, limit: u64) -> Result<Option<Bytes>> {
        let path = self.path_of(cid);
        let size = match tokio::fs::metadata(&path).await {
            Ok(metadata) => metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(cache_error(format!("reading {}", path.display()), e)),
        };
        if size > limit {
            return Err(Error::TooLarge { cid: *cid, limit });
        }
        let bytes = tokio::fs::read(&path).await.map_err(|e| cache_error(format!("reading {}", path.display()), e))?;
        if DagBuilder::cid_of(&bytes) != *cid {
            remove(&path).await?;
            return Err(Error::CacheCorrupted { cid: *cid, path });
        }
        Ok(Some(bytes.into()))
    }

    /// Stores a copy of `bytes`, which the caller has verified to be `cid`.
    pub async fn insert(&self, cid: &Cid, bytes: &[u8]) -> Result<()> {
        let path = self.path_of(cid);
        let partial = self.dir.join(format!(".{cid}.{}.partial", std::process::id()));
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(|e| cache_error(format!("writing {}", partial.display()), e))?;
        tokio::fs::rename(&partial, &path).await.map_err(|e| cache_error(format!("renaming to {}", path.display()), e))
    }
}

async fn remove(path: &Path) -> Result<()> {
    tokio::fs::remove_file(path).await.map_err(|e| cache_error(format!("removing {}", path.display()), e))
}

fn cache_error(context: String, source: std::io::Error) -> Error {
    Error::Cache { context, source }
}
