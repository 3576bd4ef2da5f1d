// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IMarketplace — the on-chain half of Tessera, a federated-training marketplace
/// @notice A requester escrows an ERC-20 reward pool for a training task; workers escrow a stake in the same
/// token to join; the task's coordinator opens rounds and finalizes each one with a Merkle root committing to
/// every worker's CUMULATIVE earnings in the task, plus a short list of slashes. Workers pull their rewards with
/// one `claim` covering any number of rounds (cumulative Merkle distributor pattern).
///
/// Conventions shared with the Rust client:
/// - Every `...Cid` is a bytes32 holding the sha2-256 digest of a CIDv0 (dag-pb, multihash prefix 0x12 0x20):
///   the CID is base58btc(0x12 ‖ 0x20 ‖ digest). bytes32(0) means "no CID".
/// - Task ids start at 1 and increment. Rounds are numbered from 1 to `numRounds`; round 0 does not exist.
/// - Reward leaf: `keccak256(bytes.concat(keccak256(abi.encode(uint256 taskId, address account,
///   uint256 cumulativeAmount))))`. Internal nodes are `keccak256(a ‖ b)` with the pair sorted (a <= b), so any
///   sorted-pair tree verifies, including OpenZeppelin's StandardMerkleTree over the types
///   ["uint256", "address", "uint256"] with values [taskId, account, cumulativeAmount].
/// - Allowlist leaf: `keccak256(bytes.concat(keccak256(abi.encode(address account))))`, same tree rules
///   (StandardMerkleTree over ["address"]).
/// - Amounts are in the task's reward token's smallest unit. Reward pools fit in uint128, stakes in uint120.
/// - Token assumptions: standard ERC-20 (missing return values are tolerated via SafeERC20). Deposits
///   (reward pool, stakes) must arrive in full: fee-on-transfer tokens revert with
///   `MarketplaceTransferAmountMismatch`. Rebasing tokens are not supported.
/// - Pause (PAUSER_ROLE) blocks new commitments and round progress: `createTask`, `join`, `startRound`,
///   `finalizeRound`, and `expireTask`. A pause is bounded: it lapses by itself `MAX_PAUSE_DURATION` after it
///   began, and a new pause is refused until `PAUSE_COOLDOWN` after the previous one ended (unpaused or lapsed),
///   so a pauser can hold up joins and round progress for at most 3 days in every 10 (no exit is ever held).
///   A pause that lapses emits no `Unpaused` event; `paused()` is the source of truth. Expiry waits the pause out: `expireTask`'s
///   deadline moves by the seconds paused since the task's last `startRound` or `finalizeRound` (a paused
///   coordinator cannot finalize, so its grace period must not run out because of the pause). Every exit stays
///   open while paused: `leaveTask`, `withdrawStake`, `evictWorker`, `endTask`, `claim` (against already
///   committed roots), `withdrawUnspent`, `sweepUnclaimed`, `cancelTask`, `revealValidationSet`,
///   `publishContentKeys`.
/// - Exits: a worker leaves at any time (`leaveTask`; during a round its stake stays escrowed until that round
///   is finalized, then `withdrawStake`); the requester ends a Running task (`endTask`, after the open round if
///   there is one); anyone evicts a slashed worker between rounds (`evictWorker`; its stake stays escrowed for
///   it to take back with `withdrawStake`, so no token transfer stands in the way); rewards are claimable for
///   `CLAIM_PERIOD` after the task ended, then the requester sweeps what is left (`sweepUnclaimed`).
interface IMarketplace {
    // ---------------------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Lifecycle of a task.
    /// @dev None: does not exist. Open: created, no round started yet (workers may join, requester may cancel).
    /// Running: at least one round started. Ended: the final round was finalized, the requester ended it
    /// (`endTask`), or the task expired.
    /// Cancelled: the requester cancelled it before the first round.
    enum TaskStatus {
        None,
        Open,
        Running,
        Ended,
        Cancelled
    }

    /// @notice Membership of a worker in a task. Never returns to None once a worker has joined. An Exited worker
    /// may still have stake escrowed (it left during a round, see `leaveTask`, or was evicted, see `evictWorker`).
    enum WorkerStatus {
        None,
        Active,
        Exited
    }

    /// @notice Why the coordinator slashed a worker.
    enum SlashReason {
        FreeRider,
        Poisoning,
        Copy,
        NoShow,
        Other
    }

