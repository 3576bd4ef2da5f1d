//! The `tessera-coordinator` command line.

use crate::{
    AppState, Config, Live, api,
    engine::{Engine, EngineSettings},
    task_draft::TaskDraft,
    validation::Validator,
    verify,
    writer::ChainWriter,
};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use clap::{Args, Parser, Subcommand};
use eyre::{WrapErr, eyre};
use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};
use tessera_chain::{MarketplaceClient, connect, eip712};
use tessera_db::Store;
use tessera_storage::{ClientConfig, ContentStore, IpfsStore};
use tessera_train::ArchitectureId;

/// The Tessera coordinator.
#[derive(Debug, Parser)]
#[command(name = "tessera-coordinator", version, about)]
pub struct Cli {
    /// A TOML file of settings; `TESSERA_*` environment variables override it.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and run the round engine for every task this coordinator is named in.
    ///
    /// Examples:
    ///   TESSERA_PRIVATE_KEY=0x… TESSERA_MARKETPLACE=0x… tessera-coordinator serve
    ///   tessera-coordinator --config coordinator.toml serve
    Serve(ServeArgs),
    /// Create a task as a requester: publish the initial model to IPFS, approve the pool, call createTask.
    ///
    /// Examples:
    ///   TESSERA_REQUESTER_PRIVATE_KEY=0x… tessera-coordinator create-task --token 0x… --reward 1000 --stake 10
    ///   tessera-coordinator create-task --token 0x… --reward 500 --rounds 10 --window-secs 120 --coordinator 0x…
    CreateTask(CreateTaskArgs),
    /// Recompute rounds from IPFS and compare them with the chain: scores, aggregate and rewards root.
    ///
    /// Examples:
    ///   tessera-coordinator verify --task 1
    ///   tessera-coordinator verify --task 1 --round 3
    Verify(VerifyArgs),
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

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
    /// Seeds the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The coordinator's address (default: the address of this coordinator's key).
    #[arg(long)]
    pub coordinator: Option<Address>,
    /// Slashed stake goes to the requester instead of back into the pool.
    #[arg(long)]
    pub slash_to_requester: bool,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The task.
    #[arg(long)]
    pub task: u64,
    /// Only this round (default: every finalized round).
    #[arg(long)]
    pub round: Option<u32>,
}

/// Runs the command line.
pub fn run(cli: &Cli) -> eyre::Result<()> {
    let config = Config::load(cli.config.as_deref()).wrap_err("reading the settings")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    match &cli.command {
        Command::Serve(ServeArgs {}) => runtime.block_on(serve(config)),
        Command::CreateTask(args) => runtime.block_on(create_task(config, args)),
        Command::Verify(args) => runtime.block_on(verify_rounds(config, args)),
    }
}

/// The coordinator's key, marketplace, chain and stores, from the settings.
struct Parts {
    signer: PrivateKeySigner,
    client: MarketplaceClient,
    chain_id: u64,
    content: Arc<IpfsStore>,
}

/// The coordinator's key, as hex: `private_key`, or the `keystore` decrypted with `TESSERA_KEYSTORE_PASSWORD`.
fn coordinator_key(config: &Config) -> eyre::Result<String> {
    key_from(config, std::env::var("TESSERA_KEYSTORE_PASSWORD").ok())
}

fn key_from(config: &Config, password: Option<String>) -> eyre::Result<String> {
    if let Some(key) = &config.private_key {
        return Ok(key.clone());
    }
    let Some(keystore) = &config.keystore else {
        eyre::bail!("set TESSERA_PRIVATE_KEY, or TESSERA_KEYSTORE with TESSERA_KEYSTORE_PASSWORD");
    };
    let password = password.ok_or_else(|| eyre!("TESSERA_KEYSTORE is set but TESSERA_KEYSTORE_PASSWORD is not"))?;
    let signer = PrivateKeySigner::decrypt_keystore(keystore, password)
        .map_err(|e| eyre!("opening the keystore {}: {e}", keystore.display()))?;
    Ok(format!("{:#x}", signer.to_bytes()))
}

