use crate::{Marketplace, Result, TestToken};
use alloy::{primitives::Address, providers::DynProvider};

/// Deploys the marketplace with `admin` holding the admin and pauser roles.
pub async fn deploy_marketplace(provider: &DynProvider, admin: Address) -> Result<Address> {
    Ok(*Marketplace::deploy(provider, admin).await?.address())
}

/// Deploys a freely mintable ERC-20, for local networks only.
pub async fn deploy_test_token(provider: &DynProvider, name: &str, symbol: &str) -> Result<Address> {
    Ok(*TestToken::deploy(provider, name.to_owned(), symbol.to_owned()).await?.address())
}
