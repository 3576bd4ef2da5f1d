//! The decisions of the run loop, as pure functions of what the coordinator and the state folder
//! say: what to do next, what to do in a round, how to take a refusal, whether a receipt holds.

use crate::{
    Error, Result,
    api::{Receipt, RoundPhase, RoundView, SubmissionListing, TaskStatus, TaskView},
    state::Pending,
};
use alloy::{
    primitives::{Address, B256, U256},
    sol_types::Eip712Domain,
};
use tessera_chain::eip712::{self, SubmissionReceipt};
use tessera_train::ArchitectureId;

/// What the worker does next, given the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The task is over: stop.
    Finished(TaskStatus),
    /// Nothing to do yet: poll again.
    Wait(String),
    /// Work on this round.
    Work(u32),
}

/// The next step for a worker that has dealt with every round up to `handled`.
pub fn next_step(task: &TaskView, handled: Option<u32>) -> Step {
    match task.status {
        TaskStatus::Ended | TaskStatus::Cancelled => Step::Finished(task.status),
        TaskStatus::Open => Step::Wait(format!("task {} has not started its first round", task.task_id)),
        TaskStatus::Unknown => Step::Wait(format!("task {} is in a state this worker does not know", task.task_id)),
        TaskStatus::Running if task.current_round == 0 => {
            Step::Wait(format!("task {} has not started its first round", task.task_id))
        }
        TaskStatus::Running => match handled {
            Some(done) if done >= task.current_round => {
                Step::Wait(format!("round {done} is done; waiting for round {}", done + 1))
            }
            _ => Step::Work(task.current_round),
        },
    }
}

/// What to do in an open round.
#[derive(Clone, Debug, PartialEq)]
pub enum RoundAction {
    /// The coordinator does not show the round yet: poll again.
    Wait,
    /// The round cannot take a submission any more.
    Missed(String),
    /// The coordinator already holds this worker's submission (sent before a restart): keep its receipt.
    Recorded(SubmissionListing),
    /// The coordinator holds this worker's submission but withholds its receipt until the window closes, and
    /// the signed submission to ask for it again is gone: poll again.
    Sealed,
    /// An update was uploaded and signed before a restart: send it again instead of training.
    Resend(Pending),
    /// Fetch the checkpoint, train, upload, sign and send.
    Produce,
}

/// Decides what to do in `round`, given the coordinator's view of it (`None` when unknown), its
/// submissions, this worker's pending submission, and the time.
pub fn round_action(
    round: Option<&RoundView>,
    submissions: &[SubmissionListing],
    pending: Option<Pending>,
    me: Address,
    now_ms: i64,
) -> RoundAction {
    let Some(round) = round else { return RoundAction::Wait };
    if let Some(mine) = submissions.iter().find(|s| s.worker == me) {
        // While the round collects the listing withholds the CID and the receipt: sending the same signed
        // submission again gets the receipt back.
        return match pending {
            _ if mine.update_cid.is_some() => RoundAction::Recorded(mine.clone()),
            Some(pending) if pending.round == round.round => RoundAction::Resend(pending),
            _ => RoundAction::Sealed,
        };
    }
    if round.phase != RoundPhase::Collecting {
        return RoundAction::Missed(format!("round {} is {:?}, no longer collecting", round.round, round.phase));
    }
    if now_ms > round.deadline_ms {
        return RoundAction::Missed(format!(
            "round {}'s deadline passed {} ms ago",
            round.round,
            now_ms - round.deadline_ms
        ));
    }
    match pending {
        Some(pending)
            if pending.round == round.round && pending.global_model_cid == round.global_model_cid.to_string() =>
        {
            RoundAction::Resend(pending)
        }
        _ => RoundAction::Produce,
    }
}

/// How to take the coordinator's refusal of a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It already holds a submission of this worker for the round: done.
    AlreadySubmitted,
    /// The round closed, or moved on: the round is missed.
    Closed,
    /// The worker has not joined the task on chain.
    NotJoined,
    /// A passing failure (the coordinator could not fetch the update yet, or is down): send again.
    Retry,
    /// Anything else: a bug or a misconfiguration, which retrying will not fix.
    Fatal,
}

/// Classifies a failed submission.
pub fn classify(error: &Error) -> Refusal {
    match error.api_code() {
        Some("replay") => Refusal::AlreadySubmitted,
        Some("window_closed" | "wrong_round") => Refusal::Closed,
        Some("not_joined") => Refusal::NotJoined,
        Some("update_unavailable") => Refusal::Retry,
        _ if error.is_transient() => Refusal::Retry,
        _ => Refusal::Fatal,
    }
}

/// The architecture a task names by its bytes32 id.
pub fn architecture_of(id: B256) -> Result<ArchitectureId> {
    ArchitectureId::from_bytes32(id.0)
        .map_err(|_| Error::Invalid(format!("the task uses architecture {id}, which this worker does not know")))
}

