use crate::vector::{Pairwise, cosine_from};

/// Update `copy` nearly equals update `original`, which was received earlier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CopyOf {
    /// Index of the copy.
    pub copy: usize,
    /// Index of the earliest-received update it matches.
    pub original: usize,
    /// Their cosine similarity.
    pub cosine: f64,
    /// `|a - b| / max(|a|, |b|)`.
    pub relative_distance: f64,
}

/// Finds near-identical updates in one round: cosine above `min_cosine` and relative L2 distance below
/// `max_relative_distance`. Of each such pair the later receipt is the copy (equal receipts: the higher
/// index); each copy points at the earliest update it matches. Sorted by copy index.
pub fn find_copies(deltas: &[&[f32]], receipts: &[u64], min_cosine: f64, max_relative_distance: f64) -> Vec<CopyOf> {
    assert_eq!(deltas.len(), receipts.len(), "one receipt per update");
    copies_from(&Pairwise::compute(deltas, true), receipts, min_cosine, max_relative_distance)
}

pub(crate) fn copies_from(pairwise: &Pairwise, receipts: &[u64], min_cosine: f64, max_relative: f64) -> Vec<CopyOf> {
    let n = pairwise.n;
    let norms: Vec<f64> = (0..n).map(|i| pairwise.dot(i, i).sqrt()).collect();
    let earlier = |a: usize, b: usize| (receipts[a], a) < (receipts[b], b);
    let mut found = Vec::new();
    for copy in 0..n {
        let mut best: Option<CopyOf> = None;
        for original in (0..n).filter(|&i| i != copy && earlier(i, copy)) {
            let cosine = cosine_from(pairwise.dot(copy, original), norms[copy], norms[original]);
            let scale = norms[copy].max(norms[original]);
            let relative_distance = if scale > 0.0 { pairwise.sq_dist(copy, original).sqrt() / scale } else { 0.0 };
            if cosine > min_cosine && relative_distance < max_relative {
                let candidate = CopyOf { copy, original, cosine, relative_distance };
                if best.is_none_or(|b| earlier(original, b.original)) {
                    best = Some(candidate);
                }
            }
        }
        found.extend(best);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_receipt_is_the_copy() {
        let honest = vec![1.0f32, -2.0, 3.0, 0.5];
        let noisy = vec![1.001f32, -2.0, 2.999, 0.5];
        let other = vec![-1.0f32, 2.0, 0.0, 4.0];
        // The copier (index 0) was received after the honest worker (index 2).
        let found = find_copies(&[&noisy, &other, &honest], &[7, 3, 5], 0.99, 0.01);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].copy, found[0].original), (0, 2));
        assert!(found[0].cosine > 0.9999 && found[0].relative_distance < 1e-3);
        // Received first, the same update is the original.
        let found = find_copies(&[&noisy, &other, &honest], &[1, 3, 5], 0.99, 0.01);
        assert_eq!((found[0].copy, found[0].original), (2, 0));
    }

    #[test]
    fn exact_copies_point_at_the_earliest_and_distinct_updates_pass() {
        let a = vec![0.5f32; 8];
        let found = find_copies(&[&a, &a, &a], &[2, 1, 3], 0.99, 0.01);
        let pairs: Vec<(usize, usize)> = found.iter().map(|c| (c.copy, c.original)).collect();
        assert_eq!(pairs, vec![(0, 1), (2, 1)]);
        // Same direction, twice the length: relative distance 0.5, not a copy.
        let b = vec![1.0f32; 8];
        assert!(find_copies(&[&a, &b], &[1, 2], 0.99, 0.1).is_empty());
        // Zero updates are never copies (the norm test catches them).
        let z = vec![0.0f32; 8];
        assert!(find_copies(&[&z, &z], &[1, 2], 0.99, 0.1).is_empty());
    }
}
