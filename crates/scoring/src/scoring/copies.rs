//! Copies in any disguise. An update is a copy when almost all of it lies in the span of vectors its sender
//! could have had before sending it: the updates received earlier in the round and the remembered updates and
//! global changes of earlier rounds ([`UpdateHistory`]). The span test does not care about scale, sign or
//! mixing (`a x + b y` lies in the span of `x` and `y`), and noise leaves a residual of about its share of the
//! norm. The bar follows the round: a fraction of its median residual, within fixed bounds.
//! Sparsified copies (an earlier update with most coordinates zeroed) are found by the cosine on the copy's
//! own support, on the exact vectors. Copies buried in noise larger than themselves keep most of their norm
//! outside any span, but what they share with their source beyond the round's common direction stays: the
//! cosine of the two updates with that direction taken out (their partial cosine) is far above the partial
//! cosines of honest pairs, whose own data make them differ. Within the round it is measured on the exact
//! updates (from the round's pairwise dot products); against earlier rounds, on their sketches, whose error
//! the bar allows for. The earlier receipt is the original. Under noise several times its norm a copy shares too
//! little with its source for either test, but it still adds nothing of its own: with its source taken out,
//! what is left agrees with the others no better than chance, while honest work, in a round whose updates share
//! a direction, keeps agreeing with the round beyond any peer ([`CopyCheck::beyond`]). That test also catches
//! an update that adds only noise to one received after it: the noised copy a pair of identities sends ahead of
//! its original.

use super::{
    SKETCH_DIM, Sketch, Source, UpdateHistory,
    free_rider::UnitSums,
    median_in_place,
    sketch::{Span, flat_cosine},
};
use crate::{
    Evidence, Result, WorkerId,
    updates::ColumnBlocks,
    vector::{BLOCK, Pairwise},
};
use std::collections::HashMap;

/// What the copy test found about one update.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyCheck {
    /// The part of the update outside the span of what came before it, `|x - P x| / |x|` on sketches: 1 for
    /// wholly new work, near 0 for a copy.
    pub residual: f64,
    /// The single earlier vector it is closest to, with the absolute cosine (on the exact vectors, restricted
    /// to the update's nonzero coordinates, for this round's updates; on sketches for earlier rounds').
    pub nearest: Option<(Source, f64)>,
    /// Whether it is a copy: residual at most the bar, a support cosine at least the bar to one update, or a
    /// partial cosine at least its bar.
    pub copy: bool,
    /// The round's residual bar.
    pub bar: f64,
    /// The round's median residual.
    pub median_residual: f64,
    /// The largest partial cosine (absolute, on the exact updates, the round's common direction taken out) to
    /// an update received earlier in the round, with that update; only between updates that agree with the
    /// others beyond chance. A copy that pays points with the round, and one that does not (noise, a sign flip,
    /// which shares with every honest update, negated, the error of the estimated common direction) is left to
    /// the noise test and earns nothing by the score; nor is such an update anyone's source.
    pub partial: Option<(Source, f64)>,
    /// The round's bar for [`Self::partial`].
    pub partial_bar: f64,
    /// The round's median of [`Self::partial`], which its bar follows.
    pub median_partial: f64,
    /// The largest partial cosine (absolute, on sketches) to a remembered vector of an earlier round not sent
    /// by the same worker, with that vector.
    pub history_partial: Option<(Source, f64)>,
    /// The round's bar for [`Self::history_partial`]: the exact bar's rule plus the sketches' error.
    pub history_partial_bar: f64,
    /// The round's median of [`Self::history_partial`], which its bar follows.
    pub history_median_partial: f64,
    /// Whether a partial cosine alone made it a copy (the span test did not).
    pub by_partial: bool,
    /// What is left of the update once the update of the round that explains the most of it is taken out (by
    /// least squares), measured by its cosine to the sum of the unit vectors of the round's other original
    /// updates, with that source. Honest work keeps its own agreement with the round beyond any peer; a copy
    /// under noise, however heavy, keeps only its noise, which agrees with nothing. Only for updates that agree
    /// with the others beyond chance and are no copies by the other tests, in rounds with every pair's dot
    /// products whose updates all agree with each other (see `RoundVectors::homogeneous`).
    pub beyond: Option<(Source, f64)>,
    /// The round's bar for [`Self::beyond`]: chance agreement, `4 / sqrt(d)`, or a quarter of the round's median
    /// of [`Self::beyond`] if that is lower.
    pub beyond_bar: f64,
    /// The round's median of [`Self::beyond`], which its bar follows.
    pub median_beyond: f64,
    /// Whether [`Self::beyond`] alone made it a copy (neither the span test nor a partial cosine did).
    pub by_beyond: bool,
}

impl CopyCheck {
    /// Before any test: wholly new work.
    fn blank() -> Self {
        Self {
            residual: 1.0,
            nearest: None,
            copy: false,
            bar: 0.0,
            median_residual: 1.0,
            partial: None,
            partial_bar: 1.0,
            median_partial: 0.0,
            history_partial: None,
            history_partial_bar: 1.0,
            history_median_partial: 0.0,
            by_partial: false,
            beyond: None,
            beyond_bar: 0.0,
            median_beyond: 0.0,
            by_beyond: false,
        }
    }

    /// Why it is a copy, in the words of the test that decided (the span and support tests first, then the
    /// partial cosine, then the remainder); `None` when it is not one. `receipt` is its receipt.
    pub fn evidence(&self, receipt: u64) -> Option<Evidence> {
        if !self.copy {
            return None;
        }
        if self.by_partial {
            let (source, partial_cosine, bar, median_partial_cosine) =
                self.partial_evidence().expect("a copy by its partial cosine has something it copies");
            return Some(Evidence::SharedBeyondCommon { source, partial_cosine, bar, median_partial_cosine, receipt });
        }
        if self.by_beyond {
            let (source, cosine) = self.beyond.clone().expect("a copy by what is left of it has a source");
            let (bar, median_cosine) = (self.beyond_bar, self.median_beyond);
            return Some(Evidence::NothingBeyond { source, cosine, bar, median_cosine, receipt });
        }
        let (source, cosine) = self.nearest.clone().expect("a copy has something it copies");
        Some(Evidence::Copied {
            source,
            cosine,
            residual: self.residual,
            max_residual: self.bar,
            median_residual: self.median_residual,
            receipt,
        })
    }

