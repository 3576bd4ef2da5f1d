use serde::{Deserialize, Serialize};

use crate::{
    Error, Result, Store,
    codec::{self, int, opt_uint, uint},
    store::{BeginWrite, dispatch},
};

/// A decoded log of the marketplace contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The block it was emitted in.
    pub block_number: u64,
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

    /// Records a batch of events and moves the cursor to `cursor`, in one transaction; returns how many events
    /// were new. Events already recorded are skipped, so re-indexing a range after a crash is harmless. Apply
    /// what the events mean (workers, claims: idempotent upserts) before calling this, and a crash in between
    /// just replays the batch.
    pub async fn record_events(&self, events: &[EventRecord], cursor: u64) -> Result<u64> {
        let rows = events
            .iter()
            .map(|e| {
                Ok((
                    int(e.block_number, "block_number")?,
                    int(e.log_index, "log_index")?,
                    codec::hex(&e.tx_hash, "tx_hash")?,
                    e.task_id.map(|id| int(id, "task_id")).transpose()?,
                    codec::to_json(&e.data, "data")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let cursor = int(cursor, "cursor")?;
        let inserted = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut inserted = 0;
            for ((block, log_index, tx_hash, task_id, data), event) in rows.iter().zip(events) {
                inserted += sqlx::query(
                    "INSERT INTO chain_events (block_number, log_index, tx_hash, kind, task_id, data) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (block_number, log_index) DO NOTHING",
                )
                .bind(block)
                .bind(log_index)
                .bind(tx_hash)
                .bind(&event.kind)
                .bind(task_id)
                .bind(data)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
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

    /// Every recorded event, or a task's, in chain order.
    pub async fn list_events(&self, task_id: Option<u64>) -> Result<Vec<EventRecord>> {
        let task_id = task_id.map(|id| int(id, "task_id")).transpose()?;
        let rows: Vec<ChainEventRow> = dispatch!(self, pool => {
            sqlx::query_as(
                "SELECT block_number, log_index, tx_hash, kind, task_id, data FROM chain_events \
                 WHERE $1 IS NULL OR task_id = $1 ORDER BY block_number, log_index",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(EventRecord::try_from).collect()
    }
}
