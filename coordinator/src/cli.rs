//! The `tessera-coordinator` command line.

use crate::{AppState, Config, api};
use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use clap::{Args, Parser, Subcommand};
use eyre::{WrapErr, eyre};
use std::{path::PathBuf, sync::Arc};
use tessera_chain::{MarketplaceClient, connect, eip712};
use tessera_db::Store;
use tessera_storage::{ClientConfig, IpfsStore};

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
    /// Serve the HTTP API.
    ///
    /// Examples:
    ///   TESSERA_PRIVATE_KEY=0x… TESSERA_MARKETPLACE=0x… tessera-coordinator serve
    ///   tessera-coordinator --config coordinator.toml serve
    Serve(ServeArgs),
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs the command line.
pub fn run(cli: &Cli) -> eyre::Result<()> {
    let config = Config::load(cli.config.as_deref()).wrap_err("reading the settings")?;
    let runtime = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    match &cli.command {
        Command::Serve(ServeArgs {}) => runtime.block_on(serve(config)),
    }
}

async fn serve(config: Config) -> eyre::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let key = config.private_key.clone().ok_or_else(|| eyre!("TESSERA_PRIVATE_KEY is not set"))?;
    let marketplace = config.marketplace.as_deref().ok_or_else(|| eyre!("TESSERA_MARKETPLACE is not set"))?;
    let marketplace = marketplace.parse().wrap_err("TESSERA_MARKETPLACE is not an address")?;
    let signer: PrivateKeySigner = key.parse().wrap_err("TESSERA_PRIVATE_KEY is not a private key")?;
    let provider = connect(&config.chain_rpc_url, &key)?;
    let chain_id = provider.get_chain_id().await.wrap_err_with(|| format!("reaching {}", config.chain_rpc_url))?;
    let db = Store::connect(&config.database_url).await.wrap_err("opening the database")?;
    let content = IpfsStore::new(&config.ipfs_api_url, ClientConfig::default())?;
    let client = MarketplaceClient::new(provider, marketplace, signer.address());

    let state = AppState {
        db,
        content: Arc::new(content),
        membership: Arc::new(client),
        domain: Arc::new(eip712::domain(chain_id, marketplace)),
        signer: Arc::new(signer),
        config: Arc::new(config.clone()),
    };
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.wrap_err_with(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    axum::serve(listener, api::app(state)).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
