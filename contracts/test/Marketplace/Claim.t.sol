// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice claim (cumulative Merkle distributor).
contract MarketplaceClaimTest is MarketplaceTestBase {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _createTask();
        _joinN(taskId, 3);
    }

    function test_claim_paysCumulativeAmount() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        uint256 before = token.balanceOf(workers[0]);

        vm.expectEmit(address(market));
        emit IMarketplace.RewardClaimed(taskId, workers[0], 70e18, 70e18);
        _claim(taskId, workers[0], 70e18, proofs[0]);

        assertEq(token.balanceOf(workers[0]), before + 70e18);
        assertEq(market.claimed(taskId, workers[0]), 70e18);
        assertEq(market.getTask(taskId).paidOut, 70e18);
        // The packed worker slot keeps the stake.
        assertEq(market.stakeOf(taskId, workers[0]), STAKE);
    }

    function test_claim_paysOnlyTheDifferenceAcrossRounds() public {
        (bytes32 root1, bytes32[][] memory proofs1, uint256 total1) = _rewardTree(taskId, _amounts2(10e18, 5e18));
        _round(taskId, root1, total1);
        _claim(taskId, workers[0], 10e18, proofs1[0]);

        (bytes32 root2, bytes32[][] memory proofs2, uint256 total2) = _rewardTree(taskId, _amounts2(25e18, 9e18));
        _round(taskId, root2, total2);
        uint256 before = token.balanceOf(workers[0]);
        vm.expectEmit(address(market));
        emit IMarketplace.RewardClaimed(taskId, workers[0], 15e18, 25e18);
        _claim(taskId, workers[0], 25e18, proofs2[0]);
        assertEq(token.balanceOf(workers[0]), before + 15e18);

        // One claim covers both rounds for the other worker.
        _claim(taskId, workers[1], 9e18, proofs2[1]);
        assertEq(market.claimed(taskId, workers[1]), 9e18);
        assertEq(market.getTask(taskId).paidOut, 34e18);
    }

    function test_claim_revertsOnSecondClaimOfSameAmount() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        _claim(taskId, workers[0], 70e18, proofs[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceNothingToClaim.selector, taskId, workers[0], 70e18)
        );
        _claim(taskId, workers[0], 70e18, proofs[0]);
    }

    function test_claim_revertsWithOldLeafAfterNewRoot() public {
        (bytes32 root1, bytes32[][] memory proofs1, uint256 total1) = _rewardTree(taskId, _amounts2(10e18, 5e18));
        _round(taskId, root1, total1);
        (bytes32 root2,, uint256 total2) = _rewardTree(taskId, _amounts2(20e18, 5e18));
        _round(taskId, root2, total2);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceInvalidRewardProof.selector, taskId, workers[0], 10e18)
        );
        _claim(taskId, workers[0], 10e18, proofs1[0]);
    }

    function test_claim_revertsWithWrongAmount() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceInvalidRewardProof.selector, taskId, workers[0], 71e18)
        );
        _claim(taskId, workers[0], 71e18, proofs[0]);
    }

    function test_claim_revertsWithSomeoneElsesLeaf() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceInvalidRewardProof.selector, taskId, stranger, 70e18)
        );
        _claim(taskId, stranger, 70e18, proofs[0]);
    }

    function test_claim_revertsWithLeafOfAnotherTask() public {
        uint256 other = _createTask();
        _joinN(other, 2);
        // A tree built for `other` (leaves bind the task id) is posted for `taskId`.
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(other, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceInvalidRewardProof.selector, taskId, workers[0], 70e18)
        );
        _claim(taskId, workers[0], 70e18, proofs[0]);
    }

    function test_claim_revertsWithoutRoot() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNoRewardsRoot.selector, taskId));
        _claim(taskId, workers[0], 1, new bytes32[](0));
    }

    function test_claim_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNoRewardsRoot.selector, 1234));
        _claim(1234, workers[0], 1, new bytes32[](0));
    }

    function test_claim_revertsIfCumulativeAmountDecreased() public {
        (bytes32 root1, bytes32[][] memory proofs1, uint256 total1) = _rewardTree(taskId, _amounts2(10e18, 5e18));
        _round(taskId, root1, total1);
        _claim(taskId, workers[0], 10e18, proofs1[0]);
        // A later (buggy) root lowers workers[0]'s cumulative amount.
        (bytes32 root2, bytes32[][] memory proofs2,) = _rewardTree(taskId, _amounts2(8e18, 7e18));
        _round(taskId, root2, 15e18);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceNothingToClaim.selector, taskId, workers[0], 10e18)
        );
        _claim(taskId, workers[0], 8e18, proofs2[0]);
    }

    function test_claim_boundedByCommittedTotal() public {
        // A compromised coordinator posts leaves summing to 3x the committed total.
        (bytes32 root, bytes32[][] memory proofs,) = _rewardTree(taskId, _amounts2(60e18, 60e18));
        _round(taskId, root, 40e18);
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceClaimExceedsCommitted.selector, taskId, 0, 60e18, 40e18)
        );
        _claim(taskId, workers[0], 60e18, proofs[0]);
    }

    function test_claim_compromisedCoordinatorCannotDrainOtherTasks() public {
        // Another task holds a large pool and stakes.
        uint256 rich = _createTask();
        _joinN(rich, 3);
        uint256 richFunds = POOL + 3 * STAKE;

        // The coordinator of `taskId` commits the whole pool + all slashable stake to an attacker-controlled
        // leaf and claims it.
        IMarketplace.Slash[] memory s = new IMarketplace.Slash[](3);
        for (uint256 i; i < 3; ++i) {
            s[i] = IMarketplace.Slash(workers[i], type(uint256).max, IMarketplace.SlashReason.Other);
        }
        address[] memory accounts = new address[](1);
        accounts[0] = stranger;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = 10 * POOL;
        bytes32 root = MerkleBuilder.root(_rewardLeaves(taskId, accounts, amounts));
        _start(taskId);
        _finalize(taskId, 1, root, POOL + 3 * STAKE, s);

        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceClaimExceedsCommitted.selector, taskId, 0, 10 * POOL, POOL + 3 * STAKE
            )
        );
        _claim(taskId, stranger, 10 * POOL, new bytes32[](0));

        // The largest claim that works takes exactly this task's pool + slashed stake, nothing more.
        amounts[0] = POOL + 3 * STAKE;
        root = MerkleBuilder.root(_rewardLeaves(taskId, accounts, amounts));
        _start(taskId);
        _finalize(taskId, 2, root, POOL + 3 * STAKE);
        _claim(taskId, stranger, POOL + 3 * STAKE, new bytes32[](0));
        assertEq(token.balanceOf(stranger), POOL + 3 * STAKE);
        assertEq(token.balanceOf(address(market)), richFunds);
    }

    function test_claim_worksWhilePaused() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        vm.prank(admin);
        market.pause();
        _claim(taskId, workers[0], 70e18, proofs[0]);
        assertEq(market.claimed(taskId, workers[0]), 70e18);
    }

    function test_claim_afterTaskEnded() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _finishTask(taskId, root, total);
        _claim(taskId, workers[1], 30e18, proofs[1]);
        assertEq(market.claimed(taskId, workers[1]), 30e18);
    }

    function test_claim_worksUntilClaimPeriodEnds() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _finishTask(taskId, root, total);
        vm.warp(market.getTaskTerms(taskId).endedAt + market.CLAIM_PERIOD() - 1);
        _claim(taskId, workers[0], 70e18, proofs[0]);
        assertEq(market.claimed(taskId, workers[0]), 70e18);
    }

    function test_claim_revertsAfterClaimPeriod() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _finishTask(taskId, root, total);
        uint256 closedAt = market.getTaskTerms(taskId).endedAt + market.CLAIM_PERIOD();
        vm.warp(closedAt);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceClaimPeriodOver.selector, taskId, closedAt));
        _claim(taskId, workers[0], 70e18, proofs[0]);
    }

    function test_claim_noPeriodWhileTaskRuns() public {
        (bytes32 root, bytes32[][] memory proofs, uint256 total) = _rewardTree(taskId, _amounts2(70e18, 30e18));
        _round(taskId, root, total);
        vm.warp(block.timestamp + 2 * market.CLAIM_PERIOD());
        _claim(taskId, workers[1], 30e18, proofs[1]);
        assertEq(market.claimed(taskId, workers[1]), 30e18);
    }

    function test_claim_singleLeafTreeWithEmptyProof() public {
        address[] memory accounts = new address[](1);
        accounts[0] = workers[0];
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = 5e18;
        bytes32 root = MerkleBuilder.root(_rewardLeaves(taskId, accounts, amounts));
        _round(taskId, root, 5e18);
        _claim(taskId, workers[0], 5e18, new bytes32[](0));
        assertEq(market.claimed(taskId, workers[0]), 5e18);
    }

    function test_claim_rewardLeafMatchesDocumentedEncoding() public view {
        uint256 amount = 123_456e18;
        bytes32 expected = keccak256(bytes.concat(keccak256(abi.encode(taskId, workers[2], amount))));
        assertEq(market.rewardLeaf(taskId, workers[2], amount), expected);
        assertEq(RewardLeaf.hash(taskId, workers[2], amount), expected);
    }
}
