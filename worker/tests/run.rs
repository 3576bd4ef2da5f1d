//! The run loop against a mock coordinator (axum on 127.0.0.1:0, the API's contract) and an
//! in-memory IPFS: rounds, resuming after a restart, the red team's copycat, missed rounds.

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use serde_json::json;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tessera_api as api;
use tessera_chain::eip712::{self, Submission, SubmissionReceipt};
use tessera_storage::{Cid, ContentStore, MemoryStore};
use tessera_train::{
    ArchitectureId, Dataset, DecodeLimits, Device, FileKind, Header, Optimizer, Parameters, TrainConfig, WeightsFile,
    WireDtype,
};
use tessera_worker::{
    api::CoordinatorClient,
    chain::RoundRecords,
    red_team::Attack,
    state::{Identity, Pending, Prepared, StateDir, TrainingSummary},
    update::{self, Behaviour},
    worker::{Worker, WorkerConfig},
};

const TASK: u64 = 1;
const CHAIN_ID: u64 = 31337;
const ARCH: ArchitectureId = ArchitectureId::Lenet5MnistV1;

/// One accepted submission, as the mock keeps it.
#[derive(Clone, Debug)]
struct Accepted {
    round: u32,
    worker: Address,
    cid: Cid,
    num_samples: u64,
    sequence: u64,
    received_at_ms: i64,
    receipt_signature: String,
}

/// The coordinator's state, as far as the worker can see it.
#[derive(Debug)]
struct Coordinator {
    signer: PrivateKeySigner,
    domain: Eip712Domain,
    store: Arc<dyn ContentStore>,
    status: &'static str,
    current_round: u32,
    num_rounds: u32,
    /// Round → (global checkpoint, deadline).
    rounds: BTreeMap<u32, (Cid, i64)>,
    submissions: Vec<Accepted>,
    /// Every POST received, accepted or not.
    posts: Vec<(u32, String)>,
    /// Workers the chain says joined.
    joined: Vec<Address>,
    /// Move to the next round (or end) when a joined worker's submission arrives.
    advance_on_submit: bool,
    /// End the task after this many task polls (for runs whose rounds all close).
    end_after_polls: Option<u32>,
    polls: u32,
}

type Shared = Arc<Mutex<Coordinator>>;

impl Coordinator {
    fn open_round(&mut self, round: u32, global: Cid, deadline_ms: i64) {
        self.rounds.insert(round, (global, deadline_ms));
        self.current_round = round;
        self.status = "running";
    }

