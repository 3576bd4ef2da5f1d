//! The chain writer: drains the transaction outbox in order, one nonce per transaction.
//!
//! A transaction is signed here, its nonce and hash are recorded, and only then is it broadcast; so after a
//! crash every hash that may be on the network is in the database. Reconciling a sent transaction looks up its
//! receipt; one that is unknown to the node is re-signed with the same nonce and sent again, one that waits too
//! long is re-sent with higher fees, and one whose nonce went to another transaction is marked replaced (the
//! engine then checks the chain's state). A nonce is never given to two intents, so nothing is sent twice.

use crate::fault;
use alloy::{
    eips::eip2718::Encodable2718,
    network::{Ethereum, EthereumWallet, NetworkWallet, TransactionBuilder},
    primitives::{Address, Bytes, TxHash},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    transports::RpcError,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tessera_db::{ChainTx, NewChainTx, Store};

/// The fees offered after `bumps` fee bumps (a quarter more each), never above `cap`: (max fee, priority fee).
fn fees(max_fee: u128, priority: u128, bumps: u32, cap: Option<u128>) -> (u128, u128) {
    let bump = |fee: u128| (0..bumps.min(20)).fold(fee, |fee, _| fee.saturating_add(fee / 4 + 1));
    let (max_fee, priority) = (bump(max_fee), bump(priority));
    let Some(cap) = cap else { return (max_fee, priority) };
    (max_fee.min(cap), priority.min(cap))
}

/// Whether a JSON-RPC error says the call itself reverts, rather than that the node could not run it now: code 3
/// (a revert with data) or an "execution reverted" message. Everything else (rate limits such as -32005 or 429,
/// internal errors, a lagging node) is tried again.
fn reverts(code: i64, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == 3 || message.contains("revert") || message.contains("invalid opcode")
}

/// Whether a JSON-RPC error says the sending account cannot pay for the gas.
fn short_of_gas_money(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("insufficient funds") || message.contains("insufficient balance")
}

/// A contract call, as the outbox stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The contract.
    pub to: Address,
    /// The ABI-encoded call.
    pub data: Bytes,
}

impl Call {
    /// An outbox row for this call.
    pub fn into_outbox(self, key: String, kind: &str, task_id: u64, round: u32) -> eyre::Result<NewChainTx> {
        Ok(NewChainTx {
            idempotency_key: key,
            kind: kind.to_owned(),
            task_id: Some(task_id),
            round: Some(round),
            payload: serde_json::to_value(self)?,
        })
    }
}

/// Signs and sends the outbox's transactions from one account.
#[derive(Clone, Debug)]
pub struct ChainWriter {
    db: Store,
    provider: DynProvider,
    wallet: EthereumWallet,
    account: Address,
    chain_id: u64,
    resend_after: Duration,
    confirmations: u64,
    max_fee_per_gas: Option<u128>,
}

impl ChainWriter {
    /// A writer for `account`, whose key is in `wallet`.
    pub fn new(db: Store, provider: DynProvider, wallet: EthereumWallet, account: Address, chain_id: u64) -> Self {
        Self {
            db,
            provider,
            wallet,
            account,
            chain_id,
            resend_after: Duration::from_secs(60),
            confirmations: 0,
            max_fee_per_gas: None,
        }
    }

    /// The chain it signs for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// How long a sent transaction may wait before it is re-sent with higher fees.
    pub fn with_resend_after(mut self, resend_after: Duration) -> Self {
        self.resend_after = resend_after;
        self
    }

    /// Reconciles every sent transaction, then sends every pending one and looks at once for their receipts (a
    /// chain that mines on arrival has them already, and the engine need not wait a tick to learn it); returns
    /// how many transactions were sent or settled (mined or failed), so the engine knows whether anything moved.
    pub async fn drive(&self) -> eyre::Result<u32> {
        let mut moved = 0;
        for tx in self.db.list_in_flight().await? {
            moved += u32::from(self.reconcile(&tx).await?);
        }
        let mut sent = Vec::new();
        while let Some(tx) = self.db.next_unsent().await? {
            if !self.send_new(&tx).await? {
                break;
            }
            sent.push(tx.id);
        }
        if !sent.is_empty() {
            // Only what this pass sent: the others were looked at above.
            for tx in self.db.list_in_flight().await?.into_iter().filter(|tx| sent.contains(&tx.id)) {
                if let Some(hash) = tx.tx_hash.as_deref() {
                    moved += u32::from(self.settle(&tx, hash.parse()?).await? == Settled::Done);
                }
            }
        }
        Ok(moved + u32::try_from(sent.len()).unwrap_or(u32::MAX))
    }

