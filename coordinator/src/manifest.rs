//! The round manifest: one round's computation and its public record, shared by the engine (which runs it)
//! and `verify` (which runs it again from the record and the chain): same inputs, same bits.

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_chain::{RewardTree, SlashCode};
pub use tessera_scoring::StrategySpec;
use tessera_scoring::privacy::{PrivacySpec, private_mean};
use tessera_scoring::{
    Evaluator, Failure, Reason, RoundInput, RoundResult, Scorer, ScorerState, ScoringConfig, Submission, WorkerId,
    apply,
};
use tessera_train::{ArchitectureId, DecodeLimits, FileKind, Header, Parameters, WeightsFile, WireDtype};

/// The manifest format this coordinator writes.
pub const MANIFEST_FORMAT: &str = "tessera-manifest-v1";

/// One accepted submission, as the manifest records it: enough for anyone to check the signature and
/// fetch the update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionRecord {
    /// The worker, lowercase 0x-hex.
    pub worker: String,
    /// The update's CID.
    pub update_cid: String,
    /// The samples the worker signed for.
    pub num_samples: u64,
    /// Its place in the round's receipt order.
    pub sequence: u64,
    /// When the coordinator accepted it, unix milliseconds.
    pub received_at_ms: i64,
    /// The worker's EIP-712 signature.
    pub signature: String,
    /// The coordinator's signed receipt.
    pub receipt_signature: Option<String>,
    /// In a confidential task, the SHA-256 of the update before it was sealed (its CID addresses the sealed
    /// bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext_sha256: Option<String>,
}

/// A slash as `finalizeRound` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashRecord {
    /// The worker.
    pub worker: String,
    /// Tokens, base units, decimal.
    pub amount: String,
    /// The scorer's reason.
    pub reason: Reason,
}

/// A worker's cumulative earnings in the task after this round: a leaf of the rewards tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRecord {
    /// The worker.
    pub worker: String,
    /// Cumulative earnings, base units, decimal.
    pub cumulative: String,
}

/// Everything about a finalized round, published to IPFS and committed on chain by its CID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// The chain.
    pub chain_id: u64,
    /// The marketplace contract.
    pub marketplace: String,
    /// The coordinator that signed the receipts.
    pub coordinator: String,
    /// The task.
    pub task_id: u64,
    /// The round.
    pub round: u32,
    /// The model architecture's name.
    pub architecture: String,
    /// The checkpoint the round trained from.
    pub global_model_cid: String,
    /// The aggregated checkpoint.
    pub new_model_cid: String,
    /// How updates were aggregated.
    pub strategy: StrategySpec,
    /// The scorer's settings.
    pub scoring: ScoringConfig,
    /// The round's reward, base units, decimal.
    pub round_reward: String,
    /// Active workers when the round was scored.
    pub roster: Vec<String>,
    /// Accepted submissions, in receipt order.
    pub submissions: Vec<SubmissionRecord>,
    /// Submissions whose update could not be used, with why.
    pub failures: Vec<Failure>,
    /// The scorer's carried state before this round.
    pub scorer_state_before: ScorerState,
    /// The scorer's carried state after it.
    pub scorer_state_after: ScorerState,
    /// Scores, rewards, flags with evidence.
    pub result: RoundResult,
    /// Slashes sent to `finalizeRound`.
    pub slashes: Vec<SlashRecord>,
    /// The rewards tree's leaves.
    pub rewards: Vec<RewardRecord>,
    /// The rewards root, 0x-hex.
    pub rewards_root: String,
    /// The sum of the leaves, base units, decimal.
    pub cumulative_rewards_total: String,
    /// In a confidential task: the policy, the new checkpoint's plaintext hash and its wrapped keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<crate::sealing::ManifestSealing>,
    /// Under differential privacy: the settings, the noise's seed and the accountant's epsilon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyRecord>,
}

