use serde::{Deserialize, Serialize};

use crate::{
    Claim, Error, Result, Store, Worker,
    codec::{self, int, opt_uint, uint},
    store::{BeginWrite, dispatch},
    workers::{claim_binds, upsert_claim_sql, upsert_worker_sql, worker_binds},
};

const EVENT_COLUMNS: &str = "block_number, block_hash, log_index, tx_hash, kind, task_id, data";

/// How many recorded block hashes the indexer keeps: a reorganisation deeper than this many passes (or event
/// blocks) rolls the index back to the start.
pub const KEPT_BLOCK_HASHES: u64 = 1_024;

/// A decoded log of the marketplace contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The block it was emitted in.
    pub block_number: u64,
    /// That block's hash (0x-hex); `None` for events recorded before hashes were.
    pub block_hash: Option<String>,
    /// Its index in the block: with the block, its identity.
    pub log_index: u64,
    /// The transaction that emitted it (0x-hex).
    pub tx_hash: String,
    /// The event's name, e.g. `WorkerJoined`.
    pub kind: String,
    /// The task it concerns, if one.
    pub task_id: Option<u64>,
    /// Its fields, as JSON.
    pub data: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct ChainEventRow {
    block_number: i64,
    block_hash: Option<String>,
    log_index: i64,
    tx_hash: String,
    kind: String,
    task_id: Option<i64>,
    data: String,
}

impl TryFrom<ChainEventRow> for EventRecord {
    type Error = Error;

    fn try_from(row: ChainEventRow) -> Result<Self> {
        Ok(Self {
            block_number: uint(row.block_number, "chain_events.block_number")?,
            block_hash: row.block_hash,
            log_index: uint(row.log_index, "chain_events.log_index")?,
            tx_hash: row.tx_hash,
            kind: row.kind,
            task_id: opt_uint(row.task_id, "chain_events.task_id")?,
            data: codec::from_json(&row.data, "chain_events.data")?,
        })
    }
}

impl Store {
    /// The last block the indexer recorded in full, if it has started.
    pub async fn get_cursor(&self) -> Result<Option<u64>> {
        let block: Option<i64> = dispatch!(self, pool => {
            sqlx::query_scalar("SELECT block_number FROM chain_cursor WHERE id = 1").fetch_optional(pool).await?
        });
        block.map(|block| uint(block, "chain_cursor.block_number")).transpose()
    }