    /// @notice Parameters of a new task, passed to `createTask`.
    /// @param rewardToken ERC-20 paid as reward; stakes are escrowed in the same token.
    /// @param rewardPool Amount the requester escrows for rewards (must be > 0 and <= type(uint128).max).
    /// @param stakeRequired Stake each worker escrows on `join` (> 0, so a seat always costs something and a
    /// slashed worker can be evicted; <= type(uint120).max).
    /// @param numRounds Number of training rounds (> 0). Finalizing round `numRounds` ends the task.
    /// @param maxWorkers Maximum number of simultaneously active workers (> 0).
    /// @param submissionWindow Seconds between `startRound` and the round's submission deadline (> 0 and
    /// <= `MAX_SUBMISSION_WINDOW`).
    /// @param coordinator Address allowed to start and finalize rounds (!= address(0)).
    /// @param modelArchitectureId Identifier of the model architecture (opaque to the contract).
    /// @param initialModelCid Initial checkpoint, sha2-256 digest of its CIDv0 (!= 0).
    /// @param validationSetCommitment Commitment to the validation set revealed after the task ends (opaque).
    /// @param allowlistRoot Merkle root of allowed workers; bytes32(0) means anyone may join.
    /// @param slashToRequester If true slashed stake goes to the requester, otherwise back into the reward pool.
    /// @param maxSlashBps Most a worker can lose in one round, in basis points of `stakeRequired` (1..=10000),
    /// fixed at creation so workers know the worst case before they join.
    /// @param accessPolicy CID digest of the task's access policy document (`tessera-access-v1`: who may read its
    /// updates, checkpoints and final model, whether its content keys are published when it ends, its
    /// differential-privacy settings), or bytes32(0) for a public task whose artefacts are not encrypted. Fixed at
    /// creation.
    struct TaskConfig {
        address rewardToken;
        uint256 rewardPool;
        uint256 stakeRequired;
        uint32 numRounds;
        uint32 maxWorkers;
        uint32 submissionWindow;
        address coordinator;
        bytes32 modelArchitectureId;
        bytes32 initialModelCid;
        bytes32 validationSetCommitment;
        bytes32 allowlistRoot;
        bool slashToRequester;
        uint16 maxSlashBps;
        bytes32 accessPolicy;
    }

    /// @notice A task's main record, as returned by `getTask`; the rest of its state is in `TaskTerms`
    /// (`getTaskTerms`).
    /// @param rewardToken Reward and stake token.
    /// @param currentRound Number of rounds started so far (the latest round's number; 0 before the first).
    /// @param numRounds Configured number of rounds.
    /// @param status Lifecycle status.
    /// @param roundOpen Whether round `currentRound` is open (started, not finalized).
    /// @param slashToRequester Where slashed stake goes (see TaskConfig).
    /// @param coordinator Coordinator address.
    /// @param maxWorkers Worker cap.
    /// @param workerCount Currently active workers (joined, not left, evicted nor withdrawn).
    /// @param submissionWindow Seconds from round start to the round's deadline.
    /// @param requester Address that created (and funded) the task.
    /// @param unspentWithdrawn Whether the requester already took back the unspent pool (or the cancel refund).
    /// @param rewardPool Escrowed reward pool.
    /// @param slashedToPool Stake slashed in this task and added to the reward pool.
    /// @param paidOut Rewards claimed so far in this task.
    /// @param committedRewards `cumulativeRewardsTotal` of the latest finalized round: the sum of all cumulative
    /// amounts in `rewardsRoot`. Claims of this task never pay out more than this in total.
    /// @param stakeRequired Stake per worker.
    /// @param slashedToRequester Stake slashed in this task owed to the requester (paid by `withdrawUnspent`).
    /// @param rewardsRoot Latest rewards root (bytes32(0) before the first finalize).
    /// @param modelArchitectureId See TaskConfig.
    /// @param initialModelCid See TaskConfig.
    /// @param validationSetCommitment See TaskConfig.
    /// @param validationSetCid Revealed validation set CID digest (bytes32(0) until revealed).
    /// @param allowlistRoot See TaskConfig.
    struct Task {
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
    }

    /// @notice The rest of a task's state, as returned by `getTaskTerms`: its slash bound, how it ends, and who may
    /// read what it produces.
    /// @param maxSlashBps See TaskConfig.
    /// @param endRequested Whether the requester called `endTask` during the open round: finalizing it ends the
    /// task.
    /// @param endedAt Block timestamp at which the task became Ended (0 before); claims close `CLAIM_PERIOD` later.
    /// @param unclaimedSwept Whether the requester already swept the rewards left unclaimed after the claim period.
    /// @param accessPolicy See TaskConfig.
    /// @param contentKeysCid CID digest of the task's content keys as published by its coordinator (bytes32(0)
    /// until published): with them anyone can decrypt and verify every round.
    struct TaskTerms {
        uint16 maxSlashBps;
        bool endRequested;
        uint40 endedAt;
        bool unclaimedSwept;
        bytes32 accessPolicy;
        bytes32 contentKeysCid;
    }

