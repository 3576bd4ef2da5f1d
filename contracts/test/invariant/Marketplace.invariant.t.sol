// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test, console2} from "forge-std/Test.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {TestToken} from "../../src/TestToken.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceHandler} from "./MarketplaceHandler.sol";

/// forge-config: default.invariant.fail-on-revert = true
contract MarketplaceInvariantTest is Test {
    Marketplace internal market;
    TestToken internal token;
    MarketplaceHandler internal handler;

    function setUp() public {
        market = new Marketplace(address(this));
        token = new TestToken("Tessera Test Token", "TTT");
        // This contract is the admin and so the pauser; the handler pauses and unpauses in its name.
        handler = new MarketplaceHandler(market, token, address(this));

        // Duplicates weight the draw towards the actions that move funds.
        bytes4[] memory selectors = new bytes4[](22);
        selectors[0] = MarketplaceHandler.createTask.selector;
        selectors[1] = MarketplaceHandler.join.selector;
        selectors[2] = MarketplaceHandler.join.selector;
        selectors[3] = MarketplaceHandler.join.selector;
        selectors[4] = MarketplaceHandler.leaveTask.selector;
        selectors[5] = MarketplaceHandler.startRound.selector;
        selectors[6] = MarketplaceHandler.finalizeRound.selector;
        selectors[7] = MarketplaceHandler.finalizeRound.selector;
        selectors[8] = MarketplaceHandler.claim.selector;
        selectors[9] = MarketplaceHandler.claim.selector;
        selectors[10] = MarketplaceHandler.claim.selector;
        selectors[11] = MarketplaceHandler.withdrawStake.selector;
        selectors[12] = MarketplaceHandler.withdrawUnspent.selector;
        selectors[13] = MarketplaceHandler.cancelTask.selector;
        selectors[14] = MarketplaceHandler.expireTask.selector;
        selectors[15] = MarketplaceHandler.warp.selector;
        selectors[16] = MarketplaceHandler.pause.selector;
        selectors[17] = MarketplaceHandler.unpause.selector;
        selectors[18] = MarketplaceHandler.endTask.selector;
        selectors[19] = MarketplaceHandler.evictWorker.selector;
        selectors[20] = MarketplaceHandler.sweepUnclaimed.selector;
        selectors[21] = MarketplaceHandler.leaveTask.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice The contract's token balance equals everything deposited (pools + stakes) minus everything paid
    /// out (claims, stake returns, refunds, sweeps), both overall and rebuilt task by task from storage; stakes
    /// still escrowed after a notice or an eviction count as held.
    function invariant_balanceEqualsPoolsPlusStakesMinusPaidOut() public view {
        uint256 balance = token.balanceOf(address(market));
        assertEq(balance, handler.ghostDeposited() - handler.ghostWithdrawn(), "balance != in - out");

        uint256 rebuilt;
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            IMarketplace.Task memory t = market.getTask(taskId);
            bool swept = market.getTaskTerms(taskId).unclaimedSwept;
            uint256 stakes;
            for (uint256 i; i < handler.actorCount(); ++i) {
                stakes += market.stakeOf(taskId, handler.actors(i));
            }
            uint256 held = stakes;
            if (t.status != IMarketplace.TaskStatus.Cancelled) {
                held += uint256(t.rewardPool) + t.slashedToPool + t.slashedToRequester - t.paidOut;
                if (t.unspentWithdrawn) {
                    held -= uint256(t.rewardPool) + t.slashedToPool - t.committedRewards + t.slashedToRequester;
                }
                // Claims close before a sweep, so paidOut no longer moves after it.
                if (swept) held -= uint256(t.committedRewards) - t.paidOut;
            }
            assertEq(swept ? t.committedRewards - t.paidOut : 0, handler.ghostSwept(taskId), "swept");
            assertEq(held, handler.ghostTaskIn(taskId) - handler.ghostTaskOut(taskId), "task holdings");
            rebuilt += held;
        }
        assertEq(balance, rebuilt, "balance != sum of tasks");
    }

    /// @notice Per task, rewards paid never exceed the committed total, which never exceeds the pool plus the
    /// stake slashed into it.
    function invariant_paidOutBoundedByPoolPlusSlashed() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            IMarketplace.Task memory t = market.getTask(taskId);
            assertEq(t.paidOut, handler.ghostPaid(taskId), "paidOut != ghost");
            assertLe(t.paidOut, t.committedRewards, "paidOut > committed");
            assertLe(t.committedRewards, uint256(t.rewardPool) + t.slashedToPool, "committed > pool + slashed");
        }
    }

    /// @notice No account is ever paid more than the largest cumulative amount any root committed to it.
    function invariant_noWorkerPaidAboveCommitted() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            for (uint256 i; i < handler.actorCount(); ++i) {
                address w = handler.actors(i);
                uint256 paid = market.claimed(taskId, w);
                assertEq(paid, handler.ghostPaidTo(taskId, w), "claimed != ghost");
                assertLe(paid, handler.ghostMaxCommitted(taskId, w), "paid above committed");
            }
        }
    }

    /// @notice Repeating a successful claim never pays again.
    function invariant_noClaimPaidTwice() public view {
        assertFalse(handler.ghostDoubleClaimPaid());
    }

    /// @notice Slashes never take more than a worker staked; the task's slash totals match the ghosts.
    function invariant_slashNeverExceedsStake() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            IMarketplace.Task memory t = market.getTask(taskId);
            assertEq(uint256(t.slashedToPool) + t.slashedToRequester, handler.ghostSlashed(taskId), "slashed total");
            for (uint256 i; i < handler.actorCount(); ++i) {
                address w = handler.actors(i);
                assertLe(handler.ghostSlashedFrom(taskId, w), handler.ghostStakedBy(taskId, w), "slash above stake");
                assertLe(market.stakeOf(taskId, w), t.stakeRequired, "stake above required");
            }
        }
    }

    /// @notice An evicted worker's stake stays escrowed, whole, until it takes it back: no later round slashes it.
    function invariant_evictedStakeHeldUntilWithdrawn() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            for (uint256 i; i < handler.actorCount(); ++i) {
                address w = handler.actors(i);
                uint256 held = handler.ghostEvictedHeld(taskId, w);
                if (held != 0) assertEq(market.stakeOf(taskId, w), held, "evicted stake moved");
            }
        }
    }

    /// @notice No worker ever loses more than stakeRequired * maxSlashBps / 10000 in one round.
    function invariant_slashPerRoundBounded() public view {
        assertFalse(handler.ghostSlashAboveCap());
    }

    /// @notice A pause is never in force MAX_PAUSE_DURATION after it began, and the paused-seconds counter
    /// matches a model rebuilt from the pause and unpause calls.
    function invariant_pauseIsBounded() public view {
        if (market.paused()) {
            assertLt(block.timestamp, handler.ghostPauseStartedAt() + market.MAX_PAUSE_DURATION(), "pause too long");
        }
        assertEq(market.pausedSeconds(), handler.ghostPausedSeconds(), "paused seconds");
    }

    /// @notice Committed rewards always sit under a usable root.
    function invariant_committedRewardsHaveRoot() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            IMarketplace.Task memory t = market.getTask(handler.taskIds(k));
            if (t.committedRewards != 0) assertTrue(t.rewardsRoot != bytes32(0), "committed under zero root");
        }
    }

    /// @notice Every round's submission window is within MAX_SUBMISSION_WINDOW.
    function invariant_submissionWindowBounded() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            uint32 rounds = market.getTask(taskId).currentRound;
            for (uint32 r = 1; r <= rounds; ++r) {
                IMarketplace.Round memory round = market.getRound(taskId, r);
                assertLe(round.deadline - round.startedAt, market.MAX_SUBMISSION_WINDOW(), "window too long");
            }
        }
    }

    /// @notice An ended task records when it ended; no other task does.
    function invariant_endedAtSetExactlyWhenEnded() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            bool ended = market.getTask(taskId).status == IMarketplace.TaskStatus.Ended;
            assertEq(market.getTaskTerms(taskId).endedAt != 0, ended, "endedAt");
        }
    }

    /// @notice workerCount equals the number of active workers.
    function invariant_workerCountMatchesActiveWorkers() public view {
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            uint256 active;
            for (uint256 i; i < handler.actorCount(); ++i) {
                if (market.isWorker(taskId, handler.actors(i))) ++active;
            }
            assertEq(market.workerCount(taskId), active);
            assertLe(active, market.getTask(taskId).maxWorkers);
        }
    }

    /// @dev With -vv, shows how often each action really ran in a run (not just returned early).
    function afterInvariant() external view {
        console2.log("tasks", handler.taskCount(), "finalized", handler.calls("finalizeRound"));
        console2.log("claims paid", handler.calls("claim"), "claims bounded", handler.calls("claim-bounded"));
        console2.log("joins", handler.calls("join"), "leaves", handler.calls("leaveTask"));
        console2.log("stake withdrawals", handler.calls("withdrawStake"), "unspent", handler.calls("withdrawUnspent"));
        console2.log("cancels", handler.calls("cancelTask"), "expiries", handler.calls("expireTask"));
        console2.log("notices", handler.calls("leaveNotice"), "pending withdrawals", handler.calls("withdrawPending"));
        console2.log("ends", handler.calls("endTask"), "evictions", handler.calls("evictWorker"));
        console2.log("evicted withdrawals", handler.calls("withdrawEvicted"));
        console2.log("sweeps", handler.calls("sweepUnclaimed"), "late claims", handler.calls("claim-late"));
        console2.log("pauses", handler.calls("pause"), "unpauses", handler.calls("unpause"));
        console2.log("pause cooldowns", handler.calls("pause-cooldown"), "rejected", handler.calls("finalize-rejected"));
    }
}
