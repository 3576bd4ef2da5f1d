//! Copies in any disguise. An update is a copy when almost all of it lies in the span of vectors its sender
//! could have had before sending it: the updates received earlier in the round and the remembered updates and
//! global changes of earlier rounds ([`UpdateHistory`]). The span test does not care about scale, sign or
//! mixing (`a x + b y` lies in the span of `x` and `y`), and noise leaves a residual of about its share of the
//! norm. The bar follows the round: a fraction of its median residual, within fixed bounds.
//! Sparsified copies (an earlier update with most coordinates zeroed) are found by the cosine on the copy's
//! own support, on the exact vectors. Copies buried in noise as large as themselves keep most of their norm
//! outside any span, but what they share with their source beyond the round's common direction stays: the
//! cosine of the two updates with that direction taken out (their partial cosine) is far above the partial
//! cosines of honest pairs, whose own data make them differ. The earlier receipt is always the original.

use super::{
    Sketch, Source, UpdateHistory,
    sketch::{Span, flat_cosine},
};
use crate::WorkerId;

/// What the copy test found about one update.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyCheck {
    /// The part of the update outside the span of what came before it, `|x - P x| / |x|` on sketches: 1 for
    /// wholly new work, near 0 for a copy.
    pub residual: f64,
    /// The single earlier vector it is closest to, with the absolute cosine (on the exact vectors, restricted
    /// to the update's nonzero coordinates, for this round's updates; on sketches for earlier rounds').
    pub nearest: Option<(Source, f64)>,
    /// Whether it is a copy: residual at most the bar, or a support cosine at least the bar to one update.
    pub copy: bool,
    /// The round's residual bar.
    pub bar: f64,
    /// The round's median residual.
    pub median_residual: f64,
    /// The largest partial cosine (absolute, on sketches, the round's common direction taken out) to an earlier
    /// vector not sent by the same worker, with that vector.
    pub partial: Option<(Source, f64)>,
    /// Whether the partial cosine alone made it a copy (the span test did not).
    pub by_partial: bool,
    /// The round's partial-cosine bar.
    pub partial_bar: f64,
    /// The round's median partial cosine, which the bar follows.
    pub median_partial: f64,
}

/// The bars of the copy test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CopyBars {
    /// The residual bar is at least this...
    pub min_residual: f64,
    /// ...at most this...
    pub max_residual: f64,
    /// ...and otherwise this fraction of the round's median residual: copies are a minority, so the median
    /// is honest work's, and the bar follows how much of honest work its peers explain this round.
    pub residual_fraction: f64,
    /// An update whose cosine on its own support to an earlier update of the round is at least this is a copy.
    pub min_support_cosine: f64,
    /// The partial-cosine bar is at least this...
    pub min_partial_cosine: f64,
    /// ...and otherwise this multiple of the round's median partial cosine (honest pairs share little beyond
    /// the common direction, and the median is honest work's).
    pub partial_median_multiple: f64,
}

/// Pairs whose sketches agree less than this are not compared exactly: they cannot be sparsified copies
/// (keeping a tenth of an update's largest coordinates keeps well over a third of its norm).
const CANDIDATE_COSINE: f64 = 0.3;

/// The span test applies while the span has at most one vector per this many dimensions (of the update, or
/// of the sketch if fewer): honest work in `d` dimensions keeps about `1 - k / d` of itself outside a span of
/// `k` unrelated vectors.
const SPAN_ROOM: usize = 4;

/// A residual within this of what a random direction would keep outside the span is no measure of how much
/// of honest work its peers explain (the spread of a random direction's residual is far smaller: about
/// `0.5 / sqrt(d)` for a span of `d / 50` vectors).
const CHANCE_SLACK: f64 = 0.02;

/// What a direction drawn at random keeps outside a span of `vectors` vectors in `dimension` dimensions:
/// `sqrt(1 - vectors / dimension)`.
fn chance_residual(vectors: usize, dimension: usize) -> f64 {
    (1.0 - vectors as f64 / dimension.max(1) as f64).max(0.0).sqrt()
}

