//! A test certificate authority and proxies in front of local services, so tests reach anvil, the IPFS node and
//! the coordinator the way users reach a hosted RPC, a pinning service or a coordinator behind https: over real
//! TLS, checked against a CA, with a bearer token where a service demands one, through a hosted RPC's rate
//! limits, and from an IPFS node slow to serve some objects.

use crate::{Error, Result};
use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// The largest body the token-checking stand-in relays.
const MAX_RELAYED_BYTES: usize = 256 << 20;

/// A certificate authority made for one test: its certificate is written to a PEM file that clients are told to
/// trust (`TESSERA_TLS_CA_FILE`), and it signs the proxies' server certificates.
pub struct TestCa {
    dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").field("pem", &self.pem_path()).finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA, its certificate in `ca.pem` of a fresh folder.
    pub fn generate() -> Result<Self> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Tessera test CA");
        let certificate = params.self_signed(&key).map_err(tls_error)?;
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating the CA's folder", e))?;
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, certificate.pem()).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Ok(Self { dir, issuer: Issuer::new(params, key) })
    }

    /// The CA certificate's PEM file.
    pub fn pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server configuration presenting a certificate for `127.0.0.1` and `localhost` signed by this CA.
    fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(tls_error)?;
        params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let certificate = params.signed_by(&key, &self.issuer).map_err(tls_error)?;
        let chain = vec![CertificateDer::from(certificate.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).map_err(tls_error)?;
        Ok(Arc::new(config))
    }
}

/// A TLS-terminating proxy on a free loopback port, relaying every connection to a plain TCP service; stops
/// when dropped. Needs a Tokio runtime.
#[derive(Debug)]
pub struct TlsProxy {
    url: String,
    relay: JoinHandle<()>,
}

impl TlsProxy {
    /// Starts the proxy in front of `upstream` (`host:port`), presenting a certificate of `ca`.
    pub async fn start(ca: &TestCa, upstream: &str) -> Result<Self> {
        let acceptor = TlsAcceptor::from(ca.server_config()?);
        let listener = bind().await?;
        let url = format!("https://{}", local_addr(&listener)?);
        let upstream = upstream.to_owned();
        let relay = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends its handshake here; that is its business.
                    let Ok(mut client) = acceptor.accept(client).await else { return };
                    let Ok(mut service) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut service).await;
                });
            }
        });
        Ok(Self { url, relay })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

/// A stand-in for a pinning service in front of an IPFS node: every request must carry `Authorization: Bearer
/// <token>`, or it is answered 401 in the Kubo API's error shape; the others are relayed. Stops when dropped.
#[derive(Debug)]
pub struct TokenGate {
    addr: SocketAddr,
    server: JoinHandle<()>,
}

#[derive(Clone)]
struct Gate {
    upstream: String,
    expected: String,
    http: reqwest::Client,
}

impl TokenGate {
    /// Starts the gate in front of `upstream` (a base URL such as `http://127.0.0.1:5001`).
    pub async fn start(upstream: &str, token: &str) -> Result<Self> {
        let gate = Gate {
            upstream: upstream.trim_end_matches('/').to_owned(),
            expected: format!("Bearer {token}"),
            http: reqwest::Client::new(),
        };
        let listener = bind().await?;
        let addr = local_addr(&listener)?;
        let app = Router::new().fallback(relay).with_state(gate);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, server })
    }

    /// `host:port`, for a [`TlsProxy`] in front of it.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TokenGate {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay(State(gate): State<Gate>, request: Request) -> Response {
    let given = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    if given != Some(gate.expected.as_str()) {
        let body = serde_json::json!({ "Message": "missing or wrong bearer token", "Code": 0, "Type": "error" });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    relay_to(&gate.http, &gate.upstream, request, &[header::AUTHORIZATION]).await
}

/// Relays `request` to the same path and query on `upstream`, without its host header and `strip`'s.
async fn relay_to(http: &reqwest::Client, upstream: &str, request: Request, strip: &[header::HeaderName]) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(body) = to_bytes(body, MAX_RELAYED_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut headers = parts.headers;
    headers.remove(header::HOST);
    for name in strip {
        headers.remove(name);
    }
    forward(http.request(parts.method, format!("{upstream}{path}")).headers(headers).body(body)).await
}

