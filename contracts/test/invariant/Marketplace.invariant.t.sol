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
        handler = new MarketplaceHandler(market, token);

        // Duplicates weight the draw towards the actions that move funds.
        bytes4[] memory selectors = new bytes4[](16);
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
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice The contract's token balance equals everything deposited (pools + stakes) minus everything paid
    /// out (claims, stake returns, refunds), both overall and rebuilt task by task from storage.
    function invariant_balanceEqualsPoolsPlusStakesMinusPaidOut() public view {
        uint256 balance = token.balanceOf(address(market));
        assertEq(balance, handler.ghostDeposited() - handler.ghostWithdrawn(), "balance != in - out");

        uint256 rebuilt;
        for (uint256 k; k < handler.taskCount(); ++k) {
            uint256 taskId = handler.taskIds(k);
            IMarketplace.Task memory t = market.getTask(taskId);
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
            }
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
    }
}
