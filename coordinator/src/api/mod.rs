//! The HTTP API: JSON endpoints for workers, the dashboard and operators; the dashboard's pages beside them.

mod admin;
mod draft;
mod error;
mod live;
mod read;
mod submit;

pub use error::{ApiError, ApiJson};
pub use live::OPENAPI;
pub use submit::{SubmissionRequest, SubmissionResponse};

use crate::AppState;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use std::time::Duration;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

/// Every route, as the OpenAPI document lists it (a test holds the two together).
pub const ROUTES: &[&str] = &[
    "/health",
    "/metrics",
    "/api/v1/info",
    "/api/v1/openapi.json",
    "/api/v1/events",
    "/api/v1/tasks",
    "/api/v1/tasks/{task}",
    "/api/v1/tasks/{task}/rounds",
    "/api/v1/tasks/{task}/rounds/{round}",
    "/api/v1/tasks/{task}/rounds/{round}/submissions",
    "/api/v1/tasks/{task}/workers",
    "/api/v1/tasks/{task}/workers/{worker}",
    "/api/v1/tasks/{task}/workers/{worker}/proof",
    "/api/v1/accounts/{worker}",
    "/api/v1/task-drafts",
    "/api/v1/admin/tasks/{task}/rounds/{round}/close",
];

/// The API's routes over `state`, with request size and time limits.
pub fn app(state: AppState) -> Router {
    let (max_body_bytes, timeout) = (state.config.max_body_bytes, state.config.request_timeout);
    // Server-sent events stay open: they get no request timeout.
    let streams = Router::new().route("/api/v1/events", get(live::events));
    let api = Router::new()
        .route("/health", get(read::health))
        .route("/metrics", get(live::metrics))
        .route("/api/v1/info", get(read::info))
        .route("/api/v1/openapi.json", get(live::openapi))
        .route("/api/v1/tasks", get(read::tasks))
        .route("/api/v1/tasks/{task}", get(read::task))
        .route("/api/v1/tasks/{task}/rounds", get(read::rounds))
        .route("/api/v1/tasks/{task}/rounds/{round}", get(read::round))
        .route("/api/v1/tasks/{task}/rounds/{round}/submissions", get(read::submissions).post(submit::submit))
        .route("/api/v1/tasks/{task}/workers", get(read::workers))
        .route("/api/v1/tasks/{task}/workers/{worker}", get(read::worker))
        .route("/api/v1/tasks/{task}/workers/{worker}/proof", get(read::proof))
        .route("/api/v1/accounts/{worker}", get(read::account))
        .route("/api/v1/task-drafts", post(draft::create))
        .route("/api/v1/admin/tasks/{task}/rounds/{round}/close", post(admin::close_round))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout_or_default(timeout)));
    Router::new()
        .merge(api)
        .merge(streams)
        .merge(tessera_web::router())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(error::log_internal_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn timeout_or_default(timeout: Duration) -> Duration {
    if timeout.is_zero() { Duration::from_secs(30) } else { timeout }
}
