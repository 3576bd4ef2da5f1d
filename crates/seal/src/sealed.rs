//! A sealed artefact: `MAGIC`, the header's length (u32, big-endian), the JSON header (context, nonce, the
//! content key wrapped for each reader named at sealing) and the ChaCha20-Poly1305 ciphertext. The header is the
//! associated data, so nobody can swap a wrap or relabel the context without the ciphertext failing to open.

use crate::{ContentKey, Context, Error, ReaderId, ReaderKey, Result, WrappedKey, unwrap_own, wrap};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, Payload},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"TSEALv1\0";

/// The largest header read: thousands of wraps fit.
const MAX_HEADER_BYTES: usize = 4 << 20;

/// What sealing adds to an artefact, at most, as readers bound their fetches: the header with a wrapped key for each
/// of a few thousand readers, and the tag.
pub const MAX_OVERHEAD: u64 = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    context: String,
    #[serde(with = "nonce_hex")]
    nonce: [u8; 12],
    wraps: Vec<WrappedKey>,
}

/// A sealed artefact, parsed but not opened.
#[derive(Debug)]
pub struct Sealed<'a> {
    header: Header,
    aad: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Sealed<'a> {
    /// Parses `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let malformed = |why: &str| Error::Malformed(why.to_owned());
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| malformed("no tessera-sealed-v1 magic"))?;
        let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(|| malformed("truncated header length"))?;
        let length = u32::from_be_bytes(*length) as usize;
        if length > MAX_HEADER_BYTES || length > rest.len() {
            return Err(malformed("header length past the end"));
        }
        let header: Header = serde_json::from_slice(&rest[..length]).map_err(|e| malformed(&e.to_string()))?;
        // One wrap per reader: a reader given a decoy wrap before its true one would open the decoy.
        let mut readers: Vec<[u8; 33]> = header.wraps.iter().map(|w| w.to.to_compressed()).collect();
        readers.sort_unstable();
        if readers.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(malformed("a reader is named twice"));
        }
        let aad = &bytes[..MAGIC.len() + 4 + length];
        Ok(Self { header, aad, ciphertext: &rest[length..] })
    }

    /// The context it was sealed for.
    pub fn context(&self) -> &str {
        &self.header.context
    }

    /// The readers it names, with their wrapped keys.
    pub fn wraps(&self) -> &[WrappedKey] {
        &self.header.wraps
    }

    /// The content key, opened with `reader`'s wrap.
    pub fn key_for(&self, reader: &ReaderKey, context: &Context) -> Result<ContentKey> {
        unwrap_own(&self.header.wraps, reader, context)
    }

    /// The plaintext, if `key` opens it in `context`.
    pub fn open(&self, key: &ContentKey, context: &Context) -> Result<Vec<u8>> {
        if self.header.context != context.to_string() {
            return Err(Error::Tampered(format!("{context} (it was sealed for {})", self.header.context)));
        }
        ChaCha20Poly1305::new(&key.0.into())
            .decrypt(&self.header.nonce.into(), Payload { msg: self.ciphertext, aad: self.aad })
            .map_err(|_| Error::Tampered(context.to_string()))
    }
}

/// Whether `bytes` are a sealed artefact (by its magic; [`Sealed::parse`] checks the rest).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Seals `plaintext` with `key` in `context`, with the key wrapped for each of `readers`. Deterministic.
pub fn seal(key: &ContentKey, context: &Context, plaintext: &[u8], readers: &[ReaderId]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    let digest = Sha256::new()
        .chain_update(b"tessera-seal-v1 nonce")
        .chain_update(key.0)
        .chain_update(context.as_bytes())
        .chain_update(plaintext)
        .finalize();
    nonce.copy_from_slice(&digest[..12]);
    let header = Header {
        context: context.to_string(),
        nonce,
        wraps: readers.iter().map(|reader| wrap(key, reader, context)).collect(),
    };
    let header = serde_json::to_vec(&header).expect("a header serialises");
    let length = u32::try_from(header.len()).expect("a header under 4 GiB");
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + plaintext.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&header);
    let ciphertext = ChaCha20Poly1305::new(&key.0.into())
        .encrypt(&nonce.into(), Payload { msg: plaintext, aad: &out })
        .expect("ChaCha20-Poly1305 seals any plaintext under 256 GiB");
    out.extend_from_slice(&ciphertext);
    out
}

