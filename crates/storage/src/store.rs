use crate::{CHUNK_SIZE, Cid, ClientConfig, DagBuilder, DiskCache, Error, KuboClient, Result};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use std::{fmt::Debug, path::Path};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where checkpoints, updates and manifests are kept, addressed by content.
#[async_trait]
pub trait ContentStore: Send + Sync + Debug {
    /// Stores and pins `bytes`, returning their CID.
    async fn put(&self, bytes: Bytes) -> Result<Cid>;

    /// Fetches an object checked against `cid`, refusing one larger than `limit` bytes.
    async fn get(&self, cid: &Cid, limit: u64) -> Result<Bytes>;

    /// Releases an object, so the node may collect it.
    async fn unpin(&self, cid: &Cid) -> Result<()>;

    /// Keeps an object the node holds (one fetched from elsewhere) from being collected.
    async fn pin(&self, cid: &Cid) -> Result<()>;
}

/// A [`ContentStore`] on an IPFS node, with an optional disk cache in front.
///
/// Every object is hashed here before it is used: bytes from the node or the cache that do not
/// hash to the CID asked for are refused.
#[derive(Clone, Debug)]
pub struct IpfsStore {
    client: KuboClient,
    cache: Option<DiskCache>,
}

impl IpfsStore {
    /// A store on the node at `api_url`, without a cache.
    pub fn new(api_url: &str, config: ClientConfig) -> Result<Self> {
        Ok(Self { client: KuboClient::new(api_url, config)?, cache: None })
    }

    /// Keeps a verified copy of every object in `cache`, so nothing is downloaded twice.
    pub fn with_cache(mut self, cache: DiskCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The node's client.
    pub fn client(&self) -> &KuboClient {
        &self.client
    }

    /// Stores and pins a file, streamed from disk: the file is never loaded whole.
    pub async fn put_file(&self, path: &Path) -> Result<Cid> {
        let mut file = tokio::fs::File::open(path).await.map_err(|e| file_error("opening", path, e))?;
        let mut hasher = DagBuilder::new();
        let mut buffer = vec![0; CHUNK_SIZE];
        loop {
            match file.read(&mut buffer).await.map_err(|e| file_error("reading", path, e))? {
                0 => break,
                read => hasher.update(&buffer[..read]),
            }
        }
        let local = hasher.finish();
        let added = self.client.add_file(path, true).await?;
        self.check_added(local, added.cid).await
    }

    /// Fetches an object into a file, checked against `cid` as it streams: memory stays at one
    /// chunk, whatever the object's size. The file appears only once verified.
    pub async fn get_to_file(&self, cid: &Cid, limit: u64, path: &Path) -> Result<u64> {
        let partial = path.with_extension("partial");
        let result = self.stream_to_file(cid, limit, &partial).await;
        match result {
            Ok(len) => {
                tokio::fs::rename(&partial, path).await.map_err(|e| file_error("renaming to", path, e))?;
                Ok(len)
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(error)
            }
        }
    }

    async fn stream_to_file(&self, cid: &Cid, limit: u64, partial: &Path) -> Result<u64> {
        let mut file = tokio::fs::File::create(partial).await.map_err(|e| file_error("creating", partial, e))?;
        let mut stream = self.client.cat(cid).await?;
        let mut hasher = DagBuilder::new();
        while let Some(piece) = stream.try_next().await? {
            if hasher.len() + piece.len() as u64 > limit {
                return Err(Error::TooLarge { cid: *cid, limit });
            }
            hasher.update(&piece);
            file.write_all(&piece).await.map_err(|e| file_error("writing", partial, e))?;
        }
        file.flush().await.map_err(|e| file_error("writing", partial, e))?;
        let len = hasher.len();
        check_content(cid, hasher)?;
        Ok(len)
    }

    async fn check_added(&self, local: Cid, node: Cid) -> Result<Cid> {
        if node != local {
            // Leave nothing pinned that no one will refer to.
            let _ = self.client.pin_rm(&node).await;
            return Err(Error::CidMismatch { local, node });
        }
        Ok(local)
    }

    async fn fetch(&self, cid: &Cid, limit: u64) -> Result<Bytes> {
        let mut stream = self.client.cat(cid).await?;
        let mut hasher = DagBuilder::new();
        let mut bytes = BytesMut::new();
        while let Some(piece) = stream.try_next().await? {
            if hasher.len() + piece.len() as u64 > limit {
                return Err(Error::TooLarge { cid: *cid, limit });
            }
            hasher.update(&piece);
            bytes.extend_from_slice(&piece);
        }
        check_content(cid, hasher)?;
        Ok(bytes.freeze())
    }
}

fn check_content(expected: &Cid, hasher: DagBuilder) -> Result<()> {
    let actual = hasher.finish();
    if actual != *expected {
        return Err(Error::ContentMismatch { expected: *expected, actual });
    }
    Ok(())
}

fn file_error(action: &str, path: &Path, source: std::io::Error) -> Error {
    Error::Cache { context: format!("{action} {}", path.display()), source }
}

#[async_trait]
impl ContentStore for IpfsStore {
    async fn put(&self, bytes: Bytes) -> Result<Cid> {
        let local = DagBuilder::cid_of(&bytes);
        let added = self.client.add(bytes.clone(), true).await?;
        self.check_added(local, added.cid).await?;
        if let Some(cache) = &self.cache {
            cache.insert(&local, &bytes).await?;
        }
        Ok(local)
    }

    async fn get(&self, cid: &Cid, limit: u64) -> Result<Bytes> {
        if let Some(cache) = &self.cache {
            match cache.get(cid, limit).await {
                Ok(Some(bytes)) => return Ok(bytes),
                Ok(None) => {}
                // The node still has the truth: the bad copy is gone, so fetch it afresh.
                Err(error @ Error::CacheCorrupted { .. }) => tracing::warn!(%error, "refetching"),
                Err(error) => return Err(error),
            }
        }
        let bytes = self.fetch(cid, limit).await?;
        if let Some(cache) = &self.cache {
            cache.insert(cid, &bytes).await?;
        }
        Ok(bytes)
    }

    async fn unpin(&self, cid: &Cid) -> Result<()> {
        self.client.pin_rm(cid).await
    }

    async fn pin(&self, cid: &Cid) -> Result<()> {
        self.client.pin_add(cid).await
    }
}
