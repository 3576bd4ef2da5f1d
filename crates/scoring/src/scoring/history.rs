//! What the scorer remembers of earlier rounds' public vectors, to catch replays: the sketches of every
//! update and of every global change of the last few rounds.

use super::Sketch;
use crate::WorkerId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A vector that an update may copy: one that is public once its round closes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A worker's update of a round (this round's, when received earlier, or an earlier round's).
    Update {
        /// Whose update.
        worker: WorkerId,
        /// Its round.
        round: u64,
    },
    /// The step the global model took in a round: what a delta-weights free-rider replays.
    GlobalChange {
        /// The round.
        round: u64,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Update { worker, round } => write!(f, "{worker}'s update of round {round}"),
            Self::GlobalChange { round } => write!(f, "the global change of round {round}"),
        }
    }
}

/// One remembered vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// What it is.
    pub source: Source,
    /// Its sketch.
    pub sketch: Sketch,
}

/// The sketches of the last rounds' updates and global changes, oldest round first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateHistory {
    entries: Vec<HistoryEntry>,
}

impl UpdateHistory {
    /// Everything remembered, oldest round first, in worker order within a round, the global change last.
    pub fn entries(&self) -> &[HistoryEntry] {
        &self.entries
    }

    /// Remembers `round`'s updates and global change, and forgets rounds older than `keep_rounds` back.
    pub(crate) fn record(
        &mut self,
        round: u64,
        updates: impl IntoIterator<Item = (WorkerId, Sketch)>,
        global_change: Option<Sketch>,
        keep_rounds: u32,
    ) {
        let oldest = (round + 1).saturating_sub(u64::from(keep_rounds));
        self.entries.retain(|e| match &e.source {
            Source::Update { round, .. } | Source::GlobalChange { round } => *round >= oldest,
        });
        if keep_rounds == 0 {
            return;
        }
        let mut updates: Vec<(WorkerId, Sketch)> = updates.into_iter().collect();
        updates.sort_by(|a, b| a.0.cmp(&b.0));
        self.entries.extend(
            updates
                .into_iter()
                .map(|(worker, sketch)| HistoryEntry { source: Source::Update { worker, round }, sketch }),
        );
        self.entries
            .extend(global_change.map(|sketch| HistoryEntry { source: Source::GlobalChange { round }, sketch }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_rounds() {
        let mut history = UpdateHistory::default();
        let sketch = Sketch::of(&[1.0, 2.0]);
        for round in 1..=4 {
            history.record(
                round,
                [(WorkerId::new("b"), sketch.clone()), (WorkerId::new("a"), sketch.clone())],
                Some(sketch.clone()),
                2,
            );
        }
        let sources: Vec<String> = history.entries().iter().map(|e| e.source.to_string()).collect();
        assert_eq!(
            sources,
            [
                "a's update of round 3",
                "b's update of round 3",
                "the global change of round 3",
                "a's update of round 4",
                "b's update of round 4",
                "the global change of round 4"
            ]
        );
        history.record(5, [], None, 0);
        assert!(history.entries().is_empty());
    }
}
