//! Checks after aggregating: RFFL reputation, the leave-one-out validation signal, and the scores.

use super::{ReputationBook, ScoringConfig, round::RoundWork, validation::leave_each_out};
use crate::{
    Aggregate, Evaluator, Evidence, FitResult, LeaveOneOut, Metrics, Reason, Result, RoundInput, Strategy, WorkerId,
    apply, vector,
};
use std::collections::BTreeMap;

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
    ///
    /// Harm is judged one update at a time, worst first: while a poisoned update is in the aggregate, leaving
    /// out an honest one can also lower the loss (the robust statistics shift), so after the worst is dealt
    /// with the signal is measured again without it. Harm must also recur: a worker is flagged when it harmed
    /// in an earlier round of the cosine window too. One round's leave-one-out can blame an honest update of
    /// little or skewed data, early in training; a poisoner harms round after round.
    ///
    /// Each model is evaluated once: the aggregate without the worst update is the one its leave-one-out
    /// already measured, and every aggregate measured is kept in [`RoundWork::evaluated`] for the final one.
    #[allow(clippy::too_many_arguments)] // the round's parts, each borrowed differently
    pub(super) fn validate(
        &mut self,
        config: &ScoringConfig,
        strategy: &dyn Strategy,
        input: &RoundInput<'_>,
        results: &[FitResult<'_>],
        aggregate: &Aggregate,
        evaluator: &mut dyn Evaluator,
        harm: &mut BTreeMap<WorkerId, u64>,
    ) -> Result<Metrics> {
        let first = evaluator.evaluate(&apply(input.global, &aggregate.delta))?;
        let eligible = self.eligible();
        // Indices into `results` still in play, and which of them the aggregate included.
        let mut kept: Vec<usize> = (0..results.len()).collect();
        let mut included: Vec<usize> =
            (0..results.len()).filter(|&k| aggregate.included.contains(results[k].worker)).collect();
        let mut base = first;
        self.evaluated.push((kept.clone(), first));
        loop {
            let subset: Vec<FitResult<'_>> = kept.iter().map(|&k| results[k]).collect();
            let which: Vec<usize> = included.iter().filter_map(|k| kept.iter().position(|j| j == k)).collect();
            let without =
                leave_each_out(strategy, input.round, &subset, &which, input.failures, input.global, evaluator)?;
            let mut worst: Option<(usize, f64, Metrics, bool)> = None;
            for (&w, (m, built)) in which.iter().zip(without) {
                let k = kept[w];
                self.rows[eligible[k]].validation = Some(LeaveOneOut {
                    loss_without: m.loss,
                    accuracy_without: m.accuracy,
                    loss_gain: m.loss - base.loss,
                    accuracy_gain: base.accuracy - m.accuracy,
                });
                let relative_increase = if m.loss > 0.0 { (base.loss - m.loss) / m.loss } else { 0.0 };
                if worst.is_none_or(|(_, r, _, _)| relative_increase > r) {
                    worst = Some((k, relative_increase, m, built));
                }
            }
            // In an aggregate of very few updates, one update against another is noise, not evidence of harm.
            let threshold = config.harm_threshold.filter(|_| included.len() >= config.harm_min_included);
            let (Some(threshold), Some((k, relative_increase, m, built))) = (threshold, worst) else { break };
            if relative_increase <= threshold {
                break;
            }
            let i = eligible[k];
            let worker = self.subs[i].worker.clone();
            let window = u64::from(config.cosine_window.max(1));
            let recurring = harm.get(&worker).is_some_and(|&last| last < input.round && input.round - last <= window);
            harm.insert(worker, input.round);
            if recurring {
                self.rows[i].post_flagged = true;
                let evidence = Evidence::ValidationHarm {
                    loss_with: base.loss,
                    loss_without: m.loss,
                    relative_increase,
                    threshold,
                };
                self.flag(i, Reason::Poisoning, evidence);
            }
            kept.retain(|&j| j != k);
            included.retain(|&j| j != k);
            // `m` is the model of exactly these results (the strategy is a pure function of them), so the
            // next base needs no evaluation; without a model there is nothing left to judge.
            if !built {
                break;
            }
            base = m;
            self.evaluated.push((kept.clone(), base));
        }
        Ok(first)
    }

    /// Scores: samples times reputation (`n * r`), as a share, blended with the share of the positive
    /// leave-one-out loss gain. The sample count makes good updates earn in proportion to the data behind
    /// them, as FedAvg weighs them; reputation, which follows each update's agreement with the aggregate over
    /// rounds, keeps a count that the updates do not bear out from paying. Agreement with the others this round
    /// is a gate, not a factor: workers whose data differ (non-IID shards) agree less, and are not worth less. Only updates in the final
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
        let agreement: Vec<f64> =
            scored.iter().map(|&i| self.subs[i].num_samples as f64 * book.reputation(&self.subs[i].worker)).collect();
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
