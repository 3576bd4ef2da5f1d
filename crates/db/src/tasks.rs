use serde::{Deserialize, Serialize};

use crate::{
    Amount, Error, Result, Store,
    codec::{self, int, parse, text_enum, uint},
    store::dispatch,
};

text_enum! {
    /// Where a task is in its life, as the coordinator tracks it.
    pub enum TaskStatus {
        /// Created; no round started.
        Open = "open",
        /// Rounds are under way.
        Running = "running",
        /// Every round finalized (or the task expired).
        Ended = "ended",
        /// Cancelled by the requester before its first round.
        Cancelled = "cancelled",
    }
}

/// A task as the chain created it, plus the coordinator's config for it: what [`Store::upsert_task`] writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// The on-chain task id.
    pub task_id: u64,
    /// Who created and funded the task (0x-hex address).
    pub requester: String,
    /// Who may start and finalize rounds (0x-hex address).
    pub coordinator: String,
    /// The ERC-20 paid as reward and escrowed as stake (0x-hex address).
    pub reward_token: String,
    /// The escrowed reward pool.
    pub reward_pool: Amount,
    /// The stake each worker escrows on joining.
    pub stake_required: Amount,
    /// Rounds to run.
    pub num_rounds: u32,
    /// Most simultaneously active workers.
    pub max_workers: u32,
    /// Seconds from a round's start to its submission deadline.
    pub submission_window_secs: u32,
    /// The model architecture (0x-hex bytes32).
    pub model_architecture_id: String,
    /// The initial checkpoint's CID.
    pub initial_model_cid: String,
    /// When the task was created, unix milliseconds.
    pub created_at_ms: i64,
    /// The coordinator's settings for this task (strategy, hyperparameters).
    pub config: serde_json::Value,
}

/// A stored task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The on-chain task id.
    pub task_id: u64,
    /// Who created and funded the task (0x-hex address).
    pub requester: String,
    /// Who may start and finalize rounds (0x-hex address).
    pub coordinator: String,
    /// The ERC-20 paid as reward and escrowed as stake (0x-hex address).
    pub reward_token: String,
    /// The escrowed reward pool.
    pub reward_pool: Amount,
    /// The stake each worker escrows on joining.
    pub stake_required: Amount,
    /// Rounds to run.
    pub num_rounds: u32,
    /// Most simultaneously active workers.
    pub max_workers: u32,
    /// Seconds from a round's start to its submission deadline.
    pub submission_window_secs: u32,
    /// The model architecture (0x-hex bytes32).
    pub model_architecture_id: String,
    /// The initial checkpoint's CID.
    pub initial_model_cid: String,
    /// Where the task is in its life.
    pub status: TaskStatus,
    /// The latest round started; 0 before the first (rounds count from 1).
    pub current_round: u32,
    /// When the task was created, unix milliseconds.
    pub created_at_ms: i64,
    /// The coordinator's settings for this task.
    pub config: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    task_id: i64,
    requester: String,
    coordinator: String,
    reward_token: String,
    reward_pool: String,
    stake_required: String,
    num_rounds: i64,
    max_workers: i64,
    submission_window_secs: i64,
    model_architecture_id: String,
    initial_model_cid: String,
    status: String,
    current_round: i64,
    created_at_ms: i64,
    config: String,
}

impl TryFrom<TaskRow> for Task {
    type Error = Error;

    fn try_from(row: TaskRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "tasks.task_id")?,
            requester: row.requester,
            coordinator: row.coordinator,
            reward_token: row.reward_token,
            reward_pool: parse(&row.reward_pool, "tasks.reward_pool")?,
            stake_required: parse(&row.stake_required, "tasks.stake_required")?,
            num_rounds: uint(row.num_rounds, "tasks.num_rounds")?,
            max_workers: uint(row.max_workers, "tasks.max_workers")?,
            submission_window_secs: uint(row.submission_window_secs, "tasks.submission_window_secs")?,
            model_architecture_id: row.model_architecture_id,
            initial_model_cid: row.initial_model_cid,
            status: parse(&row.status, "tasks.status")?,
            current_round: uint(row.current_round, "tasks.current_round")?,
            created_at_ms: row.created_at_ms,
            config: codec::from_json(&row.config, "tasks.config")?,
        })
    }
}

