//! The router driven with `oneshot`, no socket: every way a submission is refused, and the receipt
//! of one that is accepted. The database is a real SQLite file; IPFS is the in-memory store with
//! the same CIDs; membership is a fixed set.

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::{collections::HashSet, sync::Arc, time::Duration};
use tessera_chain::eip712::{self, Submission, SubmissionReceipt};
use tessera_coordinator::{AppState, Config, Membership, api::app};
use tessera_db::{Amount, NewRound, NewTask, RoundPhase, Store};
use tessera_seal::{ACCESS_FORMAT, AccessPolicy, ContentKey, Context, ReaderKey, seal};
use tessera_storage::{Cid, ContentStore, DagBuilder, MemoryStore};
use tessera_train::{ArchitectureId, FileKind, Header, Parameters, WeightsFile, WireDtype};
use tower::ServiceExt;

const TASK: u64 = 1;
const ROUND: u32 = 1;
const SAMPLES: u64 = 600;

struct Members(HashSet<Address>);

#[async_trait::async_trait]
impl Membership for Members {
    async fn is_worker(&self, _task: u64, worker: Address) -> eyre::Result<bool> {
        Ok(self.0.contains(&worker))
    }
}

struct Harness {
    state: AppState,
    content: MemoryStore,
    worker: PrivateKeySigner,
    /// A second joined worker.
    copier: PrivateKeySigner,
    _dir: tempfile::TempDir,
}

/// The round's global checkpoint.
const GLOBAL: &str = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN";

fn update_bytes(round: u64, num_samples: u64) -> Vec<u8> {
    update_bytes_from(round, num_samples, GLOBAL, 0)
}

/// An update trained from `parent`; `salt` makes it another update.
fn update_bytes_from(round: u64, num_samples: u64, parent: &str, salt: usize) -> Vec<u8> {
    let arch = ArchitectureId::Lenet5MnistV1;
    let values = (0..arch.num_parameters()).map(|i| (((i + salt) % 17) as f32 - 8.0) * 1e-4).collect();
    WeightsFile {
        header: Header {
            architecture: arch,
            kind: FileKind::Update,
            round,
            parent_cid: parent.into(),
            num_samples,
            dtype: WireDtype::F32,
        },
        parameters: Parameters::for_architecture(arch, values).unwrap(),
    }
    .encode()
    .unwrap()
}

async fn harness(deadline_in: Duration) -> Harness {
    harness_with(deadline_in, None).await
}

/// A confidential task's parties: the requester and one auditor, whose keys its policy names.
struct Parties {
    requester: PrivateKeySigner,
    auditor: ReaderKey,
}

