// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice startRound, finalizeRound (including slashing).
contract MarketplaceRoundsTest is MarketplaceTestBase {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _createTask();
        _joinN(taskId, 3);
    }

    // ----------------------------------------------------------------------------------------------------------
    // startRound
    // ----------------------------------------------------------------------------------------------------------

    function test_startRound_opensRoundWithDeadline() public {
        bytes32 cid = keccak256("global-0");
        vm.expectEmit(address(market));
        emit IMarketplace.RoundStarted(taskId, 1, cid, block.timestamp + WINDOW);
        vm.prank(coordinator);
        market.startRound(taskId, cid);

        IMarketplace.Task memory t = market.getTask(taskId);
        assertEq(t.currentRound, 1);
        assertTrue(t.roundOpen);
        assertEq(uint8(t.status), uint8(IMarketplace.TaskStatus.Running));
        IMarketplace.Round memory r = market.getRound(taskId, 1);
        assertEq(r.globalModelCid, cid);
        assertEq(r.startedAt, block.timestamp);
        assertEq(r.deadline, block.timestamp + WINDOW);
        assertEq(r.finalizedAt, 0);
    }

    function test_startRound_numbersRoundsFromOne() public {
        _round(taskId, bytes32(0), 0);
        _start(taskId);
        assertEq(market.getTask(taskId).currentRound, 2);
        assertEq(market.getRound(taskId, 2).deadline, block.timestamp + WINDOW);
    }

    function test_startRound_revertsIfNotCoordinator() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotCoordinator.selector, taskId, requester));
        vm.prank(requester);
        market.startRound(taskId, MODEL_CID);
    }

    function test_startRound_revertsWhileRoundOpen() public {
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRoundOpen.selector, taskId, 1));
        _start(taskId);
    }

    function test_startRound_revertsAfterTaskEnded() public {
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Ended
            )
        );
        _start(taskId);
    }

    function test_startRound_revertsIfCancelled() public {
        vm.prank(requester);
        market.cancelTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotActive.selector, taskId, IMarketplace.TaskStatus.Cancelled
            )
        );
        _start(taskId);
    }

    function test_startRound_revertsIfZeroCid() public {
        vm.expectRevert(IMarketplace.MarketplaceZeroCid.selector);
        vm.prank(coordinator);
        market.startRound(taskId, bytes32(0));
    }

    function test_startRound_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 9));
        vm.prank(coordinator);
        market.startRound(9, MODEL_CID);
    }

    function test_startRound_revertsWhenPaused() public {
        vm.prank(admin);
        market.pause();
        vm.expectRevert(bytes4(keccak256("EnforcedPause()")));
        _start(taskId);
    }

    // ----------------------------------------------------------------------------------------------------------
    // finalizeRound
    // ----------------------------------------------------------------------------------------------------------

    function test_finalizeRound_recordsRoundAndRoot() public {
        _start(taskId);
        vm.warp(block.timestamp + 30 minutes);
        bytes32 newCid = keccak256("model-1");
        bytes32 manifest = keccak256("manifest-1");
        bytes32 root = keccak256("root-1");

        vm.expectEmit(address(market));
        emit IMarketplace.RoundFinalized(taskId, 1, newCid, manifest, root, 100e18);
        vm.prank(coordinator);
        market.finalizeRound(taskId, 1, newCid, manifest, root, 100e18, _noSlashes());

        IMarketplace.Round memory r = market.getRound(taskId, 1);
        assertEq(r.newModelCid, newCid);
        assertEq(r.manifestCid, manifest);
        assertEq(r.rewardsRoot, root);
        assertEq(r.cumulativeRewardsTotal, 100e18);
        assertEq(r.finalizedAt, block.timestamp);
        IMarketplace.Task memory t = market.getTask(taskId);
        assertFalse(t.roundOpen);
        assertEq(t.rewardsRoot, root);
        assertEq(t.committedRewards, 100e18);
        assertEq(uint8(t.status), uint8(IMarketplace.TaskStatus.Running));
    }

    function test_finalizeRound_finalRoundEndsTask() public {
        _round(taskId, bytes32(0), 0);
        _round(taskId, bytes32(0), 0);
        _start(taskId);
        vm.expectEmit(address(market));
        emit IMarketplace.TaskEnded(taskId, ROUNDS, false);
        _finalize(taskId, ROUNDS, keccak256("root"), 1);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
    }

    function test_finalizeRound_allowsEqualTotalAndNewRoot() public {
        _round(taskId, keccak256("a"), 50e18);
        _round(taskId, keccak256("b"), 50e18);
        assertEq(market.getTask(taskId).rewardsRoot, keccak256("b"));
    }

    function test_finalizeRound_allowsWholePool() public {
        _round(taskId, keccak256("a"), POOL);
        assertEq(market.getTask(taskId).committedRewards, POOL);
    }

    function test_finalizeRound_revertsIfNotCoordinator() public {
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotCoordinator.selector, taskId, stranger));
        vm.prank(stranger);
        market.finalizeRound(taskId, 1, MODEL_CID, MANIFEST_CID, bytes32(0), 0, _noSlashes());
    }

    function test_finalizeRound_revertsIfNoOpenRound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNoOpenRound.selector, taskId));
        _finalize(taskId, 1, bytes32(0), 0);
    }

    function test_finalizeRound_revertsIfWrongRound() public {
        _round(taskId, bytes32(0), 0);
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWrongRound.selector, taskId, 2, 1));
        _finalize(taskId, 1, bytes32(0), 0);
    }

    function test_finalizeRound_revertsIfZeroModelCid() public {
        _start(taskId);
        vm.expectRevert(IMarketplace.MarketplaceZeroCid.selector);
        vm.prank(coordinator);
        market.finalizeRound(taskId, 1, bytes32(0), MANIFEST_CID, bytes32(0), 0, _noSlashes());
    }

    function test_finalizeRound_revertsIfZeroManifestCid() public {
        _start(taskId);
        vm.expectRevert(IMarketplace.MarketplaceZeroCid.selector);
        vm.prank(coordinator);
        market.finalizeRound(taskId, 1, MODEL_CID, bytes32(0), bytes32(0), 0, _noSlashes());
    }

    function test_finalizeRound_revertsIfTotalDecreases() public {
        _round(taskId, keccak256("a"), 50e18);
        _start(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceRewardsTotalDecreased.selector, taskId, 50e18, 49e18)
        );
        _finalize(taskId, 2, keccak256("b"), 49e18);
    }

    function test_finalizeRound_revertsIfTotalExceedsPool() public {
        _start(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceRewardsExceedFunds.selector, taskId, POOL + 1, POOL)
        );
        _finalize(taskId, 1, keccak256("a"), POOL + 1);
    }

    /// @dev The old problem: a zero root with a non-zero total commits rewards that no proof can ever claim.
    function test_finalizeRound_revertsIfZeroRootWithRewards() public {
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceZeroRewardsRoot.selector, taskId));
        _finalize(taskId, 1, bytes32(0), 1);
    }

    function test_finalizeRound_revertsIfZeroRootReplacesCommittedRoot() public {
        _round(taskId, keccak256("a"), 50e18);
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceZeroRewardsRoot.selector, taskId));
        _finalize(taskId, 2, bytes32(0), 50e18);
    }

    function test_finalizeRound_allowsZeroRootWithoutRewards() public {
        _round(taskId, bytes32(0), 0);
        assertEq(market.getTask(taskId).committedRewards, 0);
    }

    function test_finalizeRound_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 77));
        _finalize(77, 1, bytes32(0), 0);
    }

    function test_finalizeRound_revertsWhenPaused() public {
        _start(taskId);
        vm.prank(admin);
        market.pause();
        vm.expectRevert(bytes4(keccak256("EnforcedPause()")));
        _finalize(taskId, 1, bytes32(0), 0);
    }

    function test_finalizeRound_revertsAfterTaskEnded() public {
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNoOpenRound.selector, taskId));
        _finalize(taskId, ROUNDS, bytes32(0), 0);
    }

    // --- slashing ---

    function test_finalizeRound_slashToPoolFundsRewards() public {
        _start(taskId);
        IMarketplace.Slash[] memory s = new IMarketplace.Slash[](2);
        s[0] = IMarketplace.Slash(workers[0], 4e18, IMarketplace.SlashReason.Poisoning);
        s[1] = IMarketplace.Slash(workers[1], 1e18, IMarketplace.SlashReason.NoShow);

        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(taskId, 1, workers[0], 4e18, IMarketplace.SlashReason.Poisoning, false);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(taskId, 1, workers[1], 1e18, IMarketplace.SlashReason.NoShow, false);
        // The slashed 5e18 already counts towards this round's bound.
        _finalize(taskId, 1, keccak256("a"), POOL + 5e18, s);

        assertEq(market.stakeOf(taskId, workers[0]), STAKE - 4e18);
        assertEq(market.stakeOf(taskId, workers[1]), STAKE - 1e18);
        IMarketplace.Task memory t = market.getTask(taskId);
        assertEq(t.slashedToPool, 5e18);
        assertEq(t.slashedToRequester, 0);
        assertEq(t.committedRewards, POOL + 5e18);
    }

    function test_finalizeRound_slashToRequesterDoesNotFundRewards() public {
        IMarketplace.TaskConfig memory c = _config();
        c.slashToRequester = true;
        uint256 id = _createTask(c);
        _joinN(id, 1);
        _start(id);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRewardsExceedFunds.selector, id, POOL + 1, POOL));
        _finalize(id, 1, keccak256("a"), POOL + 1, _slash(workers[0], 5e18));

        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(id, 1, workers[0], 5e18, IMarketplace.SlashReason.FreeRider, true);
        _finalize(id, 1, keccak256("a"), POOL, _slash(workers[0], 5e18));
        IMarketplace.Task memory t = market.getTask(id);
        assertEq(t.slashedToRequester, 5e18);
        assertEq(t.slashedToPool, 0);
    }

    function test_finalizeRound_slashIsClampedToRemainingStake() public {
        _start(taskId);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 7e18));
        _start(taskId);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(taskId, 2, workers[0], STAKE - 7e18, IMarketplace.SlashReason.FreeRider, false);
        _finalize(taskId, 2, bytes32(0), 0, _slash(workers[0], 7e18));
        assertEq(market.stakeOf(taskId, workers[0]), 0);
        assertEq(market.getTask(taskId).slashedToPool, STAKE);
        // Still an (unstaked) worker until it leaves or is evicted.
        assertTrue(market.isWorker(taskId, workers[0]));
    }

    function test_finalizeRound_revertsIfSlashingNonWorker() public {
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, stranger));
        _finalize(taskId, 1, bytes32(0), 0, _slash(stranger, 1));
    }

    function test_finalizeRound_revertsIfSlashingWorkerThatLeft() public {
        vm.prank(workers[2]);
        market.leaveTask(taskId);
        _start(taskId);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, workers[2]));
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[2], 1));
    }

    function test_finalizeRound_zeroAmountSlashIsRecorded() public {
        _start(taskId);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(taskId, 1, workers[0], 0, IMarketplace.SlashReason.FreeRider, false);
        _finalize(taskId, 1, bytes32(0), 0, _slash(workers[0], 0));
        assertEq(market.stakeOf(taskId, workers[0]), STAKE);
    }

    // --- per-round slash bound and slash list order ---

    /// @dev The old attack: a coordinator takes a worker's whole stake in one round (or lists it several times).
    /// Each round now takes at most stakeRequired * maxSlashBps / 10000 from a worker.
    function test_finalizeRound_slashClampedByMaxSlashBps() public {
        IMarketplace.TaskConfig memory c = _config();
        c.maxSlashBps = 2500;
        c.numRounds = 5;
        uint256 id = _createTask(c);
        _joinN(id, 1);
        _start(id);
        vm.expectEmit(address(market));
        emit IMarketplace.WorkerSlashed(id, 1, workers[0], STAKE / 4, IMarketplace.SlashReason.FreeRider, false);
        _finalize(id, 1, bytes32(0), 0, _slash(workers[0], type(uint256).max));
        assertEq(market.stakeOf(id, workers[0]), STAKE * 3 / 4);

        // Below the bound, the requested amount.
        _start(id);
        _finalize(id, 2, bytes32(0), 0, _slash(workers[0], 1e18));
        assertEq(market.stakeOf(id, workers[0]), STAKE * 3 / 4 - 1e18);

        // The bound is of the required stake, not of what is left; the remaining stake still clamps.
        for (uint32 r = 3; r <= 5; ++r) {
            _start(id);
            _finalize(id, r, bytes32(0), 0, _slash(workers[0], STAKE));
        }
        assertEq(market.stakeOf(id, workers[0]), 0);
        assertEq(market.getTask(id).slashedToPool, STAKE);
    }

    function test_finalizeRound_revertsIfSlashListNamesWorkerTwice() public {
        _start(taskId);
        IMarketplace.Slash[] memory s = new IMarketplace.Slash[](2);
        s[0] = IMarketplace.Slash(workers[0], 1e18, IMarketplace.SlashReason.Copy);
        s[1] = IMarketplace.Slash(workers[0], 1e18, IMarketplace.SlashReason.Other);
        vm.expectRevert(IMarketplace.MarketplaceSlashesNotSorted.selector);
        _finalize(taskId, 1, bytes32(0), 0, s);
    }

    function test_finalizeRound_revertsIfSlashListUnsorted() public {
        _start(taskId);
        IMarketplace.Slash[] memory s = new IMarketplace.Slash[](3);
        s[0] = IMarketplace.Slash(workers[0], 1e18, IMarketplace.SlashReason.Copy);
        s[1] = IMarketplace.Slash(workers[2], 1e18, IMarketplace.SlashReason.Copy);
        s[2] = IMarketplace.Slash(workers[1], 1e18, IMarketplace.SlashReason.Copy);
        vm.expectRevert(IMarketplace.MarketplaceSlashesNotSorted.selector);
        _finalize(taskId, 1, bytes32(0), 0, s);
    }
}
