//! The path parameters of the API's routes, named as the routes name them.

use serde::{Deserialize, Deserializer, de::Error as _};
use utoipa::IntoParams;

/// A task id as the database can hold it (a BIGINT): a larger one names no task, and is refused as malformed rather
/// than failing the lookup.
pub(super) fn task_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let id = u64::deserialize(deserializer)?;
    if i64::try_from(id).is_err() {
        return Err(D::Error::custom(format!("task id {id} is beyond any task's")));
    }
    Ok(id)
}

/// `{task}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct TaskPath {
    /// The on-chain task id.
    #[serde(deserialize_with = "task_id")]
    pub task: u64,
}

/// `{task}/…/{round}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct RoundPath {
    /// The on-chain task id.
    #[serde(deserialize_with = "task_id")]
    pub task: u64,
    /// The round, from 1.
    pub round: u32,
}

/// `{task}/…/{worker}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct WorkerPath {
    /// The on-chain task id.
    #[serde(deserialize_with = "task_id")]
    pub task: u64,
    /// The worker's address, 0x-hex in any case.
    pub worker: String,
}

/// `{worker}` of an account.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct AccountPath {
    /// The account's address, 0x-hex in any case.
    pub worker: String,
}

/// `?task=…&kind=…` of the live feed.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventFilter {
    /// Only this task's events.
    pub task: Option<u64>,
    /// Only events of these kinds, comma-separated (`round,task`): a worker waiting for its round to open needs
    /// neither every submission nor the chain's events.
    pub kind: Option<String>,
}

impl EventFilter {
    /// Whether an event of `kind` about `task` passes.
    pub(super) fn admits(&self, task: u64, kind: &str) -> bool {
        self.task.is_none_or(|wanted| wanted == task)
            && self.kind.as_deref().is_none_or(|kinds| kinds.split(',').any(|wanted| wanted.trim() == kind))
    }
}

#[cfg(test)]
mod tests {
    use super::EventFilter;

    #[test]
    fn an_event_filter_admits_its_task_and_kinds_only() {
        let all = EventFilter::default();
        assert!(all.admits(3, "submission"));
        let worker = EventFilter { task: Some(3), kind: Some("round, task".into()) };
        assert!(worker.admits(3, "round") && worker.admits(3, "task"));
        assert!(!worker.admits(3, "submission"), "another kind");
        assert!(!worker.admits(4, "round"), "another task");
    }
}
