//! A new task before it exists: its initial model, published to IPFS, and the `createTask` configuration. The
//! `create-task` command sends it with the requester's key; the dashboard asks the requester's wallet to sign it.

use alloy::{
    primitives::{Address, B256, Bytes as CallData, U256},
    sol_types::SolCall,
};
use bytes::Bytes;
use eyre::WrapErr;
use tessera_api::UnsignedCall;
use tessera_chain::{IERC20, IMarketplace, Marketplace};
use tessera_storage::{Cid, ContentStore};
use tessera_train::{ArchitectureId, FileKind, Header, WeightsFile, WireDtype};

/// What a requester chooses for a new task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDraft {
    /// The ERC-20 rewards are paid and stakes escrowed in.
    pub reward_token: Address,
    /// The reward pool, in token base units.
    pub reward_pool: U256,
    /// The stake each worker escrows, in token base units.
    pub stake_required: U256,
    /// Training rounds.
    pub num_rounds: u32,
    /// Most workers at once.
    pub max_workers: u32,
    /// Seconds each round accepts submissions.
    pub submission_window_secs: u32,
    /// Who may start and finalize rounds.
    pub coordinator: Address,
    /// The model.
    pub architecture: ArchitectureId,
    /// Seeds the initial weights.
    pub seed: u64,
    /// Slashed stake goes to the requester instead of back into the pool.
    pub slash_to_requester: bool,
    /// The most a worker can lose in one round, in basis points of its stake: fixed at creation, so every worker
    /// knows its worst case when it joins.
    pub max_slash_bps: u16,
    /// The task's access policy (`tessera-access-v1`, on IPFS), fixed at creation; `None` for a public task.
    pub access_policy: Option<Cid>,
}

/// The contract's bounds on a task's terms, checked before a transaction is built so a requester learns of a bad
/// value from a message rather than a reverted transaction.
pub mod bounds {
    /// The longest submission window the contract accepts: 30 days.
    pub const MAX_SUBMISSION_WINDOW_SECS: u32 = 30 * 24 * 3600;
    /// A worker's whole stake, in basis points: the largest per-round slash bound, and the default.
    pub const MAX_SLASH_BPS: u16 = 10_000;

    /// Whether `max_slash_bps` of `stake_required` is at least one base unit. The contract accepts a bound that
    /// rounds to nothing, which makes every slash (and so every eviction) a no-op; Tessera refuses to create one.
    pub fn slash_bound_bites(stake_required: alloy::primitives::U256, max_slash_bps: u16) -> bool {
        stake_required * alloy::primitives::U256::from(max_slash_bps) >= alloy::primitives::U256::from(MAX_SLASH_BPS)
    }
}

impl TaskDraft {
    /// The initial checkpoint's bytes: deterministic from the architecture and the seed, so publishing it twice
    /// gives the same CID.
    pub fn initial_checkpoint(&self) -> eyre::Result<Bytes> {
        initial_checkpoint(self.architecture, self.seed)
    }

    /// Publishes (and pins) the initial checkpoint, returning its CID.
    pub async fn publish_initial_model(&self, content: &dyn ContentStore) -> eyre::Result<Cid> {
        content.put(self.initial_checkpoint()?).await.wrap_err("publishing the initial model")
    }

    /// The `createTask` argument, starting from the checkpoint `initial`.
    pub fn config(&self, initial: &Cid) -> IMarketplace::TaskConfig {
        IMarketplace::TaskConfig {
            rewardToken: self.reward_token,
            rewardPool: self.reward_pool,
            stakeRequired: self.stake_required,
            numRounds: self.num_rounds,
            maxWorkers: self.max_workers,
            submissionWindow: self.submission_window_secs,
            coordinator: self.coordinator,
            modelArchitectureId: B256::from(self.architecture.to_bytes32()),
            initialModelCid: B256::from(initial.to_bytes32()),
            validationSetCommitment: B256::ZERO,
            allowlistRoot: B256::ZERO,
            slashToRequester: self.slash_to_requester,
            maxSlashBps: self.max_slash_bps,
            accessPolicy: self.access_policy.as_ref().map_or(B256::ZERO, |cid| B256::from(cid.to_bytes32())),
        }
    }

    /// The two unsigned transactions a requester sends, in order: approve the pool, then create the task.
    pub fn transactions(&self, marketplace: Address, initial: &Cid) -> Vec<UnsignedCall> {
        let approve = IERC20::approveCall { spender: marketplace, value: self.reward_pool };
        let create = Marketplace::createTaskCall { config: self.config(initial) };
        vec![
            unsigned_call("Approve the marketplace to escrow the reward pool", self.reward_token, approve.abi_encode()),
            unsigned_call("Create and fund the task", marketplace, create.abi_encode()),
        ]
    }
}

/// The initial checkpoint of `architecture` from `seed`, as published: the same bytes on every machine.
pub fn initial_checkpoint(architecture: ArchitectureId, seed: u64) -> eyre::Result<Bytes> {
    let checkpoint = WeightsFile {
        header: Header {
            architecture,
            kind: FileKind::Checkpoint,
            round: 0,
            parent_cid: String::new(),
            num_samples: 0,
            dtype: WireDtype::F32,
        },
        parameters: architecture.init_parameters(seed),
    };
    Ok(Bytes::from(checkpoint.encode()?))
}

/// A call of `to` with `data`, for a wallet to sign and send.
pub fn unsigned_call(description: &str, to: Address, data: Vec<u8>) -> UnsignedCall {
    UnsignedCall { description: description.to_owned(), to, data: CallData::from(data).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_storage::MemoryStore;

    fn draft() -> TaskDraft {
        TaskDraft {
            reward_token: Address::repeat_byte(1),
            reward_pool: U256::from(1_000u64),
            stake_required: U256::from(10u64),
            num_rounds: 3,
            max_workers: 8,
            submission_window_secs: 60,
            coordinator: Address::repeat_byte(2),
            architecture: ArchitectureId::Lenet5MnistV1,
            seed: 7,
            slash_to_requester: false,
            max_slash_bps: bounds::MAX_SLASH_BPS,
            access_policy: None,
        }
    }

    #[tokio::test]
    async fn the_initial_model_is_the_same_object_every_time() {
        let store = MemoryStore::default();
        let first = draft().publish_initial_model(&store).await.unwrap();
        assert_eq!(draft().publish_initial_model(&store).await.unwrap(), first);
        let other = TaskDraft { seed: 8, ..draft() }.publish_initial_model(&store).await.unwrap();
        assert_ne!(other, first, "the seed picks the weights");
    }

    #[tokio::test]
    async fn the_calls_decode_back_to_the_draft() {
        let initial = draft().publish_initial_model(&MemoryStore::default()).await.unwrap();
        let marketplace = Address::repeat_byte(3);
        let calls = draft().transactions(marketplace, &initial);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].to, Address::repeat_byte(1));
        let approve = IERC20::approveCall::abi_decode(&calls[0].data.parse::<CallData>().unwrap()).unwrap();
        assert_eq!((approve.spender, approve.value), (marketplace, U256::from(1_000u64)));
        assert_eq!(calls[1].to, marketplace);
        let create = Marketplace::createTaskCall::abi_decode(&calls[1].data.parse::<CallData>().unwrap()).unwrap();
        assert_eq!(create.config, draft().config(&initial));
        assert_eq!(create.config.initialModelCid, B256::from(initial.to_bytes32()));
    }
}
