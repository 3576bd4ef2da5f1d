use crate::{Context, Error, Result};
use hkdf::Hkdf;
use k256::{
    PublicKey, SecretKey,
    elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use sha3::{Digest, Keccak256};
use std::{fmt, str::FromStr};

/// A 32-byte content key: it seals one artefact.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey(pub(crate) [u8; 32]);

impl ContentKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self(key)
    }

    /// The key's bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

impl Serialize for ContentKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(self.0)))
    }
}

impl<'de> Deserialize<'de> for ContentKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = decode_hex(&text).map_err(serde::de::Error::custom)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| serde::de::Error::custom("a content key is 32 bytes"))?;
        Ok(Self(key))
    }
}

/// Content keys derived from a secret, one per context: the coordinator derives each round's checkpoint key from
/// its account key, so every replica and every restart derives the same key and nothing more is kept.
pub struct KeyDerivation(Hkdf<Sha256>);

impl KeyDerivation {
    /// Derivation from `secret` (at least 32 bytes of key material).
    pub fn new(secret: &[u8]) -> Self {
        Self(Hkdf::<Sha256>::new(Some(b"tessera-seal-v1 content keys"), secret))
    }

    /// The content key of `context`.
    pub fn key(&self, context: &Context) -> ContentKey {
        let mut key = [0u8; 32];
        self.0.expand(context.as_bytes(), &mut key).expect("32 bytes is a valid HKDF-SHA256 length");
        ContentKey(key)
    }
}

/// A reader's secp256k1 private key: it opens the keys wrapped for its [`ReaderId`].
#[derive(Clone)]
pub struct ReaderKey(pub(crate) SecretKey);

impl ReaderKey {
    /// The key from its 32 bytes (an Ethereum private key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        SecretKey::from_slice(bytes).map(Self).map_err(|e| Error::InvalidKey(e.to_string()))
    }

    /// A fresh random key.
    pub fn random() -> Self {
        Self(SecretKey::random(&mut rand::rngs::OsRng))
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    /// The reader it opens keys for.
    pub fn reader(&self) -> ReaderId {
        ReaderId(self.0.public_key())
    }
}

impl FromStr for ReaderKey {
    type Err = Error;

    /// 0x-hex (or plain hex) of the 32 bytes.
    fn from_str(s: &str) -> Result<Self> {
        Self::from_bytes(&decode_hex(s.trim())?)
    }
}

impl fmt::Debug for ReaderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReaderKey({})", self.reader())
    }
}

/// A reader: a secp256k1 public key, written as the 0x-hex of its 33-byte compressed form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReaderId(pub(crate) PublicKey);

impl ReaderId {
    /// The 33-byte compressed form.
    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.0.to_encoded_point(true);
        point.as_bytes().try_into().expect("a compressed secp256k1 point is 33 bytes")
    }

    /// A reader from its SEC1 encoding (compressed or not).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self> {
        let point = k256::EncodedPoint::from_bytes(bytes).map_err(|e| Error::InvalidKey(e.to_string()))?;
        Option::from(PublicKey::from_encoded_point(&point))
            .map(Self)
            .ok_or_else(|| Error::InvalidKey("not a point on secp256k1".into()))
    }

    /// The Ethereum address of this key: the last 20 bytes of the Keccak-256 of its uncompressed coordinates.
    pub fn address(&self) -> [u8; 20] {
        let point = self.0.to_encoded_point(false);
        let hash = Keccak256::digest(&point.as_bytes()[1..]);
        hash[12..].try_into().expect("20 bytes")
    }

    /// [`Self::address`] as lowercase 0x-hex.
    pub fn address_hex(&self) -> String {
        format!("0x{}", hex::encode(self.address()))
    }
}

impl fmt::Display for ReaderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.to_compressed()))
    }
}

impl fmt::Debug for ReaderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReaderId({self})")
    }
}

impl FromStr for ReaderId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_sec1(&decode_hex(s.trim())?)
    }
}

impl Serialize for ReaderId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReaderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>> {
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|e| Error::InvalidKey(format!("{text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readers_address_is_its_ethereum_address() {
        // Anvil's first account.
        let key: ReaderKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse().unwrap();
        assert_eq!(key.reader().address_hex(), "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
        let text = key.reader().to_string();
        assert_eq!(text.len(), 2 + 66);
        assert_eq!(text.parse::<ReaderId>().unwrap(), key.reader());
        assert!("0x02".parse::<ReaderId>().is_err());
        assert!(ReaderKey::from_bytes(&[0u8; 32]).is_err(), "zero is not a key");
    }

    #[test]
    fn derived_keys_differ_by_context_and_secret() {
        let a = KeyDerivation::new(&[1u8; 32]);
        let b = KeyDerivation::new(&[2u8; 32]);
        let round1 = Context::checkpoint(1, "0xAb", 1, 1);
        let round2 = Context::checkpoint(1, "0xab", 1, 2);
        assert_eq!(a.key(&round1), a.key(&Context::checkpoint(1, "0xab", 1, 1)), "addresses in any case");
        assert_ne!(a.key(&round1), a.key(&round2));
        assert_ne!(a.key(&round1), b.key(&round1));
        assert_ne!(a.key(&Context::update(1, "0xab", 1, 1, "0xcd")), a.key(&round1));
    }
}