    /// The partial cosine that made it a copy, with its source, bar and median: this round's exact one if it
    /// reached its bar, else the earlier rounds' sketched one if that did.
    pub fn partial_evidence(&self) -> Option<(Source, f64, f64, f64)> {
        let exact = self.partial.as_ref().filter(|(_, p)| *p >= self.partial_bar);
        let sketched = self.history_partial.as_ref().filter(|(_, p)| *p >= self.history_partial_bar);
        exact
            .map(|(s, p)| (s.clone(), *p, self.partial_bar, self.median_partial))
            .or_else(|| sketched.map(|(s, p)| (s.clone(), *p, self.history_partial_bar, self.history_median_partial)))
    }
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
    /// The exact partial-cosine bar is at least this (on sketches, this plus their error)...
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

/// A cosine measured on sketches is off by about `1 / sqrt(SKETCH_DIM)`, and the largest of the tens of
/// comparisons an update meets can lie several such errors above the truth: a sketched partial cosine must
/// clear the exact bar by five of them.
fn sketch_slack() -> f64 {
    5.0 / (SKETCH_DIM as f64).sqrt()
}

/// An update whose cosine to the others is within this many `1 / sqrt(d)` of zero (or below) does not agree
/// with them: it gets no exact partial cosine, so it neither counts towards the round's median (a round
/// flooded with noise would pull the bar down onto honest pairs that hold similar data) nor is judged by it.
const AGREEMENT_CHANCE_Z: f64 = 4.0;

/// What a direction drawn at random keeps outside a span of `vectors` vectors in `dimension` dimensions:
/// `sqrt(1 - vectors / dimension)`.
fn chance_residual(vectors: usize, dimension: usize) -> f64 {
    (1.0 - vectors as f64 / dimension.max(1) as f64).max(0.0).sqrt()
}

/// Keeps the larger of two candidates for "closest earlier vector".
fn keep_largest(best: &mut Option<(Source, f64)>, source: Source, cosine: f64) {
    if best.as_ref().is_none_or(|(_, b)| cosine > *b) {
        *best = Some((source, cosine));
    }
}

/// The most multiply-adds a round's exact dot products of every pair of updates may take (about a second on
/// two cores); beyond it the copy test compares sketches and sums exact dot products only for the pairs they
/// single out ([`PARTIAL_CANDIDATES`] per update, and every pair close enough to be a sparsified copy).
pub(crate) const EXACT_PAIR_WORK: f64 = 1.5e9;

/// Whether a round of `n` updates of `dimension` parameters has every pair's exact dot product.
pub(crate) fn exact_pairs(n: usize, dimension: usize) -> bool {
    (n as f64) * (n.saturating_sub(1) as f64) / 2.0 * dimension as f64 <= EXACT_PAIR_WORK
}

/// In a round too large for every pair's exact dot product, an update's largest partial cosine to an earlier
/// update is taken over the earlier updates whose sketches give the largest partial cosines, this many. A copy's
/// partial cosine to its source stands far above the honest pairs' (that is what the test looks for), and a
/// sketch moves it by about `1 / sqrt(SKETCH_DIM)`, so its source is among them; for honest work the largest of
/// these is within a sketch's error of the largest of all.
pub(crate) const PARTIAL_CANDIDATES: usize = 8;

/// The exact dot products of a round's updates that the screens read.
#[derive(Clone, Debug)]
pub(crate) enum RoundDots {
    /// Every pair's ([`exact_pairs`]).
    All(Pairwise),
    /// Each update's squared norm, summed as [`Pairwise`] sums its diagonal; pairs are summed when needed.
    Diagonal(Vec<f64>),
}

impl RoundDots {
    /// Update `i`'s squared norm.
    pub(crate) fn sq(&self, i: usize) -> f64 {
        match self {
            Self::All(pairwise) => pairwise.dot(i, i),
            Self::Diagonal(diagonal) => diagonal[i],
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::All(pairwise) => pairwise.n,
            Self::Diagonal(diagonal) => diagonal.len(),
        }
    }

    /// For each update, the cosine to the sum of the other candidates' unit vectors ([`UnitSums::cosines`]): from
    /// every pair's dot products when the round has them, else in one pass over `blocks`.
    pub(crate) fn cosines_to_others(&self, blocks: &ColumnBlocks<'_>, candidate: &[bool]) -> Result<Vec<Option<f64>>> {
        let sums = match self {
            Self::All(pairwise) => UnitSums::from_pairwise(pairwise, candidate),
            Self::Diagonal(diagonal) => UnitSums::streamed(blocks, diagonal, candidate)?,
        };
        Ok(sums.cosines())
    }
}

/// A round's updates as the copy test reads them, index-aligned.
pub(crate) struct CopyInput<'r, 'w> {
    pub(crate) round: u64,
    pub(crate) workers: &'r [&'w WorkerId],
    pub(crate) receipts: &'r [u64],
    pub(crate) sketches: &'r [&'r Sketch],
    /// Whether each update has no zero coordinate.
    pub(crate) dense: &'r [bool],
    pub(crate) dimension: usize,
    pub(crate) dots: &'r RoundDots,
    /// The updates themselves, read a block of coordinates at a time.
    pub(crate) blocks: &'r ColumnBlocks<'r>,
}

