//! Follows the marketplace's events into the database, so the API and the engine read tasks,
//! workers and claims without asking the chain each time.
//!
//! Replaying a block range is harmless: events are stored once by (block, log index), and worker
//! and claim rows ignore anything older than what they hold. So the cursor may lag the derived
//! rows after a crash, never the other way round.

use alloy::primitives::{Address, B256, U256};
use serde_json::{Value, json};
use tessera_chain::{ChainEvent, IERC20, IMarketplace, Marketplace::MarketplaceEvents, MarketplaceClient};
use tessera_db::{Amount, Claim, Membership, NewTask, Store, TaskStatus, Worker};
use tessera_storage::Cid;

/// Indexes the blocks after the cursor, at most `max_blocks` of them; returns how many new events
/// were stored.
pub async fn index_once(client: &MarketplaceClient, db: &Store, max_blocks: u64) -> eyre::Result<u64> {
    Ok(index_events(client, db, max_blocks, 0).await?.stored)
}

/// What one indexing pass saw.
#[derive(Debug, Default)]
pub struct Indexed {
    /// Events stored for the first time.
    pub stored: u64,
    /// Every event in the range, as stored (after a crash, some may have been seen before).
    pub events: Vec<tessera_db::EventRecord>,
}

/// [`index_once`], also returning the events, for live watchers. Only blocks with `confirmations` blocks on top
/// are read, so a reorganisation no deeper than that never reaches the database.
pub async fn index_events(
    client: &MarketplaceClient,
    db: &Store,
    max_blocks: u64,
    confirmations: u64,
) -> eyre::Result<Indexed> {
    let from = db.get_cursor().await?.map_or(0, |last| last + 1);
    let Some(latest) = client.block_number().await?.checked_sub(confirmations) else {
        return Ok(Indexed::default());
    };
    if latest < from {
        return Ok(Indexed::default());
    }
    let to = latest.min(from + max_blocks.max(1) - 1);
    let events = client.events(from, to).await?;
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        let stored = row(event);
        apply(client, db, event, stored.task_id).await?;
        rows.push(stored);
    }
    let stored = db.record_events(&rows, to).await?;
    Ok(Indexed { stored, events: rows })
}

/// Updates the tables an event changes.
///
/// Anyone can create a task, with any token, and a token reports what amounts it likes: a task whose amounts
/// do not fit the database (128 bits) is left out with a warning, and so are its later events. One bad task
/// must not stop the indexer for every other.
async fn apply(client: &MarketplaceClient, db: &Store, event: &ChainEvent, task: Option<u64>) -> eyre::Result<()> {
    let block = event.block_number;
    if let (Some(task), false) = (task, matches!(event.event, MarketplaceEvents::TaskCreated(_)))
        && db.get_task(task).await?.is_none()
    {
        tracing::warn!(task, block, "skipping an event of a task that was not indexed");
        return Ok(());
    }
    match &event.event {
        MarketplaceEvents::TaskCreated(created) => {
            let task = task_id(created.taskId).and_then(|id| new_task(id, created.requester, &created.config));
            let mut task = match task {
                Ok(task) => task,
                Err(error) => {
                    tracing::warn!(block, error = %error, "skipping a task that cannot be indexed");
                    return Ok(());
                }
            };
            task.config["reward_token_metadata"] = token_metadata(client, created.config.rewardToken).await?;
            db.upsert_task(&task).await?;
        }
        MarketplaceEvents::WorkerJoined(joined) => {
            let worker = Worker {
                task_id: task_id(joined.taskId)?,
                worker: hex(joined.worker),
                // The task's own stake, which fit when the task was indexed.
                stake: amount(joined.stake)?,
                status: Membership::Active,
                joined_at_block: block,
                updated_at_block: block,
            };
            db.upsert_worker(&worker).await?;
        }
        MarketplaceEvents::WorkerLeft(left) => exited(db, task_id(left.taskId)?, left.worker, block).await?,
        MarketplaceEvents::StakeWithdrawn(withdrawn) => {
            exited(db, task_id(withdrawn.taskId)?, withdrawn.worker, block).await?;
        }
        MarketplaceEvents::RewardClaimed(claimed) => {
            let claim = Claim {
                task_id: task_id(claimed.taskId)?,
                worker: hex(claimed.account),
                cumulative_claimed: amount(claimed.cumulativeAmount)?,
                last_tx_hash: format!("{:#x}", event.tx_hash),
                block_number: block,
            };
            db.upsert_claim(&claim).await?;
        }
        MarketplaceEvents::TaskEnded(ended) => db.set_task_status(task_id(ended.taskId)?, TaskStatus::Ended).await?,
        MarketplaceEvents::TaskCancelled(cancelled) => {
            db.set_task_status(task_id(cancelled.taskId)?, TaskStatus::Cancelled).await?;
        }
        _ => {}
    }
    Ok(())
}

