// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Marketplace} from "../../src/Marketplace.sol";
import {TestToken} from "../../src/TestToken.sol";
import {IMarketplace} from "../../src/interfaces/IMarketplace.sol";
import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";
import {GasMeter} from "./GasMeter.sol";

/// @notice Shared setup for the gas tests. Each concrete contract prepares its state in setUp() (metering
/// paused) and each test function sends exactly one measured call as its first interaction (see GasMeter), so
/// a test's gas in .gas-snapshot is that call plus a small constant overhead of the test itself; the exact
/// callee numbers are in snapshots/<TestContract>.json.
/// Run: forge test --match-path 'test/gas/*' -vv
abstract contract MarketplaceGasBase is GasMeter {
    uint256 internal constant POOL = 1_000_000e18;
    uint256 internal constant STAKE = 10e18;
    uint256 internal constant REWARD = 100e18;

    Marketplace internal market;
    TestToken internal token;
    address internal requester = makeAddr("requester");
    address internal coordinator = makeAddr("coordinator");

    function setUp() public virtual {
        vm.pauseGasMetering();
        market = new Marketplace(address(this));
        token = new TestToken("Tessera Test Token", "TTT");
        token.mint(requester, 100 * POOL);
        vm.prank(requester);
        token.approve(address(market), type(uint256).max);
    }

    function _worker(uint256 i) internal pure returns (address) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(uint160(0x100000 + i));
    }

    function _config(uint32 maxWorkers) internal view returns (IMarketplace.TaskConfig memory) {
        return IMarketplace.TaskConfig({
            rewardToken: address(token),
            rewardPool: POOL,
            stakeRequired: STAKE,
            numRounds: 10,
            maxWorkers: maxWorkers,
            submissionWindow: 1 hours,
            coordinator: coordinator,
            modelArchitectureId: keccak256("arch"),
            initialModelCid: keccak256("initial"),
            validationSetCommitment: keccak256("valset"),
            allowlistRoot: bytes32(0),
            slashToRequester: false,
            maxSlashBps: 5000,
            accessPolicy: bytes32(0)
        });
    }

    function _fundWorker(address w) internal {
        token.mint(w, 1_000e18);
        vm.prank(w);
        token.approve(address(market), type(uint256).max);
    }

    /// @dev A task with workers `_worker(first) .. _worker(first + n - 1)` joined.
    function _taskWith(uint256 n, uint256 first) internal returns (uint256 taskId) {
        vm.prank(requester);
        // forge-lint: disable-next-line(unsafe-typecast)
        taskId = market.createTask(_config(uint32(n + 10)));
        for (uint256 i = first; i < first + n; ++i) {
            address w = _worker(i);
            _fundWorker(w);
            vm.prank(w);
            market.join(taskId, new bytes32[](0));
        }
    }

    function _leaves(uint256 taskId, uint256 first, uint256 n, uint256 amount)
        internal
        pure
        returns (bytes32[] memory leaves)
    {
        leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = RewardLeaf.hash(taskId, _worker(first + i), amount);
        }
    }

    function _noSlashes() internal pure returns (IMarketplace.Slash[] memory) {
        return new IMarketplace.Slash[](0);
    }

    function _finalizeCall(uint256 taskId, uint32 round, bytes32 root, uint256 total, IMarketplace.Slash[] memory s)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeCall(
            Marketplace.finalizeRound,
            (
                taskId,
                round,
                keccak256(abi.encode("model", round)),
                keccak256(abi.encode("manifest", round)),
                root,
                total,
                s
            )
        );
    }

    /// @dev A task with `n` workers, round 1 finalized (a root over them), round 2 open; returns the calldata
    /// that finalizes round 2 with a new root over the `n` workers: a typical (not the first) root update.
    function _prepareFinalize(uint256 n, uint256 first) internal returns (bytes memory) {
        uint256 taskId = _taskWith(n, first);
        vm.startPrank(coordinator);
        market.startRound(taskId, keccak256("global-1"));
        market.finalizeRound(
            taskId,
            1,
            keccak256("model-1"),
            keccak256("manifest-1"),
            MerkleBuilder.root(_leaves(taskId, first, n, REWARD / 2)),
            n * REWARD / 2,
            _noSlashes()
        );
        market.startRound(taskId, keccak256("global-2"));
        vm.stopPrank();
        return _finalizeCall(taskId, 2, MerkleBuilder.root(_leaves(taskId, first, n, REWARD)), n * REWARD, _noSlashes());
    }
}