/// Checks each update of the round against everything that came before it; the result is index-aligned with
/// the input. Zero updates are never copies (the norm test catches them).
pub(crate) fn find_copies(
    input: &CopyInput<'_, '_>,
    history: &UpdateHistory,
    bars: CopyBars,
) -> Result<Vec<CopyCheck>> {
    let n = input.workers.len();
    assert!(input.receipts.len() == n && input.sketches.len() == n && input.dots.len() == n, "aligned inputs");
    let vectors = RoundVectors::new(input, history)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (input.receipts[i], i));
    let plans: Vec<Plan> = order.iter().enumerate().map(|(k, &i)| vectors.plan(i, &order[..k])).collect();
    let exact = vectors.sum_candidates(&order, &plans, bars)?;
    let mut span = Span::default();
    for entry in &vectors.remembered {
        span.push(entry);
    }
    let mut checks = vec![CopyCheck::blank(); n];
    let mut candidates: Vec<Candidate> = vec![Candidate::default(); n];
    for ((k, &i), plan) in order.iter().enumerate().zip(&plans) {
        (checks[i], candidates[i]) = vectors.check(i, &order[..k], plan, &exact, &span, bars);
        span.push(&vectors.flat[i]);
    }
    set_bars(&mut checks, &candidates, bars);
    // What is left of an update beyond its sources is measured against the round's original work: the updates
    // that agree with the others and are not copies already. Against noise or replays, anything looks like noise.
    // Only with every pair's dot products: a large round's candidate pairs cannot show that every pair agrees.
    let beyond = match input.dots {
        RoundDots::All(pairwise) => {
            let original: Vec<bool> = (0..n).map(|i| vectors.agrees[i] && !checks[i].copy).collect();
            vectors.nothing_beyond(&UnitSums::from_pairwise(pairwise, &original), pairwise)
        }
        RoundDots::Diagonal(_) => vec![None; n],
    };
    for (check, found) in checks.iter_mut().zip(&beyond) {
        check.beyond = found
            .as_ref()
            .map(|b| (Source::Update { worker: input.workers[b.source].clone(), round: input.round }, b.score));
    }
    set_beyond_bar(&mut checks, &beyond, vectors.chance);
    Ok(checks)
}

/// With fewer exact partial cosines than this in a round, their median is no measure of honest pairs' spread
/// and the exact bar's floor is raised to the sketched one's.
const MIN_PARTIALS_FOR_MEDIAN: usize = 5;

/// The others an update's remainder is measured against number at least this many.
const BEYOND_MIN_OTHERS: usize = 3;

/// A remainder at most this fraction of the round's median [`CopyCheck::beyond`] is below the spread of honest
/// work, when that median is itself close to chance.
const BEYOND_MEDIAN_FRACTION: f64 = 0.25;

/// The remainder test judges a round only when every two of its updates that agree with the others at least this
/// many times the chance level agree with each other beyond chance ([`RoundVectors::homogeneous`]).
const BEYOND_STRONG_MULTIPLE: f64 = 4.0;

/// What is left of one update beyond the update of the round that explains the most of it.
#[derive(Clone, Debug)]
struct Beyond {
    /// That update.
    source: usize,
    /// What the bar is held against: the remainder's cosine to the sum of the unit vectors of the other updates
    /// (not it, not its source), or its absolute value when the source came later.
    score: f64,
}

/// What update `i` is compared with exactly, decided from the sketches before the updates are read again.
struct Plan {
    /// The sketch cosine to each earlier update, in receipt order.
    sketch_cosines: Vec<f64>,
    /// The earlier updates whose partial cosine to it is measured exactly.
    partial: Vec<usize>,
}

/// The exact values a round's plans ask for, summed in one pass over the updates.
#[derive(Default)]
struct Exact {
    /// Dot products of pairs `(i, j)`.
    dots: HashMap<(usize, usize), f64>,
    /// Cosines of `i` to `j` on `i`'s support.
    support: HashMap<(usize, usize), f64>,
}

/// What the copy test compares, computed once per round: every update is compared with every earlier one.
struct RoundVectors<'r, 'w> {
    input: &'r CopyInput<'r, 'w>,
    history: &'r UpdateHistory,
    /// The updates' sketches as floats, and their squared norms.
    flat: Vec<Vec<f64>>,
    flat_sq: Vec<f64>,
    /// The remembered sketches of earlier rounds as floats.
    remembered: Vec<Vec<f64>>,
    /// [`Self::flat`] and [`Self::remembered`] with the round's sketched common direction taken out.
    beyond_now: Vec<Vec<f64>>,
    beyond_then: Vec<Vec<f64>>,
    /// [`Self::beyond_now`] as unit vectors, to rank candidates (zero where it is zero).
    beyond_unit: Vec<Vec<f64>>,
    /// Each update's component along the round's exact common direction.
    along: Vec<f64>,
    /// Whether each update is not all zeros.
    nonzero: Vec<bool>,
    /// Whether each update agrees with the others beyond chance.
    agrees: Vec<bool>,
    /// The cosine to the others that [`Self::agrees`] reads.
    chance: f64,
}

impl<'r, 'w> RoundVectors<'r, 'w> {
    fn new(input: &'r CopyInput<'r, 'w>, history: &'r UpdateHistory) -> Result<Self> {
        let n = input.workers.len();
        let flat: Vec<Vec<f64>> = input.sketches.iter().map(|s| s.to_vec()).collect();
        let flat_sq = flat.iter().map(|v| crate::vector::dot_f64(v, v)).collect();
        let remembered: Vec<Vec<f64>> = history.entries().iter().map(|e| e.sketch.to_vec()).collect();
        let common = common_direction(&flat);
        let beyond_now: Vec<Vec<f64>> = flat.iter().map(|v| beyond(v, common.as_deref())).collect();
        let beyond_then = remembered.iter().map(|v| beyond(v, common.as_deref())).collect();
        let beyond_unit = beyond_now
            .iter()
            .map(|v| {
                let norm = crate::vector::dot_f64(v, v).sqrt();
                v.iter().map(|x| if norm > 0.0 { x / norm } else { 0.0 }).collect()
            })
            .collect();
        let nonzero: Vec<bool> = (0..n).map(|i| input.dots.sq(i) > 0.0).collect();
        let along = along_exact_common(input.blocks, input.dots)?;
        let chance = AGREEMENT_CHANCE_Z / (input.dimension.max(1) as f64).sqrt();
        let agrees = input
            .dots
            .cosines_to_others(input.blocks, &nonzero)?
            .into_iter()
            .map(|c| c.is_some_and(|c| c > chance))
            .collect();
        Ok(Self {
            input,
            history,
            flat,
            flat_sq,
            remembered,
            beyond_now,
            beyond_then,
            beyond_unit,
            along,
            nonzero,
            agrees,
            chance,
        })
    }

