//! The round engine's state machine, as a pure function of what the database says: the engine reads a
//! [`View`], does the [`Step`] this returns, and asks again. Every step is idempotent, so a crash between
//! any two of them is repaired by asking again after the restart.

use tessera_db::{RoundPhase, TaskStatus, TxState};

/// What the engine knows about one task at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The task's status in the database.
    pub status: TaskStatus,
    /// Rounds to run.
    pub num_rounds: u32,
    /// The latest round started (0 before the first).
    pub current_round: u32,
    /// That round's phase, if it exists.
    pub phase: Option<RoundPhase>,
    /// Where the outbox's transaction for the current step is, if one was enqueued: `startRound` of the
    /// next round while none is open, `finalizeRound` while finalizing.
    pub tx: Option<TxState>,
    /// Whether the chain already shows the effect of that transaction (the round started or finalized), for
    /// a transaction that failed or was replaced after another copy of it was mined.
    pub chain_done: bool,
    /// Active workers.
    pub active_workers: u64,
    /// Workers needed before the first round starts.
    pub min_workers: u64,
    /// Submissions accepted in the current round from workers still active.
    pub submissions: u64,
    /// Whether the current round's deadline has passed.
    pub deadline_passed: bool,
    /// Whether the task is over, its policy publishes its content keys, and they are not queued yet.
    pub keys_due: bool,
}

/// The one thing to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do now.
    Wait(&'static str),
    /// Record `startRound(round)` in the outbox.
    EnqueueStart(u32),
    /// The start transaction is mined: record the round as collecting.
    OpenRound(u32),
    /// Stop accepting submissions.
    CloseWindow(u32),
    /// Fetch, score and aggregate; publish the checkpoint and manifest.
    Aggregate(u32),
    /// Record `finalizeRound` in the outbox.
    EnqueueFinalize(u32),
    /// The finalize transaction is mined: mark the round finalized.
    MarkFinalized(u32),
    /// Every round is finalized: end the task.
    EndTask,
    /// The task is over: publish its content keys, as its access policy says.
    PublishKeys,
    /// A transaction failed and the chain does not show its effect: an operator must look.
    Stuck(String),
}

