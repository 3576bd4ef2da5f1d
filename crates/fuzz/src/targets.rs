//! The targets: the update decoder, the round manifest, every API request body, CIDs, EIP-712 signatures and
//! the typed structs and calls signed or sent on chain.

use crate::Target;
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolStruct, SolValue},
};
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::{collections::HashSet, sync::Arc, time::Duration};
use tessera_chain::{
    Marketplace,
    eip712::{self, Submission, SubmissionReceipt},
};
use tessera_coordinator::{
    AppState, Config, Membership,
    manifest::{self, Manifest, RewardRecord, SlashRecord, SubmissionRecord},
};
use tessera_db::{Amount, NewRound, NewTask, Store};
use tessera_storage::{Cid, ContentStore, DagBuilder, MemoryStore};
use tessera_train::{ArchitectureId, DecodeLimits, FileKind, Header, Parameters, WeightsFile, WireDtype};
use tower::ServiceExt;

/// Every target, each ready to run.
pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(UpdateDecoder),
        Box::new(ManifestParser),
        Box::new(ApiBodies::new()),
        Box::new(CidParser),
        Box::new(Eip712Decoder::new()),
        Box::new(SealedArtefacts::new()),
    ]
}

/// What a worker or a requester hands a confidential task's coordinator: sealed updates (`Sealed::parse`, the key
/// opened with the coordinator's, the wraps checked, the ciphertext opened) and access policies. Never a panic; a
/// sealed input that opens is the original plaintext (nothing altered opens); a policy that passes its check names
/// the task's accounts.
pub struct SealedArtefacts {
    coordinator: tessera_seal::ReaderKey,
    requester: tessera_seal::ReaderKey,
    context: tessera_seal::Context,
    plaintext: Vec<u8>,
    sealed: Vec<u8>,
    policy: Vec<u8>,
}

impl SealedArtefacts {
    /// A sealed update for the coordinator and an auditor, and a policy naming them, as seeds.
    pub fn new() -> Self {
        use tessera_seal::{ACCESS_FORMAT, AccessPolicy, ContentKey, Context, ReaderKey, seal};
        let coordinator = ReaderKey::from_bytes(&[0x43; 32]).expect("a key");
        let requester = ReaderKey::from_bytes(&[0x44; 32]).expect("a key");
        let auditor = ReaderKey::from_bytes(&[0x45; 32]).expect("a key");
        let context = Context::update(31337, "0x0909090909090909090909090909090909090909", 1, 1, "0xaa");
        let plaintext: Vec<u8> = (0..512u32).map(|i| (i * 7) as u8).collect();
        let readers = [coordinator.reader(), auditor.reader()];
        let sealed = seal(&ContentKey::from_bytes([7; 32]), &context, &plaintext, &readers);
        let policy = AccessPolicy {
            format: ACCESS_FORMAT.into(),
            coordinator: coordinator.reader(),
            requester: requester.reader(),
            auditors: vec![auditor.reader()],
            publish_keys: true,
            privacy: Some(tessera_scoring::privacy::PrivacySpec { clip: 1.0, noise_multiplier: 1.1, delta: 1e-5 }),
        };
        let policy = serde_json::to_vec(&policy).expect("a policy serialises");
        Self { coordinator, requester, context, plaintext, sealed, policy }
    }
}

impl Default for SealedArtefacts {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for SealedArtefacts {
    fn name(&self) -> &'static str {
        "sealed artefacts and access policies"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        vec![self.sealed.clone(), self.policy.clone()]
    }

    fn run(&mut self, input: &[u8]) {
        if let Ok(sealed) = tessera_seal::Sealed::parse(input)
            && let Ok(key) = sealed.key_for(&self.coordinator, &self.context)
        {
            for wrap in sealed.wraps() {
                let _ = wrap.is_honest(&key, &self.context);
            }
            if let Ok(opened) = sealed.open(&key, &self.context) {
                assert_eq!(opened, self.plaintext, "an altered sealed artefact opened");
            }
        }
        let (coordinator, requester) = (self.coordinator.reader().address(), self.requester.reader().address());
        if let Ok(policy) = tessera_seal::AccessPolicy::read(input, coordinator, requester) {
            assert_eq!(policy.coordinator, self.coordinator.reader());
            assert_eq!(policy.requester, self.requester.reader());
        }
    }
}

