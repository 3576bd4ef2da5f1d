//! The round's verdict: per-worker outcomes, exact reward shares, flags in order and slashes.

use super::{
    ScorerState, ScoringConfig,
    round::{RoundWork, Row},
};
use crate::{
    Aggregate, Evidence, Flag, Metrics, Reason, RoundInput, RoundResult, Slash, WorkerId, WorkerOutcome, WorkerStatus,
    rewards::{quantise_score, split_reward},
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

impl RoundWork<'_> {
    /// Builds the [`RoundResult`]: a row per submitter, failure and no-show, rewards split over the score
    /// units in worker order, flags sorted, and one slash per flagged worker.
    pub(super) fn into_result(
        mut self,
        input: &RoundInput<'_>,
        state: &ScorerState,
        config: &ScoringConfig,
        strategy: String,
        aggregate: Option<&Aggregate>,
        metrics: Option<Metrics>,
    ) -> RoundResult {
        let included = |w: &WorkerId| aggregate.is_some_and(|a| a.included.contains(w));
        let mut outcomes: BTreeMap<WorkerId, WorkerOutcome> = BTreeMap::new();
        for (s, row) in self.subs.iter().zip(&self.rows) {
            let status = match row {
                Row { removed: true, .. } => WorkerStatus::Removed,
                Row { excluded: false, .. } if included(&s.worker) => WorkerStatus::Aggregated,
                _ => WorkerStatus::Excluded,
            };
            let outcome = WorkerOutcome {
                status,
                num_samples: s.num_samples,
                receipt: Some(s.receipt),
                norm: Some(row.norm),
                cosine: row.cosine,
                cosine_to_others: row.cosine_to_others,
                participation_weight: (!row.removed).then(|| state.participation.weight(&s.worker)),
                residual: row.residual,
                partial_cosine: row.partial_cosine,
                history_partial_cosine: row.history_partial_cosine,
                beyond_cosine: row.beyond_cosine,
                validation: row.validation,
                score: row.score,
                score_units: quantise_score(row.score),
                ..absent(&s.worker, WorkerStatus::Excluded, state)
            };
            outcomes.insert(s.worker.clone(), outcome);
        }
        for failure in input.failures {
            if !outcomes.contains_key(&failure.worker) {
                let evidence = Evidence::Failed { reason: failure.reason.clone() };
                self.flags.push(Flag { worker: failure.worker.clone(), reason: Reason::NoShow, evidence });
                outcomes.insert(failure.worker.clone(), absent(&failure.worker, WorkerStatus::Failed, state));
            }
        }
        for worker in input.expected {
            if !outcomes.contains_key(worker) {
                self.flags.push(Flag { worker: worker.clone(), reason: Reason::NoShow, evidence: Evidence::Missing });
                outcomes.insert(worker.clone(), absent(worker, WorkerStatus::NoShow, state));
            }
        }

        let units: Vec<u64> = outcomes.values().map(|o| o.score_units).collect();
        let unallocated = match split_reward(input.reward, &units) {
            Some(shares) => {
                outcomes.values_mut().zip(shares).for_each(|(o, share)| o.reward = share);
                0
            }
            None => input.reward,
        };
        self.flags.sort_by(|a, b| a.worker.cmp(&b.worker).then(a.reason.cmp(&b.reason)));
        let slashes = slashes(&self.flags, config);
        RoundResult {
            round: input.round,
            strategy,
            reward: input.reward,
            unallocated,
            aggregate_sha256: aggregate.map(|a| digest(&a.delta)),
            metrics,
            workers: outcomes.into_values().collect(),
            flags: self.flags,
            slashes,
        }
    }
}

/// A row for a worker without a scored update.
fn absent(worker: &WorkerId, status: WorkerStatus, state: &ScorerState) -> WorkerOutcome {
    WorkerOutcome {
        worker: worker.clone(),
        status,
        num_samples: 0,
        receipt: None,
        norm: None,
        cosine: None,
        cosine_to_others: None,
        reputation: state.reputation.get(worker).map(|e| e.reputation),
        participation_weight: None,
        residual: None,
        partial_cosine: None,
        history_partial_cosine: None,
        beyond_cosine: None,
        validation: None,
        score: 0.0,
        score_units: 0,
        reward: 0,
    }
}

/// One slash per flagged worker: the largest penalty among its flags (ties: the first reason in order).
fn slashes(flags: &[Flag], config: &ScoringConfig) -> Vec<Slash> {
    let mut worst: BTreeMap<&WorkerId, (u16, Reason)> = BTreeMap::new();
    for f in flags {
        let bps = config.slash.bps(f.reason);
        let entry = worst.entry(&f.worker).or_insert((bps, f.reason));
        if bps > entry.0 || (bps == entry.0 && f.reason < entry.1) {
            *entry = (bps, f.reason);
        }
    }
    worst
        .into_iter()
        .filter(|(_, (bps, _))| *bps > 0)
        .map(|(worker, (bps, reason))| Slash { worker: worker.clone(), reason, bps })
        .collect()
}

/// SHA-256 of the values' little-endian bytes, hex: how a manifest names an aggregate.
pub fn digest(values: &[f32]) -> String {
    let mut hasher = Sha256::new();
    for v in values {
        hasher.update(v.to_le_bytes());
    }
    hex::encode(hasher.finalize())
}
