use serde::{Deserialize, Serialize};

use crate::{
    Amount, Error, Result, Store,
    codec::{self, int, parse, text_enum, uint},
    error::{is_foreign_key_violation, unique_violation},
    store::{BeginWrite, dispatch},
};

text_enum! {
    /// Where a round is. Phases only move forward, one compare-and-set at a time
    /// ([`Store::advance_round_phase`]): the engine does a step's idempotent work, then moves the phase.
    pub enum RoundPhase {
        /// Accepting submissions until the deadline.
        Collecting = "collecting",
        /// Validating, scoring and aggregating the submissions.
        Aggregating = "aggregating",
        /// Publishing the new checkpoint and the manifest to IPFS.
        Publishing = "publishing",
        /// The `finalizeRound` transaction is in the outbox.
        Finalizing = "finalizing",
        /// Finalized on chain.
        Finalized = "finalized",
    }
}

impl RoundPhase {
    /// The phase after this one, if any.
    pub fn next(self) -> Option<Self> {
        Self::ALL.get(self.rank() + 1).copied()
    }

    fn rank(self) -> usize {
        Self::ALL.iter().position(|phase| *phase == self).unwrap_or_default()
    }
}

/// How the aggregate of a round did on the validation set, and where the coordinator's time went: stored as
/// the API reports it.
pub use tessera_api::RoundMetrics;

/// A round as the engine starts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRound {
    /// The task.
    pub task_id: u64,
    /// The round, from 1.
    pub round: u32,
    /// The checkpoint workers train from.
    pub global_model_cid: String,
    /// The submission deadline, unix milliseconds.
    pub deadline_ms: i64,
    /// When the round started, unix milliseconds.
    pub started_at_ms: i64,
}

/// A stored round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// The task.
    pub task_id: u64,
    /// The round, from 1.
    pub round: u32,
    /// Where the round is.
    pub phase: RoundPhase,
    /// The checkpoint workers train from.
    pub global_model_cid: String,
    /// The submission deadline, unix milliseconds.
    pub deadline_ms: i64,
    /// The aggregate, once published.
    pub new_model_cid: Option<String>,
    /// The round manifest, once published.
    pub manifest_cid: Option<String>,
    /// The cumulative rewards Merkle root (0x-hex), once computed.
    pub rewards_root: Option<String>,
    /// Rewards owed over all rounds so far, this one included.
    pub cumulative_rewards_total: Option<Amount>,
    /// The aggregate's validation metrics.
    pub metrics: Option<RoundMetrics>,
    /// Submissions accepted.
    pub submission_count: u64,
    /// When the round started, unix milliseconds.
    pub started_at_ms: i64,
    /// When the round was finalized, unix milliseconds.
    pub finalized_at_ms: Option<i64>,
}

/// Results written in the same statement as a phase change ([`Store::advance_round_phase_with`]); `None` leaves
/// a column as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundPatch {
    /// The aggregate's CID.
    pub new_model_cid: Option<String>,
    /// The manifest's CID.
    pub manifest_cid: Option<String>,
    /// The cumulative rewards Merkle root (0x-hex).
    pub rewards_root: Option<String>,
    /// Rewards owed over all rounds so far.
    pub cumulative_rewards_total: Option<Amount>,
    /// Validation metrics.
    pub metrics: Option<RoundMetrics>,
    /// When the round was finalized.
    pub finalized_at_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct RoundRow {
    task_id: i64,
    round: i64,
    phase: String,
    global_model_cid: String,
    deadline_ms: i64,
    new_model_cid: Option<String>,
    manifest_cid: Option<String>,
    rewards_root: Option<String>,
    cumulative_rewards_total: Option<String>,
    metrics: Option<String>,
    submission_count: i64,
    started_at_ms: i64,
    finalized_at_ms: Option<i64>,
}

impl TryFrom<RoundRow> for Round {
    type Error = Error;

    fn try_from(row: RoundRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "rounds.task_id")?,
            round: uint(row.round, "rounds.round")?,
            phase: parse(&row.phase, "rounds.phase")?,
            global_model_cid: row.global_model_cid,
            deadline_ms: row.deadline_ms,
            new_model_cid: row.new_model_cid,
            manifest_cid: row.manifest_cid,
            rewards_root: row.rewards_root,
            cumulative_rewards_total: row
                .cumulative_rewards_total
                .map(|total| parse(&total, "rounds.cumulative_rewards_total"))
                .transpose()?,
            metrics: row.metrics.map(|metrics| codec::from_json(&metrics, "rounds.metrics")).transpose()?,
            submission_count: uint(row.submission_count, "rounds.submission_count")?,
            started_at_ms: row.started_at_ms,
            finalized_at_ms: row.finalized_at_ms,
        })
    }
}

const COLUMNS: &str = "task_id, round, phase, global_model_cid, deadline_ms, new_model_cid, manifest_cid, \
    rewards_root, cumulative_rewards_total, metrics, submission_count, started_at_ms, finalized_at_ms";

