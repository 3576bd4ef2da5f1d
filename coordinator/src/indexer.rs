//! Follows the marketplace's events into the database, so the API and the engine read tasks,
//! workers and claims without asking the chain each time.
//!
//! Replaying a block range is harmless: events are stored once by (block, log index), and worker
//! and claim rows ignore anything older than what they hold. So the cursor may lag the derived
//! rows after a crash, never the other way round.
//!
//! Reorganisations: only blocks with the configured confirmations on top are read, and the hash of every block an
//! event came from and of each pass's last block is recorded. Each pass first checks the newest recorded hash
//! against the chain; if the block has been replaced, the index is rolled back to the newest recorded block the
//! chain still holds (its events, the workers and claims they implied, outbox transactions counted mined there)
//! and the canonical blocks are indexed again. A task whose creation is dropped for good keeps its row (the engine
//! may have acted on it); its transactions then revert and it shows a fault.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, U256};
use serde_json::{Value, json};
use tessera_chain::{ChainEvent, IERC20, IMarketplace, Marketplace::MarketplaceEvents, MarketplaceClient};
use tessera_db::{Amount, Claim, Derived, EventRecord, Membership, NewTask, Store, TaskStatus, Worker};
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
    pub events: Vec<EventRecord>,
    /// The block the index was rolled back to after a reorganisation (`Some(None)`: to the start).
    pub rolled_back_to: Option<Option<u64>>,
}

/// [`index_once`], also returning the events, for live watchers. Only blocks with `confirmations` blocks on top
/// are read, so a reorganisation no deeper than that never reaches the database; a deeper one is rolled back
/// first.
pub async fn index_events(
    client: &MarketplaceClient,
    db: &Store,
    max_blocks: u64,
    confirmations: u64,
) -> eyre::Result<Indexed> {
    let rolled_back_to = roll_back_orphaned(client, db).await?;
    let idle = Indexed { rolled_back_to, ..Indexed::default() };
    let from = db.get_cursor().await?.map_or(0, |last| last + 1);
    let Some(latest) = client.block_number().await?.checked_sub(confirmations) else {
        return Ok(idle);
    };
    if latest < from {
        return Ok(idle);
    }
    let to = latest.min(from + max_blocks.max(1) - 1);
    // The logs are of the chain that holds `to` before and after they were read: a switch in between is retried
    // on the next pass rather than recorded half from one chain and half from another.
    let before = client.block_hash(to).await?;
    let events = client.events(from, to).await?;
    let after = client.block_hash(to).await?;
    let Some(to_hash) = before.filter(|hash| Some(*hash) == after) else {
        eyre::bail!("the chain changed at block {to} while it was being indexed; indexing it again");
    };
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        let stored = row(event);
        apply(client, db, event, &stored).await?;
        rows.push(stored);
    }
    let stored = db.record_events(&rows, to, &format!("{to_hash:#x}")).await?;
    Ok(Indexed { stored, events: rows, rolled_back_to })
}

/// Finds whether the newest recorded block is still on the chain and, if not, rolls the index back to the newest
/// one that is; returns where it rolled back to.
async fn roll_back_orphaned(client: &MarketplaceClient, db: &Store) -> eyre::Result<Option<Option<u64>>> {
    let recorded = db.indexed_blocks().await?;
    let on_chain = |(block, hash): &(u64, String)| {
        let (block, hash) = (*block, hash.clone());
        async move { eyre::Ok(client.block_hash(block).await?.is_some_and(|canonical| format!("{canonical:#x}") == hash)) }
    };
    match recorded.first() {
        None => return Ok(None),
        Some(newest) if on_chain(newest).await? => return Ok(None),
        Some(_) => {}
    }
    let mut fork = None;
    for block in &recorded[1..] {
        if on_chain(block).await? {
            fork = Some(block.0);
            break;
        }
    }
    let kept_after = |event: &EventRecord| fork.is_none_or(|fork| event.block_number <= fork);
    let events = db.list_events(None).await?;
    let dropped: BTreeSet<u64> =
        events.iter().filter(|event| !kept_after(event)).filter_map(|event| event.task_id).collect();
    let mut rebuilt = Vec::new();
    let mut derived = Derived::default();
    for &task in &dropped {
        if db.get_task(task).await?.is_none() {
            continue;
        }
        let task_derived = derive(events.iter().filter(|event| event.task_id == Some(task) && kept_after(event)))?;
        derived.workers.extend(task_derived.workers);
        derived.claims.extend(task_derived.claims);
        rebuilt.push(task);
    }
    let rolled = db.roll_back_events(fork, &rebuilt, &derived).await?;
    tracing::warn!(
        fork = ?fork,
        newest = recorded[0].0,
        events = rolled.events.len(),
        tasks = ?rebuilt,
        reopened_txs = rolled.reopened_txs,
        "a reorganisation dropped indexed blocks; rolled back and indexing the canonical chain again"
    );
    Ok(Some(fork))
}

/// What a recorded event changes in the workers, claims and task status, read from its stored fields: the one
/// meaning of an event, for the live index and for rebuilding after a rollback.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    Joined(Worker),
    Exited { task: u64, worker: String, block: u64 },
    Claimed(Claim),
    Status(u64, TaskStatus),
}

