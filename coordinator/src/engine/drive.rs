//! Driving the tasks: each task this coordinator runs gets a runner of its own, so a task that is slow (a long
//! aggregation, a fetch that times out) or failing never delays another's rounds; and every duty is held under a
//! lease in the database, so that replicas sharing it never drive one task at once, and a replica that dies gives
//! its tasks up to another once its leases lapse.
//!
//! Two kinds of duty: `chain:<account>` (following the chain, publishing drafted models and the chain writer, which
//! gives out that account's nonces, so only one replica may send from it) and `task:<id>` (one task's rounds). A
//! step that outlasts a lease keeps it renewed; a replica that cannot renew stops the step, which the next holder
//! repeats: every step is idempotent and ends in one compare-and-set.

use super::Engine;
use crate::LiveEvent;
use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::{Arc, PoisonError, atomic::Ordering},
    time::{Instant, SystemTime, UNIX_EPOCH},
};
use tessera_db::{RoundPhase, TaskStatus};
use tokio::{
    sync::{broadcast, watch},
    task::JoinHandle,
};

/// What wakes the engine's loops before their tick, so a round never waits out a tick between two steps: a
/// transaction queued wakes the chain duties to send it, one settled (mined or failed) wakes the task runners to
/// take the next step. Submissions and the chain's events reach the task runners through the live feed.
#[derive(Clone, Debug)]
pub(super) struct Nudges {
    queued: Arc<watch::Sender<()>>,
    settled: Arc<watch::Sender<()>>,
}

impl Default for Nudges {
    fn default() -> Self {
        Self { queued: Arc::new(watch::Sender::new(())), settled: Arc::new(watch::Sender::new(())) }
    }
}

impl Nudges {
    /// A transaction was queued in the outbox.
    pub(super) fn queued(&self) {
        self.queued.send_replace(());
    }
}

/// The fewest passes' worth of time between two passes over a task woken by events: a burst of a thousand
/// submissions wakes its runner at most ten times a tick.
const WOKEN_PASSES_PER_TICK: u32 = 10;

/// A name for this process among the replicas: its host, process id and start time, so a restarted process is a
/// new replica and never mistakes the leases of its former self for its own.
pub(super) fn replica_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map_or_else(|| "host".to_owned(), |h| h.trim().to_owned());
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{host}:{}:{started:x}", std::process::id())
}

