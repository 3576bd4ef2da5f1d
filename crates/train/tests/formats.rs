//! Every data-set format `Dataset::load` detects, on small data sets written by the test (no download): each
//! loads with the right shape, labels and pixel values, and each kind of malformed file is an error naming it.

use std::{fs, path::Path};
use tessera_train::{DataFormat, Dataset, Error, InputSpec, Normalisation, Split};

const MNIST: InputSpec = InputSpec { channels: 1, height: 28, width: 28, classes: 10, norm: Normalisation::MNIST };
const CIFAR10: InputSpec = InputSpec { channels: 3, height: 32, width: 32, classes: 10, norm: Normalisation::NONE };
const CIFAR100: InputSpec = InputSpec { classes: 100, ..CIFAR10 };

fn pixel(data: &Dataset, index: [i64; 4]) -> f64 {
    data.images().double_value(&index)
}

fn error_text(result: tessera_train::Result<Dataset>) -> String {
    result.expect_err("expected an error").to_string()
}

/// A CIFAR record: the label bytes, then red, green and blue planes, each pixel's value set by its plane.
fn cifar_record(labels: &[u8]) -> Vec<u8> {
    let mut record = labels.to_vec();
    for plane in [10u8, 20, 30] {
        record.extend((0..1024).map(|i| plane.wrapping_add((i % 7) as u8)));
    }
    record
}

#[test]
fn idx_folders_load_through_the_same_entry_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..2 * 28 * 28).map(|i| (i % 256) as u8));
    fs::write(dir.path().join("train-images-idx3-ubyte"), images).unwrap();
    fs::write(dir.path().join("train-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 2, 4, 9]).unwrap();
    assert_eq!(DataFormat::detect(dir.path()).unwrap(), DataFormat::Idx);
    let data = Dataset::load(dir.path(), Split::Train, &MNIST).unwrap();
    assert_eq!((data.images().size(), data.labels().to_vec()), (vec![2, 1, 28, 28], vec![4, 9]));

    // A 32x32 RGB network sees the digits as three equal channels centred on black.
    let rgb = InputSpec { norm: Normalisation::CIFAR10, ..CIFAR10 };
    let padded = Dataset::load(dir.path(), Split::Train, &rgb).unwrap();
    assert_eq!((padded.images().size(), padded.labels().to_vec()), (vec![2, 3, 32, 32], vec![4, 9]));
    let black = f64::from(-Normalisation::CIFAR10.mean / Normalisation::CIFAR10.std);
    for corner in [[1, 0, 0, 0], [1, 2, 31, 31], [0, 1, 1, 30]] {
        assert_eq!(pixel(&padded, corner), black);
    }
    let grey = Dataset::load(dir.path(), Split::Train, &InputSpec { norm: Normalisation::CIFAR10, ..MNIST }).unwrap();
    for channel in 0..3 {
        assert_eq!(pixel(&padded, [1, channel, 2 + 5, 2 + 9]), pixel(&grey, [1, 0, 5, 9]));
    }
    let smaller = InputSpec { height: 24, width: 24, ..MNIST };
    let wrong_shape = error_text(Dataset::load(dir.path(), Split::Train, &smaller));
    assert!(wrong_shape.contains("images are [1, 28, 28], the model takes [1, 24, 24]"), "{wrong_shape}");
}

#[test]
fn cifar10_batches_load_channel_planes_and_refuse_truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    let batches = dir.path().join("cifar-10-batches-bin");
    fs::create_dir(&batches).unwrap();
    fs::write(batches.join("data_batch_1.bin"), [cifar_record(&[3]), cifar_record(&[7])].concat()).unwrap();
    fs::write(batches.join("data_batch_2.bin"), cifar_record(&[9])).unwrap();
    fs::write(batches.join("test_batch.bin"), cifar_record(&[1])).unwrap();
    assert_eq!(DataFormat::detect(dir.path()).unwrap(), DataFormat::Cifar10);

    let train = Dataset::load(dir.path(), Split::Train, &CIFAR10).unwrap();
    assert_eq!((train.images().size(), train.labels().to_vec()), (vec![3, 3, 32, 32], vec![3, 7, 9]));
    // Red, green and blue planes in that order; pixel (0, 1) is the second byte of each plane.
    assert_eq!(pixel(&train, [0, 0, 0, 0]), f64::from(10.0f32 / 255.0));
    assert_eq!(pixel(&train, [0, 2, 0, 1]), f64::from(31.0f32 / 255.0));
    assert_eq!(Dataset::load(dir.path(), Split::Test, &CIFAR10).unwrap().labels(), [1]);

    let truncated = batches.join("data_batch_2.bin");
    fs::write(&truncated, &cifar_record(&[9])[..3000]).unwrap();
    let error = error_text(Dataset::load(dir.path(), Split::Train, &CIFAR10));
    assert!(error.contains("data_batch_2.bin") && error.contains("3073-byte"), "{error}");

    fs::write(&truncated, cifar_record(&[10])).unwrap();
    match Dataset::load(dir.path(), Split::Train, &CIFAR10) {
        Err(Error::LabelOutOfRange { file, label: 10, .. }) => assert!(file.ends_with("data_batch_2.bin"), "{file}"),
        other => panic!("expected a label error, got {other:?}"),
    }
}

