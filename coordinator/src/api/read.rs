use super::{ApiError, ApiJson};
use crate::AppState;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tessera_db::{Round, Submission, Task, Worker};

pub(super) async fn health(State(state): State<AppState>) -> Result<ApiJson<Value>, ApiError> {
    state.db.ping().await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(ApiJson(json!({ "status": "ok" })))
}

pub(super) async fn tasks(State(state): State<AppState>) -> Result<ApiJson<Vec<Task>>, ApiError> {
    Ok(ApiJson(state.db.list_tasks(None).await.map_err(internal)?))
}

pub(super) async fn task(State(state): State<AppState>, Path(task): Path<u64>) -> Result<ApiJson<Task>, ApiError> {
    let found = state.db.get_task(task).await.map_err(internal)?;
    Ok(ApiJson(found.ok_or_else(|| ApiError::NotFound(format!("task {task}")))?))
}

pub(super) async fn rounds(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<ApiJson<Vec<Round>>, ApiError> {
    Ok(ApiJson(state.db.list_rounds(task).await.map_err(internal)?))
}

pub(super) async fn submissions(
    State(state): State<AppState>,
    Path((task, round)): Path<(u64, u32)>,
) -> Result<ApiJson<Vec<Submission>>, ApiError> {
    Ok(ApiJson(state.db.list_submissions(task, round).await.map_err(internal)?))
}

pub(super) async fn workers(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<ApiJson<Vec<Worker>>, ApiError> {
    Ok(ApiJson(state.db.list_workers(task).await.map_err(internal)?))
}

pub(super) fn internal(error: tessera_db::Error) -> ApiError {
    ApiError::Internal(error.into())
}