    /// @notice Stored state of one round, as returned by `getRound`.
    /// @param globalModelCid Global checkpoint the round trains from (set by `startRound`).
    /// @param newModelCid Aggregated checkpoint produced by the round (set by `finalizeRound`).
    /// @param manifestCid Round manifest (submissions, scores, rewards) published by the coordinator.
    /// @param rewardsRoot Rewards root posted when the round was finalized.
    /// @param cumulativeRewardsTotal Sum of all cumulative amounts in `rewardsRoot`.
    /// @param startedAt Block timestamp of `startRound`.
    /// @param deadline Submission deadline: `startedAt + submissionWindow`.
    /// @param finalizedAt Block timestamp of `finalizeRound` (0 while open or if never finalized).
    struct Round {
        bytes32 globalModelCid;
        bytes32 newModelCid;
        bytes32 manifestCid;
        bytes32 rewardsRoot;
        uint128 cumulativeRewardsTotal;
        uint40 startedAt;
        uint40 deadline;
        uint40 finalizedAt;
    }

    /// @notice A worker's record in a task (one storage slot), as returned by `getWorker`.
    /// @param claimed Cumulative rewards already paid to this account in this task.
    /// @param stake Remaining escrowed stake (after slashes; 0 once returned).
    /// @param status Membership status.
    struct WorkerInfo {
        uint128 claimed;
        uint120 stake;
        WorkerStatus status;
    }

    /// @notice One slash applied by `finalizeRound`.
    /// @param worker Active worker of the task to slash, or one that left during the round being finalized.
    /// @param amount Requested amount; clamped to the worker's remaining stake and to
    /// `stakeRequired * maxSlashBps / 10000`.
    /// @param reason Reason code.
    struct Slash {
        address worker;
        uint256 amount;
        SlashReason reason;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Thrown when an address argument that must be set is address(0).
    error MarketplaceZeroAddress();

    /// @notice Thrown when a task is created with an empty reward pool.
    error MarketplaceZeroRewardPool();

    /// @notice Thrown when a task is created with zero rounds.
    error MarketplaceZeroRounds();

    /// @notice Thrown when a task is created with a worker cap of zero.
    error MarketplaceZeroMaxWorkers();

    /// @notice Thrown when a task is created with a submission window of zero seconds.
    error MarketplaceZeroSubmissionWindow();

    /// @notice Thrown when a task is created with a submission window above `MAX_SUBMISSION_WINDOW`.
    /// @param given The window given (seconds).
    /// @param max The longest window accepted.
    error MarketplaceSubmissionWindowTooLong(uint32 given, uint256 max);

    /// @notice Thrown when a task is created with a zero stake (a free seat could be held for ever).
    error MarketplaceZeroStake();

    /// @notice Thrown when a task is created with a per-round slash bound outside 1..=10000 basis points. (A bound
    /// that rounds to nothing of a tiny stake, `stakeRequired * maxSlashBps < 10000`, is accepted: it makes every
    /// slash, and so every eviction, a no-op, which hurts only the requester who chose it; Tessera's tools refuse
    /// to create such a task.)
    /// @param maxSlashBps The bound given.
    error MarketplaceInvalidMaxSlash(uint16 maxSlashBps);

    /// @notice Thrown when a CID digest that must be set is bytes32(0).
    error MarketplaceZeroCid();

    /// @notice Thrown when an amount does not fit the storage type reserved for it.
    /// @param amount The amount given.
    /// @param max The largest amount accepted.
    error MarketplaceAmountTooLarge(uint256 amount, uint256 max);

    /// @notice Thrown when a token deposit delivered a different amount than requested (e.g. fee-on-transfer).
    /// @param expected Amount requested from the sender.
    /// @param received Amount the contract's balance actually grew by.
    error MarketplaceTransferAmountMismatch(uint256 expected, uint256 received);

    /// @notice Thrown when the task id does not exist.
    /// @param taskId The task id given.
    error MarketplaceTaskNotFound(uint256 taskId);

    /// @notice Thrown when the caller is not the task's requester.
    /// @param taskId The task.
    /// @param caller The caller.
    error MarketplaceNotRequester(uint256 taskId, address caller);

    /// @notice Thrown when the caller is not the task's coordinator.
    /// @param taskId The task.
    /// @param caller The caller.
    error MarketplaceNotCoordinator(uint256 taskId, address caller);

    /// @notice Thrown when the caller is neither the task's requester nor its coordinator.
    /// @param taskId The task.
    /// @param caller The caller.
    error MarketplaceNotRequesterOrCoordinator(uint256 taskId, address caller);

    /// @notice Thrown when the action needs an Open or Running task but it has ended or was cancelled.
    /// @param taskId The task.
    /// @param status Its current status.
    error MarketplaceTaskNotActive(uint256 taskId, TaskStatus status);

    /// @notice Thrown when `endTask` is called on a task that is not Running (an Open task is cancelled instead).
    /// @param taskId The task.
    /// @param status Its current status.
    error MarketplaceTaskNotRunning(uint256 taskId, TaskStatus status);

    /// @notice Thrown when `endTask` is called again while the end it requested waits for the open round.
    /// @param taskId The task.
    error MarketplaceEndAlreadyRequested(uint256 taskId);

    /// @notice Thrown when the action needs an ended (or, for stake withdrawals, cancelled) task.
    /// @param taskId The task.
    /// @param status Its current status.
    error MarketplaceTaskNotEnded(uint256 taskId, TaskStatus status);

