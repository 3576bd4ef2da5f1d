use axum::{
    Json,
    extract::{FromRequest, FromRequestParts, Path, Query, Request, rejection::JsonRejection},
    http::request::Parts,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use std::sync::Arc;
use tessera_api::{ErrorBody, ErrorDetail};

/// Every way an API request fails, each with its status and a stable code. Internal details are
/// logged and never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or a parameter is not well formed.
    #[error("{0}")]
    BadRequest(String),
    /// The request body is larger than the API accepts.
    #[error("the request body is larger than this server accepts")]
    PayloadTooLarge,
    /// The signature does not verify, or was not made by the worker it names.
    #[error("the signature does not verify for worker {0}")]
    BadSignature(String),
    /// Admin actions need the admin bearer token.
    #[error("this action needs the admin token")]
    Unauthorized,
    /// Admin actions are off: no admin token is configured.
    #[error("admin actions are off on this coordinator (no admin token is set)")]
    AdminDisabled,
    /// The worker has not joined the task on-chain.
    #[error("worker {worker} has not joined task {task}")]
    NotJoined {
        /// The worker.
        worker: String,
        /// The task.
        task: u64,
    },
    /// No such task, round or object.
    #[error("{0} not found")]
    NotFound(String),
    /// The submission names another round than the open one, or a task that is not running.
    #[error("{0}")]
    WrongRound(String),
    /// The round's submission window has closed.
    #[error("the submission window of round {round} closed at {deadline_ms} ms")]
    WindowClosed {
        /// The round.
        round: u32,
        /// When it closed, unix milliseconds.
        deadline_ms: i64,
    },
    /// The worker already submitted in this round, or this exact message was seen before.
    #[error("{0}")]
    Replay(String),
    /// The update could not be fetched from IPFS in time.
    #[error("the update {cid} could not be fetched: {reason}")]
    UpdateUnavailable {
        /// The CID.
        cid: String,
        /// Why.
        reason: String,
    },
    /// The update was fetched but is not a valid update for the task's model.
    #[error("the update {cid} is malformed: {reason}")]
    MalformedUpdate {
        /// The CID.
        cid: String,
        /// Why.
        reason: String,
    },
    /// The client asked too often, or the server is at a cap: come back after `retry_after_secs`.
    #[error("{reason}; retry after {retry_after_secs} s")]
    TooManyRequests {
        /// Which limit refused it.
        reason: String,
        /// When to come back, whole seconds.
        retry_after_secs: u64,
    },
    /// Something failed on the coordinator's side.
    #[error("internal error")]
    Internal(#[source] eyre::Report),
}

impl ApiError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::BadSignature(_) => (StatusCode::UNAUTHORIZED, "bad_signature"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::AdminDisabled => (StatusCode::FORBIDDEN, "admin_disabled"),
            Self::NotJoined { .. } => (StatusCode::FORBIDDEN, "not_joined"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::WrongRound(_) => (StatusCode::CONFLICT, "wrong_round"),
            Self::WindowClosed { .. } => (StatusCode::CONFLICT, "window_closed"),
            Self::Replay(_) => (StatusCode::CONFLICT, "replay"),
            Self::UpdateUnavailable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "update_unavailable"),
            Self::MalformedUpdate { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "malformed_update"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = Json(ErrorBody { error: ErrorDetail { code: code.to_owned(), message: self.to_string() } });
        let mut response = (status, body).into_response();
        if let Self::TooManyRequests { retry_after_secs, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after_secs));
        }
        if let Self::Internal(report) = self {
            response.extensions_mut().insert(InternalCause(Arc::new(report)));
        }
        response
    }
}

/// The cause of an internal error, carried on its response (never in its body) to [`log_internal_errors`].
#[derive(Clone, Debug)]
struct InternalCause(Arc<eyre::Report>);

/// Logs the cause of every internal error once, with the request it failed, in the request's span: handlers
/// and `into_response` only build the error.
pub(super) async fn log_internal_errors(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    if let Some(InternalCause(report)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, %path, error = ?report, "request failed");
    }
    response
}

impl ApiError {
    /// A refusal by the limit named `reason`.
    pub fn too_many(reason: impl Into<String>, retry_after: crate::limits::RetryAfter) -> Self {
        Self::TooManyRequests { reason: reason.into(), retry_after_secs: retry_after.secs() }
    }
}

impl From<eyre::Report> for ApiError {
    fn from(report: eyre::Report) -> Self {
        Self::Internal(report)
    }
}

/// A database failure is the coordinator's, never the client's: an internal error.
impl From<tessera_db::Error> for ApiError {
    fn from(error: tessera_db::Error) -> Self {
        Self::Internal(error.into())
    }
}

/// `axum::Json`, whose rejections answer in the API's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(JsonRejection::BytesRejection(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// `axum::extract::Path`, whose rejections (a task id that is no number, say) answer in the API's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// `axum::extract::Query`, whose rejections answer in the API's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}
