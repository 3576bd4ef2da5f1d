//! One round in progress: the submissions in worker order and what the scorer finds out about each.

use super::{ReputationBook, ScoringConfig, Submission};
use crate::{Error, Evidence, Flag, Metrics, Reason, Result, RoundInput, ValidationGain, vector};

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
    pub(super) validation: Option<ValidationGain>,
    pub(super) score: f64,
}

/// The round's submissions (sorted by worker), one [`Row`] each, and the flags raised so far.
pub(super) struct RoundWork<'s, 'a> {
    pub(super) subs: Vec<&'s Submission<'a>>,
    pub(super) rows: Vec<Row>,
    pub(super) flags: Vec<Flag>,
    /// Parameters per update.
    pub(super) dimension: usize,
    /// Validation metrics of the global model the round starts from, once measured.
    pub(super) base: Option<Metrics>,
    /// The round's harm bar on validation gains, once measured: an update whose gain is below it earns nothing
    /// this round.
    pub(super) harm_bar: Option<f64>,
}

impl<'s, 'a> RoundWork<'s, 'a> {
    /// Sorts and checks the submissions: unique workers, equal lengths (the global model's when an evaluator
    /// needs it), finite values.
    pub(super) fn new(input: &'s RoundInput<'a>, need_global: bool, book: &ReputationBook) -> Result<Self> {
        let mut subs: Vec<&'s Submission<'a>> = input.submissions.iter().collect();
        subs.sort_by(|a, b| a.worker.cmp(&b.worker));
        if let Some(pair) = subs.windows(2).find(|p| p[0].worker == p[1].worker) {
            return Err(Error::DuplicateWorker(pair[0].worker.to_string()));
        }
        let dimension = if need_global { input.global.len() } else { subs.first().map_or(0, |s| s.delta.len()) };
        for s in &subs {
            vector::validate(&s.worker, s.delta, dimension)?;
        }
        let rows = subs
            .iter()
            .map(|s| Row { removed: book.is_removed(&s.worker), norm: vector::norm(s.delta), ..Row::default() })
            .collect();
        Ok(Self { subs, rows, flags: Vec::new(), dimension, base: None, harm_bar: None })
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
