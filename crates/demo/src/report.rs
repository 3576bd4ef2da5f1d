//! What the demo prints at the end, read back from the chain and the coordinator.

use crate::{Demo, Role, TOKEN_UNIT};
use alloy::primitives::U256;
use serde::{Serialize, de::DeserializeOwned};
use std::{collections::BTreeSet, fmt};
use tessera_api::{RoundSummary, SubmissionListing, WorkerSummary};
use tessera_chain::{MarketplaceClient, connect};
use tessera_harness::mnist_dir;
use tessera_scoring::Evidence;
use tessera_storage::{ClientConfig, DagBuilder, IpfsStore};
use tessera_train::{
    ArchitectureId, Dataset, DecodeLimits, Device, FileKind, MAX_SCRIPT_PARAMETERS, Model, ScriptId, ScriptLimits,
    Split, WeightsFile, evaluate, register_script,
};

/// One round's numbers.
#[derive(Clone, Debug, Serialize)]
pub struct RoundRow {
    /// The round.
    pub round: u64,
    /// Accuracy of the aggregate on the validation set, as the coordinator reported it.
    pub validation_accuracy: f64,
    /// Accuracy of the aggregate on the whole MNIST test set (10,000 images), measured here.
    pub test_accuracy: f64,
    /// The aggregate's CID.
    pub model_cid: String,
    /// From the round's start (`started_at_ms`) to its finalize being recorded, milliseconds.
    pub wall_ms: i64,
    /// The round's start, milliseconds since the Unix epoch: its start on chain (a block time, whole seconds), or
    /// the previous round's finalize if that was recorded later in the same second.
    pub started_at_ms: i64,
    /// When its finalize was recorded, milliseconds since the Unix epoch.
    pub finalized_at_ms: i64,
    /// The slowest worker's local training, milliseconds (from its log).
    pub training_ms: i64,
    /// From the round's start to the last update received, less the training: fetching the checkpoint,
    /// uploading and submitting, and waiting for the round to be seen, milliseconds.
    pub transfer_ms: i64,
    /// The coordinator fetching and decoding the updates, milliseconds.
    pub fetch_ms: i64,
    /// Scoring with the leave-one-out validation, and aggregating, milliseconds.
    pub scoring_ms: i64,
    /// Publishing the checkpoint and manifest, milliseconds.
    pub publish_ms: i64,
    /// From publishing to the finalize being mined and recorded (two engine passes), milliseconds.
    pub chain_ms: i64,
}

/// One worker's numbers.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerRow {
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// How it behaved.
    pub role: String,
    /// Samples it trained on (as submitted).
    pub samples: u64,
    /// Stake left on chain, whole tokens.
    pub stake_left: f64,
    /// Mean score over the rounds.
    pub mean_score: f64,
    /// Rewards earned, base units.
    pub rewards: u128,
    /// Rewards claimed on chain, base units.
    pub claimed: u128,
    /// Stake slashed, base units.
    pub slashed: u128,
    /// Every flag raised against it.
    pub flags: Vec<String>,
    /// Why each flag was raised, one sentence per flag with the round's bar it was measured against.
    pub evidence: Vec<String>,
}

/// The demo's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The task.
    pub task: u64,
    /// Per round.
    pub rounds: Vec<RoundRow>,
    /// Per worker.
    pub workers: Vec<WorkerRow>,
    /// The largest resident set of each process, bytes.
    pub peak_memory: std::collections::BTreeMap<String, u64>,
    /// The chaos plan's kills, in order (none without one).
    pub kills: Vec<crate::Kill>,
    /// How often each process was started again after it died, by name.
    pub restarts: std::collections::BTreeMap<String, u32>,
}

