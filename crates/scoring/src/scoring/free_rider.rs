use crate::{
    Result, WorkerId,
    updates::ColumnBlocks,
    vector::{Pairwise, cosine_from},
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether an update's norm is a free-rider's: zero, or below `min_ratio` of the round's median norm.
pub fn is_tiny(norm: f64, median_norm: f64, min_ratio: f64) -> bool {
    norm == 0.0 || norm < min_ratio * median_norm
}

/// Each worker's recent cosines to the aggregate, to find updates that stay uncorrelated with everyone else
/// (noise) or opposed to them, round after round.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CosineHistory {
    workers: BTreeMap<WorkerId, Vec<f64>>,
}

impl CosineHistory {
    /// Appends a round's cosine, keeping the last `window`.
    pub fn record(&mut self, worker: &WorkerId, cosine: f64, window: usize) {
        let history = self.workers.entry(worker.clone()).or_default();
        history.push(cosine);
        if history.len() > window {
            history.drain(..history.len() - window);
        }
    }

    /// The mean of the kept cosines (summed oldest first) and how many there are.
    pub fn mean(&self, worker: &WorkerId) -> Option<(f64, u32)> {
        let history = self.workers.get(worker).filter(|h| !h.is_empty())?;
        Some((history.iter().sum::<f64>() / history.len() as f64, history.len() as u32))
    }
}

/// Each update's dot products with the candidates' unit vectors, from which the cosine of an update, or of any
/// combination of updates, to the sum of the others' unit vectors follows without another pass.
#[derive(Clone, Debug)]
pub(crate) struct UnitSums {
    /// The updates' norms.
    pub(crate) norms: Vec<f64>,
    /// The candidates with a nonzero norm, whose unit vectors are summed.
    pub(crate) members: Vec<usize>,
    /// For each update, the sum of its cosines to the members (its own 1 included if it is one).
    pub(crate) rows: Vec<f64>,
    /// `|S|^2`, the squared norm of the members' unit sum: the sum of their rows.
    total: f64,
}

impl UnitSums {
    /// From the Gram matrix in `pairwise`.
    pub(crate) fn from_pairwise(pairwise: &Pairwise, candidate: &[bool]) -> Self {
        let n = pairwise.n;
        let norms: Vec<f64> = (0..n).map(|i| pairwise.dot(i, i).sqrt()).collect();
        let unit = |i: usize, k: usize| {
            if norms[i] > 0.0 && norms[k] > 0.0 { pairwise.dot(i, k) / (norms[i] * norms[k]) } else { 0.0 }
        };
        let members: Vec<usize> = (0..n).filter(|&k| candidate[k] && norms[k] > 0.0).collect();
        let rows = (0..n).map(|i| members.iter().map(|&k| unit(i, k)).sum::<f64>()).collect();
        Self::new(norms, members, rows)
    }

    /// Without the pairs' dot products: the sum of the candidates' unit vectors `S` is built a block of
    /// coordinates at a time and each update's dot product with it summed alongside (a block of `S` depends only
    /// on that block of the updates), so the cost is one pass over the updates instead of every pair. `sq_norms`
    /// are the updates' squared norms. The same sums as from every pair, up to rounding.
    pub(crate) fn streamed(blocks: &ColumnBlocks<'_>, sq_norms: &[f64], candidate: &[bool]) -> Result<Self> {
        let n = sq_norms.len();
        let norms: Vec<f64> = sq_norms.iter().map(|sq| sq.sqrt()).collect();
        let members: Vec<usize> = (0..n).filter(|&k| candidate[k] && norms[k] > 0.0).collect();
        let mut dots = vec![0.0f64; n];
        let mut sum = Vec::new();
        blocks.for_each(|block| {
            sum.clear();
            sum.resize(block.range.len(), 0.0f64);
            for &k in &members {
                let scale = 1.0 / norms[k];
                for (s, &v) in sum.iter_mut().zip(block.row(k)) {
                    *s += f64::from(v) * scale;
                }
            }
            for (i, dot) in dots.iter_mut().enumerate() {
                *dot += block.row(i).iter().zip(&sum).map(|(&v, s)| f64::from(v) * s).sum::<f64>();
            }
            Ok(())
        })?;
        let rows = (0..n).map(|i| if norms[i] > 0.0 { dots[i] / norms[i] } else { 0.0 }).collect();
        Ok(Self::new(norms, members, rows))
    }

