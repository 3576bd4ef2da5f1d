//! Where the coordinator finds everything it talks to: defaults, then a TOML file, then
//! `TESSERA_*` environment variables, each overriding the one before.

use crate::manifest::StrategySpec;
use serde::{Deserialize, Serialize, Serializer};
use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

/// The coordinator's settings. Serialised (for `config` and `serve --help`) under the names the file uses, with
/// secrets redacted.
#[derive(Clone, PartialEq, Serialize)]
pub struct Config {
    /// The chain's JSON-RPC endpoint (`TESSERA_CHAIN_RPC_URL`).
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
    pub ipfs_api_url: String,
    /// `sqlite://…` (the default, a file) or `postgres://…` (`TESSERA_DATABASE_URL`).
    pub database_url: String,
    /// The HTTP API's address (`TESSERA_LISTEN`).
    pub listen: SocketAddr,
    /// The bearer token admin endpoints require (`TESSERA_ADMIN_TOKEN`); admin actions are off without one.
    #[serde(serialize_with = "redacted")]
    pub admin_token: Option<String>,
    /// The largest request body accepted, in bytes (`TESSERA_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// The longest a request may take (`TESSERA_REQUEST_TIMEOUT_SECS`).
    #[serde(rename = "request_timeout_secs", serialize_with = "seconds")]
    pub request_timeout: Duration,
    /// How long fetching a submitted update may take (`TESSERA_FETCH_TIMEOUT_SECS`).
    #[serde(rename = "fetch_timeout_secs", serialize_with = "seconds")]
    pub fetch_timeout: Duration,
    /// Workers that must join before a task's first round starts (`TESSERA_MIN_WORKERS`).
    pub min_workers: u64,
    /// The round engine's pause between passes, in milliseconds (`TESSERA_TICK_MS`).
    pub tick_ms: u64,
    /// How updates are aggregated (`[strategy]` in the file; `TESSERA_STRATEGY` sets its kind).
    pub strategy: StrategySpec,
    /// An MNIST-format folder holding the requester's validation set (`TESSERA_VALIDATION_DIR`); without one,
    /// rounds have no accuracy and scores no validation signal.
    pub validation_dir: Option<PathBuf>,
    /// Which split of that folder: `train` or `test` (`TESSERA_VALIDATION_SPLIT`).
    pub validation_split: String,
    /// How many of its first examples (`TESSERA_VALIDATION_SAMPLES`).
    pub validation_samples: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chain_rpc_url: "http://127.0.0.1:8545".into(),
            private_key: None,
            keystore: None,
            marketplace: None,
            ipfs_api_url: "http://127.0.0.1:5001".into(),
            database_url: "sqlite://tessera.db?mode=rwc".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_token: None,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(20),
            min_workers: 1,
            tick_ms: 500,
            strategy: StrategySpec::default(),
            validation_dir: None,
            validation_split: "test".into(),
            validation_samples: 2000,
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

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    duration.as_secs().serialize(serializer)
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

/// The same settings, each optional: one layer (a file, or the environment).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    chain_rpc_url: Option<String>,
    private_key: Option<String>,
    keystore: Option<PathBuf>,
    marketplace: Option<String>,
    ipfs_api_url: Option<String>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    admin_token: Option<String>,
    max_body_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    fetch_timeout_secs: Option<u64>,
    min_workers: Option<u64>,
    tick_ms: Option<u64>,
    strategy: Option<StrategySpec>,
    validation_dir: Option<PathBuf>,
    validation_split: Option<String>,
    validation_samples: Option<usize>,
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
    pub fn load_from(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
            let layer: Layer =
                toml::from_str(&text).map_err(|e| ConfigError::Parse { path: shown, reason: e.to_string() })?;
            config.apply(layer);
        }
        config.apply(env_layer(env)?);
        Ok(config)
    }

    fn apply(&mut self, layer: Layer) {
        let Layer {
            chain_rpc_url,
            private_key,
            keystore,
            marketplace,
            ipfs_api_url,
            database_url,
            listen,
            admin_token,
            max_body_bytes,
            request_timeout_secs,
            fetch_timeout_secs,
            min_workers,
            tick_ms,
            strategy,
            validation_dir,
            validation_split,
            validation_samples,
        } = layer;
        self.chain_rpc_url = chain_rpc_url.unwrap_or_else(|| self.chain_rpc_url.clone());
        self.private_key = private_key.or_else(|| self.private_key.take());
        self.keystore = keystore.or_else(|| self.keystore.take());
        self.marketplace = marketplace.or_else(|| self.marketplace.take());
        self.ipfs_api_url = ipfs_api_url.unwrap_or_else(|| self.ipfs_api_url.clone());
        self.database_url = database_url.unwrap_or_else(|| self.database_url.clone());
        self.listen = listen.unwrap_or(self.listen);
        self.admin_token = admin_token.or_else(|| self.admin_token.take());
        self.max_body_bytes = max_body_bytes.unwrap_or(self.max_body_bytes);
        self.request_timeout = request_timeout_secs.map_or(self.request_timeout, Duration::from_secs);
        self.fetch_timeout = fetch_timeout_secs.map_or(self.fetch_timeout, Duration::from_secs);
        self.min_workers = min_workers.unwrap_or(self.min_workers);
        self.tick_ms = tick_ms.unwrap_or(self.tick_ms);
        self.strategy = strategy.unwrap_or_else(|| self.strategy.clone());
        self.validation_dir = validation_dir.or_else(|| self.validation_dir.take());
        self.validation_split = validation_split.unwrap_or_else(|| self.validation_split.clone());
        self.validation_samples = validation_samples.unwrap_or(self.validation_samples);
    }
}