    fn accept(&mut self, round: u32, worker: Address, cid: Cid, num_samples: u64) -> Accepted {
        let sequence = self.submissions.iter().filter(|s| s.round == round).count() as u64;
        let received_at_ms = now_ms();
        let receipt = SubmissionReceipt {
            taskId: U256::from(TASK),
            round,
            worker,
            updateCid: B256::from(cid.to_bytes32()),
            numSamples: num_samples,
            sequence,
            receivedAtMs: received_at_ms as u64,
        };
        let receipt_signature = eip712::sign(&self.signer, &receipt, &self.domain).unwrap().to_string();
        let accepted = Accepted { round, worker, cid, num_samples, sequence, received_at_ms, receipt_signature };
        self.submissions.push(accepted.clone());
        accepted
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// A submission as the coordinator lists it: CID and signatures withheld while its round collects.
fn listing(accepted: &Accepted, sealed: bool) -> api::SubmissionListing {
    let open = |value: String| (!sealed).then_some(value);
    api::SubmissionListing {
        task_id: TASK,
        round: accepted.round,
        worker: accepted.worker,
        sequence: accepted.sequence,
        num_samples: accepted.num_samples,
        received_at_ms: accepted.received_at_ms,
        update_cid: (!sealed).then_some(accepted.cid),
        signature: open("0x".into()),
        digest: open("0x".into()),
        receipt_signature: open(accepted.receipt_signature.clone()),
    }
}

async fn info(State(shared): State<Shared>) -> Json<api::Info> {
    let c = shared.lock().unwrap();
    Json(api::Info {
        chain_id: CHAIN_ID,
        marketplace: c.domain.verifying_contract.unwrap(),
        coordinator: c.signer.address(),
        version: "mock".into(),
    })
}

async fn task(State(shared): State<Shared>, Path(id): Path<u64>) -> Response {
    if id != TASK {
        return error(StatusCode::NOT_FOUND, "not_found", "no such task");
    }
    let mut c = shared.lock().unwrap();
    c.polls += 1;
    if c.end_after_polls.is_some_and(|limit| c.polls > limit) {
        c.status = "ended";
    }
    Json(api::TaskView {
        task_id: TASK,
        requester: Address::repeat_byte(1),
        coordinator: c.signer.address(),
        reward_token: Address::repeat_byte(2),
        reward_pool: api::Amount::from(1000),
        stake_required: api::Amount::from(10),
        num_rounds: c.num_rounds,
        max_workers: 10,
        submission_window_secs: 60,
        model_architecture_id: B256::from(ARCH.to_bytes32()),
        initial_model_cid: c.rounds.get(&1).map_or(Cid::from_digest([0; 32]), |r| r.0),
        status: serde_json::from_value(json!(c.status)).unwrap(),
        current_round: c.current_round,
        created_at_ms: 0,
        config: json!({}),
        active_workers: c.joined.len() as u64,
        joined_workers: c.joined.len() as u64,
        fault: None,
        access: None,
    })
    .into_response()
}

async fn round(State(shared): State<Shared>, Path((_, round)): Path<(u64, u32)>) -> Response {
    let c = shared.lock().unwrap();
    let Some((global, deadline_ms)) = c.rounds.get(&round) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such round");
    };
    let finished = round < c.current_round || c.status == "ended";
    let phase = if finished { api::RoundPhase::Finalized } else { api::RoundPhase::Collecting };
    let round = api::RoundView { phase, ..api::RoundView::opened(TASK, round, *global, *deadline_ms, 0) };
    Json(api::RoundDetail { round, scores: vec![] }).into_response()
}

async fn submissions(
    State(shared): State<Shared>,
    Path((_, round)): Path<(u64, u32)>,
) -> Json<Vec<api::SubmissionListing>> {
    let c = shared.lock().unwrap();
    let sealed = round == c.current_round && c.status == "running" && now_ms() <= c.rounds[&round].1;
    Json(c.submissions.iter().filter(|s| s.round == round).map(|s| listing(s, sealed)).collect())
}

/// Checks a submission as the real coordinator does, then accepts it and maybe moves on.
async fn submit(
    State(shared): State<Shared>,
    Path((_, round)): Path<(u64, u32)>,
    Json(body): Json<api::SubmissionRequest>,
) -> Response {
    let worker: Address = body.worker.parse().unwrap();
    let cid: Cid = body.update_cid.parse().unwrap();
    let num_samples = body.num_samples;
    let signature = eip712::parse_signature(&body.signature).unwrap();
    let store = {
        let mut c = shared.lock().unwrap();
        c.posts.push((round, cid.to_string()));
        c.store.clone()
    };
    let bytes = match store.get(&cid, 64 << 20).await {
        Ok(bytes) => bytes,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "update_unavailable", &e.to_string()),
    };
    let file = WeightsFile::decode(&bytes, &DecodeLimits::expecting(ARCH, FileKind::Update)).unwrap();
    assert_eq!((file.header.round, file.header.num_samples), (u64::from(round), num_samples));

    let checked = check_and_accept(&mut shared.lock().unwrap(), round, worker, cid, num_samples, &signature);
    let (receipt, advance_from) = match checked {
        Ok(accepted) => accepted,
        Err((status, code)) => return error(status, code, "refused"),
    };
    if let Some(global) = advance_from {
        let next = next_checkpoint(store.as_ref(), global, &file.parameters, round).await;
        shared.lock().unwrap().open_round(round + 1, next, now_ms() + 60_000);
    }
    (StatusCode::CREATED, Json(receipt)).into_response()
}

