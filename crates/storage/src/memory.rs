use crate::{Cid, ContentStore, DagBuilder, Error, Result};
use async_trait::async_trait;
use bytes::Bytes;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

/// A [`ContentStore`] in memory, with the same CIDs as an IPFS node and no daemon, for tests and
/// simulations.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    objects: Arc<Mutex<HashMap<Cid, Bytes>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many objects it holds.
    pub fn len(&self) -> usize {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ContentStore for MemoryStore {
    async fn put(&self, bytes: Bytes) -> Result<Cid> {
        let cid = DagBuilder::cid_of(&bytes);
        self.objects.lock().unwrap_or_else(PoisonError::into_inner).insert(cid, bytes);
        Ok(cid)
    }

    async fn get(&self, cid: &Cid, limit: u64) -> Result<Bytes> {
        let bytes = self
            .objects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(cid)
            .cloned()
            .ok_or(Error::NotFound(*cid))?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge { cid: *cid, limit });
        }
        Ok(bytes)
    }

    async fn unpin(&self, cid: &Cid) -> Result<()> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner).remove(cid);
        Ok(())
    }

    async fn pin(&self, cid: &Cid) -> Result<()> {
        let objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        if objects.contains_key(cid) { Ok(()) } else { Err(Error::NotFound(*cid)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_under_the_ipfs_cid_and_enforces_the_limit() {
        let store = MemoryStore::new();
        let cid = store.put(Bytes::from_static(b"hello\n")).await.unwrap();
        assert_eq!(cid.to_string(), "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
        assert_eq!(store.get(&cid, 6).await.unwrap(), Bytes::from_static(b"hello\n"));
        assert!(matches!(store.get(&cid, 5).await, Err(Error::TooLarge { .. })));
        store.unpin(&cid).await.unwrap();
        assert!(matches!(store.get(&cid, 6).await, Err(Error::NotFound(_))));
    }
}