#[test]
fn cifar100_uses_the_fine_label() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("train.bin"), [cifar_record(&[2, 57]), cifar_record(&[19, 99])].concat()).unwrap();
    assert_eq!(DataFormat::detect(dir.path()).unwrap(), DataFormat::Cifar100);
    let train = Dataset::load(dir.path(), Split::Train, &CIFAR100).unwrap();
    assert_eq!(train.labels(), [57, 99]);
    let error = error_text(Dataset::load(dir.path(), Split::Test, &CIFAR100));
    assert!(error.contains("test.bin"), "{error}");
}

/// A version 1.0 `.npy` file.
fn npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    fs::write(path, bytes).unwrap();
}

#[test]
fn npy_arrays_load_grey_and_channels_last_and_refuse_bad_headers_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let grey: Vec<u8> = (0..3 * 28 * 28).map(|i| (i % 251) as u8).collect();
    npy(&dir.path().join("train_images.npy"), "|u1", "(3, 28, 28)", &grey);
    let labels: Vec<u8> = [5i64, 0, 9].iter().flat_map(|label| label.to_le_bytes()).collect();
    npy(&dir.path().join("train_labels.npy"), "<i8", "(3,)", &labels);
    assert_eq!(DataFormat::detect(dir.path()).unwrap(), DataFormat::Npy);
    let data = Dataset::load(dir.path(), Split::Train, &MNIST).unwrap();
    assert_eq!((data.images().size(), data.labels().to_vec()), (vec![3, 1, 28, 28], vec![5, 0, 9]));
    let expected = (f64::from(1.0f32 / 255.0) - f64::from(0.1307f32)) / f64::from(0.3081f32);
    assert!((pixel(&data, [0, 0, 0, 1]) - expected).abs() < 1e-6);

    // float32, channels last: [n, h, w, c] becomes [n, c, h, w].
    let rgb: Vec<u8> = (0..32 * 32 * 3).flat_map(|i| (f32::from((i % 3) as u8) / 4.0).to_le_bytes()).collect();
    npy(&dir.path().join("test_images.npy"), "<f4", "(1, 32, 32, 3)", &rgb);
    npy(&dir.path().join("test_labels.npy"), "|u1", "(1,)", &[4]);
    let test = Dataset::load(dir.path(), Split::Test, &CIFAR10).unwrap();
    assert_eq!(test.images().size(), [1, 3, 32, 32]);
    assert_eq!((pixel(&test, [0, 0, 5, 5]), pixel(&test, [0, 2, 5, 5])), (0.0, 0.5));

    npy(&dir.path().join("test_labels.npy"), "|u1", "(2,)", &[4, 4]);
    let error = error_text(Dataset::load(dir.path(), Split::Test, &CIFAR10));
    assert!(error.contains("test_labels.npy") && error.contains("for 1 images"), "{error}");

    fs::write(dir.path().join("test_images.npy"), b"not an array").unwrap();
    let error = error_text(Dataset::load(dir.path(), Split::Test, &CIFAR10));
    assert!(error.contains("test_images.npy") && error.contains("magic"), "{error}");

    // Each defect of a header or its data, named.
    let images = dir.path().join("test_images.npy");
    npy(&dir.path().join("test_labels.npy"), "|u1", "(1,)", &[4]);
    for (descr, shape, data, expected) in [
        ("|u1", "(1, 32, 32, 3)", &[0u8; 5][..], "needs 3072 bytes of data, the file has 5"),
        (">f8", "(1, 32, 32, 3)", &[0u8; 8][..], "element type >f8"),
        ("|u1", "(1, x, 32, 3)", &[][..], "bad dimension"),
        ("|u1", "(1, 32, 32, 5)", &[0u8; 5120][..], "expected [n, h, w] or [n, h, w, c]"),
    ] {
        npy(&images, descr, shape, data);
        let error = error_text(Dataset::load(dir.path(), Split::Test, &CIFAR10));
        assert!(error.contains("test_images.npy") && error.contains(expected), "{error}");
    }
    npy(&images, "<f4", "(1, 32, 32, 3)", &rgb);
    npy(&dir.path().join("test_labels.npy"), "<i4", "(1,)", &(-1i32).to_le_bytes());
    let error = error_text(Dataset::load(dir.path(), Split::Test, &CIFAR10));
    assert!(error.contains("label -1 at index 0 is not a class number"), "{error}");
}

