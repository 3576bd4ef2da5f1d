//! What a run measures: each submission's answer and latency, each round's times, and the coordinator's memory.

use serde::Serialize;
use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// One submission's answer.
pub(crate) struct Submitted {
    /// Its HTTP status; 0 when no answer came.
    pub(crate) status: u16,
    /// From the first send to the last answer.
    pub(crate) latency_ms: f64,
    /// How many times it was sent again after a 408 or 429, as the worker binary resends.
    pub(crate) resent: u32,
    /// When the answer came.
    pub(crate) done: Instant,
}

/// One round of a run.
#[derive(Debug, Serialize)]
pub(crate) struct RoundReport {
    /// The round.
    pub(crate) round: u32,
    /// Workers that submitted.
    pub(crate) workers: usize,
    /// Submissions answered 201.
    pub(crate) accepted: usize,
    /// Submissions refused (4xx).
    pub(crate) refused: usize,
    /// Submissions answered 5xx, or not at all.
    pub(crate) server_errors: usize,
    /// Sends after a 408 (the request's time limit) or 429, over every submission.
    pub(crate) resent: u32,
    /// Accepted submissions per second, from the first sent to the last answered.
    pub(crate) accepted_per_s: f64,
    /// The median latency of an accepted submission.
    pub p50_ms: f64,
    /// Its 99th percentile.
    pub p99_ms: f64,
    /// Encoding and uploading every update to IPFS, before any was submitted.
    pub(crate) upload_ms: u64,
    /// From the last answer (the window closes then: every worker has submitted) to the round finalized on chain.
    pub(crate) close_to_finalized_ms: u64,
    /// Each phase the round showed after the window closed, with when (ms after it closed).
    pub(crate) phases: Vec<(String, u64)>,
    /// The coordinator's metrics of the round (its fetch, scoring and publishing times among them).
    pub(crate) metrics: serde_json::Value,
    /// The scoring's steps, in ms, from the coordinator's "round scored" log line.
    pub(crate) scoring_steps: serde_json::Map<String, serde_json::Value>,
}

/// The fields of the coordinator's "round scored" line for `round`, from its log: where the scoring's time went.
pub(crate) fn scoring_steps(log: &str, round: u32) -> serde_json::Map<String, serde_json::Value> {
    let plain = strip_ansi(log);
    let Some(line) = plain
        .lines()
        .find(|l| l.contains("round scored") && l.split_whitespace().any(|w| w == format!("round={round}")))
    else {
        return serde_json::Map::new();
    };
    line.split_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(|(key, _)| key.ends_with("_ms") || *key == "updates")
        .filter_map(|(key, value)| Some((key.to_owned(), serde_json::Value::from(value.parse::<u64>().ok()?))))
        .collect()
}

/// `text` without terminal colour codes (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for RoundReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "round {}: {}/{} accepted ({} refused, {} server errors), {:.1}/s, p50 {:.0} ms, p99 {:.0} ms; \
             uploads {:.1} s; close to finalized {:.1} s {:?}",
            self.round,
            self.accepted,
            self.workers,
            self.refused,
            self.server_errors,
            self.accepted_per_s,
            self.p50_ms,
            self.p99_ms,
            self.upload_ms as f64 / 1e3,
            self.close_to_finalized_ms as f64 / 1e3,
            self.phases,
        )
    }
}

/// The `q`-quantile of `values` (nearest rank); 0 for none.
pub(crate) fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Samples a process's resident memory every 100 ms and keeps the largest, beside the kernel's own high-water mark.
pub(crate) struct MemoryWatch {
    pid: u32,
    peak_kb: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<()>,
}

impl MemoryWatch {
    /// Starts watching process `pid`.
    pub(crate) fn start(pid: u32) -> Self {
        let (peak_kb, running) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
        let sampler = {
            let (peak_kb, running) = (peak_kb.clone(), running.clone());
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    if let Some(kb) = status_kb(pid, "VmRSS:") {
                        peak_kb.fetch_max(kb, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        Self { pid, peak_kb, running, sampler }
    }

    /// Stops; the peak resident memory in MB: the kernel's high-water mark (`VmHWM`), or the largest sample.
    pub(crate) async fn stop(self) -> f64 {
        self.running.store(false, Ordering::Relaxed);
        let _ = self.sampler.await;
        let kb = status_kb(self.pid, "VmHWM:").unwrap_or(0).max(self.peak_kb.load(Ordering::Relaxed));
        kb as f64 / 1024.0
    }
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((percentile(&values, 0.5), percentile(&values, 0.99)), (50.0, 99.0));
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert!(status_kb(std::process::id(), "VmRSS:").is_some_and(|kb| kb > 0));
    }

    #[test]
    fn scoring_steps_are_read_from_the_log_line_of_their_round() {
        let log = "\u{1b}[2mT\u{1b}[0m INFO round scored task=1 round=1 updates=3 scoring_ms=12 screen_ms=4\n\
                   INFO round scored task=1 round=2 updates=3 scoring_ms=20 screen_ms=5\n";
        let steps = scoring_steps(log, 2);
        assert_eq!(
            serde_json::Value::Object(steps),
            serde_json::json!({"updates": 3, "scoring_ms": 20, "screen_ms": 5})
        );
        assert!(scoring_steps(log, 3).is_empty());
    }
}
