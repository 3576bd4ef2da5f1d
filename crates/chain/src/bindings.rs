//! Contract bindings generated from the committed forge artifacts.
#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Marketplace,
    "abi/Marketplace.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TestToken,
    "abi/TestToken.json"
);

alloy::sol!(
    /// The ERC-20 calls Tessera makes on a task's reward token, with the optional metadata (`symbol`,
    /// `decimals`), which a token may lack. Any ERC-20 can be a reward token; `TestToken` is only the demo's.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface IERC20 {
        function balanceOf(address account) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 value) external returns (bool);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
    }
);

/// `IMarketplace.WorkerStatus`, as the ABI encodes it (`uint8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WorkerMembership {
    /// Never joined.
    None = 0,
    /// Joined, stake escrowed.
    Active = 1,
    /// Left, or took its stake back.
    Exited = 2,
}

/// `IMarketplace.SlashReason`, as the ABI encodes it (`uint8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SlashCode {
    /// Sent nothing useful.
    FreeRider = 0,
    /// Worked against the model.
    Poisoning = 1,
    /// Sent a copy.
    Copy = 2,
    /// Sent nothing when due.
    NoShow = 3,
    /// Any other reason.
    Other = 4,
}
