use crate::{Args, Role, UNIT};
use std::time::Duration;
use tessera_scoring::{Metrics, Reason, RoundResult, ScorerState, WorkerId};
use tessera_train::Dataset;

/// Whole tokens, for printing.
fn tokens(units: u128) -> f64 {
    (units / (UNIT / 10_000)) as f64 / 10_000.0
}

pub(crate) fn header(args: &Args, roles: &[Role], shards: &[Dataset], strategy: &str) {
    println!(
        "{} workers, {} rounds, {:?} partition, {}, strategy {strategy}, seed {}",
        args.workers, args.rounds, args.partition, args.arch, args.seed
    );
    if args.aggregate_all {
        println!("  the global model steps with the aggregate of every update (--aggregate-all), not the scorer's");
    }
    for (i, (role, shard)) in roles.iter().zip(shards).enumerate() {
        println!("  w{i:02}  {:<22} {} samples", role.to_string(), shard.len());
    }
}

pub(crate) fn round(
    result: &RoundResult,
    roles: &[Role],
    ids: &[WorkerId],
    test: Metrics,
    trained: Duration,
    scored: Duration,
) {
    let val = result
        .metrics
        .map_or(String::new(), |m| format!(", validation loss {:.4} acc {:.2}%", m.loss, 100.0 * m.accuracy));
    println!(
        "\nround {}: test accuracy {:.2}%{val} (training {:.1} s, scoring {:.1} s)",
        result.round,
        100.0 * test.accuracy,
        trained.as_secs_f64(),
        scored.as_secs_f64()
    );
    println!(
        "  {:<4} {:<22} {:<10} {:>8} {:>7} {:>7} {:>6} {:>7} {:>5} {:>9} {:>7} {:>10}  flags",
        "id", "role", "status", "norm", "cos", "others", "resid", "rep", "w", "val gain", "score", "reward"
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    for w in &result.workers {
        let role = ids.iter().position(|id| id == &w.worker).map_or(Role::Honest, |i| roles[i]);
        let flags: Vec<String> = result
            .flags
            .iter()
            .filter(|f| f.worker == w.worker)
            .map(|f| format!("{:?}: {}", f.reason, f.evidence))
            .collect();
        println!(
            "  {:<4} {:<22} {:<10} {:>8} {:>7} {:>7} {:>6} {:>7} {:>5} {:>9} {:>7.4} {:>10.2}  {}",
            w.worker.as_str(),
            role.to_string(),
            format!("{:?}", w.status),
            opt(w.norm, 3),
            opt(w.cosine, 3),
            opt(w.cosine_to_others, 3),
            opt(w.residual, 3),
            opt(w.reputation, 4),
            opt(w.participation_weight, 1),
            opt(w.validation.map(|v| v.loss_gain), 4),
            w.score,
            tokens(w.reward),
            flags.join("; ")
        );
    }
    for slash in &result.slashes {
        println!("  slash {} {:?} {} bps", slash.worker, slash.reason, slash.bps);
    }
}

/// Rewards, slashes and flags over all rounds.
pub(crate) struct Totals {
    ids: Vec<WorkerId>,
    rewards: Vec<u128>,
    slashes: Vec<Vec<(u64, Reason, u16)>>,
    /// The rounds in which each worker was flagged, with the first reason that round.
    flagged: Vec<Vec<(u64, Reason)>>,
}

impl Totals {
    pub(crate) fn new(ids: &[WorkerId]) -> Self {
        let n = ids.len();
        Self { ids: ids.to_vec(), rewards: vec![0; n], slashes: vec![Vec::new(); n], flagged: vec![Vec::new(); n] }
    }

    pub(crate) fn add(&mut self, result: &RoundResult) {
        for w in &result.workers {
            if let Some(i) = self.ids.iter().position(|id| id == &w.worker) {
                self.rewards[i] += w.reward;
            }
        }
        for s in &result.slashes {
            if let Some(i) = self.ids.iter().position(|id| id == &s.worker) {
                self.slashes[i].push((result.round, s.reason, s.bps));
            }
        }
        for f in &result.flags {
            if let Some(i) = self.ids.iter().position(|id| id == &f.worker)
                && self.flagged[i].last().is_none_or(|&(round, _)| round != result.round)
            {
                self.flagged[i].push((result.round, f.reason));
            }
        }
    }

    /// When each adversary was first flagged, and every round an honest (or intermittent) worker was flagged.
    /// The last line, `detection: ...`, is for scripts.
    pub(crate) fn print_detection(&self, roles: &[Role]) {
        println!("\ndetection (first round each adversary was flagged; honest workers flagged):");
        let (mut caught, mut adversaries, mut worst, mut false_positives) = (0, 0, 0, 0);
        for (i, id) in self.ids.iter().enumerate() {
            let honest = roles[i].is_honest();
            let first = self.flagged[i].first();
            if honest {
                if !self.flagged[i].is_empty() {
                    false_positives += 1;
                    let rounds: Vec<String> = self.flagged[i].iter().map(|(r, why)| format!("r{r} {why:?}")).collect();
                    println!("  {:<4} {:<22} FALSE POSITIVE: {}", id.as_str(), roles[i].to_string(), rounds.join(", "));
                }
                continue;
            }
            adversaries += 1;
            match first {
                Some((round, why)) => {
                    caught += 1;
                    worst = worst.max(*round);
                    println!(
                        "  {:<4} {:<22} first flagged in round {round} ({why:?})",
                        id.as_str(),
                        roles[i].to_string()
                    );
                }
                None => println!("  {:<4} {:<22} never flagged", id.as_str(), roles[i].to_string()),
            }
        }
        let worst = if caught == adversaries { worst.to_string() } else { "never".into() };
        println!(
            "detection: adversaries_flagged={caught}/{adversaries} last_first_flag_round={worst} honest_flagged={false_positives}"
        );
    }

    /// The Pearson and Spearman correlations between the honest workers' total rewards and their true sample
    /// counts (what they trained on, not what they claimed).
    pub(crate) fn print_fairness(&self, roles: &[Role], samples: &[usize]) {
        let (rewards, sizes): (Vec<f64>, Vec<f64>) = (0..self.ids.len())
            .filter(|&i| roles[i] == Role::Honest)
            .map(|i| (tokens(self.rewards[i]), samples[i] as f64))
            .unzip();
        let show = |r: Option<f64>| r.map_or("n/a (no spread)".into(), |r| format!("{r:.4}"));
        let spearman = pearson(&ranks(&rewards), &ranks(&sizes));
        println!(
            "fairness: over {} honest workers, pearson(total reward, samples) = {}, spearman = {}",
            rewards.len(),
            show(pearson(&rewards, &sizes)),
            show(spearman)
        );
    }

    pub(crate) fn print(&self, roles: &[Role], state: &ScorerState) {
        println!("\ntotals:");
        let honest: Vec<u128> =
            roles.iter().zip(&self.rewards).filter(|(r, _)| **r == Role::Honest).map(|(_, &x)| x).collect();
        let honest_mean = honest.iter().map(|&x| tokens(x)).sum::<f64>() / honest.len().max(1) as f64;
        println!(
            "  {:<4} {:<22} {:>12} {:>8} {:>9}  slashes (round reason bps)",
            "id", "role", "reward", "rep", "x honest"
        );
        for (i, id) in self.ids.iter().enumerate() {
            let rep = state
                .reputation
                .get(id)
                .map_or("-".into(), |e| if e.removed { "removed".into() } else { format!("{:.4}", e.reputation) });
            let slashes: Vec<String> =
                self.slashes[i].iter().map(|(round, reason, bps)| format!("r{round} {reason:?} {bps}")).collect();
            let relative = if honest_mean > 0.0 { tokens(self.rewards[i]) / honest_mean } else { 0.0 };
            println!(
                "  {:<4} {:<22} {:>12.2} {:>8} {:>9.3}  {}",
                id.as_str(),
                roles[i].to_string(),
                tokens(self.rewards[i]),
                rep,
                relative,
                slashes.join(", ")
            );
        }
    }
}

/// The Pearson correlation of two equally long series; `None` when either has no spread.
pub(crate) fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "series of equal length");
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Average ranks (ties share the mean of their places), for Spearman's correlation.
pub(crate) fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end - 1) as f64 / 2.0 + 1.0;
        order[start..end].iter().for_each(|&i| ranks[i] = rank);
        start = end;
    }
    ranks
}

