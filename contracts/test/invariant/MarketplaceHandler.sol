// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {TestToken} from "../../src/TestToken.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice Drives the marketplace with bounded inputs, keeps ghost accounting, and builds real Merkle trees
/// over its fixed set of actors. Every call it makes either must succeed or is wrapped in an exact
/// expectRevert, so the invariant suite can run with fail-on-revert.
contract MarketplaceHandler is CommonBase, StdCheats, StdUtils {
    uint256 internal constant N_ACTORS = 6;
    uint256 internal constant MAX_TASKS = 3;

    Marketplace public immutable market;
    TestToken public immutable token;
    address public immutable requester;
    address public immutable coordinator;
    address[N_ACTORS] public actors;

    uint256[] public taskIds;

    // Latest root's cumulative amounts per task and actor (what the claim proofs are built from).
    mapping(uint256 taskId => uint256[N_ACTORS]) internal _cumulative;

    // ------------------------------------------------------------------ ghosts
    uint256 public ghostDeposited; // pools + stakes pulled in
    uint256 public ghostWithdrawn; // claims + stake returns + refunds + unspent withdrawals
    mapping(uint256 taskId => uint256) public ghostTaskIn;
    mapping(uint256 taskId => uint256) public ghostTaskOut;
    mapping(uint256 taskId => uint256) public ghostPaid; // rewards claimed
    mapping(uint256 taskId => uint256) public ghostSlashed; // total slashed (to pool or requester)
    mapping(uint256 taskId => mapping(address => uint256)) public ghostMaxCommitted;
    mapping(uint256 taskId => mapping(address => uint256)) public ghostPaidTo;
    mapping(uint256 taskId => mapping(address => uint256)) public ghostStakedBy;
    mapping(uint256 taskId => mapping(address => uint256)) public ghostSlashedFrom;
    bool public ghostDoubleClaimPaid;
    bool public ghostSlashAboveStake;

    mapping(bytes32 => uint256) public calls;

    constructor(Marketplace market_, TestToken token_) {
        market = market_;
        token = token_;
        requester = makeAddr("inv-requester");
        coordinator = makeAddr("inv-coordinator");
        for (uint256 i; i < N_ACTORS; ++i) {
            actors[i] = makeAddr(string.concat("inv-worker", vm.toString(i)));
        }
    }

    function taskCount() external view returns (uint256) {
        return taskIds.length;
    }

    function actorCount() external pure returns (uint256) {
        return N_ACTORS;
    }

    // ------------------------------------------------------------------ actions

    function createTask(uint256 pool, uint256 stake, uint8 rounds, uint8 cap, bool slashToRequester) external {
        if (taskIds.length >= MAX_TASKS) return;
        pool = bound(pool, 1, 1e30);
        stake = bound(stake, 0, 1e24);
        IMarketplace.TaskConfig memory c = IMarketplace.TaskConfig({
            rewardToken: address(token),
            rewardPool: pool,
            stakeRequired: stake,
            numRounds: uint32(bound(rounds, 1, 4)),
            maxWorkers: uint32(bound(cap, 1, N_ACTORS)),
            submissionWindow: 1 hours,
            coordinator: coordinator,
            modelArchitectureId: keccak256("arch"),
            initialModelCid: keccak256("initial"),
            validationSetCommitment: bytes32(0),
            allowlistRoot: bytes32(0),
            slashToRequester: slashToRequester
        });
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
        IMarketplace.Task memory t = market.getTask(taskId);
        if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
        if (t.roundOpen || market.isWorker(taskId, w)) return;
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
        if (t.roundOpen) {
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceRoundOpen.selector, taskId, t.currentRound));
            vm.prank(w);
            market.leaveTask(taskId);
            return;
        }
        uint256 stake = market.stakeOf(taskId, w);
        uint256 before = token.balanceOf(w);
        vm.prank(w);
        market.leaveTask(taskId);
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
        vm.prank(coordinator);
        market.startRound(taskId, keccak256(abi.encode("global", taskId, t.currentRound + 1)));
        ++calls["startRound"];
    }

    /// @param incSeed Drives the reward increments.
    /// @param slashSeed Drives which workers get slashed and how much (possibly above their stake).
    /// @param mode 0-2: honest tree (leaves sum to the total); 3: over-committing tree (leaves sum above the
    /// total, like a compromised coordinator); 4: a tree that lowers some cumulative amounts.
    function finalizeRound(uint256 taskSeed, uint256 incSeed, uint256 slashSeed, uint8 mode) external {
        (bool ok, uint256 taskId) = _task(taskSeed);
        if (!ok) return;
        IMarketplace.Task memory t = market.getTask(taskId);
        if (!t.roundOpen) {
            // Open one first, so that short call sequences still make progress.
            if (t.status != IMarketplace.TaskStatus.Open && t.status != IMarketplace.TaskStatus.Running) return;
            vm.prank(coordinator);
            market.startRound(taskId, keccak256(abi.encode("global", taskId, t.currentRound + 1)));
            t = market.getTask(taskId);
        }

        IMarketplace.Slash[] memory slashes = _slashes(taskId, slashSeed);
        uint256 slashedNow;
        for (uint256 i; i < slashes.length; ++i) {
            // Duplicates are not produced by _slashes, so the clamp is against the current stake.
            uint256 stake = market.stakeOf(taskId, slashes[i].worker);
            uint256 expected = slashes[i].amount < stake ? slashes[i].amount : stake;
            slashedNow += expected;
            ghostSlashedFrom[taskId][slashes[i].worker] += expected;
        }
        ghostSlashed[taskId] += slashedNow;

        uint256 available = uint256(t.rewardPool) + t.slashedToPool + (t.slashToRequester ? 0 : slashedNow);
        uint256 headroom = available - t.committedRewards;
        uint256[N_ACTORS] memory cum = _cumulative[taskId];
        uint256 total = t.committedRewards;
        mode = uint8(bound(mode, 0, 4));
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
        address w = _actor(actorSeed);
        IMarketplace.TaskStatus s = market.getTask(taskId).status;
        if (s != IMarketplace.TaskStatus.Ended && s != IMarketplace.TaskStatus.Cancelled) return;
        if (!market.isWorker(taskId, w)) return;
        uint256 stake = market.stakeOf(taskId, w);
        uint256 before = token.balanceOf(w);
        vm.prank(w);
        market.withdrawStake(taskId);
        require(token.balanceOf(w) - before == stake, "withdrawStake paid wrong amount");
        _out(taskId, stake);
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
        IMarketplace.Round memory r = market.getRound(taskId, t.currentRound);
        uint256 expiresAt = uint256(t.roundOpen ? r.deadline : r.finalizedAt) + market.FINALIZE_GRACE_PERIOD();
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < expiresAt) vm.warp(expiresAt);
        market.expireTask(taskId);
        ++calls["expireTask"];
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    // ------------------------------------------------------------------ views for the invariants

    function cumulativeOf(uint256 taskId, uint256 idx) external view returns (uint256) {
        return _cumulative[taskId][idx];
    }

    // ------------------------------------------------------------------ internals

    function _task(uint256 seed) internal view returns (bool, uint256) {
        if (taskIds.length == 0) return (false, 0);
        return (true, taskIds[seed % taskIds.length]);
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % N_ACTORS];
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

    /// @dev Up to two distinct active workers, amounts from 0 to twice the required stake.
    function _slashes(uint256 taskId, uint256 seed) internal view returns (IMarketplace.Slash[] memory s) {
        uint256 n = seed % 3;
        s = new IMarketplace.Slash[](n);
        uint256 found;
        uint256 stakeRequired = market.getTask(taskId).stakeRequired;
        for (uint256 i; i < N_ACTORS && found < n; ++i) {
            address w = actors[(seed / 3 + i) % N_ACTORS];
            if (!market.isWorker(taskId, w)) continue;
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
    }
}