fn write_png(path: &Path, width: u32, height: u32, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(width, height, image::Rgb(rgb)).save(path).unwrap();
}

#[test]
fn image_folders_number_classes_by_name_resize_and_name_a_broken_image() {
    let dir = tempfile::tempdir().unwrap();
    for (class, colour) in [("cat", [255, 0, 0]), ("dog", [0, 0, 255])] {
        let folder = dir.path().join("train").join(class);
        fs::create_dir_all(&folder).unwrap();
        write_png(&folder.join("a.png"), 32, 32, colour);
        // A larger JPEG is resized to the model's size.
        image::RgbImage::from_pixel(48, 40, image::Rgb(colour)).save(folder.join("b.JPG")).unwrap();
        fs::write(folder.join("notes.txt"), "not an image").unwrap();
    }
    assert_eq!(DataFormat::detect(dir.path()).unwrap(), DataFormat::ImageFolder);
    let data = Dataset::load(dir.path(), Split::Train, &CIFAR10).unwrap();
    assert_eq!((data.images().size(), data.labels().to_vec()), (vec![4, 3, 32, 32], vec![0, 0, 1, 1]));
    assert_eq!((pixel(&data, [0, 0, 3, 3]), pixel(&data, [0, 2, 3, 3])), (1.0, 0.0), "a cat is red");
    assert_eq!((pixel(&data, [2, 0, 3, 3]), pixel(&data, [2, 2, 3, 3])), (0.0, 1.0), "a dog is blue");
    assert!(pixel(&data, [1, 0, 16, 16]) > 0.9, "the resized JPEG keeps its colour");

    // Grey models get grey images.
    let grey = InputSpec { channels: 1, height: 28, width: 28, classes: 10, norm: Normalisation::NONE };
    assert_eq!(Dataset::load(dir.path(), Split::Train, &grey).unwrap().images().size(), [4, 1, 28, 28]);

    let broken = dir.path().join("train/dog/c.png");
    fs::write(&broken, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let error = error_text(Dataset::load(dir.path(), Split::Train, &CIFAR10));
    assert!(error.contains("c.png") && error.contains("not a readable image"), "{error}");

    let two_classes = InputSpec { classes: 1, ..CIFAR10 };
    fs::remove_file(&broken).unwrap();
    let error = error_text(Dataset::load(dir.path(), Split::Train, &two_classes));
    assert!(error.contains("2 class folders, the model has 1 classes"), "{error}");
}

#[test]
fn a_folder_with_no_known_data_set_says_what_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("data.csv"), "1,2,3").unwrap();
    let error = DataFormat::detect(dir.path()).unwrap_err().to_string();
    assert!(error.contains("no data set found") && error.contains(".npy"), "{error}");
    assert!(DataFormat::detect(&dir.path().join("missing")).unwrap_err().to_string().contains("not a folder"));
}
