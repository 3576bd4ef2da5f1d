//! The marketplace contract as the worker calls it: connecting, checking the chain, and showing
//! token amounts.

use crate::{Error, Result};
use alloy::{
    primitives::{Address, B256, U256, utils::format_units},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use tessera_chain::{IERC20, IMarketplace, MarketplaceClient};
use tessera_net::TlsRoots;

/// What the chain recorded of a task's rounds, as far as the worker checks it.
#[async_trait::async_trait]
pub trait RoundRecords: Send + Sync + std::fmt::Debug {
    /// The global checkpoint `startRound` recorded for `round` of `task`; zero before the round started.
    async fn global_model_cid(&self, task: u64, round: u32) -> Result<B256>;

    /// The access policy `createTask` recorded for `task` (zero for a public task); `None` when not known here.
    async fn access_policy(&self, _task: u64) -> Result<Option<B256>> {
        Ok(None)
    }
}

#[async_trait::async_trait]
impl RoundRecords for MarketplaceClient {
    async fn global_model_cid(&self, task: u64, round: u32) -> Result<B256> {
        Ok(self.round(U256::from(task), round).await?.globalModelCid)
    }

    async fn access_policy(&self, task: u64) -> Result<Option<B256>> {
        Ok(Some(self.task_terms(U256::from(task)).await?.accessPolicy))
    }
}

/// A client that sends transactions signed by `signer`, after checking the node is on `chain_id`
/// when one is expected.
pub async fn signing_client(
    rpc_url: &str,
    roots: &TlsRoots,
    signer: &PrivateKeySigner,
    marketplace: Address,
    chain_id: Option<u64>,
) -> Result<MarketplaceClient> {
    let provider = tessera_chain::connect_with(rpc_url, &format!("{:#x}", signer.to_bytes()), roots)?;
    check_chain(&provider, chain_id).await?;
    Ok(MarketplaceClient::new(provider, marketplace, signer.address()))
}

/// A client that only reads, on behalf of `account`; needs no key.
pub async fn reading_client(
    rpc_url: &str,
    roots: &TlsRoots,
    account: Address,
    marketplace: Address,
    chain_id: Option<u64>,
) -> Result<MarketplaceClient> {
    let provider = tessera_chain::read_only(rpc_url, roots)?;
    check_chain(&provider, chain_id).await?;
    Ok(MarketplaceClient::new(provider, marketplace, account))
}

async fn check_chain(provider: &DynProvider, expected: Option<u64>) -> Result<()> {
    let Some(expected) = expected else { return Ok(()) };
    let actual = provider.get_chain_id().await.map_err(tessera_chain::Error::from)?;
    if actual != expected {
        return Err(Error::Invalid(format!(
            "the RPC node is on chain {actual}, but the coordinator's marketplace is on chain {expected}: check --rpc-url"
        )));
    }
    Ok(())
}

/// A task's status on chain, by name.
pub fn task_status_name(status: u8) -> &'static str {
    match status {
        0 => "none",
        1 => "open",
        2 => "running",
        3 => "ended",
        4 => "cancelled",
        _ => "unknown",
    }
}

/// A worker's status in a task on chain, by name.
pub fn worker_status_name(status: u8) -> &'static str {
    match status {
        0 => "not joined",
        1 => "active",
        2 => "exited",
        _ => "unknown",
    }
}

/// Whether the task is past taking new workers or rounds.
pub fn task_is_over(task: &IMarketplace::Task) -> bool {
    matches!(task.status, 3 | 4)
}

/// The reward token's symbol and decimals, to show amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The ERC-20's address.
    pub address: Address,
    /// Its symbol (`?` when it has none).
    pub symbol: String,
    /// Its decimals (18 when it does not say).
    pub decimals: u8,
}

impl Token {
    /// Reads the token's symbol and decimals, falling back to `?` and 18.
    pub async fn load(client: &MarketplaceClient, address: Address) -> Self {
        let token = IERC20::new(address, client.provider().clone());
        let symbol = token.symbol().call().await.unwrap_or_else(|_| "?".into());
        let decimals = token.decimals().call().await.unwrap_or(18);
        Self { address, symbol, decimals }
    }

    /// `amount` in whole tokens with the symbol.
    pub fn format(&self, amount: U256) -> String {
        format_amount(amount, self.decimals, &self.symbol)
    }
}

/// `amount` base units as whole tokens: `1.5 TST`.
pub fn format_amount(amount: U256, decimals: u8, symbol: &str) -> String {
    let text = format_units(amount, decimals).unwrap_or_else(|_| amount.to_string());
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    format!("{text} {symbol}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_in_whole_tokens_without_trailing_zeros() {
        let ether = U256::from(10u64).pow(U256::from(18));
        assert_eq!(format_amount(ether * U256::from(3) / U256::from(2), 18, "TST"), "1.5 TST");
        assert_eq!(format_amount(ether * U256::from(100), 18, "TST"), "100 TST");
        assert_eq!(format_amount(U256::ZERO, 18, "TST"), "0 TST");
        assert_eq!(format_amount(U256::from(5), 0, "X"), "5 X");
    }

    #[test]
    fn statuses_have_names() {
        assert_eq!(task_status_name(2), "running");
        assert_eq!(worker_status_name(1), "active");
        assert_eq!(worker_status_name(9), "unknown");
    }
}
