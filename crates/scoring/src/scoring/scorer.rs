use super::{CosineHistory, ParticipationTracker, ReputationBook, ScoringConfig, round::RoundWork};
use crate::{Aggregate, Evaluator, Failure, FitResult, Result, RoundResult, Strategy, WorkerId, apply};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One worker's update as the coordinator received it.
#[derive(Clone, Debug)]
pub struct Submission<'a> {
    /// Who sent it.
    pub worker: WorkerId,
    /// The update, `local - global`, flat.
    pub delta: &'a [f32],
    /// Training samples reported.
    pub num_samples: u64,
    /// Receipt sequence number or timestamp: the later of two near-identical updates is the copy.
    pub receipt: u64,
}

/// Everything the scorer needs about one round.
#[derive(Clone, Copy, Debug)]
pub struct RoundInput<'a> {
    /// The round number.
    pub round: u64,
    /// The global model the updates start from (needed only with an evaluator; may be empty otherwise).
    pub global: &'a [f32],
    /// The updates, in any order.
    pub submissions: &'a [Submission<'a>],
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
    /// The last round in which leaving each worker's update out lowered the validation loss past the bar.
    #[serde(default)]
    pub harm: BTreeMap<WorkerId, u64>,
}

/// Scores contributions round after round and decides rewards and slashes.
#[derive(Clone, Debug)]
pub struct Scorer {
    config: ScoringConfig,
    state: ScorerState,
}

impl Scorer {
    /// A scorer with no history.
    pub fn new(config: ScoringConfig) -> Result<Self> {
        Self::with_state(config, ScorerState::default())
    }

    /// A scorer resuming from saved state.
    pub fn with_state(config: ScoringConfig, state: ScorerState) -> Result<Self> {
        config.validate()?;
        Ok(Self { config, state })
    }

    /// The configuration.
    pub fn config(&self) -> &ScoringConfig {
        &self.config
    }

    /// The state to persist between rounds.
    pub fn state(&self) -> &ScorerState {
        &self.state
    }

    /// Scores one round: screens for copies, free-riders and noise, aggregates with `strategy`, updates
    /// reputations and participation weights, asks `evaluator` for the leave-one-out validation signal,
    /// aggregates again without anything flagged after the first aggregate, scores, and splits the reward.
    /// Commits the final aggregate to `strategy`. On error nothing changes.
    pub fn score_round(
        &mut self,
        input: &RoundInput<'_>,
        strategy: &mut dyn Strategy,
        mut evaluator: Option<&mut (dyn Evaluator + '_)>,
    ) -> Result<RoundOutcome> {
        let config = &self.config;
        let mut state = self.state.clone();
        let mut work = RoundWork::new(input, evaluator.is_some(), &state.reputation)?;
        work.screen(config, &mut state.cosines);

        let live: Vec<WorkerId> = work.live().into_iter().map(|i| work.subs[i].worker.clone()).collect();
        state.participation.observe(&live, input.roster, config.participation_cap);
        state.reputation.register(&live);
        let eligible = work.eligible();
        // Weights are this round's reputations and FedAU weights, before the round moves them.
        let results: Vec<FitResult<'_>> = eligible
            .iter()
            .map(|&i| {
                let s: &Submission<'_> = work.subs[i];
                FitResult {
                    reputation: state.reputation.reputation(&s.worker),
                    participation: state.participation.weight(&s.worker),
                    receipt: s.receipt,
                    ..FitResult::new(&s.worker, s.delta, s.num_samples)
                }
            })
            .collect();
        let mut aggregate = strategy.aggregate(input.round, &results, input.failures)?;
        let mut metrics = None;
        if let Some(agg) = &aggregate {
            work.update_reputation(agg, config, &mut state.reputation);
            if let Some(evaluator) = evaluator.as_deref_mut() {
                metrics = Some(work.validate(config, &*strategy, input, &results, agg, evaluator, &mut state.harm)?);
            }
        }

        // Updates flagged after aggregating leave the model too: aggregate once more without them.
        let dropped = |i: usize| work.rows[i].post_flagged;
        let in_aggregate = |i: usize| aggregate.as_ref().is_some_and(|a| a.included.contains(&work.subs[i].worker));
        if eligible.iter().any(|&i| dropped(i) && in_aggregate(i)) {
            let kept_at: Vec<usize> = (0..eligible.len()).filter(|&k| !dropped(eligible[k])).collect();
            let kept: Vec<FitResult<'_>> = kept_at.iter().map(|&k| results[k]).collect();
            aggregate = strategy.aggregate(input.round, &kept, input.failures)?;
            let measured = work.evaluated.iter().find(|(at, _)| *at == kept_at).map(|&(_, m)| m);
            metrics = match (&aggregate, evaluator) {
                (Some(_), Some(_)) if measured.is_some() => measured,
                (Some(agg), Some(evaluator)) => Some(evaluator.evaluate(&apply(input.global, &agg.delta))?),
                (None, Some(evaluator)) => Some(evaluator.evaluate(input.global)?),
                (_, None) => None,
            };
        }

        work.score(config, &state.reputation, aggregate.as_ref());
        let result = work.into_result(input, &state, config, strategy.name(), aggregate.as_ref(), metrics);
        if let Some(agg) = &aggregate {
            strategy.commit(input.round, agg);
        }
        self.state = state;
        Ok(RoundOutcome { result, aggregate })
    }
}
