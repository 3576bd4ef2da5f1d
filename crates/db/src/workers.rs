use serde::{Deserialize, Serialize};

use crate::{
    Amount, Error, Result, Store,
    codec::{self, int, parse, text_enum, uint},
    store::dispatch,
};

text_enum! {
    /// Whether a worker is in a task.
    pub enum Membership {
        /// Joined, stake escrowed.
        Active = "active",
        /// Left, or took its stake back.
        Exited = "exited",
    }
}

/// A worker in a task, as the chain event indexer last saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// The task.
    pub task_id: u64,
    /// The worker (0x-hex address).
    pub worker: String,
    /// Stake escrowed.
    pub stake: Amount,
    /// In the task or not.
    pub status: Membership,
    /// The block of its `WorkerJoined` event.
    pub joined_at_block: u64,
    /// The block of the event this reflects; older ones do not overwrite it.
    pub updated_at_block: u64,
}

/// What a worker has claimed of its rewards, as the indexer last saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The task.
    pub task_id: u64,
    /// The worker (0x-hex address).
    pub worker: String,
    /// Everything claimed so far.
    pub cumulative_claimed: Amount,
    /// The last claim's transaction (0x-hex).
    pub last_tx_hash: String,
    /// The last claim's block; older ones do not overwrite it.
    pub block_number: u64,
}

#[derive(sqlx::FromRow)]
struct WorkerRow {
    task_id: i64,
    worker: String,
    stake: String,
    status: String,
    joined_at_block: i64,
    updated_at_block: i64,
}

impl TryFrom<WorkerRow> for Worker {
    type Error = Error;

    fn try_from(row: WorkerRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "workers.task_id")?,
            worker: row.worker,
            stake: parse(&row.stake, "workers.stake")?,
            status: parse(&row.status, "workers.status")?,
            joined_at_block: uint(row.joined_at_block, "workers.joined_at_block")?,
            updated_at_block: uint(row.updated_at_block, "workers.updated_at_block")?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    task_id: i64,
    worker: String,
    cumulative_claimed: String,
    last_tx_hash: String,
    block_number: i64,
}

impl TryFrom<ClaimRow> for Claim {
    type Error = Error;

    fn try_from(row: ClaimRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "claims.task_id")?,
            worker: row.worker,
            cumulative_claimed: parse(&row.cumulative_claimed, "claims.cumulative_claimed")?,
            last_tx_hash: row.last_tx_hash,
            block_number: uint(row.block_number, "claims.block_number")?,
        })
    }
}

const WORKER_COLUMNS: &str = "task_id, worker, stake, status, joined_at_block, updated_at_block";
const CLAIM_COLUMNS: &str = "task_id, worker, cumulative_claimed, last_tx_hash, block_number";

/// Writes a worker's row unless the stored one comes from a later block; binds [`worker_binds`].
pub(crate) fn upsert_worker_sql() -> String {
    format!(
        "INSERT INTO workers ({WORKER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (task_id, worker) DO UPDATE SET stake = excluded.stake, status = excluded.status, \
         joined_at_block = excluded.joined_at_block, updated_at_block = excluded.updated_at_block \
         WHERE workers.updated_at_block <= excluded.updated_at_block"
    )
}

/// Writes a claim's row unless the stored one comes from a later block; binds [`claim_binds`].
pub(crate) fn upsert_claim_sql() -> String {
    format!(
        "INSERT INTO claims ({CLAIM_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (task_id, worker) DO UPDATE SET cumulative_claimed = excluded.cumulative_claimed, \
         last_tx_hash = excluded.last_tx_hash, block_number = excluded.block_number \
         WHERE claims.block_number <= excluded.block_number"
    )
}

/// A worker's columns as stored, in [`WORKER_COLUMNS`] order.
pub(crate) fn worker_binds(worker: &Worker) -> Result<(i64, String, String, &'static str, i64, i64)> {
    Ok((
        int(worker.task_id, "task_id")?,
        codec::hex(&worker.worker, "worker")?,
        worker.stake.to_string(),
        worker.status.as_str(),
        int(worker.joined_at_block, "joined_at_block")?,
        int(worker.updated_at_block, "updated_at_block")?,
    ))
}

/// A claim's columns as stored, in [`CLAIM_COLUMNS`] order.
pub(crate) fn claim_binds(claim: &Claim) -> Result<(i64, String, String, String, i64)> {
    Ok((
        int(claim.task_id, "task_id")?,
        codec::hex(&claim.worker, "worker")?,
        claim.cumulative_claimed.to_string(),
        codec::hex(&claim.last_tx_hash, "last_tx_hash")?,
        int(claim.block_number, "block_number")?,
    ))
}

impl Store {
    /// Inserts or updates a worker; `Ok(false)` when the stored row comes from a later block (re-indexing old
    /// events after a crash does not undo newer ones).
    pub async fn upsert_worker(&self, worker: &Worker) -> Result<bool> {
        let sql = upsert_worker_sql();
        let (task_id, address, stake, status, joined, updated) = worker_binds(worker)?;
        let written = dispatch!(self, pool => {
            sqlx::query(&sql)
                .bind(task_id)
                .bind(&address)
                .bind(&stake)
                .bind(status)
                .bind(joined)
                .bind(updated)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(written > 0)
    }

    /// A worker in a task, if the indexer has seen it.
    pub async fn get_worker(&self, task_id: u64, worker: &str) -> Result<Option<Worker>> {
        let sql = format!("SELECT {WORKER_COLUMNS} FROM workers WHERE task_id = $1 AND worker = $2");
        let task_id = int(task_id, "task_id")?;
        let worker = codec::hex(worker, "worker")?;
        let row: Option<WorkerRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).bind(&worker).fetch_optional(pool).await?);
        row.map(Worker::try_from).transpose()
    }

    /// A task's workers, active and exited, in the order they joined.
    pub async fn list_workers(&self, task_id: u64) -> Result<Vec<Worker>> {
        let sql = format!("SELECT {WORKER_COLUMNS} FROM workers WHERE task_id = $1 ORDER BY joined_at_block, worker");
        let task_id = int(task_id, "task_id")?;
        let rows: Vec<WorkerRow> = dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await?);
        rows.into_iter().map(Worker::try_from).collect()
    }

    /// Inserts or updates a claim; `Ok(false)` when the stored row comes from a later block.
    pub async fn upsert_claim(&self, claim: &Claim) -> Result<bool> {
        let sql = upsert_claim_sql();
        let (task_id, worker, claimed, tx_hash, block) = claim_binds(claim)?;
        let written = dispatch!(self, pool => {
            sqlx::query(&sql)
                .bind(task_id)
                .bind(&worker)
                .bind(&claimed)
                .bind(&tx_hash)
                .bind(block)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(written > 0)
    }

    /// What a worker has claimed in a task, if anything.
    pub async fn get_claim(&self, task_id: u64, worker: &str) -> Result<Option<Claim>> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE task_id = $1 AND worker = $2");
        let task_id = int(task_id, "task_id")?;
        let worker = codec::hex(worker, "worker")?;
        let row: Option<ClaimRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).bind(&worker).fetch_optional(pool).await?);
        row.map(Claim::try_from).transpose()
    }

    /// A task's claims, by worker address.
    pub async fn list_claims(&self, task_id: u64) -> Result<Vec<Claim>> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE task_id = $1 ORDER BY worker");
        let task_id = int(task_id, "task_id")?;
        let rows: Vec<ClaimRow> = dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await?);
        rows.into_iter().map(Claim::try_from).collect()
    }
}