/// Resolves at the next live event about task `id` (a submission, a worker joining, …), or when events were missed.
async fn next_event_of(feed: &mut broadcast::Receiver<LiveEvent>, id: u64) {
    loop {
        match feed.recv().await {
            Ok(event) if event.task_id != id => {}
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// The lease of one task's rounds.
fn task_lease(task_id: u64) -> String {
    format!("task:{task_id}")
}

impl Engine {
    /// The lease of this account's chain duties.
    fn chain_lease(&self) -> String {
        format!("chain:{:#x}", self.chain.account())
    }

    /// Runs until `shutdown` resolves: the chain duties every tick, and a runner for every task of this
    /// coordinator's account that is not over. A failed pass is logged and retried on the next tick.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let (stop, stopping) = watch::channel(false);
        let mut runners: HashMap<u64, JoinHandle<()>> = HashMap::new();
        let mut over: HashSet<u64> = HashSet::new();
        let mut queued = self.nudges.queued.subscribe();
        loop {
            queued.borrow_and_update();
            match self.pass().await {
                Ok(tasks) => {
                    for (id, runner) in runners.extract_if(|_, runner| runner.is_finished()) {
                        // A runner ends when its task is over (or panics; a new one takes the task up again).
                        if runner.await.is_ok() {
                            over.insert(id);
                        }
                    }
                    for id in tasks.into_iter().filter(|id| !over.contains(id)) {
                        runners
                            .entry(id)
                            .or_insert_with(|| tokio::spawn(self.clone().drive_task(id, stopping.clone())));
                    }
                }
                Err(error) => {
                    self.live.counters.engine_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %tessera_net::redact_urls(&format!("{error:#}")), "engine pass failed; retrying");
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.settings.tick) => {}
                _ = queued.changed() => {}
            }
        }
        let _ = stop.send(true);
        for (_, runner) in runners {
            let _ = runner.await;
        }
        self.release(&self.chain_lease()).await;
    }

    /// The chain duties, if this replica holds them: follow the chain, publish drafted models, drive the outbox.
    /// Returns the tasks of this coordinator's account that may still need driving, whoever holds the duties.
    pub async fn pass(&self) -> eyre::Result<Vec<u64>> {
        let lease = self.chain_lease();
        if self.hold(&lease).await? {
            let duties = async {
                let indexed = crate::indexer::index_events(
                    &self.chain,
                    &self.db,
                    self.settings.index_batch,
                    self.settings.confirmations,
                )
                .await?;
                for event in &indexed.events {
                    if let Some(event) = LiveEvent::chain(event) {
                        self.live.publish(event);
                    }
                }
                self.publish_drafted_models().await?;
                self.writer.drive().await
            };
            if self.while_held(&lease, duties).await?.transpose()?.is_some_and(|moved| moved > 0) {
                self.nudges.settled.send_replace(());
            }
        }
        let me = format!("{:#x}", self.chain.account());
        let tasks = self.db.list_tasks(None).await?;
        Ok(tasks
            .into_iter()
            .filter(|t| t.coordinator == me && t.status != TaskStatus::Cancelled)
            .map(|t| t.task_id)
            .collect())
    }

    /// One task's runner: a pass over it every tick until it is over or the engine stops. A step in progress when
    /// the engine stops is dropped; the next start repeats it.
    async fn drive_task(self, id: u64, mut stopping: watch::Receiver<bool>) {
        let lease = task_lease(id);
        tracing::debug!(task = id, "task runner started");
        let mut settled = self.nudges.settled.subscribe();
        let mut feed = self.live.subscribe();
        let least_gap = self.settings.tick / WOKEN_PASSES_PER_TICK;
        loop {
            // What happened before this pass, the pass sees; only what happens from here on wakes the next one.
            settled.borrow_and_update();
            feed = feed.resubscribe();
            let pass_started = Instant::now();
            let more = tokio::select! {
                more = self.task_pass(id, &lease) => more,
                _ = stopping.wait_for(|stop| *stop) => break,
            };
            match more {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    self.live.counters.engine_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(task = id, error = %tessera_net::redact_urls(&format!("{error:#}")), "task pass failed; retrying");
                }
            }
            tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(self.settings.tick) => {}
                _ = settled.changed() => {}
                () = next_event_of(&mut feed, id) => {}
            }
            tokio::time::sleep_until((pass_started + least_gap).into()).await;
        }
        self.release(&lease).await;
        tracing::debug!(task = id, "task runner stopped");
    }

    /// Takes task `id` as far as it can go now, if this replica holds its lease and the task is not waiting out
    /// a fault; whether the task may still need driving. A failure is the task's own: it is recorded as its fault
    /// and retried later.
    async fn task_pass(&self, id: u64, lease: &str) -> eyre::Result<bool> {
        let Some(task) = self.db.get_task(id).await? else { return Ok(false) };
        if self.is_over(&task).await? {
            return Ok(false);
        }
        if !self.hold(lease).await? {
            return Ok(true);
        }
        let fault = self.db.get_task_fault(id).await?;
        if fault.as_ref().is_some_and(|fault| fault.retry_at_ms > crate::now_ms()) {
            return Ok(true);
        }
        match self.while_held(lease, self.advance_task(&task)).await? {
            // The lease went to another replica mid-step; it repeats the step.
            None => {}
            Some(Ok(())) if fault.is_some() => {
                self.db.clear_task_fault(id).await?;
                tracing::info!(task = id, "the task advances again");
            }
            Some(Ok(())) => {}
            Some(Err(error)) => self.record_fault(id, fault.as_ref(), &error).await?,
        }
        Ok(true)
    }

    /// Whether nothing is left to do for `task`: cancelled, or ended with its last round recorded as finalized (and,
    /// for a confidential task that publishes its keys, those queued).
    async fn is_over(&self, task: &tessera_db::Task) -> eyre::Result<bool> {
        Ok(match task.status {
            TaskStatus::Cancelled => true,
            TaskStatus::Ended if task.current_round == 0 => true,
            TaskStatus::Ended => {
                let recorded = self
                    .db
                    .get_round(task.task_id, task.current_round)
                    .await?
                    .is_none_or(|round| round.phase == RoundPhase::Finalized);
                recorded && !self.keys_due(task).await?
            }
            TaskStatus::Open | TaskStatus::Running => false,
        })
    }

    /// Takes or renews the lease `name` for this replica; whether it holds it. A lease renewed less than a third
    /// of its term ago is held without asking the database again: nobody can take it before it lapses.
    async fn hold(&self, name: &str) -> eyre::Result<bool> {
        let now = crate::now_ms();
        let term = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let fresh = |until: &i64| until.saturating_sub(now) > term.saturating_mul(2) / 3;
        if self.leases.lock().unwrap_or_else(PoisonError::into_inner).get(name).is_some_and(fresh) {
            return Ok(true);
        }
        let until = now.saturating_add(term);
        let held = self.db.try_lease(name, &self.settings.replica, now, until).await?;
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        if held {
            leases.insert(name.to_owned(), until);
        } else {
            leases.remove(name);
            tracing::trace!(lease = name, "held by another replica");
        }
        Ok(held)
    }

    /// Gives the lease `name` up.
    async fn release(&self, name: &str) {
        self.leases.lock().unwrap_or_else(PoisonError::into_inner).remove(name);
        if let Err(error) = self.db.release_lease(name, &self.settings.replica).await {
            tracing::warn!(lease = name, %error, "could not give the lease up; it lapses by itself");
        }
    }

    /// Runs `work` while renewing the lease `name` every third of its term; `None` if the lease was lost first (to
    /// a replica that took it over when this one stalled past its term), in which case `work` is dropped.
    async fn while_held<T>(&self, name: &str, work: impl Future<Output = T>) -> eyre::Result<Option<T>> {
        tokio::pin!(work);
        let every = (self.settings.lease / 3).max(std::time::Duration::from_millis(10));
        loop {
            tokio::select! {
                done = &mut work => return Ok(Some(done)),
                () = tokio::time::sleep(every) => {
                    if !self.hold(name).await? {
                        tracing::warn!(lease = name, "lost the lease mid-step; the replica holding it now repeats the step");
                        return Ok(None);
                    }
                }
            }
        }
    }
}