/// Checks each update of `round` against everything that came before it. `workers`, `deltas` and `receipts`
/// are index-aligned; the result is too. Zero updates are never copies (the norm test catches them).
pub fn find_copies(
    round: u64,
    workers: &[&WorkerId],
    deltas: &[&[f32]],
    receipts: &[u64],
    history: &UpdateHistory,
    bars: CopyBars,
) -> Vec<CopyCheck> {
    assert!(workers.len() == deltas.len() && deltas.len() == receipts.len(), "one worker and receipt per update");
    let flat: Vec<Vec<f64>> = deltas.iter().map(|d| Sketch::of(d).to_vec()).collect();
    // Each sketch as floats once: every update is compared with every earlier one.
    let remembered: Vec<Vec<f64>> = history.entries().iter().map(|e| e.sketch.to_vec()).collect();
    let mut span = Span::default();
    for entry in &remembered {
        span.push(entry);
    }
    let common = common_direction(&flat);
    let beyond_now: Vec<Vec<f64>> = flat.iter().map(|v| beyond(v, common.as_deref())).collect();
    let beyond_then: Vec<Vec<f64>> = remembered.iter().map(|v| beyond(v, common.as_deref())).collect();
    let mut order: Vec<usize> = (0..deltas.len()).collect();
    order.sort_by_key(|&i| (receipts[i], i));

    let blank = CopyCheck {
        residual: 1.0,
        nearest: None,
        copy: false,
        bar: 0.0,
        median_residual: 1.0,
        partial: None,
        by_partial: false,
        partial_bar: 1.0,
        median_partial: 0.0,
    };
    let mut checks = vec![blank; deltas.len()];
    let mut candidates: Vec<Candidate> = vec![Candidate::default(); deltas.len()];
    for (k, &i) in order.iter().enumerate() {
        let nonzero = deltas[i].iter().any(|&v| v != 0.0);
        let mut nearest: Option<(Source, f64)> = None;
        let mut consider = |source: Source, cosine: f64| {
            if nearest.as_ref().is_none_or(|(_, best)| cosine > *best) {
                nearest = Some((source, cosine));
            }
        };
        for (entry, remembered) in history.entries().iter().zip(&remembered) {
            consider(entry.source.clone(), flat_cosine(&flat[i], remembered).abs());
        }
        let mut support_copy = false;
        for &j in &order[..k] {
            let mut cosine = flat_cosine(&flat[i], &flat[j]).abs();
            if cosine >= CANDIDATE_COSINE {
                cosine = support_cosine(deltas[i], deltas[j]).abs();
                support_copy |= cosine >= bars.min_support_cosine;
            }
            consider(Source::Update { worker: workers[j].clone(), round }, cosine);
        }
        let residual = span.residual_fraction(&flat[i]);
        // In few dimensions any vector lies in the span of a few others: the span test needs room.
        let dimension = deltas[i].len().min(super::SKETCH_DIM);
        let roomy = SPAN_ROOM * span.len() <= dimension;
        // Nothing before it, or nothing that explains it better than chance (noise, the first receipt of a
        // task): its residual says nothing about how much of honest work the round's peers explain.
        let informative = nonzero && span.len() > 0 && residual < chance_residual(span.len(), dimension) - CHANCE_SLACK;
        candidates[i] = Candidate { nonzero, roomy, support_copy, informative };
        // A worker's own earlier updates share its data with this one: replaying them is the span test's.
        let mut partial: Option<(Source, f64)> = None;
        let mut closer = |source: Source, cosine: f64| {
            if partial.as_ref().is_none_or(|(_, best)| cosine > *best) {
                partial = Some((source, cosine));
            }
        };
        for (entry, then) in history.entries().iter().zip(&beyond_then) {
            if !matches!(&entry.source, Source::Update { worker, .. } if worker == workers[i]) {
                closer(entry.source.clone(), flat_cosine(&beyond_now[i], then).abs());
            }
        }
        for &j in &order[..k] {
            closer(
                Source::Update { worker: workers[j].clone(), round },
                flat_cosine(&beyond_now[i], &beyond_now[j]).abs(),
            );
        }
        checks[i] = CopyCheck { residual, nearest, partial, ..checks[i].clone() };
        span.push(&flat[i]);
    }
    // Over the informative residuals only: a round's noise and first receipts would raise the median, and the
    // bar with it, towards honest work's residual. With none, the bar is its least.
    let residuals: Vec<f64> =
        checks.iter().zip(&candidates).filter(|(_, c)| c.informative).map(|(c, _)| c.residual).collect();
    let median_residual = super::median(&residuals);
    let bar = (bars.residual_fraction * median_residual).clamp(bars.min_residual, bars.max_residual);
    let partials: Vec<f64> = checks
        .iter()
        .zip(&candidates)
        .filter(|(_, c)| c.nonzero)
        .filter_map(|(c, _)| c.partial.as_ref().map(|(_, p)| *p))
        .collect();
    let median_partial = super::median(&partials);
    let partial_bar = (bars.partial_median_multiple * median_partial).max(bars.min_partial_cosine);
    for (check, &Candidate { nonzero, roomy, support_copy, .. }) in checks.iter_mut().zip(&candidates) {
        let spanned = nonzero && ((roomy && check.residual <= bar) || support_copy);
        let shared = nonzero && check.partial.as_ref().is_some_and(|(_, p)| *p >= partial_bar);
        check.copy = spanned || shared;
        check.by_partial = shared && !spanned;
        check.bar = bar;
        check.median_residual = median_residual;
        check.partial_bar = partial_bar;
        check.median_partial = median_partial;
    }
    checks
}

