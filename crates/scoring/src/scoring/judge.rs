//! Checks after aggregating: RFFL reputation, the leave-one-out validation signal, and the scores.

use super::{ReputationBook, ScoringConfig, round::RoundWork};
use crate::{
    Aggregate, Evaluator, Evidence, FitResult, LeaveOneOut, Metrics, Reason, Result, RoundInput, Strategy, apply,
    leave_one_out, vector,
};

impl RoundWork<'_, '_> {
    /// RFFL: `phi` is each live update's cosine to the aggregate (0 for excluded updates, which contributed
    /// nothing); workers whose reputation falls below the bar are flagged and removed.
    pub(super) fn update_reputation(
        &mut self,
        aggregate: &Aggregate,
        config: &ScoringConfig,
        book: &mut ReputationBook,
    ) {
        let live = self.live();
        let mut phis = Vec::with_capacity(live.len());
        for &i in &live {
            let cosine = vector::cosine(self.subs[i].delta, aggregate.direction());
            self.rows[i].cosine = Some(cosine);
            phis.push((self.subs[i].worker.clone(), if self.rows[i].excluded { 0.0 } else { cosine }));
        }
        let bar = self.noise_bar(config);
        for removal in book.update(&phis, config.reputation_decay, config.removal_fraction) {
            let i = self.subs.iter().position(|s| s.worker == removal.worker).expect("a participant");
            let cosine = phis.iter().find(|(w, _)| *w == removal.worker).map_or(0.0, |(_, phi)| *phi);
            // Opposing the aggregate beyond chance is poisoning; otherwise it contributed nothing.
            let reason = if cosine < -bar { Reason::Poisoning } else { Reason::FreeRider };
            self.rows[i].post_flagged = true;
            let evidence =
                Evidence::LowReputation { reputation: removal.reputation, threshold: removal.threshold, cosine };
            self.flag(i, reason, evidence);
        }
    }

    /// The leave-one-out signal for each update in the aggregate (`results` in the order of
    /// [`Self::eligible`]; an update left out of the aggregate, as Multi-Krum does, added nothing to it), and
    /// poisoning flags where including an update raised the validation loss past the bar. Returns the
    /// metrics of the aggregate.
    pub(super) fn validate(
        &mut self,
        config: &ScoringConfig,
        strategy: &dyn Strategy,
        input: &RoundInput<'_>,
        results: &[FitResult<'_>],
        aggregate: &Aggregate,
        evaluator: &mut dyn Evaluator,
    ) -> Result<Metrics> {
        let base = evaluator.evaluate(&apply(input.global, &aggregate.delta))?;
        let eligible = self.eligible();
        let which: Vec<usize> =
            (0..results.len()).filter(|&k| aggregate.included.contains(results[k].worker)).collect();
        let without = leave_one_out(strategy, input.round, results, &which, input.failures, input.global, evaluator)?;
        // In an aggregate of very few updates, one update against another is noise, not evidence of harm.
        let threshold = config.harm_threshold.filter(|_| aggregate.included.len() >= config.harm_min_included);
        for (&k, m) in which.iter().zip(without) {
            let i = eligible[k];
            self.rows[i].validation = Some(LeaveOneOut {
                loss_without: m.loss,
                accuracy_without: m.accuracy,
                loss_gain: m.loss - base.loss,
                accuracy_gain: base.accuracy - m.accuracy,
            });
            let Some(threshold) = threshold else { continue };
            let relative_increase = if m.loss > 0.0 { (base.loss - m.loss) / m.loss } else { 0.0 };
            if relative_increase > threshold {
                self.rows[i].post_flagged = true;
                let evidence = Evidence::ValidationHarm {
                    loss_with: base.loss,
                    loss_without: m.loss,
                    relative_increase,
                    threshold,
                };
                self.flag(i, Reason::Poisoning, evidence);
            }
        }
        Ok(base)
    }

    /// Scores: reputation times this round's agreement with the other workers (`r * max(cos, 0)`), as a
    /// share, blended with the share of the positive leave-one-out loss gain. Only updates in the final
    /// `aggregate` earn, and only if they agree with the others beyond chance this round: an update that
    /// opposes the others or is orthogonal to them earns nothing, whatever its leave-one-out luck, and its own
    /// weight in the aggregate cannot buy agreement.
    pub(super) fn score(&mut self, config: &ScoringConfig, book: &ReputationBook, aggregate: Option<&Aggregate>) {
        let bar = self.noise_bar(config);
        let scored: Vec<usize> = self
            .scored()
            .into_iter()
            .filter(|&i| aggregate.is_some_and(|a| a.included.contains(&self.subs[i].worker)))
            .filter(|&i| self.rows[i].cosine_to_others.is_none_or(|c| c > bar))
            .collect();
        let agreement: Vec<f64> = scored
            .iter()
            .map(|&i| book.reputation(&self.subs[i].worker) * self.rows[i].cosine_to_others.unwrap_or(1.0).max(0.0))
            .collect();
        let gains: Vec<f64> =
            scored.iter().map(|&i| self.rows[i].validation.map_or(0.0, |v| v.loss_gain.max(0.0))).collect();
        let (agreement_total, gain_total): (f64, f64) = (agreement.iter().sum(), gains.iter().sum());
        let lambda = match (agreement_total > 0.0, gain_total > 0.0) {
            (true, true) => config.validation_weight,
            (false, true) => 1.0,
            (_, false) => 0.0,
        };
        for (k, &i) in scored.iter().enumerate() {
            let agreement_share = if agreement_total > 0.0 { agreement[k] / agreement_total } else { 0.0 };
            let gain_share = if gain_total > 0.0 { gains[k] / gain_total } else { 0.0 };
            self.rows[i].score = (1.0 - lambda) * agreement_share + lambda * gain_share;
        }
    }
}