/// The next step for a task.
pub fn decide(view: &View) -> Step {
    if view.status == TaskStatus::Cancelled {
        return Step::Wait("the task was cancelled");
    }
    let round = view.current_round;
    match view.phase {
        // No round yet, or the last one finalized: start the next one, or end. The chain ends a task in the
        // transaction that finalizes its last round, so an ended task may still have that round to record.
        None | Some(RoundPhase::Finalized) => {
            if view.status == TaskStatus::Ended {
                return if view.keys_due { Step::PublishKeys } else { Step::Wait("the task is over") };
            }
            if round >= view.num_rounds && view.phase.is_some() {
                return Step::EndTask;
            }
            let next = round + 1;
            match view.tx {
                None if round == 0 && view.active_workers < view.min_workers.max(1) => {
                    Step::Wait("waiting for workers to join")
                }
                None => Step::EnqueueStart(next),
                Some(TxState::Pending | TxState::Sent) => Step::Wait("startRound is on its way"),
                Some(TxState::Mined) => Step::OpenRound(next),
                Some(TxState::Failed | TxState::Replaced) if view.chain_done => Step::OpenRound(next),
                Some(state) => Step::Stuck(format!("startRound of round {next} is {state}")),
            }
        }
        Some(RoundPhase::Collecting) => {
            let everyone_in = view.active_workers > 0 && view.submissions >= view.active_workers;
            if view.deadline_passed || everyone_in {
                Step::CloseWindow(round)
            } else {
                Step::Wait("collecting submissions")
            }
        }
        Some(RoundPhase::Aggregating) => Step::Aggregate(round),
        Some(RoundPhase::Publishing) => Step::EnqueueFinalize(round),
        Some(RoundPhase::Finalizing) => match view.tx {
            None => Step::EnqueueFinalize(round),
            Some(TxState::Pending | TxState::Sent) => Step::Wait("finalizeRound is on its way"),
            Some(TxState::Mined) => Step::MarkFinalized(round),
            Some(TxState::Failed | TxState::Replaced) if view.chain_done => Step::MarkFinalized(round),
            Some(state) => Step::Stuck(format!("finalizeRound of round {round} is {state}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        View {
            status: TaskStatus::Open,
            num_rounds: 2,
            current_round: 0,
            phase: None,
            tx: None,
            chain_done: false,
            active_workers: 3,
            min_workers: 3,
            submissions: 0,
            deadline_passed: false,
            keys_due: false,
        }
    }

    #[test]
    fn a_task_starts_once_enough_workers_joined() {
        assert_eq!(decide(&View { active_workers: 2, ..view() }), Step::Wait("waiting for workers to join"));
        assert_eq!(decide(&view()), Step::EnqueueStart(1));
        assert_eq!(
            decide(&View { min_workers: 0, active_workers: 0, ..view() }),
            Step::Wait("waiting for workers to join")
        );
    }

    #[test]
    fn a_round_opens_only_when_its_start_is_mined() {
        let pending = View { tx: Some(TxState::Sent), ..view() };
        assert_eq!(decide(&pending), Step::Wait("startRound is on its way"));
        assert_eq!(decide(&View { tx: Some(TxState::Mined), ..view() }), Step::OpenRound(1));
        let replaced = View { tx: Some(TxState::Replaced), ..view() };
        assert!(matches!(decide(&replaced), Step::Stuck(_)));
        assert_eq!(decide(&View { chain_done: true, ..replaced }), Step::OpenRound(1));
    }

    #[test]
    fn the_window_closes_at_the_deadline_or_when_everyone_submitted() {
        let collecting = View {
            status: TaskStatus::Running,
            current_round: 1,
            phase: Some(RoundPhase::Collecting),
            submissions: 2,
            ..view()
        };
        assert_eq!(decide(&collecting), Step::Wait("collecting submissions"));
        assert_eq!(decide(&View { submissions: 3, ..collecting }), Step::CloseWindow(1));
        assert_eq!(decide(&View { deadline_passed: true, ..collecting }), Step::CloseWindow(1));
        // Nobody left to wait for is not "everyone submitted": the deadline decides.
        let deserted = View { active_workers: 0, submissions: 0, ..collecting };
        assert_eq!(decide(&deserted), Step::Wait("collecting submissions"));
    }

    #[test]
    fn rounds_walk_through_every_phase_then_the_task_ends() {
        let at = |phase, tx| View { status: TaskStatus::Running, current_round: 1, phase: Some(phase), tx, ..view() };
        assert_eq!(decide(&at(RoundPhase::Aggregating, None)), Step::Aggregate(1));
        assert_eq!(decide(&at(RoundPhase::Publishing, None)), Step::EnqueueFinalize(1));
        assert_eq!(decide(&at(RoundPhase::Finalizing, None)), Step::EnqueueFinalize(1));
        assert_eq!(
            decide(&at(RoundPhase::Finalizing, Some(TxState::Pending))),
            Step::Wait("finalizeRound is on its way")
        );
        assert_eq!(decide(&at(RoundPhase::Finalizing, Some(TxState::Mined))), Step::MarkFinalized(1));
        assert!(matches!(decide(&at(RoundPhase::Finalizing, Some(TxState::Failed))), Step::Stuck(_)));
        let failed_but_done = View { chain_done: true, ..at(RoundPhase::Finalizing, Some(TxState::Failed)) };
        assert_eq!(decide(&failed_but_done), Step::MarkFinalized(1));
        assert_eq!(decide(&at(RoundPhase::Finalized, None)), Step::EnqueueStart(2));
        let last = View { current_round: 2, ..at(RoundPhase::Finalized, None) };
        assert_eq!(decide(&last), Step::EndTask);
        assert_eq!(decide(&View { status: TaskStatus::Ended, ..last }), Step::Wait("the task is over"));
        // A confidential task that publishes its keys does so once it is over, and only then.
        assert_eq!(decide(&View { status: TaskStatus::Ended, keys_due: true, ..last }), Step::PublishKeys);
        // The indexer may see the chain end the task before the engine records the last finalize.
        let ended_early = View { status: TaskStatus::Ended, ..at(RoundPhase::Finalizing, Some(TxState::Mined)) };
        assert_eq!(decide(&ended_early), Step::MarkFinalized(1));
        assert_eq!(decide(&View { status: TaskStatus::Cancelled, ..view() }), Step::Wait("the task was cancelled"));
    }
}
