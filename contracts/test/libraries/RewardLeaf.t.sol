// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {RewardLeaf} from "../../src/libraries/RewardLeaf.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

contract RewardLeafTest is Test {
    function testFuzz_hash_matchesDoubleHashedAbiEncoding(uint256 taskId, address account, uint256 amount) public pure {
        assertEq(
            RewardLeaf.hash(taskId, account, amount),
            keccak256(bytes.concat(keccak256(abi.encode(taskId, account, amount))))
        );
    }

    function testFuzz_allowlist_matchesDoubleHashedAbiEncoding(address account) public pure {
        assertEq(RewardLeaf.allowlist(account), keccak256(bytes.concat(keccak256(abi.encode(account)))));
    }

    function test_hash_doesNotCorruptMemory() public pure {
        bytes memory before = abi.encode(uint256(1), uint256(2));
        RewardLeaf.hash(7, address(0xBEEF), 99);
        bytes memory afterwards = abi.encode(uint256(1), uint256(2));
        assertEq(keccak256(before), keccak256(afterwards));
        assertEq(before.length, 64);
    }

    /// @dev Fixed vector for the Rust client: taskId 1, account 0x…01, amount 1e18.
    function test_hash_knownVector() public pure {
        bytes32 leaf = RewardLeaf.hash(1, address(1), 1e18);
        assertEq(leaf, keccak256(bytes.concat(keccak256(abi.encode(uint256(1), address(1), uint256(1e18))))));
    }

    function testFuzz_merkleBuilder_proofsVerify(uint8 n, uint256 seed) public pure {
        n = uint8(bound(n, 1, 40));
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            leaves[i] = RewardLeaf.hash(seed, address(uint160(i + 1)), uint256(keccak256(abi.encode(seed, i))));
        }
        (bytes32 root, bytes32[][] memory proofs) = MerkleBuilder.build(leaves);
        for (uint256 i; i < n; ++i) {
            assertTrue(MerkleProof.verify(proofs[i], root, leaves[i]));
        }
        // A leaf that is not in the tree does not verify with any of the proofs.
        bytes32 outsider = RewardLeaf.hash(seed, address(0xdead), 1);
        for (uint256 i; i < n; ++i) {
            assertFalse(MerkleProof.verify(proofs[i], root, outsider));
        }
    }
}