/// The task's model: the scenario's network, or its module, registered here as the coordinator registered it.
fn demo_architecture(scenario: &crate::Scenario) -> eyre::Result<ArchitectureId> {
    let Some(path) = &scenario.model else { return Ok(scenario.architecture) };
    let bytes = std::fs::read(path)?;
    let id = ScriptId(DagBuilder::cid_of(&bytes).to_bytes32());
    let limits = ScriptLimits { input: ArchitectureId::Lenet5MnistV1.input(), max_parameters: MAX_SCRIPT_PARAMETERS };
    Ok(register_script(id, &bytes, &limits)?)
}

pub(crate) async fn gather(demo: &Demo) -> eyre::Result<Report> {
    let client = Coordinator { http: reqwest::Client::new(), url: &demo.url };
    let content = IpfsStore::new(demo.stack.ipfs.api_url(), ClientConfig::default())?;
    let arch = demo_architecture(&demo.scenario)?;
    let test = Dataset::load(&mnist_dir(), Split::Test, &arch.input())?;
    let mut rounds = Vec::new();
    let listed: Vec<RoundSummary> = client.get(format!("/api/v1/tasks/{}/rounds", demo.task)).await?;
    let mut previous_finalized_at_ms = 0;
    for RoundSummary { round, .. } in listed {
        // The chain's start is a block time, in whole seconds; a round opens after the one before it is finalized,
        // whose time the coordinator recorded to the millisecond: the later of the two is the closer.
        let started_at_ms = round.started_at_ms.max(previous_finalized_at_ms);
        let model_cid = round.new_model_cid.ok_or_else(|| eyre::eyre!("round {} has no aggregate", round.round))?;
        let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
        let bytes = demo.read_model(&content, &round, limits.max_bytes as u64).await?;
        let params = WeightsFile::decode(&bytes, &limits)?.parameters;
        let model = Model::new(arch, &params, Device::Cpu)?;
        let number = u64::from(round.round);
        let submissions: Vec<SubmissionListing> =
            client.get(format!("/api/v1/tasks/{}/rounds/{number}/submissions", demo.task)).await?;
        let received = submissions.iter().map(|s| s.received_at_ms).max().unwrap_or(started_at_ms);
        let training_ms = demo
            .scenario
            .workers
            .iter()
            .filter_map(|w| training_ms(&demo.log_of(&w.name), number))
            .max()
            .unwrap_or_default();
        let metrics = round.metrics.unwrap_or_default();
        let ms = |value: Option<u64>| value.map_or(0, |v| v as i64);
        let finalized_at_ms = round.finalized_at_ms.unwrap_or_default();
        rounds.push(RoundRow {
            training_ms,
            transfer_ms: (received - started_at_ms - training_ms).max(0),
            fetch_ms: ms(metrics.fetch_ms),
            scoring_ms: ms(metrics.scoring_ms),
            publish_ms: ms(metrics.publish_ms),
            chain_ms: finalized_at_ms - metrics.published_at_ms.unwrap_or_default(),
            round: number,
            validation_accuracy: metrics.accuracy.unwrap_or_default(),
            test_accuracy: evaluate(&model, &test, 1000)?.accuracy,
            model_cid: model_cid.to_string(),
            wall_ms: finalized_at_ms - started_at_ms,
            started_at_ms,
            finalized_at_ms,
        });
        previous_finalized_at_ms = finalized_at_ms;
    }

    let reader = MarketplaceClient::new(
        connect(demo.stack.anvil.url(), &demo.stack.anvil.accounts()[0].private_key)?,
        demo.marketplace,
        demo.stack.anvil.accounts()[0].address,
    );
    let submissions: Vec<SubmissionListing> =
        client.get(format!("/api/v1/tasks/{}/rounds/1/submissions", demo.task)).await?;
    let mut workers = Vec::new();
    for (i, spec) in demo.scenario.workers.iter().enumerate() {
        let address = demo.worker_address(i)?;
        let summary: WorkerSummary = client.get(format!("/api/v1/tasks/{}/workers/{address:#x}", demo.task)).await?;
        let scores = &summary.rounds;
        let flags: BTreeSet<String> = scores.iter().flat_map(|s| s.flags.iter().map(ToString::to_string)).collect();
        let evidence: Vec<String> = scores
            .iter()
            .flat_map(|s| {
                s.evidence.as_array().into_iter().flatten().map(move |flag| {
                    let reason = flag["reason"].as_str().unwrap_or("flag");
                    match serde_json::from_value::<Evidence>(flag["evidence"].clone()) {
                        Ok(evidence) => format!("round {}, {reason}: {evidence}", s.round),
                        Err(_) => format!("round {}, {reason}: {}", s.round, flag["evidence"]),
                    }
                })
            })
            .collect();
        let samples = submissions.iter().find(|s| s.worker == address).map_or(0, |s| s.num_samples);
        let on_chain = reader.worker(U256::from(demo.task), address).await?;
        let amount = |value: tessera_api::Amount| u128::try_from(value.0).unwrap_or(u128::MAX);
        workers.push(WorkerRow {
            name: spec.name.clone(),
            address: format!("{address:#x}"),
            role: spec.role.to_string(),
            samples,
            stake_left: on_chain.stake.to::<u128>() as f64 / TOKEN_UNIT as f64,
            mean_score: scores.iter().map(|s| s.score).sum::<f64>() / scores.len().max(1) as f64,
            rewards: amount(summary.rewards),
            claimed: on_chain.claimed,
            slashed: amount(summary.slashed),
            flags: flags.into_iter().collect(),
            evidence,
        });
    }
    Ok(Report {
        task: demo.task,
        rounds,
        workers,
        peak_memory: demo.peak_memory().clone(),
        kills: demo.kills().to_vec(),
        restarts: demo.restarts(),
    })
}

