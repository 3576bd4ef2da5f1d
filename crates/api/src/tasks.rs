use crate::Amount;
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use tessera_storage::Cid;
use utoipa::ToSchema;

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
}

/// `GET /api/v1/info`: the parts of the EIP-712 domain, and who signs receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Info {
    /// The chain the marketplace lives on.
    pub chain_id: u64,
    /// The marketplace contract.
    #[schema(value_type = String)]
    pub marketplace: Address,
    /// The coordinator's signing address.
    #[schema(value_type = String)]
    pub coordinator: Address,
    /// The coordinator's version.
    pub version: String,
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Created; no round started.
    Open,
    /// Rounds are under way.
    Running,
    /// Every round finalized.
    Ended,
    /// Cancelled before its first round.
    Cancelled,
    /// A status this reader does not know.
    #[serde(other)]
    Unknown,
}

/// `GET /api/v1/tasks/{task}`: a task as the chain describes it, with how many workers are in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// The on-chain task id.
    pub task_id: u64,
    /// Who created and funded the task.
    #[schema(value_type = String)]
    pub requester: Address,
    /// Who may start and finalize rounds.
    #[schema(value_type = String)]
    pub coordinator: Address,
    /// The ERC-20 paid as reward and escrowed as stake.
    #[schema(value_type = String)]
    pub reward_token: Address,
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
    /// The model architecture, as the chain stores it.
    #[schema(value_type = String)]
    pub model_architecture_id: B256,
    /// The initial checkpoint.
    #[schema(value_type = String)]
    pub initial_model_cid: Cid,
    /// Where the task is.
    pub status: TaskStatus,
    /// The latest round started; 0 before the first (rounds count from 1).
    pub current_round: u32,
    /// When the task was created, unix milliseconds.
    pub created_at_ms: i64,
    /// The coordinator's settings for this task (strategy and scorer).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Workers active now.
    pub active_workers: u64,
    /// Workers who ever joined.
    pub joined_workers: u64,
    /// Why the coordinator cannot take the task further, while it cannot; its other tasks go on.
    #[serde(default)]
    pub fault: Option<TaskFault>,
    /// A confidential task's access policy (who may read its updates, checkpoints and final model); absent for a
    /// public task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<TaskAccess>,
}

/// A confidential task's access policy, as the chain names it and the coordinator read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskAccess {
    /// The policy's CID (`tessera-access-v1`).
    #[schema(value_type = String)]
    pub policy_cid: Cid,
    /// The policy (readers' keys, key publication, differential privacy), when the coordinator could read it.
    #[schema(value_type = Object)]
    pub policy: Option<tessera_seal::AccessPolicy>,
    /// Under differential privacy, the accountant's epsilon for all the task's rounds at the policy's delta.
    pub epsilon: Option<f64>,
}

/// A task the coordinator failed to advance: the latest error, and when it tries again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskFault {
    /// The latest error, with its causes.
    pub message: String,
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the first of them failed, unix milliseconds.
    pub first_failed_at_ms: i64,
    /// When the coordinator tries again, unix milliseconds.
    pub retry_at_ms: i64,
}

/// A contract call for a wallet to sign and send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnsignedCall {
    /// What it does, for the person signing.
    pub description: String,
    /// The contract.
    #[schema(value_type = String)]
    pub to: Address,
    /// The ABI-encoded call, 0x-hex.
    pub data: String,
}

/// `POST /api/v1/task-drafts`: a new task as a requester describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// The ERC-20 to pay rewards and take stakes in, 0x-hex.
    pub reward_token: String,
    /// The reward pool, token base units as a decimal string.
    pub reward_pool: String,
    /// The stake each worker escrows, token base units as a decimal string.
    pub stake_required: String,
    /// Rounds to run.
    pub num_rounds: u32,
    /// Most simultaneously active workers.
    pub max_workers: u32,
    /// Seconds from a round's start to its deadline.
    pub submission_window_secs: u32,
    /// The model architecture's name (`lenet5-mnist-v1` when left out).
    #[serde(default)]
    pub architecture: Option<String>,
    /// The seed of the initial model's weights.
    #[serde(default)]
    pub seed: u64,
    /// Slashed stake goes to the requester instead of back into the pool.
    #[serde(default)]
    pub slash_to_requester: bool,
    /// The most a worker can lose in one round, basis points of its stake, 1 to 10000 (10000 when left out).
    #[serde(default)]
    pub max_slash_bps: Option<u16>,
}

/// The published initial model and the calls to sign, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DraftResponse {
    /// The initial checkpoint the task will name.
    #[schema(value_type = String)]
    pub initial_model_cid: Cid,
    /// The coordinator the task will name.
    #[schema(value_type = String)]
    pub coordinator: Address,
    /// Approve the reward pool, then create the task.
    pub transactions: Vec<UnsignedCall>,
}
