//! The round engine: for every task this coordinator runs, it opens rounds, closes their windows, scores and
//! aggregates, publishes the checkpoint and manifest, and finalizes on chain.
//!
//! [`decide`] is the state machine, a pure function of the database. This module only gathers its [`View`]
//! and carries out its [`Step`]s. Each step is idempotent and ends in one compare-and-set of the round's phase
//! (or one outbox row), so a crash anywhere is repaired by running the step again.

mod decide;

pub use decide::{Step, View, decide};

use crate::{
    Live, LiveEvent, fault,
    round::{self, ComputeInput, FetchedUpdate, MANIFEST_FORMAT, Manifest, StrategySpec, SubmissionRecord},
    validation::Validator,
    writer::{Call, ChainWriter},
};
use alloy::{
    primitives::{Address, B256, U256},
    sol_types::SolCall,
};
use bytes::Bytes;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};
use tessera_chain::{IMarketplace, Marketplace, MarketplaceClient};
use tessera_db::{
    Amount, NewRound, NewScore, Reputation, RoundMetrics, RoundPatch, RoundPhase, Store, Task, TaskStatus, WorkerStatus,
};
use tessera_scoring::{Failure, Reason, ScorerState, ScoringConfig, WorkerId};
use tessera_storage::{Cid, ContentStore};
use tessera_train::{ArchitectureId, DecodeLimits, FileKind, WeightsFile};

/// `IMarketplace.WorkerStatus.Active`.
const ACTIVE_WORKER: u8 = 1;

/// The largest manifest read back.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// The pause between passes over the tasks.
    pub tick: Duration,
    /// Workers that must have joined before a task's first round starts.
    pub min_workers: u64,
    /// How updates are aggregated.
    pub strategy: StrategySpec,
    /// The scorer's settings.
    pub scoring: ScoringConfig,
    /// Blocks the indexer reads per pass.
    pub index_batch: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(500),
            min_workers: 1,
            strategy: StrategySpec::default(),
            scoring: ScoringConfig::default(),
            index_batch: 2_000,
        }
    }
}

/// The engine and everything it talks to.
#[derive(Clone)]
pub struct Engine {
    db: Store,
    content: Arc<dyn ContentStore>,
    chain: MarketplaceClient,
    writer: ChainWriter,
    validator: Option<Arc<Mutex<Validator>>>,
    settings: EngineSettings,
    live: Live,
    chain_id: u64,
}

impl Engine {
    /// An engine driving the tasks whose coordinator is `chain`'s account, without a validation set.
    pub fn new(
        db: Store,
        content: Arc<dyn ContentStore>,
        chain: MarketplaceClient,
        writer: ChainWriter,
        settings: EngineSettings,
        live: Live,
    ) -> Self {
        let chain_id = writer.chain_id();
        Self { db, content, chain, writer, validator: None, settings, live, chain_id }
    }

    /// Evaluates aggregates on `validator` (for tasks of its architecture).
    pub fn with_validator(mut self, validator: Option<Validator>) -> Self {
        self.validator = validator.map(|v| Arc::new(Mutex::new(v)));
        self
    }

