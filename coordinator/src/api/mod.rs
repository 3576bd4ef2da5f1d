//! The HTTP API: JSON endpoints for workers, the dashboard and operators.

mod error;
mod read;
mod submit;

pub use error::{ApiError, ApiJson};
pub use submit::{SubmissionRequest, SubmissionResponse};

use crate::AppState;
use axum::{Router, extract::DefaultBodyLimit, routing::get};
use std::time::Duration;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

/// The API's routes over `state`, with request size and time limits.
pub fn app(state: AppState) -> Router {
    let (max_body_bytes, timeout) = (state.config.max_body_bytes, state.config.request_timeout);
    Router::new()
        .route("/health", get(read::health))
        .route("/api/v1/tasks", get(read::tasks))
        .route("/api/v1/tasks/{task}", get(read::task))
        .route("/api/v1/tasks/{task}/rounds", get(read::rounds))
        .route("/api/v1/tasks/{task}/rounds/{round}/submissions", get(read::submissions).post(submit::submit))
        .route("/api/v1/tasks/{task}/workers", get(read::workers))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout_or_default(timeout)))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn timeout_or_default(timeout: Duration) -> Duration {
    if timeout.is_zero() { Duration::from_secs(30) } else { timeout }
}
