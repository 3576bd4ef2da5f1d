use super::{
    ApiError, ApiJson, ApiPath,
    params::{AccountPath, RoundPath, TaskPath, WorkerPath},
    wire,
};
use crate::{AppState, manifest::RewardRecord, task_draft};
use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use axum::{Extension, extract::State};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tessera_api::{
    self as api, ClaimProof, Health, Info, RoundDetail, RoundSummary, SubmissionListing, TaskView, WorkerSummary,
    responses,
};
use tessera_chain::Marketplace;
use tessera_db::{Amount, Claim, Membership, RoundPhase, Score, Task, TaskFault, Worker};

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = OK, description = "The database answers.", body = Health), responses::Internal))]
pub(super) async fn health(State(state): State<AppState>) -> Result<ApiJson<Health>, ApiError> {
    state.db.ping().await?;
    Ok(ApiJson(Health { status: "ok".to_owned() }))
}

/// What a worker or the dashboard needs to sign and verify: the EIP-712 domain's parts.
#[utoipa::path(get, path = "/api/v1/info", tag = "tasks", responses((status = OK, description = "The chain, marketplace and signing coordinator.", body = Info)))]
pub(super) async fn info(State(state): State<AppState>) -> ApiJson<Info> {
    ApiJson(Info {
        chain_id: state.domain.chain_id.map_or(0, |id| id.to::<u64>()),
        marketplace: state.domain.verifying_contract.unwrap_or_default(),
        coordinator: state.signer.address(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

async fn task_view(state: &AppState, task: Task, fault: Option<TaskFault>) -> Result<TaskView, ApiError> {
    let workers = state.db.list_workers(task.task_id).await?;
    let active = workers.iter().filter(|w| w.status == Membership::Active).count();
    let access = access(state, &task).await?;
    wire::task(task, active as u64, workers.len() as u64, fault, access)
}

/// A confidential task's access policy as this coordinator reads it (once; then from memory), with what the
/// accountant makes of its privacy settings over all its rounds. A policy that cannot be read is shown by its CID
/// alone: the task's own page says so, and the engine's fault says why.
async fn access(state: &AppState, task: &Task) -> Result<Option<tessera_api::TaskAccess>, ApiError> {
    let Some(cid) = crate::sealing::policy_cid(&task.config) else { return Ok(None) };
    let policy_cid = wire::parse("access policy CID", &cid)?;
    let read = tokio::time::timeout(state.config.fetch_timeout, state.sealer.for_task(state.content.as_ref(), task));
    let policy = match read.await {
        Ok(Ok(sealing)) => sealing.map(|s| s.policy),
        Ok(Err(_)) | Err(_) => None,
    };
    let epsilon = policy.as_ref().and_then(|p| p.privacy).map(|privacy| {
        tessera_scoring::privacy::epsilon(privacy.noise_multiplier, u64::from(task.num_rounds), privacy.delta).epsilon
    });
    Ok(Some(tessera_api::TaskAccess { policy_cid, policy, epsilon }))
}

/// Every task this coordinator knows, oldest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    responses((status = OK, description = "Every task.", body = Vec<TaskView>), responses::Internal))]
pub(super) async fn tasks(State(state): State<AppState>) -> Result<ApiJson<Vec<TaskView>>, ApiError> {
    let mut faults: BTreeMap<u64, TaskFault> =
        state.db.list_task_faults().await?.into_iter().map(|fault| (fault.task_id, fault)).collect();
    let mut out = Vec::new();
    for task in state.db.list_tasks(None).await? {
        let fault = faults.remove(&task.task_id);
        out.push(task_view(&state, task, fault).await?);
    }
    Ok(ApiJson(out))
}

/// A task.
#[utoipa::path(get, path = "/api/v1/tasks/{task}", tag = "tasks", params(TaskPath),
    responses((status = OK, description = "The task.", body = TaskView), responses::NotFound, responses::Internal))]
pub(super) async fn task(
    State(state): State<AppState>,
    ApiPath(TaskPath { task }): ApiPath<TaskPath>,
) -> Result<ApiJson<TaskView>, ApiError> {
    let found = find_task(&state, task).await?;
    let fault = state.db.get_task_fault(task).await?;
    Ok(ApiJson(task_view(&state, found, fault).await?))
}

/// A task's rounds, with the coordinator's transactions for each.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/rounds", tag = "rounds", params(TaskPath),
    responses((status = OK, description = "Its rounds, oldest first.", body = Vec<RoundSummary>), responses::NotFound, responses::Internal))]
pub(super) async fn rounds(
    State(state): State<AppState>,
    ApiPath(TaskPath { task }): ApiPath<TaskPath>,
) -> Result<ApiJson<Vec<RoundSummary>>, ApiError> {
    find_task(&state, task).await?;
    let mut transactions: BTreeMap<u32, Vec<api::RoundTx>> = BTreeMap::new();
    for tx in state.db.list_txs(Some(task)).await? {
        if let Some(round) = tx.round {
            transactions.entry(round).or_default().push(wire::round_tx(tx)?);
        }
    }
    let mut out = Vec::new();
    for round in state.db.list_rounds(task).await? {
        let transactions = transactions.remove(&round.round).unwrap_or_default();
        out.push(RoundSummary { round: wire::round(&round)?, transactions });
    }
    Ok(ApiJson(out))
}

