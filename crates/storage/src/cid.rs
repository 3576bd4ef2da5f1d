use crate::{Error, Result};
use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

/// The multihash prefix of a sha2-256 digest: code 0x12, length 32.
const SHA2_256_PREFIX: [u8; 2] = [0x12, 0x20];
/// The CIDv1 prefix of a dag-pb object: version 1, codec 0x70.
const CIDV1_DAG_PB_PREFIX: [u8; 2] = [0x01, 0x70];

/// The content identifier of a dag-pb object hashed with sha2-256: every CIDv0 (`Qm…`) and every
/// CIDv1 with the dag-pb codec and sha2-256 (`bafy…`).
///
/// Those are the objects `ipfs add` makes by default, and they differ only in the 32-byte digest,
/// which is therefore all the chain stores ([`Cid::to_bytes32`]). Displayed as CIDv0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid([u8; 32]);

impl Cid {
    /// The CID with this sha2-256 digest of the root block.
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The sha2-256 digest of the root block.
    pub const fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `bytes32` the contracts store.
    pub const fn to_bytes32(&self) -> [u8; 32] {
        self.0
    }

    /// The CID whose digest a contract stored; `None` for the zero word, which means "no CID".
    pub fn from_bytes32(word: [u8; 32]) -> Option<Self> {
        (word != [0; 32]).then_some(Self(word))
    }

    /// The binary multihash, which is also the binary CIDv0 and what dag-pb links hold.
    pub fn to_multihash(&self) -> [u8; 34] {
        let mut bytes = [0; 34];
        bytes[..2].copy_from_slice(&SHA2_256_PREFIX);
        bytes[2..].copy_from_slice(&self.0);
        bytes
    }

    /// The base58btc CIDv0 string, `Qm…`.
    pub fn to_v0_string(&self) -> String {
        bs58::encode(self.to_multihash()).into_string()
    }

    /// The base32 CIDv1 string, `bafy…`.
    pub fn to_v1_string(&self) -> String {
        let mut bytes = Vec::with_capacity(36);
        bytes.extend_from_slice(&CIDV1_DAG_PB_PREFIX);
        bytes.extend_from_slice(&self.to_multihash());
        format!("b{}", BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
    }

    fn from_multihash(input: &str, bytes: &[u8]) -> Result<Self> {
        let invalid = |reason| Error::InvalidCid { input: input.to_owned(), reason };
        let digest = bytes.strip_prefix(&SHA2_256_PREFIX).ok_or_else(|| invalid("not a sha2-256 multihash"))?;
        let digest: [u8; 32] = digest.try_into().map_err(|_| invalid("a sha2-256 digest has 32 bytes"))?;
        Ok(Self(digest))
    }
}

impl FromStr for Cid {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidCid { input: input.to_owned(), reason };
        if input.len() == 46 && input.starts_with("Qm") {
            let bytes = bs58::decode(input).into_vec().map_err(|_| invalid("not base58btc"))?;
            return Self::from_multihash(input, &bytes);
        }
        if let Some(base32) = input.strip_prefix('b') {
            let bytes =
                BASE32_NOPAD.decode(base32.to_ascii_uppercase().as_bytes()).map_err(|_| invalid("not base32"))?;
            let multihash = bytes.strip_prefix(&CIDV1_DAG_PB_PREFIX).ok_or_else(|| invalid("not a dag-pb CIDv1"))?;
            return Self::from_multihash(input, multihash);
        }
        Err(invalid("expected a CIDv0 (Qm…) or a base32 CIDv1 (b…)"))
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_v0_string())
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl Serialize for Cid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `printf 'hello\n' | ipfs_cid` (Debian's ipfs-cid) prints both forms.
    const HELLO_V0: &str = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN";
    const HELLO_V1: &str = "bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4";

    #[test]
    fn v0_and_v1_name_the_same_object() {
        let v0: Cid = HELLO_V0.parse().unwrap();
        let v1: Cid = HELLO_V1.parse().unwrap();
        assert_eq!(v0, v1);
        assert_eq!(v0.to_v0_string(), HELLO_V0);
        assert_eq!(v0.to_v1_string(), HELLO_V1);
    }

    #[test]
    fn bytes32_round_trips_and_zero_means_none() {
        let cid: Cid = HELLO_V0.parse().unwrap();
        assert_eq!(Cid::from_bytes32(cid.to_bytes32()), Some(cid));
        assert_eq!(Cid::from_bytes32([0; 32]), None);
    }

    #[test]
    fn serde_uses_the_v0_string() {
        let cid: Cid = HELLO_V1.parse().unwrap();
        assert_eq!(serde_json::to_string(&cid).unwrap(), format!("\"{HELLO_V0}\""));
        assert_eq!(serde_json::from_str::<Cid>(&format!("\"{HELLO_V1}\"")).unwrap(), cid);
    }

    #[test]
    fn rejects_what_it_cannot_name() {
        for input in [
            "",
            "Qm",
            "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXE0", // '0' is not base58
            "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", // raw codec
            "zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7",
        ] {
            assert!(input.parse::<Cid>().is_err(), "{input} parsed");
        }
    }
}
