use crate::WorkerId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// RFFL reputations (Xu & Lyu 2021): `r_i <- a r_i + (1 - a) phi_i` with `phi_i` the cosine between a
/// worker's update and the aggregate, normalised over the active set `R`; a worker below
/// `fraction / |R|` is removed for good.
///
/// Reputations of the active workers always sum to 1. A round moves only its participants: their total stays
/// what it was, redistributed among them, so skipping a round neither gains nor loses reputation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReputationBook {
    entries: BTreeMap<WorkerId, ReputationEntry>,
}

/// One worker's standing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReputationEntry {
    /// Normalised reputation (0 once removed).
    pub reputation: f64,
    /// Whether it fell below the bar and was removed.
    pub removed: bool,
}

/// A worker removed by [`ReputationBook::update`].
#[derive(Clone, Debug, PartialEq)]
pub struct Removal {
    /// Who.
    pub worker: WorkerId,
    /// Its reputation when it fell below the bar.
    pub reputation: f64,
    /// The bar, `fraction / |R|`.
    pub threshold: f64,
}

impl ReputationBook {
    /// A worker's standing, if it is known.
    pub fn get(&self, worker: &WorkerId) -> Option<ReputationEntry> {
        self.entries.get(worker).copied()
    }

    /// A worker's reputation (0 if unknown or removed).
    pub fn reputation(&self, worker: &WorkerId) -> f64 {
        self.get(worker).map_or(0.0, |e| e.reputation)
    }

    /// Whether the worker was removed.
    pub fn is_removed(&self, worker: &WorkerId) -> bool {
        self.get(worker).is_some_and(|e| e.removed)
    }

    /// `|R|`, the number of active workers.
    pub fn active(&self) -> usize {
        self.entries.values().filter(|e| !e.removed).count()
    }

    /// All workers and their standing, in worker order.
    pub fn entries(&self) -> impl Iterator<Item = (&WorkerId, &ReputationEntry)> {
        self.entries.iter()
    }

    /// Adds unknown workers at the mean reputation `1 / |R|`, scaling the others so the total stays 1.
    pub fn register<'w>(&mut self, workers: impl IntoIterator<Item = &'w WorkerId>) {
        let new: Vec<&WorkerId> = workers.into_iter().filter(|w| !self.entries.contains_key(*w)).collect();
        if new.is_empty() {
            return;
        }
        for w in &new {
            self.entries.insert((*w).clone(), ReputationEntry { reputation: 0.0, removed: false });
        }
        let active = self.active();
        let old = active - new.len();
        let keep = old as f64 / active as f64;
        for entry in self.entries.values_mut().filter(|e| !e.removed) {
            entry.reputation *= keep;
        }
        for w in new {
            self.entries.get_mut(w).expect("just inserted").reputation = 1.0 / active as f64;
        }
        self.normalise();
    }

    /// One RFFL step for the round's participants `(worker, phi)`, which must be registered and active.
    /// Returns the workers removed, in worker order.
    pub fn update(&mut self, phis: &[(WorkerId, f64)], decay: f64, fraction: f64) -> Vec<Removal> {
        let mut phis: Vec<&(WorkerId, f64)> = phis.iter().filter(|(w, _)| !self.is_removed(w)).collect();
        phis.sort_by(|a, b| a.0.cmp(&b.0));
        let mass: f64 = phis.iter().map(|(w, _)| self.reputation(w)).sum();
        let raw: Vec<f64> =
            phis.iter().map(|(w, phi)| (decay * self.reputation(w) + (1.0 - decay) * phi).max(0.0)).collect();
        let raw_total: f64 = raw.iter().sum();
        for ((w, _), r) in phis.iter().zip(&raw) {
            let entry = self.entries.get_mut(w).expect("participants are registered");
            entry.reputation = if raw_total > 0.0 { r * mass / raw_total } else { 0.0 };
        }
        let threshold = fraction / self.active() as f64;
        let mut removals = Vec::new();
        for (w, _) in phis {
            let entry = self.entries.get_mut(w).expect("participants are registered");
            if entry.reputation < threshold {
                removals.push(Removal { worker: w.clone(), reputation: entry.reputation, threshold });
                *entry = ReputationEntry { reputation: 0.0, removed: true };
            }
        }
        self.normalise();
        removals
    }

    /// Removes `worker` for good, whatever its reputation: for a verdict that bars it from the task.
    pub fn remove(&mut self, worker: &WorkerId) {
        self.entries.insert(worker.clone(), ReputationEntry { reputation: 0.0, removed: true });
        self.normalise();
    }

    /// Scales the active reputations to sum to 1 (in worker order; a no-op when they sum to 0).
    fn normalise(&mut self) {
        let total: f64 = self.entries.values().filter(|e| !e.removed).map(|e| e.reputation).sum();
        if total > 0.0 {
            for entry in self.entries.values_mut().filter(|e| !e.removed) {
                entry.reputation /= total;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<WorkerId> {
        (0..n).map(|i| WorkerId::new(format!("w{i}"))).collect()
    }

    #[test]
    fn new_workers_start_at_the_mean() {
        let ids = ids(3);
        let mut book = ReputationBook::default();
        book.register(&ids[..2]);
        assert_eq!(book.reputation(&ids[0]), 0.5);
        book.register(&ids);
        for w in &ids {
            assert!((book.reputation(w) - 1.0 / 3.0).abs() < 1e-15);
        }
    }

    #[test]
    fn hand_computed_update() {
        let ids = ids(2);
        let mut book = ReputationBook::default();
        book.register(&ids);
        // raw: 0.95*0.5 + 0.05*1 = 0.525 and 0.95*0.5 + 0.05*0 = 0.475; total 1, so unchanged by normalising.
        let removed = book.update(&[(ids[0].clone(), 1.0), (ids[1].clone(), 0.0)], 0.95, 1.0 / 3.0);
        assert!(removed.is_empty());
        assert!((book.reputation(&ids[0]) - 0.525).abs() < 1e-15);
        assert!((book.reputation(&ids[1]) - 0.475).abs() < 1e-15);
    }

    #[test]
    fn sign_flipper_is_removed_within_two_rounds_and_stays_out() {
        let ids = ids(10);
        let mut book = ReputationBook::default();
        book.register(&ids);
        let round = |book: &mut ReputationBook| {
            let phis: Vec<(WorkerId, f64)> =
                ids.iter().enumerate().map(|(i, w)| (w.clone(), if i == 9 { -1.0 } else { 0.5 })).collect();
            book.update(&phis, 0.95, 1.0 / 3.0)
        };
        // Round 1: 0.045 raw against 0.12 for the others -> 0.04 normalised, above 1/30.
        assert!(round(&mut book).is_empty());
        let removed = round(&mut book);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].worker, ids[9]);
        assert!((removed[0].threshold - 1.0 / 30.0).abs() < 1e-15);
        assert!(book.is_removed(&ids[9]));
        assert_eq!(book.active(), 9);
        let total: f64 = ids.iter().map(|w| book.reputation(w)).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn absent_workers_keep_their_reputation() {
        let ids = ids(3);
        let mut book = ReputationBook::default();
        book.register(&ids);
        book.update(&[(ids[0].clone(), 1.0), (ids[1].clone(), 0.2)], 0.95, 1.0 / 3.0);
        assert!((book.reputation(&ids[2]) - 1.0 / 3.0).abs() < 1e-15);
        assert!(book.reputation(&ids[0]) > book.reputation(&ids[1]));
    }
}
