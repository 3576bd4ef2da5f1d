//! The round engine: for every task this coordinator runs, it opens rounds, closes their windows, scores and
//! aggregates, publishes the checkpoint and manifest, and finalizes on chain.
//!
//! [`decide`] is the state machine, a pure function of the database. This module only gathers its [`View`]
//! and carries out its [`Step`]s; [`drive`] runs each task on its own, under a lease, so one slow or failing task
//! never holds up another, and several replicas on one database never drive a task at once. Each step is
//! idempotent and ends in one compare-and-set of the round's phase (or one outbox row), so a crash anywhere is
//! repaired by running the step again.

mod aggregate;
mod decide;
mod drive;

pub use decide::{Step, View, decide};

use crate::{
    Live, LiveEvent,
    content::{ModelLookup, cid_text, cid_word, load_manifest},
    fault,
    manifest::{self, StrategySpec},
    sealing::{Sealer, TaskSealing},
    spool::Spool,
    validation::{Validator, ValidatorPool},
    writer::{Call, ChainWriter},
};
use alloy::{
    primitives::{B256, U256},
    sol_types::SolCall,
};
use eyre::WrapErr;
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tessera_chain::{IMarketplace, Marketplace, MarketplaceClient};
use tessera_db::{Membership, NewRound, RoundPatch, RoundPhase, Store, Task, TaskFault, TaskStatus};
use tessera_scoring::ScoringConfig;
use tessera_seal::{KeyRelease, ReleasedKey, ReleasedSeed};
use tessera_storage::ContentStore;
use tessera_train::ArchitectureId;

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
    /// Blocks on top of one before the indexer reads it.
    pub confirmations: u64,
    /// How a requester's TorchScript module is looked up.
    pub model_lookup: ModelLookup,
    /// This process among the replicas sharing the database: the name its leases are held under.
    pub replica: String,
    /// How long a lease lasts unless renewed; a replica that dies gives up its tasks this long after.
    pub lease: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(500),
            min_workers: 1,
            strategy: StrategySpec::default(),
            scoring: ScoringConfig::default(),
            index_batch: 2_000,
            confirmations: 0,
            model_lookup: ModelLookup {
                input: ArchitectureId::Lenet5MnistV1.input(),
                fetch_timeout: Duration::from_secs(20),
                scripts: false,
            },
            replica: drive::replica_name(),
            lease: Duration::from_secs(15),
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
    validator: Option<Arc<ValidatorPool>>,
    spool: Option<Spool>,
    /// The leases this replica holds, and until when (see `drive.rs`).
    leases: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    /// Wakes the chain duties and the task runners between ticks (see `drive.rs`).
    nudges: drive::Nudges,
    settings: EngineSettings,
    live: Live,
    chain_id: u64,
    /// The coordinator's keys for confidential tasks.
    sealer: Option<Arc<Sealer>>,
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
        Self {
            db,
            content,
            chain,
            writer,
            validator: None,
            spool: None,
            leases: Arc::default(),
            nudges: drive::Nudges::default(),
            settings,
            live,
            chain_id,
            sealer: None,
        }
    }

    /// Opens and seals the artefacts of confidential tasks with `sealer`'s keys.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The sealing of a confidential task, `None` for a public one.
    async fn sealing(&self, task: &Task) -> eyre::Result<Option<TaskSealing>> {
        if crate::sealing::policy_cid(&task.config).is_none() {
            return Ok(None);
        }
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            eyre::eyre!("task {} is confidential, and this engine holds no coordinator key to open it", task.task_id)
        })?;
        sealer.for_task(self.content.as_ref(), task).await
    }

    /// The task's model (see [`crate::content::architecture_of`]).
    async fn architecture(&self, task: &Task) -> eyre::Result<ArchitectureId> {
        let settings = &self.settings;
        let hex = &task.model_architecture_id;
        crate::content::architecture_of(self.content.as_ref(), hex, settings.model_lookup).await
    }

    /// Evaluates aggregates on `validator` (for tasks of its architecture).
    pub fn with_validator(mut self, validator: Option<Validator>) -> Self {
        self.validator = validator.map(|v| Arc::new(ValidatorPool::new(v)));
        self
    }

    /// Reads receipted updates from `spool` before fetching them, and empties it of each round once finalized.
    pub fn with_spool(mut self, spool: Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Takes a task as far as it can go now. Several steps can follow each other at once (close, aggregate,
    /// enqueue), but a transaction waits for the writer's next pass.
    #[tracing::instrument(level = "debug", skip_all, fields(task = task.task_id))]
    async fn advance_task(&self, task: &Task) -> eyre::Result<()> {
        for _ in 0..8 {
            let task = self.db.get_task(task.task_id).await?.unwrap_or_else(|| task.clone());
            let step = decide(&self.view(&task).await?);
            if !self.carry_out(&task, &step).await? {
                break;
            }
        }
        Ok(())
    }

    /// Records that a task failed again, and when to retry it: after the tick, doubling with each failure in a
    /// row up to [`MAX_RETRY_DELAY`].
    async fn record_fault(&self, task_id: u64, before: Option<&TaskFault>, error: &eyre::Report) -> eyre::Result<()> {
        self.live.counters.engine_errors.fetch_add(1, Ordering::Relaxed);
        let now = crate::now_ms();
        let failures = before.map_or(1, |fault| fault.failures.saturating_add(1));
        let delay = retry_delay(self.settings.tick, failures);
        // The fault is public (the API and the dashboard show it): no credential of a URL it quotes goes with it.
        let message = tessera_net::redact_urls(&format!("{error:#}"));
        tracing::warn!(task = task_id, failures, retry_in = ?delay, error = %message, "the task failed; the others go on");
        let fault = TaskFault {
            task_id,
            message,
            failures,
            first_failed_at_ms: before.map_or(now, |fault| fault.first_failed_at_ms),
            last_failed_at_ms: now,
            retry_at_ms: now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        };
        self.db.put_task_fault(&fault).await?;
        self.live.publish(LiveEvent::fault(task_id));
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
            self.db.list_workers(task.task_id).await?.iter().filter(|w| w.status == Membership::Active).count() as u64;
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
        // Only the active workers' submissions count towards closing the window early: one that submitted and
        // then left must not close it on an honest worker still training.
        let submissions = match &round {
            Some(r) => self.db.count_active_submissions(task.task_id, r.round).await?,
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
            keys_due: self.keys_due(task).await?,
        })
    }

    /// Whether the task is over and its policy asks for its content keys to be published, and they are not queued
    /// yet.
    pub(super) async fn keys_due(&self, task: &Task) -> eyre::Result<bool> {
        if task.status != TaskStatus::Ended || crate::sealing::policy_cid(&task.config).is_none() {
            return Ok(false);
        }
        let publishes = self.sealing(task).await?.is_some_and(|s| s.policy.publish_keys);
        Ok(publishes && self.db.get_tx_by_key(&keys_key(task.task_id)).await?.is_none())
    }

    /// Every content key of a task: each finalized round's checkpoint's, and each update's its manifest lists.
    async fn key_release(&self, task: &Task, sealing: &TaskSealing) -> eyre::Result<KeyRelease> {
        let id = task.task_id;
        let (mut keys, mut noise_seeds) = (Vec::new(), Vec::new());
        for r in 1..=task.current_round {
            let Some(round) = self.db.get_round(id, r).await? else { continue };
            let (Some(model), Some(manifest_cid)) = (round.new_model_cid, round.manifest_cid) else { continue };
            keys.push(ReleasedKey { key: sealing.checkpoint_key(r, &model, &[])?, cid: model });
            keys.push(ReleasedKey { key: sealing.manifest_release_key(r)?, cid: manifest_cid.clone() });
            if sealing.policy.privacy.is_some() {
                noise_seeds.push(ReleasedSeed { round: r, seed: sealing.noise_seed(r, &[])? });
            }
            let manifest = load_manifest(self.content.as_ref(), &manifest_cid, Some((sealing, r))).await?;
            let arch = self.architecture(task).await?;
            let max_bytes = tessera_train::DecodeLimits::expecting(arch, tessera_train::FileKind::Update).max_bytes
                as u64
                + tessera_seal::MAX_OVERHEAD;
            let failed: std::collections::HashSet<&str> = manifest.failures.iter().map(|f| f.worker.as_str()).collect();
            for submission in manifest.submissions.iter().filter(|s| !failed.contains(s.worker.as_str())) {
                // Every update the round used must be in the release (a fetch that fails is retried next pass); one
                // that never opened was a failure of its round, and there is no key of it to give.
                let bytes = self.content.get(&submission.update_cid.parse()?, max_bytes).await?;
                let key = sealing.update_key(r, &submission.worker, &submission.update_cid, &bytes)?;
                keys.push(ReleasedKey { cid: submission.update_cid.clone(), key });
            }
        }
        Ok(KeyRelease {
            format: tessera_seal::KEYS_FORMAT.into(),
            chain_id: self.chain_id,
            marketplace: format!("{:#x}", self.chain.address()),
            task_id: id,
            keys,
            noise_seeds,
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
                // A model this coordinator cannot train or score (an unknown architecture, a requester's module
                // that does not fit) faults the task here, before any round asks workers to train it.
                let arch = self.architecture(task).await?;
                let global = self.global_cid(task, r).await?;
                if r == 1 {
                    crate::content::fetch_checkpoint(self.content.as_ref(), arch, &global, None)
                        .await
                        .wrap_err_with(|| format!("the initial model {global} is no checkpoint of {arch}"))?;
                }
                let call = Marketplace::startRoundCall { taskId: U256::from(id), globalModelCid: cid_word(&global)? };
                let call = Call { to: self.chain.address(), data: call.abi_encode().into() };
                self.db.enqueue(&call.into_outbox(start_key(id, r), "start_round", id, r)?).await?;
                self.nudges.queued();
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
                if let Some(spool) = &self.spool
                    && let Err(error) = spool.forget_round(id, r).await
                {
                    tracing::warn!(task = id, round = r, %error, "could not empty the spool of a finalized round");
                }
                Ok(true)
            }
            Step::PublishKeys => {
                let sealing = self.sealing(task).await?.ok_or_else(|| eyre::eyre!("task {id} is not confidential"))?;
                let release = self.key_release(task, &sealing).await?;
                let cid = self.content.put(bytes::Bytes::from(serde_json::to_vec_pretty(&release)?)).await?;
                let call = Marketplace::publishContentKeysCall {
                    taskId: U256::from(id),
                    keysCid: cid_word(&cid.to_string())?,
                };
                let call = Call { to: self.chain.address(), data: call.abi_encode().into() };
                let round = task.current_round;
                self.db.enqueue(&call.into_outbox(keys_key(id), "publish_content_keys", id, round)?).await?;
                self.nudges.queued();
                tracing::info!(task = id, %cid, keys = release.keys.len(), "the task's content keys are published");
                Ok(false)
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

    async fn enqueue_finalize(&self, task: &Task, r: u32) -> eyre::Result<()> {
        let id = task.task_id;
        let round = self.db.get_round(id, r).await?.ok_or_else(|| eyre::eyre!("round {r} of task {id} is gone"))?;
        let (Some(model), Some(manifest_cid), Some(root), Some(total)) =
            (&round.new_model_cid, &round.manifest_cid, &round.rewards_root, round.cumulative_rewards_total)
        else {
            eyre::bail!("round {r} of task {id} is publishing without its results");
        };
        let sealing = self.sealing(task).await?;
        let manifest = load_manifest(self.content.as_ref(), manifest_cid, sealing.as_ref().map(|s| (s, r))).await?;
        let mut slashes = manifest
            .slashes
            .iter()
            .map(|s| {
                Ok(IMarketplace::Slash {
                    worker: s.worker.parse()?,
                    amount: s.amount.parse()?,
                    reason: manifest::slash_reason_code(s.reason),
                })
            })
            .collect::<eyre::Result<Vec<_>>>()?;
        // The contract takes the list in ascending order of address, each worker once.
        slashes.sort_by_key(|s| s.worker);
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
        self.nudges.queued();
        self.advance(id, r, RoundPhase::Publishing, RoundPhase::Finalizing, &RoundPatch::default()).await?;
        Ok(())
    }
}

/// The longest a failing task waits before it is tried again.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// The wait before the next attempt at a task that failed `failures` times in a row: the tick, doubled with each
/// failure, at most [`MAX_RETRY_DELAY`].
fn retry_delay(tick: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    tick.max(Duration::from_millis(100)).saturating_mul(1 << doublings).min(MAX_RETRY_DELAY)
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

fn keys_key(task_id: u64) -> String {
    format!("keys:{task_id}")
}

fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
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
    fn a_failing_task_waits_longer_after_each_failure_up_to_a_bound() {
        let tick = Duration::from_millis(500);
        let delays: Vec<Duration> = (1..=4).map(|failures| retry_delay(tick, failures)).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000].map(Duration::from_millis));
        assert_eq!(retry_delay(tick, 40), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(Duration::ZERO, 1), Duration::from_millis(100), "a zero tick still waits");
    }
}
