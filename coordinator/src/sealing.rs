//! Confidential tasks (those whose access policy the chain names): opening the updates workers seal for the
//! coordinator and the auditors, sealing each round's checkpoint with its own key, wrapping that key for the
//! requester and the auditors (in the manifest) and for each worker of the next round (on request), and the key
//! release a task publishes when it ends. The engine, the API and `verify` share it; they differ only in the
//! [`Keys`] they hold.

use alloy::primitives::Address;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tessera_seal::{
    AccessPolicy, ContentKey, Context, Error as SealError, KeyDerivation, KeyRelease, ReaderId, ReaderKey, Sealed,
    WrappedKey, is_sealed, seal, unwrap_own, wrap,
};
use tessera_storage::{Cid, ContentStore};

/// The largest access policy or key release read.
const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

/// The keys a party holds for a task.
#[derive(Clone)]
pub enum Keys {
    /// The coordinator: it derives every checkpoint's key and opens every update sealed for it.
    Coordinator(Arc<CoordinatorKeys>),
    /// A reader the policy names (an auditor, the requester): it opens the updates sealed for it and each
    /// checkpoint through the key its manifest wraps for it.
    Reader(ReaderKey),
    /// The task's published keys: anyone opens everything.
    Released(Arc<KeyRelease>),
}

/// The coordinator's key, and the checkpoint keys derived from it (the same on every replica and after every
/// restart, so nothing more is stored).
pub struct CoordinatorKeys {
    me: ReaderKey,
    derivation: KeyDerivation,
}

impl CoordinatorKeys {
    /// The keys of the coordinator account whose private key is `secret`.
    pub fn new(secret: &[u8]) -> eyre::Result<Self> {
        Ok(Self { me: ReaderKey::from_bytes(secret)?, derivation: KeyDerivation::new(secret) })
    }
}

/// Where a task runs: its chain, marketplace and id, which every sealing context names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPlace {
    /// The chain.
    pub chain_id: u64,
    /// The marketplace.
    pub marketplace: Address,
    /// The task.
    pub task_id: u64,
}

impl TaskPlace {
    fn marketplace_hex(&self) -> String {
        format!("{:#x}", self.marketplace)
    }

    /// The context of an update of `round`.
    pub fn update_context(&self, round: u32, worker: &str) -> Context {
        Context::update(self.chain_id, &self.marketplace_hex(), self.task_id, round, worker)
    }

    /// The context of round `round`'s manifest.
    pub fn manifest_context(&self, round: u32) -> Context {
        Context::manifest(self.chain_id, &self.marketplace_hex(), self.task_id, round)
    }

    /// The context of round `round`'s noise seed.
    pub fn noise_context(&self, round: u32) -> Context {
        Context::noise(self.chain_id, &self.marketplace_hex(), self.task_id, round)
    }

    /// The context of the checkpoint `round` produced.
    pub fn checkpoint_context(&self, round: u32) -> Context {
        Context::checkpoint(self.chain_id, &self.marketplace_hex(), self.task_id, round)
    }
}

/// A confidential task: its policy, where it runs, and the keys held for it.
#[derive(Clone)]
pub struct TaskSealing {
    /// The policy.
    pub policy: AccessPolicy,
    /// The policy's CID.
    pub policy_cid: String,
    /// Where the task runs.
    pub place: TaskPlace,
    /// The keys held.
    pub keys: Keys,
}

impl TaskSealing {
    /// Opens an update of `round` (stored at `cid`), after checking that every reader the policy names for
    /// updates was given its true key: a worker cannot seal an update the auditors could not check.
    pub fn open_update(&self, round: u32, worker: &str, cid: &str, bytes: &[u8]) -> eyre::Result<Vec<u8>> {
        eyre::ensure!(
            is_sealed(bytes),
            "task {} is confidential: its updates must be sealed (tessera-sealed-v1) for its coordinator and auditors",
            self.place.task_id
        );
        let sealed = Sealed::parse(bytes)?;
        let context = self.place.update_context(round, worker);
        let key = self.key_in(&sealed, &context, cid)?;
        check_wraps(sealed.wraps(), &self.policy.update_readers(), &key, &context)
            .map_err(|why| eyre::eyre!("the update {why}"))?;
        Ok(sealed.open(&key, &context)?)
    }

    /// The content key of an update (the coordinator's, for the key release).
    pub fn update_key(&self, round: u32, worker: &str, cid: &str, bytes: &[u8]) -> eyre::Result<ContentKey> {
        self.key_in(&Sealed::parse(bytes)?, &self.place.update_context(round, worker), cid)
    }

    /// The key of an artefact whose sealed header wraps it for its readers (an update), stored at `cid`.
    fn key_in(&self, sealed: &Sealed<'_>, context: &Context, cid: &str) -> eyre::Result<ContentKey> {
        Ok(match &self.keys {
            Keys::Coordinator(keys) => sealed.key_for(&keys.me, context)?,
            Keys::Reader(reader) => sealed.key_for(reader, context)?,
            Keys::Released(release) => released(release, cid)?.clone(),
        })
    }