fn change(event: &EventRecord) -> eyre::Result<Option<Change>> {
    let Some(task) = event.task_id else { return Ok(None) };
    let field = |name: &str| {
        event.data[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| eyre::eyre!("{} event at block {} has no {name}", event.kind, event.block_number))
    };
    let amount = |name: &str| -> eyre::Result<Amount> {
        let text = field(name)?;
        text.parse::<u128>().map(Amount).map_err(|_| eyre::eyre!("amount {text} does not fit 128 bits"))
    };
    let block = event.block_number;
    Ok(Some(match event.kind.as_str() {
        "WorkerJoined" => Change::Joined(Worker {
            task_id: task,
            worker: field("worker")?,
            // The task's own stake, which fit when the task was indexed.
            stake: amount("stake")?,
            status: Membership::Active,
            joined_at_block: block,
            updated_at_block: block,
        }),
        // An evicted worker is out of every later round, as one that left: slashing it would revert a finalize.
        "WorkerLeft" | "StakeWithdrawn" | "WorkerEvicted" => Change::Exited { task, worker: field("worker")?, block },
        "RewardClaimed" => Change::Claimed(Claim {
            task_id: task,
            worker: field("account")?,
            cumulative_claimed: amount("cumulative_amount")?,
            last_tx_hash: event.tx_hash.clone(),
            block_number: block,
        }),
        "TaskEnded" => Change::Status(task, TaskStatus::Ended),
        "TaskCancelled" => Change::Status(task, TaskStatus::Cancelled),
        _ => return Ok(None),
    }))
}

/// The workers and claims a task's events imply, in chain order: what a fresh index of them would hold.
fn derive<'a>(events: impl IntoIterator<Item = &'a EventRecord>) -> eyre::Result<Derived> {
    let mut workers: BTreeMap<String, Worker> = BTreeMap::new();
    let mut claims: BTreeMap<String, Claim> = BTreeMap::new();
    for event in events {
        match change(event)? {
            Some(Change::Joined(worker)) => {
                workers.insert(worker.worker.clone(), worker);
            }
            Some(Change::Exited { task, worker, block }) => {
                let joined = workers.get(&worker).map_or(block, |w| w.joined_at_block);
                workers.insert(worker.clone(), exited(task, worker, joined, block));
            }
            Some(Change::Claimed(claim)) => {
                claims.insert(claim.worker.clone(), claim);
            }
            Some(Change::Status(..)) | None => {}
        }
    }
    Ok(Derived { workers: workers.into_values().collect(), claims: claims.into_values().collect() })
}

fn exited(task_id: u64, worker: String, joined_at_block: u64, block: u64) -> Worker {
    Worker {
        task_id,
        worker,
        stake: Amount::ZERO,
        status: Membership::Exited,
        joined_at_block,
        updated_at_block: block,
    }
}

/// Updates the tables an event changes.
///
/// Anyone can create a task, with any token, and a token reports what amounts it likes: a task whose amounts
/// do not fit the database (128 bits) is left out with a warning, and so are its later events. One bad task
/// must not stop the indexer for every other.
async fn apply(client: &MarketplaceClient, db: &Store, event: &ChainEvent, stored: &EventRecord) -> eyre::Result<()> {
    let block = event.block_number;
    if let MarketplaceEvents::TaskCreated(created) = &event.event {
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
        return Ok(());
    }
    if let Some(task) = stored.task_id
        && db.get_task(task).await?.is_none()
    {
        tracing::warn!(task, block, "skipping an event of a task that was not indexed");
        return Ok(());
    }
    match change(stored)? {
        Some(Change::Joined(worker)) => {
            db.upsert_worker(&worker).await?;
        }
        Some(Change::Exited { task, worker, block }) => {
            let joined = db.get_worker(task, &worker).await?.map_or(block, |previous| previous.joined_at_block);
            db.upsert_worker(&exited(task, worker, joined, block)).await?;
        }
        Some(Change::Claimed(claim)) => {
            db.upsert_claim(&claim).await?;
        }
        Some(Change::Status(task, status)) => db.set_task_status(task, status).await?,
        None => {}
    }
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
            "max_slash_bps": config.maxSlashBps,
            // A confidential task's access policy (`tessera-access-v1`), `null` for a public task.
            "access_policy": (!config.accessPolicy.is_zero()).then(|| cid(config.accessPolicy)),
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
fn row(event: &ChainEvent) -> EventRecord {
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
        MarketplaceEvents::WorkerLeftDuringRound(e) => (
            "WorkerLeftDuringRound",
            e.taskId,
            json!({ "worker": hex(e.worker), "round": e.round, "stake_held": e.stakeHeld.to_string() }),
        ),
        MarketplaceEvents::WorkerEvicted(e) => {
            ("WorkerEvicted", e.taskId, json!({ "worker": hex(e.worker), "stake_held": e.stakeHeld.to_string() }))
        }
        MarketplaceEvents::TaskEndRequested(e) => ("TaskEndRequested", e.taskId, json!({ "round": e.round })),
        MarketplaceEvents::UnclaimedSwept(e) => {
            ("UnclaimedSwept", e.taskId, json!({ "requester": hex(e.requester), "amount": e.amount.to_string() }))
        }
        MarketplaceEvents::ValidationSetRevealed(e) => (
            "ValidationSetRevealed",
            e.taskId,
            json!({ "validation_set_cid": cid(e.validationSetCid), "revealer": hex(e.revealer) }),
        ),
        other => ("Other", U256::ZERO, json!({ "debug": format!("{other:?}") })),
    };
    EventRecord {
        block_number: event.block_number,
        block_hash: Some(format!("{:#x}", event.block_hash)),
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