    /// Signs a pending transaction with the next nonce and broadcasts it. `Ok(false)` when it could not be
    /// sent now (a transient error, recorded on the row).
    #[tracing::instrument(name = "outbox", skip_all, fields(id = tx.id, kind = %tx.kind, task = tx.task_id, round = tx.round))]
    async fn send_new(&self, tx: &ChainTx) -> eyre::Result<bool> {
        let request = self.request(tx)?;
        let gas = match self.provider.estimate_gas(request.clone()).await {
            Ok(gas) => gas,
            Err(RpcError::ErrorResp(payload)) if reverts(payload.code, &payload.message) => {
                // The node ran the call and it reverts: sending it would only burn gas.
                self.db.mark_failed(tx.id, &format!("the call reverts: {payload}")).await?;
                tracing::warn!(error = %payload, "outbox transaction reverts; not sent");
                return Ok(true);
            }
            Err(RpcError::ErrorResp(payload)) if short_of_gas_money(&payload.message) => {
                let error = eyre::eyre!("the coordinator's account {:#x} cannot pay for gas: {payload}", self.account);
                return self.transient(tx, error).await;
            }
            // A rate limit, a lagging or overloaded node, a timeout: the call did not run. Try again later.
            Err(error) => return self.transient(tx, error).await,
        };
        let nonce = match self.next_nonce().await {
            Ok(nonce) => nonce,
            Err(error) => return self.transient(tx, error).await,
        };
        let (hash, raw) = match self.sign(request, nonce, gas, 0).await {
            Ok(signed) => signed,
            Err(error) => return self.transient(tx, error).await,
        };
        if !self.db.mark_sent(tx.id, nonce, &format!("{hash:#x}")).await? {
            return Ok(true);
        }
        self.broadcast(tx, hash, &raw).await;
        Ok(true)
    }

