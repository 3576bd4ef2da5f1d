//! `verify`: anyone holding the validation set can recompute a finalized round from what is public (the
//! manifest and updates on IPFS, the roots on chain) and check the coordinator's arithmetic. A confidential task
//! needs a reader's key its policy names (an auditor's, the requester's) or its published content keys.

use crate::sealing::{Keys, TaskPlace, TaskSealing, load_policy, load_release};
use crate::{
    content::{ModelLookup, architecture_of, cid_text, fetch_checkpoint, fetch_updates, load_manifest},
    manifest::{self, ComputeInput, Manifest, RewardRecord, RoundComputation},
    validation::Validator,
};
use alloy::primitives::{Address, B256, U256};
use tessera_chain::{MarketplaceClient, eip712};
use tessera_scoring::ScorerState;
use tessera_seal::ReaderKey;
use tessera_storage::{Cid, ContentStore, DagBuilder};

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per check.
    pub lines: Vec<String>,
    /// Rounds checked.
    pub rounds: u32,
    /// Checks that failed.
    pub mismatches: u32,
}

impl Report {
    fn check(&mut self, round: u32, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.lines.push(format!("round {round}: {what}: ok"));
        } else {
            self.mismatches += 1;
            self.lines.push(format!("round {round}: {what}: MISMATCH ({})", detail()));
        }
    }
}

/// Verifies every finalized round of `task_id`, or only `only`. A confidential task is opened with `reader` (a
/// key its policy names) if given, else with its published content keys.
#[allow(clippy::too_many_arguments)]
pub async fn verify_task(
    chain: &MarketplaceClient,
    chain_id: u64,
    content: &dyn ContentStore,
    mut validator: Option<&mut Validator>,
    lookup: ModelLookup,
    task_id: u64,
    only: Option<u32>,
    reader: Option<ReaderKey>,
) -> eyre::Result<Report> {
    let task = chain.task(U256::from(task_id)).await?;
    let sealing = task_sealing(chain, chain_id, content, task_id, &task, reader).await?;
    let arch = architecture_of(content, &format!("{:#x}", task.modelArchitectureId), lookup).await?;
    if let Some(v) = validator.as_deref_mut()
        && !v.evaluate_as(arch)?
    {
        validator = None;
    }
    let mut report = Report::default();
    let mut previous: Option<Manifest> = None;
    for r in 1..=task.currentRound {
        let on_chain = chain.round(U256::from(task_id), r).await?;
        if on_chain.finalizedAt.to::<u64>() == 0 {
            break;
        }
        let manifest =
            load_manifest(content, &cid_text(on_chain.manifestCid)?, sealing.as_ref().map(|s| (s, r))).await?;
        if only.is_none_or(|round| round == r) {
            let check = RoundCheck {
                chain,
                chain_id,
                task_id,
                round: r,
                content,
                validator: validator.as_deref_mut(),
                manifest: &manifest,
                previous: previous.as_ref(),
                on_chain: &on_chain,
                sealing: sealing.as_ref(),
            };
            verify_round(check, &mut report).await?;
            report.rounds += 1;
        }
        previous = Some(manifest);
    }
    Ok(report)
}

/// What one round's check reads: the chain and IPFS, the validation set if there is one, the round's
/// manifest, the one before it (whose cumulative rewards this round's build on), and the round on chain.
struct RoundCheck<'a> {
    chain: &'a MarketplaceClient,
    chain_id: u64,
    task_id: u64,
    round: u32,
    content: &'a dyn ContentStore,
    validator: Option<&'a mut Validator>,
    manifest: &'a Manifest,
    previous: Option<&'a Manifest>,
    on_chain: &'a tessera_chain::IMarketplace::Round,
    sealing: Option<&'a TaskSealing>,
}

