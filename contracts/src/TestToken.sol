// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken — freely mintable ERC-20 for local networks and tests
/// @notice WARNING: for local development networks (anvil) and tests ONLY. Anyone can mint any amount to anyone;
/// never deploy it to a public network or use it as a real reward token.
contract TestToken is ERC20 {
    /// @notice Deploys the token with 18 decimals.
    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {}

    /// @notice Mints `amount` tokens to `to`. Unrestricted: anyone may call it.
    /// @param to Recipient.
    /// @param amount Amount in the smallest unit.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