/// What a differentially private round records: its settings, a commitment to its noise seed and the seed
/// wrapped for the auditors, and what the accountant makes of the task so far. The seed is secret: anyone who
/// held it could subtract the noise from the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRecord {
    /// Clip, noise multiplier and delta.
    pub spec: PrivacySpec,
    /// Keccak-256 of the noise's seed, 0x-hex ([`noise_commitment`]).
    pub noise_commitment: String,
    /// The seed wrapped for each auditor, who can then recompute the noise.
    pub noise_seed_keys: Vec<tessera_seal::WrappedKey>,
    /// Updates averaged (each clipped).
    pub averaged: u64,
    /// The epsilon of this round alone, at `spec.delta`.
    pub epsilon_round: f64,
    /// The epsilon of the task's rounds up to this one, at `spec.delta`.
    pub epsilon_task: f64,
    /// The Rényi order that gave `epsilon_task`.
    pub order: f64,
}

impl PrivacyRecord {
    /// The record of private round `round`: its settings, the commitment to its base `seed` and the seed's wraps,
    /// the updates averaged, and what the accountant makes of this round alone and of the rounds so far.
    pub fn new(
        spec: PrivacySpec,
        seed: &[u8; 32],
        noise_seed_keys: Vec<tessera_seal::WrappedKey>,
        round: u32,
        averaged: u64,
    ) -> Self {
        use tessera_scoring::privacy::epsilon;
        let task = epsilon(spec.noise_multiplier, u64::from(round), spec.delta);
        Self {
            spec,
            noise_commitment: noise_commitment(seed),
            noise_seed_keys,
            averaged,
            epsilon_round: epsilon(spec.noise_multiplier, 1, spec.delta).epsilon,
            epsilon_task: task.epsilon,
            order: task.order,
        }
    }
}

/// The seed of a round's noise: its base seed (secret, committed in the manifest) bound to the updates averaged
/// (each worker with its plaintext's hash), so a round aggregated again from other updates after a crash never
/// draws the same noise (the difference of two such models would show the difference of their means).
pub fn round_noise_seed(base: &[u8; 32], records: &[SubmissionRecord]) -> [u8; 32] {
    let mut input = base.to_vec();
    for record in records {
        input.extend_from_slice(record.worker.as_bytes());
        input.extend_from_slice(record.plaintext_sha256.as_deref().unwrap_or_default().as_bytes());
    }
    alloy::primitives::keccak256(&input).0
}

/// The commitment a manifest records to a noise seed.
pub fn noise_commitment(seed: &[u8; 32]) -> String {
    format!("{:#x}", alloy::primitives::keccak256(seed))
}

/// What a round computes from its inputs.
pub struct RoundComputation {
    /// The scorer's verdict.
    pub result: RoundResult,
    /// The scorer's state after the round.
    pub state_after: ScorerState,
    /// The encoded new checkpoint.
    pub checkpoint: Vec<u8>,
    /// Where the scoring's time went.
    pub timings: tessera_scoring::StepTimings,
    /// Under differential privacy, the updates averaged.
    pub averaged: u64,
}

/// The usable updates of a round, decoded, with the submissions they came with (by the same index).
#[derive(Debug)]
pub struct FetchedUpdates {
    /// The submissions.
    pub records: Vec<SubmissionRecord>,
    /// Their updates, `local - global`, on disk.
    pub updates: crate::update_files::UpdateFiles,
}

/// The inputs of [`compute`].
pub struct ComputeInput<'a> {
    /// The model.
    pub architecture: ArchitectureId,
    /// The round.
    pub round: u32,
    /// The checkpoint trained from, and its CID.
    pub global: &'a [f32],
    /// The global checkpoint's CID, the new checkpoint's parent.
    pub global_cid: &'a str,
    /// Usable updates.
    pub updates: &'a FetchedUpdates,
    /// Unusable ones.
    pub failures: &'a [Failure],
    /// Active workers.
    pub roster: &'a [String],
    /// The round's reward.
    pub reward: u128,
    /// The strategy.
    pub strategy: &'a StrategySpec,
    /// The scorer's settings.
    pub scoring: &'a ScoringConfig,
    /// The state carried from the last round.
    pub state_before: &'a ScorerState,
    /// Differential privacy, and the noise's (secret) seed.
    pub privacy: Option<(PrivacySpec, [u8; 32])>,
}

