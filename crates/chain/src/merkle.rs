//! Sorted-pair keccak Merkle trees, as OpenZeppelin's `MerkleProof` verifies them.

use crate::{Error, Result};
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolValue,
};
use std::collections::BTreeMap;

/// The contract's reward leaf: `keccak256(bytes.concat(keccak256(abi.encode(taskId, account,
/// cumulativeAmount))))`. Hashing twice keeps a leaf from ever passing for an inner node.
pub fn reward_leaf(task_id: U256, account: Address, cumulative_amount: U256) -> B256 {
    keccak256(keccak256((task_id, account, cumulative_amount).abi_encode()))
}

/// The contract's allowlist leaf: `keccak256(bytes.concat(keccak256(abi.encode(account))))`.
pub fn allowlist_leaf(account: Address) -> B256 {
    keccak256(keccak256(account.abi_encode()))
}

fn hash_pair(a: B256, b: B256) -> B256 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(low.as_slice());
    bytes[32..].copy_from_slice(high.as_slice());
    keccak256(bytes)
}

/// A Merkle tree over leaf hashes. Leaves are sorted first, so the root does not depend on the
/// order they were given in; a node without a sibling moves up a level unchanged.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    layers: Vec<Vec<B256>>,
}

impl MerkleTree {
    /// The tree over `leaves`; the root of no leaves is zero.
    pub fn new(mut leaves: Vec<B256>) -> Self {
        leaves.sort_unstable();
        let mut layers = vec![leaves];
        while layers.last().is_some_and(|layer| layer.len() > 1) {
            let below = layers.last().expect("checked above");
            let above = below
                .chunks(2)
                .map(|pair| match *pair {
                    [a, b] => hash_pair(a, b),
                    [single] => single,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
            layers.push(above);
        }
        Self { layers }
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.layers.last().and_then(|top| top.first()).copied().unwrap_or(B256::ZERO)
    }

    /// The proof that `leaf` is in the tree, `None` when it is not.
    pub fn proof(&self, leaf: B256) -> Option<Vec<B256>> {
        let mut index = self.layers[0].binary_search(&leaf).ok()?;
        let mut proof = Vec::with_capacity(self.layers.len());
        for layer in &self.layers[..self.layers.len() - 1] {
            if let Some(sibling) = layer.get(index ^ 1) {
                proof.push(*sibling);
            }
            index /= 2;
        }
        Some(proof)
    }

    /// Whether `proof` takes `leaf` to `root`, as the contract checks it.
    pub fn verify(root: B256, leaf: B256, proof: &[B256]) -> bool {
        proof.iter().fold(leaf, |node, sibling| hash_pair(node, *sibling)) == root
    }
}

/// Every worker's cumulative earnings in a task, committed by one root.
#[derive(Clone, Debug)]
pub struct RewardTree {
    task_id: U256,
    amounts: BTreeMap<Address, U256>,
    tree: MerkleTree,
}

impl RewardTree {
    /// The tree of `(account, cumulative amount)` pairs of task `task_id`.
    pub fn new(task_id: U256, entries: impl IntoIterator<Item = (Address, U256)>) -> Result<Self> {
        let mut amounts = BTreeMap::new();
        for (account, amount) in entries {
            if amounts.insert(account, amount).is_some() {
                return Err(Error::DuplicateAccount(account));
            }
        }
        let leaves = amounts.iter().map(|(account, amount)| reward_leaf(task_id, *account, *amount)).collect();
        Ok(Self { task_id, amounts, tree: MerkleTree::new(leaves) })
    }

    /// The rewards root for `finalizeRound`.
    pub fn root(&self) -> B256 {
        self.tree.root()
    }

    /// The sum of every cumulative amount: `finalizeRound`'s `cumulativeRewardsTotal`.
    pub fn total(&self) -> U256 {
        self.amounts.values().fold(U256::ZERO, |sum, amount| sum + amount)
    }

    /// An account's cumulative amount and the proof for `claim`, `None` for an account not in it.
    pub fn claim(&self, account: Address) -> Option<(U256, Vec<B256>)> {
        let amount = *self.amounts.get(&account)?;
        let proof = self.tree.proof(reward_leaf(self.task_id, account, amount))?;
        Some((amount, proof))
    }

    /// Every account and its cumulative amount, by address.
    pub fn entries(&self) -> impl Iterator<Item = (Address, U256)> + '_ {
        self.amounts.iter().map(|(account, amount)| (*account, *amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn leaf_matches_the_contract_encoding() {
        // abi.encode(uint256, address, uint256) is three big-endian words, the address padded left.
        let account = Address::repeat_byte(0xab);
        let mut encoded = [0u8; 96];
        encoded[31] = 7;
        encoded[44..64].copy_from_slice(account.as_slice());
        encoded[95] = 42;
        let expected = keccak256(keccak256(encoded));
        assert_eq!(reward_leaf(U256::from(7), account, U256::from(42)), expected);
    }

    #[test]
    fn empty_and_single_trees() {
        assert_eq!(MerkleTree::new(vec![]).root(), B256::ZERO);
        let leaf = B256::repeat_byte(1);
        let tree = MerkleTree::new(vec![leaf]);
        assert_eq!(tree.root(), leaf);
        assert_eq!(tree.proof(leaf), Some(vec![]));
    }

    #[test]
    fn duplicate_accounts_are_refused() {
        let account = Address::repeat_byte(1);
        let entries = [(account, U256::from(1)), (account, U256::from(2))];
        assert!(matches!(RewardTree::new(U256::from(1), entries), Err(Error::DuplicateAccount(_))));
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_no_other_amount_does(count in 1usize..40, task in 1u64..1000) {
            let entries: Vec<_> =
                (0..count).map(|i| (Address::with_last_byte(i as u8), U256::from(i as u64 * 1000 + 1))).collect();
            let tree = RewardTree::new(U256::from(task), entries.clone()).unwrap();
            prop_assert_eq!(tree.total(), entries.iter().fold(U256::ZERO, |sum, (_, amount)| sum + amount));
            for (account, amount) in entries {
                let (proven, proof) = tree.claim(account).unwrap();
                prop_assert_eq!(proven, amount);
                prop_assert!(MerkleTree::verify(tree.root(), reward_leaf(U256::from(task), account, amount), &proof));
                let inflated = reward_leaf(U256::from(task), account, amount + U256::from(1));
                prop_assert!(!MerkleTree::verify(tree.root(), inflated, &proof));
            }
        }
    }
}
