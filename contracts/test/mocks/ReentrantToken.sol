// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice ERC-20 that, once armed, calls `target` with prepared calldata from inside its next transfer or
/// transferFrom (after the balances moved), i.e. it tries to re-enter the contract that moves the tokens.
/// The outcome of the re-entrant call is recorded, not bubbled up, so tests can assert on it.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;

    bool public reentered;
    bool public reentrySucceeded;
    bytes public reentryReturnData;

    constructor() ERC20("Reentrant Token", "REENTER") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Re-enter `target_` with `payload_` during the next transfer.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from != address(0) && to != address(0)) {
            armed = false;
            reentered = true;
            (reentrySucceeded, reentryReturnData) = target.call(payload);
        }
    }
}
