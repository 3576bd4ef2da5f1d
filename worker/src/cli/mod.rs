//! The command line: global options, one module per subcommand, and [`execute`].

mod claim;
mod join;
mod key;
mod leave;
mod run;
mod status;
mod withdraw;

use crate::{
    Error, Result,
    api::{CoordinatorClient, Info},
    chain,
    keys::{self, KeyOptions},
    pins,
};
use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use clap::{Args, Parser, Subcommand};
use std::{path::PathBuf, time::Duration};
use tessera_chain::MarketplaceClient;
use tessera_net::TlsRoots;
use tessera_storage::ClientConfig;

const EXAMPLES: &str = "\
Examples:
  # Create a key (asks for a password) and stake in task 1
  tessera-worker key new
  tessera-worker join --task 1

  # Train on shard 2 of 5 of a shared MNIST copy until the task ends
  tessera-worker run --task 1 --data ~/.cache/tessera/mnist --shard 2/5

  # Check standing, then claim rewards and take the stake back
  tessera-worker status --task 1
  tessera-worker claim --task 1
  tessera-worker withdraw --task 1

Environment:
  TESSERA_COORDINATOR_URL, TESSERA_CHAIN_RPC_URL, TESSERA_IPFS_API_URL   where the services are
  TESSERA_KEYSTORE, TESSERA_KEYSTORE_PASSWORD                            the keystore and its password
  TESSERA_PRIVATE_KEY                                                    a raw key, for tests and demos";

/// A worker of the Tessera federated-training marketplace: stake in a task, train its model on
/// local data, submit signed updates, and claim rewards.
#[derive(Debug, Parser)]
#[command(name = "tessera-worker", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the services are, which key to use, and how much to say.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The coordinator's HTTP API.
    #[arg(long, global = true, env = "TESSERA_COORDINATOR_URL", default_value = "http://127.0.0.1:8080")]
    pub coordinator: String,
    /// The chain's JSON-RPC endpoint.
    #[arg(long, global = true, env = "TESSERA_CHAIN_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// The IPFS node's RPC API (Kubo).
    #[arg(long, global = true, env = "TESSERA_IPFS_API_URL", default_value = "http://127.0.0.1:5001")]
    pub ipfs_api: String,
    /// A PEM file of certificate authorities trusted beside the platform's, for https endpoints behind a private CA.
    #[arg(long, global = true, env = "TESSERA_TLS_CA_FILE", value_name = "FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// The `Authorization` header value (`Bearer …` or `Basic …`) the IPFS API or pinning service wants.
    #[arg(long, global = true, env = "TESSERA_IPFS_AUTHORIZATION", hide_env_values = true, value_name = "VALUE")]
    pub ipfs_authorization: Option<String>,
    /// The marketplace contract; by default the coordinator's (`GET /api/v1/info`).
    #[arg(long, global = true, env = "TESSERA_MARKETPLACE", value_name = "ADDRESS")]
    pub marketplace: Option<Address>,
    /// Where the marketplace trusted on each chain is pinned at first use; default ~/.tessera/worker/pins.json.
    #[arg(long, global = true, env = "TESSERA_PINS", value_name = "FILE")]
    pub pins: Option<PathBuf>,
    /// The worker's keystore (Web3 Secret Storage JSON); default ~/.tessera/worker/keystore.json.
    #[arg(long, global = true, env = "TESSERA_KEYSTORE", value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// The environment variable holding the keystore password [default: TESSERA_KEYSTORE_PASSWORD]; without it
    /// the password is asked for at the terminal.
    #[arg(long, global = true, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read a raw hex private key from this environment variable instead of a keystore (tests and demos;
    /// TESSERA_PRIVATE_KEY is read too when no keystore is given).
    #[arg(long, global = true, value_name = "VAR")]
    pub private_key_env: Option<String>,
    /// Time limit for each request to the coordinator, in seconds.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    pub http_timeout: u64,
    /// Print only warnings and errors, and no progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print more (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, import or show the worker's key.
    #[command(subcommand, after_help = key::EXAMPLES)]
    Key(key::KeyCommand),
    /// Stake in a task: approve the reward token, then join.
    Join(join::JoinArgs),
    /// Train and submit every round of a task until it ends.
    Run(run::RunArgs),
    /// Show stake, reputation, rewards and local receipts for a task.
    Status(status::StatusArgs),
    /// Claim the rewards earned so far in a task.
    Claim(claim::ClaimArgs),
    /// Leave a task between rounds, taking back what is left of the stake.
    Leave(leave::LeaveArgs),
    /// Take back what is left of the stake once a task has ended or was cancelled.
    Withdraw(withdraw::WithdrawArgs),
}

/// The log filter the flags ask for: `warn` with `--quiet`, else `info`, `debug` or `trace`.
pub fn log_filter(global: &GlobalArgs) -> &'static str {
    match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    }
}

