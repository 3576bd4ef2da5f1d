use crate::{Error, Result, Toolchain, process::Process};
use alloy::primitives::Address;
use std::{fs, process::Command, time::Duration};
use tempfile::TempDir;

/// How long anvil may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A funded account of the dev chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevAccount {
    /// Its address.
    pub address: Address,
    /// The private key, `0x`-prefixed hex.
    pub private_key: String,
}

/// Options for a new [`Anvil`].
#[derive(Clone, Debug)]
pub struct AnvilBuilder {
    accounts: u32,
    block_time: Option<Duration>,
    chain_id: u64,
}

impl Default for AnvilBuilder {
    fn default() -> Self {
        Self { accounts: 10, block_time: None, chain_id: 31337 }
    }
}

impl AnvilBuilder {
    /// How many funded dev accounts to create.
    pub fn accounts(mut self, accounts: u32) -> Self {
        self.accounts = accounts;
        self
    }

    /// Mine a block at this interval instead of one per transaction.
    pub fn block_time(mut self, block_time: Duration) -> Self {
        self.block_time = Some(block_time);
        self
    }

    /// The chain id to report.
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// Starts anvil on a free loopback port and waits until it listens.
    pub fn spawn(self, toolchain: &Toolchain) -> Result<Anvil> {
        let dir = tempfile::Builder::new()
            .prefix("tessera-anvil-")
            .tempdir()
            .map_err(|e| Error::io("creating anvil's folder", e))?;
        let config_out = dir.path().join("accounts.json");
        let program = toolchain.bin("anvil")?;
        let mut command = Command::new(&program);
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--accounts", &self.accounts.to_string()])
            .args(["--chain-id", &self.chain_id.to_string()])
            .arg("--config-out")
            .arg(&config_out);
        if let Some(block_time) = self.block_time {
            command.args(["--block-time", &block_time.as_secs_f64().to_string()]);
        }
        // The chain's state is written to this file when anvil stops, and read back when it starts again.
        command.arg("--state").arg(dir.path().join("state.json"));
        let args: Vec<std::ffi::OsString> = command.get_args().map(ToOwned::to_owned).collect();
        let mut child = Process::spawn("anvil", command, &dir.path().join("anvil.log"))?;
        let line = child.wait_for_line("Listening on ", READY_TIMEOUT)?;
        let address = line.rsplit("Listening on ").next().unwrap_or_default().trim().to_owned();
        let accounts = read_accounts(&config_out)?;
        Ok(Anvil {
            url: format!("http://{address}"),
            address,
            chain_id: self.chain_id,
            accounts,
            child,
            program,
            args,
            restarts: 0,
            _dir: dir,
        })
    }
}

/// A running anvil, killed when dropped.
#[derive(Debug)]
pub struct Anvil {
    url: String,
    /// `host:port`, which a restart listens on again.
    address: String,
    chain_id: u64,
    accounts: Vec<DevAccount>,
    child: Process,
    program: std::path::PathBuf,
    args: Vec<std::ffi::OsString>,
    restarts: u32,
    _dir: TempDir,
}

impl Anvil {
    /// Options for a new chain.
    pub fn builder() -> AnvilBuilder {
        AnvilBuilder::default()
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id it reports.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The funded dev accounts, in anvil's order.
    pub fn accounts(&self) -> &[DevAccount] {
        &self.accounts
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the chain now, for tests of a dead RPC endpoint.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Stops anvil as an operator stops a node (SIGTERM: it writes its state out) and starts it again on the same
    /// port from that state: the same blocks, balances and contracts, the same chain id; transactions sent while it
    /// was down are refused and must be sent again.
    pub fn restart(&mut self) -> Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = std::time::Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > READY_TIMEOUT {
                self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.restarts += 1;
        let port = self.address.rsplit(':').next().unwrap_or_default().to_owned();
        let mut args = self.args.clone();
        // The first run took any free port; this one takes the same.
        if let Some(at) = args.iter().position(|a| a == "--port") {
            args[at + 1] = port.into();
        }
        let mut command = Command::new(&self.program);
        command.args(&args);
        let log = self._dir.path().join(format!("anvil.{}.log", self.restarts));
        let mut child = Process::spawn("anvil", command, &log)?;
        child.wait_for_line("Listening on ", READY_TIMEOUT)?;
        self.child = child;
        Ok(())
    }
}

fn read_accounts(path: &std::path::Path) -> Result<Vec<DevAccount>> {
    let json_error = |reason: &str| Error::Json { path: path.to_path_buf(), reason: reason.to_owned() };
    let text = fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| json_error(&e.to_string()))?;
    let strings = |key: &str| -> Result<Vec<String>> {
        config[key]
            .as_array()
            .ok_or_else(|| json_error(&format!("`{key}` is not an array")))?
            .iter()
            .map(|value| {
                value.as_str().map(str::to_owned).ok_or_else(|| json_error(&format!("`{key}` holds a non-string")))
            })
            .collect()
    };
    let addresses = strings("available_accounts")?;
    let keys = strings("private_keys")?;
    if addresses.len() != keys.len() {
        return Err(json_error("as many addresses as keys expected"));
    }
    addresses
        .into_iter()
        .zip(keys)
        .map(|(address, private_key)| {
            let address = address.parse().map_err(|e| json_error(&format!("address {address:?}: {e}")))?;
            Ok(DevAccount { address, private_key })
        })
        .collect()
}
