//! `tessera-worker withdraw`: take the stake back after the task is over, or after leaving or being evicted.

use super::Context;
use crate::{Error, Result, chain};
use alloy::primitives::U256;
use clap::Args;

/// Take back what is left of the stake once a task has ended or was cancelled, or once the round a worker left
/// during (or was evicted before) is finalized.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tessera-worker withdraw --task 1

Claim rewards separately with `tessera-worker claim --task 1`.")]
pub struct WithdrawArgs {
    /// The task.
    #[arg(long)]
    task: u64,
}

pub(super) async fn execute(context: &Context, args: &WithdrawArgs) -> Result<()> {
    let signer = context.signer()?;
    let me = signer.address();
    let client = context.signing_client(&signer).await?;
    let task_id = U256::from(args.task);
    let task = client.task(task_id).await?;
    let worker = client.worker(task_id, me).await?;
    // A worker that left (or was evicted) keeps a stake escrowed until the round it left during is finalized.
    let left_with_stake = worker.status == 2 && !worker.stake.is_zero();
    if !chain::task_is_over(&task) && !left_with_stake {
        let status = chain::task_status_name(task.status);
        return Err(Error::Task(format!(
            "task {} is {status}: the stake can be withdrawn once it has ended (or use `leave`)",
            args.task
        )));
    }
    if worker.stake.is_zero() {
        println!("{me:#x} has no stake left in task {}; nothing to withdraw.", args.task);
        return Ok(());
    }
    let token = chain::Token::load(&client, task.rewardToken).await;
    let tx = client.withdraw_stake(task_id).await?;
    println!(
        "Withdrew {} of stake from task {}: {tx:#x}",
        token.format(U256::from(worker.stake.to::<u128>())),
        args.task
    );
    Ok(())
}
