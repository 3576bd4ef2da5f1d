//! The coordinator's HTTP API from the worker's side: a client of the wire contract (`tessera-api`).

mod client;
mod wakeups;

pub use client::CoordinatorClient;
pub use tessera_api::{
    ClaimProof, ErrorBody, Info, Reason, Receipt, RoundKey, RoundPhase, RoundView, ScoreView, SubmissionListing,
    SubmissionRequest, TaskStatus, TaskView, WorkerSummary,
};
pub use wakeups::Wakeups;

/// A listing of `worker`'s submission of 10 samples, received at 900 ms; `update_cid` `None` is withheld.
#[cfg(test)]
pub(crate) fn listing(
    worker: alloy::primitives::Address,
    round: u32,
    sequence: u64,
    update_cid: Option<tessera_storage::Cid>,
) -> SubmissionListing {
    SubmissionListing {
        task_id: 4,
        round,
        worker,
        sequence,
        num_samples: 10,
        received_at_ms: 900,
        update_cid,
        signature: None,
        digest: None,
        receipt_signature: None,
    }
}