/// What the copy test knows about one update before the round's bars are set.
#[derive(Clone, Copy, Debug, Default)]
struct Candidate {
    /// It is not all zeros.
    nonzero: bool,
    /// The span before it had room for the span test.
    roomy: bool,
    /// Its cosine on its own support to an earlier update of the round reached the bar.
    support_copy: bool,
    /// Its residual counts towards the round's median.
    informative: bool,
}

/// The round's common direction: the coordinate-wise median of its nonzero updates' sketches as unit vectors,
/// normalised (`None` when there are none or it is zero). A median, so that a few outliers (noise, a sign
/// flip) do not become part of what every honest update is measured against.
fn common_direction(flat: &[Vec<f64>]) -> Option<Vec<f64>> {
    let units: Vec<Vec<f64>> = flat
        .iter()
        .filter_map(|v| {
            let norm = crate::vector::dot_f64(v, v).sqrt();
            (norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
        })
        .collect();
    let len = units.first()?.len();
    let mut column = Vec::with_capacity(units.len());
    let median: Vec<f64> = (0..len)
        .map(|k| {
            column.clear();
            column.extend(units.iter().map(|u| u[k]));
            super::median(&column)
        })
        .collect();
    let norm = crate::vector::dot_f64(&median, &median).sqrt();
    (norm > 0.0).then(|| median.into_iter().map(|m| m / norm).collect())
}

/// `v` with its component along the unit vector `common` taken out.
fn beyond(v: &[f64], common: Option<&[f64]>) -> Vec<f64> {
    match common {
        Some(u) => {
            let along = crate::vector::dot_f64(v, u);
            v.iter().zip(u).map(|(x, y)| x - along * y).collect()
        }
        None => v.to_vec(),
    }
}

/// The cosine between `copy` and `original` over the coordinates where `copy` is nonzero (0 when either part
/// is zero), summed in coordinate order.
fn support_cosine(copy: &[f32], original: &[f32]) -> f64 {
    let (mut dot, mut copy_sq, mut original_sq) = (0.0f64, 0.0f64, 0.0f64);
    for (&c, &o) in copy.iter().zip(original) {
        if c != 0.0 {
            let (c, o) = (f64::from(c), f64::from(o));
            dot += c * o;
            copy_sq += c * c;
            original_sq += o * o;
        }
    }
    let norms = (copy_sq * original_sq).sqrt();
    if norms > 0.0 { (dot / norms).clamp(-1.0, 1.0) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARS: CopyBars = CopyBars {
        min_residual: 0.25,
        max_residual: 0.45,
        residual_fraction: 0.5,
        min_support_cosine: 0.97,
        min_partial_cosine: 0.35,
        partial_median_multiple: 3.0,
    };

    fn vector(seed: u64, len: usize) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32
            })
            .collect()
    }

    fn check(deltas: &[&[f32]], receipts: &[u64], history: &UpdateHistory) -> Vec<CopyCheck> {
        let ids: Vec<WorkerId> = (0..deltas.len()).map(|i| WorkerId::new(format!("w{i}"))).collect();
        let workers: Vec<&WorkerId> = ids.iter().collect();
        find_copies(3, &workers, deltas, receipts, history, BARS)
    }

    #[test]
    fn scaled_noised_mixed_and_sparsified_copies_are_caught_and_the_earlier_receipt_is_the_original() {
        let len = 20_000;
        let (a, b, c) = (vector(1, len), vector(2, len), vector(3, len));
        let noise = vector(9, len);
        let scaled: Vec<f32> = a.iter().map(|v| 40.0 * v).collect();
        let noised: Vec<f32> = a.iter().zip(&noise).map(|(v, n)| v + 0.1 * n).collect();
        let mixed: Vec<f32> = a.iter().zip(&b).map(|(x, y)| 0.5 * x + 0.5 * y).collect();
        let mut magnitudes: Vec<f32> = b.iter().map(|v| v.abs()).collect();
        magnitudes.sort_by(f32::total_cmp);
        let cut = magnitudes[len * 9 / 10];
        let sparse: Vec<f32> = b.iter().map(|&v| if v.abs() >= cut { v } else { 0.0 }).collect();
        let deltas: Vec<&[f32]> = vec![&a, &b, &c, &scaled, &noised, &mixed, &sparse];
        let found = check(&deltas, &[0, 1, 2, 3, 4, 5, 6], &UpdateHistory::default());
        let copies: Vec<bool> = found.iter().map(|c| c.copy).collect();
        assert_eq!(copies, [false, false, false, true, true, true, true]);
        assert!(found[2].residual > 0.9);
        let (source, cosine) = found[3].nearest.clone().unwrap();
        assert_eq!((source, cosine > 1.0 - 1e-9), (Source::Update { worker: WorkerId::new("w0"), round: 3 }, true));
        let (source, cosine) = found[6].nearest.clone().unwrap();
        assert_eq!((source, cosine > 0.999), (Source::Update { worker: WorkerId::new("w1"), round: 3 }, true));

        // Received first, the scaled one is the original and the other is the copy.
        let found = check(&[&a, &scaled], &[5, 1], &UpdateHistory::default());
        assert_eq!((found[0].copy, found[1].copy), (true, false));
        // Zero updates are never copies.
        let zero = vec![0.0f32; len];
        assert!(!check(&[&zero, &zero], &[0, 1], &UpdateHistory::default())[1].copy);
    }

    #[test]
    fn copies_under_noise_as_large_as_themselves_are_caught_by_what_they_share_beyond_the_common_direction() {
        let len = 20_000;
        let common = vector(100, len);
        // Ten honest updates: a shared direction plus each one's own data, as large again.
        let honest: Vec<Vec<f32>> =
            (0..10).map(|k| common.iter().zip(vector(k + 1, len)).map(|(c, own)| c + own).collect()).collect();
        let noise = vector(99, len);
        let copy: Vec<f32> = honest[3].iter().zip(&noise).map(|(v, n)| v + 1.4 * n).collect();
        let mut deltas: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
        deltas.push(&copy);
        let receipts: Vec<u64> = (0..deltas.len() as u64).collect();
        let found = check(&deltas, &receipts, &UpdateHistory::default());
        let copies: Vec<usize> = (0..found.len()).filter(|&i| found[i].copy).collect();
        assert_eq!(copies, [10], "{found:#?}");
        let last = &found[10];
        // The span test alone does not see it: its noise is as large as the copied update.
        assert!(last.by_partial && last.residual > last.bar, "{last:?}");
        let (source, partial) = last.partial.clone().unwrap();
        assert_eq!(source, Source::Update { worker: WorkerId::new("w3"), round: 3 });
        assert!(partial >= last.partial_bar && last.median_partial < 0.2, "{last:?}");
    }

    #[test]
    fn noise_and_first_receipts_do_not_raise_the_bar_onto_honest_work() {
        let len = 20_000;
        let common = vector(100, len);
        // Three free-riders' noise arrives first; then three honest updates, a shared direction plus their own
        // data at two thirds of it, so each keeps about 0.55 of itself outside the span of the earlier ones.
        let noise: Vec<Vec<f32>> = (0..3).map(|k| vector(50 + k, len).iter().map(|v| 0.01 * v).collect()).collect();
        let honest: Vec<Vec<f32>> =
            (0..3).map(|k| common.iter().zip(vector(k + 1, len)).map(|(c, own)| c + 0.66 * own).collect()).collect();
        let deltas: Vec<&[f32]> = noise.iter().chain(&honest).map(Vec::as_slice).collect();
        let receipts: Vec<u64> = (0..deltas.len() as u64).collect();
        let bars = CopyBars { max_residual: 0.65, residual_fraction: 0.7, ..BARS };
        let ids: Vec<WorkerId> = (0..deltas.len()).map(|i| WorkerId::new(format!("w{i}"))).collect();
        let workers: Vec<&WorkerId> = ids.iter().collect();
        let found = find_copies(1, &workers, &deltas, &receipts, &UpdateHistory::default(), bars);
        assert!(found.iter().all(|c| !c.copy), "{found:#?}");
        // The median is honest work's (the two honest updates the earlier ones explain), not the noise's 1.
        let last = &found[5];
        assert!(last.residual > 0.45 && last.residual < 0.65, "{last:?}");
        assert!(last.median_residual < 0.75 && last.bar < 0.5, "{last:?}");
    }

    #[test]
    fn replays_of_earlier_rounds_are_caught() {
        let len = 20_000;
        let (old, fresh) = (vector(1, len), vector(2, len));
        let mut history = UpdateHistory::default();
        history.record(2, [(WorkerId::new("w5"), Sketch::of(&old))], Some(Sketch::of(&fresh)), 2);
        let replay: Vec<f32> = old.iter().map(|v| -0.5 * v).collect();
        let new = vector(3, len);
        let found = check(&[&replay, &new], &[0, 1], &history);
        assert!(found[0].copy && !found[1].copy);
        assert_eq!(found[0].nearest.as_ref().unwrap().0, Source::Update { worker: WorkerId::new("w5"), round: 2 });
    }
}
