//! `GET /api/v1/tasks/{task}/rounds/{round}/keys/{reader}`: the key of a confidential round's global model,
//! wrapped for one of the round's workers.

use super::{ApiError, ApiJson, ApiPath};
use crate::AppState;
use alloy::primitives::Address;
use axum::extract::State;
use serde::Deserialize;
use tessera_api::{RoundKey, responses};
use tessera_db::Membership;
use tessera_seal::ReaderId;
use utoipa::IntoParams;

/// The reader's public key with the round.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct ReaderPath {
    /// The task.
    #[serde(deserialize_with = "super::params::task_id")]
    pub task: u64,
    /// The round.
    pub round: u32,
    /// The reader's secp256k1 public key, compressed, 0x-hex: its address must be a worker of the task.
    pub reader: String,
}

/// The key of round `round`'s global model wrapped for `reader`, a worker of the task while the round is its
/// latest. The wrap opens only with the reader's private key, so it is served to anyone who asks; a key that is
/// no active worker's, an earlier round, or a public task get nothing.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/rounds/{round}/keys/{reader}", tag = "rounds", params(ReaderPath),
    responses(
        (status = OK, description = "The wrapped key.", body = RoundKey),
        responses::BadRequest,
        (status = FORBIDDEN, description = "`not_joined`: the reader is no active worker of the task.", body = tessera_api::ErrorBody),
        responses::NotFound,
        (status = CONFLICT, description = "`wrong_round`: not the task's latest round.", body = tessera_api::ErrorBody),
        responses::Internal,
    ))]
pub(super) async fn round_key(
    State(state): State<AppState>,
    ApiPath(ReaderPath { task: task_id, round, reader }): ApiPath<ReaderPath>,
) -> Result<ApiJson<RoundKey>, ApiError> {
    let reader: ReaderId = reader.parse().map_err(|e| ApiError::BadRequest(format!("reader: {e}")))?;
    let task = state.db.get_task(task_id).await?.ok_or_else(|| ApiError::NotFound(format!("task {task_id}")))?;
    let sealing = state
        .sealer
        .for_task(state.content.as_ref(), &task)
        .await
        .map_err(ApiError::Internal)?
        .ok_or_else(|| ApiError::NotFound(format!("task {task_id} is public: its models are not sealed")))?;
    if round <= 1 {
        return Err(ApiError::NotFound(format!(
            "round {round} of task {task_id} trains from the requester's initial model, which is not sealed"
        )));
    }
    if task.status != tessera_db::TaskStatus::Running || round != task.current_round {
        return Err(ApiError::WrongRound(format!(
            "task {task_id} is {:?} in round {}: keys are given for a running task's latest round only",
            task.status, task.current_round
        )));
    }
    let worker = Address::from(reader.address());
    let worker_hex = format!("{worker:#x}");
    let active = state.db.get_worker(task_id, &worker_hex).await?.is_some_and(|w| w.status == Membership::Active);
    if !active {
        return Err(ApiError::NotJoined { worker: worker_hex, task: task_id });
    }
    let open = state
        .db
        .get_round(task_id, round)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("round {round} of task {task_id}")))?;
    let global_model_cid = super::wire::parse("global model CID", &open.global_model_cid)?;
    let key = sealing.checkpoint_key(round - 1, &open.global_model_cid, &[]).map_err(ApiError::Internal)?;
    let wrapped_key = sealing.wrap_checkpoint_key(round - 1, &key, &reader);
    Ok(ApiJson(RoundKey { task_id, round, global_model_cid, wrapped_key }))
}