/// Where the loop's wall time went, over all rounds.
#[derive(Default)]
pub(crate) struct Times {
    training: Duration,
    scoring: Duration,
    testing: Duration,
}

impl Times {
    pub(crate) fn add(&mut self, training: Duration, scoring: Duration, testing: Duration) {
        self.training += training;
        self.scoring += scoring;
        self.testing += testing;
    }

    /// `looped` is the whole loop, from the initial test evaluation to the end of the last round; `validation`
    /// the scorer's validation-set evaluations (count, wall time), which are part of scoring.
    pub(crate) fn print(&self, looped: Duration, validation: (usize, Duration)) {
        let rest = looped.saturating_sub(self.training + self.scoring + self.testing);
        println!(
            "wall time: loop {:.1} s = training {:.1} s + scoring {:.1} s + test evaluation {:.1} s + other {:.1} s",
            looped.as_secs_f64(),
            self.training.as_secs_f64(),
            self.scoring.as_secs_f64(),
            self.testing.as_secs_f64(),
            rest.as_secs_f64()
        );
        let (calls, spent) = validation;
        println!(
            "  scoring: {calls} validation-set evaluations took {:.1} s, everything else {:.1} s",
            spent.as_secs_f64(),
            self.scoring.saturating_sub(spent).as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{pearson, ranks};

    #[test]
    fn pearson_of_lines_and_constants() {
        let x = [1.0, 2.0, 4.0];
        assert!((pearson(&x, &[3.0, 5.0, 9.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&x, &[-1.0, -2.0, -4.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&x, &[2.0, 2.0, 2.0]), None);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
    }
}
