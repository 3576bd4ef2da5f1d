use crate::Amount;
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use tessera_storage::Cid;
use utoipa::ToSchema;

/// Where a round is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoundPhase {
    /// Accepting submissions until the deadline.
    Collecting,
    /// Scoring and aggregating.
    Aggregating,
    /// Publishing the new checkpoint and the manifest to IPFS.
    Publishing,
    /// The `finalizeRound` transaction is in the outbox.
    Finalizing,
    /// Finalized on chain.
    Finalized,
    /// A phase this reader does not know.
    #[serde(other)]
    Unknown,
}

/// How the aggregate of a round did on the validation set, and where the coordinator's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoundMetrics {
    /// Accuracy, 0 to 1.
    pub accuracy: Option<f64>,
    /// Mean loss.
    pub loss: Option<f64>,
    /// Fetching and decoding the updates, milliseconds.
    #[serde(default)]
    pub fetch_ms: Option<u64>,
    /// Scoring (with the leave-one-out validation) and aggregating, milliseconds.
    #[serde(default)]
    pub scoring_ms: Option<u64>,
    /// Publishing the checkpoint and the manifest, milliseconds.
    #[serde(default)]
    pub publish_ms: Option<u64>,
    /// When the results were published, unix milliseconds: from here to finalized is the chain's part.
    #[serde(default)]
    pub published_at_ms: Option<i64>,
}

/// A round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    /// The task.
    pub task_id: u64,
    /// The round, from 1.
    pub round: u32,
    /// Where it is.
    pub phase: RoundPhase,
    /// The checkpoint workers train from.
    #[schema(value_type = String)]
    pub global_model_cid: Cid,
    /// The submission deadline, unix milliseconds.
    pub deadline_ms: i64,
    /// The aggregate, once published.
    #[schema(value_type = Option<String>)]
    pub new_model_cid: Option<Cid>,
    /// The round manifest, once published.
    #[schema(value_type = Option<String>)]
    pub manifest_cid: Option<Cid>,
    /// The cumulative rewards Merkle root, once computed.
    #[schema(value_type = Option<String>)]
    pub rewards_root: Option<B256>,
    /// Rewards owed over all rounds so far, this one included.
    pub cumulative_rewards_total: Option<Amount>,
    /// The aggregate's validation metrics, once measured.
    pub metrics: Option<RoundMetrics>,
    /// Submissions accepted.
    pub submission_count: u64,
    /// When the round started, unix milliseconds.
    pub started_at_ms: i64,
    /// When the round was finalized, unix milliseconds.
    pub finalized_at_ms: Option<i64>,
}

impl RoundView {
    /// A round as it opens: collecting submissions until `deadline_ms`, nothing measured or published yet.
    pub const fn opened(task_id: u64, round: u32, global_model_cid: Cid, deadline_ms: i64, started_at_ms: i64) -> Self {
        Self {
            task_id,
            round,
            phase: RoundPhase::Collecting,
            global_model_cid,
            deadline_ms,
            new_model_cid: None,
            manifest_cid: None,
            rewards_root: None,
            cumulative_rewards_total: None,
            metrics: None,
            submission_count: 0,
            started_at_ms,
            finalized_at_ms: None,
        }
    }
}

/// Where one of the coordinator's transactions is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TxState {
    /// Recorded, not sent yet.
    Pending,
    /// Sent, not mined yet.
    Sent,
    /// Mined.
    Mined,
    /// Reverted or refused for good.
    Failed,
    /// Its nonce was used by another transaction; it will never be mined.
    Replaced,
    /// A state this reader does not know.
    #[serde(other)]
    Unknown,
}

/// One of the coordinator's transactions for a round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoundTx {
    /// `start_round` or `finalize_round`.
    pub kind: String,
    /// The latest hash it was sent with.
    #[schema(value_type = Option<String>)]
    pub tx_hash: Option<B256>,
    /// Where it is.
    pub state: TxState,
    /// The block it was mined in.
    pub block_number: Option<u64>,
}

/// An entry of `GET /api/v1/tasks/{task}/rounds`: a round with the coordinator's transactions for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoundSummary {
    /// The round.
    #[serde(flatten)]
    pub round: RoundView,
    /// Its start and finalize transactions.
    pub transactions: Vec<RoundTx>,
}

/// Why a worker was flagged or slashed: the one spelling the database, the API and the dashboard use (the
/// contract has a number for each, `SlashCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Sent nothing useful: a (near) zero update or noise.
    FreeRider,
    /// Worked against the others or the validation loss.
    Poisoning,
    /// Sent a copy of another update or of earlier rounds' public work.
    Copy,
    /// Was expected and sent nothing.
    NoShow,
    /// A reason this reader does not know.
    #[serde(other)]
    Unknown,
}

impl Reason {
    /// Every reason the coordinator gives.
    pub const ALL: [Self; 4] = [Self::FreeRider, Self::Poisoning, Self::Copy, Self::NoShow];

    /// Its name, as the API sends it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FreeRider => "free_rider",
            Self::Poisoning => "poisoning",
            Self::Copy => "copy",
            Self::NoShow => "no_show",
            Self::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for Reason {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == name).ok_or_else(|| format!("no reason {name:?}"))
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One worker's result in one round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScoreView {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The worker.
    #[schema(value_type = String)]
    pub worker: Address,
    /// The contribution score.
    pub score: f64,
    /// The reward for the round.
    pub reward: Amount,
    /// Why the contribution was suspect.
    #[serde(default)]
    pub flags: Vec<Reason>,
    /// Stake slashed in the round.
    pub slashed: Amount,
    /// Why, when slashed.
    #[serde(default)]
    pub slash_reason: Option<Reason>,
    /// Reputation after the round, when the worker has one.
    #[serde(default)]
    pub reputation: Option<f64>,
    /// The numbers behind each flag.
    #[schema(value_type = Vec<Object>)]
    #[serde(default)]
    pub evidence: serde_json::Value,
}

/// `GET /api/v1/tasks/{task}/rounds/{round}`: a round with its scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoundDetail {
    /// The round.
    #[serde(flatten)]
    pub round: RoundView,
    /// Each scored worker's result, once scored.
    pub scores: Vec<ScoreView>,
}

/// `POST /api/v1/admin/tasks/{task}/rounds/{round}/close`: the round whose window was closed, and its new phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoundClosed {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// `aggregating`.
    pub phase: RoundPhase,
}

/// The key of a confidential round's global model, wrapped for one reader: what a worker of the round needs to
/// open the checkpoint it trains from (`GET /api/v1/tasks/{task}/rounds/{round}/keys/{reader}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoundKey {
    /// The task.
    pub task_id: u64,
    /// The round whose global model this opens.
    pub round: u32,
    /// The sealed global model.
    #[schema(value_type = String)]
    pub global_model_cid: Cid,
    /// The checkpoint's content key, wrapped (ECIES on secp256k1) for the reader's public key: `to` (the reader,
    /// compressed, 0x-hex), `ephemeral` and `sealed`.
    #[schema(value_type = Object)]
    pub wrapped_key: tessera_seal::WrappedKey,
}
