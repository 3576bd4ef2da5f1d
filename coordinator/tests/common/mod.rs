//! The real stack for the coordinator's end-to-end tests: anvil, an IPFS node, the contracts, a task created
//! with the `create-task` command, the coordinator binary as a child process, and simulated workers that
//! train LeNet on small MNIST shards and submit through the HTTP API.

#![allow(dead_code, unreachable_pub)]

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use bytes::Bytes;
use serde_json::Value;
use std::{
    net::TcpListener,
    process::{Command, ExitStatus},
    sync::Arc,
    time::{Duration, Instant},
};
use tessera_chain::{
    Deployment, MarketplaceClient, TestToken,
    eip712::{self, Submission},
    roles,
};
use tessera_harness::{Anvil, DevAccount, IpfsNode, Process, Toolchain, mnist_dir};
use tessera_storage::{Cid, ClientConfig, ContentStore, IpfsStore};
use tessera_train::{
    ArchitectureId, Dataset, DecodeLimits, Device, FileKind, Header, Parameters, Split, TrainConfig, WeightsFile,
    WireDtype, train_local,
};

pub const ARCH: ArchitectureId = ArchitectureId::Lenet5MnistV1;
pub const TOKEN_UNIT: u128 = 1_000_000_000_000_000_000;
pub const STAKE_TOKENS: u128 = 10;
pub const REWARD_TOKENS: u128 = 1000;
pub const VALIDATION_SAMPLES: usize = 500;

/// Anvil, IPFS, the deployed contracts and funded accounts: 0 deploys, 1 requests, 2 coordinates, 3.. work.
pub struct Stack {
    pub anvil: Anvil,
    pub ipfs: IpfsNode,
    pub chain: Deployment,
    pub dir: tempfile::TempDir,
    pub content: Arc<IpfsStore>,
}

impl Stack {
    pub async fn start(workers: usize) -> Self {
        let toolchain = Toolchain::discover().expect("run `make setup` first");
        let anvil = Anvil::builder().accounts(3 + workers as u32).spawn(&toolchain).unwrap();
        let ipfs = IpfsNode::start(&toolchain).unwrap();
        let accounts = anvil.accounts();
        let chain = Deployment::deploy(anvil.url(), &accounts[roles::ADMIN].private_key, "Test").await.unwrap();
        let funded = accounts[roles::REQUESTER..].iter().map(|account| account.address);
        chain.fund(funded, U256::from(10_000 * TOKEN_UNIT)).await.unwrap();
        let content = Arc::new(IpfsStore::new(ipfs.api_url(), ClientConfig::default()).unwrap());
        Self { anvil, ipfs, chain, dir: tempfile::tempdir().unwrap(), content }
    }

    /// A stack with `workers` workers joined to a new task of `rounds` rounds (a window of `window_secs`), each
    /// holding `samples` training examples; the task's id.
    pub async fn with_task(
        workers: usize,
        rounds: u32,
        window_secs: u32,
        samples: usize,
    ) -> (Self, u64, Vec<SimWorker>) {
        let stack = Self::start(workers).await;
        let task = stack.create_task(rounds, workers as u32, window_secs);
        let joined = stack.join_workers(task, workers, samples).await;
        (stack, task, joined)
    }

    pub fn requester(&self) -> &DevAccount {
        &self.anvil.accounts()[roles::REQUESTER]
    }

    pub fn coordinator(&self) -> &DevAccount {
        &self.anvil.accounts()[roles::COORDINATOR]
    }

    pub fn worker_accounts(&self) -> &[DevAccount] {
        &self.anvil.accounts()[roles::FIRST_WORKER..]
    }