/// Whether `receipt` is signed by `coordinator` over exactly the EIP-712 `SubmissionReceipt` it states.
pub fn verify_receipt(receipt: &Receipt, domain: &Eip712Domain, coordinator: Address) -> bool {
    let (Ok(signature), Ok(received_at_ms)) =
        (eip712::parse_signature(&receipt.receipt_signature), u64::try_from(receipt.received_at_ms))
    else {
        return false;
    };
    let typed = SubmissionReceipt {
        taskId: U256::from(receipt.task_id),
        round: receipt.round,
        worker: receipt.worker,
        updateCid: B256::from(receipt.update_cid.to_bytes32()),
        numSamples: receipt.num_samples,
        sequence: receipt.sequence,
        receivedAtMs: received_at_ms,
    };
    eip712::recover_signer(&typed, domain, &signature).is_ok_and(|signer| signer == coordinator)
}

/// The receipt of a submission the coordinator lists (after a restart or a replayed send); `None` while the
/// listing withholds its update.
pub fn receipt_from_listing(task_id: u64, submission: &SubmissionListing, coordinator: Address) -> Option<Receipt> {
    Some(Receipt {
        task_id,
        round: submission.round,
        worker: submission.worker,
        update_cid: submission.update_cid?,
        num_samples: submission.num_samples,
        sequence: submission.sequence,
        received_at_ms: submission.received_at_ms,
        coordinator,
        receipt_signature: submission.receipt_signature.clone().unwrap_or_default(),
    })
}

