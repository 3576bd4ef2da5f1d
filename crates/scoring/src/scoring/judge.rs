//! Checks after aggregating: RFFL reputation, each update's validation gain, and the scores.

use super::{ParticipationTracker, ReputationBook, ScoringConfig, median, median_and_spread, round::RoundWork};
use crate::{
    Aggregate, Evaluator, Evidence, Reason, Result, RoundInput, ValidationGain, WorkerId,
    vector::{self, LaneSum},
};
use std::collections::BTreeMap;

/// The harm test needs a spread: it applies to rounds with at least this many measured updates.
const HARM_MIN_MEASURED: usize = 3;

/// FNV-1a, for drawing the validation sample from public data.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl RoundWork<'_> {
    /// RFFL: `phi` is each live update's cosine to the aggregate (0 for excluded updates, which contributed
    /// nothing); workers whose reputation falls below the bar are flagged and removed.
    pub(super) fn update_reputation(
        &mut self,
        aggregate: &Aggregate,
        config: &ScoringConfig,
        book: &mut ReputationBook,
    ) -> Result<()> {
        let live = self.live();
        let direction = aggregate.direction();
        let mut dots = vec![LaneSum::default(); live.len()];
        self.blocks(&live).for_each(|block| {
            for (r, dot) in dots.iter_mut().enumerate() {
                dot.add_dot(block.row(r), &direction[block.range.clone()]);
            }
            Ok(())
        })?;
        let direction_norm = vector::norm(direction);
        let mut phis = Vec::with_capacity(live.len());
        for (&i, dot) in live.iter().zip(&dots) {
            let cosine = vector::cosine_from(dot.total(), self.rows[i].norm, direction_norm);
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
        Ok(())
    }

    /// The evidence of each update in the aggregate: the validation loss of the global model stepped by that
    /// update alone, at the weight it has in the round's mean (clipped to the round's median norm, so that
    /// scaling an update up buys nothing, and divided by the number of updates aggregated). This is the
    /// finite-difference form of each update's first-order (linearised) Shapley value in a mean, which is also
    /// its leave-one-out value there; unlike a leave-one-out of a robust aggregate, it does not vanish when one
    /// update barely moves the median.
    ///
    /// An update whose gain is negative and far below the round's spread of gains ([`Evidence::ValidationHarm`])
    /// in `harm_rounds` consecutive rounds it took part in is flagged for poisoning: the verdict follows the
    /// spread of the round's own updates, and a poisoner harms round after round, while an honest worker whose
    /// labels differ from the validation set's mix harms now and then, late in training, when gains are small.
    pub(super) fn measure_gains(
        &mut self,
        config: &ScoringConfig,
        input: &RoundInput<'_>,
        aggregate: &Aggregate,
        evaluator: &mut dyn Evaluator,
        harm: &mut BTreeMap<WorkerId, u64>,
    ) -> Result<()> {
        let base = evaluator.evaluate(input.global)?;
        self.base = Some(base);
        let included: Vec<usize> =
            self.eligible().into_iter().filter(|&i| aggregate.included.contains(&self.subs[i].worker)).collect();
        let norms: Vec<f64> = included.iter().map(|&i| self.rows[i].norm).collect();
        let median_norm = median(&norms);
        let count = included.len() as f64;
        let (measured, spread_sample) = self.to_validate(&included, config.max_validated as usize);
        for &i in &measured {
            let norm = self.rows[i].norm;
            let clip = if norm > median_norm { median_norm / norm } else { 1.0 };
            let step_scale = clip / count;
            let delta = self.read(i)?;
            let stepped: Vec<f32> =
                input.global.iter().zip(&delta).map(|(&g, &d)| g + (f64::from(d) * step_scale) as f32).collect();
            let m = evaluator.evaluate(&stepped)?;
            self.rows[i].validation = Some(ValidationGain {
                step_scale,
                loss_with: m.loss,
                accuracy_with: m.accuracy,
                loss_gain: base.loss - m.loss,
                accuracy_gain: m.accuracy - base.accuracy,
            });
        }
        // Without a spread to judge against, only an update that makes the model worse is harmful.
        self.harm_bar = Some(0.0);
        if spread_sample.len() < HARM_MIN_MEASURED {
            return Ok(());
        }
        let gain = |i: usize| self.rows[i].validation.map_or(0.0, |v| v.loss_gain);
        let sampled: Vec<f64> = spread_sample.iter().map(|&i| gain(i)).collect();
        let (median_gain, spread) = median_and_spread(&sampled);
        let bar = (median_gain - config.harm_z * spread).min(0.0);
        self.harm_bar = Some(bar);
        // An update that agrees with the others beyond chance is honest work on data unlike the validation
        // set's mix: it earns nothing for a negative gain, but it is no verdict. An update left unmeasured this
        // round keeps its streak as it was.
        let agreement = self.noise_bar(config);
        let gains: Vec<f64> = measured.iter().map(|&i| gain(i)).collect();
        for (&i, &loss_gain) in measured.iter().zip(&gains) {
            let worker = self.subs[i].worker.clone();
            if loss_gain >= bar || self.rows[i].cosine_to_others.is_some_and(|c| c > agreement) {
                harm.remove(&worker);
                continue;
            }
            let streak = harm.get(&worker).copied().unwrap_or(0) + 1;
            harm.insert(worker, streak);
            if streak >= u64::from(config.harm_rounds) {
                self.rows[i].post_flagged = true;
                self.flag(i, Reason::Poisoning, Evidence::ValidationHarm { loss_gain, median_gain, spread, bar });
            }
        }
        Ok(())
    }

    /// Which of the `included` updates to evaluate, and which of those set the round's spread of gains: all of
    /// them when there are at most `budget`. Otherwise the half of the budget that agrees least with the others
    /// (where harm is likeliest), and a uniform sample of the rest, which alone sets the spread. The sample's
    /// seed is drawn from every included update's norm, which no worker knows before the window closes and
    /// `verify` recomputes.
    fn to_validate(&self, included: &[usize], budget: usize) -> (Vec<usize>, Vec<usize>) {
        if included.len() <= budget {
            return (included.to_vec(), included.to_vec());
        }
        let agreement = |i: usize| self.rows[i].cosine_to_others.unwrap_or(f64::NEG_INFINITY);
        let mut by_agreement = included.to_vec();
        by_agreement.sort_by(|&a, &b| agreement(a).total_cmp(&agreement(b)).then(a.cmp(&b)));
        let (least, rest) = by_agreement.split_at(budget / 2);
        let seed = included.iter().fold(FNV_OFFSET, |h, &i| fnv(h, &self.rows[i].norm.to_bits().to_le_bytes()));
        let mut drawn: Vec<(u64, usize)> =
            rest.iter().map(|&i| (fnv(seed, self.subs[i].worker.as_str().as_bytes()), i)).collect();
        drawn.sort_unstable();
        let mut sample: Vec<usize> = drawn[..budget - least.len()].iter().map(|&(_, i)| i).collect();
        sample.sort_unstable();
        let mut measured: Vec<usize> = least.iter().chain(&sample).copied().collect();
        measured.sort_unstable();
        (measured, sample)
    }

    /// Scores, from evidence only: the length of each update along the others' direction (its norm clipped to
    /// the round's median, times its cosine to the others), times its reputation (relative to the mean, so about
    /// 1 for an honest worker), times how often it takes part (the reciprocal of its FedAU weight), and nothing
    /// for an update whose validation gain falls below the round's harm bar. What a worker reports about
    /// itself, such as its sample count, is not among them.
    ///
    /// The length along the others' direction is the part of an update that carries the round's shared
    /// descent: it grows with the data behind the update (more data, more steps, less noise: the estimate of
    /// data volume from the update itself that FedDua makes), scaling cannot raise it past the median norm, and
    /// noise, a sliver of data or a copy's disguise lower it. The validation gain of one update at its weight in
    /// the mean is measured as well, but once the model is good its spread over a round is as large as its
    /// median (the validation set's sampling, not the worker's data), so it judges, it does not rank: an
    /// update that harms the requester's model beyond the round's spread earns nothing that round.
    ///
    /// Only updates in the final `aggregate` earn, and only if they agree with the others beyond chance this
    /// round: an update that opposes the others or is orthogonal to them earns nothing.
    pub(super) fn score(
        &mut self,
        config: &ScoringConfig,
        book: &ReputationBook,
        participation: &ParticipationTracker,
        aggregate: Option<&Aggregate>,
    ) {
        let bar = self.noise_bar(config);
        let harm_bar = self.harm_bar;
        let scored: Vec<usize> = self
            .scored()
            .into_iter()
            .filter(|&i| aggregate.is_some_and(|a| a.included.contains(&self.subs[i].worker)))
            .filter(|&i| self.rows[i].cosine_to_others.is_none_or(|c| c > bar))
            .filter(|&i| match (harm_bar, self.rows[i].validation) {
                (Some(harm_bar), Some(gain)) => gain.loss_gain >= harm_bar,
                _ => true,
            })
            .collect();
        let norms: Vec<f64> = scored.iter().map(|&i| self.rows[i].norm).collect();
        let median_norm = median(&norms);
        let active = book.active().max(1) as f64;
        let weights: Vec<f64> = scored
            .iter()
            .map(|&i| {
                let row = &self.rows[i];
                let along = row.cosine_to_others.unwrap_or(1.0).max(0.0) * row.norm.min(median_norm);
                let worker = &self.subs[i].worker;
                along * book.reputation(worker) * active / participation.weight(worker)
            })
            .collect();
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            for (&i, weight) in scored.iter().zip(&weights) {
                self.rows[i].score = weight / total;
            }
        }
    }
}
