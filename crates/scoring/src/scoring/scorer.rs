use super::{
    CosineHistory, ParticipationTracker, ReputationBook, ScoringConfig, Sketch, UpdateHistory, round::RoundWork,
};
use crate::{
    Aggregate, Evaluator, Failure, FitResult, Reason, Result, RoundResult, Strategy, WorkerId, apply,
    updates::{BLOCK_BYTES, Updates},
};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// One worker's submission as the coordinator received it; its update, `local - global`, is
/// [`RoundInput::updates`]'s at the same index.
#[derive(Clone, Debug)]
pub struct Submission {
    /// Who sent it.
    pub worker: WorkerId,
    /// Training samples reported: a claim, which may tilt sample-weighted aggregation inside a cap
    /// ([`ScoringConfig::claim_cap_multiple`]) and never enters pay.
    pub num_samples: u64,
    /// Receipt sequence number or timestamp: of an update and its copy, the later receipt is the copy.
    pub receipt: u64,
}

/// Everything the scorer needs about one round.
#[derive(Clone, Copy)]
pub struct RoundInput<'a> {
    /// The round number.
    pub round: u64,
    /// The global model the updates start from (needed only with an evaluator; may be empty otherwise).
    pub global: &'a [f32],
    /// The submissions, in any order.
    pub submissions: &'a [Submission],
    /// Their updates, by the same index: in memory (`&[Vec<f32>]`, `&[&[f32]]`) or wherever the caller keeps
    /// them. The scorer reads them a block of coordinates at a time and never holds them all.
    pub updates: &'a dyn Updates,
    /// Workers that reported a failure.
    pub failures: &'a [Failure],
    /// Workers due to send an update this round; those that sent nothing are no-shows.
    pub expected: &'a [WorkerId],
    /// Every worker enrolled in the task, for FedAU's participation intervals.
    pub roster: &'a [WorkerId],
    /// The round's reward in token base units.
    pub reward: u128,
}

/// The scorer's verdict and the aggregate to apply (`None` when nothing could be aggregated).
#[derive(Clone, Debug)]
pub struct RoundOutcome {
    /// Scores, rewards, flags and slashes, for the manifest.
    pub result: RoundResult,
    /// The step for the global model.
    pub aggregate: Option<Aggregate>,
    /// Where the time went; not part of the result (it differs from run to run).
    pub timings: StepTimings,
}

/// Where a round's scoring went, step by step, for logs and profiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepTimings {
    /// The screens before aggregating (copies and replays, with the round's pair sums; norms; noise).
    pub screen: Duration,
    /// The strategy's aggregate and the reputation update.
    pub aggregate: Duration,
    /// The validation passes.
    pub validate: Duration,
    /// Aggregating again without updates flagged after the first, the final model's metrics, the sketches
    /// remembered and the scores.
    pub finish: Duration,
}

/// What the scorer carries from round to round; serialisable so a coordinator can persist it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScorerState {
    /// RFFL reputations.
    pub reputation: ReputationBook,
    /// FedAU participation intervals.
    pub participation: ParticipationTracker,
    /// Recent cosines to the aggregate.
    pub cosines: CosineHistory,
    /// How many consecutive rounds (of those it took part in) each worker's validation gain fell below the
    /// round's harm bar.
    #[serde(default)]
    pub harm: BTreeMap<WorkerId, u64>,
    /// Sketches of the last rounds' updates and global changes, which a replay would copy.
    #[serde(default)]
    pub updates: UpdateHistory,
}

/// Scores contributions round after round and decides rewards and slashes.
#[derive(Clone, Debug)]
pub struct Scorer {
    config: ScoringConfig,
    state: ScorerState,
    block_bytes: usize,
}

impl Scorer {
    /// A scorer with no history.
    pub fn new(config: ScoringConfig) -> Result<Self> {
        Self::with_state(config, ScorerState::default())
    }

    /// A scorer resuming from saved state.
    pub fn with_state(config: ScoringConfig, state: ScorerState) -> Result<Self> {
        config.validate()?;
        Ok(Self { config, state, block_bytes: BLOCK_BYTES })
    }

    /// Reads updates in blocks of at most `bytes` (at least one [`crate::vector::BLOCK`] of coordinates per
    /// update): a memory bound, never a change in any result.
    pub fn with_block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ScoringConfig {
        &self.config
    }

    /// The state to persist between rounds.
    pub fn state(&self) -> &ScorerState {
        &self.state
    }