const ARCH: ArchitectureId = ArchitectureId::Lenet5MnistV1;
const GLOBAL: &str = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN";

fn update(dtype: WireDtype, kind: FileKind) -> Vec<u8> {
    let values = (0..ARCH.num_parameters()).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
    WeightsFile {
        header: Header { architecture: ARCH, kind, round: 1, parent_cid: GLOBAL.into(), num_samples: 600, dtype },
        parameters: Parameters::for_architecture(ARCH, values).expect("the architecture's size"),
    }
    .encode()
    .expect("a valid file encodes")
}

/// `WeightsFile::decode`, as the coordinator runs it on every submitted update and checkpoint: never a panic, and
/// a file it accepts encodes and decodes to the same header and values.
pub struct UpdateDecoder;

impl Target for UpdateDecoder {
    fn name(&self) -> &'static str {
        "update decoder"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        vec![
            update(WireDtype::F32, FileKind::Update),
            update(WireDtype::F16, FileKind::Update),
            update(WireDtype::F32, FileKind::Checkpoint),
        ]
    }

    fn run(&mut self, input: &[u8]) {
        let _ = manifest::decode_update(ARCH, input, 1, GLOBAL, 600);
        for limits in [DecodeLimits::expecting(ARCH, FileKind::Update), DecodeLimits::default()] {
            if let Ok(file) = WeightsFile::decode(input, &limits) {
                let again = file.encode().expect("an accepted file encodes");
                let decoded = WeightsFile::decode(&again, &limits).expect("its encoding decodes");
                assert_eq!(decoded.header, file.header, "the header survives a round trip");
                let (a, b) = (decoded.parameters.into_values(), file.parameters.into_values());
                assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "values survive a round trip");
            }
        }
    }
}

fn manifest_seed() -> Manifest {
    let worker = format!("{:#x}", Address::repeat_byte(0xaa));
    Manifest {
        format: manifest::MANIFEST_FORMAT.to_owned(),
        chain_id: 31337,
        marketplace: format!("{:#x}", Address::repeat_byte(9)),
        coordinator: format!("{:#x}", Address::repeat_byte(8)),
        task_id: 1,
        round: 2,
        architecture: ARCH.name().to_owned(),
        global_model_cid: GLOBAL.to_owned(),
        new_model_cid: GLOBAL.to_owned(),
        strategy: manifest::StrategySpec::default(),
        scoring: tessera_scoring::ScoringConfig::default(),
        round_reward: "1000".to_owned(),
        roster: vec![worker.clone()],
        submissions: vec![SubmissionRecord {
            worker: worker.clone(),
            update_cid: GLOBAL.to_owned(),
            num_samples: 600,
            sequence: 0,
            received_at_ms: 1_700_000_000_000,
            signature: format!("0x{}", "ab".repeat(65)),
            receipt_signature: Some(format!("0x{}", "cd".repeat(65))),
            plaintext_sha256: None,
        }],
        failures: vec![tessera_scoring::Failure {
            worker: tessera_scoring::WorkerId::new("0xbb"),
            reason: "timeout".into(),
        }],
        scorer_state_before: tessera_scoring::ScorerState::default(),
        scorer_state_after: tessera_scoring::ScorerState::default(),
        result: tessera_scoring::RoundResult {
            round: 2,
            strategy: "fedavg".into(),
            reward: 1000,
            unallocated: 0,
            aggregate_sha256: None,
            metrics: None,
            workers: vec![],
            flags: vec![],
            slashes: vec![],
        },
        slashes: vec![SlashRecord {
            worker: worker.clone(),
            amount: "5".into(),
            reason: tessera_scoring::Reason::Copy,
        }],
        rewards: vec![RewardRecord { worker, cumulative: "1500".into() }],
        rewards_root: format!("{:#x}", B256::repeat_byte(7)),
        cumulative_rewards_total: "1500".into(),
        sealing: None,
        privacy: None,
    }
}