    fn sketch_cosine(&self, i: usize, j: usize) -> f64 {
        let norms = (self.flat_sq[i] * self.flat_sq[j]).sqrt();
        let dot = crate::vector::dot_f64(&self.flat[i], &self.flat[j]);
        if norms > 0.0 { (dot / norms).clamp(-1.0, 1.0) } else { 0.0 }
    }

    /// Which earlier updates `i` is compared with exactly: every one whose sketch is close enough to be a
    /// sparsified copy's source, and, for its partial cosine, every earlier update that agrees with the others
    /// when the round has every pair's dot product, else the [`PARTIAL_CANDIDATES`] whose sketches come closest.
    fn plan(&self, i: usize, earlier: &[usize]) -> Plan {
        let sketch_cosines = earlier.iter().map(|&j| self.sketch_cosine(i, j).abs()).collect();
        let agreeing = earlier.iter().copied().filter(|&j| self.agrees[i] && self.agrees[j]);
        let partial = match self.input.dots {
            RoundDots::All(_) => agreeing.collect(),
            RoundDots::Diagonal(_) => {
                let mut ranked: Vec<(f64, usize)> = agreeing
                    .map(|j| (crate::vector::dot_f64(&self.beyond_unit[i], &self.beyond_unit[j]).abs(), j))
                    .collect();
                ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let mut chosen: Vec<usize> = ranked.into_iter().take(PARTIAL_CANDIDATES).map(|(_, j)| j).collect();
                chosen.sort_unstable();
                chosen
            }
        };
        Plan { sketch_cosines, partial }
    }

    /// Sums, in one pass over the updates, the exact values the plans ask for that the round does not already
    /// hold: support cosines of sparse updates, and, without every pair's dot products, the dot products of the
    /// candidate pairs (block by block as [`Pairwise`] sums them, so the same bits). `order` is the receipt order
    /// the plans follow.
    fn sum_candidates(&self, order: &[usize], plans: &[Plan], bars: CopyBars) -> Result<Exact> {
        // With every pair's dot products at hand, only sparse updates' support cosines are left to sum.
        let sum_dots = matches!(self.input.dots, RoundDots::Diagonal(_));
        let mut dots: Vec<(usize, usize)> = Vec::new();
        let mut support: Vec<(usize, usize)> = Vec::new();
        // A dense update's support cosine is its plain cosine, and only one near the support bar can make it a
        // copy: without every pair's dot products, only pairs whose sketches come within a sketch's error of that
        // bar are summed exactly (honest updates of a round often agree at 0.3 and beyond; summing all of those
        // would be every pair again).
        let dense_bar = bars.min_support_cosine - sketch_slack();
        for (k, (&i, plan)) in order.iter().zip(plans).enumerate() {
            for (&j, &cosine) in order[..k].iter().zip(&plan.sketch_cosines) {
                if cosine < CANDIDATE_COSINE {
                    continue;
                }
                if !self.input.dense[i] {
                    support.push((i, j));
                } else if sum_dots && cosine >= dense_bar {
                    dots.push((i, j));
                }
            }
            if sum_dots {
                dots.extend(plan.partial.iter().map(|&j| (i, j)));
            }
        }
        dots.sort_unstable();
        dots.dedup();
        let mut exact = Exact::default();
        if dots.is_empty() && support.is_empty() {
            return Ok(exact);
        }
        let mut dot_sums = vec![0.0f64; dots.len()];
        let mut support_sums = vec![SupportSum::default(); support.len()];
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let chunk = dots.len().div_ceil(threads).max(1);
        self.input.blocks.for_each(|block| {
            std::thread::scope(|scope| {
                for (sums, pairs) in dot_sums.chunks_mut(chunk).zip(dots.chunks(chunk)) {
                    scope.spawn(move || {
                        for (sum, &(i, j)) in sums.iter_mut().zip(pairs) {
                            for (a, b) in block.row(i).chunks(BLOCK).zip(block.row(j).chunks(BLOCK)) {
                                *sum += crate::vector::dot(a, b);
                            }
                        }
                    });
                }
            });
            for (sum, &(i, j)) in support_sums.iter_mut().zip(&support) {
                sum.add(block.row(i), block.row(j));
            }
            Ok(())
        })?;
        exact.dots = dots.into_iter().zip(dot_sums).collect();
        exact.support = support.into_iter().zip(support_sums.iter().map(SupportSum::cosine)).collect();
        Ok(exact)
    }

    /// The exact dot product of `i` and `j`, if the round has it.
    fn dot(&self, exact: &Exact, i: usize, j: usize) -> Option<f64> {
        match self.input.dots {
            RoundDots::All(pairwise) => Some(pairwise.dot(i, j)),
            RoundDots::Diagonal(_) => exact.dots.get(&(i, j)).copied(),
        }
    }

    /// The cosine to the others of what is left of update `i` beyond update `j`: with `r = x_i - b x_j` its
    /// least-squares remainder and `O` the sum of the unit vectors of the members of `unit` other than `i` and
    /// `j`, `r . O / (|r| |O|)`, from the round's dot products (`pairwise`) and each update's dot product with the
    /// members' unit sum `S`: `r` is orthogonal to `x_j`, so `r . O = r . S - |r|^2 / |x_i|` for a member `i`.
    /// 0 when `x_j` explains all of `x_i`; `None` when `x_j` is zero or too few others are left to measure
    /// against.
    fn cosine_beyond(unit: &UnitSums, pairwise: &Pairwise, i: usize, j: usize) -> Option<f64> {
        let taken = [i, j].map(|k| unit.is_member(k).then_some(k));
        let (sq, source_sq, cross) = (pairwise.dot(i, i), pairwise.dot(j, j), pairwise.dot(i, j));
        if unit.members.len() < taken.iter().flatten().count() + BEYOND_MIN_OTHERS || source_sq <= 0.0 || sq <= 0.0 {
            return None;
        }
        let weight = cross / source_sq;
        let rest = sq - weight * cross;
        if rest <= 1e-9 * sq {
            return Some(0.0);
        }
        let own = if unit.is_member(i) { rest / unit.norms[i] } else { 0.0 };
        let along_others = unit.norms[i] * unit.rows[i] - weight * unit.norms[j] * unit.rows[j] - own;
        let cosine = |a: usize, b: usize| pairwise.dot(a, b) / (unit.norms[a] * unit.norms[b]);
        let taken = || taken.iter().flatten().copied();
        let others_sq = unit.total() - 2.0 * taken().map(|a| unit.rows[a]).sum::<f64>()
            + taken().flat_map(|a| taken().map(move |b| (a, b))).map(|(a, b)| cosine(a, b)).sum::<f64>();
        if others_sq <= 1e-12 * unit.members.len() as f64 {
            return None;
        }
        Some((along_others / (rest.sqrt() * others_sq.sqrt())).clamp(-1.0, 1.0))
    }

