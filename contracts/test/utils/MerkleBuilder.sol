// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title MerkleBuilder — sorted-pair (OpenZeppelin MerkleProof-compatible) Merkle trees for tests
/// @notice Layered binary tree: at each level nodes 2i and 2i+1 are hashed as keccak256(min ‖ max); a last
/// node without a sibling is promoted unchanged (the proof simply has no element for that level). Any such
/// tree verifies with MerkleProof.verify / verifyCalldata.
library MerkleBuilder {
    /// @notice keccak256 of the sorted pair.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 h) {
        (bytes32 lo, bytes32 hi) = a < b ? (a, b) : (b, a);
        assembly ("memory-safe") {
            mstore(0x00, lo)
            mstore(0x20, hi)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice Root of the tree over `leaves` (must be non-empty; `leaves` is not modified).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        require(leaves.length != 0, "MerkleBuilder: no leaves");
        bytes32[] memory layer = _copy(leaves);
        uint256 n = layer.length;
        while (n > 1) {
            n = _nextLayer(layer, n);
        }
        return layer[0];
    }

    /// @notice Proof for `leaves[index]`.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        require(index < leaves.length, "MerkleBuilder: index out of range");
        bytes32[] memory layer = _copy(leaves);
        p = new bytes32[](256);
        uint256 len;
        uint256 n = layer.length;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) p[len++] = layer[sibling];
            n = _nextLayer(layer, n);
            index >>= 1;
        }
        assembly ("memory-safe") {
            mstore(p, len)
        }
    }

    /// @notice Root and the proofs of every leaf.
    function build(bytes32[] memory leaves) internal pure returns (bytes32 r, bytes32[][] memory proofs) {
        r = root(leaves);
        proofs = new bytes32[][](leaves.length);
        for (uint256 i; i < leaves.length; ++i) {
            proofs[i] = proof(leaves, i);
        }
    }

    function _nextLayer(bytes32[] memory layer, uint256 n) private pure returns (uint256 m) {
        m = (n + 1) / 2;
        for (uint256 i; i < n / 2; ++i) {
            layer[i] = hashPair(layer[2 * i], layer[2 * i + 1]);
        }
        if (n % 2 == 1) layer[m - 1] = layer[n - 1];
    }

    function _copy(bytes32[] memory a) private pure returns (bytes32[] memory b) {
        b = new bytes32[](a.length);
        for (uint256 i; i < a.length; ++i) {
            b[i] = a[i];
        }
    }
}
