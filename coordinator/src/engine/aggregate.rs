//! Aggregating a round, in four steps: gather what the round received, compute the scores and the aggregate,
//! publish the checkpoint and the manifest, and record the result and move the round on. Deterministic: after a
//! crash the same inputs give the same CIDs, so running the steps again repairs anything half done.

use super::{Engine, elapsed_ms};
use crate::{
    content::{fetch_checkpoint, fetch_updates, load_manifest},
    fault,
    manifest::{
        self, ComputeInput, FetchedUpdates, MANIFEST_FORMAT, Manifest, PrivacyRecord, RewardRecord, SubmissionRecord,
    },
    sealing::{ManifestSealing, TaskSealing},
};
use alloy::primitives::{Address, U256};
use bytes::Bytes;
use std::{collections::BTreeMap, sync::atomic::Ordering, time::Instant};
use tessera_db::{Amount, Membership, NewScore, Reputation, RoundMetrics, RoundPatch, RoundPhase, Task};
use tessera_scoring::privacy::PrivacySpec;
use tessera_scoring::{Failure, Reason, ScorerState};
use tessera_storage::Cid;
use tessera_train::ArchitectureId;

/// What a round's aggregation reads: the round's checkpoint and updates from IPFS, its submissions and roster
/// from the database, and the scorer's state and cumulative rewards from the previous manifest.
struct Gathered {
    arch: ArchitectureId,
    global_cid: String,
    global: Vec<f32>,
    records: Vec<SubmissionRecord>,
    updates: Option<FetchedUpdates>,
    failures: Vec<Failure>,
    roster: Vec<String>,
    reward: u128,
    state_before: ScorerState,
    previous_rewards: Vec<RewardRecord>,
    sealing: Option<TaskSealing>,
    privacy: Option<(PrivacySpec, [u8; 32])>,
}

/// What a round published.
struct Published {
    new_model_cid: Cid,
    manifest_cid: Cid,
    manifest: Manifest,
}

/// Where the round's time went, for its metrics.
struct Timings {
    started: Instant,
    fetch_ms: u64,
    scoring_ms: u64,
    publish_started: Instant,
}

impl Engine {
    async fn previous_manifest(
        &self,
        task_id: u64,
        round: u32,
        sealing: Option<&TaskSealing>,
    ) -> eyre::Result<Option<Manifest>> {
        if round <= 1 {
            return Ok(None);
        }
        let previous = self.db.get_round(task_id, round - 1).await?;
        let cid = previous
            .and_then(|r| r.manifest_cid)
            .ok_or_else(|| eyre::eyre!("round {} of task {task_id} has no manifest", round - 1))?;
        Ok(Some(load_manifest(self.content.as_ref(), &cid, sealing.map(|s| (s, round - 1))).await?))
    }

    /// Scores and aggregates round `r`, publishes the checkpoint and the manifest, stores the scores, and moves
    /// the round to publishing.
    /// The global model of round `r`: the task's initial model in round 1 (the requester's, as published), then
    /// the checkpoint the last round produced, which a confidential task sealed.
    pub(super) async fn fetch_global(
        &self,
        sealing: Option<&TaskSealing>,
        arch: ArchitectureId,
        r: u32,
        cid: &str,
    ) -> eyre::Result<Vec<f32>> {
        match sealing.filter(|_| r > 1) {
            Some(s) => {
                let key = s.checkpoint_key(r - 1, cid, &[])?;
                fetch_checkpoint(self.content.as_ref(), arch, cid, Some((s, r - 1, &key))).await
            }
            None => fetch_checkpoint(self.content.as_ref(), arch, cid, None).await,
        }
    }

    #[tracing::instrument(level = "debug", target = "engine::aggregate", skip_all, fields(task = task.task_id, round = r))]
    pub(super) async fn aggregate(&self, task: &Task, r: u32) -> eyre::Result<()> {
        let started = Instant::now();
        let (gathered, fetch_ms) = self.gather(task, r).await?;
        let scoring_started = Instant::now();
        let (gathered, computation) = self.compute(r, gathered).await?;
        let scoring_ms = elapsed_ms(scoring_started);
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let steps = computation.timings;
        tracing::info!(
            task = task.task_id,
            round = r,
            updates = computation.result.workers.len(),
            scoring_ms,
            screen_ms = ms(steps.screen),
            aggregate_ms = ms(steps.aggregate),
            validate_ms = ms(steps.validate),
            finish_ms = ms(steps.finish),
            "round scored"
        );
        let publish_started = Instant::now();
        let published = self.publish(task, r, gathered, computation).await?;
        self.record(task.task_id, r, &published, Timings { started, fetch_ms, scoring_ms, publish_started }).await
    }