    /// @notice Thrown when the requester tries to cancel a task whose first round already started (or that is
    /// not Open for another reason).
    /// @param taskId The task.
    /// @param status Its current status.
    error MarketplaceTaskNotCancellable(uint256 taskId, TaskStatus status);

    /// @notice Thrown when joining, evicting or starting a round while a round is open.
    /// @param taskId The task.
    /// @param round The open round.
    error MarketplaceRoundOpen(uint256 taskId, uint32 round);

    /// @notice Thrown when finalizing while no round is open.
    /// @param taskId The task.
    error MarketplaceNoOpenRound(uint256 taskId);

    /// @notice Thrown when finalizing a round other than the open one.
    /// @param taskId The task.
    /// @param expected The open round.
    /// @param given The round passed.
    error MarketplaceWrongRound(uint256 taskId, uint32 expected, uint32 given);

    /// @notice Thrown when joining a task that already has `maxWorkers` active workers.
    /// @param taskId The task.
    /// @param maxWorkers The cap.
    error MarketplaceWorkerCapReached(uint256 taskId, uint32 maxWorkers);

    /// @notice Thrown when an active worker tries to join the same task again.
    /// @param taskId The task.
    /// @param worker The worker.
    error MarketplaceAlreadyWorker(uint256 taskId, address worker);

    /// @notice Thrown when the account is not an active worker of the task (leaveTask, withdrawStake, slash): for
    /// withdrawStake, not one that left or was evicted with stake still escrowed either; for a slash, not one that
    /// left during the round being finalized either.
    /// @param taskId The task.
    /// @param account The account.
    error MarketplaceNotWorker(uint256 taskId, address account);

    /// @notice Thrown when a worker that left during a round, or was evicted, joins again before taking back its
    /// escrowed stake.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @param pendingStake Its stake still escrowed (withdraw it with `withdrawStake` first).
    error MarketplacePendingStake(uint256 taskId, address worker, uint256 pendingStake);

    /// @notice Thrown when a worker that left during round `round` withdraws its stake while that round is open
    /// (the round's finalize may still slash it).
    /// @param taskId The task.
    /// @param worker The worker.
    /// @param round The round it left during.
    error MarketplaceStakeLocked(uint256 taskId, address worker, uint32 round);

    /// @notice Thrown when `evictWorker` targets an account that is not an active worker with less than the
    /// required stake.
    /// @param taskId The task.
    /// @param worker The account.
    error MarketplaceWorkerNotEvictable(uint256 taskId, address worker);

    /// @notice Thrown when a slash list is not strictly ascending by worker address (so no worker is listed
    /// twice in a round).
    error MarketplaceSlashesNotSorted();

    /// @notice Thrown when joining an allowlisted task without a valid allowlist proof.
    /// @param taskId The task.
    /// @param account The account that tried to join.
    error MarketplaceNotAllowlisted(uint256 taskId, address account);

    /// @notice Thrown when a round's cumulative rewards total is lower than the previous round's.
    /// @param taskId The task.
    /// @param previous The committed total so far.
    /// @param given The total passed.
    error MarketplaceRewardsTotalDecreased(uint256 taskId, uint256 previous, uint256 given);

    /// @notice Thrown when a round's cumulative rewards total exceeds the task's reward pool plus the stake
    /// slashed into it.
    /// @param taskId The task.
    /// @param total The total passed.
    /// @param available rewardPool + slashedToPool (after this round's slashes).
    error MarketplaceRewardsExceedFunds(uint256 taskId, uint256 total, uint256 available);

    /// @notice Thrown when a round commits a non-zero rewards total under a zero root (nothing could be claimed).
    /// @param taskId The task.
    error MarketplaceZeroRewardsRoot(uint256 taskId);

    /// @notice Thrown when claiming after the claim period of an ended task.
    /// @param taskId The task.
    /// @param closedAt `endedAt + CLAIM_PERIOD`, when claims closed.
    error MarketplaceClaimPeriodOver(uint256 taskId, uint256 closedAt);

    /// @notice Thrown when the requester sweeps unclaimed rewards before the claim period is over.
    /// @param taskId The task.
    /// @param availableAt `endedAt + CLAIM_PERIOD`, the first timestamp at which sweeping works.
    error MarketplaceClaimPeriodNotOver(uint256 taskId, uint256 availableAt);

    /// @notice Thrown when the requester sweeps unclaimed rewards a second time.
    /// @param taskId The task.
    error MarketplaceUnclaimedAlreadySwept(uint256 taskId);

    /// @notice Thrown when claiming from a task that has no rewards root yet (or does not exist).
    /// @param taskId The task.
    error MarketplaceNoRewardsRoot(uint256 taskId);