    /// The key of the checkpoint `round` produced, stored at `cid`; `wraps` are the round manifest's.
    pub fn checkpoint_key(&self, round: u32, cid: &str, wraps: &[WrappedKey]) -> eyre::Result<ContentKey> {
        let context = self.place.checkpoint_context(round);
        match &self.keys {
            Keys::Coordinator(keys) => Ok(keys.derivation.key(&context)),
            Keys::Reader(reader) => unwrap_own(wraps, reader, &context).map_err(|e| match e {
                SealError::NotForReader { reader, .. } => {
                    eyre::eyre!("round {round}'s manifest wraps the checkpoint's key for others than {reader}")
                }
                other => other.into(),
            }),
            Keys::Released(release) => Ok(released(release, cid)?.clone()),
        }
    }

    /// The seed of round `round`'s differential-privacy noise; `wraps` are its manifest's (for the auditors only:
    /// whoever holds the seed can take the noise back out of the model).
    pub fn noise_seed(&self, round: u32, wraps: &[WrappedKey]) -> eyre::Result<ContentKey> {
        let context = self.place.noise_context(round);
        match &self.keys {
            Keys::Coordinator(keys) => Ok(keys.derivation.key(&context)),
            Keys::Reader(reader) => unwrap_own(wraps, reader, &context).map_err(|e| match e {
                SealError::NotForReader { reader, .. } => eyre::eyre!(
                    "round {round}'s noise seed is wrapped for the task's auditors only, and {reader} is none: this \
                     key cannot reproduce the round's differential privacy"
                ),
                other => other.into(),
            }),
            Keys::Released(release) => release
                .noise_seed(round)
                .cloned()
                .ok_or_else(|| eyre::eyre!("the task's published keys hold no noise seed of round {round}")),
        }
    }

    /// Round `round`'s noise seed wrapped for each auditor (not the requester, who reads the model).
    pub fn noise_wraps(&self, round: u32, seed: &ContentKey) -> Vec<WrappedKey> {
        let context = self.place.noise_context(round);
        self.policy.auditors.iter().map(|auditor| wrap(seed, auditor, &context)).collect()
    }

    /// Seals round `round`'s manifest for the requester and the auditors (and the coordinator, who derives its
    /// key).
    pub fn seal_manifest(&self, round: u32, text: &[u8]) -> eyre::Result<Vec<u8>> {
        let key = self.manifest_key(round, "", None)?;
        Ok(seal(&key, &self.place.manifest_context(round), text, &self.policy.checkpoint_readers()))
    }

    /// The key of round `round`'s manifest, stored at `cid` (sealed as `sealed`, whose header wraps it).
    fn manifest_key(&self, round: u32, cid: &str, sealed: Option<&Sealed<'_>>) -> eyre::Result<ContentKey> {
        let context = self.place.manifest_context(round);
        match (&self.keys, sealed) {
            (Keys::Coordinator(keys), _) => Ok(keys.derivation.key(&context)),
            (Keys::Reader(reader), Some(sealed)) => Ok(sealed.key_for(reader, &context)?),
            (Keys::Reader(_), None) => eyre::bail!("round {round}'s manifest key is in its sealed header"),
            (Keys::Released(release), _) => Ok(released(release, cid)?.clone()),
        }
    }

    /// Opens round `round`'s sealed manifest stored at `cid`, after checking that its key is wrapped for exactly
    /// the requester and the auditors.
    pub fn open_manifest(&self, round: u32, cid: &str, bytes: &[u8]) -> eyre::Result<Vec<u8>> {
        let sealed = Sealed::parse(bytes)?;
        let context = self.place.manifest_context(round);
        let key = self.manifest_key(round, cid, Some(&sealed))?;
        check_wraps(sealed.wraps(), &self.policy.checkpoint_readers(), &key, &context)
            .map_err(|why| eyre::eyre!("round {round}'s manifest {why}"))?;
        Ok(sealed.open(&key, &context)?)
    }

    /// The key of round `round`'s manifest as the key release lists it.
    pub fn manifest_release_key(&self, round: u32) -> eyre::Result<ContentKey> {
        self.manifest_key(round, "", None)
    }

    /// Seals the checkpoint `round` produced with `key`.
    pub fn seal_checkpoint(&self, round: u32, key: &ContentKey, plaintext: &[u8]) -> Vec<u8> {
        seal(key, &self.place.checkpoint_context(round), plaintext, &[])
    }

    /// Opens the checkpoint `round` produced.
    pub fn open_checkpoint(&self, round: u32, key: &ContentKey, bytes: &[u8]) -> eyre::Result<Vec<u8>> {
        Ok(Sealed::parse(bytes)?.open(key, &self.place.checkpoint_context(round))?)
    }

    /// The checkpoint key of `round` wrapped for each reader the policy names for checkpoints.
    pub fn checkpoint_wraps(&self, round: u32, key: &ContentKey) -> Vec<WrappedKey> {
        let context = self.place.checkpoint_context(round);
        self.policy.checkpoint_readers().iter().map(|reader| wrap(key, reader, &context)).collect()
    }

