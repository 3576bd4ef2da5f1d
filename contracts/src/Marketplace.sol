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
/// The admin (DEFAULT_ADMIN_ROLE) manages roles; PAUSER_ROLE can pause, for at most MAX_PAUSE_DURATION at a time
/// and not again within PAUSE_COOLDOWN. Neither can move funds nor hold them for ever.
///
/// Storage is packed for the hot paths. `claim` touches three task slots (token and status, rewards root, the
/// paidOut/committedRewards pair), a fourth (endedAt) only once the task ended, and one worker slot
/// (claimed | stake | status), which is non-zero for any account that ever joined, so recording a claim is a
/// non-zero to non-zero write. The pause state shares Pausable's slot, which every blocked function reads anyway.
contract Marketplace is IMarketplace, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Role allowed to pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @inheritdoc IMarketplace
    uint256 public constant FINALIZE_GRACE_PERIOD = 7 days;

    /// @inheritdoc IMarketplace
    uint256 public constant MAX_PAUSE_DURATION = 3 days;

    /// @inheritdoc IMarketplace
    uint256 public constant PAUSE_COOLDOWN = 7 days;

    /// @inheritdoc IMarketplace
    uint256 public constant CLAIM_PERIOD = 365 days;

    /// @inheritdoc IMarketplace
    uint256 public constant MAX_SUBMISSION_WINDOW = 30 days;

    uint256 private constant BPS = 10_000;

    /// @dev A task as stored (packed): `Task`'s fields with `TaskTerms`'s small ones in slot 3, after
    /// `unspentWithdrawn`, and its two CIDs (`accessPolicy`, `contentKeysCid`) in the last two slots. One record,
    /// so the hot paths touch the same slots whichever view a field belongs to; the ABI splits it only because the
    /// Rust bindings take tuples of at most 24 fields (`getTask` and `getTaskTerms`).
    struct TaskRecord {
        address rewardToken;
        uint32 currentRound;
        uint32 numRounds;
        TaskStatus status;
        bool roundOpen;
        bool slashToRequester;
        address coordinator;
        uint32 maxWorkers;
        uint32 workerCount;
        uint32 submissionWindow;
        address requester;
        bool unspentWithdrawn;
        uint16 maxSlashBps;
        bool endRequested;
        uint40 endedAt;
        bool unclaimedSwept;
        uint128 rewardPool;
        uint128 slashedToPool;
        uint128 paidOut;
        uint128 committedRewards;
        uint128 stakeRequired;
        uint128 slashedToRequester;
        bytes32 rewardsRoot;
        bytes32 modelArchitectureId;
        bytes32 initialModelCid;
        bytes32 validationSetCommitment;
        bytes32 validationSetCid;
        bytes32 allowlistRoot;
        bytes32 accessPolicy;
        bytes32 contentKeysCid;
    }

    // Declared first so they pack into Pausable's `_paused` slot. A pause is "open" while _pausedAt != 0 (block
    // timestamps are never 0); it is in force until _pausedAt + MAX_PAUSE_DURATION. A pause that lapsed is
    // settled lazily by the next `pause`, so nothing has to run when it lapses.
    uint40 private _pausedAt;
    /// @dev When the last settled pause ended (unpause or lapse); 0 before the first. Starts the cooldown.
    uint40 private _lastPauseEndedAt;
    /// @dev Paused seconds of all settled pauses; the open one is added on read (`pausedSeconds`).
    uint40 private _settledPausedSeconds;

    uint256 private _taskCount;
    mapping(uint256 taskId => TaskRecord) private _tasks;
    mapping(uint256 taskId => mapping(uint32 round => Round)) private _rounds;
    mapping(uint256 taskId => mapping(address worker => WorkerInfo)) private _workers;
    /// @dev pausedSeconds() at the task's last startRound or finalizeRound: expiry adds what was paused since.
    mapping(uint256 taskId => uint256) private _pausedSecondsAtLastRound;
    /// @dev The round that was open when the worker left; only that round's finalize may still slash it.
    mapping(uint256 taskId => mapping(address worker => uint32 round)) private _exitRound;

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

    /// @notice Pauses createTask, join, startRound, finalizeRound and expireTask for at most MAX_PAUSE_DURATION.
    /// Refused (MarketplacePauseCooldown) until PAUSE_COOLDOWN after the previous pause ended, so that pauses
    /// cannot be chained into a freeze. Only PAUSER_ROLE.
    function pause() external onlyRole(PAUSER_ROLE) {
        // Reverts with EnforcedPause while a pause is in force; a lapsed one is not.
        _pause();
        uint256 pausedAt = _pausedAt;
        uint256 endedAt = _lastPauseEndedAt;
        uint256 settled = _settledPausedSeconds;
        if (pausedAt != 0) {
            // The previous pause lapsed without an unpause: it ended, and counts, at its full length.
            endedAt = pausedAt + MAX_PAUSE_DURATION;
            settled += MAX_PAUSE_DURATION;
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (endedAt != 0 && block.timestamp < endedAt + PAUSE_COOLDOWN) {
            revert MarketplacePauseCooldown(endedAt + PAUSE_COOLDOWN);
        }
        // casting to 'uint40' is safe because timestamps stay below 2**40 (year 36812), and the paused seconds
        // cannot exceed the time elapsed
        // forge-lint: disable-next-line(unsafe-typecast)
        _pausedAt = uint40(block.timestamp);
        // forge-lint: disable-next-line(unsafe-typecast)
        _lastPauseEndedAt = uint40(endedAt);
        // forge-lint: disable-next-line(unsafe-typecast)
        _settledPausedSeconds = uint40(settled);
    }

    /// @notice Lifts the pause in force. Only PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        // Reverts with ExpectedPause unless a pause is in force (a lapsed one needs no unpause).
        _unpause();
        // casting to 'uint40' is safe: see pause()
        // forge-lint: disable-next-line(unsafe-typecast)
        _settledPausedSeconds = uint40(_settledPausedSeconds + (block.timestamp - _pausedAt));
        // forge-lint: disable-next-line(unsafe-typecast)
        _lastPauseEndedAt = uint40(block.timestamp);
        _pausedAt = 0;
    }

    /// @notice Whether a pause is in force: one began less than MAX_PAUSE_DURATION ago and was not lifted.
    /// @dev Pausable's whenNotPaused, _pause and _unpause all go through this, so the bound applies everywhere.
    /// @return True while paused.
    function paused() public view override returns (bool) {
        uint256 pausedAt = _pausedAt;
        // forge-lint: disable-next-line(block-timestamp)
        return pausedAt != 0 && block.timestamp < pausedAt + MAX_PAUSE_DURATION;
    }

    /// @inheritdoc IMarketplace
    function pausedSeconds() public view returns (uint256) {
        uint256 pausedAt = _pausedAt;
        uint256 open;
        if (pausedAt != 0) {
            open = block.timestamp - pausedAt;
            if (open > MAX_PAUSE_DURATION) open = MAX_PAUSE_DURATION;
        }
        return _settledPausedSeconds + open;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Requester
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function createTask(TaskConfig calldata config) external nonReentrant whenNotPaused returns (uint256 taskId) {
        _validateConfig(config);

        taskId = ++_taskCount;
        TaskRecord storage t = _tasks[taskId];
        t.rewardToken = config.rewardToken;
        t.numRounds = config.numRounds;
        t.status = TaskStatus.Open;
        t.slashToRequester = config.slashToRequester;
        t.coordinator = config.coordinator;
        t.maxWorkers = config.maxWorkers;
        t.submissionWindow = config.submissionWindow;
        t.requester = msg.sender;
        t.maxSlashBps = config.maxSlashBps;
        // casting to 'uint128' is safe because _validateConfig bounds both amounts
        // forge-lint: disable-next-line(unsafe-typecast)
        t.rewardPool = uint128(config.rewardPool);
        // forge-lint: disable-next-line(unsafe-typecast)
        t.stakeRequired = uint128(config.stakeRequired);
        t.modelArchitectureId = config.modelArchitectureId;
        t.initialModelCid = config.initialModelCid;
        if (config.validationSetCommitment != bytes32(0)) t.validationSetCommitment = config.validationSetCommitment;
        if (config.allowlistRoot != bytes32(0)) t.allowlistRoot = config.allowlistRoot;
        if (config.accessPolicy != bytes32(0)) t.accessPolicy = config.accessPolicy;

        emit TaskCreated(taskId, msg.sender, config.coordinator, config);

        _pullExact(IERC20(config.rewardToken), msg.sender, config.rewardPool);
    }

    /// @inheritdoc IMarketplace
    function cancelTask(uint256 taskId) external nonReentrant {
        TaskRecord storage t = _existingTask(taskId);
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
        TaskRecord storage t = _existingTask(taskId);
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
    function endTask(uint256 taskId) external {
        TaskRecord storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        TaskStatus status = t.status;
        if (status != TaskStatus.Running) revert MarketplaceTaskNotRunning(taskId, status);

        uint32 current = t.currentRound;
        if (t.roundOpen) {
            // Ending now would abandon the round the workers are training; its finalize ends the task instead.
            if (t.endRequested) revert MarketplaceEndAlreadyRequested(taskId);
            t.endRequested = true;
            emit TaskEndRequested(taskId, current);
        } else {
            _end(t);
            emit TaskEnded(taskId, current, false);
        }
    }

    /// @inheritdoc IMarketplace
    function sweepUnclaimed(uint256 taskId) external nonReentrant {
        TaskRecord storage t = _existingTask(taskId);
        if (msg.sender != t.requester) revert MarketplaceNotRequester(taskId, msg.sender);
        TaskStatus status = t.status;
        if (status != TaskStatus.Ended) revert MarketplaceTaskNotEnded(taskId, status);
        uint256 availableAt = uint256(t.endedAt) + CLAIM_PERIOD;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < availableAt) revert MarketplaceClaimPeriodNotOver(taskId, availableAt);
        if (t.unclaimedSwept) revert MarketplaceUnclaimedAlreadySwept(taskId);

        t.unclaimedSwept = true;
        // Claims are closed from availableAt on, so paidOut no longer moves and this is paid exactly once.
        uint256 amount = uint256(t.committedRewards) - t.paidOut;
        emit UnclaimedSwept(taskId, msg.sender, amount);

        if (amount != 0) IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function revealValidationSet(uint256 taskId, bytes32 validationSetCid) external {
        TaskRecord storage t = _existingTask(taskId);
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

    /// @inheritdoc IMarketplace
    function publishContentKeys(uint256 taskId, bytes32 keysCid) external {
        TaskRecord storage t = _existingTask(taskId);
        // Only the coordinator, which holds every content key: were the requester allowed, a bogus release
        // (first call wins) would leave the task unverifiable without its keys.
        if (msg.sender != t.coordinator) revert MarketplaceNotCoordinator(taskId, msg.sender);
        TaskStatus status = t.status;
        if (status != TaskStatus.Ended) revert MarketplaceTaskNotEnded(taskId, status);
        if (keysCid == bytes32(0)) revert MarketplaceZeroCid();
        // A public task's artefacts are not encrypted: there are no keys to publish.
        if (t.accessPolicy == bytes32(0)) revert MarketplaceTaskNotConfidential(taskId);
        if (t.contentKeysCid != bytes32(0)) revert MarketplaceContentKeysAlreadyPublished(taskId);

        t.contentKeysCid = keysCid;
        emit ContentKeysPublished(taskId, keysCid, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Workers
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function join(uint256 taskId, bytes32[] calldata allowlistProof) external nonReentrant whenNotPaused {
        TaskRecord storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open && status != TaskStatus.Running) revert MarketplaceTaskNotActive(taskId, status);
        if (t.roundOpen) revert MarketplaceRoundOpen(taskId, t.currentRound);

        WorkerInfo storage w = _workers[taskId][msg.sender];
        if (w.status == WorkerStatus.Active) revert MarketplaceAlreadyWorker(taskId, msg.sender);
        // Stake left escrowed by a notice during a round; joining would overwrite it.
        uint256 pending = w.stake;
        if (pending != 0) revert MarketplacePendingStake(taskId, msg.sender, pending);
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

        _pullExact(IERC20(t.rewardToken), msg.sender, stake);
    }

    /// @inheritdoc IMarketplace
    function leaveTask(uint256 taskId) external nonReentrant {
        TaskRecord storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open && status != TaskStatus.Running) revert MarketplaceTaskNotActive(taskId, status);

        WorkerInfo storage w = _workers[taskId][msg.sender];
        if (w.status != WorkerStatus.Active) revert MarketplaceNotWorker(taskId, msg.sender);
        w.status = WorkerStatus.Exited;
        t.workerCount -= 1;

        if (t.roundOpen) {
            // Notice: a coordinator that finalizes and starts rounds back to back must not trap the worker, but
            // the round it trained in may still judge it, so the stake waits for that round's finalize.
            uint32 round = t.currentRound;
            _exitRound[taskId][msg.sender] = round;
            emit WorkerLeft(taskId, msg.sender, 0);
            emit WorkerLeftDuringRound(taskId, msg.sender, round, w.stake);
            return;
        }

        uint256 amount = w.stake;
        w.stake = 0;
        emit WorkerLeft(taskId, msg.sender, amount);

        if (amount != 0) IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function withdrawStake(uint256 taskId) external nonReentrant {
        TaskRecord storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        WorkerInfo storage w = _workers[taskId][msg.sender];
        WorkerStatus workerStatus = w.status;
        uint256 amount = w.stake;

        if (workerStatus == WorkerStatus.Active) {
            if (status != TaskStatus.Ended && status != TaskStatus.Cancelled) {
                revert MarketplaceTaskNotEnded(taskId, status);
            }
            w.status = WorkerStatus.Exited;
            t.workerCount -= 1;
        } else if (workerStatus == WorkerStatus.Exited && amount != 0) {
            // Left during a round: the current round can only be that one while it is still open (no round can
            // start before it is finalized, and an ended task has no open round). Evicted: exitRound was closed.
            uint32 exitRound = _exitRound[taskId][msg.sender];
            if (t.roundOpen && t.currentRound == exitRound) {
                revert MarketplaceStakeLocked(taskId, msg.sender, exitRound);
            }
        } else {
            revert MarketplaceNotWorker(taskId, msg.sender);
        }

        w.stake = 0;
        emit StakeWithdrawn(taskId, msg.sender, amount);

        if (amount != 0) IERC20(t.rewardToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IMarketplace
    function claim(uint256 taskId, uint256 cumulativeAmount, bytes32[] calldata proof) external nonReentrant {
        TaskRecord storage t = _tasks[taskId];
        bytes32 root = t.rewardsRoot;
        // Also covers unknown and cancelled tasks: neither has a root.
        if (root == bytes32(0)) revert MarketplaceNoRewardsRoot(taskId);
        // status shares the slot of rewardToken, read below anyway; endedAt costs a read only once ended.
        if (t.status == TaskStatus.Ended) {
            uint256 closedAt = uint256(t.endedAt) + CLAIM_PERIOD;
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp >= closedAt) revert MarketplaceClaimPeriodOver(taskId, closedAt);
        }
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
        TaskRecord storage t = _existingTask(taskId);
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
        _pausedSecondsAtLastRound[taskId] = pausedSeconds();

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
        TaskRecord storage t = _existingTask(taskId);
        if (msg.sender != t.coordinator) revert MarketplaceNotCoordinator(taskId, msg.sender);
        if (!t.roundOpen) revert MarketplaceNoOpenRound(taskId);
        if (round != t.currentRound) revert MarketplaceWrongRound(taskId, t.currentRound, round);
        if (newModelCid == bytes32(0) || manifestCid == bytes32(0)) revert MarketplaceZeroCid();
        // A zero root proves nothing, so committed rewards under it could never be claimed.
        if (rewardsRoot == bytes32(0) && cumulativeRewardsTotal != 0) revert MarketplaceZeroRewardsRoot(taskId);

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
        _pausedSecondsAtLastRound[taskId] = pausedSeconds();

        emit RoundFinalized(taskId, round, newModelCid, manifestCid, rewardsRoot, total);

        if (round == t.numRounds || t.endRequested) {
            _end(t);
            emit TaskEnded(taskId, round, false);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Anyone
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function expireTask(uint256 taskId) external whenNotPaused {
        TaskRecord storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Running) revert MarketplaceTaskNotExpirable(taskId, status);

        uint32 current = t.currentRound;
        bool open = t.roundOpen;
        Round storage r = _rounds[taskId][current];
        // The coordinator could not act while paused, so the grace period waits the pauses out.
        uint256 expiresAt = uint256(open ? r.deadline : r.finalizedAt) + FINALIZE_GRACE_PERIOD
            + (pausedSeconds() - _pausedSecondsAtLastRound[taskId]);
        // A validator's few seconds of timestamp leeway are irrelevant against a grace period of days.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < expiresAt) revert MarketplaceTaskNotExpired(taskId, expiresAt);

        t.roundOpen = false;
        _end(t);
        emit TaskEnded(taskId, open ? current - 1 : current, true);
    }

    /// @inheritdoc IMarketplace
    function evictWorker(uint256 taskId, address worker) external {
        TaskRecord storage t = _existingTask(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Open && status != TaskStatus.Running) revert MarketplaceTaskNotActive(taskId, status);
        // During a round the worker may be training; the round's finalize judges it first.
        if (t.roundOpen) revert MarketplaceRoundOpen(taskId, t.currentRound);

        WorkerInfo storage w = _workers[taskId][worker];
        uint256 amount = w.stake;
        // A slashed worker has less at risk than the others; it must not hold a seat it no longer pays for.
        if (w.status != WorkerStatus.Active || amount >= t.stakeRequired) {
            revert MarketplaceWorkerNotEvictable(taskId, worker);
        }
        // No transfer: a token that blocks transfers to the worker must not keep it seated. The stake waits for
        // withdrawStake like a notice's. Its exit round is currentRound, which is closed for good: withdrawStake
        // takes the stake at once, and _slash, which accepts an Exited worker only in its exit round, never again.
        w.status = WorkerStatus.Exited;
        _exitRound[taskId][worker] = t.currentRound;
        t.workerCount -= 1;
        emit WorkerEvicted(taskId, worker, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IMarketplace
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @inheritdoc IMarketplace
    function getTask(uint256 taskId) external view returns (Task memory task) {
        TaskRecord storage t = _existingTask(taskId);
        task.rewardToken = t.rewardToken;
        task.currentRound = t.currentRound;
        task.numRounds = t.numRounds;
        task.status = t.status;
        task.roundOpen = t.roundOpen;
        task.slashToRequester = t.slashToRequester;
        task.coordinator = t.coordinator;
        task.maxWorkers = t.maxWorkers;
        task.workerCount = t.workerCount;
        task.submissionWindow = t.submissionWindow;
        task.requester = t.requester;
        task.unspentWithdrawn = t.unspentWithdrawn;
        task.rewardPool = t.rewardPool;
        task.slashedToPool = t.slashedToPool;
        task.paidOut = t.paidOut;
        task.committedRewards = t.committedRewards;
        task.stakeRequired = t.stakeRequired;
        task.slashedToRequester = t.slashedToRequester;
        task.rewardsRoot = t.rewardsRoot;
        task.modelArchitectureId = t.modelArchitectureId;
        task.initialModelCid = t.initialModelCid;
        task.validationSetCommitment = t.validationSetCommitment;
        task.validationSetCid = t.validationSetCid;
        task.allowlistRoot = t.allowlistRoot;
    }

    /// @inheritdoc IMarketplace
    function getTaskTerms(uint256 taskId) external view returns (TaskTerms memory terms) {
        TaskRecord storage t = _existingTask(taskId);
        terms.maxSlashBps = t.maxSlashBps;
        terms.endRequested = t.endRequested;
        terms.endedAt = t.endedAt;
        terms.unclaimedSwept = t.unclaimedSwept;
        terms.accessPolicy = t.accessPolicy;
        terms.contentKeysCid = t.contentKeysCid;
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
    function exitRound(uint256 taskId, address worker) external view returns (uint32) {
        return _exitRound[taskId][worker];
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

    function _existingTask(uint256 taskId) private view returns (TaskRecord storage t) {
        t = _tasks[taskId];
        if (t.status == TaskStatus.None) revert MarketplaceTaskNotFound(taskId);
    }

    function _validateConfig(TaskConfig calldata config) private pure {
        if (config.rewardToken == address(0) || config.coordinator == address(0)) revert MarketplaceZeroAddress();
        if (config.rewardPool == 0) revert MarketplaceZeroRewardPool();
        if (config.rewardPool > type(uint128).max) {
            revert MarketplaceAmountTooLarge(config.rewardPool, type(uint128).max);
        }
        if (config.stakeRequired == 0) revert MarketplaceZeroStake();
        if (config.stakeRequired > type(uint120).max) {
            revert MarketplaceAmountTooLarge(config.stakeRequired, type(uint120).max);
        }
        if (config.numRounds == 0) revert MarketplaceZeroRounds();
        if (config.maxWorkers == 0) revert MarketplaceZeroMaxWorkers();
        if (config.submissionWindow == 0) revert MarketplaceZeroSubmissionWindow();
        if (config.submissionWindow > MAX_SUBMISSION_WINDOW) {
            revert MarketplaceSubmissionWindowTooLong(config.submissionWindow, MAX_SUBMISSION_WINDOW);
        }
        if (config.maxSlashBps == 0 || config.maxSlashBps > BPS) revert MarketplaceInvalidMaxSlash(config.maxSlashBps);
        if (config.initialModelCid == bytes32(0)) revert MarketplaceZeroCid();
    }

    /// @dev Marks the task Ended now; `claim`'s period and `sweepUnclaimed` count from endedAt.
    function _end(TaskRecord storage t) private {
        t.status = TaskStatus.Ended;
        // casting to 'uint40' is safe because timestamps stay below 2**40 (year 36812)
        // forge-lint: disable-next-line(unsafe-typecast)
        t.endedAt = uint40(block.timestamp);
    }

    /// @dev Applies a round's slash list. The list is strictly ascending by worker, so each worker appears once
    /// and the per-round bound holds per worker.
    function _applySlashes(TaskRecord storage t, uint256 taskId, uint32 round, Slash[] calldata slashes) private {
        bool toRequester = t.slashToRequester;
        uint256 cap = uint256(t.stakeRequired) * t.maxSlashBps / BPS;
        mapping(address => WorkerInfo) storage workers = _workers[taskId];
        uint256 total;
        address previous;
        for (uint256 i; i < slashes.length; ++i) {
            Slash calldata s = slashes[i];
            address worker = s.worker;
            if (i != 0 && worker <= previous) revert MarketplaceSlashesNotSorted();
            previous = worker;
            uint256 amount = _slash(workers[worker], taskId, round, worker, s.amount, cap);
            total += amount;
            emit WorkerSlashed(taskId, round, worker, amount, s.reason, toRequester);
        }
        if (toRequester) t.slashedToRequester = SafeCast.toUint128(t.slashedToRequester + total);
        else t.slashedToPool = SafeCast.toUint128(t.slashedToPool + total);
    }

    /// @dev Takes `requested` from one worker's stake, clamped to what is left and to the per-round `cap`.
    function _slash(WorkerInfo storage w, uint256 taskId, uint32 round, address worker, uint256 requested, uint256 cap)
        private
        returns (uint256 amount)
    {
        WorkerStatus status = w.status;
        // A worker that left during this round is still answerable for it, and for no later round.
        if (status != WorkerStatus.Active && (status != WorkerStatus.Exited || _exitRound[taskId][worker] != round)) {
            revert MarketplaceNotWorker(taskId, worker);
        }
        uint256 stake = w.stake;
        amount = requested < stake ? requested : stake;
        if (amount > cap) amount = cap;
        // casting to 'uint120' is safe because amount <= stake, which was a uint120
        // forge-lint: disable-next-line(unsafe-typecast)
        w.stake = uint120(stake - amount);
    }

    /// @dev Checks the per-task bound and records the new root.
    function _commitRewards(TaskRecord storage t, uint256 taskId, bytes32 rewardsRoot, uint256 total)
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
