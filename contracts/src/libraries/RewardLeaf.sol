// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RewardLeaf — Merkle leaf encodings of the Tessera marketplace
/// @notice Both leaves are double-hashed ABI encodings, the OpenZeppelin StandardMerkleTree convention, so a
/// leaf can never be confused with an internal node (64-byte preimage) of the sorted-pair tree:
/// - reward leaf:    keccak256(bytes.concat(keccak256(abi.encode(uint256 taskId, address account,
///                   uint256 cumulativeAmount))))
/// - allowlist leaf: keccak256(bytes.concat(keccak256(abi.encode(address account))))
/// Internal nodes are keccak256 of the two children sorted ascending (OpenZeppelin MerkleProof).
library RewardLeaf {
    /// @notice The reward leaf of `account`'s cumulative earnings in task `taskId`.
    /// @param taskId The task.
    /// @param account The worker.
    /// @param cumulativeAmount Cumulative earnings of `account` in the task.
    /// @return leaf keccak256(bytes.concat(keccak256(abi.encode(taskId, account, cumulativeAmount)))).
    function hash(uint256 taskId, address account, uint256 cumulativeAmount) internal pure returns (bytes32 leaf) {
        // Same bytes as abi.encode: three 32-byte words, the address left-padded with zeros. Written above the
        // free memory pointer without moving it (scratch use), then the outer hash in scratch space.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, taskId)
            mstore(add(ptr, 0x20), and(account, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(ptr, 0x40), cumulativeAmount)
            mstore(0x00, keccak256(ptr, 0x60))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @notice The allowlist leaf of `account`.
    /// @param account The account.
    /// @return leaf keccak256(bytes.concat(keccak256(abi.encode(account)))).
    function allowlist(address account) internal pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0x00, and(account, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(0x00, keccak256(0x00, 0x20))
            leaf := keccak256(0x00, 0x20)
        }
    }
}
