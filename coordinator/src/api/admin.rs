//! Operator actions, behind the admin bearer token.

use super::{ApiError, ApiJson, ApiPath, params::RoundPath, wire};
use crate::{AppState, LiveEvent};
use axum::{extract::State, http::HeaderMap};
use tessera_api::{ErrorBody, RoundClosed, responses};
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
#[utoipa::path(post, path = "/api/v1/admin/tasks/{task}/rounds/{round}/close", tag = "operations", params(RoundPath),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "Closed: the round is aggregating.", body = RoundClosed),
        (status = UNAUTHORIZED, description = "`unauthorized`: no or the wrong admin token.", body = ErrorBody),
        (status = FORBIDDEN, description = "`admin_disabled`: no admin token is configured.", body = ErrorBody),
        responses::NotFound,
        (status = CONFLICT, description = "`wrong_round`: the round is not collecting.", body = ErrorBody),
        responses::Internal,
    ))]
pub(super) async fn close_round(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(RoundPath { task, round }): ApiPath<RoundPath>,
) -> Result<ApiJson<RoundClosed>, ApiError> {
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
    Ok(ApiJson(RoundClosed { task_id: task, round, phase: wire::round_phase(RoundPhase::Aggregating) }))
}