/// Opens a sealed artefact with `key` in `context`.
pub fn open(bytes: &[u8], key: &ContentKey, context: &Context) -> Result<Vec<u8>> {
    Sealed::parse(bytes)?.open(key, context)
}

/// The SHA-256 of a plaintext as 0x-hex: what a manifest commits to beside the ciphertext's CID.
pub fn plaintext_sha256(plaintext: &[u8]) -> String {
    format!("0x{}", hex::encode(Sha256::digest(plaintext)))
}

mod nonce_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(nonce: &[u8; 12], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(nonce))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 12], D::Error> {
        let bytes = hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)?;
        bytes.try_into().map_err(|_| serde::de::Error::custom("a nonce is 12 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn context(round: u32) -> Context {
        Context::update(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3", 1, round, "0xaa")
    }

    #[test]
    fn readers_open_and_outsiders_do_not() {
        let (coordinator, auditor, outsider) = (ReaderKey::random(), ReaderKey::random(), ReaderKey::random());
        let key = ContentKey::random();
        let sealed = seal(&key, &context(1), b"an update", &[coordinator.reader(), auditor.reader()]);
        assert!(is_sealed(&sealed) && !is_sealed(b"an update"));
        let parsed = Sealed::parse(&sealed).unwrap();
        for reader in [&coordinator, &auditor] {
            let opened = parsed.key_for(reader, &context(1)).unwrap();
            assert_eq!(parsed.open(&opened, &context(1)).unwrap(), b"an update");
        }
        assert!(matches!(parsed.key_for(&outsider, &context(1)), Err(Error::NotForReader { .. })));
        assert!(matches!(parsed.open(&ContentKey::random(), &context(1)), Err(Error::Tampered(_))));
        assert!(matches!(parsed.open(&key, &context(2)), Err(Error::Tampered(_))), "another round's context");
        assert!(parsed.wraps().iter().all(|w| w.is_honest(&key, &context(1))));
    }

    #[test]
    fn sealing_is_deterministic_and_the_nonce_follows_the_plaintext() {
        let key = ContentKey::random();
        let reader = ReaderKey::random().reader();
        assert_eq!(seal(&key, &context(1), b"x", &[reader]), seal(&key, &context(1), b"x", &[reader]));
        let a = Sealed::parse(&seal(&key, &context(1), b"x", &[])).unwrap().header.nonce;
        let b = Sealed::parse(&seal(&key, &context(1), b"y", &[])).unwrap().header.nonce;
        assert_ne!(a, b, "two plaintexts under one key never share a nonce");
    }

    #[test]
    fn a_swapped_wrap_breaks_the_seal() {
        let (coordinator, auditor) = (ReaderKey::random(), ReaderKey::random());
        let key = ContentKey::random();
        let sealed = seal(&key, &context(1), b"payload", &[coordinator.reader()]);
        // Re-encode the header with another wrap: the ciphertext's associated data no longer matches.
        let parsed = Sealed::parse(&sealed).unwrap();
        let mut header = serde_json::to_value(&parsed.header).unwrap();
        header["wraps"] = serde_json::to_value([wrap(&key, &auditor.reader(), &context(1))]).unwrap();
        let header = serde_json::to_vec(&header).unwrap();
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(&(header.len() as u32).to_be_bytes());
        forged.extend_from_slice(&header);
        forged.extend_from_slice(parsed.ciphertext);
        assert!(matches!(open(&forged, &key, &context(1)), Err(Error::Tampered(_))));
    }

    #[test]
    fn a_reader_named_twice_is_refused() {
        let reader = ReaderKey::random().reader();
        let sealed = seal(&ContentKey::random(), &context(1), b"x", &[reader, reader]);
        assert!(matches!(Sealed::parse(&sealed), Err(Error::Malformed(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut input = MAGIC.to_vec();
            input.extend_from_slice(&bytes);
            let _ = Sealed::parse(&input).map(|s| s.open(&ContentKey::from_bytes([0; 32]), &context(1)));
        }

        #[test]
        fn round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let key = ContentKey::random();
            let sealed = seal(&key, &context(3), &plaintext, &[]);
            prop_assert_eq!(open(&sealed, &key, &context(3)).unwrap(), plaintext);
        }
    }
}
