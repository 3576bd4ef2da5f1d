use serde::{Deserialize, Serialize};

use crate::{
    Result, Store,
    codec::{from_json, int, to_json},
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

impl Store {
    /// Stores a task's fault, replacing the one it had.
    pub async fn put_task_fault(&self, fault: &TaskFault) -> Result<()> {
        let (task_id, text) = (int(fault.task_id, "task_id")?, to_json(fault, "task fault")?);
        let sql = "INSERT INTO task_faults (task_id, fault) VALUES ($1, $2) \
                   ON CONFLICT (task_id) DO UPDATE SET fault = excluded.fault";
        dispatch!(self, pool => sqlx::query(sql).bind(task_id).bind(&text).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// A task's fault, when it has one.
    pub async fn get_task_fault(&self, task_id: u64) -> Result<Option<TaskFault>> {
        let task_id = int(task_id, "task_id")?;
        let sql = "SELECT fault FROM task_faults WHERE task_id = $1";
        let text: Option<String> =
            dispatch!(self, pool => sqlx::query_scalar(sql).bind(task_id).fetch_optional(pool).await?);
        text.map(|text| from_json(&text, "task_faults.fault")).transpose()
    }

    /// Every failing task's fault, by task.
    pub async fn list_task_faults(&self) -> Result<Vec<TaskFault>> {
        let sql = "SELECT fault FROM task_faults ORDER BY task_id";
        let texts: Vec<String> = dispatch!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await?);
        texts.iter().map(|text| from_json(text, "task_faults.fault")).collect()
    }

    /// Forgets a task's fault: a step of it succeeded. Whether it had one.
    pub async fn clear_task_fault(&self, task_id: u64) -> Result<bool> {
        let task_id = int(task_id, "task_id")?;
        let sql = "DELETE FROM task_faults WHERE task_id = $1";
        Ok(dispatch!(self, pool => sqlx::query(sql).bind(task_id).execute(pool).await?.rows_affected()) > 0)
    }
}
