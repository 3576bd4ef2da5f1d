// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Marketplace} from "../../src/Marketplace.sol";
import {TestToken} from "../../src/TestToken.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MerkleBuilder} from "./MerkleBuilder.sol";

/// @notice Shared fixture: a marketplace, a test token, a requester, a coordinator and funded workers (sorted by
/// address, as slash lists must be).
abstract contract MarketplaceTestBase is Test {
    uint256 internal constant POOL = 1_000e18;
    uint256 internal constant STAKE = 10e18;
    uint32 internal constant ROUNDS = 3;
    uint32 internal constant MAX_WORKERS = 8;
    uint32 internal constant WINDOW = 1 hours;
    /// @dev No per-round bound by default, so a test slashes what it asks for; the bound has its own tests.
    uint16 internal constant MAX_SLASH_BPS = 10_000;
    bytes32 internal constant ARCH = keccak256("mnist-cnn-v1");
    bytes32 internal constant INITIAL_CID = keccak256("initial-checkpoint");
    bytes32 internal constant VALSET_COMMITMENT = keccak256("validation-set-commitment");
    bytes32 internal constant MODEL_CID = keccak256("model");
    bytes32 internal constant MANIFEST_CID = keccak256("manifest");

    Marketplace internal market;
    TestToken internal token;

    address internal admin = makeAddr("admin");
    address internal requester = makeAddr("requester");
    address internal coordinator = makeAddr("coordinator");
    address internal stranger = makeAddr("stranger");
    address[] internal workers;

    function setUp() public virtual {
        market = new Marketplace(admin);
        token = new TestToken("Tessera Test Token", "TTT");
        token.mint(requester, 1_000_000e18);
        vm.prank(requester);
        token.approve(address(market), type(uint256).max);
        for (uint256 i; i < MAX_WORKERS + 2; ++i) {
            address w = makeAddr(string.concat("worker", vm.toString(i)));
            workers.push(w);
            token.mint(w, 1_000e18);
            vm.prank(w);
            token.approve(address(market), type(uint256).max);
        }
        // Insertion sort: a slash list over workers[i] in index order is then ascending by address.
        for (uint256 i = 1; i < workers.length; ++i) {
            for (uint256 j = i; j > 0 && workers[j] < workers[j - 1]; --j) {
                (workers[j], workers[j - 1]) = (workers[j - 1], workers[j]);
            }
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // Helpers
    // ----------------------------------------------------------------------------------------------------------

    function _config() internal view returns (IMarketplace.TaskConfig memory) {
        return IMarketplace.TaskConfig({
            rewardToken: address(token),
            rewardPool: POOL,
            stakeRequired: STAKE,
            numRounds: ROUNDS,
            maxWorkers: MAX_WORKERS,
            submissionWindow: WINDOW,
            coordinator: coordinator,
            modelArchitectureId: ARCH,
            initialModelCid: INITIAL_CID,
            validationSetCommitment: VALSET_COMMITMENT,
            allowlistRoot: bytes32(0),
            slashToRequester: false,
            maxSlashBps: MAX_SLASH_BPS,
            accessPolicy: bytes32(0)
        });
    }

    function _createTask() internal returns (uint256) {
        return _createTask(_config());
    }

    function _createTask(IMarketplace.TaskConfig memory config) internal returns (uint256 taskId) {
        vm.prank(requester);
        taskId = market.createTask(config);
    }

    function _join(uint256 taskId, address worker) internal {
        vm.prank(worker);
        market.join(taskId, new bytes32[](0));
    }

    function _joinN(uint256 taskId, uint256 n) internal {
        for (uint256 i; i < n; ++i) {
            _join(taskId, workers[i]);
        }
    }

    function _start(uint256 taskId) internal {
        vm.prank(coordinator);
        market.startRound(taskId, MODEL_CID);
    }

    function _leave(uint256 taskId, address worker) internal {
        vm.prank(worker);
        market.leaveTask(taskId);
    }

    function _pause() internal {
        vm.prank(admin);
        market.pause();
    }

    function _noSlashes() internal pure returns (IMarketplace.Slash[] memory) {
        return new IMarketplace.Slash[](0);
    }

    function _slash(address worker, uint256 amount) internal pure returns (IMarketplace.Slash[] memory) {
        return _slashOf(worker, amount, IMarketplace.SlashReason.FreeRider);
    }

    function _slashOf(address worker, uint256 amount, IMarketplace.SlashReason reason)
        internal
        pure
        returns (IMarketplace.Slash[] memory s)
    {
        s = new IMarketplace.Slash[](1);
        s[0] = IMarketplace.Slash({worker: worker, amount: amount, reason: reason});
    }

    function _finalize(uint256 taskId, uint32 round, bytes32 root, uint256 total) internal {
        _finalize(taskId, round, root, total, _noSlashes());
    }

    function _finalize(uint256 taskId, uint32 round, bytes32 root, uint256 total, IMarketplace.Slash[] memory slashes)
        internal
    {
        vm.prank(coordinator);
        market.finalizeRound(taskId, round, MODEL_CID, MANIFEST_CID, root, total, slashes);
    }

    /// @dev Runs one round: start, then finalize with the given root.
    function _round(uint256 taskId, bytes32 root, uint256 total) internal returns (uint32 round) {
        _start(taskId);
        round = market.getTask(taskId).currentRound;
        _finalize(taskId, round, root, total);
    }

    /// @dev Runs all remaining rounds with the same root, ending the task.
    function _finishTask(uint256 taskId, bytes32 root, uint256 total) internal {
        IMarketplace.Task memory t = market.getTask(taskId);
        for (uint32 r = t.currentRound; r < t.numRounds; ++r) {
            _round(taskId, root, total);
        }
    }

    /// @dev Leaves for (taskId, accounts[i], amounts[i]).
    function _rewardLeaves(uint256 taskId, address[] memory accounts, uint256[] memory amounts)
        internal
        pure
        returns (bytes32[] memory leaves)
    {
        leaves = new bytes32[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            leaves[i] = RewardLeaf.hash(taskId, accounts[i], amounts[i]);
        }
    }

    /// @dev Tree over the first `amounts.length` workers; returns the root and the proofs.
    function _rewardTree(uint256 taskId, uint256[] memory amounts)
        internal
        view
        returns (bytes32 root, bytes32[][] memory proofs, uint256 total)
    {
        address[] memory accounts = new address[](amounts.length);
        for (uint256 i; i < amounts.length; ++i) {
            accounts[i] = workers[i];
            total += amounts[i];
        }
        (root, proofs) = MerkleBuilder.build(_rewardLeaves(taskId, accounts, amounts));
    }

    function _amounts2(uint256 a, uint256 b) internal pure returns (uint256[] memory amounts) {
        amounts = new uint256[](2);
        amounts[0] = a;
        amounts[1] = b;
    }

    function _claim(uint256 taskId, address account, uint256 cumulative, bytes32[] memory proof) internal {
        vm.prank(account);
        market.claim(taskId, cumulative, proof);
    }
}
