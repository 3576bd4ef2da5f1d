//! `tessera-worker status`: the worker's standing on chain, at the coordinator and on disk. Each
//! part is shown even when another cannot be reached.

use super::Context;
use crate::{
    Result,
    api::{Reason, WorkerSummary},
    chain::{self, Token},
    state::StateDir,
};
use alloy::primitives::{Address, U256};
use clap::Args;
use serde::Serialize;
use std::{fmt::Write as _, path::PathBuf};

/// Show a worker's standing in a task.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tessera-worker status --task 1
  tessera-worker status --task 1 --address 0x70997970c51812dc3a010c7d01b50e0d17dc79c8
  tessera-worker status --task 1 --json | jq .coordinator.reputation")]
pub struct StatusArgs {
    /// The task.
    #[arg(long)]
    task: u64,
    /// The worker to show [default: the configured key's address; no key is needed when given].
    #[arg(long, value_name = "ADDRESS")]
    address: Option<Address>,
    /// The worker's state folder [default: ~/.tessera/worker/<task>/<address>].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// One part of the report, or why it is missing.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Part<T> {
    Found(T),
    Failed { error: String },
}

impl<T> From<Result<T>> for Part<T> {
    fn from(result: Result<T>) -> Self {
        result.map_or_else(|e| Self::Failed { error: e.report() }, Self::Found)
    }
}

#[derive(Debug, Serialize)]
struct Report {
    task_id: u64,
    worker: Address,
    chain: Part<OnChain>,
    coordinator: Part<Option<AtCoordinator>>,
    /// Who may read the task's artefacts, as the coordinator reports the policy the chain names.
    artefacts: Part<String>,
    local: Part<Local>,
}

#[derive(Debug, Serialize)]
struct OnChain {
    task_status: &'static str,
    current_round: u32,
    num_rounds: u32,
    round_open: bool,
    worker_status: &'static str,
    #[serde(serialize_with = "decimal")]
    stake: U256,
    #[serde(serialize_with = "decimal")]
    claimed: U256,
    token: Address,
    token_symbol: String,
    token_decimals: u8,
}

#[derive(Debug, Serialize)]
struct AtCoordinator {
    reputation: Option<f64>,
    #[serde(serialize_with = "decimal")]
    rewards: U256,
    #[serde(serialize_with = "decimal")]
    claimed: U256,
    #[serde(serialize_with = "decimal")]
    slashed: U256,
    rounds: Vec<RoundLine>,
}

#[derive(Debug, Serialize)]
struct RoundLine {
    round: u32,
    score: f64,
    #[serde(serialize_with = "decimal")]
    reward: U256,
    #[serde(serialize_with = "decimal")]
    slashed: U256,
    slash_reason: Option<Reason>,
    flags: Vec<Reason>,
}

#[derive(Debug, Serialize)]
struct Local {
    state_dir: PathBuf,
    receipts: Vec<ReceiptLine>,
    pending_rounds: Vec<u32>,
}

#[derive(Debug, Serialize)]
struct ReceiptLine {
    round: u32,
    update_cid: String,
    sequence: u64,
    verified: bool,
    behaviour: Option<String>,
    loss: Option<f64>,
    accuracy: Option<f64>,
}

