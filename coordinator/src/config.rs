//! Where the coordinator finds everything it talks to: defaults, then a TOML file, then
//! `TESSERA_*` environment variables, each overriding the one before.

use crate::manifest::StrategySpec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

/// The coordinator's settings, each listed once: here, with its default in [`Default`]. The file's keys are the
/// serialised names, and each `TESSERA_<KEY>` variable overrides its key. Serialised (for `config` and
/// `serve --help`) with secrets redacted.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The chain's JSON-RPC endpoint (`TESSERA_CHAIN_RPC_URL`); credentials in it are never printed.
    #[serde(serialize_with = "url")]
    pub chain_rpc_url: String,
    /// The coordinator's private key, hex (`TESSERA_PRIVATE_KEY`); never printed.
    #[serde(serialize_with = "redacted")]
    pub private_key: Option<String>,
    /// A Web3 Secret Storage keystore holding the coordinator's key, used when no private key is given
    /// (`TESSERA_KEYSTORE`); its password comes from `TESSERA_KEYSTORE_PASSWORD`.
    pub keystore: Option<PathBuf>,
    /// The marketplace contract's address (`TESSERA_MARKETPLACE`).
    pub marketplace: Option<String>,
    /// The IPFS node's Kubo RPC API (`TESSERA_IPFS_API_URL`).
    #[serde(serialize_with = "url")]
    pub ipfs_api_url: String,
    /// The `Authorization` header value (`Bearer …` or `Basic …`) the IPFS API or pinning service wants
    /// (`TESSERA_IPFS_AUTHORIZATION`); never printed.
    #[serde(serialize_with = "redacted")]
    pub ipfs_authorization: Option<String>,
    /// A PEM file of certificate authorities trusted beside the platform's, for https endpoints behind a private
    /// CA (`TESSERA_TLS_CA_FILE`).
    pub tls_ca_file: Option<PathBuf>,
    /// `sqlite://…` (the default, a file) or `postgres://…` (`TESSERA_DATABASE_URL`).
    pub database_url: String,
    /// A folder for receipted updates, kept from receipt until their round is finalized (`TESSERA_SPOOL_DIR`): the
    /// round is aggregated from here, not fetched again. One per replica.
    pub spool_dir: PathBuf,
    /// The HTTP API's address (`TESSERA_LISTEN`).
    pub listen: SocketAddr,
    /// The bearer token admin endpoints require (`TESSERA_ADMIN_TOKEN`); admin actions are off without one.
    #[serde(serialize_with = "redacted")]
    pub admin_token: Option<String>,
    /// The largest request body accepted, in bytes (`TESSERA_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// The longest a request may take (`TESSERA_REQUEST_TIMEOUT_SECS`).
    #[serde(rename = "request_timeout_secs", serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub request_timeout: Duration,
    /// The longest a client may take to send a request's headers, or to start its next request on a kept-alive
    /// connection, in seconds (`TESSERA_HEADER_READ_TIMEOUT_SECS`); slower connections are closed.
    #[serde(rename = "header_read_timeout_secs", serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub header_read_timeout: Duration,
    /// Connections open at once (`TESSERA_MAX_CONNECTIONS`); more are closed as they come.
    pub max_connections: usize,
    /// Connections open at once from one IP address (`TESSERA_MAX_CONNECTIONS_PER_IP`).
    pub max_connections_per_ip: usize,
    /// Requests a second one IP address may make, sustained (`TESSERA_RATE_LIMIT_PER_IP`); more get a 429 with
    /// `Retry-After`. 0 turns the limit off (a coordinator behind a proxy that limits already).
    pub rate_limit_per_ip: f64,
    /// Requests one IP address may make in a burst above that rate (`TESSERA_RATE_LIMIT_BURST`).
    pub rate_limit_burst: u32,
    /// Submissions a second one worker may send, sustained, counted once the signature verifies and the worker is
    /// found joined (`TESSERA_SUBMISSIONS_PER_WORKER_PER_SEC`); 0 turns the limit off.
    pub submissions_per_worker_per_sec: f64,
    /// Submissions one worker may send in a burst above that rate (`TESSERA_SUBMISSION_BURST`).
    pub submission_burst: u32,
    /// Live feeds (`/api/v1/events`) open at once (`TESSERA_MAX_EVENT_STREAMS`); more get a 429.
    pub max_event_streams: usize,
    /// Submissions fetching or waiting for a fetch turn at once (`TESSERA_MAX_QUEUED_FETCHES`); more get a 429.
    pub max_queued_fetches: usize,
    /// Task drafts kept unpublished at once (`TESSERA_MAX_TASK_DRAFTS`); past it, and once expired ones are
    /// dropped, new drafts get a 429.
    pub max_task_drafts: u64,
    /// How long an unpublished task draft is kept, in seconds (`TESSERA_TASK_DRAFT_TTL_SECS`): a requester has this
    /// long to send the transaction that creates the task.
    pub task_draft_ttl_secs: u64,
    /// How long the workers' standing, read by the worker and account endpoints, is reused before it is read again,
    /// in milliseconds (`TESSERA_READ_CACHE_MS`); it is read again at once when a round changes phase.
    pub read_cache_ms: u64,
    /// Submitted updates fetched and checked at once (`TESSERA_MAX_CONCURRENT_FETCHES`); the others wait their turn
    /// before their fetch's time limit starts, so a burst of submissions is served in order instead of every
    /// fetch slowing down until all of them time out.
    pub max_concurrent_fetches: usize,
    /// How long fetching a submitted update may take (`TESSERA_FETCH_TIMEOUT_SECS`).
    #[serde(rename = "fetch_timeout_secs", serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub fetch_timeout: Duration,
    /// Workers that must join before a task's first round starts (`TESSERA_MIN_WORKERS`).
    pub min_workers: u64,
    /// The round engine's pause between passes, in milliseconds (`TESSERA_TICK_MS`).
    pub tick_ms: u64,
    /// Blocks on top of a transaction's or an event's block before it counts (`TESSERA_CONFIRMATIONS`); unset,
    /// the chain's default ([`default_confirmations`]).
    pub confirmations: Option<u64>,
    /// The longest one request to the chain's RPC may take, in seconds (`TESSERA_RPC_TIMEOUT_SECS`); a request that
    /// takes longer fails and is retried.
    pub rpc_timeout_secs: u64,
    /// The most the coordinator offers per gas, in gwei, however often a stuck transaction is bumped
    /// (`TESSERA_MAX_FEE_GWEI`); unset, no cap.
    pub max_fee_gwei: Option<u64>,
    /// How long a replica's hold on a task (or on the chain writer) lasts unless renewed, in seconds
    /// (`TESSERA_LEASE_SECS`): replicas sharing a PostgreSQL database take over a dead one's tasks this long after
    /// it stopped renewing them.
    pub lease_secs: u64,
    /// How updates are aggregated (`[strategy]` in the file; `TESSERA_STRATEGY` sets its kind).
    pub strategy: StrategySpec,
    /// A folder holding the requester's validation set (`TESSERA_VALIDATION_DIR`), in any format the worker reads
    /// (IDX, CIFAR binary, `.npy`, images per class); without one, rounds have no accuracy and scores no
    /// validation signal.
    pub validation_dir: Option<PathBuf>,
    /// Which split of that folder: `train` or `test` (`TESSERA_VALIDATION_SPLIT`).
    pub validation_split: String,
    /// How many of its first examples (`TESSERA_VALIDATION_SAMPLES`).
    pub validation_samples: usize,
    /// The architecture whose tasks it validates, by name (`TESSERA_VALIDATION_ARCHITECTURE`): the shape the set is
    /// loaded in.
    pub validation_architecture: String,
    /// Whether it serves tasks whose model is a requester's TorchScript module (`TESSERA_SCRIPT_MODELS`). Off by
    /// default: the module's code runs inside this process, with no time or memory limit and no sandbox, and
    /// TorchScript can read and write files, so turn it on only for requesters trusted with that.
    pub script_models: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chain_rpc_url: "http://127.0.0.1:8545".into(),
            private_key: None,
            keystore: None,
            marketplace: None,
            ipfs_api_url: "http://127.0.0.1:5001".into(),
            ipfs_authorization: None,
            tls_ca_file: None,
            database_url: "sqlite://tessera.db?mode=rwc".into(),
            spool_dir: "tessera-spool".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_token: None,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_ip: 256,
            rate_limit_per_ip: 50.0,
            rate_limit_burst: 200,
            submissions_per_worker_per_sec: 1.0,
            submission_burst: 5,
            max_event_streams: 1024,
            max_queued_fetches: 2048,
            max_task_drafts: 10_000,
            task_draft_ttl_secs: 7 * 24 * 3600,
            read_cache_ms: 1000,
            max_concurrent_fetches: 16,
            fetch_timeout: Duration::from_secs(20),
            min_workers: 1,
            tick_ms: 500,
            confirmations: None,
            max_fee_gwei: None,
            rpc_timeout_secs: 60,
            lease_secs: 15,
            strategy: StrategySpec::default(),
            validation_dir: None,
            validation_split: "test".into(),
            validation_samples: 2000,
            validation_architecture: "lenet5-mnist-v1".into(),
            script_models: false,
        }
    }
}