    /// Reads everything the round's computation needs; returns it with the time spent fetching updates.
    #[tracing::instrument(level = "debug", target = "engine::aggregate", skip_all, fields(task = task.task_id, round = r))]
    async fn gather(&self, task: &Task, r: u32) -> eyre::Result<(Gathered, u64)> {
        let id = task.task_id;
        let arch = self.architecture(task).await?;
        let round = self.db.get_round(id, r).await?.ok_or_else(|| eyre::eyre!("round {r} of task {id} is gone"))?;
        let sealing = self.sealing(task).await?;
        let previous = self.previous_manifest(id, r, sealing.as_ref()).await?;
        let (state_before, previous_rewards) =
            previous.map_or_else(|| (ScorerState::default(), Vec::new()), |m| (m.scorer_state_after, m.rewards));
        let global = self.fetch_global(sealing.as_ref(), arch, r, &round.global_model_cid).await?;

        let mut records: Vec<SubmissionRecord> = self
            .db
            .list_submissions(id, r)
            .await?
            .into_iter()
            .map(|s| SubmissionRecord {
                worker: s.worker,
                update_cid: s.update_cid,
                num_samples: s.num_samples,
                sequence: s.sequence,
                received_at_ms: s.received_at_ms,
                signature: s.signature,
                receipt_signature: s.receipt_signature,
                plaintext_sha256: None,
            })
            .collect();
        records.sort_by_key(|s| s.sequence);
        let fetch_started = Instant::now();
        // The decoded updates go beside the spool: on this replica's disk, where a crash leaves them for the
        // spool's owner to see.
        let scratch = self.spool.as_ref().map_or_else(std::env::temp_dir, |s| s.dir().to_path_buf());
        let (updates, failures) = fetch_updates(
            self.content.as_ref(),
            self.spool.as_ref().map(|s| (s, id)),
            &scratch,
            arch,
            r,
            &round.global_model_cid,
            &records,
            sealing.as_ref(),
        )
        .await?;
        // The manifest commits to each opened update's plaintext too.
        let hashes: BTreeMap<&str, &String> = updates
            .records
            .iter()
            .filter_map(|r| r.plaintext_sha256.as_ref().map(|hash| (r.worker.as_str(), hash)))
            .collect();
        for record in &mut records {
            record.plaintext_sha256 = hashes.get(record.worker.as_str()).map(|hash| (*hash).clone());
        }
        let fetch_ms = elapsed_ms(fetch_started);
        let mut roster: Vec<String> = self
            .db
            .list_workers(id)
            .await?
            .into_iter()
            .filter(|w| w.status == Membership::Active)
            .map(|w| w.worker)
            .collect();
        roster.sort();
        let reward = manifest::round_reward(task.reward_pool.0, task.num_rounds, r);
        let privacy = match sealing.as_ref().and_then(|s| s.policy.privacy.map(|spec| (s, spec))) {
            Some((s, spec)) => {
                Some((spec, manifest::round_noise_seed(&s.noise_seed(r, &[])?.to_bytes(), &updates.records)))
            }
            None => None,
        };
        let gathered = Gathered {
            arch,
            global_cid: round.global_model_cid,
            global,
            records,
            updates: Some(updates),
            failures,
            roster,
            reward,
            state_before,
            previous_rewards,
            privacy,
            sealing,
        };
        Ok((gathered, fetch_ms))
    }

    /// Scores and aggregates on a blocking thread; hands back what the manifest needs, without the updates and
    /// the checkpoint, which are dropped as soon as the computation is done.
    #[tracing::instrument(level = "debug", target = "engine::aggregate", skip_all, fields(round = r))]
    async fn compute(&self, r: u32, gathered: Gathered) -> eyre::Result<(Gathered, manifest::RoundComputation)> {
        let validator = self.validator.clone();
        let (strategy, scoring) = (self.settings.strategy.clone(), self.settings.scoring.clone());
        let (mut gathered, computation) = tokio::task::spawn_blocking(move || {
            let input = ComputeInput {
                architecture: gathered.arch,
                round: r,
                global: &gathered.global,
                global_cid: &gathered.global_cid,
                updates: gathered.updates.as_ref().expect("gathered updates are computed once"),
                failures: &gathered.failures,
                roster: &gathered.roster,
                reward: gathered.reward,
                strategy: &strategy,
                scoring: &scoring,
                state_before: &gathered.state_before,
                privacy: gathered.privacy,
            };
            let mut guard = match validator.as_deref().map(crate::validation::ValidatorPool::take).transpose() {
                Ok(guard) => guard,
                Err(error) => return (gathered, Err(eyre::eyre!("copying the validation set: {error}"))),
            };
            let usable = guard.as_deref_mut().map(|v| v.evaluate_as(gathered.arch)).transpose();
            let computation = match usable {
                Ok(usable) => {
                    let evaluator = guard
                        .as_deref_mut()
                        .filter(|_| usable == Some(true))
                        .map(|v| v as &mut dyn tessera_scoring::Evaluator);
                    manifest::compute(&input, evaluator)
                }
                Err(error) => Err(eyre::eyre!("preparing the validation set for {}: {error}", gathered.arch)),
            };
            (gathered, computation)
        })
        .await?;
        gathered.updates = None;
        gathered.global = Vec::new();
        Ok((gathered, computation?))
    }

