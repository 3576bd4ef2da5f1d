use crate::{Marketplace, MarketplaceClient, Result, TestToken, client, connect};
use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
};

/// Deploys the marketplace with `admin` holding the admin and pauser roles.
pub async fn deploy_marketplace(provider: &DynProvider, admin: Address) -> Result<Address> {
    Ok(*Marketplace::deploy(provider, admin).await?.address())
}

/// Deploys a freely mintable ERC-20, for local networks only.
pub async fn deploy_test_token(provider: &DynProvider, name: &str, symbol: &str) -> Result<Address> {
    Ok(*TestToken::deploy(provider, name.to_owned(), symbol.to_owned()).await?.address())
}

/// Which development account plays which part in a [`Deployment`]: the one layout the demo, the end-to-end
/// tests and the coordinator's and worker's chain tests share.
pub mod roles {
    /// Deploys the contracts and holds the marketplace's admin and pauser roles.
    pub const ADMIN: usize = 0;
    /// Creates and funds tasks.
    pub const REQUESTER: usize = 1;
    /// Starts and finalizes rounds.
    pub const COORDINATOR: usize = 2;
    /// The first of the workers; every later account works too.
    pub const FIRST_WORKER: usize = 3;
}

/// The marketplace and a freely mintable reward token deployed on a local network by the admin's key: the
/// fixture every local run starts from.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The marketplace contract.
    pub marketplace: Address,
    /// The test reward token.
    pub token: Address,
    /// The admin's connection, which deployed both and may mint.
    pub admin: DynProvider,
    rpc_url: String,
}

impl Deployment {
    /// Deploys both contracts on `rpc_url` with `admin_key`, whose account gets the marketplace's roles.
    pub async fn deploy(rpc_url: &str, admin_key: &str, token_name: &str) -> Result<Self> {
        let admin = connect(rpc_url, admin_key)?;
        let token = deploy_test_token(&admin, token_name, "TST").await?;
        let marketplace = deploy_marketplace(&admin, client::signer(admin_key)?.address()).await?;
        Ok(Self { marketplace, token, admin, rpc_url: rpc_url.to_owned() })
    }

    /// Mints `amount` base units of the reward token to each of `accounts`, one mined transaction each.
    pub async fn fund(&self, accounts: impl IntoIterator<Item = Address>, amount: U256) -> Result<()> {
        let token = TestToken::new(self.token, self.admin.clone());
        for account in accounts {
            client::send(token.mint(account, amount)).await?;
        }
        Ok(())
    }

    /// A client of the marketplace that signs with `private_key`.
    pub fn client(&self, private_key: &str) -> Result<MarketplaceClient> {
        Ok(MarketplaceClient::new(
            connect(&self.rpc_url, private_key)?,
            self.marketplace,
            client::signer(private_key)?.address(),
        ))
    }
}
