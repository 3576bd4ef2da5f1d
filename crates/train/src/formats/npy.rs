//! NumPy `.npy` arrays (format versions 1 to 3, C order): images as `uint8` (scaled to [0, 1], then normalised) or
//! `float32` (taken as already in [0, 1], then normalised), shaped `[n, h, w]`, `[n, h, w, c]` or `[n, c, h, w]`
//! with 1 or 3 channels; labels as an integer array `[n]`.

use super::{InputSpec, check_labels, format_error};
use crate::{Dataset, Error, Result, Split, dataset::normalise};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// The element types read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    U8,
    F32,
    I16,
    I32,
    I64,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::I16 => 2,
            Self::F32 | Self::I32 => 4,
            Self::I64 => 8,
        }
    }
}

/// A parsed array: its element type, shape and raw little-endian data.
#[derive(Debug)]
struct Array {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

pub(super) fn load(dir: &Path, split: Split, input: &InputSpec) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train_",
        Split::Test => "test_",
    };
    let pick = |name: &str| -> PathBuf {
        let split_file = dir.join(format!("{prefix}{name}.npy"));
        if split_file.is_file() { split_file } else { dir.join(format!("{name}.npy")) }
    };
    let (images_path, labels_path) = (pick("images"), pick("labels"));
    let images = read(&images_path)?;
    let labels = read(&labels_path)?;
    let n = *images.shape.first().unwrap_or(&0);
    if labels.shape != [n] {
        return Err(format_error(&labels_path, &format!("labels of shape {:?} for {n} images", labels.shape)));
    }
    let label_values = label_bytes(&labels, &labels_path)?;
    check_labels(&label_values, input.classes, &labels_path)?;
    let tensor = normalise(&image_tensor(&images, &images_path)?, input.norm)?;
    Dataset::new(&tensor, &label_values, input.classes)
}

/// The images as f32 `[n, c, h, w]` in [0, 1].
fn image_tensor(array: &Array, path: &Path) -> Result<Tensor> {
    let dims: Vec<i64> = array.shape.iter().map(|&d| d as i64).collect();
    let (shape, channels_last) = match *dims.as_slice() {
        [n, h, w] => ([n, 1, h, w], false),
        [n, h, w, c] if matches!(c, 1 | 3) => ([n, h, w, c], true),
        [n, c, h, w] if matches!(c, 1 | 3) => ([n, c, h, w], false),
        _ => {
            return Err(format_error(
                path,
                &format!(
                    "images of shape {:?}: expected [n, h, w] or [n, h, w, c] or [n, c, h, w], c 1 or 3",
                    array.shape
                ),
            ));
        }
    };
    let tensor = match array.dtype {
        Dtype::U8 => Tensor::f_from_slice(&array.data)?.f_to_kind(Kind::Float)?.f_div_scalar(255.0)?,
        Dtype::F32 => {
            let values: Vec<f32> =
                array.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(format_error(path, "images hold a value that is not a finite number"));
            }
            Tensor::f_from_slice(&values)?
        }
        other => return Err(format_error(path, &format!("images of type {other:?}: expected uint8 or float32"))),
    };
    let tensor = tensor.f_view(shape)?;
    Ok(if channels_last { tensor.f_permute([0, 3, 1, 2])?.f_contiguous()? } else { tensor })
}

fn label_bytes(array: &Array, path: &Path) -> Result<Vec<u8>> {
    let size = array.dtype.size();
    array
        .data
        .chunks_exact(size)
        .enumerate()
        .map(|(index, bytes)| {
            let value: i64 = match array.dtype {
                Dtype::U8 => i64::from(bytes[0]),
                Dtype::I16 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
                Dtype::I32 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
                Dtype::I64 => i64::from_le_bytes(bytes.try_into().unwrap_or_default()),
                Dtype::F32 => return Err(format_error(path, "labels must be integers, found float32")),
            };
            u8::try_from(value)
                .map_err(|_| format_error(path, &format!("label {value} at index {index} is not a class number")))
        })
        .collect()
}

/// Reads and checks one `.npy` file.
fn read(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    parse(&bytes).map_err(|reason| format_error(path, &reason))
}

fn parse(bytes: &[u8]) -> std::result::Result<Array, String> {
    let rest = bytes.strip_prefix(b"\x93NUMPY").ok_or("not a .npy file (no \\x93NUMPY magic)")?;
    let (header_len, header_start) = match rest.first() {
        Some(1) if rest.len() >= 4 => (usize::from(u16::from_le_bytes([rest[2], rest[3]])), 10),
        Some(2 | 3) if rest.len() >= 6 => (u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize, 12),
        _ => return Err("unsupported .npy version or truncated header".into()),
    };
    let header = bytes.get(header_start..header_start + header_len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let descr = dict_value(header, "descr").ok_or("the header has no 'descr'")?;
    let dtype = match descr.trim_matches(['\'', '"']) {
        "|u1" | "<u1" | "u1" => Dtype::U8,
        "<f4" => Dtype::F32,
        "<i2" => Dtype::I16,
        "<i4" => Dtype::I32,
        "<i8" => Dtype::I64,
        other => return Err(format!("element type {other}: expected uint8, float32 or a little-endian integer")),
    };
    if dict_value(header, "fortran_order").is_some_and(|value| value != "False") {
        return Err("Fortran-ordered arrays are not read; save with np.ascontiguousarray".into());
    }
    let shape = dict_value(header, "shape").ok_or("the header has no 'shape'")?;
    let shape: Vec<usize> = shape
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|dim| !dim.is_empty())
        .map(|dim| dim.parse().map_err(|_| format!("bad dimension {dim:?} in the shape")))
        .collect::<std::result::Result<_, String>>()?;
    let data = &bytes[header_start + header_len..];
    let expected =
        shape.iter().try_fold(dtype.size(), |acc, &dim| acc.checked_mul(dim)).ok_or("the shape overflows")?;
    if data.len() != expected {
        return Err(format!(
            "shape {shape:?} of {dtype:?} needs {expected} bytes of data, the file has {}",
            data.len()
        ));
    }
    Ok(Array { dtype, shape, data: data.to_vec() })
}

/// The text of a key's value in the header's Python dict literal: `'shape': (3, 28, 28)` gives `(3, 28, 28)`.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let value = header[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = if value.starts_with('(') { value.find(')')? + 1 } else { value.find([',', '}']).unwrap_or(value.len()) };
    Some(value[..end].trim())
}
