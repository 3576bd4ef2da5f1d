//! `tessera-worker leave`: leave a task, between rounds or during one.

use super::Context;
use crate::{Error, Result, chain};
use alloy::primitives::U256;
use clap::Args;

/// Leave a task, between rounds or during one.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tessera-worker leave --task 1

Between rounds, what is left of the stake comes back at once. During a round, leaving is notice: the worker is out
of every later round at once, its stake stays escrowed (and can still be slashed, up to the task's per-round bound)
until that round is finalized, and then `tessera-worker withdraw --task 1` takes it back.")]
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
    let token = chain::Token::load(&client, task.rewardToken).await;
    let tx = client.leave(task_id).await?;
    let stake = token.format(U256::from(worker.stake.to::<u128>()));
    if task.roundOpen {
        println!(
            "Left task {} during round {}: {stake} of stake stays escrowed until the round is finalized, then \
             `tessera-worker withdraw --task {}` takes it back: {tx:#x}",
            args.task, task.currentRound, args.task
        );
    } else {
        println!("Left task {}; {stake} of stake returned: {tx:#x}", args.task);
    }
    Ok(())
}
