//! The coordinator's JSON, as the worker reads it: only the fields the worker uses, and every
//! field added later ignored, so a newer coordinator does not break an older worker.

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Deserializer, Serialize, de};

/// `GET /api/v1/info`: the parts of the EIP-712 domain, and who signs receipts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Info {
    /// The chain the marketplace lives on.
    pub chain_id: u64,
    /// The marketplace contract.
    pub marketplace: Address,
    /// The coordinator's signing address.
    pub coordinator: Address,
    /// The coordinator's version, when it says.
    #[serde(default)]
    pub version: Option<String>,
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A status this worker does not know.
    #[serde(other)]
    Unknown,
}

/// `GET /api/v1/tasks/{task}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TaskView {
    /// The task.
    pub task_id: u64,
    /// Where it is.
    pub status: TaskStatus,
    /// The latest round started; 0 before the first.
    pub current_round: u32,
    /// Rounds to run.
    pub num_rounds: u32,
    /// The model architecture as 0x-hex bytes32.
    pub model_architecture_id: String,
    /// The initial checkpoint's CID.
    #[serde(default)]
    pub initial_model_cid: String,
    /// Seconds from a round's start to its deadline.
    #[serde(default)]
    pub submission_window_secs: u32,
}

/// Where a round is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundPhase {
    /// Accepting submissions until the deadline.
    Collecting,
    /// Scoring and aggregating.
    Aggregating,
    /// Publishing the new checkpoint.
    Publishing,
    /// Being finalized on chain.
    Finalizing,
    /// Finalized on chain.
    Finalized,
    /// A phase this worker does not know.
    #[serde(other)]
    Unknown,
}

/// `GET /api/v1/tasks/{task}/rounds/{round}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RoundView {
    /// The round, from 1.
    pub round: u32,
    /// Where it is.
    pub phase: RoundPhase,
    /// The checkpoint to train from.
    pub global_model_cid: String,
    /// The submission deadline, unix milliseconds.
    pub deadline_ms: i64,
    /// The aggregate, once published.
    #[serde(default)]
    pub new_model_cid: Option<String>,
    /// The aggregate's validation metrics, once measured.
    #[serde(default)]
    pub metrics: Option<serde_json::Value>,
}

/// One entry of `GET /api/v1/tasks/{task}/rounds/{round}/submissions`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SubmissionView {
    /// The round.
    pub round: u32,
    /// The signer, 0x-hex.
    pub worker: Address,
    /// Its place in the round's receipt order.
    pub sequence: u64,
    /// The update's CID: withheld (`None`) while the round collects.
    #[serde(default)]
    pub update_cid: Option<String>,
    /// Samples claimed.
    pub num_samples: u64,
    /// When the coordinator received it, unix milliseconds.
    pub received_at_ms: i64,
    /// The coordinator's receipt signature, once signed.
    #[serde(default)]
    pub receipt_signature: Option<String>,
}

/// The body of `POST /api/v1/tasks/{task}/rounds/{round}/submissions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionRequest {
    /// The worker's address, 0x-hex.
    pub worker: String,
    /// The update's CID.
    pub update_cid: String,
    /// The samples the update was trained on.
    pub num_samples: u64,
    /// The worker's 65-byte EIP-712 signature, 0x-hex.
    pub signature: String,
}

/// The coordinator's signed receipt for a submission (the answer to the POST).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The worker, 0x-hex.
    pub worker: String,
    /// The update's CID.
    pub update_cid: String,
    /// The samples claimed.
    pub num_samples: u64,
    /// The submission's place in the round's receipt order.
    pub sequence: u64,
    /// When it was accepted, unix milliseconds.
    pub received_at_ms: i64,
    /// The coordinator that signed the receipt, 0x-hex.
    pub coordinator: String,
    /// The coordinator's signature over the EIP-712 `SubmissionReceipt`.
    pub receipt_signature: String,
}

/// One scored round in a worker's summary.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ScoreView {
    /// The round.
    pub round: u32,
    /// The contribution score.
    pub score: f64,
    /// The reward for the round.
    #[serde(deserialize_with = "decimal")]
    pub reward: U256,
    /// Why the contribution was suspect.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Stake slashed in the round.
    #[serde(default, deserialize_with = "decimal")]
    pub slashed: U256,
    /// Why, when slashed.
    #[serde(default)]
    pub slash_reason: Option<String>,
    /// Reputation after the round.
    #[serde(default)]
    pub reputation: Option<f64>,
}