    pub fn client(&self, account: &DevAccount) -> MarketplaceClient {
        self.chain.client(&account.private_key).unwrap()
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.dir.path().join("coordinator.db").display())
    }

    /// The settings every coordinator command gets, as environment variables.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TESSERA_CHAIN_RPC_URL", self.anvil.url().to_owned()),
            ("TESSERA_PRIVATE_KEY", self.coordinator().private_key.clone()),
            ("TESSERA_MARKETPLACE", format!("{:#x}", self.chain.marketplace)),
            ("TESSERA_IPFS_API_URL", self.ipfs.api_url().to_owned()),
            ("TESSERA_DATABASE_URL", self.database_url()),
            ("TESSERA_VALIDATION_DIR", mnist_dir().display().to_string()),
            ("TESSERA_VALIDATION_SAMPLES", VALIDATION_SAMPLES.to_string()),
            ("TESSERA_ADMIN_TOKEN", "test-admin-token".to_owned()),
            ("TESSERA_TICK_MS", "100".to_owned()),
            ("RUST_LOG", "info,tessera_coordinator=debug".to_owned()),
        ]
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-coordinator"));
        command.args(args).envs(self.env()).env("TESSERA_REQUESTER_PRIVATE_KEY", &self.requester().private_key);
        command
    }

    /// Creates a task with the `create-task` command; its id.
    pub fn create_task(&self, rounds: u32, max_workers: u32, window_secs: u32) -> u64 {
        self.create_task_with(rounds, max_workers, window_secs, &[])
    }

    /// As [`Stack::create_task`], with more of `create-task`'s options (`--seed 7`, say).
    pub fn create_task_with(&self, rounds: u32, max_workers: u32, window_secs: u32, options: &[&str]) -> u64 {
        let output = self
            .command(&[
                "create-task",
                "--token",
                &format!("{:#x}", self.chain.token),
                "--reward",
                &REWARD_TOKENS.to_string(),
                "--stake",
                &STAKE_TOKENS.to_string(),
                "--rounds",
                &rounds.to_string(),
                "--max-workers",
                &max_workers.to_string(),
                "--window-secs",
                &window_secs.to_string(),
            ])
            .args(options)
            .output()
            .unwrap();
        assert!(output.status.success(), "create-task failed: {}", String::from_utf8_lossy(&output.stderr));
        let created: Value = serde_json::from_slice(&output.stdout).unwrap();
        created["task_id"].as_u64().unwrap()
    }

    /// Runs `verify` on a task; its exit status and output.
    pub fn verify(&self, task: u64) -> (ExitStatus, String) {
        let output = self.command(&["verify", "--task", &task.to_string()]).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status, text)
    }

    /// Starts the coordinator; with `crash_at`, it aborts at that crash point.
    pub async fn coordinator_process(&self, min_workers: usize, crash_at: Option<&str>) -> CoordinatorProcess {
        self.coordinator_process_with(min_workers, crash_at, &[]).await
    }

    /// As [`Stack::coordinator_process`], with `settings` over the stack's (another chain RPC, say).
    pub async fn coordinator_process_with(
        &self,
        min_workers: usize,
        crash_at: Option<&str>,
        settings: &[(&str, String)],
    ) -> CoordinatorProcess {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = self.dir.path().join(format!("coordinator-{port}.log"));
        let mut command = self.command(&["serve"]);
        command.env("TESSERA_LISTEN", format!("127.0.0.1:{port}")).env("TESSERA_MIN_WORKERS", min_workers.to_string());
        command.envs(settings.iter().cloned());
        match crash_at {
            Some(point) => command.env(tessera_coordinator::fault::CRASH_AT_VAR, point),
            None => command.env_remove(tessera_coordinator::fault::CRASH_AT_VAR),
        };
        let process = Process::spawn("coordinator", command, &log).unwrap();
        let process = CoordinatorProcess { process, url: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{}/health", process.url)).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the coordinator did not start:\n{}",
                process.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process
    }

    /// Workers with shards of `samples` training examples each, joined to `task`.
    pub async fn join_workers(&self, task: u64, count: usize, samples: usize) -> Vec<SimWorker> {
        let train = Dataset::mnist(&mnist_dir(), Split::Train).unwrap();
        let mut workers = Vec::new();
        for (i, account) in self.worker_accounts().iter().take(count).enumerate() {
            let client = self.client(account);
            client.approve(self.chain.token, U256::from(STAKE_TOKENS * TOKEN_UNIT)).await.unwrap();
            client.join(U256::from(task), vec![]).await.unwrap();
            let indices: Vec<usize> = (i * samples..(i + 1) * samples).collect();
            workers.push(SimWorker {
                signer: account.private_key.parse().unwrap(),
                client,
                shard: train.subset(&indices).unwrap(),
            });
        }
        workers
    }

    pub async fn balance(&self, account: Address) -> U256 {
        TestToken::new(self.chain.token, &self.chain.admin).balanceOf(account).call().await.unwrap()
    }

    /// Turns anvil's mining on every transaction on or off.
    pub async fn set_automine(&self, on: bool) {
        let _: Value = self.chain.admin.raw_request("evm_setAutomine".into(), (on,)).await.unwrap();
        if on {
            let _: Value = self.chain.admin.raw_request("evm_mine".into(), ()).await.unwrap();
        }
    }

    /// How many `RoundFinalized` events the chain holds for a round.
    pub async fn finalize_events(&self, task: u64, round: u32) -> usize {
        let client = self.client(self.requester());
        let latest = client.block_number().await.unwrap();
        client
            .events(0, latest)
            .await
            .unwrap()
            .iter()
            .filter(|e| match &e.event {
                tessera_chain::Marketplace::MarketplaceEvents::RoundFinalized(f) => {
                    f.taskId == U256::from(task) && f.round == round
                }
                _ => false,
            })
            .count()
    }
}

