//! One round in progress: the submissions in worker order and what the scorer finds out about each.

use super::{
    ReputationBook, ScoringConfig, Sketch, Submission,
    copies::{RoundDots, exact_pairs},
    sketch::{SketchLayout, SketchSum},
};
use crate::{
    Aggregate, Error, Evidence, Failure, FitResult, Flag, Metrics, Reason, Result, RoundInput, Strategy,
    ValidationGain,
    updates::{ColumnBlocks, Updates, read_whole},
    vector::{self, LaneSum, PairSum, Pairwise},
};

/// What the scorer knows about one submission.
#[derive(Clone, Debug, Default)]
pub(super) struct Row {
    /// Removed by its reputation in an earlier round: ignored.
    pub(super) removed: bool,
    /// Flagged before aggregating (copy, tiny norm, noise): left out of the aggregate.
    pub(super) excluded: bool,
    /// Flagged after aggregating (reputation, validation harm): left out of the final aggregate and unpaid.
    pub(super) post_flagged: bool,
    pub(super) norm: f64,
    pub(super) cosine: Option<f64>,
    pub(super) cosine_to_others: Option<f64>,
    /// The copy test's residual.
    pub(super) residual: Option<f64>,
    /// The copy test's largest exact partial cosine to an earlier update of the round.
    pub(super) partial_cosine: Option<f64>,
    /// The copy test's largest sketched partial cosine to a remembered vector of an earlier round.
    pub(super) history_partial_cosine: Option<f64>,
    /// The copy test's cosine to the others of what is left beyond the closest updates of the round.
    pub(super) beyond_cosine: Option<f64>,
    pub(super) validation: Option<ValidationGain>,
    pub(super) score: f64,
}

/// The round's submissions (sorted by worker), one [`Row`] each, and the flags raised so far.
pub(super) struct RoundWork<'s> {
    pub(super) subs: Vec<&'s Submission>,
    /// Where the round's updates are read from, and each submission's index there.
    updates: &'s dyn Updates,
    slots: Vec<usize>,
    /// The most bytes of updates a block of coordinates holds.
    block_bytes: usize,
    pub(super) rows: Vec<Row>,
    pub(super) flags: Vec<Flag>,
    /// Parameters per update.
    pub(super) dimension: usize,
    /// Each update's sketch.
    pub(super) sketches: Vec<Sketch>,
    /// Whether each update has no zero coordinate.
    pub(super) dense: Vec<bool>,
    /// The round's exact dot products (every pair of live updates when the round is small enough).
    pub(super) dots: Option<RoundDots>,
    /// Validation metrics of the global model the round starts from, once measured.
    pub(super) base: Option<Metrics>,
    /// The round's harm bar on validation gains, once measured: an update whose gain is below it earns nothing
    /// this round.
    pub(super) harm_bar: Option<f64>,
}

/// What the first pass sums for one update.
#[derive(Clone, Debug, Default)]
struct FirstPass {
    norm: LaneSum,
    blocked_sq: f64,
    sketch: SketchSum,
    nonzero_everywhere: bool,
    non_finite: Option<usize>,
}