fn env_layer(env: impl Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
    fn parsed<T: std::str::FromStr>(env: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        env(name)
            .map(|value| {
                value.parse().map_err(|e: T::Err| ConfigError::Env { name: name.into(), value, reason: e.to_string() })
            })
            .transpose()
    }
    Ok(Layer {
        chain_rpc_url: env("TESSERA_CHAIN_RPC_URL"),
        private_key: env("TESSERA_PRIVATE_KEY"),
        keystore: env("TESSERA_KEYSTORE").map(PathBuf::from),
        marketplace: env("TESSERA_MARKETPLACE"),
        ipfs_api_url: env("TESSERA_IPFS_API_URL"),
        database_url: env("TESSERA_DATABASE_URL"),
        listen: parsed(&env, "TESSERA_LISTEN")?,
        admin_token: env("TESSERA_ADMIN_TOKEN"),
        max_body_bytes: parsed(&env, "TESSERA_MAX_BODY_BYTES")?,
        request_timeout_secs: parsed(&env, "TESSERA_REQUEST_TIMEOUT_SECS")?,
        fetch_timeout_secs: parsed(&env, "TESSERA_FETCH_TIMEOUT_SECS")?,
        min_workers: parsed(&env, "TESSERA_MIN_WORKERS")?,
        tick_ms: parsed(&env, "TESSERA_TICK_MS")?,
        strategy: parsed(&env, "TESSERA_STRATEGY")?.map(|kind| StrategySpec { kind, ..StrategySpec::default() }),
        validation_dir: env("TESSERA_VALIDATION_DIR").map(PathBuf::from),
        validation_split: env("TESSERA_VALIDATION_SPLIT"),
        validation_samples: parsed(&env, "TESSERA_VALIDATION_SAMPLES")?,
    })
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
    fn every_setting_is_listed_once_with_its_variable_and_no_secret() {
        let config =
            Config { private_key: Some("0x01".into()), admin_token: Some("hunter2".into()), ..Config::default() };
        let lines = config.lines();
        let keys: Vec<&str> = lines.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys.len(), 17, "{keys:?}");
        let listen = lines.iter().find(|l| l.key == "listen").unwrap();
        assert_eq!((listen.env.as_str(), listen.value.as_str()), ("TESSERA_LISTEN", "\"127.0.0.1:8080\""));
        let timeout = lines.iter().find(|l| l.key == "request_timeout_secs").unwrap();
        assert_eq!((timeout.env.as_str(), timeout.value.as_str()), ("TESSERA_REQUEST_TIMEOUT_SECS", "30"));
        let text = format!("{lines:?}");
        assert!(!text.contains("0x01") && !text.contains("hunter2"), "{text}");
        assert!(Config::help().contains("TESSERA_VALIDATION_SAMPLES"));
        // Every variable the help names is one the environment layer reads.
        for line in &lines {
            let value = match line.key.as_str() {
                "listen" => "127.0.0.1:1",
                "strategy" => "median",
                "chain_rpc_url" | "private_key" | "keystore" | "marketplace" | "ipfs_api_url" | "database_url"
                | "admin_token" | "validation_dir" | "validation_split" => "x",
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
