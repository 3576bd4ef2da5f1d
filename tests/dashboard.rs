//! The dashboard in a real browser: headless Chromium, driven by Playwright (`web/tests/browser/dashboard.mjs`),
//! against a coordinator running the demo's small scenario on the real stack. The script checks the pages
//! while the rounds run (a live update without a reload, a claim signed by a worker's wallet), then the
//! finished task (one chart point per round, CIDs and transaction hashes, slashes with their evidence), creates
//! a task with a requester's wallet, and saves a screenshot of each page under
//! `<target>/artifacts/dashboard/`.

mod common;

use alloy::primitives::{Address, U256};
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tessera_chain::TestToken;
use tessera_demo::{Binaries, Demo, Role, Scenario, TOKEN_UNIT};
use tessera_storage::{Cid, ClientConfig, ContentStore, DagBuilder, IpfsStore};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Debian's Chromium, or the one `CHROMIUM` names; `make setup` installs it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.is_file(), "{} is missing: run `make setup`, which installs Debian's chromium", path.display());
    path
}

/// Kills a process group when dropped: node and the Chromium it started, whatever way the test ends.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0)]).status();
    }
}

fn playwright_installed(root: &Path) -> bool {
    root.join("node_modules/playwright-core/package.json").is_file()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_demo_live_and_signs_with_a_wallet() {
    let root = workspace();
    assert!(playwright_installed(&root), "node_modules/playwright-core is missing: run `make setup`");
    let browser = chromium();
    let artifacts = common::profile_dir().parent().unwrap().join("artifacts/dashboard");
    let _ = std::fs::remove_dir_all(&artifacts);

    let binaries = Binaries::in_dir(&common::profile_dir()).expect("cargo test --workspace builds both binaries");
    let scenario = Scenario::small();
    let mut demo = Demo::start(binaries, scenario.clone(), true).await.unwrap();

    // The honest worker with the most data claims through the dashboard; an account the demo does not use
    // creates a task.
    let honest = scenario.workers.iter().rposition(|w| w.role == Role::Honest).unwrap();
    let worker = demo.worker_address(honest).unwrap();
    let accounts = demo.stack.anvil.accounts();
    let creator: Address = accounts[tessera_chain::roles::FIRST_WORKER + scenario.workers.len()].address;
    let minted = TestToken::new(demo.token, demo.provider())
        .mint(creator, U256::from(100 * TOKEN_UNIT))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(minted.status());

    let mut script = tokio::process::Command::new("node");
    script
        .arg(root.join("web/tests/browser/dashboard.mjs"))
        .current_dir(&root)
        .env("TESSERA_URL", &demo.url)
        .env("TESSERA_RPC", demo.stack.anvil.url())
        .env("TESSERA_TASK", demo.task.to_string())
        .env("TESSERA_WORKER", format!("{worker:#x}"))
        .env("TESSERA_CREATOR", format!("{creator:#x}"))
        .env("TESSERA_ARTIFACTS", &artifacts)
        .env("CHROMIUM", &browser)
        .env("TESSERA_TIMEOUT_SECS", "900")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that the browser it starts goes down with it.
        .process_group(0)
        .kill_on_drop(true);
    let checks = script.spawn().expect("node runs the browser script");
    let _group = KillGroup(checks.id().expect("node is running"));

    // The rounds run (and the workers claim the rest) while the browser watches; a failed demo ends the test
    // at once rather than leaving the browser to wait out its timeout.
    let browser_checks = tokio::time::timeout(Duration::from_secs(1200), checks.wait_with_output());
    tokio::pin!(browser_checks);
    let checked = tokio::select! {
        ran = demo.run_to_end(Duration::from_secs(900)) => {
            ran.unwrap_or_else(|e| panic!("the demo failed: {e:#}\ncoordinator log:\n{}", demo.log_of("coordinator")));
            browser_checks.await
        }
        checked = &mut browser_checks => checked,
    };
    let output = checked.expect("the browser checks finished in time").unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{printed}");
    assert!(output.status.success(), "the browser checks failed:\n{printed}");

    // The task created from the dashboard names a drafted initial model: the coordinator publishes it once the
    // task is on chain, so its workers can start.
    let tasks: serde_json::Value =
        reqwest::get(format!("{}/api/v1/tasks", demo.url)).await.unwrap().json().await.unwrap();
    let created = tasks.as_array().unwrap().last().unwrap().clone();
    assert_eq!(created["requester"], format!("{creator:#x}"));
    let cid: Cid = created["initial_model_cid"].as_str().unwrap().parse().unwrap();
    let content = IpfsStore::new(demo.stack.ipfs.api_url(), ClientConfig::default()).unwrap();
    let mut published = None;
    for _ in 0..60 {
        match tokio::time::timeout(Duration::from_secs(2), content.get(&cid, 64 << 20)).await {
            Ok(Ok(bytes)) => {
                published = Some(bytes);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let published = published.unwrap_or_else(|| panic!("the drafted initial model {cid} was never published"));
    assert_eq!(DagBuilder::cid_of(&published), cid);

    for page in ["overview", "task", "worker", "task-phone"] {
        let shot = artifacts.join(format!("{page}.png"));
        let bytes = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or_default();
        assert!(bytes > 10_000, "{} should be a screenshot of the page", shot.display());
    }
    println!("screenshots in {}", artifacts.display());
}