/// `GET /api/v1/tasks/{task}/workers/{worker}`: a worker's standing as the coordinator sees it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct WorkerSummary {
    /// The worker, 0x-hex.
    pub worker: Address,
    /// `active` or `exited`, when the coordinator has seen the worker join.
    #[serde(default)]
    pub status: Option<String>,
    /// The stake as the coordinator's indexer last saw it.
    #[serde(default, deserialize_with = "decimal")]
    pub stake: U256,
    /// The current reputation.
    #[serde(default)]
    pub reputation: Option<f64>,
    /// Rewards earned over all rounds.
    #[serde(default, deserialize_with = "decimal")]
    pub rewards: U256,
    /// Rewards claimed.
    #[serde(default, deserialize_with = "decimal")]
    pub claimed: U256,
    /// Stake slashed over all rounds.
    #[serde(default, deserialize_with = "decimal")]
    pub slashed: U256,
    /// Each scored round.
    #[serde(default)]
    pub rounds: Vec<ScoreView>,
}

/// `GET /api/v1/tasks/{task}/workers/{worker}/proof`: what `claim` needs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ClaimProof {
    /// The task.
    pub task_id: u64,
    /// The worker.
    pub worker: Address,
    /// The latest finalized round, whose root the proof is against.
    pub round: u32,
    /// Everything earned up to that round.
    #[serde(deserialize_with = "decimal")]
    pub cumulative_amount: U256,
    /// The Merkle proof of the worker's leaf.
    pub proof: Vec<B256>,
    /// The root it proves against.
    pub rewards_root: B256,
}

/// A token amount sent as a decimal string (numbers are accepted too).
fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Num(u64),
    }
    match Text::deserialize(deserializer)? {
        Text::Str(text) => U256::from_str_radix(&text, 10).map_err(de::Error::custom),
        Text::Num(number) => Ok(U256::from(number)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_coordinators_task_json_parses_ignoring_fields_the_worker_does_not_use() {
        let task: TaskView = serde_json::from_value(json!({
            "task_id": 3, "requester": "0x01", "coordinator": "0x02", "reward_token": "0x03",
            "reward_pool": "1000", "stake_required": "10", "num_rounds": 5, "max_workers": 8,
            "submission_window_secs": 60, "model_architecture_id": format!("0x{}1", "0".repeat(63)),
            "initial_model_cid": "QmX", "status": "running", "current_round": 2, "created_at_ms": 1,
            "config": {}
        }))
        .unwrap();
        assert_eq!((task.task_id, task.status, task.current_round, task.num_rounds), (3, TaskStatus::Running, 2, 5));
        let unknown: TaskStatus = serde_json::from_value(json!("paused")).unwrap();
        assert_eq!(unknown, TaskStatus::Unknown);
    }

    #[test]
    fn amounts_beyond_u64_survive_as_decimal_strings() {
        let proof: ClaimProof = serde_json::from_value(json!({
            "task_id": 1, "worker": "0x0000000000000000000000000000000000000001", "round": 2,
            "cumulative_amount": "340282366920938463463374607431768211455",
            "proof": [format!("0x{}", "ab".repeat(32))], "rewards_root": format!("0x{}", "cd".repeat(32))
        }))
        .unwrap();
        assert_eq!(proof.cumulative_amount, U256::from(u128::MAX));
        assert_eq!(proof.proof, vec![B256::repeat_byte(0xab)]);
        let bad = serde_json::from_value::<ClaimProof>(json!({
            "task_id": 1, "worker": "0x0000000000000000000000000000000000000001", "round": 2,
            "cumulative_amount": "-1", "proof": [], "rewards_root": format!("0x{}", "cd".repeat(32))
        }));
        assert!(bad.is_err());
    }

    #[test]
    fn a_round_detail_with_scores_flattened_in_parses() {
        let round: RoundView = serde_json::from_value(json!({
            "task_id": 1, "round": 1, "phase": "collecting", "global_model_cid": "QmA", "deadline_ms": 99,
            "new_model_cid": null, "manifest_cid": null, "rewards_root": null, "cumulative_rewards_total": null,
            "metrics": null, "submission_count": 0, "started_at_ms": 1, "finalized_at_ms": null, "scores": []
        }))
        .unwrap();
        assert_eq!((round.phase, round.deadline_ms), (RoundPhase::Collecting, 99));
    }
}
