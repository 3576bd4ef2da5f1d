//! What the coordinator tells watchers as it happens: server-sent events for the dashboard, and counters for
//! Prometheus.

use serde::Serialize;
use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};
use tessera_db::{RoundPhase, TaskStatus};
use tokio::sync::broadcast;

/// Something that changed.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiveEvent {
    /// `round` (a phase change), `submission` (one accepted), `task` (a status change) or `chain` (a
    /// marketplace event about a task: a task created, a worker joined or left, a reward claimed).
    pub kind: &'static str,
    /// The task.
    pub task_id: u64,
    /// The round, where one is concerned.
    pub round: Option<u32>,
    /// The round's new phase, the task's new status, or the chain event's name.
    pub state: Option<String>,
    /// The worker, for a submission or a worker's chain event.
    pub worker: Option<String>,
    /// When, unix milliseconds.
    pub at_ms: i64,
}

impl LiveEvent {
    /// A round entered `phase`.
    pub fn round(task_id: u64, round: u32, phase: RoundPhase) -> Self {
        Self {
            kind: "round",
            task_id,
            round: Some(round),
            state: Some(phase.to_string()),
            worker: None,
            at_ms: crate::now_ms(),
        }
    }

    /// A submission was accepted.
    pub fn submission(task_id: u64, round: u32, worker: &str) -> Self {
        Self {
            kind: "submission",
            task_id,
            round: Some(round),
            state: None,
            worker: Some(worker.to_owned()),
            at_ms: crate::now_ms(),
        }
    }

    /// The engine failed to advance a task (its `fault` in the API says why); it retries, and the others go on.
    pub fn fault(task_id: u64) -> Self {
        Self { kind: "task", task_id, round: None, state: Some("stalled".into()), worker: None, at_ms: crate::now_ms() }
    }

    /// A task changed status.
    pub fn task(task_id: u64, status: TaskStatus) -> Self {
        Self {
            kind: "task",
            task_id,
            round: None,
            state: Some(status.to_string()),
            worker: None,
            at_ms: crate::now_ms(),
        }
    }
}

impl LiveEvent {
    /// A marketplace event the indexer stored, when it concerns a task.
    pub fn chain(event: &tessera_db::EventRecord) -> Option<Self> {
        let worker = ["worker", "account"].iter().find_map(|field| event.data[*field].as_str()).map(str::to_owned);
        Some(Self {
            kind: "chain",
            task_id: event.task_id?,
            round: event.data["round"].as_u64().and_then(|r| u32::try_from(r).ok()),
            state: Some(event.kind.clone()),
            worker,
            at_ms: crate::now_ms(),
        })
    }
}

/// The coordinator's counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Submissions accepted.
    pub submissions_accepted: AtomicU64,
    /// Rounds finalized on chain.
    pub rounds_finalized: AtomicU64,
    /// Rounds scored and aggregated.
    pub rounds_aggregated: AtomicU64,
    /// Engine steps that failed (each is retried).
    pub engine_errors: AtomicU64,
    /// Milliseconds spent scoring and aggregating, in all.
    pub aggregation_ms: AtomicU64,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    /// Counts a rejected request by its error code.
    pub fn rejected(&self, code: &'static str) {
        let mut rejections = self.rejections.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *rejections.entry(code).or_default() += 1;
    }
}

/// The event channel and the counters, shared by the API and the engine.
#[derive(Clone, Debug)]
pub struct Live {
    events: broadcast::Sender<LiveEvent>,
    /// The counters.
    pub counters: Arc<Counters>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    /// A channel keeping the last 256 events for slow readers.
    pub fn new() -> Self {
        Self { events: broadcast::channel(256).0, counters: Arc::default() }
    }

    /// Tells every subscriber; nobody listening is fine.
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.events.send(event);
    }

    /// A receiver of every later event.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// The counters in Prometheus' text format, with `gauges` (name, help, value) appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let c = &self.counters;
        let mut out = String::new();
        let counters = [
            ("tessera_submissions_accepted_total", "Submissions accepted.", &c.submissions_accepted),
            ("tessera_rounds_aggregated_total", "Rounds scored and aggregated.", &c.rounds_aggregated),
            ("tessera_rounds_finalized_total", "Rounds finalized on chain.", &c.rounds_finalized),
            ("tessera_engine_errors_total", "Round engine steps that failed and will be retried.", &c.engine_errors),
            ("tessera_aggregation_milliseconds_total", "Time spent scoring and aggregating.", &c.aggregation_ms),
        ];
        for (name, help, value) in counters {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let _ = writeln!(out, "# HELP tessera_requests_rejected_total API requests rejected, by error code.");
        let _ = writeln!(out, "# TYPE tessera_requests_rejected_total counter");
        for (code, count) in c.rejections.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "tessera_requests_rejected_total{{code=\"{code}\"}} {count}");
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let live = Live::new();
        live.counters.submissions_accepted.fetch_add(2, Ordering::Relaxed);
        live.counters.rejected("replay");
        let text = live.render(&[("tessera_tasks", "Tasks.", 3.0)]);
        assert!(text.contains("tessera_submissions_accepted_total 2\n"), "{text}");
        assert!(text.contains("tessera_requests_rejected_total{code=\"replay\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE tessera_tasks gauge\ntessera_tasks 3\n"), "{text}");
    }

    #[tokio::test]
    async fn subscribers_see_later_events() {
        let live = Live::new();
        let mut receiver = live.subscribe();
        live.publish(LiveEvent::submission(1, 2, "0xaa"));
        let event = receiver.recv().await.unwrap();
        assert_eq!((event.kind, event.round, event.worker.as_deref()), ("submission", Some(2), Some("0xaa")));
    }
}