/// The round manifest as the coordinator and `verify` read it back from IPFS: parsing, then the rewards tree and
/// the slash amounts built from it, never panic.
pub struct ManifestParser;

impl Target for ManifestParser {
    fn name(&self) -> &'static str {
        "round manifest"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let seed = manifest_seed();
        vec![serde_json::to_vec(&seed).expect("serialises"), serde_json::to_vec_pretty(&seed).expect("serialises")]
    }

    fn run(&mut self, input: &[u8]) {
        let Ok(parsed) = serde_json::from_slice::<Manifest>(input) else { return };
        let _ = manifest::reward_tree(parsed.task_id, &parsed.rewards);
        let _ = manifest::cumulative_rewards(&parsed.rewards, &parsed.result);
        for slash in &parsed.slashes {
            let _ = slash.amount.parse::<U256>();
            let _ = slash.worker.parse::<Address>();
        }
        let text = serde_json::to_string(&parsed).expect("a parsed manifest serialises");
        let _ = serde_json::from_str::<Manifest>(&text);
    }
}

struct Members(HashSet<Address>);

#[async_trait::async_trait]
impl Membership for Members {
    async fn is_worker(&self, _task: u64, worker: Address) -> eyre::Result<bool> {
        Ok(self.0.contains(&worker))
    }
}

/// Every request body and path the API takes, sent through the coordinator's router over a real SQLite database
/// with a task in its first round: the answer is never a 5xx, and every refusal is in the API's error shape.
/// The input's first byte picks the endpoint, the rest is its body or the end of its path.
pub struct ApiBodies {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    worker: PrivateKeySigner,
    domain: alloy::sol_types::Eip712Domain,
    update: Cid,
    _dir: tempfile::TempDir,
}

impl ApiBodies {
    /// A coordinator's router over a fresh database and an in-memory content store.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let worker = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).expect("a key");
        let domain = eip712::domain(31337, Address::repeat_byte(9));
        let (router, update) = runtime.block_on(async {
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("fuzz.db").display());
            let db = Store::connect(&url).await.expect("the database opens");
            db.upsert_task(&NewTask {
                task_id: 1,
                requester: format!("{:#x}", Address::repeat_byte(1)),
                coordinator: format!("{:#x}", Address::repeat_byte(8)),
                reward_token: format!("{:#x}", Address::repeat_byte(2)),
                reward_pool: Amount(1_000_000),
                stake_required: Amount(1_000),
                num_rounds: 3,
                max_workers: 10,
                submission_window_secs: 3600,
                model_architecture_id: format!("{:#x}", B256::from(ARCH.to_bytes32())),
                initial_model_cid: GLOBAL.into(),
                created_at_ms: 0,
                config: serde_json::json!({}),
            })
            .await
            .expect("the task is stored");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            db.insert_round(&NewRound {
                task_id: 1,
                round: 1,
                global_model_cid: GLOBAL.into(),
                deadline_ms: now + 24 * 3600 * 1000,
                started_at_ms: now,
            })
            .await
            .expect("the round is stored");
            let content = MemoryStore::new();
            let update = content.put(Bytes::from(update(WireDtype::F16, FileKind::Update))).await.expect("stored");
            let config = Config {
                fetch_timeout: Duration::from_millis(500),
                admin_token: Some("fuzz-admin".into()),
                // Limits are tested elsewhere; here every input must reach the handlers.
                submissions_per_worker_per_sec: 0.0,
                max_task_drafts: u64::MAX,
                ..Config::default()
            };
            let state = AppState {
                db,
                content: Arc::new(content),
                membership: Arc::new(Members(HashSet::from([worker.address()]))),
                signer: Arc::new(PrivateKeySigner::from_bytes(&B256::repeat_byte(0x43)).expect("a key")),
                domain: Arc::new(domain.clone()),
                config: Arc::new(config),
                live: tessera_coordinator::Live::new(),
                spool: tessera_coordinator::spool::Spool::open(dir.path().join("spool")).await.expect("a spool"),
                fetches: Arc::new(tokio::sync::Semaphore::new(4)),
                sealer: Arc::new(
                    tessera_coordinator::sealing::Sealer::new(&[0x43; 32], 31337, Address::repeat_byte(9))
                        .expect("a key"),
                ),
            };
            (tessera_coordinator::api::app(state), update)
        });
        Self { runtime, router, worker, domain, update, _dir: dir }
    }

    fn submission(&self, num_samples: u64) -> Vec<u8> {
        let typed = Submission {
            taskId: U256::from(1),
            round: 1,
            worker: self.worker.address(),
            updateCid: B256::from(self.update.to_bytes32()),
            numSamples: num_samples,
        };
        let signature = eip712::sign(&self.worker, &typed, &self.domain).expect("signs");
        serde_json::to_vec(&serde_json::json!({
            "worker": format!("{:#x}", self.worker.address()),
            "update_cid": self.update.to_string(),
            "num_samples": num_samples,
            "signature": signature.to_string(),
        }))
        .expect("serialises")
    }
}