/// Every setting, secrets redacted: the same listing as [`Config::lines`].
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.lines();
        f.debug_map().entries(lines.iter().map(|line| (&line.key, &line.value))).finish()
    }
}

fn redacted<S: Serializer>(secret: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    secret.as_ref().map(|_| "<redacted>").serialize(serializer)
}

fn url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    tessera_net::redact(url).serialize(serializer)
}

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    duration.as_secs().serialize(serializer)
}

fn from_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// One setting as the file names it, the environment variable that overrides it, and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingLine {
    /// The key in the TOML file.
    pub key: String,
    /// The `TESSERA_*` variable that overrides it.
    pub env: String,
    /// Its value (JSON; secrets redacted, `(unset)` when not set).
    pub value: String,
}

impl Config {
    /// The images and classes of this coordinator's tasks: those of the validation architecture, which a
    /// requester's TorchScript module is checked against.
    pub fn model_input(&self) -> eyre::Result<tessera_train::InputSpec> {
        Ok(self.validation_arch()?.input())
    }

    /// How this coordinator looks up a task's model.
    pub fn model_lookup(&self) -> eyre::Result<crate::content::ModelLookup> {
        Ok(crate::content::ModelLookup {
            input: self.model_input()?,
            fetch_timeout: self.fetch_timeout,
            scripts: self.script_models,
        })
    }