    /// Runs passes until `shutdown` resolves; a failed pass is logged and retried on the next tick.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.pass().await {
                self.live.counters.engine_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %format!("{error:#}"), "engine pass failed; retrying");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.settings.tick) => {}
            }
        }
    }

    /// One pass: follow the chain, drain the outbox, and take every task as far as it can go now.
    pub async fn pass(&self) -> eyre::Result<()> {
        let indexed = crate::indexer::index_events(&self.chain, &self.db, self.settings.index_batch).await?;
        for event in &indexed.events {
            if let Some(event) = LiveEvent::chain(event) {
                self.live.publish(event);
            }
        }
        self.publish_drafted_models().await?;
        self.writer.drive().await?;
        let me = format!("{:#x}", self.chain.account());
        for task in self.db.list_tasks(None).await? {
            if task.coordinator != me || task.status == TaskStatus::Cancelled {
                continue;
            }
            // Several steps can follow each other at once (close, aggregate, enqueue), but a transaction
            // waits for the writer's next pass.
            for _ in 0..8 {
                let task = self.db.get_task(task.task_id).await?.unwrap_or_else(|| task.clone());
                let step = decide(&self.view(&task).await?);
                if !self.carry_out(&task, &step).await? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Publishes the initial models of tasks created from the dashboard's drafts: each checkpoint is rebuilt
    /// from its architecture and seed, and must hash to the CID the task names. A failure is retried next pass.
    async fn publish_drafted_models(&self) -> eyre::Result<()> {
        for draft in self.db.drafts_to_publish().await? {
            let architecture: ArchitectureId = draft.architecture.parse().map_err(|_| {
                eyre::eyre!("draft {} names architecture {:?}", draft.initial_model_cid, draft.architecture)
            })?;
            let model = crate::task_draft::initial_checkpoint(architecture, draft.seed)?;
            let published = self.content.put(model).await?;
            eyre::ensure!(
                published.to_string() == draft.initial_model_cid,
                "the rebuilt initial model {published} differs from the draft's {}",
                draft.initial_model_cid
            );
            self.db.mark_draft_published(&draft.initial_model_cid, crate::now_ms()).await?;
            tracing::info!(cid = %published, "published a drafted initial model");
        }
        Ok(())
    }

    async fn view(&self, task: &Task) -> eyre::Result<View> {
        let round = match task.current_round {
            0 => None,
            r => self.db.get_round(task.task_id, r).await?,
        };
        let phase = round.as_ref().map(|r| r.phase);
        let active_workers =
            self.db.list_workers(task.task_id).await?.iter().filter(|w| w.status == WorkerStatus::Active).count()
                as u64;
        let (tx_key, tx_round) = match phase {
            None | Some(RoundPhase::Finalized) => {
                (start_key(task.task_id, task.current_round + 1), task.current_round + 1)
            }
            _ => (finalize_key(task.task_id, task.current_round), task.current_round),
        };
        let tx = self.db.get_tx_by_key(&tx_key).await?.map(|tx| tx.state);
        let chain_done = match tx {
            Some(tessera_db::TxState::Failed | tessera_db::TxState::Replaced) => {
                self.chain_shows(task.task_id, tx_round, phase).await?
            }
            _ => false,
        };
        let submissions = match &round {
            Some(r) => self.db.count_submissions(task.task_id, r.round).await?,
            None => 0,
        };
        Ok(View {
            status: task.status,
            num_rounds: task.num_rounds,
            current_round: task.current_round,
            phase,
            tx,
            chain_done,
            active_workers,
            min_workers: self.settings.min_workers,
            submissions,
            deadline_passed: round.as_ref().is_some_and(|r| crate::now_ms() > r.deadline_ms),
        })
    }

    /// Whether the chain shows round `round` started (while none is open here) or finalized.
    async fn chain_shows(&self, task_id: u64, round: u32, phase: Option<RoundPhase>) -> eyre::Result<bool> {
        let on_chain = self.chain.round(U256::from(task_id), round).await?;
        Ok(match phase {
            None | Some(RoundPhase::Finalized) => on_chain.startedAt.to::<u64>() > 0,
            _ => on_chain.finalizedAt.to::<u64>() > 0,
        })
    }

    /// Does one step; whether another may follow at once.
    async fn carry_out(&self, task: &Task, step: &Step) -> eyre::Result<bool> {
        let id = task.task_id;
        match *step {
            Step::Wait(_) => Ok(false),
            Step::Stuck(ref why) => {
                tracing::error!(task = id, why, "task needs an operator");
                Ok(false)
            }
            Step::EnqueueStart(r) => {
                let global = self.global_cid(task, r).await?;
                let call = Marketplace::startRoundCall { taskId: U256::from(id), globalModelCid: cid_word(&global)? };
                let call = Call { to: self.chain.address(), data: call.abi_encode().into() };
                self.db.enqueue(&call.into_outbox(start_key(id, r), "start_round", id, r)?).await?;
                tracing::info!(task = id, round = r, "startRound queued");
                Ok(false)
            }
            Step::OpenRound(r) => {
                let on_chain = self.chain.round(U256::from(id), r).await?;
                let new = NewRound {
                    task_id: id,
                    round: r,
                    global_model_cid: cid_text(on_chain.globalModelCid)?,
                    deadline_ms: seconds_to_ms(on_chain.deadline.to::<u64>()),
                    started_at_ms: seconds_to_ms(on_chain.startedAt.to::<u64>()),
                };
                match self.db.insert_round(&new).await {
                    Ok(_) | Err(tessera_db::Error::Duplicate { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
                tracing::info!(task = id, round = r, deadline_ms = new.deadline_ms, "round open");
                self.live.publish(LiveEvent::round(id, r, RoundPhase::Collecting));
                Ok(true)
            }
            Step::CloseWindow(r) => {
                if self.advance(id, r, RoundPhase::Collecting, RoundPhase::Aggregating, &RoundPatch::default()).await? {
                    fault::crash_point("after-submissions");
                }
                Ok(true)
            }
            Step::Aggregate(r) => {
                self.aggregate(task, r).await?;
                Ok(true)
            }
            Step::EnqueueFinalize(r) => {
                self.enqueue_finalize(task, r).await?;
                Ok(false)
            }
            Step::MarkFinalized(r) => {
                let patch = RoundPatch { finalized_at_ms: Some(crate::now_ms()), ..RoundPatch::default() };
                if self.advance(id, r, RoundPhase::Finalizing, RoundPhase::Finalized, &patch).await? {
                    self.live.counters.rounds_finalized.fetch_add(1, Ordering::Relaxed);
                }
                Ok(true)
            }
            Step::EndTask => {
                if task.status == TaskStatus::Ended {
                    return Ok(false);
                }
                self.db.set_task_status(id, TaskStatus::Ended).await?;
                self.live.publish(LiveEvent::task(id, TaskStatus::Ended));
                tracing::info!(task = id, "every round finalized; task ended");
                Ok(false)
            }
        }
    }

    async fn advance(
        &self,
        id: u64,
        r: u32,
        from: RoundPhase,
        to: RoundPhase,
        patch: &RoundPatch,
    ) -> eyre::Result<bool> {
        let won = self.db.advance_round_phase_with(id, r, from, to, patch).await?;
        if won {
            tracing::info!(task = id, round = r, phase = %to, "round phase");
            self.live.publish(LiveEvent::round(id, r, to));
        }
        Ok(won)
    }

    async fn global_cid(&self, task: &Task, round: u32) -> eyre::Result<String> {
        if round <= 1 {
            return Ok(task.initial_model_cid.clone());
        }
        let previous = self.db.get_round(task.task_id, round - 1).await?;
        previous
            .and_then(|r| r.new_model_cid)
            .ok_or_else(|| eyre::eyre!("round {} of task {} has no aggregate", round - 1, task.task_id))
    }

    async fn previous_manifest(&self, task_id: u64, round: u32) -> eyre::Result<Option<Manifest>> {
        if round <= 1 {
            return Ok(None);
        }
        let previous = self.db.get_round(task_id, round - 1).await?;
        let cid = previous
            .and_then(|r| r.manifest_cid)
            .ok_or_else(|| eyre::eyre!("round {} of task {task_id} has no manifest", round - 1))?;
        Ok(Some(load_manifest(self.content.as_ref(), &cid).await?))
    }

    /// Scores and aggregates round `r`, publishes the checkpoint and the manifest, stores the scores, and moves
    /// the round to publishing. Deterministic: after a crash it computes the same CIDs again.
    async fn aggregate(&self, task: &Task, r: u32) -> eyre::Result<()> {
        let started = Instant::now();
        let id = task.task_id;
        let arch = architecture_of(&task.model_architecture_id)?;
        let round = self.db.get_round(id, r).await?.ok_or_else(|| eyre::eyre!("round {r} of task {id} is gone"))?;
        let previous = self.previous_manifest(id, r).await?;
        let (state_before, previous_rewards) =
            previous.map_or_else(|| (ScorerState::default(), Vec::new()), |m| (m.scorer_state_after, m.rewards));
        let global = fetch_checkpoint(self.content.as_ref(), arch, &round.global_model_cid).await?;

        let mut records: Vec<SubmissionRecord> = self
            .db
            .list_submissions(id, r)
            .await?
            .into_iter()
            .map(|s| SubmissionRecord {
                worker: s.worker,
                update_cid: s.update_cid,
                num_samples: s.num_samples,
                sequence: s.sequence,
                received_at_ms: s.received_at_ms,
                signature: s.signature,
                receipt_signature: s.receipt_signature,
            })
            .collect();
        records.sort_by_key(|s| s.sequence);
        let fetch_started = Instant::now();
        let (updates, failures) =
            fetch_updates(self.content.as_ref(), arch, r, &round.global_model_cid, &records).await;
        let fetch_ms = elapsed_ms(fetch_started);
        let mut roster: Vec<String> = self
            .db
            .list_workers(id)
            .await?
            .into_iter()
            .filter(|w| w.status == WorkerStatus::Active)
            .map(|w| w.worker)
            .collect();
        roster.sort();
        let reward = round::round_reward(task.reward_pool.0, task.num_rounds, r);

        let validator = self.validator.clone().filter(|v| v.lock().is_ok_and(|v| v.architecture() == arch));
        let (strategy, scoring) = (self.settings.strategy.clone(), self.settings.scoring.clone());
        let global_cid = round.global_model_cid.clone();
        let scoring_started = Instant::now();
        let (computation, updates, failures, roster, state_before) = tokio::task::spawn_blocking(move || {
            let input = ComputeInput {
                architecture: arch,
                round: r,
                global: &global,
                global_cid: &global_cid,
                updates: &updates,
                failures: &failures,
                roster: &roster,
                reward,
                strategy: &strategy,
                scoring: &scoring,
                state_before: &state_before,
            };
            let mut guard = validator.as_ref().map(|v| v.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let evaluator = guard.as_deref_mut().map(|v| v as &mut dyn tessera_scoring::Evaluator);
            let computation = round::compute(&input, evaluator);
            (computation, updates, failures, roster, state_before)
        })
        .await?;
        let computation = computation?;
        let scoring_ms = elapsed_ms(scoring_started);
        drop(updates);
        let publish_started = Instant::now();

        let new_model_cid = self.content.put(Bytes::from(computation.checkpoint)).await?;
        let stakes = self.stakes(id, &computation.result).await?;
        let slashes = round::slashes_in_tokens(&computation.result, &stakes);
        let rewards = round::cumulative_rewards(&previous_rewards, &computation.result)?;
        let tree = round::reward_tree(id, &rewards)?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            chain_id: self.chain_id,
            marketplace: format!("{:#x}", self.chain.address()),
            coordinator: format!("{:#x}", self.chain.account()),
            task_id: id,
            round: r,
            architecture: arch.name().into(),
            global_model_cid: round.global_model_cid.clone(),
            new_model_cid: new_model_cid.to_string(),
            strategy: self.settings.strategy.clone(),
            scoring: self.settings.scoring.clone(),
            round_reward: reward.to_string(),
            roster,
            submissions: records,
            failures,
            scorer_state_before: state_before,
            scorer_state_after: computation.state_after.clone(),
            result: computation.result.clone(),
            slashes: slashes.clone(),
            rewards,
            rewards_root: format!("{:#x}", tree.root()),
            cumulative_rewards_total: tree.total().to_string(),
        };
        let manifest_cid = self.content.put(Bytes::from(serde_json::to_vec_pretty(&manifest)?)).await?;

        self.db.replace_scores(id, r, &scores(&manifest)?).await?;
        self.db.upsert_reputations(&reputations(id, r, &computation.state_after)?).await?;
        let metrics = RoundMetrics {
            accuracy: computation.result.metrics.map(|m| m.accuracy),
            loss: computation.result.metrics.map(|m| m.loss),
            fetch_ms: Some(fetch_ms),
            scoring_ms: Some(scoring_ms),
            publish_ms: Some(elapsed_ms(publish_started)),
            published_at_ms: Some(crate::now_ms()),
        };
        let patch = RoundPatch {
            new_model_cid: Some(new_model_cid.to_string()),
            manifest_cid: Some(manifest_cid.to_string()),
            rewards_root: Some(manifest.rewards_root.clone()),
            cumulative_rewards_total: Some(Amount(u128::try_from(tree.total())?)),
            metrics: Some(metrics),
            finalized_at_ms: None,
        };
        if self.advance(id, r, RoundPhase::Aggregating, RoundPhase::Publishing, &patch).await? {
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.live.counters.aggregation_ms.fetch_add(elapsed, Ordering::Relaxed);
            self.live.counters.rounds_aggregated.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                task = id,
                round = r,
                %new_model_cid,
                %manifest_cid,
                accuracy = metrics.accuracy,
                elapsed_ms = elapsed,
                "round aggregated and published"
            );
            fault::crash_point("after-publish");
        }
        Ok(())
    }

    /// Remaining stake of every worker the round slashes that is still active on chain.
    async fn stakes(
        &self,
        task_id: u64,
        result: &tessera_scoring::RoundResult,
    ) -> eyre::Result<BTreeMap<String, u128>> {
        let mut stakes = BTreeMap::new();
        for slash in &result.slashes {
            let account: Address = slash.worker.as_str().parse()?;
            let info = self.chain.worker(U256::from(task_id), account).await?;
            if info.status == ACTIVE_WORKER {
                stakes.insert(slash.worker.as_str().to_owned(), info.stake.to::<u128>());
            }
        }
        Ok(stakes)
    }

    async fn enqueue_finalize(&self, task: &Task, r: u32) -> eyre::Result<()> {
        let id = task.task_id;
        let round = self.db.get_round(id, r).await?.ok_or_else(|| eyre::eyre!("round {r} of task {id} is gone"))?;
        let (Some(model), Some(manifest_cid), Some(root), Some(total)) =
            (&round.new_model_cid, &round.manifest_cid, &round.rewards_root, round.cumulative_rewards_total)
        else {
            eyre::bail!("round {r} of task {id} is publishing without its results");
        };
        let manifest = load_manifest(self.content.as_ref(), manifest_cid).await?;
        let slashes = manifest
            .slashes
            .iter()
            .map(|s| {
                Ok(IMarketplace::Slash {
                    worker: s.worker.parse()?,
                    amount: s.amount.parse()?,
                    reason: round::slash_reason_code(s.reason),
                })
            })
            .collect::<eyre::Result<Vec<_>>>()?;
        let call = Marketplace::finalizeRoundCall {
            taskId: U256::from(id),
            round: r,
            newModelCid: cid_word(model)?,
            manifestCid: cid_word(manifest_cid)?,
            rewardsRoot: root.parse::<B256>()?,
            cumulativeRewardsTotal: U256::from(total.0),
            slashes,
        };
        let call = Call { to: self.chain.address(), data: call.abi_encode().into() };
        self.db.enqueue(&call.into_outbox(finalize_key(id, r), "finalize_round", id, r)?).await?;
        self.advance(id, r, RoundPhase::Publishing, RoundPhase::Finalizing, &RoundPatch::default()).await?;
        Ok(())
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn start_key(task_id: u64, round: u32) -> String {
    format!("start:{task_id}:{round}")
}

fn finalize_key(task_id: u64, round: u32) -> String {
    format!("finalize:{task_id}:{round}")
}

fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn cid_word(cid: &str) -> eyre::Result<B256> {
    Ok(B256::from(cid.parse::<Cid>()?.to_bytes32()))
}

/// The CID whose digest the chain holds as `word`.
pub(crate) fn cid_text(word: B256) -> eyre::Result<String> {
    Cid::from_bytes32(word.0).map(|c| c.to_string()).ok_or_else(|| eyre::eyre!("{word:#x} is not a CID digest"))
}

/// The architecture a task's bytes32 names.
pub fn architecture_of(hex: &str) -> eyre::Result<ArchitectureId> {
    let word: B256 = hex.parse()?;
    ArchitectureId::ALL
        .into_iter()
        .find(|arch| arch.to_bytes32() == word.0)
        .ok_or_else(|| eyre::eyre!("unknown model architecture {hex}"))
}

/// Reads and parses a manifest.
pub async fn load_manifest(content: &dyn ContentStore, cid: &str) -> eyre::Result<Manifest> {
    let bytes = content.get(&cid.parse()?, MAX_MANIFEST_BYTES).await?;
    let manifest: Manifest = serde_json::from_slice(&bytes)?;
    eyre::ensure!(manifest.format == MANIFEST_FORMAT, "manifest {cid} is {:?}, not {MANIFEST_FORMAT}", manifest.format);
    Ok(manifest)
}

/// Reads a checkpoint of `arch`.
pub async fn fetch_checkpoint(content: &dyn ContentStore, arch: ArchitectureId, cid: &str) -> eyre::Result<Vec<f32>> {
    let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
    let bytes = content.get(&cid.parse()?, limits.max_bytes as u64).await?;
    Ok(WeightsFile::decode(&bytes, &limits)?.parameters.into_values())
}

/// Fetches and decodes every submitted update; one that cannot be used becomes a failure with the reason.
pub async fn fetch_updates(
    content: &dyn ContentStore,
    arch: ArchitectureId,
    round: u32,
    global_cid: &str,
    records: &[SubmissionRecord],
) -> (Vec<FetchedUpdate>, Vec<Failure>) {
    let max_bytes = DecodeLimits::expecting(arch, FileKind::Update).max_bytes as u64;
    let mut updates = Vec::new();
    let mut failures = Vec::new();
    for record in records {
        let fetched = async {
            let bytes = content.get(&record.update_cid.parse()?, max_bytes).await?;
            round::decode_update(arch, &bytes, round, global_cid, record.num_samples)
        };
        match fetched.await {
            Ok(delta) => updates.push(FetchedUpdate { record: record.clone(), delta }),
            Err(error) => {
                failures.push(Failure { worker: WorkerId::new(record.worker.clone()), reason: format!("{error:#}") })
            }
        }
    }
    (updates, failures)
}

fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::FreeRider => "free_rider",
        Reason::Poisoning => "poisoning",
        Reason::Copy => "copy",
        Reason::NoShow => "no_show",
    }
}

/// The score rows of a round, from its manifest.
fn scores(manifest: &Manifest) -> eyre::Result<Vec<NewScore>> {
    let slashed: BTreeMap<&str, (&str, Reason)> =
        manifest.slashes.iter().map(|s| (s.worker.as_str(), (s.amount.as_str(), s.reason))).collect();
    manifest
        .result
        .workers
        .iter()
        .map(|outcome| {
            let worker = outcome.worker.as_str();
            let own: Vec<_> = manifest.result.flags.iter().filter(|f| f.worker == outcome.worker).collect();
            let flags = own.iter().map(|f| reason_name(f.reason).to_owned()).collect();
            let evidence = own
                .iter()
                .map(|f| serde_json::json!({ "reason": reason_name(f.reason), "evidence": f.evidence }))
                .collect();
            let (amount, reason) =
                slashed.get(worker).map_or(("0", None), |(a, r)| (*a, Some(reason_name(*r).to_owned())));
            Ok(NewScore {
                worker: worker.to_owned(),
                score: outcome.score,
                reward: Amount(outcome.reward),
                flags,
                slashed: Amount(amount.parse()?),
                slash_reason: reason,
                reputation: outcome.reputation,
                evidence: serde_json::Value::Array(evidence),
            })
        })
        .collect()
}

fn reputations(task_id: u64, round: u32, state: &ScorerState) -> eyre::Result<Vec<Reputation>> {
    state
        .reputation
        .entries()
        .map(|(worker, entry)| {
            Ok(Reputation {
                task_id,
                worker: worker.as_str().to_owned(),
                reputation: entry.reputation,
                participation: serde_json::to_value(state.participation.get(worker))?,
                as_of_round: round,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keys_name_the_intent() {
        assert_eq!(start_key(3, 1), "start:3:1");
        assert_eq!(finalize_key(3, 1), "finalize:3:1");
        assert_eq!(seconds_to_ms(2), 2000);
    }

    #[test]
    fn architectures_are_found_by_their_word() {
        let word = format!("{:#x}", B256::from(ArchitectureId::Lenet5MnistV1.to_bytes32()));
        assert_eq!(architecture_of(&word).unwrap(), ArchitectureId::Lenet5MnistV1);
        assert!(architecture_of(&format!("{:#x}", B256::repeat_byte(7))).is_err());
    }
}
