//! `tessera-worker join`: approve the stake, then join the task.

use super::Context;
use crate::{Error, Result, chain, data::DatasetKind, model};
use alloy::primitives::{B256, U256};
use clap::Args;
use tessera_chain::IERC20;
use tessera_storage::IpfsStore;

/// Stake in a task.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tessera-worker join --task 1
  tessera-worker join --task 1 --keystore worker1.json --rpc-url http://127.0.0.1:8545
  # A task with an allowlist takes the Merkle proof of the worker's leaf
  tessera-worker join --task 2 --allowlist-proof 0xabc…,0xdef…")]
pub struct JoinArgs {
    /// The task.
    #[arg(long)]
    task: u64,
    /// The proof of this worker's allowlist leaf, for tasks with an allowlist (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "HASH,…")]
    allowlist_proof: Vec<B256>,
    /// What this worker's data show, as `run --dataset` says: the task's model must take such images (a
    /// requester's TorchScript module is fetched from IPFS and checked) before anything is staked.
    #[arg(long, value_enum, default_value_t = DatasetKind::Mnist)]
    dataset: DatasetKind,
}

pub(super) async fn execute(context: &Context, args: &JoinArgs) -> Result<()> {
    let signer = context.signer()?;
    let me = signer.address();
    let client = context.signing_client(&signer).await?;
    let task_id = U256::from(args.task);
    let task = client.task(task_id).await?;
    if task.status == 0 {
        return Err(Error::Task(format!("task {} does not exist on marketplace {:#x}", args.task, client.address())));
    }
    if chain::task_is_over(&task) {
        let status = chain::task_status_name(task.status);
        return Err(Error::Task(format!("task {} is {status}: it takes no new workers", args.task)));
    }
    if client.is_worker(task_id, me).await? {
        println!("{me:#x} has already joined task {}; nothing to do.", args.task);
        return Ok(());
    }
    let input = args.dataset.input();
    let store = IpfsStore::new(&context.global.ipfs_api, context.ipfs_config()?)?;
    let arch = model::architecture(&store, task.modelArchitectureId, input).await?;
    model::check_takes(arch, &input, &format!("--dataset {}", args.dataset.name()))?;
    if task.allowlistRoot != B256::ZERO && args.allowlist_proof.is_empty() {
        return Err(Error::Task(format!(
            "task {} has an allowlist: pass --allowlist-proof with the proof of {me:#x}'s leaf",
            args.task
        )));
    }

    let token = chain::Token::load(&client, task.rewardToken).await;
    let stake = U256::from(task.stakeRequired);
    let erc20 = IERC20::new(task.rewardToken, client.provider().clone());
    let balance = erc20.balanceOf(me).call().await.map_err(tessera_chain::Error::from)?;
    if balance < stake {
        return Err(Error::Task(format!(
            "task {} needs a stake of {}, but {me:#x} holds {}",
            args.task,
            token.format(stake),
            token.format(balance)
        )));
    }
    let allowance = erc20.allowance(me, client.address()).call().await.map_err(tessera_chain::Error::from)?;
    if allowance < stake {
        let tx = client.approve(task.rewardToken, stake).await?;
        println!("Approved {} for the marketplace: {tx:#x}", token.format(stake));
    }
    let tx = client.join(task_id, args.allowlist_proof.clone()).await?;
    println!("Joined task {} as {me:#x}, staking {}: {tx:#x}", args.task, token.format(stake));
    Ok(())
}
