//! The one-command demo: the whole marketplace on one machine.
//!
//! [`Demo::start`] brings up anvil and an IPFS node, deploys the marketplace and a test ERC-20, funds a
//! requester and the workers, creates an MNIST task with `tessera-coordinator create-task`, and starts the
//! coordinator and every worker as separate processes. [`Demo::run_to_end`] follows the rounds through the
//! coordinator's API, then the workers claim, and [`Demo::report`] reads the outcome back from the chain and
//! the API. The end-to-end tests drive the same [`Demo`] at a smaller [`Scenario`].

pub mod cli;
mod report;
mod scenario;
mod supervise;

pub use report::{Report, RoundRow, WorkerRow};
pub use scenario::{Confidentiality, Partition, Role, Scenario, WorkerSpec};
pub use supervise::{Chaos, Kill};
pub use tessera_adversary::Attack;

use supervise::{Killer, Supervised};

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
};
use eyre::{WrapErr, bail, eyre};
use serde_json::Value;
use std::{
    collections::BTreeSet,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};
use tessera_api::RoundView;
use tessera_chain::{Deployment, roles};
use tessera_harness::{DevAccount, LocalStack, Process, TestCa, TlsProxy, TokenGate, Toolchain, mnist_dir};
use tessera_seal::ReaderKey;
use tessera_storage::ContentStore;
use tessera_train::ArchitectureId;

/// Token base units per whole token (18 decimals).
pub const TOKEN_UNIT: u128 = 1_000_000_000_000_000_000;

/// The programs the demo starts.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// `tessera-coordinator`.
    pub coordinator: PathBuf,
    /// `tessera-worker`.
    pub worker: PathBuf,
}

impl Binaries {
    /// The binaries in `dir` (a cargo target profile folder).
    pub fn in_dir(dir: &Path) -> eyre::Result<Self> {
        let binaries = Self {
            coordinator: dir.join(format!("tessera-coordinator{}", std::env::consts::EXE_SUFFIX)),
            worker: dir.join(format!("tessera-worker{}", std::env::consts::EXE_SUFFIX)),
        };
        for path in [&binaries.coordinator, &binaries.worker] {
            if !path.is_file() {
                bail!(
                    "{} is missing: build it with `cargo build -p tessera-coordinator -p tessera-worker`",
                    path.display()
                );
            }
        }
        Ok(binaries)
    }

    /// The binaries beside the running program.
    pub fn beside_current_exe() -> eyre::Result<Self> {
        let exe = std::env::current_exe()?;
        Self::in_dir(exe.parent().ok_or_else(|| eyre!("{} has no folder", exe.display()))?)
    }
}

/// How the processes reach anvil, IPFS and the coordinator: directly, or over TLS through proxies that present
/// a test CA's certificates, with the IPFS API behind a bearer token as a pinning service is. The demo itself
/// watches over the direct addresses.
struct Network {
    rpc_url: String,
    ipfs_url: String,
    coordinator_url: String,
    /// What every coordinator and worker command gets besides the URLs.
    env: Vec<(&'static str, String)>,
    tls: Option<(TestCa, TokenGate, Vec<TlsProxy>)>,
}

impl Network {
    async fn start(stack: &LocalStack, coordinator_port: u16, tls: bool) -> eyre::Result<Self> {
        let coordinator = format!("127.0.0.1:{coordinator_port}");
        if !tls {
            return Ok(Self {
                rpc_url: stack.anvil.url().to_owned(),
                ipfs_url: stack.ipfs.api_url().to_owned(),
                coordinator_url: format!("http://{coordinator}"),
                env: Vec::new(),
                tls: None,
            });
        }
        let ca = TestCa::generate()?;
        let token = format!("{:x}", rand_token());
        let gate = TokenGate::start(stack.ipfs.api_url(), &token).await?;
        let host_port = |url: &str| url.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let rpc = TlsProxy::start(&ca, &host_port(stack.anvil.url())).await?;
        let ipfs = TlsProxy::start(&ca, &gate.addr()).await?;
        let api = TlsProxy::start(&ca, &coordinator).await?;
        Ok(Self {
            rpc_url: rpc.url().to_owned(),
            ipfs_url: ipfs.url().to_owned(),
            coordinator_url: api.url().to_owned(),
            env: vec![
                ("TESSERA_TLS_CA_FILE", ca.pem_path().display().to_string()),
                ("TESSERA_IPFS_AUTHORIZATION", format!("Bearer {token}")),
            ],
            tls: Some((ca, gate, vec![rpc, ipfs, api])),
        })
    }
}

/// A token no one can guess from the outside: the clock's nanoseconds mixed with the process id.
fn rand_token() -> u128 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    nanos ^ (u128::from(std::process::id()) << 64)
}

