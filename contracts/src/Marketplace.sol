// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarketplace} from "./interfaces/IMarketplace.sol";
import {RewardLeaf} from "./libraries/RewardLeaf.sol";

/// @title Marketplace — escrow, rounds, slashing and cumulative Merkle rewards for Tessera training tasks
/// @notice See IMarketplace for the protocol, the leaf encodings and the CID convention.
/// @dev Trust model: the coordinator of a task is trusted for that task only. Whatever roots it posts, the
/// task's total payout is bounded by `committedRewards <= rewardPool + slashedToPool` of that task, so a
/// compromised coordinator cannot touch other tasks' pools or any stake it did not slash in its own task.
/// The admin (DEFAULT_ADMIN_ROLE) manages roles; PAUSER_ROLE can pause. Neither can move funds.
///
/// Storage is packed for the hot paths. `claim` touches three task slots (token, rewards root, the
/// paidOut/committedRewards pair) and one worker slot (claimed | stake | status), which is non-zero for any
/// account that ever joined, so recording a claim is a non-zero to non-zero write.
contract Marketplace is IMarketplace, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Role allowed to pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @inheritdoc IMarketplace
    uint256 public constant FINALIZE_GRACE_PERIOD = 7 days;

    uint256 private _taskCount;
    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(uint32 round => Round)) private _rounds;
    mapping(uint256 taskId => mapping(address worker => WorkerInfo)) private _workers;

    /// @notice Deploys the marketplace.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert MarketplaceZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Pause
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Pauses createTask, join, startRound, finalizeRound and expireTask. Only PAUSER_ROLE.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lifts the pause. Only PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Requester
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function createTask(TaskConfig calldata config) external nonReentrant whenNotPaused returns (uint256 taskId) {
        _validateConfig(config);

        taskId = ++_taskCount;
        Task storage t = _tasks[taskId];
        t.rewardToken = config.rewardToken;
        t.numRounds = config.numRounds;
        t.status = TaskStatus.Open;
        t.slashToRequester = config.slashToRequester;
        t.coordinator = config.coordinator;
        t.maxWorkers = config.maxWorkers;
        t.submissionWindow = config.submissionWindow;
        t.requester = msg.sender;
        // casting to 'uint128' is safe because _validateConfig bounds both amounts
        // forge-lint: disable-next-line(unsafe-typecast)
        t.rewardPool = uint128(config.rewardPool);
        // forge-lint: disable-next-line(unsafe-typecast)
        t.stakeRequired = uint128(config.stakeRequired);
        t.modelArchitectureId = config.modelArchitectureId;
        t.initialModelCid = config.initialModelCid;
        if (config.validationSetCommitment != bytes32(0)) t.validationSetCommitment = config.validationSetCommitment;
        if (config.allowlistRoot != bytes32(0)) t.allowlistRoot = config.allowlistRoot;

        emit TaskCreated(taskId, msg.sender, config.coordinator, config);

        _pullExact(IERC20(config.rewardToken), msg.sender, config.rewardPool);
    }

    /// @inheritdoc IMarketplace
    function cancelTask(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open) revert MarketplaceTaskNotCancellable(taskId, status);

        t.status = TaskStatus.Cancelled;
        t.unspentWithdrawn = true;
        uint256 refund = t.rewardPool;
        emit TaskCancelled(taskId, refund);

        IERC20(t.rewardToken).safeTransfer(msg.sender, refund);
    }

    /// @inheritdoc IMarketplace
    function withdrawUnspent(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        TaskStatus status = t.status;
        if (status != TaskStatus.Ended) revert MarketplaceTaskNotEnded(taskId, status);
        if (t.unspentWithdrawn) revert MarketplaceUnspentAlreadyWithdrawn(taskId);

        t.unspentWithdrawn = true;
        // committedRewards <= rewardPool + slashedToPool is enforced by finalizeRound.
        uint256 unspent = uint256(t.rewardPool) + t.slashedToPool - t.committedRewards;
        uint256 slashed = t.slashedToRequester;
        emit UnspentWithdrawn(taskId, msg.sender, unspent, slashed);

        uint256 amount = unspent + slashed;
        if (amount != 0) IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function revealValidationSet(uint256 taskId, bytes32 validationSetCid) external {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.requester && msg.sender != t.coordinator) {
            revert MarketplaceNotRequesterOrCoordinator(taskId, msg.sender);
        }
        TaskStatus status = t.status;
        if (status != TaskStatus.Ended) revert MarketplaceTaskNotEnded(taskId, status);
        if (validationSetCid == bytes32(0)) revert MarketplaceZeroCid();
        if (t.validationSetCid != bytes32(0)) revert MarketplaceValidationSetAlreadyRevealed(taskId);

        t.validationSetCid = validationSetCid;
        emit ValidationSetRevealed(taskId, validationSetCid, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Workers
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function join(uint256 taskId, bytes32[] calldata allowlistProof) external nonReentrant whenNotPaused {
        Task storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open && status != TaskStatus.Running) revert MarketplaceTaskNotActive(taskId, status);
        if (t.roundOpen) revert MarketplaceRoundOpen(taskId, t.currentRound);

        WorkerInfo storage w = _workers[taskId][msg.sender];
        if (w.status == WorkerStatus.Active) revert MarketplaceAlreadyWorker(taskId, msg.sender);
        uint32 count = t.workerCount;
        uint32 cap = t.maxWorkers;
        if (count >= cap) revert MarketplaceWorkerCapReached(taskId, cap);
        bytes32 allowlistRoot = t.allowlistRoot;
        if (
            allowlistRoot != bytes32(0)
                && !MerkleProof.verifyCalldata(allowlistProof, allowlistRoot, RewardLeaf.allowlist(msg.sender))
        ) revert MarketplaceNotAllowlisted(taskId, msg.sender);

        uint256 stake = t.stakeRequired;
        t.workerCount = count + 1;
        w.status = WorkerStatus.Active;
        // casting to 'uint120' is safe because _validateConfig bounds stakeRequired by type(uint120).max
        // forge-lint: disable-next-line(unsafe-typecast)
        w.stake = uint120(stake);
        emit WorkerJoined(taskId, msg.sender, stake);

        if (stake != 0) _pullExact(IERC20(t.rewardToken), msg.sender, stake);
    }

    /// @inheritdoc IMarketplace
    function leaveTask(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open && status != TaskStatus.Running) revert MarketplaceTaskNotActive(taskId, status);
        if (t.roundOpen) revert MarketplaceRoundOpen(taskId, t.currentRound);

        uint256 amount = _exitWorker(t, taskId);
        emit WorkerLeft(taskId, msg.sender, amount);

        if (amount != 0) IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function withdrawStake(uint256 taskId) external nonReentrant {
        Task storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Ended && status != TaskStatus.Cancelled) {
            revert MarketplaceTaskNotEnded(taskId, status);
        }

        uint256 amount = _exitWorker(t, taskId);
        emit StakeWithdrawn(taskId, msg.sender, amount);

        if (amount != 0) IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function claim(uint256 taskId, uint256 cumulativeAmount, bytes32[] calldata proof) external nonReentrant {
        Task storage t = _tasks[taskId];
        bytes32 root = t.rewardsRoot;
        // Also covers unknown and cancelled tasks: neither has a root.
        if (root == bytes32(0)) revert MarketplaceNoRewardsRoot(taskId);
        if (!MerkleProof.verifyCalldata(proof, root, RewardLeaf.hash(taskId, msg.sender, cumulativeAmount))) {
            revert MarketplaceInvalidRewardProof(taskId, msg.sender, cumulativeAmount);
        }

        WorkerInfo storage w = _workers[taskId][msg.sender];
        uint256 alreadyClaimed = w.claimed;
        if (cumulativeAmount <= alreadyClaimed) revert MarketplaceNothingToClaim(taskId, msg.sender, alreadyClaimed);
        uint256 amount = cumulativeAmount - alreadyClaimed;

        uint256 paidOut = t.paidOut;
        uint256 committed = t.committedRewards;
        // paidOut <= committed always holds (committed never decreases), so this cannot underflow.
        if (amount > committed - paidOut) revert MarketplaceClaimExceedsCommitted(taskId, paidOut, amount, committed);

        // casting to 'uint128' is safe because paidOut + amount <= committed (a uint128), and an account's
        // claimed amount is part of paidOut, so cumulativeAmount = alreadyClaimed + amount <= committed too.
        // forge-lint: disable-next-line(unsafe-typecast)
        t.paidOut = uint128(paidOut + amount);
        // forge-lint: disable-next-line(unsafe-typecast)
        w.claimed = uint128(cumulativeAmount);
        emit RewardClaimed(taskId, msg.sender, amount, cumulativeAmount);

        IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Coordinator
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function startRound(uint256 taskId, bytes32 globalModelCid) external whenNotPaused {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.coordinator) revert MarketplaceNotCoordinator(taskId, msg.sender);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open && status != TaskStatus.Running) revert MarketplaceTaskNotActive(taskId, status);
        uint32 current = t.currentRound;
        if (t.roundOpen) revert MarketplaceRoundOpen(taskId, current);
        if (globalModelCid == bytes32(0)) revert MarketplaceZeroCid();

        // current < numRounds: finalizing round numRounds ends the task, so an active task has rounds left.
        uint32 round = current + 1;
        t.currentRound = round;
        t.roundOpen = true;
        if (status == TaskStatus.Open) t.status = TaskStatus.Running;

        uint256 deadline = block.timestamp + t.submissionWindow;
        Round storage r = _rounds[taskId][round];
        r.globalModelCid = globalModelCid;
        // casting to 'uint40' is safe because timestamps stay below 2**40 (year 36812), and submissionWindow is
        // a uint32
        // forge-lint: disable-next-line(unsafe-typecast)
        r.startedAt = uint40(block.timestamp);
        // forge-lint: disable-next-line(unsafe-typecast)
        r.deadline = uint40(deadline);

        emit RoundStarted(taskId, round, globalModelCid, deadline);
    }

    /// @inheritdoc IMarketplace
    function finalizeRound(
        uint256 taskId,
        uint32 round,
        bytes32 newModelCid,
        bytes32 manifestCid,
        bytes32 rewardsRoot,
        uint256 cumulativeRewardsTotal,
        Slash[] calldata slashes
    ) external whenNotPaused {
        Task storage t = _existingTask(taskId);
        if (msg.sender != t.coordinator) revert MarketplaceNotCoordinator(taskId, msg.sender);
        if (!t.roundOpen) revert MarketplaceNoOpenRound(taskId);
        if (round != t.currentRound) revert MarketplaceWrongRound(taskId, t.currentRound, round);
        if (newModelCid == bytes32(0) || manifestCid == bytes32(0)) revert MarketplaceZeroCid();

        // Slashes first, so stake slashed into the pool this round can already fund this round's root.
        if (slashes.length != 0) _applySlashes(t, taskId, round, slashes);
        uint128 total = _commitRewards(t, taskId, rewardsRoot, cumulativeRewardsTotal);

        Round storage r = _rounds[taskId][round];
        r.newModelCid = newModelCid;
        r.manifestCid = manifestCid;
        r.rewardsRoot = rewardsRoot;
        r.cumulativeRewardsTotal = total;
        // forge-lint: disable-next-line(unsafe-typecast)
        r.finalizedAt = uint40(block.timestamp);
        t.roundOpen = false;

        emit RoundFinalized(taskId, round, newModelCid, manifestCid, rewardsRoot, total);

        if (round == t.numRounds) {
            t.status = TaskStatus.Ended;
            emit TaskEnded(taskId, round, false);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Anyone
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function expireTask(uint256 taskId) external whenNotPaused {
        Task storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Running) revert MarketplaceTaskNotExpirable(taskId, status);

        uint32 current = t.currentRound;
        bool open = t.roundOpen;
        Round storage r = _rounds[taskId][current];
        uint256 expiresAt = uint256(open ? r.deadline : r.finalizedAt) + FINALIZE_GRACE_PERIOD;
        // A validator's few seconds of timestamp leeway are irrelevant against a grace period of days.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < expiresAt) revert MarketplaceTaskNotExpired(taskId, expiresAt);

        t.roundOpen = false;
        t.status = TaskStatus.Ended;
        emit TaskEnded(taskId, open ? current - 1 : current, true);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @inheritdoc IMarketplace
    function getTask(uint256 taskId) external view returns (Task memory) {
        return _existingTask(taskId);
    }

    /// @inheritdoc IMarketplace
    function getRound(uint256 taskId, uint32 round) external view returns (Round memory) {
        _existingTask(taskId);
        return _rounds[taskId][round];
    }

    /// @inheritdoc IMarketplace
    function getWorker(uint256 taskId, address worker) external view returns (WorkerInfo memory) {
        return _workers[taskId][worker];
    }

    /// @inheritdoc IMarketplace
    function stakeOf(uint256 taskId, address worker) external view returns (uint256) {
        return _workers[taskId][worker].stake;
    }

    /// @inheritdoc IMarketplace
    function isWorker(uint256 taskId, address account) external view returns (bool) {
        return _workers[taskId][account].status == WorkerStatus.Active;
    }

    /// @inheritdoc IMarketplace
    function workerCount(uint256 taskId) external view returns (uint256) {
        return _tasks[taskId].workerCount;
    }

    /// @inheritdoc IMarketplace
    function claimed(uint256 taskId, address account) external view returns (uint256) {
        return _workers[taskId][account].claimed;
    }

    /// @inheritdoc IMarketplace
    function rewardLeaf(uint256 taskId, address account, uint256 cumulativeAmount) external pure returns (bytes32) {
        return RewardLeaf.hash(taskId, account, cumulativeAmount);
    }

    /// @inheritdoc IMarketplace
    function allowlistLeaf(address account) external pure returns (bytes32) {
        return RewardLeaf.allowlist(account);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    function _existingTask(uint256 taskId) private view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.status == TaskStatus.None) revert MarketplaceTaskNotFound(taskId);
    }

    function _validateConfig(TaskConfig calldata config) private pure {
        if (config.rewardToken == address(0) || config.coordinator == address(0)) revert MarketplaceZeroAddress();
        if (config.rewardPool == 0) revert MarketplaceZeroRewardPool();
        if (config.rewardPool > type(uint128).max) {
            revert MarketplaceAmountTooLarge(config.rewardPool, type(uint128).max);
        }
        if (config.stakeRequired > type(uint120).max) {
            revert MarketplaceAmountTooLarge(config.stakeRequired, type(uint120).max);
        }
        if (config.numRounds == 0) revert MarketplaceZeroRounds();
        if (config.maxWorkers == 0) revert MarketplaceZeroMaxWorkers();
        if (config.submissionWindow == 0) revert MarketplaceZeroSubmissionWindow();
        if (config.initialModelCid == bytes32(0)) revert MarketplaceZeroCid();
    }

    /// @dev Marks the caller's membership exited and zeroes its stake; returns the stake to pay back.
    function _exitWorker(Task storage t, uint256 taskId) private returns (uint256 amount) {
        WorkerInfo storage w = _workers[taskId][msg.sender];
        if (w.status != WorkerStatus.Active) revert MarketplaceNotWorker(taskId, msg.sender);
        amount = w.stake;
        w.stake = 0;
        w.status = WorkerStatus.Exited;
        t.workerCount -= 1;
    }

    /// @dev Applies a round's slash list; each amount is clamped to the worker's remaining stake.
    function _applySlashes(Task storage t, uint256 taskId, uint32 round, Slash[] calldata slashes) private {
        bool toRequester = t.slashToRequester;
        mapping(address => WorkerInfo) storage workers = _workers[taskId];
        uint256 total;
        for (uint256 i; i < slashes.length; ++i) {
            Slash calldata s = slashes[i];
            WorkerInfo storage w = workers[s.worker];
            if (w.status != WorkerStatus.Active) revert MarketplaceNotWorker(taskId, s.worker);
            uint256 stake = w.stake;
            uint256 amount = s.amount < stake ? s.amount : stake;
            // casting to 'uint120' is safe because amount <= stake, which was a uint120
            // forge-lint: disable-next-line(unsafe-typecast)
            w.stake = uint120(stake - amount);
            total += amount;
            emit WorkerSlashed(taskId, round, s.worker, amount, s.reason, toRequester);
        }
        if (toRequester) t.slashedToRequester = SafeCast.toUint128(t.slashedToRequester + total);
        else t.slashedToPool = SafeCast.toUint128(t.slashedToPool + total);
    }

    /// @dev Checks the per-task bound and records the new root.
    function _commitRewards(Task storage t, uint256 taskId, bytes32 rewardsRoot, uint256 total)
        private
        returns (uint128)
    {
        uint256 previous = t.committedRewards;
        if (total < previous) revert MarketplaceRewardsTotalDecreased(taskId, previous, total);
        uint256 available = uint256(t.rewardPool) + t.slashedToPool;
        if (total > available) revert MarketplaceRewardsExceedFunds(taskId, total, available);

        uint128 total128 = SafeCast.toUint128(total);
        t.committedRewards = total128;
        t.rewardsRoot = rewardsRoot;
        return total128;
    }

    /// @dev Pulls exactly `amount` of `token` from `from`; reverts if the balance grew by anything else
    /// (fee-on-transfer and similar tokens are not supported).
    function _pullExact(IERC20 token, address from, uint256 amount) private {
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 balanceAfter = token.balanceOf(address(this));
        if (balanceAfter != balanceBefore + amount) {
            revert MarketplaceTransferAmountMismatch(
                amount, balanceAfter > balanceBefore ? balanceAfter - balanceBefore : 0
            );
        }
    }
}