async fn parts(config: &Config) -> eyre::Result<Parts> {
    let key = coordinator_key(config)?;
    let marketplace = config.marketplace.as_deref().ok_or_else(|| eyre!("TESSERA_MARKETPLACE is not set"))?;
    let marketplace: Address = marketplace.parse().wrap_err("TESSERA_MARKETPLACE is not an address")?;
    let signer: PrivateKeySigner = key.parse().wrap_err("the coordinator key is not a private key")?;
    let provider = connect(&config.chain_rpc_url, &key)?;
    let chain_id = provider.get_chain_id().await.wrap_err_with(|| format!("reaching {}", config.chain_rpc_url))?;
    let content = Arc::new(IpfsStore::new(&config.ipfs_api_url, ClientConfig::default())?);
    let client = MarketplaceClient::new(provider, marketplace, signer.address());
    Ok(Parts { signer, client, chain_id, content })
}

fn validator(config: &Config) -> eyre::Result<Option<Validator>> {
    let Some(dir) = &config.validation_dir else {
        tracing::warn!("no validation set (TESSERA_VALIDATION_DIR): rounds get no accuracy or validation signal");
        return Ok(None);
    };
    let split = match config.validation_split.as_str() {
        "train" => tessera_train::Split::Train,
        "test" => tessera_train::Split::Test,
        other => eyre::bail!("validation split {other:?} is neither train nor test"),
    };
    let validator = Validator::mnist(ArchitectureId::Lenet5MnistV1, dir, split, config.validation_samples)
        .wrap_err_with(|| format!("loading the validation set from {}", dir.display()))?;
    Ok(Some(validator))
}

async fn serve(config: Config) -> eyre::Result<()> {
    let Parts { signer, client, chain_id, content } = parts(&config).await?;
    let db = Store::connect(&config.database_url).await.wrap_err("opening the database")?;
    let live = Live::new();
    let writer = ChainWriter::new(
        db.clone(),
        client.provider().clone(),
        EthereumWallet::from(signer.clone()),
        signer.address(),
        chain_id,
    );
    let settings = EngineSettings {
        tick: Duration::from_millis(config.tick_ms.max(10)),
        min_workers: config.min_workers,
        strategy: config.strategy.clone(),
        ..EngineSettings::default()
    };
    settings.strategy.build().wrap_err("the strategy setting")?;
    let engine = Engine::new(db.clone(), content.clone(), client.clone(), writer, settings, live.clone())
        .with_validator(validator(&config)?);

    let state = AppState {
        db,
        content,
        membership: Arc::new(client.clone()),
        domain: Arc::new(eip712::domain(chain_id, client.address())),
        signer: Arc::new(signer),
        config: Arc::new(config.clone()),
        live,
    };
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.wrap_err_with(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let engine = tokio::spawn(engine.run(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    axum::serve(listener, api::app(state)).with_graceful_shutdown(shutdown()).await?;
    let _ = stop.send(true);
    engine.await?;
    Ok(())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn create_task(config: Config, args: &CreateTaskArgs) -> eyre::Result<()> {
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
    let arch: ArchitectureId =
        args.architecture.parse().map_err(|_| eyre!("unknown architecture {:?}", args.architecture))?;
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
    };
    let content = IpfsStore::new(&config.ipfs_api_url, ClientConfig::default())?;
    let initial = draft.publish_initial_model(&content).await?;
    let provider = connect(&config.chain_rpc_url, &key)?;
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
        })
    );
    Ok(())
}

async fn verify_rounds(config: Config, args: &VerifyArgs) -> eyre::Result<()> {
    let Parts { client, chain_id, content, .. } = parts(&config).await?;
    let mut validator = validator(&config)?;
    let report = verify::verify_task(
        &client,
        chain_id,
        content.as_ref() as &dyn ContentStore,
        validator.as_mut(),
        args.task,
        args.round,
    )
    .await?;
    for line in &report.lines {
        println!("{line}");
    }
    if report.mismatches > 0 {
        eyre::bail!("{} check(s) failed", report.mismatches);
    }
    println!("task {}: {} round(s) verified", args.task, report.rounds);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comes_from_a_keystore_when_no_private_key_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand::thread_rng();
        let (signer, name) = PrivateKeySigner::new_keystore(dir.path(), &mut rng, "hunter2", None).unwrap();
        let config = Config { keystore: Some(dir.path().join(name)), ..Config::default() };
        let key = key_from(&config, Some("hunter2".into())).unwrap();
        assert_eq!(key.parse::<PrivateKeySigner>().unwrap().address(), signer.address());
        assert!(key_from(&config, Some("wrong".into())).is_err());
        assert!(key_from(&config, None).is_err());
        assert!(key_from(&Config::default(), Some("hunter2".into())).is_err());
    }
}
