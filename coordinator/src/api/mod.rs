//! The HTTP API: JSON endpoints for workers, the dashboard and operators; the dashboard's pages beside them.

mod admin;
mod draft;
mod error;
mod live;
mod params;
mod read;
mod submit;
mod wire;

pub use error::{ApiError, ApiJson};

use crate::AppState;
use axum::{Router, extract::DefaultBodyLimit};
use std::{sync::OnceLock, time::Duration};
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The document's title, version and the admin token's scheme; the paths and schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera coordinator", description = "Tasks, rounds, submissions, workers and rewards of a Tessera \
        marketplace, as the coordinator serves them to workers and the dashboard."),
    modifiers(&AdminToken),
    tags(
        (name = "tasks", description = "Tasks and new task drafts."),
        (name = "rounds", description = "Rounds, their submissions and scores."),
        (name = "workers", description = "Workers' standing, rewards and claims."),
        (name = "live", description = "Changes as they happen."),
        (name = "operations", description = "Health, metrics, this document and operator actions."),
    )
)]
struct Document;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        openapi.components.get_or_insert_with(Default::default).add_security_scheme("bearer", scheme);
    }
}

/// Every documented route; the one place a route is added. Server-sent events stay open, so they get no request
/// timeout.
fn routes(timeout: Duration) -> OpenApiRouter<AppState> {
    let timed = OpenApiRouter::new()
        .routes(routes!(read::health))
        .routes(routes!(live::metrics))
        .routes(routes!(read::info))
        .routes(routes!(live::openapi))
        .routes(routes!(read::tasks))
        .routes(routes!(read::task))
        .routes(routes!(read::rounds))
        .routes(routes!(read::round))
        .routes(routes!(read::submissions, submit::submit))
        .routes(routes!(read::workers))
        .routes(routes!(read::worker))
        .routes(routes!(read::proof))
        .routes(routes!(read::account))
        .routes(routes!(draft::create))
        .routes(routes!(admin::close_round))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout_or_default(timeout)));
    OpenApiRouter::with_openapi(Document::openapi()).merge(timed).routes(routes!(live::events))
}

/// The OpenAPI 3.1 description of this API, derived from its handlers and the wire types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(Duration::ZERO).split_for_parts().1
}

fn openapi_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| openapi().to_pretty_json().unwrap_or_default())
}

/// The API's routes over `state`, with request size and time limits, and the dashboard's pages beside them.
pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.config.max_body_bytes;
    let (api, _) = routes(state.config.request_timeout).split_for_parts();
    Router::new()
        .merge(api)
        .merge(tessera_web::router())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(error::log_internal_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn timeout_or_default(timeout: Duration) -> Duration {
    if timeout.is_zero() { Duration::from_secs(30) } else { timeout }
}