    /// @notice Thrown when a reward claim's Merkle proof does not match the task's latest rewards root.
    /// @param taskId The task.
    /// @param account The claimant.
    /// @param cumulativeAmount The cumulative amount claimed.
    error MarketplaceInvalidRewardProof(uint256 taskId, address account, uint256 cumulativeAmount);

    /// @notice Thrown when the proven cumulative amount is not above what the account already claimed.
    /// @param taskId The task.
    /// @param account The claimant.
    /// @param alreadyClaimed What the account was already paid in this task.
    error MarketplaceNothingToClaim(uint256 taskId, address account, uint256 alreadyClaimed);

    /// @notice Thrown when a claim would take the task's total payout above its committed rewards total (only
    /// possible if a coordinator posted a tree whose leaves sum to more than its `cumulativeRewardsTotal`).
    /// @param taskId The task.
    /// @param paidOut What the task paid out so far.
    /// @param amount The payout this claim asked for.
    /// @param committed The committed rewards total of the latest root.
    error MarketplaceClaimExceedsCommitted(uint256 taskId, uint256 paidOut, uint256 amount, uint256 committed);

    /// @notice Thrown when the requester withdraws the unspent pool a second time.
    /// @param taskId The task.
    error MarketplaceUnspentAlreadyWithdrawn(uint256 taskId);

    /// @notice Thrown when the validation set of a task was already revealed.
    /// @param taskId The task.
    error MarketplaceValidationSetAlreadyRevealed(uint256 taskId);

    /// @notice Thrown when the content keys of a task were already published.
    /// @param taskId The task.
    error MarketplaceContentKeysAlreadyPublished(uint256 taskId);

    /// @notice Thrown when publishing content keys for a task without an access policy (its artefacts are not
    /// encrypted, so it has no content keys).
    /// @param taskId The task.
    error MarketplaceTaskNotConfidential(uint256 taskId);

    /// @notice Thrown when `expireTask` is called on a task that is not Running.
    /// @param taskId The task.
    /// @param status Its current status.
    error MarketplaceTaskNotExpirable(uint256 taskId, TaskStatus status);

    /// @notice Thrown when `expireTask` is called before the coordinator's grace period ran out.
    /// @param taskId The task.
    /// @param expiresAt First timestamp at which the task can be expired (as things stand: a later pause moves it).
    error MarketplaceTaskNotExpired(uint256 taskId, uint256 expiresAt);

    /// @notice Thrown when `pause` is called before `PAUSE_COOLDOWN` passed since the previous pause ended.
    /// @param availableAt First timestamp at which pausing works again.
    error MarketplacePauseCooldown(uint256 availableAt);

    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Emitted when a task is created and its reward pool escrowed.
    /// @param taskId The new task's id.
    /// @param requester The creator, who funded the pool.
    /// @param coordinator The task's coordinator.
    /// @param config The full configuration as passed to `createTask`.
    event TaskCreated(
        uint256 indexed taskId, address indexed requester, address indexed coordinator, TaskConfig config
    );

    /// @notice Emitted when a worker joins a task and escrows its stake.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @param stake The stake escrowed.
    event WorkerJoined(uint256 indexed taskId, address indexed worker, uint256 stake);

    /// @notice Emitted when a worker leaves a task.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @param stakeReturned Remaining stake returned to the worker (stake minus slashes); 0 when it left during
    /// a round, whose stake stays escrowed (see `WorkerLeftDuringRound`).
    event WorkerLeft(uint256 indexed taskId, address indexed worker, uint256 stakeReturned);

    /// @notice Emitted, after `WorkerLeft`, when a worker leaves while a round is open: its stake stays escrowed
    /// until that round is no longer open, and that round's finalize may still slash it.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @param round The open round.
    /// @param stakeHeld Stake still escrowed.
    event WorkerLeftDuringRound(uint256 indexed taskId, address indexed worker, uint32 round, uint256 stakeHeld);

    /// @notice Emitted when anyone evicts a slashed worker between rounds, freeing its seat.
    /// @param taskId The task.
    /// @param worker The evicted worker.
    /// @param stakeHeld Remaining stake, still escrowed for the worker to take back with `withdrawStake`.
    event WorkerEvicted(uint256 indexed taskId, address indexed worker, uint256 stakeHeld);

    /// @notice Emitted when a worker takes its stake back after the task ended or was cancelled, after the
    /// round it left during, or after it was evicted.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @param amount Remaining stake returned (stake minus slashes).
    event StakeWithdrawn(uint256 indexed taskId, address indexed worker, uint256 amount);

    /// @notice Emitted when the coordinator opens a round.
    /// @param taskId The task.
    /// @param round The round number (1-based).
    /// @param globalModelCid Checkpoint the round trains from.
    /// @param deadline Submission deadline (unix seconds).
    event RoundStarted(uint256 indexed taskId, uint32 indexed round, bytes32 globalModelCid, uint256 deadline);

