use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt};

/// A worker's identity, usually its lower-case hex address. Workers are ordered by it wherever order matters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(String);

impl WorkerId {
    /// A worker id from its text.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for WorkerId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

/// One worker's update as a strategy sees it (Flower's `FitRes`): the delta from the global model and the
/// weights that the scorer attaches.
#[derive(Clone, Copy, Debug)]
pub struct FitResult<'a> {
    /// Who sent it.
    pub worker: &'a WorkerId,
    /// The update, `local - global`, flat in the model's parameter order.
    pub delta: &'a [f32],
    /// How many training samples the worker reports.
    pub num_samples: u64,
    /// When the coordinator received it (a sequence number or timestamp; later is larger).
    pub receipt: u64,
    /// The worker's reputation, used by reputation-weighted FedAvg (1 when not tracked).
    pub reputation: f64,
    /// The worker's FedAU participation weight (1 for a worker who takes part every round).
    pub participation: f64,
    /// The L2 norm of the whole update, which [`Self::delta`] may hold only a block of coordinates of
    /// ([`crate::Strategy::aggregate_columns`]).
    pub norm: f64,
}

impl<'a> FitResult<'a> {
    /// A result with receipt 0, reputation 1 and participation weight 1, and the norm of `delta`.
    pub fn new(worker: &'a WorkerId, delta: &'a [f32], num_samples: u64) -> Self {
        let norm = crate::vector::norm(delta);
        Self { worker, delta, num_samples, receipt: 0, reputation: 1.0, participation: 1.0, norm }
    }

    /// The FedAvg weight: samples times the participation weight.
    pub fn sample_weight(&self) -> f64 {
        self.num_samples as f64 * self.participation
    }

    /// The same result carrying another delta (used by wrappers that transform updates, and for a block of the
    /// update's coordinates); the norm stays the whole update's.
    pub fn with_delta<'b>(&self, delta: &'b [f32]) -> FitResult<'b>
    where
        'a: 'b,
    {
        FitResult { delta, ..*self }
    }
}

/// A worker that was asked to train but reported an error instead of an update (Flower's `failures`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Who failed.
    pub worker: WorkerId,
    /// What it reported.
    pub reason: String,
}

/// Validation metrics of a model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss on the validation set (lower is better).
    pub loss: f64,
    /// Fraction of the validation set classified correctly, in `[0, 1]`.
    pub accuracy: f64,
}

/// What a strategy asks of the workers for one round (Flower's `configure_fit` config).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundConfig {
    /// The round number.
    pub round: u64,
    /// The fewest results the strategy can aggregate.
    pub min_results: usize,
    /// An L2 bound that the server clips updates to, so that workers can clip locally first.
    pub clip_norm: Option<f64>,
    /// Further strategy-specific settings, sent to workers as text.
    pub options: BTreeMap<String, String>,
}

/// The outcome of [`crate::Strategy::aggregate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The step to add to the global model.
    pub delta: Vec<f32>,
    /// The workers whose updates went into it, in worker order (Multi-Krum leaves some out).
    pub included: Vec<WorkerId>,
    /// The aggregate before a server optimiser turned it into [`Self::delta`]; `None` without one.
    pub pseudo_gradient: Option<Vec<f32>>,
}

impl Aggregate {
    /// An aggregate with no server optimiser.
    pub fn new(delta: Vec<f32>, included: Vec<WorkerId>) -> Self {
        Self { delta, included, pseudo_gradient: None }
    }

    /// The averaged update direction that workers are compared with: the pseudo-gradient when a server
    /// optimiser made one, else the delta.
    pub fn direction(&self) -> &[f32] {
        self.pseudo_gradient.as_deref().unwrap_or(&self.delta)
    }
}
