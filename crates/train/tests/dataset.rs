//! IDX datasets: real MNIST loads and normalises; truncated or inconsistent files are clear errors.

mod common;

use std::fs;
use tessera_train::{Dataset, Error, Normalisation, Split};

#[test]
fn mnist_loads_with_expected_shapes_and_normalisation() {
    let train = common::mnist(Split::Train);
    let test = common::mnist(Split::Test);
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.images().size(), [60_000, 1, 28, 28]);
    assert_eq!(train.labels_tensor().size(), [60_000]);
    assert_eq!(train.num_classes(), 10);
    let mut counts = [0usize; 10];
    train.labels().iter().for_each(|&label| counts[usize::from(label)] += 1);
    assert!(counts.iter().all(|&count| count > 5000), "{counts:?}");
    // The constants are the training set's own statistics, so it comes out near zero mean and unit deviation.
    let mean = train.images().mean(tch::Kind::Float).double_value(&[]);
    let std = train.images().std(true).double_value(&[]);
    assert!(mean.abs() < 1e-3 && (std - 1.0).abs() < 1e-3, "mean {mean}, std {std}");
}

#[test]
fn subset_picks_the_given_samples() {
    let test = common::mnist(Split::Test);
    let subset = test.subset(&[5, 0, 5]).unwrap();
    assert_eq!(subset.labels(), [test.labels()[5], test.labels()[0], test.labels()[5]]);
    assert!(subset.images().get(0).equal(&test.images().get(5)));
    assert!(matches!(test.subset(&[10_000]), Err(Error::Config(_))));
    assert_eq!(test.take(3).unwrap().labels(), &test.labels()[..3]);
}

#[test]
fn truncated_or_corrupt_files_are_clear_errors() {
    let dir = tessera_harness::mnist_dir();
    let images = fs::read(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let labels = fs::read(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let load = |images: &[u8], labels: &[u8]| Dataset::from_idx_bytes(images, labels, Normalisation::MNIST, 10);
    assert_eq!(load(&images, &labels).unwrap().len(), 10_000);

    let truncated = load(&images[..images.len() - 100], &labels).unwrap_err();
    assert!(matches!(truncated, Error::IdxLength { expected: 7_840_016, actual: 7_839_916, .. }), "{truncated}");
    assert!(truncated.to_string().contains("<images>"), "{truncated}");
    assert!(matches!(load(&images, &labels[..8]), Err(Error::IdxLength { .. })));
    assert!(matches!(load(&labels, &labels), Err(Error::IdxShape { .. })));

    let mut fewer_labels = labels[..labels.len() - 1].to_vec();
    fewer_labels[4..8].copy_from_slice(&9_999u32.to_be_bytes());
    assert!(matches!(load(&images, &fewer_labels), Err(Error::IdxShape { .. })));
    let mut bad_label = labels.clone();
    bad_label[8 + 17] = 10;
    assert!(matches!(load(&images, &bad_label), Err(Error::LabelOutOfRange { index: 17, label: 10, .. })));
    let mut bad_magic = images.clone();
    bad_magic[2] = 0x0C;
    assert!(matches!(load(&bad_magic, &labels), Err(Error::IdxHeader { .. })));

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("t10k-images-idx3-ubyte");
    fs::write(&path, &images[..1000]).unwrap();
    let err =
        Dataset::from_idx_files(&path, &dir.join("t10k-labels-idx1-ubyte"), Normalisation::MNIST, 10).unwrap_err();
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    let missing = Dataset::mnist(tmp.path(), Split::Train).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}