    /// Whether honest work of this round shares its direction, which the remainder test stands on: every two
    /// members of `unit` whose cosine to the others is at least [`BEYOND_STRONG_MULTIPLE`] times chance agree
    /// with each other beyond chance. Under a strong label skew they do not: a worker may agree with the round
    /// only through a peer that holds the same labels, and then has nothing of its own beyond that peer that
    /// the others would agree with; such work cannot be told from a copy under noise, and the test abstains.
    fn homogeneous(&self, unit: &UnitSums, pairwise: &Pairwise) -> bool {
        let strong_bar = BEYOND_STRONG_MULTIPLE * self.chance;
        let cosines = unit.cosines();
        let strong: Vec<usize> =
            unit.members.iter().copied().filter(|&k| cosines[k].is_some_and(|c| c >= strong_bar)).collect();
        strong.iter().enumerate().all(|(a, &x)| {
            strong[a + 1..].iter().all(|&y| pairwise.dot(x, y) / (unit.norms[x] * unit.norms[y]) > self.chance)
        })
    }

    /// For each member of `unit` (an update that agrees with the others and is not a copy already), what is left
    /// of it beyond the update of the round that explains the most of it ([`Self::cosine_beyond`]), when the
    /// round is [`Self::homogeneous`]; `None` for every update otherwise.
    /// Every other agreeing update is tried as the source; the smallest score wins. An earlier source scores
    /// the cosine: a remainder that opposes the others is no more new work than one that ignores them. A later
    /// source scores the absolute cosine, and is not tried when it adds nothing beyond this update (of two
    /// updates that each hold all of the other, the later is the copy); nobody reads another worker's update
    /// before the window closes, so a later update holds all of an earlier one only if it was made from it, and
    /// what a later source catches is an earlier update that only adds noise to it: the noised copy a pair of
    /// identities sends ahead of its original. The partial cosine does not pick the source: the common
    /// direction, a median of the round's unit updates, leans towards a heavily noised update's own noise.
    fn nothing_beyond(&self, unit: &UnitSums, pairwise: &Pairwise) -> Vec<Option<Beyond>> {
        let n = self.input.workers.len();
        if !self.homogeneous(unit, pairwise) {
            return vec![None; n];
        }
        let receipt = |k: usize| (self.input.receipts[k], k);
        // Every agreeing pair's remainder both ways, once: a later source reads the other way round too.
        let remainder: Vec<Vec<Option<f64>>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (i != j && self.agrees[i] && self.agrees[j]).then(|| Self::cosine_beyond(unit, pairwise, i, j))
                    })
                    .map(Option::flatten)
                    .collect()
            })
            .collect();
        (0..n)
            .map(|i| {
                if !unit.is_member(i) {
                    return None;
                }
                let mut best: Option<Beyond> = None;
                for (j, &found) in remainder[i].iter().enumerate() {
                    let Some(cosine) = found else { continue };
                    let score = if receipt(j) < receipt(i) {
                        cosine
                    } else if remainder[j][i].is_none_or(|c| c.abs() > self.chance) {
                        cosine.abs()
                    } else {
                        continue;
                    };
                    if best.as_ref().is_none_or(|b| score < b.score) {
                        best = Some(Beyond { source: j, score });
                    }
                }
                best
            })
            .collect()
    }

    /// Update `i` against the updates received before it (`earlier`) and the remembered rounds; `span` holds
    /// everything before it.
    fn check(
        &self,
        i: usize,
        earlier: &[usize],
        plan: &Plan,
        exact: &Exact,
        span: &Span,
        bars: CopyBars,
    ) -> (CopyCheck, Candidate) {
        let (input, nonzero) = (self.input, self.nonzero[i]);
        let mut nearest: Option<(Source, f64)> = None;
        for (entry, remembered) in self.history.entries().iter().zip(&self.remembered) {
            keep_largest(&mut nearest, entry.source.clone(), flat_cosine(&self.flat[i], remembered).abs());
        }
        let mut support_copy = false;
        for (&j, &sketched) in earlier.iter().zip(&plan.sketch_cosines) {
            let mut cosine = sketched;
            if cosine >= CANDIDATE_COSINE {
                let norm = |k: usize| input.dots.sq(k).sqrt();
                cosine = match (input.dense[i], self.dot(exact, i, j)) {
                    (true, Some(dot)) => crate::vector::cosine_from(dot, norm(i), norm(j)).abs(),
                    // Too far below the support bar for the sketches to be wrong about it.
                    (true, None) => cosine,
                    (false, _) => exact.support[&(i, j)].abs(),
                };
                support_copy |= cosine >= bars.min_support_cosine;
            }
            keep_largest(&mut nearest, Source::Update { worker: input.workers[j].clone(), round: input.round }, cosine);
        }
        let mut partial: Option<(Source, f64)> = None;
        for &j in &plan.partial {
            let source = Source::Update { worker: input.workers[j].clone(), round: input.round };
            let dot = self.dot(exact, i, j).expect("a partial-cosine candidate's dot product is summed");
            keep_largest(&mut partial, source, exact_partial_cosine(input.dots, dot, &self.along, i, j).abs());
        }
        let residual = span.residual_fraction(&self.flat[i]);
        // In few dimensions any vector lies in the span of a few others: the span test needs room.
        let dimension = input.dimension.min(super::SKETCH_DIM);
        let roomy = SPAN_ROOM * span.len() <= dimension;
        // Nothing before it, or nothing that explains it better than chance (noise, the first receipt of a
        // task): its residual says nothing about how much of honest work the round's peers explain.
        let informative = nonzero && span.len() > 0 && residual < chance_residual(span.len(), dimension) - CHANCE_SLACK;
        // A worker's own earlier updates share its data with this one: replaying them is the span test's.
        let mut history_partial: Option<(Source, f64)> = None;
        for (entry, then) in self.history.entries().iter().zip(&self.beyond_then) {
            if !matches!(&entry.source, Source::Update { worker, .. } if worker == input.workers[i]) {
                let cosine = flat_cosine(&self.beyond_now[i], then).abs();
                keep_largest(&mut history_partial, entry.source.clone(), cosine);
            }
        }
        let check = CopyCheck { residual, nearest, partial, history_partial, ..CopyCheck::blank() };
        (check, Candidate { nonzero, roomy, support_copy, informative })
    }
}

