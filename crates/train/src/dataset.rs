use crate::{Error, Result, idx::parse_idx};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Per-channel normalisation applied after scaling pixels to [0, 1]: `(x / 255 - mean) / std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalisation {
    /// Subtracted from each pixel.
    pub mean: f32,
    /// Each pixel is divided by this.
    pub std: f32,
}

impl Normalisation {
    /// MNIST's training-set statistics, as in the PyTorch examples.
    pub const MNIST: Self = Self { mean: 0.1307, std: 0.3081 };
    /// Fashion-MNIST's training-set statistics.
    pub const FASHION_MNIST: Self = Self { mean: 0.2860, std: 0.3530 };
    /// CIFAR-10's training-set statistics over all three channels.
    pub const CIFAR10: Self = Self { mean: 0.4734, std: 0.2516 };
    /// Pixels scaled to [0, 1] and nothing more.
    pub const NONE: Self = Self { mean: 0.0, std: 1.0 };
}

/// Which half of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The 60,000 training samples.
    Train,
    /// The 10,000 test samples.
    Test,
}

/// Images and labels held in memory: images as an f32 tensor `[n, channels, height, width]`, normalised, and
/// labels as an i64 tensor `[n]` with a plain copy for partitioning.
#[derive(Debug)]
pub struct Dataset {
    images: Tensor,
    labels: Tensor,
    label_values: Vec<u8>,
    num_classes: usize,
}

impl Dataset {
    /// A dataset from an image tensor `[n, c, h, w]` (converted to f32 on the CPU) and `n` labels.
    pub fn new(images: &Tensor, labels: &[u8], num_classes: usize) -> Result<Self> {
        let size = images.size();
        if size.len() != 4 || size[0] != labels.len() as i64 {
            return Err(Error::IdxShape {
                file: "<tensor>".into(),
                reason: format!("images {size:?} do not match {} labels as [n, c, h, w]", labels.len()),
            });
        }
        check_labels(labels, num_classes, "<tensor>")?;
        let images = images.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
        let labels_tensor = Tensor::f_from_slice(labels)?.f_to_kind(Kind::Int64)?;
        Ok(Self { images, labels: labels_tensor, label_values: labels.to_vec(), num_classes })
    }

    /// A dataset from the bytes of an IDX image file (`[n, h, w]` bytes) and an IDX label file.
    pub fn from_idx_bytes(images: &[u8], labels: &[u8], norm: Normalisation, num_classes: usize) -> Result<Self> {
        Self::parse(images, "<images>", labels, "<labels>", norm, num_classes)
    }

    /// A dataset from an IDX image file and an IDX label file.
    pub fn from_idx_files(images: &Path, labels: &Path, norm: Normalisation, num_classes: usize) -> Result<Self> {
        let read = |path: &Path| std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source });
        let (image_bytes, label_bytes) = (read(images)?, read(labels)?);
        let name = |path: &Path| path.display().to_string();
        Self::parse(&image_bytes, &name(images), &label_bytes, &name(labels), norm, num_classes)
    }

    /// MNIST from a folder holding the four IDX files (`train-images-idx3-ubyte` or `train-images.idx3-ubyte`).
    pub fn mnist(dir: &Path, split: Split) -> Result<Self> {
        Self::mnist_format(dir, split, Normalisation::MNIST)
    }

    /// Fashion-MNIST, which uses MNIST's file names and format, from a folder.
    pub fn fashion_mnist(dir: &Path, split: Split) -> Result<Self> {
        Self::mnist_format(dir, split, Normalisation::FASHION_MNIST)
    }

    fn mnist_format(dir: &Path, split: Split, norm: Normalisation) -> Result<Self> {
        Self::from_idx_dir(dir, split, norm, 10)
    }

    /// A split of an IDX data set in MNIST's file names from a folder.
    pub(crate) fn from_idx_dir(dir: &Path, split: Split, norm: Normalisation, num_classes: usize) -> Result<Self> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let find = |kind: &str, rank: u8| -> PathBuf {
            let dashed = dir.join(format!("{prefix}-{kind}-idx{rank}-ubyte"));
            let dotted = dir.join(format!("{prefix}-{kind}.idx{rank}-ubyte"));
            if !dashed.exists() && dotted.exists() { dotted } else { dashed }
        };
        Self::from_idx_files(&find("images", 3), &find("labels", 1), norm, num_classes)
    }

    fn parse(
        image_bytes: &[u8],
        image_file: &str,
        label_bytes: &[u8],
        label_file: &str,
        norm: Normalisation,
        num_classes: usize,
    ) -> Result<Self> {
        let images = parse_idx(image_bytes, image_file)?;
        let labels = parse_idx(label_bytes, label_file)?;
        let shape_error = |file: &str, reason: String| Error::IdxShape { file: file.to_owned(), reason };
        let &[n, height, width] = images.dims.as_slice() else {
            return Err(shape_error(image_file, format!("images need 3 dimensions, found {:?}", images.dims)));
        };
        if labels.dims != [n] {
            return Err(shape_error(label_file, format!("{:?} labels for {n} images", labels.dims)));
        }
        check_labels(&labels.data, num_classes, label_file)?;
        let images = images_from_bytes(&images.data, [n as i64, 1, height as i64, width as i64], norm)?;
        let labels_tensor = Tensor::f_from_slice(&labels.data)?.f_to_kind(Kind::Int64)?;
        Ok(Self { images, labels: labels_tensor, label_values: labels.data, num_classes })
    }

    /// The samples at `indices`, in that order (a client's shard).
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&index| index >= self.len()) {
            return Err(Error::Config(format!("index {bad} is out of range for {} samples", self.len())));
        }
        let index: Vec<i64> = indices.iter().map(|&index| index as i64).collect();
        let index = Tensor::f_from_slice(&index)?;
        Ok(Self {
            images: self.images.f_index_select(0, &index)?,
            labels: self.labels.f_index_select(0, &index)?,
            label_values: indices.iter().map(|&index| self.label_values[index]).collect(),
            num_classes: self.num_classes,
        })
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Result<Self> {
        self.subset(&(0..n.min(self.len())).collect::<Vec<_>>())
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.label_values.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.label_values.is_empty()
    }

    /// The images, `[n, c, h, w]` f32 on the CPU.
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    /// The labels as an i64 tensor `[n]` on the CPU.
    pub fn labels_tensor(&self) -> &Tensor {
        &self.labels
    }

    /// The labels, for partitioning.
    pub fn labels(&self) -> &[u8] {
        &self.label_values
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
}

/// Images from bytes laid out `[n, channels, height, width]`, scaled to [0, 1] and normalised.
pub(crate) fn images_from_bytes(bytes: &[u8], shape: [i64; 4], norm: Normalisation) -> Result<Tensor> {
    let pixels = Tensor::f_from_slice(bytes)?.f_view(shape)?.f_to_kind(Kind::Float)?.f_div_scalar(255.0)?;
    normalise(&pixels, norm)
}

/// Pixels in [0, 1] normalised: the same operations and order as torchvision's `ToTensor` + `Normalize`, so the
/// inputs match PyTorch's bit for bit.
pub(crate) fn normalise(pixels: &Tensor, norm: Normalisation) -> Result<Tensor> {
    Ok(pixels.f_sub_scalar(f64::from(norm.mean))?.f_div_scalar(f64::from(norm.std))?)
}

pub(crate) fn check_labels(labels: &[u8], classes: usize, file: &str) -> Result<()> {
    match labels.iter().position(|&label| usize::from(label) >= classes) {
        Some(index) => Err(Error::LabelOutOfRange { file: file.into(), index, label: labels[index], classes }),
        None => Ok(()),
    }
}