    /// Puts the new checkpoint and the manifest on IPFS.
    #[tracing::instrument(level = "debug", target = "engine::aggregate", skip_all, fields(task = task.task_id, round = r))]
    async fn publish(
        &self,
        task: &Task,
        r: u32,
        gathered: Gathered,
        computation: manifest::RoundComputation,
    ) -> eyre::Result<Published> {
        let id = task.task_id;
        let (checkpoint, sealing) = match &gathered.sealing {
            Some(s) => {
                let key = s.checkpoint_key(r, "", &[])?;
                let record = ManifestSealing {
                    access_policy: s.policy_cid.clone(),
                    new_model_sha256: tessera_seal::plaintext_sha256(&computation.checkpoint),
                    new_model_keys: s.checkpoint_wraps(r, &key),
                };
                (s.seal_checkpoint(r, &key, &computation.checkpoint), Some(record))
            }
            None => (computation.checkpoint, None),
        };
        let privacy = match (&gathered.sealing, gathered.privacy) {
            (Some(s), Some((spec, _))) => {
                // The record commits to the round's base seed; the noise's seed binds it to the round's updates.
                let base = s.noise_seed(r, &[])?;
                let wraps = s.noise_wraps(r, &base);
                Some(PrivacyRecord::new(spec, &base.to_bytes(), wraps, r, computation.averaged))
            }
            _ => None,
        };
        let new_model_cid = self.content.put(Bytes::from(checkpoint)).await?;
        let stakes = self.stakes(id, r, &computation.result).await?;
        let cap = manifest::slash_cap(task.stake_required.get(), &task.config);
        let slashes = manifest::slashes_in_tokens(&computation.result, &stakes, cap);
        let rewards = manifest::cumulative_rewards(&gathered.previous_rewards, &computation.result)?;
        let tree = manifest::reward_tree(id, &rewards)?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            chain_id: self.chain_id,
            marketplace: format!("{:#x}", self.chain.address()),
            coordinator: format!("{:#x}", self.chain.account()),
            task_id: id,
            round: r,
            architecture: gathered.arch.name().into(),
            global_model_cid: gathered.global_cid,
            new_model_cid: new_model_cid.to_string(),
            strategy: self.settings.strategy.clone(),
            scoring: self.settings.scoring.clone(),
            round_reward: gathered.reward.to_string(),
            roster: gathered.roster,
            submissions: gathered.records,
            failures: gathered.failures,
            scorer_state_before: gathered.state_before,
            scorer_state_after: computation.state_after,
            result: computation.result,
            slashes,
            rewards,
            rewards_root: format!("{:#x}", tree.root()),
            cumulative_rewards_total: tree.total().to_string(),
            sealing,
            privacy,
        };
        let text = serde_json::to_vec_pretty(&manifest)?;
        // JSON has no NaN: a non-finite number would be written as null and the manifest could never be read back
        // (by `verify`, or by the next round). Refuse it here, where the task can still be retried.
        serde_json::from_slice::<Manifest>(&text)
            .map_err(|e| eyre::eyre!("round {r}'s manifest would not read back: {e}"))?;
        let text = match &gathered.sealing {
            Some(s) => s.seal_manifest(r, &text)?,
            None => text,
        };
        let manifest_cid = self.content.put(Bytes::from(text)).await?;
        Ok(Published { new_model_cid, manifest_cid, manifest })
    }

    /// Stores the round's scores, reputations and metrics and moves it to publishing, once.
    #[tracing::instrument(level = "debug", target = "engine::aggregate", skip_all, fields(task = id, round = r))]
    async fn record(&self, id: u64, r: u32, published: &Published, timings: Timings) -> eyre::Result<()> {
        let Published { new_model_cid, manifest_cid, manifest } = published;
        self.db.replace_scores(id, r, &scores(manifest)?).await?;
        self.db.upsert_reputations(&reputations(id, r, &manifest.scorer_state_after)?).await?;
        let metrics = RoundMetrics {
            accuracy: manifest.result.metrics.map(|m| m.accuracy),
            loss: manifest.result.metrics.map(|m| m.loss),
            fetch_ms: Some(timings.fetch_ms),
            scoring_ms: Some(timings.scoring_ms),
            publish_ms: Some(elapsed_ms(timings.publish_started)),
            published_at_ms: Some(crate::now_ms()),
        };
        let patch = RoundPatch {
            new_model_cid: Some(new_model_cid.to_string()),
            manifest_cid: Some(manifest_cid.to_string()),
            rewards_root: Some(manifest.rewards_root.clone()),
            cumulative_rewards_total: Some(Amount(manifest.cumulative_rewards_total.parse()?)),
            metrics: Some(metrics),
            finalized_at_ms: None,
        };
        if self.advance(id, r, RoundPhase::Aggregating, RoundPhase::Publishing, &patch).await? {
            let elapsed = elapsed_ms(timings.started);
            self.live.counters.aggregation_ms.fetch_add(elapsed, Ordering::Relaxed);
            self.live.counters.rounds_aggregated.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                task = id,
                round = r,
                %new_model_cid,
                %manifest_cid,
                accuracy = metrics.accuracy,
                elapsed_ms = elapsed,
                "round aggregated and published"
            );
            fault::crash_point("after-publish");
        }
        Ok(())
    }

    /// Remaining stake of every worker the round slashes that the contract lets this round's finalize slash: one
    /// still active, or one that left during this round for what it submitted (its notice does not take it out of
    /// the round's reckoning: a worker that poisons and leaves before the round closes is slashed all the same).
    /// Evicted workers and those that left in an earlier round are out of reach, and the finalize would revert if
    /// it named them.
    async fn stakes(
        &self,
        task_id: u64,
        round: u32,
        result: &tessera_scoring::RoundResult,
    ) -> eyre::Result<BTreeMap<String, u128>> {
        let mut stakes = BTreeMap::new();
        let task = U256::from(task_id);
        for slash in &result.slashes {
            let account: Address = slash.worker.as_str().parse()?;
            let info = self.chain.worker(task, account).await?;
            let slashable = match info.status {
                s if s == tessera_chain::WorkerMembership::Active as u8 => true,
                // What it submitted is judged; not submitting is not held against one that gave notice.
                s if s == tessera_chain::WorkerMembership::Exited as u8 && info.stake > 0 => {
                    slash.reason != Reason::NoShow && self.chain.exit_round(task, account).await? == round
                }
                _ => false,
            };
            if slashable {
                stakes.insert(slash.worker.as_str().to_owned(), info.stake.to::<u128>());
            }
        }
        Ok(stakes)
    }
}

