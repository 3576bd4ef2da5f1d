//! The `tessera-coordinator` command line: global options, one module per subcommand, and [`run`].

mod check_model;
mod create_task;
mod deploy;
mod serve;
mod verify;

pub use check_model::CheckModelArgs;
pub use create_task::CreateTaskArgs;
pub use deploy::DeployArgs;
pub use serve::ServeArgs;
pub use verify::VerifyArgs;

use crate::{Config, validation::Validator};
use alloy::{primitives::Address, providers::Provider, signers::local::PrivateKeySigner};
use clap::{Parser, Subcommand};
use eyre::{WrapErr, eyre};
use std::{path::PathBuf, sync::Arc};
use tessera_chain::{MarketplaceClient, connect_with_timeout};
use tessera_net::{TlsRoots, redact};
use tessera_storage::IpfsStore;

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
    #[command(verbatim_doc_comment, after_help = Config::help())]
    Serve(ServeArgs),
    /// Create a task as a requester: publish the initial model to IPFS, approve the pool, call createTask.
    ///
    /// Examples:
    ///   TESSERA_REQUESTER_PRIVATE_KEY=0x… tessera-coordinator create-task --token 0x… --reward 1000 --stake 10
    ///   tessera-coordinator create-task --token 0x… --reward 500 --rounds 10 --window-secs 120 --coordinator 0x…
    #[command(verbatim_doc_comment)]
    CreateTask(Box<CreateTaskArgs>),
    /// Recompute rounds from IPFS and compare them with the chain: scores, aggregate and rewards root.
    ///
    /// Examples:
    ///   tessera-coordinator verify --task 1
    ///   tessera-coordinator verify --task 1 --round 3
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Deploy the marketplace contract on the configured chain; prints its address for TESSERA_MARKETPLACE.
    ///
    /// Examples:
    ///   TESSERA_DEPLOYER_PRIVATE_KEY=0x… TESSERA_CHAIN_RPC_URL=https://… tessera-coordinator deploy
    ///   tessera-coordinator --config coordinator.toml deploy --admin 0x…
    #[command(verbatim_doc_comment)]
    Deploy(DeployArgs),
    /// Check a requester's TorchScript module against a task's images, classes and size limit; prints its
    /// parameters, or the reason it does not fit (not a module, wrong output, running statistics, too large).
    ///
    /// Examples:
    ///   tessera-coordinator check-model model.pt
    ///   tessera-coordinator check-model model.pt --like resnet18-cifar-v1 --max-parameters 12000000
    #[command(verbatim_doc_comment)]
    CheckModel(CheckModelArgs),
    /// Print the settings in effect (defaults, then the file, then the environment), secrets redacted.
    Config,
    /// Print the HTTP API's OpenAPI 3.1 document, as `serve` answers at `/api/v1/openapi.json`.
    Openapi,
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
        Command::Serve(ServeArgs {}) => runtime.block_on(serve::execute(config)),
        Command::CreateTask(args) => runtime.block_on(create_task::execute(config, args)),
        Command::Verify(args) => runtime.block_on(verify::execute(config, args)),
        Command::Deploy(args) => runtime.block_on(deploy::execute(config, args)),
        Command::CheckModel(args) => check_model::execute(args),
        Command::Config => {
            for line in config.lines() {
                println!("{:<22} {:<30} {}", line.key, line.env, line.value);
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi().to_pretty_json()?);
            Ok(())
        }
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
    let roots = TlsRoots::from_setting(config.tls_ca_file.as_deref())?;
    let timeout = std::time::Duration::from_secs(config.rpc_timeout_secs.max(1));
    let provider = connect_with_timeout(&config.chain_rpc_url, &key, &roots, timeout)?;
    let chain_id =
        provider.get_chain_id().await.wrap_err_with(|| format!("reaching {}", redact(&config.chain_rpc_url)))?;
    let content = Arc::new(IpfsStore::new(&config.ipfs_api_url, config.ipfs_client(roots))?);
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
    let validator = Validator::load(config.validation_arch()?, dir, split, config.validation_samples)
        .wrap_err_with(|| format!("loading the validation set from {}", dir.display()))?;
    Ok(Some(validator))
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
