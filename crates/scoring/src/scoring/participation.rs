use crate::WorkerId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// FedAU participation weights (Wang & Ji 2024): a worker's weight is the running mean of its participation
/// intervals (rounds between one participation and the next), each interval capped at `K` rounds, estimated
/// online. A worker that takes part every round has weight 1; one that takes part every third round about 3,
/// which makes up in aggregation for the rounds it misses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParticipationTracker {
    workers: BTreeMap<WorkerId, Intervals>,
}

/// One worker's interval statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// Rounds since the current interval began.
    pub open: u32,
    /// How many intervals have closed.
    pub closed: u32,
    /// The mean length of the closed intervals.
    pub mean: f64,
}

impl ParticipationTracker {
    /// Records one round: every known worker's open interval grows by one round; the participants' (and any
    /// reaching `cap`) close. `roster` lists workers that could have taken part, so their intervals count
    /// from their first round on the roster; a worker first seen as a participant counts from that round.
    pub fn observe(&mut self, participants: &[WorkerId], roster: &[WorkerId], cap: u32) {
        for w in roster.iter().chain(participants) {
            self.workers.entry(w.clone()).or_default();
        }
        let mut participants: Vec<&WorkerId> = participants.iter().collect();
        participants.sort();
        for (worker, s) in &mut self.workers {
            s.open += 1;
            if participants.binary_search(&worker).is_ok() || s.open >= cap {
                let length = f64::from(s.open.min(cap));
                s.mean = (f64::from(s.closed) * s.mean + length) / f64::from(s.closed + 1);
                s.closed += 1;
                s.open = 0;
            }
        }
    }

    /// The worker's weight: its mean interval, or 1 before any interval closed.
    pub fn weight(&self, worker: &WorkerId) -> f64 {
        self.workers.get(worker).filter(|s| s.closed > 0).map_or(1.0, |s| s.mean)
    }

    /// A worker's statistics.
    pub fn get(&self, worker: &WorkerId) -> Option<Intervals> {
        self.workers.get(worker).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_mean_interval() {
        let always = WorkerId::new("a");
        let every_third = WorkerId::new("b");
        let roster = [always.clone(), every_third.clone()];
        let mut tracker = ParticipationTracker::default();
        for round in 1..=9u32 {
            let mut participants = vec![always.clone()];
            if round.is_multiple_of(3) {
                participants.push(every_third.clone());
            }
            tracker.observe(&participants, &roster, 50);
        }
        assert_eq!(tracker.weight(&always), 1.0);
        assert_eq!(tracker.weight(&every_third), 3.0);
        assert_eq!(tracker.get(&every_third).unwrap().closed, 3);
    }

    #[test]
    fn intervals_are_capped_and_unknown_workers_weigh_one() {
        let absent = WorkerId::new("gone");
        let mut tracker = ParticipationTracker::default();
        assert_eq!(tracker.weight(&absent), 1.0);
        for _ in 0..7 {
            tracker.observe(&[], std::slice::from_ref(&absent), 3);
        }
        // Two capped intervals of 3 closed; one round open.
        assert_eq!(tracker.weight(&absent), 3.0);
        assert_eq!(tracker.get(&absent).unwrap().open, 1);
        // Intervals 2, 4 -> mean 3; then 1 -> mean 7/3.
        let w = WorkerId::new("w");
        let mut tracker = ParticipationTracker::default();
        let roster = [w.clone()];
        for participate in [false, true, false, false, false, true, true] {
            let p = if participate { roster.to_vec() } else { vec![] };
            tracker.observe(&p, &roster, 50);
        }
        assert_eq!(tracker.weight(&w), 7.0 / 3.0);
    }
}
