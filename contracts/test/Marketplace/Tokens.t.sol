// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {FeeOnTransferToken} from "../mocks/FeeOnTransferToken.sol";
import {ReentrantToken} from "../mocks/ReentrantToken.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice Malicious and non-standard ERC-20s: re-entrancy during transfers, fee-on-transfer.
contract MarketplaceTokensTest is MarketplaceTestBase {
    ReentrantToken internal evil;
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        evil = new ReentrantToken();
        evil.mint(requester, 10 * POOL);
        vm.prank(requester);
        evil.approve(address(market), type(uint256).max);
        for (uint256 i; i < 4; ++i) {
            evil.mint(workers[i], 100 * STAKE);
            vm.prank(workers[i]);
            evil.approve(address(market), type(uint256).max);
        }
        // The token contract itself holds funds and approved the market, so a re-entrant join would work if
        // the guard let it through.
        evil.mint(address(evil), 100 * STAKE);
        vm.prank(address(evil));
        evil.approve(address(market), type(uint256).max);

        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(evil);
        taskId = _createTask(c);
    }

    function _assertBlockedByGuard() internal view {
        assertTrue(evil.reentered(), "token did not re-enter");
        assertFalse(evil.reentrySucceeded(), "re-entrant call succeeded");
        assertEq(
            bytes4(evil.reentryReturnData()),
            ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector,
            "not stopped by the reentrancy guard"
        );
    }

    /// @dev Finishes the task with a tree over workers[0..1] (amounts 40e18, 20e18) and returns the proofs.
    function _endWithRewards() internal returns (bytes32[][] memory proofs) {
        bytes32 root;
        uint256 total;
        (root, proofs, total) = _rewardTree(taskId, _amounts2(40e18, 20e18));
        _finishTask(taskId, root, total);
    }

    function test_reentrancy_claimCannotReenterClaim() public {
        _joinN(taskId, 2);
        bytes32[][] memory proofs = _endWithRewards();
        evil.arm(address(market), abi.encodeCall(market.claim, (taskId, 40e18, proofs[0])));

        _claim(taskId, workers[0], 40e18, proofs[0]);

        _assertBlockedByGuard();
        assertEq(market.claimed(taskId, workers[0]), 40e18);
        assertEq(market.getTask(taskId).paidOut, 40e18);
    }

    function test_reentrancy_claimCannotReenterWithdrawStake() public {
        _joinN(taskId, 2);
        bytes32[][] memory proofs = _endWithRewards();
        evil.arm(address(market), abi.encodeCall(market.withdrawStake, (taskId)));
        _claim(taskId, workers[0], 40e18, proofs[0]);
        _assertBlockedByGuard();
    }

    function test_reentrancy_withdrawStakeCannotReenterWithdrawStake() public {
        _joinN(taskId, 2);
        _endWithRewards();
        evil.arm(address(market), abi.encodeCall(market.withdrawStake, (taskId)));
        vm.prank(workers[1]);
        market.withdrawStake(taskId);
        _assertBlockedByGuard();
        assertEq(market.stakeOf(taskId, workers[1]), 0);
        assertEq(evil.balanceOf(address(market)), POOL + STAKE);
    }

    function test_reentrancy_withdrawStakeCannotReenterClaim() public {
        _joinN(taskId, 2);
        bytes32[][] memory proofs = _endWithRewards();
        evil.arm(address(market), abi.encodeCall(market.claim, (taskId, 20e18, proofs[1])));
        vm.prank(workers[1]);
        market.withdrawStake(taskId);
        _assertBlockedByGuard();
        assertEq(market.claimed(taskId, workers[1]), 0);
    }

    function test_reentrancy_joinCannotReenterJoin() public {
        evil.arm(address(market), abi.encodeCall(market.join, (taskId, new bytes32[](0))));
        _join(taskId, workers[0]);
        _assertBlockedByGuard();
        assertEq(market.workerCount(taskId), 1);
        assertFalse(market.isWorker(taskId, address(evil)));
    }

    function test_reentrancy_leaveCannotReenterLeave() public {
        _joinN(taskId, 1);
        evil.arm(address(market), abi.encodeCall(market.leaveTask, (taskId)));
        vm.prank(workers[0]);
        market.leaveTask(taskId);
        _assertBlockedByGuard();
    }

    function test_reentrancy_createTaskCannotReenterCreateTask() public {
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(evil);
        evil.arm(address(market), abi.encodeCall(market.createTask, (c)));
        _createTask(c);
        _assertBlockedByGuard();
        assertEq(market.taskCount(), 2);
    }

    function test_reentrancy_withdrawUnspentCannotReenter() public {
        _endWithRewards();
        evil.arm(address(market), abi.encodeCall(market.withdrawUnspent, (taskId)));
        vm.prank(requester);
        market.withdrawUnspent(taskId);
        _assertBlockedByGuard();
    }

    function test_reentrancy_cancelTaskCannotReenter() public {
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(evil);
        uint256 id = _createTask(c);
        evil.arm(address(market), abi.encodeCall(market.cancelTask, (id)));
        vm.prank(requester);
        market.cancelTask(id);
        _assertBlockedByGuard();
    }

    // ----------------------------------------------------------------------------------------------------------
    // Fee-on-transfer
    // ----------------------------------------------------------------------------------------------------------

    function test_feeOnTransfer_createTaskReverts() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100); // 1%
        fee.mint(requester, POOL);
        vm.prank(requester);
        fee.approve(address(market), POOL);
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(fee);

        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceTransferAmountMismatch.selector, POOL, POOL * 99 / 100)
        );
        _createTask(c);
    }

    function test_feeOnTransfer_joinReverts() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(fee);
        fee.mint(requester, POOL);
        vm.prank(requester);
        fee.approve(address(market), POOL);
        // No task in such a token can exist to be joined: funding its pool already fails.
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceTransferAmountMismatch.selector, POOL, POOL * 99 / 100)
        );
        _createTask(c);
    }

    function test_feeOnTransfer_joinRevertsWhenFeeSwitchedOnLater() public {
        SwitchableFeeToken fee = new SwitchableFeeToken();
        fee.mint(requester, POOL);
        fee.mint(workers[0], STAKE);
        vm.prank(requester);
        fee.approve(address(market), POOL);
        vm.prank(workers[0]);
        fee.approve(address(market), STAKE);
        IMarketplace.TaskConfig memory c = _config();
        c.rewardToken = address(fee);
        uint256 id = _createTask(c);

        fee.setFeeBps(50);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTransferAmountMismatch.selector, STAKE, STAKE * 9950 / 10_000
            )
        );
        _join(id, workers[0]);
    }
}

/// @notice ERC-20 whose transfer fee can be switched on after deployment (like some upgradeable tokens).
contract SwitchableFeeToken is FeeOnTransferToken {
    uint256 public currentFeeBps;

    constructor() FeeOnTransferToken(0) {}

    function setFeeBps(uint256 bps) external {
        currentFeeBps = bps;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0) && currentFeeBps != 0) {
            uint256 f = value * currentFeeBps / 10_000;
            super._update(from, address(0), f);
            value -= f;
        }
        super._update(from, to, value);
    }
}
