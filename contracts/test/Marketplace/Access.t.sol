// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {MarketplaceTestBase} from "../utils/MarketplaceTestBase.sol";

/// @notice A task's access policy (recorded at creation) and publishContentKeys.
contract MarketplaceAccessTest is MarketplaceTestBase {
    bytes32 internal constant ACCESS_POLICY = keccak256("access-policy");
    bytes32 internal constant KEYS_CID = keccak256("content-keys");

    function _confidentialTask() internal returns (uint256) {
        IMarketplace.TaskConfig memory c = _config();
        c.accessPolicy = ACCESS_POLICY;
        return _createTask(c);
    }

    // ----------------------------------------------------------------------------------------------------------
    // accessPolicy
    // ----------------------------------------------------------------------------------------------------------

    function test_createTask_storesAccessPolicy() public {
        uint256 taskId = _confidentialTask();
        IMarketplace.TaskTerms memory terms = market.getTaskTerms(taskId);
        assertEq(terms.accessPolicy, ACCESS_POLICY);
        assertEq(terms.contentKeysCid, bytes32(0));
        assertEq(terms.maxSlashBps, MAX_SLASH_BPS);
    }

    function test_createTask_publicTaskHasNoAccessPolicy() public {
        uint256 taskId = _createTask();
        IMarketplace.TaskTerms memory terms = market.getTaskTerms(taskId);
        assertEq(terms.accessPolicy, bytes32(0));
        assertEq(terms.contentKeysCid, bytes32(0));
    }

    function test_createTask_emitsAccessPolicyInTaskCreated() public {
        IMarketplace.TaskConfig memory c = _config();
        c.accessPolicy = ACCESS_POLICY;
        vm.expectEmit(address(market));
        emit IMarketplace.TaskCreated(1, requester, coordinator, c);
        _createTask(c);
    }

    // ----------------------------------------------------------------------------------------------------------
    // publishContentKeys
    // ----------------------------------------------------------------------------------------------------------

    function test_publishContentKeys_byCoordinator() public {
        uint256 taskId = _confidentialTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectEmit(address(market));
        emit IMarketplace.ContentKeysPublished(taskId, KEYS_CID, coordinator);
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
        IMarketplace.TaskTerms memory terms = market.getTaskTerms(taskId);
        assertEq(terms.contentKeysCid, KEYS_CID);
        assertEq(terms.accessPolicy, ACCESS_POLICY);
    }

    function test_publishContentKeys_revertsIfRequester() public {
        uint256 taskId = _confidentialTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotCoordinator.selector, taskId, requester));
        vm.prank(requester);
        market.publishContentKeys(taskId, KEYS_CID);
        assertEq(market.getTaskTerms(taskId).contentKeysCid, bytes32(0));
    }

    function test_publishContentKeys_afterEndTask() public {
        uint256 taskId = _confidentialTask();
        _round(taskId, bytes32(0), 0);
        vm.prank(requester);
        market.endTask(taskId);
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
        assertEq(market.getTaskTerms(taskId).contentKeysCid, KEYS_CID);
    }

    function test_publishContentKeys_worksWhilePaused() public {
        uint256 taskId = _confidentialTask();
        _finishTask(taskId, bytes32(0), 0);
        _pause();
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
        assertEq(market.getTaskTerms(taskId).contentKeysCid, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfStranger() public {
        uint256 taskId = _confidentialTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceNotCoordinator.selector, taskId, stranger));
        vm.prank(stranger);
        market.publishContentKeys(taskId, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfOpen() public {
        uint256 taskId = _confidentialTask();
        vm.expectRevert(
            abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Open)
        );
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfRunning() public {
        uint256 taskId = _confidentialTask();
        _round(taskId, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Running
            )
        );
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfCancelled() public {
        uint256 taskId = _confidentialTask();
        vm.prank(requester);
        market.cancelTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarketplace.MarketplaceTaskNotEnded.selector, taskId, IMarketplace.TaskStatus.Cancelled
            )
        );
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfZeroCid() public {
        uint256 taskId = _confidentialTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(IMarketplace.MarketplaceZeroCid.selector);
        vm.prank(coordinator);
        market.publishContentKeys(taskId, bytes32(0));
    }

    function test_publishContentKeys_revertsIfAlreadyPublished() public {
        uint256 taskId = _confidentialTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceContentKeysAlreadyPublished.selector, taskId));
        vm.prank(coordinator);
        market.publishContentKeys(taskId, keccak256("other"));
        assertEq(market.getTaskTerms(taskId).contentKeysCid, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfTaskNotConfidential() public {
        uint256 taskId = _createTask();
        _finishTask(taskId, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotConfidential.selector, taskId));
        vm.prank(coordinator);
        market.publishContentKeys(taskId, KEYS_CID);
    }

    function test_publishContentKeys_revertsIfTaskNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IMarketplace.MarketplaceTaskNotFound.selector, 5));
        market.publishContentKeys(5, KEYS_CID);
    }
}
