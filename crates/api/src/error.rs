use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error the API answers with: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error: a stable code to match on and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `payload_too_large`, `bad_signature`, `unauthorized`, `admin_disabled`, `not_joined`,
    /// `not_found`, `wrong_round`, `window_closed`, `replay`, `update_unavailable`, `malformed_update` or
    /// `internal`.
    pub code: String,
    /// What happened, in words.
    pub message: String,
}

/// The error answers many routes share, for the OpenAPI document.
pub mod responses {
    use super::ErrorBody;
    use utoipa::IntoResponses;

    /// A malformed body, path or field.
    #[derive(IntoResponses)]
    #[response(status = 400, description = "`bad_request`: a malformed body, path or field.")]
    pub struct BadRequest(pub ErrorBody);

    /// No such task, round or worker.
    #[derive(IntoResponses)]
    #[response(status = 404, description = "`not_found`: no such task, round or worker.")]
    pub struct NotFound(pub ErrorBody);

    /// Too many requests from this address or worker, or the server is at a cap; the `Retry-After` header says
    /// when to come back.
    #[derive(IntoResponses)]
    #[response(
        status = 429,
        description = "`too_many_requests`: a rate limit or a cap refused it; come back after \
        the `Retry-After` header's seconds."
    )]
    pub struct TooManyRequests(pub ErrorBody);

    /// The coordinator failed; the cause is in its log, not in the answer.
    #[derive(IntoResponses)]
    #[response(status = 500, description = "`internal`: the coordinator failed; the cause is in its log.")]
    pub struct Internal(pub ErrorBody);
}
