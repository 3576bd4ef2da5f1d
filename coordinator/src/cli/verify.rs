//! `verify`: recompute finalized rounds from IPFS and compare them with the chain.

use super::{Parts, parts, validator};
use crate::Config;
use clap::Args;
use eyre::WrapErr;
use tessera_seal::ReaderKey;
use tessera_storage::ContentStore;

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The task.
    #[arg(long)]
    pub task: u64,
    /// Only this round (default: every finalized round).
    #[arg(long)]
    pub round: Option<u32>,
    /// For a confidential task: the environment variable holding the private key of a reader its access policy
    /// names (an auditor, the requester). Without it, the task's published content keys are used.
    #[arg(long)]
    pub reader_key_env: Option<String>,
}

/// Verifies the task's finalized rounds and prints a line per check; fails on any mismatch.
pub(super) async fn execute(config: Config, args: &VerifyArgs) -> eyre::Result<()> {
    let Parts { client, chain_id, content, .. } = parts(&config).await?;
    let mut validator = validator(&config)?;
    let reader = match &args.reader_key_env {
        Some(name) => {
            let key = std::env::var(name).wrap_err_with(|| format!("{name} is not set"))?;
            Some(key.parse::<ReaderKey>().wrap_err_with(|| format!("{name} is not a secp256k1 private key"))?)
        }
        None => None,
    };
    let report = crate::verify::verify_task(
        &client,
        chain_id,
        content.as_ref() as &dyn ContentStore,
        validator.as_mut(),
        config.model_lookup()?,
        args.task,
        args.round,
        reader,
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
