use super::{
    ClaimProof, ErrorBody, Info, Receipt, RoundKey, RoundView, SubmissionListing, SubmissionRequest, TaskView,
    WorkerSummary,
};
use crate::{Error, Result};
use alloy::primitives::Address;
use reqwest::{Method, StatusCode};
use serde::{Serialize, de::DeserializeOwned};
use std::time::Duration;
use tessera_net::TlsRoots;

/// The largest answer read from the coordinator: far above any listing of a task with thousands of workers, so a
/// coordinator (or whatever answers in its place) cannot make the worker hold an endless body in memory.
const MAX_ANSWER_BYTES: usize = 32 << 20;
/// The longest error body quoted in an error message.
const MAX_QUOTED_BODY: usize = 300;

/// How long the live feed may stay silent before the connection is taken for dead: the coordinator sends a
/// keep-alive every 15 s.
const FEED_SILENCE: Duration = Duration::from_secs(45);

/// A client of the coordinator's HTTP API.
#[derive(Clone, Debug)]
pub struct CoordinatorClient {
    http: reqwest::Client,
    /// For the live feed, which stays open: the same roots, no limit on the whole answer, one on its silences.
    feed: reqwest::Client,
    base: String,
}

impl CoordinatorClient {
    /// A client of the coordinator at `base_url` (`http://host:port`), each request limited to `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        Self::with_roots(base_url, timeout, &TlsRoots::platform())
    }

    /// As [`CoordinatorClient::new`], trusting `roots` for an https coordinator.
    pub fn with_roots(base_url: &str, timeout: Duration, roots: &TlsRoots) -> Result<Self> {
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|e| Error::Invalid(format!("coordinator URL {base_url:?} is not valid: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!("coordinator URL {base_url:?} is not http(s)")));
        }
        let builder = || {
            roots
                .apply(reqwest::Client::builder())
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .user_agent(concat!("tessera-worker/", env!("CARGO_PKG_VERSION")))
        };
        let built = |builder: reqwest::ClientBuilder| {
            builder.build().map_err(|source| Error::Http { url: base_url.to_owned(), source })
        };
        let http = built(builder().timeout(timeout))?;
        let feed = built(builder().read_timeout(FEED_SILENCE))?;
        Ok(Self { http, feed, base: base_url.trim_end_matches('/').to_owned() })
    }

    /// Opens the live feed of `task`'s round and task changes (`GET /api/v1/events?task=…&kind=round,task`): the
    /// response, whose body is a `text/event-stream` that stays open.
    pub async fn round_feed(&self, task: u64) -> Result<reqwest::Response> {
        let path = format!("/api/v1/events?task={task}&kind=round,task");
        let url = format!("{}{path}", self.base);
        let response = self.feed.get(&url).send().await.map_err(|source| Error::Http { url, source })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(api_error(&Method::GET, path, status, &body));
        }
        Ok(response)
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The chain, marketplace and coordinator address the coordinator serves.
    pub async fn info(&self) -> Result<Info> {
        self.get("/api/v1/info".into()).await
    }

    /// A task.
    pub async fn task(&self, task: u64) -> Result<TaskView> {
        self.get(format!("/api/v1/tasks/{task}")).await
    }

    /// A round, or `None` when the coordinator does not know it (yet).
    pub async fn round(&self, task: u64, round: u32) -> Result<Option<RoundView>> {
        optional(self.get(format!("/api/v1/tasks/{task}/rounds/{round}")).await)
    }

    /// The key of a confidential round's global model, wrapped for `reader` (this worker's public key).
    pub async fn round_key(&self, task: u64, round: u32, reader: &tessera_seal::ReaderId) -> Result<RoundKey> {
        self.get(format!("/api/v1/tasks/{task}/rounds/{round}/keys/{reader}")).await
    }

    /// The submissions accepted in a round so far, in receipt order.
    pub async fn submissions(&self, task: u64, round: u32) -> Result<Vec<SubmissionListing>> {
        self.get(format!("/api/v1/tasks/{task}/rounds/{round}/submissions")).await
    }

    /// Sends a signed submission and returns the coordinator's receipt.
    pub async fn submit(&self, task: u64, round: u32, request: &SubmissionRequest) -> Result<Receipt> {
        self.send(Method::POST, format!("/api/v1/tasks/{task}/rounds/{round}/submissions"), Some(request)).await
    }

    /// A worker's standing in a task, or `None` when the coordinator has no record of it.
    pub async fn worker(&self, task: u64, worker: Address) -> Result<Option<WorkerSummary>> {
        optional(self.get(format!("/api/v1/tasks/{task}/workers/{worker:#x}")).await)
    }

    /// The Merkle proof of a worker's cumulative rewards, or `None` when it has earned nothing (yet).
    pub async fn proof(&self, task: u64, worker: Address) -> Result<Option<ClaimProof>> {
        optional(self.get(format!("/api/v1/tasks/{task}/workers/{worker:#x}/proof")).await)
    }

    async fn get<T: DeserializeOwned>(&self, path: String) -> Result<T> {
        self.send::<T, ()>(Method::GET, path, None).await
    }

    async fn send<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: String,
        body: Option<&B>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let http_error = |source| Error::Http { url: url.clone(), source };
        let mut response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Error::Api {
                    method: method_name(&method),
                    path,
                    status: status.as_u16(),
                    code: "answer_too_large".into(),
                    message: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(api_error(&method, path, status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Api {
            method: method_name(&method),
            path,
            status: status.as_u16(),
            code: "invalid_body".into(),
            message: format!("the answer is not the JSON expected: {e}"),
        })
    }
}

/// Turns a 404 into `None`.
fn optional<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.api_status() == Some(StatusCode::NOT_FOUND.as_u16()) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The error an answer carries: the API's `{"error": {"code", "message"}}`, or the start of whatever came.
fn api_error(method: &Method, path: String, status: StatusCode, body: &[u8]) -> Error {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => (error.code, error.message),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let mut quoted: String = text.chars().take(MAX_QUOTED_BODY).collect();
            if quoted.len() < text.len() {
                quoted.push('…');
            }
            (format!("http_{}", status.as_u16()), quoted)
        }
    };
    Error::Api { method: method_name(method), path, status: status.as_u16(), code, message }
}

