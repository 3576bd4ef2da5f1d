//! The checkpoint/update format: exact round trips, canonical bytes, and a distinct error for each defect.

use std::collections::HashMap;
use tessera_train::{
    ArchitectureId, DecodeLimits, Error, FileKind, Header, MAX_HEADER_BYTES, Parameters, WeightsFile, WireDtype,
};

const LENET: ArchitectureId = ArchitectureId::Lenet5MnistV1;

fn header(kind: FileKind, dtype: WireDtype) -> Header {
    Header { architecture: LENET, kind, round: 7, parent_cid: "QmYwAPJzv5CZsnA".into(), num_samples: 600, dtype }
}

fn checkpoint() -> WeightsFile {
    WeightsFile { header: header(FileKind::Checkpoint, WireDtype::F32), parameters: LENET.init_parameters(1) }
}

fn decode(bytes: &[u8]) -> Result<WeightsFile, Error> {
    WeightsFile::decode(bytes, &DecodeLimits::default())
}

/// A file written by the reference safetensors writer, with any tensors and metadata.
fn raw_file(
    tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)],
    metadata: &HashMap<String, String>,
) -> Vec<u8> {
    let views: Vec<_> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (name.to_string(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap())
        })
        .collect();
    safetensors::serialize(views, &Some(metadata.clone())).unwrap()
}

fn lenet_tensors(params: &Parameters) -> Vec<(&'static str, safetensors::Dtype, Vec<usize>, Vec<u8>)> {
    LENET
        .parameter_specs()
        .iter()
        .zip(params.tensors())
        .map(|(spec, (_, shape, range))| {
            let bytes = params.values()[range].iter().flat_map(|v| v.to_le_bytes()).collect();
            (spec.name, safetensors::Dtype::F32, shape.iter().map(|&d| d as usize).collect(), bytes)
        })
        .collect()
}

