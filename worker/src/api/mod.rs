//! The coordinator's HTTP API from the worker's side: a client and the JSON it exchanges.

mod client;
mod types;

pub use client::CoordinatorClient;
pub use types::{
    ClaimProof, Info, Receipt, RoundPhase, RoundView, ScoreView, SubmissionRequest, SubmissionView, TaskStatus,
    TaskView, WorkerSummary,
};