async fn harness_with(deadline_in: Duration, parties: Option<&Parties>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("coordinator.db").display());
    let db = Store::connect(&url).await.unwrap();
    let coordinator = PrivateKeySigner::random();
    let worker = PrivateKeySigner::random();
    let copier = PrivateKeySigner::random();
    let content = MemoryStore::new();
    let mut config = json!({});
    let mut requester = Address::repeat_byte(1);
    if let Some(parties) = parties {
        let policy = AccessPolicy {
            format: ACCESS_FORMAT.into(),
            coordinator: reader(&coordinator).reader(),
            requester: reader(&parties.requester).reader(),
            auditors: vec![parties.auditor.reader()],
            publish_keys: true,
            privacy: None,
        };
        let cid = content.put(Bytes::from(serde_json::to_vec(&policy).unwrap())).await.unwrap();
        config = json!({ "access_policy": cid.to_string() });
        requester = parties.requester.address();
    }
    db.upsert_task(&NewTask {
        task_id: TASK,
        requester: format!("{requester:#x}"),
        coordinator: format!("{:#x}", coordinator.address()),
        reward_token: format!("{:#x}", Address::repeat_byte(2)),
        reward_pool: Amount(1_000_000),
        stake_required: Amount(1_000),
        num_rounds: 3,
        max_workers: 10,
        submission_window_secs: 60,
        model_architecture_id: format!("{:#x}", B256::from(ArchitectureId::Lenet5MnistV1.to_bytes32())),
        initial_model_cid: "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN".into(),
        created_at_ms: 0,
        config,
    })
    .await
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    db.insert_round(&NewRound {
        task_id: TASK,
        round: ROUND,
        global_model_cid: "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN".into(),
        deadline_ms: now + deadline_in.as_millis() as i64,
        started_at_ms: now,
    })
    .await
    .unwrap();

    let config = Config { fetch_timeout: Duration::from_secs(2), ..Config::default() };
    let sealer =
        tessera_coordinator::sealing::Sealer::new(coordinator.to_bytes().as_slice(), 31337, Address::repeat_byte(9));
    let state = AppState {
        db,
        content: Arc::new(content.clone()),
        membership: Arc::new(Members(HashSet::from([worker.address(), copier.address()]))),
        sealer: Arc::new(sealer.unwrap()),
        signer: Arc::new(coordinator),
        domain: Arc::new(eip712::domain(31337, Address::repeat_byte(9))),
        config: Arc::new(config),
        live: tessera_coordinator::Live::new(),
        spool: tessera_coordinator::spool::Spool::open(dir.path().join("spool")).await.unwrap(),
        fetches: Arc::new(tokio::sync::Semaphore::new(4)),
    };
    Harness { state, content, worker, copier, _dir: dir }
}

impl Harness {
    async fn stored_update(&self) -> Cid {
        self.content.put(Bytes::from(update_bytes(ROUND.into(), SAMPLES))).await.unwrap()
    }

    fn body(&self, signer: &PrivateKeySigner, round: u32, cid: Cid, num_samples: u64) -> Value {
        let typed = Submission {
            taskId: U256::from(TASK),
            round,
            worker: signer.address(),
            updateCid: B256::from(cid.to_bytes32()),
            numSamples: num_samples,
        };
        let signature = eip712::sign(signer, &typed, &self.state.domain).unwrap();
        json!({
            "worker": format!("{:#x}", signer.address()),
            "update_cid": cid.to_string(),
            "num_samples": num_samples,
            "signature": signature.to_string(),
        })
    }

