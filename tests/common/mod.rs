//! What the real-stack tests share: where the workspace's binaries and its Python are.

use std::path::PathBuf;

/// The profile folder holding this workspace's binaries (a test runs from `<profile>/deps`).
pub(crate) fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf()
}

/// The Python with torch and safetensors that `make setup` installs (or `TESSERA_PYTHON`).
#[allow(dead_code, reason = "not every test binary runs Python")]
pub(crate) fn python() -> PathBuf {
    std::env::var_os("TESSERA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"))
}

/// Anyone can recompute every finalized round from IPFS and the chain: `verify` passes for `rounds` rounds.
#[allow(dead_code, reason = "not every test binary verifies")]
pub(crate) fn assert_verified(demo: &tessera_demo::Demo, rounds: u32) {
    let verify = demo.coordinator_command().args(["verify", "--task", &demo.task.to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify failed:\n{text}\n{}", String::from_utf8_lossy(&verify.stderr));
    assert!(text.contains(&format!("{rounds} round(s) verified")), "{text}");
}

/// Waits (at most two minutes) for a confidential task to publish its content keys on chain.
#[allow(dead_code, reason = "only the confidential tasks' tests publish keys")]
pub(crate) async fn wait_for_published_keys(demo: &tessera_demo::Demo) {
    use alloy::primitives::{Address, U256};
    let chain = tessera_chain::MarketplaceClient::new(demo.provider().clone(), demo.marketplace, Address::ZERO);
    let started = std::time::Instant::now();
    while chain.task_terms(U256::from(demo.task)).await.unwrap().contentKeysCid.is_zero() {
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the keys were not published");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Writes the checkpoint `cid` from the demo's IPFS node to `path`.
#[allow(dead_code, reason = "not every test binary reads checkpoints")]
pub(crate) async fn save_checkpoint(demo: &tessera_demo::Demo, cid: &str, path: &std::path::Path) {
    use tessera_storage::ContentStore as _;
    let content = tessera_storage::IpfsStore::new(demo.stack.ipfs.api_url(), Default::default()).unwrap();
    let bytes = content.get(&cid.parse().unwrap(), 64 << 20).await.unwrap();
    std::fs::write(path, &bytes).unwrap();
}

/// Runs a Python evaluation that prints `accuracy=<x>` and checks it is the `reported` accuracy on `samples`
/// images, within one image; false (and says so) when that Python has no torch (exit status 77).
#[allow(dead_code, reason = "not every test binary runs PyTorch")]
pub(crate) fn pytorch_scores_as_reported(mut evaluation: std::process::Command, reported: f64, samples: usize) -> bool {
    let out = evaluation.output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(77) {
        println!("SKIPPED the PyTorch check: {printed}");
        return false;
    }
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    let accuracy: f64 = printed.split_whitespace().find_map(|f| f.strip_prefix("accuracy=")).unwrap().parse().unwrap();
    assert!((accuracy - reported).abs() <= 1.0 / samples as f64, "PyTorch {accuracy} vs reported {reported}");
    true
}
