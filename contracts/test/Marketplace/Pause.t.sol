// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice The bounded pause: lapse after MAX_PAUSE_DURATION, cooldown between pauses, paused-seconds accounting,
/// and expiry deadlines that wait pauses out.
contract MarketplacePauseTest is MarketplaceTestBase {
    uint256 internal constant MAX_PAUSE = 3 days;
    uint256 internal constant COOLDOWN = 7 days;
    uint256 internal constant GRACE = 7 days;

    function _unpause() internal {
        vm.prank(admin);
        market.unpause();
    }

    // ----------------------------------------------------------------------------------------------------------
    // pause / unpause
    // ----------------------------------------------------------------------------------------------------------

    function test_constants() public view {
        assertEq(market.MAX_PAUSE_DURATION(), MAX_PAUSE);
        assertEq(market.PAUSE_COOLDOWN(), COOLDOWN);
    }

    /// @dev The old attack: a pauser pauses and never unpauses, freezing joins, rounds and expiry for ever.
    function test_pause_lapsesByItselfAfterMaxDuration() public {
        uint256 taskId = _createTask();
        uint256 start = block.timestamp;
        _pause();

        vm.warp(start + MAX_PAUSE - 1);
        assertTrue(market.paused());
        vm.expectRevert(Pausable.EnforcedPause.selector);
        _join(taskId, workers[0]);

        vm.warp(start + MAX_PAUSE);
        assertFalse(market.paused());
        _join(taskId, workers[0]);
        _start(taskId);
        assertEq(market.getTask(taskId).currentRound, 1);
    }

    /// @dev The other half of the attack: re-pausing the moment a pause lapses.
    function test_pause_revertsDuringCooldownAfterLapse() public {
        uint256 start = block.timestamp;
        _pause();
        uint256 availableAt = start + MAX_PAUSE + COOLDOWN;

        vm.warp(start + MAX_PAUSE);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplacePauseCooldown.selector, availableAt));
        _pause();

        vm.warp(availableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplacePauseCooldown.selector, availableAt));
        _pause();

        vm.warp(availableAt);
        _pause();
        assertTrue(market.paused());
    }

    function test_pause_revertsDuringCooldownAfterUnpause() public {
        _pause();
        vm.warp(block.timestamp + 1 days);
        _unpause();
        uint256 availableAt = block.timestamp + COOLDOWN;
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplacePauseCooldown.selector, availableAt));
        _pause();
        vm.warp(availableAt);
        _pause();
        assertTrue(market.paused());
    }

    function test_pause_revertsWhilePaused() public {
        _pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        _pause();
    }

    function test_unpause_revertsAfterLapse() public {
        _pause();
        vm.warp(block.timestamp + MAX_PAUSE);
        vm.expectRevert(Pausable.ExpectedPause.selector);
        _unpause();
    }

    /// @dev Held for at most MAX_PAUSE in every MAX_PAUSE + COOLDOWN, however often the pauser tries.
    function test_pause_atMostThreeDaysInTen() public {
        uint256 start = block.timestamp;
        for (uint256 i; i < 5; ++i) {
            _pause();
            vm.warp(block.timestamp + MAX_PAUSE + COOLDOWN);
        }
        assertEq(market.pausedSeconds(), 5 * MAX_PAUSE);
        assertEq(block.timestamp - start, 5 * (MAX_PAUSE + COOLDOWN));
    }

    function test_pausedSeconds_countsUnpausedLapsedAndOngoingPauses() public {
        assertEq(market.pausedSeconds(), 0);
        _pause();
        vm.warp(block.timestamp + 1 hours);
        assertEq(market.pausedSeconds(), 1 hours);
        _unpause();
        vm.warp(block.timestamp + COOLDOWN + 5 days);
        assertEq(market.pausedSeconds(), 1 hours);

        // A pause that lapses counts MAX_PAUSE, even long after.
        _pause();
        vm.warp(block.timestamp + 30 days);
        assertEq(market.pausedSeconds(), 1 hours + MAX_PAUSE);

        // Settled by the next pause; the new one adds up as it runs.
        _pause();
        vm.warp(block.timestamp + 2 hours);
        assertEq(market.pausedSeconds(), 1 hours + MAX_PAUSE + 2 hours);
    }

    function test_pause_exitsStayOpen() public {
        uint256 taskId = _createTask();
        _joinN(taskId, 2);
        _round(taskId, bytes32(0), 0);
        _start(taskId);
        _pause();
        // Notice during the open round, eviction checks, endTask: none is blocked by the pause.
        _leave(taskId, workers[0]);
        vm.prank(requester);
        market.endTask(taskId);
        assertTrue(market.getTaskTerms(taskId).endRequested);
    }

    // ----------------------------------------------------------------------------------------------------------
    // expireTask waits pauses out
    // ----------------------------------------------------------------------------------------------------------

    /// @dev The old attack: pause until a silent-coordinator task's grace period ran out, so a task whose
    /// coordinator was blocked by the pause itself could be expired the moment the pause ended.
    function test_expireTask_deadlineMovesByPauseDuringOpenRound() public {
        uint256 taskId = _createTask();
        _start(taskId);
        uint256 deadline = market.getRound(taskId, 1).deadline;

        vm.warp(block.timestamp + 10 minutes);
        _pause();
        vm.warp(block.timestamp + 2 days);
        _unpause();

        uint256 expiresAt = deadline + GRACE + 2 days;
        vm.warp(deadline + GRACE);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
        vm.warp(expiresAt);
        market.expireTask(taskId);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
    }

    function test_expireTask_lapsedPauseBetweenRoundsCountsFullDuration() public {
        uint256 taskId = _createTask();
        _round(taskId, bytes32(0), 0);
        uint256 finalizedAt = market.getRound(taskId, 1).finalizedAt;
        _pause();
        vm.warp(block.timestamp + 20 days); // lapsed after 3

        uint256 expiresAt = finalizedAt + GRACE + MAX_PAUSE;
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
        vm.warp(expiresAt);
        market.expireTask(taskId);
    }

    function test_expireTask_pauseBeforeLastRoundDoesNotCount() public {
        uint256 taskId = _createTask();
        _pause();
        vm.warp(block.timestamp + 1 days);
        _unpause();
        _start(taskId);
        uint256 expiresAt = market.getRound(taskId, 1).deadline + GRACE;
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
        vm.warp(expiresAt);
        market.expireTask(taskId);
    }

    function test_expireTask_blockedWhilePausedThenWaitsItOut() public {
        uint256 taskId = _createTask();
        _start(taskId);
        uint256 deadline = market.getRound(taskId, 1).deadline;
        vm.warp(deadline + GRACE - 1 days);
        _pause();
        vm.warp(deadline + GRACE);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        market.expireTask(taskId);

        // After the lapse the coordinator has the whole paused time back.
        vm.warp(deadline + GRACE + 2 days);
        assertFalse(market.paused());
        uint256 expiresAt = deadline + GRACE + MAX_PAUSE;
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
        _finalize(taskId, 1, bytes32(0), 0);
        assertEq(market.getTask(taskId).currentRound, 1);
    }

    function test_expireTask_pausesInEarlierRoundsDoNotCount() public {
        uint256 taskId = _createTask();
        _start(taskId);
        _pause();
        vm.warp(block.timestamp + 1 days);
        _unpause();
        _finalize(taskId, 1, bytes32(0), 0);
        uint256 expiresAt = block.timestamp + GRACE;
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
        market.expireTask(taskId);
    }
}
