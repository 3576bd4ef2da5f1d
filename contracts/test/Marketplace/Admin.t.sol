// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice constructor, roles, pause/unpause, views.
contract MarketplaceAdminTest is MarketplaceTestBase {
    function test_constructor_grantsRoles() public view {
        assertTrue(market.hasRole(market.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(market.hasRole(market.PAUSER_ROLE(), admin));
        assertEq(market.taskCount(), 0);
        assertEq(market.FINALIZE_GRACE_PERIOD(), 7 days);
        assertEq(market.CLAIM_PERIOD(), 365 days);
        assertEq(market.MAX_SUBMISSION_WINDOW(), 30 days);
        assertEq(market.pausedSeconds(), 0);
    }

    function test_constructor_revertsIfZeroAdmin() public {
        vm.expectRevert(IMarketplace.MarketplaceZeroAddress.selector);
        new Marketplace(address(0));
    }

    function test_pause_byPauser() public {
        address pauser = makeAddr("pauser");
        bytes32 role = market.PAUSER_ROLE();
        vm.prank(admin);
        market.grantRole(role, pauser);
        vm.prank(pauser);
        market.pause();
        assertTrue(market.paused());
        vm.prank(pauser);
        market.unpause();
        assertFalse(market.paused());
    }

    function test_pause_revertsIfNotPauser() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, market.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        market.pause();
    }

    function test_unpause_revertsIfNotPauser() public {
        vm.prank(admin);
        market.pause();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, market.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        market.unpause();
    }

    function test_unpause_restoresBlockedFunctions() public {
        vm.prank(admin);
        market.pause();
        vm.prank(admin);
        market.unpause();
        uint256 taskId = _createTask();
        _join(taskId, workers[0]);
        assertEq(market.workerCount(taskId), 1);
    }

    function test_getTask_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 0));
        market.getTask(0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 1));
        market.getTask(1);
    }

    function test_getTaskTerms_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 0));
        market.getTaskTerms(0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 1));
        market.getTaskTerms(1);
    }

    function test_getRound_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 1));
        market.getRound(1, 1);
    }

    function test_getRound_zeroForRoundNotStarted() public {
        uint256 taskId = _createTask();
        IMarketplace.Round memory r = market.getRound(taskId, 2);
        assertEq(r.globalModelCid, bytes32(0));
        assertEq(r.startedAt, 0);
    }

    function test_views_unknownWorkerIsZero() public {
        uint256 taskId = _createTask();
        assertFalse(market.isWorker(taskId, stranger));
        assertEq(market.stakeOf(taskId, stranger), 0);
        assertEq(market.claimed(taskId, stranger), 0);
        assertEq(market.workerCount(taskId), 0);
        assertEq(uint8(market.getWorker(taskId, stranger).status), uint8(IMarketplace.WorkerStatus.None));
    }

    function test_supportsInterface_accessControl() public view {
        assertTrue(market.supportsInterface(type(IAccessControl).interfaceId));
    }
}