/// The coordinator's checks, then acceptance: the receipt, and the checkpoint to build the next
/// round from when the mock moves on.
fn check_and_accept(
    c: &mut Coordinator,
    round: u32,
    worker: Address,
    cid: Cid,
    num_samples: u64,
    signature: &alloy::primitives::Signature,
) -> Result<(api::Receipt, Option<Cid>), (StatusCode, &'static str)> {
    let typed = Submission {
        taskId: U256::from(TASK),
        round,
        worker,
        updateCid: B256::from(cid.to_bytes32()),
        numSamples: num_samples,
    };
    if eip712::recover_signer(&typed, &c.domain, signature).unwrap() != worker {
        return Err((StatusCode::UNAUTHORIZED, "bad_signature"));
    }
    if c.status != "running" || c.current_round != round {
        return Err((StatusCode::CONFLICT, "wrong_round"));
    }
    if now_ms() > c.rounds[&round].1 {
        return Err((StatusCode::CONFLICT, "window_closed"));
    }
    if !c.joined.contains(&worker) {
        return Err((StatusCode::FORBIDDEN, "not_joined"));
    }
    if c.submissions.iter().any(|s| s.round == round && s.worker == worker) {
        return Err((StatusCode::CONFLICT, "replay"));
    }
    let accepted = c.accept(round, worker, cid, num_samples);
    let receipt = api::Receipt {
        task_id: TASK,
        round,
        worker,
        update_cid: cid,
        num_samples,
        sequence: accepted.sequence,
        received_at_ms: accepted.received_at_ms,
        coordinator: c.signer.address(),
        receipt_signature: accepted.receipt_signature,
    };
    let mut advance_from = None;
    if c.advance_on_submit {
        if round < c.num_rounds {
            advance_from = Some(c.rounds[&round].0);
        } else {
            c.status = "ended";
        }
    }
    Ok((receipt, advance_from))
}

/// The next checkpoint, `global + delta` (FedAvg of one), stored.
async fn next_checkpoint(store: &dyn ContentStore, global: Cid, delta: &Parameters, round: u32) -> Cid {
    let bytes = store.get(&global, u64::MAX).await.unwrap();
    let global = WeightsFile::decode(&bytes, &DecodeLimits::expecting(ARCH, FileKind::Checkpoint)).unwrap();
    store.put(checkpoint(&global.parameters.add(delta).unwrap(), round)).await.unwrap()
}

fn checkpoint(parameters: &Parameters, round: u32) -> Bytes {
    let header = Header {
        architecture: ARCH,
        kind: FileKind::Checkpoint,
        round: u64::from(round),
        parent_cid: String::new(),
        num_samples: 0,
        dtype: WireDtype::F32,
    };
    Bytes::from(WeightsFile { header, parameters: parameters.clone() }.encode().unwrap())
}

/// A running mock coordinator with round 1 open from a fresh checkpoint.
struct Mock {
    shared: Shared,
    url: String,
    store: Arc<dyn ContentStore>,
}

impl Mock {
    async fn start(num_rounds: u32, joined: &[Address]) -> Self {
        Self::start_with(Arc::new(MemoryStore::new()), num_rounds, joined).await
    }

    async fn start_with(store: Arc<dyn ContentStore>, num_rounds: u32, joined: &[Address]) -> Self {
        let global = store.put(checkpoint(&ARCH.init_parameters(1), 0)).await.unwrap();
        let mut coordinator = Coordinator {
            signer: PrivateKeySigner::random(),
            domain: eip712::domain(CHAIN_ID, Address::repeat_byte(0x4d)),
            store: store.clone(),
            status: "open",
            current_round: 0,
            num_rounds,
            rounds: BTreeMap::new(),
            submissions: Vec::new(),
            posts: Vec::new(),
            joined: joined.to_vec(),
            advance_on_submit: true,
            end_after_polls: None,
            polls: 0,
        };
        coordinator.open_round(1, global, now_ms() + 60_000);
        let shared = Arc::new(Mutex::new(coordinator));
        let app = Router::new()
            .route("/api/v1/info", get(info))
            .route("/api/v1/tasks/{task}", get(task))
            .route("/api/v1/tasks/{task}/rounds/{round}", get(round))
            .route("/api/v1/tasks/{task}/rounds/{round}/submissions", get(submissions).post(submit))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { shared, url, store }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Coordinator) -> T) -> T {
        f(&mut self.shared.lock().unwrap())
    }

    async fn worker(&self, signer: PrivateKeySigner, state: &std::path::Path, behaviour: Behaviour) -> Worker {
        let api = CoordinatorClient::new(&self.url, Duration::from_secs(5)).unwrap();
        let info = api.info().await.unwrap();
        let identity = Identity {
            task_id: TASK,
            worker: signer.address(),
            chain_id: info.chain_id,
            marketplace: info.marketplace,
        };
        let state = StateDir::open(state, &identity).unwrap();
        let config = WorkerConfig {
            task_id: TASK,
            poll_interval: Duration::from_millis(20),
            max_rounds: None,
            train: TrainConfig {
                epochs: 1,
                batch_size: 4,
                optimizer: Optimizer::adam(1e-3),
                seed: 0,
                device: Device::Cpu,
                threads: Some(1),
                mixed_precision: false,
            },
            train_seed: None,
            behaviour,
            dtype: WireDtype::F32,
            progress_bars: false,
        };
        Worker::new(api, self.store.clone(), signer, info, state, shard(), config).unwrap()
    }
}