fn method_name(method: &Method) -> &'static str {
    if *method == Method::POST { "POST" } else { "GET" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_the_api_shape_give_their_code() {
        let body = br#"{"error": {"code": "replay", "message": "already submitted"}}"#;
        let error = api_error(&Method::POST, "/x".into(), StatusCode::CONFLICT, body);
        assert_eq!(error.api_code(), Some("replay"));
        assert_eq!(error.api_status(), Some(409));
        assert!(!error.is_transient());
    }

    #[test]
    fn other_error_bodies_are_quoted_and_server_errors_are_transient() {
        let body = "x".repeat(1000);
        let error = api_error(&Method::GET, "/x".into(), StatusCode::BAD_GATEWAY, body.as_bytes());
        assert_eq!(error.api_code(), Some("http_502"));
        assert!(error.to_string().len() < 500);
        assert!(error.is_transient());
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_off_with_a_clear_error() {
        use axum::{Router, body::Body, routing::get};
        let megabyte = bytes::Bytes::from(vec![b' '; 1 << 20]);
        let endless = move || {
            let chunks = std::iter::repeat(megabyte.clone()).map(Ok::<_, std::convert::Infallible>);
            async move { Body::from_stream(futures_util::stream::iter(chunks)) }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server =
            tokio::spawn(axum::serve(listener, Router::new().route("/api/v1/info", get(endless))).into_future());
        let client = CoordinatorClient::new(&url, Duration::from_secs(30)).unwrap();
        let error = client.info().await.unwrap_err();
        server.abort();
        assert_eq!(error.api_code(), Some("answer_too_large"), "{error}");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(CoordinatorClient::new("ftp://host", Duration::from_secs(1)).is_err());
        assert!(CoordinatorClient::new("not a url", Duration::from_secs(1)).is_err());
        let client = CoordinatorClient::new("http://127.0.0.1:8080/", Duration::from_secs(1)).unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:8080");
    }
}
