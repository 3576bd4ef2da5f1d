// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {BlocklistToken} from "../mocks/BlocklistToken.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice join, leaveTask (between rounds and as notice during a round), withdrawStake, evictWorker (the stake
/// stays escrowed for withdrawStake).
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

    // --- notice during a round ---

    function test_leaveTask_duringRoundLeavesAtOnceAndHoldsStake() public {
        _joinN(taskId, 2);
        _start(taskId);
        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerLeft(taskId, workers[0], 0);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerLeftDuringRound(taskId, workers[0], 1, STAKE);
        _leave(taskId, workers[0]);

        assertFalse(market.isWorker(taskId, workers[0]));
        assertEq(uint8(market.getWorker(taskId, workers[0]).status), uint8(IMarketplace.WorkerStatus.Exited));
        assertEq(market.workerCount(taskId), 1);
        assertEq(market.stakeOf(taskId, workers[0]), STAKE);
        assertEq(token.balanceOf(workers[0]), before);
        assertEq(token.balanceOf(address(market)), POOL + 2 * STAKE);
        // The coordinator reads the round a worker left during, to slash it there and nowhere else.
        assertEq(market.exitRound(taskId, workers[0]), 1);
        assertEq(market.exitRound(taskId, workers[1]), 0);
    }

    /// @dev The old attack: a coordinator finalizes and starts the next round in the same block, so no
    /// "between rounds" moment ever exists and leaveTask (between rounds only) never works. A notice gets the
    /// worker out, and its stake back as soon as the round it left during is finalized.
    function test_leaveTask_noticeEscapesBackToBackRounds() public {
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = 100;
        uint256 id = _createTask(c);
        _joinN(id, 2);
        _start(id);
        _finalize(id, 1, bytes32(0), 0);
        _start(id); // same block

        _leave(id, workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceStakeLocked.selector, id, workers[0], 2));
        vm.prank(workers[0]);
        market.withdrawStake(id);

        _finalize(id, 2, bytes32(0), 0);
        _start(id); // same block again
        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.StakeWithdrawn(id, workers[0], STAKE);
        vm.prank(workers[0]);
        market.withdrawStake(id);
        assertEq(token.balanceOf(workers[0]), before + STAKE);
        assertEq(market.stakeOf(id, workers[0]), 0);
        // Round 3 cannot slash it.
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, id, workers[0]));
        _finalize(id, 3, bytes32(0), 0, _slash(workers[0], 1));
    }

    function test_leaveTask_noticeStillSlashableByItsRound() public {
        _joinN(taskId, 2);
        _start(taskId);
        _leave(taskId, workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(taskId, 1, workers[0], 4e18, IMarketplace.SlashReason.NoShow, false);
        _finalize(taskId, 1, bytes32(0), 0, _slashOf(workers[0], 4e18, IMarketplace.SlashReason.NoShow));
        assertEq(market.getTask(taskId).slashedToPool, 4e18);

        uint256 before = token.balanceOf(workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]), before + STAKE - 4e18);
    }

    function test_leaveTask_noticeFreesSeatForNextRound() public {
        IMarketplace.TaskConfig memory c = _config();
        c.maxWorkers = 2;
        uint256 id = _createTask(c);
        _joinN(id, 2);
        _start(id);
        _leave(id, workers[0]);
        _finalize(id, 1, bytes32(0), 0);
        _join(id, workers[2]);
        assertEq(market.workerCount(id), 2);
    }

    function test_leaveTask_noticeStakeFreedWhenTaskExpires() public {
        _joinN(taskId, 1);
        _start(taskId);
        _leave(taskId, workers[0]);
        vm.warp(block.timestamp + 30 days);
        market.expireTask(taskId);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(market.stakeOf(taskId, workers[0]), 0);
        assertEq(token.balanceOf(address(market)), POOL);
    }

    function test_leaveTask_noticeStakeFreedWhenRoundEndsTask() public {
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = 1;
        uint256 id = _createTask(c);
        _joinN(id, 1);
        _start(id);
        _leave(id, workers[0]);
        _finalize(id, 1, bytes32(0), 0);
        vm.prank(workers[0]);
        market.withdrawStake(id);
        assertEq(market.stakeOf(id, workers[0]), 0);
    }

    function test_leaveTask_revertsIfNoticeGivenTwice() public {
        _joinN(taskId, 1);
        _start(taskId);
        _leave(taskId, workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        _leave(taskId, workers[0]);
    }

    function test_join_revertsWithPendingStakeUntilWithdrawn() public {
        _joinN(taskId, 1);
        _start(taskId);
        _leave(taskId, workers[0]);
        _finalize(taskId, 1, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplacePendingStake.selector, taskId, workers[0], STAKE)
        );
        _join(taskId, workers[0]);

        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        _join(taskId, workers[0]);
        assertEq(market.stakeOf(taskId, workers[0]), STAKE);
        assertEq(token.balanceOf(address(market)), POOL + STAKE);
    }

    function test_withdrawStake_pendingOnlyOnce() public {
        _joinN(taskId, 1);
        _start(taskId);
        _leave(taskId, workers[0]);
        _finalize(taskId, 1, bytes32(0), 0);
        vm.startPrank(workers[0]);
        market.withdrawStake(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        market.withdrawStake(taskId);
        vm.stopPrank();
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

    function test_leaveTask_duringRoundWorksWhilePaused() public {
        _joinN(taskId, 1);
        _start(taskId);
        _pause();
        _leave(taskId, workers[0]);
        assertFalse(market.isWorker(taskId, workers[0]));
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

    function test_withdrawStake_revertsIfNeverJoinedWhileRunning() public {
        _round(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, stranger));
        vm.prank(stranger);
        market.withdrawStake(taskId);
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

    // ----------------------------------------------------------------------------------------------------------
    // evictWorker
    // ----------------------------------------------------------------------------------------------------------

    /// @dev The old attack: a worker slashed down to (almost) nothing keeps its seat at no further risk,
    /// blocking honest workers from a capped task. Anyone can now evict it between rounds.
    function test_evictWorker_freesSeatOfSlashedSquatter() public {
        IMarketplace.TaskConfig memory c = _config();
        c.maxWorkers = 2;
        uint256 id = _createTask(c);
        _joinN(id, 2);
        _start(id);
        _finalize(id, 1, bytes32(0), 0, _slash(workers[0], STAKE - 1));
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWorkerCapReached.selector, id, 2));
        _join(id, workers[2]);

        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerEvicted(id, workers[0], 1);
        vm.prank(stranger);
        market.evictWorker(id, workers[0]);

        // Out of its seat; what is left of its stake stays escrowed for it.
        assertEq(token.balanceOf(workers[0]), before);
        assertFalse(market.isWorker(id, workers[0]));
        assertEq(uint8(market.getWorker(id, workers[0]).status), uint8(IMarketplace.WorkerStatus.Exited));
        assertEq(market.stakeOf(id, workers[0]), 1);
        assertEq(market.workerCount(id), 1);
        _join(id, workers[2]);
        assertEq(market.workerCount(id), 2);

        vm.expectEmit(address(market));
        emit IMarketplace.StakeWithdrawn(id, workers[0], 1);
        vm.prank(workers[0]);
        market.withdrawStake(id);
        assertEq(token.balanceOf(workers[0]), before + 1);
        assertEq(market.stakeOf(id, workers[0]), 0);
    }

    /// @dev The old attack: with a token that refuses transfers to the worker (a blocklist), an eviction that
    /// paid the stake out reverted, so the slashed squatter kept its seat. Nothing is paid out now.
    function test_evictWorker_freesSeatWhenTokenBlocksWorker() public {
        BlocklistToken blk = new BlocklistToken();
        blk.mint(requester, POOL);
        vm.prank(requester);
        blk.approve(address(market), POOL);
        for (uint256 i; i < 2; ++i) {
            blk.mint(workers[i], STAKE);
            vm.prank(workers[i]);
            blk.approve(address(market), STAKE);
        }
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(blk);
        c.maxWorkers = 1;
        uint256 id = _createTask(c);
        _join(id, workers[0]);
        _start(id);
        _finalize(id, 1, bytes32(0), 0, _slash(workers[0], STAKE - 1));
        blk.setBlocked(workers[0], true);

        market.evictWorker(id, workers[0]);
        assertEq(market.workerCount(id), 0);
        _join(id, workers[1]);
        assertTrue(market.isWorker(id, workers[1]));

        // Its stake waits for it, whenever the token lets it through.
        vm.expectRevert(abi.encodeWithSelector(BlocklistToken.BlocklistTokenBlocked.selector, workers[0]));
        vm.prank(workers[0]);
        market.withdrawStake(id);
        blk.setBlocked(workers[0], false);
        vm.prank(workers[0]);
        market.withdrawStake(id);
        assertEq(blk.balanceOf(workers[0]), 1);
    }

    /// @dev The eviction happens between rounds, so the stake is not locked by the next round.
    function test_evictWorker_stakeWithdrawableDuringNextRound() public {
        _joinN(taskId, 2);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 4e18));
        market.evictWorker(taskId, workers[0]);
        _start(taskId);

        uint256 before = token.balanceOf(workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]), before + STAKE - 4e18);
    }

    function test_evictWorker_stakeCannotBeSlashedByLaterRound() public {
        _joinN(taskId, 2);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        market.evictWorker(taskId, workers[0]);
        _start(taskId);

        IMarketplace.Slash[] memory s = _slash(workers[0], 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        _finalize(taskId, 2, bytes32(0), 0, s);
        _finalize(taskId, 2, bytes32(0), 0);
        assertEq(market.stakeOf(taskId, workers[0]), STAKE - 1);
    }

    /// @dev A worker that once gave notice during a round carries that exit round into its next membership;
    /// its eviction replaces it, so the stake is neither locked nor slashable.
    function test_evictWorker_afterEarlierNoticeStillWithdrawableNotSlashable() public {
        _joinN(taskId, 2);
        _start(taskId);
        _leave(taskId, workers[0]);
        _finalize(taskId, 1, bytes32(0), 0);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        _join(taskId, workers[0]);
        _start(taskId);
        _finalize(taskId, 2, bytes32(0), 0, _slash(workers[0], 1));
        market.evictWorker(taskId, workers[0]);
        _start(taskId);

        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        _finalize(taskId, 3, bytes32(0), 0, _slash(workers[0], 1));
        uint256 before = token.balanceOf(workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]), before + STAKE - 1);
    }

    function test_evictWorker_rejoinNeedsStakeWithdrawnFirst() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        market.evictWorker(taskId, workers[0]);

        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplacePendingStake.selector, taskId, workers[0], STAKE - 1)
        );
        _join(taskId, workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        _join(taskId, workers[0]);
        assertTrue(market.isWorker(taskId, workers[0]));
    }

    function test_evictWorker_stakeWithdrawableAfterTaskEnded() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        market.evictWorker(taskId, workers[0]);
        vm.prank(requester);
        market.endTask(taskId);

        uint256 before = token.balanceOf(workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]), before + STAKE - 1);
    }

    function test_evictWorker_fullySlashedGetsNothing() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], type(uint256).max));
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerEvicted(taskId, workers[0], 0);
        market.evictWorker(taskId, workers[0]);
        assertEq(market.workerCount(taskId), 0);
        // Nothing escrowed, so nothing to withdraw.
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[0]));
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
    }

    function test_evictWorker_revertsForFullStake() public {
        _joinN(taskId, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWorkerNotEvictable.selector, taskId, workers[0]));
        market.evictWorker(taskId, workers[0]);
    }

    function test_evictWorker_revertsDuringRound() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRoundOpen.selector, taskId, 2));
        market.evictWorker(taskId, workers[0]);
    }

    function test_evictWorker_revertsIfNotActive() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWorkerNotEvictable.selector, taskId, stranger));
        market.evictWorker(taskId, stranger);

        // A worker that left during a round, slashed by that round, is no longer Active.
        _joinN(taskId, 1);
        _start(taskId);
        _leave(taskId, workers[0]);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWorkerNotEvictable.selector, taskId, workers[0]));
        market.evictWorker(taskId, workers[0]);
    }

    function test_evictWorker_revertsAfterTaskEnded() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        vm.prank(requester);
        market.endTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        market.evictWorker(taskId, workers[0]);
    }

    function test_evictWorker_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 8));
        market.evictWorker(8, workers[0]);
    }

    function test_evictWorker_worksWhilePaused() public {
        _joinN(taskId, 1);
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 1));
        _pause();
        market.evictWorker(taskId, workers[0]);
        assertFalse(market.isWorker(taskId, workers[0]));
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(market.stakeOf(taskId, workers[0]), 0);
    }
}
