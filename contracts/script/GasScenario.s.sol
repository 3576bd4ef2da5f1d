// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Script} from "forge-std/Script.sol";

import {Marketplace} from "../src/Marketplace.sol";
import {TestToken} from "../src/TestToken.sol";
import {IMarketplace} from "../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../src/libraries/RewardLeaf.sol";
import {MerkleBuilder} from "../test/utils/MerkleBuilder.sol";

/// @title GasScenario — one task's full life as real transactions, for gas measured from receipts
/// @notice For a local anvil node only (uses anvil's well-known test mnemonic). Every step is its own
/// transaction, so the receipts' gasUsed (in broadcast/GasScenario.s.sol/31337/run-latest.json) are what a
/// user pays: 21,000 base + calldata + execution, after refunds. The reward tree has 1024 leaves (3 real
/// workers, 1021 filler accounts), so claim proofs have depth 10.
///   anvil --hardfork cancun &
///   forge script script/GasScenario.s.sol --rpc-url http://127.0.0.1:8545 --broadcast --slow
contract GasScenario is Script {
    string internal constant MNEMONIC = "test test test test test test test test test test test junk";
    uint256 internal constant LEAVES = 1024;
    uint256 internal constant REWARD = 100e18;

    uint256 internal requesterKey;
    uint256 internal coordinatorKey;
    uint256[3] internal workerKeys;
    address[3] internal workers;

    Marketplace internal market;
    TestToken internal token;
    uint256 internal taskId;

    function run() external {
        requesterKey = vm.deriveKey(MNEMONIC, 0);
        coordinatorKey = vm.deriveKey(MNEMONIC, 1);
        for (uint256 i; i < 3; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            workerKeys[i] = vm.deriveKey(MNEMONIC, uint32(2 + i));
            workers[i] = vm.addr(workerKeys[i]);
        }
        address requester = vm.addr(requesterKey);

        vm.startBroadcast(requesterKey);
        market = new Marketplace(requester);
        token = new TestToken("Tessera Test Token", "TTT");
        token.mint(requester, 1_000_000e18);
        token.approve(address(market), type(uint256).max);
        for (uint256 i; i < 3; ++i) {
            token.mint(workers[i], 1_000e18);
        }
        taskId = market.createTask(
            IMarketplace.TaskConfig({
                rewardToken: address(token),
                rewardPool: 1_000_000e18,
                stakeRequired: 10e18,
                numRounds: 3,
                maxWorkers: 1000,
                submissionWindow: 1 hours,
                coordinator: vm.addr(coordinatorKey),
                modelArchitectureId: keccak256("mnist-cnn-v1"),
                initialModelCid: keccak256("initial"),
                validationSetCommitment: keccak256("valset"),
                allowlistRoot: bytes32(0),
                slashToRequester: false,
                maxSlashBps: 5000,
                accessPolicy: bytes32(0)
            })
        );
        vm.stopBroadcast();

        for (uint256 i; i < 3; ++i) {
            vm.startBroadcast(workerKeys[i]);
            token.approve(address(market), type(uint256).max);
            market.join(taskId, new bytes32[](0));
            vm.stopBroadcast();
        }

        _round(1, REWARD);
        _round(2, 2 * REWARD);

        // Claim with depth-10 proof; the claimant holds tokens (typical).
        bytes32[] memory leaves = _leaves(2 * REWARD);
        vm.startBroadcast(workerKeys[0]);
        market.claim(taskId, 2 * REWARD, MerkleBuilder.proof(leaves, 0));
        vm.stopBroadcast();

        // Claim by a worker whose token balance is zero (fresh balance slot in the token).
        vm.startBroadcast(workerKeys[1]);
        require(token.transfer(address(0xdead), token.balanceOf(workers[1])), "transfer failed");
        market.claim(taskId, 2 * REWARD, MerkleBuilder.proof(leaves, 1));
        vm.stopBroadcast();

        vm.startBroadcast(workerKeys[2]);
        market.leaveTask(taskId);
        vm.stopBroadcast();

        _round(3, 3 * REWARD);

        // Second claim by worker 0, after the final round.
        vm.startBroadcast(workerKeys[0]);
        market.claim(taskId, 3 * REWARD, MerkleBuilder.proof(_leaves(3 * REWARD), 0));
        market.withdrawStake(taskId);
        vm.stopBroadcast();

        vm.startBroadcast(requesterKey);
        market.withdrawUnspent(taskId);
        vm.stopBroadcast();
    }

    function _leaves(uint256 perWorker) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](LEAVES);
        for (uint256 i; i < LEAVES; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            address account = i < 3 ? workers[i] : address(uint160(0x100000 + i));
            leaves[i] = RewardLeaf.hash(taskId, account, perWorker);
        }
    }

    function _round(uint32 round, uint256 perWorker) internal {
        vm.startBroadcast(coordinatorKey);
        market.startRound(taskId, keccak256(abi.encode("global", round)));
        market.finalizeRound(
            taskId,
            round,
            keccak256(abi.encode("model", round)),
            keccak256(abi.encode("manifest", round)),
            MerkleBuilder.root(_leaves(perWorker)),
            LEAVES * perWorker,
            new IMarketplace.Slash[](0)
        );
        vm.stopBroadcast();
    }
}
