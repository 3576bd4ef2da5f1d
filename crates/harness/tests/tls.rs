//! The test CA and the proxies: a client that trusts the CA gets through, one that does not is refused during
//! the handshake, and the token gate turns away a request without the token.

use axum::{Router, routing::get};
use tessera_harness::{TestCa, TlsProxy, TokenGate};

async fn service() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = Router::new().route("/api/v0/id", get(|| async { "node" }));
    (addr, tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }))
}

fn client(ca: Option<&TestCa>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().tls_backend_rustls();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca.pem_path()).unwrap();
        builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn only_a_client_that_trusts_the_ca_gets_through() {
    let (addr, _service) = service().await;
    let ca = TestCa::generate().unwrap();
    let proxy = TlsProxy::start(&ca, &addr).await.unwrap();
    assert!(proxy.url().starts_with("https://127.0.0.1:"));
    let url = format!("{}/api/v0/id", proxy.url());
    assert_eq!(client(Some(&ca)).get(&url).send().await.unwrap().text().await.unwrap(), "node");

    let refused = client(None).get(&url).send().await.unwrap_err();
    let chain = std::iter::successors(Some(&refused as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");
    let other = TestCa::generate().unwrap();
    assert!(client(Some(&other)).get(&url).send().await.is_err(), "another CA's trust is no trust");
}

#[tokio::test]
async fn the_token_gate_relays_only_requests_with_the_token() {
    let (addr, _service) = service().await;
    let gate = TokenGate::start(&format!("http://{addr}"), "s3cret").await.unwrap();
    let url = format!("http://{}/api/v0/id", gate.addr());
    let http = reqwest::Client::new();
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("bearer token"));
    let wrong = http.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    let answer = http.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "node");
}