    async fn post(&self, round: u32, body: String) -> (StatusCode, Value) {
        let request = Request::post(format!("/api/v1/tasks/{TASK}/rounds/{round}/submissions"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn submit(&self, body: &Value) -> (StatusCode, Value) {
        self.post(ROUND, body.to_string()).await
    }
}

fn reader(signer: &PrivateKeySigner) -> ReaderKey {
    ReaderKey::from_bytes(signer.to_bytes().as_slice()).unwrap()
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("<no error code>")
}

#[tokio::test]
async fn an_accepted_submission_gets_a_receipt_signed_by_the_coordinator() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, cid, SAMPLES)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let receipt: tessera_api::Receipt = serde_json::from_value(answer).unwrap();
    assert_eq!(receipt.sequence, 0, "the first of its round");
    let typed = SubmissionReceipt {
        taskId: U256::from(TASK),
        round: ROUND,
        worker: h.worker.address(),
        updateCid: B256::from(cid.to_bytes32()),
        numSamples: SAMPLES,
        sequence: 0,
        receivedAtMs: receipt.received_at_ms as u64,
    };
    let signature = eip712::parse_signature(&receipt.receipt_signature).unwrap();
    assert_eq!(eip712::recover_signer(&typed, &h.state.domain, &signature).unwrap(), h.state.signer.address());
    let stored = h.state.db.list_submissions(TASK, ROUND).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].receipt_signature.as_deref(), Some(receipt.receipt_signature.as_str()));

    // Receipted, it is kept on disk for the round: the worker's copy going away (here, unpinned and collected)
    // does not turn it into a no-show.
    h.content.unpin(&cid).await.unwrap();
    assert!(h.content.get(&cid, 1 << 30).await.is_err(), "gone from the content store");
    let kept = h.state.spool.read(TASK, ROUND, &cid, 1 << 30).await.expect("the update is spooled");
    assert_eq!(kept, Bytes::from(update_bytes(ROUND.into(), SAMPLES)));
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    let mut body = h.body(&PrivateKeySigner::random(), ROUND, cid, SAMPLES);
    body["worker"] = json!(format!("{:#x}", h.worker.address()));
    let (status, answer) = h.submit(&body).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "bad_signature"), "{answer}");

    // A valid signature over other numbers does not cover these.
    let mut body = h.body(&h.worker, ROUND, cid, SAMPLES);
    body["num_samples"] = json!(SAMPLES * 10);
    let (status, answer) = h.submit(&body).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "bad_signature"), "{answer}");
    assert!(h.state.db.list_submissions(TASK, ROUND).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_same_submission_again_gets_its_receipt_and_a_second_update_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    let body = h.body(&h.worker, ROUND, cid, SAMPLES);
    let (status, first) = h.submit(&body).await;
    assert_eq!(status, StatusCode::CREATED);
    // A worker retrying after a lost answer gets the same receipt back.
    let (status, again) = h.submit(&body).await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    let other = h.content.put(Bytes::from(update_bytes_from(ROUND.into(), SAMPLES, GLOBAL, 3))).await.unwrap();
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, other, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "replay"), "{answer}");
    assert_eq!(h.state.db.list_submissions(TASK, ROUND).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_worker_sending_the_first_ones_update_signs_as_itself_and_cannot_lock_the_author_out() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    // The copier got hold of the CID and is quicker: it signs the same update under its own name.
    let (status, copied) = h.submit(&h.body(&h.copier, ROUND, cid, SAMPLES)).await;
    assert_eq!(status, StatusCode::CREATED, "{copied}");
    // Its signature cannot pass for the author's: the message names the worker.
    let mut stolen = h.body(&h.copier, ROUND, cid, SAMPLES);
    stolen["worker"] = json!(format!("{:#x}", h.worker.address()));
    assert_eq!(code(&h.submit(&stolen).await.1), "bad_signature");
    // The author's own submission is another message and is still accepted; the scorer sees both and the
    // receipt order (tests/stack.rs).
    let (status, own) = h.submit(&h.body(&h.worker, ROUND, cid, SAMPLES)).await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    assert_eq!((copied["sequence"].as_u64(), own["sequence"].as_u64()), (Some(0), Some(1)));
}

#[tokio::test]
async fn an_update_trained_from_another_checkpoint_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let stale = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
    let cid = h.content.put(Bytes::from(update_bytes_from(ROUND.into(), SAMPLES, stale, 1))).await.unwrap();
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, cid, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "malformed_update"), "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains(stale) && message.contains(GLOBAL), "{message}");
    assert!(h.state.db.list_submissions(TASK, ROUND).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_wrong_round_or_task_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    let (status, answer) = h.post(ROUND + 1, h.body(&h.worker, ROUND + 1, cid, SAMPLES).to_string()).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "wrong_round"), "{answer}");

    let request = Request::post(format!("/api/v1/tasks/{}/rounds/{ROUND}/submissions", TASK + 1))
        .header("content-type", "application/json")
        .body(Body::from(h.body(&h.worker, ROUND, cid, SAMPLES).to_string()))
        .unwrap();
    let response = app(h.state.clone()).oneshot(request).await.unwrap();
    // Signed for task 1, so it does not verify as a submission to task 2.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_worker_who_has_not_joined_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    let (status, answer) = h.submit(&h.body(&PrivateKeySigner::random(), ROUND, cid, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "not_joined"), "{answer}");
}