// -------------------------------------------------------------------------------------------------------------
// finalizeRound: the same gas for any number of workers
// -------------------------------------------------------------------------------------------------------------

abstract contract FinalizeRoundGasBase is MarketplaceGasBase {
    bytes internal finalizeData;

    function _workers() internal pure virtual returns (uint256);

    function setUp() public override {
        super.setUp();
        finalizeData = _prepareFinalize(_workers(), 0);
    }
}

contract FinalizeRound10WorkersGasTest is FinalizeRoundGasBase {
    function _workers() internal pure override returns (uint256) {
        return 10;
    }

    function test_gas_finalizeRound_10Workers() public {
        _measure("finalizeRound_10Workers", coordinator, address(market), finalizeData);
    }
}

contract FinalizeRound100WorkersGasTest is FinalizeRoundGasBase {
    function _workers() internal pure override returns (uint256) {
        return 100;
    }

    function test_gas_finalizeRound_100Workers() public {
        _measure("finalizeRound_100Workers", coordinator, address(market), finalizeData);
    }
}

contract FinalizeRound1000WorkersGasTest is FinalizeRoundGasBase {
    function _workers() internal pure override returns (uint256) {
        return 1000;
    }

    function test_gas_finalizeRound_1000Workers() public {
        _measure("finalizeRound_1000Workers", coordinator, address(market), finalizeData);
    }
}

/// @dev Both task sizes in one transaction. The second call would find the contract's shared `_paused` slot
/// warm (2,000 gas less), so vm.cool re-colds the marketplace's storage in between; finalizeRound calls no other
/// contract, so nothing else is warm.
contract FinalizeRoundScalingGasTest is MarketplaceGasBase {
    bytes internal data10;
    bytes internal data1000;

    function setUp() public override {
        super.setUp();
        data10 = _prepareFinalize(10, 0);
        data1000 = _prepareFinalize(1000, 10);
    }

    function test_gas_finalizeRound_sameForAnyWorkerCount() public {
        uint256 g10 = _measure("finalizeRound_10Workers_cmp", coordinator, address(market), data10);
        vm.cool(address(market));
        uint256 g1000 = _measure("finalizeRound_1000Workers_cmp", coordinator, address(market), data1000);
        assertEq(g10, g1000);
    }
}

contract FinalizeRoundVariantsGasTest is MarketplaceGasBase {
    uint256 internal firstRoundTask;
    uint256 internal slashTask;

    function setUp() public override {
        super.setUp();
        firstRoundTask = _taskWith(10, 0);
        vm.prank(coordinator);
        market.startRound(firstRoundTask, keccak256("global-1"));

        slashTask = _taskWith(10, 10);
        vm.startPrank(coordinator);
        market.startRound(slashTask, keccak256("global-1"));
        market.finalizeRound(slashTask, 1, keccak256("m"), keccak256("f"), keccak256("r"), REWARD, _noSlashes());
        market.startRound(slashTask, keccak256("global-2"));
        vm.stopPrank();
    }

    /// @dev The first root of a task writes the task's root and committed total from zero.
    function test_gas_finalizeRound_firstRound() public {
        bytes32 root = MerkleBuilder.root(_leaves(firstRoundTask, 0, 10, REWARD));
        _measure(
            "finalizeRound_firstRound",
            coordinator,
            address(market),
            _finalizeCall(firstRoundTask, 1, root, 10 * REWARD, _noSlashes())
        );
    }

    function test_gas_finalizeRound_5Slashes() public {
        IMarketplace.Slash[] memory s = new IMarketplace.Slash[](5);
        for (uint256 i; i < 5; ++i) {
            s[i] = IMarketplace.Slash(_worker(10 + i), STAKE / 2, IMarketplace.SlashReason.FreeRider);
        }
        _measure(
            "finalizeRound_5Slashes",
            coordinator,
            address(market),
            _finalizeCall(slashTask, 2, keccak256("root"), 2 * REWARD, s)
        );
    }
}

// -------------------------------------------------------------------------------------------------------------
// claim
// -------------------------------------------------------------------------------------------------------------

