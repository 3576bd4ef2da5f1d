//! The run loop: for each round, wait for it to open (woken by the coordinator's live feed, polling at the
//! latest), fetch the global checkpoint, train, upload the update, sign and send it, and keep the receipt, until
//! the task ends.
//!
//! Every decision is one of [`crate::round`]'s pure functions; this module does the I/O. Before
//! training in a round the worker asks the coordinator whether it already holds a submission of
//! this worker; it keeps each trained update until the coordinator acknowledges it, and records
//! each signed update before sending it, so a worker killed at any point (or an upload that fails)
//! resumes without training twice or sending two different updates.

use crate::{
    Error, Result,
    api::{CoordinatorClient, Info, RoundView, SubmissionRequest, TaskStatus, TaskView, Wakeups},
    chain::RoundRecords,
    data,
    progress::TrainBar,
    red_team::{self, Attack},
    round::{self, Refusal, RoundAction, Step},
    sealing::WorkerSealing,
    state::{Pending, Prepared, StateDir, StoredReceipt, TrainingSummary},
    update::{self, Behaviour, Job, Public},
};
use alloy::{
    primitives::{B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use bytes::Bytes;
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tessera_chain::eip712::{self, Submission};
use tessera_storage::{Cid, ContentStore};
use tessera_train::{ArchitectureId, Dataset, DecodeLimits, FileKind, Parameters, TrainConfig, WeightsFile, WireDtype};
use tracing::{info, warn};

/// The longest pause between retries after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The task.
    pub task_id: u64,
    /// How often to ask the coordinator whether something changed, at the longest: its live feed wakes the worker
    /// as soon as a round opens or the task ends.
    pub poll_interval: Duration,
    /// Stop after submitting to this many rounds.
    pub max_rounds: Option<u32>,
    /// How to train (its seed is replaced by each round's).
    pub train: TrainConfig,
    /// Fixes the training seeds (otherwise drawn from the address and round).
    pub train_seed: Option<u64>,
    /// Honest or not.
    pub behaviour: Behaviour,
    /// How update values are stored.
    pub dtype: WireDtype,
    /// Whether to draw progress bars.
    pub progress_bars: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Rounds with a receipt from this run (sent now, or found at the coordinator on resuming).
    pub submitted: Vec<u32>,
    /// Rounds that closed before this worker could submit.
    pub missed: Vec<u32>,
    /// How the task ended, if it did (`None` when `max_rounds` stopped the run).
    pub finished: Option<TaskStatus>,
}

/// A worker on one task.
#[derive(Debug)]
pub struct Worker {
    api: CoordinatorClient,
    store: Arc<dyn ContentStore>,
    signer: PrivateKeySigner,
    info: Info,
    domain: Eip712Domain,
    state: StateDir,
    data: Dataset,
    flipped: Option<Dataset>,
    config: WorkerConfig,
    records: Option<Arc<dyn RoundRecords>>,
    /// The task's sealing, read once (`None` inside for a public task).
    sealing: tokio::sync::OnceCell<Option<WorkerSealing>>,
}

/// One look at the task.
enum Tick {
    /// The task is over.
    Finished(TaskStatus),
    /// Nothing to do yet.
    Wait(String),
    /// A round was worked on.
    Worked(u32, Outcome),
    /// A passing failure; try again after a pause.
    Retry(String),
}

/// How a round went.
enum Outcome {
    /// The coordinator holds this worker's submission.
    Submitted(Box<StoredReceipt>),
    /// The round closed first.
    Missed(String),
    /// Nothing to do yet.
    NotYet(String),
    /// A passing failure; try again after a pause.
    Retry(String),
}

impl Worker {
    /// A worker signing with `signer` for the coordinator described by `info`, training on `data`.
    pub fn new(
        api: CoordinatorClient,
        store: Arc<dyn ContentStore>,
        signer: PrivateKeySigner,
        info: Info,
        state: StateDir,
        data: Dataset,
        config: WorkerConfig,
    ) -> Result<Self> {
        let flipped = match config.behaviour {
            Behaviour::RedTeam(Attack::LabelFlip) => Some(red_team::flip_labels(&data)?),
            _ => None,
        };
        let domain = eip712::domain(info.chain_id, info.marketplace);
        Ok(Self {
            api,
            store,
            signer,
            info,
            domain,
            state,
            data,
            flipped,
            config,
            records: None,
            sealing: tokio::sync::OnceCell::new(),
        })
    }

    /// Checks every round's checkpoint against the one the chain recorded before training on it: a coordinator
    /// cannot hand this worker another model than the round's.
    pub fn with_round_records(mut self, records: Arc<dyn RoundRecords>) -> Self {
        self.records = Some(records);
        self
    }

    /// Works every round until the task ends (or `max_rounds` are submitted). Failures that may
    /// pass (the coordinator or IPFS restarting) are retried with a growing pause; others end the run.
    ///
    /// Training blocks the calling thread (`block_in_place`): run this on a multi-threaded runtime.
    #[tracing::instrument(name = "worker", skip_all, fields(task = self.config.task_id, worker = %self.signer.address()))]
    pub async fn run(&mut self) -> Result<RunSummary> {
        let mut summary = RunSummary::default();
        let mut handled = self.state.receipts()?.last().map(|stored| stored.receipt.round);
        let mut backoff = self.config.poll_interval;
        let mut last_wait = String::new();
        let wakeups = Wakeups::follow(self.api.clone(), self.config.task_id);
        loop {
            let tick = match self.api.task(self.config.task_id).await {
                Ok(task) => self.tick(&task, handled).await,
                Err(error) if error.api_status() == Some(404) => {
                    Ok(Tick::Wait(format!("the coordinator does not know task {} (yet)", self.config.task_id)))
                }
                Err(error) => Err(error),
            };
            let tick = match tick {
                Ok(tick) => tick,
                Err(error) if error.is_transient() => Tick::Retry(error.report()),
                Err(error) => return Err(error),
            };
            match tick {
                Tick::Finished(status) => {
                    info!(?status, "the task is over: done");
                    summary.finished = Some(status);
                    return Ok(summary);
                }
                Tick::Retry(reason) | Tick::Worked(_, Outcome::Retry(reason)) => {
                    warn!(?backoff, "{reason}; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Tick::Worked(round, Outcome::Submitted(stored)) => {
                    report(&stored);
                    handled = Some(round);
                    summary.submitted.push(round);
                    if self.config.max_rounds.is_some_and(|max| summary.submitted.len() >= max as usize) {
                        info!(
                            rounds = summary.submitted.len(),
                            "submitted to as many rounds as --rounds asked: stopping"
                        );
                        return Ok(summary);
                    }
                }
                Tick::Worked(round, Outcome::Missed(reason)) => {
                    warn!(round, "missed the round: {reason}");
                    handled = Some(round);
                    summary.missed.push(round);
                }
                Tick::Wait(reason) | Tick::Worked(_, Outcome::NotYet(reason)) => {
                    if reason != last_wait {
                        info!("{reason}");
                        last_wait = reason;
                    }
                    wakeups.wait(self.config.poll_interval).await;
                }
            }
            backoff = self.config.poll_interval;
        }
    }

    async fn tick(&self, task: &TaskView, handled: Option<u32>) -> Result<Tick> {
        Ok(match round::next_step(task, handled) {
            Step::Finished(status) => Tick::Finished(status),
            Step::Wait(reason) => Tick::Wait(reason),
            Step::Work(round) => Tick::Worked(round, self.work(task, round).await?),
        })
    }

    #[tracing::instrument(name = "round", skip_all, fields(round))]
    async fn work(&self, task: &TaskView, round: u32) -> Result<Outcome> {
        let me = self.signer.address();
        let view = self.api.round(task.task_id, round).await?;
        let submissions = match &view {
            Some(_) => self.api.submissions(task.task_id, round).await?,
            None => Vec::new(),
        };
        let pending = self.state.pending(round)?;
        match round::round_action(view.as_ref(), &submissions, pending, me, now_ms()) {
            RoundAction::Wait => Ok(Outcome::NotYet(format!("waiting for round {round} to open"))),
            RoundAction::Missed(reason) => {
                self.state.forget_round(round)?;
                Ok(Outcome::Missed(reason))
            }
            RoundAction::Recorded(mine) => {
                let Some(receipt) = round::receipt_from_listing(task.task_id, &mine, self.info.coordinator) else {
                    return Ok(Outcome::NotYet(format!(
                        "round {round}: the coordinator withholds this worker's update"
                    )));
                };
                info!(cid = %receipt.update_cid, "the coordinator already holds this worker's update");
                self.keep(receipt).map(|stored| Outcome::Submitted(Box::new(stored)))
            }
            RoundAction::Sealed => Ok(Outcome::NotYet(format!(
                "round {round}: the coordinator holds this worker's update and lists its receipt when the window closes"
            ))),
            RoundAction::Resend(pending) => {
                info!(cid = %pending.update_cid, "sending again the update signed before a restart");
                self.send(task.task_id, pending).await
            }
            RoundAction::Produce => {
                let view = view.expect("a round to produce for is known");
                match self.produce(task, &view).await? {
                    Some(pending) => self.send(task.task_id, pending).await,
                    None => Ok(Outcome::NotYet(format!(
                        "round {round}: the red team has nothing to send this round (nothing to copy yet, or sitting it out)"
                    ))),
                }
            }
        }
    }

    /// Refuses a round checkpoint other than the one the chain recorded. A round the chain has not recorded yet
    /// (its `startRound` not mined) and an unreachable chain only warn: the coordinator checks the parent of
    /// every update against the round's checkpoint too.
    async fn check_recorded(&self, task: u64, round: u32, global: Cid) -> Result<()> {
        let Some(records) = &self.records else { return Ok(()) };
        match records.global_model_cid(task, round).await {
            Ok(recorded) if recorded == B256::from(global.to_bytes32()) => Ok(()),
            Ok(recorded) if recorded.is_zero() => {
                warn!(round, "the chain has not recorded this round's checkpoint yet; trusting the coordinator's");
                Ok(())
            }
            Ok(recorded) => Err(Error::Task(format!(
                "the coordinator gives {global} as round {round}'s checkpoint, but the chain recorded {}: \
                 refusing to train on it",
                Cid::from_digest(recorded.0)
            ))),
            Err(error) => {
                warn!(round, "could not read round {round}'s checkpoint on chain: {}", error.report());
                Ok(())
            }
        }
    }

    /// The task's model, a module checked against this worker's images and classes the first time.
    async fn architecture(&self, word: B256) -> Result<ArchitectureId> {
        crate::model::architecture(self.store.as_ref(), word, data::input_of(&self.data)?).await
    }

    /// Makes the update (or takes the one made before a restart), uploads and signs it, and records
    /// it as pending; `None` when a copycat has nothing to copy yet.
    async fn produce(&self, task: &TaskView, view: &RoundView) -> Result<Option<Pending>> {
        let arch = self.architecture(task.model_architecture_id).await?;
        data::check_fits(&self.data, arch)?;
        let round = view.round;
        let global_cid = view.global_model_cid;
        self.check_recorded(task.task_id, round, global_cid).await?;
        let global_text = global_cid.to_string();
        let (bytes, training) = match self.state.prepared(round)? {
            Some((prepared, bytes)) if prepared.global_model_cid == global_text => {
                info!("using the update trained before a restart");
                (bytes, prepared.training)
            }
            _ => {
                let Some((delta, training)) = self.make(task, view, arch, &global_cid).await? else { return Ok(None) };
                let bytes = update::encode(arch, round, &global_text, training.samples, self.config.dtype, delta)?;
                let prepared = Prepared { round, global_model_cid: global_text.clone(), training };
                self.state.save_prepared(&prepared, &bytes)?;
                (bytes, prepared.training)
            }
        };
        // The count the kept file's header states, should the data options have changed since.
        let num_samples = training.samples;
        let upload = match self.sealing(task).await? {
            Some(sealing) => sealing.seal_update(round, &bytes),
            None => bytes,
        };
        let update_cid = self.store.put(Bytes::from(upload)).await?;
        let typed = Submission {
            taskId: U256::from(task.task_id),
            round,
            worker: self.signer.address(),
            updateCid: B256::from(update_cid.to_bytes32()),
            numSamples: num_samples,
        };
        let signature = eip712::sign(&self.signer, &typed, &self.domain)?;
        let pending = Pending {
            round,
            global_model_cid: global_text,
            update_cid: update_cid.to_string(),
            num_samples,
            signature: signature.to_string(),
            training,
        };
        self.state.save_pending(&pending)?;
        Ok(Some(pending))
    }

    /// Trains (or, for the red team, forges) the round's update; `None` when an attack has nothing to forge
    /// from yet.
    async fn make(
        &self,
        task: &TaskView,
        view: &RoundView,
        arch: ArchitectureId,
        global_cid: &Cid,
    ) -> Result<Option<(Parameters, TrainingSummary)>> {
        let round = view.round;
        let public = if self.config.behaviour.reads_public_updates() {
            self.public(task.task_id, view, arch).await?
        } else {
            Public::default()
        };
        let global = self.fetch_global(task, round, global_cid, arch).await?;
        if self.config.behaviour.trains() {
            info!(samples = self.data.len(), checkpoint = %global_cid, "training");
        }
        let train = TrainConfig {
            seed: round::train_seed(self.config.train_seed, self.signer.address(), round),
            ..self.config.train
        };
        let job = Job {
            arch,
            round,
            global: &global,
            data: &self.data,
            flipped: self.flipped.as_ref(),
            config: &train,
            behaviour: self.config.behaviour,
            public: &public,
        };
        let bar = TrainBar::new(round, self.config.progress_bars && self.config.behaviour.trains());
        let made = tokio::task::block_in_place(|| update::make(&job, |progress| bar.step(&progress)));
        bar.finish();
        Ok(made?.map(|made| (made.delta, made.summary)))
    }

    /// What the red team can read of the previous round: its updates (the current round's are withheld
    /// until the window closes) and the global model's change in it.
    async fn public(&self, task_id: u64, view: &RoundView, arch: ArchitectureId) -> Result<Public> {
        let Some(previous) = view.round.checked_sub(1).filter(|&r| r > 0) else { return Ok(Public::default()) };
        let listing = self.api.submissions(task_id, previous).await?;
        let (others, own) = red_team::public_updates(&listing, self.signer.address());
        let mut public = Public::default();
        // A confidential task's updates and earlier checkpoints are sealed for others: nothing there to read.
        for cid in others {
            if let Some(update) = self.fetch_public(&cid, arch, FileKind::Update).await? {
                public.previous_updates.push(update.into_values());
            }
        }
        if let Some(cid) = own {
            public.own_previous = self.fetch_public(&cid, arch, FileKind::Update).await?.map(Parameters::into_values);
        }
        if let Some(before) = self.api.round(task_id, previous).await?
            && let Some(before) = self.fetch_public(&before.global_model_cid, arch, FileKind::Checkpoint).await?
            && let Some(after) = self.fetch_public(&view.global_model_cid, arch, FileKind::Checkpoint).await?
        {
            public.previous_global_change =
                Some(after.values().iter().zip(before.values()).map(|(a, b)| a - b).collect());
        }
        let read = public.previous_updates.len();
        info!(read, previous, "the red team read the updates of the previous round");
        Ok(public)
    }

    /// The task's sealing, read the first time it is needed; `None` for a public task.
    async fn sealing(&self, task: &TaskView) -> Result<Option<&WorkerSealing>> {
        let loaded = self
            .sealing
            .get_or_try_init(|| async {
                let secret = self.signer.to_bytes();
                let place = (self.info.chain_id, self.info.marketplace);
                let sealing =
                    WorkerSealing::load(self.store.as_ref(), task, self.records.as_deref(), secret.as_slice(), place)
                        .await?;
                if let Some(sealing) = &sealing {
                    info!("the task is {}", sealing.describe());
                }
                Ok::<_, Error>(sealing)
            })
            .await?;
        Ok(loaded.as_ref())
    }

    /// Round `round`'s global model: opened with the key the coordinator wraps for this worker when sealed.
    async fn fetch_global(&self, task: &TaskView, round: u32, cid: &Cid, arch: ArchitectureId) -> Result<Parameters> {
        let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
        let bytes = self.store.get(cid, limits.max_bytes as u64 + tessera_seal::MAX_OVERHEAD).await?;
        if !tessera_seal::is_sealed(&bytes) {
            return Ok(WeightsFile::decode(&bytes, &limits)?.parameters);
        }
        let sealing = self.sealing(task).await?.ok_or_else(|| {
            Error::Task(format!("round {round}'s global model {cid} is sealed, but the task has no access policy"))
        })?;
        let plaintext = sealing.open_global(&self.api, round, cid, &bytes).await?;
        Ok(WeightsFile::decode(&plaintext, &limits)?.parameters)
    }

    /// A public artefact, or `None` when it is sealed (for others than this worker).
    async fn fetch_public(&self, cid: &Cid, arch: ArchitectureId, kind: FileKind) -> Result<Option<Parameters>> {
        let limits = DecodeLimits::expecting(arch, kind);
        let bytes = self.store.get(cid, limits.max_bytes as u64 + tessera_seal::MAX_OVERHEAD).await?;
        if tessera_seal::is_sealed(&bytes) {
            return Ok(None);
        }
        Ok(Some(WeightsFile::decode(&bytes, &limits)?.parameters))
    }

    async fn send(&self, task_id: u64, pending: Pending) -> Result<Outcome> {
        let round = pending.round;
        let request = SubmissionRequest {
            worker: format!("{:#x}", self.signer.address()),
            update_cid: pending.update_cid.clone(),
            num_samples: pending.num_samples,
            signature: pending.signature.clone(),
        };
        let error = match self.api.submit(task_id, round, &request).await {
            Ok(receipt) => {
                if receipt.round != round || receipt.update_cid.to_string() != pending.update_cid {
                    warn!(receipt_round = receipt.round, receipt_cid = %receipt.update_cid, "the receipt names another round or update");
                }
                return self.keep(receipt).map(|stored| Outcome::Submitted(Box::new(stored)));
            }
            Err(error) => error,
        };
        match round::classify(&error) {
            Refusal::AlreadySubmitted => {
                let listed = self.api.submissions(task_id, round).await?;
                let Some(mine) = listed.into_iter().find(|s| s.worker == self.signer.address()) else {
                    return Ok(Outcome::Retry(format!("round {round}: {error}, but the listing lacks it")));
                };
                let Some(receipt) = round::receipt_from_listing(task_id, &mine, self.info.coordinator) else {
                    return Ok(Outcome::NotYet(format!(
                        "round {round}: {error}; its receipt is listed when the window closes"
                    )));
                };
                self.keep(receipt).map(|stored| Outcome::Submitted(Box::new(stored)))
            }
            Refusal::Closed => {
                self.state.forget_round(round)?;
                Ok(Outcome::Missed(error.to_string()))
            }
            Refusal::NotJoined => {
                Err(Error::Task(format!("{error}: stake first with `tessera-worker join --task {task_id}` (same key)")))
            }
            Refusal::Retry => Ok(Outcome::Retry(format!("round {round}: {}", error.report()))),
            Refusal::Fatal => Err(error),
        }
    }

    /// Checks and stores a receipt, with the training summary of the pending submission it answers.
    fn keep(&self, receipt: crate::api::Receipt) -> Result<StoredReceipt> {
        let verified = round::verify_receipt(&receipt, &self.domain, self.info.coordinator);
        if !verified {
            warn!(
                round = receipt.round,
                coordinator = %self.info.coordinator,
                "the receipt is not signed by the coordinator; keeping it, marked unverified"
            );
        }
        let training = self
            .state
            .pending(receipt.round)?
            .filter(|pending| pending.update_cid == receipt.update_cid.to_string())
            .map(|pending| pending.training);
        let stored = StoredReceipt { receipt, receipt_verified: verified, training };
        self.state.save_receipt(&stored)?;
        Ok(stored)
    }
}

fn report(stored: &StoredReceipt) {
    let receipt = &stored.receipt;
    let metrics = match &stored.training {
        Some(t) => match (t.loss, t.accuracy) {
            (Some(loss), Some(accuracy)) => format!(
                ", loss {loss:.4}, accuracy {:.1}%, {} steps in {:.1}s on {} ({:.0} samples/s)",
                accuracy * 100.0,
                t.steps,
                t.wall_ms as f64 / 1000.0,
                t.device,
                t.samples_per_s.unwrap_or_default()
            ),
            _ => format!(", {} (not trained)", t.behaviour),
        },
        None => String::new(),
    };
    info!(
        round = receipt.round,
        cid = %receipt.update_cid,
        samples = receipt.num_samples,
        receipt = receipt.sequence,
        verified = stored.receipt_verified,
        "submitted{metrics}"
    );
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
