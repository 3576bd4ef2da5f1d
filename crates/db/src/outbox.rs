use serde::{Deserialize, Serialize};

use crate::{
    Error, Result, Store,
    codec::{self, int, opt_uint, parse, text_enum, uint},
    store::{BeginWrite, dispatch},
};

text_enum! {
    /// Where an outbox transaction is.
    pub enum TxState {
        /// Recorded, not yet signed and sent.
        Pending = "pending",
        /// Signed with a nonce and hash (recorded before broadcasting); not yet seen mined.
        Sent = "sent",
        /// Mined successfully.
        Mined = "mined",
        /// Reverted or rejected for good.
        Failed = "failed",
        /// Its nonce was used by another transaction; it will never be mined.
        Replaced = "replaced",
    }
}

/// A transaction to record in the outbox before it is sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewChainTx {
    /// Names the intent, e.g. `finalize:<task>:<round>`: enqueueing it again returns the first row.
    pub idempotency_key: String,
    /// What the transaction does, e.g. `finalize_round`.
    pub kind: String,
    /// The task it concerns, if one.
    pub task_id: Option<u64>,
    /// The round it concerns, if one.
    pub round: Option<u32>,
    /// The call data, as JSON.
    pub payload: serde_json::Value,
}

/// A transaction in the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainTx {
    /// Outbox id, dense, in enqueue order.
    pub id: u64,
    /// Names the intent.
    pub idempotency_key: String,
    /// What the transaction does.
    pub kind: String,
    /// The task it concerns, if one.
    pub task_id: Option<u64>,
    /// The round it concerns, if one.
    pub round: Option<u32>,
    /// The call data, as JSON.
    pub payload: serde_json::Value,
    /// Where it is.
    pub state: TxState,
    /// The nonce it was signed with, once sent.
    pub nonce: Option<u64>,
    /// Its hash (0x-hex), once sent; the latest one if re-sent.
    pub tx_hash: Option<String>,
    /// The block it was mined in.
    pub block_number: Option<u64>,
    /// How many times it was signed and sent.
    pub attempts: u32,
    /// The last error seen.
    pub last_error: Option<String>,
    /// When it was enqueued, unix milliseconds.
    pub created_at_ms: i64,
    /// When it last changed, unix milliseconds.
    pub updated_at_ms: i64,
}

#[derive(sqlx::FromRow)]
struct ChainTxRow {
    id: i64,
    idempotency_key: String,
    kind: String,
    task_id: Option<i64>,
    round: Option<i64>,
    payload: String,
    state: String,
    nonce: Option<i64>,
    tx_hash: Option<String>,
    block_number: Option<i64>,
    attempts: i64,
    last_error: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl TryFrom<ChainTxRow> for ChainTx {
    type Error = Error;

    fn try_from(row: ChainTxRow) -> Result<Self> {
        Ok(Self {
            id: uint(row.id, "chain_txs.id")?,
            idempotency_key: row.idempotency_key,
            kind: row.kind,
            task_id: opt_uint(row.task_id, "chain_txs.task_id")?,
            round: opt_uint(row.round, "chain_txs.round")?,
            payload: codec::from_json(&row.payload, "chain_txs.payload")?,
            state: parse(&row.state, "chain_txs.state")?,
            nonce: opt_uint(row.nonce, "chain_txs.nonce")?,
            tx_hash: row.tx_hash,
            block_number: opt_uint(row.block_number, "chain_txs.block_number")?,
            attempts: uint(row.attempts, "chain_txs.attempts")?,
            last_error: row.last_error,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        })
    }
}

const COLUMNS: &str = "id, idempotency_key, kind, task_id, round, payload, state, nonce, tx_hash, block_number, \
    attempts, last_error, created_at_ms, updated_at_ms";

/// What a state change writes besides the state; `None` keeps a column.
#[derive(Default)]
struct Change<'a> {
    nonce: Option<i64>,
    tx_hash: Option<String>,
    block_number: Option<i64>,
    error: Option<&'a str>,
    attempt: bool,
}