/// The coordinator's API, read as the wire contract's types.
struct Coordinator<'a> {
    http: reqwest::Client,
    url: &'a str,
}

impl Coordinator<'_> {
    async fn get<T: DeserializeOwned>(&self, path: String) -> eyre::Result<T> {
        Ok(self.http.get(format!("{}{path}", self.url)).send().await?.error_for_status()?.json().await?)
    }
}

/// A worker's training time in a round, from its log line `round N: submitted … steps in 3.4s on cpu`.
/// The training time a worker's log gives for `round`: its submission line (`submitted, ..., 12 steps in 1.5s on
/// cpu (...) round=2 cid=...`) says it.
fn training_ms(log: &str, round: u64) -> Option<i64> {
    let field = format!("round={round}");
    let line = log
        .lines()
        .map(without_colours)
        .find(|l| l.contains(": submitted, ") && l.split_whitespace().any(|token| token == field))?;
    let after = &line[line.find(" steps in ")? + " steps in ".len()..];
    let seconds: f64 = after[..after.find("s on ")?].parse().ok()?;
    Some((seconds * 1000.0) as i64)
}

/// A log line without its terminal colour codes (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

impl Report {
    /// The share of the rounds' time not spent training: one less the slowest workers' training over the rounds'
    /// time, all rounds together.
    pub fn non_training_share(&self) -> f64 {
        let wall: i64 = self.rounds.iter().map(|r| r.wall_ms).sum();
        let training: i64 = self.rounds.iter().map(|r| r.training_ms).sum();
        if wall > 0 { 1.0 - training as f64 / wall as f64 } else { 0.0 }
    }

    /// Honest workers' rows.
    pub fn honest(&self) -> impl Iterator<Item = &WorkerRow> {
        self.workers.iter().filter(|w| w.role == Role::Honest.to_string())
    }
}

