//! Server-sent events, Prometheus metrics and the OpenAPI document.

use super::{ApiError, ApiQuery, params::EventFilter};
use crate::{AppState, LiveEvent, limits::Limits};
use axum::{
    Extension,
    extract::State,
    http::header,
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::Stream;
use std::{convert::Infallible, sync::Arc, time::Duration};
use tessera_api::responses;
use tessera_db::TaskStatus;
use tokio::sync::broadcast::error::RecvError;

/// The live feed: one server-sent event per change, named by its kind, its data a [`LiveEvent`]; `lagged` with
/// the number of events missed when a slow reader fell behind (reload then). `task` and `kind` narrow it: a worker
/// follows `?task=N&kind=round,task` to start training the moment its round opens.
/// Open feeds are capped ([`crate::Config::max_event_streams`]); past the cap the answer is a 429.
#[utoipa::path(get, path = "/api/v1/events", tag = "live", params(EventFilter),
    responses((status = OK, description = "An endless `text/event-stream`.", content_type = "text/event-stream",
        body = LiveEvent), responses::TooManyRequests))]
pub(super) async fn events(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ApiQuery(filter): ApiQuery<EventFilter>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let place = limits.event_stream().map_err(|retry| {
        state.live.counters.rejected("too_many_requests");
        ApiError::too_many("every live feed this server allows is open", retry)
    })?;
    let receiver = state.live.subscribe();
    // The place is held by the stream, so it is given back when the client goes.
    let stream = futures_util::stream::unfold((receiver, filter, place), |(mut receiver, filter, place)| async move {
        loop {
            let event = match receiver.recv().await {
                Ok(event) if !filter.admits(event.task_id, event.kind) => continue,
                Ok(event) => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    Event::default().event(event.kind).data(data)
                }
                // A slow reader missed some: tell it to reload rather than drop it.
                Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (receiver, filter, place)));
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Prometheus counters and gauges.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = OK, description = "Prometheus text format 0.0.4.", content_type = "text/plain", body = String),
        responses::Internal))]
pub(super) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let tasks = state.db.list_tasks(None).await?;
    let running = tasks.iter().filter(|t| t.status == TaskStatus::Running).count() as f64;
    let in_flight = state.db.list_in_flight().await?.len() as f64;
    let text = state.live.render(&[
        ("tessera_tasks", "Tasks known to this coordinator.", tasks.len() as f64),
        ("tessera_tasks_running", "Tasks with rounds under way.", running),
        ("tessera_chain_txs_in_flight", "Outbox transactions sent and not yet mined.", in_flight),
    ]);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = OK, description = "The OpenAPI 3.1 description of this API.", body = Object)))]
pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi_json())
}