    /// The checkpoint key of `round` wrapped for `reader`.
    pub fn wrap_checkpoint_key(&self, round: u32, key: &ContentKey, reader: &ReaderId) -> WrappedKey {
        wrap(key, reader, &self.place.checkpoint_context(round))
    }
}

/// Checks that `wraps` give exactly `readers` (each once) the true `key`: no reader the policy names is left out or
/// given a decoy, and nobody else is given the key. Says what is wrong otherwise.
pub fn check_wraps(
    wraps: &[WrappedKey],
    readers: &[ReaderId],
    key: &ContentKey,
    context: &Context,
) -> Result<(), String> {
    for reader in readers {
        if !wraps.iter().any(|w| w.to == *reader && w.is_honest(key, context)) {
            return Err(format!("does not give {reader} (a reader the task's policy names) its key"));
        }
    }
    if let Some(stranger) = wraps.iter().find(|w| !readers.contains(&w.to)) {
        return Err(format!("gives the key to {}, whom the task's policy does not name", stranger.to));
    }
    if wraps.len() != readers.len() {
        return Err("names a reader twice".into());
    }
    Ok(())
}

fn released<'a>(release: &'a KeyRelease, cid: &str) -> eyre::Result<&'a ContentKey> {
    release.key(cid).ok_or_else(|| eyre::eyre!("the task's published keys hold none for {cid}"))
}

/// What a round's manifest records of a confidential task: the policy, the new checkpoint's plaintext hash and
/// its key wrapped for the requester and the auditors.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifestSealing {
    /// The access policy's CID.
    pub access_policy: String,
    /// The SHA-256 of the new checkpoint before sealing.
    pub new_model_sha256: String,
    /// The new checkpoint's key, wrapped for each reader the policy names for checkpoints.
    pub new_model_keys: Vec<WrappedKey>,
}

/// Reads an access policy and checks it against the task's coordinator and requester.
pub async fn load_policy(
    content: &dyn ContentStore,
    cid: &str,
    coordinator: Address,
    requester: Address,
) -> eyre::Result<AccessPolicy> {
    let bytes = content.get(&cid.parse::<Cid>()?, MAX_DOCUMENT_BYTES).await?;
    AccessPolicy::read(&bytes, coordinator.0.0, requester.0.0)
        .map_err(|e| eyre::eyre!("the task's access policy {cid}: {e}"))
}

/// Reads a key release and checks it is the task's.
pub async fn load_release(content: &dyn ContentStore, cid: &str, place: &TaskPlace) -> eyre::Result<KeyRelease> {
    let bytes = content.get(&cid.parse::<Cid>()?, MAX_DOCUMENT_BYTES).await?;
    let release: KeyRelease =
        serde_json::from_slice(&bytes).map_err(|e| eyre::eyre!("the key release {cid} does not parse: {e}"))?;
    eyre::ensure!(
        release.format == tessera_seal::KEYS_FORMAT
            && release.chain_id == place.chain_id
            && release.task_id == place.task_id
            && release.marketplace.eq_ignore_ascii_case(&place.marketplace_hex()),
        "the key release {cid} is not task {}'s on {}",
        place.task_id,
        place.marketplace_hex()
    );
    Ok(release)
}

/// The coordinator's side: its keys and the policies it has read (by CID; a policy never changes).
pub struct Sealer {
    keys: Arc<CoordinatorKeys>,
    chain_id: u64,
    marketplace: Address,
    policies: Mutex<HashMap<String, AccessPolicy>>,
}

impl Sealer {
    /// The coordinator account with private key `secret`, on `marketplace` of chain `chain_id`.
    pub fn new(secret: &[u8], chain_id: u64, marketplace: Address) -> eyre::Result<Self> {
        Ok(Self { keys: Arc::new(CoordinatorKeys::new(secret)?), chain_id, marketplace, policies: Mutex::default() })
    }

    /// The sealing of `task`, `None` for a public task.
    pub async fn for_task(
        &self,
        content: &dyn ContentStore,
        task: &tessera_db::Task,
    ) -> eyre::Result<Option<TaskSealing>> {
        let Some(cid) = policy_cid(&task.config) else { return Ok(None) };
        let cached = self.policies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&cid).cloned();
        let policy = match cached {
            Some(policy) => policy,
            None => {
                let policy = load_policy(content, &cid, task.coordinator.parse()?, task.requester.parse()?).await?;
                let mut policies = self.policies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                policies.insert(cid.clone(), policy.clone());
                policy
            }
        };
        Ok(Some(TaskSealing {
            policy,
            policy_cid: cid,
            place: TaskPlace { chain_id: self.chain_id, marketplace: self.marketplace, task_id: task.task_id },
            keys: Keys::Coordinator(self.keys.clone()),
        }))
    }
}

/// The access policy's CID in a task's stored settings, `None` for a public task.
pub fn policy_cid(config: &serde_json::Value) -> Option<String> {
    config["access_policy"].as_str().map(str::to_owned)
}
