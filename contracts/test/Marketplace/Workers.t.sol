// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice join, leaveTask, withdrawStake.
contract MarketplaceWorkersTest is MarketplaceTestBase {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _createTask();
    }

    // ----------------------------------------------------------------------------------------------------------
    // join
    // ----------------------------------------------------------------------------------------------------------

    function test_join_escrowsStakeAndRegisters() public {
        address w = workers[0];
        uint256 before = token.balanceOf(w);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerJoined(taskId, w, STAKE);
        _join(taskId, w);

        assertEq(token.balanceOf(w), before - STAKE);
        assertEq(token.balanceOf(address(market)), POOL + STAKE);
        assertTrue(market.isWorker(taskId, w));
        assertEq(market.stakeOf(taskId, w), STAKE);
        assertEq(market.workerCount(taskId), 1);
        IMarketplace.WorkerInfo memory info = market.getWorker(taskId, w);
        assertEq(info.stake, STAKE);
        assertEq(info.claimed, 0);
        assertEq(uint8(info.status), uint8(IMarketplace.WorkerStatus.Active));
    }

    function test_join_betweenRounds() public {
        _round(taskId, bytes32(0), 0);
        _join(taskId, workers[0]);
        assertTrue(market.isWorker(taskId, workers[0]));
    }

    function test_join_withAllowlistProof() public {
        IMarketplace.TaskConfig memory c = _config();
        bytes32[] memory leaves = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            leaves[i] = RewardLeaf.allowlist(workers[i]);
        }
        c.allowlistRoot = MerkleBuilder.root(leaves);
        uint256 id = _createTask(c);

        for (uint256 i; i < 3; ++i) {
            vm.prank(workers[i]);
            market.join(id, MerkleBuilder.proof(leaves, i));
        }
        assertEq(market.workerCount(id), 3);
    }

    function test_join_allowlistLeafMatchesStandardEncoding() public view {
        address a = workers[3];
        assertEq(market.allowlistLeaf(a), keccak256(bytes.concat(keccak256(abi.encode(a)))));
    }

    function test_join_revertsIfNotAllowlisted() public {
        IMarketplace.TaskConfig memory c = _config();
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = RewardLeaf.allowlist(workers[0]);
        leaves[1] = RewardLeaf.allowlist(workers[1]);
        c.allowlistRoot = MerkleBuilder.root(leaves);
        uint256 id = _createTask(c);

        // workers[2] presents workers[0]'s proof.
        bytes32[] memory proof = MerkleBuilder.proof(leaves, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotAllowlisted.selector, id, workers[2]));
        vm.prank(workers[2]);
        market.join(id, proof);

        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotAllowlisted.selector, id, workers[2]));
        vm.prank(workers[2]);
        market.join(id, new bytes32[](0));
    }

    function test_join_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 99));
        vm.prank(workers[0]);
        market.join(99, new bytes32[](0));
    }

    function test_join_revertsWhileRoundOpen() public {
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRoundOpen.selector, taskId, 1));
        _join(taskId, workers[0]);
    }

    function test_join_revertsAfterTaskEnded() public {
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        _join(taskId, workers[0]);
    }

    function test_join_revertsIfCancelled() public {
        vm.prank(requester);
        market.cancelTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Cancelled
            )
        );
        _join(taskId, workers[0]);
    }

    function test_join_revertsIfAlreadyWorker() public {
        _join(taskId, workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceAlreadyWorker.selector, taskId, workers[0]));
        _join(taskId, workers[0]);
    }

    function test_join_revertsAtWorkerCap() public {
        _joinN(taskId, MAX_WORKERS);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWorkerCapReached.selector, taskId, MAX_WORKERS));
        _join(taskId, workers[MAX_WORKERS]);
    }

    function test_join_freedSeatAfterLeave() public {
        _joinN(taskId, MAX_WORKERS);
        vm.prank(workers[0]);
        market.leaveTask(taskId);
        _join(taskId, workers[MAX_WORKERS]);
        assertEq(market.workerCount(taskId), MAX_WORKERS);
    }

    function test_join_revertsWhenPaused() public {
        vm.prank(admin);
        market.pause();
        vm.expectRevert(bytes4(keccak256("EnforcedPause()")));
        _join(taskId, workers[0]);
    }

    function test_join_rejoinAfterLeavingStakesAgain() public {
        _join(taskId, workers[0]);
        vm.prank(workers[0]);
        market.leaveTask(taskId);
        _join(taskId, workers[0]);
        assertEq(market.stakeOf(taskId, workers[0]), STAKE);
        assertEq(token.balanceOf(address(market)), POOL + STAKE);
    }

    // ----------------------------------------------------------------------------------------------------------
    // leaveTask
    // ----------------------------------------------------------------------------------------------------------

    function test_leaveTask_returnsStake() public {
        _joinN(taskId, 2);
        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerLeft(taskId, workers[0], STAKE);
        vm.prank(workers[0]);
        market.leaveTask(taskId);

        assertEq(token.balanceOf(workers[0]), before + STAKE);
        assertFalse(market.isWorker(taskId, workers[0]));
        assertEq(market.stakeOf(taskId, workers[0]), 0);
        assertEq(market.workerCount(taskId), 1);
        assertEq(uint8(market.getWorker(taskId, workers[0]).status), uint8(IMarketplace.WorkerStatus.Exited));
    }

    function test_leaveTask_returnsStakeLessSlashes() public {
        _joinN(taskId, 2);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 3e18));
        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerLeft(taskId, workers[0], STAKE - 3e18);
        vm.prank(workers[0]);
        market.leaveTask(taskId);
        assertEq(token.balanceOf(workers[0]), before + STAKE - 3e18);
    }

    function test_leaveTask_keepsRewardsClaimable() public {
        _joinN(taskId, 2);
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(7e18, 3e18));
        _round(taskId, root, total);
        vm.prank(workers[0]);
        market.leaveTask(taskId);
        _claim(taskId, workers[0], 7e18, proofs[0]);
        assertEq(market.claimed(taskId, workers[0]), 7e18);
    }

    function test_leaveTask_revertsWhileRoundOpen() public {
        _joinN(taskId, 1);
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRoundOpen.selector, taskId, 1));
        vm.prank(workers[0]);
        market.leaveTask(taskId);
    }

    function test_leaveTask_revertsIfNotWorker() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, stranger));
        vm.prank(stranger);
        market.leaveTask(taskId);
    }

    function test_leaveTask_revertsIfLeftTwice() public {
        _joinN(taskId, 1);
        vm.startPrank(workers[0]);
        market.leaveTask(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        market.leaveTask(taskId);
        vm.stopPrank();
    }

    function test_leaveTask_revertsAfterTaskEnded() public {
        _joinN(taskId, 1);
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        vm.prank(workers[0]);
        market.leaveTask(taskId);
    }

    function test_leaveTask_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 42));
        market.leaveTask(42);
    }

    function test_leaveTask_worksWhilePaused() public {
        _joinN(taskId, 1);
        vm.prank(admin);
        market.pause();
        vm.prank(workers[0]);
        market.leaveTask(taskId);
        assertFalse(market.isWorker(taskId, workers[0]));
    }

    // ----------------------------------------------------------------------------------------------------------
    // withdrawStake
    // ----------------------------------------------------------------------------------------------------------

    function test_withdrawStake_afterTaskEnded() public {
        _joinN(taskId, 2);
        _finishTask(taskId, bytes32(0), 0);
        uint256 before = token.balanceOf(workers[1]);
        vm.expectEmit(address(market));
        emit IMarketplace.StakeWithdrawn(taskId, workers[1], STAKE);
        vm.prank(workers[1]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[1]), before + STAKE);
        assertEq(market.workerCount(taskId), 1);
        assertFalse(market.isWorker(taskId, workers[1]));
    }

    function test_withdrawStake_fullySlashedPaysNothing() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], type(uint256).max));
        _finishTask(taskId, bytes32(0), 0);
        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.StakeWithdrawn(taskId, workers[0], 0);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]), before);
    }

    function test_withdrawStake_revertsBeforeTaskEnded() public {
        _joinN(taskId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Open)
        );
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
    }

    function test_withdrawStake_revertsIfNotWorker() public {
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, stranger));
        vm.prank(stranger);
        market.withdrawStake(taskId);
    }

    function test_withdrawStake_revertsIfWithdrawnTwice() public {
        _joinN(taskId, 1);
        _finishTask(taskId, bytes32(0), 0);
        vm.startPrank(workers[0]);
        market.withdrawStake(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        market.withdrawStake(taskId);
        vm.stopPrank();
    }

    function test_withdrawStake_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 3));
        market.withdrawStake(3);
    }

    function test_withdrawStake_worksWhilePaused() public {
        _joinN(taskId, 1);
        _finishTask(taskId, bytes32(0), 0);
        vm.prank(admin);
        market.pause();
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(market.stakeOf(taskId, workers[0]), 0);
    }
}
