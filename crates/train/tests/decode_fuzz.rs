//! Malformed input never makes the decoder panic: it returns an error (or, for a harmless flip, a valid file).

use proptest::prelude::*;
use std::sync::LazyLock;
use tessera_train::{ArchitectureId, DecodeLimits, FileKind, Header, WeightsFile, WireDtype};

static VALID: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let arch = ArchitectureId::Lenet5MnistV1;
    let header = Header {
        architecture: arch,
        kind: FileKind::Update,
        round: 3,
        parent_cid: "QmParent".into(),
        num_samples: 10,
        dtype: WireDtype::F16,
    };
    WeightsFile { header, parameters: arch.init_parameters(0) }.encode().unwrap()
});

fn header_end() -> usize {
    8 + u64::from_le_bytes(VALID[..8].try_into().unwrap()) as usize
}

fn decode(bytes: &[u8]) -> Result<WeightsFile, tessera_train::Error> {
    WeightsFile::decode(bytes, &DecodeLimits::default())
}

fn with_header(json: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend(json.as_bytes());
    bytes.resize(bytes.len() + data_len, 0);
    bytes
}

proptest! {
    // No failure persistence: integration tests have no lib.rs beside them for proptest to anchor the file to.
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(decode(&bytes).is_err());
    }

    #[test]
    fn random_bytes_behind_a_plausible_prefix_are_rejected(len in 0u64..2048, body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.push(b'{');
        bytes.extend(body);
        prop_assert!(decode(&bytes).is_err());
    }

    #[test]
    fn truncated_files_are_rejected(cut in 0usize..1 << 20) {
        let cut = cut % VALID.len();
        prop_assert!(decode(&VALID[..cut]).is_err());
        // Cuts inside the header hit the JSON parser; these cover every such length.
        prop_assert!(decode(&VALID[..cut % header_end()]).is_err());
    }

    #[test]
    fn flipped_header_bytes_never_panic(flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..8)) {
        let mut bytes = VALID.clone();
        for (position, mask) in flips {
            bytes[position % (header_end() + 64)] ^= mask;
        }
        let _ = decode(&bytes);
    }

    #[test]
    fn flipped_data_bytes_decode_or_fail_cleanly(position in any::<usize>(), mask in 1u8..=255) {
        let mut bytes = VALID.clone();
        let position = header_end() + position % (bytes.len() - header_end());
        bytes[position] ^= mask;
        // A flip in the values gives another valid file, unless it makes a value infinite or NaN.
        if let Err(error) = decode(&bytes) {
            prop_assert!(matches!(error, tessera_train::Error::NonFinite { .. }), "{error}");
        }
    }

    #[test]
    fn wrong_header_lengths_are_rejected(declared in any::<u64>()) {
        prop_assume!(declared != (header_end() - 8) as u64);
        let mut bytes = VALID.clone();
        bytes[..8].copy_from_slice(&declared.to_le_bytes());
        prop_assert!(decode(&bytes).is_err());
    }

    #[test]
    fn huge_declared_sizes_are_rejected(dims in prop::collection::vec(any::<u64>(), 0..6), end in any::<u64>(), data_len in 0usize..256) {
        let dims: Vec<String> = dims.iter().map(u64::to_string).collect();
        let json = format!(
            r#"{{"__metadata__":{{"format":"tessera-weights-v1","architecture":"lenet5-mnist-v1","kind":"update","round":"1","parent_cid":"","num_samples":"1","dtype":"F32"}},"conv1.weight":{{"dtype":"F32","shape":[{}],"data_offsets":[0,{end}]}}}}"#,
            dims.join(",")
        );
        prop_assert!(decode(&with_header(&json, data_len)).is_err());
    }

    #[test]
    fn json_like_headers_are_rejected(json in r#"\{[\{\}\[\]":,0-9a-z_. -]{0,300}"#, data_len in 0usize..64) {
        prop_assert!(decode(&with_header(&json, data_len)).is_err());
    }
}

#[test]
fn deeply_nested_json_is_rejected_without_overflowing_the_stack() {
    let json = format!("{{\"a\":{}{}}}", "[".repeat(30_000), "]".repeat(30_000));
    assert!(decode(&with_header(&json, 0)).is_err());
}

#[test]
fn the_valid_file_decodes() {
    assert!(decode(&VALID).is_ok());
}
