//! A confidential task as the worker sees it: the access policy the chain names, checked against the task's
//! coordinator and requester; each update sealed for the coordinator and the auditors; each round's global model
//! opened with the key the coordinator wraps for this worker.

use crate::{
    Error, Result,
    api::{CoordinatorClient, TaskView},
    chain::RoundRecords,
};
use alloy::primitives::B256;
use tessera_seal::{AccessPolicy, Context, KeyDerivation, ReaderKey, Sealed, seal};
use tessera_storage::{Cid, ContentStore};

/// The largest access policy read.
const MAX_POLICY_BYTES: u64 = 1 << 20;

/// A confidential task's policy and this worker's keys for it.
pub struct WorkerSealing {
    /// The task's access policy.
    pub policy: AccessPolicy,
    /// Its CID.
    pub policy_cid: Cid,
    me: ReaderKey,
    /// Derives each update's key from this worker's key, so an update sealed again after a restart is the same
    /// object (and CID).
    derivation: KeyDerivation,
    chain_id: u64,
    marketplace: String,
    task_id: u64,
}

impl std::fmt::Debug for WorkerSealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSealing").field("policy_cid", &self.policy_cid).finish_non_exhaustive()
    }
}

impl WorkerSealing {
    /// The sealing of `task`, `None` for a public one. The policy's CID is the chain's when `records` can read
    /// it (a coordinator cannot pass a confidential task off as public, or the other way round), else the
    /// coordinator's word.
    pub async fn load(
        store: &dyn ContentStore,
        task: &TaskView,
        records: Option<&dyn RoundRecords>,
        secret: &[u8],
        (chain_id, marketplace): (u64, alloy::primitives::Address),
    ) -> Result<Option<Self>> {
        let on_chain = match records {
            Some(records) => records.access_policy(task.task_id).await?,
            None => None,
        };
        let cid = match on_chain {
            Some(word) if word == B256::ZERO => return Ok(None),
            Some(word) => Cid::from_bytes32(word.0)
                .ok_or_else(|| Error::Task(format!("the chain names access policy {word:#x}, which is no CID")))?,
            None => match task.config["access_policy"].as_str() {
                Some(text) => text.parse()?,
                None => return Ok(None),
            },
        };
        let bytes = store.get(&cid, MAX_POLICY_BYTES).await?;
        let policy = AccessPolicy::read(&bytes, task.coordinator.0.0, task.requester.0.0)
            .map_err(|e| Error::Task(format!("the task's access policy {cid}: {e}")))?;
        let me = ReaderKey::from_bytes(secret).map_err(|e| Error::Key(e.to_string()))?;
        Ok(Some(Self {
            policy,
            policy_cid: cid,
            me,
            derivation: KeyDerivation::new(secret),
            chain_id,
            marketplace: format!("{marketplace:#x}"),
            task_id: task.task_id,
        }))
    }

    /// Who reads what, for the log.
    pub fn describe(&self) -> String {
        format!("confidential (policy {}): {}", self.policy_cid, self.policy.describe())
    }

    /// Seals this worker's update of `round` for the coordinator and the auditors.
    pub fn seal_update(&self, round: u32, plaintext: &[u8]) -> Vec<u8> {
        let context =
            Context::update(self.chain_id, &self.marketplace, self.task_id, round, &self.me.reader().address_hex());
        let key = self.derivation.key(&context);
        seal(&key, &context, plaintext, &self.policy.update_readers())
    }

    /// Opens round `round`'s sealed global model (the checkpoint round `round - 1` produced) with the key the
    /// coordinator wraps for this worker.
    pub async fn open_global(&self, api: &CoordinatorClient, round: u32, cid: &Cid, bytes: &[u8]) -> Result<Vec<u8>> {
        let sealed_error = |e: tessera_seal::Error| Error::Task(format!("round {round}'s global model {cid}: {e}"));
        let produced = round.checked_sub(1).filter(|&r| r > 0).ok_or_else(|| {
            Error::Task(format!("round {round}'s global model {cid} is sealed, but it is the task's initial model"))
        })?;
        let answer = api.round_key(self.task_id, round, &self.me.reader()).await?;
        if answer.global_model_cid != *cid {
            return Err(Error::Task(format!(
                "the coordinator's key is for {}, not round {round}'s global model {cid}",
                answer.global_model_cid
            )));
        }
        let context = Context::checkpoint(self.chain_id, &self.marketplace, self.task_id, produced);
        let key = tessera_seal::unwrap(&answer.wrapped_key, &self.me, &context).map_err(sealed_error)?;
        Sealed::parse(bytes).and_then(|sealed| sealed.open(&key, &context)).map_err(sealed_error)
    }
}
