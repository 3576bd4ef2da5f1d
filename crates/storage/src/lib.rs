//! Content-addressed storage for checkpoints, updates and round manifests.
//!
//! Objects are UnixFS files in dag-pb with sha2-256, as `ipfs add` stores them by default, so one
//! 32-byte digest names each object on chain ([`Cid::to_bytes32`]). [`ContentStore`] is the boundary
//! the coordinator and workers use; [`IpfsStore`] talks to any node or pinning service with the Kubo
//! RPC API through [`KuboClient`], and [`MemoryStore`] gives the same CIDs with no daemon, for tests.
//! Nothing fetched is trusted: every object is re-hashed with [`DagBuilder`] and checked against the
//! CID it was asked for, from the node and from the local [`DiskCache`] alike.

mod cache;
mod cid;
mod error;
mod kubo;
mod memory;
mod store;
mod unixfs;

pub use cache::DiskCache;
pub use cid::Cid;
pub use error::{Error, Result};
pub use kubo::{AddedObject, BlockStat, ClientConfig, KuboClient, NodeId};
pub use memory::MemoryStore;
pub use store::{ContentStore, IpfsStore};
pub use tessera_net::TlsRoots;
pub use unixfs::{CHUNK_SIZE, DagBuilder, MAX_LINKS};
