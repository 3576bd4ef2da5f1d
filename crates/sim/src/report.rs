use crate::{Args, Role, UNIT};
use std::time::Duration;
use tessera_scoring::{Evidence, Metrics, Reason, RoundResult, ScorerState, WorkerId};
use tessera_train::Dataset;

/// Whole tokens, for printing.
fn tokens(units: u128) -> f64 {
    (units / (UNIT / 10_000)) as f64 / 10_000.0
}

pub(crate) fn header(args: &Args, roles: &[Role], shards: &[Dataset], strategy: &str) {
    println!(
        "{} workers, {} rounds, {:?} partition, strategy {strategy}, seed {}",
        args.workers, args.rounds, args.partition, args.seed
    );
    for (i, (role, shard)) in roles.iter().zip(shards).enumerate() {
        println!("  w{i:02}  {role:<14?} {} samples", shard.len());
    }
}

fn describe(evidence: &Evidence) -> String {
    match evidence {
        Evidence::NearCopy { original, cosine, relative_distance, .. } => {
            format!("copy of {original} (cos {cosine:.4}, rel dist {relative_distance:.4})")
        }
        Evidence::TinyNorm { norm, median_norm, .. } => format!("tiny norm {norm:.2e} vs median {median_norm:.3}"),
        Evidence::Uncorrelated { mean_cosine, rounds, .. } => format!("mean cos {mean_cosine:.3} over {rounds} rounds"),
        Evidence::LowReputation { reputation, threshold, .. } => {
            format!("reputation {reputation:.4} < {threshold:.4}")
        }
        Evidence::ValidationHarm { relative_increase, .. } => {
            format!("val loss +{:.1}% with it", 100.0 * relative_increase)
        }
        Evidence::Missing => "missing".into(),
        Evidence::Failed { reason } => format!("failed: {reason}"),
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
        "  {:<4} {:<14} {:<10} {:>8} {:>7} {:>7} {:>7} {:>5} {:>9} {:>7} {:>10}  flags",
        "id", "role", "status", "norm", "cos", "others", "rep", "w", "loo gain", "score", "reward"
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    for w in &result.workers {
        let role = ids.iter().position(|id| id == &w.worker).map_or(Role::Honest, |i| roles[i]);
        let flags: Vec<String> = result
            .flags
            .iter()
            .filter(|f| f.worker == w.worker)
            .map(|f| format!("{:?}: {}", f.reason, describe(&f.evidence)))
            .collect();
        println!(
            "  {:<4} {:<14} {:<10} {:>8} {:>7} {:>7} {:>7} {:>5} {:>9} {:>7.4} {:>10.2}  {}",
            w.worker.as_str(),
            format!("{role:?}"),
            format!("{:?}", w.status),
            opt(w.norm, 3),
            opt(w.cosine, 3),
            opt(w.cosine_to_others, 3),
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

/// Rewards and slashes over all rounds.
pub(crate) struct Totals {
    ids: Vec<WorkerId>,
    rewards: Vec<u128>,
    slashes: Vec<Vec<(u64, Reason, u16)>>,
}

impl Totals {
    pub(crate) fn new(ids: &[WorkerId]) -> Self {
        Self { ids: ids.to_vec(), rewards: vec![0; ids.len()], slashes: vec![Vec::new(); ids.len()] }
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
    }

    pub(crate) fn print(&self, roles: &[Role], state: &ScorerState) {
        println!("\ntotals:");
        println!("  {:<4} {:<14} {:>12} {:>8}  slashes (round reason bps)", "id", "role", "reward", "rep");
        for (i, id) in self.ids.iter().enumerate() {
            let rep = state
                .reputation
                .get(id)
                .map_or("-".into(), |e| if e.removed { "removed".into() } else { format!("{:.4}", e.reputation) });
            let slashes: Vec<String> =
                self.slashes[i].iter().map(|(round, reason, bps)| format!("r{round} {reason:?} {bps}")).collect();
            println!(
                "  {:<4} {:<14} {:>12.2} {:>8}  {}",
                id.as_str(),
                format!("{:?}", roles[i]),
                tokens(self.rewards[i]),
                rep,
                slashes.join(", ")
            );
        }
    }
}
