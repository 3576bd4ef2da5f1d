use crate::{
    ChainEvent, Error, IMarketplace, Marketplace,
    Marketplace::{MarketplaceInstance, TaskCreated},
    Result, TestToken,
};
use alloy::{
    contract::SolCallBuilder,
    network::EthereumWallet,
    primitives::{Address, B256, TxHash, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::{
        client::RpcClient,
        types::{Filter, TransactionReceipt},
    },
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::http::{Http, reqwest},
};
use futures_util::{Stream, stream};
use std::{collections::VecDeque, time::Duration};
use tessera_net::{TlsRoots, redact};

/// The longest one JSON-RPC request may take unless told otherwise: a node that hangs fails the request, which is
/// retried, instead of holding up whoever asked.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for a transaction to be mined.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A provider that signs with `private_key` and talks to `rpc_url`, filling gas, nonce and chain
/// id.
///
/// The nonce is read from the node for every transaction instead of counted locally: a call that
/// fails before it is sent (a revert found while estimating gas) must not leave a gap that stalls
/// every later transaction of the account.
pub fn connect(rpc_url: &str, private_key: &str) -> Result<DynProvider> {
    connect_with(rpc_url, private_key, &TlsRoots::platform())
}

/// As [`connect`], trusting `roots` for an https endpoint.
pub fn connect_with(rpc_url: &str, private_key: &str, roots: &TlsRoots) -> Result<DynProvider> {
    connect_with_timeout(rpc_url, private_key, roots, RPC_TIMEOUT)
}

/// As [`connect_with`], failing any request that takes longer than `timeout` (it is retried by whoever asked).
pub fn connect_with_timeout(
    rpc_url: &str,
    private_key: &str,
    roots: &TlsRoots,
    timeout: Duration,
) -> Result<DynProvider> {
    let signer = signer(private_key)?;
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_client(rpc_client(rpc_url, roots, timeout)?)
        .erased())
}

/// The signer of a hex private key.
pub(crate) fn signer(private_key: &str) -> Result<PrivateKeySigner> {
    private_key.parse().map_err(|e| Error::Invalid { what: "private key", reason: format!("{e}") })
}

/// A provider that only reads from `rpc_url`: no key, no fillers.
pub fn read_only(rpc_url: &str, roots: &TlsRoots) -> Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_client(rpc_client(rpc_url, roots, RPC_TIMEOUT)?)
        .erased())
}

/// The JSON-RPC client of `rpc_url` over HTTP(S), trusting `roots`. Credentials in the URL (`user:pass@`) are
/// sent as basic auth; they never appear in an error.
fn rpc_client(rpc_url: &str, roots: &TlsRoots, timeout: Duration) -> Result<RpcClient> {
    let invalid = |reason: String| Error::Invalid { what: "RPC URL", reason };
    let url: reqwest::Url = rpc_url.parse().map_err(|e| invalid(format!("{}: {e}", redact(rpc_url))))?;
    let http = roots
        .apply(reqwest::Client::builder())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let is_local = url.host_str().is_some_and(|host| host == "localhost" || host == "127.0.0.1" || host == "::1");
    Ok(RpcClient::new(Http::with_client(http, url), is_local))
}

/// The arguments of `finalizeRound`.
#[derive(Clone, Debug)]
pub struct FinalizeRound {
    /// The task.
    pub task_id: U256,
    /// The open round.
    pub round: u32,
    /// The aggregated checkpoint's CID digest.
    pub new_model_cid: B256,
    /// The round manifest's CID digest.
    pub manifest_cid: B256,
    /// The root of every worker's cumulative earnings.
    pub rewards_root: B256,
    /// The sum of the cumulative amounts under `rewards_root`.
    pub cumulative_rewards_total: U256,
    /// The round's slashes.
    pub slashes: Vec<IMarketplace::Slash>,
}

/// The marketplace contract, called by one account.
#[derive(Clone, Debug)]
pub struct MarketplaceClient {
    contract: MarketplaceInstance<DynProvider>,
    account: Address,
}

