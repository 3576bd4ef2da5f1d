//! Data sets in the formats people have, detected from what a path holds: IDX files (MNIST, Fashion-MNIST), the
//! CIFAR-10 and CIFAR-100 binary batches, NumPy `.npy` arrays, and a folder of images per class (PNG, JPEG).
//! Every reader checks sizes and labels before building tensors, and names the file in any error.

mod cifar;
mod folder;
mod npy;

use crate::{Dataset, Error, Normalisation, Result, Split};
use std::{fmt, path::Path};

/// What a model takes: the shape of its images, its classes, and how pixels are normalised after scaling to
/// [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputSpec {
    /// Channels (1 grey, 3 RGB).
    pub channels: i64,
    /// Image height.
    pub height: i64,
    /// Image width.
    pub width: i64,
    /// Labels run from 0 to `classes - 1`.
    pub classes: usize,
    /// Applied to every pixel.
    pub norm: Normalisation,
}

/// A data set's format on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// `train-images-idx3-ubyte` and friends (MNIST's layout).
    Idx,
    /// `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin`: a label byte, then 3x32x32 bytes.
    Cifar10,
    /// `train.bin` and `test.bin`: a coarse and a fine label byte, then 3x32x32 bytes (the fine label is used).
    Cifar100,
    /// `train_images.npy` and `train_labels.npy` (and `test_…`), or `images.npy` and `labels.npy`.
    Npy,
    /// `train/<class>/*.png|jpg` and `test/…`, or `<class>/*.png|jpg`: one folder per class, in name order.
    ImageFolder,
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idx => "IDX",
            Self::Cifar10 => "CIFAR-10 binary",
            Self::Cifar100 => "CIFAR-100 binary",
            Self::Npy => "NumPy .npy",
            Self::ImageFolder => "image folder",
        })
    }
}

impl DataFormat {
    /// The format of the data set in the folder `dir` (or in its `cifar-10-batches-bin` or `cifar-100-binary`
    /// folder, as the archives unpack).
    pub fn detect(dir: &Path) -> Result<Self> {
        let has = |name: &str| dir.join(name).is_file();
        if !dir.is_dir() {
            return Err(format_error(dir, "not a folder"));
        }
        if ["train-images-idx3-ubyte", "train-images.idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"]
            .iter()
            .any(|name| has(name))
        {
            return Ok(Self::Idx);
        }
        if has("data_batch_1.bin") || has("test_batch.bin") || dir.join("cifar-10-batches-bin").is_dir() {
            return Ok(Self::Cifar10);
        }
        if has("train.bin") || has("test.bin") || dir.join("cifar-100-binary").is_dir() {
            return Ok(Self::Cifar100);
        }
        if ["images.npy", "train_images.npy", "test_images.npy"].iter().any(|name| has(name)) {
            return Ok(Self::Npy);
        }
        if folder::looks_like_one(dir)? {
            return Ok(Self::ImageFolder);
        }
        Err(format_error(
            dir,
            "no data set found: expected IDX files, CIFAR binary batches, images.npy and labels.npy, or a folder of \
             images per class",
        ))
    }
}

impl Dataset {
    /// Loads `split` of the data set in `dir`, whatever its format ([`DataFormat::detect`]), as images of
    /// `input`'s shape. An image folder's images are resized. Elsewhere grey images go to a three-channel model
    /// as three equal channels, and smaller images are centred on black (MNIST's 28x28 digits shown to a 32x32
    /// RGB network are its 3x32x32 input); any other shape that does not fit is an error.
    pub fn load(dir: &Path, split: Split, input: &InputSpec) -> Result<Self> {
        let format = DataFormat::detect(dir)?;
        let data = match format {
            DataFormat::Idx => Self::from_idx_dir(dir, split, input.norm, input.classes)?,
            DataFormat::Cifar10 | DataFormat::Cifar100 => cifar::load(dir, format, split, input)?,
            DataFormat::Npy => npy::load(dir, split, input)?,
            DataFormat::ImageFolder => folder::load(dir, split, input)?,
        };
        let size = data.images().size();
        let expected = [input.channels, input.height, input.width];
        if size[1..] == expected {
            return Ok(data);
        }
        let [_, channels, height, width] = size[..] else {
            return Err(format_error(dir, &format!("{format} images are {size:?}, not a batch of images")));
        };
        let grey_to_colour = channels == 1 && input.channels == 3;
        if (channels != input.channels && !grey_to_colour) || height > input.height || width > input.width {
            return Err(format_error(
                dir,
                &format!("{format} images are {:?}, the model takes {expected:?}", &size[1..]),
            ));
        }
        let mut images = data.images().shallow_clone();
        if grey_to_colour {
            images = images.f_repeat([1, 3, 1, 1])?;
        }
        let (top, left) = ((input.height - height) / 2, (input.width - width) / 2);
        let black = f64::from(-input.norm.mean / input.norm.std);
        let padding = [left, input.width - width - left, top, input.height - height - top];
        let images = images.f_pad(padding, "constant", black)?;
        Self::new(&images, data.labels(), data.num_classes())
    }
}

fn format_error(file: &Path, reason: &str) -> Error {
    Error::Format { file: file.display().to_string(), reason: reason.to_owned() }
}

/// Checks labels against the classes, naming the file.
fn check_labels(labels: &[u8], classes: usize, file: &Path) -> Result<()> {
    crate::dataset::check_labels(labels, classes, &file.display().to_string())
}
