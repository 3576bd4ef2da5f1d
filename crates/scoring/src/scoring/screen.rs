//! Checks before aggregating: copies and replays, (near) zero updates, and noise.

use super::{
    CopyBars, CosineHistory, ScoringConfig, Sketch, UpdateHistory,
    copies::{CopyInput, RoundDots},
    find_copies, is_tiny, median,
    round::RoundWork,
};
use crate::{Evidence, Reason, Result, WorkerId, updates::ColumnBlocks};

impl RoundWork<'_> {
    /// Flags and excludes copies and replays, tiny updates and updates that stay uncorrelated with the others,
    /// and records every live worker's cosine to the others in `history`.
    pub(super) fn screen(
        &mut self,
        round: u64,
        config: &ScoringConfig,
        history: &mut CosineHistory,
        earlier: &UpdateHistory,
    ) -> Result<()> {
        let live = self.live();
        let norms: Vec<f64> = live.iter().map(|&i| self.rows[i].norm).collect();
        let median_norm = median(&norms);
        let receipts: Vec<u64> = live.iter().map(|&i| self.subs[i].receipt).collect();
        let workers: Vec<&WorkerId> = live.iter().map(|&i| &self.subs[i].worker).collect();
        let sketches: Vec<&Sketch> = live.iter().map(|&i| &self.sketches[i]).collect();
        let dense: Vec<bool> = live.iter().map(|&i| self.dense[i]).collect();
        let dots = self.dots.take().expect("the round's dot products are summed once, for the screens");
        let blocks = self.blocks(&live);

        let bars = CopyBars {
            min_residual: config.copy_min_residual,
            max_residual: config.copy_max_residual,
            residual_fraction: config.copy_residual_fraction,
            min_support_cosine: config.copy_min_support_cosine,
            min_partial_cosine: config.copy_min_partial_cosine,
            partial_median_multiple: config.copy_partial_median_multiple,
        };
        let input = CopyInput {
            round,
            workers: &workers,
            receipts: &receipts,
            sketches: &sketches,
            dense: &dense,
            dimension: self.dimension,
            dots: &dots,
            blocks: &blocks,
        };
        let checks = find_copies(&input, earlier, bars)?;
        for (k, check) in checks.into_iter().enumerate() {
            let i = live[k];
            self.rows[i].residual = Some(check.residual);
            self.rows[i].partial_cosine = check.partial.as_ref().map(|(_, p)| *p);
            self.rows[i].history_partial_cosine = check.history_partial.as_ref().map(|(_, p)| *p);
            self.rows[i].beyond_cosine = check.beyond.as_ref().map(|(_, c)| *c);
            if let Some(evidence) = check.evidence(self.subs[i].receipt) {
                self.rows[i].excluded = true;
                self.flag(i, Reason::Copy, evidence);
            }
        }
        for &i in &live {
            let norm = self.rows[i].norm;
            if is_tiny(norm, median_norm, config.min_norm_ratio) {
                self.rows[i].excluded = true;
                let evidence = Evidence::TinyNorm { norm, median_norm, min_ratio: config.min_norm_ratio };
                self.flag(i, Reason::FreeRider, evidence);
            }
        }

        self.screen_noise(config, history, &live, &dots, &blocks)
    }

    /// Noise: a cosine to the other candidates that stays within chance of zero (or below it) over rounds.
    /// Unlike the cosine to the aggregate, it is not inflated by the worker's own share of the aggregate.
    fn screen_noise(
        &mut self,
        config: &ScoringConfig,
        history: &mut CosineHistory,
        live: &[usize],
        dots: &RoundDots,
        blocks: &ColumnBlocks<'_>,
    ) -> Result<()> {
        let bar = self.noise_bar(config);
        let candidates: Vec<bool> = live.iter().map(|&i| !self.rows[i].excluded).collect();
        for (k, others) in dots.cosines_to_others(blocks, &candidates)?.into_iter().enumerate() {
            let i = live[k];
            self.rows[i].cosine_to_others = others;
            let Some(cosine) = others else { continue };
            let worker = &self.subs[i].worker;
            history.record(worker, cosine, config.cosine_window as usize);
            let Some((mean, rounds)) = history.mean(worker) else { continue };
            if !self.rows[i].excluded && rounds >= config.noise_min_rounds && mean <= bar {
                let reason = if mean >= -bar { Reason::FreeRider } else { Reason::Poisoning };
                self.rows[i].excluded = true;
                self.flag(i, reason, Evidence::Uncorrelated { mean_cosine: mean, rounds, max_cosine: bar });
            }
        }
        Ok(())
    }
}
