use crate::{
    WorkerId,
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

/// For each update, the cosine to the sum of the other candidates' *unit* vectors, from the Gram matrix in
/// `pairwise`; `None` when that sum is zero (no other candidates). Each candidate casts one vote for a
/// direction, so one very long update (scaled noise) cannot swamp the reference.
pub(crate) fn cosines_to_others(pairwise: &Pairwise, candidate: &[bool]) -> Vec<Option<f64>> {
    let n = pairwise.n;
    let norms: Vec<f64> = (0..n).map(|i| pairwise.dot(i, i).sqrt()).collect();
    let unit = |i: usize, k: usize| {
        if norms[i] > 0.0 && norms[k] > 0.0 { pairwise.dot(i, k) / (norms[i] * norms[k]) } else { 0.0 }
    };
    let members: Vec<usize> = (0..n).filter(|&k| candidate[k] && norms[k] > 0.0).collect();
    let row_sum = |i: usize| members.iter().map(|&k| unit(i, k)).sum::<f64>();
    let total: f64 = members.iter().map(|&k| row_sum(k)).sum();
    (0..n)
        .map(|i| {
            let (dot, sq) = if members.contains(&i) {
                let row = row_sum(i);
                (row - 1.0, total - 2.0 * row + 1.0)
            } else {
                (row_sum(i), total)
            };
            (sq > 1e-12 * members.len() as f64 && norms[i] > 0.0).then(|| cosine_from(dot, 1.0, sq.sqrt()))
        })
        .collect()
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
        let c = cosines_to_others(&p, &[true, true, true]);
        // a against the unit vectors of b and noise, (1, 1): 1/sqrt(2), however long the noise is.
        // noise against a + b = (2, 0): 0.
        assert!((c[0].unwrap() - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(c[2], Some(0.0));
        // Not a candidate: compared with all candidates (a + b).
        let c = cosines_to_others(&p, &[true, true, false]);
        assert_eq!(c[2], Some(0.0));
        assert_eq!(c[0], Some(1.0));
        assert_eq!(cosines_to_others(&p, &[true, false, false])[0], None);
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
