//! `tessera-worker claim`: claim the rewards earned so far with the coordinator's Merkle proof.

use super::Context;
use crate::{Error, Result, chain};
use alloy::primitives::U256;
use clap::Args;
use std::time::Duration;

/// Claim the rewards earned so far in a task.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tessera-worker claim --task 1

One claim pays everything earned up to the latest finalized round; claiming again later pays
what was earned since.")]
pub struct ClaimArgs {
    /// The task.
    #[arg(long)]
    task: u64,
}

pub(super) async fn execute(context: &Context, args: &ClaimArgs) -> Result<()> {
    let signer = context.signer()?;
    let me = signer.address();
    let api = context.api()?;
    let info = context.info(&api, Duration::ZERO).await?;
    let Some(proof) = api.proof(args.task, me).await? else {
        println!("Nothing to claim: the coordinator has no rewards for {me:#x} in task {} (yet).", args.task);
        return Ok(());
    };
    if proof.worker != me || proof.task_id != args.task {
        return Err(Error::Invalid(format!(
            "the coordinator sent a proof for {:#x} in task {}",
            proof.worker, proof.task_id
        )));
    }
    let client = chain::signing_client(
        &context.global.rpc_url,
        &context.roots()?,
        &signer,
        info.marketplace,
        Some(info.chain_id),
    )
    .await?;
    let task_id = U256::from(args.task);
    let task = client.task(task_id).await?;
    let token = chain::Token::load(&client, task.rewardToken).await;
    if task.rewardsRoot != proof.rewards_root {
        return Err(Error::Task(format!(
            "the coordinator's rewards of round {} are not on chain yet (root {:#x}, chain has {:#x}); try again \
             once the round is finalized",
            proof.round, proof.rewards_root, task.rewardsRoot
        )));
    }
    let claimed = U256::from(client.worker(task_id, me).await?.claimed);
    if proof.cumulative_amount.0 <= claimed {
        println!(
            "Nothing to claim: all {} earned in task {} up to round {} is already claimed.",
            token.format(proof.cumulative_amount.0),
            args.task,
            proof.round
        );
        return Ok(());
    }
    let tx = client.claim(task_id, proof.cumulative_amount.0, proof.proof.clone()).await?;
    println!(
        "Claimed {} from task {} (earned up to round {}: {}): {tx:#x}",
        token.format(proof.cumulative_amount.0 - claimed),
        args.task,
        proof.round,
        token.format(proof.cumulative_amount.0)
    );
    Ok(())
}
