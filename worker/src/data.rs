//! The worker's local data: a data set folder in any format `tessera-train` reads (IDX, CIFAR binary, `.npy`,
//! images per class), optionally cut into one shard of a split that several workers share (so a demo gives each
//! worker its own part of one MNIST copy).

use crate::{Error, Result};
use std::{fmt, path::PathBuf, str::FromStr};
use tessera_train::{ArchitectureId, Dataset, InputSpec, Normalisation, Partitioning, Split};

/// Redraw Dirichlet splits until every shard has this many samples (as the simulator does).
const DIRICHLET_MIN_SAMPLES: usize = 10;

/// `--shard i/n`: the `i`-th (from 0) of `n` shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    /// This worker's shard, from 0.
    pub index: usize,
    /// How many shards the data is split into.
    pub count: usize,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || format!("{text:?} is not i/n with 0 <= i < n (shard i of n, counting from 0)");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let (index, count): (usize, usize) =
            (index.trim().parse().map_err(|_| usage())?, count.trim().parse().map_err(|_| usage())?);
        if index >= count {
            return Err(usage());
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How the shards are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PartitionKind {
    /// A uniform random split.
    Iid,
    /// Label skew drawn from Dirichlet(alpha).
    Dirichlet,
}

/// What the data shows, which sets the shape images are loaded in and their normalisation; the format on disk
/// is detected ([`tessera_train::DataFormat`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetKind {
    /// MNIST-like digits: 28x28 grey, MNIST's statistics.
    Mnist,
    /// Fashion-MNIST: 28x28 grey, its own statistics.
    FashionMnist,
    /// CIFAR-10-like pictures: 32x32 RGB, CIFAR-10's statistics.
    Cifar10,
}

impl DatasetKind {
    /// Its name on the command line (`fashion-mnist`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
        }
    }

    /// The shape, classes and normalisation the data is loaded with.
    pub fn input(self) -> InputSpec {
        match self {
            Self::Mnist => ArchitectureId::Lenet5MnistV1.input(),
            Self::FashionMnist => {
                InputSpec { norm: Normalisation::FASHION_MNIST, ..ArchitectureId::Lenet5MnistV1.input() }
            }
            Self::Cifar10 => ArchitectureId::CnnCifar10V1.input(),
        }
    }
}

/// Where the data is and which part of it this worker trains on.
#[derive(Clone, Debug, PartialEq)]
pub struct DataOptions {
    /// The data set's folder.
    pub dir: PathBuf,
    /// Which dataset it holds.
    pub kind: DatasetKind,
    /// The shard to keep, if any.
    pub shard: Option<ShardSpec>,
    /// How shards are drawn.
    pub partition: PartitionKind,
    /// The Dirichlet concentration.
    pub alpha: f64,
    /// The split's seed; every worker sharing the data must use the same one.
    pub seed: u64,
    /// Keep at most this many samples of the shard.
    pub max_samples: Option<usize>,
}

/// The indices of the samples this worker keeps, from the whole set's labels. Pure: the same
/// labels and options give the same indices on every machine.
pub fn select(labels: &[u8], options: &DataOptions) -> Result<Vec<usize>> {
    let mut indices: Vec<usize> = match options.shard {
        None => (0..labels.len()).collect(),
        Some(ShardSpec { index, count }) => {
            let partitioning = match options.partition {
                PartitionKind::Iid => Partitioning::Iid,
                PartitionKind::Dirichlet => {
                    Partitioning::Dirichlet { alpha: options.alpha, min_samples: DIRICHLET_MIN_SAMPLES }
                }
            };
            partitioning.split(labels, count, options.seed)?.swap_remove(index)
        }
    };
    if let Some(max) = options.max_samples {
        indices.truncate(max);
    }
    if indices.is_empty() {
        return Err(Error::Invalid(format!("the data in {} leaves this worker no samples", options.dir.display())));
    }
    Ok(indices)
}