fn reason_name(reason: Reason) -> &'static str {
    manifest::reason_name(reason).as_str()
}

/// The score rows of a round, from its manifest.
fn scores(manifest: &Manifest) -> eyre::Result<Vec<NewScore>> {
    let slashed: BTreeMap<&str, (&str, Reason)> =
        manifest.slashes.iter().map(|s| (s.worker.as_str(), (s.amount.as_str(), s.reason))).collect();
    manifest
        .result
        .workers
        .iter()
        .map(|outcome| {
            let worker = outcome.worker.as_str();
            let own: Vec<_> = manifest.result.flags.iter().filter(|f| f.worker == outcome.worker).collect();
            let flags = own.iter().map(|f| reason_name(f.reason).to_owned()).collect();
            let evidence = own
                .iter()
                .map(|f| serde_json::json!({ "reason": reason_name(f.reason), "evidence": f.evidence }))
                .collect();
            let (amount, reason) =
                slashed.get(worker).map_or(("0", None), |(a, r)| (*a, Some(reason_name(*r).to_owned())));
            Ok(NewScore {
                worker: worker.to_owned(),
                score: outcome.score,
                reward: Amount(outcome.reward),
                flags,
                slashed: Amount(amount.parse()?),
                slash_reason: reason,
                reputation: outcome.reputation,
                evidence: serde_json::Value::Array(evidence),
            })
        })
        .collect()
}

fn reputations(task_id: u64, round: u32, state: &ScorerState) -> eyre::Result<Vec<Reputation>> {
    state
        .reputation
        .entries()
        .map(|(worker, entry)| {
            Ok(Reputation {
                task_id,
                worker: worker.as_str().to_owned(),
                reputation: entry.reputation,
                participation: serde_json::to_value(state.participation.get(worker))?,
                as_of_round: round,
            })
        })
        .collect()
}
