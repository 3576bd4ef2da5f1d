//! ECIES on secp256k1: a content key wrapped for one reader's public key. The ephemeral key is derived from the
//! content key, the reader and the context, so a wrap is a function of what it wraps: anyone who holds the
//! content key can recompute every wrap of it and see that each reader was given the true key
//! ([`WrappedKey::is_honest`]), which is how the coordinator holds workers to wrapping their updates for the
//! auditors too.

use crate::{ContentKey, Context, Error, ReaderId, ReaderKey, Result, key::decode_hex};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, Payload},
};
use hkdf::Hkdf;
use k256::{PublicKey, SecretKey, ecdh::diffie_hellman, elliptic_curve::sec1::ToEncodedPoint};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;

/// A content key wrapped for one reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The reader.
    pub to: ReaderId,
    /// The ephemeral public key, compressed.
    #[serde(serialize_with = "to_hex", deserialize_with = "from_hex")]
    pub ephemeral: Vec<u8>,
    /// The content key sealed under the shared secret, with its tag (48 bytes).
    #[serde(serialize_with = "to_hex", deserialize_with = "from_hex")]
    pub sealed: Vec<u8>,
}

impl WrappedKey {
    /// Whether this is exactly the wrap of `key` for its reader in `context`: it opens to `key` for the reader.
    pub fn is_honest(&self, key: &ContentKey, context: &Context) -> bool {
        wrap(key, &self.to, context) == *self
    }
}

/// Opens the key `wraps` give `reader` in `context`: [`Error::NotForReader`] when none is for it.
pub fn unwrap_own(wraps: &[WrappedKey], reader: &ReaderKey, context: &Context) -> Result<ContentKey> {
    let me = reader.reader();
    let wrapped = wraps.iter().find(|w| w.to == me).ok_or_else(|| Error::NotForReader {
        to: wraps.iter().map(|w| w.to.to_string()).collect::<Vec<_>>().join(", "),
        reader: me.to_string(),
    })?;
    unwrap(wrapped, reader, context)
}

/// Wraps `key` for `to` in `context`.
pub fn wrap(key: &ContentKey, to: &ReaderId, context: &Context) -> WrappedKey {
    let ephemeral = ephemeral_secret(key, to, context);
    let ephemeral_public = ephemeral.public_key().to_encoded_point(true).as_bytes().to_vec();
    let kek = key_encryption_key(&ephemeral, &to.0, &ephemeral_public, to, context);
    let sealed = ChaCha20Poly1305::new(&kek.into())
        .encrypt(&[0u8; 12].into(), Payload { msg: &key.0, aad: context.as_bytes() })
        .expect("ChaCha20-Poly1305 seals 32 bytes");
    WrappedKey { to: *to, ephemeral: ephemeral_public, sealed }
}

/// Opens a key wrapped for `reader` in `context`.
pub fn unwrap(wrapped: &WrappedKey, reader: &ReaderKey, context: &Context) -> Result<ContentKey> {
    let me = reader.reader();
    if wrapped.to != me {
        return Err(Error::NotForReader { to: wrapped.to.to_string(), reader: me.to_string() });
    }
    let ephemeral = ReaderId::from_sec1(&wrapped.ephemeral)?;
    let kek = key_encryption_key(&reader.0, &ephemeral.0, &wrapped.ephemeral, &me, context);
    let key = ChaCha20Poly1305::new(&kek.into())
        .decrypt(&[0u8; 12].into(), Payload { msg: &wrapped.sealed, aad: context.as_bytes() })
        .map_err(|_| Error::Tampered(context.to_string()))?;
    Ok(ContentKey(key.try_into().map_err(|_| Error::Tampered(context.to_string()))?))
}

/// The ephemeral secret of `key`'s wrap for `to`: HKDF of the content key, never zero or out of range (a
/// derived value that is retries with a counter, with probability about 2^-128).
fn ephemeral_secret(key: &ContentKey, to: &ReaderId, context: &Context) -> SecretKey {
    let hkdf = Hkdf::<Sha256>::new(Some(b"tessera-seal-v1 ephemeral"), &key.0);
    for counter in 0u8..=u8::MAX {
        let mut bytes = [0u8; 32];
        hkdf.expand_multi_info(&[context.as_bytes(), &to.to_compressed(), &[counter]], &mut bytes)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        if let Ok(secret) = SecretKey::from_slice(&bytes) {
            return secret;
        }
    }
    unreachable!("256 HKDF outputs in a row outside the secp256k1 scalar range")
}

/// The wrap's key: HKDF-SHA256 of the ECDH shared secret's x coordinate, salted with both public keys.
fn key_encryption_key(
    secret: &SecretKey,
    public: &PublicKey,
    ephemeral_public: &[u8],
    reader: &ReaderId,
    context: &Context,
) -> [u8; 32] {
    let shared = diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    let salt = [ephemeral_public, &reader.to_compressed()[..]].concat();
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes());
    let mut kek = [0u8; 32];
    hkdf.expand_multi_info(&[b"tessera-seal-v1 wrap ", context.as_bytes()], &mut kek)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    kek
}

fn to_hex<S: Serializer>(bytes: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(bytes)))
}

fn from_hex<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
    decode_hex(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context::checkpoint(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3", 1, 2)
    }

    #[test]
    fn only_the_reader_opens_its_wrap() {
        let (reader, outsider) = (ReaderKey::random(), ReaderKey::random());
        let key = ContentKey::random();
        let wrapped = wrap(&key, &reader.reader(), &context());
        assert_eq!(unwrap(&wrapped, &reader, &context()).unwrap(), key);
        assert!(matches!(unwrap(&wrapped, &outsider, &context()), Err(Error::NotForReader { .. })));
        // An outsider who relabels the wrap as its own still cannot open it.
        let relabelled = WrappedKey { to: outsider.reader(), ..wrapped.clone() };
        assert!(matches!(unwrap(&relabelled, &outsider, &context()), Err(Error::Tampered(_))));
        // Another round's context does not open it.
        let other = Context::checkpoint(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3", 1, 3);
        assert!(matches!(unwrap(&wrapped, &reader, &other), Err(Error::Tampered(_))));
    }

    #[test]
    fn wraps_are_deterministic_and_checkable_by_key_holders() {
        let reader = ReaderKey::random();
        let key = ContentKey::random();
        let wrapped = wrap(&key, &reader.reader(), &context());
        assert_eq!(wrapped, wrap(&key, &reader.reader(), &context()));
        assert!(wrapped.is_honest(&key, &context()));
        // A wrap of another key for the same reader is caught by whoever holds the true key.
        let decoy = wrap(&ContentKey::random(), &reader.reader(), &context());
        assert!(!decoy.is_honest(&key, &context()));
        let text = serde_json::to_string(&wrapped).unwrap();
        assert_eq!(serde_json::from_str::<WrappedKey>(&text).unwrap(), wrapped);
    }

    #[test]
    fn a_flipped_bit_is_refused() {
        let reader = ReaderKey::random();
        let key = ContentKey::random();
        let mut wrapped = wrap(&key, &reader.reader(), &context());
        wrapped.sealed[5] ^= 1;
        assert!(matches!(unwrap(&wrapped, &reader, &context()), Err(Error::Tampered(_))));
    }
}