    /// @notice Emitted when the coordinator finalizes a round.
    /// @param taskId The task.
    /// @param round The round number.
    /// @param newModelCid Aggregated checkpoint produced by the round.
    /// @param manifestCid Round manifest.
    /// @param rewardsRoot Root committing to every worker's cumulative earnings in the task.
    /// @param cumulativeRewardsTotal Sum of all cumulative amounts in `rewardsRoot`.
    event RoundFinalized(
        uint256 indexed taskId,
        uint32 indexed round,
        bytes32 newModelCid,
        bytes32 manifestCid,
        bytes32 rewardsRoot,
        uint256 cumulativeRewardsTotal
    );

    /// @notice Emitted for every entry of a round's slash list.
    /// @param taskId The task.
    /// @param round The round being finalized.
    /// @param worker The slashed worker.
    /// @param amount Amount actually slashed (the requested amount clamped to the remaining stake and to
    /// `stakeRequired * maxSlashBps / 10000`).
    /// @param reason Reason code.
    /// @param toRequester True if the amount goes to the requester, false if it joins the reward pool.
    event WorkerSlashed(
        uint256 indexed taskId,
        uint32 indexed round,
        address indexed worker,
        uint256 amount,
        SlashReason reason,
        bool toRequester
    );

    /// @notice Emitted when a task ends: its final round was finalized, the requester ended it, or it expired.
    /// @param taskId The task.
    /// @param roundsCompleted Number of finalized rounds.
    /// @param expired True if ended by `expireTask` (coordinator inactive), false otherwise.
    event TaskEnded(uint256 indexed taskId, uint32 roundsCompleted, bool expired);

    /// @notice Emitted when the requester calls `endTask` during a round: the task ends when that round is
    /// finalized.
    /// @param taskId The task.
    /// @param round The open round, now the last one.
    event TaskEndRequested(uint256 indexed taskId, uint32 round);

    /// @notice Emitted when the requester takes back the rewards left unclaimed after the claim period.
    /// @param taskId The task.
    /// @param requester The requester (recipient).
    /// @param amount committedRewards - paidOut.
    event UnclaimedSwept(uint256 indexed taskId, address indexed requester, uint256 amount);

    /// @notice Emitted when a worker claims rewards.
    /// @param taskId The task.
    /// @param account The claimant (and recipient).
    /// @param amount Amount paid by this claim.
    /// @param cumulativeAmount The account's cumulative amount in the root, i.e. its total claimed afterwards.
    event RewardClaimed(uint256 indexed taskId, address indexed account, uint256 amount, uint256 cumulativeAmount);

    /// @notice Emitted when the requester cancels a task before its first round.
    /// @param taskId The task.
    /// @param refunded Reward pool returned to the requester.
    event TaskCancelled(uint256 indexed taskId, uint256 refunded);

    /// @notice Emitted when the requester takes back what no rewards root committed, plus stake slashed to it.
    /// @param taskId The task.
    /// @param requester The requester (recipient).
    /// @param unspentPool rewardPool + slashedToPool - committedRewards.
    /// @param slashedStake Stake slashed to the requester (tasks with slashToRequester).
    event UnspentWithdrawn(
        uint256 indexed taskId, address indexed requester, uint256 unspentPool, uint256 slashedStake
    );

    /// @notice Emitted when the validation set of an ended task is revealed.
    /// @param taskId The task.
    /// @param validationSetCid CIDv0 sha2-256 digest of the validation set.
    /// @param revealer The requester or coordinator that revealed it.
    event ValidationSetRevealed(uint256 indexed taskId, bytes32 validationSetCid, address indexed revealer);

    /// @notice Emitted when the content keys of an ended confidential task are published.
    /// @param taskId The task.
    /// @param keysCid CIDv0 sha2-256 digest of the published content keys.
    /// @param publisher The task's coordinator, which published them.
    event ContentKeysPublished(uint256 indexed taskId, bytes32 keysCid, address indexed publisher);

