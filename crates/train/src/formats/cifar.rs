//! The CIFAR-10 and CIFAR-100 binary versions (`cifar-10-binary.tar.gz`, `cifar-100-binary.tar.gz`): fixed-size
//! records of label bytes followed by 1,024 red, 1,024 green and 1,024 blue bytes of a 32x32 image.

use super::{DataFormat, InputSpec, check_labels, format_error};
use crate::{Dataset, Error, Result, Split, dataset::images_from_bytes};
use std::path::{Path, PathBuf};

const PIXELS: usize = 3 * 32 * 32;

pub(super) fn load(dir: &Path, format: DataFormat, split: Split, input: &InputSpec) -> Result<Dataset> {
    let (subfolder, label_bytes, files): (&str, usize, Vec<&str>) = match (format, split) {
        (DataFormat::Cifar10, Split::Train) => (
            "cifar-10-batches-bin",
            1,
            vec!["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
        ),
        (DataFormat::Cifar10, Split::Test) => ("cifar-10-batches-bin", 1, vec!["test_batch.bin"]),
        (_, Split::Train) => ("cifar-100-binary", 2, vec!["train.bin"]),
        (_, Split::Test) => ("cifar-100-binary", 2, vec!["test.bin"]),
    };
    let dir = if dir.join(subfolder).is_dir() { dir.join(subfolder) } else { dir.to_owned() };
    let paths: Vec<PathBuf> = files.iter().map(|name| dir.join(name)).filter(|path| path.is_file()).collect();
    if paths.is_empty() {
        return Err(format_error(&dir, &format!("no {format} {split:?} file ({})", files.join(", "))));
    }
    let record = label_bytes + PIXELS;
    let (mut labels, mut pixels) = (Vec::new(), Vec::new());
    for path in &paths {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.clone(), source })?;
        if bytes.is_empty() || bytes.len() % record != 0 {
            return Err(format_error(
                path,
                &format!("{} bytes is not a whole number of {record}-byte {format} records", bytes.len()),
            ));
        }
        let first = labels.len();
        for chunk in bytes.chunks_exact(record) {
            // CIFAR-100 stores the coarse label first and the fine (100-class) label second.
            labels.push(chunk[label_bytes - 1]);
            pixels.extend_from_slice(&chunk[label_bytes..]);
        }
        check_labels(&labels[first..], input.classes, path)?;
    }
    let images = images_from_bytes(&pixels, [labels.len() as i64, 3, 32, 32], input.norm)?;
    Dataset::new(&images, &labels, input.classes)
}