/// Loads the training split and keeps this worker's samples.
pub fn load(options: &DataOptions) -> Result<Dataset> {
    let all = Dataset::load(&options.dir, Split::Train, &options.kind.input())?;
    let indices = select(all.labels(), options)?;
    if indices.len() == all.len() { Ok(all) } else { Ok(all.subset(&indices)?) }
}

/// The images and classes `data` holds, as a model must take them; its pixels are normalised already.
pub fn input_of(data: &Dataset) -> Result<InputSpec> {
    let [_, channels, height, width] = data.images().size()[..] else {
        return Err(Error::Invalid("the training images are not a batch of [channels, height, width]".into()));
    };
    Ok(InputSpec { channels, height, width, classes: data.num_classes(), norm: Normalisation::NONE })
}

/// Checks that `data`'s images fit `arch`'s input, so a wrong dataset fails before any download.
pub fn check_fits(data: &Dataset, arch: ArchitectureId) -> Result<()> {
    crate::model::check_takes(arch, &input_of(data)?, "the data")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(shard: Option<ShardSpec>, partition: PartitionKind, max_samples: Option<usize>) -> DataOptions {
        DataOptions { dir: "data".into(), kind: DatasetKind::Mnist, shard, partition, alpha: 0.5, seed: 7, max_samples }
    }

    #[test]
    fn shard_specs_parse_and_refuse_out_of_range_indices() {
        assert_eq!("2/5".parse::<ShardSpec>().unwrap(), ShardSpec { index: 2, count: 5 });
        assert_eq!("0/1".parse::<ShardSpec>().unwrap().to_string(), "0/1");
        for bad in ["5/5", "1", "a/b", "-1/3", "1/0"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shards_of_every_worker_are_disjoint_and_cover_the_data() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        for partition in [PartitionKind::Iid, PartitionKind::Dirichlet] {
            let mut all: Vec<usize> = (0..4)
                .flat_map(|index| {
                    select(&labels, &options(Some(ShardSpec { index, count: 4 }), partition, None)).unwrap()
                })
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..1000).collect::<Vec<_>>(), "{partition:?}");
        }
        let again = select(&labels, &options(Some(ShardSpec { index: 1, count: 4 }), PartitionKind::Iid, None));
        let first = select(&labels, &options(Some(ShardSpec { index: 1, count: 4 }), PartitionKind::Iid, None));
        assert_eq!(again.unwrap(), first.unwrap(), "deterministic from the seed");
    }

    #[test]
    fn max_samples_caps_the_shard() {
        let labels = vec![1u8; 100];
        assert_eq!(select(&labels, &options(None, PartitionKind::Iid, Some(30))).unwrap().len(), 30);
        assert_eq!(select(&labels, &options(None, PartitionKind::Iid, None)).unwrap().len(), 100);
        assert!(select(&labels, &options(None, PartitionKind::Iid, Some(0))).is_err());
    }

    #[test]
    fn a_cifar_folder_is_detected_sharded_and_checked_against_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<u8> =
            (0..20u8).flat_map(|i| std::iter::once(i % 10).chain(std::iter::repeat_n(i, 3 * 32 * 32))).collect();
        std::fs::write(dir.path().join("data_batch_1.bin"), records).unwrap();
        let options = DataOptions {
            dir: dir.path().into(),
            kind: DatasetKind::Cifar10,
            shard: Some(ShardSpec { index: 1, count: 2 }),
            ..options(None, PartitionKind::Iid, None)
        };
        let shard = load(&options).unwrap();
        assert_eq!(shard.images().size(), [10, 3, 32, 32]);
        check_fits(&shard, ArchitectureId::CnnCifar10V1).unwrap();
        let error = check_fits(&shard, ArchitectureId::Lenet5MnistV1).unwrap_err().to_string();
        assert!(error.contains("[1, 28, 28]"), "{error}");
        // The same folder read as MNIST-like data is refused with the reason.
        let error = load(&DataOptions { kind: DatasetKind::Mnist, ..options }).unwrap_err().to_string();
        assert!(error.contains("CIFAR-10 binary images are [3, 32, 32], the model takes [1, 28, 28]"), "{error}");
    }
}
