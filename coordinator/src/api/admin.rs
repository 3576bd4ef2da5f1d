//! Operator actions, behind the admin bearer token.

use super::{ApiError, ApiJson};
use crate::{AppState, LiveEvent};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
};
use serde_json::{Value, json};
use tessera_db::{RoundPatch, RoundPhase};

/// Checks the `Authorization: Bearer <token>` header in constant time.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.config.admin_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::AdminDisabled);
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let same = given.len() == expected.len()
        && given.bytes().zip(expected.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0;
    if same { Ok(()) } else { Err(ApiError::Unauthorized) }
}

/// Closes a round's submission window now, before its deadline.
pub(super) async fn close_round(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((task, round)): Path<(u64, u32)>,
) -> Result<ApiJson<Value>, ApiError> {
    authorize(&state, &headers)?;
    let closed = state
        .db
        .advance_round_phase_with(task, round, RoundPhase::Collecting, RoundPhase::Aggregating, &RoundPatch::default())
        .await
        .map_err(|e| match e {
            tessera_db::Error::NotFound { what } => ApiError::NotFound(what),
            other => other.into(),
        })?;
    if !closed {
        return Err(ApiError::WrongRound(format!("round {round} of task {task} is not collecting")));
    }
    state.live.publish(LiveEvent::round(task, round, RoundPhase::Aggregating));
    Ok(ApiJson(json!({ "task_id": task, "round": round, "phase": RoundPhase::Aggregating })))
}
