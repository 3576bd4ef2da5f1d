//! The HTTP API: JSON endpoints for workers, the dashboard and operators; the dashboard's pages beside them.

mod admin;
mod draft;
mod error;
mod keys;
mod live;
mod params;
mod read;
mod submit;
mod wire;

pub use error::{ApiError, ApiJson, ApiPath, ApiQuery};

use crate::{AppState, limits::Limits};
use axum::{
    Extension, Router,
    extract::{DefaultBodyLimit, Request},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};
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
        .routes(routes!(keys::round_key))
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

/// The API's routes over `state`, with request size and time limits and the per-address rate limit ([`Limits`]),
/// and the dashboard's pages beside them.
pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.config.max_body_bytes;
    let limits = Arc::new(Limits::new(&state.config));
    let (api, _) = routes(state.config.request_timeout).split_for_parts();
    let per_ip = {
        let (limits, live) = (Arc::clone(&limits), state.live.clone());
        axum::middleware::from_fn(move |request: Request, next: Next| {
            let (limits, live) = (Arc::clone(&limits), live.clone());
            async move { limit_per_ip(&limits, &live, request, next).await }
        })
    };
    Router::new()
        .merge(api.layer(per_ip).layer(Extension(limits)).layer(Extension(Arc::new(read::StandingCache::default()))))
        .merge(tessera_web::router())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(error::log_internal_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Refuses a request over its address's rate with a 429, before any work is done for it. Requests that did not
/// come through [`crate::server::serve`] (tests calling the router directly) carry no address and pass.
async fn limit_per_ip(limits: &Limits, live: &crate::Live, request: Request, next: Next) -> Response {
    if let Some(peer) = crate::server::peer(&request) {
        let from = crate::limits::address_key(peer.ip());
        if let Err(retry) = limits.per_ip.check(&from, Instant::now()) {
            live.counters.rejected("too_many_requests");
            return ApiError::too_many(format!("too many requests from {from}"), retry).into_response();
        }
    }
    next.run(request).await
}

fn timeout_or_default(timeout: Duration) -> Duration {
    if timeout.is_zero() { Duration::from_secs(30) } else { timeout }
}