    /// Brings a sent transaction's row up to date with the chain; whether it settled (mined, failed or replaced).
    #[tracing::instrument(name = "outbox", skip_all, fields(id = tx.id, kind = %tx.kind, task = tx.task_id, round = tx.round))]
    async fn reconcile(&self, tx: &ChainTx) -> eyre::Result<bool> {
        let (Some(hash), Some(nonce)) = (tx.tx_hash.as_deref(), tx.nonce) else {
            return Ok(false);
        };
        let hash: TxHash = hash.parse()?;
        match self.settle(tx, hash).await? {
            Settled::Done => return Ok(true),
            Settled::Confirming => return Ok(false),
            Settled::NoReceipt => {}
        }
        let mined_nonce = self.provider.get_transaction_count(self.account).latest().await?;
        if mined_nonce > nonce {
            // Mined between the two look-ups, or its nonce went to another signing of it (a fee bump whose
            // predecessor won): look once more, then give it up to the engine's chain check.
            return Ok(match self.settle(tx, hash).await? {
                Settled::NoReceipt => {
                    self.db.mark_replaced(tx.id, &format!("nonce {nonce} was used by another transaction")).await?;
                    true
                }
                Settled::Confirming => false,
                Settled::Done => true,
            });
        }
        let known = self.provider.get_transaction_by_hash(hash).await?.is_some();
        let waited = Duration::from_millis(u64::try_from(crate::now_ms() - tx.updated_at_ms).unwrap_or_default());
        if known && waited < self.resend_after {
            return Ok(false);
        }
        // Never broadcast (a crash after recording it) or stuck: sign again with the same nonce.
        let request = self.request(tx)?;
        let gas = match self.provider.estimate_gas(request.clone()).await {
            Ok(gas) => gas,
            // It no longer runs (most likely another copy is about to be mined), or the node is struggling: leave it
            // to the next look either way.
            Err(RpcError::ErrorResp(payload)) => {
                self.db.record_tx_error(tx.id, &format!("re-estimating: {payload}")).await?;
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        };
        let bump = if known { tx.attempts } else { 0 };
        let (new_hash, raw) = self.sign(request, nonce, gas, bump).await?;
        if self.db.mark_resent(tx.id, nonce, &format!("{new_hash:#x}")).await? {
            tracing::info!(nonce, %new_hash, known, "re-sending outbox transaction");
            self.broadcast(tx, new_hash, &raw).await;
        }
        Ok(false)
    }

    /// Never offers more than `cap` wei per gas, however often a stuck transaction is bumped: a spike waits instead
    /// of emptying the coordinator's account.
    pub fn with_max_fee_per_gas(mut self, cap: Option<u128>) -> Self {
        self.max_fee_per_gas = cap;
        self
    }

    /// Counts a transaction done only once `confirmations` blocks are on top of its block: until then it stays
    /// sent, and if a reorganisation takes its block away, reconciling finds it gone and sends it again with the
    /// same nonce.
    pub fn with_confirmations(mut self, confirmations: u64) -> Self {
        self.confirmations = confirmations;
        self
    }

    /// Marks the transaction mined or failed if `hash` has a receipt with enough blocks on top.
    async fn settle(&self, tx: &ChainTx, hash: TxHash) -> eyre::Result<Settled> {
        let Some(receipt) = self.provider.get_transaction_receipt(hash).await? else {
            return Ok(Settled::NoReceipt);
        };
        let block = receipt.block_number.unwrap_or_default();
        if self.confirmations > 0 && self.provider.get_block_number().await? < block + self.confirmations {
            tracing::debug!(%hash, block, confirmations = self.confirmations, "waiting for confirmations");
            return Ok(Settled::Confirming);
        }
        if receipt.status() {
            self.db.mark_mined(tx.id, block).await?;
            tracing::info!(%hash, block, "outbox transaction mined");
        } else {
            self.db.mark_failed(tx.id, &format!("reverted in block {block}")).await?;
            tracing::warn!(%hash, block, "outbox transaction reverted");
        }
        Ok(Settled::Done)
    }

    /// The unsigned transaction of an outbox row's call, from this account.
    fn request(&self, tx: &ChainTx) -> eyre::Result<TransactionRequest> {
        let call: Call = serde_json::from_value(tx.payload.clone())?;
        Ok(TransactionRequest::default().with_from(self.account).with_to(call.to).with_input(call.data))
    }

    /// The nonce for a new transaction: after everything the node has seen and everything we have sent.
    async fn next_nonce(&self) -> eyre::Result<u64> {
        let pending = self.provider.get_transaction_count(self.account).pending().await?;
        let ours = self.db.list_in_flight().await?.iter().filter_map(|tx| tx.nonce).max().map_or(0, |n| n + 1);
        Ok(pending.max(ours))
    }

    /// Signs a transaction; each fee bump adds a quarter to the fees (nodes accept a replacement from +10%).
    async fn sign(
        &self,
        request: TransactionRequest,
        nonce: u64,
        gas: u64,
        bumps: u32,
    ) -> eyre::Result<(TxHash, Vec<u8>)> {
        let estimate = self.provider.estimate_eip1559_fees().await?;
        let (max_fee, priority) =
            fees(estimate.max_fee_per_gas, estimate.max_priority_fee_per_gas, bumps, self.max_fee_per_gas);
        if Some(max_fee) == self.max_fee_per_gas && max_fee < estimate.max_fee_per_gas {
            tracing::warn!(cap = max_fee, network = estimate.max_fee_per_gas, "the network asks more than the fee cap");
        }
        let request = request
            .with_nonce(nonce)
            .with_chain_id(self.chain_id)
            .with_gas_limit(gas + gas / 4)
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(priority);
        let envelope = <EthereumWallet as NetworkWallet<Ethereum>>::sign_request(&self.wallet, request).await?;
        Ok((*envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// Broadcasts a signed transaction whose hash is recorded. Errors are only logged: reconciling finds out
    /// whether the node has it.
    async fn broadcast(&self, tx: &ChainTx, hash: TxHash, raw: &[u8]) {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => tracing::info!(%hash, "outbox transaction sent"),
            Err(error) => {
                tracing::warn!(%hash, %error, "broadcast failed; will reconcile")
            }
        }
        if tx.kind == "finalize_round" {
            fault::crash_point("after-finalize-sent");
        }
    }

    async fn transient(&self, tx: &ChainTx, error: impl Into<eyre::Report>) -> eyre::Result<bool> {
        let error = tessera_net::redact_urls(&format!("{:#}", error.into()));
        self.db.record_tx_error(tx.id, &error).await?;
        tracing::warn!(%error, "outbox transaction not sent yet");
        Ok(false)
    }
}

/// Where a sent transaction stands after one look at its receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    /// The node has no receipt for it (yet).
    NoReceipt,
    /// Mined, with fewer blocks on top than the confirmations asked for.
    Confirming,
    /// Marked mined or failed.
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_revert_fails_a_transaction_for_good() {
        assert!(reverts(3, "execution reverted: MarketplaceRoundNotOpen()"));
        assert!(reverts(-32000, "execution reverted"));
        assert!(reverts(-32003, "Transaction reverted without a reason"));
        for (code, message) in [
            (-32005, "rate limit exceeded"),
            (-32005, "daily request count exceeded, request rate limited"),
            (-32603, "internal error"),
            (-32000, "header not found"),
            (429, "Too Many Requests"),
        ] {
            assert!(!reverts(code, message), "{code} {message}");
        }
        assert!(short_of_gas_money("insufficient funds for gas * price + value"));
    }

    #[test]
    fn fee_bumps_add_a_quarter_each_and_stop_at_the_cap() {
        assert_eq!(fees(100, 10, 0, None), (100, 10));
        assert_eq!(fees(100, 10, 2, None), (158, 17));
        assert_eq!(fees(100, 10, 2, Some(120)), (120, 17), "the cap holds the max fee");
        assert_eq!(fees(100, 10, 20, Some(50)), (50, 50), "and the priority fee, which may not exceed it");
        assert_eq!(fees(u128::MAX, 1, 3, None).0, u128::MAX, "no overflow");
        assert!(!short_of_gas_money("nonce too low"));
    }
}
