//! `tessera-worker leave`: leave a task between rounds.

use super::Context;
use crate::{Error, Result, chain};
use alloy::primitives::U256;
use clap::Args;

/// Leave a task between rounds.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tessera-worker leave --task 1

A worker can leave only while no round is open; what is left of its stake comes back at once.")]
pub struct LeaveArgs {
    /// The task.
    #[arg(long)]
    task: u64,
}

pub(super) async fn execute(context: &Context, args: &LeaveArgs) -> Result<()> {
    let signer = context.signer()?;
    let me = signer.address();
    let client = context.signing_client(&signer).await?;
    let task_id = U256::from(args.task);
    let worker = client.worker(task_id, me).await?;
    if worker.status != 1 {
        let status = chain::worker_status_name(worker.status);
        return Err(Error::Task(format!("{me:#x} is {status} in task {}: nothing to leave", args.task)));
    }
    let task = client.task(task_id).await?;
    if task.roundOpen {
        return Err(Error::Task(format!(
            "round {} of task {} is open: leave after it is finalized",
            task.currentRound, args.task
        )));
    }
    let token = chain::Token::load(&client, task.rewardToken).await;
    let tx = client.leave(task_id).await?;
    println!(
        "Left task {}; {} of stake returned: {tx:#x}",
        args.task,
        token.format(U256::from(worker.stake.to::<u128>()))
    );
    Ok(())
}