impl Default for ApiBodies {
    fn default() -> Self {
        Self::new()
    }
}

/// The endpoints, by the input's first byte.
const ENDPOINTS: u8 = 5;

impl Target for ApiBodies {
    fn name(&self) -> &'static str {
        "API requests"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let with = |endpoint: u8, rest: &[u8]| [&[endpoint][..], rest].concat();
        let draft = serde_json::json!({
            "reward_token": format!("{:#x}", Address::repeat_byte(0x77)),
            "reward_pool": "1000", "stake_required": "10", "num_rounds": 4, "max_workers": 8,
            "submission_window_secs": 120, "seed": 3, "architecture": ARCH.name(),
        });
        vec![
            with(0, &self.submission(600)),
            with(0, &self.submission(601)),
            with(1, draft.to_string().as_bytes()),
            with(2, format!("1/workers/{:#x}/proof", self.worker.address()).as_bytes()),
            with(2, b"1/rounds/1/submissions"),
            with(3, b"task=1&kind=round,task"),
            with(4, br#"{"reason": "fuzz"}"#),
        ]
    }

    fn run(&mut self, input: &[u8]) {
        let Some((&endpoint, rest)) = input.split_first() else { return };
        let json = |method: &str, path: &str| {
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .header("authorization", "Bearer fuzz-admin")
                .body(Body::from(rest.to_vec()))
        };
        let text = String::from_utf8_lossy(rest);
        let request = match endpoint % ENDPOINTS {
            0 => json("POST", "/api/v1/tasks/1/rounds/1/submissions"),
            1 => json("POST", "/api/v1/task-drafts"),
            2 => Request::get(format!("/api/v1/tasks/{text}")).body(Body::empty()),
            3 => Request::get(format!("/api/v1/events?{text}")).body(Body::empty()),
            _ => json("POST", "/api/v1/admin/tasks/1/rounds/1/close"),
        };
        // A string that is no URI never reaches the server.
        let Ok(request) = request else { return };
        let streams = endpoint % ENDPOINTS == 3;
        let router = self.router.clone();
        let (status, body) = self.runtime.block_on(async move {
            let response = router.oneshot(request).await.expect("the router is infallible");
            let status = response.status();
            // The live feed never ends; its status is all there is to check.
            if streams && status == StatusCode::OK {
                return (status, Bytes::new());
            }
            let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect()).await;
            (status, body.ok().and_then(Result::ok).map(|b| b.to_bytes()).unwrap_or_default())
        });
        assert!(!status.is_server_error(), "a {status} for {input:?}: {}", String::from_utf8_lossy(&body));
        if status.is_client_error() && status != StatusCode::NOT_FOUND {
            let shaped = serde_json::from_slice::<tessera_api::ErrorBody>(&body);
            assert!(shaped.is_ok(), "a {status} outside the error shape: {}", String::from_utf8_lossy(&body));
        }
    }
}

/// CIDs, from text and from the contract's 32-byte words: never a panic, and a parsed CID prints back to itself.
pub struct CidParser;

