//! `deploy`: put the marketplace contract on a chain, for a requester or an operator starting a marketplace.

use crate::Config;
use alloy::{primitives::Address, providers::Provider, signers::local::PrivateKeySigner};
use clap::Args;
use eyre::{WrapErr, eyre};
use tessera_chain::{connect_with, deploy_marketplace};
use tessera_net::{TlsRoots, redact};

/// Options of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment variable holding the deploying account's private key.
    #[arg(long, default_value = "TESSERA_DEPLOYER_PRIVATE_KEY")]
    pub deployer_key_env: String,
    /// Who holds the marketplace's admin and pauser roles (default: the deploying account).
    #[arg(long)]
    pub admin: Option<Address>,
}

/// Deploys the marketplace on the configured chain and prints its address, chain and admin as JSON, ready for
/// `TESSERA_MARKETPLACE`.
pub(super) async fn execute(config: Config, args: &DeployArgs) -> eyre::Result<()> {
    let key = std::env::var(&args.deployer_key_env)
        .map_err(|_| eyre!("set {} to the deploying account's private key", args.deployer_key_env))?;
    let deployer: PrivateKeySigner = key.parse().wrap_err("the deployer key is not a private key")?;
    let admin = args.admin.unwrap_or(deployer.address());
    let roots = TlsRoots::from_setting(config.tls_ca_file.as_deref())?;
    let provider = connect_with(&config.chain_rpc_url, &key, &roots)?;
    let chain_id =
        provider.get_chain_id().await.wrap_err_with(|| format!("reaching {}", redact(&config.chain_rpc_url)))?;
    let marketplace = deploy_marketplace(&provider, admin).await.wrap_err("deploying the marketplace")?;
    tracing::info!(%marketplace, chain_id, %admin, "deployed the marketplace");
    let deployed = serde_json::json!({
        "marketplace": format!("{marketplace:#x}"),
        "chain_id": chain_id,
        "admin": format!("{admin:#x}"),
        "deployer": format!("{:#x}", deployer.address()),
    });
    println!("{deployed}");
    Ok(())
}
