// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {console2} from "forge-std/Test.sol";

import {TestToken} from "../../src/TestToken.sol";
import {GasMeter} from "../gas/GasMeter.sol";
import {NxNScores} from "./NxNScores.sol";

/// @notice Measures one round of the NxNScores model (n submitScores transactions + one payout) at n = 10 and
/// n = 100. All of them run in one test, so before each call vm.cool re-colds the storage of the model and the
/// token (every slot pays the cold surcharge as in a fresh transaction; see COLD_ACCOUNT_SURCHARGE for the
/// one thing vm.cool misses). Totals include 21,000 intrinsic gas and
/// the calldata cost of every transaction. Run: forge test --match-contract NxNScoresGasTest -vv
contract NxNScoresGasTest is GasMeter {
    /// @dev vm.cool re-colds storage slots but not accounts, so inside the test the payout's first CALL into the
    /// token pays the warm 100 instead of the cold 2,600 a real transaction pays; added back explicitly.
    uint256 internal constant COLD_ACCOUNT_SURCHARGE = 2_500;

    address[] internal _coolList;

    function _roundCost(uint256 n) internal returns (uint256 total) {
        vm.pauseGasMetering();
        TestToken token = new TestToken("T", "T");
        address[] memory workers = new address[](n);
        for (uint256 i; i < n; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            workers[i] = address(uint160(0x200000 + i));
            token.mint(workers[i], 1e18); // workers already hold tokens, as Tessera's claimants do
        }
        NxNScores model = new NxNScores(token, 1_000e18, workers);
        token.mint(address(model), 1_000_000e18);
        _coolList.push(address(model));
        _coolList.push(address(token));

        // A first round, so the measured one is a typical round (round counter non-zero, balances non-zero).
        _playRound(model, workers, false);
        (uint256 submitExec, uint256 submitCalldata, uint256 payoutExec, uint256 payoutCalldata) =
            _playRound(model, workers, true);
        payoutExec += COLD_ACCOUNT_SURCHARGE;

        uint256 txs = n + 1;
        total = submitExec + submitCalldata + payoutExec + payoutCalldata + txs * 21_000;
        vm.snapshotValue(string.concat("nxn_round_total_n", vm.toString(n)), total);
        vm.snapshotValue(string.concat("nxn_submitScores_exec_n", vm.toString(n)), submitExec / n);
        vm.snapshotValue(string.concat("nxn_payout_exec_n", vm.toString(n)), payoutExec);
        console2.log("n =", n);
        console2.log("  submitScores: execution gas per tx", submitExec / n, "calldata gas per tx", submitCalldata / n);
        console2.log("  payout: execution gas", payoutExec);
        console2.log("  round total (incl. 21000 per tx and calldata):", total);
        console2.log("  per worker per round:", total / n);
    }

    function _playRound(NxNScores model, address[] memory workers, bool measure)
        internal
        returns (uint256 submitExec, uint256 submitCalldata, uint256 payoutExec, uint256 payoutCalldata)
    {
        uint256 n = workers.length;
        for (uint256 i; i < n; ++i) {
            uint256[] memory s = new uint256[](n);
            for (uint256 j; j < n; ++j) {
                s[j] = 1 + uint256(keccak256(abi.encode(model.round(), i, j))) % 100;
            }
            bytes memory data = abi.encodeCall(NxNScores.submitScores, (s));
            if (measure) {
                submitExec += _measureQuiet(workers[i], address(model), data);
                submitCalldata += calldataGas(data);
            } else {
                vm.prank(workers[i]);
                model.submitScores(s);
            }
        }
        bytes memory p = abi.encodeCall(NxNScores.payout, ());
        if (measure) {
            payoutExec = _measureQuiet(address(this), address(model), p);
            payoutCalldata = calldataGas(p);
        } else {
            model.payout();
        }
    }

    function _measureQuiet(address from, address target, bytes memory data) internal returns (uint256) {
        for (uint256 i; i < _coolList.length; ++i) {
            vm.cool(_coolList[i]);
        }
        vm.prank(from);
        vm.resumeGasMetering();
        (bool ok,) = target.call(data);
        vm.pauseGasMetering();
        require(ok, "call failed");
        return vm.lastCallGas().gasTotalUsed;
    }

    function test_gas_nxnScores_round_10Workers() public {
        uint256 total = _roundCost(10);
        // Sanity: at least n*n fresh score slots (20,000 each for the write alone).
        assertGt(total, 10 * 10 * 20_000);
    }

    function test_gas_nxnScores_round_100Workers() public {
        uint256 total = _roundCost(100);
        assertGt(total, 100 * 100 * 20_000);
    }
}
