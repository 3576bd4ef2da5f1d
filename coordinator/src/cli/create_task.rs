//! `create-task`: a requester publishes the initial model and creates the task on chain.

use super::coordinator_key;
use crate::{Config, task_draft::TaskDraft};
use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use clap::Args;
use eyre::{WrapErr, eyre};
use std::str::FromStr;
use tessera_chain::{MarketplaceClient, connect_with};
use tessera_net::TlsRoots;
use tessera_scoring::privacy::{PrivacySpec, noise_for_epsilon};
use tessera_seal::{ACCESS_FORMAT, AccessPolicy, ReaderId, ReaderKey};
use tessera_storage::{Cid, ContentStore, DagBuilder, IpfsStore};
use tessera_train::{ArchitectureId, InputSpec, MAX_SCRIPT_PARAMETERS, ScriptId, ScriptLimits, register_script};

/// Options of `create-task`.
#[derive(Debug, Args)]
pub struct CreateTaskArgs {
    /// The environment variable holding the requester's private key.
    #[arg(long, default_value = "TESSERA_REQUESTER_PRIVATE_KEY")]
    pub requester_key_env: String,
    /// The ERC-20 rewards are paid and stakes escrowed in.
    #[arg(long)]
    pub token: Address,
    /// The reward pool, in whole tokens.
    #[arg(long)]
    pub reward: u64,
    /// The stake each worker escrows, in whole tokens.
    #[arg(long, default_value_t = 10)]
    pub stake: u64,
    /// The token's decimals.
    #[arg(long, default_value_t = 18)]
    pub decimals: u8,
    /// Training rounds.
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Most workers at once.
    #[arg(long, default_value_t = 10)]
    pub max_workers: u32,
    /// Seconds each round accepts submissions.
    #[arg(long, default_value_t = 300)]
    pub window_secs: u32,
    /// The model architecture.
    #[arg(long, default_value = "lenet5-mnist-v1")]
    pub architecture: String,
    /// A TorchScript module (`torch.jit.save`) to train instead of a built-in architecture. It is checked
    /// against the coordinator's images and classes (its validation architecture's), published, and named on
    /// chain by its CID; its exported weights are the initial model.
    #[arg(long, conflicts_with = "architecture")]
    pub script: Option<std::path::PathBuf>,
    /// Seeds the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The coordinator's address (default: the address of this coordinator's key).
    #[arg(long)]
    pub coordinator: Option<Address>,
    /// Slashed stake goes to the requester instead of back into the pool.
    #[arg(long)]
    pub slash_to_requester: bool,
    /// The most a worker can lose in one round, in basis points of its stake (1 to 10000; 10000 is the whole
    /// stake). Fixed at creation: workers see it before they join.
    #[arg(long, default_value_t = crate::task_draft::bounds::MAX_SLASH_BPS,
        value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub max_slash_bps: u16,
    /// Make the task confidential: workers seal their updates for the coordinator (and the auditors), each
    /// round's checkpoint is sealed for the task's parties, and the final model is the requester's. The access
    /// policy is published and named on chain.
    #[arg(long)]
    pub confidential: bool,
    /// The coordinator's secp256k1 public key, 0x-hex (default: that of this coordinator's key). Its address
    /// must be the task's coordinator.
    #[arg(long, requires = "confidential")]
    pub coordinator_public_key: Option<ReaderId>,
    /// An auditor's secp256k1 public key, 0x-hex: it reads every update and checkpoint, so it can verify every
    /// round. Repeat for several.
    #[arg(long = "auditor", requires = "confidential")]
    pub auditors: Vec<ReaderId>,
    /// Publish the task's content keys when it ends, after which anyone can read and verify it.
    #[arg(long, requires = "confidential")]
    pub publish_keys: bool,
    /// Central differential privacy at this epsilon for the whole task: each update clipped to `--dp-clip`,
    /// Gaussian noise on each round's aggregate, calibrated by a Rényi-DP accountant over `--rounds` rounds.
    #[arg(long, requires = "confidential")]
    pub dp_epsilon: Option<f64>,
    /// The L2 bound each update is clipped to under `--dp-epsilon`.
    #[arg(long, default_value_t = 1.0)]
    pub dp_clip: f64,
    /// The delta of `--dp-epsilon`.
    #[arg(long, default_value_t = 1e-5)]
    pub dp_delta: f64,
}

