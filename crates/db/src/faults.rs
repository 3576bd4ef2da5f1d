use serde::{Deserialize, Serialize};

use crate::{
    Result, Store,
    codec::{int, uint},
    store::dispatch,
};

/// Why the round engine could not take a task further, while it cannot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFault {
    /// The task.
    pub task_id: u64,
    /// The latest error, with its causes.
    pub message: String,
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the first of them failed, unix milliseconds.
    pub first_failed_at_ms: i64,
    /// When the latest failed, unix milliseconds.
    pub last_failed_at_ms: i64,
    /// When the engine tries again, unix milliseconds.
    pub retry_at_ms: i64,
}

#[derive(sqlx::FromRow)]
struct FaultRow {
    task_id: i64,
    message: String,
    failures: i64,
    first_failed_at_ms: i64,
    last_failed_at_ms: i64,
    retry_at_ms: i64,
}

impl TryFrom<FaultRow> for TaskFault {
    type Error = crate::Error;

    fn try_from(row: FaultRow) -> Result<Self> {
        Ok(Self {
            task_id: uint(row.task_id, "task_faults.task_id")?,
            message: row.message,
            failures: uint(row.failures, "task_faults.failures")?,
            first_failed_at_ms: row.first_failed_at_ms,
            last_failed_at_ms: row.last_failed_at_ms,
            retry_at_ms: row.retry_at_ms,
        })
    }
}

const COLUMNS: &str = "task_id, message, failures, first_failed_at_ms, last_failed_at_ms, retry_at_ms";

impl Store {
    /// Stores a task's fault, replacing the one it had.
    pub async fn put_task_fault(&self, fault: &TaskFault) -> Result<()> {
        let task_id = int(fault.task_id, "task_id")?;
        let sql = format!(
            "INSERT INTO task_faults ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (task_id) DO UPDATE SET \
             message = excluded.message, failures = excluded.failures, \
             first_failed_at_ms = excluded.first_failed_at_ms, last_failed_at_ms = excluded.last_failed_at_ms, \
             retry_at_ms = excluded.retry_at_ms"
        );
        dispatch!(self, pool => {
            sqlx::query(&sql)
                .bind(task_id)
                .bind(&fault.message)
                .bind(i64::from(fault.failures))
                .bind(fault.first_failed_at_ms)
                .bind(fault.last_failed_at_ms)
                .bind(fault.retry_at_ms)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// A task's fault, when it has one.
    pub async fn get_task_fault(&self, task_id: u64) -> Result<Option<TaskFault>> {
        let sql = format!("SELECT {COLUMNS} FROM task_faults WHERE task_id = $1");
        let task_id = int(task_id, "task_id")?;
        let row: Option<FaultRow> =
            dispatch!(self, pool => sqlx::query_as(&sql).bind(task_id).fetch_optional(pool).await?);
        row.map(TaskFault::try_from).transpose()
    }

    /// Every failing task's fault, by task.
    pub async fn list_task_faults(&self) -> Result<Vec<TaskFault>> {
        let sql = format!("SELECT {COLUMNS} FROM task_faults ORDER BY task_id");
        let rows: Vec<FaultRow> = dispatch!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        rows.into_iter().map(TaskFault::try_from).collect()
    }

    /// Forgets a task's fault: a step of it succeeded. Whether it had one.
    pub async fn clear_task_fault(&self, task_id: u64) -> Result<bool> {
        let task_id = int(task_id, "task_id")?;
        let deleted = dispatch!(self, pool => {
            sqlx::query("DELETE FROM task_faults WHERE task_id = $1").bind(task_id).execute(pool).await?.rows_affected()
        });
        Ok(deleted > 0)
    }
}
