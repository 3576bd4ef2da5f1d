use crate::{Error, Result, Toolchain, process::Process};
use serde_json::json;
use std::{fs, net::TcpListener, path::Path, process::Command, time::Duration};
use tempfile::TempDir;

/// How long repository initialisation and daemon start-up may each take.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running IPFS node that speaks the Kubo RPC API, offline, on loopback ports, with a throwaway
/// repository. Killed when dropped.
#[derive(Debug)]
pub struct IpfsNode {
    api_url: String,
    gateway_url: String,
    child: Process,
    jsipfs: std::path::PathBuf,
    restarts: u32,
    _repo: TempDir,
}

impl IpfsNode {
    /// Initialises a fresh repository and starts the daemon on free loopback ports.
    pub fn start(toolchain: &Toolchain) -> Result<Self> {
        let jsipfs = toolchain.bin("jsipfs")?;
        let repo = tempfile::Builder::new()
            .prefix("tessera-ipfs-")
            .tempdir()
            .map_err(|e| Error::io("creating the IPFS repository folder", e))?;
        let repo_path = repo.path().join("repo");
        let command = |args: &[&str]| {
            let mut command = Command::new(&jsipfs);
            command.args(args).env("IPFS_PATH", &repo_path);
            command
        };

        Process::spawn(
            "jsipfs init",
            command(&["init", "--profile", "test", "--empty-repo"]),
            &repo.path().join("init.log"),
        )?
        .wait_success(READY_TIMEOUT)?;

        let (api, gateway, rpc) = (free_port()?, free_port()?, free_port()?);
        configure_loopback(&repo_path.join("config"), api, gateway, rpc)?;

        let mut child =
            Process::spawn("jsipfs daemon", command(&["daemon", "--offline"]), &repo.path().join("daemon.log"))?;
        child.wait_for_line("Daemon is ready", READY_TIMEOUT)?;
        Ok(Self {
            api_url: format!("http://127.0.0.1:{api}"),
            gateway_url: format!("http://127.0.0.1:{gateway}"),
            child,
            jsipfs,
            restarts: 0,
            _repo: repo,
        })
    }

    /// Kills the daemon (SIGKILL) and starts it again on the same repository and ports: what it had stored and
    /// pinned is there again, and whatever was in flight is lost.
    pub fn restart(&mut self) -> Result<()> {
        self.child.kill();
        self.restarts += 1;
        let repo = self._repo.path();
        let mut command = Command::new(&self.jsipfs);
        command.args(["daemon", "--offline"]).env("IPFS_PATH", repo.join("repo"));
        // The repository's lock (a folder) outlives a killed daemon.
        let lock = repo.join("repo").join("repo.lock");
        let _ = fs::remove_dir_all(&lock).or_else(|_| fs::remove_file(&lock));
        let log = repo.join(format!("daemon.{}.log", self.restarts));
        let mut child = Process::spawn("jsipfs daemon", command, &log)?;
        child.wait_for_line("Daemon is ready", READY_TIMEOUT)?;
        self.child = child;
        Ok(())
    }

    /// The Kubo RPC API base URL, `http://127.0.0.1:PORT` (requests go to `/api/v0/...`).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The HTTP gateway base URL (`/ipfs/<cid>`).
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the node now, for tests of a node that dies mid-transfer.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}

/// Points every listener at loopback and turns off the swarm and delegates, without which
/// an offline js-ipfs daemon hangs at start.
fn configure_loopback(config_path: &Path, api: u16, gateway: u16, rpc: u16) -> Result<()> {
    let read_error = |e| Error::io(format!("reading {}", config_path.display()), e);
    let text = fs::read_to_string(config_path).map_err(read_error)?;
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Json { path: config_path.to_path_buf(), reason: e.to_string() })?;
    config["Addresses"] = json!({
        "API": format!("/ip4/127.0.0.1/tcp/{api}"),
        "Gateway": format!("/ip4/127.0.0.1/tcp/{gateway}"),
        "RPC": format!("/ip4/127.0.0.1/tcp/{rpc}"),
        "Swarm": [],
        "Announce": [],
        "NoAnnounce": [],
        "Delegates": [],
    });
    config["Bootstrap"] = json!([]);
    config["Discovery"] = json!({ "MDNS": { "Enabled": false }, "webRTCStar": { "Enabled": false } });
    fs::write(config_path, config.to_string()).map_err(|e| Error::io(format!("writing {}", config_path.display()), e))
}

/// A loopback port that was free a moment ago. The OS picks it; the tiny race until the daemon
/// binds it is accepted, since js-ipfs cannot report a port it chose itself.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("finding a free port", e))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|e| Error::io("finding a free port", e))
}
