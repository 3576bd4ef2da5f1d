use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use tessera_storage::Cid;
use utoipa::ToSchema;

/// `POST /api/v1/tasks/{task}/rounds/{round}/submissions`: a worker's update, signed over the EIP-712
/// `Submission` of the path's task and round.
///
/// The fields stay text here: the coordinator parses each with its own error code, so a worker learns which
/// one was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    /// The worker's address, 0x-hex.
    pub worker: String,
    /// The update's CID (`Qm…` or `bafy…`).
    pub update_cid: String,
    /// The samples the update was trained on.
    pub num_samples: u64,
    /// The worker's 65-byte signature, 0x-hex.
    pub signature: String,
}

/// The coordinator's signed receipt for a submission: the answer to the POST (201 when new, 200 when the same
/// submission came again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The worker.
    #[schema(value_type = String)]
    pub worker: Address,
    /// The update.
    #[schema(value_type = String)]
    pub update_cid: Cid,
    /// The samples claimed.
    pub num_samples: u64,
    /// The submission's place in the round's receipt order, from 0.
    pub sequence: u64,
    /// When it was accepted, unix milliseconds.
    pub received_at_ms: i64,
    /// The coordinator's address, which signed the receipt.
    #[schema(value_type = String)]
    pub coordinator: Address,
    /// The coordinator's signature over the EIP-712 `SubmissionReceipt`, 0x-hex.
    pub receipt_signature: String,
}

/// An entry of `GET /api/v1/tasks/{task}/rounds/{round}/submissions`, in receipt order. While the round
/// collects, the update's CID and the signatures over it are withheld: an update nobody can read before the
/// window closes cannot be copied in time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubmissionListing {
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The signer.
    #[schema(value_type = String)]
    pub worker: Address,
    /// Its place in the round's receipt order.
    pub sequence: u64,
    /// Samples claimed.
    pub num_samples: u64,
    /// When the coordinator received it, unix milliseconds.
    pub received_at_ms: i64,
    /// The update; `None` while the round collects.
    #[schema(value_type = Option<String>)]
    pub update_cid: Option<Cid>,
    /// The worker's signature, 0x-hex; `None` while the round collects.
    pub signature: Option<String>,
    /// The EIP-712 digest the worker signed, 0x-hex; `None` while the round collects.
    pub digest: Option<String>,
    /// The coordinator's receipt signature, 0x-hex; `None` while the round collects, or before it is signed.
    pub receipt_signature: Option<String>,
}