/// Scores and aggregates a round, and encodes the new checkpoint.
pub fn compute(
    input: &ComputeInput<'_>,
    evaluator: Option<&mut (dyn Evaluator + '_)>,
) -> eyre::Result<RoundComputation> {
    let mut scorer = Scorer::with_state(input.scoring.clone(), input.state_before.clone())?;
    let mut strategy = input.strategy.build()?;
    let submissions: Vec<Submission> = input
        .updates
        .records
        .iter()
        .map(|record| Submission {
            worker: WorkerId::new(record.worker.clone()),
            num_samples: record.num_samples,
            receipt: record.sequence,
        })
        .collect();
    let roster: Vec<WorkerId> = input.roster.iter().map(|w| WorkerId::new(w.clone())).collect();
    let scoring_input = RoundInput {
        round: u64::from(input.round),
        global: input.global,
        submissions: &submissions,
        updates: &input.updates.updates,
        failures: input.failures,
        expected: &[],
        roster: &roster,
        reward: input.reward,
    };
    let outcome = scorer.score_round(&scoring_input, strategy.as_mut(), evaluator)?;
    // Under differential privacy the step is the clipped, unweighted, noised mean of the updates the scorer kept:
    // scores, flags and rewards were measured before, on the updates as sent.
    let mut averaged = 0;
    let step = match (&outcome.aggregate, &input.privacy) {
        (Some(aggregate), Some((spec, seed))) => {
            let kept: std::collections::HashSet<&str> = aggregate.included.iter().map(WorkerId::as_str).collect();
            let included: Vec<usize> = input
                .updates
                .records
                .iter()
                .enumerate()
                .filter(|(_, r)| kept.contains(r.worker.as_str()))
                .map(|(i, _)| i)
                .collect();
            averaged = included.len() as u64;
            // Nothing kept, nothing averaged: the model stays (and no noise is drawn).
            (!included.is_empty()).then(|| private_mean(&input.updates.updates, &included, spec, *seed)).transpose()?
        }
        (Some(aggregate), None) => Some(aggregate.delta.clone()),
        (None, _) => None,
    };
    let new_global = match &step {
        Some(delta) => apply(input.global, delta),
        None => input.global.to_vec(),
    };
    let num_samples = input.updates.records.iter().map(|r| r.num_samples).sum();
    let file = WeightsFile {
        header: Header {
            architecture: input.architecture,
            kind: FileKind::Checkpoint,
            round: u64::from(input.round),
            parent_cid: input.global_cid.to_owned(),
            num_samples,
            dtype: WireDtype::F32,
        },
        parameters: Parameters::for_architecture(input.architecture, new_global)?,
    };
    Ok(RoundComputation {
        result: outcome.result,
        state_after: scorer.state().clone(),
        checkpoint: file.encode()?,
        timings: outcome.timings,
        averaged,
    })
}

/// Decodes a worker's update of `arch` and checks that its header names the round, the round's global
/// checkpoint `global_cid` as its parent, and the sample count the worker signed; the flat `local - global`
/// values. The one definition of a well-formed update, for the API (on receipt) and the engine (on
/// aggregating). An update trained from another checkpoint (an earlier round's, say) is not this round's work.
pub fn decode_update(
    arch: ArchitectureId,
    bytes: &[u8],
    round: u32,
    global_cid: &str,
    num_samples: u64,
) -> eyre::Result<Vec<f32>> {
    let file = WeightsFile::decode(bytes, &DecodeLimits::expecting(arch, FileKind::Update))?;
    eyre::ensure!(
        file.header.parent_cid == global_cid,
        "its header names parent checkpoint {:?}, but round {round} trains from {global_cid}",
        file.header.parent_cid
    );
    eyre::ensure!(
        file.header.round == u64::from(round) && file.header.num_samples == num_samples,
        "its header says round {} with {} samples, the submission round {round} with {num_samples}",
        file.header.round,
        file.header.num_samples
    );
    Ok(file.parameters.into_values())
}

/// The reward of round `round` of `num_rounds` out of `pool`: equal parts, the remainder in the last round.
pub fn round_reward(pool: u128, num_rounds: u32, round: u32) -> u128 {
    let rounds = u128::from(num_rounds.max(1));
    let share = pool / rounds;
    if round >= num_rounds { share + pool % rounds } else { share }
}

/// Cumulative earnings after a round: the last round's leaves plus this round's rewards.
pub fn cumulative_rewards(previous: &[RewardRecord], result: &RoundResult) -> eyre::Result<Vec<RewardRecord>> {
    let mut totals: BTreeMap<String, u128> = BTreeMap::new();
    for record in previous {
        totals.insert(record.worker.clone(), record.cumulative.parse()?);
    }
    for outcome in &result.workers {
        if outcome.reward > 0 {
            let total = totals.entry(outcome.worker.as_str().to_owned()).or_default();
            *total = total.checked_add(outcome.reward).ok_or_else(|| eyre::eyre!("reward overflow"))?;
        }
    }
    Ok(totals
        .into_iter()
        .map(|(worker, cumulative)| RewardRecord { worker, cumulative: cumulative.to_string() })
        .collect())
}

/// The rewards tree over the leaves.
pub fn reward_tree(task_id: u64, rewards: &[RewardRecord]) -> eyre::Result<RewardTree> {
    let entries = rewards
        .iter()
        .map(|r| Ok((r.worker.parse::<Address>()?, r.cumulative.parse::<U256>()?)))
        .collect::<eyre::Result<Vec<_>>>()?;
    Ok(RewardTree::new(U256::from(task_id), entries)?)
}

/// A scoring reason as the API, the database and the dashboard spell it.
pub fn reason_name(reason: Reason) -> tessera_api::Reason {
    match reason {
        Reason::FreeRider => tessera_api::Reason::FreeRider,
        Reason::Poisoning => tessera_api::Reason::Poisoning,
        Reason::Copy => tessera_api::Reason::Copy,
        Reason::NoShow => tessera_api::Reason::NoShow,
    }
}

/// The contract's slash reason code.
pub fn slash_reason_code(reason: Reason) -> u8 {
    let code = match reason {
        Reason::FreeRider => SlashCode::FreeRider,
        Reason::Poisoning => SlashCode::Poisoning,
        Reason::Copy => SlashCode::Copy,
        Reason::NoShow => SlashCode::NoShow,
    };
    code as u8
}

/// Slashes in tokens: each worker's basis points of its remaining stake, for workers still staked, at most `cap`
/// (the task's per-round bound, which the contract applies too), in ascending order of address as the contract
/// takes them.
pub fn slashes_in_tokens(result: &RoundResult, stakes: &BTreeMap<String, u128>, cap: u128) -> Vec<SlashRecord> {
    let mut slashes: Vec<SlashRecord> = result
        .slashes
        .iter()
        .filter_map(|slash| {
            let stake = *stakes.get(slash.worker.as_str())?;
            let amount = bps_of(stake, u128::from(slash.bps)).min(cap);
            (amount > 0).then(|| SlashRecord {
                worker: slash.worker.as_str().to_owned(),
                amount: amount.to_string(),
                reason: slash.reason,
            })
        })
        .collect();
    // Addresses are lowercase 0x-hex of one length, so their text order is their numeric order.
    slashes.sort_by(|a, b| a.worker.cmp(&b.worker));
    slashes
}

/// The most one round may slash a worker of a task: `max_slash_bps` of its required stake. Tasks indexed before
/// the bound existed carry none in their settings, and the whole stake was at risk in them.
pub fn slash_cap(stake_required: u128, config: &serde_json::Value) -> u128 {
    let bps = config["max_slash_bps"].as_u64().map_or(10_000, |bps| u128::from(bps.min(10_000)));
    bps_of(stake_required, bps)
}

/// `bps` basis points of `amount`, rounded down, without overflowing for any u128 amount.
fn bps_of(amount: u128, bps: u128) -> u128 {
    amount / 10_000 * bps + amount % 10_000 * bps / 10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A round of three updates of LeNet computed with `privacy`: the new checkpoint's values.
    fn private_round(privacy: Option<(PrivacySpec, [u8; 32])>) -> Vec<f32> {
        let arch = ArchitectureId::Lenet5MnistV1;
        let n = arch.num_parameters();
        let dir = tempfile::tempdir().unwrap();
        let mut updates = crate::update_files::UpdateFiles::new_in(dir.path()).unwrap();
        let mut records = Vec::new();
        for w in 0..3u64 {
            // Different directions, norms near 2: each is clipped to 1.
            let delta: Vec<f32> = (0..n).map(|i| (((i as u64 * (w + 3) + w * 7) % 13) as f32 - 6.0) * 1.5e-3).collect();
            updates.push(&delta).unwrap();
            records.push(SubmissionRecord {
                worker: format!("0x{w:040x}"),
                update_cid: format!("cid-{w}"),
                num_samples: 600,
                sequence: w,
                received_at_ms: 0,
                signature: String::new(),
                receipt_signature: None,
                plaintext_sha256: None,
            });
        }
        let roster: Vec<String> = records.iter().map(|r| r.worker.clone()).collect();
        let fetched = FetchedUpdates { records, updates };
        let global = vec![0.0f32; n];
        let input = ComputeInput {
            architecture: arch,
            round: 1,
            global: &global,
            global_cid: "initial",
            updates: &fetched,
            failures: &[],
            roster: &roster,
            reward: 1_000,
            strategy: &StrategySpec::default(),
            scoring: &ScoringConfig::default(),
            state_before: &ScorerState::default(),
            privacy,
        };
        let computed = compute(&input, None).unwrap();
        let limits = DecodeLimits::expecting(arch, FileKind::Checkpoint);
        WeightsFile::decode(&computed.checkpoint, &limits).unwrap().parameters.into_values()
    }

    #[test]
    fn a_private_round_recomputes_bit_for_bit_from_its_seed() {
        let spec = PrivacySpec { clip: 1.0, noise_multiplier: 1.0, delta: 1e-5 };
        let seed = [7u8; 32];
        let private = private_round(Some((spec, seed)));
        assert_eq!(private, private_round(Some((spec, seed))), "the same seed, the same bits");
        let other = private_round(Some((spec, [8u8; 32])));
        assert_ne!(private, other, "another round draws other noise");
        // The step is the clipped mean (norm at most 1) plus noise of std 1 * 1 / 3 per coordinate.
        let plain = private_round(None);
        assert_ne!(private, plain);
        let n = private.len() as f64;
        let std = (private.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / n).sqrt();
        assert!((std - 1.0 / 3.0).abs() < 0.01, "noise std {std}");
    }

    #[test]
    fn round_rewards_add_up_to_the_pool() {
        for (pool, rounds) in [(1000u128, 3u32), (7, 5), (10u128.pow(21) + 1, 10)] {
            let total: u128 = (1..=rounds).map(|r| round_reward(pool, rounds, r)).sum();
            assert_eq!(total, pool);
        }
    }

    #[test]
    fn slashes_take_basis_points_of_the_remaining_stake() {
        let result = RoundResult {
            round: 1,
            strategy: "fedavg".into(),
            reward: 0,
            unallocated: 0,
            aggregate_sha256: None,
            metrics: None,
            workers: vec![],
            flags: vec![],
            slashes: vec![
                tessera_scoring::Slash { worker: WorkerId::new("0xaa"), reason: Reason::FreeRider, bps: 5000 },
                tessera_scoring::Slash { worker: WorkerId::new("0xbb"), reason: Reason::Copy, bps: 10_000 },
                tessera_scoring::Slash { worker: WorkerId::new("0xcc"), reason: Reason::Copy, bps: 10_000 },
            ],
        };
        let stakes = BTreeMap::from([("0xaa".to_owned(), 10_001u128), ("0xbb".to_owned(), 0)]);
        let slashes = slashes_in_tokens(&result, &stakes, u128::MAX);
        assert_eq!(
            slashes,
            vec![SlashRecord { worker: "0xaa".into(), amount: "5000".into(), reason: Reason::FreeRider }]
        );
        // The task's per-round bound caps every slash, and the list comes in the contract's address order.
        let stakes = BTreeMap::from([("0xcc".to_owned(), 100u128), ("0xaa".to_owned(), 100)]);
        let capped = slashes_in_tokens(&result, &stakes, 30);
        let amounts: Vec<(&str, &str)> = capped.iter().map(|s| (s.worker.as_str(), s.amount.as_str())).collect();
        assert_eq!(amounts, [("0xaa", "30"), ("0xcc", "30")]);
        assert_eq!(slash_cap(1000, &serde_json::json!({ "max_slash_bps": 2500 })), 250);
        assert_eq!(slash_cap(1000, &serde_json::json!({})), 1000, "tasks from before the bound");
    }
}
