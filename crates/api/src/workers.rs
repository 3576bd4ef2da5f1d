use crate::{Amount, ScoreView, UnsignedCall};
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether a worker is in a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    /// Joined, stake escrowed.
    Active,
    /// Left, or took its stake back.
    Exited,
    /// A membership this reader does not know.
    #[serde(other)]
    Unknown,
}

/// `GET /api/v1/tasks/{task}/workers/{worker}`: a worker's standing in a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerSummary {
    /// The task.
    pub task_id: u64,
    /// The worker.
    #[schema(value_type = String)]
    pub worker: Address,
    /// Whether it is in the task; `None` when the coordinator has not seen it join.
    pub status: Option<Membership>,
    /// The stake as the coordinator's indexer last saw it.
    pub stake: Amount,
    /// The current reputation.
    pub reputation: Option<f64>,
    /// Reputation after each scored round, oldest first.
    pub reputation_history: Vec<f64>,
    /// Rewards earned over all rounds.
    pub rewards: Amount,
    /// Rewards of finalized rounds: what the rewards root on chain covers, so `finalized_rewards - claimed` is
    /// what a claim pays now.
    pub finalized_rewards: Amount,
    /// Rewards claimed.
    pub claimed: Amount,
    /// The transaction of the latest claim.
    #[schema(value_type = Option<String>)]
    pub last_claim_tx: Option<B256>,
    /// Stake slashed over all rounds.
    pub slashed: Amount,
    /// Each scored round, oldest first.
    pub rounds: Vec<ScoreView>,
}

/// `GET /api/v1/tasks/{task}/workers/{worker}/proof`: the Merkle proof a worker claims with, against the
/// latest root on chain, and the call that claims with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClaimProof {
    /// The task.
    pub task_id: u64,
    /// The worker.
    #[schema(value_type = String)]
    pub worker: Address,
    /// The latest finalized round, whose root the proof is against.
    pub round: u32,
    /// Everything earned up to that round.
    pub cumulative_amount: Amount,
    /// The Merkle proof of the worker's leaf.
    #[schema(value_type = Vec<String>)]
    pub proof: Vec<B256>,
    /// The root it proves against.
    #[schema(value_type = String)]
    pub rewards_root: B256,
    /// Claimed so far, as the chain reported it.
    pub claimed: Amount,
    /// What a claim now would pay.
    pub claimable: Amount,
    /// `claim(task, cumulative_amount, proof)`, for the worker's wallet to sign.
    pub call: UnsignedCall,
}