impl Target for CidParser {
    fn name(&self) -> &'static str {
        "CID parsing"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let made = DagBuilder::cid_of(b"tessera");
        vec![GLOBAL.as_bytes().to_vec(), made.to_string().into_bytes(), made.to_bytes32().to_vec()]
    }

    fn run(&mut self, input: &[u8]) {
        if let Ok(text) = std::str::from_utf8(input)
            && let Ok(cid) = text.parse::<Cid>()
        {
            let printed = cid.to_string();
            assert_eq!(printed.parse::<Cid>().ok(), Some(cid), "{text:?} prints as {printed:?}, which parses apart");
            assert_eq!(Cid::from_bytes32(cid.to_bytes32()), Some(cid), "the 32-byte word round-trips");
        }
        if let Ok(word) = <[u8; 32]>::try_from(input)
            && let Some(cid) = Cid::from_bytes32(word)
        {
            assert_eq!(cid.to_bytes32(), word);
        }
    }
}

/// Signatures from hex, and the EIP-712 structs and contract calls from their ABI encoding: never a panic; a
/// signature that parses recovers to some address or fails cleanly; a decoded struct survives a round trip.
pub struct Eip712Decoder {
    domain: alloy::sol_types::Eip712Domain,
    typed: Submission,
    signature: String,
}

impl Eip712Decoder {
    /// With a real signature of a real submission as a seed.
    pub fn new() -> Self {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).expect("a key");
        let domain = eip712::domain(31337, Address::repeat_byte(9));
        let typed = Submission {
            taskId: U256::from(1),
            round: 1,
            worker: signer.address(),
            updateCid: B256::repeat_byte(3),
            numSamples: 600,
        };
        let signature = eip712::sign(&signer, &typed, &domain).expect("signs").to_string();
        Self { domain, typed, signature }
    }
}

impl Default for Eip712Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for Eip712Decoder {
    fn name(&self) -> &'static str {
        "EIP-712 and ABI decoding"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let receipt = SubmissionReceipt {
            taskId: U256::from(1),
            round: 1,
            worker: self.typed.worker,
            updateCid: self.typed.updateCid,
            numSamples: 600,
            sequence: 4,
            receivedAtMs: 1_700_000_000_000,
        };
        let claim = Marketplace::claimCall {
            taskId: U256::from(1),
            cumulativeAmount: U256::from(10),
            proof: vec![B256::repeat_byte(5)],
        };
        vec![
            [&[0][..], self.signature.as_bytes()].concat(),
            [&[1][..], &self.typed.abi_encode()].concat(),
            [&[2][..], &receipt.abi_encode()].concat(),
            [&[3][..], &claim.abi_encode()].concat(),
        ]
    }

    fn run(&mut self, input: &[u8]) {
        let Some((&kind, rest)) = input.split_first() else { return };
        match kind % 4 {
            0 => {
                if let Ok(signature) = eip712::parse_signature(&String::from_utf8_lossy(rest)) {
                    let _ = eip712::recover_signer(&self.typed, &self.domain, &signature);
                }
            }
            1 => {
                // Decoding is lenient (unused high bits and trailing bytes are ignored, as Solidity's decoder
                // ignores them), so what must hold is that the value it settles on survives a round trip.
                if let Ok(typed) = Submission::abi_decode(rest) {
                    assert_eq!(Submission::abi_decode(&typed.abi_encode()).ok(), Some(typed.clone()), "round trip");
                    let _ = typed.eip712_signing_hash(&self.domain);
                }
            }
            2 => {
                if let Ok(receipt) = SubmissionReceipt::abi_decode(rest) {
                    assert_eq!(SubmissionReceipt::abi_decode(&receipt.abi_encode()).ok(), Some(receipt), "round trip");
                }
            }
            _ => {
                let _ = Marketplace::claimCall::abi_decode(rest);
                let _ = Marketplace::createTaskCall::abi_decode(rest);
                let _ = Marketplace::finalizeRoundCall::abi_decode(rest);
            }
        }
    }
}