/// Sets the round's bars from the medians of what the checks found, and decides which updates are copies.
fn set_bars(checks: &mut [CopyCheck], candidates: &[Candidate], bars: CopyBars) {
    // Over the informative residuals only: a round's noise and first receipts would raise the median, and the
    // bar with it, towards honest work's residual. With none, the bar is its least.
    let residuals: Vec<f64> =
        checks.iter().zip(candidates).filter(|(_, c)| c.informative).map(|(c, _)| c.residual).collect();
    let median_residual = super::median(&residuals);
    let bar = (bars.residual_fraction * median_residual).clamp(bars.min_residual, bars.max_residual);
    let partial_median = |pick: fn(&CopyCheck) -> &Option<(Source, f64)>, keep: fn(&Candidate) -> bool| {
        let values: Vec<f64> = checks
            .iter()
            .zip(candidates)
            .filter(|(_, c)| keep(c))
            .filter_map(|(c, _)| pick(c).as_ref().map(|(_, p)| *p))
            .collect();
        super::median(&values)
    };
    // Exact partial cosines exist only between updates that agree with the others, so all of them count.
    let median_partial = partial_median(|c| &c.partial, |_| true);
    let history_median_partial = partial_median(|c| &c.history_partial, |c| c.nonzero);
    // The median of a handful of partial cosines says little about how much honest pairs of this round share
    // (in the demo, four honest workers under label skew: one pair shared 0.21 beyond the common direction
    // while the other two values were under 0.05); with so few, the bar is at least the sketched one's floor.
    let measured = checks.iter().filter(|c| c.partial.is_some()).count();
    let floor = if measured >= MIN_PARTIALS_FOR_MEDIAN {
        bars.min_partial_cosine
    } else {
        bars.min_partial_cosine + sketch_slack()
    };
    let partial_bar = (bars.partial_median_multiple * median_partial).max(floor);
    let history_partial_bar =
        (bars.partial_median_multiple * history_median_partial).max(bars.min_partial_cosine + sketch_slack());
    for (check, &Candidate { nonzero, roomy, support_copy, .. }) in checks.iter_mut().zip(candidates) {
        let spanned = nonzero && ((roomy && check.residual <= bar) || support_copy);
        check.bar = bar;
        check.median_residual = median_residual;
        check.partial_bar = partial_bar;
        check.median_partial = median_partial;
        check.history_partial_bar = history_partial_bar;
        check.history_median_partial = history_median_partial;
        let shared = nonzero && check.partial_evidence().is_some();
        check.copy = spanned || shared;
        check.by_partial = shared && !spanned;
    }
}

/// Sets the bar of the remainder test and decides which further updates are copies: those whose remainder
/// beyond another update ([`RoundVectors::nothing_beyond`]) agrees with the others no better than chance, and
/// below the round's spread.
fn set_beyond_bar(checks: &mut [CopyCheck], beyond: &[Option<Beyond>], chance: f64) {
    let values: Vec<f64> = beyond.iter().flatten().map(|b| b.score).collect();
    let median_beyond = super::median(&values);
    let bar = chance.min(BEYOND_MEDIAN_FRACTION * median_beyond);
    for (check, found) in checks.iter_mut().zip(beyond) {
        check.beyond_bar = bar;
        check.median_beyond = median_beyond;
        if found.as_ref().is_some_and(|b| b.score <= bar) && !check.copy {
            check.copy = true;
            check.by_beyond = true;
        }
    }
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

/// Each update's component along the round's common direction on the exact updates: the coordinate-wise
/// median of the nonzero updates as unit vectors, normalised, as on sketches ([`common_direction`]). All zeros
/// when there is no such direction. One pass over the updates; each block's medians are taken on every core,
/// and each update's sum runs in coordinate order.
fn along_exact_common(blocks: &ColumnBlocks<'_>, dots: &RoundDots) -> Result<Vec<f64>> {
    let n = dots.len();
    let scales: Vec<(usize, f64)> = (0..n)
        .filter_map(|i| {
            let sq = dots.sq(i);
            (sq > 0.0).then(|| (i, 1.0 / sq.sqrt()))
        })
        .collect();
    if scales.is_empty() {
        return Ok(vec![0.0; n]);
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut raw = vec![0.0f64; n];
    let mut median_sq = 0.0f64;
    blocks.for_each(|block| {
        let width = block.range.len();
        let mut medians = vec![0.0f64; width];
        let chunk = width.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (c, part) in medians.chunks_mut(chunk).enumerate() {
                let scales = &scales;
                scope.spawn(move || {
                    let mut column = Vec::with_capacity(scales.len());
                    for (offset, m) in part.iter_mut().enumerate() {
                        let k = c * chunk + offset;
                        column.clear();
                        column.extend(scales.iter().map(|&(i, scale)| f64::from(block.row(i)[k]) * scale));
                        *m = median_in_place(&mut column);
                    }
                });
            }
        });
        for m in &medians {
            median_sq += m * m;
        }
        for (i, sum) in raw.iter_mut().enumerate() {
            for (&v, m) in block.row(i).iter().zip(&medians) {
                *sum += f64::from(v) * m;
            }
        }
        Ok(())
    })?;
    if median_sq == 0.0 {
        return Ok(vec![0.0; n]);
    }
    let norm = median_sq.sqrt();
    Ok(raw.into_iter().map(|sum| sum / norm).collect())
}

