//! The documents around sealed artefacts: a task's access policy (its CID on chain from the task's creation)
//! and the key release a task publishes when it ends, if its policy says so.

use crate::{ContentKey, Error, ReaderId, Result};
use serde::{Deserialize, Serialize};
use tessera_scoring::privacy::PrivacySpec;

/// The access policy format this crate reads and writes.
pub const ACCESS_FORMAT: &str = "tessera-access-v1";

/// The key release format.
pub const KEYS_FORMAT: &str = "tessera-keys-v1";

/// Who may read what a task produces, fixed when the task is created. Updates are sealed by their workers for
/// the coordinator and the auditors; each round's checkpoint is sealed by the coordinator for the requester and
/// the auditors (in the round's manifest) and, on request, for each worker active in the next round; so the
/// final model is the requester's (and the auditors'). The initial model is the requester's own and stays as
/// the requester put it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessPolicy {
    /// [`ACCESS_FORMAT`].
    pub format: String,
    /// The coordinator's key: its address must be the task's coordinator.
    pub coordinator: ReaderId,
    /// The requester's key: its address must be the task's requester.
    pub requester: ReaderId,
    /// Auditors' keys: they read every update and checkpoint, so each can verify every round.
    #[serde(default)]
    pub auditors: Vec<ReaderId>,
    /// Whether the task publishes its content keys when it ends, after which anyone can read and verify it.
    #[serde(default)]
    pub publish_keys: bool,
    /// Central differential privacy on each round's aggregate, if any.
    #[serde(default)]
    pub privacy: Option<PrivacySpec>,
}

impl AccessPolicy {
    /// Parses a policy document and [`Self::check`]s it against the task's coordinator and requester.
    pub fn read(bytes: &[u8], coordinator: [u8; 20], requester: [u8; 20]) -> Result<Self> {
        let policy: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Invalid { what: "access policy", reason: format!("it does not parse: {e}") })?;
        policy.check(coordinator, requester)?;
        Ok(policy)
    }

    /// Checks the format, that the coordinator's and requester's keys are those of the task's accounts, and the
    /// privacy settings.
    pub fn check(&self, coordinator: [u8; 20], requester: [u8; 20]) -> Result<()> {
        let invalid = |reason: String| Error::Invalid { what: "access policy", reason };
        if self.format != ACCESS_FORMAT {
            return Err(invalid(format!("format {:?}, not {ACCESS_FORMAT}", self.format)));
        }
        if self.coordinator.address() != coordinator {
            return Err(invalid(format!(
                "the coordinator key {} is the account {}, not the task's coordinator 0x{}",
                self.coordinator,
                self.coordinator.address_hex(),
                hex::encode(coordinator)
            )));
        }
        if self.requester.address() != requester {
            return Err(invalid(format!(
                "the requester key {} is the account {}, not the task's requester 0x{}",
                self.requester,
                self.requester.address_hex(),
                hex::encode(requester)
            )));
        }
        if let Some(privacy) = &self.privacy {
            privacy.validate().map_err(|e| invalid(e.to_string()))?;
        }
        Ok(())
    }

    /// Who reads what, in words (for logs and status lines).
    pub fn describe(&self) -> String {
        let auditors = self.auditors.len();
        let privacy = self.privacy.map_or_else(String::new, |p| {
            format!(
                "; differential privacy: updates clipped to {}, noise multiplier {:.3}, delta {:e}",
                p.clip, p.noise_multiplier, p.delta
            )
        });
        format!(
            "updates sealed for the coordinator {} and {auditors} auditor(s); each round's checkpoint for that \
             round's workers, the requester {} and the auditors; the final model for the requester and the auditors; \
             content keys {} when the task ends{privacy}",
            self.coordinator.address_hex(),
            self.requester.address_hex(),
            if self.publish_keys { "published" } else { "kept" },
        )
    }

    /// Whom a worker seals its update for: the coordinator, then the auditors.
    pub fn update_readers(&self) -> Vec<ReaderId> {
        std::iter::once(self.coordinator).chain(self.auditors.iter().copied()).collect()
    }

    /// Whom every checkpoint's key is wrapped for in the round's manifest: the requester, then the auditors.
    pub fn checkpoint_readers(&self) -> Vec<ReaderId> {
        std::iter::once(self.requester).chain(self.auditors.iter().copied()).collect()
    }
}

/// A task's content keys, published when it ends: each sealed artefact's CID with the key that opens it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRelease {
    /// [`KEYS_FORMAT`].
    pub format: String,
    /// The chain.
    pub chain_id: u64,
    /// The marketplace, 0x-hex.
    pub marketplace: String,
    /// The task.
    pub task_id: u64,
    /// Every checkpoint's and update's key, by CID.
    pub keys: Vec<ReleasedKey>,
    /// Under differential privacy, each round's noise seed: with the updates public, the noise hides nothing more.
    #[serde(default)]
    pub noise_seeds: Vec<ReleasedSeed>,
}

/// One round's noise seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleasedSeed {
    /// The round.
    pub round: u32,
    /// Its seed.
    pub seed: ContentKey,
}

/// One artefact's key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleasedKey {
    /// The sealed artefact's CID.
    pub cid: String,
    /// Its content key.
    pub key: ContentKey,
}

impl KeyRelease {
    /// The noise seed of round `round`.
    pub fn noise_seed(&self, round: u32) -> Option<&ContentKey> {
        self.noise_seeds.iter().find(|s| s.round == round).map(|s| &s.seed)
    }

    /// The key of the artefact `cid`.
    pub fn key(&self, cid: &str) -> Option<&ContentKey> {
        self.keys.iter().find(|k| k.cid == cid).map(|k| &k.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReaderKey;

    #[test]
    fn the_policy_names_the_tasks_accounts() {
        let (coordinator, requester, auditor) = (ReaderKey::random(), ReaderKey::random(), ReaderKey::random());
        let policy = AccessPolicy {
            format: ACCESS_FORMAT.into(),
            coordinator: coordinator.reader(),
            requester: requester.reader(),
            auditors: vec![auditor.reader()],
            publish_keys: true,
            privacy: None,
        };
        let (c, r) = (coordinator.reader().address(), requester.reader().address());
        policy.check(c, r).unwrap();
        assert!(policy.check(r, c).is_err(), "keys swapped");
        assert_eq!(policy.update_readers(), [coordinator.reader(), auditor.reader()]);
        assert_eq!(policy.checkpoint_readers(), [requester.reader(), auditor.reader()]);
        let text = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<AccessPolicy>(&text).unwrap(), policy);
        let wrong = AccessPolicy { format: "tessera-access-v0".into(), ..policy };
        assert!(wrong.check(c, r).is_err());
    }
}
