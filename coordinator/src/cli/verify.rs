//! `verify`: recompute finalized rounds from IPFS and compare them with the chain.

use super::{Parts, parts, validator};
use crate::Config;
use clap::Args;
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
}

/// Verifies the task's finalized rounds and prints a line per check; fails on any mismatch.
pub(super) async fn execute(config: Config, args: &VerifyArgs) -> eyre::Result<()> {
    let Parts { client, chain_id, content, .. } = parts(&config).await?;
    let mut validator = validator(&config)?;
    let report = crate::verify::verify_task(
        &client,
        chain_id,
        content.as_ref() as &dyn ContentStore,
        validator.as_mut(),
        config.model_lookup()?,
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