    // ---------------------------------------------------------------------------------------------------------
    // Requester
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Creates a task and escrows `config.rewardPool` of `config.rewardToken` from the caller (approve
    /// first). Blocked while paused.
    /// @param config Task parameters (see TaskConfig).
    /// @return taskId The new task's id (1, 2, 3, ...).
    function createTask(TaskConfig calldata config) external returns (uint256 taskId);

    /// @notice Cancels an Open task (no round started yet) and refunds the whole reward pool to the requester.
    /// Workers then take their stake back with `withdrawStake`. Only the requester.
    /// @param taskId The task.
    function cancelTask(uint256 taskId) external;

    /// @notice After the task ended, pays the requester `rewardPool + slashedToPool - committedRewards` (what no
    /// rewards root committed; committed but unclaimed rewards stay claimable) plus `slashedToRequester`.
    /// Once per task. Only the requester.
    /// @param taskId The task.
    function withdrawUnspent(uint256 taskId) external;

    /// @notice Ends a Running task early. With no round open it ends at once; with a round open, finalizing that
    /// round ends it (the coordinator can no longer chain rounds for ever), and `expireTask` still applies.
    /// Only the requester. Works while paused.
    /// @param taskId The task.
    function endTask(uint256 taskId) external;

    /// @notice After `CLAIM_PERIOD` past the task's end, pays the requester `committedRewards - paidOut` (what
    /// no one claimed; claims are closed by then). Once per task. Only the requester. Works while paused.
    /// @param taskId The task.
    function sweepUnclaimed(uint256 taskId) external;

    /// @notice Records the validation set's CID after the task ended. Once per task. Only the requester or the
    /// coordinator. The contract does not check it against `validationSetCommitment` (verification is off-chain).
    /// @param taskId The task.
    /// @param validationSetCid CIDv0 sha2-256 digest of the validation set (!= 0).
    function revealValidationSet(uint256 taskId, bytes32 validationSetCid) external;

    /// @notice Records the CID of the task's content keys after the task ended, so that anyone can decrypt and
    /// verify every round. Once per task, and only for a confidential task (`accessPolicy` != 0). Only the
    /// coordinator, the party that holds every content key (the requester may not: the first publication is
    /// final, so a bogus one would leave the task unverifiable). The contract does not check the keys against
    /// the access policy (whether they are to be published, and their verification, are off-chain).
    /// @param taskId The task.
    /// @param keysCid CIDv0 sha2-256 digest of the content keys (!= 0).
    function publishContentKeys(uint256 taskId, bytes32 keysCid) external;

    // ---------------------------------------------------------------------------------------------------------
    // Workers
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Joins a task and escrows `stakeRequired` from the caller (approve first). Not while a round is
    /// open, not after the task ended, not above `maxWorkers`. A worker that left may join again, once it took
    /// back any stake still escrowed from its last membership. Blocked while paused.
    /// @param taskId The task.
    /// @param allowlistProof Proof of the caller's allowlist leaf (ignored, may be empty, when the task has no
    /// allowlist).
    function join(uint256 taskId, bytes32[] calldata allowlistProof) external;

    /// @notice Leaves a task at once (its seat is freed; later rounds cannot slash it). Between rounds the
    /// remaining stake (after slashes) is returned now. During a round the stake stays escrowed, the finalize of
    /// that round may still slash it, and the worker takes it back with `withdrawStake` once that round is no
    /// longer open (finalized, or the task ended). Rewards already committed stay claimable. Works while paused.
    /// @param taskId The task.
    function leaveTask(uint256 taskId) external;

    /// @notice Returns the caller's remaining stake: as an active worker, after the task ended or was cancelled;
    /// as a worker that left during a round, once that round is no longer open; as an evicted worker, at once.
    /// Works while paused.
    /// @param taskId The task.
    function withdrawStake(uint256 taskId) external;

    /// @notice Pays the caller `cumulativeAmount - claimed(taskId, caller)`, proven against the task's latest
    /// rewards root with leaf `keccak256(bytes.concat(keccak256(abi.encode(taskId, msg.sender,
    /// cumulativeAmount))))`. One claim covers any number of rounds. Closed `CLAIM_PERIOD` after the task ended.
    /// @param taskId The task.
    /// @param cumulativeAmount The caller's cumulative earnings in the task, as committed by the root.
    /// @param proof Sorted-pair Merkle proof of the leaf.
    function claim(uint256 taskId, uint256 cumulativeAmount, bytes32[] calldata proof) external;

    // ---------------------------------------------------------------------------------------------------------
    // Coordinator
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Opens the next round with deadline `block.timestamp + submissionWindow`. Only the coordinator, not
    /// while a round is open, not after the task ended. Blocked while paused.
    /// @param taskId The task.
    /// @param globalModelCid Global checkpoint the round trains from (!= 0).
    function startRound(uint256 taskId, bytes32 globalModelCid) external;

    /// @notice Finalizes the open round: applies the slashes (each clamped to the worker's remaining stake and to
    /// `stakeRequired * maxSlashBps / 10000`), records the new model, the manifest and the rewards root, and ends
    /// the task after the final round or when the requester asked to (`endTask`).
    /// Gas grows with `slashes.length` only, never with the number of workers. Only the coordinator.
    /// Blocked while paused.
    /// @param taskId The task.
    /// @param round The open round's number (guards against stale transactions).
    /// @param newModelCid Aggregated checkpoint (!= 0).
    /// @param manifestCid Round manifest (!= 0).
    /// @param rewardsRoot Root of the tree of every worker's cumulative earnings in this task (!= 0 unless the
    /// total is 0).
    /// @param cumulativeRewardsTotal Sum of all cumulative amounts in the tree: non-decreasing across rounds and
    /// at most rewardPool + slashedToPool (after this round's slashes).
    /// @param slashes Slashes to apply, strictly ascending by worker address; every worker must be an active
    /// worker of the task or one that left during this round.
    function finalizeRound(
        uint256 taskId,
        uint32 round,
        bytes32 newModelCid,
        bytes32 manifestCid,
        bytes32 rewardsRoot,
        uint256 cumulativeRewardsTotal,
        Slash[] calldata slashes
    ) external;

    // ---------------------------------------------------------------------------------------------------------
    // Anyone
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Ends a Running task whose coordinator went silent: a round open for more than
    /// `FINALIZE_GRACE_PERIOD` past its deadline, or no new round for `FINALIZE_GRACE_PERIOD` after the last
    /// finalize; either way plus the seconds the contract was paused since the last `startRound` or
    /// `finalizeRound`. An open round is abandoned (no rewards for it); earlier roots stay claimable. Blocked
    /// while paused.
    /// @param taskId The task.
    function expireTask(uint256 taskId) external;

    /// @notice Evicts an active worker whose stake was slashed below `stakeRequired`, freeing its seat. Its
    /// remaining stake stays escrowed, out of reach of later slashes, until it takes it back with `withdrawStake`
    /// (a transfer here would let a token that refuses transfers to the worker keep it seated). Open or Running
    /// task, no round open. Anyone. Works while paused.
    /// @param taskId The task.
    /// @param worker The worker.
    function evictWorker(uint256 taskId, address worker) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Grace period after which a silent coordinator's task can be expired (seconds).
    /// @return The grace period.
    function FINALIZE_GRACE_PERIOD() external view returns (uint256);

    /// @notice Longest a pause lasts: `paused()` turns false this many seconds after the pause began.
    /// @return The duration (seconds).
    function MAX_PAUSE_DURATION() external view returns (uint256);

    /// @notice Time after a pause ended (unpaused or lapsed) before the next pause is accepted (seconds).
    /// @return The cooldown.
    function PAUSE_COOLDOWN() external view returns (uint256);

    /// @notice Time after a task ended during which rewards can be claimed (seconds).
    /// @return The claim period.
    function CLAIM_PERIOD() external view returns (uint256);

    /// @notice Longest submission window a task may have (seconds).
    /// @return The bound.
    function MAX_SUBMISSION_WINDOW() external view returns (uint256);

    /// @notice Total seconds the contract has been paused: ended and lapsed pauses, plus the ongoing one so far.
    /// @return The total.
    function pausedSeconds() external view returns (uint256);

    /// @notice Number of tasks created; task ids are 1..taskCount().
    /// @return The count.
    function taskCount() external view returns (uint256);

    /// @notice A task's main record. Reverts with MarketplaceTaskNotFound for unknown ids.
    /// @param taskId The task.
    /// @return The task.
    function getTask(uint256 taskId) external view returns (Task memory);

    /// @notice A task's slash bound, end state and access policy (the fields `getTask` leaves out). Reverts with
    /// MarketplaceTaskNotFound for unknown ids.
    /// @param taskId The task.
    /// @return The task's terms.
    function getTaskTerms(uint256 taskId) external view returns (TaskTerms memory);

    /// @notice A round's stored state (all zero for rounds not started). Reverts for unknown tasks.
    /// @param taskId The task.
    /// @param round The round number (1-based).
    /// @return The round.
    function getRound(uint256 taskId, uint32 round) external view returns (Round memory);

    /// @notice A worker's record in a task.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @return The record.
    function getWorker(uint256 taskId, address worker) external view returns (WorkerInfo memory);

    /// @notice The round during which a worker left (or before whose start it was evicted); 0 if it never left
    /// that way. A worker that left during round r can still be slashed by round r's finalize, and no later one.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @return The round.
    function exitRound(uint256 taskId, address worker) external view returns (uint32);

    /// @notice A worker's remaining escrowed stake in a task.
    /// @param taskId The task.
    /// @param worker The worker.
    /// @return The stake.
    function stakeOf(uint256 taskId, address worker) external view returns (uint256);

    /// @notice Whether the account is an active worker of the task.
    /// @param taskId The task.
    /// @param account The account.
    /// @return True if active.
    function isWorker(uint256 taskId, address account) external view returns (bool);

    /// @notice Number of active workers of a task.
    /// @param taskId The task.
    /// @return The count.
    function workerCount(uint256 taskId) external view returns (uint256);

    /// @notice Cumulative rewards already paid to an account in a task.
    /// @param taskId The task.
    /// @param account The account.
    /// @return The amount.
    function claimed(uint256 taskId, address account) external view returns (uint256);

    /// @notice The reward leaf the contract verifies, for clients to cross-check their encoding.
    /// @param taskId The task.
    /// @param account The account.
    /// @param cumulativeAmount The cumulative amount.
    /// @return keccak256(bytes.concat(keccak256(abi.encode(taskId, account, cumulativeAmount)))).
    function rewardLeaf(uint256 taskId, address account, uint256 cumulativeAmount) external pure returns (bytes32);

    /// @notice The allowlist leaf the contract verifies on `join`.
    /// @param account The account.
    /// @return keccak256(bytes.concat(keccak256(abi.encode(account)))).
    function allowlistLeaf(address account) external pure returns (bytes32);
}