/// The seed of a round's local training: distinct per worker and round, fixed by `base` when given.
pub fn train_seed(base: Option<u64>, worker: Address, round: u32) -> u64 {
    let from_worker = u64::from_be_bytes(worker.0[..8].try_into().expect("an address has 20 bytes"));
    base.unwrap_or(from_worker).wrapping_mul(1_000_003).wrapping_add(u64::from(round))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TrainingSummary;
    use alloy::signers::local::PrivateKeySigner;
    use tessera_api::Amount;
    use tessera_storage::Cid;

    fn cid(byte: u8) -> Cid {
        Cid::from_digest([byte; 32])
    }

    fn task(status: TaskStatus, current_round: u32) -> TaskView {
        TaskView {
            task_id: 4,
            requester: Address::repeat_byte(1),
            coordinator: Address::repeat_byte(2),
            reward_token: Address::repeat_byte(3),
            reward_pool: Amount::from(1000),
            stake_required: Amount::from(10),
            num_rounds: 3,
            max_workers: 8,
            submission_window_secs: 60,
            model_architecture_id: B256::ZERO,
            initial_model_cid: cid(0),
            status,
            current_round,
            created_at_ms: 0,
            config: serde_json::Value::Null,
            active_workers: 0,
            joined_workers: 0,
            fault: None,
            access: None,
        }
    }

    fn round(phase: RoundPhase) -> RoundView {
        RoundView { phase, ..RoundView::opened(4, 2, cid(b'G'), 1_000, 0) }
    }

    fn submission(worker: Address) -> SubmissionListing {
        crate::api::listing(worker, 2, 3, Some(cid(b'U')))
    }

    fn pending(round: u32, global: &str) -> Pending {
        Pending {
            round,
            global_model_cid: global.into(),
            update_cid: cid(b'U').to_string(),
            num_samples: 10,
            signature: "0x".into(),
            training: TrainingSummary {
                loss: None,
                accuracy: None,
                samples: 10,
                steps: 0,
                wall_ms: 0,
                samples_per_s: None,
                device: "cpu".into(),
                behaviour: "honest".into(),
                update_norm: 0.0,
            },
        }
    }

    #[test]
    fn the_worker_works_the_current_round_once_and_stops_when_the_task_ends() {
        assert_eq!(next_step(&task(TaskStatus::Running, 2), Some(1)), Step::Work(2));
        assert_eq!(next_step(&task(TaskStatus::Running, 2), None), Step::Work(2));
        assert!(matches!(next_step(&task(TaskStatus::Running, 2), Some(2)), Step::Wait(_)));
        assert!(matches!(next_step(&task(TaskStatus::Running, 0), None), Step::Wait(_)));
        assert!(matches!(next_step(&task(TaskStatus::Open, 0), None), Step::Wait(_)));
        assert_eq!(next_step(&task(TaskStatus::Ended, 3), Some(1)), Step::Finished(TaskStatus::Ended));
        assert_eq!(next_step(&task(TaskStatus::Cancelled, 0), None), Step::Finished(TaskStatus::Cancelled));
    }

    #[test]
    fn a_restarted_worker_keeps_what_the_coordinator_already_has_before_training() {
        let me = Address::repeat_byte(1);
        let other = submission(Address::repeat_byte(2));
        let collecting = round(RoundPhase::Collecting);
        assert_eq!(round_action(None, &[], None, me, 0), RoundAction::Wait);
        let mine = submission(me);
        // Even after the window closed, a submission that made it in counts.
        let closed = round(RoundPhase::Aggregating);
        assert_eq!(
            round_action(Some(&closed), &[other.clone(), mine.clone()], None, me, 5_000),
            RoundAction::Recorded(mine.clone())
        );
        // While the round collects the listing withholds the CID: ask again with the pending submission, or
        // wait for the window to close.
        let sealed = SubmissionListing { update_cid: None, ..mine };
        assert_eq!(round_action(Some(&collecting), std::slice::from_ref(&sealed), None, me, 10), RoundAction::Sealed);
        assert_eq!(
            round_action(
                Some(&collecting),
                std::slice::from_ref(&sealed),
                Some(pending(2, &cid(b'G').to_string())),
                me,
                10
            ),
            RoundAction::Resend(pending(2, &cid(b'G').to_string()))
        );
        assert_eq!(
            round_action(
                Some(&collecting),
                std::slice::from_ref(&other),
                Some(pending(2, &cid(b'G').to_string())),
                me,
                10
            ),
            RoundAction::Resend(pending(2, &cid(b'G').to_string()))
        );
        // A pending update of another round or checkpoint is stale: train afresh.
        assert_eq!(
            round_action(Some(&collecting), &[], Some(pending(1, &cid(b'G').to_string())), me, 10),
            RoundAction::Produce
        );
        assert_eq!(round_action(Some(&collecting), &[], Some(pending(2, "QmOld")), me, 10), RoundAction::Produce);
        assert!(matches!(
            round_action(Some(&closed), std::slice::from_ref(&other), None, me, 10),
            RoundAction::Missed(_)
        ));
        assert!(matches!(round_action(Some(&collecting), &[other], None, me, 1_001), RoundAction::Missed(_)));
    }

    #[test]
    fn refusals_are_classified_by_their_code() {
        let api = |status: u16, code: &str| Error::Api {
            method: "POST",
            path: "/".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(classify(&api(409, "replay")), Refusal::AlreadySubmitted);
        assert_eq!(classify(&api(409, "window_closed")), Refusal::Closed);
        assert_eq!(classify(&api(409, "wrong_round")), Refusal::Closed);
        assert_eq!(classify(&api(403, "not_joined")), Refusal::NotJoined);
        assert_eq!(classify(&api(422, "update_unavailable")), Refusal::Retry);
        assert_eq!(classify(&api(503, "http_503")), Refusal::Retry);
        assert_eq!(classify(&api(422, "malformed_update")), Refusal::Fatal);
        assert_eq!(classify(&api(401, "bad_signature")), Refusal::Fatal);
    }

    #[test]
    fn architectures_map_from_their_bytes32_id() {
        let id = B256::from(ArchitectureId::Lenet5MnistV1.to_bytes32());
        assert_eq!(architecture_of(id).unwrap(), ArchitectureId::Lenet5MnistV1);
        assert!(architecture_of(B256::repeat_byte(0xff)).is_err());
        // An id that is not bytes32 at all is refused where the task is read.
        let mut listed = serde_json::to_value(task(TaskStatus::Running, 1)).unwrap();
        listed["model_architecture_id"] = "lenet".into();
        assert!(serde_json::from_value::<TaskView>(listed).is_err());
    }

    #[test]
    fn receipts_verify_only_with_the_coordinators_signature_over_their_content() {
        let coordinator = PrivateKeySigner::random();
        let domain = eip712::domain(31337, Address::repeat_byte(9));
        let cid = tessera_storage::DagBuilder::cid_of(b"update");
        let mut receipt = Receipt {
            task_id: 1,
            round: 2,
            worker: Address::repeat_byte(1),
            update_cid: cid,
            num_samples: 10,
            sequence: 0,
            received_at_ms: 123,
            coordinator: coordinator.address(),
            receipt_signature: String::new(),
        };
        let typed = SubmissionReceipt {
            taskId: U256::from(1),
            round: 2,
            worker: Address::repeat_byte(1),
            updateCid: B256::from(cid.to_bytes32()),
            numSamples: 10,
            sequence: 0,
            receivedAtMs: 123,
        };
        receipt.receipt_signature = eip712::sign(&coordinator, &typed, &domain).unwrap().to_string();
        assert!(verify_receipt(&receipt, &domain, coordinator.address()));
        assert!(!verify_receipt(&receipt, &domain, Address::repeat_byte(3)));
        assert!(!verify_receipt(&Receipt { sequence: 1, ..receipt.clone() }, &domain, coordinator.address()));
        assert!(!verify_receipt(
            &Receipt { receipt_signature: String::new(), ..receipt },
            &domain,
            coordinator.address()
        ));
    }

    #[test]
    fn training_seeds_differ_by_worker_and_round() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert_ne!(train_seed(None, a, 1), train_seed(None, b, 1));
        assert_ne!(train_seed(None, a, 1), train_seed(None, a, 2));
        assert_eq!(train_seed(Some(5), a, 1), train_seed(Some(5), b, 1));
    }
}