pub(super) async fn execute(context: &Context, args: &StatusArgs) -> Result<()> {
    let worker = match args.address {
        Some(address) => address,
        None => context.signer()?.address(),
    };
    let chain = on_chain(context, args.task, worker).await;
    let api = context.api()?;
    let coordinator = api.worker(args.task, worker).await.map(|found| found.map(AtCoordinator::from));
    let local = local(args, worker);
    let artefacts = api.task(args.task).await.map(|task| artefacts(task.access.as_ref()));
    let report = Report {
        task_id: args.task,
        worker,
        chain: chain.into(),
        coordinator: coordinator.into(),
        artefacts: artefacts.into(),
        local: local.into(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("the report serialises"));
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

async fn on_chain(context: &Context, task: u64, worker: Address) -> Result<OnChain> {
    let (marketplace, chain_id) = context.marketplace().await?;
    let client = context.reading_client(worker, marketplace, chain_id).await?;
    let task_id = U256::from(task);
    let (onchain, record) = (client.task(task_id).await?, client.worker(task_id, worker).await?);
    let token = Token::load(&client, onchain.rewardToken).await;
    Ok(OnChain {
        task_status: chain::task_status_name(onchain.status),
        current_round: onchain.currentRound,
        num_rounds: onchain.numRounds,
        round_open: onchain.roundOpen,
        worker_status: chain::worker_status_name(record.status),
        stake: U256::from(record.stake.to::<u128>()),
        claimed: U256::from(record.claimed),
        token: token.address,
        token_symbol: token.symbol,
        token_decimals: token.decimals,
    })
}

impl From<WorkerSummary> for AtCoordinator {
    fn from(summary: WorkerSummary) -> Self {
        Self {
            reputation: summary.reputation,
            rewards: summary.rewards.0,
            claimed: summary.claimed.0,
            slashed: summary.slashed.0,
            rounds: summary
                .rounds
                .into_iter()
                .map(|score| RoundLine {
                    round: score.round,
                    score: score.score,
                    reward: score.reward.0,
                    slashed: score.slashed.0,
                    slash_reason: score.slash_reason,
                    flags: score.flags,
                })
                .collect(),
        }
    }
}

fn local(args: &StatusArgs, worker: Address) -> Result<Local> {
    let root = args
        .state_dir
        .clone()
        .or_else(|| StateDir::default_root(args.task, worker))
        .unwrap_or_else(|| PathBuf::from("."));
    let state = StateDir::read_only(&root);
    let receipts = state
        .receipts()?
        .into_iter()
        .map(|stored| ReceiptLine {
            round: stored.receipt.round,
            update_cid: stored.receipt.update_cid.to_string(),
            sequence: stored.receipt.sequence,
            verified: stored.receipt_verified,
            behaviour: stored.training.as_ref().map(|t| t.behaviour.clone()),
            loss: stored.training.as_ref().and_then(|t| t.loss),
            accuracy: stored.training.as_ref().and_then(|t| t.accuracy),
        })
        .collect();
    let pending_rounds = state.pendings()?.into_iter().map(|pending| pending.round).collect();
    Ok(Local { state_dir: root, receipts, pending_rounds })
}

/// Amounts as decimal strings, exact at any size (JSON numbers are not).
fn decimal<S: serde::Serializer>(value: &U256, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// The report as text.
/// Who may read the task's artefacts, in words.
fn artefacts(access: Option<&tessera_api::TaskAccess>) -> String {
    match access {
        None => "public: updates and checkpoints are on IPFS unencrypted".into(),
        Some(access) => match &access.policy {
            Some(policy) => format!("sealed (policy {}): {}", access.policy_cid, policy.describe()),
            None => format!("sealed (policy {}, which the coordinator could not read)", access.policy_cid),
        },
    }
}

fn render(report: &Report) -> String {
    let mut out = format!("Worker {:#x} in task {}\n", report.worker, report.task_id);
    let amount = |value: U256| match &report.chain {
        Part::Found(chain) => chain::format_amount(value, chain.token_decimals, &chain.token_symbol),
        Part::Failed { .. } => format!("{value} (base units)"),
    };
    match &report.chain {
        Part::Found(c) => {
            let open = if c.round_open { " (open)" } else { "" };
            let _ = writeln!(
                out,
                "  chain        task {}, round {} of {}{open}; worker {}, stake {}, claimed {}",
                c.task_status,
                c.current_round,
                c.num_rounds,
                c.worker_status,
                amount(c.stake),
                amount(c.claimed)
            );
        }
        Part::Failed { error } => {
            let _ = writeln!(out, "  chain        unavailable: {error}");
        }
    }
    match &report.coordinator {
        Part::Found(Some(c)) => {
            let reputation = c.reputation.map_or_else(|| "none yet".to_owned(), |r| format!("{r:.4}"));
            let _ = writeln!(
                out,
                "  coordinator  reputation {reputation}, rewards {}, slashed {}, claimed {}",
                amount(c.rewards),
                amount(c.slashed),
                amount(c.claimed)
            );
            for r in &c.rounds {
                let _ =
                    write!(out, "               round {}: score {:.4}, reward {}", r.round, r.score, amount(r.reward));
                if !r.slashed.is_zero() {
                    let reason = r.slash_reason.map_or("no reason given", Reason::as_str);
                    let _ = write!(out, ", slashed {} ({reason})", amount(r.slashed));
                }
                if !r.flags.is_empty() {
                    let flags: Vec<&str> = r.flags.iter().map(|flag| flag.as_str()).collect();
                    let _ = write!(out, " [{}]", flags.join(", "));
                }
                out.push('\n');
            }
        }
        Part::Found(None) => out.push_str("  coordinator  no record of this worker\n"),
        Part::Failed { error } => {
            let _ = writeln!(out, "  coordinator  unavailable: {error}");
        }
    }
    match &report.artefacts {
        Part::Found(text) => {
            let _ = writeln!(out, "  artefacts    {text}");
        }
        Part::Failed { error } => {
            let _ = writeln!(out, "  artefacts    unknown: {error}");
        }
    }
    match &report.local {
        Part::Found(l) => {
            let rounds: Vec<String> = l.receipts.iter().map(|r| r.round.to_string()).collect();
            let unverified = l.receipts.iter().filter(|r| !r.verified).count();
            let _ = write!(out, "  local        {} receipt(s) in {}", l.receipts.len(), l.state_dir.display());
            if !rounds.is_empty() {
                let _ = write!(out, ": rounds {}", rounds.join(", "));
            }
            if unverified > 0 {
                let _ = write!(out, " ({unverified} NOT verified)");
            }
            if !l.pending_rounds.is_empty() {
                let pending: Vec<String> = l.pending_rounds.iter().map(u32::to_string).collect();
                let _ = write!(out, "; unacknowledged: rounds {}", pending.join(", "));
            }
            out.push('\n');
        }
        Part::Failed { error } => {
            let _ = writeln!(out, "  local        unreadable: {error}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn the_text_report_shows_each_part_or_why_it_is_missing() {
        let ether = U256::from(10u64).pow(U256::from(18));
        let report = Report {
            task_id: 1,
            worker: Address::repeat_byte(0xab),
            chain: Part::Found(OnChain {
                task_status: "running",
                current_round: 2,
                num_rounds: 5,
                round_open: true,
                worker_status: "active",
                stake: ether * U256::from(10),
                claimed: U256::ZERO,
                token: Address::repeat_byte(1),
                token_symbol: "TST".into(),
                token_decimals: 18,
            }),
            coordinator: Part::Found(Some(AtCoordinator {
                reputation: Some(0.25),
                rewards: ether,
                claimed: U256::ZERO,
                slashed: ether,
                rounds: vec![RoundLine {
                    round: 1,
                    score: 0.0,
                    reward: U256::ZERO,
                    slashed: ether,
                    slash_reason: Some(Reason::FreeRider),
                    flags: vec![Reason::FreeRider, Reason::Copy],
                }],
            })),
            artefacts: Ok(artefacts(None)).into(),
            local: Err(Error::Invalid("disk on fire".into())).into(),
        };
        let text = render(&report);
        assert!(text.contains("task running, round 2 of 5 (open); worker active, stake 10 TST"), "{text}");
        assert!(text.contains("reputation 0.2500, rewards 1 TST"), "{text}");
        assert!(text.contains("slashed 1 TST (free_rider) [free_rider, copy]"), "{text}");
        assert!(text.contains("local        unreadable: disk on fire"), "{text}");
        assert!(text.contains("artefacts    public: updates and checkpoints are on IPFS unencrypted"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["local"]["error"], "disk on fire");
        assert_eq!(json["chain"]["worker_status"], "active");
        assert_eq!(json["coordinator"]["rewards"], "1000000000000000000");
    }
}
