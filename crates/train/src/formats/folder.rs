//! A folder of images per class, as torchvision's `ImageFolder` reads it: `train/<class>/*.png|jpg` and
//! `test/<class>/…` (or `<class>/…` for both splits), classes numbered in name order. Each image is converted to
//! the model's channels (grey or RGB), resized to its size (bilinear), scaled to [0, 1] and normalised. Files
//! without an image extension are skipped; an image that does not decode is an error naming it.

use super::{InputSpec, format_error};
use crate::{Dataset, Error, Result, Split, dataset::images_from_bytes};
use image::{DynamicImage, imageops::FilterType};
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

pub(super) fn looks_like_one(dir: &Path) -> Result<bool> {
    let root = if dir.join("train").is_dir() { dir.join("train") } else { dir.to_owned() };
    let classes = class_folders(&root)?;
    Ok(match classes.first() {
        Some(first) => !image_files(first)?.is_empty(),
        None => false,
    })
}

pub(super) fn load(dir: &Path, split: Split, input: &InputSpec) -> Result<Dataset> {
    let named = dir.join(match split {
        Split::Train => "train",
        Split::Test => "test",
    });
    let root = if named.is_dir() { named } else { dir.to_owned() };
    let classes = class_folders(&root)?;
    if classes.len() > input.classes {
        return Err(format_error(
            &root,
            &format!("{} class folders, the model has {} classes", classes.len(), input.classes),
        ));
    }
    let (width, height) = (u32::try_from(input.width), u32::try_from(input.height));
    let (Ok(width), Ok(height)) = (width, height) else {
        return Err(Error::Config(format!("image size {}x{}", input.width, input.height)));
    };
    let (mut labels, mut pixels) = (Vec::new(), Vec::new());
    for (label, class) in classes.iter().enumerate() {
        for file in image_files(class)? {
            let image = image::ImageReader::open(&file)
                .and_then(|reader| reader.with_guessed_format())
                .map_err(|source| Error::Io { path: file.clone(), source })?
                .decode()
                .map_err(|error| format_error(&file, &format!("not a readable image: {error}")))?;
            pixels.extend(chw_bytes(&image, input.channels, width, height));
            labels.push(u8::try_from(label).map_err(|_| format_error(&root, "more than 256 classes"))?);
        }
    }
    if labels.is_empty() {
        return Err(format_error(&root, "no images (.png, .jpg, .jpeg) in the class folders"));
    }
    let shape = [labels.len() as i64, input.channels, input.height, input.width];
    let images = images_from_bytes(&pixels, shape, input.norm)?;
    Dataset::new(&images, &labels, input.classes)
}

/// The image as the model's channels and size, channel by channel.
fn chw_bytes(image: &DynamicImage, channels: i64, width: u32, height: u32) -> Vec<u8> {
    let resized = if image.width() == width && image.height() == height {
        image.clone()
    } else {
        image.resize_exact(width, height, FilterType::Triangle)
    };
    if channels == 1 {
        return resized.to_luma8().into_raw();
    }
    let rgb = resized.to_rgb8().into_raw();
    (0..3).flat_map(|channel| rgb.iter().skip(channel).step_by(3).copied()).collect()
}

/// The sub-folders of `root`, sorted by name: one per class.
fn class_folders(root: &Path) -> Result<Vec<PathBuf>> {
    let mut folders: Vec<PathBuf> = entries(root)?.into_iter().filter(|path| path.is_dir()).collect();
    folders.sort();
    Ok(folders)
}

/// The images in a class folder, sorted by name.
fn image_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let is_image = |path: &PathBuf| {
        path.extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
    };
    let mut files: Vec<PathBuf> =
        entries(folder)?.into_iter().filter(|path| path.is_file() && is_image(path)).collect();
    files.sort();
    Ok(files)
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io { path: dir.to_owned(), source };
    std::fs::read_dir(dir).map_err(io)?.map(|entry| entry.map(|e| e.path()).map_err(io)).collect()
}