impl<'s> RoundWork<'s> {
    /// Sorts and checks the submissions (unique workers, equal lengths, the global model's when an evaluator
    /// needs it, finite values), and reads every update once for its norm and sketch, and, in a round small
    /// enough for them, every pair's dot product.
    pub(super) fn new(
        input: &RoundInput<'s>,
        need_global: bool,
        book: &ReputationBook,
        block_bytes: usize,
    ) -> Result<Self> {
        let mut slots: Vec<usize> = (0..input.submissions.len()).collect();
        slots.sort_by(|&a, &b| input.submissions[a].worker.cmp(&input.submissions[b].worker));
        let subs: Vec<&'s Submission> = slots.iter().map(|&k| &input.submissions[k]).collect();
        if let Some(pair) = subs.windows(2).find(|p| p[0].worker == p[1].worker) {
            return Err(Error::DuplicateWorker(pair[0].worker.to_string()));
        }
        let updates = input.updates;
        let dimension = if need_global { input.global.len() } else { slots.first().map_or(0, |&k| updates.length(k)) };
        for (s, &k) in subs.iter().zip(&slots) {
            let got = updates.length(k);
            if got != dimension {
                return Err(Error::LengthMismatch { worker: s.worker.to_string(), expected: dimension, got });
            }
        }
        let removed: Vec<bool> = subs.iter().map(|s| book.is_removed(&s.worker)).collect();
        let live: Vec<usize> = (0..subs.len()).filter(|&i| !removed[i]).collect();
        let mut pairwise = exact_pairs(live.len(), dimension).then(|| Pairwise::zeros(live.len(), PairSum::Dot));
        let mut sums = vec![FirstPass { nonzero_everywhere: true, ..FirstPass::default() }; subs.len()];
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let blocks = ColumnBlocks::new(updates, slots.clone(), dimension, block_bytes);
        blocks.for_each(|block| {
            let layout = SketchLayout::of(block.range.clone());
            let chunk = sums.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                for (c, part) in sums.chunks_mut(chunk).enumerate() {
                    let layout = &layout;
                    scope.spawn(move || {
                        for (r, sum) in part.iter_mut().enumerate() {
                            let row = block.row(c * chunk + r);
                            if sum.non_finite.is_none()
                                && let Some(at) = row.iter().position(|v| !v.is_finite())
                            {
                                sum.non_finite = Some(block.range.start + at);
                            }
                            sum.norm.add_dot(row, row);
                            vector::add_blocked_norm_sq(&mut sum.blocked_sq, row);
                            sum.sketch.add(layout, row);
                            sum.nonzero_everywhere &= row.iter().all(|&v| v != 0.0);
                        }
                    });
                }
            });
            if let Some(pairwise) = &mut pairwise {
                let rows: Vec<&[f32]> = live.iter().map(|&i| block.row(i)).collect();
                pairwise.accumulate(&rows);
            }
            Ok(())
        })?;
        if let Some((s, index)) = subs.iter().zip(&sums).find_map(|(s, sum)| sum.non_finite.map(|at| (s, at))) {
            return Err(Error::NonFinite { worker: s.worker.to_string(), index });
        }
        let rows = removed
            .iter()
            .zip(&sums)
            .map(|(&removed, sum)| Row { removed, norm: sum.norm.total().sqrt(), ..Row::default() })
            .collect();
        let dots = Some(match pairwise {
            Some(pairwise) => RoundDots::All(pairwise.finish()),
            None => RoundDots::Diagonal(live.iter().map(|&i| sums[i].blocked_sq).collect()),
        });
        Ok(Self {
            subs,
            updates,
            slots,
            block_bytes,
            rows,
            flags: Vec::new(),
            dimension,
            sketches: sums.iter().map(|s| s.sketch.finish()).collect(),
            dense: sums.iter().map(|s| s.nonzero_everywhere).collect(),
            dots,
            base: None,
            harm_bar: None,
        })
    }

    /// Submissions `indices`' updates, a block of coordinates at a time.
    pub(super) fn blocks(&self, indices: &[usize]) -> ColumnBlocks<'s> {
        let slots = indices.iter().map(|&i| self.slots[i]).collect();
        ColumnBlocks::new(self.updates, slots, self.dimension, self.block_bytes)
    }

    /// Submission `i`'s update, whole.
    pub(super) fn read(&self, i: usize) -> Result<Vec<f32>> {
        read_whole(self.updates, self.slots[i])
    }

    /// Aggregates submissions `indices` with `strategy`, `results[k]` holding the weights of `indices[k]` (its
    /// delta is ignored): a block of coordinates at a time when every coordinate of the strategy's aggregate
    /// depends on that coordinate alone ([`Strategy::column_wise`]), else from the whole updates.
    pub(super) fn aggregate(
        &self,
        strategy: &dyn Strategy,
        round: u64,
        indices: &[usize],
        results: &[FitResult<'_>],
        failures: &[Failure],
    ) -> Result<Option<Aggregate>> {
        if indices.is_empty() || self.dimension == 0 {
            let empty: Vec<FitResult<'_>> = results.iter().map(|r| r.with_delta(&[])).collect();
            return strategy.aggregate(round, &empty, failures);
        }
        if !strategy.column_wise() {
            let whole: Vec<Vec<f32>> = indices.iter().map(|&i| self.read(i)).collect::<Result<_>>()?;
            let results: Vec<FitResult<'_>> = results.iter().zip(&whole).map(|(r, d)| r.with_delta(d)).collect();
            return strategy.aggregate(round, &results, failures);
        }
        let mut joined: Option<Aggregate> = None;
        let mut nothing = false;
        self.blocks(indices).for_each(|block| {
            let results: Vec<FitResult<'_>> =
                results.iter().enumerate().map(|(r, result)| result.with_delta(block.row(r))).collect();
            let Some(part) = strategy.aggregate_columns(round, &results, failures, block.range.start)? else {
                nothing = true;
                return Ok(());
            };
            match &mut joined {
                None => joined = Some(part),
                Some(whole) => {
                    whole.delta.extend_from_slice(&part.delta);
                    if let (Some(sum), Some(more)) = (&mut whole.pseudo_gradient, &part.pseudo_gradient) {
                        sum.extend_from_slice(more);
                    }
                }
            }
            Ok(())
        })?;
        Ok(if nothing { None } else { joined })
    }

    /// Submissions not removed earlier.
    pub(super) fn live(&self) -> Vec<usize> {
        (0..self.subs.len()).filter(|&i| !self.rows[i].removed).collect()
    }

    /// Submissions that go into the aggregate so far.
    pub(super) fn eligible(&self) -> Vec<usize> {
        (0..self.subs.len()).filter(|&i| !self.rows[i].removed && !self.rows[i].excluded).collect()
    }

    /// Submissions still in the running for a score.
    pub(super) fn scored(&self) -> Vec<usize> {
        self.eligible().into_iter().filter(|&i| !self.rows[i].post_flagged).collect()
    }

    /// Raises a flag on submission `i`.
    pub(super) fn flag(&mut self, i: usize, reason: Reason, evidence: Evidence) {
        self.flags.push(Flag { worker: self.subs[i].worker.clone(), reason, evidence });
    }

    /// The chance level of a cosine in this dimension: `noise_z / sqrt(d)`, at most `max_noise_bar`.
    pub(super) fn noise_bar(&self, config: &ScoringConfig) -> f64 {
        (config.noise_z / (self.dimension.max(1) as f64).sqrt()).min(config.max_noise_bar)
    }
}