/// The coordinator binary, killed on drop.
pub struct CoordinatorProcess {
    pub process: Process,
    pub url: String,
}

impl CoordinatorProcess {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }

    /// Waits for the process to end by itself (a crash point), at most `limit`.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < limit, "the coordinator did not stop:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let answer = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        assert!(answer.status().is_success(), "GET {path}: {}", answer.status());
        answer.json().await.unwrap()
    }

    /// Polls `path` until `done` holds for its JSON, at most `limit`.
    pub async fn wait_for(&self, path: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            if let Ok(answer) = reqwest::get(format!("{}{path}", self.url)).await
                && answer.status().is_success()
            {
                let value: Value = answer.json().await.unwrap();
                if done(&value) {
                    return value;
                }
            }
            assert!(started.elapsed() < limit, "timed out waiting on {path}:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until round `round` of `task` is open for submissions.
    pub async fn wait_for_round(&self, task: u64, round: u32) {
        self.wait_for(&format!("/api/v1/tasks/{task}/rounds/{round}"), Duration::from_secs(60), |r| {
            r["phase"] == "collecting"
        })
        .await;
    }

    /// Waits until round `round` of `task` is finalized on chain.
    pub async fn wait_for_finalized(&self, task: u64, round: u32) -> Value {
        self.wait_for(&format!("/api/v1/tasks/{task}/rounds/{round}"), Duration::from_secs(120), |r| {
            r["phase"] == "finalized"
        })
        .await
    }
}

/// A worker that trains on its shard and submits through the API.
pub struct SimWorker {
    pub signer: PrivateKeySigner,
    pub client: MarketplaceClient,
    pub shard: Dataset,
}

impl SimWorker {
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Trains one epoch from the round's global model, uploads the update, and submits it; the receipt.
    pub async fn train_and_submit(
        &self,
        stack: &Stack,
        coordinator: &CoordinatorProcess,
        task: u64,
        round: u32,
    ) -> Value {
        let detail = coordinator.get(&format!("/api/v1/tasks/{task}/rounds/{round}")).await;
        let global_cid = detail["global_model_cid"].as_str().unwrap().to_owned();
        let limits = DecodeLimits::expecting(ARCH, FileKind::Checkpoint);
        let bytes = stack.content.get(&global_cid.parse().unwrap(), limits.max_bytes as u64).await.unwrap();
        let global = WeightsFile::decode(&bytes, &limits).unwrap().parameters;
        let shard = self.shard.subset(&(0..self.shard.len()).collect::<Vec<_>>()).unwrap();
        let config =
            TrainConfig { device: Device::Cpu, threads: Some(1), seed: u64::from(round), ..TrainConfig::default() };
        let update = tokio::task::spawn_blocking(move || train_local(ARCH, &global, &shard, &config, |_| {}).unwrap())
            .await
            .unwrap();
        self.submit(stack, coordinator, task, round, &global_cid, update.delta).await
    }

    /// Uploads `delta` as this round's update and submits it; the receipt.
    pub async fn submit(
        &self,
        stack: &Stack,
        coordinator: &CoordinatorProcess,
        task: u64,
        round: u32,
        global_cid: &str,
        delta: Parameters,
    ) -> Value {
        let num_samples = self.shard.len() as u64;
        let file = WeightsFile {
            header: Header {
                architecture: ARCH,
                kind: FileKind::Update,
                round: u64::from(round),
                parent_cid: global_cid.to_owned(),
                num_samples,
                dtype: WireDtype::F32,
            },
            parameters: delta,
        };
        let cid = stack.content.put(Bytes::from(file.encode().unwrap())).await.unwrap();
        let (status, value) = self.submit_cid(coordinator, task, round, cid, num_samples).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{value}");
        value
    }

    /// Signs and submits the update `cid` (already on IPFS, whoever made it) under this worker's name; the
    /// status and the answer.
    pub async fn submit_cid(
        &self,
        coordinator: &CoordinatorProcess,
        task: u64,
        round: u32,
        cid: Cid,
        num_samples: u64,
    ) -> (reqwest::StatusCode, Value) {
        let info = coordinator.get("/api/v1/info").await;
        let domain =
            eip712::domain(info["chain_id"].as_u64().unwrap(), info["marketplace"].as_str().unwrap().parse().unwrap());
        let typed = Submission {
            taskId: U256::from(task),
            round,
            worker: self.address(),
            updateCid: B256::from(cid.to_bytes32()),
            numSamples: num_samples,
        };
        let signature = eip712::sign(&self.signer, &typed, &domain).unwrap();
        let body = serde_json::json!({
            "worker": format!("{:#x}", self.address()),
            "update_cid": cid.to_string(),
            "num_samples": num_samples,
            "signature": signature.to_string(),
        });
        let answer = reqwest::Client::new()
            .post(format!("{}/api/v1/tasks/{task}/rounds/{round}/submissions", coordinator.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        (status, answer.json().await.unwrap())
    }
}

/// Validation accuracy of the initial model of a task, for comparing later rounds against.
pub async fn initial_accuracy(stack: &Stack, coordinator: &CoordinatorProcess, task: u64) -> f64 {
    // The API answers before the indexer's first pass has brought the task in.
    let detail = coordinator.wait_for(&format!("/api/v1/tasks/{task}"), Duration::from_secs(30), |_| true).await;
    let cid = detail["initial_model_cid"].as_str().unwrap().to_owned();
    let limits = DecodeLimits::expecting(ARCH, FileKind::Checkpoint);
    let bytes = stack.content.get(&cid.parse().unwrap(), limits.max_bytes as u64).await.unwrap();
    let params = WeightsFile::decode(&bytes, &limits).unwrap().parameters;
    let test = Dataset::mnist(&mnist_dir(), Split::Test).unwrap().take(VALIDATION_SAMPLES).unwrap();
    let model = tessera_train::Model::new(ARCH, &params, Device::Cpu).unwrap();
    tessera_train::evaluate(&model, &test, 500).unwrap().accuracy
}