    /// Records a batch of events and moves the cursor to `cursor`, whose block hash is `cursor_hash`, in one
    /// transaction; returns how many events were new. Events already recorded are skipped, so re-indexing a range
    /// after a crash is harmless. Apply what the events mean (workers, claims: idempotent upserts) before calling
    /// this, and a crash in between just replays the batch. The hashes of the cursor's block and of every event's
    /// are kept (the newest [`KEPT_BLOCK_HASHES`]) for [`Store::indexed_blocks`].
    pub async fn record_events(&self, events: &[EventRecord], cursor: u64, cursor_hash: &str) -> Result<u64> {
        let rows = events
            .iter()
            .map(|e| {
                Ok((
                    int(e.block_number, "block_number")?,
                    codec::opt_hex(e.block_hash.as_deref(), "block_hash")?,
                    int(e.log_index, "log_index")?,
                    codec::hex(&e.tx_hash, "tx_hash")?,
                    e.task_id.map(|id| int(id, "task_id")).transpose()?,
                    codec::to_json(&e.data, "data")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut blocks: Vec<(i64, String)> =
            rows.iter().filter_map(|(block, hash, ..)| Some((*block, hash.clone()?))).collect();
        blocks.push((int(cursor, "cursor")?, codec::hex(cursor_hash, "cursor_hash")?));
        blocks.dedup();
        let cursor = int(cursor, "cursor")?;
        let kept = int(KEPT_BLOCK_HASHES - 1, "kept")?;
        let inserted = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut inserted = 0;
            for ((block, block_hash, log_index, tx_hash, task_id, data), event) in rows.iter().zip(events) {
                inserted += sqlx::query(
                    "INSERT INTO chain_events (block_number, block_hash, log_index, tx_hash, kind, task_id, data) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (block_number, log_index) DO NOTHING",
                )
                .bind(block)
                .bind(block_hash)
                .bind(log_index)
                .bind(tx_hash)
                .bind(&event.kind)
                .bind(task_id)
                .bind(data)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            for (block, hash) in &blocks {
                sqlx::query(
                    "INSERT INTO indexed_blocks (block_number, block_hash) VALUES ($1, $2) \
                     ON CONFLICT (block_number) DO UPDATE SET block_hash = excluded.block_hash",
                )
                .bind(block)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "DELETE FROM indexed_blocks WHERE block_number < \
                 (SELECT block_number FROM indexed_blocks ORDER BY block_number DESC LIMIT 1 OFFSET $1)",
            )
            .bind(kept)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO chain_cursor (id, block_number) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number",
            )
            .bind(cursor)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            inserted
        });
        Ok(inserted)
    }

    /// The recorded block hashes, newest first: what the indexer compares with the chain to find a reorganisation
    /// and how far back it reaches.
    pub async fn indexed_blocks(&self) -> Result<Vec<(u64, String)>> {
        let rows: Vec<(i64, String)> = dispatch!(self, pool => {
            sqlx::query_as("SELECT block_number, block_hash FROM indexed_blocks ORDER BY block_number DESC")
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(|(block, hash)| Ok((uint(block, "indexed_blocks.block_number")?, hash))).collect()
    }

    /// Takes back what the indexer applied from blocks after `fork` (all of it for `None`), in one transaction:
    /// their events and hashes go, the cursor returns to `fork`, the workers and claims of `rebuilt` tasks are
    /// replaced by `derived` (what the events kept imply), a task whose cancellation went is open again, and every
    /// outbox transaction counted mined in a dropped block is sent again (the writer then finds it on the canonical
    /// chain, or sends it anew with its nonce). Returns the events taken back.
    pub async fn roll_back_events(&self, fork: Option<u64>, rebuilt: &[u64], derived: &Derived) -> Result<RolledBack> {
        let after = fork.map(|block| int(block, "fork")).transpose()?.unwrap_or(-1);
        let rebuilt = rebuilt.iter().map(|&task| int(task, "task_id")).collect::<Result<Vec<_>>>()?;
        let workers = derived.workers.iter().map(worker_binds).collect::<Result<Vec<_>>>()?;
        let claims = derived.claims.iter().map(claim_binds).collect::<Result<Vec<_>>>()?;
        let now = codec::now_ms();
        let select_dropped = format!(
            "SELECT {EVENT_COLUMNS} FROM chain_events WHERE block_number > $1 ORDER BY block_number, log_index"
        );
        let (insert_worker, insert_claim) = (upsert_worker_sql(), upsert_claim_sql());
        let (rows, reopened) = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rows: Vec<ChainEventRow> = sqlx::query_as(&select_dropped).bind(after).fetch_all(&mut *tx).await?;
            sqlx::query("DELETE FROM chain_events WHERE block_number > $1").bind(after).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM indexed_blocks WHERE block_number > $1").bind(after).execute(&mut *tx).await?;
            if after < 0 {
                sqlx::query("DELETE FROM chain_cursor").execute(&mut *tx).await?;
            } else {
                sqlx::query("UPDATE chain_cursor SET block_number = $1").bind(after).execute(&mut *tx).await?;
            }
            for task in &rebuilt {
                sqlx::query("DELETE FROM workers WHERE task_id = $1").bind(task).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM claims WHERE task_id = $1").bind(task).execute(&mut *tx).await?;
            }
            // The rows were just deleted: each upsert inserts.
            for (task, worker, stake, status, joined, updated) in &workers {
                sqlx::query(&insert_worker)
                .bind(task)
                .bind(worker)
                .bind(stake)
                .bind(status)
                .bind(joined)
                .bind(updated)
                .execute(&mut *tx)
                .await?;
            }
            for (task, worker, claimed, tx_hash, block) in &claims {
                sqlx::query(&insert_claim)
                .bind(task)
                .bind(worker)
                .bind(claimed)
                .bind(tx_hash)
                .bind(block)
                .execute(&mut *tx)
                .await?;
            }
            for row in rows.iter().filter(|row| row.kind == "TaskCancelled") {
                sqlx::query("UPDATE tasks SET status = 'open' WHERE task_id = $1 AND status = 'cancelled'")
                    .bind(row.task_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let reopened = sqlx::query(
                "UPDATE chain_txs SET state = 'sent', block_number = NULL, updated_at_ms = $2 \
                 WHERE state = 'mined' AND block_number > $1",
            )
            .bind(after)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            (rows, reopened)
        });
        let events = rows.into_iter().map(EventRecord::try_from).collect::<Result<_>>()?;
        Ok(RolledBack { events, reopened_txs: reopened })
    }

    /// Every recorded event, or a task's, in chain order.
    pub async fn list_events(&self, task_id: Option<u64>) -> Result<Vec<EventRecord>> {
        let task_id = task_id.map(|id| int(id, "task_id")).transpose()?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM chain_events WHERE $1 IS NULL OR task_id = $1 ORDER BY block_number, log_index"
        );
        let rows: Vec<ChainEventRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await?);
        rows.into_iter().map(EventRecord::try_from).collect()
    }
}

/// The workers and claims that a task's events imply, as the indexer derives them: what
/// [`Store::roll_back_events`] writes in place of the rows the dropped blocks had changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Derived {
    /// Each worker's row.
    pub workers: Vec<Worker>,
    /// Each claimant's row.
    pub claims: Vec<Claim>,
}

/// What a rollback took back.
#[derive(Debug, Default)]
pub struct RolledBack {
    /// The events of the dropped blocks, in chain order.
    pub events: Vec<EventRecord>,
    /// Outbox transactions that had been counted mined in a dropped block, now to be reconciled again.
    pub reopened_txs: u64,
}