impl MarketplaceClient {
    /// The contract at `address`, called through `provider` by `account` (the provider's signer).
    pub fn new(provider: DynProvider, address: Address, account: Address) -> Self {
        Self { contract: Marketplace::new(address, provider), account }
    }

    /// The contract's address.
    pub fn address(&self) -> Address {
        *self.contract.address()
    }

    /// The calling account.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The provider.
    pub fn provider(&self) -> &DynProvider {
        self.contract.provider()
    }

    /// Approves the marketplace to take `amount` of `token` from the caller, for a pool or stake.
    pub async fn approve(&self, token: Address, amount: U256) -> Result<TxHash> {
        let token = TestToken::new(token, self.provider().clone());
        Ok(send(token.approve(self.address(), amount)).await?.transaction_hash)
    }

    /// Creates and funds a task (approve the pool first), returning its id.
    pub async fn create_task(&self, config: IMarketplace::TaskConfig) -> Result<(U256, TxHash)> {
        let receipt = send(self.contract.createTask(config)).await?;
        let tx = receipt.transaction_hash;
        let created = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<TaskCreated>().ok())
            .ok_or(Error::MissingEvent { tx, event: "TaskCreated" })?;
        Ok((created.inner.data.taskId, tx))
    }

    /// Joins a task, escrowing the stake (approve it first); `allowlist_proof` is empty for open tasks.
    pub async fn join(&self, task_id: U256, allowlist_proof: Vec<B256>) -> Result<TxHash> {
        Ok(send(self.contract.join(task_id, allowlist_proof)).await?.transaction_hash)
    }

    /// Leaves a task between rounds, taking back what is left of the stake.
    pub async fn leave(&self, task_id: U256) -> Result<TxHash> {
        Ok(send(self.contract.leaveTask(task_id)).await?.transaction_hash)
    }

    /// Takes back what is left of the stake after the task ended or was cancelled.
    pub async fn withdraw_stake(&self, task_id: U256) -> Result<TxHash> {
        Ok(send(self.contract.withdrawStake(task_id)).await?.transaction_hash)
    }

    /// Claims everything owed up to `cumulative_amount`, proven against the latest rewards root.
    pub async fn claim(&self, task_id: U256, cumulative_amount: U256, proof: Vec<B256>) -> Result<TxHash> {
        Ok(send(self.contract.claim(task_id, cumulative_amount, proof)).await?.transaction_hash)
    }

    /// Opens the next round from `global_model_cid` (coordinator only).
    pub async fn start_round(&self, task_id: U256, global_model_cid: B256) -> Result<TxHash> {
        Ok(send(self.contract.startRound(task_id, global_model_cid)).await?.transaction_hash)
    }

    /// Finalizes the open round (coordinator only).
    pub async fn finalize_round(&self, round: FinalizeRound) -> Result<TxHash> {
        let call = self.contract.finalizeRound(
            round.task_id,
            round.round,
            round.new_model_cid,
            round.manifest_cid,
            round.rewards_root,
            round.cumulative_rewards_total,
            round.slashes,
        );
        Ok(send(call).await?.transaction_hash)
    }

    /// Cancels a task before its first round (requester only).
    pub async fn cancel_task(&self, task_id: U256) -> Result<TxHash> {
        Ok(send(self.contract.cancelTask(task_id)).await?.transaction_hash)
    }

    /// Returns the pool no root committed, and stake slashed to the requester (requester only).
    pub async fn withdraw_unspent(&self, task_id: U256) -> Result<TxHash> {
        Ok(send(self.contract.withdrawUnspent(task_id)).await?.transaction_hash)
    }

    /// Publishes the validation set's CID digest after the task ended.
    pub async fn reveal_validation_set(&self, task_id: U256, cid: B256) -> Result<TxHash> {
        Ok(send(self.contract.revealValidationSet(task_id, cid)).await?.transaction_hash)
    }

    /// A task's stored state.
    pub async fn task(&self, task_id: U256) -> Result<IMarketplace::Task> {
        Ok(self.contract.getTask(task_id).call().await?)
    }

    /// The rest of a task's state: its slash bound, how it ends, its access policy and published content keys.
    pub async fn task_terms(&self, task_id: U256) -> Result<IMarketplace::TaskTerms> {
        Ok(self.contract.getTaskTerms(task_id).call().await?)
    }

    /// Publishes the CID digest of a confidential task's content keys after it ended (requester or coordinator).
    pub async fn publish_content_keys(&self, task_id: U256, cid: B256) -> Result<TxHash> {
        Ok(send(self.contract.publishContentKeys(task_id, cid)).await?.transaction_hash)
    }

    /// A round's stored state.
    pub async fn round(&self, task_id: U256, round: u32) -> Result<IMarketplace::Round> {
        Ok(self.contract.getRound(task_id, round).call().await?)
    }

    /// A worker's record in a task.
    pub async fn worker(&self, task_id: U256, worker: Address) -> Result<IMarketplace::WorkerInfo> {
        Ok(self.contract.getWorker(task_id, worker).call().await?)
    }

    /// The round during which `worker` left `task_id` (or before whose start it was evicted); 0 if it never did.
    pub async fn exit_round(&self, task_id: U256, worker: Address) -> Result<u32> {
        Ok(self.contract.exitRound(task_id, worker).call().await?)
    }

    /// Whether `account` is an active worker of a task.
    pub async fn is_worker(&self, task_id: U256, account: Address) -> Result<bool> {
        Ok(self.contract.isWorker(task_id, account).call().await?)
    }

    /// How many tasks exist.
    pub async fn task_count(&self) -> Result<U256> {
        Ok(self.contract.taskCount().call().await?)
    }

    /// The marketplace's events in blocks `from..=to`, in chain order.
    pub async fn events(&self, from: u64, to: u64) -> Result<Vec<ChainEvent>> {
        let filter = Filter::new().address(self.address()).from_block(from).to_block(to);
        let logs = self.provider().get_logs(&filter).await?;
        logs.iter().map(ChainEvent::decode).collect()
    }

    /// Every marketplace event from block `from` on, as blocks are mined, polling every
    /// `interval`. A failed poll yields its error and is retried at the next interval from the
    /// same block, so no event is skipped.
    pub fn event_stream(&self, from: u64, interval: Duration) -> impl Stream<Item = Result<ChainEvent>> + use<> {
        let state = (self.clone(), from, VecDeque::<ChainEvent>::new());
        stream::unfold(state, move |(client, mut next, mut ready)| async move {
            loop {
                if let Some(event) = ready.pop_front() {
                    return Some((Ok(event), (client, next, ready)));
                }
                let polled = async {
                    let latest = client.block_number().await?;
                    if latest < next {
                        return Ok(None);
                    }
                    client.events(next, latest).await.map(|events| Some((events, latest)))
                };
                match polled.await {
                    Ok(Some((events, latest))) => {
                        ready.extend(events);
                        next = latest + 1;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tokio::time::sleep(interval).await;
                        return Some((Err(error), (client, next, ready)));
                    }
                }
                if ready.is_empty() {
                    tokio::time::sleep(interval).await;
                }
            }
        })
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        Ok(self.provider().get_block_number().await?)
    }

    /// The hash of the canonical block at `number`, or `None` past the chain's head.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        let block = self.provider().get_block_by_number(number.into()).await?;
        Ok(block.map(|block| block.header.hash))
    }
}

/// Sends a call, waits for its receipt and fails on a reverted transaction.
pub(crate) async fn send<C: SolCall>(call: SolCallBuilder<&DynProvider, C>) -> Result<TransactionReceipt> {
    let pending = call.send().await?;
    let tx = *pending.tx_hash();
    let receipt = pending
        .with_timeout(Some(RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .map_err(|e| Error::Pending { tx, reason: e.to_string() })?;
    if !receipt.status() {
        return Err(Error::Failed(tx));
    }
    Ok(receipt)
}
