//! The path parameters of the API's routes, named as the routes name them.

use serde::Deserialize;
use utoipa::IntoParams;

/// `{task}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct TaskPath {
    /// The on-chain task id.
    pub task: u64,
}

/// `{task}/…/{round}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct RoundPath {
    /// The on-chain task id.
    pub task: u64,
    /// The round, from 1.
    pub round: u32,
}

/// `{task}/…/{worker}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct WorkerPath {
    /// The on-chain task id.
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