/// @dev 1000 workers, a root over them (each earned REWARD), proofs of depth 10.
contract ClaimGasTest is MarketplaceGasBase {
    uint256 internal constant N = 1000;
    uint256 internal taskId;
    bytes32[] internal leaves;

    function setUp() public override {
        super.setUp();
        taskId = _taskWith(N, 0);
        leaves = _leaves(taskId, 0, N, REWARD);
        vm.startPrank(coordinator);
        market.startRound(taskId, keccak256("global-1"));
        market.finalizeRound(
            taskId, 1, keccak256("m"), keccak256("f"), MerkleBuilder.root(leaves), N * REWARD, _noSlashes()
        );
        vm.stopPrank();
        // Worker 1 spends all its tokens, so its claim writes a fresh token balance slot.
        address w1 = _worker(1);
        uint256 balance = token.balanceOf(w1);
        vm.prank(w1);
        assertTrue(token.transfer(address(0xdead), balance));
        // Worker 2 claims once; round 2 doubles everyone's cumulative amount.
        vm.prank(_worker(2));
        market.claim(taskId, REWARD, MerkleBuilder.proof(leaves, 2));
        vm.startPrank(coordinator);
        market.startRound(taskId, keccak256("global-2"));
        market.finalizeRound(
            taskId,
            2,
            keccak256("m2"),
            keccak256("f2"),
            MerkleBuilder.root(_leaves(taskId, 0, N, 2 * REWARD)),
            N * 2 * REWARD,
            _noSlashes()
        );
        vm.stopPrank();
    }

    /// @dev The typical claim: the worker holds tokens (it staked from its balance); first claim in the task.
    function test_gas_claim() public {
        bytes32[] memory proof = MerkleBuilder.proof(_leaves(taskId, 0, N, 2 * REWARD), 0);
        assertEq(proof.length, 10);
        uint256 g = _measure(
            "claim_1000Workers_depth10",
            _worker(0),
            address(market),
            abi.encodeCall(Marketplace.claim, (taskId, 2 * REWARD, proof))
        );
        assertLe(g, 55_000, "claim above the 55k target");
        assertEq(market.claimed(taskId, _worker(0)), 2 * REWARD);
    }

    /// @dev Worst case for the token transfer: the claimant's token balance is zero, so the ERC-20 writes a
    /// fresh balance slot (zero to non-zero, +17,100 gas).
    function test_gas_claim_recipientWithoutTokenBalance() public {
        bytes32[] memory proof = MerkleBuilder.proof(_leaves(taskId, 0, N, 2 * REWARD), 1);
        uint256 g = _measure(
            "claim_1000Workers_depth10_emptyRecipient",
            _worker(1),
            address(market),
            abi.encodeCall(Marketplace.claim, (taskId, 2 * REWARD, proof))
        );
        assertLe(g, 55_000, "claim above the 55k target");
    }

    /// @dev A second claim after a later round (the claimed amount was already non-zero).
    function test_gas_claim_secondClaim() public {
        bytes32[] memory proof = MerkleBuilder.proof(_leaves(taskId, 0, N, 2 * REWARD), 2);
        _measure(
            "claim_1000Workers_depth10_secondClaim",
            _worker(2),
            address(market),
            abi.encodeCall(Marketplace.claim, (taskId, 2 * REWARD, proof))
        );
    }
}

// -------------------------------------------------------------------------------------------------------------
// Other operations
// -------------------------------------------------------------------------------------------------------------