/// Publishes the initial model, approves the pool and creates the task; prints its id as JSON.
pub(super) async fn execute(config: Config, args: &CreateTaskArgs) -> eyre::Result<()> {
    let key =
        std::env::var(&args.requester_key_env).wrap_err_with(|| format!("{} is not set", args.requester_key_env))?;
    let requester: PrivateKeySigner = key.parse().wrap_err("the requester key is not a private key")?;
    let marketplace: Address = config
        .marketplace
        .as_deref()
        .ok_or_else(|| eyre!("TESSERA_MARKETPLACE is not set"))?
        .parse()
        .wrap_err("TESSERA_MARKETPLACE is not an address")?;
    let coordinator = match args.coordinator {
        Some(address) => address,
        None => PrivateKeySigner::from_str(&coordinator_key(&config).wrap_err("give --coordinator, or")?)?.address(),
    };
    let roots = TlsRoots::from_setting(config.tls_ca_file.as_deref())?;
    let content = IpfsStore::new(&config.ipfs_api_url, config.ipfs_client(roots.clone()))?;
    let arch: ArchitectureId = match &args.script {
        Some(path) => publish_script(&content, path, config.model_input()?).await?,
        None => args.architecture.parse().map_err(|_| eyre!("unknown architecture {:?}", args.architecture))?,
    };
    let access_policy = match args.confidential {
        true => Some(publish_policy(&content, &config, args, &requester, coordinator).await?),
        false => None,
    };
    let unit = U256::from(10u64).pow(U256::from(args.decimals));
    let draft = TaskDraft {
        reward_token: args.token,
        reward_pool: U256::from(args.reward) * unit,
        stake_required: U256::from(args.stake) * unit,
        num_rounds: args.rounds,
        max_workers: args.max_workers,
        submission_window_secs: args.window_secs,
        coordinator,
        architecture: arch,
        seed: args.seed,
        slash_to_requester: args.slash_to_requester,
        max_slash_bps: args.max_slash_bps,
        access_policy,
    };
    let max_window = crate::task_draft::bounds::MAX_SUBMISSION_WINDOW_SECS;
    eyre::ensure!(draft.stake_required > U256::ZERO, "--stake must be more than zero: a free seat can be squatted");
    eyre::ensure!(
        (1..=max_window).contains(&draft.submission_window_secs),
        "--window-secs must be from 1 to {max_window}"
    );
    eyre::ensure!(
        crate::task_draft::bounds::slash_bound_bites(draft.stake_required, draft.max_slash_bps),
        "--max-slash-bps of the stake rounds to nothing: no cheat could ever be slashed"
    );
    let initial = draft.publish_initial_model(&content).await?;
    let provider = connect_with(&config.chain_rpc_url, &key, &roots)?;
    let client = MarketplaceClient::new(provider, marketplace, requester.address());
    client.approve(args.token, draft.reward_pool).await.wrap_err("approving the reward pool")?;
    let task_config = draft.config(&initial);
    let (task_id, tx) = client.create_task(task_config).await.map_err(|e| {
        let reason = e.revert_reason().map_or_else(|| e.to_string(), |reason| format!("{reason:?}"));
        eyre!("createTask failed: {reason}")
    })?;
    println!(
        "{}",
        serde_json::json!({
            "task_id": task_id.to::<u64>(),
            "initial_model_cid": initial.to_string(),
            "tx_hash": format!("{tx:#x}"),
            "coordinator": format!("{coordinator:#x}"),
            "architecture": arch.name(),
            "access_policy": access_policy.map(|cid| cid.to_string()),
        })
    );
    Ok(())
}

/// Builds, checks and publishes the task's access policy; its CID.
async fn publish_policy(
    content: &IpfsStore,
    config: &Config,
    args: &CreateTaskArgs,
    requester: &PrivateKeySigner,
    coordinator: Address,
) -> eyre::Result<Cid> {
    let coordinator_key = match args.coordinator_public_key {
        Some(key) => key,
        None => {
            let key = coordinator_key(config).wrap_err("give --coordinator-public-key, or")?;
            ReaderKey::from_str(&key)?.reader()
        }
    };
    let privacy = args
        .dp_epsilon
        .map(|epsilon| {
            eyre::ensure!(epsilon > 0.0 && epsilon.is_finite(), "--dp-epsilon must be positive");
            let noise_multiplier = noise_for_epsilon(epsilon, u64::from(args.rounds), args.dp_delta);
            Ok(PrivacySpec { clip: args.dp_clip, noise_multiplier, delta: args.dp_delta })
        })
        .transpose()?;
    let policy = AccessPolicy {
        format: ACCESS_FORMAT.into(),
        coordinator: coordinator_key,
        requester: ReaderKey::from_bytes(requester.to_bytes().as_slice())?.reader(),
        auditors: args.auditors.clone(),
        publish_keys: args.publish_keys,
        privacy,
    };
    policy.check(coordinator.0.0, requester.address().0.0)?;
    // The noise seeds go to the auditors only (anyone else holding one could take the noise back out): without an
    // auditor or a key release, nobody could ever check a private round.
    eyre::ensure!(
        policy.privacy.is_none() || !policy.auditors.is_empty() || policy.publish_keys,
        "--dp-epsilon needs an --auditor or --publish-keys: otherwise nobody can ever verify a private round"
    );
    let cid = content
        .put(bytes::Bytes::from(serde_json::to_vec_pretty(&policy)?))
        .await
        .wrap_err("publishing the access policy")?;
    Ok(cid)
}

/// Checks the module at `path` against `input` before anything is published, then publishes it; the
/// architecture it becomes is named by its CID.
async fn publish_script(content: &IpfsStore, path: &std::path::Path, input: InputSpec) -> eyre::Result<ArchitectureId> {
    let bytes = std::fs::read(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let cid = DagBuilder::cid_of(&bytes);
    let id = ScriptId(cid.to_bytes32());
    let limits = ScriptLimits { input, max_parameters: MAX_SCRIPT_PARAMETERS };
    let checked = bytes.clone();
    let arch = tokio::task::spawn_blocking(move || register_script(id, &checked, &limits))
        .await?
        .wrap_err_with(|| format!("{} does not fit this coordinator's tasks", path.display()))?;
    let published = content.put(bytes::Bytes::from(bytes)).await.wrap_err("publishing the module")?;
    eyre::ensure!(published == cid, "the IPFS node gave the module CID {published}, not {cid}");
    Ok(arch)
}