    /// Scores one round: screens for copies and replays, free-riders and noise, aggregates with `strategy`,
    /// updates reputations and participation weights, asks `evaluator` for each update's validation gain,
    /// aggregates again without anything flagged after the first aggregate, scores, splits the reward, and
    /// remembers the round's updates and global change. Commits the final aggregate to `strategy`. On error
    /// nothing changes.
    pub fn score_round(
        &mut self,
        input: &RoundInput<'_>,
        strategy: &mut dyn Strategy,
        mut evaluator: Option<&mut (dyn Evaluator + '_)>,
    ) -> Result<RoundOutcome> {
        let config = &self.config;
        let mut state = self.state.clone();
        let mut timings = StepTimings::default();
        let mut lap = Instant::now();
        let mut step = |into: &mut Duration| {
            *into = lap.elapsed();
            lap = Instant::now();
        };
        let mut work = RoundWork::new(input, evaluator.is_some(), &state.reputation, self.block_bytes)?;
        work.screen(input.round, config, &mut state.cosines, &state.updates)?;
        step(&mut timings.screen);

        let live: Vec<WorkerId> = work.live().into_iter().map(|i| work.subs[i].worker.clone()).collect();
        state.participation.observe(&live, input.roster, config.participation_cap);
        state.reputation.register(&live);
        // A copy is a verdict on the worker, not only on the update: a convicted copier takes no further part in
        // the task, so one that hides a copy under enough noise to pass in some rounds is not paid in those.
        for flag in work.flags.iter().filter(|f| f.reason == Reason::Copy) {
            state.reputation.remove(&flag.worker);
        }
        let eligible = work.eligible();
        // A claim counts for at most `claim_cap_multiple` times the round's median claim.
        let claims: Vec<f64> = eligible.iter().map(|&i| work.subs[i].num_samples as f64).collect();
        let claim_cap = config.claim_cap_multiple * super::median(&claims);
        // Weights are this round's reputations and FedAU weights, before the round moves them. The updates
        // themselves are read block by block when aggregating.
        let results: Vec<FitResult<'_>> = eligible
            .iter()
            .map(|&i| {
                let s: &Submission = work.subs[i];
                let claim = if (s.num_samples as f64) > claim_cap { claim_cap.floor() as u64 } else { s.num_samples };
                FitResult {
                    worker: &s.worker,
                    delta: &[],
                    num_samples: claim,
                    receipt: s.receipt,
                    reputation: state.reputation.reputation(&s.worker),
                    participation: state.participation.weight(&s.worker),
                    norm: work.rows[i].norm,
                }
            })
            .collect();
        let mut aggregate = work.aggregate(&*strategy, input.round, &eligible, &results, input.failures)?;
        if let Some(agg) = &aggregate {
            work.update_reputation(agg, config, &mut state.reputation)?;
            step(&mut timings.aggregate);
            if let Some(evaluator) = evaluator.as_deref_mut() {
                work.measure_gains(config, input, agg, evaluator, &mut state.harm)?;
            }
            step(&mut timings.validate);
        }

        // Updates flagged after aggregating leave the model too: aggregate once more without them.
        let dropped = |i: usize| work.rows[i].post_flagged;
        let in_aggregate = |i: usize| aggregate.as_ref().is_some_and(|a| a.included.contains(&work.subs[i].worker));
        if eligible.iter().any(|&i| dropped(i) && in_aggregate(i)) {
            let (kept, kept_results): (Vec<usize>, Vec<FitResult<'_>>) =
                eligible.iter().zip(&results).filter(|&(&i, _)| !dropped(i)).map(|(&i, r)| (i, *r)).unzip();
            aggregate = work.aggregate(&*strategy, input.round, &kept, &kept_results, input.failures)?;
        }
        let metrics = match (&aggregate, evaluator) {
            (Some(agg), Some(evaluator)) => Some(evaluator.evaluate(&apply(input.global, &agg.delta))?),
            (None, Some(evaluator)) => Some(match work.base {
                Some(base) => base,
                None => evaluator.evaluate(input.global)?,
            }),
            (_, None) => None,
        };

        let sketches: Vec<(WorkerId, Sketch)> =
            work.live().into_iter().map(|i| (work.subs[i].worker.clone(), work.sketches[i].clone())).collect();
        let global_change = aggregate.as_ref().map(|a| Sketch::of(&a.delta));
        state.updates.record(input.round, sketches, global_change, config.history_rounds);

        work.score(config, &state.reputation, &state.participation, aggregate.as_ref());
        let result = work.into_result(input, &state, config, strategy.name(), aggregate.as_ref(), metrics);
        if let Some(agg) = &aggregate {
            strategy.commit(input.round, agg);
        }
        self.state = state;
        step(&mut timings.finish);
        Ok(RoundOutcome { result, aggregate, timings })
    }
}