/// The running marketplace.
pub struct Demo {
    /// Anvil and the IPFS node.
    pub stack: LocalStack,
    /// The scenario being run.
    pub scenario: Scenario,
    /// The coordinator's API.
    pub url: String,
    /// The task.
    pub task: u64,
    /// The reward token.
    pub token: Address,
    /// The marketplace contract.
    pub marketplace: Address,
    /// Logs, the database and worker state.
    pub dir: tempfile::TempDir,
    binaries: Binaries,
    coordinator: Supervised,
    workers: Vec<Supervised>,
    network: Network,
    /// The kills done so far (with [`Scenario::chaos`]).
    kills: Vec<Kill>,
    deployer: DynProvider,
    quiet: bool,
    /// The largest resident set seen of each process, by name, in bytes.
    peak_rss: std::collections::BTreeMap<String, u64>,
    /// The auditor a confidential task names: a key of the demo's own.
    pub auditor: Option<ReaderKey>,
}

impl Demo {
    /// Sets everything up and starts the coordinator and the workers.
    pub async fn start(binaries: Binaries, scenario: Scenario, quiet: bool) -> eyre::Result<Self> {
        let say = |line: &str| {
            if !quiet {
                println!("{line}");
            }
        };
        let toolchain = Toolchain::discover().wrap_err("the toolchain is not installed: run `make setup`")?;
        say("Starting anvil and an IPFS node...");
        let needed = roles::FIRST_WORKER + scenario.workers.len();
        let anvil = tessera_harness::Anvil::builder().accounts(u32::try_from(needed.max(10))?);
        let stack = LocalStack::start_with(&toolchain, anvil).wrap_err("starting the local stack")?;
        let accounts = stack.anvil.accounts();
        if accounts.len() < needed {
            bail!("anvil has {} accounts; the scenario needs {needed}", accounts.len());
        }
        let chain =
            Deployment::deploy(stack.anvil.url(), &accounts[roles::ADMIN].private_key, "Tessera Test Token").await?;
        let (token, marketplace) = (chain.token, chain.marketplace);
        say(&format!("  marketplace {marketplace:#x}, token {token:#x} on {}", stack.anvil.url()));
        chain.fund([accounts[roles::REQUESTER].address], U256::from(scenario.reward_tokens * TOKEN_UNIT)).await?;
        let workers = &accounts[roles::COORDINATOR..roles::FIRST_WORKER + scenario.workers.len()];
        chain
            .fund(workers.iter().map(|account| account.address), U256::from(scenario.stake_tokens * TOKEN_UNIT))
            .await?;
        let dir = tempfile::Builder::new().prefix("tessera-demo-").tempdir()?;
        let port = free_port(8080);
        let url = format!("http://127.0.0.1:{port}");
        let network = Network::start(&stack, port, scenario.tls).await?;
        let mut demo_env: Vec<(&str, String)> = vec![
            ("TESSERA_CHAIN_RPC_URL", network.rpc_url.clone()),
            ("TESSERA_MARKETPLACE", format!("{marketplace:#x}")),
            ("TESSERA_IPFS_API_URL", network.ipfs_url.clone()),
        ];
        demo_env.extend(network.env.iter().cloned());
        let coordinator_env = |env: &mut Vec<(&str, String)>| {
            env.extend([
                ("TESSERA_PRIVATE_KEY", accounts[roles::COORDINATOR].private_key.clone()),
                ("TESSERA_DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.path().join("coordinator.db").display())),
                ("TESSERA_LISTEN", format!("127.0.0.1:{port}")),
                ("TESSERA_MIN_WORKERS", scenario.workers.len().to_string()),
                ("TESSERA_VALIDATION_DIR", mnist_dir().display().to_string()),
                ("TESSERA_VALIDATION_SAMPLES", scenario.validation_samples.to_string()),
                ("TESSERA_VALIDATION_ARCHITECTURE", validation_architecture(&scenario).into()),
                // The demo's requester is the demo itself.
                ("TESSERA_SCRIPT_MODELS", scenario.model.is_some().to_string()),
                ("TESSERA_REQUESTER_PRIVATE_KEY", accounts[roles::REQUESTER].private_key.clone()),
            ]);
        };
        coordinator_env(&mut demo_env);

        say("Creating the MNIST task...");
        let mut create = Command::new(&binaries.coordinator);
        if let Some(model) = &scenario.model {
            create.arg("create-task").arg("--script").arg(model);
        } else {
            create.args(["create-task", "--architecture", scenario.architecture.name()]);
        }
        let auditor = scenario.confidential.map(|_| ReaderKey::random());
        if let (Some(confidential), Some(auditor)) = (&scenario.confidential, &auditor) {
            create.args(["--confidential", "--auditor", &auditor.reader().to_string()]);
            if confidential.publish_keys {
                create.arg("--publish-keys");
            }
            if let Some(epsilon) = confidential.dp_epsilon {
                create.args(["--dp-epsilon", &epsilon.to_string(), "--dp-clip", &confidential.dp_clip.to_string()]);
            }
        }
        let output = create
            .args(["--token", &format!("{token:#x}")])
            .args(["--reward", &scenario.reward_tokens.to_string(), "--stake", &scenario.stake_tokens.to_string()])
            .args(["--rounds", &scenario.rounds.to_string(), "--max-workers", &scenario.workers.len().to_string()])
            .args(["--window-secs", &scenario.window_secs.to_string()])
            .envs(demo_env.iter().cloned())
            .env("RUST_LOG", "warn")
            .output()?;
        if !output.status.success() {
            bail!("create-task failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let created: Value = serde_json::from_slice(&output.stdout)?;
        let task = created["task_id"].as_u64().ok_or_else(|| eyre!("create-task printed {created}"))?;
        say(&format!(
            "  task {task}: {} rounds, {} TST pool, {} TST stake, model {}, initial weights {}",
            scenario.rounds,
            scenario.reward_tokens,
            scenario.stake_tokens,
            created["architecture"],
            created["initial_model_cid"]
        ));
        if let Some(policy) = created["access_policy"].as_str() {
            say(&format!(
                "  confidential: access policy {policy}; updates sealed for the coordinator and an auditor, checkpoints \
                 for each round's workers, the requester and the auditor; keys published when the task ends"
            ));
        }

        let mut serve = Command::new(&binaries.coordinator);
        serve.arg("serve").envs(demo_env.iter().cloned()).env("RUST_LOG", "info");
        let coordinator = Supervised::start("coordinator", serve, dir.path())?;
        wait_for_health(&url, Duration::from_secs(60), coordinator.process()).await?;
        say(&format!("  coordinator {}", network.coordinator_url));

        let mut demo = Self {
            stack,
            scenario,
            url,
            task,
            token,
            marketplace,
            dir,
            binaries,
            coordinator,
            workers: Vec::new(),
            network,
            kills: Vec::new(),
            deployer: chain.admin,
            quiet,
            peak_rss: std::collections::BTreeMap::new(),
            auditor,
        };
        demo.start_workers()?;
        Ok(demo)
    }

    /// The requester's key, which opens a confidential task's checkpoints (the final model among them).
    pub fn requester_key(&self) -> eyre::Result<ReaderKey> {
        Ok(self.stack.anvil.accounts()[roles::REQUESTER].private_key.parse::<ReaderKey>()?)
    }

    /// Worker `index`'s key.
    pub fn worker_key(&self, index: usize) -> eyre::Result<ReaderKey> {
        Ok(self.worker_account(index).private_key.parse::<ReaderKey>()?)
    }

    /// Round `round`'s manifest as the requester reads it: opened with the key its sealed header wraps for the
    /// requester when the task is confidential.
    pub async fn read_manifest(&self, content: &dyn ContentStore, round: &RoundView) -> eyre::Result<Value> {
        let cid = round.manifest_cid.as_ref().ok_or_else(|| eyre!("round {} has no manifest", round.round))?;
        let bytes = content.get(cid, 64 << 20).await?;
        if !tessera_seal::is_sealed(&bytes) {
            return Ok(serde_json::from_slice(&bytes)?);
        }
        let context = tessera_seal::Context::manifest(
            self.stack.anvil.chain_id(),
            &format!("{:#x}", self.marketplace),
            self.task,
            round.round,
        );
        let sealed = tessera_seal::Sealed::parse(&bytes)?;
        let key = sealed.key_for(&self.requester_key()?, &context)?;
        Ok(serde_json::from_slice(&sealed.open(&key, &context)?)?)
    }

    /// The checkpoint round `round` produced, as the requester reads it: opened with the key its manifest wraps
    /// for the requester when the task is confidential.
    pub async fn read_model(
        &self,
        content: &dyn ContentStore,
        round: &RoundView,
        max_bytes: u64,
    ) -> eyre::Result<Vec<u8>> {
        let cid = round.new_model_cid.as_ref().ok_or_else(|| eyre!("round {} has no aggregate", round.round))?;
        let bytes = content.get(cid, max_bytes + tessera_seal::MAX_OVERHEAD).await?;
        if !tessera_seal::is_sealed(&bytes) {
            return Ok(bytes.to_vec());
        }
        let manifest = self.read_manifest(content, round).await?;
        let wraps: Vec<tessera_seal::WrappedKey> =
            serde_json::from_value(manifest["sealing"]["new_model_keys"].clone())?;
        let requester = self.requester_key()?;
        let wrapped = wraps
            .iter()
            .find(|w| w.to == requester.reader())
            .ok_or_else(|| eyre!("round {}'s manifest wraps no key for the requester", round.round))?;
        let context = tessera_seal::Context::checkpoint(
            self.stack.anvil.chain_id(),
            &format!("{:#x}", self.marketplace),
            self.task,
            round.round,
        );
        let key = tessera_seal::unwrap(wrapped, &requester, &context)?;
        Ok(tessera_seal::open(&bytes, &key, &context)?)
    }

    fn worker_account(&self, index: usize) -> &DevAccount {
        &self.stack.anvil.accounts()[roles::FIRST_WORKER + index]
    }

    /// A worker's command with its key and every address, as the demo runs it.
    pub fn worker_command(&self, index: usize) -> Command {
        let mut command = Command::new(&self.binaries.worker);
        command
            .env("TESSERA_PRIVATE_KEY", &self.worker_account(index).private_key)
            .env("TESSERA_COORDINATOR_URL", &self.network.coordinator_url)
            .env("TESSERA_CHAIN_RPC_URL", &self.network.rpc_url)
            .env("TESSERA_IPFS_API_URL", &self.network.ipfs_url)
            .envs(self.network.env.iter().cloned())
            .env("TESSERA_MARKETPLACE", format!("{:#x}", self.marketplace))
            .env("RUST_LOG", "info");
        command
    }

    /// Each worker joins (approve, then stake), then runs as its own process.
    fn start_workers(&mut self) -> eyre::Result<()> {
        let specs = self.scenario.workers.clone();
        let shards = specs.len();
        for (i, spec) in specs.iter().enumerate() {
            let join = self
                .worker_command(i)
                .args(["join", "--task", &self.task.to_string(), "--dataset", self.scenario.worker_dataset()])
                .output()?;
            if !join.status.success() {
                bail!("{} could not join: {}", spec.name, String::from_utf8_lossy(&join.stderr));
            }
            let mut run = self.worker_command(i);
            run.args(["run", "--task", &self.task.to_string(), "--quiet"])
                .args(["--data", &mnist_dir().display().to_string(), "--dataset", self.scenario.worker_dataset()])
                .args(["--shard", &format!("{}/{shards}", spec.shard)])
                .args(["--partition", self.scenario.partition.flag(), "--alpha", &self.scenario.alpha.to_string()])
                .args(["--seed", "0"])
                .args(["--max-samples", &spec.max_samples.to_string()])
                .args(["--threads", "1", "--device", "auto"])
                .args(["--state-dir", &self.dir.path().join(&spec.name).display().to_string()]);
            if let Some(behaviour) = spec.role.red_team_flag() {
                run.args(["--red-team", &behaviour]);
            }
            let process = Supervised::start(&spec.name, run, self.dir.path())?;
            self.say(&format!(
                "  {} joined and started ({}, up to {} samples)",
                spec.name, spec.role, spec.max_samples
            ));
            self.workers.push(process);
        }
        Ok(())
    }

    fn say(&self, line: &str) {
        if !self.quiet {
            println!("{line}");
        }
    }

    /// Follows the task round by round until it ends, printing progress; then every worker claims.
    pub async fn run_to_end(&mut self, limit: Duration) -> eyre::Result<()> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        let mut seen: BTreeSet<(u64, String, u64)> = BTreeSet::new();
        let mut killer = self.scenario.chaos.clone().map(Killer::new);
        let mut latest = String::from("before round 1");
        loop {
            self.supervise()?;
            self.sample_memory();
            if started.elapsed() > limit {
                bail!("the task did not end within {limit:?}; logs are in {}", self.dir.path().display());
            }
            // Kills start with the first round: before it, only start-up would be exercised.
            if let Some(killer) = &mut killer
                && latest != "before round 1"
            {
                self.kill_at_random(killer, started, &latest);
            }
            // The coordinator may be down (killed, starting again): look again in a moment.
            let Ok((rounds, task)) = self.progress(&http).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            for round in rounds.as_array().into_iter().flatten() {
                let number = round["round"].as_u64().unwrap_or_default();
                let phase = round["phase"].as_str().unwrap_or_default().to_owned();
                let count = round["submission_count"].as_u64().unwrap_or_default();
                if seen.insert((number, phase.clone(), count)) {
                    let accuracy = round["metrics"]["accuracy"].as_f64();
                    let line = match (phase.as_str(), accuracy) {
                        ("collecting", _) => {
                            format!("round {number}: {count}/{} updates in", self.scenario.workers.len())
                        }
                        ("finalized", Some(accuracy)) => {
                            format!("round {number}: finalized on chain, validation accuracy {:.2}%", 100.0 * accuracy)
                        }
                        (phase, _) => format!("round {number}: {phase}"),
                    };
                    self.say(&format!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64()));
                }
            }
            if let Some(round) = rounds.as_array().and_then(|all| all.last()) {
                let (number, phase) = (round["round"].as_u64().unwrap_or_default(), round["phase"].as_str());
                latest = format!("round {number} {}", phase.unwrap_or_default());
                if let Some(killer) = &mut killer
                    && let Some(service) = killer.stack_restart(u32::try_from(number)?, phase.unwrap_or_default())
                {
                    self.restart_service(service, killer, started, &latest)?;
                }
            }
            // The chain ends the task in its last round's finalize; the coordinator records that round as
            // finalized, with the rewards root the claims prove against, a moment after.
            let all_finalized = rounds.as_array().is_some_and(|all| all.iter().all(|r| r["phase"] == "finalized"));
            if task["status"] == "ended" && all_finalized {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if let Some(killer) = killer {
            self.kills = killer.done;
        }
        // The last kill may have come just before the end: everything is up again before the claims.
        self.supervise()?;
        wait_for_health(&self.url, Duration::from_secs(60), self.coordinator.process()).await?;
        self.say("Every round is finalized; workers claim their rewards...");
        for (i, spec) in self.scenario.workers.iter().enumerate() {
            let claim = self.worker_command(i).args(["claim", "--task", &self.task.to_string()]).output()?;
            let text = String::from_utf8_lossy(&claim.stdout).trim().to_owned();
            self.say(&format!(
                "  {}: {}",
                spec.name,
                if text.is_empty() { String::from_utf8_lossy(&claim.stderr).trim().to_owned() } else { text }
            ));
        }
        Ok(())
    }

    /// The task's rounds and the task, from the coordinator's API.
    async fn progress(&self, http: &reqwest::Client) -> eyre::Result<(Value, Value)> {
        let get = async |path: String| -> eyre::Result<Value> {
            Ok(http.get(format!("{}{path}", self.url)).send().await?.error_for_status()?.json().await?)
        };
        let rounds = get(format!("/api/v1/tasks/{}/rounds", self.task)).await?;
        let task = get(format!("/api/v1/tasks/{}", self.task)).await?;
        Ok((rounds, task))
    }

    /// Kills the coordinator or a worker if the plan says it is time.
    fn kill_at_random(&mut self, killer: &mut Killer, started: Instant, during: &str) {
        let Some(victim) = killer.victim(1 + self.workers.len()) else { return };
        let process = if victim == 0 { &mut self.coordinator } else { &mut self.workers[victim - 1] };
        process.kill();
        let kill =
            Kill { at_s: started.elapsed().as_secs_f64(), victim: process.name().to_owned(), during: during.into() };
        self.say(&format!("[{:>5.1}s] chaos: killed {} ({})", kill.at_s, kill.victim, kill.during));
        killer.done.push(kill);
    }

    /// Restarts the IPFS node or anvil mid-round, blocking this thread until it is up again.
    fn restart_service(
        &mut self,
        service: &'static str,
        killer: &mut Killer,
        started: Instant,
        during: &str,
    ) -> eyre::Result<()> {
        let at_s = started.elapsed().as_secs_f64();
        let stack = &mut self.stack;
        tokio::task::block_in_place(|| match service {
            "ipfs" => stack.ipfs.restart(),
            _ => stack.anvil.restart(),
        })
        .wrap_err_with(|| format!("restarting {service}"))?;
        let kill = Kill { at_s, victim: service.to_owned(), during: during.into() };
        self.say(&format!(
            "[{at_s:>5.1}s] chaos: restarted {service} ({during}), down for {:.1} s",
            started.elapsed().as_secs_f64() - at_s
        ));
        killer.done.push(kill);
        Ok(())
    }

    /// Starts again whatever died, and says so.
    fn supervise(&mut self) -> eyre::Result<()> {
        let mut restarted = Vec::new();
        for process in std::iter::once(&mut self.coordinator).chain(self.workers.iter_mut()) {
            if let Some(status) = process.keep_up()? {
                restarted.push(format!("  {} exited with {status}; started again", process.name()));
            }
        }
        for line in restarted {
            self.say(&line);
        }
        Ok(())
    }

    /// The kills the chaos plan made, in order.
    pub fn kills(&self) -> &[Kill] {
        &self.kills
    }

    /// How often each process was started again, by name.
    pub fn restarts(&self) -> std::collections::BTreeMap<String, u32> {
        std::iter::once(&self.coordinator).chain(&self.workers).map(|p| (p.name().to_owned(), p.restarts)).collect()
    }

    fn sample_memory(&mut self) {
        for process in std::iter::once(&self.coordinator).chain(&self.workers).map(Supervised::process) {
            if let Some(rss) = resident_bytes(process.id()) {
                let peak = self.peak_rss.entry(process.name().to_owned()).or_default();
                *peak = (*peak).max(rss);
            }
        }
    }

    /// The largest resident set seen of each process while the rounds ran, by name, in bytes.
    pub fn peak_memory(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.peak_rss
    }

    /// Every log of a process, by name: its first run's, then each restart's.
    pub fn log_of(&self, name: &str) -> String {
        std::iter::once(&self.coordinator)
            .chain(&self.workers)
            .find(|p| p.name() == name)
            .map(Supervised::logs)
            .unwrap_or_default()
    }

    /// The outcome, read from the chain and the coordinator.
    pub async fn report(&self) -> eyre::Result<Report> {
        report::gather(self).await
    }

    /// The coordinator's API as the workers reach it: `url` itself, or its TLS proxy.
    pub fn public_url(&self) -> &str {
        &self.network.coordinator_url
    }

    /// The IPFS API as the coordinator and the workers reach it: the node itself, or its TLS proxy and token gate.
    pub fn public_ipfs_url(&self) -> &str {
        &self.network.ipfs_url
    }

    /// The test CA's certificate, when the processes talk TLS.
    pub fn tls_ca_file(&self) -> Option<PathBuf> {
        self.network.tls.as_ref().map(|(ca, _, _)| ca.pem_path())
    }

    /// The deployer's provider, for reading the chain.
    pub fn provider(&self) -> &DynProvider {
        &self.deployer
    }

    /// A worker's address.
    pub fn worker_address(&self, index: usize) -> eyre::Result<Address> {
        Ok(self.worker_account(index).address)
    }

    /// The environment the coordinator's commands (`verify`) need.
    pub fn coordinator_command(&self) -> Command {
        let accounts = self.stack.anvil.accounts();
        let mut command = Command::new(&self.binaries.coordinator);
        command
            .env("TESSERA_CHAIN_RPC_URL", &self.network.rpc_url)
            .env("TESSERA_MARKETPLACE", format!("{:#x}", self.marketplace))
            .env("TESSERA_IPFS_API_URL", &self.network.ipfs_url)
            .envs(self.network.env.iter().cloned())
            .env("TESSERA_PRIVATE_KEY", &accounts[roles::COORDINATOR].private_key)
            .env("TESSERA_VALIDATION_DIR", mnist_dir())
            .env("TESSERA_VALIDATION_SAMPLES", self.scenario.validation_samples.to_string())
            .env("TESSERA_VALIDATION_ARCHITECTURE", validation_architecture(&self.scenario))
            .env("TESSERA_SCRIPT_MODELS", self.scenario.model.is_some().to_string())
            .env("RUST_LOG", "warn");
        command
    }

    /// Every account the demo funded: the requester, then the workers.
    pub fn funded_accounts(&self) -> eyre::Result<Vec<Address>> {
        let accounts = self.stack.anvil.accounts();
        accounts[roles::REQUESTER..roles::FIRST_WORKER + self.scenario.workers.len()]
            .iter()
            .filter(|a| a.address != accounts[roles::COORDINATOR].address)
            .map(|a| Ok(a.address))
            .collect()
    }
}

async fn wait_for_health(url: &str, limit: Duration, process: &Process) -> eyre::Result<()> {
    let started = Instant::now();
    while reqwest::get(format!("{url}/health")).await.is_err() {
        if started.elapsed() > limit {
            bail!("the coordinator did not answer within {limit:?}:\n{}", process.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// A process's resident set size, from `/proc` (Linux).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `preferred` if it is free on loopback, else any free port.
fn free_port(preferred: u16) -> u16 {
    TcpListener::bind(("127.0.0.1", preferred))
        .or_else(|_| TcpListener::bind(("127.0.0.1", 0)))
        .and_then(|listener| listener.local_addr())
        .map_or(preferred, |address| address.port())
}

/// The shape the coordinator loads its validation set in: the task's built-in network's, or MNIST's for a module.
fn validation_architecture(scenario: &Scenario) -> &'static str {
    if scenario.model.is_some() { ArchitectureId::Lenet5MnistV1.name() } else { scenario.architecture.name() }
}
