//! Splitting a dataset among simulated clients. Pure index arithmetic: no tensors, identical on every machine.

use crate::{Error, Result, rng::Rng};

/// How to split samples among clients. Every variant is deterministic from the seed given to [`Self::split`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Partitioning {
    /// A uniform random split into shards whose sizes differ by at most one.
    Iid,
    /// Label skew: for each class, the share going to each client is drawn from Dirichlet(alpha).
    /// Small alpha (0.1) gives each client a few classes; large alpha (100) approaches IID.
    Dirichlet {
        /// The concentration, positive.
        alpha: f64,
        /// Redraw until every client has at least this many samples (at most 1000 draws).
        min_samples: usize,
    },
    /// IID labels, but shard sizes follow a power law: the client of rank r (in a random order) gets a share
    /// proportional to (r + 1)^-exponent on top of `min_samples`. Exponent 0 gives equal sizes.
    PowerLaw {
        /// The exponent, non-negative.
        exponent: f64,
        /// Samples every client gets before the power-law share.
        min_samples: usize,
    },
}

const MAX_DIRICHLET_DRAWS: usize = 1000;

impl Partitioning {
    /// Splits sample indices `0..labels.len()` among `clients`; each shard comes back sorted.
    ///
    /// `labels` are the samples' classes (only [`Self::Dirichlet`] looks at them beyond their count).
    pub fn split(&self, labels: &[u8], clients: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
        let n = labels.len();
        if clients == 0 {
            return Err(Error::Partition("zero clients".into()));
        }
        let mut shards = match *self {
            Self::Iid => {
                check_min(n, clients, 1)?;
                iid(n, clients, &mut Rng::new(seed))
            }
            Self::Dirichlet { alpha, min_samples } => {
                if !(alpha > 0.0 && alpha.is_finite()) {
                    return Err(Error::Partition(format!("alpha must be positive and finite, got {alpha}")));
                }
                check_min(n, clients, min_samples)?;
                dirichlet(labels, clients, alpha, min_samples, &mut Rng::new(seed))?
            }
            Self::PowerLaw { exponent, min_samples } => {
                if !(exponent >= 0.0 && exponent.is_finite()) {
                    return Err(Error::Partition(format!("exponent must be non-negative, got {exponent}")));
                }
                check_min(n, clients, min_samples.max(1))?;
                power_law(n, clients, exponent, min_samples.max(1), &mut Rng::new(seed))
            }
        };
        shards.iter_mut().for_each(|shard| shard.sort_unstable());
        Ok(shards)
    }
}

fn check_min(n: usize, clients: usize, min_samples: usize) -> Result<()> {
    if clients.checked_mul(min_samples).is_none_or(|needed| needed > n) {
        return Err(Error::Partition(format!("{n} samples cannot give {clients} clients {min_samples} each")));
    }
    Ok(())
}

fn shuffled(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut indices);
    indices
}

/// Cuts `indices` into consecutive runs of the given sizes.
fn cut(indices: &[usize], sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&size| {
            start += size;
            indices[start - size..start].to_vec()
        })
        .collect()
}

fn iid(n: usize, clients: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let sizes: Vec<usize> = (0..clients).map(|i| n / clients + usize::from(i < n % clients)).collect();
    cut(&shuffled(n, rng), &sizes)
}

fn dirichlet(labels: &[u8], clients: usize, alpha: f64, min_samples: usize, rng: &mut Rng) -> Result<Vec<Vec<usize>>> {
    let classes = labels.iter().map(|&label| usize::from(label) + 1).max().unwrap_or(0);
    let mut by_class = vec![Vec::new(); classes];
    for (index, &label) in labels.iter().enumerate() {
        by_class[usize::from(label)].push(index);
    }
    for _ in 0..MAX_DIRICHLET_DRAWS {
        let mut shards = vec![Vec::new(); clients];
        for members in &mut by_class {
            rng.shuffle(members);
            let shares = rng.dirichlet(alpha, clients);
            let mut cumulative = 0.0;
            let mut start = 0;
            for (client, share) in shares.iter().enumerate() {
                cumulative += share;
                // The last client takes the rest, so rounding in the running sum loses no sample.
                let end = if client + 1 == clients {
                    members.len()
                } else {
                    ((cumulative * members.len() as f64) as usize).clamp(start, members.len())
                };
                shards[client].extend_from_slice(&members[start..end]);
                start = end;
            }
        }
        if shards.iter().all(|shard| shard.len() >= min_samples) {
            return Ok(shards);
        }
    }
    Err(Error::Partition(format!(
        "no Dirichlet({alpha}) draw in {MAX_DIRICHLET_DRAWS} gave every client {min_samples} samples; raise alpha or lower min_samples"
    )))
}