#[tokio::test]
async fn a_closed_window_is_refused() {
    let h = harness(Duration::ZERO).await;
    let cid = h.stored_update().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, cid, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "window_closed"), "{answer}");
}

#[tokio::test]
async fn an_oversize_body_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    let mut body = h.body(&h.worker, ROUND, cid, SAMPLES);
    body["padding"] = json!("x".repeat(h.state.config.max_body_bytes + 1));
    let (status, answer) = h.post(ROUND, body.to_string()).await;
    assert_eq!((status, code(&answer)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{answer}");
}

#[tokio::test]
async fn a_cid_that_cannot_be_fetched_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let missing = DagBuilder::cid_of(b"never stored");
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, missing, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "update_unavailable"), "{answer}");
}

#[tokio::test]
async fn a_malformed_update_is_refused() {
    let h = harness(Duration::from_secs(60)).await;
    let garbage = h.content.put(Bytes::from_static(b"not safetensors at all")).await.unwrap();
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, garbage, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "malformed_update"), "{answer}");

    // A well-formed file that claims other samples than the signed submission.
    let mismatched = h.content.put(Bytes::from(update_bytes(ROUND.into(), SAMPLES + 1))).await.unwrap();
    let (status, answer) = h.submit(&h.body(&h.worker, ROUND, mismatched, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "malformed_update"), "{answer}");
    assert!(h.state.db.list_submissions(TASK, ROUND).await.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_json_answers_in_the_error_shape() {
    let h = harness(Duration::from_secs(60)).await;
    let (status, answer) = h.post(ROUND, "{not json".into()).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "bad_request"), "{answer}");
}