async fn exited(db: &Store, task: u64, account: Address, block: u64) -> eyre::Result<()> {
    let previous = db.get_worker(task, &hex(account)).await?;
    let worker = Worker {
        task_id: task,
        worker: hex(account),
        stake: Amount::ZERO,
        status: Membership::Exited,
        joined_at_block: previous.map_or(block, |worker| worker.joined_at_block),
        updated_at_block: block,
    };
    db.upsert_worker(&worker).await?;
    Ok(())
}

fn new_task(task_id: u64, requester: Address, config: &IMarketplace::TaskConfig) -> eyre::Result<NewTask> {
    Ok(NewTask {
        task_id,
        requester: hex(requester),
        coordinator: hex(config.coordinator),
        reward_token: hex(config.rewardToken),
        reward_pool: amount(config.rewardPool)?,
        stake_required: amount(config.stakeRequired)?,
        num_rounds: config.numRounds,
        max_workers: config.maxWorkers,
        submission_window_secs: config.submissionWindow,
        model_architecture_id: format!("{:#x}", config.modelArchitectureId),
        initial_model_cid: cid(config.initialModelCid),
        created_at_ms: crate::now_ms(),
        config: json!({
            "validation_set_commitment": format!("{:#x}", config.validationSetCommitment),
            "allowlist_root": format!("{:#x}", config.allowlistRoot),
            "slash_to_requester": config.slashToRequester,
        }),
    })
}

/// The reward token's symbol and decimals, for showing amounts; `null` for a token without the optional
/// ERC-20 metadata (amounts are then shown in base units). A node that cannot be reached is an error, so the
/// pass is retried rather than the task stored without its metadata for good.
async fn token_metadata(client: &MarketplaceClient, token: Address) -> eyre::Result<Value> {
    let contract = IERC20::new(token, client.provider());
    let (symbol, decimals) = (contract.symbol().call().await, contract.decimals().call().await);
    for result in [symbol.as_ref().err(), decimals.as_ref().err()].into_iter().flatten() {
        if let alloy::contract::Error::TransportError(error) = result
            && !error.is_error_resp()
        {
            eyre::bail!("reading the metadata of token {token}: {error}");
        }
    }
    Ok(match (symbol, decimals) {
        (Ok(symbol), Ok(decimals)) => json!({ "symbol": printable_symbol(&symbol), "decimals": decimals }),
        (symbol, decimals) => {
            tracing::warn!(token = %token, ?symbol, ?decimals, "the reward token has no ERC-20 metadata");
            Value::Null
        }
    })
}

/// A token's symbol as the dashboard may show it: a token chooses its own, so control and direction-changing
/// characters are dropped and the length capped.
fn printable_symbol(symbol: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    symbol.chars().filter(|c| !c.is_control() && !bidi(*c)).take(16).collect::<String>().trim().to_owned()
}