/// Runs the command.
pub async fn execute(cli: Cli) -> Result<()> {
    let context = Context { global: cli.global };
    match cli.command {
        Command::Key(command) => key::execute(&context, command),
        Command::Join(args) => join::execute(&context, &args).await,
        Command::Run(args) => run::execute(&context, args).await,
        Command::Status(args) => status::execute(&context, &args).await,
        Command::Claim(args) => claim::execute(&context, &args).await,
        Command::Leave(args) => leave::execute(&context, &args).await,
        Command::Withdraw(args) => withdraw::execute(&context, &args).await,
    }
}

/// The global options, and the clients they lead to.
#[derive(Debug)]
struct Context {
    global: GlobalArgs,
}

impl Context {
    fn key_options(&self) -> KeyOptions {
        KeyOptions {
            keystore: self.global.keystore.clone(),
            private_key_env: self.global.private_key_env.clone(),
            password_env: self.global.password_env.clone(),
        }
    }

    fn signer(&self) -> Result<PrivateKeySigner> {
        keys::load(&self.key_options())
    }

    /// The certificate authorities https endpoints are checked against.
    fn roots(&self) -> Result<TlsRoots> {
        TlsRoots::from_setting(self.global.tls_ca_file.as_deref()).map_err(|e| Error::Invalid(e.to_string()))
    }

    fn api(&self) -> Result<CoordinatorClient> {
        let timeout = Duration::from_secs(self.global.http_timeout.max(1));
        CoordinatorClient::with_roots(&self.global.coordinator, timeout, &self.roots()?)
    }

    /// The IPFS API's client settings: its credentials and the trusted roots.
    fn ipfs_config(&self) -> Result<ClientConfig> {
        Ok(ClientConfig {
            authorization: self.global.ipfs_authorization.clone(),
            roots: self.roots()?,
            ..ClientConfig::default()
        })
    }

    /// A client that only reads the chain, on behalf of `account`.
    async fn reading_client(
        &self,
        account: Address,
        marketplace: Address,
        chain_id: Option<u64>,
    ) -> Result<MarketplaceClient> {
        chain::reading_client(&self.global.rpc_url, &self.roots()?, account, marketplace, chain_id).await
    }

    /// The coordinator's chain and marketplace, checked against `--marketplace` when given. While
    /// the coordinator cannot be reached, asks again for up to `wait`.
    async fn info(&self, api: &CoordinatorClient, wait: Duration) -> Result<Info> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(500);
        let info = loop {
            match api.info().await {
                Ok(info) => break info,
                Err(error) if error.is_transient() && tokio::time::Instant::now() + pause < deadline => {
                    tracing::warn!("{}; asking again in {pause:?}", error.report());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                Err(error) => return Err(error),
            }
        };
        match self.global.marketplace {
            Some(marketplace) if marketplace != info.marketplace => {
                return Err(Error::Invalid(format!(
                    "--marketplace is {marketplace:#x}, but the coordinator at {} serves {:#x}",
                    api.base_url(),
                    info.marketplace
                )));
            }
            Some(_) => {}
            None => self.pinned(api, &info)?,
        }
        Ok(info)
    }

    /// Checks the marketplace a coordinator named against the one pinned for its chain, pinning it at first use.
    fn pinned(&self, api: &CoordinatorClient, info: &Info) -> Result<()> {
        let path = self.global.pins.clone().or_else(pins::default_path).ok_or_else(|| {
            Error::Invalid("no home folder to keep the pinned marketplace in: pass --pins or --marketplace".into())
        })?;
        if pins::check(&path, info.chain_id, info.marketplace, api.base_url())? == pins::Pinned::New {
            tracing::info!(
                chain = info.chain_id,
                marketplace = %info.marketplace,
                pins = %path.display(),
                "trusting this marketplace from now on"
            );
        }
        Ok(())
    }

    /// The marketplace and chain id: from `--marketplace` alone when given (the coordinator need
    /// not be up for chain calls), else from the coordinator.
    async fn marketplace(&self) -> Result<(Address, Option<u64>)> {
        if let Some(marketplace) = self.global.marketplace {
            return Ok((marketplace, None));
        }
        let api = self.api()?;
        let info = api.info().await.map_err(|e| {
            Error::Invalid(format!("{} (pass --marketplace to reach the contract without it)", e.report()))
        })?;
        self.pinned(&api, &info)?;
        Ok((info.marketplace, Some(info.chain_id)))
    }

    /// A client sending transactions signed by `signer`.
    async fn signing_client(&self, signer: &PrivateKeySigner) -> Result<MarketplaceClient> {
        let (marketplace, chain_id) = self.marketplace().await?;
        chain::signing_client(&self.global.rpc_url, &self.roots()?, signer, marketplace, chain_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from(["tessera-worker", "-q", "status", "--task", "3", "--coordinator", "http://c:1"])
            .unwrap();
        assert!(cli.global.quiet);
        assert_eq!(cli.global.coordinator, "http://c:1");
        assert_eq!(log_filter(&cli.global), "warn");
        assert!(matches!(cli.command, Command::Status(_)));
    }

    #[test]
    fn every_subcommand_has_help_with_examples() {
        let mut command = Cli::command();
        for sub in command.get_subcommands_mut() {
            let help = sub.render_long_help().to_string();
            assert!(help.contains("Examples:"), "`{}` has no examples:\n{help}", sub.get_name());
        }
    }
}