fn shard() -> Dataset {
    let images = tch::Tensor::randn([8, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu));
    Dataset::new(&images, &[0, 1, 2, 3, 4, 5, 6, 7], 10).unwrap()
}

async fn decode_update(store: &dyn ContentStore, cid: &Cid) -> WeightsFile {
    let bytes = store.get(cid, u64::MAX).await.unwrap();
    WeightsFile::decode(&bytes, &DecodeLimits::expecting(ARCH, FileKind::Update)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_worker_trains_every_round_and_keeps_verified_receipts() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(2, &[signer.address()]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut worker = mock.worker(signer.clone(), dir.path(), Behaviour::Honest).await;

    let summary = worker.run().await.unwrap();
    assert_eq!(summary.submitted, [1, 2]);
    assert!(summary.missed.is_empty());
    assert_eq!(summary.finished, Some(tessera_worker::api::TaskStatus::Ended));

    let state = StateDir::read_only(dir.path());
    let receipts = state.receipts().unwrap();
    assert_eq!(receipts.len(), 2);
    for (stored, round) in receipts.iter().zip(1..) {
        assert_eq!(stored.receipt.round, round);
        assert!(stored.receipt_verified, "the mock signs receipts with its coordinator key");
        let training = stored.training.as_ref().unwrap();
        assert_eq!((training.samples, training.steps, training.behaviour.as_str()), (8, 2, "honest"));
        let file = decode_update(mock.store.as_ref(), &stored.receipt.update_cid).await;
        let global = mock.with(|c| c.rounds[&round].0.to_string());
        assert_eq!((file.header.round, file.header.num_samples), (u64::from(round), 8));
        assert_eq!(file.header.parent_cid, global, "the update names the checkpoint it was trained from");
    }
    assert!(state.pendings().unwrap().is_empty());
    assert_eq!(mock.with(|c| c.posts.len()), 2, "one POST per round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_listed_at_the_coordinator_is_recorded_without_a_post() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(1, &[signer.address()]).await;
    let sent = mock
        .store
        .put(Bytes::from(update::encode(ARCH, 1, "Qm", 8, WireDtype::F32, Parameters::zeros(ARCH)).unwrap()))
        .await
        .unwrap();
    // The listing shows the CID and receipt once the window closes.
    mock.with(|c| {
        c.accept(1, signer.address(), sent, 8);
        let global = c.rounds[&1].0;
        c.rounds.insert(1, (global, now_ms() + 300));
        c.advance_on_submit = false;
        c.end_after_polls = Some(100);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut worker = mock.worker(signer, dir.path(), Behaviour::Honest).await;

    let summary = worker.run().await.unwrap();
    assert_eq!(summary.submitted, [1]);
    assert!(mock.with(|c| c.posts.is_empty()), "nothing trained or sent");
    let stored = StateDir::read_only(dir.path()).receipt(1).unwrap().unwrap();
    assert_eq!(stored.receipt.update_cid.to_string(), sent.to_string());
    assert!(stored.receipt_verified, "the listing carries the coordinator's receipt signature");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_signed_before_a_restart_is_sent_again_unchanged() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(1, &[signer.address()]).await;
    let (global, domain) = mock.with(|c| (c.rounds[&1].0, c.domain.clone()));
    let delta = tessera_worker::red_team::noise(ARCH, 0.01, 9);
    let bytes = update::encode(ARCH, 1, &global.to_string(), 8, WireDtype::F32, delta).unwrap();
    let cid = mock.store.put(Bytes::from(bytes)).await.unwrap();
    let typed = Submission {
        taskId: U256::from(TASK),
        round: 1,
        worker: signer.address(),
        updateCid: B256::from(cid.to_bytes32()),
        numSamples: 8,
    };
    let signature = eip712::sign(&signer, &typed, &domain).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let identity = Identity {
            task_id: TASK,
            worker: signer.address(),
            chain_id: CHAIN_ID,
            marketplace: Address::repeat_byte(0x4d),
        };
        let state = StateDir::open(dir.path(), &identity).unwrap();
        state
            .save_pending(&Pending {
                round: 1,
                global_model_cid: global.to_string(),
                update_cid: cid.to_string(),
                num_samples: 8,
                signature: signature.to_string(),
                training: TrainingSummary {
                    loss: Some(1.0),
                    accuracy: Some(0.5),
                    samples: 8,
                    steps: 2,
                    wall_ms: 1,
                    samples_per_s: Some(8_000.0),
                    device: "cpu".into(),
                    behaviour: "honest".into(),
                    update_norm: 1.0,
                },
            })
            .unwrap();
    }
    let mut worker = mock.worker(signer, dir.path(), Behaviour::Honest).await;

    let summary = worker.run().await.unwrap();
    assert_eq!(summary.submitted, [1]);
    assert_eq!(mock.with(|c| c.posts.clone()), [(1, cid.to_string())], "the pending update, not a new one");
    let stored = StateDir::read_only(dir.path()).receipt(1).unwrap().unwrap();
    assert_eq!(stored.training.unwrap().loss, Some(1.0), "the pending training summary is kept with the receipt");
    assert!(StateDir::read_only(dir.path()).pending(1).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_trained_before_a_restart_is_uploaded_without_training_again() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(1, &[signer.address()]).await;
    let global = mock.with(|c| c.rounds[&1].0);
    let bytes =
        update::encode(ARCH, 1, &global.to_string(), 8, WireDtype::F32, tessera_worker::red_team::noise(ARCH, 0.01, 2))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let identity = Identity {
            task_id: TASK,
            worker: signer.address(),
            chain_id: CHAIN_ID,
            marketplace: Address::repeat_byte(0x4d),
        };
        let training = TrainingSummary {
            loss: Some(0.25),
            accuracy: Some(0.75),
            samples: 8,
            steps: 2,
            wall_ms: 1,
            samples_per_s: Some(8_000.0),
            device: "cpu".into(),
            behaviour: "honest".into(),
            update_norm: 1.0,
        };
        let prepared = Prepared { round: 1, global_model_cid: global.to_string(), training };
        StateDir::open(dir.path(), &identity).unwrap().save_prepared(&prepared, &bytes).unwrap();
    }
    let mut worker = mock.worker(signer, dir.path(), Behaviour::Honest).await;

    assert_eq!(worker.run().await.unwrap().submitted, [1]);
    let expected = tessera_storage::DagBuilder::cid_of(&bytes).to_string();
    assert_eq!(mock.with(|c| c.posts.clone()), [(1, expected)], "the kept bytes, not a new training");
    let stored = StateDir::read_only(dir.path()).receipt(1).unwrap().unwrap();
    assert_eq!(stored.training.unwrap().loss, Some(0.25));
    assert!(StateDir::read_only(dir.path()).prepared(1).unwrap().is_none(), "forgotten once acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copycat_resubmits_another_workers_earlier_update_under_its_own_name() {
    let (honest, copycat) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let mock = Mock::start(2, &[honest.address(), copycat.address()]).await;
    let global = mock.with(|c| c.rounds[&1].0);
    let original = tessera_worker::red_team::noise(ARCH, 0.01, 4);
    let bytes = update::encode(ARCH, 1, &global.to_string(), 500, WireDtype::F32, original.clone()).unwrap();
    let cid = mock.store.put(Bytes::from(bytes)).await.unwrap();
    let next = mock.store.put(checkpoint(&ARCH.init_parameters(2), 1)).await.unwrap();
    // This round's updates are withheld while it collects: a copycat can only take the last round's.
    mock.with(|c| {
        c.accept(1, honest.address(), cid, 500);
        c.open_round(2, next, now_ms() + 60_000);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut worker = mock.worker(copycat.clone(), dir.path(), Behaviour::RedTeam(Attack::Copycat)).await;

    let summary = worker.run().await.unwrap();
    assert_eq!(summary.submitted, [2]);
    let stored = StateDir::read_only(dir.path()).receipt(2).unwrap().unwrap();
    assert_ne!(stored.receipt.update_cid.to_string(), cid.to_string(), "its own header, so its own CID");
    let copied = decode_update(mock.store.as_ref(), &stored.receipt.update_cid).await;
    assert_eq!(copied.parameters, original, "the same weights");
    assert_eq!(copied.header.num_samples, 8, "its own claimed sample count");
    assert_eq!(stored.training.unwrap().behaviour, "copycat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_whose_window_closed_is_missed_and_the_worker_goes_on() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(1, &[signer.address()]).await;
    mock.with(|c| {
        let global = c.rounds[&1].0;
        c.rounds.insert(1, (global, now_ms() - 1));
        c.end_after_polls = Some(3);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut worker = mock.worker(signer, dir.path(), Behaviour::Honest).await;

    let summary = worker.run().await.unwrap();
    assert_eq!(summary.missed, [1]);
    assert!(summary.submitted.is_empty());
    assert!(mock.with(|c| c.posts.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_has_not_joined_is_told_to_join() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(1, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut worker = mock.worker(signer, dir.path(), Behaviour::RedTeam(Attack::FreeRider)).await;

    let error = worker.run().await.unwrap_err();
    assert!(error.to_string().contains("tessera-worker join --task 1"), "{error}");
    // The signed update stays pending, to be sent as is once the worker has joined.
    assert!(StateDir::read_only(dir.path()).pending(1).unwrap().is_some());
}

/// The chain's record of each round's checkpoint: the mock's own, or a forged one for every round.
struct Recorded {
    shared: Shared,
    forged: Option<B256>,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded").field("forged", &self.forged).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl RoundRecords for Recorded {
    async fn global_model_cid(&self, _task: u64, round: u32) -> tessera_worker::Result<B256> {
        let coordinator = self.shared.lock().unwrap();
        Ok(self.forged.unwrap_or_else(|| B256::from(coordinator.rounds[&round].0.to_bytes32())))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_the_chain_did_not_record_is_not_trained_on() {
    let signer = PrivateKeySigner::random();
    let mock = Mock::start(2, &[signer.address()]).await;
    let dir = tempfile::tempdir().unwrap();
    let recorded = Recorded { shared: mock.shared.clone(), forged: None };
    let mut worker =
        mock.worker(signer.clone(), dir.path(), Behaviour::Honest).await.with_round_records(Arc::new(recorded));
    assert_eq!(worker.run().await.unwrap().submitted, [1, 2], "the chain's checkpoints are the coordinator's");

    let mock = Mock::start(1, &[signer.address()]).await;
    let dir = tempfile::tempdir().unwrap();
    let forged = Recorded { shared: mock.shared.clone(), forged: Some(B256::repeat_byte(7)) };
    let mut worker = mock.worker(signer, dir.path(), Behaviour::Honest).await.with_round_records(Arc::new(forged));
    let error = worker.run().await.unwrap_err().to_string();
    assert!(error.contains("refusing to train") && error.contains("the chain recorded"), "{error}");
    assert!(mock.with(|c| c.posts.is_empty()), "nothing was sent");
    assert!(StateDir::read_only(dir.path()).pending(1).unwrap().is_none(), "nothing was trained or signed");
}

#[test]
fn a_shard_of_the_shared_mnist_copy_loads_and_fits_the_task_model() {
    use tessera_worker::data::{self, DataOptions, DatasetKind, PartitionKind, ShardSpec};
    let options = DataOptions {
        dir: tessera_harness::mnist_dir(),
        kind: DatasetKind::Mnist,
        shard: Some(ShardSpec { index: 1, count: 4 }),
        partition: PartitionKind::Dirichlet,
        alpha: 0.5,
        seed: 0,
        max_samples: Some(500),
    };
    let shard = data::load(&options).expect("the MNIST files (`make setup` fetches them)");
    assert_eq!(shard.len(), 500);
    assert_eq!(shard.images().size(), [500, 1, 28, 28]);
    data::check_fits(&shard, ARCH).unwrap();
    assert!(data::check_fits(&shard, ArchitectureId::CnnCifar10V1).is_err());
}

/// The built binary, end to end: a real IPFS node, real MNIST shards, the mock coordinator; the
/// chain is unreachable, which only warns. Run again after the task ended, it stops at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_trains_every_round_through_ipfs_and_stops_when_the_task_ends() {
    let toolchain = tessera_harness::Toolchain::discover().expect("run `make setup` first");
    let node = tessera_harness::IpfsNode::start(&toolchain).expect("the IPFS node starts");
    let store = tessera_storage::IpfsStore::new(node.api_url(), tessera_storage::ClientConfig::default()).unwrap();
    let signer = PrivateKeySigner::random();
    let mock = Mock::start_with(Arc::new(store), 2, &[signer.address()]).await;
    let state = tempfile::tempdir().unwrap();
    let data = tessera_harness::mnist_dir();
    let key = format!("{:#x}", signer.to_bytes());
    let run = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-worker"));
        command
            .args([
                "run",
                "--task",
                "1",
                "--shard",
                "3/10",
                "--max-samples",
                "128",
                "--device",
                "cpu",
                "--threads",
                "1",
            ])
            .args(["--poll-interval", "0.05", "--rpc-url", "http://127.0.0.1:9", "--data"])
            .arg(&data)
            .args(["--state-dir"])
            .arg(state.path())
            .args(["--coordinator", &mock.url, "--ipfs-api", node.api_url()])
            .env("TESSERA_PRIVATE_KEY", &key)
            .env("TESSERA_PINS", state.path().join("pins.json"))
            .env_remove("TESSERA_KEYSTORE");
        command
    };

    let output = run().output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("submitted to 2 round(s) [1, 2]"), "{stdout}");
    assert!(stderr.contains("could not check on chain"), "an unreachable chain only warns: {stderr}");
    let receipts = StateDir::read_only(state.path()).receipts().unwrap();
    assert_eq!(receipts.len(), 2);
    assert!(receipts.iter().all(|r| r.receipt_verified && r.receipt.num_samples == 128));
    let update = decode_update(mock.store.as_ref(), &receipts[1].receipt.update_cid).await;
    assert_eq!(update.header.round, 2);

    let again = run().output().await.unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success() && stdout.contains("submitted to 0 round(s)"), "{stdout}");
    assert_eq!(mock.with(|c| c.posts.len()), 2, "nothing sent twice");
}

/// The built binary killed (SIGKILL) while its update is being uploaded, then started again: it uploads the update
/// it trained before the kill, not a new one, submits it once, and goes on to the next round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_upload_resumes_with_the_same_update() {
    let toolchain = tessera_harness::Toolchain::discover().expect("run `make setup` first");
    let node = tessera_harness::IpfsNode::start(&toolchain).expect("the IPFS node starts");
    let stalling = tessera_harness::SlowContent::start(node.api_url()).await.unwrap();
    let store = tessera_storage::IpfsStore::new(node.api_url(), tessera_storage::ClientConfig::default()).unwrap();
    let signer = PrivateKeySigner::random();
    let mock = Mock::start_with(Arc::new(store), 2, &[signer.address()]).await;
    let state = tempfile::tempdir().unwrap();
    let key = format!("{:#x}", signer.to_bytes());
    let run = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera-worker"));
        command
            .args(["run", "--task", "1", "--shard", "2/10", "--max-samples", "128", "--device", "cpu"])
            .args(["--threads", "1", "--poll-interval", "0.05", "--rpc-url", "http://127.0.0.1:9", "--data"])
            .arg(tessera_harness::mnist_dir())
            .arg("--state-dir")
            .arg(state.path())
            .args(["--coordinator", &mock.url, "--ipfs-api", stalling.url()])
            .env("TESSERA_PRIVATE_KEY", &key)
            .env("TESSERA_PINS", state.path().join("pins.json"))
            .env_remove("TESSERA_KEYSTORE")
            .kill_on_drop(true);
        command
    };

    stalling.hold_uploads();
    let mut first = run().spawn().unwrap();
    let started = std::time::Instant::now();
    while stalling.held() == 0 {
        assert!(started.elapsed() < Duration::from_secs(180), "the worker never started uploading");
        assert!(first.try_wait().unwrap().is_none(), "the worker exited before uploading");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await.unwrap();
    let (_, kept) = StateDir::read_only(state.path()).prepared(1).unwrap().expect("the trained update was kept");
    assert!(mock.with(|c| c.posts.is_empty()), "killed before it submitted");
    stalling.release_uploads();

    let output = run().output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("submitted to 2 round(s)"), "{stdout}");
    let posts = mock.with(|c| c.posts.clone());
    assert_eq!(posts.len(), 2, "one submission a round: {posts:?}");
    let kept_cid = tessera_storage::DagBuilder::cid_of(&kept).to_string();
    assert_eq!(posts[0], (1, kept_cid), "round 1's update is the one trained before the kill");
    let receipts = StateDir::read_only(state.path()).receipts().unwrap();
    assert_eq!(receipts.len(), 2);
    assert!(receipts.iter().all(|r| r.receipt_verified));
}