fn good_metadata() -> HashMap<String, String> {
    [
        ("format", "tessera-weights-v1"),
        ("architecture", "lenet5-mnist-v1"),
        ("kind", "checkpoint"),
        ("round", "7"),
        ("parent_cid", "QmYwAPJzv5CZsnA"),
        ("num_samples", "600"),
        ("dtype", "F32"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn f32_round_trip_is_exact_and_encoding_is_canonical() {
    let file = checkpoint();
    let bytes = file.encode().unwrap();
    assert_eq!(bytes, file.encode().unwrap());
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(decode(&bytes).unwrap(), file);
    let limits = DecodeLimits::expecting(LENET, FileKind::Checkpoint);
    assert_eq!(WeightsFile::decode(&bytes, &limits).unwrap(), file);
    // The reference parser reads our bytes, and the reference writer's bytes decode to the same file.
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(parsed.tensor("fc1.weight").unwrap().shape(), [512, 1024]);
    assert_eq!(decode(&raw_file(&lenet_tensors(&file.parameters), &good_metadata())).unwrap(), file);
}

#[test]
fn f16_updates_round_trip_within_half_precision() {
    let delta = LENET.init_parameters(2);
    let file = WeightsFile { header: header(FileKind::Update, WireDtype::F16), parameters: delta.clone() };
    let bytes = file.encode().unwrap();
    assert!(bytes.len() < checkpoint().encode().unwrap().len() / 2 + 4096);
    let back = WeightsFile::decode(&bytes, &DecodeLimits::expecting(LENET, FileKind::Update)).unwrap();
    assert_eq!(back.header, file.header);
    for (a, b) in delta.values().iter().zip(back.parameters.values()) {
        assert!((a - b).abs() <= a.abs() * 1e-3 + 1e-7, "{a} vs {b}");
    }
    let mut big = delta;
    big.values_mut()[3] = 1e6;
    let overflow = WeightsFile { header: header(FileKind::Update, WireDtype::F16), parameters: big }.encode();
    assert!(matches!(overflow, Err(Error::Fp16Overflow { index: 3, .. })), "{overflow:?}");
}

#[test]
fn encoding_refuses_what_decoding_would_refuse() {
    let mut file = checkpoint();
    file.parameters.values_mut()[800 + 32 + 5] = f32::NAN;
    assert!(matches!(file.encode(), Err(Error::NonFinite { ref name, index: 5 }) if name == "conv2.weight"));
    let mut file = checkpoint();
    file.header.parent_cid = "bad\"cid".into();
    assert!(matches!(file.encode(), Err(Error::Metadata { key: "parent_cid", .. })));
    let mut file = checkpoint();
    file.header.architecture = ArchitectureId::CnnCifar10V1;
    assert!(matches!(file.encode(), Err(Error::Layout(_))));
}

#[test]
fn limits_on_size_norm_architecture_and_kind() {
    let bytes = checkpoint().encode().unwrap();
    let small = DecodeLimits { max_bytes: bytes.len() - 1, ..DecodeLimits::default() };
    assert!(matches!(WeightsFile::decode(&bytes, &small), Err(Error::TooLarge { .. })));
    let norm = checkpoint().parameters.l2_norm();
    let tight = DecodeLimits { max_norm: Some(norm * 0.99), ..DecodeLimits::default() };
    assert!(matches!(WeightsFile::decode(&bytes, &tight), Err(Error::NormTooLarge { .. })));
    let loose = DecodeLimits { max_norm: Some(norm * 1.01), ..DecodeLimits::default() };
    assert!(WeightsFile::decode(&bytes, &loose).is_ok());
    let cifar = DecodeLimits::expecting(ArchitectureId::CnnCifar10V1, FileKind::Checkpoint);
    assert!(matches!(WeightsFile::decode(&bytes, &cifar), Err(Error::WrongArchitecture { .. })));
    let update = DecodeLimits::expecting(LENET, FileKind::Update);
    assert!(matches!(WeightsFile::decode(&bytes, &update), Err(Error::WrongKind { .. })));
    let mut huge_header = bytes;
    huge_header[..8].copy_from_slice(&(MAX_HEADER_BYTES + 1).to_le_bytes());
    assert!(matches!(decode(&huge_header), Err(Error::HeaderTooLarge { .. })));
}

#[test]
fn each_tensor_defect_has_its_own_error() {
    let params = LENET.init_parameters(1);
    let good = lenet_tensors(&params);
    let meta = good_metadata();

    let missing: Vec<_> = good.iter().filter(|t| t.0 != "fc2.bias").cloned().collect();
    assert!(matches!(decode(&raw_file(&missing, &meta)), Err(Error::MissingTensor(n)) if n == "fc2.bias"));

    let mut extra = good.clone();
    extra.push(("fc3.weight", safetensors::Dtype::F32, vec![1], vec![0; 4]));
    assert!(matches!(decode(&raw_file(&extra, &meta)), Err(Error::UnexpectedTensor(n)) if n == "fc3.weight"));

    let mut reshaped = good.clone();
    reshaped[4].2 = vec![1024, 512];
    assert!(
        matches!(decode(&raw_file(&reshaped, &meta)), Err(Error::TensorShape { name, .. }) if name == "fc1.weight")
    );

    let mut retyped = good.clone();
    retyped[1] = ("conv1.bias", safetensors::Dtype::I32, vec![32], good[1].3.clone());
    assert!(matches!(decode(&raw_file(&retyped, &meta)), Err(Error::TensorDtype { name, .. }) if name == "conv1.bias"));

    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut poisoned = good.clone();
        poisoned[7].3[8..12].copy_from_slice(&bad.to_le_bytes());
        let result = decode(&raw_file(&poisoned, &meta));
        assert!(matches!(result, Err(Error::NonFinite { ref name, index: 2 }) if name == "fc2.bias"), "{result:?}");
    }
}

#[test]
fn metadata_defects_are_errors() {
    let tensors = lenet_tensors(&LENET.init_parameters(1));
    let with = |key: &str, value: Option<&str>| {
        let mut meta = good_metadata();
        match value {
            Some(value) => meta.insert(key.into(), value.into()),
            None => meta.remove(key),
        };
        decode(&raw_file(&tensors, &meta))
    };
    for key in ["format", "architecture", "kind", "round", "parent_cid", "num_samples", "dtype"] {
        assert!(with(key, None).is_err(), "{key} missing");
    }
    assert!(matches!(with("format", Some("other")), Err(Error::Metadata { key: "format", .. })));
    assert!(matches!(with("architecture", Some("resnet")), Err(Error::UnknownArchitecture(_))));
    assert!(matches!(with("kind", Some("diff")), Err(Error::Metadata { key: "kind", .. })));
    assert!(matches!(with("round", Some("-1")), Err(Error::Metadata { key: "round", .. })));
    assert!(matches!(with("num_samples", Some("1e3")), Err(Error::Metadata { key: "num_samples", .. })));
    assert!(matches!(with("dtype", Some("F64")), Err(Error::Metadata { key: "dtype", .. })));
    assert!(matches!(with("dtype", Some("F16")), Err(Error::TensorDtype { .. })));
    assert!(matches!(with("parent_cid", Some(&"Q".repeat(129))), Err(Error::Metadata { key: "parent_cid", .. })));
    assert!(with("parent_cid", Some("")).is_ok());
    assert!(with("extra", Some("ignored")).is_ok());
    let none = safetensors::serialize(
        tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())),
        &None,
    )
    .unwrap();
    assert!(matches!(decode(&none), Err(Error::Metadata { reason, .. }) if reason == "missing"));
}

#[test]
fn files_round_trip_and_oversize_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    checkpoint().write(&path).unwrap();
    assert_eq!(WeightsFile::read(&path, &DecodeLimits::default()).unwrap(), checkpoint());
    let tiny = DecodeLimits { max_bytes: 100, ..DecodeLimits::default() };
    assert!(matches!(WeightsFile::read(&path, &tiny), Err(Error::TooLarge { .. })));
    assert!(matches!(WeightsFile::read(&dir.path().join("absent"), &tiny), Err(Error::Io { .. })));
}
