use super::{ApiError, ApiJson};
use crate::{AppState, manifest::RewardRecord, task_draft::UnsignedCall};
use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tessera_chain::Marketplace;
use tessera_db::{Amount, Claim, Membership, Round, RoundPhase, Score, Submission, Task, TxState, Worker};

pub(super) async fn health(State(state): State<AppState>) -> Result<ApiJson<Value>, ApiError> {
    state.db.ping().await?;
    Ok(ApiJson(json!({ "status": "ok" })))
}

/// What a worker or the dashboard needs to sign and verify: the EIP-712 domain's parts.
#[derive(Debug, Serialize)]
pub(super) struct Info {
    chain_id: u64,
    marketplace: String,
    coordinator: String,
    version: &'static str,
}

pub(super) async fn info(State(state): State<AppState>) -> ApiJson<Info> {
    ApiJson(Info {
        chain_id: state.domain.chain_id.map_or(0, |id| id.to::<u64>()),
        marketplace: state.domain.verifying_contract.map(|a| format!("{a:#x}")).unwrap_or_default(),
        coordinator: format!("{:#x}", state.signer.address()),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// A task with how many workers are in it.
#[derive(Debug, Serialize)]
pub(super) struct TaskSummary {
    #[serde(flatten)]
    task: Task,
    /// Workers active now.
    active_workers: u64,
    /// Workers who ever joined.
    joined_workers: u64,
}

async fn task_summary(state: &AppState, task: Task) -> Result<TaskSummary, ApiError> {
    let workers = state.db.list_workers(task.task_id).await?;
    let active = workers.iter().filter(|w| w.status == Membership::Active).count();
    Ok(TaskSummary { task, active_workers: active as u64, joined_workers: workers.len() as u64 })
}

pub(super) async fn tasks(State(state): State<AppState>) -> Result<ApiJson<Vec<TaskSummary>>, ApiError> {
    let mut out = Vec::new();
    for task in state.db.list_tasks(None).await? {
        out.push(task_summary(&state, task).await?);
    }
    Ok(ApiJson(out))
}

pub(super) async fn task(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<ApiJson<TaskSummary>, ApiError> {
    let found = find_task(&state, task).await?;
    Ok(ApiJson(task_summary(&state, found).await?))
}

/// A round with the coordinator's transactions for it.
#[derive(Debug, Serialize)]
pub(super) struct RoundSummary {
    #[serde(flatten)]
    round: Round,
    transactions: Vec<RoundTx>,
}

/// One of the coordinator's transactions for a round.
#[derive(Debug, Serialize)]
pub(super) struct RoundTx {
    /// `start_round` or `finalize_round`.
    kind: String,
    /// The latest hash it was sent with.
    tx_hash: Option<String>,
    state: TxState,
    block_number: Option<u64>,
}

pub(super) async fn rounds(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<ApiJson<Vec<RoundSummary>>, ApiError> {
    find_task(&state, task).await?;
    let mut transactions: BTreeMap<u32, Vec<RoundTx>> = BTreeMap::new();
    for tx in state.db.list_txs(Some(task)).await? {
        if let Some(round) = tx.round {
            transactions.entry(round).or_default().push(RoundTx {
                kind: tx.kind,
                tx_hash: tx.tx_hash,
                state: tx.state,
                block_number: tx.block_number,
            });
        }
    }
    let rounds = state.db.list_rounds(task).await?;
    Ok(ApiJson(
        rounds
            .into_iter()
            .map(|round| RoundSummary { transactions: transactions.remove(&round.round).unwrap_or_default(), round })
            .collect(),
    ))
}

/// A round with its scores.
#[derive(Debug, Serialize)]
pub(super) struct RoundDetail {
    #[serde(flatten)]
    round: Round,
    scores: Vec<Score>,
}

pub(super) async fn round(
    State(state): State<AppState>,
    Path((task, round)): Path<(u64, u32)>,
) -> Result<ApiJson<RoundDetail>, ApiError> {
    let found = state
        .db
        .get_round(task, round)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("round {round} of task {task}")))?;
    let scores = state.db.list_scores(task, round).await?;
    Ok(ApiJson(RoundDetail { round: found, scores }))
}

/// A submission as the API lists it. While its round still collects, the update's CID and the signatures
/// over it are withheld: an update nobody can read before the window closes cannot be copied in time.
#[derive(Debug, Serialize)]
pub(super) struct SubmissionListing {
    task_id: u64,
    round: u32,
    worker: String,
    sequence: u64,
    num_samples: u64,
    received_at_ms: i64,
    /// `None` while the round collects.
    update_cid: Option<String>,
    /// `None` while the round collects.
    signature: Option<String>,
    /// `None` while the round collects.
    digest: Option<String>,
    /// `None` while the round collects, or before it is signed.
    receipt_signature: Option<String>,
}

impl SubmissionListing {
    fn new(s: Submission, sealed: bool) -> Self {
        let open = |value: String| (!sealed).then_some(value);
        Self {
            task_id: s.task_id,
            round: s.round,
            worker: s.worker,
            sequence: s.sequence,
            num_samples: s.num_samples,
            received_at_ms: s.received_at_ms,
            update_cid: open(s.update_cid),
            signature: open(s.signature),
            digest: open(s.digest),
            receipt_signature: s.receipt_signature.filter(|_| !sealed),
        }
    }
}

pub(super) async fn submissions(
    State(state): State<AppState>,
    Path((task, round)): Path<(u64, u32)>,
) -> Result<ApiJson<Vec<SubmissionListing>>, ApiError> {
    let phase = state.db.get_round(task, round).await?.map(|r| r.phase);
    let sealed = phase.is_none_or(|p| p == RoundPhase::Collecting);
    let listed = state.db.list_submissions(task, round).await?;
    Ok(ApiJson(listed.into_iter().map(|s| SubmissionListing::new(s, sealed)).collect()))
}

/// A worker's standing in a task.
#[derive(Debug, Serialize)]
pub(super) struct WorkerSummary {
    task_id: u64,
    worker: String,
    status: Option<Membership>,
    stake: Amount,
    reputation: Option<f64>,
    /// Reputation after each scored round, oldest first.
    reputation_history: Vec<f64>,
    rewards: Amount,
    /// Rewards of finalized rounds: what the rewards root on chain covers, so `finalized_rewards - claimed` is
    /// what a claim pays now.
    finalized_rewards: Amount,
    claimed: Amount,
    /// The transaction of the latest claim.
    last_claim_tx: Option<String>,
    slashed: Amount,
    rounds: Vec<Score>,
}

pub(super) async fn workers(
    State(state): State<AppState>,
    Path(task): Path<u64>,
) -> Result<ApiJson<Vec<WorkerSummary>>, ApiError> {
    find_task(&state, task).await?;
    let standing = Standing::load(&state, task).await?;
    let mut addresses = standing.join_order.clone();
    for worker in standing.reputations.keys().chain(standing.scores.keys()) {
        if !addresses.contains(worker) {
            addresses.push(worker.clone());
        }
    }
    Ok(ApiJson(addresses.iter().map(|address| standing.summary(task, address)).collect()))
}

pub(super) async fn worker(
    State(state): State<AppState>,
    Path((task, worker)): Path<(u64, String)>,
) -> Result<ApiJson<WorkerSummary>, ApiError> {
    find_task(&state, task).await?;
    Ok(ApiJson(Standing::load(&state, task).await?.summary(task, &address(&worker)?)))
}

/// Everything about a task's workers, read in a fixed number of queries (one per round for the scores), so a
/// dashboard refreshing a task of a thousand workers does not cost thousands of queries.
struct Standing {
    joined: BTreeMap<String, Worker>,
    /// Workers in the order they joined.
    join_order: Vec<String>,
    claims: BTreeMap<String, Claim>,
    reputations: BTreeMap<String, f64>,
    /// Each worker's scores, oldest round first.
    scores: BTreeMap<String, Vec<Score>>,
    /// The latest finalized round, 0 before the first.
    finalized: u32,
    /// Its rewards root, as stored when it was finalized.
    finalized_root: Option<String>,
}

impl Standing {
    async fn load(state: &AppState, task: u64) -> Result<Self, ApiError> {
        let db = &state.db;
        let workers = db.list_workers(task).await?;
        let join_order = workers.iter().map(|w| w.worker.clone()).collect();
        let joined = workers.into_iter().map(|w| (w.worker.clone(), w)).collect();
        let claims = db.list_claims(task).await?.into_iter().map(|c| (c.worker.clone(), c)).collect();
        let reputations = db.list_reputations(task).await?.into_iter().map(|r| (r.worker, r.reputation)).collect();
        let rounds = db.list_rounds(task).await?;
        let latest = rounds.iter().rev().find(|r| r.phase == RoundPhase::Finalized);
        let (finalized, finalized_root) = latest.map_or((0, None), |r| (r.round, r.rewards_root.clone()));
        let mut scores: BTreeMap<String, Vec<Score>> = BTreeMap::new();
        for round in &rounds {
            for score in db.list_scores(task, round.round).await? {
                scores.entry(score.worker.clone()).or_default().push(score);
            }
        }
        Ok(Self { joined, join_order, claims, reputations, scores, finalized, finalized_root })
    }

    /// What `worker` earned up to the latest finalized round: its leaf in the rewards root on chain.
    fn finalized_rewards(&self, worker: &str) -> u128 {
        self.scores
            .get(worker)
            .map_or(0, |rounds| rounds.iter().filter(|s| s.round <= self.finalized).map(|s| s.reward.0).sum())
    }

    /// The leaves of the rewards root on chain: every worker's earnings up to the latest finalized round.
    fn reward_leaves(&self) -> Vec<RewardRecord> {
        self.scores
            .keys()
            .map(|worker| (worker, self.finalized_rewards(worker)))
            .filter(|&(_, total)| total > 0)
            .map(|(worker, total)| RewardRecord { worker: worker.clone(), cumulative: total.to_string() })
            .collect()
    }

    fn summary(&self, task: u64, worker: &str) -> WorkerSummary {
        let joined = self.joined.get(worker);
        let claim = self.claims.get(worker);
        let rounds = self.scores.get(worker).cloned().unwrap_or_default();
        let sum = |pick: fn(&Score) -> u128| Amount(rounds.iter().map(pick).sum());
        let finalized_rewards = Amount(self.finalized_rewards(worker));
        WorkerSummary {
            task_id: task,
            worker: worker.to_owned(),
            status: joined.map(|w| w.status),
            stake: joined.map_or(Amount::ZERO, |w| w.stake),
            reputation: self.reputations.get(worker).copied(),
            reputation_history: rounds.iter().filter_map(|s| s.reputation).collect(),
            rewards: sum(|s| s.reward.0),
            finalized_rewards,
            claimed: claim.map_or(Amount::ZERO, |c| c.cumulative_claimed),
            last_claim_tx: claim.map(|c| c.last_tx_hash.clone()),
            slashed: sum(|s| s.slashed.0),
            rounds,
        }
    }
}

/// The Merkle proof a worker claims with, against the latest root on chain, and the call that claims with it.
#[derive(Debug, Serialize)]
pub(super) struct Proof {
    task_id: u64,
    worker: String,
    round: u32,
    cumulative_amount: Amount,
    proof: Vec<String>,
    rewards_root: String,
    /// Claimed so far, as the chain reported it.
    claimed: Amount,
    /// What a claim now would pay.
    claimable: Amount,
    /// `claim(task, cumulative_amount, proof)`, for the worker's wallet to sign.
    call: UnsignedCall,
}

pub(super) async fn proof(
    State(state): State<AppState>,
    Path((task, worker)): Path<(u64, String)>,
) -> Result<ApiJson<Proof>, ApiError> {
    let worker = address(&worker)?;
    let standing = Standing::load(&state, task).await?;
    if standing.finalized == 0 {
        return Err(ApiError::NotFound(format!("a finalized round of task {task}")));
    }
    let tree = crate::manifest::reward_tree(task, &standing.reward_leaves()).map_err(ApiError::Internal)?;
    let root = format!("{:#x}", tree.root());
    if standing.finalized_root.as_deref() != Some(root.as_str()) {
        return Err(ApiError::Internal(eyre::eyre!(
            "task {task} round {}: stored root differs from {root}",
            standing.finalized
        )));
    }
    let account: Address = worker.parse().map_err(|_| ApiError::BadRequest(format!("{worker:?} is not an address")))?;
    let (amount, proof) =
        tree.claim(account).ok_or_else(|| ApiError::NotFound(format!("rewards of {worker} in task {task}")))?;
    let cumulative = u128::try_from(amount).map_err(|e| ApiError::Internal(e.into()))?;
    let claimed = standing.claims.get(&worker).map_or(0, |c| c.cumulative_claimed.0);
    let marketplace = state
        .domain
        .verifying_contract
        .ok_or_else(|| ApiError::Internal(eyre::eyre!("the EIP-712 domain names no marketplace")))?;
    let call = Marketplace::claimCall { taskId: U256::from(task), cumulativeAmount: amount, proof: proof.clone() };
    Ok(ApiJson(Proof {
        task_id: task,
        worker,
        round: standing.finalized,
        cumulative_amount: Amount(cumulative),
        proof: proof.iter().map(|node| format!("{node:#x}")).collect(),
        rewards_root: root,
        claimed: Amount(claimed),
        claimable: Amount(cumulative.saturating_sub(claimed)),
        call: UnsignedCall::new("Claim the rewards", marketplace, call.abi_encode()),
    }))
}

/// An account's tasks, with what it earned and claimed in each.
pub(super) async fn account(
    State(state): State<AppState>,
    Path(worker): Path<String>,
) -> Result<ApiJson<Vec<WorkerSummary>>, ApiError> {
    let worker = address(&worker)?;
    let mut out = Vec::new();
    for task in state.db.list_tasks(None).await? {
        let joined = state.db.get_worker(task.task_id, &worker).await?.is_some();
        if joined || !state.db.worker_scores(task.task_id, &worker).await?.is_empty() {
            out.push(Standing::load(&state, task.task_id).await?.summary(task.task_id, &worker));
        }
    }
    Ok(ApiJson(out))
}

async fn find_task(state: &AppState, task: u64) -> Result<Task, ApiError> {
    state.db.get_task(task).await?.ok_or_else(|| ApiError::NotFound(format!("task {task}")))
}

/// A path's address, lowercase 0x-hex as the database keeps it.
fn address(text: &str) -> Result<String, ApiError> {
    let parsed: Address = text.parse().map_err(|_| ApiError::BadRequest(format!("{text:?} is not an address")))?;
    Ok(format!("{parsed:#x}"))
}