#[tokio::test]
async fn read_endpoints_serve_the_database() {
    let h = harness(Duration::from_secs(60)).await;
    let cid = h.stored_update().await;
    assert_eq!(h.submit(&h.body(&h.worker, ROUND, cid, SAMPLES)).await.0, StatusCode::CREATED);
    for (path, check) in [("/health", json!({ "status": "ok" }))] {
        let response = app(h.state.clone()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), check);
    }
    let get = |path: String| {
        let state = h.state.clone();
        async move {
            let response = app(state).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (status, task) = get(format!("/api/v1/tasks/{TASK}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["status"], "running");
    let (_, rounds) = get(format!("/api/v1/tasks/{TASK}/rounds")).await;
    assert_eq!(rounds.as_array().unwrap().len(), 1);
    // While the round collects, nobody can read another's update to copy it.
    let (_, submissions) = get(format!("/api/v1/tasks/{TASK}/rounds/{ROUND}/submissions")).await;
    assert_eq!(submissions[0]["worker"], format!("{:#x}", h.worker.address()));
    for withheld in ["update_cid", "signature", "digest", "receipt_signature"] {
        assert_eq!(submissions[0][withheld], Value::Null, "{withheld}");
    }
    let closed =
        h.state.db.advance_round_phase(TASK, ROUND, RoundPhase::Collecting, RoundPhase::Aggregating).await.unwrap();
    assert!(closed);
    let (_, submissions) = get(format!("/api/v1/tasks/{TASK}/rounds/{ROUND}/submissions")).await;
    assert_eq!(submissions[0]["update_cid"], cid.to_string());
    let (status, missing) = get("/api/v1/tasks/99".into()).await;
    assert_eq!((status, code(&missing)), (StatusCode::NOT_FOUND, "not_found"));
}

impl Harness {
    async fn call(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        (status, response.into_body().collect().await.unwrap().to_bytes())
    }

    fn with_config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = (*self.state.config).clone();
        change(&mut config);
        self.state.config = Arc::new(config);
        self
    }

    fn with_admin_token(mut self, token: Option<&str>) -> Self {
        let config = Config { admin_token: token.map(str::to_owned), ..(*self.state.config).clone() };
        self.state.config = Arc::new(config);
        self
    }
}

fn close_request(token: Option<&str>) -> Request<Body> {
    let mut request = Request::post(format!("/api/v1/admin/tasks/{TASK}/rounds/{ROUND}/close"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn closing_a_round_needs_the_admin_token() {
    let disabled = harness(Duration::from_secs(60)).await.with_admin_token(None);
    assert_eq!(disabled.call(close_request(Some("anything"))).await.0, StatusCode::FORBIDDEN);

    let harness = harness(Duration::from_secs(60)).await.with_admin_token(Some("s3cret"));
    assert_eq!(harness.call(close_request(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(harness.call(close_request(Some("s3cre7"))).await.0, StatusCode::UNAUTHORIZED);
    let mut events = harness.state.live.subscribe();
    let (status, body) = harness.call(close_request(Some("s3cret"))).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(events.try_recv().unwrap().state.as_deref(), Some("aggregating"));
    // Closed already: a second close is a conflict, and submissions are now refused.
    assert_eq!(harness.call(close_request(Some("s3cret"))).await.0, StatusCode::CONFLICT);
    let cid = harness.stored_update().await;
    let (status, answer) = harness.submit(&harness.body(&harness.worker, ROUND, cid, SAMPLES)).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "window_closed"));
}

/// Every route the API serves. The document is derived from the handlers; this list is what a client may rely
/// on, so a route that disappears or appears unannounced fails here.
const ROUTES: &[&str] = &[
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
    "/api/v1/tasks/{task}/rounds/{round}/keys/{reader}",
    "/api/v1/tasks/{task}/workers",
    "/api/v1/tasks/{task}/workers/{worker}",
    "/api/v1/tasks/{task}/workers/{worker}/proof",
    "/api/v1/accounts/{worker}",
    "/api/v1/task-drafts",
    "/api/v1/admin/tasks/{task}/rounds/{round}/close",
];

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let harness = harness(Duration::from_secs(60)).await;
    let (status, body) = harness.call(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let document: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document, serde_json::to_value(tessera_coordinator::api::openapi()).unwrap());
    let documented: HashSet<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let routed: HashSet<&str> = ROUTES.iter().copied().collect();
    assert_eq!(documented, routed);
    // Every answer says what it is (OpenAPI requires it), and every schema a route names is in the document.
    for (route, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, answer) in operation["responses"].as_object().unwrap() {
                assert!(answer["description"].is_string(), "{method} {route} {status} has no description");
            }
        }
    }
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(document["components"]["schemas"].get(name).is_some(), "{name} is referenced but not defined");
    }
    for route in ROUTES {
        // Every documented route is really served with its method (4xx for unknown ids or an empty body is
        // fine; 405 would mean no route).
        let path =
            route.replace("{task}", "1").replace("{round}", "1").replace("{worker}", &format!("{:#x}", Address::ZERO));
        if route.contains("/admin/") || route.ends_with("/events") {
            continue;
        }
        let request = if document["paths"][route].get("get").is_some() {
            Request::get(&path).body(Body::empty())
        } else {
            Request::post(&path).header("content-type", "application/json").body(Body::from("{}"))
        };
        let (status, _) = harness.call(request.unwrap()).await;
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && status.as_u16() != 404 || path.contains("proof"),
            "{path}: {status}"
        );
    }
}

#[tokio::test]
async fn accepted_and_refused_submissions_are_counted_and_announced() {
    let harness = harness(Duration::from_secs(60)).await;
    let mut events = harness.state.live.subscribe();
    let cid = harness.stored_update().await;
    let body = harness.body(&harness.worker, ROUND, cid, SAMPLES);
    assert_eq!(harness.submit(&body).await.0, StatusCode::CREATED);
    assert_eq!(harness.submit(&body).await.0, StatusCode::OK, "the same submission again");
    let other = harness.content.put(Bytes::from(update_bytes_from(ROUND.into(), SAMPLES, GLOBAL, 5))).await.unwrap();
    let second = harness.body(&harness.worker, ROUND, other, SAMPLES);
    assert_eq!(harness.submit(&second).await.0, StatusCode::CONFLICT);
    let event = events.try_recv().unwrap();
    assert_eq!((event.kind, event.worker), ("submission", Some(format!("{:#x}", harness.worker.address()))));

    let (status, text) = harness.call(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("tessera_submissions_accepted_total 1\n"), "{text}");
    assert!(text.contains("tessera_requests_rejected_total{code=\"replay\"} 1\n"), "{text}");
    assert!(text.contains("tessera_tasks 1\n"), "{text}");

    let (status, info) = harness.call(Request::get("/api/v1/info").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["chain_id"], 31337);
    assert_eq!(info["coordinator"], format!("{:#x}", harness.state.signer.address()));
}

#[tokio::test]
async fn there_is_no_proof_before_a_round_is_finalized() {
    let harness = harness(Duration::from_secs(60)).await;
    let path = format!("/api/v1/tasks/{TASK}/workers/{:#x}/proof", harness.worker.address());
    let (status, body) = harness.call(Request::get(&path).body(Body::empty()).unwrap()).await;
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _) =
        harness.call(Request::get("/api/v1/tasks/1/workers/not-an-address/proof").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_task_draft_publishes_the_initial_model_and_returns_the_calls_to_sign() {
    let harness = harness(Duration::from_secs(60)).await;
    let token = Address::repeat_byte(0x77);
    let draft = json!({
        "reward_token": format!("{token:#x}"),
        "reward_pool": "1000000000000000000000",
        "stake_required": "100000000000000000000",
        "num_rounds": 4,
        "max_workers": 8,
        "submission_window_secs": 120,
        "seed": 3,
    });
    let post = |body: &Value| {
        Request::post("/api/v1/task-drafts")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, body) = harness.call(post(&draft)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let initial: Cid = answer["initial_model_cid"].as_str().unwrap().parse().unwrap();
    let expected = tessera_coordinator::task_draft::initial_checkpoint(ArchitectureId::Lenet5MnistV1, 3).unwrap();
    assert_eq!(initial, DagBuilder::cid_of(&expected), "the CID of the seeded initial model");
    assert!(
        harness.content.get(&initial, 64 << 20).await.is_err(),
        "nothing is pinned for a draft: the engine publishes it once a task names it"
    );
    assert!(harness.state.db.drafts_to_publish().await.unwrap().is_empty());
    let calls = answer["transactions"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "approve, then createTask");
    assert_eq!(calls[0]["to"], format!("{token:#x}"));
    let data: alloy::primitives::Bytes = calls[1]["data"].as_str().unwrap().parse().unwrap();
    let create = <tessera_chain::Marketplace::createTaskCall as alloy::sol_types::SolCall>::abi_decode(&data).unwrap();
    assert_eq!((create.config.rewardToken, create.config.numRounds, create.config.maxWorkers), (token, 4, 8));
    assert_eq!(create.config.initialModelCid, B256::from(initial.to_bytes32()));
    assert_eq!(create.config.coordinator, harness.state.signer.address());
    assert_eq!(answer["coordinator"], format!("{:#x}", harness.state.signer.address()));

    let mut zero_pool = draft.clone();
    zero_pool["reward_pool"] = json!("0");
    let (status, body) = harness.call(post(&zero_pool)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("reward_pool must be more than zero"));
}

/// Sends `request` to `router` (one app, so its limits' counts carry over between calls).
async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn submission_request(body: &Value) -> Request<Body> {
    Request::post(format!("/api/v1/tasks/{TASK}/rounds/{ROUND}/submissions"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn one_address_past_its_rate_gets_429_with_retry_after_and_another_address_does_not() {
    let h = harness(Duration::from_secs(60)).await.with_config(|c| {
        c.rate_limit_per_ip = 0.5;
        c.rate_limit_burst = 3;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = tessera_coordinator::server::ServerLimits {
        header_read_timeout: Duration::from_secs(5),
        max_connections: 64,
        max_connections_per_ip: 16,
        drain: Duration::from_secs(1),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tessera_coordinator::server::serve(listener, app(h.state.clone()), limits, async {
        let _ = stopped.await;
    }));
    let client = |ip: [u8; 4]| reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap();
    let (flooder, other) = (client([127, 0, 0, 1]), client([127, 0, 0, 2]));
    let url = format!("http://{address}/api/v1/tasks/{TASK}/workers");
    for _ in 0..3 {
        assert_eq!(flooder.get(&url).send().await.unwrap().status(), reqwest::StatusCode::OK);
    }
    let refused = flooder.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "2", "one token comes back in 2 s at 0.5 a second");
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(code(&answer), "too_many_requests");
    assert_eq!(other.get(&url).send().await.unwrap().status(), reqwest::StatusCode::OK, "its own bucket");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_worker_past_its_submission_rate_is_refused_and_forged_requests_do_not_spend_its_turns() {
    let h = harness(Duration::from_secs(60)).await.with_config(|c| {
        c.submissions_per_worker_per_sec = 0.001;
        c.submission_burst = 2;
    });
    let router = app(h.state.clone());
    let cid = h.stored_update().await;
    // Someone else sends requests in the worker's name: they fail the signature check and cost it nothing.
    for _ in 0..5 {
        let mut forged = h.body(&PrivateKeySigner::random(), ROUND, cid, SAMPLES);
        forged["worker"] = json!(format!("{:#x}", h.worker.address()));
        let (status, _, answer) = send(&router, submission_request(&forged)).await;
        assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "bad_signature"));
    }
    let body = h.body(&h.worker, ROUND, cid, SAMPLES);
    let (status, _, answer) = send(&router, submission_request(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _, _) = send(&router, submission_request(&body)).await;
    assert_eq!(status, StatusCode::OK, "a retry within the burst gets its receipt again");
    let (status, headers, answer) = send(&router, submission_request(&body)).await;
    assert_eq!((status, code(&answer)), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"), "{answer}");
    assert!(headers.contains_key("retry-after"));
    // The other worker has its own turns.
    let other = h.body(&h.copier, ROUND, cid, SAMPLES);
    let (status, _, answer) = send(&router, submission_request(&other)).await;
    assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    // A key that has not joined is refused for that, every time: fresh keys cost nothing to make, so they get no
    // place in the limiter's table.
    let stranger = PrivateKeySigner::random();
    for _ in 0..4 {
        let (status, _, answer) = send(&router, submission_request(&h.body(&stranger, ROUND, cid, SAMPLES))).await;
        assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "not_joined"));
    }
}

#[tokio::test]
async fn live_feeds_past_the_cap_are_refused_until_one_closes() {
    let h = harness(Duration::from_secs(60)).await.with_config(|c| c.max_event_streams = 1);
    let router = app(h.state.clone());
    let feed = || Request::get("/api/v1/events").body(Body::empty()).unwrap();
    let first = router.clone().oneshot(feed()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let (status, headers, answer) = send(&router, feed()).await;
    assert_eq!((status, code(&answer)), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"));
    assert!(headers.contains_key("retry-after"));
    drop(first);
    let again = router.clone().oneshot(feed()).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "the closed feed's place is free again");
}

#[tokio::test]
async fn task_drafts_past_the_cap_are_refused() {
    let h = harness(Duration::from_secs(60)).await.with_config(|c| c.max_task_drafts = 2);
    let router = app(h.state.clone());
    let draft = |seed: u64| {
        let body = json!({
            "reward_token": format!("{:#x}", Address::repeat_byte(0x77)),
            "reward_pool": "1000", "stake_required": "10", "num_rounds": 4, "max_workers": 8,
            "submission_window_secs": 120, "seed": seed,
        });
        Request::post("/api/v1/task-drafts")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    for seed in 0..2 {
        assert_eq!(send(&router, draft(seed)).await.0, StatusCode::OK);
    }
    let (status, headers, answer) = send(&router, draft(2)).await;
    assert_eq!((status, code(&answer)), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"));
    assert!(headers.contains_key("retry-after"));
    assert_eq!(send(&router, draft(0)).await.0, StatusCode::OK, "the same draft again changes nothing");
}

/// Found by the fuzzer: a task id beyond the database's BIGINT was a 500; it is a malformed path.
#[tokio::test]
async fn a_task_id_beyond_any_task_is_a_bad_request_not_a_server_error() {
    let h = harness(Duration::from_secs(60)).await;
    let router = app(h.state.clone());
    for path in ["/api/v1/tasks/18446744073709551615", "/api/v1/tasks/9223372036854775808/rounds/1"] {
        let (status, _, answer) = send(&router, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "bad_request"), "{path}: {answer}");
    }
    let (status, _, _) =
        send(&router, Request::get("/api/v1/tasks/9223372036854775807").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the largest id the database holds is merely unknown");
}

#[tokio::test]
async fn a_confidential_task_takes_only_updates_sealed_for_the_coordinator_and_every_auditor() {
    let parties = Parties { requester: PrivateKeySigner::random(), auditor: ReaderKey::random() };
    let h = harness_with(Duration::from_secs(60), Some(&parties)).await;
    let coordinator = reader(&h.state.signer).reader();
    let marketplace = format!("{:#x}", Address::repeat_byte(9));
    let worker = format!("{:#x}", h.worker.address());
    let context = Context::update(31337, &marketplace, TASK, ROUND, &worker);
    let plain = update_bytes(ROUND.into(), SAMPLES);
    let submit = async |bytes: Vec<u8>| {
        let cid = h.content.put(Bytes::from(bytes)).await.unwrap();
        let (status, answer) = h.submit(&h.body(&h.worker, ROUND, cid, SAMPLES)).await;
        (status, answer["error"]["message"].as_str().unwrap_or_default().to_owned(), answer)
    };

    // In the clear: everyone could read it.
    let (status, message, _) = submit(plain.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("must be sealed"), "{message}");
    // For the coordinator alone: the auditor could not check the round.
    let (status, message, _) = submit(seal(&ContentKey::random(), &context, &plain, &[coordinator])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("does not give") && message.contains(&parties.auditor.reader().to_string()), "{message}");
    // For others than the coordinator.
    let outsider = ReaderKey::random().reader();
    let (status, _, _) =
        submit(seal(&ContentKey::random(), &context, &plain, &[outsider, parties.auditor.reader()])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Sealed for another round: the context is bound into the seal.
    let other = Context::update(31337, &marketplace, TASK, ROUND + 1, &worker);
    let readers = [coordinator, parties.auditor.reader()];
    let (status, _, _) = submit(seal(&ContentKey::random(), &other, &plain, &readers)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A sealed update that does not decode is as malformed as a plain one.
    let (status, _, _) = submit(seal(&ContentKey::random(), &context, b"not weights", &readers)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Sealed for the coordinator and the auditor: accepted, receipted by the sealed object's CID.
    let sealed = seal(&ContentKey::random(), &context, &plain, &readers);
    let (status, _, receipt) = submit(sealed.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["update_cid"], DagBuilder::cid_of(&sealed).to_string());

    // The task page names the policy and its readers.
    let (status, body) = h.call(Request::get(format!("/api/v1/tasks/{TASK}")).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let task: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(task["access"]["policy"]["auditors"][0], parties.auditor.reader().to_string());
    // Round 1 trains from the requester's own initial model: there is no key to give.
    let path = format!("/api/v1/tasks/{TASK}/rounds/{ROUND}/keys/{}", reader(&h.worker).reader());
    let (status, _) = h.call(Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
