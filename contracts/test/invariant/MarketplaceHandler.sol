// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {TestToken} from "../../src/TestToken.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice Drives the marketplace with bounded inputs, keeps ghost accounting, and builds real Merkle trees
/// over its fixed set of actors (sorted by address, as slash lists must be). Every call it makes either must
/// succeed or is wrapped in an exact expectRevert, so the invariant suite can run with fail-on-revert.
contract MarketplaceHandler is CommonBase, StdCheats, StdUtils {
    uint256 internal constant N_ACTORS = 6;
    uint256 internal constant MAX_TASKS = 4;

    Marketplace public immutable market;
    TestToken public immutable token;
    address public immutable pauser;
    address public immutable requester;
    address public immutable coordinator;
    address[N_ACTORS] public actors;

    uint256[] public taskIds;

    // Latest root's cumulative amounts per task and actor (what the claim proofs are built from).
    mapping(uint256 taskId => uint256[N_ACTORS]) internal _cumulative;

    // ------------------------------------------------------------------ ghosts
    uint256 public ghostDeposited; // pools + stakes pulled in
    uint256 public ghostWithdrawn; // claims + stake returns (leave, withdrawStake) + refunds + unspent + sweeps
    mapping(uint256 taskId => uint256) public ghostTaskIn;
    mapping(uint256 taskId => uint256) public ghostTaskOut;
    mapping(uint256 taskId => uint256) public ghostPaid; // rewards claimed
    mapping(uint256 taskId => uint256) public ghostSlashed; // total slashed (to pool or requester)
    mapping(uint256 taskId => mapping(address => uint256)) public ghostMaxCommitted;
    mapping(uint256 taskId => mapping(address => uint256)) public ghostPaidTo;
    mapping(uint256 taskId => mapping(address => uint256)) public ghostStakedBy;
    mapping(uint256 taskId => mapping(address => uint256)) public ghostSlashedFrom;
    mapping(uint256 taskId => uint256) public ghostSwept; // unclaimed rewards swept to the requester
    // market.pausedSeconds() when the handler last started or finalized a round of the task.
    mapping(uint256 taskId => uint256) public ghostPausedAtLastRound;
    // The round that was open when the actor gave notice (left during it), or the closed round it was evicted
    // after.
    mapping(uint256 taskId => mapping(address => uint32)) public ghostExitRound;
    // Stake an eviction left escrowed for the actor, until it takes it back (nothing may slash it meanwhile).
    mapping(uint256 taskId => mapping(address => uint256)) public ghostEvictedHeld;
    bool public ghostDoubleClaimPaid;
    bool public ghostSlashAboveCap; // some worker lost more than stakeRequired * maxSlashBps / 10000 in one round
    // Pause model, rebuilt from the pause/unpause calls alone.
    uint256 public ghostPauseStartedAt; // start of the latest pause not ended by an unpause (0: none)
    uint256 public ghostPauseEndedAt; // end of the latest ended pause (unpause or lapse)
    uint256 public ghostSettledPausedSeconds;

    mapping(bytes32 => uint256) public calls;

    constructor(Marketplace market_, TestToken token_, address pauser_) {
        market = market_;
        token = token_;
        pauser = pauser_;
        requester = makeAddr("inv-requester");
        coordinator = makeAddr("inv-coordinator");
        for (uint256 i; i < N_ACTORS; ++i) {
            actors[i] = makeAddr(string.concat("inv-worker", vm.toString(i)));
        }
        for (uint256 i = 1; i < N_ACTORS; ++i) {
            for (uint256 j = i; j > 0 && actors[j] < actors[j - 1]; --j) {
                (actors[j], actors[j - 1]) = (actors[j - 1], actors[j]);
            }
        }
    }

    function taskCount() external view returns (uint256) {
        return taskIds.length;
    }

    function actorCount() external pure returns (uint256) {
        return N_ACTORS;
    }

    // ------------------------------------------------------------------ actions

    /// @param variant 0: a window above the bound, 1: a zero stake, 2: an invalid slash bound (all revert);
    /// anything else a valid task.
    function createTask(
        uint256 pool,
        uint256 stake,
        uint8 rounds,
        uint8 cap,
        bool slashToRequester,
        uint32 window,
        uint16 maxSlashBps,
        uint8 variant
    ) external {
        if (taskIds.length >= MAX_TASKS) return;
        pool = bound(pool, 1, 1e30);
        IMarketplace.TaskConfig memory c = IMarketplace.TaskConfig({
            rewardToken: address(token),
            rewardPool: pool,
            stakeRequired: bound(stake, 1, 1e24),
            numRounds: uint32(bound(rounds, 1, 4)),
            maxWorkers: uint32(bound(cap, 1, N_ACTORS)),
            submissionWindow: uint32(bound(window, 1, market.MAX_SUBMISSION_WINDOW())),
            coordinator: coordinator,
            modelArchitectureId: keccak256("arch"),
            initialModelCid: keccak256("initial"),
            validationSetCommitment: bytes32(0),
            allowlistRoot: bytes32(0),
            slashToRequester: slashToRequester,
            maxSlashBps: uint16(bound(maxSlashBps, 1, 10_000)),
            accessPolicy: bytes32(0)
        });
        if (market.paused()) {
            vm.expectRevert(Pausable.EnforcedPause.selector);
            vm.prank(requester);
            market.createTask(c);
            return;
        }
        variant %= 16;
        if (variant <= 2) {
            if (variant == 0) {
                c.submissionWindow = uint32(market.MAX_SUBMISSION_WINDOW()) + 1;
                vm.expectRevert(
                    abi.encodeWithSelector(
                        IMarketplace.MarketplaceSubmissionWindowTooLong.selector,
                        c.submissionWindow,
                        market.MAX_SUBMISSION_WINDOW()
                    )
                );
            } else if (variant == 1) {
                c.stakeRequired = 0;
                vm.expectRevert(IMarketplace.MarketplaceZeroStake.selector);
            } else {
                c.maxSlashBps = maxSlashBps % 2 == 0 ? 0 : 10_001;
                vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceInvalidMaxSlash.selector, c.maxSlashBps));
            }
            vm.prank(requester);
            market.createTask(c);
            return;
        }
        token.mint(requester, pool);
        vm.startPrank(requester);
        token.approve(address(market), pool);
        uint256 taskId = market.createTask(c);
        vm.stopPrank();
        taskIds.push(taskId);
        _in(taskId, pool);
        ++calls["createTask"];
    }

    function join(uint256 taskSeed, uint256 actorSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        address w = _actor(actorSeed);
        if (market.paused()) {
            vm.expectRevert(Pausable.EnforcedPause.selector);
            vm.prank(w);
            market.join(taskId, new bytes32[](0));
            return;
        }
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
        if (t.roundOpen || market.isWorker(taskId, w)) return;
        uint256 pending = market.stakeOf(taskId, w);
        if (pending != 0) {
            // Left during a round, or was evicted, and did not take its stake back yet.
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplacePendingStake.selector, taskId, w, pending));
            vm.prank(w);
            market.join(taskId, new bytes32[](0));
            return;
        }
        if (t.workerCount >= t.maxWorkers) {
            vm.expectRevert(
                abi.encodeWithSelector(IMarketplace.MarketplaceWorkerCapReached.selector, taskId, t.maxWorkers)
            );
            vm.prank(w);
            market.join(taskId, new bytes32[](0));
            return;
        }
        token.mint(w, t.stakeRequired);
        vm.startPrank(w);
        token.approve(address(market), t.stakeRequired);
        market.join(taskId, new bytes32[](0));
        vm.stopPrank();
        ghostStakedBy[taskId][w] += t.stakeRequired;
        _in(taskId, t.stakeRequired);
        ++calls["join"];
    }

    function leaveTask(uint256 taskSeed, uint256 actorSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        address w = _actor(actorSeed);
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
        if (!market.isWorker(taskId, w)) return;
        uint256 stake = market.stakeOf(taskId, w);
        uint256 before = token.balanceOf(w);
        vm.prank(w);
        market.leaveTask(taskId);
        if (t.roundOpen) {
            // Notice: out at once, the stake stays escrowed for this round's finalize.
            require(token.balanceOf(w) == before, "notice paid out");
            require(market.stakeOf(taskId, w) == stake, "notice moved the stake");
            ghostExitRound[taskId][w] = t.currentRound;
            ++calls["leaveNotice"];
            return;
        }
        require(token.balanceOf(w) - before == stake, "leave paid wrong amount");
        _out(taskId, stake);
        ++calls["leaveTask"];
    }

    function startRound(uint256 taskSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
        if (t.roundOpen) return;
        if (market.paused()) {
            vm.expectRevert(Pausable.EnforcedPause.selector);
            vm.prank(coordinator);
            market.startRound(taskId, keccak256(abi.encode("global", taskId, t.currentRound + 1)));
            return;
        }
        vm.prank(coordinator);
        market.startRound(taskId, keccak256(abi.encode("global", taskId, t.currentRound + 1)));
        ghostPausedAtLastRound[taskId] = market.pausedSeconds();
        ++calls["startRound"];
    }

    /// @param incSeed Drives the reward increments.
    /// @param slashSeed Drives which workers get slashed and how much (possibly above their stake).
    /// @param mode 0-2: honest tree (leaves sum to the total); 3: over-committing tree (leaves sum above the
    /// total, like a compromised coordinator); 4: a tree that lowers some cumulative amounts; 5: a slash list
    /// naming a worker twice; 6: a non-zero total under a zero root; 7: a slash of an exited worker this round
    /// cannot judge, such as an evicted one (all three revert).
    function finalizeRound(uint256 taskSeed, uint256 incSeed, uint256 slashSeed, uint8 mode) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (market.paused()) {
            if (!t.roundOpen) return;
            vm.expectRevert(Pausable.EnforcedPause.selector);
            vm.prank(coordinator);
            market.finalizeRound(taskId, t.currentRound, "m", "f", "r", 0, new IMarketplace.Slash[](0));
            return;
        }
        if (!t.roundOpen) {
            // Open one first, so that short call sequences still make progress.
            if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
            vm.prank(coordinator);
            market.startRound(taskId, keccak256(abi.encode("global", taskId, t.currentRound + 1)));
            ghostPausedAtLastRound[taskId] = market.pausedSeconds();
            t = market.getTask(taskId);
        }
        mode = uint8(bound(mode, 0, 7));
        if (mode >= 5 && _finalizeRejected(taskId, t, slashSeed, mode)) return;

        IMarketplace.Slash[] memory slashes = _slashes(taskId, slashSeed);
        (uint256 slashedNow, uint256[] memory stakesBefore) = _expectSlashes(taskId, t, slashes);
        (uint256[N_ACTORS] memory cum, uint256 total) = _nextTree(taskId, t, slashedNow, incSeed, mode);

        bytes32 root = MerkleBuilder.root(_leaves(taskId, cum));
        vm.prank(coordinator);
        market.finalizeRound(
            taskId,
            t.currentRound,
            keccak256(abi.encode("model", taskId, t.currentRound)),
            keccak256(abi.encode("manifest", taskId, t.currentRound)),
            root,
            total,
            slashes
        );
        ghostPausedAtLastRound[taskId] = market.pausedSeconds();
        uint256 cap = uint256(t.stakeRequired) * market.getTaskTerms(taskId).maxSlashBps / 10_000;
        for (uint256 i; i < slashes.length; ++i) {
            if (stakesBefore[i] - market.stakeOf(taskId, slashes[i].worker) > cap) ghostSlashAboveCap = true;
        }
        _cumulative[taskId] = cum;
        for (uint256 i; i < N_ACTORS; ++i) {
            if (cum[i] > ghostMaxCommitted[taskId][actors[i]]) ghostMaxCommitted[taskId][actors[i]] = cum[i];
        }
        ++calls["finalizeRound"];
    }

    function claim(uint256 taskSeed, uint256 actorSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.rewardsRoot == bytes32(0)) return;
        uint256 closedAt = uint256(market.getTaskTerms(taskId).endedAt) + market.CLAIM_PERIOD();
        // forge-lint: disable-next-line(block-timestamp)
        if (t.status == IMarketplace.TaskStatus.Ended && block.timestamp >= closedAt) {
            // Claims closed: even a valid, unpaid leaf is refused.
            uint256 j = actorSeed % N_ACTORS;
            bytes32[] memory lateProof = MerkleBuilder.proof(_leaves(taskId, _cumulative[taskId]), j);
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceClaimPeriodOver.selector, taskId, closedAt));
            vm.prank(actors[j]);
            market.claim(taskId, _cumulative[taskId][j], lateProof);
            ++calls["claim-late"];
            return;
        }
        // Prefer an actor with something to claim (most random picks would have nothing).
        uint256 idx = actorSeed % N_ACTORS;
        if (actorSeed % 8 != 0) {
            for (uint256 k; k < N_ACTORS; ++k) {
                uint256 j = (idx + k) % N_ACTORS;
                if (_cumulative[taskId][j] > market.claimed(taskId, actors[j])) {
                    idx = j;
                    break;
                }
            }
        }
        address w = actors[idx];
        uint256 cum = _cumulative[taskId][idx];
        bytes32[] memory proof = MerkleBuilder.proof(_leaves(taskId, _cumulative[taskId]), idx);
        uint256 already = market.claimed(taskId, w);

        if (cum <= already) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNothingToClaim.selector, taskId, w, already));
            vm.prank(w);
            market.claim(taskId, cum, proof);
            return;
        }
        uint256 amount = cum - already;
        if (amount > t.committedRewards - t.paidOut) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IMarketplace.MarketplaceClaimExceedsCommitted.selector,
                    taskId,
                    t.paidOut,
                    amount,
                    t.committedRewards
                )
            );
            vm.prank(w);
            market.claim(taskId, cum, proof);
            ++calls["claim-bounded"];
            return;
        }
        uint256 before = token.balanceOf(w);
        vm.prank(w);
        market.claim(taskId, cum, proof);
        require(token.balanceOf(w) - before == amount, "claim paid wrong amount");
        ghostPaid[taskId] += amount;
        ghostPaidTo[taskId][w] += amount;
        _out(taskId, amount);
        ++calls["claim"];

        // The same claim again must not pay.
        vm.prank(w);
        try market.claim(taskId, cum, proof) {
            ghostDoubleClaimPaid = true;
        } catch {}
    }

    function withdrawStake(uint256 taskSeed, uint256 actorSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        // Half the time prefer an exited actor with stake still escrowed (notice or eviction).
        address w = actorSeed % 2 == 0 ? _actorWhere(taskId, actorSeed, _hasPendingStake) : _actor(actorSeed);
        IMarketplace.Task memory t = market.getTask(taskId);
        IMarketplace.WorkerInfo memory info = market.getWorker(taskId, w);
        bool pending = info.status == IMarketplace.WorkerStatus.Exited && info.stake != 0;
        if (pending) {
            uint32 exitRound = ghostExitRound[taskId][w];
            if (t.roundOpen && t.currentRound == exitRound) {
                vm.expectRevert(
                    abi.encodeWithSelector(IMarketplace.MarketplaceStakeLocked.selector, taskId, w, exitRound)
                );
                vm.prank(w);
                market.withdrawStake(taskId);
                return;
            }
            ++calls["withdrawPending"];
        } else {
            if (info.status != IMarketplace.WorkerStatus.Active) return;
            if (t.status != IMarketplace.TaskStatus.Ended && t.status != IMarketplace.TaskStatus.Cancelled) {
                vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotEnded.selector, taskId, t.status));
                vm.prank(w);
                market.withdrawStake(taskId);
                return;
            }
        }
        uint256 stake = info.stake;
        uint256 before = token.balanceOf(w);
        vm.prank(w);
        market.withdrawStake(taskId);
        require(token.balanceOf(w) - before == stake, "withdrawStake paid wrong amount");
        _out(taskId, stake);
        if (ghostEvictedHeld[taskId][w] != 0) {
            ghostEvictedHeld[taskId][w] = 0;
            ++calls["withdrawEvicted"];
        }
        ++calls["withdrawStake"];
    }

    function withdrawUnspent(uint256 taskSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Ended || t.unspentWithdrawn) return;
        uint256 amount = uint256(t.rewardPool) + t.slashedToPool - t.committedRewards + t.slashedToRequester;
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        require(token.balanceOf(requester) - before == amount, "withdrawUnspent paid wrong amount");
        _out(taskId, amount);
        ++calls["withdrawUnspent"];
    }

    function cancelTask(uint256 taskSeed) external {
        // Rare, so that most tasks live long enough to pay rewards.
        if (taskSeed % 4 != 0) return;
        (bool ok, uint256 taskId) = _task(taskSeed / 4);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Open) return;
        vm.prank(requester);
        market.cancelTask(taskId);
        _out(taskId, t.rewardPool);
        ++calls["cancelTask"];
    }

    function expireTask(uint256 taskSeed) external {
        if (taskSeed % 4 != 0) return;
        (bool ok, uint256 taskId) = _task(taskSeed / 4);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Running) return;
        if (market.paused()) {
            vm.expectRevert(Pausable.EnforcedPause.selector);
            market.expireTask(taskId);
            return;
        }
        IMarketplace.Round memory r = market.getRound(taskId, t.currentRound);
        // The grace period waits out what was paused since the last start or finalize.
        uint256 expiresAt = uint256(t.roundOpen ? r.deadline : r.finalizedAt) + market.FINALIZE_GRACE_PERIOD()
            + market.pausedSeconds() - ghostPausedAtLastRound[taskId];
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < expiresAt) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
            market.expireTask(taskId);
            vm.warp(expiresAt);
        }
        market.expireTask(taskId);
        ++calls["expireTask"];
    }

    function endTask(uint256 taskSeed) external {
        // Rare, so that most tasks live long enough to pay rewards.
        if (taskSeed % 4 != 0) return;
        (bool ok, uint256 taskId) = _task(taskSeed / 4);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Running) return;
        if (t.roundOpen && market.getTaskTerms(taskId).endRequested) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceEndAlreadyRequested.selector, taskId));
            vm.prank(requester);
            market.endTask(taskId);
            return;
        }
        vm.prank(requester);
        market.endTask(taskId);
        IMarketplace.TaskStatus statusAfter = market.getTask(taskId).status;
        IMarketplace.TaskTerms memory termsAfter = market.getTaskTerms(taskId);
        if (t.roundOpen) {
            require(termsAfter.endRequested && statusAfter == t.status, "end not deferred");
        } else {
            // forge-lint: disable-next-line(block-timestamp)
            require(statusAfter == IMarketplace.TaskStatus.Ended && termsAfter.endedAt == block.timestamp, "not ended");
        }
        ++calls["endTask"];
    }

    function evictWorker(uint256 taskSeed, uint256 actorSeed) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        // Mostly prefer a slashed active worker (most random picks could not be evicted).
        address w = actorSeed % 4 != 0 ? _actorWhere(taskId, actorSeed, _isSlashedWorker) : _actor(actorSeed);
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
        if (!market.isWorker(taskId, w)) return;
        if (t.roundOpen) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRoundOpen.selector, taskId, t.currentRound));
            market.evictWorker(taskId, w);
            return;
        }
        uint256 stake = market.stakeOf(taskId, w);
        if (stake >= t.stakeRequired) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceWorkerNotEvictable.selector, taskId, w));
            market.evictWorker(taskId, w);
            return;
        }
        uint256 before = token.balanceOf(w);
        market.evictWorker(taskId, w);
        // Nothing is paid: the stake stays escrowed for withdrawStake, out of reach of later slashes.
        require(token.balanceOf(w) == before, "evict paid out");
        require(market.stakeOf(taskId, w) == stake, "evict moved the stake");
        ghostExitRound[taskId][w] = t.currentRound;
        ghostEvictedHeld[taskId][w] = stake;
        ++calls["evictWorker"];
    }

    function sweepUnclaimed(uint256 taskSeed) external {
        // Rare: it jumps a year ahead, which closes every ended task's claims.
        if (taskSeed % 8 != 0) return;
        (bool ok, uint256 taskId) = _task(taskSeed / 8);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Ended) return;
        IMarketplace.TaskTerms memory terms = market.getTaskTerms(taskId);
        if (terms.unclaimedSwept) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceUnclaimedAlreadySwept.selector, taskId));
            vm.prank(requester);
            market.sweepUnclaimed(taskId);
            return;
        }
        uint256 availableAt = uint256(terms.endedAt) + market.CLAIM_PERIOD();
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < availableAt) {
            vm.expectRevert(
                abi.encodeWithSelector(IMarketplace.MarketplaceClaimPeriodNotOver.selector, taskId, availableAt)
            );
            vm.prank(requester);
            market.sweepUnclaimed(taskId);
            vm.warp(availableAt);
        }
        uint256 amount = uint256(t.committedRewards) - t.paidOut;
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        market.sweepUnclaimed(taskId);
        require(token.balanceOf(requester) - before == amount, "sweep paid wrong amount");
        ghostSwept[taskId] = amount;
        _out(taskId, amount);
        ++calls["sweepUnclaimed"];
    }

    function pause() external {
        if (market.paused()) {
            vm.expectRevert(Pausable.EnforcedPause.selector);
            vm.prank(pauser);
            market.pause();
            return;
        }
        uint256 endedAt = ghostPauseEndedAt;
        uint256 settled = ghostSettledPausedSeconds;
        if (ghostPauseStartedAt != 0) {
            // Lapsed without an unpause.
            endedAt = ghostPauseStartedAt + market.MAX_PAUSE_DURATION();
            settled += market.MAX_PAUSE_DURATION();
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (endedAt != 0 && block.timestamp < endedAt + market.PAUSE_COOLDOWN()) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IMarketplace.MarketplacePauseCooldown.selector, endedAt + market.PAUSE_COOLDOWN()
                )
            );
            vm.prank(pauser);
            market.pause();
            ++calls["pause-cooldown"];
            return;
        }
        vm.prank(pauser);
        market.pause();
        ghostPauseStartedAt = block.timestamp;
        ghostPauseEndedAt = endedAt;
        ghostSettledPausedSeconds = settled;
        ++calls["pause"];
    }

    function unpause() external {
        if (!market.paused()) {
            vm.expectRevert(Pausable.ExpectedPause.selector);
            vm.prank(pauser);
            market.unpause();
            return;
        }
        vm.prank(pauser);
        market.unpause();
        ghostSettledPausedSeconds += block.timestamp - ghostPauseStartedAt;
        ghostPauseEndedAt = block.timestamp;
        ghostPauseStartedAt = 0;
        ++calls["unpause"];
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    // ------------------------------------------------------------------ views for the invariants

    function cumulativeOf(uint256 taskId, uint256 idx) external view returns (uint256) {
        return _cumulative[taskId][idx];
    }

    /// @notice pausedSeconds() as the pause model computes it.
    function ghostPausedSeconds() external view returns (uint256 total) {
        total = ghostSettledPausedSeconds;
        if (ghostPauseStartedAt != 0) {
            uint256 open = block.timestamp - ghostPauseStartedAt;
            uint256 max = market.MAX_PAUSE_DURATION();
            total += open < max ? open : max;
        }
    }

    // ------------------------------------------------------------------ internals

    function _task(uint256 seed) internal view returns (bool, uint256) {
        if (taskIds.length == 0) return (false, 0);
        return (true, taskIds[seed % taskIds.length]);
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % N_ACTORS];
    }

    /// @dev The first actor from `seed` on that satisfies `pred`, or the actor at `seed` if none does.
    function _actorWhere(uint256 taskId, uint256 seed, function(uint256, address) view returns (bool) pred)
        internal
        view
        returns (address)
    {
        for (uint256 k; k < N_ACTORS; ++k) {
            address a = actors[(seed % N_ACTORS + k) % N_ACTORS];
            if (pred(taskId, a)) return a;
        }
        return _actor(seed);
    }

    function _hasPendingStake(uint256 taskId, address a) internal view returns (bool) {
        IMarketplace.WorkerInfo memory info = market.getWorker(taskId, a);
        return info.status == IMarketplace.WorkerStatus.Exited && info.stake != 0;
    }

    function _isSlashedWorker(uint256 taskId, address a) internal view returns (bool) {
        return market.isWorker(taskId, a) && market.stakeOf(taskId, a) < market.getTask(taskId).stakeRequired;
    }

    function _in(uint256 taskId, uint256 amount) internal {
        ghostDeposited += amount;
        ghostTaskIn[taskId] += amount;
    }

    function _out(uint256 taskId, uint256 amount) internal {
        ghostWithdrawn += amount;
        ghostTaskOut[taskId] += amount;
    }

    function _leaves(uint256 taskId, uint256[N_ACTORS] memory cum) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](N_ACTORS);
        for (uint256 i; i < N_ACTORS; ++i) {
            leaves[i] = RewardLeaf.hash(taskId, actors[i], cum[i]);
        }
    }

    /// @dev Records what the slashes should take (each clamped to the stake and the per-round bound); returns
    /// the total and every slashed worker's stake before the finalize.
    function _expectSlashes(uint256 taskId, IMarketplace.Task memory t, IMarketplace.Slash[] memory slashes)
        internal
        returns (uint256 slashedNow, uint256[] memory stakesBefore)
    {
        uint256 cap = uint256(t.stakeRequired) * market.getTaskTerms(taskId).maxSlashBps / 10_000;
        stakesBefore = new uint256[](slashes.length);
        for (uint256 i; i < slashes.length; ++i) {
            // Duplicates are not produced by _slashes, so the clamp is against the current stake.
            uint256 stake = market.stakeOf(taskId, slashes[i].worker);
            stakesBefore[i] = stake;
            uint256 expected = slashes[i].amount < stake ? slashes[i].amount : stake;
            if (expected > cap) expected = cap;
            slashedNow += expected;
            ghostSlashedFrom[taskId][slashes[i].worker] += expected;
        }
        ghostSlashed[taskId] += slashedNow;
    }

    /// @dev The next cumulative amounts and posted total for finalize modes 0-4 (see finalizeRound).
    function _nextTree(uint256 taskId, IMarketplace.Task memory t, uint256 slashedNow, uint256 incSeed, uint8 mode)
        internal
        view
        returns (uint256[N_ACTORS] memory cum, uint256 total)
    {
        uint256 available = uint256(t.rewardPool) + t.slashedToPool + (t.slashToRequester ? 0 : slashedNow);
        uint256 headroom = available - t.committedRewards;
        cum = _cumulative[taskId];
        total = t.committedRewards;
        if (mode <= 2) {
            // Honest: increments to active workers within the headroom; the total is the sum of the leaves
            // (kept within [committed, available] in case an earlier dishonest root left the leaves off).
            uint256 sum;
            for (uint256 i; i < N_ACTORS; ++i) {
                if (market.isWorker(taskId, actors[i]) && headroom != 0) {
                    uint256 inc = uint256(keccak256(abi.encode(incSeed, i))) % (headroom / 2 + 1);
                    cum[i] += inc;
                    headroom -= inc;
                }
                sum += cum[i];
            }
            if (sum > available) sum = available;
            if (sum > total) total = sum;
        } else if (mode == 3) {
            // Over-committing: leaves may sum to far more than the posted total.
            for (uint256 i; i < N_ACTORS; ++i) {
                cum[i] += uint256(keccak256(abi.encode(incSeed, i))) % (available + 1);
            }
            total += uint256(keccak256(abi.encode(incSeed, "total"))) % (headroom + 1);
        } else {
            // Lowering: some cumulative amounts go down, the total stays.
            for (uint256 i; i < N_ACTORS; ++i) {
                if ((incSeed >> i) & 1 == 1) cum[i] = cum[i] / 2;
            }
        }
    }

    /// @dev Finalize calls that must be rejected: mode 5 names a slashable worker twice, mode 6 commits a
    /// non-zero total under a zero root, mode 7 slashes an exited worker that did not leave during this round
    /// (evicted, or left in an earlier one). Returns false (nothing sent) when modes 5 and 7 find no such worker.
    function _finalizeRejected(uint256 taskId, IMarketplace.Task memory t, uint256 slashSeed, uint8 mode)
        internal
        returns (bool)
    {
        IMarketplace.Slash[] memory slashes = new IMarketplace.Slash[](0);
        bytes32 root = keccak256(abi.encode("root", taskId, t.currentRound));
        uint256 total = t.committedRewards;
        if (mode == 5) {
            // Kept far below the top of uint256, so that `* 3 + 1` cannot overflow.
            IMarketplace.Slash[] memory one = _slashes(taskId, (slashSeed % 1e30) / 3 * 3 + 1);
            if (one.length == 0) return false;
            slashes = new IMarketplace.Slash[](2);
            slashes[0] = one[0];
            slashes[1] = one[0];
            vm.expectRevert(IMarketplace.MarketplaceSlashesNotSorted.selector);
        } else if (mode == 7) {
            address w;
            for (uint256 i; i < N_ACTORS && w == address(0); ++i) {
                address a = actors[(slashSeed % N_ACTORS + i) % N_ACTORS];
                bool exited = market.getWorker(taskId, a).status == IMarketplace.WorkerStatus.Exited;
                if (exited && !_slashable(taskId, a, t.currentRound)) w = a;
            }
            if (w == address(0)) return false;
            slashes = new IMarketplace.Slash[](1);
            slashes[0] = IMarketplace.Slash({worker: w, amount: slashSeed, reason: IMarketplace.SlashReason.FreeRider});
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotWorker.selector, taskId, w));
        } else {
            root = bytes32(0);
            if (total == 0) total = 1; // <= rewardPool, so only the zero root is wrong
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceZeroRewardsRoot.selector, taskId));
        }
        vm.prank(coordinator);
        market.finalizeRound(taskId, t.currentRound, "m", "f", root, total, slashes);
        ++calls["finalize-rejected"];
        return true;
    }

    /// @dev Whether `w` may appear in the slash list of the task's open round: active, or left during it.
    function _slashable(uint256 taskId, address w, uint32 round) internal view returns (bool) {
        IMarketplace.WorkerStatus s = market.getWorker(taskId, w).status;
        return s == IMarketplace.WorkerStatus.Active
            || (s == IMarketplace.WorkerStatus.Exited && ghostExitRound[taskId][w] == round);
    }

    /// @dev Up to two distinct slashable workers, ascending, amounts from 0 to twice the required stake.
    function _slashes(uint256 taskId, uint256 seed) internal view returns (IMarketplace.Slash[] memory s) {
        uint256 n = seed % 3;
        s = new IMarketplace.Slash[](n);
        uint256 found;
        IMarketplace.Task memory t = market.getTask(taskId);
        uint256 stakeRequired = t.stakeRequired;
        for (uint256 i; i < N_ACTORS && found < n; ++i) {
            address w = actors[(seed / 3 + i) % N_ACTORS];
            if (!_slashable(taskId, w, t.currentRound)) continue;
            uint256 amount = uint256(keccak256(abi.encode(seed, i))) % (2 * stakeRequired + 2);
            s[found++] = IMarketplace.Slash({
                worker: w,
                amount: amount,
                reason: IMarketplace.SlashReason(uint8(uint256(keccak256(abi.encode(seed))) % 5))
            });
        }
        assembly ("memory-safe") {
            mstore(s, found)
        }
        if (found == 2 && s[1].worker < s[0].worker) (s[0], s[1]) = (s[1], s[0]);
    }
}