/// A round with its scores.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/rounds/{round}", tag = "rounds", params(RoundPath),
    responses((status = OK, description = "The round.", body = RoundDetail), responses::NotFound, responses::Internal))]
pub(super) async fn round(
    State(state): State<AppState>,
    ApiPath(RoundPath { task, round }): ApiPath<RoundPath>,
) -> Result<ApiJson<RoundDetail>, ApiError> {
    let found = state
        .db
        .get_round(task, round)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("round {round} of task {task}")))?;
    let scores = wire::scores(state.db.list_scores(task, round).await?)?;
    Ok(ApiJson(RoundDetail { round: wire::round(&found)?, scores }))
}

/// A round's submissions in receipt order. While the round collects, the update's CID and the signatures over it
/// are withheld: an update nobody can read before the window closes cannot be copied in time.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/rounds/{round}/submissions", tag = "rounds", params(RoundPath),
    responses((status = OK, description = "Its submissions in receipt order.", body = Vec<SubmissionListing>), responses::Internal))]
pub(super) async fn submissions(
    State(state): State<AppState>,
    ApiPath(RoundPath { task, round }): ApiPath<RoundPath>,
) -> Result<ApiJson<Vec<SubmissionListing>>, ApiError> {
    let phase = state.db.get_round(task, round).await?.map(|r| r.phase);
    let sealed = phase.is_none_or(|p| p == RoundPhase::Collecting);
    let listed = state.db.list_submissions(task, round).await?;
    Ok(ApiJson(listed.into_iter().map(|s| wire::submission(s, sealed)).collect::<Result<_, _>>()?))
}

/// Every worker of a task: those who joined in the order they joined, then any scored without a join on record.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/workers", tag = "workers", params(TaskPath),
    responses((status = OK, description = "Its workers.", body = Vec<WorkerSummary>), responses::NotFound, responses::Internal))]
pub(super) async fn workers(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<StandingCache>>,
    ApiPath(TaskPath { task }): ApiPath<TaskPath>,
) -> Result<ApiJson<Vec<WorkerSummary>>, ApiError> {
    let standing = cache.get(&state, task).await?;
    let mut addresses = standing.join_order.clone();
    for worker in standing.reputations.keys().chain(standing.scores.keys()) {
        if !addresses.contains(worker) {
            addresses.push(worker.clone());
        }
    }
    Ok(ApiJson(addresses.iter().map(|address| standing.summary(task, address)).collect::<Result<_, _>>()?))
}

/// A worker's standing in a task.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/workers/{worker}", tag = "workers", params(WorkerPath),
    responses((status = OK, description = "The worker's standing.", body = WorkerSummary), responses::BadRequest, responses::NotFound,
        responses::Internal))]
pub(super) async fn worker(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<StandingCache>>,
    ApiPath(WorkerPath { task, worker }): ApiPath<WorkerPath>,
) -> Result<ApiJson<WorkerSummary>, ApiError> {
    let worker = format!("{:#x}", address(&worker)?);
    Ok(ApiJson(cache.get(&state, task).await?.summary(task, &worker)?))
}

/// Each task's [`Standing`], read once and reused by every request for [`crate::Config::read_cache_ms`] while the
/// task's latest round keeps its phase: a flood of worker and proof requests costs two small queries each, not a
/// read of every score of every round. A round changing phase (finalized: a new rewards root) reads it again at
/// once, so a proof is never one against a root the chain has replaced.
#[derive(Default)]
pub(super) struct StandingCache {
    entries: Mutex<HashMap<u64, Cached>>,
}

struct Cached {
    read_at: Instant,
    version: (u32, Option<RoundPhase>),
    standing: Arc<Standing>,
}

/// Tasks whose standing is kept; past it, the oldest reads are dropped.
const MAX_CACHED_TASKS: usize = 1024;

impl StandingCache {
    async fn get(&self, state: &AppState, task: u64) -> Result<Arc<Standing>, ApiError> {
        let found = find_task(state, task).await?;
        let phase = state.db.get_round(task, found.current_round).await?.map(|r| r.phase);
        let version = (found.current_round, phase);
        let fresh_for = Duration::from_millis(state.config.read_cache_ms);
        {
            let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(cached) = entries.get(&task)
                && cached.version == version
                && cached.read_at.elapsed() < fresh_for
            {
                return Ok(Arc::clone(&cached.standing));
            }
        }
        let standing = Arc::new(Standing::load(state, task).await?);
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_TASKS {
            entries.retain(|_, cached| cached.read_at.elapsed() < fresh_for);
        }
        if entries.len() < MAX_CACHED_TASKS {
            entries.insert(task, Cached { read_at: Instant::now(), version, standing: Arc::clone(&standing) });
        }
        Ok(standing)
    }
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