/// The stored form of an event: its kind, task and fields as JSON.
fn row(event: &ChainEvent) -> tessera_db::EventRecord {
    let (kind, task, data): (&str, U256, Value) = match &event.event {
        MarketplaceEvents::TaskCreated(e) => ("TaskCreated", e.taskId, json!({ "requester": hex(e.requester) })),
        MarketplaceEvents::WorkerJoined(e) => {
            ("WorkerJoined", e.taskId, json!({ "worker": hex(e.worker), "stake": e.stake.to_string() }))
        }
        MarketplaceEvents::WorkerLeft(e) => {
            ("WorkerLeft", e.taskId, json!({ "worker": hex(e.worker), "stake_returned": e.stakeReturned.to_string() }))
        }
        MarketplaceEvents::StakeWithdrawn(e) => {
            ("StakeWithdrawn", e.taskId, json!({ "worker": hex(e.worker), "amount": e.amount.to_string() }))
        }
        MarketplaceEvents::RoundStarted(e) => (
            "RoundStarted",
            e.taskId,
            json!({ "round": e.round, "global_model_cid": cid(e.globalModelCid), "deadline": e.deadline.to_string() }),
        ),
        MarketplaceEvents::RoundFinalized(e) => (
            "RoundFinalized",
            e.taskId,
            json!({
                "round": e.round,
                "new_model_cid": cid(e.newModelCid),
                "manifest_cid": cid(e.manifestCid),
                "rewards_root": format!("{:#x}", e.rewardsRoot),
                "cumulative_rewards_total": e.cumulativeRewardsTotal.to_string(),
            }),
        ),
        MarketplaceEvents::WorkerSlashed(e) => (
            "WorkerSlashed",
            e.taskId,
            json!({
                "round": e.round,
                "worker": hex(e.worker),
                "amount": e.amount.to_string(),
                "reason": e.reason,
                "to_requester": e.toRequester,
            }),
        ),
        MarketplaceEvents::TaskEnded(e) => {
            ("TaskEnded", e.taskId, json!({ "rounds_completed": e.roundsCompleted, "expired": e.expired }))
        }
        MarketplaceEvents::RewardClaimed(e) => (
            "RewardClaimed",
            e.taskId,
            json!({
                "account": hex(e.account),
                "amount": e.amount.to_string(),
                "cumulative_amount": e.cumulativeAmount.to_string(),
            }),
        ),
        MarketplaceEvents::TaskCancelled(e) => {
            ("TaskCancelled", e.taskId, json!({ "refunded": e.refunded.to_string() }))
        }
        MarketplaceEvents::UnspentWithdrawn(e) => (
            "UnspentWithdrawn",
            e.taskId,
            json!({ "unspent_pool": e.unspentPool.to_string(), "slashed_stake": e.slashedStake.to_string() }),
        ),
        MarketplaceEvents::ValidationSetRevealed(e) => (
            "ValidationSetRevealed",
            e.taskId,
            json!({ "validation_set_cid": cid(e.validationSetCid), "revealer": hex(e.revealer) }),
        ),
        other => ("Other", U256::ZERO, json!({ "debug": format!("{other:?}") })),
    };
    tessera_db::EventRecord {
        block_number: event.block_number,
        log_index: event.log_index,
        tx_hash: format!("{:#x}", event.tx_hash),
        kind: kind.to_owned(),
        task_id: (task != U256::ZERO).then(|| u64::try_from(task).unwrap_or(u64::MAX)),
        data,
    }
}

fn hex(address: Address) -> String {
    format!("{address:#x}")
}

fn cid(word: B256) -> String {
    Cid::from_bytes32(word.0).map(|cid| cid.to_string()).unwrap_or_default()
}

fn task_id(value: U256) -> eyre::Result<u64> {
    u64::try_from(value).map_err(|_| eyre::eyre!("task id {value} does not fit 64 bits"))
}

fn amount(value: U256) -> eyre::Result<Amount> {
    u128::try_from(value).map(Amount).map_err(|_| eyre::eyre!("amount {value} does not fit 128 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_made_printable() {
        assert_eq!(printable_symbol("TST"), "TST");
        assert_eq!(printable_symbol("US\u{202e}DC\n"), "USDC");
        assert_eq!(printable_symbol(&"X".repeat(100)).len(), 16);
    }
}