/// A stand-in for an IPFS node that is slow to serve some objects, as one far away or overloaded is: in front of a
/// node, it relays every request, and holds one whose query names a chosen CID (`arg=<cid>`) for a while first.
/// Stops when dropped.
#[derive(Debug)]
pub struct SlowContent {
    url: String,
    state: Arc<Slow>,
    server: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Slow {
    /// The CIDs held, and for how long.
    holding: std::sync::Mutex<Vec<(String, std::time::Duration)>>,
    /// Whether uploads (`/api/v0/add`) are held until released.
    holding_uploads: std::sync::atomic::AtomicBool,
    held: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
struct SlowRelay {
    upstream: String,
    state: Arc<Slow>,
    http: reqwest::Client,
}

impl SlowContent {
    /// Starts the stand-in in front of the node whose API is at `upstream`.
    pub async fn start(upstream: &str) -> Result<Self> {
        let state = Arc::new(Slow::default());
        let relay = SlowRelay {
            upstream: upstream.trim_end_matches('/').to_owned(),
            state: state.clone(),
            http: reqwest::Client::new(),
        };
        let listener = bind().await?;
        let url = format!("http://{}", local_addr(&listener)?);
        let app = Router::new().fallback(relay_slow).with_state(relay);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, state, server })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Holds every request naming `cid` for `delay` before relaying it.
    pub fn hold(&self, cid: &str, delay: std::time::Duration) {
        self.state.holding.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((cid.to_owned(), delay));
    }

    /// Holds every upload (`/api/v0/add`) until [`SlowContent::release_uploads`], as a node that stalls mid-upload.
    pub fn hold_uploads(&self) {
        self.state.holding_uploads.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Lets held and new uploads through.
    pub fn release_uploads(&self) {
        self.state.holding_uploads.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many requests it held so far.
    pub fn held(&self) -> u64 {
        self.state.held.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for SlowContent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay_slow(State(relay): State<SlowRelay>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let delay = relay
        .state
        .holding
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(cid, _)| query.split('&').any(|pair| pair == format!("arg={cid}")))
        .map(|(_, delay)| *delay);
    if let Some(delay) = delay {
        relay.state.held.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(delay).await;
    }
    let holding_uploads = || relay.state.holding_uploads.load(std::sync::atomic::Ordering::Relaxed);
    if request.uri().path().ends_with("/api/v0/add") && holding_uploads() {
        relay.state.held.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // At most a minute, so a test that forgets to release ends anyway.
        let started = std::time::Instant::now();
        while holding_uploads() && started.elapsed() < std::time::Duration::from_secs(60) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    relay_to(&relay.http, &relay.upstream, request, &[]).await
}

/// Sends `request` upstream and answers with its status, content type and body; 502 when upstream fails.
async fn forward(request: reqwest::RequestBuilder) -> Response {
    let Ok(answer) = request.send().await else { return StatusCode::BAD_GATEWAY.into_response() };
    let status = answer.status();
    let mut headers = HeaderMap::new();
    if let Some(kind) = answer.headers().get(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, kind.clone());
    }
    match answer.bytes().await {
        Ok(bytes) => (status, headers, Body::from(bytes)).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn bind() -> Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0").await.map_err(|e| Error::io("binding a loopback port", e))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr> {
    listener.local_addr().map_err(|e| Error::io("reading a listener's address", e))
}

fn tls_error(error: impl std::fmt::Display) -> Error {
    Error::io("making test TLS material", std::io::Error::other(error.to_string()))
}

/// A stand-in for a hosted JSON-RPC endpoint in a bad minute: in front of a node, it relays every request, except
/// while told to fail, when it answers the chosen methods as hosted RPCs do when overloaded, in turn: a rate limit
/// (HTTP 429), a JSON-RPC error -32005, or no answer for [`FlakyRpc::STALL`] (longer than a client should wait).
/// Stops when dropped.
#[derive(Debug)]
pub struct FlakyRpc {
    url: String,
    state: Arc<Flaky>,
    server: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Flaky {
    /// Until when, and which methods (all when empty).
    failing: std::sync::Mutex<Option<(tokio::time::Instant, Vec<String>)>>,
    refused: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
struct Relay {
    upstream: String,
    state: Arc<Flaky>,
    http: reqwest::Client,
}

impl FlakyRpc {
    /// How long a stalled request is held before it is relayed.
    pub const STALL: std::time::Duration = std::time::Duration::from_secs(5);

    /// Starts the stand-in in front of the node at `upstream`.
    pub async fn start(upstream: &str) -> Result<Self> {
        let state = Arc::new(Flaky::default());
        let relay = Relay { upstream: upstream.to_owned(), state: state.clone(), http: reqwest::Client::new() };
        let listener = bind().await?;
        let url = format!("http://{}", local_addr(&listener)?);
        let app = Router::new().fallback(relay_rpc).with_state(relay);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, state, server })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Answers every request for one of `methods` (any method when empty) with a rate limit, for `duration`
    /// from now.
    pub fn fail_for(&self, duration: std::time::Duration, methods: &[&str]) {
        let until = tokio::time::Instant::now() + duration;
        let methods = methods.iter().map(|&method| method.to_owned()).collect();
        *self.state.failing.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((until, methods));
    }

    /// How many requests it refused so far.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for FlakyRpc {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay_rpc(State(relay): State<Relay>, body: axum::body::Bytes) -> Response {
    let request = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
    let method = request["method"].as_str().unwrap_or_default();
    let failing = relay.state.failing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().is_some_and(
        |(until, methods)| {
            tokio::time::Instant::now() < *until && (methods.is_empty() || methods.iter().any(|m| m == method))
        },
    );
    if failing {
        let refused = relay.state.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match refused % 3 {
            0 => return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response(),
            1 => {
                let error = serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": request["id"],
                    "error": { "code": -32005, "message": "rate limit exceeded" },
                });
                return axum::Json(error).into_response();
            }
            _ => tokio::time::sleep(FlakyRpc::STALL).await,
        }
    }
    forward(relay.http.post(&relay.upstream).header(header::CONTENT_TYPE, "application/json").body(body)).await
}
