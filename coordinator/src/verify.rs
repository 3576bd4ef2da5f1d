//! `verify`: anyone holding the validation set can recompute a finalized round from what is public (the
//! manifest and updates on IPFS, the roots on chain) and check the coordinator's arithmetic.

use crate::{
    content::{ModelLookup, architecture_of, cid_text, fetch_checkpoint, fetch_updates, load_manifest},
    manifest::{self, ComputeInput, Manifest, RewardRecord, RoundComputation},
    validation::Validator,
};
use alloy::primitives::{Address, B256, U256};
use tessera_chain::{MarketplaceClient, eip712};
use tessera_scoring::ScorerState;
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

/// Verifies every finalized round of `task_id`, or only `only`.
pub async fn verify_task(
    chain: &MarketplaceClient,
    chain_id: u64,
    content: &dyn ContentStore,
    mut validator: Option<&mut Validator>,
    lookup: ModelLookup,
    task_id: u64,
    only: Option<u32>,
) -> eyre::Result<Report> {
    let task = chain.task(U256::from(task_id)).await?;
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
        let manifest = load_manifest(content, &cid_text(on_chain.manifestCid)?).await?;
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
}

/// Recomputes one round from its manifest and checks it against the chain, into `report`: what the round
/// started from, then the recomputation, then what it produced.
async fn verify_round(check: RoundCheck<'_>, report: &mut Report) -> eyre::Result<()> {
    let RoundCheck { chain, chain_id, task_id, round, content, validator, manifest, previous, on_chain } = check;
    let arch: tessera_train::ArchitectureId = manifest
        .architecture
        .parse()
        .map_err(|_| eyre::eyre!("manifest names unknown architecture {:?}", manifest.architecture))?;
    let (state_before, previous_rewards) = match previous {
        Some(p) => (p.scorer_state_after.clone(), p.rewards.clone()),
        None => Default::default(),
    };
    check_inputs(chain, (chain_id, task_id, round), manifest, &state_before, on_chain, report)?;

    let global = fetch_checkpoint(content, arch, &manifest.global_model_cid).await?;
    let scratch = std::env::temp_dir();
    let (updates, failures) =
        fetch_updates(content, None, &scratch, arch, manifest.round, &manifest.global_model_cid, &manifest.submissions)
            .await?;
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
    };
    let computed = manifest::compute(&input, validator.map(|v| v as &mut dyn tessera_scoring::Evaluator))?;
    check_outputs(manifest, &computed, &previous_rewards, on_chain, report)
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
    let model_cid = DagBuilder::cid_of(&computed.checkpoint);
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
