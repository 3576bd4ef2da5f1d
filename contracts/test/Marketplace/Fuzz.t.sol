// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice Fuzz tests over amounts and orders of operations.
contract MarketplaceFuzzTest is MarketplaceTestBase {
    function testFuzz_createTask_escrowsAnyValidAmounts(uint256 pool, uint256 stake) public {
        pool = bound(pool, 1, type(uint128).max);
        stake = bound(stake, 1, type(uint120).max);
        token.mint(requester, pool);
        IMarketplace.TaskConfig memory c = _config();
        c.rewardPool = pool;
        c.stakeRequired = stake;
        uint256 before = token.balanceOf(address(market));
        uint256 taskId = _createTask(c);
        assertEq(token.balanceOf(address(market)) - before, pool);
        assertEq(market.getTask(taskId).rewardPool, pool);
        assertEq(market.getTask(taskId).stakeRequired, stake);
    }

    /// @dev Several rounds with growing cumulative amounts; every worker claims after a random subset of rounds.
    /// In the end each worker got exactly its final cumulative amount, and requester + workers get everything.
    function testFuzz_claim_cumulativeAcrossRounds(uint256 seed, uint8 nWorkers, uint8 nRounds, uint256 claimMask)
        public
    {
        uint256 n = bound(nWorkers, 1, MAX_WORKERS);
        uint32 rounds = uint32(bound(nRounds, 1, 4));
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = rounds;
        uint256 taskId = _createTask(c);
        _joinN(taskId, n);

        uint256[] memory cumulative = new uint256[](n);
        uint256[] memory paid = new uint256[](n);
        uint256 total;
        for (uint32 r = 1; r <= rounds; ++r) {
            // Each round distributes up to a quarter of the pool.
            for (uint256 i; i < n; ++i) {
                uint256 inc = uint256(keccak256(abi.encode(seed, r, i))) % (POOL / 4 / n + 1);
                cumulative[i] += inc;
                total += inc;
            }
            (bytes32 root, bytes32[][] memory proofs,) = _rewardTree(taskId, cumulative);
            _round(taskId, root, total);
            for (uint256 i; i < n; ++i) {
                bool claimNow = r == rounds || (claimMask >> (r * 8 + i)) & 1 == 1;
                if (claimNow && cumulative[i] > paid[i]) {
                    uint256 before = token.balanceOf(workers[i]);
                    _claim(taskId, workers[i], cumulative[i], proofs[i]);
                    assertEq(token.balanceOf(workers[i]) - before, cumulative[i] - paid[i]);
                    paid[i] = cumulative[i];
                }
            }
        }
        for (uint256 i; i < n; ++i) {
            assertEq(market.claimed(taskId, workers[i]), cumulative[i]);
        }
        assertEq(market.getTask(taskId).paidOut, total);

        vm.prank(requester);
        market.withdrawUnspent(taskId);
        for (uint256 i; i < n; ++i) {
            vm.prank(workers[i]);
            market.withdrawStake(taskId);
        }
        assertEq(token.balanceOf(address(market)), 0);
    }

    /// @dev Any sequence of slash amounts: the stake never goes negative, no round takes more than the task's
    /// per-round bound, the slashed sum equals what left the stake, and the worker gets exactly the remainder back.
    function testFuzz_slash_neverExceedsStake(
        uint256 stake,
        uint256[4] memory amounts,
        bool toRequester,
        uint16 maxSlashBps
    ) public {
        stake = bound(stake, 1, 1_000e18);
        IMarketplace.TaskConfig memory c = _config();
        c.stakeRequired = stake;
        c.numRounds = 4;
        c.slashToRequester = toRequester;
        c.maxSlashBps = uint16(bound(maxSlashBps, 1, 10_000));
        uint256 taskId = _createTask(c);
        _join(taskId, workers[0]);
        uint256 cap = stake * c.maxSlashBps / 10_000;

        uint256 remaining = stake;
        for (uint32 r = 1; r <= 4; ++r) {
            uint256 amount = amounts[r - 1];
            _start(taskId);
            _finalize(taskId, r, bytes32(0), 0, _slash(workers[0], amount));
            uint256 expected = amount < remaining ? amount : remaining;
            if (expected > cap) expected = cap;
            remaining -= expected;
            assertEq(market.stakeOf(taskId, workers[0]), remaining);
        }
        IMarketplace.Task memory t = market.getTask(taskId);
        assertEq(toRequester ? t.slashedToRequester : t.slashedToPool, stake - remaining);
        assertEq(toRequester ? t.slashedToPool : t.slashedToRequester, 0);

        uint256 before = token.balanceOf(workers[0]);
        vm.prank(workers[0]);
        market.withdrawStake(taskId);
        assertEq(token.balanceOf(workers[0]) - before, remaining);
    }

    /// @dev A random interleaving of joins, leaves and rounds keeps workerCount and the escrowed balance exact.
    function testFuzz_joinLeave_randomOrder(uint256 seed) public {
        IMarketplace.TaskConfig memory c = _config();
        c.numRounds = 16;
        c.maxWorkers = 5;
        uint256 taskId = _createTask(c);
        bool[] memory active = new bool[](workers.length);
        uint256 count;
        uint32 round;

        for (uint256 step; step < 48; ++step) {
            uint256 rnd = uint256(keccak256(abi.encode(seed, step)));
            uint256 who = rnd % workers.length;
            uint256 op = (rnd >> 64) % 4;
            if (op == 0 && round < 15) {
                _start(taskId);
                ++round;
                _finalize(taskId, round, bytes32(0), 0);
            } else if (op <= 2 && !active[who]) {
                if (count == c.maxWorkers) {
                    vm.expectRevert(
                        abi.encodeWithSelector(IMarketplace.MarketplaceWorkerCapReached.selector, taskId, c.maxWorkers)
                    );
                    _join(taskId, workers[who]);
                } else {
                    _join(taskId, workers[who]);
                    active[who] = true;
                    ++count;
                }
            } else if (active[who]) {
                vm.prank(workers[who]);
                market.leaveTask(taskId);
                active[who] = false;
                --count;
            }
            assertEq(market.workerCount(taskId), count);
            assertEq(token.balanceOf(address(market)), POOL + count * STAKE);
            assertEq(market.isWorker(taskId, workers[who]), active[who]);
        }
    }

    /// @dev Whatever the leaves say, the task never pays out more than its committed total.
    function testFuzz_claim_boundedByCommittedTotal(uint256 a, uint256 b, uint256 committed) public {
        uint256 taskId = _createTask();
        _joinN(taskId, 2);
        a = bound(a, 1, 10 * POOL);
        b = bound(b, 1, 10 * POOL);
        committed = bound(committed, 0, POOL);
        (bytes32 root, bytes32[][] memory proofs,) = _rewardTree(taskId, _amounts2(a, b));
        _round(taskId, root, committed);

        uint256 paid;
        if (a <= committed) {
            _claim(taskId, workers[0], a, proofs[0]);
            paid = a;
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(IMarketplace.MarketplaceClaimExceedsCommitted.selector, taskId, 0, a, committed)
            );
            _claim(taskId, workers[0], a, proofs[0]);
        }
        if (paid + b <= committed) {
            _claim(taskId, workers[1], b, proofs[1]);
            paid += b;
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IMarketplace.MarketplaceClaimExceedsCommitted.selector, taskId, paid, b, committed
                )
            );
            _claim(taskId, workers[1], b, proofs[1]);
        }
        assertLe(market.getTask(taskId).paidOut, committed);
        assertEq(token.balanceOf(address(market)), POOL + 2 * STAKE - paid);
    }

    /// @dev The cumulative total accepted by finalizeRound is exactly bounded by pool + slashed-to-pool.
    function testFuzz_finalizeRound_boundIsPoolPlusSlashed(uint256 slashAmount, uint256 total) public {
        uint256 taskId = _createTask();
        _joinN(taskId, 1);
        slashAmount = bound(slashAmount, 0, 2 * STAKE);
        uint256 slashed = slashAmount < STAKE ? slashAmount : STAKE;
        total = bound(total, 0, POOL + 3 * STAKE);
        _start(taskId);
        if (total > POOL + slashed) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IMarketplace.MarketplaceRewardsExceedFunds.selector, taskId, total, POOL + slashed
                )
            );
        }
        _finalize(taskId, 1, keccak256("root"), total, _slash(workers[0], slashAmount));
    }

    /// @dev Whenever a pause starts during an open round (or its grace period) and however it ends (unpause or
    /// lapse), expiry moves by exactly the seconds it was in force.
    function testFuzz_expireTask_waitsOutAnyPause(uint256 pauseAfter, uint256 pauseFor, bool unpause) public {
        uint256 taskId = _createTask();
        _start(taskId);
        uint256 deadline = market.getRound(taskId, 1).deadline;
        uint256 grace = market.FINALIZE_GRACE_PERIOD();
        uint256 maxPause = market.MAX_PAUSE_DURATION();
        pauseAfter = bound(pauseAfter, 0, WINDOW + grace - 1);
        pauseFor = bound(pauseFor, 0, 2 * maxPause);

        vm.warp(block.timestamp + pauseAfter);
        _pause();
        vm.warp(block.timestamp + pauseFor);
        // Not lifted, the pause runs until it lapses: it counts in full.
        bool lifted = unpause && pauseFor < maxPause;
        if (lifted) {
            vm.prank(admin);
            market.unpause();
        }
        uint256 paused = lifted ? pauseFor : maxPause;
        uint256 expiresAt = deadline + grace + paused;
        // forge-lint: disable-next-line(block-timestamp)
        if (market.paused()) vm.warp(block.timestamp + maxPause - pauseFor); // let it lapse
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < expiresAt) {
            vm.warp(expiresAt - 1);
            vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotExpired.selector, taskId, expiresAt));
            market.expireTask(taskId);
        }
        vm.warp(expiresAt);
        market.expireTask(taskId);
        assertEq(uint8(market.getTask(taskId).status), uint8(IMarketplace.TaskStatus.Ended));
    }
}
