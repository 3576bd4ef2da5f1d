// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test, console2} from "forge-std/Test.sol";

/// @notice Measures one external call the way a fresh transaction pays for it.
/// @dev Forge runs setUp() and each test function as separate transactions, so when a test function's FIRST
/// interaction with the contracts under test is the measured call, every account and storage slot it touches
/// is cold and every SSTORE sees the committed original value, exactly as in a new transaction. (vm.cool is
/// not used: in this forge version it re-colds storage slots but not the account itself, which understates
/// the first CALL into the token by 2,500 gas.)
///
/// The number recorded is `vm.lastCallGas().gasTotalUsed`: the gas the callee's execution used (all opcodes,
/// cold accesses, memory, logs, nested calls such as the ERC-20 transfer), WITHOUT the 21,000 intrinsic
/// base, WITHOUT the calldata cost, WITHOUT the test contract's own CALL overhead, and before the
/// end-of-transaction refund. The calldata cost (EIP-2028: 16 gas per non-zero byte, 4 per zero byte) is
/// computed separately, so `21000 + calldataGas + executionGas` is the transaction's gasUsed (cancun, no
/// access list, no refund). Values go to `snapshots/<TestContract>.json` (vm.snapshotValue) and to the log.
abstract contract GasMeter is Test {
    /// @return execution Gas used by the callee (see contract doc).
    function _measure(string memory name, address from, address target, bytes memory data)
        internal
        returns (uint256 execution)
    {
        vm.prank(from);
        vm.resumeGasMetering();
        (bool ok, bytes memory ret) = target.call(data);
        vm.pauseGasMetering();
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        execution = vm.lastCallGas().gasTotalUsed;
        uint256 cd = calldataGas(data);
        vm.snapshotValue(name, execution);
        console2.log(name);
        console2.log("  execution gas (excl. 21000 base and calldata):", execution);
        console2.log("  calldata gas:", cd);
        console2.log("  transaction gas (21000 + calldata + execution):", 21_000 + cd + execution);
    }

    function calldataGas(bytes memory data) internal pure returns (uint256 g) {
        for (uint256 i; i < data.length; ++i) {
            g += data[i] == 0 ? 4 : 16;
        }
    }
}