/// The cosine of updates `i` and `j` (whose dot product is `dot`) with the common direction taken out of both,
/// from their components `along` it: `(x.y - a b) / sqrt((|x|^2 - a^2) (|y|^2 - b^2))`. 0 when either lies (all
/// but a rounding error) along the common direction, where the difference would be rounding, not data.
fn exact_partial_cosine(dots: &RoundDots, dot: f64, along: &[f64], i: usize, j: usize) -> f64 {
    let rest = |k: usize| {
        let sq = dots.sq(k);
        let rest = sq - along[k] * along[k];
        if rest > 1e-9 * sq { rest } else { 0.0 }
    };
    let norms = (rest(i) * rest(j)).sqrt();
    if norms > 0.0 { ((dot - along[i] * along[j]) / norms).clamp(-1.0, 1.0) } else { 0.0 }
}

/// The cosine between a copy and its original over the coordinates where the copy is nonzero (0 when either
/// part is zero), summed in coordinate order block after block.
#[derive(Clone, Copy, Debug, Default)]
struct SupportSum {
    dot: f64,
    copy_sq: f64,
    original_sq: f64,
}

impl SupportSum {
    fn add(&mut self, copy: &[f32], original: &[f32]) {
        for (&c, &o) in copy.iter().zip(original) {
            if c != 0.0 {
                let (c, o) = (f64::from(c), f64::from(o));
                self.dot += c * o;
                self.copy_sq += c * c;
                self.original_sq += o * o;
            }
        }
    }