const COLUMNS: &str = "task_id, requester, coordinator, reward_token, reward_pool, stake_required, num_rounds, \
    max_workers, submission_window_secs, model_architecture_id, initial_model_cid, status, current_round, \
    created_at_ms, config";

impl Store {
    /// Inserts a task, or updates the chain's fields and the config of an existing one. Status and current round
    /// are left alone (only [`Store::set_task_status`] and [`Store::insert_round`] move them), so re-indexing a
    /// `TaskCreated` event after a crash cannot set a running task back to open.
    pub async fn upsert_task(&self, task: &NewTask) -> Result<Task> {
        let sql = format!(
            "INSERT INTO tasks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', 0, $12, $13) \
             ON CONFLICT (task_id) DO UPDATE SET requester = excluded.requester, \
             coordinator = excluded.coordinator, reward_token = excluded.reward_token, \
             reward_pool = excluded.reward_pool, stake_required = excluded.stake_required, \
             num_rounds = excluded.num_rounds, max_workers = excluded.max_workers, \
             submission_window_secs = excluded.submission_window_secs, \
             model_architecture_id = excluded.model_architecture_id, \
             initial_model_cid = excluded.initial_model_cid, created_at_ms = excluded.created_at_ms, \
             config = excluded.config \
             RETURNING {COLUMNS}"
        );
        let task_id = int(task.task_id, "task_id")?;
        let requester = codec::hex(&task.requester, "requester")?;
        let coordinator = codec::hex(&task.coordinator, "coordinator")?;
        let reward_token = codec::hex(&task.reward_token, "reward_token")?;
        let model_architecture_id = codec::hex(&task.model_architecture_id, "model_architecture_id")?;
        let config = codec::to_json(&task.config, "config")?;
        let row: TaskRow = dispatch!(self, pool => {
            sqlx::query_as(&sql)
                .bind(task_id)
                .bind(&requester)
                .bind(&coordinator)
                .bind(&reward_token)
                .bind(task.reward_pool.to_string())
                .bind(task.stake_required.to_string())
                .bind(i64::from(task.num_rounds))
                .bind(i64::from(task.max_workers))
                .bind(i64::from(task.submission_window_secs))
                .bind(&model_architecture_id)
                .bind(&task.initial_model_cid)
                .bind(task.created_at_ms)
                .bind(&config)
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    /// The task, if known.
    pub async fn get_task(&self, task_id: u64) -> Result<Option<Task>> {
        let sql = format!("SELECT {COLUMNS} FROM tasks WHERE task_id = $1");
        let task_id = int(task_id, "task_id")?;
        let row: Option<TaskRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_optional(pool).await?);
        row.map(Task::try_from).transpose()
    }

    /// Every task, or those with `status`, by id.
    pub async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>> {
        let sql = format!("SELECT {COLUMNS} FROM tasks WHERE $1 IS NULL OR status = $1 ORDER BY task_id");
        let status = status.map(TaskStatus::as_str);
        let rows: Vec<TaskRow> = dispatch!(self, pool => sqlx::query_as(&sql).bind(status).fetch_all(pool).await?);
        rows.into_iter().map(Task::try_from).collect()
    }

    /// Sets a task's status. [`Error::NotFound`] if there is no such task.
    pub async fn set_task_status(&self, task_id: u64, status: TaskStatus) -> Result<()> {
        let id = int(task_id, "task_id")?;
        let updated = dispatch!(self, pool => {
            sqlx::query("UPDATE tasks SET status = $2 WHERE task_id = $1")
                .bind(id)
                .bind(status.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 { Err(Error::not_found(format!("task {task_id}"))) } else { Ok(()) }
    }
}
