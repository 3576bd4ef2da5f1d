//! The typed data workers and the coordinator sign off chain (EIP-712), bound to one chain and
//! one marketplace contract so a signature cannot be replayed elsewhere.

use crate::{Error, Result};
use alloy::{
    primitives::{Address, B256, Signature},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};

sol! {
    /// A worker's claim to have trained `round` of `taskId`: its update is the object `updateCid`
    /// (a CIDv0 digest), trained on `numSamples` samples. The message names its `worker`, so two workers
    /// sending the same CID sign different messages: nobody can take another's signed submission as its own,
    /// and the earlier receipt of an update owns it.
    #[derive(Debug, PartialEq, Eq)]
    struct Submission {
        uint256 taskId;
        uint32 round;
        address worker;
        bytes32 updateCid;
        uint64 numSamples;
    }

    /// The coordinator's acknowledgement of a submission: the `sequence`-th of its round, received
    /// at `receivedAtMs` (unix milliseconds).
    #[derive(Debug, PartialEq, Eq)]
    struct SubmissionReceipt {
        uint256 taskId;
        uint32 round;
        address worker;
        bytes32 updateCid;
        uint64 numSamples;
        uint64 sequence;
        uint64 receivedAtMs;
    }
}

/// The signing domain of the marketplace at `marketplace` on chain `chain_id`.
pub fn domain(chain_id: u64, marketplace: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Tessera",
        version: "1",
        chain_id: chain_id,
        verifying_contract: marketplace,
    }
}

/// Signs `value` in `domain`.
pub fn sign<T: SolStruct>(signer: &PrivateKeySigner, value: &T, domain: &Eip712Domain) -> Result<Signature> {
    signer
        .sign_hash_sync(&value.eip712_signing_hash(domain))
        .map_err(|e| Error::Invalid { what: "signature", reason: e.to_string() })
}

/// The EIP-712 digest of `value`: what is signed, and a unique key for the exact message.
pub fn digest<T: SolStruct>(value: &T, domain: &Eip712Domain) -> B256 {
    value.eip712_signing_hash(domain)
}

/// The address that signed `value` in `domain`.
pub fn recover_signer<T: SolStruct>(value: &T, domain: &Eip712Domain, signature: &Signature) -> Result<Address> {
    signature
        .recover_address_from_prehash(&value.eip712_signing_hash(domain))
        .map_err(|e| Error::Invalid { what: "signature", reason: e.to_string() })
}

/// Parses a 65-byte `r ‖ s ‖ v` signature from hex, with or without `0x`.
pub fn parse_signature(hex: &str) -> Result<Signature> {
    hex.parse().map_err(|e| Error::Invalid { what: "signature", reason: format!("{e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U256;

    fn submission() -> Submission {
        Submission {
            taskId: U256::from(1),
            round: 2,
            worker: Address::repeat_byte(9),
            updateCid: B256::repeat_byte(7),
            numSamples: 600,
        }
    }

    #[test]
    fn signatures_recover_the_signer_only_in_their_domain() {
        let signer = PrivateKeySigner::random();
        let here = domain(31337, Address::repeat_byte(1));
        let signature = sign(&signer, &submission(), &here).unwrap();
        let parsed = parse_signature(&signature.to_string()).unwrap();
        assert_eq!(recover_signer(&submission(), &here, &parsed).unwrap(), signer.address());

        let other_chain = domain(1, Address::repeat_byte(1));
        assert_ne!(recover_signer(&submission(), &other_chain, &parsed).unwrap(), signer.address());
        let altered = Submission { numSamples: 601, ..submission() };
        assert_ne!(recover_signer(&altered, &here, &parsed).unwrap(), signer.address());
        // The same update named by another worker is another message, with another digest.
        let other_worker = Submission { worker: Address::repeat_byte(8), ..submission() };
        assert_ne!(recover_signer(&other_worker, &here, &parsed).unwrap(), signer.address());
        assert_ne!(digest(&other_worker, &here), digest(&submission(), &here));
    }

    #[test]
    fn garbage_signatures_are_errors() {
        assert!(parse_signature("0x1234").is_err());
        assert!(parse_signature("not hex").is_err());
    }
}