    fn cosine(&self) -> f64 {
        let norms = (self.copy_sq * self.original_sq).sqrt();
        if norms > 0.0 { (self.dot / norms).clamp(-1.0, 1.0) } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::PairSum;

    const BARS: CopyBars = CopyBars {
        min_residual: 0.25,
        max_residual: 0.45,
        residual_fraction: 0.5,
        min_support_cosine: 0.97,
        min_partial_cosine: 0.2,
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

    /// The copy test over in-memory updates, with every pair's dot products (`exact`) or with sketched
    /// candidates only, read in blocks of one [`BLOCK`].
    fn find(
        round: u64,
        deltas: &[&[f32]],
        receipts: &[u64],
        history: &UpdateHistory,
        bars: CopyBars,
        exact: bool,
    ) -> Vec<CopyCheck> {
        let ids: Vec<WorkerId> = (0..deltas.len()).map(|i| WorkerId::new(format!("w{i}"))).collect();
        let workers: Vec<&WorkerId> = ids.iter().collect();
        let sketches: Vec<Sketch> = deltas.iter().map(|d| Sketch::of(d)).collect();
        let sketches: Vec<&Sketch> = sketches.iter().collect();
        let dense: Vec<bool> = deltas.iter().map(|d| d.iter().all(|&v| v != 0.0)).collect();
        let pairwise = Pairwise::compute(deltas, PairSum::Dot);
        let dots = if exact {
            RoundDots::All(pairwise)
        } else {
            RoundDots::Diagonal((0..deltas.len()).map(|i| pairwise.dot(i, i)).collect())
        };
        let dimension = deltas.first().map_or(0, |d| d.len());
        let updates = deltas.to_vec();
        let blocks = ColumnBlocks::new(&updates, (0..deltas.len()).collect(), dimension, 4 * BLOCK * deltas.len());
        let input = CopyInput {
            round,
            workers: &workers,
            receipts,
            sketches: &sketches,
            dense: &dense,
            dimension,
            dots: &dots,
            blocks: &blocks,
        };
        find_copies(&input, history, bars).unwrap()
    }

    /// [`find`] both ways: the sketched candidates find the same copies as every pair does.
    fn check(deltas: &[&[f32]], receipts: &[u64], history: &UpdateHistory) -> Vec<CopyCheck> {
        let exact = find(3, deltas, receipts, history, BARS, true);
        let sketched = find(3, deltas, receipts, history, BARS, false);
        let verdicts = |checks: &[CopyCheck]| checks.iter().map(|c| c.copy).collect::<Vec<_>>();
        assert_eq!(verdicts(&exact), verdicts(&sketched), "{exact:#?}\n{sketched:#?}");
        exact
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
    fn copies_under_noise_twice_their_norm_are_caught_on_the_exact_updates() {
        let len = 20_000;
        let common = vector(100, len);
        // Seeds far apart: nearby seeds of this generator give streams that share a part.
        let stream = |k: u64| vector(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), len);
        let honest: Vec<Vec<f32>> =
            (0..24).map(|k| common.iter().zip(stream(k + 1)).map(|(c, own)| c + own).collect()).collect();
        // Noise twice the copied update's norm: a cosine of 1/sqrt(5) to its source, and with the common
        // direction taken out of both under 0.35 (what sketches, off by about 0.03 a pair, could not tell from
        // honest pairs' largest); on the exact updates honest pairs share about 0.03.
        let copy: Vec<f32> = honest[3].iter().zip(stream(99)).map(|(v, n)| v + 2.0 * 1.414 * n).collect();
        let mut deltas: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
        deltas.push(&copy);
        let receipts: Vec<u64> = (0..deltas.len() as u64).collect();
        let found = check(&deltas, &receipts, &UpdateHistory::default());
        let copies: Vec<usize> = (0..found.len()).filter(|&i| found[i].copy).collect();
        assert_eq!(copies, [24], "{found:#?}");
        let last = &found[24];
        let (source, partial) = last.partial.clone().unwrap();
        assert_eq!(source, Source::Update { worker: WorkerId::new("w3"), round: 3 });
        assert!(partial > 0.22 && partial < 0.38 && last.partial_bar <= 0.2 + 1e-12, "{last:?}");
        assert_eq!(last.partial_evidence().map(|(_, p, bar, _)| (p, bar)), Some((partial, last.partial_bar)));
        // Honest pairs share nothing beyond the common direction here.
        assert!(found[..24].iter().all(|c| c.partial.as_ref().is_none_or(|(_, p)| *p < 0.08)), "{found:#?}");
    }

    /// Twelve honest updates, a shared direction plus each one's own data as large again, the first two also
    /// sharing a part of their own (the same few labels: a partial cosine of 0.14, under the floor of the
    /// partial-cosine test); `stream` gives unrelated vectors.
    fn honest_round(len: usize) -> (Vec<Vec<f32>>, impl Fn(u64) -> Vec<f32>) {
        let stream = move |k: u64| vector(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), len);
        let (common, twins) = (stream(1000), stream(1001));
        let honest = (0..12)
            .map(|k| {
                let own = stream(k + 1);
                let shared = if k < 2 { 0.4 } else { 0.0 };
                (0..len).map(|x| common[x] + own[x] + shared * twins[x]).collect()
            })
            .collect();
        (honest, stream)
    }

    /// `source` plus unrelated noise `times` its norm.
    fn noised(source: &[f32], noise: &[f32], times: f32) -> Vec<f32> {
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let scale = times * norm(source) / norm(noise);
        source.iter().zip(noise).map(|(v, n)| v + scale * n).collect()
    }

    #[test]
    fn copies_under_noise_of_any_size_add_nothing_beyond_their_source() {
        let len = 20_000;
        let (honest, stream) = honest_round(len);
        for times in [3.0, 10.0] {
            let copy = noised(&honest[5], &stream(12_345), times);
            let mut deltas: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
            deltas.push(&copy);
            let receipts: Vec<u64> = (0..deltas.len() as u64).collect();
            let found = find(3, &deltas, &receipts, &UpdateHistory::default(), BARS, true);
            let copies: Vec<usize> = (0..found.len()).filter(|&i| found[i].copy).collect();
            assert_eq!(copies, [12], "noise {times}x: {found:#?}");
            let last = &found[12];
            assert!(last.by_beyond && !last.by_partial, "{last:?}");
            let (source, cosine) = last.beyond.clone().unwrap();
            assert_eq!(source, Source::Update { worker: WorkerId::new("w5"), round: 3 });
            assert!(cosine <= last.beyond_bar && last.beyond_bar <= 4.0 / (len as f64).sqrt(), "{last:?}");
            // Honest work keeps its own agreement with the round beyond any peer, the twins included.
            for check in &found[..12] {
                let (_, cosine) = check.beyond.clone().unwrap();
                assert!(cosine > 4.0 * last.beyond_bar, "{check:?}");
            }
            // Without every pair's dot products the test abstains.
            let sketched = find(3, &deltas, &receipts, &UpdateHistory::default(), BARS, false);
            assert!(sketched.iter().all(|c| c.beyond.is_none() && !c.copy), "{sketched:#?}");
        }
    }

    #[test]
    fn a_noised_copy_sent_ahead_of_its_original_is_the_copy() {
        let len = 20_000;
        let (honest, stream) = honest_round(len);
        // Two identities: the noised copy is received before the update it was made from.
        let copy = noised(&honest[5], &stream(12_345), 3.0);
        let mut deltas: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
        deltas.push(&copy);
        let mut receipts: Vec<u64> = (1..=deltas.len() as u64).collect();
        receipts[12] = 0;
        let found = find(3, &deltas, &receipts, &UpdateHistory::default(), BARS, true);
        let copies: Vec<usize> = (0..found.len()).filter(|&i| found[i].copy).collect();
        assert_eq!(copies, [12], "{found:#?}");
        assert!(found[12].by_beyond, "{:?}", found[12]);
        assert_eq!(found[12].beyond.clone().unwrap().0, Source::Update { worker: WorkerId::new("w5"), round: 3 });
    }

    #[test]
    fn under_a_strong_label_skew_the_remainder_test_abstains() {
        // Enough dimensions that a pair agreeing only with each other agrees with the round at several times chance.
        let len = 100_000;
        let (mut honest, stream) = honest_round(len);
        // Two workers hold labels nobody else holds: they agree with the round only through each other, and
        // what is left of one beyond the other agrees with no one, as a noised copy's would.
        let labels = stream(2000);
        for (k, own) in [(10, stream(2001)), (11, stream(2002))] {
            honest[k] = labels.iter().zip(&own).map(|(l, o)| l + 0.5 * o).collect();
        }
        let copy = noised(&honest[5], &stream(12_345), 3.0);
        let mut deltas: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
        deltas.push(&copy);
        let receipts: Vec<u64> = (0..deltas.len() as u64).collect();
        // The twins share more beyond the common direction than these synthetic honest pairs do; in a real round
        // the median partial cosine rises with the skew and its bar with it. Here the partial-cosine test is kept
        // out of the way, so that only the remainder test could call one twin a copy of the other.
        let bars = CopyBars { min_partial_cosine: 0.99, ..BARS };
        let found = find(3, &deltas, &receipts, &UpdateHistory::default(), bars, true);
        assert!(found.iter().all(|c| c.beyond.is_none() && !c.copy), "{found:#?}");
    }

    #[test]
    fn a_handful_of_partial_cosines_does_not_set_a_bar_under_honest_pairs() {
        let len = 20_000;
        let stream = |k: u64| vector(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), len);
        let (common, labels) = (stream(1000), stream(1001));
        // Four honest workers; the last two hold some labels in common, as in the demo under label skew.
        let honest: Vec<Vec<f32>> = (0..4)
            .map(|k| {
                let (own, shared) = (stream(k + 1), if k >= 2 { 0.58 } else { 0.0 });
                (0..len).map(|x| common[x] + own[x] + shared * labels[x]).collect()
            })
            .collect();
        let deltas: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
        let found = find(3, &deltas, &[0, 1, 2, 3], &UpdateHistory::default(), BARS, true);
        assert!(found.iter().all(|c| !c.copy), "{found:#?}");
        // Three partial cosines: the floor is the sketched bar's.
        assert!(found[3].partial_bar >= 0.2 + sketch_slack() - 1e-12, "{:?}", found[3]);
        // A copy under noise as large as itself still stands above that floor.
        let copy = noised(&honest[1], &stream(12_345), 1.0);
        let mut deltas = deltas;
        deltas.push(&copy);
        let found = find(3, &deltas, &[0, 1, 2, 3, 4], &UpdateHistory::default(), BARS, true);
        let copies: Vec<usize> = (0..found.len()).filter(|&i| found[i].copy).collect();
        assert_eq!(copies, [4], "{found:#?}");
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
        let found = find(1, &deltas, &receipts, &UpdateHistory::default(), bars, true);
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