    fn summary(&self, task: u64, worker: &str) -> Result<WorkerSummary, ApiError> {
        let joined = self.joined.get(worker);
        let claim = self.claims.get(worker);
        let rounds = self.scores.get(worker).cloned().unwrap_or_default();
        let sum = |pick: fn(&Score) -> u128| api::Amount::from(rounds.iter().map(pick).sum::<u128>());
        Ok(WorkerSummary {
            task_id: task,
            worker: wire::parse("worker", worker)?,
            status: joined.map(|w| wire::membership(w.status)),
            stake: wire::amount(joined.map_or(Amount::ZERO, |w| w.stake)),
            reputation: self.reputations.get(worker).copied(),
            reputation_history: rounds.iter().filter_map(|s| s.reputation).collect(),
            rewards: sum(|s| s.reward.get()),
            finalized_rewards: api::Amount::from(self.finalized_rewards(worker)),
            claimed: wire::amount(claim.map_or(Amount::ZERO, |c| c.cumulative_claimed)),
            last_claim_tx: claim.map(|c| wire::parse("claim transaction", &c.last_tx_hash)).transpose()?,
            slashed: sum(|s| s.slashed.get()),
            rounds: wire::scores(rounds)?,
        })
    }
}

/// The Merkle proof a worker claims with, against the latest root on chain, and the call that claims with it.
#[utoipa::path(get, path = "/api/v1/tasks/{task}/workers/{worker}/proof", tag = "workers", params(WorkerPath),
    responses((status = OK, description = "The proof and the call.", body = ClaimProof), responses::BadRequest,
        (status = NOT_FOUND, description = "No finalized round yet, or nothing earned.", body = api::ErrorBody),
        responses::Internal))]
pub(super) async fn proof(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<StandingCache>>,
    ApiPath(WorkerPath { task, worker }): ApiPath<WorkerPath>,
) -> Result<ApiJson<ClaimProof>, ApiError> {
    let account = address(&worker)?;
    let worker = format!("{account:#x}");
    let standing = cache.get(&state, task).await?;
    if standing.finalized == 0 {
        return Err(ApiError::NotFound(format!("a finalized round of task {task}")));
    }
    let tree = crate::manifest::reward_tree(task, &standing.reward_leaves()).map_err(ApiError::Internal)?;
    let root = tree.root();
    if standing.finalized_root.as_deref() != Some(format!("{root:#x}").as_str()) {
        return Err(ApiError::Internal(eyre::eyre!(
            "task {task} round {}: stored root differs from {root:#x}",
            standing.finalized
        )));
    }
    let (amount, proof) =
        tree.claim(account).ok_or_else(|| ApiError::NotFound(format!("rewards of {worker} in task {task}")))?;
    let cumulative = u128::try_from(amount).map_err(|e| ApiError::Internal(e.into()))?;
    let claimed = standing.claims.get(&worker).map_or(0, |c| c.cumulative_claimed.get());
    let marketplace = state
        .domain
        .verifying_contract
        .ok_or_else(|| ApiError::Internal(eyre::eyre!("the EIP-712 domain names no marketplace")))?;
    let call = Marketplace::claimCall { taskId: U256::from(task), cumulativeAmount: amount, proof: proof.clone() };
    Ok(ApiJson(ClaimProof {
        task_id: task,
        worker: account,
        round: standing.finalized,
        cumulative_amount: api::Amount::from(amount),
        proof,
        rewards_root: root,
        claimed: api::Amount::from(claimed),
        claimable: api::Amount::from(cumulative.saturating_sub(claimed)),
        call: task_draft::unsigned_call("Claim the rewards", marketplace, call.abi_encode()),
    }))
}

/// An account's tasks, with what it earned and claimed in each.
#[utoipa::path(get, path = "/api/v1/accounts/{worker}", tag = "workers", params(AccountPath),
    responses((status = OK, description = "Its standing in each task it joined or was scored in.", body = Vec<WorkerSummary>), responses::BadRequest, responses::Internal))]
pub(super) async fn account(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<StandingCache>>,
    ApiPath(AccountPath { worker }): ApiPath<AccountPath>,
) -> Result<ApiJson<Vec<WorkerSummary>>, ApiError> {
    let worker = format!("{:#x}", address(&worker)?);
    let mut out = Vec::new();
    for task in state.db.list_tasks(None).await? {
        let joined = state.db.get_worker(task.task_id, &worker).await?.is_some();
        if joined || !state.db.worker_scores(task.task_id, &worker).await?.is_empty() {
            out.push(cache.get(&state, task.task_id).await?.summary(task.task_id, &worker)?);
        }
    }
    Ok(ApiJson(out))
}

async fn find_task(state: &AppState, task: u64) -> Result<Task, ApiError> {
    state.db.get_task(task).await?.ok_or_else(|| ApiError::NotFound(format!("task {task}")))
}

/// A path's address; the database keeps it as lowercase 0x-hex (`{:#x}`).
fn address(text: &str) -> Result<Address, ApiError> {
    text.parse().map_err(|_| ApiError::BadRequest(format!("{text:?} is not an address")))
}