/// The sealing of a confidential task as this verifier can open it, `None` for a public task.
async fn task_sealing(
    chain: &MarketplaceClient,
    chain_id: u64,
    content: &dyn ContentStore,
    task_id: u64,
    task: &tessera_chain::IMarketplace::Task,
    reader: Option<ReaderKey>,
) -> eyre::Result<Option<TaskSealing>> {
    let terms = chain.task_terms(U256::from(task_id)).await?;
    if terms.accessPolicy.is_zero() {
        return Ok(None);
    }
    let policy_cid = cid_text(terms.accessPolicy)?;
    let policy = load_policy(content, &policy_cid, task.coordinator, task.requester).await?;
    let place = TaskPlace { chain_id, marketplace: chain.address(), task_id };
    let keys = match reader {
        // The requester's key opens the models but not the updates: recomputing a round takes an auditor's.
        Some(reader) if !policy.auditors.contains(&reader.reader()) => eyre::bail!(
            "{} is not one of task {task_id}'s auditors (its access policy {policy_cid} names {}): only an auditor's key \
             opens the updates a round is recomputed from",
            reader.reader(),
            policy.auditors.len()
        ),
        Some(reader) => Keys::Reader(reader),
        None if !terms.contentKeysCid.is_zero() => {
            let release = load_release(content, &cid_text(terms.contentKeysCid)?, &place).await?;
            Keys::Released(std::sync::Arc::new(release))
        }
        None => eyre::bail!(
            "task {task_id} is confidential and has not published its keys: give a reader key its access policy \
             {policy_cid} names (an auditor's or the requester's)"
        ),
    };
    Ok(Some(TaskSealing { policy, policy_cid, place, keys }))
}

/// Recomputes one round from its manifest and checks it against the chain, into `report`: what the round
/// started from, then the recomputation, then what it produced.
async fn verify_round(check: RoundCheck<'_>, report: &mut Report) -> eyre::Result<()> {
    let RoundCheck { chain, chain_id, task_id, round, content, validator, manifest, previous, on_chain, sealing } =
        check;
    let arch: tessera_train::ArchitectureId = manifest
        .architecture
        .parse()
        .map_err(|_| eyre::eyre!("manifest names unknown architecture {:?}", manifest.architecture))?;
    let (state_before, previous_rewards) = match previous {
        Some(p) => (p.scorer_state_after.clone(), p.rewards.clone()),
        None => Default::default(),
    };
    check_inputs(chain, (chain_id, task_id, round), manifest, &state_before, on_chain, report)?;

    let global = match (sealing, previous) {
        (Some(s), Some(previous)) => {
            let wraps = previous.sealing.as_ref().map(|m| m.new_model_keys.as_slice()).unwrap_or_default();
            let key = s.checkpoint_key(round - 1, &manifest.global_model_cid, wraps)?;
            fetch_checkpoint(content, arch, &manifest.global_model_cid, Some((s, round - 1, &key))).await?
        }
        _ => fetch_checkpoint(content, arch, &manifest.global_model_cid, None).await?,
    };
    let scratch = std::env::temp_dir();
    let (updates, failures) = fetch_updates(
        content,
        None,
        &scratch,
        arch,
        manifest.round,
        &manifest.global_model_cid,
        &manifest.submissions,
        sealing,
    )
    .await?;
    if sealing.is_some() {
        let differ: Vec<&str> = updates
            .records
            .iter()
            .filter(|opened| {
                let recorded = manifest.submissions.iter().find(|s| s.worker == opened.worker);
                recorded.is_none_or(|s| s.plaintext_sha256 != opened.plaintext_sha256)
            })
            .map(|opened| opened.worker.as_str())
            .collect();
        report.check(round, "updates open to the plaintexts the manifest commits to", differ.is_empty(), || {
            differ.join(", ")
        });
    }
    let privacy = privacy_input(manifest, sealing, &updates.records, report)?;
    let input = ComputeInput {
        architecture: arch,
        round: manifest.round,
        global: &global,
        global_cid: &manifest.global_model_cid,
        updates: &updates,
        failures: &failures,
        roster: &manifest.roster,
        reward: manifest.round_reward.parse()?,
        strategy: &manifest.strategy,
        scoring: &manifest.scoring,
        state_before: &state_before,
        privacy: privacy.as_ref().map(|noise| (noise.spec, noise.seed)),
    };
    let computed = manifest::compute(&input, validator.map(|v| v as &mut dyn tessera_scoring::Evaluator))?;
    if let (Some(recorded), Some(Noise { spec, base, .. })) = (&manifest.privacy, privacy) {
        let expected =
            manifest::PrivacyRecord::new(spec, &base, recorded.noise_seed_keys.clone(), round, computed.averaged);
        report.check(
            round,
            "the privacy record recomputes (updates averaged, the accountant's epsilon)",
            *recorded == expected,
            || {
                format!(
                    "recorded {} averaged, epsilon {} (order {}); recomputed {}, {} (order {})",
                    recorded.averaged,
                    recorded.epsilon_task,
                    recorded.order,
                    expected.averaged,
                    expected.epsilon_task,
                    expected.order
                )
            },
        );
    }
    let published = match sealing {
        Some(s) => sealed_checkpoint(s, manifest, &computed, report)?,
        None => computed.checkpoint.clone(),
    };
    check_outputs(manifest, &computed, &published, &previous_rewards, on_chain, report)
}