contract OperationsGasTest is MarketplaceGasBase {
    uint256 internal openTask; // Open, 10 workers (workers 0..9)
    uint256 internal betweenRoundsTask; // round 1 finalized, 10 workers (10..19)
    uint256 internal endedTask; // ended, 10 workers (20..29), part of the pool committed
    uint256 internal cancelledTask; // cancelled, 10 workers (30..39)
    uint256 internal allowlistTask; // Open, allowlist of 1000 accounts (40..1039)
    uint256 internal confidentialEndedTask; // ended, with an access policy, no workers
    bytes32[] internal allowlist;

    function setUp() public override {
        super.setUp();
        openTask = _taskWith(10, 0);
        _fundWorker(_worker(1000_000));

        betweenRoundsTask = _taskWith(10, 10);
        vm.startPrank(coordinator);
        market.startRound(betweenRoundsTask, keccak256("global-1"));
        market.finalizeRound(betweenRoundsTask, 1, keccak256("m"), keccak256("f"), keccak256("r"), REWARD, _noSlashes());
        vm.stopPrank();

        IMarketplace.TaskConfig memory c = _config(20);
        c.numRounds = 1;
        vm.prank(requester);
        endedTask = market.createTask(c);
        for (uint256 i = 20; i < 30; ++i) {
            _fundWorker(_worker(i));
            vm.prank(_worker(i));
            market.join(endedTask, new bytes32[](0));
        }
        vm.startPrank(coordinator);
        market.startRound(endedTask, keccak256("global-1"));
        market.finalizeRound(endedTask, 1, keccak256("m"), keccak256("f"), keccak256("r"), REWARD, _noSlashes());
        vm.stopPrank();

        cancelledTask = _taskWith(10, 30);
        vm.prank(requester);
        market.cancelTask(cancelledTask);

        for (uint256 i = 40; i < 1040; ++i) {
            allowlist.push(RewardLeaf.allowlist(_worker(i)));
        }
        c = _config(2000);
        c.allowlistRoot = MerkleBuilder.root(allowlist);
        vm.prank(requester);
        allowlistTask = market.createTask(c);
        _fundWorker(_worker(40));

        c = _config(20);
        c.numRounds = 1;
        c.accessPolicy = keccak256("access-policy");
        vm.prank(requester);
        confidentialEndedTask = market.createTask(c);
        vm.startPrank(coordinator);
        market.startRound(confidentialEndedTask, keccak256("global-1"));
        market.finalizeRound(confidentialEndedTask, 1, keccak256("m"), keccak256("f"), bytes32(0), 0, _noSlashes());
        vm.stopPrank();
    }

    function test_gas_createTask() public {
        _measure("createTask", requester, address(market), abi.encodeCall(Marketplace.createTask, (_config(100))));
    }

    /// @dev The 11th worker joins an open task (no allowlist).
    function test_gas_join() public {
        _measure(
            "join", _worker(1000_000), address(market), abi.encodeCall(Marketplace.join, (openTask, new bytes32[](0)))
        );
    }

    function test_gas_join_withAllowlistProof() public {
        bytes32[] memory proof = MerkleBuilder.proof(allowlist, 0);
        assertEq(proof.length, 10);
        _measure(
            "join_allowlistDepth10",
            _worker(40),
            address(market),
            abi.encodeCall(Marketplace.join, (allowlistTask, proof))
        );
    }

    function test_gas_startRound() public {
        _measure(
            "startRound",
            coordinator,
            address(market),
            abi.encodeCall(Marketplace.startRound, (betweenRoundsTask, keccak256("global-2")))
        );
    }

    function test_gas_startRound_first() public {
        _measure(
            "startRound_first",
            coordinator,
            address(market),
            abi.encodeCall(Marketplace.startRound, (openTask, keccak256("global-1")))
        );
    }

    function test_gas_leaveTask() public {
        _measure("leaveTask", _worker(13), address(market), abi.encodeCall(Marketplace.leaveTask, (betweenRoundsTask)));
    }

    function test_gas_withdrawStake() public {
        _measure("withdrawStake", _worker(23), address(market), abi.encodeCall(Marketplace.withdrawStake, (endedTask)));
    }

    function test_gas_withdrawStake_cancelledTask() public {
        _measure(
            "withdrawStake_cancelled",
            _worker(33),
            address(market),
            abi.encodeCall(Marketplace.withdrawStake, (cancelledTask))
        );
    }

    function test_gas_cancelTask() public {
        _measure("cancelTask", requester, address(market), abi.encodeCall(Marketplace.cancelTask, (openTask)));
    }

    function test_gas_withdrawUnspent() public {
        _measure(
            "withdrawUnspent", requester, address(market), abi.encodeCall(Marketplace.withdrawUnspent, (endedTask))
        );
    }

    function test_gas_revealValidationSet() public {
        _measure(
            "revealValidationSet",
            coordinator,
            address(market),
            abi.encodeCall(Marketplace.revealValidationSet, (endedTask, keccak256("valset-cid")))
        );
    }

    function test_gas_publishContentKeys() public {
        _measure(
            "publishContentKeys",
            coordinator,
            address(market),
            abi.encodeCall(Marketplace.publishContentKeys, (confidentialEndedTask, keccak256("content-keys")))
        );
    }
}