impl Store {
    /// Records a transaction as [`TxState::Pending`], or returns the row already recorded under its idempotency
    /// key (whatever its state), so an intent is never recorded twice, even by two replicas at once.
    pub async fn enqueue(&self, new: &NewChainTx) -> Result<ChainTx> {
        if let Some(existing) = self.get_tx_by_key(&new.idempotency_key).await? {
            return Ok(existing);
        }
        let sql = format!(
            "INSERT INTO chain_txs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'pending', NULL, NULL, NULL, 0, NULL, \
             $7, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING {COLUMNS}"
        );
        let task_id = new.task_id.map(|id| int(id, "task_id")).transpose()?;
        let round = new.round.map(i64::from);
        let payload = codec::to_json(&new.payload, "payload")?;
        let now = codec::now_ms();
        let row: Option<ChainTxRow> = dispatch!(self, pool => {
            let mut db_tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "UPDATE counters SET value = value + 1 WHERE name = 'chain_txs' RETURNING value",
            )
            .fetch_one(&mut *db_tx)
            .await?;
            let row = sqlx::query_as(&sql)
                .bind(id)
                .bind(&new.idempotency_key)
                .bind(&new.kind)
                .bind(task_id)
                .bind(round)
                .bind(&payload)
                .bind(now)
                .fetch_optional(&mut *db_tx)
                .await?;
            if row.is_some() {
                db_tx.commit().await?;
            } else {
                // Another writer took the key since the look-up: give the id back, keep theirs.
                db_tx.rollback().await?;
            }
            row
        });
        match row {
            Some(row) => row.try_into(),
            None => self
                .get_tx_by_key(&new.idempotency_key)
                .await?
                .ok_or_else(|| Error::not_found(format!("chain tx {:?}", new.idempotency_key))),
        }
    }

    /// An outbox transaction by id.
    pub async fn get_tx(&self, id: u64) -> Result<Option<ChainTx>> {
        let sql = format!("SELECT {COLUMNS} FROM chain_txs WHERE id = $1");
        let id = int(id, "id")?;
        let row: Option<ChainTxRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(ChainTx::try_from).transpose()
    }

    /// An outbox transaction by idempotency key.
    pub async fn get_tx_by_key(&self, key: &str) -> Result<Option<ChainTx>> {
        let sql = format!("SELECT {COLUMNS} FROM chain_txs WHERE idempotency_key = $1");
        let row: Option<ChainTxRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(key).fetch_optional(pool).await?);
        row.map(ChainTx::try_from).transpose()
    }

    /// The oldest [`TxState::Pending`] transaction: the next to sign and send.
    pub async fn next_unsent(&self) -> Result<Option<ChainTx>> {
        let sql = format!("SELECT {COLUMNS} FROM chain_txs WHERE state = 'pending' ORDER BY id LIMIT 1");
        let row: Option<ChainTxRow> = dispatch!(self, pool => sqlx::query_as(&sql).fetch_optional(pool).await?);
        row.map(ChainTx::try_from).transpose()
    }

    /// Every [`TxState::Sent`] transaction, oldest first: what a restarted coordinator reconciles, by looking up
    /// each hash's receipt or re-checking the chain's state.
    pub async fn list_in_flight(&self) -> Result<Vec<ChainTx>> {
        let sql = format!("SELECT {COLUMNS} FROM chain_txs WHERE state = 'sent' ORDER BY id");
        let rows: Vec<ChainTxRow> = dispatch!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        rows.into_iter().map(ChainTx::try_from).collect()
    }

    /// Every outbox transaction, or a task's, oldest first.
    pub async fn list_txs(&self, task_id: Option<u64>) -> Result<Vec<ChainTx>> {
        let sql = format!("SELECT {COLUMNS} FROM chain_txs WHERE $1 IS NULL OR task_id = $1 ORDER BY id");
        let task_id = task_id.map(|id| int(id, "task_id")).transpose()?;
        let rows: Vec<ChainTxRow> = dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await?);
        rows.into_iter().map(ChainTx::try_from).collect()
    }

    /// Pending → sent, with the nonce and hash it was signed with. Call it after signing and before
    /// broadcasting, and broadcast only if it returns `Ok(true)`: then a crash leaves a hash to reconcile, and two
    /// senders never both send.
    pub async fn mark_sent(&self, id: u64, nonce: u64, tx_hash: &str) -> Result<bool> {
        let change = Change {
            nonce: Some(int(nonce, "nonce")?),
            tx_hash: Some(codec::hex(tx_hash, "tx_hash")?),
            attempt: true,
            ..Change::default()
        };
        self.transition(id, &[TxState::Pending], TxState::Sent, change).await
    }

    /// Sent → sent with a new nonce and hash: the transaction was re-signed (a gas bump, or a rebroadcast after
    /// its first hash was never seen). Same protocol as [`Store::mark_sent`].
    pub async fn mark_resent(&self, id: u64, nonce: u64, tx_hash: &str) -> Result<bool> {
        let change = Change {
            nonce: Some(int(nonce, "nonce")?),
            tx_hash: Some(codec::hex(tx_hash, "tx_hash")?),
            attempt: true,
            ..Change::default()
        };
        self.transition(id, &[TxState::Sent], TxState::Sent, change).await
    }

    /// Sent → mined, in `block`.
    pub async fn mark_mined(&self, id: u64, block: u64) -> Result<bool> {
        let change = Change { block_number: Some(int(block, "block_number")?), ..Change::default() };
        self.transition(id, &[TxState::Sent], TxState::Mined, change).await
    }

    /// Pending or sent → failed, for good (reverted, or rejected in a way a retry will not fix).
    pub async fn mark_failed(&self, id: u64, error: &str) -> Result<bool> {
        let change = Change { error: Some(error), ..Change::default() };
        self.transition(id, &[TxState::Pending, TxState::Sent], TxState::Failed, change).await
    }

    /// Sent → replaced: its nonce was used by another transaction, so it will never be mined.
    pub async fn mark_replaced(&self, id: u64, reason: &str) -> Result<bool> {
        let change = Change { error: Some(reason), ..Change::default() };
        self.transition(id, &[TxState::Sent], TxState::Replaced, change).await
    }

    /// Records a transient error (an RPC timeout) without changing the state. [`Error::NotFound`] if no such row.
    pub async fn record_tx_error(&self, id: u64, error: &str) -> Result<()> {
        let row_id = int(id, "id")?;
        let now = codec::now_ms();
        let updated = dispatch!(self, pool => {
            sqlx::query("UPDATE chain_txs SET last_error = $2, updated_at_ms = $3 WHERE id = $1")
                .bind(row_id)
                .bind(error)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(Error::not_found(format!("chain tx {id}")));
        }
        Ok(())
    }

    /// Moves transaction `id` from one of `from` to `to` with `change`: `Ok(false)` if it was in another state.
    async fn transition(&self, id: u64, from: &[TxState], to: TxState, change: Change<'_>) -> Result<bool> {
        debug_assert!(matches!(from.len(), 1 | 2), "the statement below takes one or two source states");
        let row_id = int(id, "id")?;
        let first = from.first().copied().unwrap_or(to);
        let second = from.get(1).copied().unwrap_or(first);
        let now = codec::now_ms();
        let updated = dispatch!(self, pool => {
            sqlx::query(
                "UPDATE chain_txs SET state = $2, nonce = COALESCE($3, nonce), tx_hash = COALESCE($4, tx_hash), \
                 block_number = COALESCE($5, block_number), last_error = COALESCE($6, last_error), \
                 attempts = attempts + $7, updated_at_ms = $8 WHERE id = $1 AND state IN ($9, $10)",
            )
            .bind(row_id)
            .bind(to.as_str())
            .bind(change.nonce)
            .bind(change.tx_hash.as_deref())
            .bind(change.block_number)
            .bind(change.error)
            .bind(i64::from(change.attempt))
            .bind(now)
            .bind(first.as_str())
            .bind(second.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 && self.get_tx(id).await?.is_none() {
            return Err(Error::not_found(format!("chain tx {id}")));
        }
        Ok(updated > 0)
    }
}
