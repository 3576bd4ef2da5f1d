// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice createTask, cancelTask, endTask, withdrawUnspent, sweepUnclaimed, revealValidationSet, expireTask.
contract MarketplaceTasksTest is MarketplaceTestBase {
    // ----------------------------------------------------------------------------------------------------------
    // createTask
    // ----------------------------------------------------------------------------------------------------------

    function test_createTask_storesConfigAndEscrowsPool() public {
        IMarketplace.TaskConfig memory c = _config();
        c.allowlistRoot = keccak256("allowlist");
        c.slashToRequester = true;
        c.maxSlashBps = 2500;
        uint256 balanceBefore = token.balanceOf(requester);

        uint256 taskId = _createTask(c);

        assertEq(taskId, 1);
        assertEq(market.taskCount(), 1);
        assertEq(token.balanceOf(address(market)), POOL);
        assertEq(token.balanceOf(requester), balanceBefore - POOL);
        IMarketplace.Task memory t = market.getTask(taskId);
        assertEq(t.rewardToken, address(token));
        assertEq(t.currentRound, 0);
        assertEq(t.numRounds, ROUNDS);
        assertEq(uint8(t.status), uint8(IMarketplace.TaskStatus.Open));
        assertFalse(t.roundOpen);
        assertTrue(t.slashToRequester);
        assertEq(t.coordinator, coordinator);
        assertEq(t.maxWorkers, MAX_WORKERS);
        assertEq(t.workerCount, 0);
        assertEq(t.submissionWindow, WINDOW);
        assertEq(t.requester, requester);
        assertFalse(t.unspentWithdrawn);
        assertEq(t.rewardPool, POOL);
        assertEq(t.slashedToPool, 0);
        assertEq(t.paidOut, 0);
        assertEq(t.committedRewards, 0);
        assertEq(t.stakeRequired, STAKE);
        assertEq(t.slashedToRequester, 0);
        assertEq(t.rewardsRoot, bytes32(0));
        assertEq(t.modelArchitectureId, ARCH);
        assertEq(t.initialModelCid, INITIAL_CID);
        assertEq(t.validationSetCommitment, VALSET_COMMITMENT);
        assertEq(t.validationSetCid, bytes32(0));
        assertEq(t.allowlistRoot, keccak256("allowlist"));
        IMarketplace.TaskTerms memory terms = market.getTaskTerms(taskId);
        assertEq(terms.maxSlashBps, 2500);
        assertFalse(terms.endRequested);
        assertEq(terms.endedAt, 0);
        assertFalse(terms.unclaimedSwept);
    }

    function test_createTask_idsIncrementFromOne() public {
        assertEq(_createTask(), 1);
        assertEq(_createTask(), 2);
        assertEq(_createTask(), 3);
        assertEq(market.taskCount(), 3);
    }

    function test_createTask_emitsTaskCreated() public {
        IMarketplace.TaskConfig memory c = _config();
        vm.expectEmit(address(market));
        emit IMarketplace.TaskCreated(1, requester, coordinator, c);
        _createTask(c);
    }

    function test_createTask_revertsIfZeroStake() public {
        IMarketplace.TaskConfig memory c = _config();
        c.stakeRequired = 0;
        vm.expectRevert(IMarketplace.MarketplaceZeroStake.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfSubmissionWindowTooLong() public {
        IMarketplace.TaskConfig memory c = _config();
        c.submissionWindow = uint32(market.MAX_SUBMISSION_WINDOW()) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceSubmissionWindowTooLong.selector, c.submissionWindow, 30 days
            )
        );
        _createTask(c);
    }

    function test_createTask_acceptsLongestSubmissionWindow() public {
        IMarketplace.TaskConfig memory c = _config();
        c.submissionWindow = 30 days;
        uint256 taskId = _createTask(c);
        _start(taskId);
        IMarketplace.Round memory r = market.getRound(taskId, 1);
        assertEq(r.deadline - r.startedAt, market.MAX_SUBMISSION_WINDOW());
    }

    function test_createTask_revertsIfMaxSlashZero() public {
        IMarketplace.TaskConfig memory c = _config();
        c.maxSlashBps = 0;
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceInvalidMaxSlash.selector, 0));
        _createTask(c);
    }

    function test_createTask_revertsIfMaxSlashAboveWholeStake() public {
        IMarketplace.TaskConfig memory c = _config();
        c.maxSlashBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceInvalidMaxSlash.selector, 10_001));
        _createTask(c);
    }

    function test_createTask_revertsIfZeroToken() public {
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(0);
        vm.expectRevert(IMarketplace.MarketplaceZeroAddress.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfZeroCoordinator() public {
        IMarketplace.TaskConfig memory c = _config();
        c.coordinator = address(0);
        vm.expectRevert(IMarketplace.MarketplaceZeroAddress.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfZeroPool() public {
        IMarketplace.TaskConfig memory c = _config();
        c.rewardPool = 0;
        vm.expectRevert(IMarketplace.MarketplaceZeroRewardPool.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfPoolTooLarge() public {
        IMarketplace.TaskConfig memory c = _config();
        c.rewardPool = uint256(type(uint128).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceAmountTooLarge.selector, c.rewardPool, uint256(type(uint128).max)
            )
        );
        _createTask(c);
    }

    function test_createTask_revertsIfStakeTooLarge() public {
        IMarketplace.TaskConfig memory c = _config();
        c.stakeRequired = uint256(type(uint120).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceAmountTooLarge.selector, c.stakeRequired, uint256(type(uint120).max)
            )
        );
        _createTask(c);
    }

    function test_createTask_revertsIfZeroRounds() public {
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = 0;
        vm.expectRevert(IMarketplace.MarketplaceZeroRounds.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfZeroMaxWorkers() public {
        IMarketplace.TaskConfig memory c = _config();
        c.maxWorkers = 0;
        vm.expectRevert(IMarketplace.MarketplaceZeroMaxWorkers.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfZeroSubmissionWindow() public {
        IMarketplace.TaskConfig memory c = _config();
        c.submissionWindow = 0;
        vm.expectRevert(IMarketplace.MarketplaceZeroSubmissionWindow.selector);
        _createTask(c);
    }

    function test_createTask_revertsIfZeroInitialModelCid() public {
        IMarketplace.TaskConfig memory c = _config();
        c.initialModelCid = bytes32(0);
        vm.expectRevert(IMarketplace.MarketplaceZeroCid.selector);
        _createTask(c);
    }

    function test_createTask_revertsWhenPaused() public {
        vm.prank(admin);
        market.pause();
        vm.expectRevert(bytes4(keccak256("EnforcedPause()")));
        _createTask();
    }

    function test_createTask_revertsWithoutAllowance() public {
        vm.prank(requester);
        token.approve(address(market), 0);
        vm.expectRevert(); // ERC20InsufficientAllowance from the token
        _createTask();
    }

    // ----------------------------------------------------------------------------------------------------------
    // cancelTask
    // ----------------------------------------------------------------------------------------------------------

    function test_cancelTask_refundsPoolAndLetsWorkersWithdraw() public {
        uint256 taskId = _createTask();
        _joinN(taskId, 2);
        uint256 requesterBefore = token.balanceOf(requester);

        vm.expectEmit(address(market));
        emit IMarketplace.TaskCancelled(taskId, POOL);
        vm.prank(requester);
        market.cancelTask(taskId);

        assertEq(token.balanceOf(requester), requesterBefore + POOL);
        IMarketplace.Task memory t = market.getTask(taskId);
        assertEq(uint8(t.status), uint8(IMarketplace.TaskStatus.Cancelled));
        assertTrue(t.unspentWithdrawn);
        assertEq(token.balanceOf(address(market)), 2 * STAKE);

        uint256 workerBefore = token.balanceOf(workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]), workerBefore + STAKE);
    }

    function test_cancelTask_revertsIfNotRequester() public {
        uint256 taskId = _createTask();
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotRequester.selector, taskId, stranger));
        vm.prank(stranger);
        market.cancelTask(taskId);
    }

    function test_cancelTask_revertsAfterFirstRoundStarted() public {
        uint256 taskId = _createTask();
        _start(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotCancellable.selector, taskId, IMarketplace.TaskStatus.Running
            )
        );
        vm.prank(requester);
        market.cancelTask(taskId);
    }

    function test_cancelTask_revertsIfAlreadyCancelled() public {
        uint256 taskId = _createTask();
        vm.startPrank(requester);
        market.cancelTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotCancellable.selector, taskId, IMarketplace.TaskStatus.Cancelled
            )
        );
        market.cancelTask(taskId);
        vm.stopPrank();
    }

    function test_cancelTask_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 7));
        market.cancelTask(7);
    }

    function test_cancelTask_worksWhilePaused() public {
        uint256 taskId = _createTask();
        vm.prank(admin);
        market.pause();
        vm.prank(requester);
        market.cancelTask(taskId);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Cancelled));
    }

    // ----------------------------------------------------------------------------------------------------------
    // endTask
    // ----------------------------------------------------------------------------------------------------------

    function test_endTask_betweenRoundsEndsAtOnce() public {
        uint256 taskId = _createTask();
        _joinN(taskId, 1);
        _round(taskId, keccak256("root"), 100e18);
        vm.expectEmit(address(market));
        emit IMarketplace.TaskEnded(taskId, 1, false);
        vm.prank(requester);
        market.endTask(taskId);

        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
        IMarketplace.TaskTerms memory terms = market.getTaskTerms(taskId);
        assertEq(terms.endedAt, block.timestamp);
        assertFalse(terms.endRequested);
        // Everything gets out.
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        assertEq(token.balanceOf(requester), before + POOL - 100e18);
    }

    /// @dev The old attack: a coordinator that keeps finalizing and starting rounds in the same block holds the
    /// requester's pool (and the workers' stakes) until numRounds, however large. The requester ends it after
    /// the open round.
    function test_endTask_duringRoundEndsAfterItsFinalize() public {
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = type(uint32).max;
        uint256 taskId = _createTask(c);
        _joinN(taskId, 1);
        _round(taskId, bytes32(0), 0);
        _start(taskId);

        vm.expectEmit(address(market));
        emit IMarketplace.TaskEndRequested(taskId, 2);
        vm.prank(requester);
        market.endTask(taskId);
        assertTrue(market.getTaskTerms(taskId).endRequested);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Running));

        vm.expectEmit(address(market));
        emit IMarketplace.TaskEnded(taskId, 2, false);
        _finalize(taskId, 2, bytes32(0), 0);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
        assertEq(market.getTaskTerms(taskId).endedAt, block.timestamp);

        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        _start(taskId);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(address(market)), 0);
    }

    function test_endTask_requestedRoundCanStillExpire() public {
        uint256 taskId = _createTask();
        _start(taskId);
        vm.prank(requester);
        market.endTask(taskId);
        vm.warp(market.getRound(taskId, 1).deadline + market.FINALIZE_GRACE_PERIOD());
        vm.expectEmit(address(market));
        emit IMarketplace.TaskEnded(taskId, 0, true);
        market.expireTask(taskId);
        assertEq(market.getTaskTerms(taskId).endedAt, block.timestamp);
    }

    function test_endTask_revertsIfAlreadyRequested() public {
        uint256 taskId = _createTask();
        _start(taskId);
        vm.startPrank(requester);
        market.endTask(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceEndAlreadyRequested.selector, taskId));
        market.endTask(taskId);
        vm.stopPrank();
    }

    function test_endTask_revertsIfNotRequester() public {
        uint256 taskId = _createTask();
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotRequester.selector, taskId, coordinator));
        vm.prank(coordinator);
        market.endTask(taskId);
    }

    function test_endTask_revertsIfOpen() public {
        uint256 taskId = _createTask();
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotRunning.selector, taskId, IMarketplace.TaskStatus.Open
            )
        );
        vm.prank(requester);
        market.endTask(taskId);
    }

    function test_endTask_revertsIfEnded() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotRunning.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        vm.prank(requester);
        market.endTask(taskId);
    }

    function test_endTask_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 4));
        market.endTask(4);
    }

    function test_endTask_worksWhilePaused() public {
        uint256 taskId = _createTask();
        _round(taskId, bytes32(0), 0);
        _pause();
        vm.prank(requester);
        market.endTask(taskId);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
    }

    function test_finalizeRound_lastRoundRecordsEndedAt() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        assertEq(market.getTaskTerms(taskId).endedAt, block.timestamp);
    }

    // ----------------------------------------------------------------------------------------------------------
    // withdrawUnspent
    // ----------------------------------------------------------------------------------------------------------

    function test_withdrawUnspent_refundsWhatNoRootCommitted() public {
        uint256 taskId = _createTask();
        _joinN(taskId, 2);
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(100e18, 50e18));
        _finishTask(taskId, root, total);
        uint256 before = token.balanceOf(requester);

        vm.expectEmit(address(market));
        emit IMarketplace.UnspentWithdrawn(taskId, requester, POOL - total, 0);
        vm.prank(requester);
        market.withdrawUnspent(taskId);

        assertEq(token.balanceOf(requester), before + POOL - total);
        assertTrue(market.getTask(taskId).unspentWithdrawn);
        // Committed but unclaimed rewards stay claimable afterwards.
        _claim(taskId, workers[1], 50e18, proofs[1]);
        _claim(taskId, workers[0], 100e18, proofs[0]);
        assertEq(token.balanceOf(address(market)), 2 * STAKE);
    }

    function test_withdrawUnspent_includesSlashedPoolStakeAndRequesterSlashes() public {
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = 1;
        c.slashToRequester = true;
        uint256 taskId = _createTask(c);
        _joinN(taskId, 2);
        _start(taskId);
        _finalize(taskId, 1, keccak256("root"), 10e18, _slash(workers[0], 4e18));
        uint256 before = token.balanceOf(requester);

        vm.expectEmit(address(market));
        emit IMarketplace.UnspentWithdrawn(taskId, requester, POOL - 10e18, 4e18);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        assertEq(token.balanceOf(requester), before + POOL - 10e18 + 4e18);
    }

    function test_withdrawUnspent_revertsIfNotRequester() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotRequester.selector, taskId, stranger));
        vm.prank(stranger);
        market.withdrawUnspent(taskId);
    }

    function test_withdrawUnspent_revertsBeforeTaskEnded() public {
        uint256 taskId = _createTask();
        _round(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Running
            )
        );
        vm.prank(requester);
        market.withdrawUnspent(taskId);
    }

    function test_withdrawUnspent_revertsIfCancelled() public {
        uint256 taskId = _createTask();
        vm.startPrank(requester);
        market.cancelTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Cancelled
            )
        );
        market.withdrawUnspent(taskId);
        vm.stopPrank();
    }

    function test_withdrawUnspent_revertsIfAlreadyWithdrawn() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.startPrank(requester);
        market.withdrawUnspent(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceUnspentAlreadyWithdrawn.selector, taskId));
        market.withdrawUnspent(taskId);
        vm.stopPrank();
    }

    function test_withdrawUnspent_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 1));
        market.withdrawUnspent(1);
    }

    function test_withdrawUnspent_paysNothingWhenFullyCommitted() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, keccak256("root"), POOL);
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        assertEq(token.balanceOf(requester), before);
        assertTrue(market.getTask(taskId).unspentWithdrawn);
    }

    // ----------------------------------------------------------------------------------------------------------
    // sweepUnclaimed
    // ----------------------------------------------------------------------------------------------------------

    /// @dev The old problem: rewards committed to a root nobody can or will claim (a lost key, an unusable
    /// tree) stayed in the contract for ever. After the claim period the requester takes them back.
    function test_sweepUnclaimed_paysUnclaimedAfterClaimPeriod() public {
        uint256 taskId = _createTask();
        _joinN(taskId, 2);
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _finishTask(taskId, root, total);
        uint256 endedAt = market.getTaskTerms(taskId).endedAt;
        _claim(taskId, workers[0], 70e18, proofs[0]);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        for (uint256 i; i < 2; ++i) {
            vm.prank(workers[i]);
            market.withdrawStake(taskId);
        }
        assertEq(token.balanceOf(address(market)), 30e18);

        vm.warp(endedAt + market.CLAIM_PERIOD());
        uint256 before = token.balanceOf(requester);
        vm.expectEmit(address(market));
        emit IMarketplace.UnclaimedSwept(taskId, requester, 30e18);
        vm.prank(requester);
        market.sweepUnclaimed(taskId);

        assertEq(token.balanceOf(requester), before + 30e18);
        assertTrue(market.getTaskTerms(taskId).unclaimedSwept);
        assertEq(token.balanceOf(address(market)), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceClaimPeriodOver.selector, taskId, endedAt + market.CLAIM_PERIOD()
            )
        );
        _claim(taskId, workers[1], 30e18, proofs[1]);
    }

    function test_sweepUnclaimed_revertsBeforeClaimPeriodOver() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, keccak256("root"), 10e18);
        uint256 availableAt = block.timestamp + market.CLAIM_PERIOD();
        vm.warp(availableAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceClaimPeriodNotOver.selector, taskId, availableAt)
        );
        vm.prank(requester);
        market.sweepUnclaimed(taskId);
    }

    function test_sweepUnclaimed_revertsIfSweptTwice() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, keccak256("root"), 10e18);
        vm.warp(block.timestamp + market.CLAIM_PERIOD());
        vm.startPrank(requester);
        market.sweepUnclaimed(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceUnclaimedAlreadySwept.selector, taskId));
        market.sweepUnclaimed(taskId);
        vm.stopPrank();
    }

    function test_sweepUnclaimed_revertsIfNotRequester() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, keccak256("root"), 10e18);
        vm.warp(block.timestamp + market.CLAIM_PERIOD());
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotRequester.selector, taskId, stranger));
        vm.prank(stranger);
        market.sweepUnclaimed(taskId);
    }

    function test_sweepUnclaimed_revertsIfNotEnded() public {
        uint256 taskId = _createTask();
        _round(taskId, keccak256("root"), 10e18);
        vm.warp(block.timestamp + 2 * market.CLAIM_PERIOD());
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Running
            )
        );
        vm.prank(requester);
        market.sweepUnclaimed(taskId);
    }

    function test_sweepUnclaimed_paysNothingWhenAllClaimed() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.warp(block.timestamp + market.CLAIM_PERIOD());
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.sweepUnclaimed(taskId);
        assertEq(token.balanceOf(requester), before);
        assertTrue(market.getTaskTerms(taskId).unclaimedSwept);
    }

    function test_sweepUnclaimed_worksWhilePaused() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, keccak256("root"), 10e18);
        vm.warp(block.timestamp + market.CLAIM_PERIOD());
        _pause();
        vm.prank(requester);
        market.sweepUnclaimed(taskId);
        assertTrue(market.getTaskTerms(taskId).unclaimedSwept);
    }

    // ----------------------------------------------------------------------------------------------------------
    // revealValidationSet
    // ----------------------------------------------------------------------------------------------------------

    function test_revealValidationSet_byCoordinator() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        bytes32 cid = keccak256("validation-set");
        vm.expectEmit(address(market));
        emit IMarketplace.ValidationSetRevealed(taskId, cid, coordinator);
        vm.prank(coordinator);
        market.revealValidationSet(taskId, cid);
        assertEq(market.getTask(taskId).validationSetCid, cid);
    }

    function test_revealValidationSet_byRequester() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.prank(requester);
        market.revealValidationSet(taskId, keccak256("validation-set"));
        assertEq(market.getTask(taskId).validationSetCid, keccak256("validation-set"));
    }

    function test_revealValidationSet_revertsIfNotRequesterOrCoordinator() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceNotRequesterOrCoordinator.selector, taskId, stranger)
        );
        vm.prank(stranger);
        market.revealValidationSet(taskId, keccak256("validation-set"));
    }

    function test_revealValidationSet_revertsBeforeTaskEnded() public {
        uint256 taskId = _createTask();
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Open)
        );
        vm.prank(coordinator);
        market.revealValidationSet(taskId, keccak256("validation-set"));
    }

    function test_revealValidationSet_revertsIfZeroCid() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(IMarketplace.MarketplaceZeroCid.selector);
        vm.prank(coordinator);
        market.revealValidationSet(taskId, bytes32(0));
    }

    function test_revealValidationSet_revertsIfAlreadyRevealed() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.prank(coordinator);
        market.revealValidationSet(taskId, keccak256("validation-set"));
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceValidationSetAlreadyRevealed.selector, taskId));
        vm.prank(requester);
        market.revealValidationSet(taskId, keccak256("other"));
    }

    function test_revealValidationSet_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 5));
        market.revealValidationSet(5, keccak256("validation-set"));
    }

    // ----------------------------------------------------------------------------------------------------------
    // expireTask
    // ----------------------------------------------------------------------------------------------------------

    function test_expireTask_endsTaskWithStaleOpenRound() public {
        uint256 taskId = _createTask();
        _joinN(taskId, 1);
        (bytes32 root, bytes32[][] memory proofs,) = _rewardTree(taskId, _amounts2(30e18, 0));
        _round(taskId, root, 30e18);
        _start(taskId);
        uint256 expiresAt = market.getRound(taskId, 2).deadline + market.FINALIZE_GRACE_PERIOD();

        vm.warp(expiresAt);
        vm.expectEmit(address(market));
        emit IMarketplace.TaskEnded(taskId, 1, true);
        vm.prank(stranger);
        market.expireTask(taskId);

        IMarketplace.Task memory t = market.getTask(taskId);
        assertEq(uint8(t.status), uint8(IMarketplace.TaskStatus.Ended));
        assertFalse(t.roundOpen);
        assertEq(market.getTaskTerms(taskId).endedAt, expiresAt);
        // Stake and earlier rewards come back; the requester gets the rest.
        _claim(taskId, workers[0], 30e18, proofs[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        assertEq(token.balanceOf(address(market)), 0);
    }

    function test_expireTask_endsTaskWithSilentCoordinatorBetweenRounds() public {
        uint256 taskId = _createTask();
        _round(taskId, bytes32(0), 0);
        uint256 expiresAt = market.getRound(taskId, 1).finalizedAt + market.FINALIZE_GRACE_PERIOD();
        vm.warp(expiresAt);
        vm.expectEmit(address(market));
        emit IMarketplace.TaskEnded(taskId, 1, true);
        market.expireTask(taskId);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
    }

    function test_expireTask_revertsBeforeGracePeriod() public {
        uint256 taskId = _createTask();
        _start(taskId);
        uint256 expiresAt = market.getRound(taskId, 1).deadline + market.FINALIZE_GRACE_PERIOD();
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
    }

    function test_expireTask_revertsIfOpen() public {
        uint256 taskId = _createTask();
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotExpirable.selector, taskId, IMarketplace.TaskStatus.Open
            )
        );
        market.expireTask(taskId);
    }

    function test_expireTask_revertsIfEnded() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotExpirable.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        market.expireTask(taskId);
    }

    function test_expireTask_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 1));
        market.expireTask(1);
    }

    function test_expireTask_revertsWhenPaused() public {
        uint256 taskId = _createTask();
        _start(taskId);
        vm.warp(block.timestamp + 30 days);
        vm.prank(admin);
        market.pause();
        vm.expectRevert(bytes4(keccak256("EnforcedPause()")));
        market.expireTask(taskId);
    }

    function test_expireTask_abandonedRoundCannotBeFinalized() public {
        uint256 taskId = _createTask();
        _start(taskId);
        vm.warp(block.timestamp + 30 days);
        market.expireTask(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNoOpenRound.selector, taskId));
        _finalize(taskId, 1, bytes32(0), 0);
    }
}
