//! The simulated workers: keys that stake and join on chain, and that each round upload an update to IPFS and
//! send their signed submissions all at once.

use crate::measure::{RoundReport, Submitted, percentile};
use alloy::{
    primitives::{B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tessera_api::SubmissionRequest;
use tessera_chain::{
    Deployment, MarketplaceClient, TestToken,
    eip712::{self, Submission},
};
use tessera_harness::{DevAccount, mnist_dir};
use tessera_storage::{Cid, ClientConfig, ContentStore, IpfsStore};
use tessera_train::{
    ArchitectureId, Dataset, DecodeLimits, Device, FileKind, Header, Parameters, Split, TrainConfig, WeightsFile,
    WireDtype, train_local,
};

/// On-chain transactions in flight at once while the fleet joins.
const JOINING_AT_ONCE: usize = 32;

/// The most times one submission is sent again after a 408 or 429.
const MAX_RESENDS: u32 = 10;

/// The samples each worker says it trained on (the scorer pays for evidence, not for this).
const CLAIMED_SAMPLES: u64 = 200;

/// The longest a round may take to open, or to finalize after its window closed.
const ROUND_LIMIT: Duration = Duration::from_secs(3600);

/// The workers, each its own key, joined to one task.
pub(crate) struct Fleet {
    signers: Vec<PrivateKeySigner>,
}

/// The coordinator's API and the IPFS node, as a worker sees them.
pub(crate) struct Client {
    http: reqwest::Client,
    url: String,
    content: Arc<IpfsStore>,
    arch: ArchitectureId,
}

impl Client {
    /// A client of the coordinator at `url` and the IPFS node at `ipfs_api`, for tasks of `arch`.
    pub(crate) fn new(url: &str, ipfs_api: &str, arch: ArchitectureId) -> eyre::Result<Self> {
        // As many connections as workers: they all submit at once.
        let http = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build()?;
        let content = Arc::new(IpfsStore::new(ipfs_api, ClientConfig::default())?);
        Ok(Self { http, url: url.trim_end_matches('/').to_owned(), content, arch })
    }

    /// Waits until the coordinator answers, at most `limit`.
    pub(crate) async fn wait_until_up(&self, limit: Duration) -> eyre::Result<()> {
        let started = Instant::now();
        while self.http.get(format!("{}/health", self.url)).send().await.is_err() {
            eyre::ensure!(started.elapsed() < limit, "the coordinator did not start within {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn get(&self, path: &str) -> eyre::Result<serde_json::Value> {
        let answer = self.http.get(format!("{}{path}", self.url)).send().await?;
        eyre::ensure!(answer.status().is_success(), "GET {path}: {}", answer.status());
        Ok(answer.json().await?)
    }

    /// The round's detail once it is in `phase` or later (by [`PHASES`]' order), polling every 100 ms.
    pub(crate) async fn wait_for_phase(&self, task: u64, round: u32, phase: &str) -> eyre::Result<serde_json::Value> {
        let path = format!("/api/v1/tasks/{task}/rounds/{round}");
        let wanted = rank(phase);
        let started = Instant::now();
        loop {
            if let Ok(detail) = self.get(&path).await
                && detail["phase"].as_str().is_some_and(|p| rank(p) >= wanted)
            {
                return Ok(detail);
            }
            eyre::ensure!(started.elapsed() < ROUND_LIMIT, "round {round} of task {task} never reached {phase}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// When the round first showed each phase after `since` (in ms from it), polling every 100 ms until it is
    /// finalized; and its detail then.
    async fn watch_to_finalized(
        &self,
        task: u64,
        round: u32,
        since: Instant,
    ) -> eyre::Result<(Vec<(String, u64)>, serde_json::Value)> {
        let path = format!("/api/v1/tasks/{task}/rounds/{round}");
        let mut seen: Vec<(String, u64)> = Vec::new();
        loop {
            let detail = self.get(&path).await?;
            let phase = detail["phase"].as_str().unwrap_or_default().to_owned();
            if seen.last().is_none_or(|(last, _)| *last != phase) {
                seen.push((phase.clone(), ms(since.elapsed())));
            }
            if phase == "finalized" {
                return Ok((seen, detail));
            }
            eyre::ensure!(since.elapsed() < ROUND_LIMIT, "round {round} of task {task} was not finalized");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn domain(&self) -> eyre::Result<Eip712Domain> {
        let info = self.get("/api/v1/info").await?;
        let chain_id = info["chain_id"].as_u64().ok_or_else(|| eyre::eyre!("no chain id in {info}"))?;
        let marketplace = info["marketplace"].as_str().ok_or_else(|| eyre::eyre!("no marketplace in {info}"))?;
        Ok(eip712::domain(chain_id, marketplace.parse()?))
    }

    /// The checkpoint `cid`.
    async fn checkpoint(&self, cid: &str) -> eyre::Result<Parameters> {
        let limits = DecodeLimits::expecting(self.arch, FileKind::Checkpoint);
        let bytes = self.content.get(&cid.parse()?, limits.max_bytes as u64).await?;
        Ok(WeightsFile::decode(&bytes, &limits)?.parameters)
    }

    /// Sends one submission, and again after a 408 (its time limit passed while it waited its turn) or a 429,
    /// at most [`MAX_RESENDS`] times a second apart, as the worker binary does; how it went.
    async fn submit(&self, task: u64, round: u32, request: SubmissionRequest) -> Submitted {
        let started = Instant::now();
        let url = format!("{}/api/v1/tasks/{task}/rounds/{round}/submissions", self.url);
        let mut resent = 0;
        loop {
            let status = match self.http.post(&url).json(&request).send().await {
                Ok(answer) => answer.status().as_u16(),
                Err(_) => 0,
            };
            if !matches!(status, 408 | 429) || resent == MAX_RESENDS {
                let latency_ms = started.elapsed().as_secs_f64() * 1e3;
                return Submitted { status, latency_ms, resent, done: Instant::now() };
            }
            resent += 1;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}

/// The round phases in order.
const PHASES: [&str; 5] = ["collecting", "aggregating", "publishing", "finalizing", "finalized"];

fn rank(phase: &str) -> usize {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0)
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Fleet {
    /// `count` workers from `accounts`, each minting its stake, approving it and joining `task`, many at once.
    pub(crate) async fn join(
        chain: &Deployment,
        accounts: &[DevAccount],
        task: u64,
        count: usize,
    ) -> eyre::Result<Self> {
        eyre::ensure!(accounts.len() >= count, "anvil has {} worker accounts, not {count}", accounts.len());
        let stake = U256::from(10u128.pow(18));
        stream::iter(&accounts[..count])
            .map(|account| async move {
                let client: MarketplaceClient = chain.client(&account.private_key)?;
                let token = TestToken::new(chain.token, client.provider().clone());
                token.mint(account.address, stake).send().await?.get_receipt().await?;
                client.approve(chain.token, stake).await?;
                client.join(U256::from(task), vec![]).await?;
                Ok::<_, eyre::Report>(())
            })
            .buffer_unordered(JOINING_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        let signers = accounts[..count].iter().map(|a| a.private_key.parse()).collect::<Result<_, _>>()?;
        Ok(Self { signers })
    }

    /// One round: waits for it to open, trains one update from its checkpoint, uploads each worker's noisy copy
    /// of it, sends every submission at once, and follows the round to finalized.
    pub(crate) async fn run_round(
        &self,
        client: &Client,
        task: u64,
        round: u32,
        uploads: usize,
    ) -> eyre::Result<RoundReport> {
        let open = client.wait_for_phase(task, round, "collecting").await?;
        let global_cid = open["global_model_cid"].as_str().ok_or_else(|| eyre::eyre!("no checkpoint in {open}"))?;
        let global = client.checkpoint(global_cid).await?;
        let base = Arc::new(base_update(client.arch, &global, round).await?);

        let prepared = Instant::now();
        let header = Header {
            architecture: client.arch,
            kind: FileKind::Update,
            round: u64::from(round),
            parent_cid: global_cid.to_owned(),
            num_samples: CLAIMED_SAMPLES,
            dtype: WireDtype::F32,
        };
        let cids: Vec<Cid> = stream::iter(0..self.signers.len())
            .map(|i| {
                let (base, header, content) = (base.clone(), header.clone(), client.content.clone());
                async move {
                    let file = tokio::task::spawn_blocking(move || {
                        let values = noisy(&base, (u64::from(round) << 32) | i as u64);
                        let parameters = Parameters::for_architecture(header.architecture, values)?;
                        WeightsFile { header, parameters }.encode()
                    })
                    .await??;
                    Ok::<_, eyre::Report>(content.put(Bytes::from(file)).await?)
                }
            })
            .buffered(uploads.max(1))
            .try_collect()
            .await?;
        let upload_ms = ms(prepared.elapsed());

        let domain = client.domain().await?;
        let requests: Vec<SubmissionRequest> = self
            .signers
            .iter()
            .zip(&cids)
            .map(|(signer, cid)| sign(signer, &domain, task, round, *cid))
            .collect::<eyre::Result<_>>()?;
        let sent = Instant::now();
        let answers: Vec<Submitted> =
            futures_util::future::join_all(requests.into_iter().map(|request| client.submit(task, round, request)))
                .await;
        let closed = answers.iter().map(|a| a.done).max().unwrap_or(sent);
        let (phases, finalized) = client.watch_to_finalized(task, round, closed).await?;

        let accepted: Vec<f64> = answers.iter().filter(|a| a.status == 201).map(|a| a.latency_ms).collect();
        let submit_s = closed.duration_since(sent).as_secs_f64();
        Ok(RoundReport {
            round,
            workers: self.signers.len(),
            accepted: accepted.len(),
            refused: answers.iter().filter(|a| (400..500).contains(&a.status)).count(),
            server_errors: answers.iter().filter(|a| a.status >= 500 || a.status == 0).count(),
            resent: answers.iter().map(|a| a.resent).sum(),
            accepted_per_s: accepted.len() as f64 / submit_s.max(1e-9),
            p50_ms: percentile(&accepted, 0.5),
            p99_ms: percentile(&accepted, 0.99),
            upload_ms,
            close_to_finalized_ms: phases.last().map_or(0, |(_, at)| *at),
            phases,
            metrics: finalized["metrics"].clone(),
            scoring_steps: serde_json::Map::new(),
        })
    }
}

/// One honest update of `arch` from `global`: an epoch on 200 MNIST training images chosen by the round.
async fn base_update(arch: ArchitectureId, global: &Parameters, round: u32) -> eyre::Result<Vec<f32>> {
    let global = global.clone();
    tokio::task::spawn_blocking(move || {
        let data = Dataset::load(&mnist_dir(), Split::Train, &arch.input())?;
        let start = (round as usize * 200) % (data.len() - 200);
        let shard = data.subset(&(start..start + 200).collect::<Vec<_>>())?;
        let config = TrainConfig { device: Device::Cpu, seed: u64::from(round), ..TrainConfig::default() };
        Ok(train_local(arch, &global, &shard, &config, |_| {})?.delta.into_values())
    })
    .await?
}

/// `base` plus noise as large as it (its own for each `seed`): workers whose updates agree beyond chance and
/// differ as honest workers' do.
fn noisy(base: &[f32], seed: u64) -> Vec<f32> {
    let norm = base.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
    // Uniform on [-a, a] has variance a^2 / 3: a = sqrt(3 / d) |base| gives noise of |base|'s norm.
    let a = (3.0 / base.len().max(1) as f64).sqrt() * norm;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    base.iter()
        .map(|&v| {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let unit = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            (f64::from(v) + a * unit) as f32
        })
        .collect()
}

/// A signed submission of `cid` by `signer`.
fn sign(
    signer: &PrivateKeySigner,
    domain: &Eip712Domain,
    task: u64,
    round: u32,
    cid: Cid,
) -> eyre::Result<SubmissionRequest> {
    let typed = Submission {
        taskId: U256::from(task),
        round,
        worker: signer.address(),
        updateCid: B256::from(cid.to_bytes32()),
        numSamples: CLAIMED_SAMPLES,
    };
    let signature = eip712::sign(signer, &typed, domain)?;
    Ok(SubmissionRequest {
        worker: format!("{:#x}", signer.address()),
        update_cid: cid.to_string(),
        num_samples: CLAIMED_SAMPLES,
        signature: signature.to_string(),
    })
}