    fn new(norms: Vec<f64>, members: Vec<usize>, rows: Vec<f64>) -> Self {
        let total = members.iter().map(|&k| rows[k]).sum();
        Self { norms, members, rows, total }
    }

    /// `|S|^2`, the squared norm of the members' unit sum.
    pub(crate) fn total(&self) -> f64 {
        self.total
    }

    /// Whether update `i` is a member.
    pub(crate) fn is_member(&self, i: usize) -> bool {
        self.members.binary_search(&i).is_ok()
    }

    /// For each update, the cosine to the sum of the other members' unit vectors; `None` when that sum is zero (no
    /// other members). Each member casts one vote for a direction, so one very long update (scaled noise) cannot
    /// swamp the reference. The others' unit sum is the members' less its own unit vector.
    pub(crate) fn cosines(&self) -> Vec<Option<f64>> {
        let total = self.total();
        (0..self.norms.len())
            .map(|i| {
                let (dot, sq) = if self.is_member(i) {
                    let row = self.rows[i];
                    (row - 1.0, total - 2.0 * row + 1.0)
                } else {
                    (self.rows[i], total)
                };
                (sq > 1e-12 * self.members.len() as f64 && self.norms[i] > 0.0)
                    .then(|| cosine_from(dot, 1.0, sq.sqrt()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::PairSum;

    #[test]
    fn tiny_norms() {
        assert!(is_tiny(0.0, 0.0, 0.1));
        assert!(is_tiny(0.05, 1.0, 0.1));
        assert!(!is_tiny(0.2, 1.0, 0.1));
    }

    #[test]
    fn cosine_to_the_others_ignores_the_worker_itself() {
        let a = [1.0f32, 0.0];
        let b = [1.0f32, 0.0];
        let noise = [0.0f32, 5.0];
        let p = Pairwise::compute(&[&a, &b, &noise], PairSum::Dot);
        let c = UnitSums::from_pairwise(&p, &[true, true, true]).cosines();
        // a against the unit vectors of b and noise, (1, 1): 1/sqrt(2), however long the noise is.
        // noise against a + b = (2, 0): 0.
        assert!((c[0].unwrap() - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(c[2], Some(0.0));
        // Not a candidate: compared with all candidates (a + b).
        let c = UnitSums::from_pairwise(&p, &[true, true, false]).cosines();
        assert_eq!(c[2], Some(0.0));
        assert_eq!(c[0], Some(1.0));
        assert_eq!(UnitSums::from_pairwise(&p, &[true, false, false]).cosines()[0], None);
    }

    #[test]
    fn one_pass_gives_the_cosines_every_pair_gives() {
        let len = 3 * crate::vector::BLOCK + 11;
        let updates: Vec<Vec<f32>> = (0..6)
            .map(|k| {
                (0..len).map(|i| ((i * (k + 3) + k * k) % 23) as f32 - 11.0 + if k == 5 { 0.0 } else { 4.0 }).collect()
            })
            .collect();
        let refs: Vec<&[f32]> = updates.iter().map(Vec::as_slice).collect();
        let pairwise = Pairwise::compute(&refs, PairSum::Dot);
        let sq: Vec<f64> = (0..6).map(|i| pairwise.dot(i, i)).collect();
        let blocks = ColumnBlocks::new(&updates, (0..6).collect(), len, 4 * crate::vector::BLOCK * 6);
        for candidate in [[true; 6], [true, false, true, true, false, true]] {
            let every_pair = UnitSums::from_pairwise(&pairwise, &candidate).cosines();
            let streamed = UnitSums::streamed(&blocks, &sq, &candidate).unwrap().cosines();
            for (a, b) in every_pair.iter().zip(&streamed) {
                assert!((a.unwrap() - b.unwrap()).abs() < 1e-12, "{every_pair:?} vs {streamed:?}");
            }
        }
    }

    #[test]
    fn keeps_a_window() {
        let w = WorkerId::new("w");
        let mut history = CosineHistory::default();
        assert_eq!(history.mean(&w), None);
        for c in [0.9, 0.0, 0.1, -0.1] {
            history.record(&w, c, 3);
        }
        assert_eq!(history.mean(&w), Some(((0.0 + 0.1 + -0.1) / 3.0, 3)));
    }
}