/// A private round's noise as the verifier opened it: the settings, the base seed the manifest commits to, and the
/// seed bound to the round's updates that the noise is drawn from.
struct Noise {
    spec: tessera_scoring::privacy::PrivacySpec,
    base: [u8; 32],
    seed: [u8; 32],
}

/// The privacy settings the round must have run with (the task's policy's), its base noise seed, opened with this
/// verifier's keys and checked against the manifest's commitment, and the noise's seed bound to the updates
/// `averaged`; a manifest that says otherwise is a mismatch.
fn privacy_input(
    manifest: &Manifest,
    sealing: Option<&TaskSealing>,
    averaged: &[manifest::SubmissionRecord],
    report: &mut Report,
) -> eyre::Result<Option<Noise>> {
    let Some((sealing, spec)) = sealing.and_then(|s| s.policy.privacy.map(|spec| (s, spec))) else { return Ok(None) };
    let r = manifest.round;
    let Some(recorded) = manifest.privacy.as_ref() else {
        report.check(r, "differential privacy ran with the task's settings", false, || {
            "the manifest records none".into()
        });
        return Ok(None);
    };
    let base = sealing.noise_seed(r, &recorded.noise_seed_keys)?;
    report.check(
        r,
        "differential privacy ran with the task's settings and the committed noise seed",
        recorded.spec == spec && recorded.noise_commitment == manifest::noise_commitment(&base.to_bytes()),
        || format!("the manifest records {:?} and commitment {}", recorded.spec, recorded.noise_commitment),
    );
    let context = sealing.place.noise_context(r);
    let wraps = crate::sealing::check_wraps(&recorded.noise_seed_keys, &sealing.policy.auditors, &base, &context);
    report.check(r, "the noise seed is wrapped for exactly the auditors", wraps.is_ok(), || {
        format!("its wraps {}", wraps.clone().unwrap_err())
    });
    let base = base.to_bytes();
    Ok(Some(Noise { spec, base, seed: manifest::round_noise_seed(&base, averaged) }))
}

/// The recomputed checkpoint sealed as the coordinator must have sealed it, after checking its plaintext hash and
/// that every reader the policy names was given its key.
fn sealed_checkpoint(
    sealing: &TaskSealing,
    manifest: &Manifest,
    computed: &RoundComputation,
    report: &mut Report,
) -> eyre::Result<Vec<u8>> {
    let r = manifest.round;
    let Some(recorded) = &manifest.sealing else {
        report.check(r, "the manifest records the checkpoint's sealing", false, || "it records none".into());
        return Ok(computed.checkpoint.clone());
    };
    report.check(
        r,
        "the checkpoint's plaintext recomputes to the manifest's hash",
        tessera_seal::plaintext_sha256(&computed.checkpoint) == recorded.new_model_sha256,
        || recorded.new_model_sha256.clone(),
    );
    let key = sealing.checkpoint_key(r, &manifest.new_model_cid, &recorded.new_model_keys)?;
    let context = sealing.place.checkpoint_context(r);
    let readers = sealing.policy.checkpoint_readers();
    let wraps = crate::sealing::check_wraps(&recorded.new_model_keys, &readers, &key, &context);
    report.check(
        r,
        "the checkpoint's key is wrapped for exactly the requester and the auditors",
        wraps.is_ok(),
        || format!("its wraps {}", wraps.clone().unwrap_err()),
    );
    Ok(sealing.seal_checkpoint(r, &key, &computed.checkpoint))
}