    /// The validation architecture, by its name.
    pub fn validation_arch(&self) -> eyre::Result<tessera_train::ArchitectureId> {
        self.validation_architecture
            .parse()
            .map_err(|_| eyre::eyre!("validation architecture {:?} is not a known one", self.validation_architecture))
    }

    /// The IPFS client's settings: its credentials and `roots`.
    pub fn ipfs_client(&self, roots: tessera_net::TlsRoots) -> tessera_storage::ClientConfig {
        tessera_storage::ClientConfig { authorization: self.ipfs_authorization.clone(), roots, ..Default::default() }
    }

    /// Every setting with its environment variable and value, in file-key order, secrets redacted. The
    /// strategy is a table in the file; `TESSERA_STRATEGY` sets only its kind.
    pub fn lines(&self) -> Vec<SettingLine> {
        let serde_json::Value::Object(fields) = serde_json::to_value(self).expect("settings serialise") else {
            unreachable!("settings serialise to an object")
        };
        fields
            .into_iter()
            .map(|(key, value)| SettingLine {
                env: format!("TESSERA_{}", key.to_uppercase()),
                value: if value.is_null() { "(unset)".into() } else { value.to_string() },
                key,
            })
            .collect()
    }

    /// The settings as `serve --help` lists them: each with its variable and its default.
    pub fn help() -> String {
        let mut text =
            String::from("Settings (a TOML file given by --config, each overridden by its environment variable):\n");
        for SettingLine { key, env, value } in Self::default().lines() {
            text.push_str(&format!("  {key:<22} {env:<30} default: {value}\n"));
        }
        text
    }
}