fn tokens(units: u128) -> f64 {
    units as f64 / TOKEN_UNIT as f64
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Task {}: accuracy of the global model after each round", self.task)?;
        writeln!(f, "  round   validation   test (10,000)   round time   training  transfer   scoring     chain")?;
        for r in &self.rounds {
            let s = |ms: i64| ms as f64 / 1000.0;
            writeln!(
                f,
                "  {:>5}   {:>9.2}%   {:>12.2}%   {:>8.1} s   {:>6.1} s  {:>6.1} s  {:>6.1} s  {:>6.1} s",
                r.round,
                100.0 * r.validation_accuracy,
                100.0 * r.test_accuracy,
                s(r.wall_ms),
                s(r.training_ms),
                s(r.transfer_ms + r.fetch_ms + r.publish_ms),
                s(r.scoring_ms),
                s(r.chain_ms),
            )?;
        }
        writeln!(f, "  Not training: {:.0}% of the rounds' time.", 100.0 * self.non_training_share())?;
        writeln!(f)?;
        writeln!(f, "Workers (TST)")?;
        writeln!(
            f,
            "  {:<13} {:<11} {:>7} {:>11} {:>10} {:>9} {:>9}  flags",
            "worker", "role", "samples", "stake left", "mean score", "claimed", "slashed"
        )?;
        for w in &self.workers {
            writeln!(
                f,
                "  {:<13} {:<11} {:>7} {:>11.2} {:>10.4} {:>9.2} {:>9.2}  {}",
                w.name,
                w.role,
                w.samples,
                w.stake_left,
                w.mean_score,
                tokens(w.claimed),
                tokens(w.slashed),
                if w.flags.is_empty() { "-".to_owned() } else { w.flags.join(", ") }
            )?;
        }
        writeln!(f)?;
        let flagged: Vec<&WorkerRow> = self.workers.iter().filter(|w| !w.evidence.is_empty()).collect();
        if !flagged.is_empty() {
            writeln!(f, "Why each flag was raised")?;
            for w in flagged {
                for line in &w.evidence {
                    writeln!(f, "  {:<13} {line}", w.name)?;
                }
            }
            writeln!(f)?;
        }
        let memory: Vec<String> =
            self.peak_memory.iter().map(|(name, bytes)| format!("{name} {} MiB", bytes >> 20)).collect();
        writeln!(f, "Peak memory: {}", memory.join(", "))?;
        if !self.kills.is_empty() {
            let count = |victims: &[&str]| self.kills.iter().filter(|k| victims.contains(&k.victim.as_str())).count();
            let (coordinator, services) = (count(&["coordinator"]), count(&["ipfs", "anvil"]));
            let workers = self.kills.len() - coordinator - services;
            writeln!(
                f,
                "Chaos: {} kills (SIGKILL), {coordinator} of the coordinator and {workers} of workers, and {services} \
                 restarts of the IPFS node or anvil; each was started again, and every round was finalized once.",
                coordinator + workers
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn training_time_is_read_from_the_rounds_submission_line() {
        // As the worker writes it, with terminal colours, the round a field after the message.
        let log = "\u{1b}[2m2026-12-04T22:08:51Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[1mworker\u{1b}[0m\u{1b}[1m{\u{1b}[0m\
                   \u{1b}[3mtask\u{1b}[0m\u{1b}[2m=\u{1b}[0m1\u{1b}[1m}\u{1b}[0m\u{1b}[2m:\u{1b}[0m submitted, loss 2.2983, \
                   accuracy 16.0%, 2 steps in 1.5s on cpu (590 samples/s) \u{1b}[3mround\u{1b}[0m\u{1b}[2m=\u{1b}[0m2 \
                   \u{1b}[3mcid\u{1b}[0m\u{1b}[2m=\u{1b}[0mQmef\n\
                   INFO worker{task=1}: submitted, loss 0.1, accuracy 95.0%, 9 steps in 0.7s on cpu (9 samples/s) round=12";
        assert_eq!(super::training_ms(log, 2), Some(1500));
        assert_eq!(super::training_ms(log, 12), Some(700));
        assert_eq!(super::training_ms(log, 1), None);
    }
}