impl Store {
    /// Starts a round in [`RoundPhase::Collecting`] and, in the same transaction, makes it the task's current
    /// round (and the task running, as `startRound` does on chain). [`Error::Duplicate`] if the round exists,
    /// [`Error::NotFound`] if the task does not.
    pub async fn insert_round(&self, round: &NewRound) -> Result<Round> {
        let sql = format!(
            "INSERT INTO rounds (task_id, round, phase, global_model_cid, deadline_ms, started_at_ms) \
             VALUES ($1, $2, 'collecting', $3, $4, $5) RETURNING {COLUMNS}"
        );
        let task_id = int(round.task_id, "task_id")?;
        let inserted: std::result::Result<RoundRow, sqlx::Error> = dispatch!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query_as(&sql)
                .bind(task_id)
                .bind(i64::from(round.round))
                .bind(&round.global_model_cid)
                .bind(round.deadline_ms)
                .bind(round.started_at_ms)
                .fetch_one(&mut *tx)
                .await;
            if inserted.is_ok() {
                sqlx::query(
                    "UPDATE tasks SET current_round = $2, \
                     status = CASE WHEN status = 'open' THEN 'running' ELSE status END \
                     WHERE task_id = $1 AND current_round < $2",
                )
                .bind(task_id)
                .bind(i64::from(round.round))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            inserted
        });
        match inserted {
            Ok(row) => row.try_into(),
            Err(e) if unique_violation(&e).is_some() => Err(Error::Duplicate { what: "round" }),
            Err(e) if is_foreign_key_violation(&e) => Err(Error::not_found(format!("task {}", round.task_id))),
            Err(e) => Err(e.into()),
        }
    }

    /// The round, if started.
    pub async fn get_round(&self, task_id: u64, round: u32) -> Result<Option<Round>> {
        let sql = format!("SELECT {COLUMNS} FROM rounds WHERE task_id = $1 AND round = $2");
        let task_id = int(task_id, "task_id")?;
        let row: Option<RoundRow> = dispatch!(self, pool => {
            sqlx::query_as(&sql).bind(task_id).bind(i64::from(round)).fetch_optional(pool).await?
        });
        row.map(Round::try_from).transpose()
    }

    /// A task's rounds, in order.
    pub async fn list_rounds(&self, task_id: u64) -> Result<Vec<Round>> {
        let sql = format!("SELECT {COLUMNS} FROM rounds WHERE task_id = $1 ORDER BY round");
        let task_id = int(task_id, "task_id")?;
        let rows: Vec<RoundRow> = dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await?);
        rows.into_iter().map(Round::try_from).collect()
    }

    /// Moves a round from phase `from` to `to`, if it is in `from`: `Ok(false)` when it is not, so of two replicas
    /// (or a process and its restarted self) exactly one wins each step. [`Error::NotFound`] if there is no such
    /// round; [`Error::Invalid`] if `to` does not come after `from`.
    pub async fn advance_round_phase(
        &self,
        task_id: u64,
        round: u32,
        from: RoundPhase,
        to: RoundPhase,
    ) -> Result<bool> {
        self.advance_round_phase_with(task_id, round, from, to, &RoundPatch::default()).await
    }

    /// [`Store::advance_round_phase`], also writing the patch's results in the same statement: they are stored if
    /// and only if this call wins the phase change.
    pub async fn advance_round_phase_with(
        &self,
        task_id: u64,
        round: u32,
        from: RoundPhase,
        to: RoundPhase,
        patch: &RoundPatch,
    ) -> Result<bool> {
        if to.rank() <= from.rank() {
            return Err(Error::invalid(format!("phase change {from} -> {to}: phases only move forward")));
        }
        let id = int(task_id, "task_id")?;
        let rewards_root = codec::opt_hex(patch.rewards_root.as_deref(), "rewards_root")?;
        let total = patch.cumulative_rewards_total.map(|total| total.to_string());
        let metrics = patch.metrics.map(|metrics| codec::to_json(&metrics, "metrics")).transpose()?;
        let (updated, exists) = dispatch!(self, pool => {
            let updated = sqlx::query(
                "UPDATE rounds SET phase = $4, new_model_cid = COALESCE($5, new_model_cid), \
                 manifest_cid = COALESCE($6, manifest_cid), rewards_root = COALESCE($7, rewards_root), \
                 cumulative_rewards_total = COALESCE($8, cumulative_rewards_total), \
                 metrics = COALESCE($9, metrics), finalized_at_ms = COALESCE($10, finalized_at_ms) \
                 WHERE task_id = $1 AND round = $2 AND phase = $3",
            )
            .bind(id)
            .bind(i64::from(round))
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(patch.new_model_cid.as_deref())
            .bind(patch.manifest_cid.as_deref())
            .bind(rewards_root.as_deref())
            .bind(total.as_deref())
            .bind(metrics.as_deref())
            .bind(patch.finalized_at_ms)
            .execute(pool)
            .await?
            .rows_affected();
            let exists = updated > 0
                || sqlx::query("SELECT 1 FROM rounds WHERE task_id = $1 AND round = $2")
                    .bind(id)
                    .bind(i64::from(round))
                    .fetch_optional(pool)
                    .await?
                    .is_some();
            (updated, exists)
        });
        if !exists {
            return Err(Error::not_found(format!("round {task_id}/{round}")));
        }
        Ok(updated > 0)
    }
}