/// The confirmations a chain's transactions and events wait for when the settings name none: none on a local
/// development chain (anvil, hardhat), 12 on Ethereum mainnet (beyond any reorganisation seen since the merge),
/// 5 elsewhere (testnets and rollups, whose sequencers rarely reorganise).
pub fn default_confirmations(chain_id: u64) -> u64 {
    match chain_id {
        31337 | 1337 => 0,
        1 => 12,
        _ => 5,
    }
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("parsing {path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// An environment variable holds a value of the wrong kind.
    #[error("{name}={value:?} is not valid: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// What was wrong.
        reason: String,
    },
}

impl Config {
    /// Defaults, then `file` when given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment given as a lookup function.
    ///
    /// The layers are merged key by key as JSON: the defaults, the file's keys over them, then each variable
    /// over its key. The merged settings are read after each layer, so an error names the file or variable
    /// that caused it.
    pub fn load_from(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Value::Object(mut merged) = serde_json::to_value(Self::default()).expect("settings serialise") else {
            unreachable!("settings serialise to an object")
        };
        if let Some(path) = file {
            let shown = path.display().to_string();
            let parse = |reason: String| ConfigError::Parse { path: shown.clone(), reason };
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
            let table: Map<String, Value> = toml::from_str(&text).map_err(|e| parse(e.to_string()))?;
            merged.extend(table);
            Self::read(&merged).map_err(parse)?;
        }
        let keys: Vec<String> = merged.keys().cloned().collect();
        for key in keys {
            let name = format!("TESSERA_{}", key.to_uppercase());
            let Some(text) = env(&name) else { continue };
            let invalid = |reason: String| ConfigError::Env { name: name.clone(), value: text.clone(), reason };
            let value = env_value(&merged[&key], &text).map_err(invalid)?;
            merged.insert(key.clone(), value);
            if let Err(reason) = Self::read(&merged) {
                // An optional number, unset by default, reads as text first: try it as a number.
                match text.parse::<u64>() {
                    Ok(number) if merged[&key].is_string() => {
                        merged.insert(key, Value::from(number));
                        Self::read(&merged).map_err(invalid)?;
                    }
                    _ => return Err(invalid(reason)),
                }
            }
        }
        Self::read(&merged).map_err(|reason| ConfigError::Parse { path: "the settings".into(), reason })
    }

    fn read(merged: &Map<String, Value>) -> Result<Self, String> {
        Self::deserialize(Value::Object(merged.clone())).map_err(|e| e.to_string())
    }
}