fn power_law(n: usize, clients: usize, exponent: f64, min_samples: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let weights: Vec<f64> = (0..clients).map(|rank| libm::pow(rank as f64 + 1.0, -exponent)).collect();
    let total: f64 = weights.iter().sum();
    let rest = n - clients * min_samples;
    // Largest-remainder rounding: floors first, then one more sample to the largest fractions (ties to lower rank).
    let quotas: Vec<f64> = weights.iter().map(|weight| rest as f64 * weight / total).collect();
    let mut by_rank: Vec<usize> = quotas.iter().map(|quota| *quota as usize).collect();
    let mut order: Vec<usize> = (0..clients).collect();
    order.sort_by(|&a, &b| (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())).then(a.cmp(&b)));
    let short = rest - by_rank.iter().sum::<usize>();
    order.iter().take(short).for_each(|&rank| by_rank[rank] += 1);
    // Which client gets which rank is itself random, so client 0 is not always the largest.
    let mut ranks: Vec<usize> = (0..clients).collect();
    rng.shuffle(&mut ranks);
    let sizes: Vec<usize> = ranks.iter().map(|&rank| min_samples + by_rank[rank]).collect();
    cut(&shuffled(n, rng), &sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 10) as u8).collect()
    }

    fn assert_is_partition(shards: &[Vec<usize>], n: usize) {
        let mut all: Vec<usize> = shards.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn iid_is_balanced_complete_and_seeded() {
        let labels = labels(1003);
        let shards = Partitioning::Iid.split(&labels, 10, 5).unwrap();
        assert_is_partition(&shards, 1003);
        assert!(shards.iter().all(|shard| shard.len() == 100 || shard.len() == 101));
        assert_eq!(shards, Partitioning::Iid.split(&labels, 10, 5).unwrap());
        assert_ne!(shards, Partitioning::Iid.split(&labels, 10, 6).unwrap());
    }

    #[test]
    fn dirichlet_small_alpha_skews_labels() {
        let labels = labels(5000);
        let skewed = Partitioning::Dirichlet { alpha: 0.1, min_samples: 10 }.split(&labels, 10, 1).unwrap();
        let flat = Partitioning::Dirichlet { alpha: 1000.0, min_samples: 10 }.split(&labels, 10, 1).unwrap();
        assert_is_partition(&skewed, 5000);
        assert_is_partition(&flat, 5000);
        let dominant_share = |shards: &[Vec<usize>]| {
            let shares: Vec<f64> = shards
                .iter()
                .map(|shard| {
                    let mut counts = [0usize; 10];
                    shard.iter().for_each(|&i| counts[usize::from(labels[i])] += 1);
                    *counts.iter().max().unwrap() as f64 / shard.len() as f64
                })
                .collect();
            shares.iter().sum::<f64>() / shares.len() as f64
        };
        assert!(dominant_share(&skewed) > 0.5, "{}", dominant_share(&skewed));
        assert!(dominant_share(&flat) < 0.2, "{}", dominant_share(&flat));
        assert!(skewed.iter().all(|shard| shard.len() >= 10));
    }

    #[test]
    fn power_law_sizes_fall_off() {
        let labels = labels(10_000);
        let plan = Partitioning::PowerLaw { exponent: 1.0, min_samples: 20 };
        let shards = plan.split(&labels, 20, 9).unwrap();
        assert_is_partition(&shards, 10_000);
        let mut sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        assert!(sizes[0] > 5 * sizes[19], "{sizes:?}");
        assert!(sizes[19] >= 20);
        assert_eq!(shards, plan.split(&labels, 20, 9).unwrap());
    }

    #[test]
    fn seeded_partitions_are_pinned() {
        // Pinned so that a change to the generator or the algorithms, which would silently change every
        // published simulation, is noticed. libm makes these the same on every platform.
        let labels = labels(1000);
        let sizes = |plan: Partitioning| plan.split(&labels, 5, 42).unwrap().iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(Partitioning::Dirichlet { alpha: 0.5, min_samples: 1 }), [201, 108, 186, 310, 195]);
        assert_eq!(sizes(Partitioning::PowerLaw { exponent: 1.5, min_samples: 10 }), [58, 77, 114, 201, 550]);
        assert_eq!(Partitioning::Iid.split(&labels, 5, 42).unwrap()[0][..5], [2, 3, 5, 13, 14]);
    }

    #[test]
    fn impossible_requests_are_errors() {
        let labels = labels(10);
        assert!(Partitioning::Iid.split(&labels, 0, 0).is_err());
        assert!(Partitioning::Iid.split(&labels, 11, 0).is_err());
        assert!(Partitioning::Dirichlet { alpha: 0.0, min_samples: 0 }.split(&labels, 2, 0).is_err());
        assert!(Partitioning::Dirichlet { alpha: f64::NAN, min_samples: 0 }.split(&labels, 2, 0).is_err());
        assert!(Partitioning::PowerLaw { exponent: -1.0, min_samples: 0 }.split(&labels, 2, 0).is_err());
        assert!(Partitioning::PowerLaw { exponent: 1.0, min_samples: 6 }.split(&labels, 2, 0).is_err());
    }
}