/// What the round started from: this chain and marketplace, the global model on chain, the scorer state the
/// last round left, and a signature by its worker on every submission.
fn check_inputs(
    chain: &MarketplaceClient,
    (chain_id, task_id, round): (u64, u64, u32),
    manifest: &Manifest,
    state_before: &ScorerState,
    on_chain: &tessera_chain::IMarketplace::Round,
    report: &mut Report,
) -> eyre::Result<()> {
    let r = round;
    report.check(
        r,
        "manifest names this chain, marketplace, task and round",
        manifest.chain_id == chain_id
            && manifest.marketplace.parse::<Address>().ok() == Some(chain.address())
            && manifest.task_id == task_id
            && manifest.round == round,
        || {
            format!(
                "chain {} marketplace {} task {} round {}",
                manifest.chain_id, manifest.marketplace, manifest.task_id, manifest.round
            )
        },
    );
    report.check(
        r,
        "global model is the one on chain",
        cid_text(on_chain.globalModelCid)? == manifest.global_model_cid,
        || manifest.global_model_cid.clone(),
    );
    report.check(
        r,
        "scorer state carries over from the last round",
        *state_before == manifest.scorer_state_before,
        || "the manifest starts from another state".into(),
    );
    let domain = eip712::domain(chain_id, chain.address());
    let bad: Vec<&str> = manifest
        .submissions
        .iter()
        .filter(|s| !signature_ok(s, manifest.task_id, r, &domain))
        .map(|s| s.worker.as_str())
        .collect();
    report.check(r, "every submission is signed by its worker", bad.is_empty(), || bad.join(", "));
    Ok(())
}

/// What the round produced, recomputed: the result and scorer state in the manifest, the checkpoint, rewards
/// root and total on chain, and the slashes.
fn check_outputs(
    manifest: &Manifest,
    computed: &RoundComputation,
    published: &[u8],
    previous_rewards: &[RewardRecord],
    on_chain: &tessera_chain::IMarketplace::Round,
    report: &mut Report,
) -> eyre::Result<()> {
    let r = manifest.round;
    report.check(r, "scores, rewards, flags and slashes recompute", computed.result == manifest.result, || {
        "the recomputed round result differs from the manifest".into()
    });
    report.check(
        r,
        "scorer state after the round recomputes",
        computed.state_after == manifest.scorer_state_after,
        || "differs".into(),
    );
    let model_cid = DagBuilder::cid_of(published);
    report.check(
        r,
        "aggregate recomputes to the checkpoint on chain",
        B256::from(model_cid.to_bytes32()) == on_chain.newModelCid,
        || format!("recomputed {model_cid}, chain has {}", cid_text(on_chain.newModelCid).unwrap_or_default()),
    );
    let rewards = manifest::cumulative_rewards(previous_rewards, &computed.result)?;
    let tree = manifest::reward_tree(manifest.task_id, &rewards)?;
    report.check(r, "rewards root recomputes to the one on chain", tree.root() == on_chain.rewardsRoot, || {
        format!("recomputed {:#x}, chain has {:#x}", tree.root(), on_chain.rewardsRoot)
    });
    report.check(
        r,
        "cumulative rewards total matches the chain",
        tree.total() == U256::from(on_chain.cumulativeRewardsTotal),
        || format!("recomputed {}, chain has {}", tree.total(), on_chain.cumulativeRewardsTotal),
    );
    let slashed: Vec<(&str, tessera_scoring::Reason)> =
        manifest.slashes.iter().map(|s| (s.worker.as_str(), s.reason)).collect();
    let decided: Vec<(&str, tessera_scoring::Reason)> = computed
        .result
        .slashes
        .iter()
        .filter(|s| slashed.iter().any(|(w, _)| *w == s.worker.as_str()))
        .map(|s| (s.worker.as_str(), s.reason))
        .collect();
    report.check(r, "slashes follow the scorer's decisions", slashed == decided, || {
        format!("{slashed:?} vs {decided:?}")
    });
    Ok(())
}

fn signature_ok(
    record: &manifest::SubmissionRecord,
    task_id: u64,
    round: u32,
    domain: &alloy::sol_types::Eip712Domain,
) -> bool {
    let (Ok(cid), Ok(signature), Ok(worker)) = (
        record.update_cid.parse::<Cid>(),
        eip712::parse_signature(&record.signature),
        record.worker.parse::<Address>(),
    ) else {
        return false;
    };
    let typed = eip712::Submission {
        taskId: U256::from(task_id),
        round,
        worker,
        updateCid: B256::from(cid.to_bytes32()),
        numSamples: record.num_samples,
    };
    eip712::recover_signer(&typed, domain, &signature).is_ok_and(|signer| signer == worker)
}