/// A variable's text as the JSON its key holds: a number where the default is one, the strategy's kind for
/// the strategy table (its parameters back at their defaults), text otherwise.
fn env_value(current: &Value, text: &str) -> Result<Value, String> {
    match current {
        Value::Number(n) if n.is_f64() => text.parse::<f64>().map(Value::from).map_err(|e| e.to_string()),
        Value::Number(_) => text.parse::<u64>().map(Value::from).map_err(|e| e.to_string()),
        Value::Bool(_) => {
            text.parse::<bool>().map(Value::from).map_err(|_| format!("{text:?} is neither true nor false"))
        }
        Value::Object(_) => Ok(serde_json::json!({ "kind": text })),
        _ => Ok(Value::from(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coordinator.toml");
        std::fs::write(
            &file,
            "ipfs_api_url = \"http://127.0.0.1:6001\"\nlisten = \"127.0.0.1:9000\"\nprivate_key = \"0x01\"\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("TESSERA_LISTEN", "127.0.0.1:9100")].into();
        let config = Config::load_from(Some(&file), |name| env.get(name).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(config.ipfs_api_url, "http://127.0.0.1:6001");
        assert_eq!(config.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(config.chain_rpc_url, Config::default().chain_rpc_url);
        assert!(!format!("{config:?}").contains("0x01"), "the key leaked into debug output");
    }

    #[test]
    fn fractional_rates_are_read_from_the_environment() {
        let env: HashMap<&str, &str> = [("TESSERA_RATE_LIMIT_PER_IP", "0.5"), ("TESSERA_MAX_CONNECTIONS", "9")].into();
        let config = Config::load_from(None, |name| env.get(name).map(|v| (*v).to_owned())).unwrap();
        assert_eq!((config.rate_limit_per_ip, config.max_connections), (0.5, 9));
        let env: HashMap<&str, &str> = [("TESSERA_RATE_LIMIT_PER_IP", "fast")].into();
        assert!(Config::load_from(None, |name| env.get(name).map(|v| (*v).to_owned())).is_err());
    }

    #[test]
    fn every_setting_is_listed_once_with_its_variable_and_no_secret() {
        let config = Config {
            private_key: Some("0x01".into()),
            admin_token: Some("hunter2".into()),
            ipfs_authorization: Some("Bearer pinning-s3cret".into()),
            chain_rpc_url: "https://node.example/v3?apikey=abc123".into(),
            ..Config::default()
        };
        let lines = config.lines();
        let keys: Vec<&str> = lines.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys.len(), 39, "{keys:?}");
        let listen = lines.iter().find(|l| l.key == "listen").unwrap();
        assert_eq!((listen.env.as_str(), listen.value.as_str()), ("TESSERA_LISTEN", "\"127.0.0.1:8080\""));
        let timeout = lines.iter().find(|l| l.key == "request_timeout_secs").unwrap();
        assert_eq!((timeout.env.as_str(), timeout.value.as_str()), ("TESSERA_REQUEST_TIMEOUT_SECS", "30"));
        let text = format!("{lines:?}");
        for secret in ["0x01", "hunter2", "pinning-s3cret", "abc123"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(Config::help().contains("TESSERA_VALIDATION_SAMPLES"));
        let confirmed = Config::load_from(None, |name| (name == "TESSERA_CONFIRMATIONS").then(|| "3".to_owned()));
        assert_eq!(confirmed.unwrap().confirmations, Some(3), "an optional number, unset by default");
        // Every variable the help names is one the environment layer reads.
        for line in &lines {
            let value = match line.key.as_str() {
                "listen" => "127.0.0.1:1",
                "strategy" => "median",
                "chain_rpc_url"
                | "private_key"
                | "keystore"
                | "marketplace"
                | "ipfs_api_url"
                | "database_url"
                | "admin_token"
                | "validation_dir"
                | "validation_split"
                | "ipfs_authorization"
                | "tls_ca_file"
                | "spool_dir"
                | "validation_architecture" => "x",
                "script_models" => "true",
                _ => "7",
            };
            let read = Config::load_from(None, |name| (name == line.env).then(|| value.to_owned())).unwrap();
            assert_ne!(read, Config::default(), "{} is not read", line.env);
        }
    }

    #[test]
    fn bad_values_are_named() {
        let error = Config::load_from(None, |name| (name == "TESSERA_LISTEN").then(|| "nowhere".into())).unwrap_err();
        assert!(error.to_string().contains("TESSERA_LISTEN"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listen_port = 1\n").unwrap();
        assert!(matches!(Config::load_from(Some(&file), |_| None), Err(ConfigError::Parse { .. })));
    }
}
