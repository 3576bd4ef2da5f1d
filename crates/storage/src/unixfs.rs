//! The CID that `ipfs add` gives a byte string under its defaults (CIDv0, fixed 256 KiB chunks,
//! balanced layout of at most 174 links a node, no raw leaves), computed here without a node.
//!
//! Blocks are encoded as dag-pb `PBNode`s (links first, then data) holding UnixFS `Data`
//! messages. Only the 32-byte digest and sizes of each block are kept, so hashing a stream takes
//! memory for one chunk plus 48 bytes a chunk.

use crate::Cid;
use sha2::{Digest, Sha256};

/// The chunk size of the default fixed-size chunker.
pub const CHUNK_SIZE: usize = 262_144;
/// The most links a node of the balanced layout holds.
pub const MAX_LINKS: usize = 174;

/// UnixFS `Data.Type` of a file.
const UNIXFS_FILE: u64 = 2;

/// A block of the DAG, as its parent links to it.
#[derive(Clone, Copy, Debug)]
struct Child {
    digest: [u8; 32],
    /// The block's size plus every block below it: dag-pb's `Tsize`.
    tree_size: u64,
    /// The file bytes below it, for the parent's `blocksizes`.
    file_size: u64,
}

/// Computes the CID of a byte stream, fed in pieces of any size.
#[derive(Debug)]
pub struct DagBuilder {
    chunk: Vec<u8>,
    leaves: Vec<Child>,
    len: u64,
}

impl Default for DagBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DagBuilder {
    /// An empty stream.
    pub fn new() -> Self {
        Self { chunk: Vec::with_capacity(CHUNK_SIZE), leaves: Vec::new(), len: 0 }
    }

    /// The CID of `bytes`.
    pub fn cid_of(bytes: &[u8]) -> Cid {
        let mut builder = Self::new();
        builder.update(bytes);
        builder.finish()
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Feeds the next bytes of the stream.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (CHUNK_SIZE - self.chunk.len()).min(bytes.len());
            self.chunk.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.chunk.len() == CHUNK_SIZE {
                self.flush_chunk();
            }
        }
    }

    /// The CID of everything fed.
    pub fn finish(mut self) -> Cid {
        if !self.chunk.is_empty() || self.leaves.is_empty() {
            self.flush_chunk();
        }
        if let [single] = self.leaves[..] {
            return Cid::from_digest(single.digest);
        }
        let mut level = self.leaves;
        // Unlike the leaves, a lone node at a higher level still gets a parent: the importer
        // folds only a file of a single chunk into its leaf.
        while level.len() > 1 {
            level = level.chunks(MAX_LINKS).map(parent).collect();
        }
        Cid::from_digest(level[0].digest)
    }

    fn flush_chunk(&mut self) {
        let file_size = self.chunk.len() as u64;
        let mut unixfs = Vec::with_capacity(self.chunk.len() + 16);
        put_varint_field(&mut unixfs, 1, UNIXFS_FILE);
        if !self.chunk.is_empty() {
            put_bytes_field(&mut unixfs, 2, &self.chunk);
        }
        put_varint_field(&mut unixfs, 3, file_size);
        let mut block = Vec::with_capacity(unixfs.len() + 8);
        put_bytes_field(&mut block, 1, &unixfs);
        self.leaves.push(Child { digest: Sha256::digest(&block).into(), tree_size: block.len() as u64, file_size });
        self.chunk.clear();
    }
}

/// The parent node of up to [`MAX_LINKS`] children.
fn parent(children: &[Child]) -> Child {
    let file_size = children.iter().map(|child| child.file_size).sum();
    let mut unixfs = Vec::with_capacity(16 + 10 * children.len());
    put_varint_field(&mut unixfs, 1, UNIXFS_FILE);
    put_varint_field(&mut unixfs, 3, file_size);
    for child in children {
        put_varint_field(&mut unixfs, 4, child.file_size);
    }

    let mut block = Vec::with_capacity(unixfs.len() + 50 * children.len());
    for child in children {
        let mut link = Vec::with_capacity(48);
        put_bytes_field(&mut link, 1, &Cid::from_digest(child.digest).to_multihash());
        put_bytes_field(&mut link, 2, b"");
        put_varint_field(&mut link, 3, child.tree_size);
        put_bytes_field(&mut block, 2, &link);
    }
    put_bytes_field(&mut block, 1, &unixfs);
    let tree_size = block.len() as u64 + children.iter().map(|child| child.tree_size).sum::<u64>();
    Child { digest: Sha256::digest(&block).into(), tree_size, file_size }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    put_varint(out, field << 3);
    put_varint(out, value);
}

fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic test bytes: a simple LCG, so the expected CIDs below can be recomputed with
    /// any tool (`ipfs_cid FILE`, from Debian's ipfs-cid) from the same bytes.
    pub(crate) fn pattern(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn matches_independently_computed_cids() {
        // Expected values from `ipfs_cid` (Debian's ipfs-cid) on the same bytes.
        assert_eq!(DagBuilder::cid_of(b"").to_string(), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
        assert_eq!(DagBuilder::cid_of(b"hello\n").to_string(), "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
        let bytes = pattern(MAX_LINKS * CHUNK_SIZE + 1000);
        let cases = [
            (1, "QmTrw9xmTgJ66Qb8k9B4QTxzJSAsi95evbCFNaxUE7nj8q"),
            // One full chunk, then one byte more: the first two-level tree.
            (CHUNK_SIZE, "QmRD4JoRcYy8YxnmCLumYhnEXJnaXTPsC2rNkrCRHffBFL"),
            (CHUNK_SIZE + 1, "QmfTXCuyA7cW7cRanzKcvzuGQAvrLNUf8Ns8dPicNqrTtY"),
            (1_000_000, "QmZAit1cmjS3KbwSy1LNHWA4XWpL3ESmbmfbjw2dFEYcp1"),
            // A full node of leaves, then a few bytes more: the first three-level tree.
            (MAX_LINKS * CHUNK_SIZE, "QmT1iujYMKeTqdDXVp3AK8dcUp9fuhE3RZ5qH9Pov4SmKu"),
            (MAX_LINKS * CHUNK_SIZE + 1000, "QmZHryi4uY6fgCF6oszpJ99vv9RbCwxjg1EhoR4A7vVDcf"),
        ];
        for (len, expected) in cases {
            assert_eq!(DagBuilder::cid_of(&bytes[..len]).to_string(), expected, "{len} bytes");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn piecewise_feeding_gives_the_same_cid(len in 0usize..700_000, cut in 0usize..700_000) {
            let bytes = pattern(len);
            let cut = cut.min(len);
            let mut builder = DagBuilder::new();
            builder.update(&bytes[..cut]);
            builder.update(&bytes[cut..]);
            prop_assert_eq!(builder.len(), len as u64);
            prop_assert_eq!(builder.finish(), DagBuilder::cid_of(&bytes));
        }
    }
}
