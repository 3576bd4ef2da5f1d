//! Database rows as the wire contract's types. Every address, hash and CID the database keeps as text is parsed
//! here, once: a stored value the contract cannot express is an internal error, never a malformed answer.

use super::ApiError;
use std::{fmt::Display, str::FromStr};
use tessera_api as api;
use tessera_db as db;

/// Parses a stored value of the wire type `T`.
pub(super) fn parse<T: FromStr<Err: Display>>(what: &str, text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|e| ApiError::Internal(eyre::eyre!("stored {what} {text:?}: {e}")))
}

fn parse_opt<T: FromStr<Err: Display>>(what: &str, text: Option<&str>) -> Result<Option<T>, ApiError> {
    text.map(|text| parse(what, text)).transpose()
}

pub(super) fn amount(amount: db::Amount) -> api::Amount {
    api::Amount::from(amount.get())
}

pub(super) fn task(
    task: db::Task,
    active_workers: u64,
    joined_workers: u64,
    fault: Option<db::TaskFault>,
    access: Option<api::TaskAccess>,
) -> Result<api::TaskView, ApiError> {
    Ok(api::TaskView {
        task_id: task.task_id,
        requester: parse("requester", &task.requester)?,
        coordinator: parse("coordinator", &task.coordinator)?,
        reward_token: parse("reward token", &task.reward_token)?,
        reward_pool: amount(task.reward_pool),
        stake_required: amount(task.stake_required),
        num_rounds: task.num_rounds,
        max_workers: task.max_workers,
        submission_window_secs: task.submission_window_secs,
        model_architecture_id: parse("architecture", &task.model_architecture_id)?,
        initial_model_cid: parse("initial model CID", &task.initial_model_cid)?,
        status: task_status(task.status),
        current_round: task.current_round,
        created_at_ms: task.created_at_ms,
        config: task.config,
        active_workers,
        joined_workers,
        fault: fault.map(|fault| api::TaskFault {
            message: fault.message,
            failures: fault.failures,
            first_failed_at_ms: fault.first_failed_at_ms,
            retry_at_ms: fault.retry_at_ms,
        }),
        access,
    })
}

pub(super) fn round(round: &db::Round) -> Result<api::RoundView, ApiError> {
    Ok(api::RoundView {
        task_id: round.task_id,
        round: round.round,
        phase: round_phase(round.phase),
        global_model_cid: parse("global model CID", &round.global_model_cid)?,
        deadline_ms: round.deadline_ms,
        new_model_cid: parse_opt("new model CID", round.new_model_cid.as_deref())?,
        manifest_cid: parse_opt("manifest CID", round.manifest_cid.as_deref())?,
        rewards_root: parse_opt("rewards root", round.rewards_root.as_deref())?,
        cumulative_rewards_total: round.cumulative_rewards_total.map(amount),
        metrics: round.metrics,
        submission_count: round.submission_count,
        started_at_ms: round.started_at_ms,
        finalized_at_ms: round.finalized_at_ms,
    })
}

pub(super) fn score(score: db::Score) -> Result<api::ScoreView, ApiError> {
    Ok(api::ScoreView {
        task_id: score.task_id,
        round: score.round,
        worker: parse("worker", &score.worker)?,
        score: score.score,
        reward: amount(score.reward),
        flags: score.flags.iter().map(|flag| parse("flag", flag)).collect::<Result<_, _>>()?,
        slashed: amount(score.slashed),
        slash_reason: parse_opt("slash reason", score.slash_reason.as_deref())?,
        reputation: score.reputation,
        evidence: score.evidence,
    })
}

pub(super) fn scores(scores: Vec<db::Score>) -> Result<Vec<api::ScoreView>, ApiError> {
    scores.into_iter().map(score).collect()
}

/// A submission as listed; `sealed` withholds the update's CID and the signatures over it.
pub(super) fn submission(submission: db::Submission, sealed: bool) -> Result<api::SubmissionListing, ApiError> {
    let open = |value: String| (!sealed).then_some(value);
    Ok(api::SubmissionListing {
        task_id: submission.task_id,
        round: submission.round,
        worker: parse("worker", &submission.worker)?,
        sequence: submission.sequence,
        num_samples: submission.num_samples,
        received_at_ms: submission.received_at_ms,
        update_cid: parse_opt("update CID", open(submission.update_cid).as_deref())?,
        signature: open(submission.signature),
        digest: open(submission.digest),
        receipt_signature: submission.receipt_signature.filter(|_| !sealed),
    })
}

pub(super) fn round_tx(tx: db::ChainTx) -> Result<api::RoundTx, ApiError> {
    Ok(api::RoundTx {
        tx_hash: parse_opt("transaction hash", tx.tx_hash.as_deref())?,
        kind: tx.kind,
        state: tx_state(tx.state),
        block_number: tx.block_number,
    })
}

pub(super) fn task_status(status: db::TaskStatus) -> api::TaskStatus {
    match status {
        db::TaskStatus::Open => api::TaskStatus::Open,
        db::TaskStatus::Running => api::TaskStatus::Running,
        db::TaskStatus::Ended => api::TaskStatus::Ended,
        db::TaskStatus::Cancelled => api::TaskStatus::Cancelled,
    }
}

pub(super) fn round_phase(phase: db::RoundPhase) -> api::RoundPhase {
    match phase {
        db::RoundPhase::Collecting => api::RoundPhase::Collecting,
        db::RoundPhase::Aggregating => api::RoundPhase::Aggregating,
        db::RoundPhase::Publishing => api::RoundPhase::Publishing,
        db::RoundPhase::Finalizing => api::RoundPhase::Finalizing,
        db::RoundPhase::Finalized => api::RoundPhase::Finalized,
    }
}

pub(super) fn membership(membership: db::Membership) -> api::Membership {
    match membership {
        db::Membership::Active => api::Membership::Active,
        db::Membership::Exited => api::Membership::Exited,
    }
}

fn tx_state(state: db::TxState) -> api::TxState {
    match state {
        db::TxState::Pending => api::TxState::Pending,
        db::TxState::Sent => api::TxState::Sent,
        db::TxState::Mined => api::TxState::Mined,
        db::TxState::Failed => api::TxState::Failed,
        db::TxState::Replaced => api::TxState::Replaced,
    }
}
